#pragma once
// The competition's CSV files: `id,target` (train_labels.csv, sample_submission.csv, ...).
// Every error names the file and line.
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "cadence/core/error.hpp"

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

/// Reads an `id,target` file. `need_target` = false accepts any second column (sample_submission).
inline std::vector<Row> read_labels(const std::filesystem::path& path, bool need_target = true) {
  const std::string file = path.string();
  std::ifstream in(path);
  if (!in) fail(file, ": cannot open (missing labels file?)");
  std::string line;
  if (!std::getline(in, line)) fail(file, ": empty file; expected the header `id,target`");
  const auto header = trim(line);
  if (header.substr(0, 3) != "id,") fail(file, ":1: expected the header `id,target`, got `", header, "`");
  std::vector<Row> rows;
  std::unordered_map<std::string, std::size_t> first_line;
  std::size_t lineno = 1;
  while (std::getline(in, line)) {
    ++lineno;
    const auto l = trim(line);
    if (l.empty()) continue;
    const auto comma = l.find(',');
    if (comma == std::string_view::npos) fail(file, ":", lineno, ": expected `id,target`, got `", l, "`");
    Row row{std::string(l.substr(0, comma)), 0.0, std::string(l.substr(comma + 1))};
    if (!valid_id(row.id))
      fail(file, ":", lineno, ": invalid id `", row.id, "` (ids may hold only letters, digits, `_` and `-`)");
    if (need_target) {
      const std::string& t = row.value;
      char* end = nullptr;
      row.target = std::strtod(t.c_str(), &end);
      if (t.empty() || end != t.c_str() + t.size() || !(row.target >= 0.0 && row.target <= 1.0))
        fail(file, ":", lineno, ": target `", t, "` for id `", row.id, "` is not a number in [0, 1]");
    }
    if (auto [it, fresh] = first_line.emplace(row.id, lineno); !fresh)
      fail(file, ":", lineno, ": duplicate id `", row.id, "` (first on line ", it->second, ")");
    rows.push_back(std::move(row));
  }
  if (rows.empty()) fail(file, ": no rows after the header");
  return rows;
}

}  // namespace cadence::csv
