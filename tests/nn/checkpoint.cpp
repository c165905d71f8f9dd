// Activation checkpointing (nn/checkpoint.hpp, train.grad_checkpointing) against the plain backward:
// the same outputs, input gradients, parameter gradients and BatchNorm statistics, with random draws
// (dropout, drop_path) and autocast inside the segments; and the graph really drops the activations.
#include "cadence/nn/checkpoint.hpp"

#include <algorithm>
#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "cadence/nn/efficientnet_v2.hpp"
#include "cadence/nn/head.hpp"
#include "cadence/nn/resize.hpp"
#include "cadence/train/amp.hpp"
#include "support.hpp"

namespace {

std::map<std::string, torch::Tensor> grads_of(torch::nn::Module& m) {
  std::map<std::string, torch::Tensor> g;
  for (const auto& p : m.named_parameters())
    if (p.value().grad().defined()) g[p.key()] = p.value().grad().clone();
  return g;
}

std::map<std::string, torch::Tensor> buffers_of(torch::nn::Module& m) {
  std::map<std::string, torch::Tensor> b;
  for (const auto& p : m.named_buffers()) b[p.key()] = p.value().clone();
  return b;
}

/// The largest |a - b| over two name -> tensor maps with the same keys (checked).
double worst(const std::map<std::string, torch::Tensor>& a, const std::map<std::string, torch::Tensor>& b) {
  REQUIRE(a.size() == b.size());
  double w = 0;
  for (const auto& [k, t] : a) {
    REQUIRE(b.count(k) == 1);
    w = std::max(w, (t.to(torch::kFloat64) - b.at(k).to(torch::kFloat64)).abs().max().item<double>());
  }
  return w;
}

/// One training step's loss, gradients and buffers of `net` (a fresh copy of the same weights each time).
struct Step {
  double loss;
  std::map<std::string, torch::Tensor> grads, buffers;
};

template <class Net>
Step train_step(Net net, const torch::Tensor& x, const torch::Tensor& y, bool checkpointing,
                cadence::Amp amp = cadence::Amp::off) {
  cadence::set_grad_checkpointing(*net, checkpointing);
  net->train();
  torch::manual_seed(123);  // the same dropout / drop_path draws for both runs
  torch::Tensor loss;
  {
    cadence::AutocastGuard autocast(amp, torch::kCPU);
    loss = cadence::head_loss(cadence::Head::ce, net->forward(x).to(torch::kFloat32), y);
  }
  loss.backward();
  return {loss.item<double>(), grads_of(*net), buffers_of(*net)};
}

/// The checkpointed segments in `out`'s graph: those whose input is a convolution's output, and the others.
std::pair<std::size_t, std::size_t> checkpoint_segments(const torch::Tensor& out) {
  std::vector<torch::autograd::Node*> pending{out.grad_fn().get()};
  std::set<torch::autograd::Node*> seen;
  std::size_t after_conv = 0, other = 0;
  while (!pending.empty()) {
    auto* n = pending.back();
    pending.pop_back();
    if (n == nullptr || !seen.insert(n).second) continue;
    if (n->name().find("CheckpointFunction") != std::string::npos) {
      const auto& in = n->next_edges().at(0).function;
      ++(in != nullptr && in->name().find("Convolution") != std::string::npos ? after_conv : other);
    }
    for (const auto& e : n->next_edges()) pending.push_back(e.function.get());
  }
  return {after_conv, other};
}

}  // namespace

TEST_CASE(
    "checkpoint: a segment with BatchNorm and dropout gives the plain backward's gradients, statistics updated once") {
  torch::manual_seed(0);
  torch::nn::Conv2d conv(torch::nn::Conv2dOptions(3, 8, 3).padding(1));
  cadence::BatchNorm2d bn(8);
  auto segment = [&](const torch::Tensor& t) {
    return torch::dropout(torch::silu(bn->forward(conv->forward(t))), 0.3, true);
  };
  const auto x0 = torch::randn({4, 3, 16, 16});

  auto run = [&](bool ckpt) {
    conv->zero_grad();
    bn->zero_grad();
    bn->running_mean.zero_();
    bn->running_var.fill_(1);
    bn->num_batches_tracked.zero_();
    auto x = x0.clone().requires_grad_(true);
    torch::manual_seed(9);
    auto y = ckpt ? cadence::checkpoint(segment, x) : segment(x);
    torch::manual_seed(77);  // other draws between forward and backward must not change the recomputation's
    (void)torch::rand({10});
    (y * y).sum().backward();
    return std::make_tuple(y.detach(), x.grad().clone(), conv->weight.grad().clone(), bn->weight.grad().clone(),
                           bn->running_mean.clone(), bn->num_batches_tracked.item<std::int64_t>(), y);
  };
  const auto [y0, gx0, gw0, gb0, rm0, n0, graph0] = run(false);
  const auto [y1, gx1, gw1, gb1, rm1, n1, graph1] = run(true);
  CHECK(torch::equal(y0, y1));
  CHECK(torch::allclose(gx0, gx1, 1e-6, 1e-7));
  CHECK(torch::allclose(gw0, gw1, 1e-6, 1e-7));
  CHECK(torch::allclose(gb0, gb1, 1e-6, 1e-7));
  CHECK(torch::equal(rm0, rm1));  // the recomputation did not update the running mean a second time
  CHECK(n0 == 1);
  CHECK(n1 == 1);
  // the checkpointed output's graph holds one node whose inputs are x and the anchor: no conv/BN nodes
  // (and so none of their saved activations) hang off it, unlike the plain one
  REQUIRE(graph1.grad_fn() != nullptr);
  CHECK(graph1.grad_fn()->name().find("CheckpointFunction") != std::string::npos);
  CHECK(graph1.grad_fn()->next_edges().size() == 2);
  CHECK(graph0.grad_fn()->name().find("CheckpointFunction") == std::string::npos);

  // outside grad mode it is a plain call
  torch::NoGradGuard no_grad;
  bn->eval();
  torch::manual_seed(4);
  const auto a = cadence::checkpoint(segment, x0);
  torch::manual_seed(4);
  CHECK(torch::equal(a, segment(x0)));
}

