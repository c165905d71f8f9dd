// The inference path (nn/inference.hpp) that seti predict and per-epoch validation run: BatchNorm
// folded into the convolutions and channels_last change the probabilities by float rounding only.
#include "cadence/nn/inference.hpp"

#include "cadence/augment/augment.hpp"
#include "cadence/core/compose.hpp"
#include "cadence/data/load.hpp"
#include "cadence/infer/predict.hpp"
#include "cadence/infer/tta.hpp"
#include "cadence/nn/efficientnet_v2.hpp"
#include "cadence/nn/model.hpp"
#include "cadence/nn/resize.hpp"
#include "cadence/train/amp.hpp"
#include "support.hpp"

namespace {

/// Trained-looking BatchNorm statistics and affine parameters (fresh ones fold to the identity).
void randomize_batchnorm(torch::nn::Module& net) {
  torch::NoGradGuard no_grad;
  for (const auto& m : net.modules())
    if (auto* b = m->as<cadence::BatchNorm2d>()) {
      b->running_mean.uniform_(-0.5, 0.5);
      b->running_var.uniform_(0.5, 2.0);
      b->weight.uniform_(0.5, 1.5);
      b->bias.uniform_(-0.2, 0.2);
    }
}

/// Load | Aug | Resize<Learned> (64², 4 filters) | EfficientNetV2-S at a quarter width and depth | TTA<2>,
/// reading `root`: a network small enough to predict with in a test, with every stage of the real one.
template <class Aug>
auto tiny_pipeline(const std::filesystem::path& root) {
  auto p = cadence::Load{} | Aug{} | cadence::Resize<cadence::Learned>{} | cadence::Model<cadence::EffNetV2S>{} |
           cadence::TTA<2>{};
  p.template get<cadence::Load>().options.root = root;
  auto& m = p.template get<cadence::Model<cadence::EffNetV2S>>().options;
  m.arch = "efficientnetv2_s";
  m.width_multiplier = 0.25;
  m.depth_multiplier = 0.25;
  auto& r = p.template get<cadence::Resize<cadence::Learned>>().options;
  r.size = r.test_size = {64, 64};
  r.filters = 4;
  r.blocks = 1;
  return p;
}

std::vector<std::int64_t> all_of(const cadence::Dataset& d) {
  std::vector<std::int64_t> idx(d.size());
  for (std::size_t i = 0; i < idx.size(); ++i) idx[i] = static_cast<std::int64_t>(i);
  return idx;
}

}  // namespace

TEST_CASE(
    "inference: folded BatchNorm + channels_last give the plain network's probabilities within 1e-5 (TTA, resizer, "
    "EfficientNetV2)") {
  test::TempDir data("inference");
  test::small_dataset(data.path, 4, 6);
  auto p = tiny_pipeline<cadence::Augment<cadence::VFlip, cadence::SpecAug>>(data.path);
  const auto test = cadence::source_of(p).open(cadence::Split::test);
  const auto idx = all_of(test);

  torch::manual_seed(5);
  auto plain = cadence::build_network(p, 1);
  randomize_batchnorm(*plain);
  const auto want = cadence::predict_pipeline(p, plain, cadence::Head::ce, test, idx, 4, torch::kCPU, 3, "plain", true);

  // a copy prepared for inference, as validation makes it; the live network is untouched
  const auto before = plain->parameters()[0].clone();
  auto fast = cadence::inference_copy(p, *plain, torch::kCPU, cadence::InferenceOptions{});
  CHECK(torch::equal(plain->parameters()[0], before));
  CHECK(cadence::is_channels_last(*fast));
  CHECK_FALSE(cadence::is_channels_last(*plain));
  const auto got = cadence::predict_pipeline(p, fast, cadence::Head::ce, test, idx, 4, torch::kCPU, 3, "fast", true);
  REQUIRE(got.size() == want.size());
  double worst = 0;
  for (std::size_t i = 0; i < got.size(); ++i) worst = std::max(worst, std::abs(got[i] - want[i]));
  INFO("max |p_fast - p_plain| = ", worst);
  CHECK(worst < 1e-5);
  // the fold did something: the copy's first block conv no longer equals the plain one's weights
  bool changed = false;
  auto pp = plain->named_parameters(), fp = fast->named_parameters();
  for (const auto& item : pp)
    if (item.key().find("conv_stem.weight") != std::string::npos)
      changed = !torch::allclose(item.value(), fp[item.key()]);
  CHECK(changed);

  // in place, as seti predict does after loading each fold; a second preparation changes nothing
  cadence::prepare_for_inference(*plain, cadence::InferenceOptions{});
  cadence::prepare_for_inference(*plain, cadence::InferenceOptions{});
  const auto again =
      cadence::predict_pipeline(p, plain, cadence::Head::ce, test, idx, 4, torch::kCPU, 3, "again", true);
  for (std::size_t i = 0; i < got.size(); ++i) CHECK(again[i] == doctest::Approx(got[i]).epsilon(1e-9));
}

