#pragma once
// The families a synthetic cadence is drawn from: what a positive's signal looks like (path, intensity,
// frequency profile, whether it skips an ON panel) and what interference a sample carries. Each is
// a comma-separated list of names in SynthOptions, one set for train and old, another (when given)
// for test, so a "train on A, test on B" shift benchmark is one cadence-synth command.
//
//   signal paths   straight (setigen's constant_path), quadratic (squared_path), sine (sine_path),
//                  random_walk (a straight drift plus a bounded random walk)
//   intensities    constant, scintillating (sine_t_profile), pulsed (on for a duty cycle of a period)
//   profiles       gaussian, sinc2, box
//   interference   drifting (narrowband in all six panels, any path), static (narrowband, zero drift,
//                  all six), off_only (narrowband in the OFF panels only), broadband (a burst of a few
//                  rows over every channel of one ON panel), switching (narrowband in all panels that
//                  switches on or off mid-cadence), dc_spike (one bright channel in all panels, as a
//                  coarse channel's DC bin), ripple (a multiplicative bandpass ripple over frequency),
//                  faint_off (drifting, at 0.15-0.4 of its level in the OFF panels: what passes an
//                  ON/OFF hit filter whose threshold the OFF panels stay below)
// Light: no LibTorch.
#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "cadence/core/error.hpp"

namespace cadence::synth {

/// One family list: its names, and each name's weight in a draw (the defaults' weights are the
/// generator's mixture before families existed, so the default dataset is byte-identical to it).
struct FamilyKind {
  std::string_view name;
  double weight;
};

inline constexpr std::array<FamilyKind, 4> kPaths{
    {{"straight", 0.7}, {"quadratic", 0.15}, {"sine", 0.15}, {"random_walk", 0.15}}};
// drawn in this order (scintillating first, as the generator's bernoulli(0.3) always did)
inline constexpr std::array<FamilyKind, 3> kIntensities{{{"scintillating", 0.3}, {"constant", 0.7}, {"pulsed", 0.3}}};
inline constexpr std::array<FamilyKind, 3> kProfiles{{{"gaussian", 0.6}, {"sinc2", 0.2}, {"box", 0.2}}};
inline constexpr std::array<FamilyKind, 8> kInterference{{{"drifting", 1.0},
                                                          {"static", 1.0},
                                                          {"off_only", 1.0},
                                                          {"broadband", 1.0},
                                                          {"switching", 1.0},
                                                          {"dc_spike", 1.0},
                                                          {"ripple", 1.0},
                                                          {"faint_off", 1.0}}};

/// The interference kinds before faint_off: the shift benchmark's test set and Inject's default name
/// these, so that their draws (and every AUC measured on them) stay as they were.
inline constexpr std::string_view kInterferenceFirstSeven =
    "drifting,static,off_only,broadband,switching,dc_spike,ripple";

/// The names of a list, comma-separated (for --help and errors).
template <std::size_t N>
std::string family_names(const std::array<FamilyKind, N>& kinds) {
  std::string out;
  for (const auto& k : kinds) {  // appended in steps: `"," + std::string` trips GCC 12's -Wstringop-overflow
    if (!out.empty()) out += ',';
    out += k.name;
  }
  return out;
}

/// A parsed list: bit i set when kinds[i] was named.
using FamilyMask = std::uint32_t;

template <std::size_t N>
FamilyMask parse_families(std::string_view text, const std::array<FamilyKind, N>& kinds, const std::string& path) {
  FamilyMask mask = 0;
  for (std::size_t at = 0; at <= text.size();) {
    const auto comma = text.find(',', at);
    const auto item = text.substr(at, comma == std::string_view::npos ? std::string_view::npos : comma - at);
    std::size_t i = 0;
    while (i < N && kinds[i].name != item) ++i;
    if (i == N)
      fail(path, ": unknown family \"", std::string(item.substr(0, 40)),
           "\" (expected a comma-separated list of: ", family_names(kinds), ")");
    mask |= FamilyMask{1} << i;
    if (comma == std::string_view::npos) break;
    at = comma + 1;
  }
  return mask;
}

/// The config check for a family list: names it knows, comma-separated; empty only where `empty_ok`
/// (a test_ list that means "as train").
template <std::size_t N>
struct FamilyList {
  const std::array<FamilyKind, N>* kinds;
  bool empty_ok = false;
  void operator()(const std::string& v, const std::string& path) const {
    if (v.empty()) {
      if (!empty_ok) fail(path, ": must name at least one of: ", family_names(*kinds));
      return;
    }
    parse_families(v, *kinds, path);
  }
};
template <std::size_t N>
FamilyList<N> family_list(const std::array<FamilyKind, N>& kinds, bool empty_ok = false) {
  return {&kinds, empty_ok};
}

/// Index of the kind that u in [0, 1) falls on, with the named kinds' weights renormalised.
template <std::size_t N>
std::size_t pick_family(double u, FamilyMask mask, const std::array<FamilyKind, N>& kinds) {
  double total = 0.0;
  for (std::size_t i = 0; i < N; ++i)
    if (mask >> i & 1u) total += kinds[i].weight;
  const double x = u * total;
  double edge = 0.0;
  std::size_t last = 0;
  for (std::size_t i = 0; i < N; ++i) {
    if (!(mask >> i & 1u)) continue;
    edge += kinds[i].weight;
    last = i;
    if (x < edge) return i;
  }
  return last;
}

/// One split's families, resolved from the options' lists.
struct Families {
  FamilyMask paths = 0, intensities = 0, profiles = 0, interference = 0;
  bool log_snr = false;     // SNR drawn log-uniformly (else uniformly) in [snr_min, snr_max]
  double skip_panel = 0.0;  // fraction of positives whose signal is missing from one ON panel
};

/// What one sample got, for the truth files: `signal` is path+intensity+profile (+skip<k> when the
/// signal misses ON panel k); `interference` the kind, both empty when absent; each one's parameters
/// as `key=value;...` (generator.hpp's Params), and the signal's ON-panel energy relative to a constant
/// signal of its SNR (0 without a signal).
struct FamilyDraw {
  std::string signal, interference;
  std::string signal_params, interference_params;
  double energy = 0.0;
};

}  // namespace cadence::synth
