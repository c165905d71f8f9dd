#pragma once
// EfficientNetV2 (Tan & Le 2021, arXiv 2104.00298), built the way timm builds it, so that a timm
// state_dict loads key for key and gives the same logits.
//
// The architecture is timm's block-string arch_def, one string per stage:
//   cn_r2_k3_s1_e1_c24_skip   ConvBnAct          conv, bn1(+act), skip if stride 1 and in == out
//   er_r4_k3_s2_e4_c48        EdgeResidual       conv_exp kxk, bn1(+act), conv_pwl 1x1, bn2
//   ir_r6_k3_s2_e4_c128_se0.25 InvertedResidual  conv_pw 1x1, bn1(+act), conv_dw kxk, bn2(+act),
//                                                se (reduce to 0.25 x the block's input channels), conv_pwl, bn3
// Activation SiLU; channels through make_divisible(.., 8); stochastic depth scaled by block index;
// dropout before the classifier. The tf_ variants use BN eps 1e-3 and TensorFlow "same" padding.
#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

#include <torch/nn.h>

#include "cadence/config/options.hpp"
#include "cadence/core/error.hpp"
#include "cadence/nn/batch_norm.hpp"
#include "cadence/nn/checkpoint.hpp"
#include "cadence/nn/inference.hpp"

