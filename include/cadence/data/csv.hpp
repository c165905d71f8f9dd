#pragma once
// The competition's CSV files: `id,target` (train_labels.csv, sample_submission.csv, ...).
// Every error names the file and line.
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "cadence/core/error.hpp"
#include "cadence/core/regular_file.hpp"

namespace cadence::csv {

struct Row {
  std::string id;
  double target = 0.0;  // parsed second column (when the caller needs a target)
  std::string value;    // the second column as written
};

/// Ids name files (`train/<id[0]>/<id>.npy`), so only [A-Za-z0-9_-] are allowed: no `/`, no `..`.
inline bool valid_id(std::string_view id) {
  if (id.empty() || id.size() > 128) return false;
  for (char c : id) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
    if (!ok) return false;
  }
  return true;
}

inline std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.back() == '\r' || s.back() == ' ' || s.back() == '\n')) s.remove_suffix(1);
  while (!s.empty() && s.front() == ' ') s.remove_prefix(1);
  return s;
}

/// What the second column must hold: anything (sample_submission's placeholder), a probability in
/// [0, 1] (a submission), or a label, 0 or 1 (train_labels.csv).
enum class Column { any, probability, label };

/// A plain decimal number: digits, an optional fraction and exponent; no sign, hex, inf or nan.
inline bool plain_number(std::string_view t) {
  std::size_t i = 0, digits = 0;
  while (i < t.size() && t[i] >= '0' && t[i] <= '9') ++i, ++digits;
  if (i < t.size() && t[i] == '.')
    for (++i; i < t.size() && t[i] >= '0' && t[i] <= '9'; ++i) ++digits;
  if (digits == 0) return false;
  if (i < t.size() && (t[i] == 'e' || t[i] == 'E')) {
    ++i;
    if (i < t.size() && (t[i] == '+' || t[i] == '-')) ++i;
    const auto start = i;
    while (i < t.size() && t[i] >= '0' && t[i] <= '9') ++i;
    if (i == start) return false;
  }
  return i == t.size();
}

/// The header line less a UTF-8 byte-order mark, which spreadsheet programs write and pandas skips.
inline std::string_view header_text(std::string_view line) {
  constexpr std::string_view bom = "\xEF\xBB\xBF";
  if (line.substr(0, bom.size()) == bom) line.remove_prefix(bom.size());
  return trim(line);
}

/// Parses an `id,target` table from `in`; errors name `file` and the line.
/// `second` names the second column in the header (`id,target`; folds.csv has `id,fold`).
inline std::vector<Row> parse_labels(std::istream& in, const std::string& file, Column column = Column::probability,
                                     std::string_view second = "target") {
  const std::string want = "id," + std::string(second);
  std::string line;
  if (!std::getline(in, line)) fail(file, ": empty file; expected the header `", want, "`");
  const auto header = header_text(line);
  if (header != want) fail(file, ":1: expected the header `", want, "`, got `", header.substr(0, 120), "`");
  std::vector<Row> rows;
  std::unordered_map<std::string, std::size_t> first_line;
  std::size_t lineno = 1;
  while (std::getline(in, line)) {
    ++lineno;
    const auto l = trim(line);
    if (l.empty()) continue;
    const auto comma = l.find(',');
    if (comma == std::string_view::npos)
      fail(file, ":", lineno, ": expected `id,target`, got `", l.substr(0, 120), "`");
    Row row{std::string(l.substr(0, comma)), 0.0, std::string(l.substr(comma + 1))};
    if (!valid_id(row.id))
      fail(file, ":", lineno, ": invalid id `", row.id.substr(0, 120),
           "` (ids may hold only letters, digits, `_` and `-`)");
    if (column != Column::any) {
      const std::string& t = row.value;
      row.target = plain_number(t) ? std::strtod(t.c_str(), nullptr) : -1.0;
      if (!(row.target >= 0.0 && row.target <= 1.0))
        fail(file, ":", lineno, ": target `", t.substr(0, 40), "` for id `", row.id, "` is not a number in [0, 1]");
      if (column == Column::label && row.target != 0.0 && row.target != 1.0)
        fail(file, ":", lineno, ": target `", t.substr(0, 40), "` for id `", row.id, "` is not a label (0 or 1)");
    }
    if (auto [it, fresh] = first_line.emplace(row.id, lineno); !fresh)
      fail(file, ":", lineno, ": duplicate id `", row.id, "` (first on line ", it->second, ")");
    rows.push_back(std::move(row));
  }
  if (rows.empty()) fail(file, ": no rows after the header");
  return rows;
}

/// Reads an `id,target` file (see parse_labels).
inline std::vector<Row> read_labels(const std::filesystem::path& path, Column column = Column::probability,
                                    std::string_view second = "target") {
  if (std::filesystem::exists(path))
    require_regular_file(path, path.string());  // a directory or FIFO: said so, at once
  std::ifstream in(path);
  if (!in) fail(path.string(), ": cannot open (missing labels file?)");
  return parse_labels(in, path.string(), column, second);
}
/// need_target = false: any second column (sample_submission.csv).
inline std::vector<Row> read_labels(const std::filesystem::path& path, bool need_target) {
  return read_labels(path, need_target ? Column::probability : Column::any);
}

