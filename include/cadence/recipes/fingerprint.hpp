#pragma once
// A run directory knows what produced it: <run.dir>/fingerprint.json holds the resolved config minus
// the keys that cannot change a trained model (presentation: quiet, thread counts, the device, checkpoint
// cadence, the report's baseline; prediction-time: the prediction stage's section, `predict`,
// eval_batch_size) and, per
// training split, the count and a hash of its (id, target) list.
//
//   - a fresh pretrain / run / holdout records it (replacing another run's; RunDir::record removes
//     the old run's folds beyond the new train.folds);
//   - --resume, finetune and predict on a directory with another fingerprint refuse, naming the
//     keys that differ, so that old state is never mixed into a new run.
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <set>
#include <string>
#include <vector>

#include "cadence/config/options.hpp"
#include "cadence/core/atomic_file.hpp"
#include "cadence/core/error.hpp"
#include "cadence/data/kaggle.hpp"

namespace cadence::fingerprint {

/// Keys (as /section/key JSON pointers) that never change what a run trains. The device is one: a run
/// trained on a GPU predicts or scans on a CPU and the other way round (the weights are the same
/// tensors), as thread counts change the float summation order and nothing else.
inline const std::vector<std::string>& presentation_keys() {
  static const std::vector<std::string> keys{"/run/dir",
                                             "/run/quiet",
                                             "/run/device",
                                             "/run/threads",
                                             "/run/resume",
                                             "/run/keep_memory",
                                             "/run/dist_timeout",
                                             "/load/threads",
                                             "/load/prefetch",
                                             "/train/checkpoint_every",
                                             "/train/eval_batch_size",
                                             "/train/grad_checkpointing",
                                             "/finetune/baseline",
                                             "/finetune/baseline_search",
                                             "/predict",
                                             "/scan"};
  return keys;
}

/// `config` without the presentation keys.
inline config::json without_presentation(config::json config) {
  for (const auto& k : presentation_keys()) {
    const auto ptr = config::json::json_pointer(k);
    if (config.contains(ptr)) config[ptr.parent_pointer()].erase(ptr.back());
  }
  return config;
}

/// The resolved config with presentation keys and the sections in `also_ignore` (the prediction
/// stage's) removed.
inline config::json of_config(config::json resolved, const std::vector<std::string>& also_ignore) {
  resolved = without_presentation(std::move(resolved));
  for (const auto& section : also_ignore) resolved.erase(section);
  return resolved;
}

/// Whether `key` is absent from the recorded `was` and at its default in `now`: an option this
/// version of cadence added since the run was made, which cannot have changed it.
inline bool added_since(const config::json& was_flat, const config::json& defaults_flat, const std::string& key,
                        const config::json& value) {
  return !was_flat.contains(key) && defaults_flat.is_object() && defaults_flat.contains(key) &&
         defaults_flat[key] == value;
}

/// Whether `now` is the recorded `was`, up to options added since at their defaults (`defaults`: the
/// fingerprint of an all-defaults config; null: none).
inline bool same_config(const config::json& was, const config::json& now, const config::json& defaults = nullptr) {
  if (was == now) return true;
  const auto a = without_presentation(was).flatten(), b = now.flatten();
  const auto d = defaults.is_object() ? defaults.flatten() : config::json();
  for (const auto& [k, v] : b.items())
    if (a.contains(k) ? a[k] != v : !added_since(a, d, k, v)) return false;
  for (const auto& [k, v] : a.items())
    if (!b.contains(k)) return false;
  return true;
}

/// "key: old -> new" for every leaf that differs (at most `limit` of them).
inline std::string differences(const config::json& was, const config::json& now, std::size_t limit = 6,
                               const config::json& defaults = nullptr) {
  const auto a = without_presentation(was).flatten(), b = now.flatten();
  const auto d = defaults.is_object() ? defaults.flatten() : config::json();
  std::set<std::string> keys;
  for (const auto& [k, _] : a.items()) keys.insert(k);
  for (const auto& [k, _] : b.items()) keys.insert(k);
  std::string out;
  std::size_t n = 0;
  for (const auto& k : keys) {
    const auto x = a.contains(k) ? a[k].dump() : "(absent)", y = b.contains(k) ? b[k].dump() : "(absent)";
    if (x == y || (b.contains(k) && added_since(a, d, k, b[k]))) continue;
    if (n++ < limit) {
      std::string name = k.substr(1);
      for (auto& c : name)
        if (c == '/') c = '.';
      out += (out.empty() ? "" : ", ") + name + ": " + first_line(x, 40) + " -> " + first_line(y, 40);
    }
  }
  if (n > limit) out += ", and " + std::to_string(n - limit) + " more";
  return out;
}

/// Count and FNV-1a hash of a split's (id, target) list.
inline config::json of_inputs(const Dataset& d) {
  std::uint64_t h = 1469598103934665603ull;
  auto mix = [&](const std::string& s) {
    for (unsigned char c : s) h = (h ^ c) * 1099511628211ull;
  };
  for (const auto& e : d.entries) mix(e.id + "," + std::to_string(e.target) + "\n");
  char hex[17];
  std::snprintf(hex, sizeof hex, "%016llx", static_cast<unsigned long long>(h));
  return {{"count", d.entries.size()}, {"hash", hex}};
}

inline std::filesystem::path file_of(const std::filesystem::path& dir) { return dir / "fingerprint.json"; }

inline config::json read(const std::filesystem::path& dir) {
  const auto f = file_of(dir);
  if (!std::filesystem::exists(f)) return nullptr;
  try {
    return config::load_file(f);
  } catch (const Error&) {
    fail(f.string(), ": unreadable fingerprint; remove it only if this directory holds nothing you want to keep");
  }
}

inline void write(const std::filesystem::path& dir, const config::json& fp) {
  write_text_atomically(file_of(dir), [&](std::ostream& o) { o << fp.dump(2) << '\n'; });
}

/// Refuses a job that is not `fresh` (a pretrain, run or holdout not resuming) on a directory that
/// another config made. Call it before the inputs are checked; record_config after. `defaults`: the
/// fingerprint of an all-defaults config, so that a run made before an option existed still matches
/// when the option is at its default.
inline void verify_config(const std::filesystem::path& dir, const config::json& config_part, const std::string& job,
                          bool fresh, const config::json& defaults = nullptr) {
  if (fresh) return;
  const auto fp = read(dir);
  if (fp.is_object() && fp.contains("config") && !fp["config"].is_null() &&
      !same_config(fp["config"], config_part, defaults))
    fail(dir.string(), ": made by another config (", differences(fp["config"], config_part, 6, defaults), "); ", job,
         " would mix its state into this run. Use another run.dir, or start over with `seti run` (without --resume)");
}

/// Records the config part when the directory has none, or when a `fresh` job starts the directory's
/// run over (the inputs are then forgotten; RunDir::record also removes the old run's extra folds).
/// Returns what a fresh job replaced ("" if nothing).
inline std::string record_config(const std::filesystem::path& dir, const config::json& config_part, bool fresh) {
  const auto fp = read(dir);
  const bool recorded = fp.is_object() && fp.contains("config") && !fp["config"].is_null();
  if (recorded && !fresh) return "";
  const std::string diff = recorded && fp["config"] != config_part ? differences(fp["config"], config_part) : "";
  write(dir, {{"config", config_part}, {"inputs", config::json::object()}});
  return diff;
}

/// Checks (or records) a training split's inputs.
inline void check_inputs(const std::filesystem::path& dir, const std::string& split, const Dataset& d) {
  auto fp = read(dir);
  if (!fp.is_object()) fp = {{"config", nullptr}, {"inputs", config::json::object()}};
  const auto now = of_inputs(d);
  if (fp["inputs"].contains(split)) {
    const auto& was = fp["inputs"][split];
    if (was == now) return;
    fail(dir.string(), ": the ", split, " split has changed since this run began (", was["count"].dump(), " -> ",
         now["count"].dump(), " cadences, or other ids or labels); use another run.dir, or start over with `seti run`");
  }
  fp["inputs"][split] = now;
  write(dir, fp);
}

/// The same check, writing nothing: a split the run recorded must be unchanged (one it has not recorded
/// passes). Jobs call it before they write (predict's models and oof.csv were made from the split).
inline void verify_inputs(const std::filesystem::path& dir, const std::string& split, const Dataset& d) {
  const auto fp = read(dir);
  if (!fp.is_object() || !fp.contains("inputs") || !fp["inputs"].is_object() || !fp["inputs"].contains(split)) return;
  const auto& was = fp["inputs"][split];
  const auto now = of_inputs(d);
  if (was == now) return;
  fail(dir.string(), ": the ", split, " split has changed since this run began (",
       was.value("count", config::json()).dump(), " -> ", now["count"].dump(),
       " cadences, or other ids or labels); use another run.dir, or start over with `seti run`");
}

}  // namespace cadence::fingerprint
