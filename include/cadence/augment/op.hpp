#pragma once
// What an augment op is, and how Augment<Ops...> drives it.
//
// An op draws its parameters per sample, on the CPU, from the counter-based stream
// (seed, epoch, sample index, StreamId::augment + slot), then applies them to a whole batch (B,C,H,W)
// on whatever device the batch lives. So a sample's augmentation depends on none of: batch
// composition, thread count, device.
#include <array>
#include <concepts>
#include <cstdint>
#include <span>
#include <string_view>
#include <utility>
#include <vector>

#include <torch/types.h>

#include "cadence/core/random.hpp"
#include "cadence/core/stage.hpp"

namespace cadence {

/// An augment op: `name` (its JSON key inside "augment"), `Options` (with `p`), `Params` drawn per
/// sample, and a batched `apply`.
template <class Op>
concept AugmentOp = requires(const Op& op, RandomStream& rng, torch::Tensor& x,
                             const std::vector<typename Op::Params>& ps) {
  { Op::name } -> std::convertible_to<std::string_view>;
  typename Op::Options;
  { op.draw(rng, std::int64_t{}, std::int64_t{}) } -> std::same_as<typename Op::Params>;
  op.apply(x, ps);
};

/// Draws `op`'s parameters for every row of a batch of height h, width w.
template <class Op>
std::vector<typename Op::Params> draw_params(const Op& op, const AugmentKey& key, std::uint32_t slot, std::int64_t h,
                                             std::int64_t w) {
  std::vector<typename Op::Params> out;
  out.reserve(key.samples.size());
  for (std::size_t row = 0; row < key.samples.size(); ++row) {
    RandomStream rng = sample_stream(key, row, slot);
    out.push_back(op.draw(rng, h, w));
  }
  return out;
}

/// OpenCV's border modes, as albumentations passes them to cv2.
enum class BorderMode { reflect_101, constant, replicate, reflect };

inline constexpr std::array<std::pair<BorderMode, std::string_view>, 4> enum_names(BorderMode) {
  return {{{BorderMode::reflect_101, "reflect_101"},
           {BorderMode::constant, "constant"},
           {BorderMode::replicate, "replicate"},
           {BorderMode::reflect, "reflect"}}};
}

/// cv::borderInterpolate: the in-range coordinate that `p` reads under `mode`, or -1 (constant).
/// Closed form of OpenCV's repeated reflection, valid however far outside p lies.
inline std::int64_t border_index(std::int64_t p, std::int64_t len, BorderMode mode) {
  if (p >= 0 && p < len) return p;
  switch (mode) {
    case BorderMode::constant:
      return -1;
    case BorderMode::replicate:
      return p < 0 ? 0 : len - 1;
    case BorderMode::reflect_101: {
      if (len == 1) return 0;
      const std::int64_t period = 2 * (len - 1);
      std::int64_t q = p % period;
      if (q < 0) q += period;
      return q < len ? q : period - q;
    }
    case BorderMode::reflect: {
      const std::int64_t period = 2 * len;
      std::int64_t q = p % period;
      if (q < 0) q += period;
      return q < len ? q : period - 1 - q;
    }
  }
  return -1;
}

/// The same mapping on an integer tensor (any device); constant gives -1.
inline torch::Tensor border_index(const torch::Tensor& p, std::int64_t len, BorderMode mode) {
  const auto inside = (p >= 0).logical_and(p < len);
  switch (mode) {
    case BorderMode::constant:
      return torch::where(inside, p, torch::full_like(p, -1));
    case BorderMode::replicate:
      return p.clamp(0, len - 1);
    case BorderMode::reflect_101: {
      if (len == 1) return torch::zeros_like(p);
      const std::int64_t period = 2 * (len - 1);
      const auto q = torch::remainder(p, period);
      return torch::where(q < len, q, period - q);
    }
    case BorderMode::reflect: {
      const auto q = torch::remainder(p, 2 * len);
      return torch::where(q < len, q, 2 * len - 1 - q);
    }
  }
  return p;
}

}  // namespace cadence
