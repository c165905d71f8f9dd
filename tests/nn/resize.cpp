#include "cadence/nn/resize.hpp"

#include <map>
#include <regex>
#include <sstream>

#include "cadence/data/load.hpp"
#include "cadence/nn/efficientnet_v2.hpp"
#include "cadence/nn/head.hpp"
#include "cadence/nn/inference.hpp"
#include "cadence/nn/memory_format.hpp"
#include "cadence/core/compose.hpp"
#include "cadence/nn/model.hpp"
#include "cadence/nn/timm_import.hpp"
#include "support.hpp"

TEST_CASE("resize: the learned resizer has the paper's structure and switches size with the mode") {
  cadence::LearnedOptions o;
  o.size = {48, 40};
  o.test_size = {64, 56};
  o.filters = 6;
  o.blocks = 2;
  cadence::LearnedResizer r(o, 1);
  std::string keys;
  for (const auto& [k, t] : cadence::state_dict_entries(*r))
    if (k.find("running") == std::string::npos && k.find("num_batches") == std::string::npos)
      keys += k +
              (t.dim() == 4 ? "[" + std::to_string(t.size(0)) + "x" + std::to_string(t.size(1)) + "x" +
                                  std::to_string(t.size(2)) + "]"
                            : "") +
              " ";
  CHECK(keys ==
        "conv1.weight[6x1x7] conv1.bias conv2.weight[6x6x1] conv2.bias bn2.weight bn2.bias "
        "res.0.0.weight[6x6x3] res.0.1.weight res.0.1.bias res.0.3.weight[6x6x3] res.0.4.weight res.0.4.bias "
        "res.1.0.weight[6x6x3] res.1.1.weight res.1.1.bias res.1.3.weight[6x6x3] res.1.4.weight res.1.4.bias "
        "conv3.weight[6x6x3] bn3.weight bn3.bias conv4.weight[1x6x7] conv4.bias ");
  const auto x = torch::randn({2, 1, 819, 256});
  CHECK(r->forward(x).sizes() == torch::IntArrayRef({2, 1, 48, 40}));
  r->eval();
  CHECK(r->forward(x).sizes() == torch::IntArrayRef({2, 1, 64, 56}));
  // with the last conv zeroed the output is exactly the bilinear skip
  {
    torch::NoGradGuard g;
    r->conv4->weight.zero_();
    r->conv4->bias.zero_();
  }
  const auto skip = torch::nn::functional::interpolate(x, torch::nn::functional::InterpolateFuncOptions()
                                                              .size(std::vector<std::int64_t>{64, 56})
                                                              .mode(torch::kBilinear)
                                                              .align_corners(false));
  CHECK(torch::allclose(r->forward(x), skip));
}

TEST_CASE("resize: inference without gradients (one sample at a time, in place) gives the batched result") {
  cadence::LearnedOptions o;
  o.test_size = {64, 48};
  cadence::LearnedResizer r(o, 1);
  {  // non-trivial running statistics
    r->train();
    torch::NoGradGuard g;
    for (int i = 0; i < 3; ++i) r->forward(torch::randn({4, 1, 819, 256}) * 2 + 1);
  }
  r->eval();
  const auto x = torch::randn({5, 1, 819, 256});
  const auto batched = r->forward(x);  // grad mode on: the batched path
  torch::NoGradGuard g;
  const auto per_sample = r->forward(x);
  CHECK(torch::allclose(batched, per_sample, 1e-5, 1e-5));
  CHECK(torch::allclose(r->forward(x.narrow(0, 3, 1)), per_sample.narrow(0, 3, 1), 1e-5, 1e-5));
}

