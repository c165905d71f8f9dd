#pragma once
// train.cuda_graph: the training step (forward, backward, loss scaling, clipping, AdamW) captured once in
// a CUDA graph and replayed for every batch of the same shape: PyTorch's "whole-network capture"
// (torch.cuda.graph) in LibTorch. An eager step of EfficientNetV2-S launches ~2,800 kernels from the host
// and the GPU waits for them (busy 57% of the step on an H200, docs/performance.md); a replay is one
// launch. What a graph needs, and where it comes from here:
//   - no host reads inside the step. DeviceStep keeps the loss scale, its growth counter and the overflow
//     flag on the device (PyTorch's GradScaler kernels, `_amp_foreach_non_finite_check_and_unscale_`,
//     `_amp_update_scale_`), steps AdamW with PyTorch's fused kernel with the step counts and the learning
//     rate as device tensors (torch.optim.AdamW(fused=True)), which skips the update itself when the flag
//     is set, and clips by a coefficient computed on the device;
//   - fixed addresses: the batch is copied into the graph's input tensors; the weights, gradients and
//     moments are never reallocated while the graph lives (a replay checks the weights' addresses);
//   - capture on a side stream after warm-up steps on it (cuDNN's autotuner, cuBLAS' workspaces and
//     other lazy set-up run eagerly first), autocast's cast cache off while capturing, in CUDA's
//     thread-local capture mode (the loader's threads go on pinning batches meanwhile);
//   - a batch of another shape (an epoch's last) takes the same DeviceStep eagerly.
// The arithmetic is PyTorch's fused AdamW's, not LibTorch's AdamW's: the same algorithm, rounded in
// another order (docs/performance.md gives the difference measured). Random draws inside the step
// (drop path, dropout) come from the default CUDA generator, which a graph advances on every replay.
// Needs LibTorch 2.x built with CUDA, and the CUDA runtime's headers (on the include path through
// LibTorch's CMake targets); elsewhere `available()` is false and train.cuda_graph is refused.
#include <torch/types.h>
#include <torch/version.h>

#if TORCH_VERSION_MAJOR >= 2 && __has_include(<ATen/cuda/CUDAGraph.h>) && __has_include(<cuda_runtime_api.h>)
#define CADENCE_CUDA_GRAPHS 1
#include <ATen/autocast_mode.h>
#include <ATen/cuda/CUDAEvent.h>
#include <ATen/cuda/CUDAGraph.h>
#include <c10/cuda/CUDACachingAllocator.h>
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>
#else
#define CADENCE_CUDA_GRAPHS 0
#endif

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "cadence/train/adamw.hpp"
#include "cadence/train/amp.hpp"

namespace cadence {

/// Whether this build can capture CUDA graphs (LibTorch 2.x with CUDA, the CUDA runtime's headers).
constexpr bool cuda_graphs_built() { return CADENCE_CUDA_GRAPHS == 1; }
inline constexpr const char* no_cuda_graphs =
    "/train/cuda_graph: this build has no CUDA graphs (it needs LibTorch 2.x built with CUDA, and the CUDA "
    "runtime's headers)";

#if CADENCE_CUDA_GRAPHS

/// One training step with every piece of state on the device and no read of it on the host: what a
/// CUDA graph can capture. Takes over the optimizer's moments (the same tensors, so a checkpoint of the
/// optimizer sees them) and the scaler's scale; `store` writes the step counts and the scale back.
class DeviceStep {
 public:
  DeviceStep(torch::optim::AdamW& opt, const GradScaler& scaler, double clip_norm)
      : clip_(clip_norm), scaling_(scaler.enabled()), interval_(scaler.growth_interval()) {
    if (opt.param_groups().size() != 1)
      throw std::invalid_argument("/train/cuda_graph: needs an optimizer with one parameter group");
    auto& group = opt.param_groups().front();
    const auto& o = static_cast<const torch::optim::AdamWOptions&>(group.options());
    if (o.amsgrad()) throw std::invalid_argument("/train/cuda_graph: not with AdamW's amsgrad");
    beta1_ = std::get<0>(o.betas());
    beta2_ = std::get<1>(o.betas());
    eps_ = o.eps();
    weight_decay_ = o.weight_decay();
    for (auto& p : group.params()) {
      if (!p.requires_grad()) continue;
      auto& s = adamw_state(opt.state(), p);  // made, as LibTorch's AdamW would, for one not stepped yet
      params_.push_back(p);
      exp_avg_.push_back(s.exp_avg());
      exp_avg_sq_.push_back(s.exp_avg_sq());
      states_.push_back(&s);
      steps_.push_back(torch::full({}, static_cast<double>(s.step()), f32(p.device())));
    }
    if (params_.empty()) throw std::invalid_argument("/train/cuda_graph: the network has no parameter to train");
    const auto d = params_.front().device();
    lr_ = torch::full({}, o.lr(), f32(d));
    scale_ = torch::full({}, scaler.scale(), f32(d));
    growth_ =
        torch::full({}, static_cast<double>(scaler.good()), torch::TensorOptions().dtype(torch::kInt32).device(d));
    found_inf_ = torch::zeros({}, f32(d));
  }

