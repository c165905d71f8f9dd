#pragma once
// Reading back what a run wrote, with one set of rules for every reader: oof.csv (the report, the
// ensemble) and log.jsonl (the report's curves); and scoring predictions against a synthetic set's truth
// file (test_labels.csv: predict.json's test AUCs, for `seti predict` and the ensemble's blend). A malformed row is one line naming the file and the
// line number, never skipped and never a raw parser exception.
#include <algorithm>
#include <cmath>
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
#include "cadence/train/metrics.hpp"
#include "cadence/train/report.hpp"

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

/// Per id, a truth file's row (cadence-synth writes train_signals.csv and test_labels.csv beside the
/// Kaggle layout: target, SNR, drift, families); empty when there is no such file.
inline std::map<std::string, csv::TruthRow> read_truth_if_there(const std::filesystem::path& file) {
  std::map<std::string, csv::TruthRow> out;
  if (file.empty() || !std::filesystem::exists(file)) return out;
  for (auto& r : csv::read_truth(file)) out.emplace(r.id, r);
  return out;
}

/// Predictions `p` of `ids` against a truth file (cadence-synth's test_labels.csv): the ROC AUC and the
/// AUC by SNR, by energy SNR (SNR x the signal's ON energy), by |drift| and by family, as predict.json
/// holds them (for `seti predict` and the
/// ensemble's blend alike). An empty object when there is no truth file, when it lacks one of the ids,
/// or when the ids hold one class only.
inline config::json score_against_truth(const std::map<std::string, csv::TruthRow>& truth,
                                        const std::vector<std::string>& ids, const std::vector<double>& p) {
  config::json out = config::json::object();
  if (truth.empty()) return out;
  std::vector<float> y;
  std::vector<double> snr, drift, energy_snr;
  std::vector<std::string> signal, interference;
  for (const auto& id : ids) {
    const auto it = truth.find(id);
    if (it == truth.end()) return out;
    y.push_back(static_cast<float>(it->second.target));
    snr.push_back(it->second.snr);
    energy_snr.push_back(it->second.snr * it->second.energy);  // NaN (in no bin) without an energy column
    drift.push_back(std::abs(it->second.drift));
    signal.push_back(it->second.signal);
    interference.push_back(it->second.interference);
  }
  if (std::count(y.begin(), y.end(), 1.0f) == 0 || std::count(y.begin(), y.end(), 0.0f) == 0) return out;
  out["test ROC AUC (test_labels.csv)"] = roc_auc(y, p);
  config::json bins = config::json::array();
  for (const auto& b : report::auc_by_bins(y, p, snr, report::snr_bin_edges()))
    if (b.positives > 0)
      bins.push_back({{"snr_lo", b.lo}, {"snr_hi", b.hi}, {"positives", b.positives}, {"auc", b.auc}});
  if (!bins.empty()) out["test AUC by SNR"] = bins;  // truth files with SNR (cadence-synth's)
  bins = config::json::array();
  for (const auto& b : report::auc_by_bins(y, p, energy_snr, report::energy_snr_bin_edges()))
    if (b.positives > 0)
      bins.push_back({{"snr_lo", b.lo}, {"snr_hi", b.hi}, {"positives", b.positives}, {"auc", b.auc}});
  if (!bins.empty()) out["test AUC by energy SNR"] = bins;  // truth files with energy (cadence-synth's)
  bins = config::json::array();
  for (const auto& b : report::auc_by_bins(y, p, drift, {0, 0.002, 0.004, 0.006, 0.008, 0.010, 1e9}))
    if (b.positives > 0)
      bins.push_back({{"drift_lo", b.lo}, {"drift_hi", b.hi}, {"positives", b.positives}, {"auc", b.auc}});
  if (!bins.empty()) out["test AUC by |drift| (Hz/s)"] = bins;
  bins = config::json::array();
  for (const auto& f : report::auc_by_family(y, p, signal, interference))
    bins.push_back({{"group", f.group},
                    {"family", f.family},
                    {"positives", f.positives},
                    {"negatives", f.negatives},
                    {"auc", f.auc}});
  if (!bins.empty()) out["test AUC by family"] = bins;  // truth files with families (cadence-synth's)
  return out;
}

/// The same, reading the truth file `labels` (no file: an empty object).
inline config::json score_against_truth(const std::filesystem::path& labels, const std::vector<std::string>& ids,
                                        const std::vector<double>& p) {
  return score_against_truth(read_truth_if_there(labels), ids, p);
}

}  // namespace cadence