namespace {
/// The paper's network written out by hand from the module's own parameters, in the module's mode: every
/// BN where the paper puts it (bn2 before the resize), conv4 as a plain conv, sums out of place.
torch::Tensor learned_by_hand(cadence::LearnedResizerImpl& r, const torch::Tensor& x,
                              const std::vector<std::int64_t>& hw, double slope) {
  namespace F = torch::nn::functional;
  auto resize = [&](const torch::Tensor& t) {
    return F::interpolate(t, F::InterpolateFuncOptions().size(hw).mode(torch::kBilinear).align_corners(false));
  };
  const auto leaky = F::LeakyReLUFuncOptions().negative_slope(slope);
  auto y = r.bn2->plain_forward(F::leaky_relu(r.conv2->forward(F::leaky_relu(r.conv1->forward(x), leaky)), leaky));
  const auto z = resize(y);
  y = z;
  for (const auto& block : *r.res) y = y + block->as<torch::nn::Sequential>()->forward(y);
  y = r.bn3->plain_forward(r.conv3->forward(y)) + z;
  return r.conv4->forward(y) + resize(x);
}

void check_near(const torch::Tensor& got, const torch::Tensor& want) {
  const double worst = (got - want).abs().max().item<double>();
  INFO("max |got - want| = ", worst, " of max |want| = ", want.abs().max().item<double>());
  CHECK(worst < 1e-5 * std::max(1.0, want.abs().max().item<double>()));
}
}  // namespace

// The reference for every path: in eval mode bn2 after the resize, BNs folded, conv4 as a depthwise sum
// and the sums in place; in training (with or without gradients, as SWA's BN update runs) the paper's
// order, bn2 on the full-resolution batch statistics.
TEST_CASE(
    "resize: in eval mode, with and without gradients, folded and channels_last, downsampling or upsampling, "
    "and in training, the resizer computes the paper's network written out by hand") {
  cadence::LearnedOptions o;
  o.size = {40, 32};
  o.test_size = {64, 48};
  o.filters = 8;
  o.blocks = 2;
  cadence::LearnedResizer r(o, 1);
  {  // non-trivial running statistics and BN affine parameters (the BNs: bn2, bn3, res.<i>.1, res.<i>.4)
    r->train();
    torch::NoGradGuard g;
    for (int i = 0; i < 3; ++i) r->forward(torch::randn({4, 1, 203, 64}) * 2 + 1);
    const std::regex bn_affine(R"((bn\d|res\.\d+\.[14])\.(weight|bias))");
    for (auto& [k, t] : cadence::state_dict_entries(*r))
      if (std::regex_match(k, bn_affine)) t.uniform_(0.5, 1.5);
  }
  {  // training without gradients: the paper's order, batch statistics (the running ones move alike)
    const auto x = torch::randn({3, 1, 203, 64});
    torch::NoGradGuard g;
    const auto want = learned_by_hand(*r, x, o.size, o.negative_slope);
    check_near(r->forward(x), want);
  }
  for (const bool checkpointing : {false, true}) {  // training with gradients: the LeakyReLUs overwrite
    CAPTURE(checkpointing);                         // their inputs; the gradients are the hand-written ones
    r->set_grad_checkpointing(checkpointing);
    const auto x = torch::randn({3, 1, 203, 64});
    const auto w = torch::randn({3, 1, 40, 32});
    auto grads = [&](const auto& forward) {
      for (auto& p : r->parameters()) p.mutable_grad() = torch::Tensor();
      (forward() * w).sum().backward();
      std::map<std::string, torch::Tensor> g;
      for (const auto& p : r->named_parameters()) g[p.key()] = p.value().grad();
      return g;
    };
    const auto got = grads([&] { return r->forward(x); });
    const auto want = grads([&] { return learned_by_hand(*r, x, o.size, o.negative_slope); });
    REQUIRE(got.size() == want.size());
    for (const auto& [k, g] : want) {
      CAPTURE(k);
      REQUIRE(got.at(k).defined());
      check_near(got.at(k), g);
    }
  }
  r->set_grad_checkpointing(false);
  r->eval();
  for (const std::int64_t height : {203, 37}) {  // down to 64 x 48, and up
    CAPTURE(height);
    const auto x = torch::randn({3, 1, height, 20 + height / 8});
    torch::Tensor want;
    {
      torch::NoGradGuard g;
      want = learned_by_hand(*r, x, o.test_size, o.negative_slope);
    }
    check_near(r->forward(x).detach(), want);  // gradients recorded
    torch::NoGradGuard g;
    check_near(r->forward(x), want);                                  // in place, two samples at a time
    check_near(r->forward(x.narrow(0, 1, 1)), want.narrow(0, 1, 1));  // one sample
  }
  const auto x = torch::randn({3, 1, 203, 64});
  torch::Tensor want;
  {
    torch::NoGradGuard g;
    want = learned_by_hand(*r, x, o.test_size, o.negative_slope);
  }
  std::vector<std::string> keys;
  for (const auto& [k, t] : cadence::state_dict_entries(*r)) keys.push_back(k);
  const auto conv3_before = r->conv3->weight.clone();
  cadence::prepare_for_inference(*r, cadence::InferenceOptions{});
  CHECK_FALSE(torch::equal(r->conv3->weight, conv3_before));  // bn3 folded into conv3
  std::vector<std::string> after;
  for (const auto& [k, t] : cadence::state_dict_entries(*r)) after.push_back(k);
  CHECK(after == keys);
  const auto xl = cadence::as_channels_last(x);
  const auto x0 = x.clone();
  check_near(r->forward(xl).detach(), want);
  torch::NoGradGuard g;
  check_near(r->forward(xl), want);
  CHECK(torch::equal(x, x0));  // the caller's input untouched
}

