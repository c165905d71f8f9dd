#pragma once
// VFlip: albumentations' VerticalFlip, img[::-1] (rows reversed), with probability p.
#include <cstdint>
#include <string_view>
#include <vector>

#include <torch/types.h>

#include "cadence/augment/op.hpp"
#include "cadence/config/options.hpp"

namespace cadence {

struct VFlip {
  static constexpr std::string_view name = "vflip";
  static constexpr std::string_view label = "VFlip";  // as printed in a pipeline
  struct Options {
    double p = 0.5;  // probability of flipping a sample
    template <class V> void fields(V& v) { v("p", p, config::probability()); }
  };
  struct Params {
    bool apply = false;
  };
  Options options{};

  Params draw(RandomStream& rng, std::int64_t, std::int64_t) const { return {rng.bernoulli(options.p)}; }

  void apply(torch::Tensor& x, const std::vector<Params>& ps) const {  // x: (B,C,H,W)
    std::vector<std::int64_t> rows;
    for (std::size_t b = 0; b < ps.size(); ++b)
      if (ps[b].apply) rows.push_back(static_cast<std::int64_t>(b));
    if (rows.empty()) return;
    const auto idx = torch::tensor(rows, torch::kLong).to(x.device());
    x.index_copy_(0, idx, x.index_select(0, idx).flip({2}));
  }
};

}  // namespace cadence
