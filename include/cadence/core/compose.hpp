#pragma once
// The engine's side of the stage protocol (core/stage.hpp): the one place that finds a pipeline's
// stages by what they can do and applies them, in expression order, for training, validation and
// prediction alike. No concrete stage type is named here.
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <span>
#include <type_traits>
#include <vector>

#include <ATen/CPUGeneratorImpl.h>
#include <torch/nn.h>

#include "cadence/core/pipeline.hpp"
#include "cadence/data/loader.hpp"
#include "cadence/nn/head.hpp"
#include "cadence/nn/inference.hpp"

namespace cadence {

/// When per-sample stages run: training runs all of them; evaluation only those that are not
/// augmentations (preprocessing); a TTA round only the augmentations (on top of the evaluation input).
enum class Phase { train, eval, tta };

/// The pipeline's source stage.
template <class P>
const auto& source_of(const P& pipeline) {
  static_assert(P::has_source,
                "cadence: the pipeline has no source stage; start it with Load{} (or a source of your own).");
  return std::get<detail::index_of_role<detail::Role::source, P>()>(pipeline.stages);
}
template <class P>
auto& source_of(P& pipeline) {
  static_assert(P::has_source,
                "cadence: the pipeline has no source stage; start it with Load{} (or a source of your own).");
  return std::get<detail::index_of_role<detail::Role::source, P>()>(pipeline.stages);
}

/// The pipeline's model stage (the network's last module).
template <class P>
const auto& model_of(const P& pipeline) {
  static_assert(P::has_model, "cadence: the pipeline has no model stage (Model<...>) to train or predict with.");
  return std::get<detail::index_of_role<detail::Role::model, P>()>(pipeline.stages);
}

/// Whether some per-sample stage is an augmentation (TTA's "augment" mode needs one).
template <class P>
constexpr bool has_augmentation() {
  return detail::augments<std::remove_cvref_t<P>>::value;
}

/// Whether per-sample stage S runs in `phase`.
template <class S>
constexpr bool runs_in(Phase phase) {
  return phase == Phase::train || (phase == Phase::eval ? !S::augmentation : S::augmentation);
}

/// Applies the per-sample stages that run in `phase` to images (B,C,H,W) in place; row b is sample
/// key.samples[b]. Each stage gets its own stream: its position among the per-sample stages.
template <class P>
void apply_sample_stages(const P& pipeline, torch::Tensor& images, SampleKey key, Phase phase) {
  std::uint32_t stream = 0;
  pipeline.for_each([&](const auto& s) {
    using S = std::remove_cvref_t<decltype(s)>;
    if constexpr (SampleStage<S>) {
      key.stream = stream++;
      if (runs_in<S>(phase)) s.apply(images, key);
    }
  });
}

/// Applies the batch stages (training only) to images (B,C,H,W) and targets (B,K) in place.
template <class P>
void apply_batch_stages(const P& pipeline, torch::Tensor& images, torch::Tensor& targets, const BatchKey& key) {
  pipeline.for_each([&](const auto& s) {
    if constexpr (BatchStage<std::remove_cvref_t<decltype(s)>>) s.apply(images, targets, key);
  });
}

/// Whether a cadence stage has work to do: `bool active() const` when it has one (Background with mode
/// "none" has not, so the source keeps its float16 fast path), else always.
template <class S>
bool cadence_stage_active(const S& s) {
  if constexpr (requires {
                  { s.active() } -> std::convertible_to<bool>;
                })
    return s.active();
  else
    return true;
}

/// The hooks every loader of the pipeline needs whatever the phase or device: its cadence stages, in
/// expression order, on each raw cadence as it is read (empty when it has none: the fast path).
template <class P>
LoaderHooks source_hooks(const P& pipeline) {
  LoaderHooks hooks;
  bool any = false;
  pipeline.for_each([&](const auto& s) {
    if constexpr (protocol::has_transform_cadence<std::remove_cvref_t<decltype(s)>>)
      any = any || cadence_stage_active(s);
  });
  if (any)
    hooks.cadence = [&pipeline](std::span<float> cadence, const CadenceKey& key) {
      pipeline.for_each([&](const auto& s) {
        if constexpr (protocol::has_transform_cadence<std::remove_cvref_t<decltype(s)>>)
          if (cadence_stage_active(s)) s.transform_cadence(cadence, key);
      });
    };
  return hooks;
}

/// The pipeline's injection stages for a training pass of `epoch`, in expression order (empty when it
/// has none with work to do). Training loaders add it to their hooks, on every device: it needs the
/// raw cadence, which only the readers have.
template <class P>
std::function<float(std::span<float>, float, InjectKey)> inject_hook(const P& pipeline, std::uint64_t seed,
                                                                     std::uint32_t epoch) {
  bool any = false;
  pipeline.for_each([&](const auto& s) {
    if constexpr (protocol::has_inject<std::remove_cvref_t<decltype(s)>>) any = any || cadence_stage_active(s);
  });
  if (!any) return {};
  return [&pipeline, seed, epoch](std::span<float> cadence, float target, InjectKey key) {
    key.seed = seed;
    key.epoch = epoch;
    pipeline.for_each([&](const auto& s) {
      if constexpr (protocol::has_inject<std::remove_cvref_t<decltype(s)>>)
        if (cadence_stage_active(s)) target = s.inject(cadence, target, key);
    });
    return target;
  };
}

/// Loader hooks that run the pipeline's stages in the reader threads: its cadence stages, the per-sample stages of
/// `phase` on each sample, and (when `batches`) the batch stages on each batch.
/// `first_batch` is the number of the loader's first batch in its epoch (a run resumed mid-epoch).
template <class P>
LoaderHooks reader_hooks(const P& pipeline, std::uint64_t seed, std::uint32_t epoch, std::uint32_t epochs, Phase phase,
                         bool batches, std::uint32_t first_batch = 0) {
  LoaderHooks hooks = source_hooks(pipeline);
  bool any = false;
  pipeline.for_each([&](const auto& s) {
    using S = std::remove_cvref_t<decltype(s)>;
    if constexpr (SampleStage<S>) any = any || runs_in<S>(phase);
  });
  if (any)
    hooks.sample = [&pipeline, seed, epoch, phase](torch::Tensor& one, std::int64_t index) {
      apply_sample_stages(pipeline, one, SampleKey{seed, epoch, std::span<const std::int64_t>(&index, 1)}, phase);
    };
  if (batches)
    hooks.batch = [&pipeline, seed, epoch, epochs, first_batch](Batch& b, std::size_t no) {
      apply_batch_stages(pipeline, b.images, b.targets,
                         BatchKey{seed, epoch, epochs, first_batch + static_cast<std::uint32_t>(no)});
    };
  return hooks;
}

/// One torch::nn::Sequential of the pipeline's network modules, in expression order.
template <class P>
torch::nn::Sequential build_network(const P& pipeline, std::int64_t in_chans) {
  torch::nn::Sequential net;
  pipeline.for_each([&](const auto& s) {
    if constexpr (ModuleStage<std::remove_cvref_t<decltype(s)>>) net->push_back(s.build(in_chans));
  });
  return net;
}

/// A copy of the pipeline whose modules import no `weights` file (for networks whose weights come
/// from a checkpoint or another network next, or from scratch).
template <class P>
P without_weights(P pipeline) {
  pipeline.for_each([](auto& s) {
    if constexpr (requires { s.options.weights; }) s.options.weights.clear();
  });
  return pipeline;
}

/// A new network with `live`'s parameters and buffers, prepared for inference (nn/inference.hpp):
/// what validation predicts with while `live` trains on.
template <class P>
torch::nn::Sequential inference_copy(const P& pipeline, torch::nn::Module& live, torch::Device device,
                                     const InferenceOptions& o) {
  at::Generator gen = at::detail::getDefaultCPUGenerator();  // the copy's initial draws must not move training's stream
  const auto state = gen.get_state();
  auto copy = build_network(without_weights(pipeline), source_of(pipeline).image_shape().channels);
  {
    std::lock_guard<std::mutex> lock(gen.mutex());
    gen.set_state(state);
  }
  copy->to(device);
  {
    torch::NoGradGuard no_grad;
    auto params = copy->named_parameters(), buffers = copy->named_buffers();
    for (const auto& item : live.named_parameters()) params[item.key()].copy_(item.value());
    for (const auto& item : live.named_buffers()) buffers[item.key()].copy_(item.value());
  }
  prepare_for_inference(*copy, o);
  return copy;
}

/// The pipeline's head (from its model stage).
template <class P>
Head pipeline_head(const P& pipeline) {
  return model_of(pipeline).head();
}

/// Calls f(stage) with the pipeline's prediction stage, if it has one; returns whether it did.
template <class P, class F>
bool with_predict_stage(const P& pipeline, F&& f) {
  bool found = false;
  pipeline.for_each([&](const auto& s) {
    if constexpr (PredictStage<std::remove_cvref_t<decltype(s)>>) {
      f(s);
      found = true;
    }
  });
  return found;
}

}  // namespace cadence