TEST_CASE("resize: fixed resizers are plain interpolation, options are checked") {
  namespace F = torch::nn::functional;
  cadence::ResizeSize s;
  s.size = {30, 20};
  s.test_size = {30, 20};
  const auto x = torch::randn({1, 2, 61, 47});
  cadence::FixedResize area(s, torch::kArea);
  CHECK(torch::allclose(
      area->forward(x),
      F::interpolate(x, F::InterpolateFuncOptions().size(std::vector<std::int64_t>{30, 20}).mode(torch::kArea))));
  cadence::FixedResize cubic(s, torch::kBicubic);
  CHECK(torch::allclose(cubic->forward(x), F::interpolate(x, F::InterpolateFuncOptions()
                                                                 .size(std::vector<std::int64_t>{30, 20})
                                                                 .mode(torch::kBicubic)
                                                                 .align_corners(false))));
  test::check_error(
      [] {
        cadence::config::parse<cadence::LearnedOptions>(nlohmann::json{{"size", {300}}});
      },
      "/size", "[height, width]");
  test::check_error(  // accepted once, then LibTorch's "Output size is too small" hours later
      [] {
        cadence::config::parse<cadence::LearnedOptions>(nlohmann::json{{"size", {1, 1}}});
      },
      "/size", "each in [8, 4096]");
  test::check_error(
      [] {
        cadence::config::parse<cadence::LearnedOptions>(nlohmann::json{{"filters", 0}});
      },
      "/filters");
  std::ostringstream os;
  os << (cadence::Load{} | cadence::Resize<cadence::Learned>{} | cadence::Model<cadence::EffNetV2S>{});
  CHECK(os.str() == "Load | Resize<Learned> | Model<efficientnetv2_s>");
}

TEST_CASE("resize + model: the module stages form one network, trained jointly") {
  auto p = cadence::Load{} | cadence::Resize<cadence::Learned>{} | cadence::Model<cadence::EffNetV2S>{};
  auto& r = p.get<cadence::Resize<cadence::Learned>>().options;
  r.size = r.test_size = {64, 64};
  auto& m = p.get<cadence::Model<cadence::EffNetV2S>>().options;
  m.width_multiplier = 0.25;
  m.depth_multiplier = 0.25;
  auto net = cadence::build_network(p, 1);
  REQUIRE(net->size() == 2);
  const auto x = torch::randn({2, 1, 819, 256});
  const auto y = net->forward(x);
  CHECK(y.sizes() == torch::IntArrayRef({2, 2}));
  cadence::head_loss(cadence::Head::ce, y, torch::tensor({0.f, 1.f, 1.f, 0.f}).view({2, 2})).backward();
  // gradients reach the resizer's first conv through the backbone
  CHECK(net->named_parameters()["0.conv1.weight"].grad().abs().sum().item<double>() > 0);
}

