// The architectures seti compiles, as one name -> factory table (timm's _registry.py): `seti` picks a
// job's pipeline from it by the config's model.arch, `seti model` builds a backbone from it, and the
// error lines and --help list its names. Adding an architecture is one entry in `kArchitectures`.
#pragma once
#include <algorithm>
#include <array>
#include <string>
#include <string_view>
#include <tuple>
#include <vector>

#include "cadence/augment/augment.hpp"
#include "cadence/batch/mixup.hpp"
#include "cadence/data/load.hpp"
#include "cadence/detect/background.hpp"
#include "cadence/detect/dedoppler.hpp"
#include "cadence/infer/tta.hpp"
#include "cadence/nn/efficientnet_v2.hpp"
#include "cadence/nn/model.hpp"
#include "cadence/nn/resize.hpp"
#include "cadence/nn/small_cnn.hpp"
#include "cadence/synth/inject.hpp"

// The entries seti compiles jobs for: every one, unless the build names some (CMake's
// CADENCE_SETI_ARCHITECTURES, e.g. "small_cnn;dedoppler", passed here comma-separated). The jobs over each
// pipeline are most of seti's compile time; a build that runs one architecture, or the test command's
// sanitizer pass (whose tests run small_cnn and dedoppler), compiles the rest for nothing. Every name still
// builds a backbone (`seti model`), and a config that names an architecture left out fails with one line.
#ifndef SETI_ARCHITECTURES
#define SETI_ARCHITECTURES ""
#endif

namespace seti {

/// The architectures this build compiles jobs for, comma-separated; empty: all of them.
inline constexpr std::string_view kCompiledArchitectures = SETI_ARCHITECTURES;

/// Whether `holds` is true of every name in kCompiledArchitectures.
template <class Pred>
constexpr bool every_listed(Pred holds) {
  for (std::string_view rest = kCompiledArchitectures; !rest.empty();) {
    const auto comma = rest.find(',');
    if (!holds(rest.substr(0, comma))) return false;
    if (comma == std::string_view::npos) break;
    rest.remove_prefix(comma + 1);
  }
  return true;
}

/// Whether `name` is in kCompiledArchitectures (everything is, when it is empty).
constexpr bool compiled_in(std::string_view name) {
  return kCompiledArchitectures.empty() || !every_listed([&](std::string_view n) { return n != name; });
}

// The competition's pipelines (the model is part of the pipeline's type, so each is compiled in).
using Ops = cadence::Augment<cadence::VFlip, cadence::SSR, cadence::MotionBlur, cadence::SpecAug>;

/// One entry: an architecture tag (its names are cadence::arch_names<Arch>()) and the pipeline it runs in.
template <class Arch, class MakePipeline>
struct Architecture {
  using tag = Arch;
  MakePipeline pipeline;
  /// Whether `seti model` can build the bare backbone (the networks with weights of their own).
  static constexpr bool has_backbone = !std::is_same_v<Arch, cadence::DeDopplerArch>;
  /// Whether this build compiles the jobs over `pipeline` (kCompiledArchitectures).
  static constexpr bool has_jobs = compiled_in(Arch::name);
};
template <class Arch, class MakePipeline>
constexpr Architecture<Arch, MakePipeline> entry(MakePipeline make) {
  return {make};
}

inline const auto kArchitectures = std::make_tuple(
    entry<cadence::SmallCnnArch>([] {
      using namespace cadence;
      return Load{} | Inject{} | Background{} | Ops{} | Mixup{} | Model<SmallCnnArch>{} | TTA<16>{};
    }),
    entry<cadence::EffNetV2S>([] {
      using namespace cadence;
      return Load{} | Inject{} | Background{} | Ops{} | Mixup{} | Resize<Learned>{} | Model<EffNetV2S>{} | TTA<16>{};
    }),
    entry<cadence::EffNetV2M>([] {
      using namespace cadence;
      return Load{} | Inject{} | Background{} | Ops{} | Mixup{} | Resize<Learned>{} | Model<EffNetV2M>{} | TTA<16>{};
    }),
    // the classical baseline: nothing to train, nothing to augment
    entry<cadence::DeDopplerArch>([] {
      using namespace cadence;
      return Load{} | Background{} | Model<DeDopplerArch>{};
    }));

/// Each entry's first name, in the table's order.
template <class Table>
struct FirstNames;
template <class... E>
struct FirstNames<std::tuple<E...>> {
  static constexpr std::array<std::string_view, sizeof...(E)> value{E::tag::name...};
};

/// Every name in kCompiledArchitectures is some entry's first name (a typo would compile no jobs at all).
constexpr bool compiled_names_known() {
  constexpr auto& names = FirstNames<std::remove_cvref_t<decltype(kArchitectures)>>::value;
  return every_listed([&](std::string_view n) { return std::find(names.begin(), names.end(), n) != names.end(); });
}
static_assert(compiled_names_known(),
              "CADENCE_SETI_ARCHITECTURES names an architecture that is not in kArchitectures (see its first names)");

/// Calls f(entry) for the entry that takes `name`; false when none does.
template <class F>
bool with_architecture(std::string_view name, F&& f) {
  bool found = false;
  std::apply(
      [&](const auto&... e) {
        auto one = [&](const auto& a) {
          if (found) return;
          for (auto n : cadence::arch_names<typename std::remove_cvref_t<decltype(a)>::tag>())
            if (n == name) {
              found = true;
              f(a);
              return;
            }
        };
        (one(e), ...);
      },
      kArchitectures);
  return found;
}

/// Every name the table takes, ", "-separated; `backbones_only`: those `seti model` builds.
inline std::string architecture_names(bool backbones_only = false) {
  std::string out;
  std::apply(
      [&](const auto&... e) {
        auto one = [&](const auto& a) {
          using A = std::remove_cvref_t<decltype(a)>;
          if (backbones_only && !A::has_backbone) return;
          for (auto n : cadence::arch_names<typename A::tag>()) out += (out.empty() ? "" : ", ") + std::string(n);
        };
        (one(e), ...);
      },
      kArchitectures);
  return out;
}

}  // namespace seti
