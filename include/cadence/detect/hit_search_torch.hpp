#pragma once
// Steps 3-4 of the hit search (detect/hit_search.hpp) in LibTorch ops, on any torch::Device: what
// `seti scan` runs when run.device is cuda. The same Taylor tree -- the same additions in the same
// order, so the same float sums -- batched over every drift block of a sign at once ([blocks, P, W]
// tensors, one add per staircase and level), then each channel's best drift by one max over the
// drift axis. On the CPU device it finds what the threaded CPU search finds (tests/detect/search.cpp
// holds it on the turboSETI fixture); the CPU search stays the one used there (it is the faster).
// Memory on the device: the coarse channel twice (as read and mirrored) and three blocks x P x
// (chunk + P) buffers; `chunk` start channels go through at a time.
#include <torch/nn.h>  // the tensor API (torch/torch.h is more than this needs)

#include <algorithm>
#include <cstdint>
#include <limits>

#include "cadence/detect/hit_search.hpp"

namespace cadence::detect {
namespace detail {

/// The Taylor tree over dim 1 of `a` [K, P, W] (P a power of two), as taylor::sums does for each of
/// the K: on return row D holds, at column c, the sum along the staircase from 0 to D starting at c.
inline torch::Tensor taylor_sums(torch::Tensor a) {
  const auto K = a.size(0), W = a.size(2);
  const auto P = static_cast<int>(a.size(1));
  for (int m = 2; m <= P; m *= 2) {
    const int h = m / 2;
    const auto v = a.view({K, P / m, m, W});
    auto b = torch::empty_like(v);
    for (int d = 0; d < m; ++d) {
      const int lo = d / 2, shift = d - lo;
      const auto top = v.select(2, lo), bottom = v.select(2, h + lo);
      auto out = b.select(2, d);
      auto head = out.narrow(2, 0, W - shift);
      torch::add_out(head, top.narrow(2, 0, W - shift), bottom.narrow(2, shift, W - shift));
      if (shift > 0) out.narrow(2, W - shift, shift).copy_(top.narrow(2, W - shift, shift));
    }
    a = b.view({K, P, W});
  }
  return a;
}

/// Steps 3-4 for one coarse channel on `device`: each channel's best drift above the threshold into
/// `best` (as search_block leaves it: the positive drifts first, a negative one only when strictly
/// better; the smallest drift on a tie). Returns the (channel, drift) pairs above the threshold.
inline std::int64_t search_coarse_torch(const SearchPlan& sp, const CoarseChannel& cc, double min_drift,
                                        const BestDrift& best, torch::Device device, std::int64_t chunk) {
  const int P = sp.P, K = sp.blocks;
  const std::int64_t N = sp.N, stride = cc.width;
  auto rows = torch::from_blob(const_cast<float*>(cc.rows.data()), {P, stride}, torch::kFloat32).to(device);
  if (sp.T < P) rows.narrow(0, sp.T, P - sp.T).zero_();  // the tree's padding rows
  const auto mirrored = rows.flip({1}).contiguous();     // negative drifts: the rows read right to left
  // which drifts D = k (P - 1) + d each sign searches (as search_block skips them)
  const auto drifts = static_cast<std::int64_t>(K) * (P - 1);
  std::array<torch::Tensor, 2> valid;
  for (int s = 0; s < 2; ++s) {
    const int sign = s == 0 ? 1 : -1;
    auto keep = torch::zeros({drifts}, torch::kBool);
    auto* k = keep.data_ptr<bool>();
    for (std::int64_t D = 0; D < drifts; ++D) {
      const double rate = sign * sp.rate_sign * static_cast<double>(D) * sp.drift_step;
      k[D] = D <= sp.max_shift && !(sign < 0 && D == 0) && std::abs(rate) > min_drift;
    }
    valid[static_cast<std::size_t>(s)] = keep.to(device).unsqueeze(1);
  }
  const float floor = best.floor;
  std::int64_t counted = 0;
  for (std::int64_t start = 0; start < N; start += chunk) {
    const std::int64_t width = std::min(chunk, N - start), W = width + P - 1;
    for (int s = 0; s < 2; ++s) {
      const int sign = s == 0 ? 1 : -1;
      const auto& src = sign > 0 ? rows : mirrored;
      const std::int64_t first = cc.margin + (sign > 0 ? start : N - start - width);
      auto batch = torch::empty({K, P, W}, rows.options());
      for (int k = 0; k < K; ++k)  // block k: row t shifted by k t, a view with row stride width + k
        batch.select(0, k).copy_(src.as_strided({P, W}, {stride + k, 1}, src.storage_offset() + first));
      auto sums = taylor_sums(batch).narrow(1, 0, P - 1).narrow(2, 0, width).reshape({drifts, width});
      sums =
          sums.masked_fill(valid[static_cast<std::size_t>(s)].logical_not(), -std::numeric_limits<float>::infinity());
      counted += sums.gt(floor).sum().item<std::int64_t>();
      const auto [value, index] = sums.max(0);
      const auto v = value.cpu().contiguous();
      const auto i = index.cpu().contiguous();
      const float* vp = v.data_ptr<float>();
      const std::int64_t* ip = i.data_ptr<std::int64_t>();
      for (std::int64_t j = 0; j < width; ++j) {
        if (!(vp[j] > floor)) continue;
        const auto c = static_cast<std::size_t>(sign > 0 ? start + j : start + width - 1 - j);
        const auto snr = static_cast<float>((vp[j] - best.median) / best.stddev);
        if (snr > best.snr[c]) {
          best.snr[c] = snr;
          best.drift[c] = static_cast<float>(sign * sp.rate_sign * static_cast<double>(ip[j]) * sp.drift_step);
        }
      }
    }
  }
  return counted;
}

}  // namespace detail

/// The drift search (steps 3-4) on `device`, for HitSearchOptions::drifts. `chunk` start channels at
/// a time (0: as many as keep each of the three work buffers near 2^28 floats, 1 GiB).
inline DriftSearch torch_drift_search(torch::Device device, std::int64_t chunk = 0) {
  return [device, chunk](const detail::SearchPlan& sp, const detail::CoarseChannel& cc, double min_drift,
                         const detail::BestDrift& best) {
    const std::int64_t c =
        chunk > 0 ? chunk : std::max<std::int64_t>(1024, (std::int64_t{1} << 28) / (sp.blocks * sp.P));
    torch::NoGradGuard no_grad;
    return detail::search_coarse_torch(sp, cc, min_drift, best, device, c);
  };
}

}  // namespace cadence::detect
