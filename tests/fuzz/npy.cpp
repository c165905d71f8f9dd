// libFuzzer target: the .npy header parser and the float16 conversion of what it accepts.
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "cadence/data/npy.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::span<const char> bytes(reinterpret_cast<const char*>(data), size);
  try {
    const auto h = cadence::npy::parse_header(bytes, size, "fuzz.npy");
    const std::size_t need = h.data_offset + h.count() * h.itemsize();
    if (need > size) __builtin_trap();  // parse_header promised the file is long enough
    if (h.dtype == cadence::npy::Dtype::f2 && h.count() <= (std::size_t{1} << 20)) {
      std::vector<float> out(h.count());
      cadence::halves_to_floats(bytes.data() + h.data_offset, h.count(), out.data());
    }
  } catch (const cadence::Error&) {}
  return 0;
}
