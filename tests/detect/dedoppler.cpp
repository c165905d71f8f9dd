#include "cadence/detect/dedoppler.hpp"

#include <doctest/doctest.h>
#include <torch/torch.h>

#include <cmath>

#include "support.hpp"

namespace {
constexpr std::int64_t kTime = 30, kFreq = 40;

/// The search written the slow, obvious way (loops, no padding tricks), for one cadence (P,kTime,kFreq).
double brute_force(const torch::Tensor& x, const std::vector<std::int64_t>& position,
                   const cadence::DeDopplerOptions& o) {
  const auto P = x.size(0);
  const std::int64_t bin = o.time_bin, Tb = kTime / bin;
  auto a = x.accessor<float, 3>();
  double best = -1e300;
  for (double r : cadence::dedoppler::rates(o))
    for (std::int64_t f = 0; f < kFreq; ++f) {
      double on = 0, off = 0;
      int n_on = 0, n_off = 0;
      for (std::int64_t k = 0; k < P; ++k) {
        double sum = 0;
        for (std::int64_t j = 0; j < Tb; ++j) {
          const double when =
              static_cast<double>(position[static_cast<std::size_t>(k)] * kTime + j * bin) + 0.5 * (bin - 1);
          const auto c = f + static_cast<std::int64_t>(std::nearbyint(when * r));
          if (c < 0 || c >= kFreq) continue;
          double mean = 0;
          for (std::int64_t b = 0; b < bin; ++b) mean += a[k][j * bin + b][c];
          sum += mean / static_cast<double>(bin);
        }
        const double z = sum * std::sqrt(static_cast<double>(bin)) / std::sqrt(static_cast<double>(Tb));
        if (position[static_cast<std::size_t>(k)] % 2 == 0)
          on += z, ++n_on;
        else
          off += z, ++n_off;
      }
      best = std::max(best, on / n_on - (n_off > 0 ? off / n_off : 0.0));
    }
  return best;
}

cadence::DeDopplerOptions small_options() {
  cadence::DeDopplerOptions o;
  o.drift_max = 0.2;
  o.drift_steps = 9;
  o.time_bin = 2;
  o.tchans = kTime;
  return o;
}

/// Noise with a line of `level` per step from channel f0 at drift r through the given panels.
torch::Tensor with_line(std::uint64_t seed, double r, std::int64_t f0, float level, std::vector<int> panels) {
  torch::manual_seed(static_cast<std::int64_t>(seed));
  auto x = torch::randn({6, kTime, kFreq});
  auto a = x.accessor<float, 3>();
  for (int k : panels)
    for (std::int64_t t = 0; t < kTime; ++t) {
      const auto c = f0 + static_cast<std::int64_t>(std::nearbyint(r * static_cast<double>(k * kTime + t)));
      if (c >= 0 && c < kFreq) a[k][t][c] += level;
    }
  return x;
}
}  // namespace

TEST_CASE("dedoppler: the search's scores equal a brute-force loop's, with and without the OFF panels") {
  const auto o = small_options();
  for (std::uint64_t seed : {1u, 2u, 3u}) {
    const auto x = with_line(seed, 0.1, 7, 1.5f, {0, 2, 4});
    const auto best = cadence::dedoppler::search(x.unsqueeze(0), {0, 1, 2, 3, 4, 5}, o);
    CHECK(best.score.item<float>() == doctest::Approx(brute_force(x, {0, 1, 2, 3, 4, 5}, o)).epsilon(1e-4));
    const auto on = x.index_select(0, torch::tensor({0, 2, 4}));
    const auto only_on = cadence::dedoppler::search(on.unsqueeze(0), {0, 2, 4}, o);
    CHECK(only_on.score.item<float>() == doctest::Approx(brute_force(on, {0, 2, 4}, o)).epsilon(1e-4));
  }
}

TEST_CASE("dedoppler: finds an injected line's drift and channel, RFI in all six panels scores low") {
  const auto o = small_options();
  const auto signal = with_line(4, -0.15, 30, 3.0f, {0, 2, 4});
  const auto best = cadence::dedoppler::search(signal.unsqueeze(0), {0, 1, 2, 3, 4, 5}, o);
  CHECK(best.drift.item<float>() == doctest::Approx(-0.15).epsilon(1e-5));
  CHECK(best.channel.item<std::int64_t>() == 30);
  CHECK(best.score.item<float>() > 8.0f);
  // the same line in all six panels cancels on its own line; what is left is what neighbouring lines
  // catch of it in some panels and not others, and noise: well under the ON-only line's score
  const auto rfi = with_line(4, -0.15, 30, 3.0f, {0, 1, 2, 3, 4, 5});
  const float rfi_score = cadence::dedoppler::search(rfi.unsqueeze(0), {0, 1, 2, 3, 4, 5}, o).score.item<float>();
  CHECK(rfi_score < 0.4f * best.score.item<float>());
}

TEST_CASE("dedoppler: the module reads stacked or 6-channel images, and names the layout it cannot read") {
  const auto o = small_options();
  const auto x = with_line(5, 0.1, 5, 2.0f, {0, 2, 4});
  cadence::DeDoppler six(o, 6, 2), one(o, 1, 1);
  const auto a = six->forward(x.unsqueeze(0));
  const auto b = one->forward(x.reshape({1, 1, 6 * kTime, kFreq}));
  REQUIRE(a.sizes() == torch::IntArrayRef({1, 2}));
  REQUIRE(b.sizes() == torch::IntArrayRef({1, 1}));
  CHECK(a[0][1].item<float>() == doctest::Approx(b[0][0].item<float>()));
  CHECK(a[0][0].item<float>() == 0.0f);
  CHECK(six->parameters().empty());
  test::check_error([&] { one->forward(torch::zeros({1, 1, 5 * kTime, kFreq})); }, "load.layout", "model.tchans");
  test::check_error([&] { cadence::DeDoppler(o, 3, 2); }, "not 3 channels");
}