namespace cadence {

// ---- arch definitions ---------------------------------------------------------------------------

struct BlockArgs {
  char type = 'i';  // 'c' ConvBnAct, 'e' EdgeResidual, 'i' InvertedResidual
  int repeat = 1, kernel = 3, stride = 1, out = 0;
  double exp = 1.0, se = 0.0;
  bool skip = false;    // cn: "_skip"
  bool noskip = false;  // er/ir: "_noskip"
};

/// Decodes one of timm's block strings (`ir_r6_k3_s2_e4_c128_se0.25`).
inline BlockArgs parse_block(std::string_view s) {
  BlockArgs b;
  const std::string text(s);
  std::vector<std::string> ops;
  for (std::size_t p = 0; p <= s.size();) {
    const auto q = std::min(s.find('_', p), s.size());
    ops.emplace_back(s.substr(p, q - p));
    p = q + 1;
  }
  if (ops.empty() || (ops[0] != "cn" && ops[0] != "er" && ops[0] != "ir"))
    fail("arch: block `", text, "`: type must be cn, er or ir");
  b.type = ops[0] == "cn" ? 'c' : ops[0] == "er" ? 'e' : 'i';
  bool has_c = false;
  for (std::size_t i = 1; i < ops.size(); ++i) {
    const std::string& o = ops[i];
    if (o == "skip") {
      b.skip = true;
      continue;
    }
    if (o == "noskip") {
      b.noskip = true;
      continue;
    }
    const std::size_t key = o.rfind("se", 0) == 0 ? 2 : 1;
    if (o.size() <= key) fail("arch: block `", text, "`: bad option `", o, "`");
    const std::string k = o.substr(0, key), v = o.substr(key);
    try {
      if (k == "r")
        b.repeat = std::stoi(v);
      else if (k == "k")
        b.kernel = std::stoi(v);
      else if (k == "s")
        b.stride = std::stoi(v);
      else if (k == "e")
        b.exp = std::stod(v);
      else if (k == "c") {
        b.out = std::stoi(v);
        has_c = true;
      } else if (k == "se")
        b.se = std::stod(v);
      else
        fail("arch: block `", text, "`: unknown option `", o, "`");
    } catch (const std::logic_error&) {
      fail("arch: block `", text, "`: bad number in `", o, "`");
    }
  }
  if (!has_c || b.repeat < 1 || b.kernel < 1 || b.stride < 1)
    fail("arch: block `", text, "`: needs r>=1, k>=1, s>=1 and c");
  return b;
}

/// timm's make_divisible.
inline std::int64_t make_divisible(double v, int divisor = 8, double round_limit = 0.9) {
  auto n = std::max<std::int64_t>(divisor, static_cast<std::int64_t>(v + divisor / 2.0) / divisor * divisor);
  if (static_cast<double>(n) < round_limit * v) n += divisor;
  return n;
}

struct EffNetV2Arch {
  std::vector<std::string> stages;
  int stem = 24;
  int num_features = 1280;
  bool tf = false;             // BN eps 1e-3 and "same" padding
  bool round_features = true;  // scale num_features by the width multiplier (timm: S yes, M no)
  // With grad checkpointing, the stages whose blocks keep their convolutions' outputs and recompute only
  // what follows each (BN, SiLU, squeeze-excite; EdgeResidual: its 1x1 projection too); the others'
  // blocks are recomputed whole. Chosen by measurement (docs/performance.md, "Checkpointing by stage").
  std::vector<std::size_t> checkpoint_keep_convs{};
};

inline EffNetV2Arch efficientnetv2_s_arch(bool tf = false) {
  return {{"cn_r2_k3_s1_e1_c24_skip", "er_r4_k3_s2_e4_c48", "er_r4_k3_s2_e4_c64", "ir_r6_k3_s2_e4_c128_se0.25",
           "ir_r9_k3_s1_e6_c160_se0.25", "ir_r15_k3_s2_e6_c256_se0.25"},
          24,
          1280,
          tf,
          true,
          {1, 4, 5}};  // measured at 256², batch 8 (docs/performance.md)
}
inline EffNetV2Arch efficientnetv2_m_arch(bool tf = false) {
  return {{"cn_r3_k3_s1_e1_c24_skip", "er_r5_k3_s2_e4_c48", "er_r5_k3_s2_e4_c80", "ir_r7_k3_s2_e4_c160_se0.25",
           "ir_r14_k3_s1_e6_c176_se0.25", "ir_r18_k3_s2_e6_c304_se0.25", "ir_r5_k3_s1_e6_c512_se0.25"},
          24,
          1280,
          tf,
          false,
          {1, 5, 6}};  // S's choice by analogy (the first fused stage, the last two); not measured
}

struct EffNetV2Options {
  double width_multiplier = 1.0;  // channels x this (make_divisible 8): small variants for CPU demos
  double depth_multiplier = 1.0;  // repeats x this (ceil)
  double drop_rate = 0.0;         // dropout before the classifier
  double drop_path_rate = 0.0;    // stochastic depth, scaled linearly by block index
  // the stem conv's stride (height = time, width = frequency): timm's is 2 x 2; the competition's 1st
  // place used 1 x 2 to keep the time resolution (4x the activations after the stem, the same weights)
  std::vector<int> stem_stride{2, 2};
  template <class V>
  void fields(V& v) {
    v("stem_stride", stem_stride);
    v("width_multiplier", width_multiplier, config::above(0.0), config::in_range(0.0, 8.0));
    v("depth_multiplier", depth_multiplier, config::above(0.0), config::in_range(0.0, 8.0));
    v("drop_rate", drop_rate, config::in_range(0.0, 0.99));
    v("drop_path_rate", drop_path_rate, config::in_range(0.0, 0.99));
  }
};

// ---- building blocks ----------------------------------------------------------------------------

namespace effnet {

/// TensorFlow "same" padding for one conv: static where symmetric, else applied in forward.
struct Padding {
  bool dynamic = false;
  std::int64_t kernel = 1, stride = 1;
  std::int64_t stride_w = 0;  // the width's stride when it differs from the height's (0: stride)
  torch::Tensor apply(const torch::Tensor& x) const {  // (B,C,H,W)
    if (!dynamic) return x;
    auto pad = [&](std::int64_t i, std::int64_t s) {
      return std::max<std::int64_t>((((i + s - 1) / s) - 1) * s + kernel - i, 0);
    };
    const auto ph = pad(x.size(2), stride), pw = pad(x.size(3), stride_w > 0 ? stride_w : stride);
    return torch::constant_pad_nd(x, {pw / 2, pw - pw / 2, ph / 2, ph - ph / 2});
  }
};

/// A conv as timm's create_conv2d makes it: symmetric padding ((s-1) + (k-1))//2, or "same" (tf).
inline torch::nn::Conv2d conv(std::int64_t in, std::int64_t out, std::int64_t k, std::int64_t s, bool tf, Padding& pad,
                              std::int64_t groups = 1) {
  std::int64_t p = ((s - 1) + (k - 1)) / 2;
  pad = {};
  if (tf) {
    const bool is_static = s == 1 && (k - 1) % 2 == 0;
    p = is_static ? (k - 1) / 2 : 0;
    pad = {!is_static, k, s};
  }
  return torch::nn::Conv2d(torch::nn::Conv2dOptions(in, out, k).stride(s).padding(p).groups(groups).bias(false));
}

/// The stem's conv with a stride of its own per axis (EffNetV2Options::stem_stride): timm's padding for
/// each axis, ((s - 1) + (k - 1)) // 2, which is 1 for a 3 x 3 kernel at stride 1 or 2; or "same" (tf),
/// computed in forward from each axis's stride, as timm's Conv2dSame does.
inline torch::nn::Conv2d stem_conv(std::int64_t in, std::int64_t out, std::int64_t sh, std::int64_t sw, bool tf,
                                   Padding& pad) {
  constexpr std::int64_t k = 3;
  if (sh == sw) return conv(in, out, k, sh, tf, pad);
  pad = tf ? Padding{true, k, sh, sw} : Padding{};
  const std::int64_t p = tf ? 0 : (k - 1) / 2;
  return torch::nn::Conv2d(torch::nn::Conv2dOptions(in, out, k).stride({sh, sw}).padding(p).bias(false));
}

/// timm's tf_ models only change eps (their momentum stays PyTorch's 0.1).
inline BatchNorm2d bn(std::int64_t c, bool tf) {
  return BatchNorm2d(torch::nn::BatchNorm2dOptions(c).eps(tf ? 1e-3 : 1e-5).momentum(0.1));
}

/// Stochastic depth: drops the whole residual branch per sample, rescaling the kept ones.
inline torch::Tensor drop_path(const torch::Tensor& x, double p, bool training) {
  if (p <= 0.0 || !training) return x;
  const auto keep = torch::empty({x.size(0), 1, 1, 1}, x.options()).bernoulli_(1.0 - p);
  return x * keep / (1.0 - p);
}

/// The BN, or nothing once it is folded into the conv before it.
inline torch::Tensor norm(BatchNorm2d& b, const torch::Tensor& t, bool folded) { return folded ? t : b->forward(t); }

/// SiLU, overwriting `t` (a temporary of the caller's) where no gradient is recorded (nn/inference.hpp).
inline torch::Tensor silu(torch::Tensor t) { return in_place() ? torch::silu_(t) : torch::silu(t); }

class SqueezeExciteImpl : public torch::nn::Module {
 public:
  SqueezeExciteImpl(std::int64_t chs, std::int64_t rd) {
    conv_reduce = register_module("conv_reduce", torch::nn::Conv2d(torch::nn::Conv2dOptions(chs, rd, 1)));
    conv_expand = register_module("conv_expand", torch::nn::Conv2d(torch::nn::Conv2dOptions(rd, chs, 1)));
  }
  /// x: the block's temporary, which is scaled in place where no gradient is recorded.
  torch::Tensor forward(const torch::Tensor& x) {
    auto s = x.mean({2, 3}, true);
    s = effnet::silu(conv_reduce->forward(s));
    s = torch::sigmoid(conv_expand->forward(s));
    return in_place() ? x.mul_(s) : x * s;  // x: the block's temporary
  }
  torch::nn::Conv2d conv_reduce{nullptr}, conv_expand{nullptr};
};
TORCH_MODULE(SqueezeExcite);

/// What every block is to the network: one class per kind below, as timm's _efficientnet_blocks.py
/// (ConvBnAct, EdgeResidual, InvertedResidual), each with timm's module names (the weights' keys).
class BlockImpl : public torch::nn::Module {
 public:
  BlockImpl(bool skip, double drop_path) : skip_(skip), drop_path_(drop_path) {}
  /// timm's block type: "cn" (ConvBnAct), "er" (EdgeResidual), "ir" (InvertedResidual).
  virtual std::string type() const = 0;
  /// The block's spatial conv (cn: conv, er: conv_exp, ir: conv_dw): its kernel and stride.
  virtual const torch::nn::Conv2d& spatial_conv() const = 0;
  /// Folds each BN into the conv before it (inference only; see EfficientNetV2Impl::fold_batchnorm).
  virtual void fold() = 0;
  virtual torch::Tensor forward(const torch::Tensor& x) = 0;

