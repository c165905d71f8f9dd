#pragma once
// SSR: albumentations' ShiftScaleRotate (1.0.3) with probability p.
//
// Per sample: angle ~ U(-rotate_limit, rotate_limit) degrees, scale ~ U(1 - scale_limit, 1 + scale_limit),
// dx ~ U(-shift_limit_x, shift_limit_x), dy likewise. The forward matrix is
// cv2.getRotationMatrix2D((w/2, h/2), angle, scale) plus (dx*w, dy*h); the image is resampled as
// cv2.warpAffine(INTER_LINEAR) does it, down to OpenCV's fixed point: source coordinates are
// quantised to 1/32 pixel (AB_BITS = 10, INTER_BITS = 5) and the bilinear weights come from its
// 32x32 float table. That is what makes the output match albumentations to 1e-5, not just "close".
//
// Two implementations of the same arithmetic: a CPU kernel (rows in parallel), and tensor ops for any
// device. Tests hold both to albumentations' own outputs.
#include <ATen/Parallel.h>

#include <array>
#include <cmath>
#include <cstdint>
#include <numbers>
#include <optional>
#include <string_view>
#include <vector>

#include <torch/types.h>

#include "cadence/augment/op.hpp"
#include "cadence/config/options.hpp"

namespace cadence {

namespace ssr_detail {

constexpr int kInterBits = 5, kTab = 1 << kInterBits;  // 1/32 pixel
constexpr int kAbBits = 10, kAbScale = 1 << kAbBits;
constexpr int kRoundDelta = kAbScale / kTab / 2;

/// OpenCV's INTER_LINEAR weight table for float images: w[fy*32+fx] = {(1-y)(1-x), (1-y)x, y(1-x), yx}.
inline const std::array<std::array<float, 4>, kTab * kTab>& weights() {
  static const auto table = [] {
    std::array<std::array<float, 4>, kTab * kTab> t{};
    for (int i = 0; i < kTab; ++i)
      for (int j = 0; j < kTab; ++j) {
        const float y = static_cast<float>(i) * (1.f / kTab), x = static_cast<float>(j) * (1.f / kTab);
        t[static_cast<std::size_t>(i * kTab + j)] = {(1.f - y) * (1.f - x), (1.f - y) * x, y * (1.f - x), y * x};
      }
    return t;
  }();
  return table;
}

/// cvRound: round half to even, as saturate_cast<int>(double).
inline std::int64_t cv_round(double v) { return static_cast<std::int64_t>(std::nearbyint(v)); }

}  // namespace ssr_detail

struct SSR {
  static constexpr std::string_view name = "ssr";
  static constexpr std::string_view label = "SSR";  // as printed in a pipeline
  struct Options {
    double p = 0.5;                       // probability of transforming a sample
    double shift_limit = 0.0625;          // |dx|, |dy| <= shift_limit (fractions of width, height)
    std::optional<double> shift_limit_x;  // per-axis override of shift_limit (null: use shift_limit)
    std::optional<double> shift_limit_y;
    double scale_limit = 0.1;             // scale in [1 - scale_limit, 1 + scale_limit]
    double rotate_limit = 45.0;           // angle in [-rotate_limit, rotate_limit] degrees
    BorderMode border_mode = BorderMode::reflect_101;  // reflect_101 | constant | replicate | reflect
    double value = 0.0;                   // fill for border_mode "constant"

    template <class V> void fields(V& v) {
      v("p", p, config::probability());
      v("shift_limit", shift_limit, config::in_range(0.0, 1.0));
      v("shift_limit_x", shift_limit_x, config::in_range(0.0, 1.0));
      v("shift_limit_y", shift_limit_y, config::in_range(0.0, 1.0));
      v("scale_limit", scale_limit, config::in_range(0.0, 0.99));
      v("rotate_limit", rotate_limit, config::in_range(0.0, 180.0));
      v("border_mode", border_mode);
      v("value", value);
    }
  };
  struct Params {
    bool apply = false;
    double angle = 0.0, scale = 1.0, dx = 0.0, dy = 0.0;
  };
  Options options{};

  Params draw(RandomStream& rng, std::int64_t, std::int64_t) const {
    Params p;
    p.apply = rng.bernoulli(options.p);
    const double sx = options.shift_limit_x.value_or(options.shift_limit);
    const double sy = options.shift_limit_y.value_or(options.shift_limit);
    p.angle = rng.uniform(-options.rotate_limit, options.rotate_limit);
    p.scale = rng.uniform(1.0 - options.scale_limit, 1.0 + options.scale_limit);
    p.dx = rng.uniform(-sx, sx);
    p.dy = rng.uniform(-sy, sy);
    return p;
  }

