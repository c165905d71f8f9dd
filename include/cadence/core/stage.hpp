#pragma once
// What a stage is, and what it can do. The engine asks a stage for its capabilities, never for its
// type, so a stage written in the user's own file runs exactly like a built-in one:
//
//   source       Dataset open(Split) const;  ImageShape image_shape() const;
//                std::unique_ptr<BatchStream> loader(const Dataset&, std::vector<int64_t> order,
//                                                    int batch_size, int classes, LoaderHooks) const;
//   cadence      void transform_cadence(std::span<float> cadence, const CadenceKey&) const;
//                the raw cadence as read (panels x time x freq floats, before the source arranges its
//                panels into the image and standardises them), in the source's reader threads, in every
//                phase: preprocessing that needs all six panels (Background's OFF-panel subtraction).
//                Optional: `bool active() const` (false: nothing to do, the source keeps its fast path).
//   injection    float inject(std::span<float> cadence, float target, const InjectKey&) const;
//                a cadence stage of training passes only: it may draw something onto the raw cadence and
//                return the sample's new label (Inject: a signal on a negative makes it a positive). Run
//                in the readers before the other cadence stages, never in validation or prediction.
//   per-sample   void apply(at::Tensor& images, const SampleKey&) const;  static constexpr bool augmentation;
//                images (B,C,H,W), row b is sample key.samples[b] and must depend on nothing else, so the
//                engine may run it one sample at a time in the reader threads or batched on the device.
//                augmentation = true: training only (and TTA's "augment" rounds); false: always (preprocessing).
//   batch        void apply(at::Tensor& images, at::Tensor& targets, const BatchKey&) const;
//                training only: mixes samples and labels (Mixup).
//   network      torch::nn::AnyModule build(std::int64_t in_chans) const;  the modules are chained in
//                expression order into one network; the last one also has `Head head() const` (the model).
//   prediction   int rounds() const;  at::Tensor round_input(const at::Tensor& x, int round, const RoundContext&) const;
//                at::Tensor reduce(const std::vector<at::Tensor>& logits, Head) const;   (TTA)
//
// Every stage also has `static constexpr std::string_view name` (its JSON key), an `Options` type
// and an `options` member. A stage with no capability, or with half of one, fails to compile with a
// message naming what is missing. This header stays light (no torch, no json): the protocol's
// types are only declared here.
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string_view>
#include <type_traits>
#include <vector>

namespace at {
class Tensor;
}
namespace torch::nn {
class AnyModule;
}

