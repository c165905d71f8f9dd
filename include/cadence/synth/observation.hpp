#pragma once
// A synthetic whole observation for `seti scan`: six SIGPROC filterbank files (ABACAD: a1, b, a2, c,
// a3, d), each `samples` x `channels`, chi-squared noise and drifting signals in the ON files along one
// path through the cadence (setigen's physics, synth/setigen.hpp), with a `slew` gap between files,
// the first `faint_off` of them also in the OFF files at `off_gain` of their level (interference that
// find_event's filter passes); plus signals.csv (each line's channel at the cadence's start, SNR, drift,
// width, off_gain: 0 for a signal). No Python and no
// download: `cadence-synth observation --root data/observation` (the CLI), or for a GPU machine that
// cannot reach PyPI. bench/scan.sh uses setigen itself; tests/data/make_scan_fixture.py is the oracle.
// Light: no LibTorch.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "cadence/config/options.hpp"
#include "cadence/core/atomic_file.hpp"
#include "cadence/core/random.hpp"
#include "cadence/observe/filterbank.hpp"
#include "cadence/synth/setigen.hpp"

namespace cadence::synth {

struct ObservationOptions {
  std::filesystem::path root = "data/observation";  // where a1.fil ... d.fil and signals.csv go
  std::int64_t channels = 1 << 20;        // per file (Green Bank's high-resolution product has 2^20 per coarse channel)
  int samples = 16;                       // time samples per file (16 x 18.25 s: 5 minutes)
  int signals = 16;                       // drifting signals in the ON files
  double snr_min = 10.0, snr_max = 50.0;  // setigen SNR (Frame.get_intensity over one file), evenly spread
  double drift_max = 0.2;                 // |drift rate| Hz/s, uniform in [drift_max / 10, drift_max], random sign
  double width = 20.0;                    // Hz, gaussian FWHM
  double x_mean = 10.0;                   // noise mean
  double slew = 20.0;                     // s between files
  int faint_off = 0;                // of the signals, the first this many (by channel) are interference that passes
                                    // find_event: in the OFF files too, at off_gain of their level (below a hit there)
  double off_gain = 0.2;            // the faint-off lines' level in the OFF files, relative to the ON files
  double fch1 = 6095.214842353016;  // MHz, channel 0 (frequency falls with the channel number)
  std::uint64_t seed = 0;

  template <class V>
  void fields(V& v) {
    v("root", root, config::NonEmpty{});
    v("channels", channels, config::in_range(std::int64_t{256}, std::int64_t{1} << 28));
    v("samples", samples, config::in_range(2, 4096));
    v("signals", signals, config::in_range(0, 100000));
    v("snr_min", snr_min, config::above(0.0));
    v("snr_max", snr_max, config::above(0.0));
    v("drift_max", drift_max, config::in_range(0.0, 100.0));
    v("width", width, config::above(0.0));
    v("x_mean", x_mean, config::above(0.0));
    v("slew", slew, config::in_range(0.0, 86400.0));
    v("faint_off", faint_off, config::in_range(0, 100000));
    v("off_gain", off_gain, config::in_range(0.0, 1.0));
    v("fch1", fch1, config::above(0.0));
    v("seed", seed);
  }
};

struct InjectedSignal {
  std::int64_t channel = 0;  // at the cadence's start
  double snr = 0, drift = 0, width = 0;
  double off_gain = 0;  // its level in the OFF files relative to the ON files: 0 for a signal, > 0 interference
};

inline const char* const kObservationNames[6] = {"a1", "b", "a2", "c", "a3", "d"};

/// The signals an observation gets: channels drawn without repeats on a grid 1200 apart (away from the
/// edges), SNRs evenly from snr_min to snr_max in random order, drift rates as documented.
inline std::vector<InjectedSignal> draw_signals(const ObservationOptions& o) {
  RandomStream rng(o.seed, 0, 0, 7u);
  const std::int64_t lo = 400, step = 1200, slots = std::max<std::int64_t>(0, (o.channels - 2 * lo) / step);
  if (o.signals > slots)
    fail("/signals: ", o.signals, " signals need ", static_cast<std::int64_t>(o.signals) * step + 2 * lo,
         " channels (1200 apart), there are ", o.channels);
  std::vector<std::int64_t> grid(static_cast<std::size_t>(slots));
  for (std::int64_t k = 0; k < slots; ++k) grid[static_cast<std::size_t>(k)] = lo + k * step;
  std::vector<InjectedSignal> out;
  for (int i = 0; i < o.signals; ++i) {  // partial Fisher-Yates
    const auto j =
        static_cast<std::size_t>(i) +
        static_cast<std::size_t>(rng.uniform() * static_cast<double>(grid.size() - static_cast<std::size_t>(i)));
    std::swap(grid[static_cast<std::size_t>(i)], grid[std::min(j, grid.size() - 1)]);
    InjectedSignal s;
    s.channel = grid[static_cast<std::size_t>(i)];
    s.snr = o.signals == 1 ? o.snr_max : o.snr_min + (o.snr_max - o.snr_min) * i / (o.signals - 1);
    s.drift = (o.drift_max / 10.0 + rng.uniform() * 0.9 * o.drift_max) * (rng.uniform() < 0.5 ? -1.0 : 1.0);
    s.width = o.width;
    out.push_back(s);
  }
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.channel < b.channel; });
  for (std::size_t i = out.size(); i > 1; --i)  // SNRs in random order along the band
    std::swap(out[i - 1].snr,
              out[std::min(i - 1, static_cast<std::size_t>(rng.uniform() * static_cast<double>(i)))].snr);
  for (std::size_t i = 0; i < out.size() && static_cast<int>(i) < o.faint_off; ++i) out[i].off_gain = o.off_gain;
  return out;
}

