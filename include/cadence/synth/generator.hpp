#pragma once
// A complete synthetic dataset in the competition's layout, with setigen's physics:
//
//   train_labels.csv, train/<id[0]>/<id>.npy        labelled, ~positive_rate positives
//   sample_submission.csv, test/<id[0]>/<id>.npy    unlabelled; the truth goes to test_labels.csv
//   test_labels.csv, train_signals.csv              id,target,snr,drift,signal,interference,energy,
//                                                   signal_params,interference_params: each positive's
//                                                   injected SNR, mean drift rate (Hz/s), signal family,
//                                                   ON-panel energy and parameters; each sample's
//                                                   interference and its parameters
//   old_leaky_data/train_labels_old.csv, old_leaky_data/train_old/...   for pretraining
//
// Each file is float16 (6, tchans, fchans), the cadence ABACAD. Every panel is chi2 noise. A positive
// carries a narrow-band signal in the ON panels 0, 2, 4 (its path continues through the OFF panels,
// where it is absent, as a real technosignature would be; the skip_panel family drops one ON panel
// too). Interference (rfi_rate of the samples, either class) is one of the families in
// synth/families.hpp. Train and old are drawn from one family set, test from another when the
// test_ lists are given. Each sample depends only on (seed, split, index), so the same seed writes
// byte-identical files with any thread count.
#include <algorithm>
#include <atomic>
#include <bit>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <numbers>
#include <set>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "cadence/config/options.hpp"
#include "cadence/core/atomic_file.hpp"
#include "cadence/core/progress.hpp"
#include "cadence/core/random.hpp"
#include "cadence/data/csv.hpp"
#include "cadence/data/half.hpp"
#include "cadence/data/kaggle.hpp"
#include "cadence/data/layout.hpp"
#include "cadence/data/npy.hpp"
#include "cadence/synth/families.hpp"
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
  std::string snr_dist = "uniform";  // uniform | log_uniform (most positives faint)
  double drift_min = 0.001;          // |drift rate|, Hz/s; the sign is random
  double drift_max = 0.012;          // 0.012 Hz/s moves ~130 channels over a cadence
  double width_min = 4.0;            // signal width, Hz (gaussian FWHM, sinc2 zero-crossing width, box width)
  double width_max = 20.0;
  double x_mean = 10.0;     // noise mean before standardisation
  bool standardize = true;  // per-panel zero mean, unit variance (as the competition's files)
  int tchans = 273;         // rows per panel
  int fchans = 256;         // channels
  std::uint64_t seed = 0;
  int threads = 0;  // 0 = all cores
  // Families (synth/families.hpp), comma-separated; train and old draw from these, test from the
  // test_ lists where given (empty, or a negative test_skip_panel: as train).
  std::string paths = "straight,quadratic,sine";       // signal paths (+ random_walk)
  std::string intensities = "constant,scintillating";  // (+ pulsed)
  std::string profiles = "gaussian,sinc2,box";
  std::string interference = "drifting";  // (+ static, off_only, broadband, switching, dc_spike, ripple, faint_off)
  double skip_panel = 0.0;                // fraction of positives missing from one ON panel
  std::string test_paths, test_intensities, test_profiles, test_interference, test_snr_dist;
  double test_skip_panel = -1.0;

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
    v("snr_dist", snr_dist, config::OneOf{{"uniform", "log_uniform"}});
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
    v("paths", paths, family_list(kPaths));
    v("intensities", intensities, family_list(kIntensities));
    v("profiles", profiles, family_list(kProfiles));
    v("interference", interference, family_list(kInterference));
    v("skip_panel", skip_panel, config::probability());
    v("test_paths", test_paths, family_list(kPaths, true));
    v("test_intensities", test_intensities, family_list(kIntensities, true));
    v("test_profiles", test_profiles, family_list(kProfiles, true));
    v("test_interference", test_interference, family_list(kInterference, true));
    v("test_snr_dist", test_snr_dist, config::OneOf{{"", "uniform", "log_uniform"}});
    v("test_skip_panel", test_skip_panel, config::in_range(-1.0, 1.0));
  }

  /// The families a split is drawn from.
  Families families(Split split) const {
    const bool test = split == Split::test;
    auto pick = [&](const std::string& own, const std::string& test_list) {
      return test && !test_list.empty() ? test_list : own;
    };
    Families f;
    f.paths = parse_families(pick(paths, test_paths), kPaths, "/paths");
    f.intensities = parse_families(pick(intensities, test_intensities), kIntensities, "/intensities");
    f.profiles = parse_families(pick(profiles, test_profiles), kProfiles, "/profiles");
    f.interference = parse_families(pick(interference, test_interference), kInterference, "/interference");
    f.log_snr = pick(snr_dist, test_snr_dist) == "log_uniform";
    f.skip_panel = test && test_skip_panel >= 0.0 ? test_skip_panel : skip_panel;
    return f;
  }

  void validate() const {
    if (snr_min > snr_max) fail("/snr_min: ", snr_min, " is above snr_max ", snr_max);
    if (drift_min > drift_max) fail("/drift_min: ", drift_min, " is above drift_max ", drift_max);
    if (width_min > width_max) fail("/width_min: ", width_min, " is above width_max ", width_max);
  }
};

