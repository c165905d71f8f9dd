#pragma once
// The search half of `seti scan` (scan.mode "events" or "both"): the de-Doppler hit search of each of
// the six files (detect/hit_search.hpp), one turboSETI .dat per file (detect/dat_file.hpp), the ON/OFF
// events (detect/events.hpp), where each event's window lies for the network, and events.csv.
// recipes/scan.hpp scores the windows and writes the pages. Light: no LibTorch.
#include <algorithm>
#include <array>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "cadence/core/atomic_file.hpp"
#include "cadence/core/error.hpp"
#include "cadence/core/progress.hpp"
#include "cadence/detect/dat_file.hpp"
#include "cadence/detect/events.hpp"
#include "cadence/detect/hit_search.hpp"
#include "cadence/detect/path_snr.hpp"
#include "cadence/observe/cadence.hpp"
#include "cadence/observe/options.hpp"
#include "cadence/recipes/run_dir.hpp"

namespace cadence {

/// One ON/OFF event of a scan, with the network's score of the window along its path.
struct ScanEvent {
  detect::Event event;
  std::array<double, 3> frequency{NAN, NAN, NAN};  // MHz: the hit in each ON file, at that file's start
  std::array<double, 3> snr{NAN, NAN, NAN};
  std::int64_t channel = 0;              // the file channel of the event at the cadence's first sample
  std::int64_t window = 0;               // the first channel of the window the network scored, in its first ON panel
  std::array<std::int64_t, 6> panels{};  // the window's first channel in each panel: along the path
  std::array<double, 6> shear{};         // channels per row each panel's rows are shifted by (fast drifters)
  double score = NAN;                    // the fold ensemble's P(signal) of that window
  std::int64_t masked = 0;               // NaN/Inf samples masked in that window
  detect::PathSnr path;                  // the SNR along the event's path in each file, and the OFF files'
};

/// What the search half found.
struct ScanSearch {
  std::array<detect::DatFile, 6> dats;  // per cadence position
  std::array<std::filesystem::path, 6> dat_paths;
  std::vector<ScanEvent> events;        // ranked by score (then SNR) once scored
  std::vector<ScanEvent> vetoed;        // events the OFF files show along their path (scan.off_snr): RFI
  std::int64_t width = 0;               // channels of each event's window
  double drift_step = 0.0;              // Hz/s
  std::int64_t drifts = 0, masked = 0;  // drift rates searched per file; samples masked in all six
  std::int64_t masked_channels = 0;     // channels the mask (scan.mask) blanked in each file
  std::int64_t sk_flagged = 0;          // channels spectral kurtosis left out of the noise, all six files
  double seconds = 0.0;
  std::filesystem::path csv;  // events.csv
};

namespace recipes::detail {

inline detect::HitSearchOptions hit_options(const ScanOptions& so, int threads, detect::DriftSearch drifts) {
  detect::HitSearchOptions o;
  o.drifts = std::move(drifts);
  o.max_drift = so.max_drift;
  o.min_drift = so.min_drift;
  o.snr = so.snr;
  o.coarse_channels = so.coarse_channels;
  o.blank_dc = so.blank_dc;
  o.sk_sigma = so.sk_sigma;
  o.threads = threads;
  if (!so.mask.empty()) o.mask = detect::read_mask(so.mask);
  return o;
}

/// The six .dat names: <file stem>.dat, distinct (two inputs with one stem would overwrite each other).
inline std::array<std::filesystem::path, 6> dat_paths(const observe::Cadence& cad, const std::filesystem::path& out) {
  std::array<std::filesystem::path, 6> paths;
  std::set<std::string> seen;
  for (std::size_t p = 0; p < 6; ++p) {
    const auto& file = cad.header(p).file;
    const std::string name = file.stem().string() + ".dat";
    if (!seen.insert(name).second)
      fail(file.string(), ": another file of the cadence has the stem `", file.stem().string(),
           "`; the .dat files are named by stem (rename one)");
    paths[p] = out / name;
  }
  return paths;
}

/// Searches the six files for hits and writes each one's .dat into `out`; `drifts` runs the drift
/// search elsewhere (a GPU: detect/hit_search_torch.hpp), empty on `threads` CPU threads.
inline ScanSearch search_cadence(const observe::Cadence& cad, const ScanOptions& so, int threads,
                                 const std::filesystem::path& out, bool quiet, detect::DriftSearch drifts = {}) {
  ScanSearch s;
  const auto started = std::chrono::steady_clock::now();
  s.dat_paths = dat_paths(cad, out);
  const auto options = hit_options(so, threads, std::move(drifts));
  Progress bar("search", 6, quiet, "files");
  for (std::size_t p = 0; p < 6; ++p) {
    const auto r = detect::search_hits(cad.file(p), options);
    s.drift_step = r.drift_step;
    s.drifts = r.drifts;
    s.masked += r.masked;
    s.masked_channels = r.masked_channels;
    s.sk_flagged += r.sk_flagged;
    s.dats[p] = detect::dat_of(cad.header(p), r);
    detect::write_dat(s.dat_paths[p], s.dats[p], cad.header(p));
    bar.advance(1);
  }
  s.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  return s;
}

/// The SNR along an event's path in each file (detect/path_snr.hpp): the path fitted to its ON hits.
inline detect::PathSnr path_snr_of(const observe::Cadence& cad, const ScanEvent& x, double drift_step) {
  const auto& h0 = cad.header();
  std::array<double, 6> start{};
  std::array<const observe::File*, 6> files{};
  for (std::size_t p = 0; p < 6; ++p) {
    start[p] = (cad.header(p).tstart - h0.tstart) * 86400.0;
    files[p] = &cad.file(p);
  }
  std::vector<std::pair<double, double>> points;  // (s, channel) of each ON hit at its file's start
  for (std::size_t k = 0; k < 3; ++k)
    if (!std::isnan(x.frequency[k])) points.emplace_back(start[2 * k], (x.frequency[k] - h0.fch1) / h0.foff);
  const double hz = h0.foff * 1e6;  // Hz per channel (signed)
  detect::PathSnrOptions o;
  const std::pair<double, double> hit{start[2 * static_cast<std::size_t>(x.event.on)],
                                      (x.event.frequency - h0.fch1) / h0.foff};
  auto path = detect::fit_path(points, x.event.drift / hz, &o.fitted);
  const bool on_a_line =
      std::ranges::all_of(points, [&](auto p) { return std::abs(path.at(p.first) - p.second) <= 2.0; });
  if (!on_a_line) {  // partners off one line (another signal in range): the defining hit's own drift
    path = detect::fit_path(std::span(&hit, 1), x.event.drift / hz);
    o.fitted = false;
  }
  o.hit_time = hit.first;
  o.drift_step = 0.5 * drift_step / std::abs(hz);
  return detect::path_snr(files, start, path, o);
}

/// The cadence's events (find_event's rules at scan.filter), each with the window the network will
/// score: in each panel, `width` channels centred on the event's path at the middle of that panel
/// (clamped to the band); a drifter faster than about width x foff / (nsamples x tsamp) -- 2.3 Hz/s at
/// Green Bank's 16 x 18.25 s and 2.79 Hz, less a margin -- has each panel's rows shifted so that its line
/// keeps the steepest slope that fits (the window shows it drifting, and whole). An event whose OFF
/// files show it along its path above scan.off_snr (path_snr_of) is interference, set aside in `vetoed`.
inline void find_cadence_events(const observe::Cadence& cad, const ScanOptions& so, std::int64_t width, ScanSearch& s) {
  detect::EventOptions eo;
  eo.level = so.filter;
  eo.snr = so.snr;
  eo.zero_drift = so.min_drift <= 0.0;
  const std::array<const detect::DatFile*, 3> on{&s.dats[0], &s.dats[2], &s.dats[4]};
  const std::array<const detect::DatFile*, 3> off{&s.dats[1], &s.dats[3], &s.dats[5]};
  const auto& h0 = cad.header();
  s.width = width;
  for (const auto& e : detect::find_events(on, off, eo)) {
    ScanEvent x;
    x.event = e;
    for (std::size_t k = 0; k < 3; ++k)
      if (e.hit[k] >= 0) {
        const auto& hit = on[k]->hits[static_cast<std::size_t>(e.hit[k])];
        x.frequency[k] = hit.frequency;
        x.snr[k] = hit.snr;
      }
    // the path: channel c0 at the defining file's start, moving drift / foff channels per second
    const double since = (cad.header(2 * static_cast<std::size_t>(e.on)).tstart - h0.tstart) * 86400.0;
    const double c0 = (e.frequency - h0.fch1) / h0.foff;
    const double per_s = e.drift / (h0.foff * 1e6);
    x.channel = std::llround(c0 - per_s * since);
    for (std::size_t p = 0; p < 6; ++p) {  // centred on the path at the middle of each panel
      const auto& h = cad.header(p);
      const double mid = (h.tstart - h0.tstart) * 86400.0 + 0.5 * static_cast<double>(h.nsamples - 1) * h.tsamp;
      x.panels[p] =
          std::clamp<std::int64_t>(std::llround(c0 + per_s * (mid - since)) - width / 2, 0, cad.nchans() - width);
      // a path steeper than the window's diagonal (less a margin for its width) is sheared to it
      const double per_row = per_s * h.tsamp, fits = static_cast<double>(width - 16) / static_cast<double>(h.nsamples);
      if (std::abs(per_row) > fits) x.shear[p] = per_row - std::copysign(fits, per_row);
    }
    x.window = x.panels[0];
    x.path = path_snr_of(cad, x, s.drift_step);
    if (so.off_snr > 0.0 && x.path.off > so.off_snr)
      s.vetoed.push_back(x);
    else
      s.events.push_back(x);
  }
}

/// events.csv: one row per event, ranked (scored events first, by score, then by SNR).
inline void write_events_csv(const std::filesystem::path& path, const ScanSearch& s) {
  write_text_atomically(path, [&](std::ostream& o) {
    o << "rank,freq_mhz,drift_hz_s,snr,channel,on1_freq_mhz,on1_snr,on2_freq_mhz,on2_snr,on3_freq_mhz,on3_snr,"
         "off_snr,window_start,window_end,score\n";
    char buf[96];
    auto number = [&](double v, const char* format) {
      if (std::isnan(v)) return std::string();
      std::snprintf(buf, sizeof buf, format, v);
      return std::string(buf);
    };
    for (std::size_t k = 0; k < s.events.size(); ++k) {
      const ScanEvent& e = s.events[k];
      o << k + 1 << ',' << number(e.event.frequency, "%.6f") << ',' << number(e.event.drift, "%.6f") << ','
        << number(e.event.snr, "%.4f") << ',' << e.channel;
      for (std::size_t j = 0; j < 3; ++j) o << ',' << number(e.frequency[j], "%.6f") << ',' << number(e.snr[j], "%.4f");
      o << ',' << number(e.path.off, "%.3f") << ',' << e.window << ',' << e.window + s.width << ','
        << number(e.score, "%.6g") << '\n';
    }
  });
}

/// scan.json's "search" object: what was searched, the .dat files, the ranked events.
inline config::json search_json(const ScanSearch& x, const ScanOptions& so) {
  config::json search = {{"max_drift_hz_s", so.max_drift},
                         {"min_drift_hz_s", so.min_drift},
                         {"snr", so.snr},
                         {"filter", so.filter},
                         {"drift_step_hz_s", x.drift_step},
                         {"drifts", x.drifts},
                         {"masked_samples", x.masked},
                         {"masked_channels", x.masked_channels},
                         {"sk_sigma", so.sk_sigma},
                         {"sk_flagged_channels", x.sk_flagged},
                         {"seconds", x.seconds},
                         {"events_csv", x.csv.string()}};
  config::json dats = config::json::array();
  for (std::size_t p = 0; p < 6; ++p)
    dats.push_back({{"file", x.dat_paths[p].string()}, {"hits", x.dats[p].hits.size()}});
  search["dat"] = dats;
  auto number = [](double v) { return std::isfinite(v) ? config::json(v) : config::json(nullptr); };
  auto event = [&](const ScanEvent& e) {
    config::json path = config::json::array();
    for (double v : e.path.file) path.push_back(number(v));
    return config::json{{"freq_mhz", e.event.frequency},
                        {"drift_hz_s", e.event.drift},
                        {"snr", e.event.snr},
                        {"channel", e.channel},
                        {"window_start", e.window},
                        {"masked", e.masked},
                        {"off_snr", number(e.path.off)},
                        {"path_snr", path},
                        {"score", number(e.score)}};
  };
  config::json events = config::json::array();
  for (std::size_t k = 0; k < x.events.size(); ++k) {
    auto je = event(x.events[k]);
    je["rank"] = k + 1;
    events.push_back(je);
  }
  search["events"] = events;
  search["off_snr"] = so.off_snr;
  config::json vetoed = config::json::array();  // RFI by scan.off_snr: what find_event alone would have kept
  for (const ScanEvent& e : x.vetoed) vetoed.push_back(event(e));
  search["vetoed"] = vetoed;
  return search;
}

/// Ranks the events: by the network's score (unscored last), then by SNR.
inline void rank_events(std::vector<ScanEvent>& events) {
  std::stable_sort(events.begin(), events.end(), [](const ScanEvent& a, const ScanEvent& b) {
    const bool sa = !std::isnan(a.score), sb = !std::isnan(b.score);
    if (sa != sb) return sa;
    if (sa && a.score != b.score) return a.score > b.score;
    return a.event.snr > b.event.snr;
  });
}

}  // namespace recipes::detail

namespace recipes {

/// `seti scan` without a run: the hit search, one .dat per file and the events, unscored (events.csv,
/// ranked by SNR), and scan.json (written last), in `so.out` -- what turboSETI's find_doppler and
/// find_event_pipeline give. `drifts`: the drift search on a GPU (detect/hit_search_torch.hpp).
inline ScanSearch search(const ScanOptions& so, const std::vector<std::filesystem::path>& files, bool quiet,
                         detect::DriftSearch drifts = {}) {
  if (so.mode != ScanMode::events)
    fail("/scan/mode: \"", so.mode == ScanMode::windows ? "windows" : "both",
         "\" ranks windows with a trained run, which --run names (without one, scan.mode is \"events\")");
  if (so.out.empty()) fail("/scan/out: without --run, give the directory for the .dat files and events.csv");
  const observe::Cadence cad(files, so.on);
  RunDir out(so.out);
  out.take();
  const int threads = so.threads > 0 ? so.threads : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  ScanSearch s = detail::search_cadence(cad, so, threads, out.root(), quiet, std::move(drifts));
  detail::find_cadence_events(cad, so, 256, s);
  detail::rank_events(s.events);
  s.csv = out.root() / "events.csv";
  detail::write_events_csv(s.csv, s);
  const config::json summary = {{"mode", "events"}, {"channels", cad.nchans()}, {"search", detail::search_json(s, so)}};
  write_text_atomically(out.root() / "scan.json", [&](std::ostream& o) { o << summary.dump(2) << '\n'; });
  return s;
}

}  // namespace recipes
}  // namespace cadence
