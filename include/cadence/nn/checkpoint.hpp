#pragma once
// Activation checkpointing, as PyTorch's torch.utils.checkpoint (which LibTorch's C++ API lacks) and
// timm's set_grad_checkpointing: a segment of the network runs forward without keeping its activations;
// the backward pass runs it again — with the first pass's random draws (CPU and device generators) and
// autocast settings — and back-propagates through the recomputed graph. Memory for speed: the segment's
// forward runs twice. train.grad_checkpointing turns it on for every module that implements
// GradCheckpointing (EfficientNetV2: each block, or what follows each conv in the stages its architecture
// names; the learned resizer: its full-resolution layers).
//
// One difference from PyTorch's: BatchNorm's running statistics are updated once, not twice (the
// recomputation leaves them alone; cadence::BatchNorm2d reads `recomputing_forward`), so a checkpointed
// run ends with the same weights and statistics as one without.
#include <ATen/CPUGeneratorImpl.h>
#include <ATen/Context.h>
#include <ATen/core/ivalue.h>

#include <functional>
#include <mutex>
#include <utility>

#include <torch/autograd.h>
#include <torch/nn/module.h>

#include "cadence/nn/batch_norm.hpp"
#include "cadence/train/amp.hpp"

namespace cadence {

/// A module whose forward can checkpoint parts of itself in training.
class GradCheckpointing {
 public:
  virtual ~GradCheckpointing() = default;
  virtual void set_grad_checkpointing(bool on) = 0;
};

/// Turns checkpointing on (or off) in every module of `net` that implements GradCheckpointing.
inline void set_grad_checkpointing(torch::nn::Module& net, bool on) {
  for (const auto& m : net.modules(/*include_self=*/true))
    if (auto* c = dynamic_cast<GradCheckpointing*>(m.get())) c->set_grad_checkpointing(on);
}

using Segment = std::function<torch::Tensor(const torch::Tensor&)>;

namespace detail {

/// What the recomputation needs: the segment, and the state the first forward ran in.
struct CheckpointState : torch::CustomClassHolder {
  Segment segment;
  bool input_grad = false;
  torch::Tensor cpu_rng, device_rng;  // generator states before the first forward
  c10::Device device{c10::kCPU};
  Amp amp = Amp::off;
};

inline torch::Tensor rng_state(at::Generator g) {
  std::lock_guard<std::mutex> lock(g.mutex());
  return g.get_state();
}
inline void set_rng_state(at::Generator g, const torch::Tensor& s) {
  std::lock_guard<std::mutex> lock(g.mutex());
  g.set_state(s);
}

/// The generators' states set for the scope, the current ones restored on exit (torch.random.fork_rng).
class ForkRng {
 public:
  ForkRng(const CheckpointState& s) : device_(s.device) {
    cpu_ = rng_state(at::detail::getDefaultCPUGenerator());
    set_rng_state(at::detail::getDefaultCPUGenerator(), s.cpu_rng);
    if (s.device_rng.defined()) {
      dev_ = rng_state(at::globalContext().defaultGenerator(device_));
      set_rng_state(at::globalContext().defaultGenerator(device_), s.device_rng);
    }
  }
  ~ForkRng() {
    set_rng_state(at::detail::getDefaultCPUGenerator(), cpu_);
    if (dev_.defined()) set_rng_state(at::globalContext().defaultGenerator(device_), dev_);
  }
  ForkRng(const ForkRng&) = delete;
  ForkRng& operator=(const ForkRng&) = delete;

 private:
  c10::Device device_;
  torch::Tensor cpu_, dev_;
};

class Recomputing {
 public:
  Recomputing() : was_(recomputing_forward) { recomputing_forward = true; }
  ~Recomputing() { recomputing_forward = was_; }
  Recomputing(const Recomputing&) = delete;
  Recomputing& operator=(const Recomputing&) = delete;

 private:
  bool was_;
};

class CheckpointFunction : public torch::autograd::Function<CheckpointFunction> {
 public:
  // `anchor` is an empty tensor that requires grad: the output then does even when x does not (the
  // resizer's input is the batch), so that the backward pass reaches the segment's parameters.
  static torch::Tensor forward(torch::autograd::AutogradContext* ctx, const torch::Tensor& x,
                               const torch::Tensor& anchor, c10::intrusive_ptr<CheckpointState> state) {
    (void)anchor;
    ctx->save_for_backward({x});
    auto y = state->segment(x);  // grad mode is off in here: no activations are kept
    ctx->saved_data["state"] = c10::IValue::make_capsule(std::move(state));
    return y;
  }

  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grads) {
    auto s = c10::static_intrusive_pointer_cast<CheckpointState>(ctx->saved_data["state"].toCapsule());
    auto x = ctx->get_saved_variables()[0].detach().requires_grad_(s->input_grad);
    torch::Tensor y;
    {
      ForkRng same_draws(*s);
      AutocastGuard same_precision(s->amp, s->device);
      Recomputing once;  // BatchNorm's running statistics were updated by the first forward
      torch::AutoGradMode grad(true);
      y = s->segment(x);
    }
    torch::autograd::backward({y}, {grads[0]});
    return {s->input_grad ? x.grad() : torch::Tensor(), torch::Tensor(), torch::Tensor()};
  }
};

inline Amp autocast_in_effect(const c10::Device& d) {
  if (!AutocastGuard::enabled(d.type())) return Amp::off;
  return AutocastGuard::get_dtype(d.type()) == at::kBFloat16 ? Amp::bf16 : Amp::fp16;
}

}  // namespace detail

/// segment(x) without keeping the segment's activations: recomputed in the backward pass. Outside
/// grad mode (evaluation, no_grad) it is a plain call. `segment` must depend only on x and the
/// parameters of modules it calls.
inline torch::Tensor checkpoint(Segment segment, const torch::Tensor& x) {
  if (!torch::GradMode::is_enabled()) return segment(x);
  auto s = c10::make_intrusive<detail::CheckpointState>();
  s->segment = std::move(segment);
  s->input_grad = x.requires_grad();
  s->device = x.device();
  s->cpu_rng = detail::rng_state(at::detail::getDefaultCPUGenerator());
  if (!x.is_cpu()) s->device_rng = detail::rng_state(at::globalContext().defaultGenerator(x.device()));
  s->amp = detail::autocast_in_effect(x.device());
  static const auto anchor = torch::empty({0}, torch::requires_grad());
  return detail::CheckpointFunction::apply(x, anchor, std::move(s));
}

}  // namespace cadence
