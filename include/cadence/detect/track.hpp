#pragma once
// The track search: the de-Doppler search's sums taken along paths that wander, not only straight lines.
//
// A signal's frequency need not drift at one rate: an accelerating transmitter's path curves, one on a
// rotating body's surface oscillates, and scintillation or a pulsed source leaves it dark for some rows.
// A straight-line search (detect/dedoppler.hpp) loses a curved path's power once it leaves the line. The
// track search keeps it by dynamic programming, as the Viterbi searches for continuous gravitational
// waves do (SOAP: Bayley, Messenger & Woan 2019, arXiv 1903.12614): over rows t = 0..T-1 of a panel,
//
//   V(0, f) = x(0, f),    V(t, f) = x(t, f) + max_{|d| <= step} V(t-1, f+d)
//
// so V(T-1, f) is the largest sum of x along any path that ends in channel f and moves at most `step`
// channels from one row to the next: all of them (3^T for step 1) in T max-filters of width 2*step+1.
// The search bins rows (and channels) first, so that a step follows a path of up to
// step * freq_bin / time_bin channels per time step, and the sum of a path of binned pixels has the noise
// of a path of T * time_bin * freq_bin pixels.
//
// That is the Viterbi algorithm (the best path). The forward algorithm sums over every path instead:
//
//   L(0, f) = beta x(0, f),   L(t, f) = beta x(t, f) + log( sum_{|d| <= step} exp L(t-1, f+d) / (2 step + 1) )
//
// so log sum_f exp L(T-1, f) is the log-likelihood ratio of "a signal of beta noise deviations per pixel
// follows some path, each move equally likely" against "noise only", up to a constant (for unit-variance
// Gaussian pixels, a signal of amplitude a along a path has the ratio exp(a sum x - a^2 T / 2)). A faint
// signal's power lies along many nearby paths, not one, and the best path's maximum over the noise's many
// paths is a large, noisy bias; the sum over paths is what the Neyman-Pearson lemma asks for.
//
// Either way a panel's number is large for a signal and also for noise; the de-Doppler model (search
// "track") scores a cadence by comparing ON panels' numbers with OFF panels' (detect/dedoppler.hpp:
// track_search), where the noise's part largely cancels, as interference in every panel does.
#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

#include <torch/types.h>

#include "cadence/core/error.hpp"

namespace cadence::track {

/// The largest sum along a path through every row of `x` (N, T, F): for each of the N images and each
/// channel f, the best sum of a path ending in f at the last row whose channel changes by at most `step`
/// from one row to the next. Returns (N, F), x's dtype (a floating type).
inline torch::Tensor best_path_sums(const torch::Tensor& x, std::int64_t step) {
  if (x.dim() != 3) fail("track: expected rows (N, T, F), got ", x.dim(), " dimensions");
  if (step < 0) fail("track: a step of ", step, " channels");
  const auto T = x.size(1);
  if (T == 0) fail("track: no rows to search");
  const auto rows = x.transpose(0, 1).contiguous();  // (T, N, F): each row one slab
  auto v = rows[0].clone();
  for (std::int64_t t = 1; t < T; ++t) {
    if (step > 0)  // max over f-step..f+step; max_pool1d pads with -inf, so paths stay inside the band
      v = torch::max_pool1d(v.unsqueeze(1), {2 * step + 1}, {1}, {step}).squeeze(1);
    v = v + rows[t];
  }
  return v;
}

/// The forward algorithm's log path sums (see above): for each image of `x` (N, T, F), whose pixels have
/// unit noise variance, and each channel f, log of the sum over paths ending in f at the last row (moves of
/// at most `step` channels, each of the 2 step + 1 equally likely, paths leaving the band dropped) of
/// exp(beta * the path's sum). Returns (N, F), x's dtype.
inline torch::Tensor log_path_sums(const torch::Tensor& x, std::int64_t step, double beta) {
  if (x.dim() != 3) fail("track: expected rows (N, T, F), got ", x.dim(), " dimensions");
  if (step < 0) fail("track: a step of ", step, " channels");
  const auto T = x.size(1), F = x.size(2);
  if (T == 0) fail("track: no rows to search");
  const auto rows = (x * beta).transpose(0, 1).contiguous();  // (T, N, F)
  const double log_moves = std::log(static_cast<double>(2 * step + 1));
  auto v = rows[0].clone();
  for (std::int64_t t = 1; t < T; ++t) {
    if (step > 0) {
      const auto padded = torch::constant_pad_nd(v, {step, step}, -std::numeric_limits<double>::infinity());
      std::vector<torch::Tensor> moves;
      for (std::int64_t d = 0; d <= 2 * step; ++d) moves.push_back(padded.narrow(1, d, F));
      v = torch::logsumexp(torch::stack(moves), 0) - log_moves;
    }
    v = v + rows[t];
  }
  return v;
}

}  // namespace cadence::track
