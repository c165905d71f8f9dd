#pragma once
// The training loop's pieces: one epoch of training and batched prediction, over a Load stage's
// loader. Recipes (hold-out, K-fold) are built from these.
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <numbers>
#include <string>
#include <thread>
#include <vector>

#include <torch/nn.h>
#include <torch/optim.h>
#include <torch/cuda.h>
#include <torch/serialize.h>

#include "cadence/config/options.hpp"
#include "cadence/core/atomic_file.hpp"
#include "cadence/core/progress.hpp"
#include "cadence/data/load.hpp"
#include "cadence/nn/head.hpp"

namespace cadence {

struct RunOptions {
  std::filesystem::path dir = "runs/demo";  // every output of the run goes here
  std::uint64_t seed = 42;                  // drives splits, order, init
  std::string device = "cpu";               // "cpu", "cuda", "cuda:1", ...
  int threads = 0;                          // intra-op threads; 0 = all cores (PyTorch's default is 1 on 2 vCPUs)
  bool quiet = false;                       // no progress bars

  template <class V> void fields(V& v) {
    v("dir", dir);
    v("seed", seed);
    v("device", device, config::non_empty());
    v("threads", threads, config::at_least(0));
    v("quiet", quiet);
  }

  torch::Device torch_device() const {
    try {
      return torch::Device(device);
    } catch (const std::exception&) {
      fail("/run/device: `", device, "` is not a device (use \"cpu\", \"cuda\" or \"cuda:N\")");
    }
  }
  /// Sets torch's intra-op threads and seeds its generator; returns the device.
  torch::Device apply() const {
    const int n = threads > 0 ? threads : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
    torch::set_num_threads(n);
    torch::manual_seed(seed);
    const auto d = torch_device();
    if (d.is_cuda() && !torch::cuda::is_available()) fail("/run/device: `", device, "` requested but CUDA is not available");
    return d;
  }
};

struct TrainOptions {
  int epochs = 4;                 // passes over the training split
  int batch_size = 32;
  int eval_batch_size = 64;
  double lr = 2e-3;               // peak learning rate (AdamW), cosine-annealed per step after warmup
  double warmup = 0.05;           // fraction of steps with linear warmup
  double weight_decay = 1e-2;
  double holdout = 0.2;           // hold-out fraction (stratified)
  bool balanced = false;          // class-balanced sampling (with replacement) instead of shuffling
  bool channels_last = false;     // NHWC weights and inputs (faster convolutions on some CPUs and GPUs)

  template <class V> void fields(V& v) {
    v("epochs", epochs, config::at_least(1));
    v("batch_size", batch_size, config::at_least(1));
    v("eval_batch_size", eval_batch_size, config::at_least(1));
    v("lr", lr, config::above(0));
    v("warmup", warmup, config::in_range(0.0, 1.0));
    v("weight_decay", weight_decay, config::at_least(0));
    v("holdout", holdout, config::in_range(0.01, 0.99));
    v("balanced", balanced);
    v("channels_last", channels_last);
  }

  /// Linear warmup then cosine to zero, by step.
  double lr_at(std::int64_t step, std::int64_t total) const {
    const double warm = std::max(1.0, warmup * static_cast<double>(total));
    if (static_cast<double>(step) < warm) return lr * static_cast<double>(step + 1) / warm;
    const double t = (static_cast<double>(step) - warm) / std::max(1.0, static_cast<double>(total) - warm);
    return 0.5 * lr * (1.0 + std::cos(std::numbers::pi * std::min(1.0, t)));
  }
};

inline void set_lr(torch::optim::Optimizer& opt, double lr) {
  for (auto& g : opt.param_groups()) static_cast<torch::optim::AdamWOptions&>(g.options()).lr(lr);
}

/// Saves a module's parameters and buffers atomically.
template <class Net>
void save_module(const Net& net, const std::filesystem::path& path) {
  write_atomically(path, [&](const std::filesystem::path& tmp) { torch::save(net, tmp.string()); });
}

}  // namespace cadence