TEST_CASE("heads: soft-label cross-entropy and BCE, by hand") {
  const auto logits = torch::tensor({0.f, std::log(3.f)}).view({1, 2});  // softmax = (1/4, 3/4)
  const auto soft = torch::tensor({0.5f, 0.5f}).view({1, 2});
  CHECK(cadence::head_loss(cadence::Head::ce, logits, soft).item<double>() ==
        doctest::Approx(-(0.5 * std::log(0.25) + 0.5 * std::log(0.75))));
  CHECK(cadence::head_probability(cadence::Head::ce, logits).item<double>() == doctest::Approx(0.75));
  const auto one = torch::tensor({0.f}).view({1, 1});
  CHECK(cadence::head_loss(cadence::Head::bce, one, torch::tensor({1.f}).view({1, 1})).item<double>() ==
        doctest::Approx(std::log(2.0)));
  CHECK(cadence::head_probability(cadence::Head::bce, one).item<double>() == doctest::Approx(0.5));
  // focal (gamma 2): each class term weighed by (1 - p)^2, p the probability of that class
  CHECK(cadence::head_loss(cadence::Head::ce, logits, soft, 2.0).item<double>() ==
        doctest::Approx(-(0.5 * 0.75 * 0.75 * std::log(0.25) + 0.5 * 0.25 * 0.25 * std::log(0.75))));
  CHECK(cadence::head_loss(cadence::Head::bce, one, torch::tensor({1.f}).view({1, 1}), 2.0).item<double>() ==
        doctest::Approx(0.25 * std::log(2.0)));
  const auto sure = torch::tensor({3.f}).view({1, 1});  // p = 0.953: a target of 0 weighs p^2 on -log(1 - p)
  CHECK(cadence::head_loss(cadence::Head::bce, sure, torch::tensor({0.f}).view({1, 1}), 2.0).item<double>() ==
        doctest::Approx(std::pow(1.0 / (1.0 + std::exp(-3.0)), 2) * std::log(1.0 + std::exp(3.0))).epsilon(1e-5));
  CHECK(cadence::head_loss(cadence::Head::ce, logits, soft, 0.0).item<double>() ==
        doctest::Approx(cadence::head_loss(cadence::Head::ce, logits, soft).item<double>()));
}

TEST_CASE("efficientnetv2: BN folding and channels_last keep the eval-mode logits") {
  cadence::EffNetV2Options o;
  o.width_multiplier = 0.25;
  o.depth_multiplier = 0.25;
  for (bool tf : {false, true}) {
    CAPTURE(tf);
    cadence::EfficientNetV2 net(cadence::efficientnetv2_s_arch(tf), o, 1, 2);
    {  // non-trivial BN statistics
      torch::NoGradGuard g;
      for (auto& [k, t] : cadence::state_dict_entries(*net)) {
        if (k.find("running_var") != std::string::npos) t.uniform_(0.5, 2.0);
        if (k.find("running_mean") != std::string::npos) t.normal_(0.0, 0.2);
      }
    }
    net->eval();
    torch::NoGradGuard g;
    const auto x = torch::randn({2, 1, 97, 63});
    const auto want = net->forward(x);
    cadence::to_channels_last(*net);
    CHECK(torch::allclose(net->forward(cadence::as_channels_last(x)), want, 1e-4, 1e-4));
    net->fold_batchnorm();
    CHECK(torch::allclose(net->forward(x), want, 1e-4, 1e-4));
  }
}