  bool has_skip() const { return skip_; }
  double drop_path_rate() const { return drop_path_; }
  /// In training with gradients, the block keeps its convolutions' outputs for the backward pass and
  /// recomputes there what follows each (BN, SiLU, squeeze-excite; in EdgeResidual the 1x1 projection and
  /// its BN too), instead of keeping those outputs: its expensive convs run once. EfficientNetV2's
  /// set_grad_checkpointing sets it for the stages of EffNetV2Arch::checkpoint_keep_convs.
  void set_keep_conv_outputs(bool on) { keep_conv_outputs_ = on; }
  void pretty_print(std::ostream& os) const override {
    const auto t = type();
    os << (t == "cn" ? "ConvBnAct" : t == "er" ? "EdgeResidual" : "InvertedResidual") << (skip_ ? "(skip)" : "()");
  }

 protected:
  /// The residual: the branch (with stochastic depth in training) plus the input, when the block has one.
  torch::Tensor residual(torch::Tensor y, const torch::Tensor& x) const {
    if (!skip_) return y;
    if (in_place() && !is_training()) return y.add_(x);  // y: the branch's temporary
    return drop_path(y, drop_path_, is_training()) + x;
  }
  torch::Tensor norm(BatchNorm2d& b, const torch::Tensor& t) const { return effnet::norm(b, t, folded_); }
  /// Whether this forward checkpoints what follows each conv (set_keep_conv_outputs).
  bool recomputing() const { return keep_conv_outputs_ && !folded_ && is_training() && torch::GradMode::is_enabled(); }
  /// f(c), c a conv's output and f what follows it: checkpointed (nn/checkpoint.hpp) where recomputing().
  torch::Tensor after_conv(const Segment& f, const torch::Tensor& c) const {
    return recomputing() ? checkpoint(f, c) : f(c);
  }
  /// SiLU(BN(t)), t a conv's output (after_conv).
  torch::Tensor bn_act(BatchNorm2d& b, const torch::Tensor& t) const {
    return after_conv([this, &b](const torch::Tensor& u) { return effnet::silu(norm(b, u)); }, t);
  }
  static SqueezeExcite make_se(const BlockArgs& a, std::int64_t mid) {
    return SqueezeExcite(mid, static_cast<std::int64_t>(std::nearbyint(static_cast<double>(mid) * a.se / a.exp)));
  }

