#pragma once
// TTA<N>: N prediction rounds per sample, reduced to one probability.
//
//   mode "augment": round r applies the pipeline's Augment ops with their stochastic parameters drawn
//                   for (seed, tta epoch r, sample) -- the seed solution's 16 rounds;
//   mode "flips":   rounds cycle identity, vflip, hflip, both (1st place's deterministic TTA).
//   reduce "prob":  mean of the rounds' probabilities (softmax / sigmoid); "logit": probability of the
//                   mean logits; "rank": mean over rounds of each round's normalised rank.
// Each batch is read from disk once and reused for all rounds.
#include <algorithm>
#include <array>
#include <numeric>
#include <span>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <torch/types.h>

#include "cadence/config/options.hpp"
#include "cadence/core/error.hpp"
#include "cadence/core/pipeline.hpp"
#include "cadence/nn/head.hpp"
#include "cadence/train/metrics.hpp"

namespace cadence {

enum class TtaMode { augment, flips };
enum class TtaReduce { prob, logit, rank };

inline constexpr std::array<std::pair<TtaMode, std::string_view>, 2> enum_names(TtaMode) {
  return {{{TtaMode::augment, "augment"}, {TtaMode::flips, "flips"}}};
}
inline constexpr std::array<std::pair<TtaReduce, std::string_view>, 3> enum_names(TtaReduce) {
  return {{{TtaReduce::prob, "prob"}, {TtaReduce::logit, "logit"}, {TtaReduce::rank, "rank"}}};
}

struct TtaOptions {
  TtaMode mode = TtaMode::augment;
  TtaReduce reduce = TtaReduce::prob;
  template <class V>
  void fields(V& v) {
    v("mode", mode);
    v("reduce", reduce);
  }
};

/// Round r's input under the "flips" mode: identity, vflip, hflip, both, repeating.
inline torch::Tensor flip_round(const torch::Tensor& x, int round) {  // x: (B,C,H,W)
  switch (round % 4) {
    case 1:
      return x.flip({2});
    case 2:
      return x.flip({3});
    case 3:
      return x.flip({2, 3});
    default:
      return x;
  }
}

/// Average ranks (1..n, ties averaged) divided by n, of a 1-D tensor.
inline torch::Tensor normalized_rank(const torch::Tensor& v) {
  const auto x = v.to(torch::kFloat64).contiguous();
  return torch::tensor(
      normalized_ranks(std::span<const double>(x.data_ptr<double>(), static_cast<std::size_t>(x.numel()))),
      torch::kFloat64);
}

/// Reduces per-round logits (each (n, K), the same n samples) to one probability per sample, (n,).
inline torch::Tensor reduce_rounds(const std::vector<torch::Tensor>& logits, Head head, TtaReduce reduce) {
  TORCH_CHECK(!logits.empty(), "TTA: no rounds to reduce");
  const auto stacked = torch::stack(logits).to(torch::kFloat64);  // (R, n, K)
  switch (reduce) {
    case TtaReduce::logit:
      return head_probability(head, stacked.mean(0));
    case TtaReduce::rank: {
      std::vector<torch::Tensor> ranks;
      for (std::int64_t r = 0; r < stacked.size(0); ++r)
        ranks.push_back(normalized_rank(head_probability(head, stacked[r]).cpu()));
      return torch::stack(ranks).mean(0);
    }
    case TtaReduce::prob:
    default: {
      std::vector<torch::Tensor> probs;
      for (std::int64_t r = 0; r < stacked.size(0); ++r) probs.push_back(head_probability(head, stacked[r]));
      return torch::stack(probs).mean(0);
    }
  }
}

template <int N>
struct TTA : Composes<TTA<N>> {
  static_assert(N >= 1, "cadence::TTA<N>: N is the number of prediction rounds and must be at least 1.");
  static constexpr std::string_view name = "tta";
  using Options = TtaOptions;
  Options options{};

  static std::string label() { return "TTA<" + std::to_string(N) + ">"; }

  // ---- the prediction capability ----
  int rounds() const { return N; }
  /// Round r's input from the batch x (B,C,H,W): the pipeline's augmentations with round r's draws
  /// ("augment"), or a flip ("flips"); x itself when there is one round.
  torch::Tensor round_input(const torch::Tensor& x, int round, const RoundContext& ctx) const {
    if (N == 1) return x;
    if (options.mode == TtaMode::flips) return flip_round(x, round);
    if (!ctx.augment)
      fail(
          "/tta/mode: \"augment\" needs an augmentation stage (Augment<...>) in the pipeline; use \"flips\" or add "
          "one");
    auto xr = x.clone();
    ctx.augment(xr, round);
    return xr;
  }
  torch::Tensor reduce(const std::vector<torch::Tensor>& logits, Head head) const {
    return reduce_rounds(logits, head, options.reduce);
  }
};

}  // namespace cadence
