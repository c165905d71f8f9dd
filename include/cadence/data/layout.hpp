#pragma once
// How a cadence file (6 panels, ABACAD, each time x frequency) becomes a network input image.
#include <array>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <span>
#include <string_view>
#include <utility>

#include "cadence/data/half.hpp"

namespace cadence {

enum class PanelLayout {
  on_stacked,   // ON panels 0, 2, 4 stacked vertically: (1, 3*273, 256) -- the usual choice
  all_stacked,  // all six panels stacked: (1, 6*273, 256)
  channels,     // six channels: (6, 273, 256)
};

inline constexpr std::array<std::pair<PanelLayout, std::string_view>, 3> enum_names(PanelLayout) {
  return {{{PanelLayout::on_stacked, "on_stacked"},
           {PanelLayout::all_stacked, "all_stacked"},
           {PanelLayout::channels, "channels"}}};
}

/// The shape of one cadence file: panels x time x frequency.
struct CadenceShape {
  std::int64_t panels = 6, time = 273, freq = 256;
  std::array<std::int64_t, 3> dims() const { return {panels, time, freq}; }
  std::int64_t panel_size() const { return time * freq; }
};

struct ImageShape {
  std::int64_t channels, height, width;
  std::int64_t numel() const { return channels * height * width; }
};

inline ImageShape image_shape(PanelLayout layout, CadenceShape s = {}) {
  switch (layout) {
    case PanelLayout::on_stacked:
      return {1, ((s.panels + 1) / 2) * s.time, s.freq};
    case PanelLayout::all_stacked:
      return {1, s.panels * s.time, s.freq};
    case PanelLayout::channels:
      return {s.panels, s.time, s.freq};
  }
  return {};
}

/// The mean and 1/std of `n` values from their sum and sum of squares (the variance floored at 1e-12).
inline std::pair<double, double> mean_and_inverse_std(double sum, double sq, std::size_t n) {
  const double mean = sum / static_cast<double>(n);
  const double var = sq / static_cast<double>(n) - mean * mean;
  return {mean, 1.0 / std::sqrt(var > 1e-12 ? var : 1e-12)};
}

/// Standardises one panel in place to zero mean, unit variance, given its sum and sum of squares.
inline void standardize(std::span<float> panel, double sum, double sq) {
  const auto [mean, inv] = mean_and_inverse_std(sum, sq, panel.size());
  for (float& v : panel) v = static_cast<float>((v - mean) * inv);
}

/// Standardises one panel in place to zero mean, unit variance (statistics in double).
inline void standardize(std::span<float> panel) {
  double sum = 0.0, sq = 0.0;
  for (float v : panel) {
    sum += v;
    sq += static_cast<double>(v) * v;
  }
  standardize(panel, sum, sq);
}

/// The panels that `layout` keeps, in output order.
inline std::int64_t panel_step(PanelLayout layout) { return layout == PanelLayout::on_stacked ? 2 : 1; }

/// Copies the panels that `layout` keeps from `raw` (panels x time x freq) to `out`
/// (image_shape(layout).numel() floats), standardising each panel if asked.
inline void arrange(std::span<const float> raw, PanelLayout layout, bool standardize_panels, std::span<float> out,
                    CadenceShape s = {}) {
  const auto ps = static_cast<std::size_t>(s.panel_size());
  std::size_t o = 0;
  for (std::int64_t p = 0; p < s.panels; p += panel_step(layout), o += ps) {
    std::memcpy(out.data() + o, raw.data() + static_cast<std::size_t>(p) * ps, ps * sizeof(float));
    if (standardize_panels) standardize(out.subspan(o, ps));
  }
}

/// arrange() straight from float16 data (`raw`: panels x time x freq halves, all finite): converts only
/// the panels kept, takes a panel's statistics from its halves (140 KB, in cache) and then writes
/// each standardised float once, instead of converting, copying, summing and scaling in four passes
/// over the 27 MB batch buffer. Same formula as standardize(), so the same floats.
inline void arrange_halves(const void* raw, PanelLayout layout, bool standardize_panels, std::span<float> out,
                           CadenceShape s = {}) {
  const auto ps = static_cast<std::size_t>(s.panel_size());
  const auto* bytes = static_cast<const unsigned char*>(raw);
  std::size_t o = 0;
  for (std::int64_t p = 0; p < s.panels; p += panel_step(layout), o += ps) {
    const auto* panel = bytes + static_cast<std::size_t>(p) * ps * 2;
    if (!standardize_panels) {
      halves_to_floats(panel, ps, out.data() + o);
      continue;
    }
    const auto st = half_stats(panel, ps);
    const auto [mean, inv] = mean_and_inverse_std(st.sum, st.sq, ps);
    halves_to_scaled(panel, ps, out.data() + o, mean, inv);
  }
}

}  // namespace cadence
