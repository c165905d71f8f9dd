#pragma once
// fit(): trains one network on one split (a hold-out, or one fold of a K-fold), the loop every recipe
// shares. It keeps the weights with the best validation ROC AUC and, after every epoch, a resumable
// checkpoint (model, optimizer, EMA, torch's generator, position, history): all of cadence's own
// randomness is counter-based, so a run resumed from its last epoch ends with the same weights as
// one that was never interrupted.
#include <ATen/CPUGeneratorImpl.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <mutex>
#include <optional>
#include <csignal>
#include <string>
#include <vector>

#include <torch/nn.h>
#include <torch/optim.h>
#include <torch/serialize.h>

#include "cadence/config/options.hpp"
#include "cadence/core/atomic_file.hpp"
#include "cadence/core/progress.hpp"
#include "cadence/data/folds.hpp"
#include "cadence/core/compose.hpp"
#include "cadence/core/interrupt.hpp"
#include "cadence/dist/data_parallel.hpp"
#include "cadence/infer/predict.hpp"
#include "cadence/nn/batch_norm.hpp"
#include "cadence/nn/checkpoint.hpp"
#include "cadence/nn/memory_format.hpp"
#include "cadence/nn/state_dict.hpp"
#include "cadence/train/adamw.hpp"
#include "cadence/train/cuda_graph.hpp"
#include "cadence/train/metrics.hpp"
#include "cadence/train/trainer.hpp"

