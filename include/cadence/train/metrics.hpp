#pragma once
// ROC AUC, the competition's metric: the Mann-Whitney U statistic over n_pos * n_neg, with tied
// scores counted as one half (average ranks), which is exactly scikit-learn's roc_auc_score.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <numeric>
#include <span>
#include <vector>

#include "cadence/core/error.hpp"

namespace cadence {

template <class T, class S>
double roc_auc(std::span<const T> truth, std::span<const S> score) {
  if (truth.size() != score.size()) fail("roc_auc: ", truth.size(), " labels but ", score.size(), " scores");
  const std::size_t n = truth.size();
  for (std::size_t i = 0; i < n; ++i)  // NaN breaks the sort's ordering (and the tie loop): refuse it
    if (!std::isfinite(static_cast<double>(score[i])))
      fail("roc_auc: score ", i, " is ", static_cast<double>(score[i]), " (not finite); did the model diverge?");
  std::vector<std::size_t> idx(n);
  std::iota(idx.begin(), idx.end(), 0);
  std::sort(idx.begin(), idx.end(), [&](std::size_t a, std::size_t b) { return score[a] < score[b]; });
  double rank_sum_pos = 0.0;
  std::size_t pos = 0;
  for (std::size_t i = 0; i < n;) {
    std::size_t j = i;
    while (j < n && score[idx[j]] == score[idx[i]]) ++j;
    const double avg_rank = 0.5 * static_cast<double>(i + 1 + j);  // ranks i+1..j
    for (std::size_t k = i; k < j; ++k)
      if (truth[idx[k]] >= T(0.5)) {
        rank_sum_pos += avg_rank;
        ++pos;
      }
    i = j;
  }
  const std::size_t neg = n - pos;
  if (pos == 0 || neg == 0) fail("roc_auc: needs both classes (", pos, " positives, ", neg, " negatives)");
  const double p = static_cast<double>(pos);
  return (rank_sum_pos - p * (p + 1.0) / 2.0) / (p * static_cast<double>(neg));
}

template <class T, class S>
double roc_auc(const std::vector<T>& truth, const std::vector<S>& score) {
  return roc_auc(std::span<const T>(truth), std::span<const S>(score));
}

/// Mean binary log loss of probabilities against 0/1 labels (probabilities clipped to [1e-7, 1 - 1e-7],
/// as scikit-learn's log_loss with eps=1e-7): the validation loss whatever the head.
template <class T, class S>
double log_loss(const std::vector<T>& truth, const std::vector<S>& prob) {
  if (truth.size() != prob.size()) fail("log_loss: ", truth.size(), " labels but ", prob.size(), " probabilities");
  if (truth.empty()) return 0.0;
  double sum = 0.0;
  for (std::size_t i = 0; i < truth.size(); ++i) {
    const double p = std::clamp(static_cast<double>(prob[i]), 1e-7, 1.0 - 1e-7);
    sum -= truth[i] >= T(0.5) ? std::log(p) : std::log1p(-p);
  }
  return sum / static_cast<double>(truth.size());
}

/// Average ranks (1..n, ties averaged) divided by n: a score's place among all scores, in (0, 1].
inline std::vector<double> normalized_ranks(std::span<const double> x) {
  const std::size_t n = x.size();
  std::vector<std::size_t> idx(n);
  std::iota(idx.begin(), idx.end(), 0);
  std::sort(idx.begin(), idx.end(), [&](std::size_t a, std::size_t b) { return x[a] < x[b]; });
  std::vector<double> rank(n);
  for (std::size_t i = 0; i < n;) {
    std::size_t j = i;
    while (j < n && x[idx[j]] == x[idx[i]]) ++j;
    for (std::size_t k = i; k < j; ++k) rank[idx[k]] = 0.5 * static_cast<double>(i + 1 + j) / static_cast<double>(n);
    i = j;
  }
  return rank;
}

}  // namespace cadence
