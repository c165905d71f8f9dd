#pragma once
// Pipeline<Stages...>: a flat, typed list of stages built with `|`.
//
//   auto p = Load{} | Augment<VFlip, SSR>{} | Mixup{} | Model<EffNetV2S>{} | TTA<16>{};
//
// `(a|b)|c` and `a|(b|c)` are the same type. Order rules are checked when two pieces are joined, so
// a misuse fails to compile at the `|` that causes it, with a message that says how to fix it.
// This header is light on purpose (no torch, no json): the DSL costs nothing to include.
#include <cstddef>
#include <ostream>
#include <string>
#include <string_view>
#include <tuple>
#include <type_traits>
#include <utility>

#include "cadence/core/stage.hpp"

namespace cadence {

namespace detail {

template <class S>
std::string stage_label() {
  if constexpr (requires { S::label(); }) {
    return std::string(S::label());
  } else {
    return std::string(S::name);
  }
}

/// What the order rules need to know of a stage: its role, from its capabilities.
enum class Role { source, cadence, sample, batch, module, model, predict };

template <class S>
constexpr Role role_of() {
  if constexpr (SourceStage<S>)
    return Role::source;
  else if constexpr (CadenceStage<S>)
    return Role::cadence;
  else if constexpr (SampleStage<S>)
    return Role::sample;
  else if constexpr (BatchStage<S>)
    return Role::batch;
  else if constexpr (ModelStage<S>)
    return Role::model;
  else if constexpr (ModuleStage<S>)
    return Role::module;
  else
    return Role::predict;
}

// The rules, evaluated over the joined list. Each gets its own static_assert so that the compiler
// prints the one message that applies.
template <class... S>
struct Rules {
  static constexpr std::size_t n = sizeof...(S);
  static constexpr Role roles[n == 0 ? 1 : n] = {role_of<S>()...};
  static constexpr std::string_view names[n == 0 ? 1 : n] = {std::string_view(S::name)...};
  static constexpr int count(Role r) {
    int c = 0;
    for (std::size_t i = 0; i < n; ++i) c += roles[i] == r ? 1 : 0;
    return c;
  }
  static constexpr int sources = count(Role::source);
  static constexpr int models = count(Role::model);
  static constexpr int predicts = count(Role::predict);

