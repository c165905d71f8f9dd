#pragma once
// Reading back what a run wrote, with one set of rules for every reader: oof.csv (the report, the
// ensemble) and log.jsonl (the report's curves). A malformed row is one line naming the file and the
// line number, never skipped and never a raw parser exception.
#include <filesystem>
#include <fstream>
#include <map>
#include <stdexcept>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "cadence/config/options.hpp"
#include "cadence/core/error.hpp"
#include "cadence/data/csv.hpp"

namespace cadence {

struct OofRow {
  double target = 0, prediction = 0;
  int fold = -1;
};

/// A run's oof.csv (`id,target,prediction,fold`): id -> row, and the ids in file order.
inline std::pair<std::map<std::string, OofRow>, std::vector<std::string>> read_oof(const std::filesystem::path& file) {
  std::ifstream in(file);
  if (!in) fail(file.string(), ": cannot open (did finetune run?)");
  std::string line;
  std::getline(in, line);
  if (csv::trim(line) != "id,target,prediction,fold")
    fail(file.string(), ":1: expected the header `id,target,prediction,fold`");
  std::map<std::string, OofRow> rows;
  std::vector<std::string> order;
  for (std::size_t no = 2; std::getline(in, line); ++no) {
    if (csv::trim(line).empty()) continue;
    std::istringstream s(line);
    std::string id, target, prediction, fold;
    if (!std::getline(s, id, ',') || !std::getline(s, target, ',') || !std::getline(s, prediction, ',') ||
        !std::getline(s, fold))
      fail(file.string(), ":", no, ": expected id,target,prediction,fold");
    try {
      const std::string f(csv::trim(fold));
      std::size_t used = 0;
      const OofRow row{std::stod(target), std::stod(prediction), std::stoi(f, &used)};
      if (used != f.size()) throw std::invalid_argument("fold");
      if (!rows.emplace(id, row).second) fail(file.string(), ":", no, ": id `", first_line(id, 60), "` a second time");
    } catch (const Error&) {
      throw;
    } catch (const std::exception&) {
      fail(file.string(), ":", no, ": not numbers: `", first_line(csv::trim(line), 80), "`");
    }
    order.push_back(id);
  }
  if (order.empty()) fail(file.string(), ": no rows");
  return {std::move(rows), std::move(order)};
}

/// A training directory's log.jsonl: one JSON object per epoch; an empty array when the file is absent.
inline config::json read_history(const std::filesystem::path& log) {
  config::json h = config::json::array();
  if (!std::filesystem::exists(log)) return h;
  std::ifstream in(log);
  std::size_t no = 0;
  for (std::string line; std::getline(in, line);) {
    ++no;
    if (line.empty()) continue;
    auto j = config::json::parse(line, nullptr, false);
    if (j.is_discarded() || !j.is_object())
      fail(log.string(), ":", no,
           ": not a JSON object (a truncated log? remove the line, or start over with `seti run`)");
    h.push_back(std::move(j));
  }
  return h;
}

}  // namespace cadence
