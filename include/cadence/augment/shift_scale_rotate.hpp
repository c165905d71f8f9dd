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
#include <cstring>
#include <numbers>
#include <optional>
#include <string_view>
#include <utility>
#include <vector>

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>
#endif

#include <torch/types.h>

#include "cadence/augment/op.hpp"
#include "cadence/config/options.hpp"
#include "cadence/core/upload.hpp"

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

/// One destination row: source plane `s` (H x W), destination row `d`, the row's fixed-point origin
/// (X0, Y0) and the per-column steps. Pixels [from, to) only.
struct Row {
  const float* s;
  float* d;
  int X0, Y0;
  const int* adelta;
  const int* bdelta;
  std::int64_t H, W;
  BorderMode mode;
  float cval;
};

inline void row_scalar(const Row& r, std::int64_t from, std::int64_t to) {
  const auto& tab = weights();
  const std::int64_t W = r.W, H = r.H;
  for (std::int64_t xx = from; xx < to; ++xx) {
    const int X = (r.X0 + r.adelta[xx]) >> (kAbBits - kInterBits);
    const int Y = (r.Y0 + r.bdelta[xx]) >> (kAbBits - kInterBits);
    const std::int64_t sx = X >> kInterBits, sy = Y >> kInterBits;
    const auto& w = tab[static_cast<std::size_t>((Y & (kTab - 1)) * kTab + (X & (kTab - 1)))];
    if (sx >= 0 && sx < W - 1 && sy >= 0 && sy < H - 1) {
      const float* p0 = r.s + sy * W + sx;
      r.d[xx] = p0[0] * w[0] + p0[1] * w[1] + p0[W] * w[2] + p0[W + 1] * w[3];
    } else if (r.mode == BorderMode::constant && (sx >= W || sx + 1 < 0 || sy >= H || sy + 1 < 0)) {
      r.d[xx] = r.cval;
    } else {
      const std::int64_t x0 = border_index(sx, W, r.mode), x1 = border_index(sx + 1, W, r.mode);
      const std::int64_t y0 = border_index(sy, H, r.mode), y1 = border_index(sy + 1, H, r.mode);
      auto at = [&](std::int64_t yy, std::int64_t xq) { return yy >= 0 && xq >= 0 ? r.s[yy * W + xq] : r.cval; };
      r.d[xx] = at(y0, x0) * w[0] + at(y0, x1) * w[1] + at(y1, x0) * w[2] + at(y1, x1) * w[3];
    }
  }
}

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define CADENCE_SSR_AVX2 1
// border_index() of eight coordinates, each in [-(len - 1), 2 (len - 1)] (one reflection at most: the
// caller checks), without a branch or a table: constant gives -1 outside, as border_index() does.
__attribute__((target("avx2"))) inline __m256i border_index8(__m256i p, std::int64_t len, BorderMode mode) {
  const __m256i last = _mm256_set1_epi32(static_cast<int>(len - 1));
  switch (mode) {
    case BorderMode::constant:  // -1 where p < 0 or p > len - 1
      return _mm256_or_si256(
          p, _mm256_or_si256(_mm256_cmpgt_epi32(_mm256_setzero_si256(), p), _mm256_cmpgt_epi32(p, last)));
    case BorderMode::replicate:
      return _mm256_min_epi32(_mm256_max_epi32(p, _mm256_setzero_si256()), last);
    case BorderMode::reflect_101:  // |p| folds the left side, len - 1 - |len - 1 - q| the right
      return _mm256_sub_epi32(last, _mm256_abs_epi32(_mm256_sub_epi32(last, _mm256_abs_epi32(p))));
    case BorderMode::reflect: {  // -1 - p on the left (~p), 2 len - 1 - q on the right (len - 1 - ~(len - 1 - q))
      const __m256i q = _mm256_xor_si256(p, _mm256_srai_epi32(p, 31));
      const __m256i m = _mm256_sub_epi32(last, q);
      return _mm256_sub_epi32(last, _mm256_xor_si256(m, _mm256_srai_epi32(m, 31)));
    }
  }
  return p;
}

// Eight floats s[idx[k]] by plain loads (a gather of eight costs more on AMD's Zen cores).
__attribute__((target("avx2"))) inline __m256 load8(const float* s, __m256i index) {
  alignas(32) std::int32_t i[8];
  _mm256_store_si256(reinterpret_cast<__m256i*>(i), index);
  return _mm256_setr_ps(s[i[0]], s[i[1]], s[i[2]], s[i[3]], s[i[4]], s[i[5]], s[i[6]], s[i[7]]);
}

// Lanes whose p and p + 1 both lie in [-(len - 1), 2 (len - 1)], where border_index8() holds.
__attribute__((target("avx2"))) inline __m256i within_one_reflection(__m256i p, std::int64_t len) {
  return _mm256_andnot_si256(_mm256_cmpgt_epi32(_mm256_set1_epi32(static_cast<int>(1 - len)), p),
                             _mm256_cmpgt_epi32(_mm256_set1_epi32(static_cast<int>(2 * len - 2)), p));
}

