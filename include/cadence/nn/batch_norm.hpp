#pragma once
// cadence::BatchNorm2d: torch's BatchNorm2d (the same parameters and buffers under the same names,
// the same arithmetic through torch::batch_norm, so timm's weights load) whose training-mode forward a
// data-parallel run can replace with synchronised statistics (dist/data_parallel.hpp,
// train.sync_batchnorm). Every network cadence builds uses it; a network of one's own that uses
// torch::nn::BatchNorm2d keeps per-rank statistics. (It is its own module, not a subclass of torch's:
// LibTorch does not export the base class's printer that a subclass's vtable needs.)
#include <functional>
#include <optional>
#include <ostream>

#include <torch/nn/module.h>
#include <torch/nn/options/batchnorm.h>
#include <torch/nn/pimpl.h>

namespace cadence {

class BatchNorm2dImpl;
/// The training-mode forward of every cadence::BatchNorm2d on this thread, while set.
using BatchNormForward = std::function<torch::Tensor(BatchNorm2dImpl&, const torch::Tensor&)>;
inline thread_local const BatchNormForward* batch_norm_forward = nullptr;
/// True while activation checkpointing recomputes a segment's forward for the backward pass
/// (nn/checkpoint.hpp): the running statistics were updated by the first forward and stay as they are.
inline thread_local bool recomputing_forward = false;

class BatchNorm2dImpl : public torch::nn::Module {
 public:
  explicit BatchNorm2dImpl(std::int64_t num_features) : BatchNorm2dImpl(torch::nn::BatchNorm2dOptions(num_features)) {}
  explicit BatchNorm2dImpl(const torch::nn::BatchNorm2dOptions& o) : options(o) {
    if (options.affine()) {
      weight = register_parameter("weight", torch::ones({options.num_features()}));
      bias = register_parameter("bias", torch::zeros({options.num_features()}));
    }
    if (options.track_running_stats()) {
      running_mean = register_buffer("running_mean", torch::zeros({options.num_features()}));
      running_var = register_buffer("running_var", torch::ones({options.num_features()}));
      num_batches_tracked = register_buffer("num_batches_tracked", torch::tensor(0, torch::kLong));
    }
  }

  torch::Tensor forward(const torch::Tensor& x) {
    if (is_training() && batch_norm_forward != nullptr) return (*batch_norm_forward)(*this, x);
    return plain_forward(x);
  }

  /// torch::nn::BatchNorm2d's forward: batch statistics in training (updating the running ones by
  /// `momentum`, or a cumulative average when it is unset), the running statistics in evaluation.
  torch::Tensor plain_forward(const torch::Tensor& x) {
    TORCH_CHECK(x.dim() == 4, "cadence::BatchNorm2d: expected a 4-D input, got ", x.dim(), "-D");
    double factor = options.momentum().value_or(0.0);
    if (recomputing_forward)
      factor = 0.0;  // batch statistics for the output; the running ones untouched
    else if (is_training() && options.track_running_stats() && num_batches_tracked.defined()) {
      torch::NoGradGuard no_grad;
      num_batches_tracked.add_(1);
      if (!options.momentum().has_value()) factor = 1.0 / num_batches_tracked.item<double>();
    }
    return torch::batch_norm(x, weight, bias, running_mean, running_var,
                             is_training() || !options.track_running_stats(), factor, options.eps(),
                             /*cudnn_enabled=*/true);
  }

  void pretty_print(std::ostream& stream) const override {
    stream << "torch::nn::BatchNorm2d(" << options.num_features() << ", eps=" << options.eps() << ", momentum=";
    if (options.momentum().has_value())
      stream << *options.momentum();
    else
      stream << "None";
    stream << ", affine=" << (options.affine() ? "true" : "false")
           << ", track_running_stats=" << (options.track_running_stats() ? "true" : "false") << ")";
  }

  torch::nn::BatchNorm2dOptions options;
  torch::Tensor weight, bias, running_mean, running_var, num_batches_tracked;
};
TORCH_MODULE(BatchNorm2d);

}  // namespace cadence