// fold_into for a conv with a bias of its own (the networks' convs have none): b' lands in that bias, so
// the state_dict holds the folded value, not a stale one.
TEST_CASE("inference: fold_into a conv with its own bias gives conv + BN's eval output, its bias holding b'") {
  torch::manual_seed(9);
  torch::nn::Conv2d c(torch::nn::Conv2dOptions(3, 5, 3).padding(1));
  cadence::BatchNorm2d b(5);
  {
    torch::NoGradGuard g;
    b->running_mean.uniform_(-0.5, 0.5);
    b->running_var.uniform_(0.5, 2.0);
    b->weight.uniform_(0.5, 1.5);
    b->bias.uniform_(-0.2, 0.2);
  }
  b->eval();
  const auto x = torch::randn({2, 3, 9, 7});
  torch::NoGradGuard g;
  const auto want = b->forward(c->forward(x));
  cadence::fold_into(*c, *b);
  CHECK(torch::allclose(c->forward(x), want, 1e-5, 1e-5));
  CHECK(torch::equal(c->named_parameters()["bias"], c->bias));  // the registered bias is the folded one
  CHECK(torch::equal(b->bias, c->bias));
}

// One channel: NCHW and NHWC are the same bytes and `contiguous` keeps NCHW's strides, so LibTorch ran the
// first convolution, and every activation after it, in NCHW (the learned resizer's full-resolution layers
// converted to and from oneDNN's blocked layout at each conv: 6 % of a training step).
TEST_CASE(
    "inference: a one-channel input in channels_last takes NHWC's strides without a copy, and so do the "
    "convolutions after it") {
  const auto x = torch::randn({2, 1, 37, 21});
  const auto nhwc = cadence::as_channels_last(x);
  CHECK(nhwc.data_ptr() == x.data_ptr());
  CHECK(torch::equal(nhwc, x));
  CHECK(nhwc.strides() == torch::IntArrayRef({37 * 21, 1, 21, 1}));
  CHECK(nhwc.suggest_memory_format() == at::MemoryFormat::ChannelsLast);
  CHECK(x.suggest_memory_format() == at::MemoryFormat::Contiguous);  // what `contiguous` would have left
  const auto w = torch::randn({8, 1, 3, 3}).contiguous(at::MemoryFormat::ChannelsLast);
  const auto y = torch::conv2d(nhwc, w, {}, 1, 1);
  CHECK(y.is_contiguous(at::MemoryFormat::ChannelsLast));
  CHECK_FALSE(y.is_contiguous());
  CHECK(torch::allclose(y, torch::conv2d(x, w, {}, 1, 1), 1e-5, 1e-5));
  // a contiguous view that starts inside its storage: the same view's bytes
  const auto tail = torch::randn({3, 1, 5, 4}).narrow(0, 1, 2);
  CHECK(cadence::as_channels_last(tail).data_ptr() == tail.data_ptr());
  CHECK(torch::equal(cadence::as_channels_last(tail), tail));
  // more channels, or a tensor that is not contiguous: as before
  const auto x3 = torch::randn({2, 3, 5, 4});
  CHECK(cadence::as_channels_last(x3).is_contiguous(at::MemoryFormat::ChannelsLast));
  const auto sliced = torch::randn({2, 1, 5, 8}).narrow(3, 1, 4);
  CHECK(torch::equal(cadence::as_channels_last(sliced), sliced));
  // EfficientNetV2's stem: a one-channel input is restrided where the network's weights are NHWC
  const auto wc = torch::randn({4, 4, 3, 3}).contiguous(at::MemoryFormat::ChannelsLast);
  CHECK(cadence::like_weights(x, wc).strides() == nhwc.strides());
  CHECK(cadence::like_weights(x, torch::randn({4, 4, 3, 3})).strides() == x.strides());
}

