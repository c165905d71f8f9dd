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
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <torch/types.h>

#include "cadence/config/options.hpp"
#include "cadence/core/pipeline.hpp"
#include "cadence/nn/head.hpp"

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
  template <class V> void fields(V& v) {
    v("mode", mode);
    v("reduce", reduce);
  }
};

/// TTA epochs are far from training epochs, so rounds never replay a training augmentation.
inline constexpr std::uint32_t kTtaEpochBase = 1u << 30;

/// Round r's input under the "flips" mode: identity, vflip, hflip, both, repeating.
inline torch::Tensor flip_round(const torch::Tensor& x, int round) {  // x: (B,C,H,W)
  switch (round % 4) {
    case 1: return x.flip({2});
    case 2: return x.flip({3});
    case 3: return x.flip({2, 3});
    default: return x;
  }
}

/// Average ranks (1..n, ties averaged) divided by n, of a 1-D tensor.
inline torch::Tensor normalized_rank(const torch::Tensor& v) {
  const auto n = v.size(0);
  const auto sorted = v.to(torch::kFloat64).contiguous();
  std::vector<double> x(sorted.data_ptr<double>(), sorted.data_ptr<double>() + n);
  std::vector<std::int64_t> idx(static_cast<std::size_t>(n));
  std::iota(idx.begin(), idx.end(), 0);
  std::sort(idx.begin(), idx.end(), [&](auto a, auto b) { return x[static_cast<std::size_t>(a)] < x[static_cast<std::size_t>(b)]; });
  std::vector<double> rank(static_cast<std::size_t>(n));
  for (std::int64_t i = 0; i < n;) {
    std::int64_t j = i;
    while (j < n && x[static_cast<std::size_t>(idx[static_cast<std::size_t>(j)])] == x[static_cast<std::size_t>(idx[static_cast<std::size_t>(i)])]) ++j;
    for (std::int64_t k = i; k < j; ++k) rank[static_cast<std::size_t>(idx[static_cast<std::size_t>(k)])] = 0.5 * static_cast<double>(i + 1 + j) / static_cast<double>(n);
    i = j;
  }
  return torch::tensor(rank, torch::kFloat64);
}

/// Reduces per-round logits (each (n, K), the same n samples) to one probability per sample, (n,).
inline torch::Tensor reduce_rounds(const std::vector<torch::Tensor>& logits, Head head, TtaReduce reduce) {
  TORCH_CHECK(!logits.empty(), "TTA: no rounds to reduce");
  const auto stacked = torch::stack(logits).to(torch::kFloat64);  // (R, n, K)
  switch (reduce) {
    case TtaReduce::logit: return head_probability(head, stacked.mean(0));
    case TtaReduce::rank: {
      std::vector<torch::Tensor> ranks;
      for (std::int64_t r = 0; r < stacked.size(0); ++r) ranks.push_back(normalized_rank(head_probability(head, stacked[r]).cpu()));
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
  static constexpr StageKind kind = StageKind::predict;
  static constexpr int rounds = N;
  using Options = TtaOptions;
  Options options{};

  static std::string label() { return "TTA<" + std::to_string(N) + ">"; }
};

}  // namespace cadence
