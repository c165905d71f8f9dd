#pragma once
// Inject: training-time injection, the 1st place's remedy for a test set whose signals the training
// labels lack. In each training pass, a negative cadence becomes, with probability `p`, a positive
// carrying a signal drawn from cadence-synth's families (synth/families.hpp: paths, intensities,
// profiles, one ON panel skipped) onto its own background; any cadence carries, with probability
// `rfi_p`, interference of the named kinds (OFF-only lines, broadband bursts, lines that switch on or
// off...), its label kept. The network so sees shapes and interference its labels never showed it.
//
//   auto p = Load{} | Inject{} | Background{} | Augment<VFlip, SSR>{} | Model<EffNetV2S>{};
//   "inject": { "p": 0.1, "rfi_p": 0.2, "paths": "straight,quadratic,sine,random_walk" }
//
// A cadence stage of training passes only (core/stage.hpp, `inject`): it runs in the source's readers
// on the raw cadence, before the other cadence stages (Background sees an injected signal as it sees a
// real one), and never in validation, out-of-fold or test prediction, so every AUC stays leak-free.
// The draws depend on (seed, epoch, dataset index) only: the same with any thread count and on resume,
// and a sample draws anew each epoch. The signal's level is setigen's (Frame.get_intensity) against
// the cadence's own noise, measured robustly (1.4826 x the median absolute deviation of a strided
// sample), so it works on standardised files (the competition's) and raw ones alike. Frequencies and
// drifts are in setigen's default frame (2.79 Hz, 18.25 s per row), as cadence-synth draws them.
#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "cadence/config/options.hpp"
#include "cadence/core/error.hpp"
#include "cadence/core/pipeline.hpp"
#include "cadence/core/random.hpp"
#include "cadence/synth/families.hpp"
#include "cadence/synth/generator.hpp"
#include "cadence/synth/setigen.hpp"

namespace cadence {

struct InjectOptions {
  double p = 0.0;                        // probability that a training negative gets a signal (and the label 1)
  double rfi_p = 0.0;                    // probability that a training cadence gets interference (its label kept)
  double snr_min = 5.0, snr_max = 25.0;  // setigen SNR of an injected signal or interference
  std::string snr_dist = "log_uniform";  // uniform | log_uniform
  double drift_min = 0.001, drift_max = 0.012;  // |drift rate|, Hz/s (cadence-synth's defaults)
  double width_min = 4.0, width_max = 20.0;     // Hz
  std::string paths = "straight,quadratic,sine,random_walk";
  std::string intensities = "constant,scintillating,pulsed";
  std::string profiles = "gaussian,sinc2,box";
  double skip_panel = 0.0;                                   // fraction of injected signals missing from one ON panel
  std::string interference{synth::kInterferenceFirstSeven};  // every kind but faint_off (opt in)

  template <class V>
  void fields(V& v) {
    auto not_below = [](const double& low) {
      return [&low](double x, const std::string& path) {
        if (x < low) fail(path, ": ", x, " is below the range's low end ", low);
      };
    };
    v("p", p, config::probability());
    v("rfi_p", rfi_p, config::probability());
    v("snr_min", snr_min, config::above(0.0));
    v("snr_max", snr_max, config::above(0.0), not_below(snr_min));
    v("snr_dist", snr_dist, config::OneOf{{"uniform", "log_uniform"}});
    v("drift_min", drift_min, config::at_least(0.0));
    v("drift_max", drift_max, config::at_least(0.0), not_below(drift_min));
    v("width_min", width_min, config::above(0.0));
    v("width_max", width_max, config::above(0.0), not_below(width_min));
    v("paths", paths, synth::family_list(synth::kPaths));
    v("intensities", intensities, synth::family_list(synth::kIntensities));
    v("profiles", profiles, synth::family_list(synth::kProfiles));
    v("skip_panel", skip_panel, config::probability());
    v("interference", interference, synth::family_list(synth::kInterference));
  }
};

namespace inject {

/// 1.4826 x the median absolute deviation of every `stride`-th value: the noise's standard deviation,
/// unmoved by a bright line or burst (a plain standard deviation is).
inline double robust_std(std::span<const float> x, std::size_t stride = 7) {
  thread_local std::vector<float> v;  // reused: this runs in the reader threads, once per injected sample
  v.clear();
  v.reserve(x.size() / stride + 1);
  for (std::size_t i = 0; i < x.size(); i += stride)
    if (std::isfinite(x[i])) v.push_back(x[i]);
  if (v.empty()) return 1.0;
  const auto mid = v.begin() + static_cast<std::ptrdiff_t>(v.size() / 2);
  std::nth_element(v.begin(), mid, v.end());
  const float median = *mid;
  for (float& a : v) a = std::abs(a - median);
  std::nth_element(v.begin(), mid, v.end());
  const double mad = 1.4826 * static_cast<double>(*mid);
  return mad > 0.0 ? mad : 1.0;
}

}  // namespace inject

struct Inject : Composes<Inject> {
  static constexpr std::string_view name = "inject";
  using Options = InjectOptions;
  Options options{};

