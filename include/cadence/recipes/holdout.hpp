#pragma once
// holdout(pipeline, config): train on a stratified hold-out split of `train`, keep the weights with the
// best validation ROC AUC, predict the test set and write the Kaggle submission.
//
// Run directory: config.json (resolved), split.csv (id,fold: 1 = validation), log.jsonl, model.pt,
// valid.csv (validation predictions), submission.csv. Every file is written atomically.
#include <cstdint>
#include <filesystem>
#include <limits>
#include <sstream>
#include <string>
#include <vector>

#include <torch/nn.h>
#include <torch/optim.h>

#include "cadence/config/pipeline_config.hpp"
#include "cadence/dist/group.hpp"
#include "cadence/recipes/competition.hpp"
#include "cadence/recipes/options.hpp"
#include "cadence/data/folds.hpp"
#include "cadence/infer/predict.hpp"
#include "cadence/infer/submission.hpp"
#include "cadence/nn/memory_format.hpp"
#include "cadence/core/compose.hpp"
#include "cadence/train/metrics.hpp"
#include "cadence/train/fit.hpp"
#include "cadence/train/trainer.hpp"

namespace cadence {

/// The hold-out job reads the same configuration as the competition's jobs (it ignores their sections).
using HoldoutConfig = CompetitionConfig;

struct HoldoutResult {
  double best_auc = 0.0;  // best per-epoch validation AUC (plain, no TTA)
  double tta_auc = -1.0;  // the best weights' validation AUC with the pipeline's TTA (-1: no TTA stage)
  int best_epoch = -1;
  std::filesystem::path dir, submission, model;
};

namespace recipes {

template <class P>
HoldoutResult holdout(P pipeline, const config::json& j) {
  static_assert(P::has_source, "cadence::recipes::holdout: the pipeline has no source stage; start it with Load{} (or a source of your own).");
  static_assert(P::has_model, "cadence::recipes::holdout: the pipeline has no Model<...> stage to train.");
  HoldoutConfig cfg;
  config::read_config(j, pipeline, cfg);  // every config error surfaces here, before any work
  cfg.validate();
  dist::Group* group = cfg.run.join();  // a data-parallel run (dist/group.hpp); null in a world of one
  if (group != nullptr && !group->leader()) cfg.run.quiet = true;
  const RunOptions& run = cfg.run;
  const TrainOptions& t = cfg.train;
  const auto resolved = config::write_config(pipeline, cfg);
  const auto identity = fingerprint::of_config(resolved, detail::prediction_sections(pipeline));
  if (group != nullptr) group->agree("config", std::hash<std::string>{}(identity.dump()));
  const auto defaults = fingerprint::of_config(config::write_config(P{}, HoldoutConfig{}), detail::prediction_sections(pipeline));
  dist::on_leader([&] { fingerprint::verify_config(run.dir, identity, "holdout", !run.resume, defaults); });
  const Dataset train = open_checked(pipeline, Split::train);
  const Dataset test = open_checked(pipeline, Split::test);
  const auto targets = train.targets();
  const auto is_valid = stratified_holdout(targets, t.holdout, run.seed);
  checks::holdout(targets, is_valid, "train");
  std::unique_ptr<RunLock> lock;  // the directory is this run's (core/run_lock.hpp, recipes/fingerprint.hpp)
  dist::on_leader([&] {
    lock = std::make_unique<RunLock>(run.dir);
    fingerprint::record_config(run.dir, identity, !run.resume, 0);
    fingerprint::check_inputs(run.dir, "train", train);
    write_text_atomically(run.dir / "config.json", [&](std::ostream& o) { o << resolved.dump(2) << '\n'; });
    save_folds(run.dir / "split.csv", train.ids(), std::vector<int>(is_valid.begin(), is_valid.end()));
  });
  const torch::Device device = run.apply();
  const auto& load = source_of(pipeline);
  const Head head = pipeline_head(pipeline);
  const auto split = split_indices(targets.size(), [&](std::size_t i) { return is_valid[i]; });
  const auto& fitting = split.fitting;
  const auto& valid = split.valid;


  auto net = build_network(pipeline, load.image_shape().channels);
  net->to(device);
  if (t.channels_last) to_channels_last(*net);
  const auto f = fit(pipeline, net, run, t, train, fitting, valid, run.dir, "epoch", device);
  HoldoutResult result{f.best_auc, -1.0, f.best_epoch, run.dir, run.dir / "submission.csv", f.model};
  std::vector<double> best_valid = f.best_valid;
  std::vector<std::string> valid_ids;
  std::vector<float> valid_truth;
  for (auto i : valid) {
    valid_ids.push_back(train.entries[static_cast<std::size_t>(i)].id);
    valid_truth.push_back(targets[static_cast<std::size_t>(i)]);
  }
  prepare_for_inference(*net, cfg.predict.inference());  // training is over: the inference path from here
  AutocastGuard autocast(cfg.predict.amp, device);  // predict.amp: every forward pass from here
  if constexpr (P::has_tta) {  // the best weights' validation score with the pipeline's TTA
    best_valid = predict_pipeline(pipeline, net, head, train, valid, t.eval_batch_size, device, run.seed, "valid+tta", run.quiet);
    result.tta_auc = roc_auc(valid_truth, best_valid);
  }
  if (dist::leader()) write_predictions(run.dir / "valid.csv", valid_ids, best_valid);

  std::vector<std::int64_t> all(test.size());
  for (std::size_t i = 0; i < all.size(); ++i) all[i] = static_cast<std::int64_t>(i);
  const auto test_probs = predict_pipeline(pipeline, net, head, test, all, t.eval_batch_size, device, run.seed, "predict", run.quiet);
  if (dist::leader()) write_predictions(result.submission, test.ids(), test_probs);
  return result;
}

}  // namespace recipes
}  // namespace cadence
