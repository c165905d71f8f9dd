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

// The rules, evaluated over the joined list. Each gets its own static_assert so that the compiler
// prints the one message that applies.
template <class... S>
struct Rules {
  static constexpr std::size_t n = sizeof...(S);
  static constexpr StageKind kinds[n == 0 ? 1 : n] = {S::kind...};
  static constexpr int sources = ((S::kind == StageKind::source ? 1 : 0) + ... + 0);
  static constexpr int models = ((ModelStage<S> ? 1 : 0) + ... + 0);
  static constexpr int predicts = ((S::kind == StageKind::predict ? 1 : 0) + ... + 0);

  static constexpr bool source_first() {
    for (std::size_t i = 1; i < n; ++i)
      if (kinds[i] == StageKind::source) return false;
    return true;
  }
  static constexpr bool batch_before_network() {
    bool network_seen = false;
    for (std::size_t i = 0; i < n; ++i) {
      if (kinds[i] == StageKind::module || kinds[i] == StageKind::predict) network_seen = true;
      if (kinds[i] == StageKind::batch && network_seen) return false;
    }
    return true;
  }
  static constexpr bool predict_last() {
    for (std::size_t i = 0; i + 1 < n; ++i)
      if (kinds[i] == StageKind::predict) return false;
    return true;
  }
};

template <class... S>
constexpr bool check_rules() {
  using R = Rules<S...>;
  static_assert(R::sources <= 1, "cadence::Pipeline: more than one source stage; a pipeline reads from one Load{}.");
  static_assert(R::source_first(), "cadence::Pipeline: a source stage must come first; write `Load{} | ...`.");
  static_assert(R::models <= 1, "cadence::Pipeline: at most one Model<...> stage per pipeline; ensemble several pipelines at predict time instead.");
  static_assert(R::batch_before_network(), "cadence::Pipeline: batch stages (Augment, Mixup) feed the network and must come before Resize/Model/TTA; move them to the left.");
  static_assert(R::predicts <= 1 && R::predict_last(), "cadence::Pipeline: TTA shapes prediction and must be the last stage, once.");
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
  static_assert(Composable<T>,
                "cadence: the right side of `|` is not a stage. A stage has `static constexpr name`, "
                "`static constexpr kind`, an `Options` type and an `options` member (see cadence/core/stage.hpp).");
  if constexpr (Composable<T>) {
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
  friend std::ostream& operator<<(std::ostream& os, const Derived&) {
    return os << detail::stage_label<Derived>();
  }
};

template <class... Stages>
class Pipeline {
  static_assert((Stage<Stages> && ...), "cadence::Pipeline: every element must satisfy cadence::Stage.");

 public:
  std::tuple<Stages...> stages;

  static constexpr std::size_t size = sizeof...(Stages);
  static constexpr bool has_source = detail::Rules<Stages...>::sources == 1;
  static constexpr bool has_model = detail::Rules<Stages...>::models == 1;
  static constexpr bool has_tta = detail::Rules<Stages...>::predicts == 1;

  /// True when some stage is an instance of S (or S itself).
  template <class S>
  static constexpr bool contains = (std::is_same_v<S, Stages> || ...);

  constexpr Pipeline() = default;
  constexpr explicit Pipeline(std::tuple<Stages...> s) : stages(std::move(s)) {}

  template <class S> constexpr S& get() { return std::get<S>(stages); }
  template <class S> constexpr const S& get() const { return std::get<S>(stages); }

  /// Calls f(stage) for each stage, in order.
  template <class F> constexpr void for_each(F&& f) {
    std::apply([&](auto&... s) { (f(s), ...); }, stages);
  }
  template <class F> constexpr void for_each(F&& f) const {
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
