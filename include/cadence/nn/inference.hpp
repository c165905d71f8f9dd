#pragma once
// The network as prediction runs it (seti predict, per-epoch validation, bench_compare): eval mode,
// BatchNorm folded into the convolutions before it wherever a module can fold (EfficientNetV2: every
// conv-BN pair; a module of one's own by implementing FoldsBatchNorm), and channels_last weights.
// The probabilities equal the plain network's to float rounding (tests/infer/inference.cpp: within
// 1e-5); the speed and memory are in docs/performance.md.
#include <torch/nn/module.h>

#include "cadence/nn/memory_format.hpp"

namespace cadence {

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
