#pragma once
// What a stage is. A stage is an empty-ish value type: its template parameters carry structure
// (which ops, which model), its `options` member carries the numbers read from JSON.
#include <concepts>
#include <string_view>
#include <type_traits>

namespace cadence {

/// Where a stage runs. Pipelines keep stages in this order: a source feeds batch stages (loader
/// threads / batched on the device), which feed the network's modules, and prediction shaping is last.
enum class StageKind { source = 0, batch = 1, module = 2, predict = 3 };

constexpr std::string_view to_string(StageKind k) {
  switch (k) {
    case StageKind::source: return "source";
    case StageKind::batch: return "batch";
    case StageKind::module: return "module";
    case StageKind::predict: return "predict";
  }
  return "?";
}

template <class S>
concept Stage = std::is_class_v<S> && std::copy_constructible<S> && requires(const S& s) {
  { S::name } -> std::convertible_to<std::string_view>;   // the JSON key of its options
  { S::kind } -> std::convertible_to<StageKind>;
  typename S::Options;
  { s.options } -> std::convertible_to<const typename S::Options&>;
};

/// Stages that are the network's backbone (at most one per pipeline).
template <class S>
concept ModelStage = Stage<S> && requires { requires S::is_model; };

template <class... Stages>
class Pipeline;

namespace detail {
template <class T> struct is_pipeline : std::false_type {};
template <class... S> struct is_pipeline<Pipeline<S...>> : std::true_type {};
}  // namespace detail

template <class T>
concept PipelineLike = detail::is_pipeline<std::remove_cvref_t<T>>::value;

template <class T>
concept Composable = Stage<std::remove_cvref_t<T>> || PipelineLike<T>;

}  // namespace cadence