  static std::string label() { return "Inject"; }

  /// Nothing to draw: the source keeps its fast path and training reads what the files hold.
  bool active() const { return options.p > 0.0 || options.rfi_p > 0.0; }

  /// The generator's options and families that the draws use.
  synth::SynthOptions synth_options() const {
    synth::SynthOptions o;
    o.snr_min = options.snr_min;
    o.snr_max = options.snr_max;
    o.snr_dist = options.snr_dist;
    o.drift_min = options.drift_min;
    o.drift_max = options.drift_max;
    o.width_min = options.width_min;
    o.width_max = options.width_max;
    o.paths = options.paths;
    o.intensities = options.intensities;
    o.profiles = options.profiles;
    o.interference = options.interference;
    o.skip_panel = options.skip_panel;
    return o;
  }

  /// Draws onto the raw cadence (panels x time x freq) of a training sample; returns its label.
  float inject(std::span<float> cadence, float target, const InjectKey& key) const {
    RandomStream rng(key.seed, key.epoch, static_cast<std::uint32_t>(key.index), StreamId::inject);
    const bool signal = target < 0.5f && rng.bernoulli(options.p);
    const bool rfi = rng.bernoulli(options.rfi_p);
    if (!signal && !rfi) return target;
    if (key.panels != 6) fail("inject: a cadence of ", key.panels, " panels; injection draws the ABACAD cadence's six");
    const synth::SynthOptions o = synth_options();
    const synth::Families f = o.families(Split::train);
    const synth::FrameParams fp{key.freq, key.time};
    const std::int64_t panel = key.time * key.freq;
    auto panel_span = [&](int k) {
      return cadence.subspan(static_cast<std::size_t>(k * panel), static_cast<std::size_t>(panel));
    };
    const double noise = inject::robust_std(cadence);
    const double T = static_cast<double>(key.time) * fp.dt;
    // a second stream for the interference, so that switching rfi_p on leaves the signals' draws as they were
    RandomStream extra(key.seed, key.epoch, static_cast<std::uint32_t>(key.index), StreamId::inject_extra);
    if (signal) {
      const synth::Signal sig = synth::random_signal(rng, o, f, fp, 6 * T, noise);
      const int skip = rng.bernoulli(f.skip_panel) ? 2 * static_cast<int>(rng.randint(0, 2)) : -1;
      for (int k : {0, 2, 4})
        if (k != skip) synth::add_signal(panel_span(k), fp, sig, k * T);
    }
    if (rfi) {
      const std::size_t kind = synth::pick_family(extra.uniform(), f.interference, synth::kInterference);
      RandomStream draw(key.seed, key.epoch, static_cast<std::uint32_t>(key.index), StreamId::inject_rfi);
      synth::detail::add_interference(kind, panel_span, cadence, draw, extra, o, f, fp, noise);
    }
    return signal ? 1.0f : target;
  }
};

}  // namespace cadence
