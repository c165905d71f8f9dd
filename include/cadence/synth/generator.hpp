#pragma once
// A complete synthetic dataset in the competition's layout, with setigen's physics:
//
//   train_labels.csv, train/<id[0]>/<id>.npy        labelled, ~positive_rate positives
//   sample_submission.csv, test/<id[0]>/<id>.npy    unlabelled; the truth goes to test_labels.csv
//   test_labels.csv, train_signals.csv              id,target,snr,drift: each positive's injected SNR
//                                                   and mean drift rate (Hz/s); empty for negatives
//   old_leaky_data/train_labels_old.csv, old_leaky_data/train_old/...   for pretraining
//
// Each file is float16 (6, tchans, fchans), the cadence ABACAD. Every panel is chi2 noise. A positive
// carries a narrow-band drifting signal in the ON panels 0, 2, 4 only (its path continues through the
// OFF panels, where it is absent, as a real technosignature would be). RFI, a signal in all six panels,
// appears in some samples of either class. Each sample depends only on (seed, split, index), so the
// same seed writes byte-identical files with any thread count.
#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "cadence/config/options.hpp"
#include "cadence/core/atomic_file.hpp"
#include "cadence/core/progress.hpp"
#include "cadence/core/random.hpp"
#include "cadence/data/half.hpp"
#include "cadence/data/kaggle.hpp"
#include "cadence/data/layout.hpp"
#include "cadence/data/npy.hpp"
#include "cadence/synth/setigen.hpp"

namespace cadence::synth {

/// The truth files beside the Kaggle layout (id,target,snr,drift).
inline constexpr const char* kTestLabels = "test_labels.csv";
inline constexpr const char* kTrainSignals = "train_signals.csv";

struct SynthOptions {
  std::filesystem::path root = "data/synthetic";  // where the Kaggle layout is written
  int train = 1200;                               // labelled training cadences
  int test = 400;                                 // test cadences (truth in test_labels.csv)
  int old = 1200;                                 // old_leaky_data cadences, for pretraining
  double positive_rate = 0.1;                     // fraction of positives (the competition has about 1 in 10)
  double rfi_rate = 0.25;                         // fraction of samples with RFI in all six panels
  double snr_min = 10.0;                          // setigen SNR of injected signals (Frame.get_intensity)
  double snr_max = 40.0;
  double drift_min = 0.001;  // |drift rate|, Hz/s; the sign is random
  double drift_max = 0.012;  // 0.012 Hz/s moves ~130 channels over a cadence
  double width_min = 4.0;    // signal width, Hz (gaussian FWHM, sinc2 zero-crossing width, box width)
  double width_max = 20.0;
  double x_mean = 10.0;     // noise mean before standardisation
  bool standardize = true;  // per-panel zero mean, unit variance (as the competition's files)
  int tchans = 273;         // rows per panel
  int fchans = 256;         // channels
  std::uint64_t seed = 0;
  int threads = 0;  // 0 = all cores

  template <class V>
  void fields(V& v) {
    v("root", root);
    v("train", train, config::at_least(0));
    v("test", test, config::at_least(0));
    v("old", old, config::at_least(0));
    v("positive_rate", positive_rate, config::probability());
    v("rfi_rate", rfi_rate, config::probability());
    v("snr_min", snr_min, config::above(0));
    v("snr_max", snr_max, config::above(0));
    v("drift_min", drift_min, config::at_least(0));
    v("drift_max", drift_max, config::at_least(0));
    v("width_min", width_min, config::above(0));
    v("width_max", width_max, config::above(0));
    v("x_mean", x_mean, config::above(0));
    v("standardize", standardize);
    v("tchans", tchans, config::in_range(4, 4096));
    v("fchans", fchans, config::in_range(16, 65536));
    v("seed", seed);
    v("threads", threads, config::at_least(0));
  }

