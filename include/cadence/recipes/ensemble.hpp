#pragma once
// An ensemble as one thing: one config names its members (each a run config, e.g. EfficientNetV2-S
// and -M as the seed blended them), each member runs in its own directory under the ensemble's, and
// their fold predictions and submissions are blended with configured weights, by probability or by
// rank. The members' pipelines may differ in type, so running them is the caller's (`seti ensemble`
// dispatches each on its model.arch); this header resolves the members' configs and blends.
//
//   {"ensemble": {"dir": "runs/ensemble", "blend": "rank",
//                 "members": [{"name": "s", "config": "effnetv2_s.json", "weight": 0.5},
//                             {"name": "m", "config": "effnetv2_m.json", "weight": 0.5, "set": ["train.epochs=10"]}]}}
//
// <dir>/<name>/ is each member's run directory; <dir>/ holds ensemble.json (resolved), oof.csv (the
// blend, with each member's column), cv.json (each member's and the blend's out-of-fold AUC),
// submission.csv and report.html.
#include <algorithm>
#include <array>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "cadence/config/options.hpp"
#include "cadence/config/overrides.hpp"
#include "cadence/core/atomic_file.hpp"
#include "cadence/core/regular_file.hpp"
#include "cadence/data/csv.hpp"
#include "cadence/infer/submission.hpp"
#include "cadence/recipes/run_dir.hpp"
#include "cadence/recipes/run_files.hpp"
#include "cadence/train/metrics.hpp"
#include "cadence/train/report.hpp"

