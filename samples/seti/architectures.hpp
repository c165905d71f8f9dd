// The architectures seti compiles, as one name -> factory table (timm's _registry.py): `seti` picks a
// job's pipeline from it by the config's model.arch, `seti model` builds a backbone from it, and the
// error lines and --help list its names. Adding an architecture is one entry in `kArchitectures`.
#pragma once
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

namespace seti {

// The competition's pipelines (the model is part of the pipeline's type, so each is compiled in).
using Ops = cadence::Augment<cadence::VFlip, cadence::SSR, cadence::MotionBlur, cadence::SpecAug>;

/// One entry: an architecture tag (its names are cadence::arch_names<Arch>()) and the pipeline it runs in.
template <class Arch, class MakePipeline>
struct Architecture {
  using tag = Arch;
  MakePipeline pipeline;
  /// Whether `seti model` can build the bare backbone (the networks with weights of their own).
  static constexpr bool has_backbone = !std::is_same_v<Arch, cadence::DeDopplerArch>;
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