// One tap of eight pixels for the constant border: a -1 coordinate reads `fill` (its load reads s[0]).
__attribute__((target("avx2"))) inline __m256 filled_tap(const float* s, __m256i yw, __m256i x, __m256 fill) {
  const __m256i out =
      _mm256_or_si256(_mm256_cmpgt_epi32(_mm256_setzero_si256(), yw), _mm256_cmpgt_epi32(_mm256_setzero_si256(), x));
  return _mm256_blendv_ps(load8(s, _mm256_andnot_si256(out, _mm256_add_epi32(yw, x))), fill, _mm256_castsi256_ps(out));
}

// The four taps of eight pixels near the border. False if a tap lies more than one reflection away
// (the caller falls back to the scalar row).
__attribute__((target("avx2"))) inline bool border_taps(const Row& r, __m256i sx, __m256i sy, __m256& p00, __m256& p01,
                                                        __m256& p10, __m256& p11) {
  const __m256i one = _mm256_set1_epi32(1);
  if (_mm256_movemask_ps(_mm256_castsi256_ps(
          _mm256_and_si256(within_one_reflection(sx, r.W), within_one_reflection(sy, r.H)))) != 0xFF)
    return false;
  const __m256i x0 = border_index8(sx, r.W, r.mode), x1 = border_index8(_mm256_add_epi32(sx, one), r.W, r.mode);
  const __m256i y0 = border_index8(sy, r.H, r.mode), y1 = border_index8(_mm256_add_epi32(sy, one), r.H, r.mode);
  const __m256i wv = _mm256_set1_epi32(static_cast<int>(r.W));
  const __m256i y0w = _mm256_mullo_epi32(y0, wv), y1w = _mm256_mullo_epi32(y1, wv);
  if (r.mode != BorderMode::constant) {
    p00 = load8(r.s, _mm256_add_epi32(y0w, x0));
    p01 = load8(r.s, _mm256_add_epi32(y0w, x1));
    p10 = load8(r.s, _mm256_add_epi32(y1w, x0));
    p11 = load8(r.s, _mm256_add_epi32(y1w, x1));
    return true;
  }
  const __m256 fill = _mm256_set1_ps(r.cval);
  p00 = filled_tap(r.s, y0w, x0, fill);
  p01 = filled_tap(r.s, y0w, x1, fill);
  p10 = filled_tap(r.s, y1w, x0, fill);
  p11 = filled_tap(r.s, y1w, x1, fill);
  return true;
}

// Two pixels' adjacent taps, (s[a], s[a + 1], s[b], s[b + 1]), as two 64-bit loads (through the
// may-alias vector types, not a double*).
inline __m128 two_pairs(const float* s, std::int32_t a, std::int32_t b) {
  return _mm_loadh_pi(_mm_castsi128_ps(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(s + a))),
                      reinterpret_cast<const __m64*>(s + b));
}

// The two horizontal taps of eight pixels, s[idx[k]] and s[idx[k] + 1], as eight 64-bit loads and four
// shuffles (the taps are adjacent in memory), in place of two gathers of eight.
__attribute__((target("avx2"))) inline void pairs(const float* s, const std::int32_t* idx, __m256& left,
                                                  __m256& right) {
  const auto two = [s, idx](int a, int b) { return two_pairs(s, idx[a], idx[b]); };
  const __m256 lo = _mm256_insertf128_ps(_mm256_castps128_ps256(two(0, 1)), two(4, 5), 1);  // 0 1 | 4 5
  const __m256 hi = _mm256_insertf128_ps(_mm256_castps128_ps256(two(2, 3)), two(6, 7), 1);  // 2 3 | 6 7
  left = _mm256_shuffle_ps(lo, hi, _MM_SHUFFLE(2, 0, 2, 0));
  right = _mm256_shuffle_ps(lo, hi, _MM_SHUFFLE(3, 1, 3, 1));
}

