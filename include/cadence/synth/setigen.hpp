#pragma once
// The physics of Breakthrough Listen's setigen (2.7), for synthetic cadences.
//
// A frame is tchans x fchans (time x frequency). Row i is at t = t0 + i*dt (row start); column j is at
// fs[j] = fch1 + j*df (ascending) or fch1 - (fchans-1-j)*df (descending: fch1 is the top channel).
// A signal adds t_profile(t) * f_profile(fs[j] - path(t)) at each pixel (setigen's defaults: no
// sub-pixel integration, no Doppler smearing). Noise is chi-squared with 4*round(df*dt) degrees of
// freedom scaled to mean x_mean, as Frame.add_noise(noise_type='chi2'). tests/data/setigen holds the
// oracle frames made by setigen itself.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <numbers>
#include <span>
#include <vector>

#include "cadence/core/random.hpp"

namespace cadence::synth {

struct FrameParams {
  std::int64_t fchans = 256, tchans = 273;
  double df = 2.7939677238464355;  // Hz per channel (setigen's default)
  double dt = 18.253611008;        // s per row
  double fch1 = 6e9;               // Hz
  bool ascending = false;

  double freq(std::int64_t j) const {
    return ascending ? fch1 + static_cast<double>(j) * df : fch1 - static_cast<double>(fchans - 1 - j) * df;
  }
  /// Degrees of freedom of the chi-squared noise: 4 * round-half-even(df * dt).
  double chi2_df() const { return 4.0 * std::nearbyint(df * dt); }
  /// Standard deviation of chi2 noise with mean x_mean.
  double noise_std(double x_mean) const { return std::sqrt(2.0 * chi2_df()) * x_mean / chi2_df(); }
  /// setigen's Frame.get_intensity: the per-pixel level that gives `snr` integrated over the frame's rows.
  double intensity(double snr, double noise_std) const {
    return snr * noise_std / std::sqrt(static_cast<double>(tchans));
  }
};

// random_walk is not setigen's: a straight drift plus a walk of offsets `walk[i]` (Hz) at t = i * walk_dt,
// linearly interpolated between them (the wandering of a drifting RFI line, or a signal whose
// acceleration changes during the cadence).
enum class PathKind { constant, squared, sine, random_walk };
struct Path {
  PathKind kind = PathKind::constant;
  double f_start = 0.0;      // Hz
  double drift_rate = 0.0;   // Hz/s
  double period = 1.0;       // s (sine)
  double amplitude = 0.0;    // Hz (sine; random_walk: the bound of |walk|)
  std::vector<double> walk;  // Hz (random_walk)
  double walk_dt = 1.0;      // s between walk's offsets
  double at(double t) const {
    switch (kind) {
      case PathKind::constant:
        return f_start + drift_rate * t;
      case PathKind::squared:
        return f_start + 0.5 * drift_rate * t * t;
      case PathKind::sine:
        return f_start + amplitude * std::sin(2.0 * std::numbers::pi * t / period) + drift_rate * t;
      case PathKind::random_walk:
        return f_start + drift_rate * t + walk_at(t);
    }
    return f_start;
  }

 private:
  double walk_at(double t) const {
    if (walk.empty()) return 0.0;
    const double x = std::max(0.0, t / walk_dt);
    const auto i = static_cast<std::size_t>(x);
    if (i + 1 >= walk.size()) return walk.back();
    const double a = x - static_cast<double>(i);
    return (1.0 - a) * walk[i] + a * walk[i + 1];
  }
};

// pulsed is setigen's square_t_profile in spirit (on for `duty` of each period); on_from/on_until
// switch any profile on or off at a time (RFI that starts or stops during the cadence).
enum class TProfileKind { constant, sine, pulsed };
struct TProfile {
  TProfileKind kind = TProfileKind::constant;
  double level = 1.0;
  double period = 1.0, phase = 0.0, amplitude = 0.0;  // sine: amplitude*sin(2pi(t+phase)/period) + level
  double duty = 0.5;                                  // pulsed: the fraction of each period that is on
  double on_from = -1e300, on_until = 1e300;          // s: zero outside [on_from, on_until)
  double at(double t) const {
    if (t < on_from || t >= on_until) return 0.0;
    switch (kind) {
      case TProfileKind::sine:
        return amplitude * std::sin(2.0 * std::numbers::pi * (t + phase) / period) + level;
      case TProfileKind::pulsed: {
        const double x = (t + phase) / period;
        return x - std::floor(x) < duty ? level : 0.0;
      }
      case TProfileKind::constant:
        break;
    }
    return level;
  }
};

enum class FProfileKind { gaussian, sinc2, box };
struct FProfile {
  FProfileKind kind = FProfileKind::gaussian;
  double width = 1.0;               // Hz: gaussian FWHM; sinc2 distance between the zero crossings; box full width
  bool sinc2_fwhm = false;          // sinc2: `width` is the FWHM instead
  bool trunc = true;                // sinc2: zero outside the main lobe
  double at(double offset) const {  // offset = f - path(t), Hz
    switch (kind) {
      case FProfileKind::gaussian: {
        const double sigma = width / (2.0 * std::sqrt(2.0 * std::numbers::ln2));
        return std::exp(-offset * offset / (2.0 * sigma * sigma));
      }
      case FProfileKind::sinc2: {
        const double zc = sinc2_fwhm ? (width / 2.0) / 0.442946470689452 : width / 2.0;
        if (trunc && !(std::abs(offset) < zc)) return 0.0;
        const double x = std::numbers::pi * offset / zc;
        const double s = x == 0.0 ? 1.0 : std::sin(x) / x;
        return s * s;
      }
      case FProfileKind::box:
        return std::abs(offset) < width / 2.0 ? 1.0 : 0.0;
    }
    return 0.0;
  }
};

struct Signal {
  Path path;
  TProfile t_profile;
  FProfile f_profile;
};

/// Adds `s` to `frame` (tchans x fchans, row-major); rows start at time t0 (for a panel of a cadence,
/// t0 = panel * tchans * dt, so a signal continues across panels as the sky does).
inline void add_signal(std::span<float> frame, const FrameParams& p, const Signal& s, double t0 = 0.0) {
  for (std::int64_t i = 0; i < p.tchans; ++i) {
    const double t = t0 + static_cast<double>(i) * p.dt;
    const double centre = s.path.at(t);
    const double level = s.t_profile.at(t);
    float* row = frame.data() + i * p.fchans;
    for (std::int64_t j = 0; j < p.fchans; ++j)
      row[j] += static_cast<float>(level * s.f_profile.at(p.freq(j) - centre));
  }
}

/// Sets `frame` to chi-squared noise with mean x_mean (Frame.add_noise(x_mean, noise_type='chi2')).
inline void chi2_noise(std::span<float> frame, const FrameParams& p, double x_mean, RandomStream& rng) {
  const double k = p.chi2_df();
  for (float& v : frame) v = static_cast<float>(rng.chi_squared(k) * x_mean / k);
}

}  // namespace cadence::synth
