#pragma once
// MotionBlur: albumentations' MotionBlur (1.0.3) with probability p.
//
// Per sample: an odd kernel size k uniform in {3, 5, ..., blur_limit}; two points of the k x k grid
// (xs, xe uniform; ys, ye uniform, or two distinct rows when xs == xe); the kernel is cv2.line between
// them (8-connected Bresenham, thickness 1) divided by its number of pixels. It is applied as
// cv2.filter2D: correlation, anchor at the centre, BORDER_REFLECT_101.
#include <ATen/Parallel.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <string_view>
#include <utility>
#include <vector>

#include <torch/types.h>

#include "cadence/augment/op.hpp"
#include "cadence/config/options.hpp"
#include "cadence/core/upload.hpp"

namespace cadence {

/// cv2.line(img, (x1, y1), (x2, y2), 1, thickness=1, lineType=LINE_8) on a k x k grid: the pixels
/// of OpenCV's LineIterator (8-connected, drawn left to right), as (x, y) pairs.
inline std::vector<std::pair<int, int>> line_pixels(int x1, int y1, int x2, int y2) {
  if (x2 < x1) {  // leftToRight = true: always iterate from the left end
    std::swap(x1, x2);
    std::swap(y1, y2);
  }
  int dx = x2 - x1, dy = y2 - y1;
  int step_x = 1, step_y = 1;
  if (dy < 0) {
    dy = -dy;
    step_y = -1;
  }
  const bool vertical = dy > dx;
  if (vertical) std::swap(dx, dy);  // dx: the major axis' length from here on
  int err = dx - (dy + dy);
  const int plus = dx + dx, minus = -(dy + dy);
  std::vector<std::pair<int, int>> out;
  int x = x1, y = y1;
  for (int i = 0; i <= dx; ++i) {
    out.emplace_back(x, y);
    const bool minor = err < 0;
    err += minus + (minor ? plus : 0);
    if (vertical) {
      y += step_y;
      if (minor) x += step_x;
    } else {
      x += step_x;
      if (minor) y += step_y;
    }
  }
  return out;
}

struct MotionBlur {
  static constexpr std::string_view name = "motion_blur";
  static constexpr std::string_view label = "MotionBlur";  // as printed in a pipeline
  struct Options {
    double p = 0.5;      // probability of blurring a sample
    int blur_limit = 7;  // largest kernel size (odd, >= 3); sizes 3..blur_limit
    template <class V>
    void fields(V& v) {
      v("p", p, config::probability());
      v("blur_limit", blur_limit, config::at_least(3), config::odd());
    }
  };
  /// The kernel as its nonzero taps: offsets (dy, dx) from the anchor, all with weight `weight`.
  struct Params {
    bool apply = false;
    int ksize = 3;
    int xs = 0, ys = 0, xe = 0, ye = 0;
    std::vector<std::pair<int, int>> taps;  // (row, col) offsets relative to the centre
    float weight = 1.f;
  };
  Options options{};

  /// The kernel for a given size and endpoints (deterministic; exposed for tests).
  static Params kernel(int ksize, int xs, int ys, int xe, int ye) {
    Params p;
    p.apply = true;
    p.ksize = ksize;
    p.xs = xs;
    p.ys = ys;
    p.xe = xe;
    p.ye = ye;
    const int a = ksize / 2;
    for (auto [x, y] : line_pixels(xs, ys, xe, ye)) p.taps.emplace_back(y - a, x - a);
    std::sort(p.taps.begin(), p.taps.end());  // row-major, as filter2D walks its nonzero taps
    p.weight = 1.f / static_cast<float>(p.taps.size());
    return p;
  }

  Params draw(RandomStream& rng, std::int64_t, std::int64_t) const {
    const bool apply = rng.bernoulli(options.p);
    const int k = 3 + 2 * static_cast<int>(rng.randint(0, (options.blur_limit - 3) / 2));
    const int xs = static_cast<int>(rng.randint(0, k - 1)), xe = static_cast<int>(rng.randint(0, k - 1));
    int ys, ye;
    if (xs == xe) {  // random.sample(range(k), 2): two distinct rows
      ys = static_cast<int>(rng.randint(0, k - 1));
      ye = static_cast<int>(rng.randint(0, k - 2));
      if (ye >= ys) ++ye;
    } else {
      ys = static_cast<int>(rng.randint(0, k - 1));
      ye = static_cast<int>(rng.randint(0, k - 1));
    }
    Params p = kernel(k, xs, ys, xe, ye);
    p.apply = apply;
    return p;
  }