/// cadence-synth's truth files (test_labels.csv, train_signals.csv): the header of their newest form.
inline constexpr std::string_view kTruthHeader =
    "id,target,snr,drift,signal,interference,energy,signal_params,interference_params";

/// A truth file's row (cadence-synth's test_labels.csv and train_signals.csv, kTruthHeader): snr, drift
/// and energy empty for a negative, NaN here; signal the positive's family (path+intensity+profile
/// [+skip<k>]), interference the sample's kind, empty if none; energy the signal's ON-panel energy
/// relative to a constant signal of its SNR (about the duty cycle for a pulsed one, 2/3 for one that
/// skips a panel), so that snr * energy compares signals of any intensity; the two params fields
/// `key=value;...` (what the family names leave open: width, start channel, period, duty, ...).
struct TruthRow {
  std::string id;
  int target = 0;
  double snr = std::nan(""), drift = std::nan(""), energy = std::nan("");
  std::string signal, interference, signal_params, interference_params;
};

/// Parses a truth file from `in`: `id,target`, `id,target,snr,drift`, `id,target,snr,drift,signal,
/// interference` (cadence-synth before energy and parameters; bench/setigen_shift.py) or kTruthHeader.
/// Errors name `file` and the line.
inline std::vector<TruthRow> parse_truth(std::istream& in, const std::string& file) {
  std::string line;
  constexpr const char* expected =
      "`id,target[,snr,drift[,signal,interference[,energy,signal_params,interference_params]]]`";
  if (!std::getline(in, line)) fail(file, ": empty file; expected the header ", expected);
  const auto header = header_text(line);
  const bool params = header == kTruthHeader;
  const bool families = params || header == "id,target,snr,drift,signal,interference";
  const bool signals = families || header == "id,target,snr,drift";
  if (!signals && header != "id,target")
    fail(file, ":1: expected the header ", expected, ", got `", header.substr(0, 120), "`");
  const std::size_t columns = params ? 9u : families ? 6u : signals ? 4u : 2u;
  std::vector<TruthRow> rows;
  std::unordered_map<std::string, std::size_t> first_line;  // id -> its line
  for (std::size_t lineno = 2; std::getline(in, line); ++lineno) {
    const auto l = trim(line);
    if (l.empty()) continue;
    std::vector<std::string_view> f;
    for (std::size_t at = 0;;) {
      const auto comma = l.find(',', at);
      f.push_back(l.substr(at, comma == std::string_view::npos ? std::string_view::npos : comma - at));
      if (comma == std::string_view::npos) break;
      at = comma + 1;
    }
    if (f.size() != columns) fail(file, ":", lineno, ": expected ", columns, " columns, got ", f.size());
    TruthRow r;
    r.id = std::string(f[0]);
    if (!valid_id(r.id)) fail(file, ":", lineno, ": invalid id `", r.id.substr(0, 120), "`");
    if (f[1] != "0" && f[1] != "1") fail(file, ":", lineno, ": target `", f[1].substr(0, 40), "` is not 0 or 1");
    r.target = f[1] == "1" ? 1 : 0;
    auto number = [&](std::string_view t, const char* what) {  // decimal, as plain_number, with a sign
      if (t.empty()) return std::nan("");
      const std::string s(t);
      const double v = plain_number(t.substr(t[0] == '-' ? 1 : 0)) ? std::strtod(s.c_str(), nullptr) : std::nan("");
      if (!std::isfinite(v)) fail(file, ":", lineno, ": ", what, " `", s.substr(0, 40), "` is not a number");
      return v;
    };
    if (signals) {
      r.snr = number(f[2], "snr");
      r.drift = number(f[3], "drift");
    }
    if (families) {
      r.signal = std::string(f[4]);
      r.interference = std::string(f[5]);
    }
    if (params) {
      r.energy = number(f[6], "energy");
      if (r.energy < 0.0) fail(file, ":", lineno, ": energy `", f[6].substr(0, 40), "` is negative");
      if (r.target == 0 && !std::isnan(r.energy))
        fail(file, ":", lineno, ": energy `", f[6].substr(0, 40), "` for a negative (it has no signal)");
      if (r.target == 1 && std::isnan(r.energy)) fail(file, ":", lineno, ": a positive without its energy");
      r.signal_params = std::string(f[7]);
      r.interference_params = std::string(f[8]);
    }
    if (auto [it, fresh] = first_line.emplace(r.id, lineno); !fresh)
      fail(file, ":", lineno, ": duplicate id `", r.id, "` (first on line ", it->second, ")");
    rows.push_back(std::move(r));
  }
  return rows;
}

/// Reads a truth file (parse_truth); a directory or FIFO in its place is refused at once.
inline std::vector<TruthRow> read_truth(const std::filesystem::path& path) {
  if (std::filesystem::exists(path)) require_regular_file(path, path.string());
  std::ifstream in(path);
  if (!in) fail(path.string(), ": cannot open (missing truth file?)");
  return parse_truth(in, path.string());
}

}  // namespace cadence::csv