  bool skip_;
  double drop_path_;
  bool folded_ = false;
  bool keep_conv_outputs_ = false;
  Padding pad_;  // the spatial conv's "same" padding (tf_ models)
};

/// timm's ConvBnAct: conv, bn1, SiLU (EfficientNetV2's first stage, "cn").
class ConvBnActImpl : public BlockImpl {
 public:
  ConvBnActImpl(const BlockArgs& a, std::int64_t in, std::int64_t out, int stride, bool tf, double drop_path)
      : BlockImpl(a.skip && stride == 1 && in == out, drop_path) {
    conv = register_module("conv", effnet::conv(in, out, a.kernel, stride, tf, pad_));
    bn1 = register_module("bn1", bn(out, tf));
  }
  std::string type() const override { return "cn"; }
  const torch::nn::Conv2d& spatial_conv() const override { return conv; }
  void fold() override {
    cadence::fold_into(*conv, *bn1);
    folded_ = true;
  }
  torch::Tensor forward(const torch::Tensor& x) override {
    return residual(bn_act(bn1, conv->forward(pad_.apply(x))), x);
  }

  torch::nn::Conv2d conv{nullptr};
  BatchNorm2d bn1{nullptr};
};

/// timm's EdgeResidual (FusedMBConv): conv_exp, bn1, SiLU, [se], conv_pwl, bn2 ("er").
class EdgeResidualImpl : public BlockImpl {
 public:
  EdgeResidualImpl(const BlockArgs& a, std::int64_t in, std::int64_t out, int stride, bool tf, double drop_path)
      : BlockImpl(!a.noskip && stride == 1 && in == out, drop_path) {
    const auto mid = make_divisible(static_cast<double>(in) * a.exp);
    conv_exp = register_module("conv_exp", effnet::conv(in, mid, a.kernel, stride, tf, pad_));
    bn1 = register_module("bn1", bn(mid, tf));
    if (a.se > 0) se = register_module("se", make_se(a, mid));
    Padding none;
    conv_pwl = register_module("conv_pwl", effnet::conv(mid, out, 1, 1, tf, none));
    bn2 = register_module("bn2", bn(out, tf));
  }
  std::string type() const override { return "er"; }
  const torch::nn::Conv2d& spatial_conv() const override { return conv_exp; }
  void fold() override {
    cadence::fold_into(*conv_exp, *bn1);
    cadence::fold_into(*conv_pwl, *bn2);
    folded_ = true;
  }
  torch::Tensor forward(const torch::Tensor& x) override {
    auto tail = [this](const torch::Tensor& c) {
      auto y = effnet::silu(norm(bn1, c));
      if (!se.is_empty()) y = se->forward(y);
      return norm(bn2, conv_pwl->forward(y));
    };
    return residual(after_conv(tail, conv_exp->forward(pad_.apply(x))), x);
  }

