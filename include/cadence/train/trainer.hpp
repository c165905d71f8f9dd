#pragma once
// The training engine's options: RunOptions ("run": where, seed, device, threads, resume), TrainOptions
// ("train": optimizer, schedule, accumulation, clipping, EMA, early stopping, amp, ...) and the learning
// rate schedule they define. The loop itself is train/fit.hpp; its checkpoint files train/checkpoint_file.hpp.
#include <array>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <numbers>
#include <sstream>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include <torch/nn.h>
#include <torch/optim.h>
#include <torch/cuda.h>
#include <torch/serialize.h>

#include "cadence/config/options.hpp"
#include "cadence/core/atomic_file.hpp"
#include "cadence/core/error.hpp"
#include "cadence/core/caching_allocator.hpp"
#include "cadence/dist/group.hpp"
#include "cadence/train/amp.hpp"
#include "cadence/train/checkpoint_file.hpp"  // save_module, load_module: with the options, as before

namespace cadence {

struct RunOptions {
  std::filesystem::path dir = "runs/demo";  // every output of the run goes here
  std::uint64_t seed = 42;                  // drives splits, order, init
  std::string device = "cpu";               // "cpu", "cuda", "cuda:1", ...
  int threads = 0;                          // intra-op threads; 0 = all cores (PyTorch's default is 1 on 2 vCPUs)
  bool quiet = false;                       // no progress bars
  bool resume = false;                      // continue from each fold's last.pt where present
  bool deterministic = false;               // deterministic kernels (same results run to run, any thread count)
  bool keep_memory = true;                  // keep freed host memory for reuse (core/caching_allocator.hpp)
  int dist_timeout = 300;                   // data-parallel runs: seconds any collective may wait for the other ranks

  template <class V>
  void fields(V& v) {
    v("dir", dir, config::fits_file_system());
    v("seed", seed);
    v("device", device, config::non_empty());
    v("threads", threads, config::in_range(0, 1024));
    v("quiet", quiet);
    v("resume", resume);
    v("deterministic", deterministic);
    v("keep_memory", keep_memory);
    v("dist_timeout", dist_timeout, config::in_range(1, 86400));
  }

