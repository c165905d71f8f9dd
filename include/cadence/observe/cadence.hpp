#pragma once
// The observation source of `seti scan`: six files (.fil or .h5) that form one cadence, cut into the
// windows a trained pipeline reads.
//
// Checks: six files, each readable, all on one frequency axis (nchans, fch1, foff), in observing order
// (tstart rising, where the headers have it), and ABACAD: the ON files are those that `scan.on` names
// (their positions among the six given; the rest are OFF, in the order given), or else the files whose
// source_name is the first file's, which must then be files 1, 3 and 5 (counting from 1). Each failure
// names the file that breaks the cadence.
//
// Windows: `freq` (256, the training shape) channels wide, neighbours sharing `scan.overlap` channels;
// the last window ends at the last channel. Each file's time axis becomes the trained model's T (273):
// linear interpolation (the first and last samples kept) when the file has fewer samples -- Green
// Bank's high-frequency-resolution product has 16 per 5-minute file -- and the mean of each output
// row's share of samples when it has more. A window is then divided by its mean power (one number for
// all six panels: float32 keeps its precision around raw powers of 1e9 or more, and the per-panel
// standardisation that follows makes the result independent of it) and goes through the same path as
// a training file: the pipeline's cadence stages (Background), then the layout and per-panel
// standardisation of load.layout / load.standardize.
// Light: no LibTorch.
#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "cadence/core/error.hpp"
#include "cadence/observe/hdf5.hpp"
#include "cadence/observe/observation.hpp"
#include "cadence/observe/options.hpp"

namespace cadence {

namespace observe {

/// Six files in ABACAD order (ON at 0, 2, 4), checked to form a cadence.
class Cadence {
 public:
  Cadence(const std::vector<std::filesystem::path>& paths, const std::vector<int>& on) {
    if (paths.size() != 6)
      fail("--cadence: a cadence is six files (ABACAD: ON, OFF, ON, OFF, ON, OFF), got ", paths.size());
    std::vector<std::unique_ptr<File>> given;
    for (const auto& p : paths) given.push_back(open_observation(p));
    const Header& ref = given[0]->header();
    for (std::size_t k = 1; k < 6; ++k) {
      const Header& h = given[k]->header();
      const double tol = 1e-6 * std::abs(ref.foff);
      if (h.nchans != ref.nchans || std::abs(h.fch1 - ref.fch1) > tol ||
          std::abs(h.foff - ref.foff) > 1e-9 * std::abs(ref.foff))
        fail(h.file.string(), ": its frequency axis (", axis(h), ") is not ", ref.file.string(), "'s (", axis(ref),
             "); the six files of a cadence must cover the same channels");
    }
    for (std::size_t k = 1; k < 6; ++k) {  // one time resolution: the de-Doppler drift and the events' times assume it
      const Header& h = given[k]->header();
      if (!(std::abs(h.tsamp - ref.tsamp) <= 1e-6 * std::abs(ref.tsamp)))
        fail(h.file.string(), ": tsamp ", h.tsamp, " s, but ", ref.file.string(), "'s is ", ref.tsamp,
             " s; the six files of a cadence must share one time resolution");
    }
    bool timed = true;
    for (const auto& f : given) timed = timed && f->header().tstart > 0.0;
    if (timed)
      for (std::size_t k = 1; k < 6; ++k)
        if (!(given[k]->header().tstart > given[k - 1]->header().tstart))
          fail(given[k]->header().file.string(), ": starts (tstart ", mjd(given[k]->header().tstart),
               ") no later than the file given before it (", mjd(given[k - 1]->header().tstart),
               "); give the six files in observing order");
    std::array<int, 6> order{};  // order[position] = index among the given files
    if (!on.empty()) {
      std::vector<bool> is_on(6, false);
      for (int p : on) is_on[static_cast<std::size_t>(p)] = true;
      int a = 0, b = 1;
      for (int k = 0; k < 6; ++k) {
        int& slot = is_on[static_cast<std::size_t>(k)] ? a : b;
        order[static_cast<std::size_t>(slot)] = k;
        slot += 2;
      }
    } else {
      const std::string target = ref.source_name;
      if (target.empty())
        fail(ref.file.string(),
             ": no source_name in the header, so the ON files cannot be told from the OFF ones; give their positions "
             "in scan.on");
      for (int k = 0; k < 6; ++k) {
        const auto& h = given[static_cast<std::size_t>(k)]->header();
        const bool is_on = h.source_name == target;
        if (is_on != (k % 2 == 0))
          fail(h.file.string(), ": source `", h.source_name, "` at cadence position ", k + 1, ", where ABACAD wants ",
               k % 2 == 0 ? "the target" : "an OFF source", " (the target is `", target,
               "`, the first file's); give the files in ABACAD order, or the ON positions in scan.on");
        order[static_cast<std::size_t>(k)] = k;
      }
    }
    for (std::size_t p = 0; p < 6; ++p) {
      given_[p] = order[p];
      files_[p] = std::move(given[static_cast<std::size_t>(order[p])]);
    }
  }

