#pragma once
// Resize<Learned>: the learned resizer of Talebi & Milanfar, "Learning to Resize Images for Computer
// Vision Tasks" (ICCV 2021, arXiv 2103.09950), trained jointly with the backbone. Resize<Bilinear>,
// <Bicubic> and <Area> are the fixed alternatives. The target size is JSON (`size` while training,
// `test_size` in eval mode: the seed trained EfficientNetV2-S at 300 and predicted at 384).
//
//   skip = bilinear(x, size)
//   y = LeakyReLU(conv7x7_n(x)); y = BN(LeakyReLU(conv1x1_n(y)))
//   z = bilinear(y, size)
//   y = z; r times: y = y + BN(conv3x3(LeakyReLU(BN(conv3x3(y)))))
//   y = BN(conv3x3(y)) + z
//   out = conv7x7_C(y) + skip
#include <algorithm>
#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include <torch/nn.h>
#include <torch/version.h>

#include "cadence/config/options.hpp"
#include "cadence/core/pipeline.hpp"
#include "cadence/nn/batch_norm.hpp"
#include "cadence/nn/checkpoint.hpp"
#include "cadence/nn/inference.hpp"
#include "cadence/train/amp.hpp"

namespace cadence {

struct ResizeSize {
  std::vector<std::int64_t> size{256, 256};       // (H, W) while training
  std::vector<std::int64_t> test_size{256, 256};  // (H, W) in eval mode
  template <class V>
  void fields(V& v) {
    v("size", size, HeightWidth{});
    v("test_size", test_size, HeightWidth{});
  }
  struct HeightWidth {
    void operator()(const std::vector<std::int64_t>& s, const std::string& path) const {
      // at least 8, as `seti model --input` asks: a smaller image leaves nothing for the network's strides
      if (s.size() != 2 || s[0] < 8 || s[1] < 8 || s[0] > 4096 || s[1] > 4096)
        fail(path, ": expected [height, width], each in [8, 4096]");
    }
  };
};

namespace detail {
// LibTorch 2.x's option enums are std::variant; 1.13's are c10::variant.
template <class Mode>
bool holds_area(const Mode& mode) {
#if TORCH_VERSION_MAJOR >= 2
  return std::holds_alternative<torch::enumtype::kArea>(mode);
#else
  return c10::holds_alternative<torch::enumtype::kArea>(mode);
#endif
}
inline torch::Tensor resize_to(const torch::Tensor& x, const std::vector<std::int64_t>& hw,
                               torch::nn::functional::InterpolateFuncOptions::mode_t mode) {
  namespace F = torch::nn::functional;
  auto o = F::InterpolateFuncOptions().size(hw).mode(mode);
  if (!holds_area(mode)) o.align_corners(false);  // area takes no align_corners
  return F::interpolate(x, o);
}
}  // namespace detail

// ---- the learned resizer ------------------------------------------------------------------------

struct LearnedOptions : ResizeSize {
  int filters = 16;             // n
  int blocks = 1;               // r residual blocks
  double negative_slope = 0.2;  // LeakyReLU
  template <class V>
  void fields(V& v) {
    ResizeSize::fields(v);
    v("filters", filters, config::in_range(1, 1024));
    v("blocks", blocks, config::in_range(0, 64));
    v("negative_slope", negative_slope, config::at_least(0.0));
  }
};

class LearnedResizerImpl : public torch::nn::Module, public GradCheckpointing, public FoldsBatchNorm {
 public:
  LearnedResizerImpl(const LearnedOptions& o, std::int64_t channels) : o_(o) {
    using namespace torch::nn;
    const std::int64_t n = o.filters;
    conv1 = register_module("conv1", Conv2d(Conv2dOptions(channels, n, 7).padding(3)));
    conv2 = register_module("conv2", Conv2d(Conv2dOptions(n, n, 1)));
    bn2 = register_module("bn2", cadence::BatchNorm2d(n));
    for (int i = 0; i < o.blocks; ++i) {
      Sequential b(Conv2d(Conv2dOptions(n, n, 3).padding(1).bias(false)), cadence::BatchNorm2d(n),
                   LeakyReLU(LeakyReLUOptions().negative_slope(o.negative_slope)),
                   Conv2d(Conv2dOptions(n, n, 3).padding(1).bias(false)), cadence::BatchNorm2d(n));
      res->push_back(b);
    }
    register_module("res", res);
    conv3 = register_module("conv3", Conv2d(Conv2dOptions(n, n, 3).padding(1).bias(false)));
    bn3 = register_module("bn3", cadence::BatchNorm2d(n));
    conv4 = register_module("conv4", Conv2d(Conv2dOptions(n, channels, 7).padding(3)));
  }