  /// The configured device; "cuda" without an index in a data-parallel run is the GPU LOCAL_RANK names.
  torch::Device torch_device() const {
    try {
      torch::Device d(device);
      if (d.is_cuda() && !d.has_index() && dist::World::from_env().distributed())
        d = torch::Device(torch::kCUDA, static_cast<c10::DeviceIndex>(dist::World::from_env().local_rank));
      return d;
    } catch (const std::exception&) {
      fail("/run/device: `", device, "` is not a device (use \"cpu\", \"cuda\" or \"cuda:N\")");
    }
  }
  /// Sets torch's intra-op threads, the host allocator's policy, seeds torch's generator; returns the device.
  torch::Device apply() const {
    if (keep_memory) install_caching_allocator();
    const int n = threads > 0 ? threads : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
    torch::set_num_threads(n);
    torch::manual_seed(seed);
    if (deterministic) at::globalContext().setDeterministicAlgorithms(true, /*warn_only=*/true);
    const auto d = torch_device();
    if (d.is_cuda() && !torch::cuda::is_available())
      fail("/run/device: `", device, "` requested but CUDA is not available");
    if (d.is_cuda() && d.has_index() && d.index() >= static_cast<int>(torch::cuda::device_count()))
      fail("/run/device: `", d.str(), "` but this machine has ", torch::cuda::device_count(),
           " GPU(s) (LOCAL_RANK picks one per process)");
    // cuDNN picks the fastest convolution algorithm for each input shape once (the shapes are fixed per
    // job), as the seed's torch.backends.cudnn.benchmark = True; a deterministic run keeps the default
    if (d.is_cuda()) at::globalContext().setBenchmarkCuDNN(!deterministic);
    return d;
  }
  /// Joins the data-parallel run the environment describes (dist/group.hpp); null in a world of one.
  dist::Group* join() const {
    return dist::init(torch_device(), std::chrono::milliseconds(static_cast<std::int64_t>(dist_timeout) * 1000));
  }
};

enum class OptimizerKind { adamw, adam, sgd };
inline constexpr std::array<std::pair<OptimizerKind, std::string_view>, 3> enum_names(OptimizerKind) {
  return {{{OptimizerKind::adamw, "adamw"}, {OptimizerKind::adam, "adam"}, {OptimizerKind::sgd, "sgd"}}};
}
enum class LrScale { linear, sqrt };
inline constexpr std::array<std::pair<LrScale, std::string_view>, 2> enum_names(LrScale) {
  return {{{LrScale::linear, "linear"}, {LrScale::sqrt, "sqrt"}}};
}
enum class SchedulerKind { cosine, onecycle, step, plateau, constant };
inline constexpr std::array<std::pair<SchedulerKind, std::string_view>, 5> enum_names(SchedulerKind) {
  return {{{SchedulerKind::cosine, "cosine"},
           {SchedulerKind::onecycle, "onecycle"},
           {SchedulerKind::step, "step"},
           {SchedulerKind::plateau, "plateau"},
           {SchedulerKind::constant, "constant"}}};
}

struct TrainOptions {
  int epochs = 4;  // passes over the training split
  int batch_size = 32;
  int eval_batch_size = 64;
  int accumulate = 1;  // gradient accumulation: an optimizer step every N batches
  OptimizerKind optimizer = OptimizerKind::adamw;
  double lr = 2e-3;  // peak learning rate (for the global batch; see lr_base_size)
  int lr_base_size =
      0;  // > 0: lr is for this global batch, scaled to the run's batch x ranks x accumulate (timm's --lr-base-size)
  LrScale lr_base_scale = LrScale::linear;  // how: linear, or sqrt (timm's choice for Adam-family optimizers)
  double weight_decay = 1e-2;
  double momentum = 0.9;  // sgd (Nesterov when > 0)
  SchedulerKind scheduler = SchedulerKind::cosine;
  double warmup = 0.05;         // cosine: fraction of steps with linear warmup; onecycle: pct_start
  int step_size = 2;            // step: epochs between decays
  double gamma = 0.5;           // step / plateau: the decay factor
  int plateau_patience = 1;     // plateau: epochs without a better validation AUC before decaying
  double clip_norm = 0.0;       // gradient clipping by global norm (0: off)
  double ema = 0.0;             // EMA decay of the weights used for validation and saving (0: off)
  int early_stopping = 0;       // stop after N epochs without a better validation AUC (0: off)
  int checkpoint_every = 0;     // also write last.pt every N optimizer steps, mid-epoch (0: at epoch ends only)
  double holdout = 0.2;         // hold-out fraction (stratified), for holdout and pretrain
  int folds = 4;                // K of the stratified K-fold, for finetune
  bool balanced = false;        // class-balanced sampling (with replacement) instead of shuffling
  bool channels_last = false;   // NHWC weights and inputs (faster convolutions on some CPUs and GPUs)
  bool sync_batchnorm = false;  // data-parallel runs: BatchNorm statistics over all ranks' batches (per rank when off)
  bool grad_checkpointing = false;  // recompute activations in the backward pass (nn/checkpoint.hpp): memory for time
  Amp amp = Amp::off;               // autocast: "bf16" (CPU or GPU), "fp16" (CUDA, with dynamic loss scaling)
  bool cuda_graph = false;          // the step captured in a CUDA graph and replayed (train/cuda_graph.hpp)
  double focal_gamma = 0.0;         // focal loss (Lin et al. 2017): (1 - p)^gamma weighs down the easy samples (0: off)
  // stochastic weight averaging (Izmailov et al. 2018; Lightning's StochasticWeightAveraging): the mean of
  // the weights at the end of every epoch from swa_start (1-based) on becomes the run's model (0: off)
  int swa_start = 0;
  double swa_lr = 0.0;  // SWA: a constant learning rate from epoch swa_start on (0: the schedule's)
  bool swa_bn = true;   // SWA: the averaged weights' BatchNorm statistics recomputed on the training split

