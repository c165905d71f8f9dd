#pragma once
// An event's SNR along its own path in each file of the cadence, below the hit threshold.
//
// find_event's filter (detect/events.hpp) asks whether an OFF file has a *hit* -- a drift-integrated SNR
// above scan.snr -- near the event's frequency. A terrestrial transmitter that is only weaker while the
// telescope points away (seen through a sidelobe) stays under that threshold in the OFF files and
// passes the filter at every level: turboSETI reports it as a candidate, and so did cadence. But its
// path is known: the ON hits fix where it must be in each OFF file, row by row, so the OFF files can be
// tested there at a few sigma, with no search over drift or frequency (and so no look-elsewhere cost).
//
// For each file p of the cadence and each offset d in -half..half channels from the path:
//   S_p[d] = sum over the file's rows r of x[r, round(path(t_r)) + d],  t_r = its start + r tsamp
// -- the file's drift-integrated spectrum at exactly the path's drift, centred on the path (a sample
// that is not finite, or a channel off the band, counts as its row's median over the channels read).
// z_p = (S_p - median) / (1.4826 MAD), the statistics over the offsets farther than `guard` from the
// path (the spectrum's own noise around it). A file's SNR along the path is the largest z_p[d] within
// +-tolerance channels; the OFF files' together is the largest of theirs and of their sum's
// (sum over the three OFF files of z_p[d], / sqrt 3, at each d): a source at a third of its ON level in
// each OFF file adds up there. For noise the sum is N(0, 1) at each offset: above 5 on the 5 to 11
// offsets tested about once in 10^5 events.
//
// The path is fitted to the event's ON hits (their frequencies at their files' starts: least squares
// over two or three files, whose 10-20 minute baseline fixes the drift far better than one file's
// drift step), or, with one hit, the hit's drift; then the tolerance grows by the drift step's half
// over the time from the hit to the file. Memory: one file's rows x (the path's span + 2 half) floats.
// Light: no LibTorch.
#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <limits>
#include <span>
#include <utility>
#include <vector>

#include "cadence/detect/hit_search.hpp"
#include "cadence/observe/observation.hpp"

