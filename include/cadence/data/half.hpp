#pragma once
// IEEE-754 binary16 <-> float32 without torch (the npy reader and the generator are torch-free).
#include <array>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <cpuid.h>
#include <immintrin.h>
#define CADENCE_HALF_F16C 1
#endif

namespace cadence {

/// Exact conversion of one half (all cases: zero, subnormal, normal, inf, nan).
constexpr float half_to_float_exact(std::uint16_t h) {
  const std::uint32_t sign = static_cast<std::uint32_t>(h & 0x8000u) << 16;
  std::uint32_t exp = (h >> 10) & 0x1Fu;
  std::uint32_t mant = h & 0x3FFu;
  std::uint32_t bits;
  if (exp == 0) {
    if (mant == 0) {
      bits = sign;
    } else {  // subnormal: renormalise
      exp = 127 - 15 + 1;
      while ((mant & 0x400u) == 0) {
        mant <<= 1;
        --exp;
      }
      mant &= 0x3FFu;
      bits = sign | (exp << 23) | (mant << 13);
    }
  } else if (exp == 0x1F) {
    bits = sign | 0x7F800000u | (mant << 13);
  } else {
    bits = sign | ((exp + 127 - 15) << 23) | (mant << 13);
  }
  return std::bit_cast<float>(bits);
}

/// Table lookup (256 KiB, built once): the npy reader converts ~420k values per cadence file.
inline float half_to_float(std::uint16_t h) {
  static const auto table = [] {
    auto t = std::make_unique<std::array<float, 65536>>();
    for (std::uint32_t i = 0; i < 65536; ++i) (*t)[i] = half_to_float_exact(static_cast<std::uint16_t>(i));
    return t;
  }();
  return (*table)[h];
}

/// Sum and sum of squares, in double, of a run of halves.
struct HalfStats {
  double sum = 0.0, sq = 0.0;
};

/// True when a half is Inf or NaN (exponent all ones).
constexpr bool half_nonfinite(std::uint16_t h) { return (h & 0x7C00u) == 0x7C00u; }

/// How many of `n` halves at `in` (any alignment) are Inf or NaN.
inline std::size_t count_nonfinite_halves(const void* in, std::size_t n) {
  const auto* b = static_cast<const unsigned char*>(in);
  std::size_t bad = 0;
  for (std::size_t i = 0; i < n; ++i) {
    std::uint16_t v;
    std::memcpy(&v, b + 2 * i, 2);
    bad += half_nonfinite(v) ? 1u : 0u;
  }
  return bad;
}

namespace half_detail {

inline void convert_table(const unsigned char* in, std::size_t n, float* out) {
  for (std::size_t i = 0; i < n; ++i) {
    std::uint16_t v;
    std::memcpy(&v, in + 2 * i, 2);
    out[i] = half_to_float(v);
  }
}

inline HalfStats stats_table(const unsigned char* in, std::size_t n) {
  HalfStats s;
  for (std::size_t i = 0; i < n; ++i) {
    std::uint16_t v;
    std::memcpy(&v, in + 2 * i, 2);
    const double f = half_to_float(v);
    s.sum += f;
    s.sq += f * f;
  }
  return s;
}

inline void scaled_table(const unsigned char* in, std::size_t n, float* out, double mean, double inv) {
  for (std::size_t i = 0; i < n; ++i) {
    std::uint16_t v;
    std::memcpy(&v, in + 2 * i, 2);
    out[i] = static_cast<float>((static_cast<double>(half_to_float(v)) - mean) * inv);
  }
}

#ifdef CADENCE_HALF_F16C
// vcvtph2ps converts 8 halves per instruction, exactly (it only quiets signalling NaNs, which the
// readers refuse or zero before they matter).
__attribute__((target("avx,f16c"))) inline void convert_f16c(const unsigned char* in, std::size_t n, float* out) {
  std::size_t i = 0;
  for (; i + 8 <= n; i += 8)
    _mm256_storeu_ps(out + i, _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(in + 2 * i))));
  convert_table(in + 2 * i, n - i, out + i);
}

// Sum and sum of squares: four double accumulators keep double precision without a serial chain.
__attribute__((target("avx,f16c"))) inline HalfStats stats_f16c(const unsigned char* in, std::size_t n) {
  __m256d s0 = _mm256_setzero_pd(), s1 = _mm256_setzero_pd(), q0 = _mm256_setzero_pd(), q1 = _mm256_setzero_pd();
  std::size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m256 f = _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(in + 2 * i)));
    const __m256d lo = _mm256_cvtps_pd(_mm256_castps256_ps128(f)), hi = _mm256_cvtps_pd(_mm256_extractf128_ps(f, 1));
    s0 = _mm256_add_pd(s0, lo);
    s1 = _mm256_add_pd(s1, hi);
    q0 = _mm256_add_pd(q0, _mm256_mul_pd(lo, lo));
    q1 = _mm256_add_pd(q1, _mm256_mul_pd(hi, hi));
  }
  alignas(32) double a[4], b[4];
  _mm256_store_pd(a, _mm256_add_pd(s0, s1));
  _mm256_store_pd(b, _mm256_add_pd(q0, q1));
  const HalfStats tail = stats_table(in + 2 * i, n - i);
  return {(a[0] + a[1]) + (a[2] + a[3]) + tail.sum, (b[0] + b[1]) + (b[2] + b[3]) + tail.sq};
}