namespace cadence {

struct FitResult {
  double best_auc = -1.0;
  int best_epoch = 0;
  int epochs_run = 0;
  std::vector<double> best_valid;                // validation predictions of the best weights (plain, no TTA)
  config::json history = config::json::array();  // one object per epoch, as in log.jsonl
  std::filesystem::path model;                   // best weights
};

inline std::unique_ptr<torch::optim::Optimizer> make_optimizer(const TrainOptions& t,
                                                               std::vector<torch::Tensor> params) {
  switch (t.optimizer) {
    case OptimizerKind::adam:
      return std::make_unique<torch::optim::Adam>(params, torch::optim::AdamOptions(t.lr).weight_decay(t.weight_decay));
    case OptimizerKind::sgd:
      return std::make_unique<torch::optim::SGD>(
          params,
          torch::optim::SGDOptions(t.lr).momentum(t.momentum).weight_decay(t.weight_decay).nesterov(t.momentum > 0));
    case OptimizerKind::adamw:
    default:
      // LibTorch's AdamW, its step batched over all parameters (train/adamw.hpp)
      return std::make_unique<ForeachAdamW>(params, torch::optim::AdamWOptions(t.lr).weight_decay(t.weight_decay));
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
      if (s.is_floating_point())
        s.mul_(decay_).add_(live[i].second.detach(), 1.0 - decay_);
      else
        s.copy_(live[i].second);
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

/// Stochastic weight averaging's running mean of the weights (torch.optim.swa_utils.AveragedModel, equal
/// weights): the mean of every state entry that is floating point, the latest value of the others (the
/// BatchNorm batch counters). timm's avg_checkpoints.py computes the same mean from saved checkpoints.
class WeightAverage {
 public:
  explicit WeightAverage(torch::nn::Module& m) {
    torch::NoGradGuard g;
    for (auto& [k, t] : state_dict_entries(m)) mean_.emplace_back(k, t.detach().clone());
  }
  void update(torch::nn::Module& m) {
    torch::NoGradGuard g;
    auto live = state_dict_entries(m);
    ++count_;
    for (std::size_t i = 0; i < live.size(); ++i) {
      auto& s = mean_[i].second;
      const auto& w = live[i].second.detach();
      if (s.is_floating_point() && count_ > 1)
        s.add_(w - s, 1.0 / static_cast<double>(count_));
      else
        s.copy_(w);
    }
  }
  std::int64_t count() const { return count_; }
  /// The mean into the module's weights and buffers.
  void copy_to(torch::nn::Module& m) const {
    torch::NoGradGuard g;
    auto live = state_dict_entries(m);
    for (std::size_t i = 0; i < live.size(); ++i) live[i].second.copy_(mean_[i].second);
  }
  void save(torch::serialize::OutputArchive& a) const {
    for (const auto& [k, t] : mean_) a.write("swa." + k, t, /*is_buffer=*/true);
  }
  void load(torch::serialize::InputArchive& a, std::int64_t count) {
    for (auto& [k, t] : mean_) a.read("swa." + k, t, /*is_buffer=*/true);
    count_ = count;
  }

 private:
  std::vector<std::pair<std::string, torch::Tensor>> mean_;
  std::int64_t count_ = 0;
};

/// One training run on one split, as a few named steps read top-down:
///
///   resume()                       continue from last.pt when run.resume (an epoch end, or mid-epoch)
///   for each epoch:
///     train_epoch()                  batches through the network; step() every `accumulate` batches,
///                                    a mid-epoch checkpoint every `checkpoint_every` steps, and on
///                                    SIGINT/SIGTERM a checkpoint and Interrupted
///     validate()                     plain predictions of the (EMA) weights on the validation split
///     keep_best(), checkpoint()      model.pt when the AUC improves; last.pt always
///     early stop?
///   finish_swa()                   train.swa_start: the averaged weights, their BatchNorm statistics
///                                  recomputed, validated and saved as model.pt
/// A run killed anywhere and resumed from its last checkpoint ends bit for bit as an uninterrupted one:
/// the checkpoint holds the weights, the optimizer, EMA, torch's generator, the schedule and the
/// position (epoch, batch, the epoch's running loss), and all of cadence's own draws are keyed.
/// Where and as what a Fit trains: the data, the options, the directory and the checkpoints' identity
/// (an options struct, as LibTorch's DataLoaderOptions, instead of a row of arguments).
struct FitContext {
  const RunOptions& run;
  const TrainOptions& train;
  const Dataset& data;
  const std::vector<std::int64_t>& fitting;  // indices into data that train
  const std::vector<std::int64_t>& valid;    // indices into data that validate
  std::filesystem::path dir;                 // model.pt, last.pt, log.jsonl
  std::string tag;                           // "pretrain", "fold 1", "holdout": progress and log.jsonl
  torch::Device device = torch::kCPU;
  IdentityCheck checkpoint;  // what model.pt and last.pt record, and what a resume must find
};

template <class P, class Net>
class Fit {
 public:
  Fit(const P& pipeline, Net& net, const FitContext& c)
      : pipeline_(pipeline),
        net_(net),
        run_(c.run),
        group_(dist::current()),
        t_(c.train),
        data_(c.data),
        fit_idx_(c.fitting),
        valid_idx_(c.valid),
        dir_(c.dir),
        tag_(c.tag),
        device_(c.device),
        check_(c.checkpoint),
        head_(pipeline_head(pipeline)),
        targets_(c.data.targets()),
        opt_(make_optimizer(c.train, net->parameters())),
        scaler_(c.train.amp == Amp::fp16),
        world_(group_ != nullptr ? group_->size() : 1),
        batches_(per_rank_batches(c.fitting.size(), world_, c.train.batch_size)),
        schedule_(for_global_batch(c.train, world_),
                  (batches_ + c.train.accumulate - 1) / c.train.accumulate * c.train.epochs) {
    const TrainOptions& t = c.train;
    const torch::Device device = c.device;
    if (t.amp == Amp::fp16 && !device.is_cuda())
      fail("/train/amp: \"fp16\" needs a CUDA device; use \"bf16\" on a CPU");
    if (t.grad_checkpointing && t.sync_batchnorm && world_ > 1)
      fail(
          "/train/grad_checkpointing: not with train.sync_batchnorm in a data-parallel run (the recomputation would "
          "synchronise the statistics again); turn one of them off");
    set_grad_checkpointing(*net, t.grad_checkpointing);
    for (auto i : c.valid) truth_.push_back(targets_[static_cast<std::size_t>(i)]);
    if (group_ != nullptr) {  // DDP: rank 0's weights everywhere, then gradients averaged in buckets
      dist::broadcast_module(*group_, *net);
      reducer_ = std::make_unique<dist::GradReducer>(*group_, net->parameters());
    }
    if (t.ema > 0.0) ema_ = std::make_unique<Ema>(*net, t.ema);
    if (t.swa_start > t.epochs)
      fail("/train/swa_start: epoch ", t.swa_start, " is after the run's last epoch (", t.epochs,
           "); SWA would average nothing");
    if (t.swa_start > 0) swa_ = std::make_unique<WeightAverage>(*net);
    if (t.cuda_graph) check_cuda_graph(t);
    r_.model = c.dir / "model.pt";
  }

  FitResult run() {
    InterruptGuard on_signal;
    if (leader()) std::filesystem::create_directories(dir_);
    if (run_.resume)
      if (const auto bytes = dist::read_on_leader(last())) resume(*bytes);
    for (const auto& line : r_.history) log_ += line.dump() + "\n";
    if (!learns()) return score_only();
    int done = start_epoch_;
    for (int epoch = start_epoch_; epoch < t_.epochs; ++epoch) {
      const auto stats = train_epoch(epoch);
      if (ema_) ema_->swap(*net_);                                 // evaluate (and keep) the averaged weights
      if (swa_ && epoch + 1 >= t_.swa_start) swa_->update(*net_);  // the weights that validate: EMA's when on
      const auto probs = validate(epoch);
      const double auc = roc_auc(truth_, probs);
      valid_loss_ = log_loss(truth_, probs);
      log_epoch(epoch, stats, auc);
      keep_best(epoch, auc, probs);
      if (ema_) ema_->swap(*net_);
      checkpoint({epoch + 1, 0, 0.0, 0});
      r_.epochs_run = done = epoch + 1;
      if (const int sig = interrupted()) stop(sig, epoch + 1);
      if (t_.early_stopping > 0 && stale_ >= t_.early_stopping) {
        if (!quiet())
          std::fprintf(stderr, "%s: no better validation AUC for %d epochs, stopping\n", tag_.c_str(), stale_);
        break;
      }
    }
    if (swa_ && swa_->count() > 0) finish_swa(done);
    load_module(net_, r_.model, check_);
    return r_;
  }

 private:
  /// Where training stands: epochs finished, batches done in the next one, and its running loss.
  struct Position {
    int epoch = 0;
    std::int64_t batch = 0;  // batches (optimizer windows' members) done in the epoch, per rank
    double loss_sum = 0.0;
    std::int64_t seen = 0;
    std::int64_t done = 0;  // positions of the epoch's order done (all ranks): where a resume continues
  };

  std::filesystem::path last() const { return dir_ / "last.pt"; }
  bool leader() const { return group_ == nullptr || group_->leader(); }
  bool quiet() const { return run_.quiet || !leader(); }
  /// Batches per rank and epoch: the rank's padded shard (dist/world.hpp) in batches.
  static std::int64_t per_rank_batches(std::size_t n, int world, int batch) {
    const auto shard = (static_cast<std::int64_t>(n) + world - 1) / world;
    return (shard + batch - 1) / batch;
  }
  /// A signal on any rank stops every rank at the same step (a collective in a data-parallel run).
  int interrupted() {
    int sig = interrupt_requested();
    if (group_ == nullptr) return sig;
    auto t = torch::tensor({sig != 0 ? 1.0 : 0.0});
    group_->all_reduce(t, "stop check");
    return t.item<double>() > 0 ? (sig != 0 ? sig : SIGTERM) : 0;
  }
  /// The epoch's (loss sum, samples) over all ranks.
  std::pair<double, std::int64_t> global(double loss_sum, std::int64_t seen) {
    if (group_ == nullptr) return {loss_sum, seen};
    auto t = torch::tensor({loss_sum, static_cast<double>(seen)}, torch::kFloat64);
    group_->all_reduce(t, "loss sum");
    return {t[0].item<double>(), static_cast<std::int64_t>(t[1].item<double>())};
  }
  std::string job() const { return tag_; }  // holdout's tag was "epoch" (bars "epoch 1/3", "epoch epoch 1:")

  /// Augment (per-sample stages) and Mixup (batch stages): on a CPU run in the reader threads, Augment
  /// on each sample as it is read, while it is in cache; on a GPU batched as tensor ops on the device.
  /// Returns the epoch's mean training loss, its samples/s and the share of its time spent waiting for
  /// the loader (the input pipeline keeps the device fed when that is near 0).
  struct EpochStats {
    double loss = 0.0, samples_per_s = 0.0, data_wait = 0.0;
  };
  EpochStats train_epoch(int epoch) {
    const auto e = static_cast<std::uint32_t>(epoch), epochs = static_cast<std::uint32_t>(t_.epochs);
    epoch_ = epoch;
    Position at{epoch, 0, 0.0, 0, 0};
    if (epoch == start_epoch_) at = resumed_;       // the rest of an epoch a checkpoint was taken in
    if (!leader()) at.loss_sum = 0.0, at.seen = 0;  // the running sums are global; rank 0 carries them
    auto order = t_.balanced ? balanced_order(fit_idx_, targets_, fit_idx_.size(), run_.seed, e)
                             : epoch_order(fit_idx_, run_.seed, e);
    // this rank's part of what the epoch has left (all of it in a world of one)
    order = dist::train_shard(order, static_cast<std::size_t>(at.done), group_ != nullptr ? group_->rank() : 0, world_);
    const auto batches_left = (static_cast<std::int64_t>(order.size()) + t_.batch_size - 1) / t_.batch_size;
    std::int64_t done_here = 0;
    const bool on_readers = device_.is_cpu();
    const auto first = static_cast<std::uint32_t>(at.batch);
    LoaderHooks hooks = on_readers
                            ? reader_hooks(pipeline_, run_.seed, e, epochs, Phase::train, /*batches=*/true, first)
                            : source_hooks(pipeline_);
    hooks.inject = inject_hook(pipeline_, run_.seed, e);  // training-time injection (Inject), on every device
    if (device_.is_cuda()) pin_batches(hooks);
    auto loader =
        source_of(pipeline_).loader(data_, std::move(order), t_.batch_size, head_classes(head_), std::move(hooks));
    net_->train();
    std::optional<dist::SyncBatchNorm> sync_bn;
    if (group_ != nullptr && t_.sync_batchnorm) sync_bn.emplace(*group_);
    Progress bar(tag_ + " " + std::to_string(epoch + 1) + "/" + std::to_string(t_.epochs),
                 static_cast<std::int64_t>(loader->num_samples()) * world_, quiet(), "samples");
    std::uint32_t batch_no = first;
    if (!graphed_) opt_->zero_grad();  // (a captured step's gradients keep their addresses)
    LossReader<LossTag> losses(device_);
    const auto account = [&](double value, const LossTag& tag) {
      if (!std::isfinite(value))
        fail(job(), ": the training loss is ", value, " at epoch ", epoch + 1, ", step ", tag.step + 1, " (batch ",
             tag.batch + 1, "): the run diverged; lower train.lr or set train.clip_norm (the last checkpoint, ",
             last().string(), ", is intact)");
      at.loss_sum += value * static_cast<double>(tag.size);
      at.seen += tag.size;
      char status[64];
      std::snprintf(status, sizeof status, "loss %.4f",
                    at.loss_sum / static_cast<double>(std::max<std::int64_t>(1, at.seen)));
      bar.set_status(status);
    };
    using Clock = std::chrono::steady_clock;
    const auto started = Clock::now();
    Clock::duration waited{};
    for (;;) {
      const auto asked = Clock::now();
      auto batch = loader->next();
      waited += Clock::now() - asked;
      if (!batch) break;
      auto images = batch->images.to(device_, batch->images.scalar_type(), /*non_blocking=*/device_.is_cuda());
      auto y = batch->targets.to(device_, batch->targets.scalar_type(), /*non_blocking=*/device_.is_cuda());
      if (!on_readers) {
        apply_sample_stages(pipeline_, images, SampleKey{run_.seed, e, batch->indices}, Phase::train);
        apply_batch_stages(pipeline_, images, y, BatchKey{run_.seed, e, epochs, batch_no});
      }
      if (t_.channels_last) images = as_channels_last(images);
      if (t_.cuda_graph) {  // the step in a CUDA graph
        const auto loss = graphed_step()(images, y, lr_at(step_, epoch_));
        losses.push(loss, LossTag{batch->size(), batch_no, step_}, account);
        if (ema_) ema_->update(*net_);
        ++step_;
        ++batch_no;
        at.batch = batch_no;
        at.done += static_cast<std::int64_t>(t_.batch_size) * world_;
        bar.advance(batch->size() * world_);
        if (++done_here == batches_left) continue;
        const int sig = interrupted();
        if ((t_.checkpoint_every > 0 && step_ % t_.checkpoint_every == 0) || sig) {
          losses.flush(account);
          checkpoint(at);
        }
        if (sig) stop(sig, epoch, batch_no);
        continue;
      }
      torch::Tensor loss;
      {
        AutocastGuard autocast(t_.amp, device_);
        loss = head_loss(head_, net_->forward(images).to(torch::kFloat32), y, t_.focal_gamma);
      }
      losses.push(loss, LossTag{batch->size(), batch_no, step_}, account);  // on a CPU read (and checked) at once
      const bool last_batch = ++done_here == batches_left;
      const bool steps = (batch_no + 1) % static_cast<std::uint32_t>(t_.accumulate) == 0 || last_batch;
      if (reducer_ && steps) reducer_->arm();  // the window's last backward all-reduces (DDP's no_sync before)
      scaler_.scale_loss(loss / static_cast<double>(t_.accumulate)).backward();
      if (reducer_) reducer_->finish();
      ++batch_no;
      at.batch = batch_no;
      at.done += static_cast<std::int64_t>(t_.batch_size) * world_;
      bar.advance(batch->size() * world_);
      if (steps) {
        step();
        if (last_batch) continue;
        const int sig = interrupted();
        if ((t_.checkpoint_every > 0 && step_ % t_.checkpoint_every == 0) || sig) {
          losses.flush(account);
          checkpoint(at);
        }
        if (sig) stop(sig, epoch, batch_no);
      }
    }
    losses.flush(account);
    bar.finish();
    const auto elapsed = std::chrono::duration<double>(Clock::now() - started).count();
    const auto [sum, seen] = global(at.loss_sum, at.seen);
    return {sum / static_cast<double>(std::max<std::int64_t>(1, seen)), bar.rate(),
            elapsed > 0.0 ? std::chrono::duration<double>(waited).count() / elapsed : 0.0};
  }

  /// A batch's loss, read late: its size and where it was.
  struct LossTag {
    std::int64_t size = 0;
    std::uint32_t batch = 0;
    std::int64_t step = 0;
  };

  /// On a GPU the loader's batches are copied into pinned memory in the reader threads (PyTorch's
  /// DataLoader pin_memory), so that the copy to the device does not wait for the device's queue.
  static void pin_batches(LoaderHooks& hooks) {
    hooks.batch = [then = std::move(hooks.batch)](Batch& b, std::size_t no) {
      if (then) then(b, no);
      b.images = b.images.pin_memory();
      b.targets = b.targets.pin_memory();
    };
  }

  /// train.cuda_graph's conditions, checked before anything trains.
  void check_cuda_graph(const TrainOptions& t) const {
    check_cuda_graph_options(t, device_);
    if (!cuda_graphs_built()) fail(no_cuda_graphs);
    if (world_ > 1) fail("/train/cuda_graph: not in a data-parallel run (the gradients' all-reduce is not captured)");
  }

  /// The captured step, made at the first batch (after a resume has loaded the optimizer and the scaler).
  GraphedTrainStep& graphed_step() {
    if (!graphed_) {
      auto* adamw = dynamic_cast<torch::optim::AdamW*>(opt_.get());
      if (adamw == nullptr) fail("/train/cuda_graph: needs train.optimizer \"adamw\"");
      graphed_ = std::make_unique<GraphedTrainStep>(
          [this](const torch::Tensor& x, const torch::Tensor& y) {
            AutocastGuard autocast(t_.amp, device_);
            return head_loss(head_, net_->forward(x).to(torch::kFloat32), y, t_.focal_gamma);
          },
          std::make_unique<DeviceStep>(*adamw, scaler_, t_.clip_norm));
    }
    return *graphed_;
  }

  /// The learning rate of optimizer step `step` in `epoch`: the schedule's, or train.swa_lr once SWA averages.
  double lr_at(std::int64_t step, int epoch) const {
    if (swa_ && t_.swa_lr > 0.0 && epoch + 1 >= t_.swa_start) return t_.swa_lr;
    return schedule_.lr(step);
  }

  /// One optimizer step: the scheduled learning rate, unscaling (fp16), clipping, the step, EMA.
  void step() {
    for (auto& g : opt_->param_groups()) g.options().set_lr(lr_at(step_, epoch_));
    const bool finite = scaler_.unscale(net_->parameters());
    if (t_.clip_norm > 0.0 && finite) torch::nn::utils::clip_grad_norm_(net_->parameters(), t_.clip_norm);
    scaler_.step(*opt_, finite);
    opt_->zero_grad();
    if (ema_) ema_->update(*net_);
    ++step_;
  }

  /// Whether the network has anything to train (the de-Doppler baseline has not).
  bool learns() const {
    for (const auto& p : net_->parameters())
      if (p.requires_grad()) return true;
    return false;
  }

  /// A network with nothing to learn: its validation predictions once, as the run's one "epoch" (no
  /// training loss, no optimizer), and its (empty) weights as model.pt, so that predict finds the fold.
  FitResult score_only() {
    const auto probs = validate(0);
    const double auc = roc_auc(truth_, probs);
    config::json line = {{"tag", tag_},
                         {"epoch", 1},
                         {"valid_auc", auc},
                         {"valid_loss", log_loss(truth_, probs)},
                         {"scored_only", true}};
    r_.history = config::json::array({line});
    log_ = line.dump() + "\n";
    if (leader()) write_text_atomically(dir_ / "log.jsonl", [&](std::ostream& o) { o << log_; });
    if (!quiet()) std::fprintf(stderr, "%s: nothing to train; validation AUC %.4f\n", tag_.c_str(), auc);
    keep_best(0, auc, probs);
    r_.epochs_run = 0;
    return r_;
  }

  std::vector<double> validate(int epoch) {
    // the inference path seti predict runs (BN folded, channels_last as trained), on a copy: net_ trains on
    auto eval_net = inference_copy(pipeline_, *net_, device_, InferenceOptions{true, t_.channels_last});
    AutocastGuard autocast(t_.amp, device_);  // validation at the training's precision, as Lightning's
    auto p = predict_pipeline(pipeline_, eval_net, head_, data_, valid_idx_,
                              {.batch_size = t_.eval_batch_size,
                               .device = device_,
                               .seed = run_.seed,
                               .label = "validate",
                               .quiet = quiet(),
                               .use_tta = false,
                               .stop_on_signal = false});  // run() stops after the epoch's checkpoint
    for (std::size_t i = 0; i < p.size(); ++i)
      if (!std::isfinite(p[i]))
        fail(job(), ": the validation prediction for id `", data_.entries[static_cast<std::size_t>(valid_idx_[i])].id,
             "` is ", p[i], " after epoch ", epoch + 1,
             ": the weights diverged; lower train.lr or set train.clip_norm");
    return p;
  }

  /// SWA's end (after the last epoch, or an early stop): the mean of the epochs' weights, with BatchNorm
  /// statistics of its own (train.swa_bn), validated, logged under "<tag> swa" and saved as model.pt in
  /// place of the best epoch's weights, as Lightning's StochasticWeightAveraging ends a fit. last.pt keeps
  /// the last epoch's live weights and the mean, so a run killed here redoes only this step on --resume.
  void finish_swa(int epochs_done) {
    swa_->copy_to(*net_);
    if (t_.swa_bn) update_batchnorm();
    const auto probs = validate(epochs_done - 1);
    const double auc = roc_auc(truth_, probs);
    config::json line = {{"tag", tag_ + " swa"},
                         {"epoch", epochs_done},
                         {"valid_auc", auc},
                         {"valid_loss", log_loss(truth_, probs)},
                         {"swa_epochs", swa_->count()}};
    r_.history.push_back(line);
    log_ += line.dump() + "\n";
    if (leader()) write_text_atomically(dir_ / "log.jsonl", [&](std::ostream& o) { o << log_; });
    if (!quiet())
      std::fprintf(stderr, "%s: SWA over the last %lld epochs: valid AUC %.4f (best epoch %d: %.4f)\n", tag_.c_str(),
                   static_cast<long long>(swa_->count()), auc, r_.best_epoch, r_.best_auc);
    r_.best_auc = auc;
    r_.best_epoch = epochs_done;
    r_.best_valid = probs;
    if (leader()) save_module(net_, r_.model, check_.expected);
  }

  /// torch.optim.swa_utils.update_bn: every BatchNorm's running statistics reset and recomputed as a
  /// cumulative average over one pass of the training split in training mode, without gradients, on the
  /// inputs validation sees (no augmentation). Every rank passes over the whole split, so the statistics
  /// agree across a data-parallel run.
  void update_batchnorm() {
    std::vector<std::pair<BatchNorm2dImpl*, c10::optional<double>>> ours;
    std::vector<std::pair<torch::nn::BatchNorm2dImpl*, c10::optional<double>>> torchs;
    for (const auto& m : net_->modules()) {
      if (auto* b = m->template as<BatchNorm2dImpl>(); b != nullptr && b->options.track_running_stats()) {
        ours.emplace_back(b, b->options.momentum());
        torch::NoGradGuard no_grad;
        b->running_mean.zero_();
        b->running_var.fill_(1.0);
        b->num_batches_tracked.zero_();
        b->options.momentum() = c10::nullopt;
      } else if (auto* t = m->template as<torch::nn::BatchNorm2dImpl>();
                 t != nullptr && t->options.track_running_stats()) {
        torchs.emplace_back(t, t->options.momentum());
        t->reset_running_stats();
        t->options.momentum() = c10::nullopt;
      }
    }
    if (ours.empty() && torchs.empty()) return;
    {
      torch::NoGradGuard no_grad;
      net_->train();
      auto loader = source_of(pipeline_).loader(data_, fit_idx_, t_.eval_batch_size, head_classes(head_),
                                                reader_hooks(pipeline_, run_.seed, 0, 1, Phase::eval, false));
      Progress bar(tag_ + " swa batchnorm", static_cast<std::int64_t>(loader->num_samples()), quiet(), "samples");
      AutocastGuard autocast(t_.amp, device_);
      while (auto batch = loader->next()) {
        auto images = batch->images.to(device_);
        if (t_.channels_last) images = as_channels_last(images);
        (void)net_->forward(images);
        bar.advance(batch->size());
      }
      bar.finish();
    }
    for (auto& [b, m] : ours) b->options.momentum() = m;
    for (auto& [t, m] : torchs) t->options.momentum() = m;
  }

  /// Ends the run after a checkpoint: how to go on, in the exception's one line.
  [[noreturn]] void stop(int sig, int epoch, std::int64_t batch = 0) {
    std::string where = "after epoch " + std::to_string(epoch);
    if (batch > 0) where = "in epoch " + std::to_string(epoch + 1) + " after batch " + std::to_string(batch);
    throw Interrupted(sig, job() + ": stopped by " + signal_name(sig) + " " + where + "; checkpoint " +
                               last().string() + "; continue with --resume (run.resume=true) and the same config");
  }

  void log_epoch(int epoch, const EpochStats& s, double auc) {
    const double lr_now = lr_at(std::max<std::int64_t>(0, step_ - 1), epoch);
    schedule_.epoch_end(auc);
    const double loss = s.loss;
    config::json line = {{"tag", tag_},
                         {"epoch", epoch + 1},
                         {"train_loss", loss},
                         {"valid_auc", auc},
                         {"valid_loss", valid_loss_},
                         {"lr", lr_now},
                         {"samples_per_s", s.samples_per_s},
                         {"data_wait", s.data_wait}};
    if (world_ > 1) line["world_size"] = world_;
    r_.history.push_back(line);
    log_ += line.dump() + "\n";
    if (leader()) write_text_atomically(dir_ / "log.jsonl", [&](std::ostream& o) { o << log_; });
    if (!quiet())
      std::fprintf(stderr, "%s epoch %d: train loss %.4f, valid AUC %.4f\n", tag_.c_str(), epoch + 1, loss, auc);
  }

  void keep_best(int epoch, double auc, const std::vector<double>& probs) {
    if (auc > r_.best_auc) {
      r_.best_auc = auc;
      r_.best_epoch = epoch + 1;
      r_.best_valid = probs;
      if (leader()) save_module(net_, r_.model, check_.expected);
      stale_ = 0;
    } else {
      ++stale_;
    }
  }

  /// The resumable checkpoint: everything the rest of the run depends on.
  void checkpoint(const Position& at) {
    const auto [loss_sum, seen] = global(at.loss_sum, at.seen);  // a collective: every rank comes here
    if (!leader()) return;
    if (graphed_) graphed_->device_step().store(scaler_);  // the step counts and the scale, from the device
    {
      torch::serialize::OutputArchive a;
      net_->save(a);
      torch::serialize::OutputArchive oa;
      opt_->save(oa);
      a.write("optimizer", oa);
      if (ema_) ema_->save(a);
      if (swa_) swa_->save(a);
      const config::json pos = {{"epoch", at.epoch},
                                {"batch", at.batch},
                                {"loss_sum", loss_sum},
                                {"seen", seen},
                                {"done", at.done},
                                {"world_size", world_},
                                {"step", step_},
                                {"stale", stale_},
                                {"best_auc", r_.best_auc},
                                {"best_epoch", r_.best_epoch},
                                {"history", r_.history},
                                {"best_valid", r_.best_valid},
                                {"schedule", schedule_.state()},
                                {"scaler", scaler_.state()},
                                {"swa_count", swa_ ? swa_->count() : 0}};
      a.write("position", c10::IValue(pos.dump()));
      at::Generator gen = at::detail::getDefaultCPUGenerator();
      a.write("torch_rng", gen.get_state(), true);
      write_identity(a, check_.expected);
      save_archive(a, last());
    }
  }

  /// Continues where the last checkpoint left off (an epoch's end, or mid-epoch).
  void resume(const std::string& bytes) {
    try {
      torch::serialize::InputArchive a;
      a.load_from(bytes.data(), bytes.size(), device_);  // a checkpoint written on another device resumes on this one
      verify_checkpoint(a, net_, last(), check_);        // this job's, this fold's, this run's; the network's shapes
      net_->load(a);
      torch::serialize::InputArchive oa;
      a.read("optimizer", oa);
      opt_->load(oa);
      if (ema_) ema_->load(a);
      c10::IValue v;
      a.read("position", v);
      const auto pos = config::json::parse(v.toStringRef());
      if (swa_) swa_->load(a, pos.value("swa_count", std::int64_t{0}));
      start_epoch_ = pos.at("epoch");
      const std::int64_t batch = pos.value("batch", std::int64_t{0});
      resumed_ = {start_epoch_, batch, pos.value("loss_sum", 0.0), pos.value("seen", std::int64_t{0}),
                  pos.value("done", batch * t_.batch_size)};  // samples of the epoch's order done, on any world size
      step_ = pos.at("step");
      stale_ = pos.at("stale");
      r_.best_auc = pos.at("best_auc");
      r_.best_epoch = pos.at("best_epoch");
      r_.history = pos.at("history");
      r_.best_valid = pos.at("best_valid").get<std::vector<double>>();
      schedule_.restore(pos.at("schedule"));
      scaler_.restore(pos.at("scaler"));
      torch::Tensor rng;
      a.read("torch_rng", rng, true);
      rng = rng.to(torch::kCPU);
      at::Generator gen = at::detail::getDefaultCPUGenerator();  // a handle: shares the default generator
      std::lock_guard<std::mutex> lock(gen.mutex());
      gen.set_state(rng);
    } catch (const Error&) {
      throw;
    } catch (const std::exception& e) {
      fail(last().string(), ": cannot resume from this checkpoint (", first_line(e.what()),
           "); it is truncated, or from another model or config: remove it, or run without --resume");
    }
  }

  const P& pipeline_;
  Net& net_;
  const RunOptions& run_;
  dist::Group* group_;
  const TrainOptions& t_;
  const Dataset& data_;
  const std::vector<std::int64_t>& fit_idx_;
  const std::vector<std::int64_t>& valid_idx_;
  std::filesystem::path dir_;
  std::string tag_;
  torch::Device device_;
  IdentityCheck check_;
  Head head_;
  std::vector<float> targets_, truth_;
  std::unique_ptr<torch::optim::Optimizer> opt_;
  GradScaler scaler_;
  std::unique_ptr<Ema> ema_;
  std::unique_ptr<WeightAverage> swa_;
  int world_;
  std::unique_ptr<dist::GradReducer> reducer_;
  std::unique_ptr<GraphedTrainStep> graphed_;  // train.cuda_graph
  std::int64_t batches_;
  LrSchedule schedule_;
  FitResult r_;
  std::string log_;
  std::int64_t step_ = 0;
  int start_epoch_ = 0, stale_ = 0, epoch_ = 0;
  double valid_loss_ = 0.0;
  Position resumed_;
};

/// Trains `net` on `c.fitting`, validating on `c.valid` after every epoch (see Fit).
template <class P, class Net>
FitResult fit(const P& pipeline, Net& net, const FitContext& c) {
  return Fit<P, Net>(pipeline, net, c).run();
}

}  // namespace cadence