namespace cadence {

enum class BlendMode { prob, rank, rank_min };
inline constexpr std::array<std::pair<BlendMode, std::string_view>, 3> enum_names(BlendMode) {
  return {{{BlendMode::prob, "prob"}, {BlendMode::rank, "rank"}, {BlendMode::rank_min, "rank_min"}}};
}

struct EnsembleMember {
  std::string name;              // its run directory under the ensemble's: [A-Za-z0-9_-]
  std::filesystem::path config;  // the member's run config (relative paths: from the ensemble config's directory)
  std::vector<std::string> set;  // overrides applied to it, as with --set ("train.epochs=10")
  double weight = 1.0;           // its weight in the blend
  template <class V>
  void fields(V& v) {
    v("name", name, config::required(), ValidName{});
    v("config", config, config::required(), config::NonEmpty{});
    v("set", set);
    v("weight", weight, config::at_least(0.0));
  }
  struct ValidName {
    void operator()(const std::string& s, const std::string& path) const {
      if (!csv::valid_id(s)) fail(path, ": `", s, "` is not a directory name (letters, digits, `_` and `-`)");
    }
  };
};

struct EnsembleOptions {
  std::filesystem::path dir = "runs/ensemble";  // the ensemble's directory; members run in <dir>/<name>
  BlendMode blend = BlendMode::prob;            // weighted mean of probabilities or of ranks; rank_min: the least rank
  std::vector<std::string> set;                 // overrides for every member, before each member's own
  std::vector<EnsembleMember> members;
  template <class V>
  void fields(V& v) {
    v("dir", dir, config::fits_file_system());
    v("blend", blend);
    v("set", set);
    v("members", members, config::required(), AtLeastTwo{});
  }
  struct AtLeastTwo {
    void operator()(const std::vector<EnsembleMember>& m, const std::string& path) const {
      if (m.size() < 2) fail(path, ": an ensemble needs at least two members, got ", m.size());
      for (std::size_t i = 0; i < m.size(); ++i)
        for (std::size_t j = i + 1; j < m.size(); ++j)
          if (m[i].name == m[j].name) fail(path, "/", j, "/name: `", m[j].name, "` is also member ", i, "'s name");
      double total = 0;
      for (const auto& x : m) total += x.weight;
      if (!(total > 0)) fail(path, ": the members' weights sum to 0");
    }
  };
};

struct EnsembleConfig {
  EnsembleOptions ensemble;
  template <class V>
  void fields(V& v) {
    v("ensemble", ensemble, config::required(), RankMinUnweighted{});
  }
  /// rank_min takes the least of the members' ranks: a weight would be silently ignored, so unequal
  /// weights are refused when the config is read, before any member trains.
  struct RankMinUnweighted {
    void operator()(const EnsembleOptions& e, const std::string& path) const {
      if (e.blend != BlendMode::rank_min) return;
      for (std::size_t i = 1; i < e.members.size(); ++i)
        if (e.members[i].weight != e.members[0].weight)
          fail(path, "/members/", i, "/weight: ", e.members[i].weight, ", member 0's ", e.members[0].weight,
               "; \"blend\": \"rank_min\" takes the least of the members' ranks, so weights do not apply "
               "(make them equal or leave them out)");
    }
  };
};

struct EnsembleResult {
  std::map<std::string, double> member_auc;  // each member's out-of-fold AUC
  double blend_auc = -1.0;
  double test_auc = -1.0;  // the blend's, where the members' data root has a truth file (test_labels.csv)
  std::filesystem::path dir, submission, report;
};

namespace recipes {

/// Member `m`'s run config: its file, its overrides, and run.dir = <ensemble.dir>/<name>.
inline config::json member_config(const EnsembleOptions& e, const EnsembleMember& m,
                                  const std::filesystem::path& base) {
  const auto file = m.config.is_absolute() ? m.config : base / m.config;
  config::json j;
  try {
    j = config::load_file(file);
  } catch (const Error& err) {
    fail("/ensemble/members (", m.name, "): ", err.what());
  }
  for (const auto& s : e.set) config::apply_override(j, s);
  for (const auto& s : m.set) config::apply_override(j, s);
  if (!j.is_object()) fail(file.string(), ": expected a JSON object");
  j["run"]["dir"] = (e.dir / m.name).string();
  return j;
}

namespace detail {

/// The data root a member ran on (`load.root` of the config.json its run wrote); empty when the member's
/// directory has no config.json (a blend of run directories made elsewhere).
inline std::filesystem::path member_data_root(const std::filesystem::path& member_dir) {
  const auto file = member_dir / "config.json";
  if (!std::filesystem::exists(file)) return {};
  require_regular_file(file, file.string());  // a FIFO planted there would block the read
  std::ifstream in(file);
  config::json j;
  try {
    j = config::json::parse(in);
  } catch (const std::exception& x) {
    fail(file.string(), ": not JSON (", first_line(x.what()), ")");
  }
  const auto at = config::json::json_pointer("/load/root");
  if (!j.is_object() || !j.contains(at) || !j.at(at).is_string()) return {};
  return j.at(at).get<std::string>();
}

/// Weighted mean of the members' columns, as probabilities or as normalised ranks; with rank_min, the
/// least of the members' normalised ranks (a cadence ranks high only where every member ranks it high;
/// the weights do not apply).
inline std::vector<double> blend_columns(const std::vector<std::vector<double>>& columns,
                                         const std::vector<double>& weights, BlendMode mode) {
  if (mode == BlendMode::rank_min) {
    std::vector<double> out(columns.front().size(), 1.0);
    for (const auto& column : columns) {
      const auto ranks = normalized_ranks(column);
      for (std::size_t i = 0; i < out.size(); ++i) out[i] = std::min(out[i], ranks[i]);
    }
    return out;
  }
  std::vector<double> out(columns.front().size(), 0.0);
  double total = 0;
  for (std::size_t m = 0; m < columns.size(); ++m) {
    const auto values = mode == BlendMode::rank ? normalized_ranks(columns[m]) : columns[m];
    for (std::size_t i = 0; i < out.size(); ++i) out[i] += weights[m] * values[i];
    total += weights[m];
  }
  for (auto& v : out) v /= total;
  return out;
}

}  // namespace detail

/// Blends the members (after each has run): the out-of-fold predictions by id (the members must have
/// used the same folds), and the submissions by row (the same ids in the same order).
inline EnsembleResult blend(const EnsembleOptions& e) {
  namespace fs = std::filesystem;
  EnsembleResult result;
  result.dir = e.dir;
  std::vector<double> weights;
  std::vector<std::vector<double>> oof_columns, test_columns;
  std::vector<std::string> ids, test_ids;
  std::vector<float> truth;
  std::map<std::string, OofRow> first;
  config::json history = config::json::array();
  for (const auto& m : e.members) {
    const auto dir = e.dir / m.name;
    const auto [rows, order] = read_oof(dir / "oof.csv");
    if (ids.empty()) {
      ids = order;
      first = rows;
      for (const auto& id : ids) truth.push_back(static_cast<float>(rows.at(id).target));
    } else {
      if (rows.size() != first.size())
        fail((dir / "oof.csv").string(), ": ", rows.size(), " rows, member `", e.members[0].name, "` has ",
             first.size());
      for (const auto& [id, row] : first) {
        auto it = rows.find(id);
        if (it == rows.end())
          fail((dir / "oof.csv").string(), ": no row for id `", id, "` (the members must train on the same data)");
        if (it->second.fold != row.fold)
          fail((dir / "oof.csv").string(), ": id `", id, "` is in fold ", it->second.fold, " but in fold ", row.fold,
               " for member `", e.members[0].name, "` (give the members the same run.seed and train.folds)");
      }
    }
    std::vector<double> col;
    for (const auto& id : ids) col.push_back(rows.at(id).prediction);
    result.member_auc[m.name] = roc_auc(truth, col);
    oof_columns.push_back(std::move(col));
    weights.push_back(m.weight);

    const auto sub = csv::read_labels(dir / "submission.csv");
    if (test_ids.empty())
      for (const auto& row : sub) test_ids.push_back(row.id);
    if (sub.size() != test_ids.size())
      fail((dir / "submission.csv").string(), ": ", sub.size(), " rows, member `", e.members[0].name,
           "`'s submission has ", test_ids.size());
    std::vector<double> test_col;
    for (std::size_t i = 0; i < sub.size(); ++i) {
      if (test_ids[i] != sub[i].id)
        fail((dir / "submission.csv").string(), ": row ", i + 2, " is id `", sub[i].id, "`, member `",
             e.members[0].name, "`'s submission has `", test_ids[i], "` there");
      test_col.push_back(sub[i].target);
    }
    test_columns.push_back(std::move(test_col));
    const RunDir run(dir);
    std::vector<fs::path> training{run.pretrain()};
    for (const auto& f : run.folds_present()) training.push_back(f);
    for (const auto& t : training)
      for (auto& h : read_history(RunDir::log(t))) {
        h["tag"] = m.name + " " + h.value("tag", t.filename().string());
        history.push_back(std::move(h));
      }
  }
  const auto oof = detail::blend_columns(oof_columns, weights, e.blend);
  result.blend_auc = roc_auc(truth, oof);
  const auto test = detail::blend_columns(test_columns, weights, e.blend);

  fs::create_directories(e.dir);
  std::ostringstream csv;
  csv << "id,target,prediction,fold";
  for (const auto& m : e.members) csv << ',' << m.name;
  csv << '\n';
  for (std::size_t i = 0; i < ids.size(); ++i) {
    csv << ids[i] << ',' << truth[i] << ',' << oof[i] << ',' << first.at(ids[i]).fold;
    for (const auto& c : oof_columns) csv << ',' << c[i];
    csv << '\n';
  }
  write_text_atomically(e.dir / "oof.csv", [&](std::ostream& o) { o << csv.str(); });
  config::json cv = {{"blend", {{"mode", config::write_value(e.blend)}, {"oof_auc", result.blend_auc}}},
                     {"members", config::json::object()}};
  config::json summary = config::json::object();
  for (std::size_t m = 0; m < e.members.size(); ++m) {
    const auto& name = e.members[m].name;
    cv["members"][name] = {{"oof_auc", result.member_auc[name]}, {"weight", weights[m]}};
    summary["out-of-fold ROC AUC, " + name] = result.member_auc[name];
  }
  summary["out-of-fold ROC AUC, blend (" + config::write_value(e.blend).get<std::string>() + ")"] = result.blend_auc;
  write_text_atomically(e.dir / "cv.json", [&](std::ostream& o) { o << cv.dump(2) << '\n'; });
  result.submission = e.dir / "submission.csv";
  write_predictions(result.submission, test_ids, test);
  // on a set with a truth file (cadence-synth's test_labels.csv beside the members' data): the blend's
  // test AUC, by SNR, |drift| and family, and each member's, in predict.json as `seti predict` writes it
  const auto root = detail::member_data_root(e.dir / e.members[0].name);
  const auto labels = read_truth_if_there(root.empty() ? root : root / "test_labels.csv");  // read once
  auto scored = score_against_truth(labels, test_ids, test);
  if (!scored.empty()) {
    result.test_auc = scored["test ROC AUC (test_labels.csv)"].get<double>();
    summary["test ROC AUC, blend"] = result.test_auc;
    for (std::size_t m = 0; m < e.members.size(); ++m) {
      const auto member = score_against_truth(labels, test_ids, test_columns[m]);
      scored["test ROC AUC, " + e.members[m].name] = member["test ROC AUC (test_labels.csv)"];
    }
    scored["test cadences"] = test_ids.size();
    write_text_atomically(e.dir / "predict.json", [&](std::ostream& o) { o << scored.dump(2) << '\n'; });
  }
  result.report = e.dir / "report.html";
  report::write(result.report, "cadence: ensemble", history, truth, oof, summary);
  return result;
}

}  // namespace recipes
}  // namespace cadence