  /// The learning rate of the next step (a kernel that fills a device scalar: call outside the graph).
  void set_lr(double lr) { lr_.fill_(lr); }
  torch::Tensor scale_loss(const torch::Tensor& loss) const { return scaling_ ? loss * scale_ : loss; }

  /// Unscale and check (fp16), clip, AdamW (skipped on the device when a gradient overflowed), and the
  /// scale's update. Every parameter must have a gradient.
  void step() {
    torch::NoGradGuard no_grad;
    std::vector<torch::Tensor> grads;
    grads.reserve(params_.size());
    for (const auto& p : params_) {
      TORCH_CHECK(p.grad().defined(),
                  "train.cuda_graph: a parameter got no gradient (every trained parameter "
                  "must take part in each step of a captured graph)");
      grads.push_back(p.grad());
    }
    if (scaling_) {
      found_inf_.zero_();
      at::_amp_foreach_non_finite_check_and_unscale_(grads, found_inf_, scale_.reciprocal());
    }
    if (clip_ > 0.0) {  // LibTorch's clip_grad_norm_, its coefficient kept on the device
      const auto total = torch::stack(at::_foreach_norm(grads, 2)).norm();
      at::_foreach_mul_(grads, (clip_ / (total + 1e-6)).clamp_max(1.0));
    }
    at::_foreach_add_(steps_, 1);
    at::_fused_adamw_(params_, grads, exp_avg_, exp_avg_sq_, {}, steps_, lr_, beta1_, beta2_, weight_decay_, eps_,
                      /*amsgrad=*/false, /*maximize=*/false, std::nullopt,
                      scaling_ ? std::optional<torch::Tensor>(found_inf_) : std::nullopt);
    if (scaling_) {
      at::_foreach_sub_(steps_, std::vector<torch::Tensor>(steps_.size(), found_inf_));
      at::_amp_update_scale_(scale_, growth_, found_inf_, 2.0, 0.5, interval_);
    }
  }

  /// The step counts into the optimizer's state and the scale into the scaler (reads the device once):
  /// before a checkpoint, and when handing training back to the eager step.
  void store(GradScaler& scaler) const {
    const auto steps = torch::stack(steps_).to(torch::kCPU);
    const auto* s = steps.data_ptr<float>();
    for (std::size_t i = 0; i < states_.size(); ++i) states_[i]->step(static_cast<std::int64_t>(s[i]));
    if (scaling_) scaler.restore({{"scale", scale_.item<double>()}, {"good", growth_.item<std::int32_t>()}});
  }

  const std::vector<torch::Tensor>& params() const { return params_; }

 private:
  static torch::TensorOptions f32(const torch::Device& d) {
    return torch::TensorOptions().dtype(torch::kFloat32).device(d);
  }
  double clip_;
  bool scaling_;
  int interval_;
  double beta1_ = 0.9, beta2_ = 0.999, eps_ = 1e-8, weight_decay_ = 0.0;
  std::vector<torch::Tensor> params_, exp_avg_, exp_avg_sq_, steps_;
  std::vector<torch::optim::AdamWParamState*> states_;
  torch::Tensor lr_, scale_, growth_, found_inf_;
};

/// The training step captured in a CUDA graph after `warmup` eager steps on a side stream, replayed for
/// batches of the captured shape; other batches take the same step eagerly.
class GraphedTrainStep {
 public:
  /// The forward pass and the loss (float) of a batch, autocast included: what the graph captures.
  using LossFn = std::function<torch::Tensor(const torch::Tensor& images, const torch::Tensor& targets)>;

