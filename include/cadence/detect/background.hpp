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
//   neighbour_mean  every panel minus, per channel, the mean over time of its neighbours (ON p: OFF p-1
//               and p+1; OFF q: ON q-1 and q+1): off_mean made symmetric, so that interference in all
//               six panels that drifts or switches is treated alike in ON and OFF panels (off_mean takes
//               an OFF panel's own level, which removes a slow drifter's share from the OFF panels only)
//   column      the 1st-place normalisation: every panel's every frequency channel standardised over
//               time (its mean and standard deviation over the panel's rows), so what stays put in a
//               channel (a band feature, zero-drift RFI, a DC spike) flattens; no OFF panel is used
//   nearest     the 1st-place idea: every panel minus the same panel of the most similar *other* cadence
//               of the dataset (both standardised), found once per dataset by a bounded similarity
//               search on downsampled panels (each panel's per-channel time means, pooled by 4 channels;
//               cosine similarity; at most `nearest_limit` candidates). Costs a pass over the dataset's
//               files when a split is first read, and one more file read per sample. Needs a source whose
//               entries are .npy files (Load's).
// With `zero_dm` (any mode, after it): every row of every panel (one time step) minus its median over
// frequency: the pulsar searchers' zero-DM filter (Eatough, Keane & Lyne 2009), with a median so that
// a narrowband signal, a few channels of a row, does not move it. Broadband interference, at every
// frequency at once, goes; so do gain changes from one time step to the next.
//   "background": { "mode": "off_mean", "zero_dm": true }
// In the off_* modes an OFF panel loses its own per-channel level (its time mean; its median in
// off_median), so that the six panels stay comparable. A signal that is in the ON panels only survives;
// a constant band feature and RFI present in the OFF panels shrink. See docs/quality.md for what each
// mode does to the AUC, and its cost (a float path for the whole cadence in the reader).
#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <map>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "cadence/config/options.hpp"
#include "cadence/core/error.hpp"
#include "cadence/core/pipeline.hpp"
#include "cadence/data/half.hpp"
#include "cadence/data/kaggle.hpp"
#include "cadence/data/layout.hpp"
#include "cadence/data/npy.hpp"

namespace cadence {

enum class BackgroundMode { none, off_mean, off_median, off_panel, nearest, column, neighbour_mean };

inline constexpr std::array<std::pair<BackgroundMode, std::string_view>, 7> enum_names(BackgroundMode) {
  return {{{BackgroundMode::none, "none"},
           {BackgroundMode::off_mean, "off_mean"},
           {BackgroundMode::off_median, "off_median"},
           {BackgroundMode::off_panel, "off_panel"},
           {BackgroundMode::nearest, "nearest"},
           {BackgroundMode::column, "column"},
           {BackgroundMode::neighbour_mean, "neighbour_mean"}}};
}

struct BackgroundOptions {
  BackgroundMode mode = BackgroundMode::none;
  int nearest_limit = 4096;  // "nearest": cadences each one is compared with (evenly spaced over the dataset)
  bool zero_dm = false;      // then every row minus its median over frequency (broadband interference goes)

