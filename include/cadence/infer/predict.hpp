#pragma once
// Prediction through a pipeline, by capability: the source reads (with the pipeline's preprocessing
// stages in its reader threads), the prediction stage (TTA) decides the rounds and reduces them, and
// its "augment" rounds apply the pipeline's augmentation stages with the TTA epochs' draws. Each batch
// is read once for all rounds.
#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

#include <torch/nn.h>

#include "cadence/core/compose.hpp"
#include "cadence/core/interrupt.hpp"
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

// ---- the pieces every prediction is made of (predict_pipeline here, the scan in recipes/scan.hpp) ----

/// Calls f(stage) with the pipeline's prediction stage (TTA) when `use_tta` and the pipeline has one,
/// else with one plain round.
template <class P, class F>
void with_rounds(const P& pipeline, bool use_tta, F&& f) {
  if (!(use_tta && with_predict_stage(pipeline, f))) f(detail::PlainRound{});
}

/// What TTA's "augment" rounds apply: the pipeline's augmentation stages with round r's draws for the
/// current batch's dataset indices `rows` (read when a round runs, so the caller updates it per batch).
/// The augmentation runs in fp32 under predict.amp (the network in fp16/bf16).
template <class P>
RoundContext round_context(const P& pipeline, std::uint64_t seed, const std::vector<std::int64_t>& rows) {
  RoundContext ctx;
  if constexpr (has_augmentation<P>())
    ctx.augment = [&pipeline, &rows, seed](torch::Tensor& x, int round) {
      AutocastPause fp32(x.device());
      apply_sample_stages(pipeline, x, SampleKey{seed, kTtaEpochBase + static_cast<std::uint32_t>(round), rows},
                          Phase::tta);
    };
  return ctx;
}

/// Each of the stage's rounds' logits for one batch `x` (on the network's device), on the CPU. A network
/// prepared for inference (nn/inference.hpp) gets NHWC inputs.
template <class Stage, class Net>
std::vector<torch::Tensor> round_logits(const Stage& stage, Net& net, const torch::Tensor& x, const RoundContext& ctx) {
  const bool nhwc = is_channels_last(*net);
  std::vector<torch::Tensor> out;
  for (int r = 0; r < stage.rounds(); ++r) {
    const auto in = stage.round_input(x, r, ctx);
    out.push_back(net->forward(nhwc ? as_channels_last(in) : in).to(torch::kCPU));
  }
  return out;
}

/// How predict_pipeline runs (as LibTorch's DataLoaderOptions: named fields, not a row of arguments).
struct PredictCall {
  int batch_size = 64;
  torch::Device device = torch::kCPU;
  std::uint64_t seed = 0;  // the TTA rounds' draws
  std::string label = "predict";
  bool quiet = false;   // no progress bar
  bool use_tta = true;  // the pipeline's prediction stage; false: one plain round (per-epoch validation)
  // a recorded SIGINT/SIGTERM stops the call at its next batch (Interrupted); false: the caller looks for
  // it itself (training's validation: the epoch's checkpoint is written first)
  bool stop_on_signal = true;
};

namespace detail {
/// This process's predictions for `indices`; the bar counts `shown_total` samples, `shown_scale` per sample read.
template <class P, class Net>
std::vector<double> predict_local(const P& pipeline, Net& net, Head head, const Dataset& data,
                                  std::vector<std::int64_t> indices, const PredictCall& call, std::int64_t shown_total,
                                  int shown_scale) {
  torch::NoGradGuard no_grad;
  net->eval();
  auto loader = source_of(pipeline).loader(data, std::move(indices), call.batch_size, head_classes(head),
                                           reader_hooks(pipeline, call.seed, 0, 1, Phase::eval, /*batches=*/false));
  std::vector<std::int64_t> rows;  // the current batch's dataset indices, for the rounds' draws
  const RoundContext ctx = round_context(pipeline, call.seed, rows);
  if (loader->num_samples() == 0) return {};
  Progress bar(call.label, shown_total, call.quiet, "samples");
  std::int64_t done = 0;  // this rank's samples predicted so far
  torch::Tensor p;
  with_rounds(pipeline, call.use_tta, [&](const auto& stage) {
    std::vector<std::vector<torch::Tensor>> per_round(static_cast<std::size_t>(stage.rounds()));
    while (auto batch = loader->next()) {
      if (call.stop_on_signal) stop_if_interrupted(call.label);
      rows = batch->indices;
      auto logits = round_logits(stage, net, batch->images.to(call.device), ctx);
      for (std::size_t r = 0; r < logits.size(); ++r) per_round[r].push_back(std::move(logits[r]));
      // each of this rank's samples stands for shown_scale (the ranks') samples, the last row of the
      // padded shards for fewer: the bar ends at shown_total (it said `validate 14/13` on 2 ranks)
      const auto before = std::min(done * shown_scale, shown_total);
      done += static_cast<std::int64_t>(batch->size());
      bar.advance(std::min(done * shown_scale, shown_total) - before);
    }
    std::vector<torch::Tensor> all;  // the rounds are reduced over the whole set (TTA's "rank" needs it)
    for (auto& r : per_round) all.push_back(torch::cat(r));
    p = stage.reduce(all, head);
  });
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
                                     std::vector<std::int64_t> indices, const PredictCall& call) {
  dist::Group* g = dist::current();
  const auto n = static_cast<std::int64_t>(indices.size());
  if (g == nullptr) return detail::predict_local(pipeline, net, head, data, std::move(indices), call, n, 1);
  const int W = g->size();
  PredictCall mine_call = call;
  mine_call.quiet = call.quiet || !g->leader();
  auto mine =
      detail::predict_local(pipeline, net, head, data, dist::eval_shard(indices, g->rank(), W), mine_call, n, W);
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

/// The same with positional arguments (kept for existing callers; new code names the fields of PredictCall).
template <class P, class Net>
std::vector<double> predict_pipeline(const P& pipeline, Net& net, Head head, const Dataset& data,
                                     std::vector<std::int64_t> indices, int batch_size, torch::Device device,
                                     std::uint64_t seed, const std::string& label, bool quiet, bool use_tta = true) {
  return predict_pipeline(pipeline, net, head, data, std::move(indices),
                          PredictCall{batch_size, device, seed, label, quiet, use_tta});
}

}  // namespace cadence