namespace cadence {

enum class Split;
enum class Head;
struct Dataset;
struct ImageShape;
struct Batch;
class BatchStream;

/// Where a batch's samples come from, for keying per-sample random streams: a sample's draw depends
/// on (seed, epoch, its dataset index, stream) only. `stream` is the stage's position among the
/// pipeline's per-sample stages, so two stages never share a stream.
struct SampleKey {
  std::uint64_t seed = 0;
  std::uint32_t epoch = 0;
  std::span<const std::int64_t> samples;  // one stable index per row (the dataset index)
  std::uint32_t stream = 0;
};
using AugmentKey = SampleKey;  // the augment ops' name for it

/// TTA round r draws its per-sample augmentations as epoch kTtaEpochBase + r: far from training
/// epochs, so rounds never replay a training augmentation.
inline constexpr std::uint32_t kTtaEpochBase = 1u << 30;

/// What a cadence stage is given with a raw cadence: its shape, its dataset index and the dataset it
/// is read from (for a stage that looks at other cadences, as Background's "nearest" mode).
struct CadenceKey {
  std::int64_t panels = 6, time = 273, freq = 256;
  std::int64_t index = 0;
  const Dataset* data = nullptr;
};

/// What an injection stage is given with a raw cadence of a training pass: its shape, its dataset index
/// and the epoch, which with the seed key its draws (a sample draws anew each epoch, the same on resume).
struct InjectKey {
  std::int64_t panels = 6, time = 273, freq = 256;
  std::int64_t index = 0;
  std::uint64_t seed = 0;
  std::uint32_t epoch = 0;
};

/// Where a batch stands in its epoch, for batch stages: (seed, epoch, batch number) keys the draw;
/// `epochs` lets a stage stop after a fraction of training (Mixup's `until`).
struct BatchKey {
  std::uint64_t seed = 0;
  std::uint32_t epoch = 0;
  std::uint32_t epochs = 1;
  std::uint32_t batch = 0;
};

/// Work a source's reader threads do after reading. `sample` runs on each sample (a (1,C,H,W) view
/// into its batch, with its dataset index) right after it is read; `batch` on each whole batch with
/// its number in the pass. Both must depend only on what they are given (not on the thread).
struct LoaderHooks {
  /// The pipeline's cadence stages, on the raw cadence of the sample with this dataset index, before
  /// the image is arranged (a source that cannot offer the raw cadence must refuse a pipeline with them).
  std::function<void(std::span<float>, const CadenceKey&)> cadence;
  /// Training passes only: the pipeline's injection stages on the raw cadence (before `cadence`), with
  /// the sample's label and its key (the reader gives the shape and index, the hook the seed and epoch);
  /// returns the new label.
  std::function<float(std::span<float>, float, InjectKey)> inject;
  std::function<void(at::Tensor&, std::int64_t)> sample;
  std::function<void(Batch&, std::size_t)> batch;
};

/// What a prediction stage may ask of the pipeline for one batch: the pipeline's augmentations
/// applied with round `r`'s draws (absent when the pipeline has no augmentation stage).
struct RoundContext {
  std::function<void(at::Tensor&, int)> augment;
};

// ---- the capabilities ---------------------------------------------------------------------------
// Checked with decltype so that the protocol's types may stay incomplete here.

namespace protocol {
template <class S>
concept has_open = requires(const S& s, Split split) {
  requires std::same_as<decltype(s.open(split)), Dataset>;
};
template <class S>
concept has_image_shape = requires(const S& s) {
  requires std::same_as<decltype(s.image_shape()), ImageShape>;
};
template <class S>
concept has_loader = requires(const S& s, const Dataset& d, std::vector<std::int64_t> order, LoaderHooks hooks) {
  requires std::same_as<decltype(s.loader(d, std::move(order), 1, 2, std::move(hooks))), std::unique_ptr<BatchStream>>;
};
template <class S>
concept has_transform_cadence = requires(const S& s, std::span<float> c, const CadenceKey& key) {
  s.transform_cadence(c, key);
};
template <class S>
concept has_inject = requires(const S& s, std::span<float> c, const InjectKey& key) {
  { s.inject(c, 0.0f, key) } -> std::convertible_to<float>;
};
template <class S>
concept has_sample_apply = requires(const S& s, at::Tensor& x, const SampleKey& key) {
  s.apply(x, key);
};
template <class S>
concept has_augmentation_flag = requires {
  { S::augmentation } -> std::convertible_to<bool>;
};
template <class S>
concept has_build = requires(const S& s, std::int64_t c) {
  requires std::same_as<decltype(s.build(c)), torch::nn::AnyModule>;
};
template <class S>
concept has_head = requires(const S& s) {
  requires std::same_as<decltype(s.head()), Head>;
};
template <class S>
concept has_rounds = requires(const S& s) {
  { s.rounds() } -> std::convertible_to<int>;
};
template <class S>
concept has_round_input = requires(const S& s, const at::Tensor& x, const RoundContext& ctx) {
  requires std::same_as<decltype(s.round_input(x, 0, ctx)), at::Tensor>;
};
template <class S>
concept has_reduce = requires(const S& s, const std::vector<at::Tensor>& logits, Head h) {
  requires std::same_as<decltype(s.reduce(logits, h)), at::Tensor>;
};
}  // namespace protocol

/// Named and configured: the part every stage shares.
template <class S>
concept Configurable = std::is_class_v<S> && std::copy_constructible<S> && requires(const S& s) {
  { S::name } -> std::convertible_to<std::string_view>;  // the JSON key of its options
  typename S::Options;
  { s.options } -> std::convertible_to<const typename S::Options&>;
};

template <class S>
concept SourceStage = protocol::has_open<S> && protocol::has_image_shape<S> && protocol::has_loader<S>;
/// Works on the raw cadence: transforms it in every phase, or injects into it in training (or both).
template <class S>
concept CadenceStage = protocol::has_transform_cadence<S> || protocol::has_inject<S>;
template <class S>
concept SampleStage = protocol::has_sample_apply<S> && protocol::has_augmentation_flag<S>;
template <class S>
concept BatchStage = requires(const S& s, at::Tensor& x, at::Tensor& y, const BatchKey& key) {
  s.apply(x, y, key);
};
template <class S>
concept ModuleStage = protocol::has_build<S>;
/// The network's last module: it makes the logits and says how to read them.
template <class S>
concept ModelStage = ModuleStage<S> && protocol::has_head<S>;
template <class S>
concept PredictStage = protocol::has_rounds<S> && protocol::has_round_input<S> && protocol::has_reduce<S>;

/// A stage: configurable, and able to do at least one thing.
template <class S>
concept Stage = Configurable<S> &&
    (SourceStage<S> || CadenceStage<S> || SampleStage<S> || BatchStage<S> || ModuleStage<S> || PredictStage<S>);

/// Fails to compile, naming the missing member, unless S is a whole stage. Used at every `|`.
template <class S>
constexpr bool check_stage() {
  using namespace protocol;
  static_assert(
      requires {
        { S::name } -> std::convertible_to<std::string_view>;
      },
      "cadence::Stage: missing `static constexpr std::string_view name` (the stage's JSON key).");
  static_assert(
      requires { typename S::Options; },
      "cadence::Stage: missing `using Options = ...` (the stage's JSON options; `struct Options {};` for none).");
  static_assert(
      requires(const S& s) { s.options; }, "cadence::Stage: missing the member `Options options`.");
  constexpr int source_parts = int{has_open<S>} + int{has_image_shape<S>} + int{has_loader<S>};
  static_assert(source_parts == 0 || has_open<S>, "cadence::Stage: a source stage lacks `Dataset open(Split) const`.");
  static_assert(source_parts == 0 || has_image_shape<S>,
                "cadence::Stage: a source stage lacks `ImageShape image_shape() const`.");
  static_assert(source_parts == 0 || has_loader<S>,
                "cadence::Stage: a source stage lacks `std::unique_ptr<BatchStream> loader(const Dataset&, "
                "std::vector<std::int64_t>, int, int, LoaderHooks) const`.");
  static_assert(!has_sample_apply<S> || has_augmentation_flag<S>,
                "cadence::Stage: a per-sample stage lacks `static constexpr bool augmentation` (true: training only; "
                "false: always).");
  static_assert(!has_augmentation_flag<S> || has_sample_apply<S>,
                "cadence::Stage: a per-sample stage lacks `void apply(at::Tensor& images, const SampleKey&) const`.");
  static_assert(!has_head<S> || has_build<S>,
                "cadence::Stage: a model stage lacks `torch::nn::AnyModule build(std::int64_t in_chans) const`.");
  constexpr int predict_parts = int{has_rounds<S>} + int{has_round_input<S>} + int{has_reduce<S>};
  static_assert(predict_parts == 0 || has_rounds<S>, "cadence::Stage: a prediction stage lacks `int rounds() const`.");
  static_assert(predict_parts == 0 || has_round_input<S>,
                "cadence::Stage: a prediction stage lacks `at::Tensor round_input(const at::Tensor&, int, const "
                "RoundContext&) const`.");
  static_assert(
      predict_parts == 0 || has_reduce<S>,
      "cadence::Stage: a prediction stage lacks `at::Tensor reduce(const std::vector<at::Tensor>&, Head) const`.");
  static_assert(
      Stage<S> || !Configurable<S>,
      "cadence::Stage: this stage can do nothing. Give it one capability: a source (open, image_shape, loader), "
      "a cadence transform (transform_cadence(span, CadenceKey)), a training injection (inject(span, target, "
      "InjectKey)), a per-sample transform (apply(images, SampleKey) + "
      "augmentation), a batch transform (apply(images, targets, "
      "BatchKey)), a network module (build(in_chans)) or a prediction wrapper (rounds, round_input, reduce); "
      "see cadence/core/stage.hpp and docs/extending.md.");
  return true;
}

template <class... Stages>
class Pipeline;

namespace detail {
template <class T>
struct is_pipeline : std::false_type {};
template <class... S>
struct is_pipeline<Pipeline<S...>> : std::true_type {};
}  // namespace detail

template <class T>
concept PipelineLike = detail::is_pipeline<std::remove_cvref_t<T>>::value;

template <class T>
concept Composable = Stage<std::remove_cvref_t<T>> || PipelineLike<T>;

}  // namespace cadence