  /// No stage of role `later` comes before one of role `earlier`.
  static constexpr bool before(Role earlier, Role later) {
    bool seen_later = false;
    for (std::size_t i = 0; i < n; ++i) {
      if (roles[i] == later) seen_later = true;
      if (roles[i] == earlier && seen_later) return false;
    }
    return true;
  }
  static constexpr bool source_first() {
    for (std::size_t i = 1; i < n; ++i)
      if (roles[i] == Role::source) return false;
    return true;
  }
  static constexpr bool transforms_before_network() {
    bool network_seen = false;
    for (std::size_t i = 0; i < n; ++i) {
      if (roles[i] == Role::module || roles[i] == Role::model || roles[i] == Role::predict) network_seen = true;
      if ((roles[i] == Role::cadence || roles[i] == Role::sample || roles[i] == Role::batch) && network_seen)
        return false;
    }
    return true;
  }
  static constexpr bool predict_last() {
    for (std::size_t i = 0; i + 1 < n; ++i)
      if (roles[i] == Role::predict) return false;
    return true;
  }
  static constexpr bool unique_names() {
    for (std::size_t i = 0; i < n; ++i)
      for (std::size_t j = i + 1; j < n; ++j)
        if (names[i] == names[j]) return false;
    return true;
  }
};

template <Role R, class P>
struct role_index;
template <Role R, class... S>
struct role_index<R, Pipeline<S...>> {
  static constexpr std::size_t value = [] {
    constexpr Role roles[sizeof...(S) + 1] = {role_of<S>()..., Role::source};
    for (std::size_t i = 0; i < sizeof...(S); ++i)
      if (roles[i] == R) return i;
    return sizeof...(S);
  }();
};
/// The position of the (first) stage of role R in pipeline P.
template <Role R, class P>
constexpr std::size_t index_of_role() {
  return role_index<R, std::remove_cvref_t<P>>::value;
}

template <class P>
struct augments;
template <class... S>
struct augments<Pipeline<S...>> {
  template <class T>
  static constexpr bool one() {
    if constexpr (SampleStage<T>)
      return T::augmentation;
    else
      return false;
  }
  static constexpr bool value = (one<S>() || ... || false);
};

template <class... S>
constexpr bool check_rules() {
  using R = Rules<S...>;
  static_assert(R::sources <= 1,
                "cadence::Pipeline: more than one source stage; a pipeline reads from one source (Load{}).");
  static_assert(R::source_first(), "cadence::Pipeline: a source stage must come first; write `Load{} | ...`.");
  static_assert(
      R::unique_names(),
      "cadence::Pipeline: two stages share one JSON name; each stage's options live under its `name`, so rename one.");
  static_assert(R::before(Role::cadence, Role::sample) && R::before(Role::cadence, Role::batch),
                "cadence::Pipeline: cadence stages (Background) work on the raw cadence as the source reads it, before "
                "Augment and Mixup; move them to just after the source.");
  static_assert(
      R::before(Role::sample, Role::batch),
      "cadence::Pipeline: per-sample stages (Augment) run before batch stages (Mixup); move them to the left.");
  static_assert(R::transforms_before_network(),
                "cadence::Pipeline: sample and batch stages (Augment, Mixup) feed the network and must come before "
                "Resize/Model/TTA; move them to the left.");
  static_assert(R::models <= 1,
                "cadence::Pipeline: at most one Model<...> stage per pipeline; ensemble several pipelines at predict "
                "time instead.");
  static_assert(R::before(Role::module, Role::model),
                "cadence::Pipeline: network modules such as Resize feed the model and must come before Model<...>.");
  static_assert(R::predicts <= 1 && R::predict_last(),
                "cadence::Pipeline: TTA shapes prediction and must be the last stage, once.");
  static_assert(R::predicts == 0 || R::models == 1,
                "cadence::Pipeline: a prediction stage (TTA) wraps a model; put a Model<...> stage before it.");
  return true;
}

template <class... A, class... B>
constexpr auto concat(Pipeline<A...>&& a, Pipeline<B...>&& b) {
  static_assert(check_rules<A..., B...>());
  return Pipeline<A..., B...>(std::tuple_cat(std::move(a.stages), std::move(b.stages)));
}

template <class T>
constexpr auto as_pipeline(T&& x) {
  if constexpr (PipelineLike<T>) {
    return std::remove_cvref_t<T>(std::forward<T>(x));
  } else {
    return Pipeline<std::remove_cvref_t<T>>(std::tuple<std::remove_cvref_t<T>>(std::forward<T>(x)));
  }
}

template <class T>
constexpr auto pipe(auto&& lhs, T&& rhs) {
  if constexpr (!PipelineLike<T>) static_assert(check_stage<std::remove_cvref_t<T>>());
  if constexpr (!PipelineLike<decltype(lhs)>) static_assert(check_stage<std::remove_cvref_t<decltype(lhs)>>());
  if constexpr (Composable<T> && Composable<decltype(lhs)>) {
    return concat(as_pipeline(std::forward<decltype(lhs)>(lhs)), as_pipeline(std::forward<T>(rhs)));
  }
}

}  // namespace detail

/// Base of every stage: gives it `|` as a hidden friend, found only by ADL on the stage itself.
template <class Derived>
struct Composes {
  template <class R>
  friend constexpr auto operator|(const Derived& lhs, R&& rhs) {
    return detail::pipe(lhs, std::forward<R>(rhs));
  }
  friend std::ostream& operator<<(std::ostream& os, const Derived&) { return os << detail::stage_label<Derived>(); }
};

template <class... Stages>
class Pipeline {
  static_assert((Stage<Stages> && ...), "cadence::Pipeline: every element must satisfy cadence::Stage.");

 public:
  std::tuple<Stages...> stages;

  static constexpr std::size_t size = sizeof...(Stages);
  static constexpr bool has_source = detail::Rules<Stages...>::sources == 1;
  static constexpr bool has_model = detail::Rules<Stages...>::models == 1;
  static constexpr bool has_predict = detail::Rules<Stages...>::predicts == 1;
  static constexpr bool has_tta = has_predict;

  /// True when some stage is S.
  template <class S>
  static constexpr bool contains = (std::is_same_v<S, Stages> || ...);

  constexpr Pipeline() = default;
  constexpr explicit Pipeline(std::tuple<Stages...> s) : stages(std::move(s)) {}

  template <class S>
  constexpr S& get() {
    return std::get<S>(stages);
  }
  template <class S>
  constexpr const S& get() const {
    return std::get<S>(stages);
  }

  /// Calls f(stage) for each stage, in order.
  template <class F>
  constexpr void for_each(F&& f) {
    std::apply([&](auto&... s) { (f(s), ...); }, stages);
  }
  template <class F>
  constexpr void for_each(F&& f) const {
    std::apply([&](const auto&... s) { (f(s), ...); }, stages);
  }

  template <class R>
  friend constexpr auto operator|(Pipeline lhs, R&& rhs) {
    return detail::pipe(std::move(lhs), std::forward<R>(rhs));
  }

  /// `Load | Augment<VFlip, SSR> | Model<efficientnetv2_s>`
  friend std::ostream& operator<<(std::ostream& os, const Pipeline&) {
    std::string_view sep;
    ((os << sep << detail::stage_label<Stages>(), sep = " | "), ...);
    return os;
  }
};

}  // namespace cadence
