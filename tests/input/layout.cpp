#include "cadence/data/layout.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <numeric>
#include <vector>

#include "support.hpp"

using cadence::PanelLayout;

TEST_CASE("layout: shapes of the three panel layouts") {
  CHECK(cadence::image_shape(PanelLayout::on_stacked).height == 819);
  CHECK(cadence::image_shape(PanelLayout::all_stacked).height == 1638);
  const auto c = cadence::image_shape(PanelLayout::channels);
  CHECK((c.channels == 6 && c.height == 273 && c.width == 256));
}

TEST_CASE("layout: on_stacked keeps the ON panels 0, 2, 4 in order") {
  const cadence::CadenceShape s{6, 2, 3};
  std::vector<float> raw(36);
  std::iota(raw.begin(), raw.end(), 0.0f);  // panel p holds 6p .. 6p+5
  std::vector<float> out(static_cast<std::size_t>(cadence::image_shape(PanelLayout::on_stacked, s).numel()));
  cadence::arrange(raw, PanelLayout::on_stacked, false, out, s);
  CHECK(out == std::vector<float>{0, 1, 2, 3, 4, 5, 12, 13, 14, 15, 16, 17, 24, 25, 26, 27, 28, 29});
  std::vector<float> all(36);
  cadence::arrange(raw, PanelLayout::channels, false, all, s);
  CHECK(all == raw);
}

TEST_CASE("layout: per-panel standardisation gives zero mean and unit variance per panel") {
  const cadence::CadenceShape s{6, 4, 5};
  std::vector<float> raw(120);
  for (std::size_t i = 0; i < raw.size(); ++i)
    raw[i] = static_cast<float>((i * 37) % 11) * static_cast<float>(1 + i / 20);
  std::vector<float> out(120);
  cadence::arrange(raw, PanelLayout::all_stacked, true, out, s);
  for (int p = 0; p < 6; ++p) {
    double m = 0, v = 0;
    for (int k = 0; k < 20; ++k) m += out[static_cast<std::size_t>(p * 20 + k)];
    m /= 20;
    for (int k = 0; k < 20; ++k)
      v += (out[static_cast<std::size_t>(p * 20 + k)] - m) * (out[static_cast<std::size_t>(p * 20 + k)] - m);
    CHECK(std::abs(m) < 1e-5);
    CHECK(v / 20 == doctest::Approx(1.0).epsilon(1e-4));
  }
}

TEST_CASE("layout: arrange_halves (convert + statistics in one sweep) matches convert-then-arrange") {
  const cadence::CadenceShape s{6, 273, 256};
  std::vector<std::uint16_t> raw(static_cast<std::size_t>(6 * s.panel_size()));
  std::uint32_t st = 12345;
  for (auto& h : raw) {  // finite halves of varied magnitude
    st = st * 1664525u + 1013904223u;
    h = static_cast<std::uint16_t>((st >> 16) & 0x7BFFu);
    if ((st & 1u) != 0) h = static_cast<std::uint16_t>(h ^ 0x8000u);
  }
  std::vector<float> f(raw.size());
  for (std::size_t i = 0; i < raw.size(); ++i) f[i] = cadence::half_to_float_exact(raw[i]);
  for (auto layout : {PanelLayout::on_stacked, PanelLayout::all_stacked, PanelLayout::channels})
    for (bool standardize : {false, true}) {
      const auto n = static_cast<std::size_t>(cadence::image_shape(layout, s).numel());
      std::vector<float> want(n), got(n);
      cadence::arrange(f, layout, standardize, want, s);
      cadence::arrange_halves(raw.data(), layout, standardize, got, s);
      float worst = 0.0f;
      for (std::size_t i = 0; i < n; ++i) worst = std::max(worst, std::abs(got[i] - want[i]));
      CAPTURE(standardize);
      CHECK(worst <= (standardize ? 1e-6f : 0.0f));
    }
}
