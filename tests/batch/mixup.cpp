#include "cadence/batch/mixup.hpp"

#include "support.hpp"

namespace {
cadence::MixupDraw fixed(std::vector<std::int64_t> partner, std::vector<float> lam) {
  return {true, std::move(partner), std::move(lam)};
}
}  // namespace

TEST_CASE("mixup: images and soft labels, by hand") {
  cadence::Mixup m;
  auto x = torch::tensor({1.f, 2.f, 3.f}).view({3, 1, 1, 1});
  auto y = torch::tensor({1.f, 0.f, 0.f, 1.f, 0.f, 1.f}).view({3, 2});  // labels 0, 1, 1
  m.apply(x, y, fixed({1, 2, 0}, {0.25f, 0.25f, 0.25f}));
  // x0 = .25*1 + .75*2 ; x1 = .25*2 + .75*3 ; x2 = .25*3 + .75*1
  CHECK(torch::allclose(x.flatten(), torch::tensor({1.75f, 2.75f, 1.5f})));
  // y0 = .25*(1,0) + .75*(0,1) = (.25,.75); y1 = (0,1); y2 = .25*(0,1) + .75*(1,0) = (.75,.25)
  CHECK(torch::allclose(y, torch::tensor({0.25f, 0.75f, 0.f, 1.f, 0.75f, 0.25f}).view({3, 2})));
}

TEST_CASE("mixup: max and or label rules, per-sample lam, 1-column targets") {
  cadence::Mixup m;
  m.options.labels = cadence::MixLabels::max;
  auto x = torch::zeros({3, 1, 2, 2});
  auto y = torch::tensor({0.2f, 0.f, 0.6f}).view({3, 1});
  m.apply(x, y, fixed({2, 0, 1}, {0.9f, 0.5f, 0.1f}));
  CHECK(torch::allclose(y.flatten(), torch::tensor({0.6f, 0.2f, 0.6f})));
  m.options.labels = cadence::MixLabels::or_;
  auto y2 = torch::tensor({0.8f, 0.2f, 0.4f, 0.6f}).view({2, 2});  // p = .2, .6
  auto x2 = torch::zeros({2, 1, 1, 1});
  m.apply(x2, y2, fixed({1, 0}, {0.5f, 0.5f}));
  // 1 - (1-.2)(1-.6) = .68 for both
  CHECK(torch::allclose(y2, torch::tensor({0.32f, 0.68f, 0.32f, 0.68f}).view({2, 2})));
}

TEST_CASE("mixup: draws are seeded per (seed, epoch, batch) and honour p, alpha and until") {
  cadence::Mixup m;
  m.options.p = 1.0;
  const auto a = m.draw(8, 1, 0, 3), b = m.draw(8, 1, 0, 3), c = m.draw(8, 1, 0, 4);
  CHECK(a.partner == b.partner);
  CHECK(a.lam == b.lam);
  CHECK((a.partner != c.partner || a.lam != c.lam));
  CHECK(std::set<float>(a.lam.begin(), a.lam.end()).size() == 1);  // one lam per batch
  m.options.per_sample = true;
  const auto d = m.draw(8, 1, 0, 3);
  CHECK(std::set<float>(d.lam.begin(), d.lam.end()).size() == 8);
  auto sorted = d.partner;
  std::sort(sorted.begin(), sorted.end());
  CHECK(sorted == std::vector<std::int64_t>{0, 1, 2, 3, 4, 5, 6, 7});
  m.options.p = 0.0;
  CHECK_FALSE(m.draw(8, 1, 0, 3).apply);
  m.options.until = 0.5;
  CHECK(m.active(4, 10));
  CHECK_FALSE(m.active(5, 10));
  // lam ~ Beta(0.4, 0.4): mean 1/2, variance 1/(4*(2*0.4+1)) = 0.1389
  m.options.alpha = 0.4;
  double s = 0, s2 = 0;
  for (std::uint32_t i = 0; i < 20000; ++i) {
    const double l = m.draw(1, 9, 0, i).lam[0];
    s += l;
    s2 += l * l;
  }
  CHECK(s / 20000 == doctest::Approx(0.5).epsilon(0.02));
  CHECK(s2 / 20000 - (s / 20000) * (s / 20000) == doctest::Approx(0.1389).epsilon(0.03));
  test::check_error([] { cadence::config::parse<cadence::MixupOptions>(nlohmann::json{{"alpha", 0}}); }, "/alpha");
  test::check_error(
      [] {
        cadence::config::parse<cadence::MixupOptions>(nlohmann::json{{"labels", "min"}});
      },
      "/labels", "soft, max, or");
}

TEST_CASE("mixup: the CPU kernel equals the tensor path on a full-size batch") {
  cadence::Mixup m;
  m.options.per_sample = true;
  const auto x = torch::randn({6, 1, 819, 256});
  auto y = torch::rand({6, 1});
  const auto d = m.draw(6, 7, 0, 3);
  auto a = x.clone(), ya = y.clone();
  m.apply(a, ya, cadence::MixupDraw{true, d.partner, d.lam});  // contiguous float32 on the CPU: the kernel
  const auto lam = torch::tensor(d.lam).view({6, 1, 1, 1});
  const auto want = x * lam + x.index_select(0, torch::tensor(d.partner)) * (1.f - lam);
  CHECK(torch::equal(a, want));
  auto b = x.clone().transpose(2, 3);  // not contiguous: the tensor path
  auto yb = y.clone();
  m.apply(b, yb, cadence::MixupDraw{true, d.partner, d.lam});
  CHECK(torch::equal(b.transpose(2, 3), want));
  CHECK(torch::equal(ya, yb));
}

TEST_CASE("mixup: renormalize restandardises each mixed image per channel, the labels as without it") {
  torch::manual_seed(4);
  const auto x0 = torch::randn({4, 2, 16, 8});
  const auto draw = fixed({1, 2, 3, 0}, {0.5f, 0.5f, 0.3f, 0.8f});
  cadence::Mixup plain, renorm;
  renorm.options.renormalize = true;
  auto a = x0.clone(), b = x0.clone();
  auto ya = torch::tensor({1.f, 0.f, 0.f, 1.f, 1.f, 0.f, 0.f, 1.f}).view({4, 2}), yb = ya.clone();
  plain.apply(a, ya, draw);
  renorm.apply(b, yb, draw);
  CHECK(torch::equal(ya, yb));
  // by hand: the plain mix, then (x - mean) / std over each image's channel
  const auto want = (a - a.mean({2, 3}, true)) / a.std({2, 3}, false, true);
  CHECK(torch::allclose(b, want, 1e-5, 1e-5));
  CHECK(b.std({2, 3}, false).allclose(torch::ones({4, 2}), 1e-4, 1e-4));
  CHECK(a.std({2, 3}, false).max().item<float>() < 0.9f);  // what it mends: a half-half mix of noise shrinks
  // a batch that does not mix is left alone
  auto c = x0.clone();
  renorm.apply(c, yb, cadence::MixupDraw{false, {0, 1, 2, 3}, {1.f, 1.f, 1.f, 1.f}});
  CHECK(torch::equal(c, x0));
}
