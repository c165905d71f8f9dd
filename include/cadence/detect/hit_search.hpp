#pragma once
// The de-Doppler hit search of `seti scan`: every drift rate within +-max_drift Hz/s at the file's
// native resolution, as turboSETI's find_doppler and seticore search, written here from the method
// (Taylor 1974's tree sum; turboSETI's statistics and top-hit rule), not from either's code.
//
// Per coarse channel (N fine channels: scan.coarse_channels, or 2^20 where nchans is a multiple of
// it -- Green Bank's high-resolution product --, else the whole file):
//   1. read its T x N samples; a sample that is not finite (flagged data), and every sample of a channel
//      in the mask (scan.mask: known RFI bands), is replaced by its row's median and counted; the DC
//      channel at N/2 is blanked (the mean of its neighbours) when asked;
//   2. the noise: the median and the standard deviation (5th to 95th percentile, outliers dropped) of
//      the zero-drift spectrum, the sum of the T rows (turboSETI's comp_stats); with scan.sk_sigma, of
//      the channels whose spectral kurtosis looks like noise (hyperseti flags by it for the same end:
//      a band crowded with interference no longer inflates the noise). Flagged channels are still
//      searched -- a drifting signal crosses a channel in a few rows and looks as impulsive there as
//      interference does, so blanking them would blank the signals too;
//   3. for each drift, the sum along the path starting at channel c in the first row and moving D
//      channels over the T - 1 row steps (T padded to a power of two P with rows of zeros): a Taylor
//      tree gives the P paths D = 0..P-1 at every c in log2(P) passes of P x N additions; larger
//      drifts shift row t by k*t channels first (block k covers D = k(P-1) .. k(P-1) + P-2), negative
//      ones read the rows mirrored. The drift step is |foff| / ((P - 1) tsamp) -- turboSETI's
//      resolution, one channel over the file;
//   4. SNR = (sum - median) / stddev; a (channel, drift) above scan.snr is a hit, and each channel
//      keeps its best drift (|rate| <= min_drift excluded: zero-drift RFI, as turboSETI's min_drift);
//   5. a channel whose best SNR is the largest within +-2 max_drift/step channels is a top hit
//      (turboSETI's tophitsearch): what a .dat file lists.
// Memory: one coarse channel at a time (T x N floats) and a tree buffer per thread. Light: no LibTorch.
#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdint>
#include <exception>
#include <filesystem>
#include <fstream>
#include <functional>
#include <limits>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "cadence/core/error.hpp"
#include "cadence/core/regular_file.hpp"
#include "cadence/observe/observation.hpp"