  torch::nn::Conv2d conv_exp{nullptr}, conv_pwl{nullptr};
  BatchNorm2d bn1{nullptr}, bn2{nullptr};
  SqueezeExcite se{nullptr};
};

/// timm's InvertedResidual (MBConv): conv_pw, bn1, SiLU, conv_dw, bn2, SiLU, [se], conv_pwl, bn3 ("ir").
class InvertedResidualImpl : public BlockImpl {
 public:
  InvertedResidualImpl(const BlockArgs& a, std::int64_t in, std::int64_t out, int stride, bool tf, double drop_path)
      : BlockImpl(!a.noskip && stride == 1 && in == out, drop_path) {
    const auto mid = make_divisible(static_cast<double>(in) * a.exp);
    Padding none;
    conv_pw = register_module("conv_pw", effnet::conv(in, mid, 1, 1, tf, none));
    bn1 = register_module("bn1", bn(mid, tf));
    conv_dw = register_module("conv_dw", effnet::conv(mid, mid, a.kernel, stride, tf, pad_, mid));
    bn2 = register_module("bn2", bn(mid, tf));
    if (a.se > 0) se = register_module("se", make_se(a, mid));
    conv_pwl = register_module("conv_pwl", effnet::conv(mid, out, 1, 1, tf, none));
    bn3 = register_module("bn3", bn(out, tf));
  }
  std::string type() const override { return "ir"; }
  const torch::nn::Conv2d& spatial_conv() const override { return conv_dw; }
  void fold() override {
    cadence::fold_into(*conv_pw, *bn1);
    cadence::fold_into(*conv_dw, *bn2);
    cadence::fold_into(*conv_pwl, *bn3);
    folded_ = true;
  }
  torch::Tensor forward(const torch::Tensor& x) override {
    auto y = bn_act(bn1, conv_pw->forward(x));
    auto act_se = [this](const torch::Tensor& c) {
      auto y = effnet::silu(norm(bn2, c));
      return se.is_empty() ? y : se->forward(y);
    };
    y = after_conv(act_se, conv_dw->forward(pad_.apply(y)));
    return residual(norm(bn3, conv_pwl->forward(y)), x);
  }

