#pragma once
// SmallCnn: a compact CNN for CPU demos and tests (the competition's models are EfficientNetV2).
// (B,C,H,W) -> average-pool by `pool` (along frequency by `pool_freq` when set) -> depth x
// [conv3x3-BN-SiLU, max-pool 2] with widths doubling from `width` -> global average pool (or GeM,
// nn/gem.hpp) -> dropout -> linear(classes).
#include <cstdint>
#include <string>
#include <string_view>

#include <torch/nn.h>

#include "cadence/config/options.hpp"
#include "cadence/core/error.hpp"
#include "cadence/nn/batch_norm.hpp"
#include "cadence/nn/gem.hpp"

namespace cadence {

struct SmallCnnOptions {
  int width = 16;                   // channels of the first conv; doubles at each level
  int depth = 4;                    // conv levels
  int pool = 2;                     // input average-pool factor (819x256 -> 409x128 at 2)
  int pool_freq = 0;                // the factor along frequency (the width) when it differs from `pool` (0: as pool)
  double dropout = 0.1;             // before the classifier
  std::string global_pool = "avg";  // avg | gem (generalised mean, p learnt from 3)

  template <class V>
  void fields(V& v) {
    v("width", width, config::in_range(1, 1024));
    v("depth", depth, config::in_range(1, 8));
    v("pool", pool, config::in_range(1, 64));
    v("pool_freq", pool_freq, config::in_range(0, 64));
    v("dropout", dropout, config::in_range(0.0, 0.99));
    v("global_pool", global_pool, config::OneOf{{"avg", "gem"}});
  }
};

class SmallCnnImpl : public torch::nn::Module {
 public:
  SmallCnnImpl(const SmallCnnOptions& o, std::int64_t in_chans, std::int64_t classes) {
    torch::nn::Sequential f;
    const std::int64_t pool_t = o.pool, pool_f = o.pool_freq > 0 ? o.pool_freq : o.pool;
    if (pool_t > 1 || pool_f > 1) f->push_back(torch::nn::AvgPool2d(torch::nn::AvgPool2dOptions({pool_t, pool_f})));
    std::int64_t c = in_chans, w = o.width;
    for (int i = 0; i < o.depth; ++i, c = w, w *= 2) {
      f->push_back(torch::nn::Conv2d(torch::nn::Conv2dOptions(c, w, 3).padding(1).bias(false)));
      f->push_back(BatchNorm2d(w));
      f->push_back(torch::nn::SiLU());
      f->push_back(torch::nn::MaxPool2d(torch::nn::MaxPool2dOptions(2)));
    }
    features = register_module("features", f);
    if (o.global_pool == "gem") gem = register_module("gem", GeM());
    dropout = register_module("dropout", torch::nn::Dropout(o.dropout));
    classifier = register_module("classifier", torch::nn::Linear(c, classes));
  }
  torch::Tensor forward(torch::Tensor x) {  // (B,C,H,W) -> (B,classes)
    x = features->forward(x);
    x = gem ? gem->forward(x) : x.mean({2, 3});
    return classifier->forward(dropout->forward(x));
  }
  torch::nn::Sequential features{nullptr};
  GeM gem{nullptr};  // set when global_pool is "gem"
  torch::nn::Dropout dropout{nullptr};
  torch::nn::Linear classifier{nullptr};
};
TORCH_MODULE(SmallCnn);

/// The arch tag for Model<SmallCnnArch>.
struct SmallCnnArch {
  static constexpr std::string_view name = "small_cnn";
  using Options = SmallCnnOptions;
  static torch::nn::AnyModule build(const Options& o, std::int64_t in_chans, std::int64_t classes) {
    const std::int64_t widest = static_cast<std::int64_t>(o.width) << (o.depth - 1);
    if (widest > 4096)  // sizes checked before anything is allocated
      fail("/model/width: ", o.width, " doubled over ", o.depth, " levels is ", widest, " channels; at most 4096");
    return torch::nn::AnyModule(SmallCnn(o, in_chans, classes));
  }
};

}  // namespace cadence
