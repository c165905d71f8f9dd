#pragma once
// Counter-based random streams (Philox4x32-10, Salmon et al., SC'11).
//
// A stream is a pure function of (seed, epoch, sample index, stream id): the numbers a sample gets
// never depend on which thread reads it, how batches are composed or which device runs the op.
#include <array>
#include <cmath>
#include <cstdint>
#include <numbers>

#include "cadence/core/stage.hpp"

namespace cadence {

/// Stream ids. Ops pick their own ids (e.g. augment ops start at `augment`).
enum class StreamId : std::uint32_t {
  shuffle = 1,
  sampler = 2,
  folds = 3,
  holdout = 4,
  mixup = 5,
  init = 6,
  synth = 7,
  synth_families = 8,
  inject = 9,         // Inject: whether a sample gets a signal / interference, and the signal
  inject_extra = 10,  // Inject: which interference, and the newer kinds' draws
  inject_rfi = 11,    // Inject: the interference's line
  augment = 100,
};

class Philox {
 public:
  using Block = std::array<std::uint32_t, 4>;
  static Block generate(Block ctr, std::array<std::uint32_t, 2> key) {
    constexpr std::uint32_t M0 = 0xD2511F53u, M1 = 0xCD9E8D57u, W0 = 0x9E3779B9u, W1 = 0xBB67AE85u;
    for (int round = 0; round < 10; ++round) {
      const std::uint64_t p0 = static_cast<std::uint64_t>(M0) * ctr[0];
      const std::uint64_t p1 = static_cast<std::uint64_t>(M1) * ctr[2];
      ctr = {static_cast<std::uint32_t>(p1 >> 32) ^ ctr[1] ^ key[0], static_cast<std::uint32_t>(p1),
             static_cast<std::uint32_t>(p0 >> 32) ^ ctr[3] ^ key[1], static_cast<std::uint32_t>(p0)};
      key[0] += W0;
      key[1] += W1;
    }
    return ctr;
  }
};

/// One independent stream of random numbers, keyed by (seed, epoch, index, stream).
class RandomStream {
 public:
  /// The counter is (block, index, epoch, stream) and the key is the seed: two streams differ
  /// whenever any of the four differ. index and epoch must fit in 32 bits (4e9 samples / epochs).
  RandomStream(std::uint64_t seed, std::uint32_t epoch, std::uint32_t index, std::uint32_t stream)
      : key_{static_cast<std::uint32_t>(seed), static_cast<std::uint32_t>(seed >> 32)}, ctr_{0, index, epoch, stream} {}
  RandomStream(std::uint64_t seed, std::uint32_t epoch, std::uint32_t index, StreamId stream)
      : RandomStream(seed, epoch, index, static_cast<std::uint32_t>(stream)) {}

  std::uint32_t next_u32() {
    if (pos_ == 4) {
      buf_ = Philox::generate(ctr_, key_);
      ++ctr_[0];
      pos_ = 0;
    }
    return buf_[pos_++];
  }
  std::uint64_t next_u64() {
    const std::uint64_t hi = next_u32();
    return (hi << 32) | next_u32();
  }
  /// Uniform in [0, 1) with 53 random bits.
  double uniform() { return static_cast<double>(next_u64() >> 11) * 0x1.0p-53; }
  double uniform(double lo, double hi) { return lo + (hi - lo) * uniform(); }
  /// Uniform integer in [lo, hi], unbiased (rejection).
  std::int64_t randint(std::int64_t lo, std::int64_t hi) {
    const std::uint64_t range = static_cast<std::uint64_t>(hi - lo) + 1;
    if (range == 0) return static_cast<std::int64_t>(next_u64());
    const std::uint64_t limit = UINT64_MAX - UINT64_MAX % range;
    std::uint64_t x;
    do {
      x = next_u64();
    } while (x >= limit);
    return lo + static_cast<std::int64_t>(x % range);
  }
  bool bernoulli(double p) { return uniform() < p; }
  /// Standard normal (Box-Muller; the second value is kept for the next call).
  double normal() {
    if (has_spare_) {
      has_spare_ = false;
      return spare_;
    }
    double u1;
    do {
      u1 = uniform();
    } while (u1 <= 0.0);
    const double u2 = uniform();
    const double r = std::sqrt(-2.0 * std::log(u1));
    spare_ = r * std::sin(2.0 * std::numbers::pi * u2);
    has_spare_ = true;
    return r * std::cos(2.0 * std::numbers::pi * u2);
  }
  /// Gamma(shape k, scale 1), Marsaglia & Tsang (2000); k < 1 by the boost U^(1/k).
  double gamma(double k) {
    if (k < 1.0) {
      double u;
      do {
        u = uniform();
      } while (u <= 0.0);
      return gamma(k + 1.0) * std::pow(u, 1.0 / k);
    }
    const double d = k - 1.0 / 3.0, c = 1.0 / std::sqrt(9.0 * d);
    for (;;) {
      double x, v;
      do {
        x = normal();
        v = 1.0 + c * x;
      } while (v <= 0.0);
      v = v * v * v;
      const double u = uniform();
      if (u < 1.0 - 0.0331 * x * x * x * x) return d * v;
      if (u > 0.0 && std::log(u) < 0.5 * x * x + d * (1.0 - v + std::log(v))) return d * v;
    }
  }
  double chi_squared(double df) { return 2.0 * gamma(0.5 * df); }
  double beta(double a, double b) {
    const double x = gamma(a), y = gamma(b);
    return x / (x + y);
  }

 private:
  std::array<std::uint32_t, 2> key_;
  std::array<std::uint32_t, 4> ctr_;
  std::array<std::uint32_t, 4> buf_{};
  int pos_ = 4;
  double spare_ = 0.0;
  bool has_spare_ = false;
};

/// The stream of row `row` of a per-sample stage's batch (see SampleKey): draw number `slot` of the
/// stage (0 for a stage that draws once per sample; Augment's ops use one slot each, up to 64).
inline RandomStream sample_stream(const SampleKey& key, std::size_t row, std::uint32_t slot = 0) {
  return RandomStream(key.seed, key.epoch, static_cast<std::uint32_t>(key.samples[row]),
                      static_cast<std::uint32_t>(StreamId::augment) + 64u * key.stream + slot);
}

}  // namespace cadence
