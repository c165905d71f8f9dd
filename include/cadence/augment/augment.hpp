#pragma once
// Augment<Ops...>: applies its ops in order to a batch, each with its own probability.
//
//   Load{} | Augment<VFlip, SSR, MotionBlur, SpecAug>{} | ...
//
// JSON (key "augment"): one object per op under the op's name:
//   {"vflip": {"p": 0.5}, "ssr": {"rotate_limit": 30}, "motion_blur": {...}, "spec_aug": {...}}
// Op i draws from stream StreamId::augment + i, keyed by (seed, epoch, sample index): a sample's
// augmentation is the same whatever batch it is in, however many threads, on whichever device.
#include <cstdint>
#include <string>
#include <string_view>
#include <tuple>
#include <type_traits>
#include <utility>

#include <torch/types.h>

#include "cadence/augment/motion_blur.hpp"
#include "cadence/augment/op.hpp"
#include "cadence/augment/shift_scale_rotate.hpp"
#include "cadence/augment/spec_augment.hpp"
#include "cadence/augment/vflip.hpp"
#include "cadence/config/options.hpp"
#include "cadence/core/pipeline.hpp"

namespace cadence {

template <AugmentOp... Ops>
struct Augment : Composes<Augment<Ops...>> {
  static_assert(sizeof...(Ops) <= 64, "cadence::Augment: at most 64 ops (each draws from its own stream).");
  static_assert(sizeof...(Ops) > 0, "cadence::Augment: give it at least one op, e.g. Augment<VFlip>.");
  static_assert(
      [] {
        const std::string_view names[] = {Ops::name...};
        for (std::size_t i = 0; i < sizeof...(Ops); ++i)
          for (std::size_t j = i + 1; j < sizeof...(Ops); ++j)
            if (names[i] == names[j]) return false;
        return true;
      }(),
      "cadence::Augment: an op appears twice; each op's options live under its name, so list it once.");

  static constexpr std::string_view name = "augment";
  static constexpr bool augmentation = true;  // training only (and TTA's "augment" rounds)

  struct Options {
    std::tuple<typename Ops::Options...> ops;
    template <class V>
    void fields(V& v) {
      std::apply([&](auto&... o) { (v(Ops::name, o), ...); }, ops);
    }
  };
  Options options{};

  static std::string label() {
    std::string s = "Augment<";
    std::string_view sep;
    ((s += sep, s += Ops::label, sep = ", "), ...);
    return s + ">";
  }

  /// The I-th op, configured from options.
  template <std::size_t I>
  auto op() const {
    std::tuple_element_t<I, std::tuple<Ops...>> o;
    o.options = std::get<I>(options.ops);
    return o;
  }

  /// Augments `images` (B,C,H,W) in place; row b is sample key.samples[b].
  void apply(torch::Tensor& images, const AugmentKey& key) const {
    TORCH_CHECK(images.dim() == 4 && static_cast<std::size_t>(images.size(0)) == key.samples.size(),
                "Augment: images must be (B,C,H,W) with one key per row");
    [&]<std::size_t... I>(std::index_sequence<I...>) {
      (apply_one(op<I>(), images, key, static_cast<std::uint32_t>(I)), ...);
    }
    (std::index_sequence_for<Ops...>{});
  }

 private:
  template <class Op>
  static void apply_one(const Op& op, torch::Tensor& images, const AugmentKey& key, std::uint32_t slot) {
    op.apply(images, draw_params(op, key, slot, images.size(2), images.size(3)));
  }
};

}  // namespace cadence