// Eight pixels at a time: the same fixed-point coordinates, the same weights (computed, not looked up:
// j/32 and 1 - j/32 are exact in float, so each product rounds as the table's did) and the same
// left-to-right sums (no FMA, so nothing is contracted): bit for bit the scalar row. Blocks with a tap
// outside the image reflect (clamp, fill) their coordinates in vector registers; blocks more than one
// reflection out go to the scalar code. No gathers: on AMD's Zen 2 cores one gather of eight floats
// cost more than eight loads, and this kernel is most of the input pipeline's time (docs/performance.md).
__attribute__((target("avx2"))) inline void row_avx2(const Row& r) {
  const std::int64_t W = r.W, H = r.H;
  const __m256i x0v = _mm256_set1_epi32(r.X0), y0v = _mm256_set1_epi32(r.Y0);
  const __m256i lo = _mm256_set1_epi32(-1), wmax = _mm256_set1_epi32(static_cast<int>(W - 1)),
                hmax = _mm256_set1_epi32(static_cast<int>(H - 1)), wv = _mm256_set1_epi32(static_cast<int>(W)),
                mask = _mm256_set1_epi32(kTab - 1);
  const __m256 one = _mm256_set1_ps(1.f), step = _mm256_set1_ps(1.f / kTab);
  std::int64_t xx = 0;
  for (; xx + 8 <= W; xx += 8) {
    const __m256i X =
        _mm256_srai_epi32(_mm256_add_epi32(x0v, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(r.adelta + xx))),
                          kAbBits - kInterBits);
    const __m256i Y =
        _mm256_srai_epi32(_mm256_add_epi32(y0v, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(r.bdelta + xx))),
                          kAbBits - kInterBits);
    const __m256i sx = _mm256_srai_epi32(X, kInterBits), sy = _mm256_srai_epi32(Y, kInterBits);
    const __m256i inside = _mm256_and_si256(_mm256_and_si256(_mm256_cmpgt_epi32(sx, lo), _mm256_cmpgt_epi32(wmax, sx)),
                                            _mm256_and_si256(_mm256_cmpgt_epi32(sy, lo), _mm256_cmpgt_epi32(hmax, sy)));
    const __m256 fx = _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_and_si256(X, mask)), step);
    const __m256 fy = _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_and_si256(Y, mask)), step);
    const __m256 gx = _mm256_sub_ps(one, fx), gy = _mm256_sub_ps(one, fy);
    __m256 p00, p01, p10, p11;
    if (_mm256_movemask_ps(_mm256_castsi256_ps(inside)) == 0xFF) {
      alignas(32) std::int32_t idx[8];
      _mm256_store_si256(reinterpret_cast<__m256i*>(idx), _mm256_add_epi32(_mm256_mullo_epi32(sy, wv), sx));
      pairs(r.s, idx, p00, p01);
      pairs(r.s + W, idx, p10, p11);
    } else {  // some taps outside: their coordinates reflected (or clamped, or filled) as border_index() does
      if (!border_taps(r, sx, sy, p00, p01, p10, p11)) {  // or farther out than one reflection
        row_scalar(r, xx, xx + 8);
        continue;
      }
    }
    __m256 acc = _mm256_mul_ps(p00, _mm256_mul_ps(gy, gx));
    acc = _mm256_add_ps(acc, _mm256_mul_ps(p01, _mm256_mul_ps(gy, fx)));
    acc = _mm256_add_ps(acc, _mm256_mul_ps(p10, _mm256_mul_ps(fy, gx)));
    acc = _mm256_add_ps(acc, _mm256_mul_ps(p11, _mm256_mul_ps(fy, fx)));
    if (r.mode == BorderMode::constant) {  // wholly outside: exactly the fill value, as the scalar code
      const __m256i outside = _mm256_or_si256(
          _mm256_or_si256(_mm256_cmpgt_epi32(sx, _mm256_set1_epi32(static_cast<int>(W - 1))),
                          _mm256_cmpgt_epi32(_mm256_setzero_si256(), _mm256_add_epi32(sx, _mm256_set1_epi32(1)))),
          _mm256_or_si256(_mm256_cmpgt_epi32(sy, _mm256_set1_epi32(static_cast<int>(H - 1))),
                          _mm256_cmpgt_epi32(_mm256_setzero_si256(), _mm256_add_epi32(sy, _mm256_set1_epi32(1)))));
      acc = _mm256_blendv_ps(acc, _mm256_set1_ps(r.cval), _mm256_castsi256_ps(outside));
    }
    _mm256_storeu_ps(r.d + xx, acc);
  }
  row_scalar(r, xx, W);
}

inline bool has_avx2() {
  static const bool yes = __builtin_cpu_supports("avx2");
  return yes;
}
#endif

inline void row(const Row& r) {
#ifdef CADENCE_SSR_AVX2
  if (has_avx2() && r.W * r.H < (std::int64_t{1} << 31)) return row_avx2(r);
#endif
  row_scalar(r, 0, r.W);
}

}  // namespace ssr_detail

struct SSR {
  static constexpr std::string_view name = "ssr";
  static constexpr std::string_view label = "SSR";  // as printed in a pipeline
  struct Options {
    double p = 0.5;                       // probability of transforming a sample
    double shift_limit = 0.0625;          // |dx|, |dy| <= shift_limit (fractions of width, height)
    std::optional<double> shift_limit_x;  // per-axis override of shift_limit (null: use shift_limit)
    std::optional<double> shift_limit_y;
    double scale_limit = 0.1;                          // scale in [1 - scale_limit, 1 + scale_limit]
    double rotate_limit = 45.0;                        // angle in [-rotate_limit, rotate_limit] degrees
    BorderMode border_mode = BorderMode::reflect_101;  // reflect_101 | constant | replicate | reflect
    double value = 0.0;                                // fill for border_mode "constant"

