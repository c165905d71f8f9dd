// Shared by the benchmarks: a cached synthetic dataset and peak-RSS measurement.
#pragma once
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include "cadence/synth/generator.hpp"

namespace bench {

/// A synthetic dataset of `n` train cadences, generated once and reused (CADENCE_BENCH_DATA or
/// <tmp>/cadence-bench-<n>).
inline std::filesystem::path dataset(int n) {
  const char* env = std::getenv("CADENCE_BENCH_DATA");
  const auto root = env ? std::filesystem::path(env)
                        : std::filesystem::temp_directory_path() / ("cadence-bench-" + std::to_string(n));
  if (!std::filesystem::exists(root / ".complete")) {
    cadence::synth::SynthOptions o;
    o.root = root;
    o.train = n;
    o.test = 1;
    o.old = 0;
    cadence::synth::generate(o);
  }
  return root;
}

/// Linux: resets the peak resident set size (VmHWM) to the current RSS.
inline void reset_peak_rss() { std::ofstream("/proc/self/clear_refs") << "5"; }

/// Peak resident set size since the last reset, in MiB.
inline double peak_rss_mib() {
  std::ifstream in("/proc/self/status");
  for (std::string line; std::getline(in, line);)
    if (line.rfind("VmHWM:", 0) == 0) return std::stod(line.substr(6)) / 1024.0;  // kB
  return 0.0;
}

}  // namespace bench
