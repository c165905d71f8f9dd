// libFuzzer target: the id,target / id,fold CSV readers, in each column mode.
#include <cstddef>
#include <cstdint>
#include <sstream>
#include <string>

#include "cadence/data/csv.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  for (auto column : {cadence::csv::Column::any, cadence::csv::Column::probability, cadence::csv::Column::label}) {
    std::istringstream in(text);
    try {
      const auto rows = cadence::csv::parse_labels(in, "fuzz.csv", column);
      for (const auto& r : rows) {
        if (!cadence::csv::valid_id(r.id)) __builtin_trap();
        if (column != cadence::csv::Column::any && !(r.target >= 0.0 && r.target <= 1.0)) __builtin_trap();
      }
    } catch (const cadence::Error&) {}
  }
  return 0;
}
