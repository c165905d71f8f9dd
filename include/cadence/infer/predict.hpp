#pragma once
// Prediction through a pipeline: its TTA<N> stage (if any) decides the rounds, its Augment stage
// supplies the stochastic ops for mode "augment". Each batch is read once for all rounds.
#include <cstdint>
#include <string>
#include <type_traits>
#include <vector>

#include <torch/nn.h>

#include "cadence/augment/augment.hpp"
#include "cadence/batch/mixup.hpp"
#include "cadence/core/progress.hpp"
#include "cadence/data/load.hpp"
#include "cadence/infer/tta.hpp"
#include "cadence/nn/head.hpp"

namespace cadence {

namespace detail {
template <class T> struct is_augment : std::false_type {};
template <class... Ops> struct is_augment<Augment<Ops...>> : std::true_type {};
template <class T> struct is_mixup : std::is_same<T, Mixup> {};
template <class T> struct is_tta : std::false_type {};
template <int N> struct is_tta<TTA<N>> : std::true_type {};

/// Calls f(stage) for the stages whose type satisfies Trait.
template <template <class> class Trait, class P, class F>
void for_stages(const P& pipeline, F&& f) {
  pipeline.for_each([&](const auto& s) {
    if constexpr (Trait<std::remove_cvref_t<decltype(s)>>::value) f(s);
  });
}
}  // namespace detail

/// Applies the pipeline's Augment stage (if any) to `images` in place.
template <class P>
void augment_batch(const P& pipeline, torch::Tensor& images, const AugmentKey& key) {
  detail::for_stages<detail::is_augment>(pipeline, [&](const auto& aug) { aug.apply(images, key); });
}

/// P(positive) for each of `indices`, with the pipeline's TTA when `use_tta` (one plain round without
/// a TTA stage, or when not asked: per-epoch validation is usually plain).
template <class P, class Net>
std::vector<double> predict_pipeline(const P& pipeline, Net& net, Head head, const Dataset& data,
                                     std::vector<std::int64_t> indices, int batch_size, torch::Device device,
                                     std::uint64_t seed, const std::string& label, bool quiet, bool use_tta = true) {
  int rounds = 1;
  TtaOptions tta;
  if (use_tta) detail::for_stages<detail::is_tta>(pipeline, [&](const auto& t) {
    rounds = std::remove_cvref_t<decltype(t)>::rounds;
    tta = t.options;
  });
  bool has_augment = false;
  detail::for_stages<detail::is_augment>(pipeline, [&](const auto&) { has_augment = true; });
  if (rounds > 1 && tta.mode == TtaMode::augment && !has_augment)
    fail("/tta/mode: \"augment\" needs an Augment<...> stage in the pipeline; use \"flips\" or add one");

  torch::NoGradGuard no_grad;
  net->eval();
  const Load& load = pipeline.template get<Load>();
  auto loader = load.loader(data, std::move(indices), batch_size, head_classes(head));
  std::vector<std::vector<torch::Tensor>> per_round(static_cast<std::size_t>(rounds));
  Progress bar(label, static_cast<std::int64_t>(loader->num_samples()), quiet, "samples");
  while (auto batch = loader->next()) {
    const auto x = batch->images.to(device);
    for (int r = 0; r < rounds; ++r) {
      torch::Tensor xr;
      if (rounds == 1) {
        xr = x;
      } else if (tta.mode == TtaMode::flips) {
        xr = flip_round(x, r);
      } else {
        xr = x.clone();
        augment_batch(pipeline, xr, AugmentKey{seed, kTtaEpochBase + static_cast<std::uint32_t>(r), batch->indices});
      }
      per_round[static_cast<std::size_t>(r)].push_back(net->forward(xr).to(torch::kCPU));
    }
    bar.advance(batch->size());
  }
  std::vector<torch::Tensor> logits;
  for (auto& r : per_round) logits.push_back(torch::cat(r));
  const auto p = reduce_rounds(logits, head, tta.reduce).to(torch::kFloat64).contiguous();
  return {p.data_ptr<double>(), p.data_ptr<double>() + p.numel()};
}

}  // namespace cadence
