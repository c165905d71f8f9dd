#pragma once
// Background: removes each panel's stationary background (the band's per-channel level, and what stays
// put in frequency over a panel) from the raw cadence before the network sees it, using the OFF panels,
// as the competition's top solutions did. A cadence stage: it runs in the source's readers on all six
// panels as read, before the layout keeps its panels and standardises them, so it works with every
// layout (on_stacked, all_stacked, channels).
//
//   auto p = Load{} | Background{} | Augment<VFlip, SSR>{} | Model<SmallCnnArch>{};
//   "background": { "mode": "off_mean" }
//
// Modes (ABACAD: ON panels 0, 2, 4; panel p's OFF neighbours are p-1 and p+1 where they exist):
//   none        nothing (the stage costs nothing: the source keeps its fast float16 path)
//   off_mean    ON panel p minus, per frequency channel, the mean over time of its OFF neighbours
//   off_median  the same with the median (robust to a bright transient in an OFF panel)
//   off_panel   ON panel p minus OFF panel p+1, pixel by pixel (the neighbouring OFF panel itself)
// In every mode but none an OFF panel loses its own per-channel level (its time mean; its median in
// off_median), so that the six panels stay comparable. A signal that is in the ON panels only survives;
// a constant band feature and RFI present in the OFF panels shrink. See docs/quality.md for what each
// mode does to the AUC, and its cost (a float path for the whole cadence in the reader).
#include <algorithm>
#include <array>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "cadence/config/options.hpp"
#include "cadence/core/error.hpp"
#include "cadence/core/pipeline.hpp"

namespace cadence {

enum class BackgroundMode { none, off_mean, off_median, off_panel };

inline constexpr std::array<std::pair<BackgroundMode, std::string_view>, 4> enum_names(BackgroundMode) {
  return {{{BackgroundMode::none, "none"}, {BackgroundMode::off_mean, "off_mean"},
           {BackgroundMode::off_median, "off_median"}, {BackgroundMode::off_panel, "off_panel"}}};
}

struct BackgroundOptions {
  BackgroundMode mode = BackgroundMode::none;

  template <class V> void fields(V& v) { v("mode", mode); }
};

namespace background {

/// The per-channel mean (or median) over the rows of `panels` (each time x freq) into `out` (freq).
inline void level(std::span<const float* const> panels, std::int64_t time, std::int64_t freq, bool median, std::vector<float>& out) {
  out.assign(static_cast<std::size_t>(freq), 0.0f);
  if (!median) {
    std::vector<double> sum(static_cast<std::size_t>(freq), 0.0);
    for (const float* p : panels)
      for (std::int64_t t = 0; t < time; ++t)
        for (std::int64_t f = 0; f < freq; ++f) sum[static_cast<std::size_t>(f)] += p[t * freq + f];
    const double n = static_cast<double>(time) * static_cast<double>(panels.size());
    for (std::int64_t f = 0; f < freq; ++f) out[static_cast<std::size_t>(f)] = static_cast<float>(sum[static_cast<std::size_t>(f)] / n);
    return;
  }
  std::vector<float> column(static_cast<std::size_t>(time) * panels.size());
  for (std::int64_t f = 0; f < freq; ++f) {
    std::size_t k = 0;
    for (const float* p : panels)
      for (std::int64_t t = 0; t < time; ++t) column[k++] = p[t * freq + f];
    const auto mid = column.begin() + static_cast<std::ptrdiff_t>(column.size() / 2);
    std::nth_element(column.begin(), mid, column.end());
    float m = *mid;
    if (column.size() % 2 == 0) m = 0.5f * (m + *std::max_element(column.begin(), mid));  // numpy's median of an even count
    out[static_cast<std::size_t>(f)] = m;
  }
}

/// Subtracts the background from a cadence (panels x time x freq floats) in place; see the header.
inline void subtract(std::span<float> cadence, std::int64_t panels, std::int64_t time, std::int64_t freq, BackgroundMode mode) {
  if (mode == BackgroundMode::none) return;
  if (panels != 6) fail("background: a cadence of ", panels, " panels; OFF-panel subtraction needs the six of ABACAD");
  const auto ps = time * freq;
  if (static_cast<std::int64_t>(cadence.size()) != panels * ps)
    fail("background: ", cadence.size(), " values for a cadence of ", panels, " x ", time, " x ", freq);
  auto panel = [&](std::int64_t p) { return cadence.data() + p * ps; };
  const bool median = mode == BackgroundMode::off_median;
  // every estimate from the panels as read, before any is changed
  std::array<std::vector<float>, 6> est;
  std::vector<float> copy;
  for (std::int64_t p = 0; p < panels; ++p) {
    const bool on = p % 2 == 0;
    if (on && mode == BackgroundMode::off_panel) continue;
    std::vector<const float*> from;
    if (on) {
      if (p - 1 >= 0) from.push_back(panel(p - 1));
      if (p + 1 < panels) from.push_back(panel(p + 1));
    } else {
      from.push_back(panel(p));
    }
    level(from, time, freq, median, est[static_cast<std::size_t>(p)]);
  }
  if (mode == BackgroundMode::off_panel) {  // ON p minus OFF p+1 as read: take the OFF panels before their levels go
    for (std::int64_t p = 0; p < panels; p += 2) {
      const float* off = panel(p + 1);
      float* on = panel(p);
      for (std::int64_t i = 0; i < ps; ++i) on[i] -= off[i];
    }
  }
  for (std::int64_t p = 0; p < panels; ++p) {
    const auto& e = est[static_cast<std::size_t>(p)];
    if (e.empty()) continue;
    float* x = panel(p);
    for (std::int64_t t = 0; t < time; ++t)
      for (std::int64_t f = 0; f < freq; ++f) x[t * freq + f] -= e[static_cast<std::size_t>(f)];
  }
}

}  // namespace background

/// The stage: `Load{} | Background{} | ...`; options under "background".
struct Background : Composes<Background> {
  static constexpr std::string_view name = "background";
  using Options = BackgroundOptions;
  Options options{};

  static std::string label() { return "Background"; }
  /// With mode "none" the engine leaves the source's fast path alone.
  bool active() const { return options.mode != BackgroundMode::none; }

  void transform_cadence(std::span<float> cadence, const CadenceKey& key) const {
    background::subtract(cadence, key.panels, key.time, key.freq, options.mode);
  }
};

}  // namespace cadence