TEST_CASE(
    "checkpoint: EfficientNetV2 with drop_path and the learned resizer train the same with train.grad_checkpointing") {
  cadence::EffNetV2Options o;
  o.width_multiplier = 0.25;
  o.depth_multiplier = 0.25;
  o.drop_path_rate = 0.2;  // random per-sample draws inside the checkpointed blocks
  o.drop_rate = 0.2;
  cadence::LearnedOptions r;
  r.size = r.test_size = {64, 64};
  r.filters = 4;
  auto copy = [&] {  // the same initial weights each time
    torch::manual_seed(1);
    return torch::nn::Sequential(cadence::LearnedResizer(r, 1),
                                 cadence::EfficientNetV2(cadence::efficientnetv2_s_arch(), o, 1, 2));
  };
  const auto x = torch::randn({4, 1, 96, 64});  // the batch: no gradient of its own, as in training
  const auto t = torch::tensor({0.f, 1.f, 1.f, 0.f});
  const auto y = torch::stack({1 - t, t}, 1);

  const auto plain = train_step(copy(), x, y, false);
  const auto ckpt = train_step(copy(), x, y, true);
  CHECK(ckpt.loss == doctest::Approx(plain.loss).epsilon(1e-6));
  CHECK(ckpt.grads.size() == plain.grads.size());
  CHECK(ckpt.grads.count("0.conv1.weight") ==
        1);  // inside the resizer's checkpointed segment, whose input needs no grad
  INFO("max |grad difference| = ", worst(plain.grads, ckpt.grads));
  CHECK(worst(plain.grads, ckpt.grads) < 1e-5);
  CHECK(worst(plain.buffers, ckpt.buffers) < 1e-6);  // BatchNorm statistics (num_batches_tracked too) as without

  // what is recomputed: the blocks of the stages not in the arch's checkpoint_keep_convs whole (a segment
  // whose input is the previous block's output); in the others what follows each conv whose output is kept
  // (a segment whose input is that conv's output: InvertedResidual two, EdgeResidual and ConvBnAct one);
  // plus the resizer's full-resolution layers (input: the batch, no gradient of its own)
  {
    auto net = copy();
    cadence::set_grad_checkpointing(*net, true);
    net->train();
    const auto out = net->forward(x);
    const auto [after_conv, other] = checkpoint_segments(out);
    auto effnet = net[1]->as<cadence::EfficientNetV2>();
    const auto keep = cadence::efficientnetv2_s_arch().checkpoint_keep_convs;
    REQUIRE(keep == std::vector<std::size_t>{1, 4, 5});  // an EdgeResidual stage and InvertedResidual ones
    std::size_t whole = 0, after_convs = 0;
    for (std::size_t s = 0; s < effnet->blocks->size(); ++s)
      for (const auto& block : *(*effnet->blocks)[s]->as<torch::nn::ModuleList>()) {
        const auto type = std::dynamic_pointer_cast<cadence::effnet::BlockImpl>(block)->type();
        if (std::find(keep.begin(), keep.end(), s) == keep.end())
          ++whole;
        else
          after_convs += type == "ir" ? 2 : 1;
      }
    REQUIRE(whole > 0);
    CHECK(after_conv == after_convs);

    auto bad = cadence::efficientnetv2_s_arch();  // a stage the architecture does not have: refused
    bad.checkpoint_keep_convs = {1, 6};
    CHECK_THROWS_WITH(cadence::EfficientNetV2(bad, o, 1, 2),
                      doctest::Contains("arch: checkpoint_keep_convs names stage 6 of 6"));
    CHECK(other == whole + 1);
  }

  // under autocast (bf16 on a CPU) the recomputation runs at the first forward's precision
  const auto plain16 = train_step(copy(), x, y, false, cadence::Amp::bf16);
  const auto ckpt16 = train_step(copy(), x, y, true, cadence::Amp::bf16);
  CHECK(ckpt16.loss == doctest::Approx(plain16.loss).epsilon(1e-6));
  INFO("bf16: max |grad difference| = ", worst(plain16.grads, ckpt16.grads));
  CHECK(worst(plain16.grads, ckpt16.grads) < 1e-4);
}
