#pragma once
// Prediction through a pipeline, by capability: the source reads (with the pipeline's preprocessing
// stages in its reader threads), the prediction stage (TTA) decides the rounds and reduces them, and
// its "augment" rounds apply the pipeline's augmentation stages with the TTA epochs' draws. Each batch
// is read once for all rounds.
#include <cstdint>
#include <string>
#include <vector>

#include <torch/nn.h>

#include "cadence/core/compose.hpp"
#include "cadence/core/progress.hpp"
#include "cadence/dist/group.hpp"
#include "cadence/nn/memory_format.hpp"
#include "cadence/nn/head.hpp"
#include "cadence/train/amp.hpp"

namespace cadence {

namespace detail {
/// Prediction without a prediction stage: one round, the head's probability.
struct PlainRound {
  int rounds() const { return 1; }
  torch::Tensor round_input(const torch::Tensor& x, int, const RoundContext&) const { return x; }
  torch::Tensor reduce(const std::vector<torch::Tensor>& logits, Head head) const {
    return head_probability(head, logits.at(0).to(torch::kFloat64));
  }
};
}  // namespace detail

namespace detail {
/// This process's predictions for `indices`; the bar counts `shown_total` samples, `shown_scale` per sample read.
template <class P, class Net>
std::vector<double> predict_local(const P& pipeline, Net& net, Head head, const Dataset& data, std::vector<std::int64_t> indices,
                                  int batch_size, torch::Device device, std::uint64_t seed, const std::string& label, bool quiet,
                                  bool use_tta, std::int64_t shown_total, int shown_scale) {
  torch::NoGradGuard no_grad;
  net->eval();
  const bool nhwc = is_channels_last(*net);  // a network prepared for inference (nn/inference.hpp) gets NHWC inputs
  auto loader = source_of(pipeline).loader(data, std::move(indices), batch_size, head_classes(head),
                                            reader_hooks(pipeline, seed, 0, 1, Phase::eval, /*batches=*/false));
  std::vector<std::int64_t> rows;  // the current batch's dataset indices, for the rounds' draws
  RoundContext ctx;
  if constexpr (has_augmentation<P>())
    ctx.augment = [&](torch::Tensor& x, int round) {
      AutocastPause fp32(x.device());  // under predict.amp the network runs in fp16/bf16, the augmentation not
      apply_sample_stages(pipeline, x, SampleKey{seed, kTtaEpochBase + static_cast<std::uint32_t>(round), rows}, Phase::tta);
    };
  if (loader->num_samples() == 0) return {};
  std::vector<std::vector<torch::Tensor>> per_round;
  Progress bar(label, shown_total, quiet, "samples");
  auto run_rounds = [&](const auto& stage) {
    const int n = stage.rounds();
    per_round.resize(static_cast<std::size_t>(n));
    while (auto batch = loader->next()) {
      rows = batch->indices;
      const auto x = batch->images.to(device);
      for (int r = 0; r < n; ++r)
        per_round[static_cast<std::size_t>(r)].push_back(
            net->forward(nhwc ? as_channels_last(stage.round_input(x, r, ctx)) : stage.round_input(x, r, ctx)).to(torch::kCPU));
      bar.advance(batch->size() * shown_scale);
    }
    std::vector<torch::Tensor> logits;
    for (auto& r : per_round) logits.push_back(torch::cat(r));
    return stage.reduce(logits, head);
  };
  torch::Tensor p;
  const bool wrapped = use_tta && with_predict_stage(pipeline, [&](const auto& s) { p = run_rounds(s); });
  if (!wrapped) p = run_rounds(detail::PlainRound{});
  p = p.to(torch::kFloat64).contiguous();
  return {p.data_ptr<double>(), p.data_ptr<double>() + p.numel()};
}
}  // namespace detail

/// P(positive) for each of `indices`, with the pipeline's prediction stage when `use_tta` (one plain
/// round without one, or when not asked: per-epoch validation is usually plain). In a data-parallel
/// run each rank predicts positions rank, rank + W, ... and every rank gets all of them, in order;
/// every rank must call it. Only rank 0 shows progress.
template <class P, class Net>
std::vector<double> predict_pipeline(const P& pipeline, Net& net, Head head, const Dataset& data,
                                     std::vector<std::int64_t> indices, int batch_size, torch::Device device,
                                     std::uint64_t seed, const std::string& label, bool quiet, bool use_tta = true) {
  dist::Group* g = dist::current();
  const auto n = static_cast<std::int64_t>(indices.size());
  if (g == nullptr) return detail::predict_local(pipeline, net, head, data, std::move(indices), batch_size, device, seed, label, quiet, use_tta, n, 1);
  const int W = g->size();
  auto mine = detail::predict_local(pipeline, net, head, data, dist::eval_shard(indices, g->rank(), W), batch_size, device, seed, label,
                                    quiet || !g->leader(), use_tta, n, W);
  const std::int64_t rows = (n + W - 1) / W;
  mine.resize(static_cast<std::size_t>(rows), 0.0);  // every rank sends the same length
  const auto local = torch::from_blob(mine.data(), {rows}, torch::kFloat64).clone();
  const auto all = g->all_gather(local, "prediction gather");
  std::vector<const double*> part;
  for (const auto& t : all) part.push_back(t.template data_ptr<double>());
  std::vector<double> out(static_cast<std::size_t>(n));
  for (std::int64_t k = 0; k < n; ++k) out[static_cast<std::size_t>(k)] = part[static_cast<std::size_t>(k % W)][k / W];
  return out;
}

}  // namespace cadence