  torch::nn::Conv2d conv_pw{nullptr}, conv_dw{nullptr}, conv_pwl{nullptr};
  BatchNorm2d bn1{nullptr}, bn2{nullptr}, bn3{nullptr};
  SqueezeExcite se{nullptr};
};

/// The block of kind a.type ('c', 'e', 'i').
inline std::shared_ptr<BlockImpl> make_block(const BlockArgs& a, std::int64_t in, std::int64_t out, int stride, bool tf,
                                             double drop_path) {
  if (a.type == 'c') return std::make_shared<ConvBnActImpl>(a, in, out, stride, tf, drop_path);
  if (a.type == 'e') return std::make_shared<EdgeResidualImpl>(a, in, out, stride, tf, drop_path);
  return std::make_shared<InvertedResidualImpl>(a, in, out, stride, tf, drop_path);
}

}  // namespace effnet

/// EfficientNetV2 with timm's parameter names: conv_stem, bn1, blocks.i.j.*, conv_head, bn2, classifier.
class EfficientNetV2Impl : public torch::nn::Module, public FoldsBatchNorm, public GradCheckpointing {
 public:
  EfficientNetV2Impl(const EffNetV2Arch& arch, const EffNetV2Options& o, std::int64_t in_chans, std::int64_t classes)
      : drop_rate_(o.drop_rate), tf_(arch.tf), keep_convs_(arch.checkpoint_keep_convs) {
    auto round_chs = [&](double c) { return make_divisible(c * o.width_multiplier, 8, 0.9); };  // timm's round_channels
    std::vector<BlockArgs> stages;
    for (const auto& s : arch.stages) stages.push_back(parse_block(s));
    int total = 0;
    for (auto& a : stages) {
      a.repeat = static_cast<int>(std::ceil(a.repeat * o.depth_multiplier));
      total += a.repeat;
    }
    for (const auto s : keep_convs_)
      if (s >= arch.stages.size())
        fail("arch: checkpoint_keep_convs names stage ", s, " of ", arch.stages.size(), " (stages count from 0)");
    const auto stem = round_chs(arch.stem);
    const auto& ss = o.stem_stride;
    if (ss.size() != 2 || ss[0] < 1 || ss[0] > 2 || ss[1] < 1 || ss[1] > 2)
      fail(
          "/model/stem_stride: expected [height, width] strides of 1 or 2 (timm's stem: [2, 2]; the competition's "
          "1st place: [1, 2])");
    conv_stem = register_module("conv_stem", effnet::stem_conv(in_chans, stem, ss[0], ss[1], tf_, stem_pad_));
    bn1 = register_module("bn1", effnet::bn(stem, tf_));
    std::int64_t chs = stem;
    int index = 0;
    for (const auto& a : stages) {
      torch::nn::ModuleList stage;
      const auto out = round_chs(a.out);
      for (int r = 0; r < a.repeat; ++r, ++index) {
        stage->push_back(effnet::make_block(a, chs, out, r == 0 ? a.stride : 1, tf_, o.drop_path_rate * index / total));
        chs = out;
      }
      blocks->push_back(stage);
    }
    register_module("blocks", blocks);
    num_features = arch.round_features ? round_chs(arch.num_features) : arch.num_features;
    effnet::Padding none;
    conv_head = register_module("conv_head", effnet::conv(chs, num_features, 1, 1, tf_, none));
    bn2 = register_module("bn2", effnet::bn(num_features, tf_));
    classifier = register_module("classifier", torch::nn::Linear(num_features, classes));
    init_weights();
  }