  const File& file(std::size_t position) const { return *files_[position]; }
  const Header& header(std::size_t position = 0) const { return files_[position]->header(); }
  /// The index among the given files of the file at cadence `position`.
  int given_index(std::size_t position) const { return given_[position]; }
  std::int64_t nchans() const { return files_[0]->header().nchans; }
  static std::string mjd(double t) {
    char buf[48];
    std::snprintf(buf, sizeof buf, "MJD %.6f", t);
    return buf;
  }

  static std::string axis(const Header& h) {
    char buf[160];
    std::snprintf(buf, sizeof buf, "%lld channels from %.9g MHz by %.9g MHz", static_cast<long long>(h.nchans), h.fch1,
                  h.foff);
    return buf;
  }

 private:
  std::array<std::unique_ptr<File>, 6> files_;
  std::array<int, 6> given_{};
};

/// Where the windows start: `width` channels each, `overlap` shared, the last one ending at the last channel.
inline std::vector<std::int64_t> window_starts(std::int64_t nchans, std::int64_t width, std::int64_t overlap) {
  if (nchans < width) fail("the observation has ", nchans, " channels, fewer than a window's ", width);
  if (overlap < 0 || overlap >= width) fail("/scan/overlap: ", overlap, " must be in 0..", width - 1);
  const std::int64_t stride = width - overlap;
  std::vector<std::int64_t> s;
  for (std::int64_t c = 0; c + width <= nchans; c += stride) s.push_back(c);
  if (s.back() + width < nchans) s.push_back(nchans - width);
  return s;
}

/// Resamples `in` (rows x cols) in time to `out` (T x cols): linear interpolation when rows < T (first
/// and last rows kept), the mean of each output row's share of input rows when rows >= T.
inline void resample_time(const float* in, std::int64_t rows, std::int64_t cols, float* out, std::int64_t T) {
  const auto C = static_cast<std::size_t>(cols);
  if (rows == T) {
    std::copy(in, in + static_cast<std::size_t>(rows) * C, out);
    return;
  }
  if (rows < T) {
    for (std::int64_t i = 0; i < T; ++i) {
      const double x =
          T == 1 ? 0.0 : static_cast<double>(i) * static_cast<double>(rows - 1) / static_cast<double>(T - 1);
      const auto r0 = static_cast<std::int64_t>(std::floor(x));
      const auto r1 = std::min(r0 + 1, rows - 1);
      const auto w = static_cast<float>(x - static_cast<double>(r0));
      const float* a = in + static_cast<std::size_t>(r0) * C;
      const float* b = in + static_cast<std::size_t>(r1) * C;
      float* o = out + static_cast<std::size_t>(i) * C;
      for (std::size_t c = 0; c < C; ++c) o[c] = a[c] + w * (b[c] - a[c]);
    }
    return;
  }
  for (std::int64_t i = 0; i < T; ++i) {
    const std::int64_t r0 = i * rows / T, r1 = std::max(r0 + 1, (i + 1) * rows / T);
    float* o = out + static_cast<std::size_t>(i) * C;
    std::fill(o, o + C, 0.0f);
    for (std::int64_t r = r0; r < r1; ++r)
      for (std::size_t c = 0; c < C; ++c) o[c] += in[static_cast<std::size_t>(r) * C + c];
    const float inv = 1.0f / static_cast<float>(r1 - r0);
    for (std::size_t c = 0; c < C; ++c) o[c] *= inv;
  }
}

/// One read of the cadence: channels [first, first + count) of all six files, each nsamples x count.
struct Block {
  std::int64_t first = 0, count = 0;
  std::array<std::vector<float>, 6> panels;
};

inline void read_block(const Cadence& c, std::int64_t first, std::int64_t count, Block& b) {
  b.first = first;
  b.count = count;
  for (std::size_t p = 0; p < 6; ++p) {
    const auto& h = c.header(p);
    b.panels[p].resize(static_cast<std::size_t>(h.nsamples * count));
    c.file(p).read(first, count, b.panels[p].data());
  }
}

/// Window [start, start + width) of block `b`, as a raw cadence (6 x T x width floats) on the model's
/// time axis, divided by its mean power. Flagged data is masked, as turboSETI and blimpy practice masks
/// it, not allowed to blank the window: each NaN/Inf sample is replaced by the mean of its panel's
/// finite samples in the window, and `masked` (when given) counts them. Returns false (and leaves
/// zeros) only when a panel holds no finite sample or the window no power at all (flagged channels):
/// the scan scores it 0 and says how many there were.
///
/// `starts` gives each panel its own first channel, and `shear` (channels per row) shifts each panel's
/// rows about its middle row: an event's window follows its path from panel to panel, and a drifter too
/// fast for `width` channels is straightened to one that fits. Rows stay inside the block.
inline bool cut_window(const Cadence& c, const Block& b, const std::array<std::int64_t, 6>& starts,
                       const std::array<double, 6>& shear, std::int64_t width, std::int64_t T, std::span<float> out,
                       std::int64_t* masked = nullptr) {
  thread_local std::vector<float> cols;
  const auto W = static_cast<std::size_t>(width);
  const auto panel = static_cast<std::size_t>(T) * W;
  std::int64_t bad_total = 0;
  bool usable = true;
  for (std::size_t p = 0; p < 6; ++p) {
    const auto rows = c.header(p).nsamples;
    cols.resize(static_cast<std::size_t>(rows) * W);
    for (std::int64_t r = 0; r < rows; ++r) {
      const auto shift = static_cast<std::int64_t>(
          std::lround(shear[p] * (static_cast<double>(r) - 0.5 * static_cast<double>(rows - 1))));
      const std::int64_t first = std::clamp(starts[p] + shift, b.first, b.first + b.count - width);
      const float* src = b.panels[p].data() + r * b.count + (first - b.first);
      std::copy(src, src + width, cols.begin() + static_cast<std::ptrdiff_t>(static_cast<std::size_t>(r) * W));
    }
    double finite_sum = 0.0;
    std::int64_t bad = 0;
    for (float v : cols) {
      if (std::isfinite(v))
        finite_sum += v;
      else
        ++bad;
    }
    if (bad > 0) {
      const auto good = static_cast<std::int64_t>(cols.size()) - bad;
      usable = usable && good > 0;
      const auto fill = good > 0 ? static_cast<float>(finite_sum / static_cast<double>(good)) : 0.0f;
      for (float& v : cols)
        if (!std::isfinite(v)) v = fill;
      bad_total += bad;
    }
    resample_time(cols.data(), rows, width, out.data() + p * panel, T);
  }
  double sum = 0.0;
  for (float v : out) sum += std::abs(static_cast<double>(v));
  if (!usable || !(sum > 0.0) || !std::isfinite(sum)) {
    std::fill(out.begin(), out.end(), 0.0f);
    if (masked != nullptr) *masked = 0;  // skipped, not masked: counted once, as skipped
    return false;
  }
  if (masked != nullptr) *masked = bad_total;
  const auto inv = static_cast<float>(static_cast<double>(out.size()) / sum);
  for (float& v : out) v *= inv;
  return true;
}

/// cut_window with one first channel for all six panels: a window of the band.
inline bool cut_window(const Cadence& c, const Block& b, std::int64_t start, std::int64_t width, std::int64_t T,
                       std::span<float> out, std::int64_t* masked = nullptr) {
  return cut_window(c, b, std::array<std::int64_t, 6>{start, start, start, start, start, start},
                    std::array<double, 6>{}, width, T, out, masked);
}

}  // namespace observe
}  // namespace cadence
