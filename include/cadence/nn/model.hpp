#pragma once
// Model<Arch>: the network's backbone and head as a pipeline stage (the network's last module). The
// type names the architecture family; JSON (the stage's key is "model") names the exact architecture
// in `arch` (required: a run's config says what it trains) and holds the head and the numbers.
//
//   Model<EffNetV2S>   "arch": "efficientnetv2_s" or "tf_efficientnetv2_s" (timm's TensorFlow port:
//                      BN eps 1e-3, "same" padding; the variant timm has ImageNet weights for)
//   Model<EffNetV2M>   "efficientnetv2_m" or "tf_efficientnetv2_m"
//   Model<SmallCnnArch> "small_cnn"
#include <array>
#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include <torch/nn.h>

#include "cadence/config/options.hpp"
#include "cadence/core/pipeline.hpp"
#include "cadence/nn/head.hpp"
#include "cadence/nn/timm_import.hpp"

namespace cadence {

/// The architecture names an Arch tag accepts in `model.arch` (its `names`, or its one `name`).
template <class Arch>
std::vector<std::string_view> arch_names() {
  if constexpr (requires { Arch::names; })
    return {Arch::names.begin(), Arch::names.end()};
  else
    return {Arch::name};
}

template <class Arch>
struct ModelOptions : Arch::Options {
  std::string arch;               // required: which architecture (one of the Arch's names)
  Head head = Head::ce;           // "ce": 2 outputs, softmax cross-entropy; "bce": 1 output, sigmoid BCE
  std::filesystem::path weights;  // a timm state_dict to start from (empty: random init)

  template <class V>
  void fields(V& v) {
    v("arch", arch, config::required(), config::OneOf{arch_names<Arch>()});
    v("head", head);
    v("weights", weights);
    Arch::Options::fields(v);
  }
};

template <class Arch>
struct Model : Composes<Model<Arch>> {
  static constexpr std::string_view name = "model";
  using Options = ModelOptions<Arch>;
  Options options{};

  static std::string label() { return "Model<" + std::string(Arch::name) + ">"; }
  Head head() const { return options.head; }
  int classes() const { return head_classes(options.head); }
  /// The configured architecture's name (Arch::name when `arch` was not set, as in code that builds
  /// a stage without a config).
  std::string_view arch() const { return options.arch.empty() ? Arch::name : std::string_view(options.arch); }

  /// The backbone, with `weights` imported when set (see nn/timm_import.hpp).
  torch::nn::AnyModule build(std::int64_t in_chans) const {
    const typename Arch::Options& o = options;
    torch::nn::AnyModule m;
    if constexpr (requires { Arch::build(o, in_chans, std::int64_t{}, std::string_view{}); })
      m = Arch::build(o, in_chans, classes(), arch());
    else
      m = Arch::build(o, in_chans, classes());
    if (!options.weights.empty()) {
      try {
        ImportOptions io;
        io.expect_model = std::string(arch());
        load_state_dict(*m.ptr(), options.weights, io);
      } catch (const Error& e) {
        fail("/model/weights: ", e.what());
      }
    }
    return m;
  }
};

}  // namespace cadence
