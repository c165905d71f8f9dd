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
