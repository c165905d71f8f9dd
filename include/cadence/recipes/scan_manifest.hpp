#pragma once
// Many observations: `seti scan --manifest FILE` scans each cadence of a CSV into its own directory
// under scan.out, sharded over ranks (torchrun's RANK / WORLD_SIZE) or SLURM array tasks, skipping a
// cadence whose directory is complete (its scan.json, written last, is there), and summarises every
// complete cadence on a survey page (survey.csv, survey.html). Light: no LibTorch.
//
//   name,file1,file2,file3,file4,file5,file6        (the header; files in observing order, ABACAD)
//   hip1234,obs/a1.h5,obs/b.h5,obs/a2.h5,obs/c.h5,obs/a3.h5,obs/d.h5
//
// A relative path is relative to the manifest's directory; a name is a directory name ([A-Za-z0-9._-],
// not "." or ".."), unique in the manifest.
#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "cadence/config/options.hpp"
#include "cadence/core/atomic_file.hpp"
#include "cadence/core/error.hpp"
#include "cadence/core/regular_file.hpp"
#include "cadence/train/report.hpp"

namespace cadence::recipes {

struct ManifestEntry {
  std::string name;
  std::vector<std::filesystem::path> files;  // six, in observing order
  std::size_t line = 0;
};

/// Reads a manifest; every error names the file and line.
inline std::vector<ManifestEntry> read_manifest(const std::filesystem::path& path) {
  require_regular_file(path, "--manifest " + path.string());  // a FIFO would block the read
  std::ifstream in(path);
  if (!in) fail(path.string(), ": cannot open the manifest");
  const auto where = [&](std::size_t line) { return path.string() + ":" + std::to_string(line); };
  auto split = [](const std::string& s) {
    std::vector<std::string> f;
    std::stringstream ss(s);
    for (std::string x; std::getline(ss, x, ',');) {
      const auto b = x.find_first_not_of(" \t\r"), e = x.find_last_not_of(" \t\r");
      f.push_back(b == std::string::npos ? std::string() : x.substr(b, e - b + 1));
    }
    return f;
  };
  std::string line;
  std::size_t n = 0;
  std::vector<ManifestEntry> out;
  std::set<std::string> names;
  while (std::getline(in, line)) {
    ++n;
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    const auto f = split(line);
    if (n == 1) {
      const std::vector<std::string> want{"name", "file1", "file2", "file3", "file4", "file5", "file6"};
      if (f != want) fail(where(1), ": the header must be `name,file1,file2,file3,file4,file5,file6`");
      continue;
    }
    if (f.size() != 7) fail(where(n), ": ", f.size(), " fields; a cadence is a name and six files");
    const std::string& name = f[0];
    if (name.empty() || name == "." || name == ".." ||
        name.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-") !=
            std::string::npos)
      fail(where(n), ": name `", first_line(name, 60), "` is not a directory name ([A-Za-z0-9._-])");
    if (!names.insert(name).second) fail(where(n), ": name `", name, "` is given twice");
    ManifestEntry e{name, {}, n};
    for (std::size_t k = 1; k < 7; ++k) {
      if (f[k].empty()) fail(where(n), ": file", k, " is empty");
      std::filesystem::path p(f[k]);
      e.files.push_back(p.is_absolute() ? p : path.parent_path() / p);
    }
    out.push_back(std::move(e));
  }
  if (out.empty()) fail(path.string(), ": no cadences (a header and one line per cadence)");
  return out;
}

/// Which cadences this process scans: every `count`-th from `index`.
struct Shard {
  int index = 0, count = 1;
  std::string from = "one process";
};

/// A SLURM array task (SLURM_ARRAY_TASK_ID / _MIN / _COUNT), else torchrun's RANK / WORLD_SIZE, else all.
inline Shard shard_from_environment() {
  auto number = [](const char* name) -> long {
    const char* v = std::getenv(name);
    if (v == nullptr || *v == '\0') return -1;
    char* end = nullptr;
    const long x = std::strtol(v, &end, 10);
    if (*end != '\0' || x < 0 || x > 1000000) fail("environment: ", name, "=", first_line(v, 40), " is not a count");
    return x;
  };
  Shard s;
  if (const long id = number("SLURM_ARRAY_TASK_ID"); id >= 0) {
    const long lo = std::max(0L, number("SLURM_ARRAY_TASK_MIN")), count = number("SLURM_ARRAY_TASK_COUNT");
    if (count < 1) fail("environment: SLURM_ARRAY_TASK_ID is set but SLURM_ARRAY_TASK_COUNT is not");
    s.index = static_cast<int>(id - lo);
    s.count = static_cast<int>(count);
    s.from = "SLURM array task " + std::to_string(id);
  } else if (const long size = number("WORLD_SIZE"); size > 1) {
    s.index = static_cast<int>(std::max(0L, number("RANK")));
    s.count = static_cast<int>(size);
    s.from = "rank " + std::to_string(s.index);
  }
  if (s.index < 0 || s.index >= s.count) fail("environment: shard ", s.index, " of ", s.count, " does not exist");
  return s;
}

/// A cadence's directory is complete once its scan.json (written last) is there.
inline bool scan_complete(const std::filesystem::path& dir) {
  std::error_code ec;
  return std::filesystem::is_regular_file(std::filesystem::symlink_status(dir / "scan.json", ec));
}

/// survey.csv and survey.html in `out`: each complete cadence's events and its best one.
inline void write_survey(const std::filesystem::path& out, const std::vector<ManifestEntry>& entries) {
  struct Row {
    std::string name;
    bool done = false;
    std::size_t events = 0;
    config::json best;  // the first (best-ranked) event, or null
    bool page = false;
  };
  std::vector<Row> rows;
  std::size_t done = 0;
  for (const auto& e : entries) {
    Row r;
    r.name = e.name;
    const auto dir = out / e.name;
    if (scan_complete(dir)) {
      const auto j = config::load_file(dir / "scan.json");
      r.done = true;
      ++done;
      if (j.contains("search") && j["search"].contains("events")) {
        const auto& ev = j["search"]["events"];
        r.events = ev.size();
        if (!ev.empty()) r.best = ev[0];
      }
      r.page = std::filesystem::exists(dir / "scan.html");
    }
    rows.push_back(r);
  }
  auto number = [](const config::json& j, const char* key) -> std::string {
    if (!j.is_object() || !j.contains(key) || j[key].is_null()) return {};
    std::ostringstream s;
    s.precision(10);
    s << j[key].get<double>();
    return s.str();
  };
  write_text_atomically(out / "survey.csv", [&](std::ostream& o) {
    o << "name,complete,events,best_freq_mhz,best_drift_hz_s,best_snr,best_score\n";
    for (const auto& r : rows)
      o << r.name << ',' << (r.done ? 1 : 0) << ',' << (r.done ? std::to_string(r.events) : std::string()) << ','
        << number(r.best, "freq_mhz") << ',' << number(r.best, "drift_hz_s") << ',' << number(r.best, "snr") << ','
        << number(r.best, "score") << '\n';
  });
  std::ostringstream html;
  html << "<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>cadence survey</title><style>"
       << "body{font-family:sans-serif;margin:24px;color:#222}table{border-collapse:collapse}"
       << "td,th{border:1px solid #ccc;padding:4px 8px;font-size:13px;text-align:left}th{background:#f4f4f4}"
       << "</style></head><body><h1>cadence survey</h1><p>" << done << " of " << rows.size()
       << " cadences scanned.</p><table><tr><th>cadence</th><th>events</th><th>best event: MHz</th><th>drift "
          "(Hz/s)</th><th>SNR</th><th>score</th></tr>";
  for (const auto& r : rows) {
    html << "<tr><td>";
    if (r.page)
      html << "<a href=\"" << report::escape(r.name) << "/scan.html\">" << report::escape(r.name) << "</a>";
    else
      html << report::escape(r.name);
    html << "</td><td>" << (r.done ? std::to_string(r.events) : std::string("not yet scanned")) << "</td><td>"
         << number(r.best, "freq_mhz") << "</td><td>" << number(r.best, "drift_hz_s") << "</td><td>"
         << number(r.best, "snr") << "</td><td>" << number(r.best, "score") << "</td></tr>";
  }
  html << "</table></body></html>\n";
  write_text_atomically(out / "survey.html", [&](std::ostream& o) { o << html.str(); });
}

}  // namespace cadence::recipes
