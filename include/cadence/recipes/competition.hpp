#pragma once
// The competition's three jobs from one pipeline expression and one JSON file:
//
//   pretrain  hold-out training on old_leaky_data (or any labelled split); best weights by validation AUC
//   finetune  stratified K-fold on train, each fold starting from the pretrained weights (or the model's
//             `weights`, or scratch); out-of-fold predictions, AUC per fold and overall
//   predict   the fold ensemble x the pipeline's TTA on test, optionally blended with other runs'
//             submissions (the seed averaged EfficientNetV2-S and -M); submission.csv in sample order
//   run       all three
//
// Run directory (run.dir): config.json, pretrain/, fold_<k>/ (log.jsonl, model.pt, last.pt), folds.csv,
// oof.csv, cv.json, submission.csv, report.html. Every file is written atomically.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <map>
#include <numeric>
#include <sstream>
#include <string>
#include <vector>

#include <torch/nn.h>
#include <torch/serialize.h>

#include "cadence/config/pipeline_config.hpp"
#include "cadence/core/run_lock.hpp"
#include "cadence/dist/group.hpp"
#include "cadence/recipes/check.hpp"
#include "cadence/recipes/fingerprint.hpp"
#include "cadence/recipes/options.hpp"
#include "cadence/data/csv.hpp"
#include "cadence/data/folds.hpp"
#include "cadence/data/load.hpp"
#include "cadence/detect/dedoppler.hpp"
#include "cadence/nn/model.hpp"
#include "cadence/infer/predict.hpp"
#include "cadence/infer/submission.hpp"
#include "cadence/nn/memory_format.hpp"
#include "cadence/core/compose.hpp"
#include "cadence/train/fit.hpp"
#include "cadence/train/metrics.hpp"
#include "cadence/train/report.hpp"

