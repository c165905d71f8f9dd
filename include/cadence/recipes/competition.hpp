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
// Run directory (run.dir): its layout, lock, fingerprint and link policy are recipes/run_dir.hpp's. A job
// reads as its phases: prepare (every check, then the first write), the work, the outputs.
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
#include "cadence/dist/group.hpp"
#include "cadence/recipes/check.hpp"
#include "cadence/recipes/fingerprint.hpp"
#include "cadence/recipes/options.hpp"
#include "cadence/recipes/run_dir.hpp"
#include "cadence/recipes/run_files.hpp"
#include "cadence/data/csv.hpp"
#include "cadence/data/folds.hpp"
#include "cadence/data/load.hpp"
#include "cadence/detect/background.hpp"
#include "cadence/detect/dedoppler.hpp"
#include "cadence/nn/model.hpp"
#include "cadence/infer/predict.hpp"
#include "cadence/infer/submission.hpp"
#include "cadence/nn/memory_format.hpp"
#include "cadence/core/compose.hpp"
#include "cadence/core/interrupt.hpp"
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

/// A job's configuration and its run directory (held on rank 0 once prepare() returns).
struct Prepared {
  CompetitionConfig cfg;
  RunDir dir;
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

/// This config's fingerprint, and the all-defaults one (options added since a run was made).
template <class P>
std::pair<config::json, config::json> identity_of(const P& pipeline, const CompetitionConfig& cfg) {
  return {fingerprint::of_config(config::write_config(pipeline, cfg), prediction_sections(pipeline)),
          fingerprint::of_config(config::write_config(P{}, CompetitionConfig{}), prediction_sections(pipeline))};
}

/// Reads the weights a job will start from (model.weights, when set and used), so that a file it cannot
/// import is refused before anything is written.
template <class P>
void check_weights(const P& pipeline, const CompetitionConfig& cfg, const std::string& job) {
  bool has = false;
  pipeline.for_each([&](const auto& s) {
    if constexpr (requires { s.options.weights; }) {
      if (s.options.weights.empty()) return;
      if (!std::filesystem::exists(s.options.weights))
        fail("/", std::remove_cvref_t<decltype(s)>::name, "/weights: ", s.options.weights.string(), " does not exist");
      has = true;
    }
  });
  const bool scratch =
      cfg.finetune.init == FinetuneInit::scratch;  // finetune then reads no weights, and run no pretrain
  const bool used = job == "pretrain" || job == "holdout" || ((job == "run" || job == "check") && !scratch) ||
                    (job == "finetune" && cfg.finetune.init == FinetuneInit::weights);
  if (has && used)
    (void)build_network(pipeline, source_of(pipeline).image_shape().channels);  // errors name /model/weights
}

/// Everything a job checks before it works (see recipes/check.hpp), for the inputs it (and the jobs
/// after it) will read: pretrain its split and hold-out; finetune the pretrained weights, train and
/// its folds, and test; predict test and the blend files; run and check all of them; each the weights
/// it starts from.
template <class P>
void check_inputs(const P& pipeline, const CompetitionConfig& cfg, const RunDir& dir, const std::string& job) {
  const bool all = job == "run" || job == "check";
  const bool pretrained = cfg.finetune.init == FinetuneInit::pretrained;
  // SWA inside every training the job runs (Fit refuses it too, but only once a fold starts)
  const int swa = cfg.train.swa_start;
  if ((job != "pretrain" || cfg.pretrain.epochs == 0) && swa > cfg.train.epochs)
    fail("/train/swa_start: epoch ", swa, " is after the last epoch (train.epochs: ", cfg.train.epochs,
         "); SWA would average nothing");
  if ((job == "pretrain" || (all && pretrained)) && cfg.pretrain.epochs > 0 && swa > cfg.pretrain.epochs)
    fail("/train/swa_start: epoch ", swa, " is after pretraining's last epoch (pretrain.epochs: ", cfg.pretrain.epochs,
         "); SWA would average nothing");
  if (job == "pretrain" || (all && pretrained)) {
    const Split s = cfg.pretrain.split == PretrainSplit::old ? Split::old : Split::train;
    const auto d = open_checked(pipeline, s);
    checks::holdout(d.targets(), stratified_holdout(d.targets(), cfg.train.holdout, cfg.run.seed), to_string(s));
  }
  if (job == "finetune" || all) checks::folds(open_checked(pipeline, Split::train).targets(), cfg.train.folds, "train");
  if (job == "holdout") {  // holdout trains on a hold-out of train and predicts test; it blends nothing
    const auto d = open_checked(pipeline, Split::train);
    checks::holdout(d.targets(), stratified_holdout(d.targets(), cfg.train.holdout, cfg.run.seed), "train");
    (void)open_checked(pipeline, Split::test);
  }
  // rank 0 alone reads the run directory and blends; on_leader makes its refusal every rank's error line
  dist::on_leader([&] {
    const auto pretrained_model = RunDir::model(dir.pretrain());
    if (job == "finetune" && pretrained && !std::filesystem::exists(pretrained_model))
      fail("/finetune/init: \"pretrained\" but ", pretrained_model.string(),
           " does not exist (run pretrain first, or set init to \"weights\" or \"scratch\")");
    if (job != "pretrain" && job != "holdout") checks::blend(cfg.predict, open_checked(pipeline, Split::test));
    // the folds' models (and oof.csv) were made from the train split the run recorded: a changed split is
    // refused before anything is written (finetune refused it, predict did not, and both only after
    // rewriting config.json); a run that starts over forgets what was recorded
    if (job == "predict" || job == "finetune" || (job == "run" && cfg.run.resume))
      fingerprint::verify_inputs(dir.root(), "train", open_checked(pipeline, Split::train));
    if (job == "predict") {  // what predict reads back for the report: refused now, not after submission.csv
      if (std::filesystem::exists(dir.oof())) (void)read_oof(dir.oof());
      if (std::filesystem::exists(dir.cv())) (void)config::load_file(dir.cv());
      for (const auto& [k, _] : dir.fold_models(cfg.train.folds)) (void)read_history(RunDir::log(dir.fold(k)));
    }
  });
  check_weights(pipeline, cfg, job);
}

/// Reads the config (all errors here), checks the run directory's identity and every input the job
/// will read, and only then takes the directory (its lock; its fingerprint) and writes the resolved
/// config: a refused job writes nothing. `fresh`: a job that starts the directory's run over (pretrain
/// or run without --resume).
template <class P>
Prepared prepare(P& pipeline, const config::json& j, const std::string& job, bool fresh) {
  static_assert(P::has_source,
                "cadence::recipes: the pipeline has no source stage; start it with Load{} (or a source of your own).");
  static_assert(P::has_model, "cadence::recipes: the pipeline has no Model<...> stage to train.");
  Prepared p;
  config::read_config(j, pipeline, p.cfg);
  auto& cfg = p.cfg;
  cfg.validate();
  p.dir = RunDir(cfg.run.dir);
  const auto [identity, defaults] = identity_of(pipeline, cfg);
  p.dir.set_identity(identity, defaults);
  const bool starts_over = fresh && !cfg.run.resume;
  if (dist::Group* g = cfg.run.join()) {  // a data-parallel run: one config, rank 0 keeps the directory
    g->agree("config", std::hash<std::string>{}(identity.dump()));
    if (!g->leader()) cfg.run.quiet = true;
    if (g->leader()) {  // said once, by the rank that prints: a data-parallel run used to look like any other
      const int n = cfg.run.threads;
      const std::string threads = n == 0 ? "all cores' threads" : std::to_string(n) + (n == 1 ? " thread" : " threads");
      std::printf("data-parallel: %d ranks x %s each, %s\n", g->size(), threads.c_str(), g->backend().c_str());
    }
  }
  dist::on_leader([&] {
    p.dir.refuse_links();
    p.dir.verify(job, starts_over);
  });
  check_inputs(pipeline, cfg, p.dir, job);
  dist::on_leader([&] {
    p.dir.take();  // the first write to the directory (it makes it)
    const auto replaced = p.dir.record(starts_over, job == "holdout" ? 0 : cfg.train.folds);
    if (!replaced.empty() && !cfg.run.quiet)
      std::fprintf(stderr, "%s: a new run replaces the one made by another config (%s)\n", cfg.run.dir.string().c_str(),
                   replaced.c_str());
    const auto resolved = config::write_config(pipeline, cfg);
    write_text_atomically(p.dir.config(), [&](std::ostream& o) { o << resolved.dump(2) << '\n'; });
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

/// The settings a reader of the report wants first, from the resolved config (those the pipeline has).
template <class P>
config::json key_settings(const P& pipeline, const CompetitionConfig& cfg) {
  const auto resolved = config::write_config(pipeline, cfg);
  config::json out = config::json::object();
  for (const char* key :
       {"/model/arch", "/model/head", "/load/layout", "/background/mode", "/train/epochs", "/train/batch_size",
        "/train/lr", "/train/optimizer", "/train/scheduler", "/mixup/p", "/mixup/alpha", "/tta/mode", "/train/folds",
        "/train/amp", "/run/device", "/run/threads", "/run/seed"}) {
    const config::json::json_pointer ptr(key);
    if (resolved.contains(ptr)) out[std::string(key).substr(1)] = resolved[ptr];
  }
  return out;
}

/// The data root of the pipeline's source, when it has one (Load's `root`).
template <class P>
std::filesystem::path data_root(const P& pipeline) {
  if constexpr (requires { source_of(pipeline).options.root; })
    return source_of(pipeline).options.root;
  else
    return {};
}

inline std::string seconds(double s) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f s", s);
  return buf;
}

/// report.html from whatever the run directory holds so far (this run's folds only).
inline std::filesystem::path write_report(const CompetitionConfig& cfg, const RunDir& dir, const std::string& title,
                                          const config::json& summary, const std::vector<float>& oof_truth = {},
                                          const std::vector<double>& oof = {}, const report::Extras& extras = {}) {
  if (!dist::leader()) return dir.report();  // rank 0 writes
  config::json history = read_history(RunDir::log(dir.pretrain()));
  for (int k = 0; k < cfg.train.folds; ++k)
    for (auto& h : read_history(RunDir::log(dir.fold(k)))) history.push_back(std::move(h));
  report::write(dir.report(), title, history, oof_truth, oof, summary, extras);
  return dir.report();
}

inline config::json finetune_summary(double cv_auc, const std::vector<double>& fold_auc, double wall = 0.0) {
  config::json s = {{"out-of-fold ROC AUC", cv_auc}, {"fold AUCs", fold_auc}};
  if (wall > 0.0) s["fine-tune wall time"] = seconds(wall);
  return s;
}

/// The report's settings and, when the data root has cadence-synth's train_signals.csv, each OOF sample's SNR.
template <class P>
report::Extras finetune_extras(const P& pipeline, const CompetitionConfig& cfg,
                               const std::vector<std::string>& oof_ids) {
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
/// pipeline's Load reading all six panels, then (finetune.baseline_search) "line": no background stage and
/// Model<DeDopplerArch> with its defaults; "track": the background mode "neighbour_mean" and the track
/// search as track.json ships it (DeDopplerOptions::shipped_track, standardised panels as track.json
/// reads them). The yardstick the report shows beside the network, on the same cadences.
template <class P>
std::vector<double> baseline_scores(const P& pipeline, const CompetitionConfig& cfg, const Dataset& data,
                                    const std::vector<std::int64_t>& indices, torch::Device device) {
  using Source = std::remove_cvref_t<decltype(source_of(pipeline))>;
  if constexpr (!std::same_as<Source, Load>) {
    fail(
        "/finetune/baseline: the de-Doppler baseline reads the competition's layout through Load, and this pipeline's "
        "source is another");
  } else {
    Load load = source_of(pipeline);
    load.options.layout = PanelLayout::all_stacked;
    auto score = [&](const auto& p) {
      auto net = build_network(p, load.image_shape().channels);
      net->to(device);
      return predict_pipeline(p, net, Head::ce, data, indices,
                              {.batch_size = cfg.train.eval_batch_size,
                               .device = device,
                               .seed = cfg.run.seed,
                               .label = "de-Doppler baseline",
                               .quiet = cfg.run.quiet});
    };
    if (cfg.finetune.baseline_search == BaselineSearch::line) return score(load | Model<DeDopplerArch>{});
    load.options.standardize = true;  // as track.json reads: its threshold is in standardised units
    Background background;
    background.options.mode = BackgroundMode::neighbour_mean;
    Model<DeDopplerArch> model;
    static_cast<DeDopplerOptions&>(model.options) = DeDopplerOptions::shipped_track();
    return score(load | background | model);
  }
}

/// Out-of-fold predictions in dataset order: ids, truth, predictions (the report's and cv.json's inputs).
struct OofTable {
  std::vector<std::string> ids;
  std::vector<std::int64_t> index;  // into the train split
  std::vector<float> truth;
  std::vector<double> pred;
  std::vector<double> baseline;  // finetune.baseline's scores of the same cadences (empty without one)
};

/// The OOF predictions and the summary finetune left (oof.csv, cv.json), to draw the report again;
/// nothing when finetune has not run.
inline void read_finetune_outputs(const RunDir& dir, OofTable& oof, config::json& summary) {
  namespace fs = std::filesystem;
  if (!fs::exists(dir.cv()) || !fs::exists(dir.oof())) return;
  const auto j = config::load_file(dir.cv());
  if (!j.is_object()) fail(dir.cv().string(), ": expected a JSON object");
  summary = finetune_summary(j.value("oof_auc", -1.0), j.value("fold_auc", std::vector<double>{}));
  if (j.contains("baseline_auc")) summary["de-Doppler baseline ROC AUC (same cadences)"] = j["baseline_auc"];
  if (j.contains("baseline_search")) summary["de-Doppler baseline search"] = j["baseline_search"];
  const auto [rows, order] = read_oof(dir.oof());  // one reader of oof.csv, with the ensemble's rules
  for (const auto& id : order) {
    oof.ids.push_back(id);
    oof.truth.push_back(static_cast<float>(rows.at(id).target));
    oof.pred.push_back(rows.at(id).prediction);
  }
  // the baseline's scores, where this cv.json says a baseline was scored (each finetune writes both)
  if (!j.contains("baseline_auc") || !fs::exists(dir.baseline_csv())) return;
  std::map<std::string, double> by_id;
  for (const auto& r : csv::read_labels(dir.baseline_csv())) by_id[r.id] = r.target;
  for (const auto& id : oof.ids) {
    const auto it = by_id.find(id);
    if (it == by_id.end() || by_id.size() != oof.ids.size())
      fail(dir.baseline_csv().string(), ": not the cadences of ", dir.oof().string(),
           " (left by another run?); run finetune again");
    oof.baseline.push_back(it->second);
  }
}

// ---- pretrain -------------------------------------------------------------------------------------

template <class P>
double pretrain_job(const P& pipeline, const Prepared& prepared) {
  const auto& cfg = prepared.cfg;
  const RunDir& run = prepared.dir;
  const torch::Device device = cfg.run.apply();
  const Split split_name = cfg.pretrain.split == PretrainSplit::old ? Split::old : Split::train;
  const Dataset data = source_of(pipeline).open(split_name);
  dist::on_leader([&] { run.check_inputs(to_string(split_name), data); });
  const auto targets = data.targets();
  const auto is_valid = stratified_holdout(targets, cfg.train.holdout, cfg.run.seed);
  const auto split = split_indices(targets.size(), [&](std::size_t i) { return is_valid[i]; });
  dist::on_leader([&] {
    save_folds(RunDir::split(run.make_dir(run.pretrain())), data.ids(),
               std::vector<int>(is_valid.begin(), is_valid.end()));
  });
  TrainOptions t = cfg.train;
  if (cfg.pretrain.epochs > 0) t.epochs = cfg.pretrain.epochs;
  auto net = fresh_network(pipeline, cfg, device, 1000);
  const auto r = fit(pipeline, net,
                     FitContext{cfg.run, t, data, split.fitting, split.valid, run.pretrain(), "pretrain", device,
                                run.identity_check("pretrain")});
  write_report(cfg, run, "cadence: pretrain", {{"pretrain validation AUC", r.best_auc}, {"best epoch", r.best_epoch}},
               {}, {}, report::Extras{key_settings(pipeline, cfg), {}, {}, {}});
  return r.best_auc;
}

// ---- finetune: train the folds, then write what they predicted ------------------------------------

/// What the folds' training gave: the out-of-fold predictions (-1: not predicted), each trained fold's
/// AUC, and with finetune.pseudo each fold's teacher AUC and pseudo-label counts (for cv.json).
struct FoldsTrained {
  std::vector<double> oof, fold_auc;
  config::json pseudo = config::json::array();
};

/// finetune.pseudo: the test cadences a teacher is sure of, as (test index, label, teacher's probability).
struct PseudoLabels {
  std::vector<std::size_t> index;
  std::vector<float> label;
  std::vector<double> prob;
  int positives = 0, negatives = 0;
};

inline PseudoLabels select_pseudo(const std::vector<double>& p, const FinetuneOptions& o) {
  PseudoLabels s;
  for (std::size_t i = 0; i < p.size(); ++i) {
    const bool pos = p[i] >= o.pseudo_high, neg = p[i] <= o.pseudo_low;
    if (!pos && !neg) continue;
    s.index.push_back(i);
    s.label.push_back(o.pseudo_soft ? static_cast<float>(p[i]) : (pos ? 1.0f : 0.0f));
    s.prob.push_back(p[i]);
    ++(pos ? s.positives : s.negatives);
  }
  return s;
}

/// The train split with the pseudo-labelled test cadences after its own (their indices: train.size() on).
inline Dataset with_pseudo(const Dataset& train, const Dataset& test, const PseudoLabels& s) {
  Dataset d = train;
  for (std::size_t j = 0; j < s.index.size(); ++j) {
    Entry e = test.entries[s.index[j]];
    e.target = s.label[j];
    d.entries.push_back(std::move(e));
  }
  return d;
}

/// Trains each fold (finetune.only: some of them). With finetune.pseudo each fold trains twice: a
/// teacher on the fold's fitting cadences (fold_<k>/teacher/), whose plain predictions on `test` label
/// the cadences it is sure of (fold_<k>/pseudo.csv), then the fold's network on its fitting cadences
/// and those. Validation is the fold's own both times, and fold k's labels come from fold k's teacher
/// alone, which never saw fold k's validation cadences: the out-of-fold AUC stays leak-free (labels
/// from all folds' teachers would carry every fold's training labels into each fold's training).
template <class P>
FoldsTrained train_folds(const P& pipeline, const Prepared& prepared, const Dataset& data, const std::vector<int>& fold,
                         torch::Device device) {
  const auto& cfg = prepared.cfg;
  const RunDir& run = prepared.dir;
  FoldsTrained out;
  out.oof.assign(data.size(), -1.0);
  // "scratch" ignores model.weights; "pretrained" overwrites them anyway, so neither reads the file
  const auto init_from = cfg.finetune.init == FinetuneInit::weights ? pipeline : without_weights(pipeline);
  auto network = [&](int k) {
    auto net = fresh_network(init_from, cfg, device, static_cast<std::uint64_t>(k));
    if (cfg.finetune.init == FinetuneInit::pretrained)
      load_module(net, RunDir::model(run.pretrain()), run.identity_check("pretrain"));
    return net;
  };
  const Dataset test = cfg.finetune.pseudo ? source_of(pipeline).open(Split::test) : Dataset{};
  for (int k = 0; k < cfg.train.folds; ++k) {
    const auto& only = cfg.finetune.only;
    if (!only.empty() && std::find(only.begin(), only.end(), k) == only.end()) continue;
    const auto split = fold_split(fold, k);
    const std::string tag = "fold " + std::to_string(k);
    dist::on_leader([&] {
      run.make_dir(run.fold(k));
      if (!cfg.finetune.pseudo) {  // a teacher and labels an earlier run left would describe another model
        std::error_code ec;
        std::filesystem::remove_all(run.teacher(k), ec);
        std::filesystem::remove(run.pseudo_csv(k), ec);
      }
    });
    const Dataset* trains_on = &data;
    std::vector<std::int64_t> fitting = split.fitting;
    Dataset mixed;
    if (cfg.finetune.pseudo) {
      dist::on_leader([&] { run.make_dir(run.teacher(k)); });
      auto teacher = network(k);
      const auto t = fit(pipeline, teacher,
                         FitContext{cfg.run, cfg.train, data, split.fitting, split.valid, run.teacher(k),
                                    tag + " teacher", device, run.identity_check("teacher", k)});
      const auto p = predict_pipeline(pipeline, teacher, pipeline_head(pipeline), test, iota(test.size()),
                                      {.batch_size = cfg.train.eval_batch_size,
                                       .device = device,
                                       .seed = cfg.run.seed,
                                       .label = tag + " pseudo-label",
                                       .quiet = cfg.run.quiet,
                                       .use_tta = false});
      const auto chosen = select_pseudo(p, cfg.finetune);
      dist::on_leader([&] {
        write_text_atomically(run.pseudo_csv(k), [&](std::ostream& o) {
          o << "id,target,teacher\n";
          for (std::size_t j = 0; j < chosen.index.size(); ++j)
            o << test.entries[chosen.index[j]].id << ',' << chosen.label[j] << ',' << chosen.prob[j] << '\n';
        });
      });
      if (!cfg.run.quiet)
        std::fprintf(stderr, "%s: the teacher (valid AUC %.4f) labels %d test cadences positive and %d negative\n",
                     tag.c_str(), t.best_auc, chosen.positives, chosen.negatives);
      out.pseudo.push_back(
          {{"fold", k}, {"teacher_auc", t.best_auc}, {"positives", chosen.positives}, {"negatives", chosen.negatives}});
      mixed = with_pseudo(data, test, chosen);
      trains_on = &mixed;
      for (std::size_t j = 0; j < chosen.index.size(); ++j)
        fitting.push_back(static_cast<std::int64_t>(data.size() + j));
    }
    auto net = network(k);
    const auto r = fit(pipeline, net,
                       FitContext{cfg.run, cfg.train, *trains_on, fitting, split.valid, run.fold(k), tag, device,
                                  run.identity_check("finetune", k)});
    for (std::size_t v = 0; v < split.valid.size(); ++v)
      out.oof[static_cast<std::size_t>(split.valid[v])] = r.best_valid[v];
    out.fold_auc.push_back(r.best_auc);
  }
  return out;
}

/// The predicted rows of `oof`, in dataset order.
inline OofTable oof_table(const Dataset& data, const std::vector<double>& oof) {
  OofTable t;
  const auto targets = data.targets();
  for (std::size_t i = 0; i < oof.size(); ++i) {
    if (oof[i] < 0) continue;
    t.ids.push_back(data.entries[i].id);
    t.index.push_back(static_cast<std::int64_t>(i));
    t.truth.push_back(targets[i]);
    t.pred.push_back(oof[i]);
  }
  return t;
}

template <class P>
CompetitionResult finetune_job(const P& pipeline, const Prepared& prepared) {
  const auto& cfg = prepared.cfg;
  const RunDir& run = prepared.dir;
  const torch::Device device = cfg.run.apply();
  const Dataset data = source_of(pipeline).open(Split::train);
  dist::on_leader([&] { run.check_inputs("train", data); });
  const auto targets = data.targets();
  const auto fold = stratified_kfold(targets, cfg.train.folds, cfg.run.seed);
  dist::on_leader([&] { save_folds(run.folds_csv(), data.ids(), fold); });

  CompetitionResult result;
  result.dir = run.root();
  const auto started = std::chrono::steady_clock::now();
  const auto trained = train_folds(pipeline, prepared, data, fold, device);
  result.fold_auc = trained.fold_auc;
  const OofTable table = oof_table(data, trained.oof);
  result.cv_auc = roc_auc(table.truth, table.pred);
  const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();

  std::ostringstream csv;
  csv << "id,target,prediction,fold\n";
  for (std::size_t r = 0; r < table.ids.size(); ++r)
    csv << table.ids[r] << ',' << table.truth[r] << ',' << table.pred[r] << ','
        << fold[static_cast<std::size_t>(table.index[r])] << '\n';
  config::json cv = {{"fold_auc", result.fold_auc},
                     {"oof_auc", result.cv_auc},
                     {"folds", cfg.train.folds}};  // byte-reproducible: no times
  if (cfg.finetune.pseudo) cv["pseudo"] = trained.pseudo;
  auto extras = finetune_extras(pipeline, cfg, table.ids);
  if (cfg.finetune.baseline) {
    extras.baseline = baseline_scores(pipeline, cfg, data, table.index, device);
    cv["baseline_auc"] = roc_auc(table.truth, extras.baseline);
    cv["baseline_search"] = config::write_value(cfg.finetune.baseline_search);
    if (!cfg.run.quiet)
      std::fprintf(stderr, "de-Doppler baseline (%s search) on the same cadences: ROC AUC %.4f\n",
                   cv["baseline_search"].get<std::string>().c_str(), cv["baseline_auc"].get<double>());
  }
  dist::on_leader([&] {
    write_text_atomically(run.oof(), [&](std::ostream& o) { o << csv.str(); });
    // the baseline's scores, for the report predict draws again (none: an older run's file goes)
    std::error_code gone;
    if (cfg.finetune.baseline)
      write_predictions(run.baseline_csv(), table.ids, extras.baseline);
    else if (std::filesystem::remove(run.baseline_csv(), gone); gone)
      fail(run.baseline_csv().string(), ": cannot remove an older run's baseline scores (", gone.message(), ")");
    write_text_atomically(run.cv(), [&](std::ostream& o) { o << cv.dump(2) << '\n'; });
  });
  if (!cfg.run.quiet)
    std::fprintf(stderr, "CV: out-of-fold ROC AUC %.4f over %zu samples\n", result.cv_auc, table.pred.size());
  auto summary = finetune_summary(result.cv_auc, result.fold_auc, wall);
  if (cv.contains("baseline_auc")) summary["de-Doppler baseline ROC AUC (same cadences)"] = cv["baseline_auc"];
  if (cv.contains("baseline_search")) summary["de-Doppler baseline search"] = cv["baseline_search"];
  result.report = write_report(cfg, run, "cadence: fine-tune", summary, table.truth, table.pred, extras);
  return result;
}

// ---- predict: the folds on test, the blend, the summary ---------------------------------------------

/// The trained folds' checkpoints, as rank 0 sees them (every rank gets rank 0's list): (fold, model.pt).
inline std::vector<std::pair<int, std::filesystem::path>> fold_models(const RunDir& run, int folds) {
  std::string present(static_cast<std::size_t>(folds), '0');
  for (const auto& [k, _] : run.fold_models(folds)) present[static_cast<std::size_t>(k)] = '1';
  if (dist::Group* g = dist::current()) present = g->broadcast_bytes(present, "fold list");
  std::vector<std::pair<int, std::filesystem::path>> models;
  for (int k = 0; k < folds; ++k)
    if (present[static_cast<std::size_t>(k)] == '1') models.emplace_back(k, RunDir::model(run.fold(k)));
  if (models.empty())
    fail(run.root().string(), ": no trained fold (", RunDir::model(run.fold(0)).string(),
         ", ...) to predict with (run finetune first)");
  return models;
}

/// The mean probability of the fold models on `test`, each with the pipeline's TTA.
template <class P>
std::vector<double> predict_folds(const P& pipeline, const Prepared& prepared, const Dataset& test,
                                  torch::Device device, std::vector<std::pair<int, std::filesystem::path>>& models) {
  const auto& cfg = prepared.cfg;
  std::vector<double> mean(test.size(), 0.0);
  const auto shell = without_weights(pipeline);  // each fold's checkpoint replaces the weights
  if (fresh_network(shell, cfg, device, 0)->parameters().empty()) models.resize(1);  // nothing learnt: the folds agree
  for (std::size_t m = 0; m < models.size(); ++m) {
    auto net = fresh_network(shell, cfg, device, 0);
    load_module(net, models[m].second, prepared.dir.identity_check("finetune", models[m].first));
    prepare_for_inference(*net, cfg.predict.inference());  // BN folded, channels_last: what bench_compare times
    AutocastGuard autocast(cfg.predict.amp, device);
    const auto p = predict_pipeline(pipeline, net, pipeline_head(pipeline), test, iota(test.size()),
                                    {.batch_size = cfg.train.eval_batch_size,
                                     .device = device,
                                     .seed = cfg.run.seed,
                                     .label = "predict " + std::to_string(m + 1) + "/" + std::to_string(models.size()),
                                     .quiet = cfg.run.quiet});
    for (std::size_t i = 0; i < p.size(); ++i) mean[i] += p[i] / static_cast<double>(models.size());
  }
  return mean;
}

/// This run's predictions blended with predict.blend's submissions, by id.
inline std::vector<double> blend(const PredictOptions& o, const Dataset& test, const std::vector<double>& mean) {
  double total = o.weight;
  std::vector<double> blended(mean.size());
  for (std::size_t i = 0; i < mean.size(); ++i) blended[i] = o.weight * mean[i];
  for (const auto& member : o.blend) {
    const auto rows = csv::read_labels(member.submission);
    if (rows.size() != test.size())
      fail(member.submission.string(), ": ", rows.size(), " rows, the test set has ", test.size());
    for (std::size_t i = 0; i < rows.size(); ++i) {
      if (rows[i].id != test.entries[i].id)
        fail(member.submission.string(), ": row ", i + 2, " is id `", rows[i].id, "`, expected `", test.entries[i].id,
             "`");
      blended[i] += member.weight * rows[i].target;
    }
    total += member.weight;
  }
  if (!(total > 0)) fail("/predict: the blend weights sum to 0");
  for (auto& v : blended) v /= total;
  return blended;
}

/// What the prediction looks like and, on a set with a truth file (cadence-synth's test_labels.csv),
/// how good it is: predict.json's content.
template <class P>
config::json prediction_summary(const P& pipeline, const CompetitionConfig& cfg, const Dataset& test,
                                const std::vector<double>& blended, std::size_t models, double wall) {
  int rounds = 1;
  with_predict_stage(pipeline, [&](const auto& stage) { rounds = stage.rounds(); });
  std::vector<double> sorted = blended;
  std::sort(sorted.begin(), sorted.end());
  const auto at = [&](double q) {
    return sorted[static_cast<std::size_t>(q * static_cast<double>(sorted.size() - 1))];
  };
  config::json summary = {
      {"test cadences", blended.size()},
      {"models (folds)", models},
      {"TTA rounds", rounds},
      {"mean probability", std::accumulate(blended.begin(), blended.end(), 0.0) / static_cast<double>(blended.size())},
      {"share >= 0.5", static_cast<double>(sorted.end() - std::lower_bound(sorted.begin(), sorted.end(), 0.5)) /
                           static_cast<double>(sorted.size())},
      {"probability quartiles", std::vector<double>{at(0.25), at(0.5), at(0.75)}},
      {"predict wall time", seconds(wall)}};
  const auto root = data_root(pipeline);
  if (root.empty()) return summary;
  const auto scored = score_against_truth(root / "test_labels.csv", test.ids(), blended);
  if (scored.empty()) return summary;
  summary.update(scored);
  if (!cfg.run.quiet)
    std::fprintf(stderr, "test: ROC AUC %.4f against %s\n", summary["test ROC AUC (test_labels.csv)"].get<double>(),
                 (root / "test_labels.csv").string().c_str());
  return summary;
}

template <class P>
std::filesystem::path predict_job(const P& pipeline, const Prepared& prepared) {
  const auto& cfg = prepared.cfg;
  const RunDir& run = prepared.dir;
  auto models = fold_models(run, cfg.train.folds);
  const auto started = std::chrono::steady_clock::now();
  const torch::Device device = cfg.run.apply();
  const Dataset test = source_of(pipeline).open(Split::test);
  const auto mean = predict_folds(pipeline, prepared, test, device, models);
  if (!dist::leader()) return run.submission();  // rank 0 blends and writes
  const auto blended = blend(cfg.predict, test, mean);
  write_predictions(run.submission(), test.ids(), blended);
  auto summary = prediction_summary(pipeline, cfg, test, blended, models.size(),
                                    std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count());
  write_text_atomically(run.predict_json(), [&](std::ostream& o) { o << summary.dump(2) << '\n'; });
  OofTable oof;
  config::json cv_summary;
  read_finetune_outputs(run, oof, cv_summary);
  auto extras = finetune_extras(pipeline, cfg, oof.ids);
  extras.baseline = oof.baseline;                        // the baseline beside the network in this report too
  for (auto it = summary.begin(); it != summary.end();)  // the binned tables stay in predict.json
    it = it.key().rfind("test AUC by ", 0) == 0 ? summary.erase(it) : std::next(it);
  extras.prediction = summary;
  write_report(cfg, run, "cadence: fine-tune and predict", cv_summary, oof.truth, oof.pred, extras);
  return run.submission();
}

}  // namespace detail

/// `seti check`: every check the jobs make (config, inputs, folds, blend files, weights), without
/// taking the run directory or training; a short summary of the splits.
template <class P>
std::string check(P pipeline, const config::json& j) {
  CompetitionConfig cfg;
  config::read_config(j, pipeline, cfg);
  cfg.validate();
  detail::check_inputs(pipeline, cfg, RunDir(cfg.run.dir), "check");
  std::string summary;
  auto line = [&](Split s) {
    const auto d = source_of(pipeline).open(s);
    char buf[160];
    if (s == Split::test)
      std::snprintf(buf, sizeof buf, "%-6s %zu cadences\n", to_string(s), d.size());
    else
      std::snprintf(buf, sizeof buf, "%-6s %zu cadences, %zu positive\n", to_string(s), d.size(),
                    checks::positives(d.targets()));
    summary += buf;
  };
  if (cfg.finetune.init == FinetuneInit::pretrained && cfg.pretrain.split == PretrainSplit::old) line(Split::old);
  line(Split::train);
  line(Split::test);
  return summary + std::to_string(cfg.train.folds) +
         " folds, each validation with both classes; config and inputs ok\n";
}

/// Hold-out training on the pretraining split; best weights in <run.dir>/pretrain/model.pt.
template <class P>
double pretrain(P pipeline, const config::json& j) {
  InterruptGuard on_signal;  // a signal after training stops at the next batch, not mid-write
  return detail::pretrain_job(pipeline, detail::prepare(pipeline, j, "pretrain", /*fresh=*/true));
}

/// Stratified K-fold on train; oof.csv, cv.json; per-fold weights in <run.dir>/fold_<k>/model.pt.
template <class P>
CompetitionResult finetune(P pipeline, const config::json& j) {
  InterruptGuard on_signal;  // a signal after training stops at the next batch, not mid-write
  return detail::finetune_job(pipeline, detail::prepare(pipeline, j, "finetune", /*fresh=*/false));
}

/// The fold ensemble x TTA on test, blended with predict.blend; submission.csv in sample order.
template <class P>
std::filesystem::path predict(P pipeline, const config::json& j) {
  InterruptGuard on_signal;  // a signal after training stops at the next batch, not mid-write
  return detail::predict_job(pipeline, detail::prepare(pipeline, j, "predict", /*fresh=*/false));
}

/// pretrain (unless finetune.init is not "pretrained"), finetune, predict: one preparation (every
/// check of all three jobs before the first write), one hold on the directory from the first job to
/// the last.
template <class P>
CompetitionResult run(P pipeline, const config::json& j) {
  InterruptGuard on_signal;  // a signal after training stops at the next batch, not mid-write
  CompetitionResult r;
  const auto prepared = detail::prepare(pipeline, j, "run", /*fresh=*/true);
  if (prepared.cfg.finetune.init == FinetuneInit::pretrained) r.pretrain_auc = detail::pretrain_job(pipeline, prepared);
  const auto f = detail::finetune_job(pipeline, prepared);
  r.fold_auc = f.fold_auc;
  r.cv_auc = f.cv_auc;
  r.dir = f.dir;
  r.report = f.report;
  r.submission = detail::predict_job(pipeline, prepared);
  return r;
}

}  // namespace recipes
}  // namespace cadence
