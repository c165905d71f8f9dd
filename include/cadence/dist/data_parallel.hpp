#pragma once
// Data parallelism over a dist::Group, the way PyTorch's DistributedDataParallel does it:
//
//   broadcast_module()  every rank starts from rank 0's parameters and buffers
//   GradReducer         gradients averaged over the ranks in buckets (about 25 MB, in reverse
//                       parameter order, the order backward produces them), each bucket's all-reduce
//                       started from a gradient hook as soon as its last gradient is ready, so the
//                       communication overlaps the rest of the backward pass; buckets start in the
//                       same order on every rank. With gradient accumulation only the window's last
//                       backward reduces (DDP's no_sync()), and it reduces the accumulated gradient.
//   SyncBatchNorm       (train.sync_batchnorm) every cadence::BatchNorm2d normalises training batches
//                       with the statistics of the global batch: mean and variance combined over the
//                       ranks in float64, and the two sums of the backward pass all-reduced, as
//                       torch.nn.SyncBatchNorm computes them. Off: each rank's BN sees its own batch.
#include <algorithm>
#include <cstdint>
#include <mutex>
#include <utility>
#include <vector>

#include <torch/autograd.h>
#include <torch/nn/module.h>

#include "cadence/dist/group.hpp"
#include "cadence/nn/batch_norm.hpp"

namespace cadence::dist {

/// Rank 0's parameters and buffers on every rank.
inline void broadcast_module(Group& g, torch::nn::Module& m) {
  torch::NoGradGuard no_grad;
  for (auto& p : m.parameters()) g.broadcast(p, 0, "parameter broadcast");
  for (auto& b : m.buffers()) g.broadcast(b, 0, "buffer broadcast");
}

class GradReducer {
 public:
  GradReducer(Group& g, std::vector<torch::Tensor> params, std::int64_t bucket_bytes = 25 << 20)
      : g_(g), params_(std::move(params)) {
    // buckets in reverse parameter order (the order a backward pass produces gradients)
    std::int64_t bytes = bucket_bytes;
    slot_.resize(params_.size(), {0, 0});
    for (std::size_t k = params_.size(); k-- > 0;) {
      const auto& p = params_[k];
      if (!p.requires_grad()) continue;
      const std::int64_t size = p.numel() * static_cast<std::int64_t>(p.element_size());
      if (buckets_.empty() || bytes + size > bucket_bytes) {
        buckets_.emplace_back();
        bytes = 0;
      }
      auto& b = buckets_.back();
      slot_[k] = {buckets_.size() - 1, b.members.size()};
      b.members.push_back(k);
      b.offsets.push_back(b.numel);
      b.numel += p.numel();
      bytes += size;
    }
    for (auto& b : buckets_) {
      const auto& first = params_[b.members.front()];
      b.flat = torch::zeros({b.numel}, first.options().device(g_.device()).requires_grad(false));
      b.ready.assign(b.members.size(), false);
      b.pending = b.members.size();
    }
    for (auto& b : buckets_)
      for (auto k : b.members)
        hooks_.emplace_back(k, params_[k].register_hook([this, k](torch::Tensor grad) { on_grad(k, grad); }));
  }
  ~GradReducer() {
    for (auto& [k, h] : hooks_) params_[k].remove_hook(h);
  }
  GradReducer(const GradReducer&) = delete;
  GradReducer& operator=(const GradReducer&) = delete;

  /// The next backward pass reduces (the last of an accumulation window).
  void arm() { armed_ = true; }