  GraphedTrainStep(LossFn loss, std::unique_ptr<DeviceStep> step, int warmup = 3)
      : loss_(std::move(loss)), step_(std::move(step)), warmup_(warmup) {}

  /// One optimizer step on (images, targets) at learning rate `lr`. Returns the batch's loss on the
  /// device, valid until the next call (a copy is the caller's to take).
  torch::Tensor operator()(const torch::Tensor& images, const torch::Tensor& targets, double lr) {
    step_->set_lr(lr);
    if (graph_ && fits(images, targets)) {
      check_addresses();
      static_x_.copy_(images);
      static_y_.copy_(targets);
      graph_->replay();
      ++replays_;
      return static_loss_;
    }
    if (!first_.has_value()) first_ = images.sizes().vec();
    if (!graph_ && warm_ >= warmup_ && images.sizes() == *first_) {  // an epoch's batches but its last
      capture(images, targets);
      return (*this)(images, targets, lr);
    }
    ++eager_;
    if (!graph_) {  // warm-up on the stream the graph will be captured on
      ++warm_;
      SideStream on(side());
      return eager(images, targets);
    }
    return eager(images, targets);
  }

  DeviceStep& device_step() { return *step_; }
  std::int64_t replays() const { return replays_; }
  std::int64_t eager_steps() const { return eager_; }
  bool captured() const { return graph_ != nullptr; }

 private:
  /// The current stream switched to `side` for the scope, ordered after the work before it and the work
  /// after it ordered after its own (torch.cuda.graph's side stream).
  struct SideStream {
    explicit SideStream(c10::cuda::CUDAStream side) : before_(c10::cuda::getCurrentCUDAStream()), side_(side) {
      at::cuda::CUDAEvent ready;
      ready.record(before_);
      ready.block(side_);
      guard_.emplace(side_);
    }
    ~SideStream() {
      at::cuda::CUDAEvent done;
      done.record(side_);
      guard_.reset();
      done.block(before_);
    }
    SideStream(const SideStream&) = delete;
    SideStream& operator=(const SideStream&) = delete;
    c10::cuda::CUDAStream before_, side_;
    std::optional<c10::cuda::CUDAStreamGuard> guard_;
  };

  torch::Tensor eager(const torch::Tensor& x, const torch::Tensor& y) {
    {
      torch::NoGradGuard g;  // replays overwrite the gradients; an eager backward adds to them
      for (auto& p : step_->params())
        if (p.grad().defined()) p.mutable_grad().zero_();
    }
    auto loss = loss_(x, y);
    step_->scale_loss(loss).backward();
    step_->step();
    return loss.detach();
  }

  void capture(const torch::Tensor& x, const torch::Tensor& y) {
    // torch.cuda.graph's order: the blocks the warm-up steps left in the allocator's cache go back to the
    // device before the graph takes a pool of its own (measured without this: the run held both, 2x)
    c10::cuda::CUDACachingAllocator::emptyCache();
    static_x_ = x.clone(at::MemoryFormat::Preserve);
    static_y_ = y.clone(at::MemoryFormat::Preserve);
    for (auto& p : step_->params()) p.mutable_grad() = torch::Tensor();  // allocated by the captured backward
    for (const auto& p : step_->params()) addresses_.push_back(p.data_ptr());
    graph_ = std::make_unique<at::cuda::CUDAGraph>();
    SideStream on(side());
    const bool cache = at::autocast::is_autocast_cache_enabled();
    at::autocast::set_autocast_cache_enabled(false);
    try {
      // thread-local: the loader's reader threads pin their batches (cudaHostAlloc) while this thread captures
      graph_->capture_begin({0, 0}, cudaStreamCaptureModeThreadLocal);
      static_loss_ = loss_(static_x_, static_y_);
      step_->scale_loss(static_loss_).backward();
      step_->step();
      graph_->capture_end();
    } catch (...) {
      at::autocast::set_autocast_cache_enabled(cache);
      graph_.reset();
      throw;
    }
    at::autocast::set_autocast_cache_enabled(cache);
    static_loss_ = static_loss_.detach();
  }

  /// One stream from PyTorch's pool for the warm-up and the capture (each call of getStreamFromPool
  /// hands out the next).
  c10::cuda::CUDAStream side() {
    if (!side_) side_.emplace(c10::cuda::getStreamFromPool());
    return *side_;
  }

