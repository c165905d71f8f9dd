#pragma once
// Output heads: 2-output softmax cross-entropy (the default) or 1-output sigmoid BCE.
#include <array>
#include <string_view>
#include <utility>

#include <torch/types.h>

namespace cadence {

enum class Head { ce, bce };

inline constexpr std::array<std::pair<Head, std::string_view>, 2> enum_names(Head) {
  return {{{Head::ce, "ce"}, {Head::bce, "bce"}}};
}

/// Width of the network's output and of the targets it trains on.
constexpr int head_classes(Head h) { return h == Head::ce ? 2 : 1; }

/// Loss against soft targets (B,K): cross-entropy with probabilities, or BCE with logits. With
/// focal_gamma > 0 the focal loss (Lin et al. 2017, without the alpha weight): each class term of the
/// sample weighed by (1 - p)^gamma, p the probability the network gives that class.
inline torch::Tensor head_loss(Head h, const torch::Tensor& logits, const torch::Tensor& targets,
                               double focal_gamma = 0.0) {
  if (h == Head::ce) {
    const auto logp = torch::log_softmax(logits, 1);
    if (focal_gamma == 0.0) return -(targets * logp).sum(1).mean();
    return -(targets * (1.0 - logp.exp()).pow(focal_gamma) * logp).sum(1).mean();
  }
  if (focal_gamma == 0.0) return torch::binary_cross_entropy_with_logits(logits, targets);
  const auto p = torch::sigmoid(logits);
  return -(targets * (1.0 - p).pow(focal_gamma) * torch::log_sigmoid(logits) +
           (1.0 - targets) * p.pow(focal_gamma) * torch::log_sigmoid(-logits))
              .mean();
}

/// P(positive) per row, (B,).
inline torch::Tensor head_probability(Head h, const torch::Tensor& logits) {
  if (h == Head::ce) return torch::softmax(logits, 1).select(1, 1);
  return torch::sigmoid(logits).select(1, 0);
}

}  // namespace cadence