namespace cadence::detect {

/// A straight path through a cadence: channel `channel` at t = 0 (the first file's start), moving
/// `per_s` channels a second.
struct Path {
  double channel = 0.0, per_s = 0.0;
  double at(double t) const { return channel + per_s * t; }
};

/// The path through points (t seconds, channel): least squares over two or more points whose times
/// differ; otherwise through the first point with `per_s`. `fitted` (when given) says which.
inline Path fit_path(std::span<const std::pair<double, double>> points, double per_s, bool* fitted = nullptr) {
  if (fitted != nullptr) *fitted = false;
  if (points.empty()) return {};
  double mt = 0.0, mc = 0.0;
  for (auto [t, c] : points) mt += t, mc += c;
  const auto n = static_cast<double>(points.size());
  mt /= n;
  mc /= n;
  double stt = 0.0, stc = 0.0;
  for (auto [t, c] : points) stt += (t - mt) * (t - mt), stc += (t - mt) * (c - mc);
  if (points.size() < 2 || !(stt > 0.0)) return {points[0].second - per_s * points[0].first, per_s};
  if (fitted != nullptr) *fitted = true;
  const double slope = stc / stt;
  return {mc - slope * mt, slope};
}

/// The median and the MAD-based standard deviation (1.4826 x the median absolute deviation) of `v`.
inline std::pair<double, double> mad_stats(std::vector<double> v) {
  if (v.empty()) return {0.0, 0.0};
  auto median = [](std::vector<double>& x) {
    const auto mid = x.begin() + static_cast<std::ptrdiff_t>(x.size() / 2);
    std::nth_element(x.begin(), mid, x.end());
    double m = *mid;
    if (x.size() % 2 == 0) m = 0.5 * (m + *std::max_element(x.begin(), mid));
    return m;
  };
  const double m = median(v);
  for (double& x : v) x = std::abs(x - m);
  return {m, 1.4826 * median(v)};
}

/// z_p of one file: `x` holds its rows x count samples of channels [first, first + count); row r lies
/// at t0 + r tsamp seconds. Returns 2 half + 1 values (offset d at index d + half); NaN where the
/// spectrum around the path has no spread (a blanked band).
inline std::vector<double> path_zscores(std::span<const float> x, std::int64_t rows, std::int64_t first,
                                        std::int64_t count, double t0, double tsamp, const Path& path,
                                        std::int64_t half, std::int64_t guard) {
  const auto n = static_cast<std::size_t>(2 * half + 1);
  std::vector<double> sum(n, 0.0);
  std::vector<float> finite;
  for (std::int64_t r = 0; r < rows; ++r) {
    const float* row = x.data() + r * count;
    finite.clear();
    for (std::int64_t c = 0; c < count; ++c)
      if (std::isfinite(row[c])) finite.push_back(row[c]);
    const float fill = detail::median_of(finite);  // the row's median over the channels read (0 if none)
    const auto centre = static_cast<std::int64_t>(std::llround(path.at(t0 + static_cast<double>(r) * tsamp)));
    for (std::int64_t d = -half; d <= half; ++d) {
      const std::int64_t c = centre + d - first;
      const float v = c >= 0 && c < count && std::isfinite(row[c]) ? row[c] : fill;
      sum[static_cast<std::size_t>(d + half)] += v;
    }
  }
  std::vector<double> noise;
  for (std::int64_t d = -half; d <= half; ++d)
    if (std::abs(d) > guard) noise.push_back(sum[static_cast<std::size_t>(d + half)]);
  const auto [median, sigma] = mad_stats(std::move(noise));
  for (double& s : sum) s = sigma > 0.0 ? (s - median) / sigma : std::numeric_limits<double>::quiet_NaN();
  return sum;
}

/// What path_snr found: each file's SNR along the path, and the OFF files' together.
struct PathSnr {
  std::array<double, 6> file{NAN, NAN, NAN, NAN, NAN, NAN};  // per cadence position
  double off = NAN;  // the largest of the OFF files' and of their sum's (/ sqrt 3)
};

struct PathSnrOptions {
  std::int64_t half = 64;      // offsets tested and used for the noise: +-half channels from the path
  std::int64_t tolerance = 2;  // channels from the path a fitted path's signal may lie
  std::int64_t guard = 8;      // offsets nearer than tolerance + guard are not noise
  double drift_step = 0.0;     // channels/s a one-hit path's drift may be off by (half the search's step)
  double hit_time = 0.0;       // when that one hit was seen (s after the first file's start)
  bool fitted = true;          // false: the path is one hit's, its tolerance grows away from it
};

/// The SNR along `path` in each of the six files (observing order: ON at 0, 2, 4); `start[p]` is file
/// p's start in seconds after file 0's.
inline PathSnr path_snr(const std::array<const observe::File*, 6>& files, const std::array<double, 6>& start,
                        const Path& path, const PathSnrOptions& o) {
  PathSnr out;
  std::array<std::vector<double>, 6> z;
  std::array<std::int64_t, 6> tol{};
  std::vector<float> buf;
  for (std::size_t p = 0; p < 6; ++p) {
    const auto& h = files[p]->header();
    const double t_end = start[p] + static_cast<double>(h.nsamples - 1) * h.tsamp;
    tol[p] = o.tolerance;
    if (!o.fitted) {
      const double away = std::max(std::abs(start[p] - o.hit_time), std::abs(t_end - o.hit_time));
      tol[p] += static_cast<std::int64_t>(std::ceil(o.drift_step * away));
    }
    const double a = path.at(start[p]), b = path.at(t_end);
    const std::int64_t lo = static_cast<std::int64_t>(std::floor(std::min(a, b))) - o.half - 1;
    const std::int64_t hi = static_cast<std::int64_t>(std::ceil(std::max(a, b))) + o.half + 2;
    const std::int64_t first = std::clamp<std::int64_t>(lo, 0, h.nchans),
                       last = std::clamp<std::int64_t>(hi, 0, h.nchans);
    if (last <= first) continue;  // the path is off the band in this file
    const std::int64_t count = last - first;
    buf.resize(static_cast<std::size_t>(h.nsamples * count));
    files[p]->read(first, count, buf.data());
    z[p] = path_zscores(buf, h.nsamples, first, count, start[p], h.tsamp, path, o.half + tol[p], tol[p] + o.guard);
    double best = -std::numeric_limits<double>::infinity();
    for (std::int64_t d = -tol[p]; d <= tol[p]; ++d) {
      const double v = z[p][static_cast<std::size_t>(d + o.half + tol[p])];
      if (!std::isnan(v)) best = std::max(best, v);
    }
    if (best > -std::numeric_limits<double>::infinity()) out.file[p] = best;
  }
  // the OFF files' sum at each offset within the widest of their tolerances
  double off = -std::numeric_limits<double>::infinity();
  bool any = false;
  for (std::size_t p = 1; p < 6; p += 2)
    if (!std::isnan(out.file[p])) off = std::max(off, out.file[p]), any = true;
  const std::int64_t t = std::max({tol[1], tol[3], tol[5]});
  for (std::int64_t d = -t; d <= t; ++d) {
    double s = 0.0;
    int n = 0;
    for (std::size_t p = 1; p < 6; p += 2) {
      if (z[p].empty() || std::abs(d) > tol[p]) continue;
      const double v = z[p][static_cast<std::size_t>(d + o.half + tol[p])];
      if (std::isnan(v)) continue;
      s += v;
      ++n;
    }
    if (n > 0) off = std::max(off, s / std::sqrt(static_cast<double>(n)));
  }
  if (any) out.off = off;
  return out;
}

}  // namespace cadence::detect