  void validate() const {
    if (snr_min > snr_max) fail("/snr_min: ", snr_min, " is above snr_max ", snr_max);
    if (drift_min > drift_max) fail("/drift_min: ", drift_min, " is above drift_max ", drift_max);
    if (width_min > width_max) fail("/width_min: ", width_min, " is above width_max ", width_max);
  }
};

/// One generated sample (before writing): the id, label and the float16 cadence.
struct SynthSample {
  std::string id;
  int target = 0;
  std::vector<std::uint16_t> data;  // (6, tchans, fchans) float16 bits
  double snr = 0.0, drift = 0.0;    // the positive's signal: setigen SNR and mean drift rate (Hz/s); 0 otherwise
};

/// What random_signal drew, for the truth files.
struct SignalDraw {
  double snr = 0.0, drift = 0.0;
};

/// A random narrow-band signal whose path stays inside the band for `duration` seconds.
inline Signal random_signal(RandomStream& rng, const SynthOptions& o, const FrameParams& p, double duration,
                            double noise_std, SignalDraw* drawn = nullptr) {
  Signal s;
  const double drift = rng.uniform(o.drift_min, o.drift_max) * (rng.bernoulli(0.5) ? 1.0 : -1.0);
  const double u = rng.uniform();
  s.path.kind = u < 0.7 ? PathKind::constant : (u < 0.85 ? PathKind::squared : PathKind::sine);
  s.path.drift_rate = s.path.kind == PathKind::squared ? 2.0 * drift / duration : drift;  // same end offset
  if (s.path.kind == PathKind::sine) {
    s.path.period = duration * rng.uniform(0.1, 0.5);
    s.path.amplitude = p.df * rng.uniform(2.0, 8.0);
  }
  // Start so that the whole path stays inside the band (with a margin of 8 channels).
  const double span = std::abs(drift * duration) + 2.0 * s.path.amplitude;
  const double lo = p.freq(0) + 8.0 * p.df, hi = p.freq(p.fchans - 1) - 8.0 * p.df;
  const double room = std::max(0.0, (hi - lo) - span);
  const double start_min = drift >= 0 ? lo + s.path.amplitude : lo + span - s.path.amplitude;
  s.path.f_start = start_min + rng.uniform() * room;

  const double w = rng.uniform(o.width_min, o.width_max);
  const double f = rng.uniform();
  s.f_profile.kind = f < 0.6 ? FProfileKind::gaussian : (f < 0.8 ? FProfileKind::sinc2 : FProfileKind::box);
  s.f_profile.width = w;
  const double snr = rng.uniform(o.snr_min, o.snr_max);
  const double level = p.intensity(snr, noise_std);
  if (drawn != nullptr) *drawn = {snr, drift};
  if (rng.bernoulli(0.3)) {  // scintillating: a slow sinusoidal modulation of the level
    s.t_profile = {TProfileKind::sine, level, duration * rng.uniform(0.05, 0.3), rng.uniform(0.0, duration),
                   0.5 * level};
  } else {
    s.t_profile = {TProfileKind::constant, level, 1.0, 0.0, 0.0};
  }
  return s;
}

/// A 15-hex-digit id (as the competition's), from (seed, split, index).
inline std::string synth_id(std::uint64_t seed, Split split, std::uint32_t index) {
  RandomStream rng(seed, static_cast<std::uint32_t>(split), index, 0xC0FFEEu);
  const std::uint64_t x = rng.next_u64() >> 4;
  static constexpr char hex[] = "0123456789abcdef";
  std::string id(15, '0');
  for (int k = 0; k < 15; ++k) id[static_cast<std::size_t>(14 - k)] = hex[(x >> (4 * k)) & 0xF];
  return id;
}

inline SynthSample make_sample(const SynthOptions& o, Split split, std::uint32_t index) {
  const FrameParams p{o.fchans, o.tchans};
  RandomStream rng(o.seed, static_cast<std::uint32_t>(split), index, StreamId::synth);
  SynthSample s{synth_id(o.seed, split, index), rng.bernoulli(o.positive_rate) ? 1 : 0, {}};
  const bool rfi = rng.bernoulli(o.rfi_rate);
  const std::int64_t panel = p.tchans * p.fchans;
  const double T = static_cast<double>(p.tchans) * p.dt;  // one panel's duration
  const double noise_std = p.noise_std(o.x_mean);

  std::vector<float> cadence(static_cast<std::size_t>(6 * panel));
  chi2_noise(cadence, p, o.x_mean, rng);
  auto panel_span = [&](int k) {
    return std::span<float>(cadence.data() + k * panel, static_cast<std::size_t>(panel));
  };
  if (s.target == 1) {
    SignalDraw drawn;
    const Signal sig = random_signal(rng, o, p, 6 * T, noise_std, &drawn);
    s.snr = drawn.snr;
    s.drift = drawn.drift;
    for (int k : {0, 2, 4}) add_signal(panel_span(k), p, sig, k * T);
  }
  if (rfi) {
    const Signal sig = random_signal(rng, o, p, 6 * T, noise_std);
    for (int k = 0; k < 6; ++k) add_signal(panel_span(k), p, sig, k * T);
  }
  if (o.standardize)
    for (int k = 0; k < 6; ++k) standardize(panel_span(k));
  s.data.resize(cadence.size());
  std::transform(cadence.begin(), cadence.end(), s.data.begin(), float_to_half);
  return s;
}

/// Writes the whole dataset under o.root. A `.complete` file (the options as JSON) is written last:
/// its presence means the dataset is whole.
inline void generate(const SynthOptions& o, bool quiet = false) {
  namespace fs = std::filesystem;
  o.validate();
  const std::int64_t shape[3] = {6, o.tchans, o.fchans};
  struct Job {
    Split split;
    std::uint32_t index;
  };
  std::vector<Job> jobs;
  for (auto [split, n] : {std::pair{Split::train, o.train}, {Split::test, o.test}, {Split::old, o.old}})
    for (int i = 0; i < n; ++i) jobs.push_back({split, static_cast<std::uint32_t>(i)});

  std::set<std::string> seen;
  for (const auto& j : jobs)
    if (!seen.insert(synth_id(o.seed, j.split, j.index)).second) fail("synth: id collision; choose another seed");

  std::vector<int> targets(jobs.size());
  std::vector<SignalDraw> signals(jobs.size());
  std::atomic<std::size_t> next{0}, written{0};
  std::exception_ptr error;
  std::mutex error_m;
  auto worker = [&] {
    for (std::size_t k; (k = next.fetch_add(1)) < jobs.size();) {
      try {
        const SynthSample s = make_sample(o, jobs[k].split, jobs[k].index);
        targets[k] = s.target;
        signals[k] = {s.snr, s.drift};
        npy::write_f16(npy_path(o.root / layout_of(jobs[k].split).dir, s.id), shape, s.data);
      } catch (...) {
        std::lock_guard lk(error_m);
        if (!error) error = std::current_exception();
        next = jobs.size();
      }
      ++written;
    }
  };
  const int n = o.threads > 0 ? o.threads : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  {
    Progress bar("synth", static_cast<std::int64_t>(jobs.size()), quiet, "files");
    std::vector<std::thread> pool;
    for (int t = 0; t < n; ++t) pool.emplace_back(worker);
    for (std::size_t last = 0; last < jobs.size() && !error;) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
      const std::size_t now = written.load();
      bar.advance(static_cast<std::int64_t>(now - last));
      last = now;
      if (next.load() >= jobs.size() && now >= jobs.size()) break;
    }
    for (auto& t : pool) t.join();
  }
  if (error) std::rethrow_exception(error);

