#pragma once
// SpecAug: the seed solution's SpecAugment. With probability p, zero one band of up to alpha*H rows
// (time) and one band of up to alpha*W columns (frequency), across all channels.
#include <cmath>
#include <cstdint>
#include <string_view>
#include <vector>

#include <torch/types.h>

#include "cadence/augment/op.hpp"
#include "cadence/config/options.hpp"

namespace cadence {

struct SpecAug {
  static constexpr std::string_view name = "spec_aug";
  static constexpr std::string_view label = "SpecAug";  // as printed in a pipeline
  struct Options {
    double p = 0.5;      // probability of masking a sample
    double alpha = 0.1;  // the bands are at most alpha*H rows and alpha*W columns wide
    template <class V>
    void fields(V& v) {
      v("p", p, config::probability());
      v("alpha", alpha, config::above(0.0), config::in_range(0.0, 1.0));
    }
  };
  /// Rows [row, row + rows) and columns [col, col + cols) are zeroed.
  struct Params {
    bool apply = false;
    std::int64_t row = 0, rows = 0, col = 0, cols = 0;
  };
  Options options{};

  Params draw(RandomStream& rng, std::int64_t h, std::int64_t w) const {
    Params p;
    p.apply = rng.bernoulli(options.p);
    p.rows = rng.randint(0, static_cast<std::int64_t>(std::floor(options.alpha * static_cast<double>(h))));
    p.row = rng.randint(0, h - p.rows);
    p.cols = rng.randint(0, static_cast<std::int64_t>(std::floor(options.alpha * static_cast<double>(w))));
    p.col = rng.randint(0, w - p.cols);
    return p;
  }

  void apply(torch::Tensor& x, const std::vector<Params>& ps) const {  // x: (B,C,H,W)
    for (std::size_t b = 0; b < ps.size(); ++b) {
      const auto& p = ps[b];
      if (!p.apply) continue;
      auto s = x[static_cast<std::int64_t>(b)];
      if (p.rows > 0) s.narrow(1, p.row, p.rows).zero_();
      if (p.cols > 0) s.narrow(2, p.col, p.cols).zero_();
    }
  }
};

}  // namespace cadence
