#pragma once
// holdout(pipeline, config): train on a stratified hold-out split of `train`, keep the weights with the
// best validation ROC AUC, predict the test set and write the Kaggle submission.
//
// Run directory (recipes/run_dir.hpp): config.json (resolved), split.csv (id,fold: 1 = validation),
// log.jsonl, model.pt, last.pt, valid.csv (validation predictions), submission.csv.
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
  InterruptGuard on_signal;  // a signal after training stops at the next batch, not mid-write
  const auto prepared = detail::prepare(pipeline, j, "holdout", /*fresh=*/true);  // every check, then the first write
  const auto& cfg = prepared.cfg;
  const RunDir& dir = prepared.dir;
  const RunOptions& run = cfg.run;
  const TrainOptions& t = cfg.train;
  const Dataset train = source_of(pipeline).open(Split::train);
  const Dataset test = source_of(pipeline).open(Split::test);
  const auto targets = train.targets();
  const auto is_valid = stratified_holdout(targets, t.holdout, run.seed);
  dist::on_leader([&] {
    dir.check_inputs("train", train);
    save_folds(RunDir::split(dir.root()), train.ids(), std::vector<int>(is_valid.begin(), is_valid.end()));
  });
  const torch::Device device = run.apply();
  const Head head = pipeline_head(pipeline);
  const auto split = split_indices(targets.size(), [&](std::size_t i) { return is_valid[i]; });

  auto net = build_network(pipeline, source_of(pipeline).image_shape().channels);
  net->to(device);
  if (t.channels_last) to_channels_last(*net);
  const auto f = fit(pipeline, net,
                     FitContext{run, t, train, split.fitting, split.valid, dir.root(), "holdout", device,
                                dir.identity_check("holdout")});
  HoldoutResult result{f.best_auc, -1.0, f.best_epoch, dir.root(), dir.submission(), f.model};
  std::vector<double> best_valid = f.best_valid;
  std::vector<std::string> valid_ids;
  std::vector<float> valid_truth;
  for (auto i : split.valid) {
    valid_ids.push_back(train.entries[static_cast<std::size_t>(i)].id);
    valid_truth.push_back(targets[static_cast<std::size_t>(i)]);
  }
  prepare_for_inference(*net, cfg.predict.inference());  // training is over: the inference path from here
  AutocastGuard autocast(cfg.predict.amp, device);       // predict.amp: every forward pass from here
  const PredictCall call{
      .batch_size = t.eval_batch_size, .device = device, .seed = run.seed, .label = "valid+tta", .quiet = run.quiet};
  if constexpr (P::has_tta) {  // the best weights' validation score with the pipeline's TTA
    best_valid = predict_pipeline(pipeline, net, head, train, split.valid, call);
    result.tta_auc = roc_auc(valid_truth, best_valid);
  }
  if (dist::leader()) write_predictions(dir.valid_csv(), valid_ids, best_valid);
  PredictCall on_test = call;
  on_test.label = "predict";
  const auto test_probs = predict_pipeline(pipeline, net, head, test, detail::iota(test.size()), on_test);
  if (dist::leader()) write_predictions(result.submission, test.ids(), test_probs);
  return result;
}

}  // namespace recipes
}  // namespace cadence