  /// In training, the full-resolution layers' activations (n channels at the input's size: most of the
  /// resizer's memory) are recomputed in the backward pass instead of kept (nn/checkpoint.hpp).
  void set_grad_checkpointing(bool on) override { grad_checkpointing_ = on; }

  /// For inference (nn/inference.hpp): the BNs that follow a conv (the residual blocks' and bn3) fold into
  /// it. bn2 follows a LeakyReLU and stays (in eval mode it runs after the downsampling: full_resolution).
  /// Irreversible; a second call does nothing.
  void fold_batchnorm() override {
    if (folded_) return;
    for (const auto& block : *res) {
      const auto l = layers(block);
      fold_into(l.conv_a, l.bn_a);
      fold_into(l.conv_b, l.bn_b);
    }
    fold_into(*conv3, *bn3);
    folded_ = true;
  }

  torch::Tensor forward(const torch::Tensor& x) {  // (B,C,H,W) -> (B,C,size)
    const auto& hw = is_training() ? o_.size : o_.test_size;
    auto skip = detail::resize_to(x, hw, torch::kBilinear);
    torch::Tensor z;
    if (!is_training() && !torch::GradMode::is_enabled() && x.size(0) > 1) {
      // Inference: the full-resolution layers (n channels at the input's 819 x 256, 107 MB per batch of
      // 8 per tensor) two samples at a time, activations in place. Each sample's result is its own
      // (BN uses running statistics), so this only lowers the peak memory; measured, it is also ~10%
      // faster than the whole batch at once (the chunk's tensors stay in cache), and than one sample.
      std::vector<torch::Tensor> zs;
      const std::int64_t chunk = 2;  // fixed, so results do not depend on the thread count
      for (std::int64_t b = 0; b < x.size(0); b += chunk)
        zs.push_back(full_resolution(x.narrow(0, b, std::min(chunk, x.size(0) - b)), hw));
      z = bn2->forward(torch::cat(zs));
    } else if (grad_checkpointing_ && is_training()) {  // the full-resolution activations recomputed in backward
      z = checkpoint([this, hw](const torch::Tensor& t) { return full_resolution(t, hw); }, x);
    } else {
      z = full_resolution(x, hw);
      if (!is_training()) z = bn2->forward(z);
    }
    auto y = residual(z);
    if (!in_place()) return conv4->forward(y) + skip;
    return (is_training() ? conv4->forward(y) : last_conv(y)).add_(skip);
  }

  torch::nn::Conv2d conv1{nullptr}, conv2{nullptr}, conv3{nullptr}, conv4{nullptr};
  cadence::BatchNorm2d bn2{nullptr}, bn3{nullptr};
  torch::nn::ModuleList res;

 private:
  // One residual block's layers, as its Sequential holds them (the keys): conv, BN, LeakyReLU, conv, BN.
  // The forward calls them one by one (the BNs are skipped once folded; the LeakyReLU's slope is o_'s).
  struct ResidualLayers {
    torch::nn::Conv2dImpl& conv_a;
    BatchNorm2dImpl& bn_a;
    torch::nn::Conv2dImpl& conv_b;
    BatchNorm2dImpl& bn_b;
  };
  static ResidualLayers layers(const std::shared_ptr<torch::nn::Module>& block) {
    auto* s = block->as<torch::nn::Sequential>();
    return {*s->ptr<torch::nn::Conv2dImpl>(0), *s->ptr<BatchNorm2dImpl>(1), *s->ptr<torch::nn::Conv2dImpl>(3),
            *s->ptr<BatchNorm2dImpl>(4)};
  }

  // The residual blocks and conv3 + BN at the output size, with the skip from z. Each LeakyReLU overwrites
  // its input, a temporary that nothing saved for the backward pass (a conv's or a BN's output; both save
  // their inputs), so with gradients too (leaky_relu_'s backward reads its output); without gradients the
  // sums overwrite theirs as well. Folded, the BNs are in the convs.
  torch::Tensor residual(const torch::Tensor& z) {
    namespace F = torch::nn::functional;
    const bool overwrite = in_place();
    const auto leaky = F::LeakyReLUFuncOptions().negative_slope(o_.negative_slope).inplace(true);
    auto y = z;
    for (const auto& block : *res) {
      const auto l = layers(block);
      auto t = l.conv_a.forward(y);
      if (!folded_) t = l.bn_a.forward(t);
      t = l.conv_b.forward(F::leaky_relu(t, leaky));
      if (!folded_) t = l.bn_b.forward(t);
      y = overwrite ? t.add_(y) : y + t;
    }
    auto t = conv3->forward(y);
    if (!folded_) t = bn3->forward(t);
    return overwrite ? t.add_(z) : t + z;
  }