/// Writes the observation; returns its six files in observing order.
inline std::vector<std::filesystem::path> generate_observation(const ObservationOptions& o) {
  namespace fs = std::filesystem;
  if (o.snr_min > o.snr_max) fail("/snr_min: ", o.snr_min, " is above snr_max ", o.snr_max);
  const auto signals = draw_signals(o);
  fs::create_directories(o.root);
  FrameParams p;
  p.fchans = o.channels;
  p.tchans = o.samples;
  const double level_per_snr = p.intensity(1.0, p.noise_std(o.x_mean));
  const double fch1_hz = o.fch1 * 1e6;
  const double file_s = o.samples * p.dt + o.slew;
  std::vector<float> frame(static_cast<std::size_t>(o.channels * o.samples));
  std::vector<fs::path> files;
  for (int k = 0; k < 6; ++k) {
    // noise: one stream per block of channels, filled on every core
    const std::int64_t block = 1 << 16, blocks = (o.channels + block - 1) / block;
    const int threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
    std::vector<std::thread> pool;
    for (int t = 0; t < threads; ++t)
      pool.emplace_back([&, t] {
        for (std::int64_t b = t; b < blocks; b += threads) {
          RandomStream rng(o.seed, 1 + static_cast<std::uint32_t>(k), static_cast<std::uint32_t>(b), 11u);
          const std::int64_t c0 = b * block, c1 = std::min(o.channels, c0 + block);
          const double dof = p.chi2_df();
          for (std::int64_t r = 0; r < o.samples; ++r)
            for (std::int64_t c = c0; c < c1; ++c)
              frame[static_cast<std::size_t>(r * o.channels + c)] =
                  static_cast<float>(rng.chi_squared(dof) * o.x_mean / dof);
        }
      });
    for (auto& th : pool) th.join();
    const double t0 = k * file_s;
    for (const auto& s : signals) {
      const double gain = k % 2 == 0 ? 1.0 : s.off_gain;  // OFF files: faint-off interference only
      if (gain <= 0.0) continue;
      Signal sig;
      sig.path.f_start = fch1_hz - static_cast<double>(s.channel) * p.df;
      sig.path.drift_rate = s.drift;
      sig.t_profile.level = gain * s.snr * level_per_snr;
      sig.f_profile.width = s.width;
      const auto reach =
          static_cast<std::int64_t>(std::ceil(4.0 * s.width / p.df)) + 2;  // the gaussian is < 1e-19 beyond
      for (std::int64_t r = 0; r < o.samples; ++r) {
        const double t = t0 + static_cast<double>(r) * p.dt;
        const double centre = sig.path.at(t);
        const auto c = static_cast<std::int64_t>(std::llround((fch1_hz - centre) / p.df));
        for (std::int64_t j = std::max<std::int64_t>(0, c - reach); j <= std::min(o.channels - 1, c + reach); ++j)
          frame[static_cast<std::size_t>(r * o.channels + j)] += static_cast<float>(
              sig.t_profile.at(t) * sig.f_profile.at(fch1_hz - static_cast<double>(j) * p.df - centre));
      }
    }
    observe::Header h;
    h.source_name = k % 2 == 0 ? "TARGET" : std::string("OFF_") + static_cast<char>('B' + k / 2);
    h.fch1 = o.fch1;
    h.foff = -p.df * 1e-6;
    h.tsamp = p.dt;
    h.tstart = 60000.0 + t0 / 86400.0;
    h.nchans = o.channels;
    h.nbits = 32;
    files.push_back(o.root / (std::string(kObservationNames[k]) + ".fil"));
    observe::write_filterbank(files.back(), h, frame);
  }
  write_text_atomically(o.root / "signals.csv", [&](std::ostream& out) {
    out << "channel,snr,drift_hz_s,width_hz,off_gain\n";
    for (const auto& s : signals)
      out << s.channel << ',' << s.snr << ',' << s.drift << ',' << s.width << ',' << s.off_gain << '\n';
  });
  return files;
}

}  // namespace cadence::synth
