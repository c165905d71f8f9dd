#include "cadence/data/layout.hpp"

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
  for (std::size_t i = 0; i < raw.size(); ++i) raw[i] = static_cast<float>((i * 37) % 11) * static_cast<float>(1 + i / 20);
  std::vector<float> out(120);
  cadence::arrange(raw, PanelLayout::all_stacked, true, out, s);
  for (int p = 0; p < 6; ++p) {
    double m = 0, v = 0;
    for (int k = 0; k < 20; ++k) m += out[static_cast<std::size_t>(p * 20 + k)];
    m /= 20;
    for (int k = 0; k < 20; ++k) v += (out[static_cast<std::size_t>(p * 20 + k)] - m) * (out[static_cast<std::size_t>(p * 20 + k)] - m);
    CHECK(std::abs(m) < 1e-5);
    CHECK(v / 20 == doctest::Approx(1.0).epsilon(1e-4));
  }
}
