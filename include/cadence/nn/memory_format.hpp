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

/// NHWC-strided and not also NCHW-contiguous (a tensor with one channel and a 1 x 1 extent is both).
inline bool strictly_channels_last(const torch::Tensor& p) {
  return p.dim() == 4 && !p.is_contiguous() && p.is_contiguous(at::MemoryFormat::ChannelsLast);
}

/// Whether to_channels_last was applied: the first convolution weight with spatial extent and more than
/// one input channel is NHWC-strided.
inline bool is_channels_last(torch::nn::Module& m) {
  for (const auto& p : m.parameters())
    if (p.dim() == 4 && p.size(1) > 1 && (p.size(2) > 1 || p.size(3) > 1)) return strictly_channels_last(p);
  return false;
}

/// x in NHWC. With one channel NCHW and NHWC are the same bytes, and `contiguous` keeps NCHW's strides;
/// LibTorch then picks NCHW for the convolutions that follow until one's weights say otherwise (the
/// learned resizer's full-resolution layers, EfficientNetV2's stem and first stage: converted to and from
/// oneDNN's blocked layout at each conv). Such a tensor gets NHWC's strides as a view, without a copy.
inline torch::Tensor as_channels_last(const torch::Tensor& x) {
  if (x.dim() != 4) return x;
  if (x.size(1) == 1 && x.is_contiguous()) return x.view({x.size(0), x.size(2), x.size(3), 1}).permute({0, 3, 1, 2});
  return x.contiguous(at::MemoryFormat::ChannelsLast);
}

/// x in NHWC where `w` (a convolution's weights with more than one input channel and a spatial extent)
/// is: a network's input, whose single channel leaves its layout to the strides (as_channels_last).
inline torch::Tensor like_weights(const torch::Tensor& x, const torch::Tensor& w) {
  return strictly_channels_last(w) ? as_channels_last(x) : x;
}

}  // namespace cadence
