#pragma once
// channels_last for a whole module: 4-D parameters and buffers are restrided to NHWC, so convolutions
// run on channels-last kernels when the input is channels-last too.
#include <torch/nn.h>

namespace cadence {

inline void to_channels_last(torch::nn::Module& m) {
  torch::NoGradGuard g;
  for (auto& p : m.parameters())
    if (p.dim() == 4) p.set_data(p.contiguous(at::MemoryFormat::ChannelsLast));
  for (auto& b : m.buffers())
    if (b.dim() == 4) b.set_data(b.contiguous(at::MemoryFormat::ChannelsLast));
}

/// Whether to_channels_last was applied: the first convolution weight with spatial extent and more than
/// one input channel is NHWC-strided.
inline bool is_channels_last(torch::nn::Module& m) {
  for (const auto& p : m.parameters())
    if (p.dim() == 4 && p.size(1) > 1 && (p.size(2) > 1 || p.size(3) > 1))
      return !p.is_contiguous() && p.is_contiguous(at::MemoryFormat::ChannelsLast);
  return false;
}

inline torch::Tensor as_channels_last(const torch::Tensor& x) {
  return x.dim() == 4 ? x.contiguous(at::MemoryFormat::ChannelsLast) : x;
}

}  // namespace cadence
