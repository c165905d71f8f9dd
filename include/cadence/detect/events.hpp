#pragma once
// ON/OFF events from the six files' hits, with the rules of turboSETI's find_event (written from its
// documented method; its filter levels):
//   level 1: ON hits with a drift (|rate| > 0 unless zero drift is kept) and SNR above the cut;
//   level 2: those with no OFF hit within +-max_drift_rate x obs_length of their frequency (the .dat
//            header's search range: RFI that could be the same signal);
//   level 3: level-2 hits of the first ON file that have a level-2 hit in every other ON file within
//            the range the drift predicts: f + rate x dt, +-|rate| x 2 obs_length, dt between the files'
//            starts (MJD).
// An event is a hit of the first ON file with its partners (level 3), or a single ON hit (levels 1, 2).
// Light: no LibTorch.
#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <optional>
#include <vector>

#include "cadence/detect/dat_file.hpp"

namespace cadence::detect {

struct EventOptions {
  int level = 3;            // find_event's filter_threshold
  double snr = 10.0;        // SNR_cut
  bool zero_drift = false;  // check_zero_drift: keep hits at exactly 0 Hz/s
};

/// One event: its hit in each ON file (index into that file's hits; -1 = none), and the first hit's
/// values.
struct Event {
  std::array<int, 3> hit{-1, -1, -1};  // per ON file (cadence positions 0, 2, 4)
  int on = 0;                          // which ON file the defining hit is from (levels 1, 2)
  double frequency = 0.0;              // MHz, the defining hit's, at its file's first sample
  double drift = 0.0;                  // Hz/s
  double snr = 0.0;
};

namespace detail {

inline bool in_open_range(double f, double lo, double hi) { return f > lo && f < hi; }

/// find_event's calc_freq_range for the OFF check: the hit's frequency +- |max_drift_rate| x obs_length.
inline std::pair<double, double> rfi_range(const DatFile& file, const DatHit& hit) {
  double rate = file.max_drift;
  if (rate == 0.0) rate = file.deltaf_hz / file.deltat;
  const double half = std::abs(rate) * file.obs_length / 1e6;
  return {hit.frequency - half, hit.frequency + half};
}

/// find_event's follow_event range in an ON file starting `dt` seconds after the first.
inline std::pair<double, double> follow_range(const DatFile& file, const DatHit& hit, double dt) {
  double rate = hit.drift;
  if (rate == 0.0) rate = file.deltaf_hz / file.deltat;
  const double f = hit.frequency + rate * dt / 1e6;
  const double half = std::abs(rate) * 2.0 * file.obs_length / 1e6;
  return {f - half, f + half};
}

}  // namespace detail

/// The events of a cadence: `on` and `off` are the three ON and three OFF files' .dat contents, in
/// observing order.
inline std::vector<Event> find_events(const std::array<const DatFile*, 3>& on, const std::array<const DatFile*, 3>& off,
                                      const EventOptions& o) {
  std::array<std::vector<int>, 3> kept;  // per ON file: the hits that pass the level's filters
  for (int k = 0; k < 3; ++k)
    for (int i = 0; i < static_cast<int>(on[k]->hits.size()); ++i) {
      const DatHit& x = on[k]->hits[static_cast<std::size_t>(i)];
      if (!o.zero_drift && x.drift == 0.0) continue;
      if (!(std::abs(x.snr) > std::abs(o.snr))) continue;
      if (o.level >= 2) {
        const auto [lo, hi] = detail::rfi_range(*on[k], x);
        bool rfi = false;
        for (const DatFile* f : off)
          for (const DatHit& y : f->hits) rfi = rfi || detail::in_open_range(y.frequency, lo, hi);
        if (rfi) continue;
      }
      kept[static_cast<std::size_t>(k)].push_back(i);
    }
  std::vector<Event> events;
  auto event_of = [&](int k, int i) {
    const DatHit& x = on[static_cast<std::size_t>(k)]->hits[static_cast<std::size_t>(i)];
    Event e;
    e.on = k;
    e.hit[static_cast<std::size_t>(k)] = i;
    e.frequency = x.frequency;
    e.drift = x.drift;
    e.snr = x.snr;
    return e;
  };
  if (o.level < 3) {
    for (int k = 0; k < 3; ++k)
      for (int i : kept[static_cast<std::size_t>(k)]) events.push_back(event_of(k, i));
    return events;
  }
  for (int i : kept[0]) {
    Event e = event_of(0, i);
    const DatHit& x = on[0]->hits[static_cast<std::size_t>(i)];
    bool everywhere = true;
    for (int k = 1; k < 3 && everywhere; ++k) {
      const double dt = (on[static_cast<std::size_t>(k)]->mjd - on[0]->mjd) * 86400.0;
      const auto [lo, hi] = detail::follow_range(*on[0], x, dt);
      int best = -1;  // the strongest partner in range
      for (int j : kept[static_cast<std::size_t>(k)]) {
        const DatHit& y = on[static_cast<std::size_t>(k)]->hits[static_cast<std::size_t>(j)];
        if (detail::in_open_range(y.frequency, lo, hi) &&
            (best < 0 || y.snr > on[static_cast<std::size_t>(k)]->hits[static_cast<std::size_t>(best)].snr))
          best = j;
      }
      everywhere = best >= 0;
      e.hit[static_cast<std::size_t>(k)] = best;
    }
    if (everywhere) events.push_back(e);
  }
  return events;
}

}  // namespace cadence::detect
