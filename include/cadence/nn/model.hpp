#pragma once
// Model<Arch>: the network's backbone as a pipeline stage. The type names the architecture; JSON
// (the stage's key is "model") holds the head and the architecture's numbers.
#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>

#include <torch/nn.h>

#include "cadence/config/options.hpp"
#include "cadence/core/pipeline.hpp"
#include "cadence/nn/head.hpp"
#include "cadence/nn/timm_import.hpp"

namespace cadence {

template <class ArchOptions>
struct ModelOptions : ArchOptions {
  Head head = Head::ce;             // "ce": 2 outputs, softmax cross-entropy; "bce": 1 output, sigmoid BCE
  std::filesystem::path weights;    // a timm state_dict to start from (empty: random init)

  template <class V> void fields(V& v) {
    v("head", head);
    v("weights", weights);
    ArchOptions::fields(v);
  }
};

template <class Arch>
struct Model : Composes<Model<Arch>> {
  static constexpr std::string_view name = "model";
  static constexpr StageKind kind = StageKind::module;
  static constexpr bool is_model = true;
  using Options = ModelOptions<typename Arch::Options>;
  Options options{};

  static std::string label() { return "Model<" + std::string(Arch::name) + ">"; }
  int classes() const { return head_classes(options.head); }
  /// The backbone, with `weights` imported when set (see nn/timm_import.hpp).
  torch::nn::AnyModule build(std::int64_t in_chans) const {
    auto m = Arch::build(options, in_chans, classes());
    if (!options.weights.empty()) {
      try {
        load_state_dict(*m.ptr(), options.weights);
      } catch (const Error& e) {
        fail("/model/weights: ", e.what());
      }
    }
    return m;
  }
};

/// One torch::nn::Sequential of the pipeline's module stages, in pipeline order.
template <class P>
torch::nn::Sequential build_network(const P& pipeline, std::int64_t in_chans) {
  torch::nn::Sequential net;
  pipeline.for_each([&](const auto& s) {
    if constexpr (std::remove_cvref_t<decltype(s)>::kind == StageKind::module) net->push_back(s.build(in_chans));
  });
  return net;
}

/// The pipeline's head (from its Model stage).
template <class P>
Head pipeline_head(const P& pipeline) {
  Head h = Head::ce;
  pipeline.for_each([&](const auto& s) {
    if constexpr (ModelStage<std::remove_cvref_t<decltype(s)>>) h = s.options.head;
  });
  return h;
}

}  // namespace cadence
