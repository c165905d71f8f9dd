#pragma once
// Mixup (Zhang et al. 2018) on a batch: images x <- lam*x + (1-lam)*x[perm], and the labels mixed by
// one of three rules:
//   soft: y <- lam*y + (1-lam)*y[perm]   (for the 2-output cross-entropy head; the seed's choice)
//   max:  p <- max(p, p[perm])           (positive probability; 1st place)
//   or:   p <- 1 - (1-p)(1-p[perm])      (a positive if either is; 3rd place; = max for hard labels)
// lam ~ Beta(alpha, alpha) per batch, or per sample. The partner permutation and lam come from the
// stream (seed, epoch, batch index, StreamId::mixup). Applied with probability p per batch, and only
// during the first `until` fraction of the epochs.
#include <ATen/Parallel.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <cstdint>
#include <numeric>
#include <string_view>
#include <utility>
#include <vector>

#include <torch/types.h>

#include "cadence/config/options.hpp"
#include "cadence/core/pipeline.hpp"
#include "cadence/core/random.hpp"
#include "cadence/core/upload.hpp"

namespace cadence {

enum class MixLabels { soft, max, or_ };

inline constexpr std::array<std::pair<MixLabels, std::string_view>, 3> enum_names(MixLabels) {
  return {{{MixLabels::soft, "soft"}, {MixLabels::max, "max"}, {MixLabels::or_, "or"}}};
}

struct MixupOptions {
  double alpha = 1.0;       // lam ~ Beta(alpha, alpha)
  double p = 0.5;           // probability that a batch is mixed
  bool per_sample = false;  // one lam per sample instead of per batch
  MixLabels labels = MixLabels::soft;
  double until = 1.0;        // mix during the first `until` fraction of the epochs (1 = always)
  bool renormalize = false;  // restandardise each mixed image (per channel) after mixing (1st place)

  template <class V>
  void fields(V& v) {
    v("alpha", alpha, config::above(0.0));
    v("p", p, config::probability());
    v("per_sample", per_sample);
    v("labels", labels);
    v("until", until, config::in_range(0.0, 1.0));
    v("renormalize", renormalize);
  }
};

/// What one batch drew: whether it mixes, the partner of each row, and each row's lam.
struct MixupDraw {
  bool apply = false;
  std::vector<std::int64_t> partner;
  std::vector<float> lam;
};

struct Mixup : Composes<Mixup> {
  static constexpr std::string_view name = "mixup";
  using Options = MixupOptions;
  Options options{};

  static std::string label() { return "Mixup"; }

  /// Whether epoch `epoch` (0-based) of `epochs` still mixes.
  bool active(std::uint32_t epoch, std::uint32_t epochs) const {
    return static_cast<double>(epoch) < options.until * static_cast<double>(epochs);
  }

  MixupDraw draw(std::int64_t batch, std::uint64_t seed, std::uint32_t epoch, std::uint32_t batch_index) const {
    RandomStream rng(seed, epoch, batch_index, StreamId::mixup);
    MixupDraw d;
    d.apply = rng.bernoulli(options.p);
    d.partner.resize(static_cast<std::size_t>(batch));
    std::iota(d.partner.begin(), d.partner.end(), 0);
    for (std::size_t i = d.partner.size(); i > 1; --i)
      std::swap(d.partner[i - 1],
                d.partner[static_cast<std::size_t>(rng.randint(0, static_cast<std::int64_t>(i) - 1))]);
    const double shared = rng.beta(options.alpha, options.alpha);
    for (std::int64_t b = 0; b < batch; ++b)
      d.lam.push_back(static_cast<float>(options.per_sample ? rng.beta(options.alpha, options.alpha) : shared));
    return d;
  }