  void pretty_print(std::ostream& os) const override { os << (tf_ ? "EfficientNetV2(tf)" : "EfficientNetV2"); }

  /// Folds every BatchNorm into its conv, for inference: fewer passes over memory, the same logits
  /// (to float rounding) in eval mode. Irreversible (a second call does nothing); training afterwards
  /// is not meaningful. nn/inference.hpp's prepare_for_inference calls it.
  void fold_batchnorm() override {
    if (folded_) return;
    cadence::fold_into(*conv_stem, *bn1);
    for (const auto& stage : *blocks)
      for (const auto& block : *stage->as<torch::nn::ModuleList>())
        std::dynamic_pointer_cast<effnet::BlockImpl>(block)->fold();
    cadence::fold_into(*conv_head, *bn2);
    folded_ = true;
  }

  /// timm's set_grad_checkpointing: in training, activations are recomputed in the backward pass instead
  /// of kept (nn/checkpoint.hpp), not all the same way: the blocks of the stages in the arch's
  /// checkpoint_keep_convs keep their convolutions' outputs and recompute only what follows each
  /// (BlockImpl::set_keep_conv_outputs); the other stages' blocks are recomputed whole (timm's
  /// checkpoint_seq over the blocks). Measured on EfficientNetV2-S: the choice that ran fastest within
  /// half the peer's memory (docs/performance.md, "Checkpointing by stage").
  void set_grad_checkpointing(bool on) override {
    grad_checkpointing_ = on;
    for (std::size_t s = 0; s < blocks->size(); ++s)
      for (const auto& block : *(*blocks)[s]->as<torch::nn::ModuleList>())
        std::dynamic_pointer_cast<effnet::BlockImpl>(block)->set_keep_conv_outputs(on && !whole_block_checkpoint(s));
  }

  /// (B,C,H,W) -> (B,num_features,H/32,W/32), or H/16 (W/16) with a stem stride of 1 along it
  torch::Tensor forward_features(const torch::Tensor& x) {
    auto norm = [&](BatchNorm2d& b, const torch::Tensor& t) { return effnet::norm(b, t, folded_); };
    // one input channel: NHWC by its strides when the network is (the stem's own weights cannot say)
    const auto& first = std::dynamic_pointer_cast<effnet::BlockImpl>((*blocks)[0]->as<torch::nn::ModuleList>()->ptr(0));
    auto y =
        effnet::silu(norm(bn1, conv_stem->forward(stem_pad_.apply(like_weights(x, first->spatial_conv()->weight)))));
    for (std::size_t s = 0; s < blocks->size(); ++s) {
      const bool recompute = grad_checkpointing_ && is_training() && whole_block_checkpoint(s);
      for (const auto& block : *(*blocks)[s]->as<torch::nn::ModuleList>()) {
        auto b = std::dynamic_pointer_cast<effnet::BlockImpl>(block);
        y = recompute ? checkpoint([b](const torch::Tensor& t) { return b->forward(t); }, y) : b->forward(y);
      }
    }
    return effnet::silu(norm(bn2, conv_head->forward(y)));
  }
  /// (B,C,H,W) -> (B,classes)
  torch::Tensor forward(const torch::Tensor& x) {
    auto y = forward_features(x).mean({2, 3});
    if (drop_rate_ > 0.0) y = torch::dropout(y, drop_rate_, is_training());
    return classifier->forward(y);
  }