  /// After that backward pass: starts the buckets still waiting (parameters the pass did not reach),
  /// waits for all, and leaves each parameter's .grad the mean over the ranks.
  void finish() {
    if (!armed_) return;
    {
      std::lock_guard<std::mutex> lock(mu_);
      for (auto& b : buckets_)
        for (std::size_t i = 0; i < b.members.size(); ++i)
          if (!b.ready[i]) fill(b, i, torch::Tensor());
      launch_ready();
    }
    torch::NoGradGuard no_grad;
    const double inv = 1.0 / static_cast<double>(g_.size());
    for (auto& b : buckets_) {
      g_.wait(b.work);
      b.flat.mul_(inv);
      for (std::size_t i = 0; i < b.members.size(); ++i) {
        auto& p = params_[b.members[i]];
        auto view = b.flat.narrow(0, b.offsets[i], p.numel()).view(p.sizes());
        if (p.grad().defined())
          p.mutable_grad().copy_(view);
        else
          p.mutable_grad() = view.to(p.device()).clone();
      }
      b.ready.assign(b.members.size(), false);
      b.pending = b.members.size();
      b.work = {};
    }
    next_ = 0;
    armed_ = false;
  }

 private:
  struct Bucket {
    std::vector<std::size_t> members;
    std::vector<std::int64_t> offsets;
    std::int64_t numel = 0;
    torch::Tensor flat;
    std::vector<bool> ready;
    std::size_t pending = 0;
    WorkHandle work;
  };

  void on_grad(std::size_t k, const torch::Tensor& grad) {
    if (!armed_) return;
    std::lock_guard<std::mutex> lock(mu_);
    auto [bi, i] = slot_[k];
    auto& b = buckets_[bi];
    if (b.ready[i]) return;
    fill(b, i, grad);
    launch_ready();
  }

  /// The bucket's slice for member i: the gradient this pass adds to what .grad holds already
  /// (earlier micro-batches of the window).
  void fill(Bucket& b, std::size_t i, const torch::Tensor& grad) {
    torch::NoGradGuard no_grad;
    const auto& p = params_[b.members[i]];
    auto slice = b.flat.narrow(0, b.offsets[i], p.numel());
    const auto& held = p.grad();
    if (grad.defined() && held.defined())
      slice.copy_((held + grad).reshape(-1));
    else if (grad.defined())
      slice.copy_(grad.reshape(-1));
    else if (held.defined())
      slice.copy_(held.reshape(-1));
    else
      slice.zero_();
    b.ready[i] = true;
    --b.pending;
  }

  /// Starts complete buckets in order: bucket n only after 0 .. n-1, the same sequence on every rank.
  void launch_ready() {
    while (next_ < buckets_.size() && buckets_[next_].pending == 0) {
      buckets_[next_].work = g_.all_reduce_async(buckets_[next_].flat);
      ++next_;
    }
  }