  template <class V>
  void fields(V& v) {
    v("epochs", epochs, config::in_range(1, 100000));
    v("batch_size", batch_size, config::in_range(1, 65536));
    v("eval_batch_size", eval_batch_size, config::in_range(1, 65536));
    v("accumulate", accumulate, config::in_range(1, 4096));
    v("optimizer", optimizer);
    v("lr", lr, config::above(0));
    v("lr_base_size", lr_base_size, config::in_range(0, 1 << 24));
    v("lr_base_scale", lr_base_scale);
    v("weight_decay", weight_decay, config::at_least(0));
    v("momentum", momentum, config::in_range(0.0, 0.999));
    v("scheduler", scheduler);
    v("warmup", warmup, config::in_range(0.0, 1.0));
    v("step_size", step_size, config::at_least(1));
    v("gamma", gamma, config::above(0.0), config::in_range(0.0, 1.0));
    v("plateau_patience", plateau_patience, config::at_least(0));
    v("clip_norm", clip_norm, config::at_least(0));
    v("ema", ema, config::in_range(0.0, 0.99999));
    v("early_stopping", early_stopping, config::at_least(0));
    v("checkpoint_every", checkpoint_every, config::at_least(0));
    v("holdout", holdout, config::in_range(0.01, 0.99));
    v("folds", folds, config::in_range(2, 100));
    v("balanced", balanced);
    v("channels_last", channels_last);
    v("sync_batchnorm", sync_batchnorm);
    v("grad_checkpointing", grad_checkpointing);
    v("amp", amp);
    v("cuda_graph", cuda_graph);
    v("focal_gamma", focal_gamma, config::in_range(0.0, 10.0));
    v("swa_start", swa_start, config::in_range(0, 100000));
    v("swa_lr", swa_lr, config::at_least(0));
    v("swa_bn", swa_bn);
  }
};

/// train.cuda_graph's conditions on the other options (train/cuda_graph.hpp), checked before any work.
inline void check_cuda_graph_options(const TrainOptions& t, const torch::Device& device) {
  if (!t.cuda_graph) return;
  if (t.optimizer != OptimizerKind::adamw) fail("/train/cuda_graph: needs train.optimizer \"adamw\"");
  if (t.accumulate != 1) fail("/train/cuda_graph: not with train.accumulate > 1 (a captured step is one batch)");
  if (t.grad_checkpointing) fail("/train/cuda_graph: not with train.grad_checkpointing");
  if (!device.is_cuda()) fail("/train/cuda_graph: needs a CUDA device (run.device is \"", device.str(), "\")");
}

/// The options with the peak learning rate of the run's global batch (batch_size x world x accumulate)
/// when train.lr_base_size is set: lr x (global / base), or x sqrt(global / base), as timm's train.py.
inline TrainOptions for_global_batch(TrainOptions t, int world) {
  if (t.lr_base_size > 0) {
    const double ratio = static_cast<double>(t.batch_size) * world * t.accumulate / static_cast<double>(t.lr_base_size);
    t.lr *= t.lr_base_scale == LrScale::sqrt ? std::sqrt(ratio) : ratio;
  }
  return t;
}

/// The learning rate by optimizer step (and, for plateau, by validation results).
class LrSchedule {
 public:
  LrSchedule(const TrainOptions& t, std::int64_t total_steps)
      : t_(t),
        total_(std::max<std::int64_t>(1, total_steps)),
        per_epoch_(std::max<std::int64_t>(1, total_steps / t.epochs)) {}

  double lr(std::int64_t step) const {
    const double s = static_cast<double>(step), n = static_cast<double>(total_);
    switch (t_.scheduler) {
      case SchedulerKind::constant:
        return t_.lr;
      case SchedulerKind::step:
        return t_.lr * std::pow(t_.gamma, static_cast<double>(step / per_epoch_ / t_.step_size));
      case SchedulerKind::plateau:
        return t_.lr * scale_;
      case SchedulerKind::onecycle: {  // torch.optim.lr_scheduler.OneCycleLR, cosine, div 25, final div 1e4
        const double peak = std::max(1.0, t_.warmup * n), lo = t_.lr / 25.0, end = lo / 1e4;
        auto cos_anneal = [](double a, double b, double f) {
          return b + (a - b) / 2.0 * (1.0 + std::cos(std::numbers::pi * f));
        };
        if (s < peak) return cos_anneal(lo, t_.lr, s / peak);
        return cos_anneal(t_.lr, end, std::min(1.0, (s - peak) / std::max(1.0, n - peak)));
      }
      case SchedulerKind::cosine:
      default: {
        const double warm = std::max(1.0, t_.warmup * n);
        if (s < warm) return t_.lr * (s + 1.0) / warm;
        return 0.5 * t_.lr * (1.0 + std::cos(std::numbers::pi * std::min(1.0, (s - warm) / std::max(1.0, n - warm))));
      }
    }
  }

  /// plateau: decay by gamma after `plateau_patience` epochs without a better AUC.
  void epoch_end(double auc) {
    if (auc > best_) {
      best_ = auc;
      bad_ = 0;
    } else if (++bad_ > t_.plateau_patience) {
      scale_ *= t_.gamma;
      bad_ = 0;
    }
  }
  config::json state() const { return {{"scale", scale_}, {"best", best_}, {"bad", bad_}}; }
  void restore(const config::json& j) {
    scale_ = j["scale"];
    best_ = j["best"];
    bad_ = j["bad"];
  }

 private:
  TrainOptions t_;
  std::int64_t total_, per_epoch_;
  double scale_ = 1.0, best_ = -1.0;
  int bad_ = 0;
};

}  // namespace cadence
