#pragma once
// train.cuda_graph's pieces, checked on a device given by the caller: tests/cuda runs them on the GPU;
// with LibTorch 2.x the same functions run on a CPU too (PyTorch's fused AdamW and loss-scale kernels
// have CPU versions there), which is how they were first checked without a GPU.
#include <torch/torch.h>
// doctest after LibTorch: c10's logging defines a CHECK of its own
#include <doctest/doctest.h>

#include <cmath>
#include <limits>
#include <vector>

#include "cadence/nn/efficientnet_v2.hpp"
#include "cadence/nn/head.hpp"
#include "cadence/train/adamw.hpp"
#include "cadence/train/amp.hpp"
#include "cadence/train/cuda_graph.hpp"

namespace test {

/// EfficientNetV2-S at a quarter of its width and depth (1 channel in, 2 out), seeded, on `d`, training.
inline cadence::EfficientNetV2 small_effnet(const torch::Device& d) {
  torch::manual_seed(1);
  cadence::EffNetV2Options o;
  o.width_multiplier = 0.25;
  o.depth_multiplier = 0.25;
  cadence::EfficientNetV2 net(cadence::efficientnetv2_s_arch(), o, 1, 2);
  net->to(d);
  net->train();
  return net;
}

#if CADENCE_CUDA_GRAPHS
/// DeviceStep against the eager step fit() takes (GradScaler::unscale, clip_grad_norm_, ForeachAdamW,
/// GradScaler::step) on 40 parameter tensors over 8 steps with the loss scale on, one step's gradients
/// poisoned with an Inf: the same weights to float rounding, the same skipped step, the same scale and
/// step counts handed back. Returns the largest difference in the weights.
inline double device_step_against_eager(const torch::Device& d, double clip_norm) {
  const auto make = [&] {
    torch::manual_seed(5);
    std::vector<torch::Tensor> p;
    for (int i = 0; i < 40; ++i)
      p.push_back(torch::randn({i % 3 == 0 ? 4 * 3 * 9 : 37 + i}, torch::TensorOptions().device(d)).requires_grad_());
    return p;
  };
  auto a = make(), b = make();
  const auto options = torch::optim::AdamWOptions(1e-2).weight_decay(0.01);
  cadence::ForeachAdamW eager(a, options), graphable(b, options);
  cadence::GradScaler scaler_a(true, 1024.0, 3), scaler_b(true, 1024.0, 3);
  cadence::DeviceStep step(graphable, scaler_b, clip_norm);  // the scaler's growth interval, 3
  double worst = 0.0;
  for (int k = 0; k < 8; ++k) {
    torch::manual_seed(100 + k);
    for (std::size_t i = 0; i < a.size(); ++i) {
      auto g = torch::randn_like(a[i]) * scaler_a.scale();  // gradients of a scaled loss
      if (k == 4 && i == 7) g[0] = std::numeric_limits<float>::infinity();
      a[i].mutable_grad() = g.clone();
      b[i].mutable_grad() = g.clone();
    }
    const double lr = 1e-2 * (1.0 - 0.1 * k);  // a schedule: the device's learning rate follows it
    for (auto& group : eager.param_groups()) group.options().set_lr(lr);
    step.set_lr(lr);
    const bool finite = scaler_a.unscale(a);
    CHECK(finite == (k != 4));
    if (clip_norm > 0.0 && finite) torch::nn::utils::clip_grad_norm_(a, clip_norm);
    scaler_a.step(eager, finite);
    step.step();
    for (std::size_t i = 0; i < a.size(); ++i)
      worst = std::max(worst, (a[i] - b[i]).abs().max().template item<double>());
  }
  step.store(scaler_b);
  CHECK(scaler_b.scale() == scaler_a.scale());
  CHECK(scaler_b.good() == scaler_a.good());
  // 7 of the 8 steps taken, in both optimizers' states (a checkpoint of either resumes the other)
  for (auto* opt : {&eager, &graphable}) {
    CHECK(opt->state().size() == a.size());
    for (const auto& [key, state] : opt->state())
      CHECK(static_cast<const torch::optim::AdamWParamState&>(*state).step() == 7);
  }
  return worst;
}

/// GraphedTrainStep against the same DeviceStep taken eagerly on a twin network: a small EfficientNetV2
/// (no drop path, no dropout: neither side draws), one batch of 16 repeated and, last, 12 of its rows
/// (a batch of another shape: eager). Checks the losses step by step, that the graph was captured
/// and replayed where it should be, and that the graphed run learns the batch.
inline void graphed_step_against_eager(cadence::Amp amp) {
  const torch::Device d(torch::kCUDA);
  auto na = small_effnet(d), nb = small_effnet(d);
  const auto options = torch::optim::AdamWOptions(3e-3).weight_decay(0.01);
  cadence::ForeachAdamW oa(na->parameters(), options), ob(nb->parameters(), options);
  cadence::GradScaler sa(amp == cadence::Amp::fp16), sb(amp == cadence::Amp::fp16);
  const auto loss_of = [amp, d](cadence::EfficientNetV2& net, const torch::Tensor& x, const torch::Tensor& y) {
    cadence::AutocastGuard g(amp, d);
    return cadence::head_loss(cadence::Head::ce, net->forward(x).to(torch::kFloat32), y);
  };
  cadence::DeviceStep eager(oa, sa, 1.0);
  cadence::GraphedTrainStep graphed([&](const torch::Tensor& x, const torch::Tensor& y) { return loss_of(nb, x, y); },
                                    std::make_unique<cadence::DeviceStep>(ob, sb, 1.0), /*warmup=*/2);
  torch::manual_seed(7);
  const auto x = torch::randn({16, 1, 128, 128}, d);
  const auto t = (torch::arange(16, d) % 2).to(torch::kFloat32);
  const auto y = torch::stack({1 - t, t}, 1);
  std::vector<double> la, lb;
  for (int k = 0; k < 12; ++k) {
    const auto n = k == 11 ? 12 : 16;
    const auto xb = x.narrow(0, 0, n).clone(), yb = y.narrow(0, 0, n).clone();
    const double lr = 3e-3 * (1.0 - 0.05 * k);
    na->zero_grad();
    auto loss = loss_of(na, xb, yb);
    eager.scale_loss(loss).backward();
    eager.set_lr(lr);
    eager.step();
    la.push_back(loss.item<double>());
    lb.push_back(graphed(xb, yb, lr).item<double>());
  }
  CHECK(graphed.captured());
  CHECK(graphed.replays() == 9);      // batches 3 to 11: captured at the third, replayed from there
  CHECK(graphed.eager_steps() == 3);  // two warm-up steps and the last batch of 12
  double worst = 0.0;
  for (std::size_t k = 0; k < la.size(); ++k) worst = std::max(worst, std::abs(la[k] - lb[k]) / std::abs(la[k]));
  MESSAGE("graphed against eager (" << (amp == cadence::Amp::fp16 ? "fp16" : "fp32") << "): losses " << la.front()
                                    << " -> " << lb.back() << ", largest relative difference " << worst);
  CHECK(worst <= 2e-2);
  CHECK(lb[10] < 0.7 * lb[0]);  // it learns the batch
  double wa = 0.0, wd = 0.0;
  const auto pa = na->parameters(), pb = nb->parameters();
  for (std::size_t i = 0; i < pa.size(); ++i) {
    wa = std::max(wa, pa[i].abs().max().item<double>());
    wd = std::max(wd, (pa[i] - pb[i]).abs().max().item<double>());
  }
  MESSAGE("weights: largest difference " << wd << " of largest magnitude " << wa);
  CHECK(wd <= 1e-2 * wa);
  // BatchNorm's running statistics (what validation uses) are updated by replays as by eager steps
  double norm_a = 0.0, norm_d = 0.0;
  const auto qa = na->buffers(), qb = nb->buffers();
  REQUIRE(qa.size() == qb.size());
  for (std::size_t i = 0; i < qa.size(); ++i) {
    if (qa[i].scalar_type() == torch::kLong) {  // num_batches_tracked: every step counted, replays too
      CHECK(qa[i].item<std::int64_t>() == 12);
      CHECK(qb[i].item<std::int64_t>() == 12);
      continue;
    }
    norm_a += qa[i].to(torch::kFloat64).pow(2).sum().item<double>();
    norm_d += (qa[i] - qb[i]).to(torch::kFloat64).pow(2).sum().item<double>();
  }
  const double relative = std::sqrt(norm_d / norm_a);
  MESSAGE("BatchNorm running statistics: relative difference (2-norm over all) " << relative);
  CHECK(relative <= 1e-2);
}
#endif

}  // namespace test
