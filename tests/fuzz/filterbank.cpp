// libFuzzer target: the SIGPROC filterbank header parser (observe/filterbank.hpp), which reads the
// header of every .fil file `seti scan` is given.
#include <cstddef>
#include <cstdint>

#include "cadence/observe/filterbank.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  try {
    std::size_t offset = 0;
    const auto h = cadence::observe::sigproc::parse(data, size, "fuzz.fil", offset);
    if (offset > size) __builtin_trap();  // the data starts inside the file
    if (h.nchans < 1 || h.nifs < 1 || (h.nbits != 8 && h.nbits != 16 && h.nbits != 32) || !(h.tsamp > 0.0))
      __builtin_trap();  // checked
  } catch (const cadence::Error&) {}
  return 0;
}