    template <class V>
    void fields(V& v) {
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
    std::array<double, 6> m{a,  b, (1 - a) * cx - b * cy + p.dx * static_cast<double>(w),
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
    if (x.is_cpu() && x.is_contiguous() && x.scalar_type() == torch::kFloat32)
      apply_cpu(x, ps);
    else
      apply_tensor(x, ps);
  }

  /// The CPU kernel.
  void apply_cpu(torch::Tensor& x, const std::vector<Params>& ps) const {
    using namespace ssr_detail;
    const std::int64_t C = x.size(1), H = x.size(2), W = x.size(3);
    struct Job {
      std::int64_t b;
      std::array<double, 6> m;
      std::vector<int> adelta, bdelta;
    };
    std::vector<Job> jobs;
    for (std::size_t b = 0; b < ps.size(); ++b) {
      if (!ps[b].apply) continue;
      Job j{static_cast<std::int64_t>(b), inverse_matrix(ps[b], H, W), std::vector<int>(static_cast<std::size_t>(W)),
            std::vector<int>(static_cast<std::size_t>(W))};
      for (std::int64_t c = 0; c < W; ++c) {
        j.adelta[static_cast<std::size_t>(c)] = static_cast<int>(cv_round(j.m[0] * static_cast<double>(c) * kAbScale));
        j.bdelta[static_cast<std::size_t>(c)] = static_cast<int>(cv_round(j.m[3] * static_cast<double>(c) * kAbScale));
      }
      jobs.push_back(std::move(j));
    }
    if (jobs.empty()) return;
    const BorderMode mode = options.border_mode;
    const float cval = static_cast<float>(options.value);
    float* out = x.data_ptr<float>();
    // The op writes in place, so it reads from a copy of each transformed sample, one sample at a time
    // (the copy still in cache when the rows read it; copying a whole batch first left the rows reading
    // 27 MB from memory). The copy lives in a per-thread buffer that is reused (a fresh 838 KB
    // allocation per sample costs page faults).
    const auto sample = static_cast<std::size_t>(C * H * W);
    thread_local std::vector<float> scratch;
    if (scratch.size() < sample) scratch.resize(sample);
    const float* source = scratch.data();  // the lambda may run on other threads: not the thread_local itself
    for (const Job& j : jobs) {
      std::memcpy(scratch.data(), out + static_cast<std::size_t>(j.b) * sample, sample * sizeof(float));
      at::parallel_for(0, C * H, 64, [&](std::int64_t begin, std::int64_t end) {
        for (std::int64_t r = begin; r < end; ++r) {
          const std::int64_t c = r / H, y = r % H;
          const int X0 =
              static_cast<int>(cv_round((j.m[1] * static_cast<double>(y) + j.m[2]) * kAbScale)) + kRoundDelta;
          const int Y0 =
              static_cast<int>(cv_round((j.m[4] * static_cast<double>(y) + j.m[5]) * kAbScale)) + kRoundDelta;
          row(Row{source + static_cast<std::size_t>(c * H * W), out + ((j.b * C + c) * H + y) * W, X0, Y0,
                  j.adelta.data(), j.bdelta.data(), H, W, mode, cval});
        }
      });
    }
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
    const auto idx = upload(torch::tensor(rows, torch::kLong), dev);
    const auto m = upload(torch::tensor(mats, torch::kFloat64).view({n, 6}), dev);
    const auto f64 = torch::TensorOptions().dtype(torch::kFloat64).device(dev);
    const auto xs = torch::arange(W, f64).view({1, 1, W});
    const auto ys = torch::arange(H, f64).view({1, H, 1});
    auto col = [&](int k) { return m.select(1, k).view({n, 1, 1}); };
    auto fixed = [](const torch::Tensor& t) { return torch::round(t * kAbScale).to(torch::kLong); };
    const auto X = torch::div(fixed(col(1) * ys + col(2)) + kRoundDelta + fixed(col(0) * xs),
                              1 << (kAbBits - kInterBits), "floor");
    const auto Y = torch::div(fixed(col(4) * ys + col(5)) + kRoundDelta + fixed(col(3) * xs),
                              1 << (kAbBits - kInterBits), "floor");
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
    const auto outv =
        tap(0, 0) * (wy0 * wx0) + tap(0, 1) * (wy0 * wx1) + tap(1, 0) * (wy1 * wx0) + tap(1, 1) * (wy1 * wx1);
    x.index_copy_(0, idx, outv.view({n, C, H, W}));
  }
};

}  // namespace cadence
