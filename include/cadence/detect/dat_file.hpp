#pragma once
// turboSETI's .dat: the hit table every Breakthrough Listen script reads (turboSETI's find_event
// reads it by line position: nine header lines, then one hit per line, fields split on white space).
// write_dat() writes one file's top hits in that layout, with turboSETI's number formats; read_dat()
// reads one back (the events of observe/events.hpp, and the tests). Light: no LibTorch.
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "cadence/core/atomic_file.hpp"
#include "cadence/core/error.hpp"
#include "cadence/detect/hit_search.hpp"
#include "cadence/observe/observation.hpp"

namespace cadence::detect {

/// One row of a .dat file (and the header values find_event reads with it).
struct DatHit {
  int number = 0;                           // Top_Hit_#
  double drift = 0.0;                       // Drift_Rate, Hz/s
  double snr = 0.0;                         // SNR
  double frequency = 0.0;                   // Uncorrected_Frequency, MHz, at the file's first sample
  std::int64_t index = 0;                   // Index: the channel within its coarse channel
  double freq_start = 0.0, freq_end = 0.0;  // MHz
  std::int64_t coarse = 0;                  // Coarse_Channel_Number
  std::int64_t coarse_hits = 0;             // Full_number_of_hits
};

struct DatFile {
  std::string file_id, source;
  double mjd = 0.0, deltat = 0.0, deltaf_hz = 0.0, max_drift = 0.0, obs_length = 0.0;
  std::vector<DatHit> hits;
};

namespace detail {

/// SIGPROC's hhmmss.s (or ddmmss.s) as astropy prints an angle: 17h40m00.0s / -29d00m00.0s.
inline std::string sexagesimal(double v, char unit) {
  const bool negative = v < 0;
  v = std::abs(v);
  const int a = static_cast<int>(v / 10000.0);
  const int b = static_cast<int>((v - a * 10000.0) / 100.0);
  const double c = v - a * 10000.0 - b * 100.0;
  char buf[64];
  std::snprintf(buf, sizeof buf, "%s%d%c%02dm%04.1fs", negative ? "-" : "", a, unit, b, c);
  return buf;
}

}  // namespace detail

/// The .dat of one file's search, as turboSETI's FileWriter lays it out.
inline DatFile dat_of(const observe::Header& h, const FileHits& r) {
  DatFile d;
  d.file_id = h.file.filename().string();
  d.source = h.source_name;
  d.mjd = h.tstart;
  d.deltat = h.tsamp;
  d.deltaf_hz = h.foff * 1e6;
  d.max_drift = r.max_drift;
  d.obs_length = r.obs_length;
  int n = 0;
  for (const Hit& x : r.hits) {
    DatHit y;
    y.number = ++n;
    y.drift = x.drift;
    y.snr = x.snr;
    y.frequency = h.frequency(static_cast<double>(x.channel));
    y.index = x.channel - x.coarse * r.channels_per_coarse;
    y.freq_start = h.frequency(static_cast<double>(x.first));
    y.freq_end = h.frequency(static_cast<double>(x.last));
    y.coarse = x.coarse;
    y.coarse_hits = x.coarse_hits;
    d.hits.push_back(y);
  }
  return d;
}

inline void write_dat(const std::filesystem::path& path, const DatFile& d, const observe::Header& h) {
  write_text_atomically(path, [&](std::ostream& out) {
    char line[512];
    out << "# -------------------------- o --------------------------\n";
    out << "# File ID: " << d.file_id << " \n";
    out << "# -------------------------- o --------------------------\n";
    out << "# Source:" << d.source << "\n";
    std::snprintf(line, sizeof line, "# MJD: %18.12f\tRA: %s\tDEC: %s\n", d.mjd,
                  detail::sexagesimal(h.src_raj, 'h').c_str(), detail::sexagesimal(h.src_dej, 'd').c_str());
    out << line;
    std::snprintf(line, sizeof line,
                  "# DELTAT: %10.6f\tDELTAF(Hz): %10.6f\tmax_drift_rate: %10.6f\tobs_length: %10.6f\n", d.deltat,
                  d.deltaf_hz, d.max_drift, d.obs_length);
    out << line;
    out << "# --------------------------\n";
    out << "# Top_Hit_# \tDrift_Rate \tSNR \tUncorrected_Frequency \tCorrected_Frequency \tIndex \tfreq_start \t"
           "freq_end \tSEFD \tSEFD_freq \tCoarse_Channel_Number \tFull_number_of_hits \t\n";
    out << "# --------------------------\n";
    for (const DatHit& x : d.hits) {
      std::snprintf(line, sizeof line,
                    "%06d\t%10.6f\t%10.6f\t%14.6f\t%14.6f\t%lld\t%14.6f\t%14.6f\t0.0\t%14.6f\t%lld\t%lld\t\n", x.number,
                    x.drift, x.snr, x.frequency, x.frequency, static_cast<long long>(x.index), x.freq_start, x.freq_end,
                    0.0, static_cast<long long>(x.coarse), static_cast<long long>(x.coarse_hits));
      out << line;
    }
  });
}

/// Reads a .dat as turboSETI's read_dat does (header by line, hits from line 10); errors name file:line.
inline DatFile read_dat(const std::filesystem::path& path) {
  std::ifstream in(path);
  if (!in) fail(path.string(), ": cannot open");
  std::vector<std::string> lines;
  for (std::string l; std::getline(in, l);) lines.push_back(l);
  if (lines.size() < 9) fail(path.string(), ": not a turboSETI .dat file (", lines.size(), " lines, the header has 9)");
  auto after_colon = [&](const std::string& s) {
    const auto at = s.rfind(':');
    std::string v = at == std::string::npos ? s : s.substr(at + 1);
    const auto b = v.find_first_not_of(" \t"), e = v.find_last_not_of(" \t\r");
    return b == std::string::npos ? std::string{} : v.substr(b, e - b + 1);
  };
  auto fields = [](const std::string& s) {
    std::vector<std::string> f;
    std::istringstream ss(s);
    for (std::string x; ss >> x;) f.push_back(x);
    return f;
  };
  auto tab_fields = [](const std::string& s) {
    std::vector<std::string> f;
    std::istringstream ss(s);
    for (std::string x; std::getline(ss, x, '\t');) f.push_back(x);
    return f;
  };
  auto number = [&](const std::string& s, std::size_t line) {
    try {
      std::size_t used = 0;
      const double v = std::stod(s, &used);
      if (used != s.size()) throw std::invalid_argument(s);
      return v;
    } catch (const std::exception&) {
      fail(path.string(), ":", line + 1, ": `", s, "` is not a number");
    }
  };
  DatFile d;
  d.file_id = after_colon(lines[1]);
  d.source = after_colon(lines[3]);
  const auto l4 = tab_fields(lines[4]), l5 = tab_fields(lines[5]);
  if (l4.size() < 3 || l5.size() < 4)
    fail(path.string(), ":5: not turboSETI's .dat header (MJD, RA, DEC; DELTAT, DELTAF, max_drift_rate, obs_length)");
  d.mjd = number(after_colon(l4[0]), 4);
  d.deltat = number(after_colon(l5[0]), 5);
  d.deltaf_hz = number(after_colon(l5[1]), 5);
  d.max_drift = number(after_colon(l5[2]), 5);
  d.obs_length = number(after_colon(l5[3]), 5);
  for (std::size_t i = 9; i < lines.size(); ++i) {
    const auto f = fields(lines[i]);
    if (f.empty()) continue;
    if (f.size() < 12) fail(path.string(), ":", i + 1, ": ", f.size(), " fields, a hit has 12");
    DatHit x;
    x.number = static_cast<int>(number(f[0], i));
    x.drift = number(f[1], i);
    x.snr = number(f[2], i);
    x.frequency = number(f[3], i);
    x.index = static_cast<std::int64_t>(number(f[5], i));
    x.freq_start = number(f[6], i);
    x.freq_end = number(f[7], i);
    x.coarse = static_cast<std::int64_t>(number(f[10], i));
    x.coarse_hits = static_cast<std::int64_t>(number(f[11], i));
    d.hits.push_back(x);
  }
  return d;
}

}  // namespace cadence::detect
