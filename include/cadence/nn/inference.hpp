#pragma once
// The network as prediction runs it (seti predict, per-epoch validation, bench_compare): eval mode,
// BatchNorm folded into the convolutions before it wherever a module can fold (EfficientNetV2: every
// conv-BN pair; a module of one's own by implementing FoldsBatchNorm), and channels_last weights.
// The probabilities equal the plain network's to float rounding (tests/infer/inference.cpp: within
// 1e-5); the speed and memory are in docs/performance.md.
#include <torch/nn/module.h>
#include <torch/nn/modules/conv.h>

#include "cadence/nn/batch_norm.hpp"
#include "cadence/nn/memory_format.hpp"

namespace cadence {

/// Where no gradient is recorded (prediction, validation), a network's activations, scalings and
/// residual sums may overwrite its own temporaries instead of allocating new ones; with gradients,
/// autograd needs the inputs they would overwrite.
inline bool in_place() { return !torch::GradMode::is_enabled(); }

/// BN(conv(x)) in eval mode = conv'(x) + b' with conv' = conv * g/sqrt(v+eps) and
/// b' = beta + (bias - m)*g/sqrt(v+eps). The scale moves into the conv's weights and b' into the conv's
/// bias, which the conv adds in its own kernel (a separate add was one more pass over the activation and
/// one more of its size allocated). A conv without a bias of its own gets the BN's bias tensor, holding
/// b', as its `bias` member, set and not registered: the keys stay as they were, and moving the module to
/// another device or memory format moves it too. A conv with a bias takes b' in place. The BN is then
/// skipped by its network's forward. Irreversible: the network that folds guards against a second call.
inline void fold_into(torch::nn::Conv2dImpl& c, BatchNorm2dImpl& b) {
  torch::NoGradGuard g;
  const auto scale = b.weight / torch::sqrt(b.running_var + b.options.eps());
  c.weight.mul_(scale.view({-1, 1, 1, 1}));
  if (c.bias.defined()) {
    c.bias.copy_(b.bias + (c.bias - b.running_mean) * scale);
    b.bias.copy_(c.bias);
    return;
  }
  b.bias.copy_(b.bias - b.running_mean * scale);
  c.bias = b.bias;
}

/// A module that folds its BatchNorms into the convolutions before them, for inference. Folding is
/// irreversible and must be idempotent.
class FoldsBatchNorm {
 public:
  virtual ~FoldsBatchNorm() = default;
  virtual void fold_batchnorm() = 0;
};

struct InferenceOptions {
  bool fold_batchnorm = true;  // fold where a module can
  bool channels_last = true;   // NHWC weights; predict_pipeline then feeds NHWC inputs
};

/// Prepares `net` for inference, in place and for good (train a copy, not this).
inline void prepare_for_inference(torch::nn::Module& net, const InferenceOptions& o) {
  net.eval();
  if (o.fold_batchnorm)
    for (const auto& m : net.modules(/*include_self=*/true))
      if (auto* f = dynamic_cast<FoldsBatchNorm*>(m.get())) f->fold_batchnorm();
  if (o.channels_last) to_channels_last(net);
}

}  // namespace cadence
