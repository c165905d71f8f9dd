#pragma once
// fit(): trains one network on one split (a hold-out, or one fold of a K-fold), the loop every recipe
// shares. It keeps the weights with the best validation ROC AUC and, after every epoch, a resumable
// checkpoint (model, optimizer, EMA, torch's generator, position, history): all of cadence's own
// randomness is counter-based, so a run resumed from its last epoch ends with the same weights as
// one that was never interrupted.
#include <ATen/CPUGeneratorImpl.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <torch/nn.h>
#include <torch/optim.h>
#include <torch/serialize.h>

#include "cadence/batch/mixup.hpp"
#include "cadence/config/options.hpp"
#include "cadence/core/atomic_file.hpp"
#include "cadence/core/progress.hpp"
#include "cadence/data/folds.hpp"
#include "cadence/data/load.hpp"
#include "cadence/infer/predict.hpp"
#include "cadence/nn/memory_format.hpp"
#include "cadence/nn/state_dict.hpp"
#include "cadence/train/metrics.hpp"
#include "cadence/train/trainer.hpp"

namespace cadence {

struct FitResult {
  double best_auc = -1.0;
  int best_epoch = 0;
  int epochs_run = 0;
  std::vector<double> best_valid;  // validation predictions of the best weights (plain, no TTA)
  config::json history = config::json::array();  // one object per epoch, as in log.jsonl
  std::filesystem::path model;     // best weights
};

inline std::unique_ptr<torch::optim::Optimizer> make_optimizer(const TrainOptions& t, std::vector<torch::Tensor> params) {
  switch (t.optimizer) {
    case OptimizerKind::adam:
      return std::make_unique<torch::optim::Adam>(params, torch::optim::AdamOptions(t.lr).weight_decay(t.weight_decay));
    case OptimizerKind::sgd:
      return std::make_unique<torch::optim::SGD>(params, torch::optim::SGDOptions(t.lr).momentum(t.momentum).weight_decay(t.weight_decay).nesterov(t.momentum > 0));
    case OptimizerKind::adamw:
    default:
      return std::make_unique<torch::optim::AdamW>(params, torch::optim::AdamWOptions(t.lr).weight_decay(t.weight_decay));
  }
}

/// An exponential moving average of the weights (and a copy of the buffers), for evaluation.
class Ema {
 public:
  Ema(torch::nn::Module& m, double decay) : decay_(decay) {
    torch::NoGradGuard g;
    for (auto& [k, t] : state_dict_entries(m)) shadow_.emplace_back(k, t.detach().clone());
  }
  void update(torch::nn::Module& m) {
    torch::NoGradGuard g;
    auto live = state_dict_entries(m);
    for (std::size_t i = 0; i < live.size(); ++i) {
      auto& s = shadow_[i].second;
      if (s.is_floating_point()) s.mul_(decay_).add_(live[i].second.detach(), 1.0 - decay_);
      else s.copy_(live[i].second);
    }
  }
  /// Swaps the live weights with the averaged ones (call twice to swap back).
  void swap(torch::nn::Module& m) {
    torch::NoGradGuard g;
    auto live = state_dict_entries(m);
    for (std::size_t i = 0; i < live.size(); ++i) {
      auto tmp = live[i].second.detach().clone();
      live[i].second.copy_(shadow_[i].second);
      shadow_[i].second.copy_(tmp);
    }
  }
  void save(torch::serialize::OutputArchive& a) const {
    for (const auto& [k, t] : shadow_) a.write("ema." + k, t, /*is_buffer=*/true);
  }
  void load(torch::serialize::InputArchive& a) {
    for (auto& [k, t] : shadow_) a.read("ema." + k, t, /*is_buffer=*/true);
  }