  void apply(torch::Tensor& x, const std::vector<Params>& ps) const {  // x: (B,C,H,W) float32
    if (x.is_cpu() && x.is_contiguous() && x.scalar_type() == torch::kFloat32)
      apply_cpu(x, ps);
    else
      apply_tensor(x, ps);
  }

  /// CPU: per (sample, channel) plane, a reflect-101 padded copy, then one pass per nonzero tap.
  void apply_cpu(torch::Tensor& x, const std::vector<Params>& ps) const {
    const std::int64_t C = x.size(1), H = x.size(2), W = x.size(3);
    std::vector<std::int64_t> planes;
    for (std::size_t b = 0; b < ps.size(); ++b)
      if (ps[b].apply)
        for (std::int64_t c = 0; c < C; ++c) planes.push_back(static_cast<std::int64_t>(b) * C + c);
    float* data = x.data_ptr<float>();
    at::parallel_for(0, static_cast<std::int64_t>(planes.size()), 1, [&](std::int64_t begin, std::int64_t end) {
      // a per-thread buffer, reused: a fresh one per call was zero-filled (850 KB) before being written
      thread_local std::vector<float> pad;
      for (std::int64_t i = begin; i < end; ++i) {
        const std::int64_t plane = planes[static_cast<std::size_t>(i)];
        const Params& p = ps[static_cast<std::size_t>(plane / C)];
        const std::int64_t a = p.ksize / 2, PW = W + 2 * a;
        float* img = data + plane * H * W;
        pad.resize(static_cast<std::size_t>((H + 2 * a) * PW));
        for (std::int64_t y = -a; y < H + a; ++y) {
          const float* srow = img + border_index(y, H, BorderMode::reflect_101) * W;
          float* prow = pad.data() + (y + a) * PW;
          for (std::int64_t xx = -a; xx < 0; ++xx) prow[xx + a] = srow[border_index(xx, W, BorderMode::reflect_101)];
          std::copy(srow, srow + W, prow + a);
          for (std::int64_t xx = W; xx < W + a; ++xx) prow[xx + a] = srow[border_index(xx, W, BorderMode::reflect_101)];
        }
        for (std::int64_t y = 0; y < H; ++y) {
          float* out = img + y * W;
          std::fill(out, out + W, 0.f);
          for (auto [dy, dx] : p.taps) {
            const float* in = pad.data() + (y + a + dy) * PW + a + dx;
            for (std::int64_t xx = 0; xx < W; ++xx) out[xx] += in[xx];
          }
          for (std::int64_t xx = 0; xx < W; ++xx) out[xx] *= p.weight;
        }
      }
    });
  }

  /// Any device: reflect padding + one grouped convolution (conv2d is a correlation, as filter2D).
  void apply_tensor(torch::Tensor& x, const std::vector<Params>& ps) const {
    const std::int64_t C = x.size(1), H = x.size(2), W = x.size(3);
    const int K = options.blur_limit;
    std::vector<std::int64_t> rows;
    std::vector<float> kernels;
    for (std::size_t b = 0; b < ps.size(); ++b) {
      if (!ps[b].apply) continue;
      rows.push_back(static_cast<std::int64_t>(b));
      std::vector<float> k(static_cast<std::size_t>(K * K), 0.f);  // centred in K x K: same result
      for (auto [dy, dx] : ps[b].taps) k[static_cast<std::size_t>((dy + K / 2) * K + dx + K / 2)] = ps[b].weight;
      for (std::int64_t c = 0; c < C; ++c) kernels.insert(kernels.end(), k.begin(), k.end());
    }
    if (rows.empty()) return;
    const auto n = static_cast<std::int64_t>(rows.size());
    const auto idx = upload(torch::tensor(rows, torch::kLong), x.device());
    const auto weight = upload(torch::tensor(kernels, torch::kFloat32).view({n * C, 1, K, K}), x.device());
    auto sel = x.index_select(0, idx).reshape({1, n * C, H, W});
    sel = torch::reflection_pad2d(sel, {K / 2, K / 2, K / 2, K / 2});  // torch's reflect = OpenCV's reflect-101
    const auto out = torch::conv2d(sel, weight, c10::optional<torch::Tensor>(), torch::IntArrayRef{1, 1},
                                   torch::IntArrayRef{0, 0}, torch::IntArrayRef{1, 1}, n * C);
    x.index_copy_(0, idx, out.view({n, C, H, W}));
  }
};

}  // namespace cadence