// out = float((double(h) - mean) * inv): standardize()'s formula, in double, one store per value.
__attribute__((target("avx,f16c"))) inline void scaled_f16c(const unsigned char* in, std::size_t n, float* out,
                                                            double mean, double inv) {
  const __m256d m = _mm256_set1_pd(mean), k = _mm256_set1_pd(inv);
  std::size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m256 f = _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(in + 2 * i)));
    const __m128 lo = _mm256_cvtpd_ps(_mm256_mul_pd(_mm256_sub_pd(_mm256_cvtps_pd(_mm256_castps256_ps128(f)), m), k));
    const __m128 hi = _mm256_cvtpd_ps(_mm256_mul_pd(_mm256_sub_pd(_mm256_cvtps_pd(_mm256_extractf128_ps(f, 1)), m), k));
    _mm256_storeu_ps(out + i, _mm256_insertf128_ps(_mm256_castps128_ps256(lo), hi, 1));
  }
  scaled_table(in + 2 * i, n - i, out + i, mean, inv);
}

/// AVX and F16C, and the OS saving YMM state (cpuid + xgetbv: clang's __builtin_cpu_supports has no "f16c").
inline bool has_f16c() {
  static const bool yes = [] {
    unsigned a = 0, b = 0, c = 0, d = 0;
    if (!__get_cpuid(1, &a, &b, &c, &d)) return false;
    if (!(c & (1u << 27)) || !(c & (1u << 28)) || !(c & (1u << 29))) return false;  // OSXSAVE, AVX, F16C
    unsigned lo = 0, hi = 0;
    __asm__("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    return (lo & 6u) == 6u;
  }();
  return yes;
}
#endif

}  // namespace half_detail

/// Converts `n` halves at `in` (any alignment) to floats at `out`. Uses F16C where the CPU has it
/// (checked once at run time), the table otherwise; both give the same floats.
inline void halves_to_floats(const void* in, std::size_t n, float* out) {
  const auto* b = static_cast<const unsigned char*>(in);
#ifdef CADENCE_HALF_F16C
  if (half_detail::has_f16c()) return half_detail::convert_f16c(b, n, out);
#endif
  half_detail::convert_table(b, n, out);
}

/// Sum and sum of squares (in double) of `n` halves at `in`, without storing them.
inline HalfStats half_stats(const void* in, std::size_t n) {
  const auto* b = static_cast<const unsigned char*>(in);
#ifdef CADENCE_HALF_F16C
  if (half_detail::has_f16c()) return half_detail::stats_f16c(b, n);
#endif
  return half_detail::stats_table(b, n);
}

/// out[i] = float((double(in[i]) - mean) * inv) for `n` halves: conversion and standardisation in
/// one store per value.
inline void halves_to_scaled(const void* in, std::size_t n, float* out, double mean, double inv) {
  const auto* b = static_cast<const unsigned char*>(in);
#ifdef CADENCE_HALF_F16C
  if (half_detail::has_f16c()) return half_detail::scaled_f16c(b, n, out, mean, inv);
#endif
  half_detail::scaled_table(b, n, out, mean, inv);
}

/// Round-to-nearest-even float -> half, as numpy's astype(float16).
constexpr std::uint16_t float_to_half(float f) {
  const std::uint32_t x = std::bit_cast<std::uint32_t>(f);
  const std::uint16_t sign = static_cast<std::uint16_t>((x >> 16) & 0x8000u);
  const std::uint32_t abs = x & 0x7FFFFFFFu;
  if (abs >= 0x7F800000u) {  // inf or nan
    return static_cast<std::uint16_t>(sign | 0x7C00u | (abs > 0x7F800000u ? 0x200u : 0u));
  }
  if (abs >= 0x477FF000u) return static_cast<std::uint16_t>(sign | 0x7C00u);  // rounds to >= 65520: inf
  if (abs < 0x38800000u) {               // below the smallest normal half: subnormal or zero
    if (abs < 0x33000000u) return sign;  // < half of the smallest subnormal
    const std::uint32_t exp = abs >> 23;
    const std::uint32_t mant = (abs & 0x7FFFFFu) | 0x800000u;
    const std::uint32_t shift = 126 - exp;  // 14 - (exp-127) + 13 ... bits to drop
    const std::uint32_t shifted = mant >> shift;
    const std::uint32_t rem = mant & ((1u << shift) - 1);
    const std::uint32_t halfway = 1u << (shift - 1);
    std::uint32_t r = shifted;
    if (rem > halfway || (rem == halfway && (shifted & 1u))) ++r;
    return static_cast<std::uint16_t>(sign | r);
  }
  // normal: rebias exponent, round mantissa from 23 to 10 bits
  std::uint32_t v = abs - 0x38000000u;  // exponent bias 127 -> 15
  const std::uint32_t rem = v & 0x1FFFu;
  v >>= 13;
  if (rem > 0x1000u || (rem == 0x1000u && (v & 1u))) ++v;  // may carry into the exponent: correct
  return static_cast<std::uint16_t>(sign | v);
}

}  // namespace cadence