/// `cadence-synth --preset shift`: the project's shift benchmark (bench/quality.sh, docs/quality.md).
/// Train and old see straight, faint signals (SNR 3-20, log-uniform) and interference in all six
/// panels only; test (1000 cadences) adds every path, pulsed signals, signals that skip an ON panel and every kind of
/// interference but faint_off (kInterferenceFirstSeven). Options given beside the preset override it.
inline config::json shift_preset() {
  return {{"seed", 2027},
          {"test", 1000},  // 100 positives: enough to rank each family's few against the negatives
          {"snr_min", 3.0},
          {"snr_max", 20.0},
          {"snr_dist", "log_uniform"},
          {"rfi_rate", 0.3},
          {"paths", "straight"},
          {"interference", "drifting,static"},
          {"test_paths", family_names(kPaths)},
          {"test_intensities", family_names(kIntensities)},
          {"test_skip_panel", 0.2},
          {"test_interference", kInterferenceFirstSeven}};
}

/// One generated sample (before writing): the id, label and the float16 cadence.
struct SynthSample {
  std::string id;
  int target = 0;
  std::vector<std::uint16_t> data;  // (6, tchans, fchans) float16 bits
  double snr = 0.0, drift = 0.0;    // the positive's signal: setigen SNR and mean drift rate (Hz/s); 0 otherwise
  FamilyDraw family;                // what the signal and the interference were drawn as
};

/// A truth file's parameter list, `key=value;key=value` (no commas: it is one CSV field). Keys carry
/// their unit (`_s`, `_hz`, `_channels`); numbers print with nine significant digits.
class Params {
 public:
  Params& add(std::string_view key, double value) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.9g", value);  // a time of ~20,000 s to the 0.1 ms
    return add(key, std::string_view(buf));
  }
  Params& add(std::string_view key, std::string_view value) {  // a name (no comma, semicolon or '=')
    if (!text_.empty()) text_ += ';';
    text_.append(key).append("=").append(value);
    return *this;
  }
  Params& add(const std::string& more) {  // another list, appended
    if (!more.empty() && !text_.empty()) text_ += ';';
    text_ += more;
    return *this;
  }
  const std::string& str() const { return text_; }

 private:
  std::string text_;
};

/// What random_signal drew, for the truth files.
struct SignalDraw {
  double snr = 0.0, drift = 0.0;
  std::string family;        // path+intensity+profile
  std::string path_params;   // key=value;... (Params): where the path starts and what its family leaves open
  std::string shape_params;  // the same for its width and its intensity over time
  std::string params() const { return Params{}.add(path_params).add(shape_params).str(); }
};

/// The energy of `s` in the ON panels (0, 2, 4 but `skip`) relative to a constant signal of its SNR over
/// all three: the mean over their rows of its level, sampled as add_signal samples it, over the nominal
/// level. 1 for a constant signal, about the duty cycle for a pulsed one, 2/3 for one that skips a panel;
/// `snr * energy` is the SNR of the constant signal with the same summed intensity.
inline double on_energy(const Signal& s, const FrameParams& p, int skip = -1) {
  if (s.t_profile.level == 0.0) return 0.0;
  const double T = static_cast<double>(p.tchans) * p.dt;
  double sum = 0.0;
  for (int k : {0, 2, 4}) {
    if (k == skip) continue;
    for (std::int64_t i = 0; i < p.tchans; ++i) sum += s.t_profile.at(k * T + static_cast<double>(i) * p.dt);
  }
  return sum / (3.0 * static_cast<double>(p.tchans) * s.t_profile.level);
}

