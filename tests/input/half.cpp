#include "cadence/data/half.hpp"

#include <nlohmann/json.hpp>
#include <c10/util/Half.h>

#include "support.hpp"

TEST_CASE("half: every float16 converts exactly (c10::Half is the oracle)") {
  for (std::uint32_t i = 0; i < 65536; ++i) {
    const auto h = static_cast<std::uint16_t>(i);
    const float ours = cadence::half_to_float(h);
    const float theirs = static_cast<float>(c10::Half(h, c10::Half::from_bits()));
    if (std::isnan(theirs)) {
      REQUIRE(std::isnan(ours));
      continue;
    }
    REQUIRE(std::bit_cast<std::uint32_t>(ours) == std::bit_cast<std::uint32_t>(theirs));
    REQUIRE(cadence::float_to_half(ours) == h);  // round trip
  }
}

TEST_CASE("half: float -> half rounds to nearest even, as numpy's astype(float16)") {
  const auto j = nlohmann::json::parse(test::read_file(test::fixture("npy/expected.json")));
  const auto in = j["float32_bits"].get<std::vector<std::uint32_t>>();
  const auto want = j["float16_bits"].get<std::vector<std::uint16_t>>();
  REQUIRE(in.size() == want.size());
  for (std::size_t i = 0; i < in.size(); ++i) {
    CAPTURE(std::bit_cast<float>(in[i]));
    CHECK(cadence::float_to_half(std::bit_cast<float>(in[i])) == want[i]);
  }
  // and against c10 on a dense sweep of float bit patterns
  for (std::uint32_t b = 0; b < 0x7F800000u; b += 997) {
    const float f = std::bit_cast<float>(b);
    REQUIRE(cadence::float_to_half(f) == c10::Half(f).x);
  }
}

TEST_CASE(
    "half: the bulk conversion (F16C where the CPU has it) equals the exact one for every value, at any alignment") {
  std::vector<std::uint16_t> all(65536 + 1);
  for (std::uint32_t i = 0; i < 65536; ++i) all[i + 1] = static_cast<std::uint16_t>(i);
  for (std::size_t shift : {1u, 0u}) {  // odd element offsets and a tail shorter than one vector
    const std::size_t n = all.size() - shift;
    std::vector<float> out(n);
    cadence::halves_to_floats(all.data() + shift, n, out.data());
    for (std::size_t k = 0; k < n; ++k) {
      const float want = cadence::half_to_float_exact(all[k + shift]);
      if (std::isnan(want)) {
        REQUIRE(std::isnan(out[k]));
        continue;
      }
      REQUIRE(std::bit_cast<std::uint32_t>(out[k]) == std::bit_cast<std::uint32_t>(want));
    }
    CHECK(cadence::count_nonfinite_halves(all.data() + shift, n) == 2048);  // 1024 Inf/NaN patterns per sign
    // statistics over the finite values (a NaN poisons a sum), against a plain double loop
    std::vector<std::uint16_t> finite;
    for (std::size_t k = shift; k < all.size(); ++k)
      if (!cadence::half_nonfinite(all[k])) finite.push_back(all[k]);
    double sum = 0.0, sq = 0.0;
    for (auto h : finite) {
      const double v = cadence::half_to_float_exact(h);
      sum += v;
      sq += v * v;
    }
    const auto st = cadence::half_stats(finite.data(), finite.size());
    CHECK(st.sum == doctest::Approx(sum).epsilon(1e-12));
    CHECK(st.sq == doctest::Approx(sq).epsilon(1e-12));
    // standardising conversion: standardize()'s formula, value by value
    const double mean = 0.25, inv = 1.5;
    std::vector<float> scaled(finite.size());
    cadence::halves_to_scaled(finite.data(), finite.size(), scaled.data(), mean, inv);
    for (std::size_t k = 0; k < finite.size(); ++k)
      REQUIRE(scaled[k] ==
              static_cast<float>((static_cast<double>(cadence::half_to_float_exact(finite[k])) - mean) * inv));
  }
}
