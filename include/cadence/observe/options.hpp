#pragma once
// The "scan" section of a run config: how `seti scan` reads an observation and what it writes (see
// observe/cadence.hpp and recipes/scan.hpp). Light: no LibTorch, no libhdf5.
#include <filesystem>
#include <string>
#include <vector>

#include "cadence/config/options.hpp"
#include "cadence/core/error.hpp"

namespace cadence {

/// The "scan" section: how `seti scan` reads an observation and what it writes. Not part of a run's
/// fingerprint (a scan changes nothing a run trained).
struct ScanOptions {
  std::vector<int> on;        // positions (0..5) of the three ON files among the six given; [] = from source_name
  int overlap = 64;           // channels that neighbouring windows share (0..freq-1)
  int batch = 32;             // windows per read and per forward pass
  int threads = 0;            // reading threads; 0 = all cores
  int top = 20;               // hits drawn (waterfall PNGs) and listed on scan.html
  bool tta = false;           // score each window with the pipeline's TTA rounds too (the folds always)
  bool baseline = true;       // the de-Doppler search's drift rate and SNR for each window, in hits.csv
  std::filesystem::path out;  // where hits.csv, scan.json, scan.html and waterfalls/ go; "" = <run.dir>/scan

  template <class V>
  void fields(V& v) {
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