  /// The inverse map (destination -> source) that cv2.warpAffine uses, row-major 2x3.
  static std::array<double, 6> inverse_matrix(const Params& p, std::int64_t h, std::int64_t w) {
    const double cx = static_cast<double>(w) / 2.0, cy = static_cast<double>(h) / 2.0;
    const double a = std::cos(p.angle * std::numbers::pi / 180.0) * p.scale;
    const double b = std::sin(p.angle * std::numbers::pi / 180.0) * p.scale;
    std::array<double, 6> m{a, b, (1 - a) * cx - b * cy + p.dx * static_cast<double>(w),
                            -b, a, b * cx + (1 - a) * cy + p.dy * static_cast<double>(h)};
    double d = m[0] * m[4] - m[1] * m[3];
    d = d != 0.0 ? 1.0 / d : 0.0;
    const double a11 = m[4] * d, a22 = m[0] * d;
    m[0] = a11;
    m[1] *= -d;
    m[3] *= -d;
    m[4] = a22;
    const double b1 = -m[0] * m[2] - m[1] * m[5];
    const double b2 = -m[3] * m[2] - m[4] * m[5];
    m[2] = b1;
    m[5] = b2;
    return m;
  }

  void apply(torch::Tensor& x, const std::vector<Params>& ps) const {  // x: (B,C,H,W) float32
    if (x.is_cpu() && x.is_contiguous() && x.scalar_type() == torch::kFloat32) apply_cpu(x, ps);
    else apply_tensor(x, ps);
  }

  /// The CPU kernel.
  void apply_cpu(torch::Tensor& x, const std::vector<Params>& ps) const {
    using namespace ssr_detail;
    const std::int64_t C = x.size(1), H = x.size(2), W = x.size(3);
    struct Job {
      std::int64_t b;
      std::array<double, 6> m;
      std::vector<int> adelta, bdelta;
      torch::Tensor src;
    };
    std::vector<Job> jobs;
    for (std::size_t b = 0; b < ps.size(); ++b) {
      if (!ps[b].apply) continue;
      Job j{static_cast<std::int64_t>(b), inverse_matrix(ps[b], H, W), std::vector<int>(static_cast<std::size_t>(W)),
            std::vector<int>(static_cast<std::size_t>(W)), x[static_cast<std::int64_t>(b)].clone()};
      for (std::int64_t c = 0; c < W; ++c) {
        j.adelta[static_cast<std::size_t>(c)] = static_cast<int>(cv_round(j.m[0] * static_cast<double>(c) * kAbScale));
        j.bdelta[static_cast<std::size_t>(c)] = static_cast<int>(cv_round(j.m[3] * static_cast<double>(c) * kAbScale));
      }
      jobs.push_back(std::move(j));
    }
    if (jobs.empty()) return;
    const auto& tab = weights();
    const BorderMode mode = options.border_mode;
    const float cval = static_cast<float>(options.value);
    float* out = x.data_ptr<float>();
    const auto rows = static_cast<std::int64_t>(jobs.size()) * C * H;
    at::parallel_for(0, rows, 64, [&](std::int64_t begin, std::int64_t end) {
      for (std::int64_t r = begin; r < end; ++r) {
        const auto& j = jobs[static_cast<std::size_t>(r / (C * H))];
        const std::int64_t c = r / H % C, y = r % H;
        const float* s = j.src.data_ptr<float>() + c * H * W;
        float* d = out + ((j.b * C + c) * H + y) * W;
        const int X0 = static_cast<int>(cv_round((j.m[1] * static_cast<double>(y) + j.m[2]) * kAbScale)) + kRoundDelta;
        const int Y0 = static_cast<int>(cv_round((j.m[4] * static_cast<double>(y) + j.m[5]) * kAbScale)) + kRoundDelta;
        for (std::int64_t xx = 0; xx < W; ++xx) {
          const int X = (X0 + j.adelta[static_cast<std::size_t>(xx)]) >> (kAbBits - kInterBits);
          const int Y = (Y0 + j.bdelta[static_cast<std::size_t>(xx)]) >> (kAbBits - kInterBits);
          const std::int64_t sx = X >> kInterBits, sy = Y >> kInterBits;
          const auto& w = tab[static_cast<std::size_t>((Y & (kTab - 1)) * kTab + (X & (kTab - 1)))];
          if (sx >= 0 && sx < W - 1 && sy >= 0 && sy < H - 1) {
            const float* p0 = s + sy * W + sx;
            d[xx] = p0[0] * w[0] + p0[1] * w[1] + p0[W] * w[2] + p0[W + 1] * w[3];
          } else if (mode == BorderMode::constant && (sx >= W || sx + 1 < 0 || sy >= H || sy + 1 < 0)) {
            d[xx] = cval;
          } else {
            const std::int64_t x0 = border_index(sx, W, mode), x1 = border_index(sx + 1, W, mode);
            const std::int64_t y0 = border_index(sy, H, mode), y1 = border_index(sy + 1, H, mode);
            auto at = [&](std::int64_t yy, std::int64_t xq) { return yy >= 0 && xq >= 0 ? s[yy * W + xq] : cval; };
            d[xx] = at(y0, x0) * w[0] + at(y0, x1) * w[1] + at(y1, x0) * w[2] + at(y1, x1) * w[3];
          }
        }
      }
    });
  }

