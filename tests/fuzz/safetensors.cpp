// libFuzzer target: the safetensors container parser behind model.weights.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "cadence/nn/safetensors.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  try {
    const auto c = cadence::safetensors::parse(bytes, "fuzz.safetensors");
    for (const auto& e : c.entries)
      if (e.begin > e.end || e.end > size) __builtin_trap();  // every accepted tensor lies inside the file
  } catch (const cadence::Error&) {}
  return 0;
}
