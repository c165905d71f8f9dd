#pragma once
// VFlip: albumentations' VerticalFlip, img[::-1] (rows reversed), with probability p.
#include <ATen/Parallel.h>

#include <algorithm>
#include <cstdint>
#include <string_view>
#include <vector>

#include <torch/types.h>

#include "cadence/augment/op.hpp"
#include "cadence/config/options.hpp"
#include "cadence/core/upload.hpp"

namespace cadence {

struct VFlip {
  static constexpr std::string_view name = "vflip";
  static constexpr std::string_view label = "VFlip";  // as printed in a pipeline
  struct Options {
    double p = 0.5;  // probability of flipping a sample
    template <class V>
    void fields(V& v) {
      v("p", p, config::probability());
    }
  };
  struct Params {
    bool apply = false;
  };
  Options options{};

  Params draw(RandomStream& rng, std::int64_t, std::int64_t) const { return {rng.bernoulli(options.p)}; }

  void apply(torch::Tensor& x, const std::vector<Params>& ps) const {             // x: (B,C,H,W)
    if (x.is_cpu() && x.is_contiguous() && x.scalar_type() == torch::kFloat32) {  // swap rows in place
      const std::int64_t C = x.size(1), H = x.size(2), W = x.size(3);
      float* data = x.data_ptr<float>();
      at::parallel_for(0, static_cast<std::int64_t>(ps.size()) * C, 1, [&](std::int64_t begin, std::int64_t end) {
        for (std::int64_t plane = begin; plane < end; ++plane) {
          if (!ps[static_cast<std::size_t>(plane / C)].apply) continue;
          float* img = data + plane * H * W;
          for (std::int64_t y = 0; y < H / 2; ++y)
            std::swap_ranges(img + y * W, img + (y + 1) * W, img + (H - 1 - y) * W);
        }
      });
      return;
    }
    std::vector<std::int64_t> rows;
    for (std::size_t b = 0; b < ps.size(); ++b)
      if (ps[b].apply) rows.push_back(static_cast<std::int64_t>(b));
    if (rows.empty()) return;
    const auto idx = upload(torch::tensor(rows, torch::kLong), x.device());
    x.index_copy_(0, idx, x.index_select(0, idx).flip({2}));
  }
};

}  // namespace cadence