  /// The same arithmetic as tensor ops, for any device.
  void apply_tensor(torch::Tensor& x, const std::vector<Params>& ps) const {
    using namespace ssr_detail;
    std::vector<std::int64_t> rows;
    std::vector<double> mats;
    const std::int64_t B = x.size(0), C = x.size(1), H = x.size(2), W = x.size(3);
    for (std::size_t b = 0; b < ps.size(); ++b) {
      if (!ps[b].apply) continue;
      rows.push_back(static_cast<std::int64_t>(b));
      const auto m = inverse_matrix(ps[b], H, W);
      mats.insert(mats.end(), m.begin(), m.end());
    }
    if (rows.empty()) return;
    (void)B;
    const auto dev = x.device();
    const auto n = static_cast<std::int64_t>(rows.size());
    const auto idx = torch::tensor(rows, torch::kLong).to(dev);
    const auto m = torch::tensor(mats, torch::kFloat64).view({n, 6}).to(dev);
    const auto f64 = torch::TensorOptions().dtype(torch::kFloat64).device(dev);
    const auto xs = torch::arange(W, f64).view({1, 1, W});
    const auto ys = torch::arange(H, f64).view({1, H, 1});
    auto col = [&](int k) { return m.select(1, k).view({n, 1, 1}); };
    auto fixed = [](const torch::Tensor& t) { return torch::round(t * kAbScale).to(torch::kLong); };
    const auto X = torch::div(fixed(col(1) * ys + col(2)) + kRoundDelta + fixed(col(0) * xs), 1 << (kAbBits - kInterBits), "floor");
    const auto Y = torch::div(fixed(col(4) * ys + col(5)) + kRoundDelta + fixed(col(3) * xs), 1 << (kAbBits - kInterBits), "floor");
    const auto sx = torch::div(X, kTab, "floor"), sy = torch::div(Y, kTab, "floor");  // (n,H,W)
    const auto fx = (X - sx * kTab).to(torch::kFloat32) * (1.f / kTab);
    const auto fy = (Y - sy * kTab).to(torch::kFloat32) * (1.f / kTab);
    const auto src = x.index_select(0, idx).reshape({n, C, H * W});
    const auto mode = options.border_mode;
    auto tap = [&](std::int64_t oy, std::int64_t ox) {
      const auto yy = border_index(sy + oy, H, mode), xq = border_index(sx + ox, W, mode);
      const auto valid = (yy >= 0).logical_and(xq >= 0).view({n, 1, H * W});
      const auto flat = (yy.clamp_min(0) * W + xq.clamp_min(0)).view({n, 1, H * W}).expand({n, C, H * W});
      return torch::where(valid, src.gather(2, flat), torch::full({}, options.value, src.options()));
    };
    const auto wy0 = (1.f - fy).view({n, 1, H * W}), wy1 = fy.view({n, 1, H * W});
    const auto wx0 = (1.f - fx).view({n, 1, H * W}), wx1 = fx.view({n, 1, H * W});
    const auto outv = tap(0, 0) * (wy0 * wx0) + tap(0, 1) * (wy0 * wx1) + tap(1, 0) * (wy1 * wx0) + tap(1, 1) * (wy1 * wx1);
    x.index_copy_(0, idx, outv.view({n, C, H, W}));
  }
};

}  // namespace cadence