// Without gradients (prediction, validation) the blocks' activations, squeeze-excite scaling and residual
// sums overwrite the blocks' own temporaries, and a folded BN's bias is added by the conv's own kernel.
TEST_CASE(
    "inference: EfficientNetV2 without gradients works in place on its own temporaries only: the logits of the "
    "network with gradients recorded, the caller's input untouched, the keys unchanged by folding") {
  torch::manual_seed(7);
  cadence::EffNetV2Options o;
  o.width_multiplier = 0.25;
  o.depth_multiplier = 0.5;
  for (const bool tf : {false, true}) {  // symmetric and "same" padding
    CAPTURE(tf);
    cadence::EfficientNetV2 net(cadence::efficientnetv2_s_arch(tf), o, 1, 2);
    randomize_batchnorm(*net);
    for (auto& w : net->parameters()) w.requires_grad_(false);  // the input's graph is the one looked at
    std::vector<std::string> keys;
    for (const auto& item : net->named_parameters()) keys.push_back(item.key());
    for (const auto& item : net->named_buffers()) keys.push_back(item.key());
    net->eval();
    for (const bool folded : {false, true}) {
      CAPTURE(folded);
      if (folded) cadence::prepare_for_inference(*net, cadence::InferenceOptions{});
      auto x = torch::randn({3, 1, 64, 48});
      if (folded) x = cadence::as_channels_last(x);
      const auto x0 = x.clone();
      auto xg = x.clone().requires_grad_(true);
      const auto with_grad = net->forward(xg);
      torch::Tensor without;
      {
        torch::NoGradGuard no_grad;
        without = net->forward(x);
      }
      CHECK(torch::equal(x, x0));
      CHECK_FALSE(without.requires_grad());
      CHECK(torch::equal(without, with_grad.detach()));  // the same kernels, in place or not
      with_grad.sum().backward();                        // and the recorded graph is intact
      REQUIRE(xg.grad().defined());
      CHECK(xg.grad().abs().sum().item<double>() > 0);
    }
    std::vector<std::string> after;
    for (const auto& item : net->named_parameters()) after.push_back(item.key());
    for (const auto& item : net->named_buffers()) after.push_back(item.key());
    CHECK(after == keys);
  }
}

// The augmentation's autocast pause matters on a GPU, where Augment runs as tensor ops that autocast
// would cast (tests/cuda has that regression test); on a CPU Augment's kernels are autocast-free.
TEST_CASE(
    "inference: predict.amp (bf16 on a CPU) gives the fp32 predictions to bf16 rounding, AutocastPause restores "
    "autocast") {
  test::TempDir data("inference-amp");
  test::small_dataset(data.path, 4, 6);
  using Aug = cadence::Augment<cadence::VFlip, cadence::SSR, cadence::MotionBlur, cadence::SpecAug>;
  auto p = tiny_pipeline<Aug>(data.path);
  auto& ops = p.get<Aug>().options.ops;
  std::get<1>(ops).p = 1.0;  // SSR and MotionBlur on every sample
  std::get<2>(ops).p = 1.0;
  const auto test = cadence::source_of(p).open(cadence::Split::test);
  const auto idx = all_of(test);
  torch::manual_seed(6);
  auto net = cadence::build_network(p, 1);
  randomize_batchnorm(*net);
  cadence::prepare_for_inference(*net, cadence::InferenceOptions{});
  const auto fp32 = cadence::predict_pipeline(p, net, cadence::Head::ce, test, idx, 4, torch::kCPU, 3, "fp32", true);
  std::vector<double> bf16;
  {
    cadence::AutocastGuard autocast(cadence::Amp::bf16, torch::kCPU);
    bf16 = cadence::predict_pipeline(p, net, cadence::Head::ce, test, idx, 4, torch::kCPU, 3, "bf16", true);
  }
  REQUIRE(bf16.size() == fp32.size());
  double worst = 0;
  bool differs = false;
  for (std::size_t i = 0; i < bf16.size(); ++i) {
    worst = std::max(worst, std::abs(bf16[i] - fp32[i]));
    differs = differs || bf16[i] != fp32[i];
  }
  INFO("max |p_bf16 - p_fp32| = ", worst);
  CHECK(differs);       // the network did run in bf16
  CHECK(worst < 0.05);  // the same predictions to bf16's 8-bit mantissa: same augmented inputs

  // the pause restores autocast as it found it
  cadence::AutocastGuard autocast(cadence::Amp::bf16, torch::kCPU);
  {
    cadence::AutocastPause pause(torch::kCPU);
    CHECK((torch::matmul(torch::ones({2, 2}), torch::ones({2, 2})).scalar_type() == torch::kFloat32));
  }
  CHECK((torch::matmul(torch::ones({2, 2}), torch::ones({2, 2})).scalar_type() == torch::kBFloat16));
}

TEST_CASE("inference: a module of one's own folds by implementing FoldsBatchNorm") {
  struct Mine : torch::nn::Module, cadence::FoldsBatchNorm {
    int folds = 0;
    void fold_batchnorm() override { ++folds; }
  };
  auto outer = std::make_shared<torch::nn::Module>();
  auto mine = std::make_shared<Mine>();
  outer->register_module("mine", mine);
  cadence::prepare_for_inference(*outer, {true, false});
  CHECK(mine->folds == 1);
  CHECK_FALSE(mine->is_training());
  cadence::prepare_for_inference(*outer, {false, false});
  CHECK(mine->folds == 1);
}