  // conv4 in inference. With one output channel (n -> 1, 7 x 7) it is the worst case of oneDNN's CPU
  // convolutions (one lane of each 16-lane vector: 58 ms for a batch of 8 at 256 x 256 on an AVX-512
  // EPYC); as a depthwise 7 x 7 of each input channel summed over the channels it is the same products
  // in another order, 9 ms (docs/performance.md). fp32 on a CPU only: under autocast the n partial
  // results would each be rounded to 16 bits before the sum, and on a GPU it was never measured.
  torch::Tensor last_conv(const torch::Tensor& y) {
    const auto& w = conv4->weight;  // (C, n, k, k)
    if (w.size(0) != 1 || !y.is_cpu() || y.scalar_type() != torch::kFloat || AutocastGuard::enabled(at::kCPU))
      return conv4->forward(y);
    const auto n = w.size(1);
    auto depthwise = w.reshape({n, 1, w.size(2), w.size(3)});
    if (y.is_contiguous(at::MemoryFormat::ChannelsLast))
      depthwise = depthwise.contiguous(at::MemoryFormat::ChannelsLast);
    auto out = torch::conv2d(y, depthwise, {}, 1, {w.size(2) / 2, w.size(3) / 2}, 1, n).sum(1, /*keepdim=*/true);
    return conv4->bias.defined() ? out.add_(conv4->bias.view({1, -1, 1, 1})) : out;
  }

  // conv1 -> LeakyReLU -> conv2 -> LeakyReLU at the input's resolution, then down to `hw`. In training bn2
  // follows at the input's resolution (its batch statistics are the full-resolution ones); in eval mode
  // the caller applies it after the downsampling: a per-channel affine map commutes with bilinear
  // interpolation (whose weights sum to one), and there it runs over 256 x 256 instead of 819 x 256.
  // The LeakyReLUs overwrite the convs' outputs, with gradients too (as in residual; the slope is >= 0,
  // which leaky_relu_'s backward needs): checkpointed, the recomputation then holds two fewer tensors of
  // 107 MB (a batch of 8) while the backward pass runs through it.
  torch::Tensor full_resolution(const torch::Tensor& x, const std::vector<std::int64_t>& hw) {
    namespace F = torch::nn::functional;
    const auto leaky = F::LeakyReLUFuncOptions().negative_slope(o_.negative_slope).inplace(true);
    auto y = F::leaky_relu(conv1->forward(x), leaky);
    y = F::leaky_relu(conv2->forward(y), leaky);
    if (is_training()) y = bn2->forward(y);
    return detail::resize_to(y, hw, torch::kBilinear);
  }

  LearnedOptions o_;
  bool grad_checkpointing_ = false;
  bool folded_ = false;
};
TORCH_MODULE(LearnedResizer);

/// A fixed interpolation to the target size (no parameters).
class FixedResizeImpl : public torch::nn::Module {
 public:
  FixedResizeImpl(const ResizeSize& s, torch::nn::functional::InterpolateFuncOptions::mode_t mode)
      : s_(s), mode_(mode) {}
  torch::Tensor forward(const torch::Tensor& x) {
    return detail::resize_to(x, is_training() ? s_.size : s_.test_size, mode_);
  }

 private:
  ResizeSize s_;
  torch::nn::functional::InterpolateFuncOptions::mode_t mode_;
};
TORCH_MODULE(FixedResize);

// ---- the stage ----------------------------------------------------------------------------------

struct Learned {
  static constexpr std::string_view name = "Learned";
  using Options = LearnedOptions;
  static torch::nn::AnyModule build(const Options& o, std::int64_t c) {
    return torch::nn::AnyModule(LearnedResizer(o, c));
  }
};
struct Bilinear {
  static constexpr std::string_view name = "Bilinear";
  using Options = ResizeSize;
  static torch::nn::AnyModule build(const Options& o, std::int64_t) {
    return torch::nn::AnyModule(FixedResize(o, torch::kBilinear));
  }
};
struct Bicubic {
  static constexpr std::string_view name = "Bicubic";
  using Options = ResizeSize;
  static torch::nn::AnyModule build(const Options& o, std::int64_t) {
    return torch::nn::AnyModule(FixedResize(o, torch::kBicubic));
  }
};
struct Area {
  static constexpr std::string_view name = "Area";
  using Options = ResizeSize;
  static torch::nn::AnyModule build(const Options& o, std::int64_t) {
    return torch::nn::AnyModule(FixedResize(o, torch::kArea));
  }
};

template <class Kind>
struct Resize : Composes<Resize<Kind>> {
  static constexpr std::string_view name = "resize";
  using Options = typename Kind::Options;
  Options options{};

  static std::string label() { return "Resize<" + std::string(Kind::name) + ">"; }
  /// Channels in = channels out: the resizer keeps the image's channel count.
  torch::nn::AnyModule build(std::int64_t in_chans) const { return Kind::build(options, in_chans); }
};

}  // namespace cadence
