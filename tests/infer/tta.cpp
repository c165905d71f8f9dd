#include "cadence/infer/tta.hpp"

#include <sstream>

#include "cadence/augment/augment.hpp"
#include "cadence/batch/mixup.hpp"
#include "cadence/data/load.hpp"
#include "cadence/core/compose.hpp"
#include "cadence/nn/model.hpp"
#include "cadence/nn/small_cnn.hpp"
#include "support.hpp"

TEST_CASE("tta: reductions by hand") {
  // two rounds, two samples, 2-output logits
  const auto r0 = torch::tensor({0.f, 0.f, 0.f, std::log(3.f)}).view({2, 2});  // p = .5, .75
  const auto r1 = torch::tensor({0.f, std::log(3.f), 0.f, 0.f}).view({2, 2});  // p = .75, .5
  const auto prob = cadence::reduce_rounds({r0, r1}, cadence::Head::ce, cadence::TtaReduce::prob);
  CHECK(torch::allclose(prob, torch::tensor({0.625, 0.625}, torch::kFloat64)));
  // mean logits: (0, log(3)/2) -> p = sqrt(3)/(1+sqrt(3))
  const auto logit = cadence::reduce_rounds({r0, r1}, cadence::Head::ce, cadence::TtaReduce::logit);
  const double want = std::sqrt(3.0) / (1.0 + std::sqrt(3.0));
  CHECK(torch::allclose(logit, torch::tensor({want, want}, torch::kFloat64)));
  // ranks: round 0 ranks (1, 2)/2, round 1 ranks (2, 1)/2 -> both 0.75
  const auto rank = cadence::reduce_rounds({r0, r1}, cadence::Head::ce, cadence::TtaReduce::rank);
  CHECK(torch::allclose(rank, torch::tensor({0.75, 0.75}, torch::kFloat64)));
  // BCE head: sigmoid
  const auto b = cadence::reduce_rounds({torch::zeros({1, 1}), torch::full({1, 1}, 100.f)}, cadence::Head::bce,
                                        cadence::TtaReduce::prob);
  CHECK(b.item<double>() == doctest::Approx(0.75));
  // ties share the average rank
  CHECK(torch::allclose(cadence::normalized_rank(torch::tensor({0.3, 0.1, 0.3, 0.2})),
                        torch::tensor({0.875, 0.25, 0.875, 0.5}, torch::kFloat64)));
}

TEST_CASE("tta: flip rounds cycle identity, vflip, hflip, both") {
  const auto x = torch::arange(4.f).view({1, 1, 2, 2});  // [[0,1],[2,3]]
  CHECK(torch::equal(cadence::flip_round(x, 0), x));
  CHECK(torch::equal(cadence::flip_round(x, 1).flatten(), torch::tensor({2.f, 3.f, 0.f, 1.f})));
  CHECK(torch::equal(cadence::flip_round(x, 2).flatten(), torch::tensor({1.f, 0.f, 3.f, 2.f})));
  CHECK(torch::equal(cadence::flip_round(x, 3).flatten(), torch::tensor({3.f, 2.f, 1.f, 0.f})));
  CHECK(torch::equal(cadence::flip_round(x, 5), cadence::flip_round(x, 1)));
}

TEST_CASE("tta: the competition's pipeline expression composes and prints") {
  auto p = cadence::Load{} | cadence::Augment<cadence::VFlip, cadence::SSR, cadence::MotionBlur, cadence::SpecAug>{} |
           cadence::Mixup{} | cadence::Model<cadence::SmallCnnArch>{} | cadence::TTA<16>{};
  std::ostringstream os;
  os << p;
  CHECK(os.str() == "Load | Augment<VFlip, SSR, MotionBlur, SpecAug> | Mixup | Model<small_cnn> | TTA<16>");
  static_assert(decltype(p)::has_tta);
}

#include "cadence/infer/predict.hpp"

TEST_CASE("tta: predict_pipeline reads each batch once and averages N augmented rounds") {
  test::TempDir data("ttadata");
  test::small_dataset(data.path, 4, 6);
  using Aug = cadence::Augment<cadence::VFlip, cadence::SpecAug>;
  auto p = cadence::Load{} | Aug{} | cadence::Model<cadence::SmallCnnArch>{} | cadence::TTA<3>{};
  p.get<cadence::Load>().options.root = data.path;
  std::get<0>(p.get<Aug>().options.ops).p = 0.7;
  std::get<1>(p.get<Aug>().options.ops).p = 0.7;
  auto& mo = p.get<cadence::Model<cadence::SmallCnnArch>>().options;
  mo.width = 4;
  mo.depth = 2;
  mo.pool = 8;
  auto net = cadence::build_network(p, 1);
  const auto test = p.get<cadence::Load>().open(cadence::Split::test);
  const std::vector<std::int64_t> idx{0, 1, 2, 3, 4, 5};
  const auto got = cadence::predict_pipeline(p, net, cadence::Head::ce, test, idx, 4, torch::kCPU, 11, "tta", true);
  // by hand: all six samples in one batch, three rounds with the TTA epochs' augmentations
  net->eval();
  torch::NoGradGuard g;
  auto loader = p.get<cadence::Load>().loader(test, idx, 6, 2);
  const auto batch = loader->next();
  std::vector<torch::Tensor> rounds;
  for (std::uint32_t r = 0; r < 3; ++r) {
    auto x = batch->images.clone();
    p.get<Aug>().apply(x, {11, cadence::kTtaEpochBase + r, batch->indices});
    rounds.push_back(torch::softmax(net->forward(x), 1).select(1, 1));
  }
  const auto want = torch::stack(rounds).mean(0).to(torch::kFloat64);
  REQUIRE(got.size() == 6);
  for (std::size_t i = 0; i < 6; ++i)
    CHECK(got[i] == doctest::Approx(want[static_cast<std::int64_t>(i)].item<double>()).epsilon(1e-5));
  // the rounds differ (the augmentations do something) and plain prediction is one round
  CHECK_FALSE(torch::allclose(rounds[0], rounds[1]));
  const auto plain =
      cadence::predict_pipeline(p, net, cadence::Head::ce, test, idx, 4, torch::kCPU, 11, "plain", true, false);
  CHECK(plain[0] == doctest::Approx(torch::softmax(net->forward(batch->images), 1)[0][1].item<double>()).epsilon(1e-5));
  // "augment" TTA without an Augment stage is refused with the JSON path
  auto bare = cadence::Load{} | cadence::Model<cadence::SmallCnnArch>{} | cadence::TTA<2>{};
  bare.get<cadence::Load>().options.root = data.path;
  test::check_error(
      [&] { cadence::predict_pipeline(bare, net, cadence::Head::ce, test, idx, 4, torch::kCPU, 11, "x", true); },
      "/tta/mode");
}
