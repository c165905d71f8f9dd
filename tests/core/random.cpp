#include "cadence/core/random.hpp"

#include <cmath>
#include <set>
#include <vector>

#include "support.hpp"

using cadence::Philox;
using cadence::RandomStream;

TEST_CASE("random: Philox4x32-10 matches the Random123 known-answer vectors") {
  CHECK(Philox::generate({0, 0, 0, 0}, {0, 0}) == Philox::Block{0x6627e8d5u, 0xe169c58du, 0xbc57ac4cu, 0x9b00dbd8u});
  CHECK(Philox::generate({0xffffffffu, 0xffffffffu, 0xffffffffu, 0xffffffffu}, {0xffffffffu, 0xffffffffu}) ==
        Philox::Block{0x408f276du, 0x41c83b0eu, 0xa20bc7c6u, 0x6d5451fdu});
  CHECK(Philox::generate({0x243f6a88u, 0x85a308d3u, 0x13198a2eu, 0x03707344u}, {0xa4093822u, 0x299f31d0u}) ==
        Philox::Block{0xd16cfe09u, 0x94fdccebu, 0x5001e420u, 0x24126ea1u});
}

TEST_CASE("random: a stream is a pure function of (seed, epoch, index, stream)") {
  auto draw = [](std::uint64_t seed, std::uint32_t epoch, std::uint32_t index, std::uint32_t stream) {
    RandomStream r(seed, epoch, index, stream);
    std::vector<std::uint32_t> v;
    for (int i = 0; i < 9; ++i) v.push_back(r.next_u32());
    return v;
  };
  CHECK(draw(1, 2, 3, 4) == draw(1, 2, 3, 4));
  std::set<std::vector<std::uint32_t>> distinct{draw(1, 2, 3, 4), draw(2, 2, 3, 4),
                                                draw(1, 3, 3, 4), draw(1, 2, 4, 4),
                                                draw(1, 2, 3, 5), draw(std::uint64_t{1} << 32 | 1, 2, 3, 4)};
  CHECK(distinct.size() == 6);
}

TEST_CASE("random: distributions have the right moments") {
  RandomStream r(123, 0, 0, 1);
  const int n = 200000;
  double su = 0, sn = 0, sn2 = 0, sg = 0, sg2 = 0, sb = 0;
  std::int64_t lo = 100, hi = -100;
  for (int i = 0; i < n; ++i) {
    su += r.uniform();
    const double z = r.normal();
    sn += z;
    sn2 += z * z;
    const double c = r.chi_squared(204.0);
    sg += c;
    sg2 += c * c;
    sb += r.beta(0.4, 0.4);
    const auto k = r.randint(-3, 5);
    lo = std::min(lo, k);
    hi = std::max(hi, k);
  }
  CHECK(su / n == doctest::Approx(0.5).epsilon(0.01));
  CHECK(std::abs(sn / n) < 0.01);
  CHECK(sn2 / n == doctest::Approx(1.0).epsilon(0.01));
  CHECK(sg / n == doctest::Approx(204.0).epsilon(0.002));
  CHECK(sg2 / n - (sg / n) * (sg / n) == doctest::Approx(408.0).epsilon(0.02));  // var = 2k
  CHECK(sb / n == doctest::Approx(0.5).epsilon(0.01));
  CHECK(lo == -3);
  CHECK(hi == 5);
}
