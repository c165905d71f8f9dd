#pragma once
// AdamW with its step done over all parameters at once (LibTorch's `_foreach_` operations), as PyTorch's
// Python AdamW does by default on a GPU (`foreach=True`). LibTorch's C++ AdamW steps one parameter at a
// time: about ten kernels per parameter tensor, so ~4,500 launches per step for EfficientNetV2-S, which on
// a GPU is time the device waits for the host. The arithmetic is LibTorch's AdamW's, operation for
// operation (decoupled weight decay, then the moments, bias corrections, `addcdiv`), on LibTorch's own
// state (`AdamWParamState`), so checkpoints written by either load into the other; a test holds the two
// equal to the bit on the CPU. amsgrad falls back to LibTorch's step.
#include <torch/optim/adamw.h>

#include <cmath>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <type_traits>
#include <vector>

namespace cadence {

/// The key LibTorch's optimizers file a parameter's state under: the TensorImpl's address as a string
/// (c10::guts::to_string, LibTorch 1.x and 2.x), or the pointer itself, should a version change it.
template <class Key>
Key optimizer_state_key(const torch::Tensor& p) {
  if constexpr (std::is_same_v<Key, std::string>) {
    std::ostringstream s;
    s << p.unsafeGetTensorImpl();
    return s.str();
  } else {
    return static_cast<Key>(p.unsafeGetTensorImpl());
  }
}

/// A parameter's AdamW state in an optimizer's state map, made as LibTorch's AdamW makes it (step 0,
/// zero moments in the parameter's layout) when the parameter has none yet.
template <class StateMap>
torch::optim::AdamWParamState& adamw_state(StateMap& state, const torch::Tensor& p) {
  auto& slot = state[optimizer_state_key<typename StateMap::key_type>(p)];
  if (!slot) {
    auto s = std::make_unique<torch::optim::AdamWParamState>();
    s->step(0);
    s->exp_avg(torch::zeros_like(p, at::MemoryFormat::Preserve));
    s->exp_avg_sq(torch::zeros_like(p, at::MemoryFormat::Preserve));
    slot = std::move(s);
  }
  return static_cast<torch::optim::AdamWParamState&>(*slot);
}

class ForeachAdamW : public torch::optim::AdamW {
 public:
  using torch::optim::AdamW::AdamW;

  torch::Tensor step(LossClosure closure = nullptr) override {
    for (const auto& group : param_groups_)  // not batched: LibTorch's own step
      if (static_cast<const torch::optim::AdamWOptions&>(group.options()).amsgrad())
        return torch::optim::AdamW::step(std::move(closure));
    torch::NoGradGuard no_grad;
    torch::Tensor loss;
    if (closure) {
      at::AutoGradMode grad(true);
      loss = closure();
    }
    for (auto& group : param_groups_) {
      const auto& o = static_cast<const torch::optim::AdamWOptions&>(group.options());
      // parameters batched by their step count (the same for all but those that missed steps without a
      // gradient), since the bias corrections depend on it
      std::map<std::int64_t, Bucket> buckets;
      for (auto& p : group.params()) {
        if (!p.grad().defined()) continue;
        TORCH_CHECK(!p.grad().is_sparse(), "ForeachAdamW does not support sparse gradients");
        auto& s = adamw_state(state_, p);
        s.step(s.step() + 1);
        auto& b = buckets[s.step()];
        b.params.push_back(p);
        b.grads.push_back(p.grad());
        b.exp_avg.push_back(s.exp_avg());
        b.exp_avg_sq.push_back(s.exp_avg_sq());
      }
      const auto [beta1, beta2] = o.betas();
      for (auto& [step, b] : buckets) {
        const double bias_correction1 = 1 - std::pow(beta1, static_cast<double>(step));
        const double bias_correction2 = 1 - std::pow(beta2, static_cast<double>(step));
        if (o.weight_decay() != 0) at::_foreach_mul_(b.params, 1 - o.lr() * o.weight_decay());
        at::_foreach_mul_(b.exp_avg, beta1);
        at::_foreach_add_(b.exp_avg, b.grads, 1 - beta1);
        at::_foreach_mul_(b.exp_avg_sq, beta2);
        at::_foreach_addcmul_(b.exp_avg_sq, b.grads, b.grads, 1 - beta2);
        auto denom = at::_foreach_sqrt(b.exp_avg_sq);
        at::_foreach_div_(denom, std::sqrt(bias_correction2));
        at::_foreach_add_(denom, o.eps());
        at::_foreach_addcdiv_(b.params, b.exp_avg, denom, -o.lr() / bias_correction1);
      }
    }
    return loss;
  }

 private:
  struct Bucket {
    std::vector<torch::Tensor> params, grads, exp_avg, exp_avg_sq;
  };
};

}  // namespace cadence
