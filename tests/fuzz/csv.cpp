// libFuzzer target: the id,target / id,fold CSV readers, in each column mode, and the truth-file reader
// (cadence-synth's test_labels.csv in each of its forms).
#include <cmath>
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
  std::istringstream in(text);
  try {
    for (const auto& r : cadence::csv::parse_truth(in, "fuzz.csv")) {
      if (!cadence::csv::valid_id(r.id) || (r.target != 0 && r.target != 1)) __builtin_trap();
      // a number is finite or absent (NaN); an energy is never negative, and (where the file gives
      // energies) present exactly for the positives
      for (double x : {r.snr, r.drift, r.energy})
        if (std::isinf(x)) __builtin_trap();
      if (r.energy < 0.0) __builtin_trap();
      if (!std::isnan(r.energy) && r.target == 0) __builtin_trap();
    }
  } catch (const cadence::Error&) {}
  return 0;
}