namespace cadence::detect {

namespace detail {
struct SearchPlan;
struct CoarseChannel;
struct BestDrift;
}  // namespace detail

/// Steps 3-4 for one coarse channel on another engine (detect/hit_search_torch.hpp: LibTorch ops on a
/// torch::Device): each channel's best drift into the BestDrift, the pairs above the threshold counted.
using DriftSearch = std::function<std::int64_t(const detail::SearchPlan&, const detail::CoarseChannel&,
                                               double min_drift, const detail::BestDrift&)>;

/// What the search looks for (the "scan" section's max_drift, min_drift, snr, coarse_channels, blank_dc).
struct HitSearchOptions {
  double max_drift = 4.0;            // Hz/s, both signs
  double min_drift = 0.0001;         // Hz/s: hits at |rate| <= min_drift are dropped (0 drift: RFI)
  double snr = 10.0;                 // threshold on the drift-integrated SNR
  std::int64_t coarse_channels = 0;  // fine channels per coarse channel; 0 = 2^20 or the whole file
  bool blank_dc = true;              // blank each coarse channel's centre (DC) channel
  double sk_sigma = 0.0;  // spectral kurtosis: channels beyond +-sk_sigma of noise's SK left out of the noise; 0 off
  int threads = 1;        // worker threads over channel blocks
  std::int64_t block = 8192;                    // output channels per work item (a tree buffer is P x (block + P))
  std::vector<std::pair<double, double>> mask;  // frequency ranges (MHz) to blank: known RFI bands
  DriftSearch drifts;                           // steps 3-4 elsewhere (a GPU); empty: `threads` CPU threads
};

/// A channel mask file (scan.mask): one frequency range per line, `low_mhz,high_mhz` (or separated by
/// white space, either order); `#` starts a comment. Errors name the file and line.
inline std::vector<std::pair<double, double>> read_mask(const std::filesystem::path& path) {
  require_regular_file(path, "/scan/mask: " + path.string());  // a FIFO would block the read
  std::ifstream in(path);
  if (!in) fail("/scan/mask: ", path.string(), ": cannot open the channel mask");
  std::vector<std::pair<double, double>> ranges;
  std::string line;
  for (std::size_t n = 1; std::getline(in, line); ++n) {
    if (const auto hash = line.find('#'); hash != std::string::npos) line.resize(hash);
    for (char& ch : line)
      if (ch == ',' || ch == '\t' || ch == '\r') ch = ' ';
    std::istringstream fields(line);
    std::vector<std::string> f;
    for (std::string x; fields >> x;) f.push_back(x);
    if (f.empty()) continue;
    if (f.size() != 2) fail(path.string(), ":", n, ": ", f.size(), " fields; a range is `low_mhz,high_mhz`");
    double v[2];
    for (std::size_t k = 0; k < 2; ++k) {
      char* end = nullptr;
      v[k] = std::strtod(f[k].c_str(), &end);
      if (end == f[k].c_str() || *end != '\0' || !std::isfinite(v[k]))
        fail(path.string(), ":", n, ": `", first_line(f[k], 40), "` is not a frequency in MHz");
    }
    ranges.emplace_back(std::min(v[0], v[1]), std::max(v[0], v[1]));
  }
  return ranges;
}

/// One top hit of one file.
struct Hit {
  std::int64_t channel = 0;  // the file's channel at the first time sample
  double drift = 0.0;        // Hz/s, the frequency's rate (negative: frequency falls)
  double snr = 0.0;          // of the drift-integrated power
  std::int64_t first = 0;    // the neighbourhood it tops: channels [first, last]
  std::int64_t last = 0;
  std::int64_t coarse = 0;       // coarse channel number
  std::int64_t coarse_hits = 0;  // (channel, drift) pairs above the threshold in that coarse channel
};

/// One file's search: its top hits (by channel) and what was searched.
struct FileHits {
  std::vector<Hit> hits;
  double drift_step = 0.0;  // Hz/s between neighbouring drift rates
  std::int64_t drifts = 0;  // drift rates searched (both signs, zero once)
  std::int64_t channels_per_coarse = 0;
  std::int64_t masked = 0;           // samples that were not finite, replaced by their row's median
  std::int64_t masked_channels = 0;  // channels the mask blanked
  std::int64_t sk_flagged = 0;       // channels spectral kurtosis left out of the noise statistics (sk_sigma)
  double obs_length = 0.0;           // seconds: nsamples x tsamp
  double max_drift = 0.0;            // Hz/s, as searched
};

namespace taylor {

/// The Taylor tree over P rows (a power of two) of width W, row t at rows + t * W: on return the
/// buffer returned holds, in row D, the sum over t of rows[t][c + s_D(t)] for every c in [0, W - P + 1),
/// where s_D is the tree's staircase from 0 (t = 0) to D (t = P - 1). `scratch` is another P x W.
/// Columns past W - P + 1 hold partial sums (paths that leave the buffer).
inline float* sums(float* rows, float* scratch, int P, std::int64_t W) {
  float* a = rows;
  float* b = scratch;
  for (int m = 2; m <= P; m *= 2) {
    const int h = m / 2;
    for (int block = 0; block < P; block += m) {
      for (int d = 0; d < m; ++d) {
        const int lo = d / 2, shift = d - lo;
        const float* top = a + static_cast<std::int64_t>(block + lo) * W;
        const float* bottom = a + static_cast<std::int64_t>(block + h + lo) * W + shift;
        float* out = b + static_cast<std::int64_t>(block + d) * W;
        const std::int64_t n = W - shift;
        for (std::int64_t j = 0; j < n; ++j) out[j] = top[j] + bottom[j];
        for (std::int64_t j = n; j < W; ++j) out[j] = top[j];
      }
    }
    std::swap(a, b);
  }
  return a;
}

/// The staircase s_D(t) the tree sums along (for tests and for drawing a hit's path).
inline std::int64_t offset(int P, int D, int t) {
  std::int64_t s = 0;
  for (int m = P; m >= 2; m /= 2) {  // descend: at block size m the path splits into top (D/2) and bottom
    const int lo = D / 2, shift = D - lo;
    if (t >= m / 2) {
      s += shift;
      t -= m / 2;
    }
    D = lo;
  }
  return s;
}

}  // namespace taylor

namespace detail {

/// Median of `v` (reordered).
inline float median_of(std::vector<float>& v) {
  if (v.empty()) return 0.0f;
  auto mid = v.begin() + static_cast<std::ptrdiff_t>(v.size() / 2);
  std::nth_element(v.begin(), mid, v.end());
  return *mid;
}

/// turboSETI's comp_stats: the median, and the standard deviation of the values between the 5th and
/// 95th percentiles.
inline std::pair<double, double> robust_stats(std::vector<float> v) {
  if (v.empty()) return {0.0, 0.0};
  std::sort(v.begin(), v.end());
  auto at = [&](double q) {  // numpy's linear percentile
    const double x = q * static_cast<double>(v.size() - 1);
    const auto i = static_cast<std::size_t>(x);
    const double f = x - static_cast<double>(i);
    return i + 1 < v.size() ? v[i] * (1 - f) + v[i + 1] * f : static_cast<double>(v[i]);
  };
  const double lo = at(0.05), median = at(0.5), hi = at(0.95);
  double s = 0, s2 = 0;
  std::int64_t n = 0;
  for (float x : v)
    if (x >= lo && x <= hi) {
      s += x;
      s2 += static_cast<double>(x) * x;
      ++n;
    }
  const double mean = n ? s / static_cast<double>(n) : 0.0;
  const double var = n ? std::max(0.0, s2 / static_cast<double>(n) - mean * mean) : 0.0;
  return {median, std::sqrt(var)};
}

/// One coarse channel in memory: T valid rows (P allocated, the rest zero), each with `margin`
/// channels of padding (the row's median) on both sides.
struct CoarseChannel {
  int T = 0, P = 0;
  std::int64_t N = 0, margin = 0, width = 0;  // width = N + 2 margin
  std::vector<float> rows;                    // P x width
  const float* row(int t) const { return rows.data() + static_cast<std::int64_t>(t) * width + margin; }
};

/// What one file's search needs to know: its sizes, drift range and blocks.
struct SearchPlan {
  int T = 0, P = 0;              // time samples, and the power of two the tree works on
  std::int64_t N = 0;            // channels per coarse channel
  std::int64_t max_shift = 0;    // the drift range: channels moved over P - 1 rows
  int blocks = 0;                // drift blocks per sign (block k: rows shifted by k t)
  std::int64_t distance = 0;     // a top hit is the best within +-distance channels
  std::int64_t block_width = 0;  // output channels per work item
  double drift_step = 0.0;       // Hz/s
  double rate_sign = 1.0;        // -1 where the frequency falls with the channel (Green Bank)
};

inline SearchPlan plan_search(const observe::Header& h, const HitSearchOptions& o) {
  const std::string where = h.file.string();
  SearchPlan sp;
  sp.T = static_cast<int>(h.nsamples);
  if (sp.T < 2) fail(where, ": ", sp.T, " time sample(s); a drift search needs at least 2");
  if (sp.T > 4096)
    fail(where, ": ", sp.T, " time samples; the hit search handles up to 4096 (integrate in time first)");
  sp.P = 1;
  while (sp.P < sp.T) sp.P *= 2;
  sp.drift_step = std::abs(h.foff) * 1e6 / ((sp.P - 1) * h.tsamp);
  sp.max_shift = static_cast<std::int64_t>(std::floor(o.max_drift / sp.drift_step + 1e-9));
  sp.N = o.coarse_channels;
  if (sp.N <= 0) sp.N = h.nchans % (1 << 20) == 0 ? (1 << 20) : h.nchans;
  if (h.nchans % sp.N != 0)
    fail(where, ": ", h.nchans, " channels are not a whole number of coarse channels of ", sp.N,
         " (scan.coarse_channels)");
  sp.distance = 2 * static_cast<std::int64_t>(std::ceil(o.max_drift / sp.drift_step - 1e-9));
  sp.blocks = static_cast<int>(sp.max_shift / (sp.P - 1)) + 1;
  sp.block_width = std::min<std::int64_t>(o.block, sp.N);
  sp.rate_sign = h.foff < 0 ? -1.0 : 1.0;
  return sp;
}

/// Step 1: coarse channel `coarse` into `cc` (T rows of N, `margin` on each side): a sample that is
/// not finite, and every sample of a masked channel, takes its row's median (counted in r); the DC
/// channel is blanked. Returns which channels the mask blanked.
inline std::vector<char> load_coarse(const observe::File& file, std::int64_t coarse, const HitSearchOptions& o,
                                     std::vector<float>& read, CoarseChannel& cc, FileHits& r) {
  const auto& h = file.header();
  const std::int64_t N = cc.N;
  const int T = cc.T;
  file.read(coarse * N, N, read.data());
  std::vector<char> blank(static_cast<std::size_t>(N), 0);
  for (const auto& [lo, hi] : o.mask)
    for (std::int64_t c = 0; c < N; ++c) {
      const double f = h.frequency(static_cast<double>(coarse * N + c));
      if (f >= lo && f <= hi && !blank[static_cast<std::size_t>(c)]) {
        blank[static_cast<std::size_t>(c)] = 1;
        ++r.masked_channels;
      }
    }
  std::vector<float> finite, row_median(static_cast<std::size_t>(T), std::numeric_limits<float>::quiet_NaN());
  finite.reserve(static_cast<std::size_t>(N));
  for (int t = 0; t < T; ++t) {
    finite.clear();
    const float* in = read.data() + static_cast<std::int64_t>(t) * N;
    for (std::int64_t c = 0; c < N; ++c)
      if (std::isfinite(in[c])) finite.push_back(in[c]);
    if (!finite.empty()) row_median[static_cast<std::size_t>(t)] = median_of(finite);
  }
  std::vector<float> known;  // a row with nothing finite takes the median of the other rows' medians
  for (float m : row_median)
    if (std::isfinite(m)) known.push_back(m);
  const float fallback = known.empty() ? 0.0f : median_of(known);
  for (float& m : row_median)
    if (!std::isfinite(m)) m = fallback;
  for (int t = 0; t < T; ++t) {
    const float* in = read.data() + static_cast<std::int64_t>(t) * N;
    float* out = cc.rows.data() + static_cast<std::int64_t>(t) * cc.width;
    const float fill = row_median[static_cast<std::size_t>(t)];
    std::fill(out, out + cc.margin, fill);
    std::fill(out + cc.margin + N, out + cc.width, fill);
    for (std::int64_t c = 0; c < N; ++c) {
      const float x = in[c];
      const bool finite_sample = std::isfinite(x);
      out[cc.margin + c] = blank[static_cast<std::size_t>(c)] || !finite_sample ? fill : x;
      if (!finite_sample && !blank[static_cast<std::size_t>(c)]) ++r.masked;
    }
    if (o.blank_dc && N >= 3) {
      float* dc = out + cc.margin + N / 2;
      dc[0] = 0.5f * (dc[-1] + dc[1]);
    }
  }
  return blank;
}

/// Spectral kurtosis (Nita & Gary 2010, the generalized estimator hyperseti computes): per channel of
/// the T rows, SK = (M N + 1) / (M - 1) (M S2 / S1^2 - 1), S1 and S2 the sums of the power and of its
/// square over the M = T rows, N the spectra accumulated into each row. Radiometer noise gives 1, a
/// steady tone near 0, impulsive interference far more. Returns 1 for each channel whose SK lies
/// outside 1 +- n_sigma x sigma (sigma^2 = 2 N (N + 1) M^2 / ((M - 1)(M N + 2)(M N + 3)), their
/// variance for noise), counting them in `flagged`.
inline std::vector<char> sk_flags(const CoarseChannel& cc, double n_acc, double n_sigma, std::int64_t& flagged) {
  const auto M = static_cast<double>(cc.T), N = n_acc;
  const double sigma = std::sqrt(2.0 * N * (N + 1.0) * M * M / ((M - 1.0) * (M * N + 2.0) * (M * N + 3.0)));
  std::vector<double> s1(static_cast<std::size_t>(cc.N), 0.0), s2(static_cast<std::size_t>(cc.N), 0.0);
  for (int t = 0; t < cc.T; ++t) {
    const float* in = cc.row(t);
    for (std::int64_t c = 0; c < cc.N; ++c) {
      const double x = in[c];
      s1[static_cast<std::size_t>(c)] += x;
      s2[static_cast<std::size_t>(c)] += x * x;
    }
  }
  std::vector<char> flag(static_cast<std::size_t>(cc.N), 0);
  for (std::size_t c = 0; c < flag.size(); ++c) {
    if (!(s1[c] > 0.0)) continue;  // no power (blanked): nothing to say
    const double sk = (M * N + 1.0) / (M - 1.0) * (M * s2[c] / (s1[c] * s1[c]) - 1.0);
    if (std::abs(sk - 1.0) > n_sigma * sigma) {
      flag[c] = 1;
      ++flagged;
    }
  }
  return flag;
}

/// Step 2: the median and robust standard deviation of the zero-drift spectrum, without the channels
/// `skip` marks (spectral kurtosis; empty: all).
inline std::pair<double, double> zero_drift_noise(const CoarseChannel& cc, const std::vector<char>& skip = {}) {
  std::vector<float> spectrum(static_cast<std::size_t>(cc.N), 0.0f);
  for (int t = 0; t < cc.T; ++t) {
    const float* in = cc.row(t);
    for (std::int64_t c = 0; c < cc.N; ++c) spectrum[static_cast<std::size_t>(c)] += in[c];
  }
  if (!skip.empty()) {
    std::size_t kept = 0;
    for (std::size_t c = 0; c < spectrum.size(); ++c)
      if (!skip[c]) spectrum[kept++] = spectrum[c];
    if (kept > 0) spectrum.resize(kept);  // every channel flagged: the whole spectrum after all
  }
  return robust_stats(std::move(spectrum));
}

/// Where a block's hits go: each channel's best SNR and its drift, and the threshold in path-sum units.
struct BestDrift {
  float* snr;
  float* drift;
  double median, stddev;
  float floor;  // median + snr x stddev
};

/// Steps 3-4 for start channels [start, start + width): every drift block of both signs through the
/// tree, each channel's best drift above the threshold kept. Returns the (channel, drift) pairs above it.
inline std::int64_t search_block(const SearchPlan& sp, const CoarseChannel& cc, std::int64_t start, std::int64_t width,
                                 double min_drift, std::vector<float>& tree, std::vector<float>& scratch,
                                 const BestDrift& best) {
  const int P = sp.P;
  const std::int64_t W = width + P - 1;  // the paths from `width` channels reach P - 1 further
  std::int64_t counted = 0;
  for (int sign : {+1, -1})
    for (int k = 0; k < sp.blocks; ++k) {
      for (int t = 0; t < P; ++t) {  // row t shifted by k*t, mirrored for negative drifts
        float* dst = tree.data() + static_cast<std::int64_t>(t) * W;
        if (t >= sp.T) {
          std::fill(dst, dst + W, 0.0f);
          continue;
        }
        const std::int64_t shift = static_cast<std::int64_t>(k) * t;
        if (sign > 0) {
          const float* src = cc.row(t) + start + shift;
          std::copy(src, src + W, dst);
        } else {
          const float* src = cc.row(t) + start + width - 1 - shift;
          for (std::int64_t j = 0; j < W; ++j) dst[j] = src[-j];
        }
      }
      const float* sum = taylor::sums(tree.data(), scratch.data(), P, W);
      for (int d = 0; d < P - 1; ++d) {
        const std::int64_t D = static_cast<std::int64_t>(k) * (P - 1) + d;
        if (D > sp.max_shift || (sign < 0 && D == 0)) continue;
        const double rate = sign * sp.rate_sign * static_cast<double>(D) * sp.drift_step;
        if (std::abs(rate) <= min_drift) continue;
        const float* s = sum + static_cast<std::int64_t>(d) * W;
        for (std::int64_t j = 0; j < width; ++j) {
          if (!(s[j] > best.floor)) continue;
          ++counted;
          const auto c = static_cast<std::size_t>(sign > 0 ? start + j : start + width - 1 - j);
          const auto snr = static_cast<float>((s[j] - best.median) / best.stddev);
          if (snr > best.snr[c]) {
            best.snr[c] = snr;
            best.drift[c] = static_cast<float>(rate);
          }
        }
      }
    }
  return counted;
}

/// Runs worker(next) on `threads` threads (inline for one); next(item) hands out items 0..n-1 once each.
/// The first exception is rethrown after every thread has stopped.
template <class Worker>
void parallel_items(std::int64_t n, int threads, Worker&& worker) {
  std::atomic<std::int64_t> counter{0};
  std::mutex failure_mutex;
  std::exception_ptr failure;
  auto next = [&](std::int64_t& item) { return (item = counter.fetch_add(1)) < n; };
  auto run = [&] {
    try {
      worker(next);
    } catch (...) {
      std::lock_guard lock(failure_mutex);
      if (!failure) failure = std::current_exception();
      counter = n;
    }
  };
  const auto k = std::min<std::int64_t>(std::max(1, threads), n);
  if (k <= 1)
    run();
  else {
    std::vector<std::thread> pool;
    for (std::int64_t i = 0; i < k; ++i) pool.emplace_back(run);
    for (auto& th : pool) th.join();
  }
  if (failure) std::rethrow_exception(failure);
}

/// Step 5: channels whose best SNR is the largest within +-distance (ties both kept, as turboSETI's).
inline void top_hits(const SearchPlan& sp, std::int64_t coarse, const std::vector<float>& snr,
                     const std::vector<float>& drift, std::int64_t hits, std::vector<Hit>& out) {
  const std::int64_t N = sp.N;
  for (std::int64_t i = 0; i < N; ++i) {
    const float v = snr[static_cast<std::size_t>(i)];
    if (!(v > 0.0f)) continue;
    const std::int64_t lo = std::max<std::int64_t>(0, i - sp.distance), hi = std::min(N, i + sp.distance);
    bool top = true;
    for (std::int64_t j = lo; j < hi && top; ++j) top = !(snr[static_cast<std::size_t>(j)] > v);
    if (top)
      out.push_back(Hit{coarse * N + i, static_cast<double>(drift[static_cast<std::size_t>(i)]), static_cast<double>(v),
                        coarse * N + lo, coarse * N + hi - 1, coarse, hits});
  }
}

}  // namespace detail

/// The de-Doppler search of one file (see the top of this header), one coarse channel at a time.
inline FileHits search_hits(const observe::File& file, const HitSearchOptions& o) {
  const observe::Header& h = file.header();
  const detail::SearchPlan sp = detail::plan_search(h, o);
  FileHits r;
  r.drift_step = sp.drift_step;
  r.obs_length = static_cast<double>(sp.T) * h.tsamp;
  r.max_drift = o.max_drift;
  r.drifts = 2 * sp.max_shift + 1;
  r.channels_per_coarse = sp.N;
  detail::CoarseChannel cc;
  cc.T = sp.T;
  cc.P = sp.P;
  cc.N = sp.N;
  cc.margin = static_cast<std::int64_t>(sp.blocks) * (sp.P - 1) + sp.P;
  cc.width = sp.N + 2 * cc.margin;
  cc.rows.assign(static_cast<std::size_t>(sp.P * cc.width), 0.0f);
  std::vector<float> read(static_cast<std::size_t>(sp.T * sp.N));
  std::vector<float> best_snr(static_cast<std::size_t>(sp.N)), best_drift(static_cast<std::size_t>(sp.N));
  const std::int64_t items = (sp.N + sp.block_width - 1) / sp.block_width;
  for (std::int64_t coarse = 0; coarse < h.nchans / sp.N; ++coarse) {
    const auto blank = detail::load_coarse(file, coarse, o, read, cc, r);
    const auto skip = o.sk_sigma > 0.0 ? detail::sk_flags(cc, std::round(2.0 * h.tsamp * std::abs(h.foff) * 1e6),
                                                          o.sk_sigma, r.sk_flagged)
                                       : std::vector<char>{};
    const auto [median, stddev] = detail::zero_drift_noise(cc, skip);
    if (!(stddev > 0.0)) continue;  // a constant coarse channel (blanked data): nothing stands out
    std::fill(best_snr.begin(), best_snr.end(), 0.0f);
    std::fill(best_drift.begin(), best_drift.end(), 0.0f);
    const detail::BestDrift best{best_snr.data(), best_drift.data(), median, stddev,
                                 static_cast<float>(median + o.snr * stddev)};
    std::atomic<std::int64_t> hits{0};
    if (o.drifts)
      hits = o.drifts(sp, cc, o.min_drift, best);
    else
      detail::parallel_items(items, o.threads, [&](auto next) {  // each worker its own tree buffers
        const auto most = static_cast<std::size_t>(sp.P * (sp.block_width + sp.P - 1));
        std::vector<float> tree(most), scratch(most);
        std::int64_t counted = 0;
        for (std::int64_t item = 0; next(item);) {
          const std::int64_t start = item * sp.block_width;
          counted += detail::search_block(sp, cc, start, std::min(sp.block_width, sp.N - start), o.min_drift, tree,
                                          scratch, best);
        }
        hits += counted;
      });
    for (std::int64_t c = 0; c < sp.N; ++c)  // no hit starts in a masked channel
      if (blank[static_cast<std::size_t>(c)]) best_snr[static_cast<std::size_t>(c)] = 0.0f;
    detail::top_hits(sp, coarse, best_snr, best_drift, hits.load(), r.hits);
  }
  return r;
}

}  // namespace cadence::detect