 private:
  double decay_;
  std::vector<std::pair<std::string, torch::Tensor>> shadow_;
};

template <class P, class Net>
FitResult fit(const P& pipeline, Net& net, const RunOptions& run, const TrainOptions& t, const Dataset& data,
              const std::vector<std::int64_t>& fit_idx, const std::vector<std::int64_t>& valid_idx,
              const std::filesystem::path& dir, const std::string& tag, torch::Device device) {
  namespace fs = std::filesystem;
  const Load& load = pipeline.template get<Load>();
  const Head head = pipeline_head(pipeline);
  const auto targets = data.targets();
  std::vector<float> truth;
  for (auto i : valid_idx) truth.push_back(targets[static_cast<std::size_t>(i)]);

  if (t.amp == Amp::fp16 && !device.is_cuda()) fail("/train/amp: \"fp16\" needs a CUDA device; use \"bf16\" on a CPU");
  fs::create_directories(dir);
  auto opt = make_optimizer(t, net->parameters());
  GradScaler scaler(t.amp == Amp::fp16);
  std::unique_ptr<Ema> ema;
  if (t.ema > 0.0) ema = std::make_unique<Ema>(*net, t.ema);
  const std::int64_t batches = (static_cast<std::int64_t>(fit_idx.size()) + t.batch_size - 1) / t.batch_size;
  const std::int64_t steps_per_epoch = (batches + t.accumulate - 1) / t.accumulate;
  const std::int64_t total_steps = steps_per_epoch * t.epochs;
  LrSchedule schedule(t, total_steps);

  FitResult r;
  r.model = dir / "model.pt";
  const fs::path last = dir / "last.pt";
  std::int64_t step = 0;
  int start_epoch = 0, stale = 0;
  if (run.resume && fs::exists(last)) {  // continue where the last finished epoch left off
    torch::serialize::InputArchive a;
    a.load_from(last.string());
    net->load(a);
    torch::serialize::InputArchive oa;
    a.read("optimizer", oa);
    opt->load(oa);
    if (ema) ema->load(a);
    c10::IValue v;
    a.read("position", v);
    const auto pos = config::json::parse(v.toStringRef());
    start_epoch = pos["epoch"];
    step = pos["step"];
    stale = pos["stale"];
    r.best_auc = pos["best_auc"];
    r.best_epoch = pos["best_epoch"];
    r.history = pos["history"];
    r.best_valid = pos["best_valid"].get<std::vector<double>>();
    schedule.restore(pos["schedule"]);
    scaler.restore(pos["scaler"]);
    torch::Tensor rng;
    a.read("torch_rng", rng, true);
    at::Generator gen = at::detail::getDefaultCPUGenerator();  // a handle: shares the default generator
    std::lock_guard<std::mutex> lock(gen.mutex());
    gen.set_state(rng);
  }
  std::string log;
  for (const auto& line : r.history) log += line.dump() + "\n";

  for (int epoch = start_epoch; epoch < t.epochs; ++epoch) {
    const auto e = static_cast<std::uint32_t>(epoch);
    auto order = t.balanced ? balanced_order(fit_idx, targets, fit_idx.size(), run.seed, e) : epoch_order(fit_idx, run.seed, e);
    // Augment and Mixup: on a CPU run they belong to the reader threads (Augment on each sample as it
    // is read, while it is in cache; Mixup on the batch), where they overlap the training step. On a
    // GPU they run batched as tensor ops on the device.
    const bool on_readers = device.is_cpu();
    const auto epochs = static_cast<std::uint32_t>(t.epochs);
    auto mix = [&pipeline, &run, e, epochs](torch::Tensor& images, torch::Tensor& y, std::uint32_t no) {
      detail::for_stages<detail::is_mixup>(pipeline, [&](const Mixup& m) {
        if (m.active(e, epochs)) m.apply(images, y, run.seed, e, no);
      });
    };
    LoaderHooks hooks;
    if (on_readers) {
      hooks.sample = [&pipeline, &run, e](torch::Tensor& one, std::int64_t index) {
        augment_batch(pipeline, one, AugmentKey{run.seed, e, std::span<const std::int64_t>(&index, 1)});
      };
      hooks.batch = [&mix](Batch& b, std::size_t no) { mix(b.images, b.targets, static_cast<std::uint32_t>(no)); };
    }
    auto loader = load.loader(data, std::move(order), t.batch_size, head_classes(head), std::move(hooks));
    net->train();
    double loss_sum = 0.0;
    std::int64_t seen = 0;
    Progress bar(tag + " " + std::to_string(epoch + 1) + "/" + std::to_string(t.epochs),
                 static_cast<std::int64_t>(loader->num_samples()), run.quiet, "samples");
    std::uint32_t batch_no = 0;
    opt->zero_grad();
    while (auto batch = loader->next()) {
      auto images = batch->images.to(device);
      auto y = batch->targets.to(device);
      if (!on_readers) {
        augment_batch(pipeline, images, AugmentKey{run.seed, e, batch->indices});
        mix(images, y, batch_no);
      }
      if (t.channels_last) images = as_channels_last(images);
      torch::Tensor loss;
      {
        AutocastGuard autocast(t.amp, device);
        loss = head_loss(head, net->forward(images).to(torch::kFloat32), y);
      }
      scaler.scale_loss(loss / static_cast<double>(t.accumulate)).backward();
      ++batch_no;
      if (batch_no % static_cast<std::uint32_t>(t.accumulate) == 0 || static_cast<std::int64_t>(batch_no) == batches) {
        for (auto& g : opt->param_groups()) g.options().set_lr(schedule.lr(step));
        const bool finite = scaler.unscale(net->parameters());
        if (t.clip_norm > 0.0 && finite) torch::nn::utils::clip_grad_norm_(net->parameters(), t.clip_norm);
        scaler.step(*opt, finite);
        opt->zero_grad();
        if (ema) ema->update(*net);
        ++step;
      }
      loss_sum += loss.template item<double>() * static_cast<double>(batch->size());
      seen += batch->size();
      bar.advance(batch->size());
      char status[64];
      std::snprintf(status, sizeof status, "loss %.4f", loss_sum / static_cast<double>(seen));
      bar.set_status(status);
    }
    bar.finish();
    const double rate = bar.rate();
    if (ema) ema->swap(*net);  // evaluate (and keep) the averaged weights
    const auto probs = predict_pipeline(pipeline, net, head, data, valid_idx, t.eval_batch_size, device, run.seed, "validate", run.quiet, false);
    const double auc = roc_auc(truth, probs);
    const double lr_now = schedule.lr(std::max<std::int64_t>(0, step - 1));
    schedule.epoch_end(auc);
    config::json line = {{"tag", tag}, {"epoch", epoch + 1}, {"train_loss", loss_sum / static_cast<double>(std::max<std::int64_t>(1, seen))},
                         {"valid_auc", auc}, {"lr", lr_now}, {"samples_per_s", rate}};
    r.history.push_back(line);
    log += line.dump() + "\n";
    write_text_atomically(dir / "log.jsonl", [&](std::ostream& o) { o << log; });
    if (!run.quiet) std::fprintf(stderr, "%s epoch %d: train loss %.4f, valid AUC %.4f\n", tag.c_str(), epoch + 1, line["train_loss"].get<double>(), auc);
    if (auc > r.best_auc) {
      r.best_auc = auc;
      r.best_epoch = epoch + 1;
      r.best_valid = probs;
      save_module(net, r.model);
      stale = 0;
    } else {
      ++stale;
    }
    if (ema) ema->swap(*net);
    // the resumable checkpoint: everything the next epoch depends on
    write_atomically(last, [&](const fs::path& tmp) {
      torch::serialize::OutputArchive a;
      net->save(a);
      torch::serialize::OutputArchive oa;
      opt->save(oa);
      a.write("optimizer", oa);
      if (ema) ema->save(a);
      const config::json pos = {{"epoch", epoch + 1}, {"step", step}, {"stale", stale}, {"best_auc", r.best_auc},
                                {"best_epoch", r.best_epoch}, {"history", r.history}, {"best_valid", r.best_valid},
                                {"schedule", schedule.state()}, {"scaler", scaler.state()}};
      a.write("position", c10::IValue(pos.dump()));
      at::Generator gen = at::detail::getDefaultCPUGenerator();
      a.write("torch_rng", gen.get_state(), true);
      a.save_to(tmp.string());
    });
    r.epochs_run = epoch + 1;
    if (t.early_stopping > 0 && stale >= t.early_stopping) {
      if (!run.quiet) std::fprintf(stderr, "%s: no better validation AUC for %d epochs, stopping\n", tag.c_str(), stale);
      break;
    }
  }
  torch::load(net, r.model.string());
  return r;
}

}  // namespace cadence