  bool fits(const torch::Tensor& x, const torch::Tensor& y) const {
    return x.sizes() == static_x_.sizes() && x.strides() == static_x_.strides() && x.dtype() == static_x_.dtype() &&
           y.sizes() == static_y_.sizes() && y.dtype() == static_y_.dtype();
  }

  void check_addresses() const {
    const auto& ps = step_->params();
    for (std::size_t i = 0; i < ps.size(); ++i)
      TORCH_CHECK(ps[i].data_ptr() == addresses_[i],
                  "train.cuda_graph: a weight was reallocated after the step was captured (weights must be "
                  "changed in place while a graph lives)");
  }

  LossFn loss_;
  std::unique_ptr<DeviceStep> step_;
  int warmup_, warm_ = 0;
  std::optional<std::vector<std::int64_t>> first_;  // the first batch's shape: the one captured
  std::int64_t replays_ = 0, eager_ = 0;
  std::unique_ptr<at::cuda::CUDAGraph> graph_;
  std::optional<c10::cuda::CUDAStream> side_;
  torch::Tensor static_x_, static_y_, static_loss_;
  std::vector<const void*> addresses_;
};

/// Per-batch losses read from a CUDA device one batch late: each is copied into pinned memory behind
/// the batch's work and read after the next batch's work is queued, so the GPU does not run dry while
/// the host waits (an `item()` per batch waits for the whole queue). Elsewhere read at once.
template <class Tag>
class LossReader {
 public:
  explicit LossReader(const torch::Device& d) : lag_(d.is_cuda()) {}

  /// Queues this batch's loss; calls `on_value(loss, tag)` for the batch before it (for this one
  /// where there is no lag).
  template <class F>
  void push(const torch::Tensor& loss, Tag tag, F&& on_value) {
    if (!lag_) {
      on_value(loss.item<double>(), tag);
      return;
    }
    auto& slot = slots_[next_];
    if (!slot.host.defined())
      slot.host = torch::empty({}, torch::TensorOptions().dtype(torch::kFloat64).pinned_memory(true));
    slot.host.copy_(loss.detach().to(torch::kFloat64), /*non_blocking=*/true);
    slot.event.record(c10::cuda::getCurrentCUDAStream());
    slot.tag = std::move(tag);
    slot.full = true;
    next_ ^= 1;
    drain(slots_[next_], on_value);  // the previous batch's
  }
  /// Reads what is pending (before a checkpoint, at the epoch's end).
  template <class F>
  void flush(F&& on_value) {
    drain(slots_[next_], on_value);      // the older one first
    drain(slots_[next_ ^ 1], on_value);  // then the latest
  }

 private:
  struct Slot {
    torch::Tensor host;
    at::cuda::CUDAEvent event;
    Tag tag{};
    bool full = false;
  };
  template <class F>
  static void drain(Slot& s, F& on_value) {
    if (!s.full) return;
    s.event.synchronize();
    s.full = false;
    on_value(*s.host.template data_ptr<double>(), s.tag);
  }
  bool lag_;
  Slot slots_[2];
  int next_ = 0;
};

#else  // no CUDA graphs in this build: the types exist so that callers compile, and refuse to be made

class DeviceStep {
 public:
  DeviceStep(torch::optim::AdamW&, const GradScaler&, double) { refuse(); }
  void store(GradScaler&) const {}
  [[noreturn]] static void refuse() { throw std::invalid_argument(no_cuda_graphs); }
};

class GraphedTrainStep {
 public:
  using LossFn = std::function<torch::Tensor(const torch::Tensor&, const torch::Tensor&)>;
  GraphedTrainStep(LossFn, std::unique_ptr<DeviceStep>, int = 3) { DeviceStep::refuse(); }
  torch::Tensor operator()(const torch::Tensor&, const torch::Tensor&, double) { DeviceStep::refuse(); }
  DeviceStep& device_step() { DeviceStep::refuse(); }
  std::int64_t replays() const { return 0; }
  std::int64_t eager_steps() const { return 0; }
  bool captured() const { return false; }
};

template <class Tag>
class LossReader {
 public:
  explicit LossReader(const torch::Device&) {}
  template <class F>
  void push(const torch::Tensor& loss, Tag tag, F&& on_value) {
    on_value(loss.item<double>(), tag);
  }
  template <class F>
  void flush(F&&) {}
};

#endif

}  // namespace cadence
