#include "cadence/infer/tta.hpp"

#include <sstream>

#include "cadence/augment/augment.hpp"
#include "cadence/batch/mixup.hpp"
#include "cadence/data/load.hpp"
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
  const auto b = cadence::reduce_rounds({torch::zeros({1, 1}), torch::full({1, 1}, 100.f)}, cadence::Head::bce, cadence::TtaReduce::prob);
  CHECK(b.item<double>() == doctest::Approx(0.75));
  // ties share the average rank
  CHECK(torch::allclose(cadence::normalized_rank(torch::tensor({0.3, 0.1, 0.3, 0.2})), torch::tensor({0.875, 0.25, 0.875, 0.5}, torch::kFloat64)));
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
