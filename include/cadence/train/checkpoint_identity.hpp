#pragma once
// What a checkpoint records of its origin, and how a load checks it (train/checkpoint_file.hpp reads and
// writes the files). Torch-free, so that the run directory's owner (recipes/run_dir.hpp) stays a light
// header: the ensemble and the config fuzz target include it.
#include <functional>
#include <string>

#include "cadence/config/options.hpp"

namespace cadence {

/// What produced a checkpoint.
struct CheckpointIdentity {
  std::string job;      // "pretrain", "finetune", "holdout" ("" : not recorded / not checked)
  int fold = -1;        // finetune's fold; -1 otherwise
  config::json config;  // the run's fingerprint config (null: not checked)

  config::json to_json() const { return {{"job", job}, {"fold", fold}, {"config", config}}; }
  std::string describe() const {
    return job.empty() ? "no recorded job" : fold >= 0 ? job + " fold " + std::to_string(fold) : job;
  }
};

/// How a load checks the checkpoint's identity (RunDir::identity_check makes one for a run).
struct IdentityCheck {
  CheckpointIdentity expected;  // job "": no identity check (a load by hand; shapes are still checked)
  std::function<std::string(const config::json&)> config_differs;  // "" when a recorded config is this run's
};

namespace detail {
/// "" when `saved` is what `expected` asks for (job, fold and, through `config_differs`, the config),
/// else the one-line reason, naming both sides.
inline std::string identity_mismatch(const CheckpointIdentity& saved, const CheckpointIdentity& expected,
                                     const std::function<std::string(const config::json&)>& config_differs) {
  if (expected.job.empty()) return "";
  if (saved.job.empty())
    return "records no identity (written by another program, or by cadence before checkpoints recorded theirs); this "
           "run expects " +
           expected.describe();
  if (saved.job != expected.job || saved.fold != expected.fold)
    return "a checkpoint of " + saved.describe() + ", but this run expects " + expected.describe() + " here";
  if (config_differs) {
    const auto diff = config_differs(saved.config);
    if (!diff.empty()) return "written by a run with another config (" + diff + ")";
  }
  return "";
}
}  // namespace detail

}  // namespace cadence