  template <class V>
  void fields(V& v) {
    v("mode", mode);
    v("nearest_limit", nearest_limit, config::in_range(1, 1 << 20));
    v("zero_dm", zero_dm);
  }
};

namespace background {

/// The per-channel mean (or median) over the rows of `panels` (each time x freq) into `out` (freq).
inline void level(std::span<const float* const> panels, std::int64_t time, std::int64_t freq, bool median,
                  std::vector<float>& out) {
  out.assign(static_cast<std::size_t>(freq), 0.0f);
  if (!median) {
    std::vector<double> sum(static_cast<std::size_t>(freq), 0.0);
    for (const float* p : panels)
      for (std::int64_t t = 0; t < time; ++t)
        for (std::int64_t f = 0; f < freq; ++f) sum[static_cast<std::size_t>(f)] += p[t * freq + f];
    const double n = static_cast<double>(time) * static_cast<double>(panels.size());
    for (std::int64_t f = 0; f < freq; ++f)
      out[static_cast<std::size_t>(f)] = static_cast<float>(sum[static_cast<std::size_t>(f)] / n);
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
    if (column.size() % 2 == 0)
      m = 0.5f * (m + *std::max_element(column.begin(), mid));  // numpy's median of an even count
    out[static_cast<std::size_t>(f)] = m;
  }
}

/// Subtracts the background from a cadence (panels x time x freq floats) in place; see the header.
inline void subtract(std::span<float> cadence, std::int64_t panels, std::int64_t time, std::int64_t freq,
                     BackgroundMode mode) {
  if (mode == BackgroundMode::none) return;
  if (panels != 6) fail("background: a cadence of ", panels, " panels; OFF-panel subtraction needs the six of ABACAD");
  const auto ps = time * freq;
  if (static_cast<std::int64_t>(cadence.size()) != panels * ps)
    fail("background: ", cadence.size(), " values for a cadence of ", panels, " x ", time, " x ", freq);
  auto panel = [&](std::int64_t p) { return cadence.data() + p * ps; };
  if (mode == BackgroundMode::column) {
    std::vector<double> sum(static_cast<std::size_t>(freq)), sq(static_cast<std::size_t>(freq));
    for (std::int64_t p = 0; p < panels; ++p) {
      float* x = panel(p);
      std::fill(sum.begin(), sum.end(), 0.0);
      std::fill(sq.begin(), sq.end(), 0.0);
      for (std::int64_t t = 0; t < time; ++t)
        for (std::int64_t f = 0; f < freq; ++f) sum[static_cast<std::size_t>(f)] += x[t * freq + f];
      for (std::int64_t f = 0; f < freq; ++f) sum[static_cast<std::size_t>(f)] /= static_cast<double>(time);
      for (std::int64_t t = 0; t < time; ++t)
        for (std::int64_t f = 0; f < freq; ++f) {
          const double d = x[t * freq + f] - sum[static_cast<std::size_t>(f)];
          sq[static_cast<std::size_t>(f)] += d * d;
        }
      for (std::int64_t f = 0; f < freq; ++f)  // a constant channel (std 0) only loses its mean
        sq[static_cast<std::size_t>(f)] = std::sqrt(sq[static_cast<std::size_t>(f)] / static_cast<double>(time));
      for (std::int64_t t = 0; t < time; ++t)
        for (std::int64_t f = 0; f < freq; ++f) {
          const auto k = static_cast<std::size_t>(f);
          const double d = x[t * freq + f] - sum[k];
          x[t * freq + f] = static_cast<float>(sq[k] > 1e-12 ? d / sq[k] : d);
        }
    }
    return;
  }
  const bool median = mode == BackgroundMode::off_median;
  // every estimate from the panels as read, before any is changed
  std::array<std::vector<float>, 6> est;
  std::vector<float> copy;
  for (std::int64_t p = 0; p < panels; ++p) {
    const bool on = p % 2 == 0;
    if (on && mode == BackgroundMode::off_panel) continue;
    std::vector<const float*> from;
    if (on || mode == BackgroundMode::neighbour_mean) {
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

/// "zero_dm": each of the `rows` rows (freq values each) minus its median over them (numpy's median).
inline void subtract_row_medians(std::span<float> cadence, std::int64_t rows, std::int64_t freq) {
  if (static_cast<std::int64_t>(cadence.size()) != rows * freq)
    fail("background (zero_dm): ", cadence.size(), " values for ", rows, " rows of ", freq, " channels");
  if (freq == 0) return;
  thread_local std::vector<float> row;
  for (std::int64_t r = 0; r < rows; ++r) {
    float* x = cadence.data() + r * freq;
    row.assign(x, x + freq);
    const auto mid = row.begin() + static_cast<std::ptrdiff_t>(freq / 2);
    std::nth_element(row.begin(), mid, row.end());
    float m = *mid;
    if (freq % 2 == 0) m = 0.5f * (m + *std::max_element(row.begin(), mid));
    for (std::int64_t f = 0; f < freq; ++f) x[f] -= m;
  }
}

/// A cadence file as floats (panels x time x freq), non-finite values as 0.
inline void read_floats(const Entry& e, std::int64_t values, std::vector<float>& out) {
  thread_local std::vector<char> buffer;
  npy::Header h;
  try {
    h = npy::read_raw(e.file, buffer);
  } catch (const Error& err) {
    fail("background (nearest): id `", e.id, "`: ", err.what());
  }
  if (static_cast<std::int64_t>(h.count()) != values)
    fail("background (nearest): id `", e.id, "`: ", h.count(), " values, the cadence being cleaned has ", values);
  out.resize(h.count());
  const char* data = buffer.data() + h.data_offset;
  if (h.dtype == npy::Dtype::f2)
    halves_to_floats(data, out.size(), out.data());
  else
    std::memcpy(out.data(), data, out.size() * sizeof(float));
  for (float& v : out)
    if (!std::isfinite(v)) v = 0.0f;
}

/// Each cadence's most similar other cadence (see the header): for entry i, neighbour[i].
inline std::vector<std::int64_t> nearest_neighbours(const Dataset& d, std::int64_t panels, std::int64_t time,
                                                    std::int64_t freq, int limit) {
  const auto n = static_cast<std::int64_t>(d.size());
  if (n < 2) fail("background (nearest): the split has ", n, " cadence; the search needs another to compare with");
  constexpr std::int64_t pool = 4;
  const std::int64_t bins = (freq + pool - 1) / pool, dim = panels * bins;
  std::vector<float> feature(static_cast<std::size_t>(n * dim)), raw;
  for (std::int64_t i = 0; i < n; ++i) {
    read_floats(d.entries[static_cast<std::size_t>(i)], panels * time * freq, raw);
    float* f = feature.data() + i * dim;
    for (std::int64_t p = 0; p < panels; ++p) {
      std::vector<double> level(static_cast<std::size_t>(bins), 0.0);
      const float* x = raw.data() + p * time * freq;
      for (std::int64_t t = 0; t < time; ++t)
        for (std::int64_t c = 0; c < freq; ++c) level[static_cast<std::size_t>(c / pool)] += x[t * freq + c];
      for (std::int64_t b = 0; b < bins; ++b) f[p * bins + b] = static_cast<float>(level[static_cast<std::size_t>(b)]);
    }
    double mean = 0.0, norm = 0.0;
    for (std::int64_t k = 0; k < dim; ++k) mean += f[k];
    mean /= static_cast<double>(dim);
    for (std::int64_t k = 0; k < dim; ++k) {
      f[k] = static_cast<float>(f[k] - mean);
      norm += static_cast<double>(f[k]) * f[k];
    }
    const double inv = norm > 0 ? 1.0 / std::sqrt(norm) : 0.0;
    for (std::int64_t k = 0; k < dim; ++k) f[k] = static_cast<float>(f[k] * inv);
  }
  // the candidates: every cadence, or `limit` of them evenly spaced (the search's bound)
  std::vector<std::int64_t> candidates;
  const std::int64_t m = std::min<std::int64_t>(n, limit);
  for (std::int64_t k = 0; k < m; ++k) candidates.push_back(k * n / m);
  std::vector<std::int64_t> neighbour(static_cast<std::size_t>(n), -1);
  for (std::int64_t i = 0; i < n; ++i) {
    const float* a = feature.data() + i * dim;
    double best = -2.0;
    for (const auto j : candidates) {
      if (j == i) continue;
      const float* b = feature.data() + j * dim;
      double dot = 0.0;
      for (std::int64_t k = 0; k < dim; ++k) dot += static_cast<double>(a[k]) * b[k];
      if (dot > best) {
        best = dot;
        neighbour[static_cast<std::size_t>(i)] = j;
      }
    }
    if (neighbour[static_cast<std::size_t>(i)] < 0)
      neighbour[static_cast<std::size_t>(i)] = i == 0 ? 1 : 0;  // limit 1, itself the candidate
  }
  return neighbour;
}

/// The neighbour lists by dataset (its files' paths, hashed), built once per split and shared by the
/// reader threads and by copies of the stage.
class NearestCache {
 public:
  std::shared_ptr<const std::vector<std::int64_t>> get(const Dataset& d, const CadenceKey& key, int limit) {
    std::uint64_t h = 1469598103934665603ull ^ static_cast<std::uint64_t>(limit);
    for (const auto& e : d.entries)
      for (unsigned char c : e.file.native()) h = (h ^ c) * 1099511628211ull;
    std::lock_guard lk(m_);
    auto& slot = by_dataset_[h];
    if (!slot)
      slot = std::make_shared<const std::vector<std::int64_t>>(
          nearest_neighbours(d, key.panels, key.time, key.freq, limit));
    return slot;
  }

 private:
  std::mutex m_;
  std::map<std::uint64_t, std::shared_ptr<const std::vector<std::int64_t>>> by_dataset_;
};

/// "nearest": every panel minus the same panel of the cadence's neighbour, both standardised.
inline void subtract_nearest(std::span<float> cadence, const CadenceKey& key, NearestCache& cache, int limit) {
  if (key.data == nullptr)
    fail("background: mode \"nearest\" needs the dataset the cadence comes from (a source that passes it)");
  const auto& d = *key.data;
  if (key.index < 0 || static_cast<std::size_t>(key.index) >= d.size())
    fail("background: index ", key.index, " outside the dataset");
  const auto neighbours = cache.get(d, key, limit);
  const auto j = (*neighbours)[static_cast<std::size_t>(key.index)];
  thread_local std::vector<float> other;
  const auto ps = key.time * key.freq;
  read_floats(d.entries[static_cast<std::size_t>(j)], key.panels * ps, other);
  for (std::int64_t p = 0; p < key.panels; ++p) {
    float* x = cadence.data() + p * ps;
    float* y = other.data() + p * ps;
    standardize(std::span<float>(x, static_cast<std::size_t>(ps)));  // data/layout.hpp's, as Load's
    standardize(std::span<float>(y, static_cast<std::size_t>(ps)));
    for (std::int64_t i = 0; i < ps; ++i) x[i] -= y[i];
  }
}

}  // namespace background

/// The stage: `Load{} | Background{} | ...`; options under "background".
struct Background : Composes<Background> {
  static constexpr std::string_view name = "background";
  using Options = BackgroundOptions;
  Options options{};

  static std::string label() { return "Background"; }
  /// With mode "none" and no zero_dm the engine leaves the source's fast path alone.
  bool active() const { return options.mode != BackgroundMode::none || options.zero_dm; }

  void transform_cadence(std::span<float> cadence, const CadenceKey& key) const {
    if (options.mode == BackgroundMode::nearest)
      background::subtract_nearest(cadence, key, *nearest_, options.nearest_limit);
    else
      background::subtract(cadence, key.panels, key.time, key.freq, options.mode);
    if (options.zero_dm) background::subtract_row_medians(cadence, key.panels * key.time, key.freq);
  }

  /// Which cadence "nearest" subtracts from entry `index` of `d` (for tests and for looking).
  std::int64_t neighbour_of(const Dataset& d, std::int64_t index) const {
    CadenceKey key;
    key.data = &d;
    return (*nearest_->get(d, key, options.nearest_limit))[static_cast<std::size_t>(index)];
  }

 private:
  std::shared_ptr<background::NearestCache> nearest_ = std::make_shared<background::NearestCache>();
};

}  // namespace cadence