namespace cadence {

struct CompetitionResult {
  double pretrain_auc = -1.0;
  std::vector<double> fold_auc;
  double cv_auc = -1.0;
  std::filesystem::path dir, submission, report;
};

namespace recipes {

namespace detail {

inline std::vector<std::int64_t> iota(std::size_t n) {
  std::vector<std::int64_t> v(n);
  for (std::size_t i = 0; i < n; ++i) v[i] = static_cast<std::int64_t>(i);
  return v;
}

/// A job's configuration and its hold on the run directory.
struct Prepared {
  CompetitionConfig cfg;
  std::unique_ptr<RunLock> lock;
};

/// The prediction stage's JSON section: prediction-time keys, not part of the fingerprint.
template <class P>
std::vector<std::string> prediction_sections(const P& pipeline) {
  std::vector<std::string> names;
  pipeline.for_each([&](const auto& s) {
    using S = std::remove_cvref_t<decltype(s)>;
    if constexpr (PredictStage<S>) names.emplace_back(S::name);
  });
  return names;
}

/// Everything a job checks before it works (see recipes/check.hpp), for the inputs it (and the jobs
/// after it) will read: pretrain its split and hold-out; finetune the pretrained weights, train and
/// its folds, and test; predict test and the blend files; run and check all of them.
template <class P>
void check_inputs(const P& pipeline, const CompetitionConfig& cfg, const std::string& job) {
  const bool all = job == "run" || job == "check";
  const bool pretrained = cfg.finetune.init == FinetuneInit::pretrained;
  if (job == "pretrain" || (all && pretrained)) {
    const Split s = cfg.pretrain.split == PretrainSplit::old ? Split::old : Split::train;
    const auto d = open_checked(pipeline, s);
    checks::holdout(d.targets(), stratified_holdout(d.targets(), cfg.train.holdout, cfg.run.seed), to_string(s));
  }
  if (job == "finetune" && pretrained && dist::leader() && !std::filesystem::exists(cfg.run.dir / "pretrain" / "model.pt"))
    fail("/finetune/init: \"pretrained\" but ", (cfg.run.dir / "pretrain" / "model.pt").string(),
         " does not exist (run pretrain first, or set init to \"weights\" or \"scratch\")");
  if (job == "finetune" || all) checks::folds(open_checked(pipeline, Split::train).targets(), cfg.train.folds, "train");
  if (job != "pretrain" && dist::leader()) checks::blend(cfg.predict, open_checked(pipeline, Split::test));  // rank 0 blends
  pipeline.for_each([&](const auto& s) {
    if constexpr (requires { s.options.weights; })
      if (!s.options.weights.empty() && !std::filesystem::exists(s.options.weights))
        fail("/", std::remove_cvref_t<decltype(s)>::name, "/weights: ", s.options.weights.string(), " does not exist");
  });
}

/// Reads the config (all errors here, before any work), takes the run directory (its lock; its
/// fingerprint, recorded once the inputs have passed), checks the inputs and writes the resolved
/// config. `fresh`: a job that starts the directory's run over (pretrain or run without --resume).
template <class P>
Prepared prepare(P& pipeline, const config::json& j, const std::string& job, bool fresh) {
  static_assert(P::has_source, "cadence::recipes: the pipeline has no source stage; start it with Load{} (or a source of your own).");
  static_assert(P::has_model, "cadence::recipes: the pipeline has no Model<...> stage to train.");
  Prepared p;
  config::read_config(j, pipeline, p.cfg);
  auto& cfg = p.cfg;
  cfg.validate();
  const auto resolved = config::write_config(pipeline, cfg);
  const auto identity = fingerprint::of_config(resolved, prediction_sections(pipeline));
  const bool starts_over = fresh && !cfg.run.resume;
  if (dist::Group* g = cfg.run.join()) {  // a data-parallel run: one config, rank 0 keeps the directory
    g->agree("config", std::hash<std::string>{}(identity.dump()));
    if (!g->leader()) cfg.run.quiet = true;
  }
  const auto defaults = fingerprint::of_config(config::write_config(P{}, CompetitionConfig{}), prediction_sections(pipeline));
  dist::on_leader([&] { fingerprint::verify_config(cfg.run.dir, identity, job, starts_over, defaults); });
  check_inputs(pipeline, cfg, job);
  dist::on_leader([&] {
    p.lock = std::make_unique<RunLock>(cfg.run.dir);  // the first write to the directory (it makes it)
    const auto replaced = fingerprint::record_config(cfg.run.dir, identity, starts_over, cfg.train.folds);
    if (!replaced.empty() && !cfg.run.quiet)
      std::fprintf(stderr, "%s: a new run replaces the one made by another config (%s)\n", cfg.run.dir.string().c_str(), replaced.c_str());
    write_text_atomically(cfg.run.dir / "config.json", [&](std::ostream& o) { o << resolved.dump(2) << '\n'; });
  });
  return p;
}

template <class P>
auto fresh_network(const P& pipeline, const CompetitionConfig& cfg, torch::Device device, std::uint64_t salt) {
  torch::manual_seed(cfg.run.seed + salt);  // each fold's initialisation is its own, and reproducible
  auto net = build_network(pipeline, source_of(pipeline).image_shape().channels);
  net->to(device);
  if (cfg.train.channels_last) to_channels_last(*net);
  return net;
}

using cadence::without_weights;  // core/compose.hpp

inline config::json read_history(const std::filesystem::path& log) {
  config::json h = config::json::array();
  std::ifstream in(log);
  for (std::string line; std::getline(in, line);)
    if (!line.empty()) h.push_back(config::json::parse(line));
  return h;
}

/// The settings a reader of the report wants first, from the resolved config (those the pipeline has).
template <class P>
config::json key_settings(const P& pipeline, const CompetitionConfig& cfg) {
  const auto resolved = config::write_config(pipeline, cfg);
  config::json out = config::json::object();
  for (const char* key : {"/model/arch", "/model/head", "/load/layout", "/background/mode", "/train/epochs", "/train/batch_size",
                          "/train/lr", "/train/optimizer", "/train/scheduler", "/mixup/p", "/mixup/alpha", "/tta/mode",
                          "/train/folds", "/train/amp", "/run/device", "/run/threads", "/run/seed"}) {
    const config::json::json_pointer ptr(key);
    if (resolved.contains(ptr)) out[std::string(key).substr(1)] = resolved[ptr];
  }
  return out;
}

/// The data root of the pipeline's source, when it has one (Load's `root`).
template <class P>
std::filesystem::path data_root(const P& pipeline) {
  if constexpr (requires { source_of(pipeline).options.root; }) return source_of(pipeline).options.root;
  else return {};
}

/// Per id, a truth file's SNR (cadence-synth writes train_signals.csv and test_labels.csv beside the
/// Kaggle layout); empty when the data root has no such file.
inline std::map<std::string, csv::TruthRow> read_truth_if_there(const std::filesystem::path& file) {
  std::map<std::string, csv::TruthRow> out;
  if (file.empty() || !std::filesystem::exists(file)) return out;
  for (auto& r : csv::read_truth(file)) out.emplace(r.id, r);
  return out;
}

inline std::string seconds(double s) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f s", s);
  return buf;
}

/// report.html from whatever the run directory holds so far.
inline std::filesystem::path write_report(const CompetitionConfig& cfg, const std::string& title, const config::json& summary,
                                          const std::vector<float>& oof_truth = {}, const std::vector<double>& oof = {},
                                          const report::Extras& extras = {}) {
  namespace fs = std::filesystem;
  if (!dist::leader()) return cfg.run.dir / "report.html";  // rank 0 writes
  config::json history = config::json::array();
  for (const auto& sub : {std::string("pretrain")}) {
    if (fs::exists(cfg.run.dir / sub / "log.jsonl"))
      for (auto& h : read_history(cfg.run.dir / sub / "log.jsonl")) history.push_back(h);
  }
  for (int k = 0; k < cfg.train.folds; ++k) {  // this run's folds only
    const auto log = cfg.run.dir / ("fold_" + std::to_string(k)) / "log.jsonl";
    if (!fs::exists(log)) continue;
    for (auto& h : read_history(log)) history.push_back(h);
  }
  const auto path = cfg.run.dir / "report.html";
  report::write(path, title, history, oof_truth, oof, summary, extras);
  return path;
}

inline config::json finetune_summary(double cv_auc, const std::vector<double>& fold_auc, double wall = 0.0) {
  config::json s = {{"out-of-fold ROC AUC", cv_auc}, {"fold AUCs", fold_auc}};
  if (wall > 0.0) s["fine-tune wall time"] = seconds(wall);
  return s;
}

/// The report's settings and, when the data root has cadence-synth's train_signals.csv, each OOF sample's SNR.
template <class P>
report::Extras finetune_extras(const P& pipeline, const CompetitionConfig& cfg, const std::vector<std::string>& oof_ids) {
  report::Extras e{key_settings(pipeline, cfg), {}, {}, {}};
  const auto root = data_root(pipeline);
  const auto truth = read_truth_if_there(root.empty() ? root : root / "train_signals.csv");
  if (!truth.empty())
    for (const auto& id : oof_ids) {
      const auto it = truth.find(id);
      e.oof_snr.push_back(it == truth.end() ? std::nan("") : it->second.snr);
    }
  return e;
}

/// The de-Doppler baseline's probabilities for `indices` of `data` (finetune.baseline): a copy of the
/// pipeline's Load reading all six panels, no background stage, Model<DeDopplerArch> with its defaults.
/// The yardstick the report shows beside the network, on the same cadences.
template <class P>
std::vector<double> baseline_scores(const P& pipeline, const CompetitionConfig& cfg, const Dataset& data,
                                    const std::vector<std::int64_t>& indices, torch::Device device) {
  using Source = std::remove_cvref_t<decltype(source_of(pipeline))>;
  if constexpr (!std::same_as<Source, Load>) {
    fail("/finetune/baseline: the de-Doppler baseline reads the competition's layout through Load, and this pipeline's source is another");
  } else {
    Load load = source_of(pipeline);
    load.options.layout = PanelLayout::all_stacked;
    const auto p = load | Model<DeDopplerArch>{};
    auto net = build_network(p, load.image_shape().channels);
    net->to(device);
    return predict_pipeline(p, net, Head::ce, data, indices, cfg.train.eval_batch_size, device, cfg.run.seed, "de-Doppler baseline",
                            cfg.run.quiet);
  }
}

/// The OOF predictions and the summary finetune left (oof.csv, cv.json), to draw the report again.
inline void read_finetune_outputs(const CompetitionConfig& cfg, std::vector<std::string>& ids, std::vector<float>& truth,
                                  std::vector<double>& pred, config::json& summary) {
  namespace fs = std::filesystem;
  const auto cv = cfg.run.dir / "cv.json", oof = cfg.run.dir / "oof.csv";
  if (!fs::exists(cv) || !fs::exists(oof)) return;
  std::ifstream in(cv);
  const auto j = config::json::parse(in, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return;
  summary = finetune_summary(j.value("oof_auc", -1.0), j.value("fold_auc", std::vector<double>{}));
  if (j.contains("baseline_auc")) summary["de-Doppler baseline ROC AUC (same cadences)"] = j["baseline_auc"];
  std::ifstream rows(oof);
  std::string line;
  std::getline(rows, line);
  while (std::getline(rows, line)) {
    std::istringstream f(line);
    std::string id, t, p;
    if (!std::getline(f, id, ',') || !std::getline(f, t, ',') || !std::getline(f, p, ',')) continue;
    ids.push_back(id);
    truth.push_back(std::stof(t));
    pred.push_back(std::stod(p));
  }
}

}  // namespace detail

/// `seti check`: every check the jobs make (config, inputs, folds, blend files, weights), without
/// taking the run directory or training; a short summary of the splits.
template <class P>
std::string check(P pipeline, const config::json& j) {
  CompetitionConfig cfg;
  config::read_config(j, pipeline, cfg);
  cfg.validate();
  detail::check_inputs(pipeline, cfg, "check");
  std::string summary;
  auto line = [&](Split s) {
    const auto d = source_of(pipeline).open(s);
    char buf[160];
    if (s == Split::test) std::snprintf(buf, sizeof buf, "%-6s %zu cadences\n", to_string(s), d.size());
    else std::snprintf(buf, sizeof buf, "%-6s %zu cadences, %zu positive\n", to_string(s), d.size(), checks::positives(d.targets()));
    summary += buf;
  };
  if (cfg.finetune.init == FinetuneInit::pretrained && cfg.pretrain.split == PretrainSplit::old) line(Split::old);
  line(Split::train);
  line(Split::test);
  return summary + std::to_string(cfg.train.folds) + " folds, each validation with both classes; config and inputs ok\n";
}

/// Hold-out training on the pretraining split; best weights in <run.dir>/pretrain/model.pt.
template <class P>
double pretrain(P pipeline, const config::json& j) {
  const auto prepared = detail::prepare(pipeline, j, "pretrain", /*fresh=*/true);
  const auto& cfg = prepared.cfg;
  const torch::Device device = cfg.run.apply();
  const Split split_name = cfg.pretrain.split == PretrainSplit::old ? Split::old : Split::train;
  const Dataset data = source_of(pipeline).open(split_name);
  dist::on_leader([&] { fingerprint::check_inputs(cfg.run.dir, to_string(split_name), data); });
  const auto targets = data.targets();
  const auto is_valid = stratified_holdout(targets, cfg.train.holdout, cfg.run.seed);
  const auto split = split_indices(targets.size(), [&](std::size_t i) { return is_valid[i]; });
  const auto& fitting = split.fitting;
  const auto& valid = split.valid;
  const auto dir = cfg.run.dir / "pretrain";
  dist::on_leader([&] {
    std::filesystem::create_directories(dir);
    save_folds(dir / "split.csv", data.ids(), std::vector<int>(is_valid.begin(), is_valid.end()));
  });
  TrainOptions t = cfg.train;
  if (cfg.pretrain.epochs > 0) t.epochs = cfg.pretrain.epochs;
  auto net = detail::fresh_network(pipeline, cfg, device, 1000);
  const auto r = fit(pipeline, net, cfg.run, t, data, fitting, valid, dir, "pretrain", device);
  detail::write_report(cfg, "cadence: pretrain", {{"pretrain validation AUC", r.best_auc}, {"best epoch", r.best_epoch}}, {}, {},
                       report::Extras{detail::key_settings(pipeline, cfg), {}, {}, {}});
  return r.best_auc;
}

/// Stratified K-fold on train; oof.csv, cv.json; per-fold weights in <run.dir>/fold_<k>/model.pt.
template <class P>
CompetitionResult finetune(P pipeline, const config::json& j) {
  const auto prepared = detail::prepare(pipeline, j, "finetune", /*fresh=*/false);
  const auto& cfg = prepared.cfg;
  namespace fs = std::filesystem;
  const fs::path pretrained = cfg.run.dir / "pretrain" / "model.pt";
  const torch::Device device = cfg.run.apply();
  const Dataset data = source_of(pipeline).open(Split::train);
  dist::on_leader([&] { fingerprint::check_inputs(cfg.run.dir, "train", data); });
  const auto targets = data.targets();
  const int K = cfg.train.folds;
  const auto fold = stratified_kfold(targets, K, cfg.run.seed);
  dist::on_leader([&] { save_folds(cfg.run.dir / "folds.csv", data.ids(), fold); });

  CompetitionResult result;
  result.dir = cfg.run.dir;
  const auto started = std::chrono::steady_clock::now();
  std::vector<double> oof(targets.size(), -1.0);
  // "scratch" ignores model.weights; "pretrained" overwrites them anyway, so neither reads the file
  const auto init_from = cfg.finetune.init == FinetuneInit::weights ? pipeline : detail::without_weights(pipeline);
  for (int k = 0; k < K; ++k) {
    if (!cfg.finetune.only.empty() && std::find(cfg.finetune.only.begin(), cfg.finetune.only.end(), k) == cfg.finetune.only.end()) continue;
    const auto split = fold_split(fold, k);
    const auto& fitting = split.fitting;
    const auto& valid = split.valid;
    auto net = detail::fresh_network(init_from, cfg, device, static_cast<std::uint64_t>(k));
    if (cfg.finetune.init == FinetuneInit::pretrained) load_module(net, pretrained);
    const auto r = fit(pipeline, net, cfg.run, cfg.train, data, fitting, valid, cfg.run.dir / ("fold_" + std::to_string(k)),
                       "fold " + std::to_string(k), device);
    for (std::size_t v = 0; v < valid.size(); ++v) oof[static_cast<std::size_t>(valid[v])] = r.best_valid[v];
    result.fold_auc.push_back(r.best_auc);
  }
  std::vector<std::string> ids;
  std::vector<std::int64_t> oof_index;
  std::vector<float> truth;
  std::vector<double> pred;
  std::ostringstream csv;
  csv << "id,target,prediction,fold\n";
  for (std::size_t i = 0; i < oof.size(); ++i) {
    if (oof[i] < 0) continue;
    ids.push_back(data.entries[i].id);
    oof_index.push_back(static_cast<std::int64_t>(i));
    truth.push_back(targets[i]);
    pred.push_back(oof[i]);
    csv << data.entries[i].id << ',' << targets[i] << ',' << oof[i] << ',' << fold[i] << '\n';
  }
  result.cv_auc = roc_auc(truth, pred);
  const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  config::json cv = {{"fold_auc", result.fold_auc}, {"oof_auc", result.cv_auc}, {"folds", K}};  // byte-reproducible: no times
  auto extras = detail::finetune_extras(pipeline, cfg, ids);
  if (cfg.finetune.baseline) {
    extras.baseline = detail::baseline_scores(pipeline, cfg, data, oof_index, device);
    cv["baseline_auc"] = roc_auc(truth, extras.baseline);
    if (!cfg.run.quiet) std::fprintf(stderr, "de-Doppler baseline on the same cadences: ROC AUC %.4f\n", cv["baseline_auc"].get<double>());
  }
  dist::on_leader([&] {
    write_text_atomically(cfg.run.dir / "oof.csv", [&](std::ostream& o) { o << csv.str(); });
    write_text_atomically(cfg.run.dir / "cv.json", [&](std::ostream& o) { o << cv.dump(2) << '\n'; });
  });
  if (!cfg.run.quiet) std::fprintf(stderr, "CV: out-of-fold ROC AUC %.4f over %zu samples\n", result.cv_auc, pred.size());
  auto summary = detail::finetune_summary(result.cv_auc, result.fold_auc, wall);
  if (cv.contains("baseline_auc")) summary["de-Doppler baseline ROC AUC (same cadences)"] = cv["baseline_auc"];
  result.report = detail::write_report(cfg, "cadence: fine-tune", summary, truth, pred, extras);
  return result;
}

/// The fold ensemble x TTA on test, blended with predict.blend; submission.csv in sample order.
template <class P>
std::filesystem::path predict(P pipeline, const config::json& j) {
  const auto prepared = detail::prepare(pipeline, j, "predict", /*fresh=*/false);
  const auto& cfg = prepared.cfg;
  namespace fs = std::filesystem;
  std::vector<fs::path> models;
  std::string present(static_cast<std::size_t>(cfg.train.folds), '0');  // rank 0's view of the folds, for all ranks
  for (int k = 0; k < cfg.train.folds; ++k)
    if (fs::exists(cfg.run.dir / ("fold_" + std::to_string(k)) / "model.pt")) present[static_cast<std::size_t>(k)] = '1';
  if (dist::Group* g = dist::current()) present = g->broadcast_bytes(present, "fold list");
  for (int k = 0; k < cfg.train.folds; ++k)
    if (present[static_cast<std::size_t>(k)] == '1') models.push_back(cfg.run.dir / ("fold_" + std::to_string(k)) / "model.pt");
  if (models.empty()) fail(cfg.run.dir.string(), ": no fold_<k>/model.pt to predict with (run finetune first)");
  const auto started = std::chrono::steady_clock::now();
  const torch::Device device = cfg.run.apply();
  const Dataset test = source_of(pipeline).open(Split::test);
  std::vector<double> mean(test.size(), 0.0);
  const auto shell = detail::without_weights(pipeline);  // each fold's checkpoint replaces the weights
  if (detail::fresh_network(shell, cfg, device, 0)->parameters().empty()) models.resize(1);  // nothing learnt: the folds agree
  for (std::size_t m = 0; m < models.size(); ++m) {
    auto net = detail::fresh_network(shell, cfg, device, 0);
    load_module(net, models[m]);
    prepare_for_inference(*net, cfg.predict.inference());  // BN folded, channels_last: what bench_compare times
    AutocastGuard autocast(cfg.predict.amp, device);
    const auto p = predict_pipeline(pipeline, net, pipeline_head(pipeline), test, detail::iota(test.size()), cfg.train.eval_batch_size,
                                    device, cfg.run.seed, "predict " + std::to_string(m + 1) + "/" + std::to_string(models.size()), cfg.run.quiet);
    for (std::size_t i = 0; i < p.size(); ++i) mean[i] += p[i] / static_cast<double>(models.size());
  }
  const auto path = cfg.run.dir / "submission.csv";
  if (!dist::leader()) return path;  // rank 0 blends and writes
  // blend with other runs' submissions, by id
  double total = cfg.predict.weight;
  std::vector<double> blended(mean.size());
  for (std::size_t i = 0; i < mean.size(); ++i) blended[i] = cfg.predict.weight * mean[i];
  for (const auto& member : cfg.predict.blend) {
    const auto rows = csv::read_labels(member.submission);
    if (rows.size() != test.size()) fail(member.submission.string(), ": ", rows.size(), " rows, the test set has ", test.size());
    for (std::size_t i = 0; i < rows.size(); ++i) {
      if (rows[i].id != test.entries[i].id) fail(member.submission.string(), ": row ", i + 2, " is id `", rows[i].id, "`, expected `", test.entries[i].id, "`");
      blended[i] += member.weight * rows[i].target;
    }
    total += member.weight;
  }
  if (!(total > 0)) fail("/predict: the blend weights sum to 0");
  for (auto& v : blended) v /= total;
  write_predictions(path, test.ids(), blended);
  // what the prediction looks like, and (on a set with a truth file, as cadence-synth's) how good it is
  int rounds = 1;
  with_predict_stage(pipeline, [&](const auto& stage) { rounds = stage.rounds(); });
  std::vector<double> sorted = blended;
  std::sort(sorted.begin(), sorted.end());
  const auto at = [&](double q) { return sorted[static_cast<std::size_t>(q * static_cast<double>(sorted.size() - 1))]; };
  config::json summary = {{"test cadences", blended.size()}, {"models (folds)", models.size()}, {"TTA rounds", rounds},
                          {"mean probability", std::accumulate(blended.begin(), blended.end(), 0.0) / static_cast<double>(blended.size())},
                          {"share >= 0.5", static_cast<double>(sorted.end() - std::lower_bound(sorted.begin(), sorted.end(), 0.5)) / static_cast<double>(sorted.size())},
                          {"probability quartiles", std::vector<double>{at(0.25), at(0.5), at(0.75)}},
                          {"predict wall time", detail::seconds(std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count())}};
  const auto root = detail::data_root(pipeline);
  const auto truth = detail::read_truth_if_there(root.empty() ? root : root / "test_labels.csv");
  if (!truth.empty()) {
    std::vector<float> y;
    std::vector<double> p, snr, drift;
    for (std::size_t i = 0; i < test.size(); ++i) {
      const auto it = truth.find(test.entries[i].id);
      if (it == truth.end()) continue;
      y.push_back(static_cast<float>(it->second.target));
      p.push_back(blended[i]);
      snr.push_back(it->second.snr);
      drift.push_back(std::abs(it->second.drift));
    }
    if (y.size() == test.size() && std::count(y.begin(), y.end(), 1.0f) > 0 && std::count(y.begin(), y.end(), 0.0f) > 0) {
      summary["test ROC AUC (test_labels.csv)"] = roc_auc(y, p);
      config::json bins = config::json::array();
      for (const auto& b : report::auc_by_bins(y, p, snr, report::snr_bin_edges()))
        if (b.positives > 0) bins.push_back({{"snr_lo", b.lo}, {"snr_hi", b.hi}, {"positives", b.positives}, {"auc", b.auc}});
      if (!bins.empty()) summary["test AUC by SNR"] = bins;  // truth files with SNR (cadence-synth's)
      bins = config::json::array();
      for (const auto& b : report::auc_by_bins(y, p, drift, {0, 0.002, 0.004, 0.006, 0.008, 0.010, 1e9}))
        if (b.positives > 0) bins.push_back({{"drift_lo", b.lo}, {"drift_hi", b.hi}, {"positives", b.positives}, {"auc", b.auc}});
      if (!bins.empty()) summary["test AUC by |drift| (Hz/s)"] = bins;
      if (!cfg.run.quiet) std::fprintf(stderr, "test: ROC AUC %.4f against %s\n", summary["test ROC AUC (test_labels.csv)"].get<double>(), (root / "test_labels.csv").string().c_str());
    }
  }
  write_text_atomically(cfg.run.dir / "predict.json", [&](std::ostream& o) { o << summary.dump(2) << '\n'; });
  std::vector<std::string> oof_ids;
  std::vector<float> oof_truth;
  std::vector<double> oof_pred;
  config::json cv_summary;
  detail::read_finetune_outputs(cfg, oof_ids, oof_truth, oof_pred, cv_summary);
  auto extras = detail::finetune_extras(pipeline, cfg, oof_ids);
  summary.erase("test AUC by SNR");
  summary.erase("test AUC by |drift| (Hz/s)");
  extras.prediction = summary;
  detail::write_report(cfg, "cadence: fine-tune and predict", cv_summary, oof_truth, oof_pred, extras);
  return path;
}

/// pretrain (unless finetune.init is not "pretrained"), finetune, predict.
template <class P>
CompetitionResult run(P pipeline, const config::json& j) {
  CompetitionResult r;
  auto p = pipeline;
  // the whole run's checks first, and the directory held from the first job to the last
  const auto prepared = detail::prepare(p, j, "run", /*fresh=*/true);
  if (prepared.cfg.finetune.init == FinetuneInit::pretrained) r.pretrain_auc = pretrain(pipeline, j);
  const auto f = finetune(pipeline, j);
  r.fold_auc = f.fold_auc;
  r.cv_auc = f.cv_auc;
  r.dir = f.dir;
  r.report = f.report;
  r.submission = predict(pipeline, j);
  return r;
}

}  // namespace recipes
}  // namespace cadence