  Group& g_;
  std::vector<torch::Tensor> params_;
  std::vector<Bucket> buckets_;
  std::vector<std::pair<std::size_t, std::size_t>> slot_;  // parameter -> (bucket, member)
  std::vector<std::pair<std::size_t, unsigned>> hooks_;
  std::mutex mu_;
  std::size_t next_ = 0;
  bool armed_ = false;
};

namespace detail {

/// torch.nn.SyncBatchNorm's arithmetic for one training batch norm (per channel c over N x H x W).
struct SyncBatchNormFn : torch::autograd::Function<SyncBatchNormFn> {
  static torch::Tensor forward(torch::autograd::AutogradContext* ctx, torch::Tensor x, torch::Tensor weight,
                               torch::Tensor bias, torch::Tensor running_mean, torch::Tensor running_var,
                               double momentum, double eps, std::int64_t group) {
    auto& g = *reinterpret_cast<Group*>(group);
    const std::int64_t C = x.size(1);
    const std::vector<std::int64_t> dims{0, 2, 3};
    const double n_local = static_cast<double>(x.numel() / C);
    // per rank: count, count * mean, count * (var + mean^2); combined in float64
    auto [var_l, mean_l] = torch::var_mean(x, dims, /*unbiased=*/false);
    auto m64 = mean_l.to(torch::kFloat64), v64 = var_l.to(torch::kFloat64);
    auto stats = torch::cat({torch::full({1}, n_local, m64.options()), m64 * n_local, (v64 + m64 * m64) * n_local});
    g.all_reduce(stats, "SyncBatchNorm statistics");
    const double n = stats[0].item<double>();
    auto mean = stats.narrow(0, 1, C) / n;
    auto var = (stats.narrow(0, 1 + C, C) / n - mean * mean).clamp_min(0.0);
    auto invstd = (var + eps).rsqrt();
    {
      torch::NoGradGuard no_grad;
      if (running_mean.defined()) running_mean.mul_(1.0 - momentum).add_(mean.to(running_mean.dtype()), momentum);
      if (running_var.defined())
        running_var.mul_(1.0 - momentum).add_((var * (n / std::max(1.0, n - 1.0))).to(running_var.dtype()), momentum);
    }
    auto mean_f = mean.to(x.scalar_type()), invstd_f = invstd.to(x.scalar_type());
    ctx->save_for_backward({x, weight, mean_f, invstd_f});
    ctx->saved_data["count"] = n;  // elements per channel over all ranks
    ctx->saved_data["group"] = group;
    auto scale = invstd_f * weight;
    return (x - mean_f.view({1, -1, 1, 1})) * scale.view({1, -1, 1, 1}) + bias.view({1, -1, 1, 1});
  }

  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grad) {
    auto saved = ctx->get_saved_variables();
    const auto& x = saved[0];
    const auto& weight = saved[1];
    const auto& mean = saved[2];
    const auto& invstd = saved[3];
    auto& g = *reinterpret_cast<Group*>(ctx->saved_data["group"].toInt());
    const double n = ctx->saved_data["count"].toDouble();
    const std::int64_t C = x.size(1);
    const std::vector<std::int64_t> dims{0, 2, 3};
    const auto& dy = grad[0];
    auto xmu = x - mean.view({1, -1, 1, 1});
    auto sum_dy = dy.sum(dims), sum_dy_xmu = (dy * xmu).sum(dims);
    auto grad_weight = sum_dy_xmu * invstd, grad_bias = sum_dy;  // this rank's; the reducer averages them
    auto sums = torch::cat({sum_dy, sum_dy_xmu}).to(torch::kFloat64);
    g.all_reduce(sums, "SyncBatchNorm gradients");
    auto mean_dy = (sums.narrow(0, 0, C) / n).to(x.scalar_type()).view({1, -1, 1, 1});
    auto mean_dy_xmu = (sums.narrow(0, C, C) / n).to(x.scalar_type()).view({1, -1, 1, 1});
    auto iv = invstd.view({1, -1, 1, 1});
    auto dx = (dy - mean_dy - xmu * iv * iv * mean_dy_xmu) * (iv * weight.view({1, -1, 1, 1}));
    return {dx,
            grad_weight,
            grad_bias,
            torch::Tensor(),
            torch::Tensor(),
            torch::Tensor(),
            torch::Tensor(),
            torch::Tensor()};
  }
};

}  // namespace detail

/// While alive, every cadence::BatchNorm2d in training mode on this thread normalises with the
/// statistics of all ranks' batches.
class SyncBatchNorm {
 public:
  explicit SyncBatchNorm(Group& g)
      : forward_([&g](BatchNorm2dImpl& bn, const torch::Tensor& x) {
          const auto& o = bn.options;
          if (!o.affine() || !o.track_running_stats() || !o.momentum().has_value()) return bn.plain_forward(x);
          if (bn.num_batches_tracked.defined()) {
            torch::NoGradGuard no_grad;
            bn.num_batches_tracked.add_(1);
          }
          return detail::SyncBatchNormFn::apply(x, bn.weight, bn.bias, bn.running_mean, bn.running_var, *o.momentum(),
                                                o.eps(),
                                                static_cast<std::int64_t>(reinterpret_cast<std::intptr_t>(&g)));
        }),
        prev_(batch_norm_forward) {
    batch_norm_forward = &forward_;
  }
  ~SyncBatchNorm() { batch_norm_forward = prev_; }
  SyncBatchNorm(const SyncBatchNorm&) = delete;
  SyncBatchNorm& operator=(const SyncBatchNorm&) = delete;

 private:
  BatchNormForward forward_;
  const BatchNormForward* prev_;
};

}  // namespace cadence::dist
