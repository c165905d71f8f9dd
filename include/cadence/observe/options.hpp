#pragma once
// The "scan" section of a run config: how `seti scan` reads an observation and what it writes (see
// observe/cadence.hpp and recipes/scan.hpp). Light: no LibTorch, no libhdf5.
#include <array>
#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "cadence/config/options.hpp"
#include "cadence/core/error.hpp"

namespace cadence {

/// What `seti scan` does: search every drift for hits and rank the ON/OFF events with the network
/// (events), rank every window of the band with the network (windows, the first scan's way), or both.
enum class ScanMode { events, windows, both };

inline constexpr std::array<std::pair<ScanMode, std::string_view>, 3> enum_names(ScanMode) {
  return {{{ScanMode::events, "events"}, {ScanMode::windows, "windows"}, {ScanMode::both, "both"}}};
}

/// The "scan" section: how `seti scan` reads an observation and what it writes. Not part of a run's
/// fingerprint (a scan changes nothing a run trained).
struct ScanOptions {
  ScanMode mode = ScanMode::events;
  // the de-Doppler hit search (detect/hit_search.hpp) and the events (detect/events.hpp)
  double max_drift = 4.0;            // Hz/s, both signs
  double min_drift = 0.0001;         // Hz/s: hits at |rate| <= min_drift dropped (zero-drift RFI); 0 keeps them
  double snr = 10.0;                 // hit threshold (drift-integrated SNR), and the events' SNR cut
  std::int64_t coarse_channels = 0;  // fine channels per coarse channel; 0 = 2^20 where nchans allows, else all
  bool blank_dc = true;              // blank each coarse channel's centre (DC) channel
  double sk_sigma =
      0.0;         // leave channels whose spectral kurtosis is this many sigma from noise's out of the noise; 0 off
  int filter = 3;  // find_event's filter level: 1 ON hits, 2 none in the OFFs, 3 in every ON
  double off_snr = 5.0;        // an event whose OFF files show it along its path above this SNR is RFI; 0 = no check
  std::filesystem::path mask;  // a channel mask file: frequency ranges (MHz) to blank; "" = none
  std::vector<int> on;         // positions (0..5) of the three ON files among the six given; [] = from source_name
  int overlap = 64;            // channels that neighbouring windows share (0..freq-1)
  int batch = 32;              // windows per read and per forward pass
  int threads = 0;             // reading threads; 0 = all cores
  int top = 20;                // windows or events drawn (waterfall PNGs) and listed on scan.html
  bool tta = false;            // score each window with the pipeline's TTA rounds too (the folds always)
  bool baseline = true;        // the de-Doppler search's drift rate and SNR for each window, in hits.csv
  std::filesystem::path
      out;  // where the .dat files, events.csv, hits.csv, scan.json, scan.html and waterfalls/ go; "" = <run.dir>/scan

  template <class V>
  void fields(V& v) {
    v("mode", mode);
    v("max_drift", max_drift, config::in_range(0.0, 1000.0));
    v("min_drift", min_drift, config::in_range(0.0, 1000.0));
    v("snr", snr, config::in_range(0.0, 1e6));
    v("coarse_channels", coarse_channels, config::in_range(0, 1e12));
    v("blank_dc", blank_dc);
    v("sk_sigma", sk_sigma, config::in_range(0.0, 1e6));
    v("filter", filter, config::in_range(1, 3));
    v("off_snr", off_snr, config::in_range(0.0, 1e6));
    v("mask", mask);
    v("on", on, OnPositions{});
    v("overlap", overlap, config::in_range(0, 255));
    v("batch", batch, config::in_range(1, 4096));
    v("threads", threads, config::in_range(0, 256));
    v("top", top, config::in_range(0, 1000));
    v("tta", tta);
    v("baseline", baseline);
    v("out", out);
  }
  struct OnPositions {
    void operator()(const std::vector<int>& on, const std::string& path) const {
      if (on.empty()) return;
      if (on.size() != 3) fail(path, ": expected the positions of the three ON files, got ", on.size(), " numbers");
      for (std::size_t i = 0; i < 3; ++i) {
        if (on[i] < 0 || on[i] > 5) fail(path, "/", i, ": ", on[i], " is not a position among six files (0..5)");
        for (std::size_t j = 0; j < i; ++j)
          if (on[j] == on[i]) fail(path, "/", i, ": position ", on[i], " is named twice");
      }
    }
  };
};

}  // namespace cadence