  /// Mixes images (B,C,H,W) and targets (B,K) in place (K = 2: (1-p, p); K = 1: p).
  void apply(torch::Tensor& images, torch::Tensor& targets, const MixupDraw& d) const {
    if (!d.apply) return;
    const auto B = images.size(0);
    const auto perm = upload(torch::tensor(d.partner, torch::kLong), images.device());
    const auto lam = upload(torch::tensor(d.lam, torch::kFloat32), images.device());
    const auto other_y = targets.index_select(0, perm);
    if (images.is_cpu() && images.is_contiguous() && images.scalar_type() == torch::kFloat32) {
      mix_cpu(images, d);
    } else {
      const auto l4 = lam.view({B, 1, 1, 1});
      const auto other_x = images.index_select(0, perm);  // before images changes
      images.mul_(l4).add_(other_x * (1.f - l4));
    }
    if (options.renormalize) restandardize(images);
    const auto l2 = lam.view({B, 1});
    if (options.labels == MixLabels::soft) {
      targets.mul_(l2).add_(other_y * (1.f - l2));
      return;
    }
    const auto pos_col = targets.size(1) - 1;  // the positive class' column
    const auto p = targets.select(1, pos_col), q = other_y.select(1, pos_col);
    const auto mixed = options.labels == MixLabels::max ? torch::maximum(p, q) : 1.f - (1.f - p) * (1.f - q);
    targets.select(1, pos_col).copy_(mixed);
    if (targets.size(1) == 2) targets.select(1, 0).copy_(1.f - mixed);
  }

  /// Each image's each channel back to zero mean and unit variance (over its pixels): a mix of two
  /// standardised images has variance lam^2 + (1-lam)^2 + 2 lam (1-lam) rho, down to half at lam = 1/2,
  /// so a faint signal in a mixed image is fainter than the network ever sees it unmixed.
  static void restandardize(torch::Tensor& images) {
    const auto mean = images.mean({2, 3}, /*keepdim=*/true);
    const auto std = images.std({2, 3}, /*unbiased=*/false, /*keepdim=*/true).clamp_min(1e-6);
    images.sub_(mean).div_(std);
  }

  /// The CPU kernel: x_b = lam_b x_b + (1 - lam_b) x_partner(b) with the tensor path's rounding, in
  /// one pass and in place. The partners form a permutation, so it walks each cycle b -> partner(b)
  /// -> ... and keeps only the cycle's first sample aside (the others are still unchanged when they
  /// are read), instead of copying the batch and making four passes with two batch-sized temporaries.
  static void mix_cpu(torch::Tensor& images, const MixupDraw& d) {
    const auto B = static_cast<std::size_t>(images.size(0));
    const auto n = static_cast<std::size_t>(images.numel()) / std::max<std::size_t>(1, B);
    float* x = images.data_ptr<float>();
    auto mix_row = [&](std::size_t b, const float* partner) {
      const float l = d.lam[b], m = 1.f - l;
      float* a = x + b * n;
      for (std::size_t i = 0; i < n; ++i) a[i] = a[i] * l + partner[i] * m;
    };
    std::vector<char> done(B, 0);
    std::vector<float> first(n);
    for (std::size_t start = 0; start < B; ++start) {
      if (done[start]) continue;
      std::memcpy(first.data(), x + start * n, n * sizeof(float));
      std::size_t b = start;
      for (;;) {
        done[b] = 1;
        const auto next = static_cast<std::size_t>(d.partner[b]);
        mix_row(b, next == start ? first.data() : x + next * n);
        if (next == start) break;
        b = next;
      }
    }
  }

  /// The batch-stage capability: draw + apply for batch `key.batch` of epoch `key.epoch`, while active.
  void apply(torch::Tensor& images, torch::Tensor& targets, const BatchKey& key) const {
    if (active(key.epoch, key.epochs)) apply(images, targets, key.seed, key.epoch, key.batch);
  }

  /// draw + apply for batch number `batch_index` of an epoch.
  void apply(torch::Tensor& images, torch::Tensor& targets, std::uint64_t seed, std::uint32_t epoch,
             std::uint32_t batch_index) const {
    apply(images, targets, draw(images.size(0), seed, epoch, batch_index));
  }
};

}  // namespace cadence