/// A random narrow-band signal of the families `f` whose path stays inside the band for `duration`
/// seconds. With the default families the draws are the generator's from before families existed.
inline Signal random_signal(RandomStream& rng, const SynthOptions& o, const Families& f, const FrameParams& p,
                            double duration, double noise_std, SignalDraw* drawn = nullptr) {
  Signal s;
  double walk_step = 0.0;
  const double drift = rng.uniform(o.drift_min, o.drift_max) * (rng.bernoulli(0.5) ? 1.0 : -1.0);
  const std::size_t path = pick_family(rng.uniform(), f.paths, kPaths);
  static constexpr PathKind kinds[] = {PathKind::constant, PathKind::squared, PathKind::sine, PathKind::random_walk};
  s.path.kind = kinds[path];
  s.path.drift_rate = s.path.kind == PathKind::squared ? 2.0 * drift / duration : drift;  // same end offset
  if (s.path.kind == PathKind::sine) {
    s.path.period = duration * rng.uniform(0.1, 0.5);
    s.path.amplitude = p.df * rng.uniform(2.0, 8.0);
  }
  if (s.path.kind == PathKind::random_walk) {  // steps of 0.2-1 channels per row, kept within +-16 channels
    RandomStream walk(rng.next_u64(), 0, 0, StreamId::synth);
    walk_step = p.df * rng.uniform(0.2, 1.0);
    const double step = walk_step;
    s.path.amplitude = 16.0 * p.df;
    s.path.walk_dt = p.dt;
    s.path.walk.resize(static_cast<std::size_t>(duration / p.dt) + 2);
    double x = 0.0;
    for (double& w : s.path.walk) {
      w = x;
      x += step * walk.normal();
      if (std::abs(x) > s.path.amplitude) x = std::copysign(2.0 * s.path.amplitude, x) - x;  // reflect
    }
  }
  // Start so that the whole path stays inside the band (with a margin of 8 channels).
  const double span = std::abs(drift * duration) + 2.0 * s.path.amplitude;
  const double lo = p.freq(0) + 8.0 * p.df, hi = p.freq(p.fchans - 1) - 8.0 * p.df;
  const double room = std::max(0.0, (hi - lo) - span);
  const double start_min = drift >= 0 ? lo + s.path.amplitude : lo + span - s.path.amplitude;
  s.path.f_start = start_min + rng.uniform() * room;

  const double w = rng.uniform(o.width_min, o.width_max);
  const std::size_t profile = pick_family(rng.uniform(), f.profiles, kProfiles);
  static constexpr FProfileKind profiles[] = {FProfileKind::gaussian, FProfileKind::sinc2, FProfileKind::box};
  s.f_profile.kind = profiles[profile];
  s.f_profile.width = w;
  const double u_snr = rng.uniform();
  const double snr =
      f.log_snr ? o.snr_min * std::pow(o.snr_max / o.snr_min, u_snr) : o.snr_min + (o.snr_max - o.snr_min) * u_snr;
  const double level = p.intensity(snr, noise_std);
  const std::size_t intensity = pick_family(rng.uniform(), f.intensities, kIntensities);
  if (kIntensities[intensity].name == "scintillating") {  // a slow sinusoidal modulation of the level
    s.t_profile = {TProfileKind::sine, level, duration * rng.uniform(0.05, 0.3), rng.uniform(0.0, duration),
                   0.5 * level};
  } else if (kIntensities[intensity].name == "pulsed") {  // on for 20-60% of a 1-20 row period
    s.t_profile = {TProfileKind::pulsed,       level, p.dt * rng.uniform(1.0, 20.0),
                   rng.uniform(0.0, duration), 0.0,   rng.uniform(0.2, 0.6)};
  } else {
    s.t_profile = {TProfileKind::constant, level, 1.0, 0.0, 0.0};
  }
  if (drawn != nullptr) {
    Params at, shape;
    at.add("start_channel", (s.path.f_start - p.freq(0)) / p.df);
    if (s.path.kind == PathKind::sine)
      at.add("path_period_s", s.path.period).add("path_amplitude_hz", s.path.amplitude);
    if (s.path.kind == PathKind::random_walk) at.add("walk_step_hz", walk_step).add("walk_bound_hz", s.path.amplitude);
    shape.add("width_hz", w);
    if (s.t_profile.kind == TProfileKind::sine)
      shape.add("scint_period_s", s.t_profile.period)
          .add("scint_phase_s", s.t_profile.phase)
          .add("scint_depth", s.t_profile.amplitude / level);
    if (s.t_profile.kind == TProfileKind::pulsed)
      shape.add("pulse_period_s", s.t_profile.period)
          .add("pulse_phase_s", s.t_profile.phase)
          .add("duty", s.t_profile.duty);
    *drawn = {snr, drift,
              std::string(kPaths[path].name) + "+" + std::string(kIntensities[intensity].name) + "+" +
                  std::string(kProfiles[profile].name),
              at.str(), shape.str()};
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

namespace detail {
using PanelSpan = std::function<std::span<float>(int)>;

/// Adds interference of kind `kind` (an index into kInterference) to the six panels. `rng` is the
/// sample's stream (the drifting kind draws exactly what the generator drew before families);
/// `extra` the sample's second stream, for what only the newer kinds draw.
/// `params` (when given) gets what was drawn (Params: the line's SNR, drift and path for the narrowband kinds, the
/// burst's panel and rows, the spike's gain, the ripple's depth and period).
inline void add_interference(std::size_t kind, const PanelSpan& panel, std::span<float> cadence, RandomStream& rng,
                             RandomStream& extra, const SynthOptions& o, const Families& f, const FrameParams& p,
                             double noise_std, std::string* params = nullptr) {
  const double T = static_cast<double>(p.tchans) * p.dt;
  const std::string_view name = kInterference[kind].name;
  Params drawn;
  if (name == "drifting" || name == "static" || name == "off_only" || name == "switching" || name == "faint_off") {
    SignalDraw line;
    Signal sig = random_signal(rng, o, f, p, 6 * T, noise_std, &line);
    drawn.add("snr", line.snr);
    if (name == "static") {  // the line's width and intensity as drawn, at a channel of its own, no drift
      sig.path.kind = PathKind::constant;
      sig.path.drift_rate = 0.0;
      sig.path.f_start = p.freq(extra.randint(8, p.fchans - 9));
      drawn.add("line", "straight" + line.family.substr(line.family.find('+')))
          .add("drift_hz_s", 0.0)
          .add("start_channel", (sig.path.f_start - p.freq(0)) / p.df)
          .add(line.shape_params);
    } else {
      drawn.add("line", line.family).add("drift_hz_s", line.drift).add(line.params());
    }
    if (name == "switching") {  // on from, or off after, a time in the middle 70% of the cadence
      const double at = extra.uniform(0.15, 0.85) * 6 * T;
      const bool on = extra.bernoulli(0.5);
      (on ? sig.t_profile.on_from : sig.t_profile.on_until) = at;
      drawn.add(on ? "on_from_s" : "on_until_s", at);
    }
    if (name == "faint_off") {  // as drifting, but 0.15-0.4 of its level in the OFF panels: below a hit
      Signal off = sig;         // threshold there while the ON panels clear it (find_event's filter passes it)
      const double gain = extra.uniform(0.15, 0.4);
      off.t_profile.level *= gain;
      off.t_profile.amplitude *= gain;
      for (int k = 0; k < 6; ++k) add_signal(panel(k), p, k % 2 == 0 ? sig : off, k * T);
      drawn.add("off_gain", gain);
      if (params != nullptr) *params = drawn.str();
      return;
    }
    for (int k = name == "off_only" ? 1 : 0; k < 6; k += name == "off_only" ? 2 : 1)
      add_signal(panel(k), p, sig, k * T);
    if (params != nullptr) *params = drawn.str();
    return;
  }
  const double snr =
      f.log_snr ? o.snr_min * std::pow(o.snr_max / o.snr_min, extra.uniform()) : extra.uniform(o.snr_min, o.snr_max);
  const double level = p.intensity(snr, noise_std);
  drawn.add("snr", snr);
  if (name == "broadband") {  // 1-8 rows of one ON panel, every channel
    const int k = 2 * static_cast<int>(extra.randint(0, 2));
    const auto rows = extra.randint(1, 8);
    const auto r0 = extra.randint(0, p.tchans - rows);
    drawn.add("panel", k).add("first_row", static_cast<double>(r0)).add("rows", static_cast<double>(rows));
    auto img = panel(k);
    for (auto r = r0; r < r0 + rows; ++r)
      for (std::int64_t j = 0; j < p.fchans; ++j)
        img[static_cast<std::size_t>(r * p.fchans + j)] += static_cast<float>(level);
  } else if (name == "dc_spike") {  // the middle channel, all rows of all panels, 2-10x a signal's level
    const double gain = extra.uniform(2.0, 10.0);
    drawn.add("channel", static_cast<double>(p.fchans / 2)).add("gain", gain);
    for (int k = 0; k < 6; ++k) {
      auto img = panel(k);
      for (std::int64_t r = 0; r < p.tchans; ++r)
        img[static_cast<std::size_t>(r * p.fchans + p.fchans / 2)] += static_cast<float>(gain * level);
    }
  } else if (name == "ripple") {  // gain 1 + a sin(2 pi j / P + phi): a 2-20%, P 8-64 channels
    const double a = extra.uniform(0.02, 0.2), period = extra.uniform(8.0, 64.0),
                 phi = extra.uniform(0.0, 2.0 * std::numbers::pi);
    drawn = Params{};  // a gain, not a level: no SNR
    drawn.add("depth", a).add("period_channels", period).add("phase_rad", phi);
    std::vector<float> gain(static_cast<std::size_t>(p.fchans));
    for (std::int64_t j = 0; j < p.fchans; ++j)
      gain[static_cast<std::size_t>(j)] =
          static_cast<float>(1.0 + a * std::sin(2.0 * std::numbers::pi * static_cast<double>(j) / period + phi));
    for (std::size_t i = 0; i < cadence.size(); ++i) cadence[i] *= gain[i % gain.size()];
  }
  if (params != nullptr) *params = drawn.str();
}
}  // namespace detail

inline SynthSample make_sample(const SynthOptions& o, Split split, std::uint32_t index) {
  const FrameParams p{o.fchans, o.tchans};
  const Families f = o.families(split);
  RandomStream rng(o.seed, static_cast<std::uint32_t>(split), index, StreamId::synth);
  // the newer families' draws come from a second stream, so the default families draw what they always did
  RandomStream extra(o.seed, static_cast<std::uint32_t>(split), index, StreamId::synth_families);
  SynthSample s{synth_id(o.seed, split, index), rng.bernoulli(o.positive_rate) ? 1 : 0, {}, 0.0, 0.0, {}};
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
    const Signal sig = random_signal(rng, o, f, p, 6 * T, noise_std, &drawn);
    s.snr = drawn.snr;
    s.drift = drawn.drift;
    s.family.signal = drawn.family;
    const int skip =
        f.skip_panel > 0.0 && extra.bernoulli(f.skip_panel) ? 2 * static_cast<int>(extra.randint(0, 2)) : -1;
    if (skip >= 0) s.family.signal += "+skip" + std::to_string(skip);
    s.family.signal_params = skip >= 0 ? Params{}.add(drawn.params()).add("skip_panel", skip).str() : drawn.params();
    s.family.energy = on_energy(sig, p, skip);
    for (int k : {0, 2, 4})
      if (k != skip) add_signal(panel_span(k), p, sig, k * T);
  }
  if (rfi) {
    const std::size_t kind = std::popcount(f.interference) == 1
                                 ? static_cast<std::size_t>(std::countr_zero(f.interference))
                                 : pick_family(extra.uniform(), f.interference, kInterference);
    s.family.interference = std::string(kInterference[kind].name);
    detail::add_interference(kind, panel_span, cadence, rng, extra, o, f, p, noise_std, &s.family.interference_params);
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

  struct Truth {  // what the truth files say of one sample
    int target = 0;
    double snr = 0.0, drift = 0.0;
    FamilyDraw family;
  };
  std::vector<Truth> truth(jobs.size());
  std::atomic<std::size_t> next{0}, written{0};
  std::exception_ptr error;
  std::mutex error_m;
  auto worker = [&] {
    for (std::size_t k; (k = next.fetch_add(1)) < jobs.size();) {
      try {
        const SynthSample s = make_sample(o, jobs[k].split, jobs[k].index);
        truth[k] = {s.target, s.snr, s.drift, s.family};
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
      out << (columns == Columns::truth ? std::string(csv::kTruthHeader) + "\n" : std::string("id,target\n"));
      char buf[64];
      for (std::size_t k = 0; k < jobs.size(); ++k) {
        if (jobs[k].split != split) continue;
        out << synth_id(o.seed, split, jobs[k].index) << ',';
        const Truth& t = truth[k];
        if (columns == Columns::fill)
          out << "0.5\n";
        else
          out << t.target;
        if (columns == Columns::target) out << '\n';
        if (columns != Columns::truth) continue;
        if (t.target == 1)
          std::snprintf(buf, sizeof buf, ",%.3f,%.6f,", t.snr, t.drift);
        else
          std::snprintf(buf, sizeof buf, ",,,");
        out << buf << t.family.signal << ',' << t.family.interference << ',';
        if (t.target == 1) {
          std::snprintf(buf, sizeof buf, "%.4f", t.family.energy);
          out << buf;
        }
        out << ',' << t.family.signal_params << ',' << t.family.interference_params << '\n';
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
