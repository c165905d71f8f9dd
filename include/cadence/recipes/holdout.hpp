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
#include "cadence/data/folds.hpp"
#include "cadence/data/load.hpp"
#include "cadence/batch/mixup.hpp"
#include "cadence/infer/predict.hpp"
#include "cadence/infer/submission.hpp"
#include "cadence/nn/memory_format.hpp"
#include "cadence/nn/model.hpp"
#include "cadence/train/metrics.hpp"
#include "cadence/train/trainer.hpp"

namespace cadence {

struct HoldoutConfig {
  RunOptions run;
  TrainOptions train;
  template <class V> void fields(V& v) {
    v("run", run);
    v("train", train);
  }
};

struct HoldoutResult {
  double best_auc = 0.0;  // best per-epoch validation AUC (plain, no TTA)
  double tta_auc = -1.0;  // the best weights' validation AUC with the pipeline's TTA (-1: no TTA stage)
  int best_epoch = -1;
  std::filesystem::path dir, submission, model;
};

namespace recipes {

template <class P>
HoldoutResult holdout(P pipeline, const config::json& j) {
  static_assert(P::has_source, "cadence::recipes::holdout: the pipeline has no source; start it with Load{}.");
  static_assert(P::has_model, "cadence::recipes::holdout: the pipeline has no Model<...> stage to train.");
  HoldoutConfig cfg;
  config::read_config(j, pipeline, cfg);  // every config error surfaces here, before any work
  const RunOptions& run = cfg.run;
  const TrainOptions& t = cfg.train;
  const torch::Device device = run.apply();
  const Load& load = pipeline.template get<Load>();
  const Head head = pipeline_head(pipeline);

  const Dataset train = load.open(Split::train);
  const Dataset test = load.open(Split::test);
  const auto targets = train.targets();
  const auto is_valid = stratified_holdout(targets, t.holdout, run.seed);
  std::vector<std::int64_t> fit, valid;
  for (std::size_t i = 0; i < targets.size(); ++i) (is_valid[i] ? valid : fit).push_back(static_cast<std::int64_t>(i));

  namespace fs = std::filesystem;
  fs::create_directories(run.dir);
  write_text_atomically(run.dir / "config.json", [&](std::ostream& o) { o << config::write_config(pipeline, cfg).dump(2) << '\n'; });
  save_folds(run.dir / "split.csv", train.ids(), std::vector<int>(is_valid.begin(), is_valid.end()));

  auto net = build_network(pipeline, load.image_shape().channels);
  net->to(device);
  if (t.channels_last) to_channels_last(*net);
  torch::optim::AdamW opt(net->parameters(), torch::optim::AdamWOptions(t.lr).weight_decay(t.weight_decay));

  HoldoutResult result{-1.0, -1.0, -1, run.dir, run.dir / "submission.csv", run.dir / "model.pt"};
  const std::int64_t steps_per_epoch = (static_cast<std::int64_t>(fit.size()) + t.batch_size - 1) / t.batch_size;
  const std::int64_t total_steps = steps_per_epoch * t.epochs;
  std::int64_t step = 0;
  std::string log;
  std::vector<double> best_valid;
  for (int epoch = 0; epoch < t.epochs; ++epoch) {
    const auto e = static_cast<std::uint32_t>(epoch);
    auto order = t.balanced ? balanced_order(fit, targets, fit.size(), run.seed, e) : epoch_order(fit, run.seed, e);
    auto loader = load.loader(train, std::move(order), t.batch_size, head_classes(head));
    net->train();
    double loss_sum = 0.0;
    std::int64_t seen = 0;
    Progress bar("epoch " + std::to_string(epoch + 1) + "/" + std::to_string(t.epochs),
                 static_cast<std::int64_t>(loader->num_samples()), run.quiet, "samples");
    std::uint32_t batch_no = 0;
    while (auto batch = loader->next()) {
      set_lr(opt, t.lr_at(step++, total_steps));
      auto images = batch->images.to(device);
      if (t.channels_last) images = as_channels_last(images);
      auto targets = batch->targets.to(device);
      augment_batch(pipeline, images, AugmentKey{run.seed, e, batch->indices});
      detail::for_stages<detail::is_mixup>(pipeline, [&](const Mixup& m) {
        if (m.active(e, static_cast<std::uint32_t>(t.epochs))) m.apply(images, targets, run.seed, e, batch_no);
      });
      ++batch_no;
      const auto logits = net->forward(images);
      const auto loss = head_loss(head, logits, targets);
      opt.zero_grad();
      loss.backward();
      opt.step();
      loss_sum += loss.template item<double>() * static_cast<double>(batch->size());
      seen += batch->size();
      bar.advance(batch->size());
      char status[64];
      std::snprintf(status, sizeof status, "loss %.4f", loss_sum / static_cast<double>(seen));
      bar.set_status(status);
    }
    bar.finish();
    const double rate = bar.rate();
    const auto probs = predict_pipeline(pipeline, net, head, train, valid, t.eval_batch_size, device, run.seed, "validate", run.quiet, false);
    std::vector<float> truth;
    for (auto i : valid) truth.push_back(targets[static_cast<std::size_t>(i)]);
    const double auc = roc_auc(truth, probs);
    config::json line = {{"epoch", epoch + 1}, {"train_loss", loss_sum / static_cast<double>(std::max<std::int64_t>(1, seen))},
                         {"valid_auc", auc}, {"lr", t.lr_at(step - 1, total_steps)}, {"samples_per_s", rate}};
    log += line.dump() + "\n";
    write_text_atomically(run.dir / "log.jsonl", [&](std::ostream& o) { o << log; });
    if (!run.quiet) std::fprintf(stderr, "epoch %d: train loss %.4f, valid AUC %.4f\n", epoch + 1, line["train_loss"].get<double>(), auc);
    if (auc > result.best_auc) {
      result.best_auc = auc;
      result.best_epoch = epoch + 1;
      best_valid = probs;
      save_module(net, result.model);
    }
  }
  torch::load(net, result.model.string());
  std::vector<std::string> valid_ids;
  std::vector<float> valid_truth;
  for (auto i : valid) {
    valid_ids.push_back(train.entries[static_cast<std::size_t>(i)].id);
    valid_truth.push_back(targets[static_cast<std::size_t>(i)]);
  }
  if constexpr (P::has_tta) {  // the best weights' validation score with the pipeline's TTA
    best_valid = predict_pipeline(pipeline, net, head, train, valid, t.eval_batch_size, device, run.seed, "valid+tta", run.quiet);
    result.tta_auc = roc_auc(valid_truth, best_valid);
  }
  write_predictions(run.dir / "valid.csv", valid_ids, best_valid);

  std::vector<std::int64_t> all(test.size());
  for (std::size_t i = 0; i < all.size(); ++i) all[i] = static_cast<std::int64_t>(i);
  const auto test_probs = predict_pipeline(pipeline, net, head, test, all, t.eval_batch_size, device, run.seed, "predict", run.quiet);
  write_predictions(result.submission, test.ids(), test_probs);
  return result;
}

}  // namespace recipes
}  // namespace cadence
