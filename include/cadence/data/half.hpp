#pragma once
// IEEE-754 binary16 <-> float32 without torch (the npy reader and the generator are torch-free).
#include <array>
#include <bit>
#include <cstdint>
#include <cstring>
#include <memory>

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
      while ((mant & 0x400u) == 0) { mant <<= 1; --exp; }
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

/// Round-to-nearest-even float -> half, as numpy's astype(float16).
constexpr std::uint16_t float_to_half(float f) {
  const std::uint32_t x = std::bit_cast<std::uint32_t>(f);
  const std::uint16_t sign = static_cast<std::uint16_t>((x >> 16) & 0x8000u);
  const std::uint32_t abs = x & 0x7FFFFFFFu;
  if (abs >= 0x7F800000u) {  // inf or nan
    return static_cast<std::uint16_t>(sign | 0x7C00u | (abs > 0x7F800000u ? 0x200u : 0u));
  }
  if (abs >= 0x477FF000u) return static_cast<std::uint16_t>(sign | 0x7C00u);  // rounds to >= 65520: inf
  if (abs < 0x38800000u) {  // below the smallest normal half: subnormal or zero
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