  /// timm's _init_weight_goog: conv ~ N(0, sqrt(2 / fan_out)), BN (1, 0), linear ~ U(+-1/sqrt(fan_out)).
  void init_weights() {
    torch::NoGradGuard g;
    for (auto& m : modules(/*include_self=*/false)) {
      if (auto* c = m->as<torch::nn::Conv2d>()) {
        const auto& w = c->weight;
        const double fan_out =
            static_cast<double>(w.size(0) * w.size(2) * w.size(3)) / static_cast<double>(c->options.groups());
        w.normal_(0.0, std::sqrt(2.0 / fan_out));
        if (c->bias.defined()) c->bias.zero_();
      } else if (auto* b = m->as<BatchNorm2d>()) {
        b->weight.fill_(1.0);
        b->bias.zero_();
      } else if (auto* l = m->as<torch::nn::Linear>()) {
        const double r = 1.0 / std::sqrt(static_cast<double>(l->weight.size(0)));
        l->weight.uniform_(-r, r);
        l->bias.zero_();
      }
    }
  }

  torch::nn::Conv2d conv_stem{nullptr}, conv_head{nullptr};
  BatchNorm2d bn1{nullptr}, bn2{nullptr};
  torch::nn::ModuleList blocks;  // stages of blocks: blocks.<stage>.<block>.*
  torch::nn::Linear classifier{nullptr};
  std::int64_t num_features = 0;

 private:
  double drop_rate_;
  bool tf_;
  bool folded_ = false;
  bool grad_checkpointing_ = false;
  std::vector<std::size_t> keep_convs_;  // EffNetV2Arch::checkpoint_keep_convs
  effnet::Padding stem_pad_;

  // With grad checkpointing, stage s's blocks are recomputed whole (else they keep their convs' outputs).
  bool whole_block_checkpoint(std::size_t s) const {
    return std::find(keep_convs_.begin(), keep_convs_.end(), s) == keep_convs_.end();
  }
};
TORCH_MODULE(EfficientNetV2);

// ---- arch tags for Model<...> -------------------------------------------------------------------

// EffNetV2S / EffNetV2M take `model.arch` "efficientnetv2_s" or "tf_efficientnetv2_s" (M alike): one
// structure, two flavours (timm's TensorFlow ports: BN eps 1e-3, "same" padding).
template <class Derived>
struct EffNetV2Tag {
  using Options = EffNetV2Options;
  static torch::nn::AnyModule build(const Options& o, std::int64_t in_chans, std::int64_t classes) {
    return torch::nn::AnyModule(EfficientNetV2(Derived::arch(), o, in_chans, classes));
  }
};
template <class Derived>
struct EffNetV2Family : EffNetV2Tag<Derived> {
  static torch::nn::AnyModule build(const EffNetV2Options& o, std::int64_t in_chans, std::int64_t classes,
                                    std::string_view arch = Derived::name) {
    return torch::nn::AnyModule(EfficientNetV2(Derived::arch(arch.starts_with("tf_")), o, in_chans, classes));
  }
};
struct EffNetV2S : EffNetV2Family<EffNetV2S> {
  static constexpr std::string_view name = "efficientnetv2_s";
  static constexpr std::array<std::string_view, 2> names{"efficientnetv2_s", "tf_efficientnetv2_s"};
  static EffNetV2Arch arch(bool tf = false) { return efficientnetv2_s_arch(tf); }
};
struct EffNetV2M : EffNetV2Family<EffNetV2M> {
  static constexpr std::string_view name = "efficientnetv2_m";
  static constexpr std::array<std::string_view, 2> names{"efficientnetv2_m", "tf_efficientnetv2_m"};
  static EffNetV2Arch arch(bool tf = false) { return efficientnetv2_m_arch(tf); }
};
struct TfEffNetV2S : EffNetV2Tag<TfEffNetV2S> {
  static constexpr std::string_view name = "tf_efficientnetv2_s";
  static EffNetV2Arch arch() { return efficientnetv2_s_arch(true); }
};
struct TfEffNetV2M : EffNetV2Tag<TfEffNetV2M> {
  static constexpr std::string_view name = "tf_efficientnetv2_m";
  static EffNetV2Arch arch() { return efficientnetv2_m_arch(true); }
};

}  // namespace cadence
