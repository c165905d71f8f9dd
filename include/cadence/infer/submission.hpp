#pragma once
// submission.csv: `id,target`, one row per id of sample_submission.csv, in its order.
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include "cadence/core/atomic_file.hpp"
#include "cadence/core/error.hpp"

namespace cadence {

inline void write_predictions(const std::filesystem::path& path, const std::vector<std::string>& ids,
                              const std::vector<double>& probs, const char* column = "target") {
  if (ids.size() != probs.size()) fail(path.string(), ": ", ids.size(), " ids but ", probs.size(), " predictions");
  for (std::size_t i = 0; i < ids.size(); ++i)  // a diverged model must not reach a submission as "nan"
    if (!std::isfinite(probs[i]))
      fail(path.string(), ": the prediction for id `", ids[i], "` is ", probs[i], " (not finite); nothing written");
  write_text_atomically(path, [&](std::ostream& out) {
    out << "id," << column << '\n';
    char buf[32];
    for (std::size_t i = 0; i < ids.size(); ++i) {
      std::snprintf(buf, sizeof buf, "%.8g", probs[i]);
      out << ids[i] << ',' << buf << '\n';
    }
  });
}

}  // namespace cadence
