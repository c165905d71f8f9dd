#pragma once
// Mixed precision: autocast around the forward pass (bf16 on CPUs and GPUs, fp16 on CUDA) and, for
// fp16, dynamic loss scaling (LibTorch has no GradScaler, so this is PyTorch's algorithm): the loss is
// multiplied by `scale` before backward; gradients are unscaled before clipping and stepping; a step
// whose gradients hold Inf/NaN is skipped and the scale halved; after `growth_interval` good steps
// the scale doubles.
#include <ATen/autocast_mode.h>

#include <array>
#include <cmath>
#include <string_view>
#include <utility>
#include <vector>

#include <torch/optim.h>
#include <torch/types.h>
#include <torch/version.h>

#include <nlohmann/json.hpp>

namespace cadence {

enum class Amp { off, bf16, fp16 };
inline constexpr std::array<std::pair<Amp, std::string_view>, 3> enum_names(Amp) {
  return {{{Amp::off, "off"}, {Amp::bf16, "bf16"}, {Amp::fp16, "fp16"}}};
}

/// Autocast on for the scope (for the device's type), restored on exit. LibTorch >= 2.4 has one API
/// keyed by device type (CPU, CUDA, XPU, ...); 1.13 has a CPU and a GPU (CUDA) variant of each call.
class AutocastGuard {
 public:
  AutocastGuard(Amp amp, const torch::Device& device) : type_(device.type()), active_(amp != Amp::off) {
    if (!active_) return;
    const auto dtype = amp == Amp::bf16 ? at::kBFloat16 : at::kHalf;
    previous_ = enabled(type_);
    previous_dtype_ = get_dtype(type_);
    set_dtype(type_, dtype);
    set_enabled(type_, true);
    at::autocast::increment_nesting();
  }
  ~AutocastGuard() {
    if (!active_) return;
    if (at::autocast::decrement_nesting() == 0) at::autocast::clear_cache();
    set_enabled(type_, previous_);
    set_dtype(type_, previous_dtype_);
  }
  AutocastGuard(const AutocastGuard&) = delete;
  AutocastGuard& operator=(const AutocastGuard&) = delete;

  // autocast's thread-local state for a device type, across LibTorch versions
#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 4)
  static bool enabled(at::DeviceType t) { return at::autocast::is_autocast_enabled(t); }
  static void set_enabled(at::DeviceType t, bool on) { at::autocast::set_autocast_enabled(t, on); }
  static at::ScalarType get_dtype(at::DeviceType t) { return at::autocast::get_autocast_dtype(t); }
  static void set_dtype(at::DeviceType t, at::ScalarType d) { at::autocast::set_autocast_dtype(t, d); }
#else
  static bool enabled(at::DeviceType t) {
    return t == at::kCUDA ? at::autocast::is_enabled() : at::autocast::is_cpu_enabled();
  }
  static void set_enabled(at::DeviceType t, bool on) {
    if (t == at::kCUDA)
      at::autocast::set_enabled(on);
    else
      at::autocast::set_cpu_enabled(on);
  }
  static at::ScalarType get_dtype(at::DeviceType t) {
    return t == at::kCUDA ? at::autocast::get_autocast_gpu_dtype() : at::autocast::get_autocast_cpu_dtype();
  }
  static void set_dtype(at::DeviceType t, at::ScalarType d) {
    if (t == at::kCUDA)
      at::autocast::set_autocast_gpu_dtype(d);
    else
      at::autocast::set_autocast_cpu_dtype(d);
  }
#endif

 private:
  at::DeviceType type_;
  bool active_, previous_ = false;
  at::ScalarType previous_dtype_ = at::kBFloat16;
};

/// Autocast off for the scope, restored on exit: a pipeline's augmentation inside an autocast
/// prediction (TTA rounds) computes in fp32, as in training, and writes into the fp32 batch.
class AutocastPause {
 public:
  explicit AutocastPause(const torch::Device& device) : type_(device.type()), was_(AutocastGuard::enabled(type_)) {
    if (was_) AutocastGuard::set_enabled(type_, false);
  }
  ~AutocastPause() {
    if (was_) AutocastGuard::set_enabled(type_, true);
  }
  AutocastPause(const AutocastPause&) = delete;
  AutocastPause& operator=(const AutocastPause&) = delete;

 private:
  at::DeviceType type_;
  bool was_;
};

class GradScaler {
 public:
  explicit GradScaler(bool enabled, double init_scale = 65536.0, int growth_interval = 2000)
      : enabled_(enabled), scale_(init_scale), interval_(growth_interval) {}

  bool enabled() const { return enabled_; }
  double scale() const { return enabled_ ? scale_ : 1.0; }
  int good() const { return good_; }  // finite steps since the scale last changed
  int growth_interval() const { return interval_; }
  torch::Tensor scale_loss(const torch::Tensor& loss) const { return enabled_ ? loss * scale_ : loss; }

  /// Divides the gradients by the scale; true when they are all finite. One read of the device per call:
  /// on CUDA one fused kernel over all gradients (PyTorch's GradScaler's), elsewhere one flag per gradient
  /// reduced on the device. (Reading a flag per gradient, as this did, was a device synchronisation per
  /// parameter tensor: ~450 a step for EfficientNetV2-S on a GPU.)
  bool unscale(const std::vector<torch::Tensor>& params) const {
    if (!enabled_) return true;
    torch::NoGradGuard g;
    std::vector<torch::Tensor> grads;
    for (const auto& p : params)
      if (p.grad().defined()) grads.push_back(p.grad());
    if (grads.empty()) return true;
    const auto device = grads.front().device();
    if (device.is_cuda()) {
      const auto opts = torch::TensorOptions().dtype(torch::kFloat32).device(device);
      auto found_inf = torch::zeros({1}, opts);
      // the scale is a power of two (2^16, halved or doubled), so multiplying by its inverse is dividing by it
      at::_amp_foreach_non_finite_check_and_unscale_(grads, found_inf, torch::full({1}, 1.0 / scale_, opts));
      return found_inf.item<float>() == 0.0f;
    }
    std::vector<torch::Tensor> finite;
    finite.reserve(grads.size());
    for (auto& grad : grads) {
      grad.div_(scale_);
      finite.push_back(torch::isfinite(grad).all());
    }
    return torch::stack(finite).all().item<bool>();
  }

  /// After unscale(): steps when the gradients were finite, else skips; then updates the scale.
  bool step(torch::optim::Optimizer& opt, bool finite) {
    if (!enabled_) {
      opt.step();
      return true;
    }
    if (!finite) {
      scale_ *= 0.5;
      good_ = 0;
      return false;
    }
    opt.step();
    if (++good_ >= interval_) {
      scale_ *= 2.0;
      good_ = 0;
    }
    return true;
  }

  nlohmann::json state() const { return {{"scale", scale_}, {"good", good_}}; }
  void restore(const nlohmann::json& j) {
    scale_ = j["scale"];
    good_ = j["good"];
  }

 private:
  bool enabled_;
  double scale_;
  int interval_, good_ = 0;
};

}  // namespace cadence