  enum class Columns { target, fill, truth };
  auto write_csv = [&](const fs::path& file, Split split, Columns columns) {
    write_text_atomically(o.root / file, [&](std::ostream& out) {
      out << (columns == Columns::truth ? "id,target,snr,drift\n" : "id,target\n");
      char buf[64];
      for (std::size_t k = 0; k < jobs.size(); ++k) {
        if (jobs[k].split != split) continue;
        out << synth_id(o.seed, split, jobs[k].index) << ',';
        if (columns == Columns::fill)
          out << "0.5\n";
        else
          out << targets[k];
        if (columns == Columns::target) out << '\n';
        if (columns != Columns::truth) continue;
        if (targets[k] == 1)
          std::snprintf(buf, sizeof buf, ",%.3f,%.6f\n", signals[k].snr, signals[k].drift);
        else
          std::snprintf(buf, sizeof buf, ",,\n");
        out << buf;
      }
    });
  };
  write_csv(layout_of(Split::train).labels, Split::train, Columns::target);
  write_csv(kTrainSignals, Split::train, Columns::truth);
  write_csv(layout_of(Split::test).labels, Split::test, Columns::fill);
  write_csv(kTestLabels, Split::test, Columns::truth);
  write_csv(layout_of(Split::old).labels, Split::old, Columns::target);
  write_text_atomically(o.root / ".complete", [&](std::ostream& out) { out << config::write(o).dump(2) << '\n'; });
}

}  // namespace cadence::synth
