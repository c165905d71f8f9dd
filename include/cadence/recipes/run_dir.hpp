#pragma once
// RunDir: the one owner of a run directory. It knows where every output goes (the layout below: no
// job spells a path of its own), holds the directory for a job (the lock), keeps its fingerprint,
// and enforces the link policy.
//
//   <root>/  config.json  fingerprint.json  .lock  folds.csv  oof.csv  cv.json  submission.csv
//            predict.json  report.html        (holdout: split.csv, log.jsonl, model.pt, valid.csv)
//            pretrain/  fold_<k>/             a training directory each: log.jsonl model.pt last.pt split.csv
//            fold_<k>/teacher/ pseudo.csv   finetune.pseudo: the fold's teacher (a training directory) and
//                                             the test cadences it labelled
//
// Link policy: the root itself may be a symbolic link (runs/ on another disk); nothing inside it may
// be. take() refuses a run directory that holds a link anywhere (the lock file, a subdirectory, an
// output file), before the job writes anything but the lock, and make_dir() refuses a link in place
// of a directory it makes; files are written by temporary name and rename (core/atomic_file.hpp),
// which replaces a link instead of following it. So no job writes outside its run directory.
#include <algorithm>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "cadence/config/options.hpp"
#include "cadence/core/atomic_file.hpp"
#include "cadence/core/error.hpp"
#include "cadence/core/run_lock.hpp"
#include "cadence/data/kaggle.hpp"
#include "cadence/recipes/fingerprint.hpp"
#include "cadence/train/checkpoint_identity.hpp"

namespace cadence {

class RunDir {
 public:
  RunDir() = default;
  explicit RunDir(std::filesystem::path root) : root_(std::move(root)) {}

  const std::filesystem::path& root() const { return root_; }

  // ---- the layout ---------------------------------------------------------------------------------
  /// The pretraining job's training directory.
  std::filesystem::path pretrain() const { return root_ / "pretrain"; }
  /// Fold k's training directory: the one place its name is spelled.
  std::filesystem::path fold(int k) const { return root_ / ("fold_" + std::to_string(k)); }
  /// Fold k's teacher (finetune.pseudo): a training directory inside the fold's.
  std::filesystem::path teacher(int k) const { return fold(k) / "teacher"; }
  /// The test cadences fold k's teacher labelled: id, label, the teacher's probability.
  std::filesystem::path pseudo_csv(int k) const { return fold(k) / "pseudo.csv"; }
  // a training directory's files (pretrain/, fold_<k>/, or the root of a holdout run)
  static std::filesystem::path model(const std::filesystem::path& training) { return training / "model.pt"; }
  static std::filesystem::path last(const std::filesystem::path& training) { return training / "last.pt"; }
  static std::filesystem::path log(const std::filesystem::path& training) { return training / "log.jsonl"; }
  static std::filesystem::path split(const std::filesystem::path& training) { return training / "split.csv"; }
  // the run's files
  std::filesystem::path config() const { return root_ / "config.json"; }
  std::filesystem::path folds_csv() const { return root_ / "folds.csv"; }
  std::filesystem::path oof() const { return root_ / "oof.csv"; }
  std::filesystem::path cv() const { return root_ / "cv.json"; }
  std::filesystem::path baseline_csv() const { return root_ / "baseline.csv"; }  // finetune.baseline's scores
  std::filesystem::path submission() const { return root_ / "submission.csv"; }
  std::filesystem::path predict_json() const { return root_ / "predict.json"; }
  std::filesystem::path report() const { return root_ / "report.html"; }
  std::filesystem::path valid_csv() const { return root_ / "valid.csv"; }

  /// Folds 0..folds-1 whose model.pt exists: (k, path).
  std::vector<std::pair<int, std::filesystem::path>> fold_models(int folds) const {
    std::vector<std::pair<int, std::filesystem::path>> out;
    for (int k = 0; k < folds; ++k)
      if (std::filesystem::exists(model(fold(k)))) out.emplace_back(k, model(fold(k)));
    return out;
  }
  /// The fold directories present, 0, 1, ... up to the first gap (an ensemble member's folds).
  std::vector<std::filesystem::path> folds_present() const {
    std::vector<std::filesystem::path> out;
    for (int k = 0; std::filesystem::is_directory(fold(k)); ++k) out.push_back(fold(k));
    return out;
  }
  /// Whether cadence writes a file of this name into a run or scan directory (which temporaries of
  /// killed runs take() may remove).
  static bool writes(const std::string& name) {
    static const std::vector<std::string> names{
        "config.json",  "fingerprint.json", "folds.csv", "oof.csv",   "cv.json",   "submission.csv",
        "predict.json", "report.html",      "valid.csv", "split.csv", "log.jsonl", "model.pt",
        "last.pt",      "ensemble.json",    "hits.csv",  "scan.json", "scan.html", "events.csv"};
    return std::find(names.begin(), names.end(), name) != names.end() ||
           ((name.starts_with("hit_") || name.starts_with("event_")) && name.ends_with(".png")) ||
           name.ends_with(".dat");
  }

  // ---- holding it ---------------------------------------------------------------------------------
  /// Takes the directory for this process's job (made if absent): the lock, then the link policy over
  /// everything already inside. A second take() of the same RunDir is a no-op; another RunDir (or
  /// process) on the same directory fails, naming the holder.
  void take() {
    if (lock_) return;
    if (root_.empty()) fail("/run/dir: empty (give the run a directory)");
    refuse_links();  // before the lock file is made: a planted .lock link is refused by name
    lock_ = std::make_shared<RunLock>(root_, [](const std::string& n) { return writes(n); });
    try {
      refuse_links();  // and again under the lock: nothing can have been planted since by another job
    } catch (...) {
      lock_.reset();  // not held: a later take() checks again
      throw;
    }
  }
  bool held() const { return lock_ != nullptr; }

  /// Makes a directory of the run (a training directory) and returns it; a link in its place, or in
  /// place of any directory between the root and it, is refused.
  std::filesystem::path make_dir(const std::filesystem::path& dir) const {
    namespace fs = std::filesystem;
    std::error_code ec;
    fs::path at = root_;
    for (const auto& part : fs::relative(dir, root_, ec)) {
      if (part == "." || part.empty()) continue;
      at /= part;
      if (fs::is_symlink(fs::symlink_status(at, ec))) link_refused(at);
    }
    fs::create_directories(dir, ec);
    if (ec) fail(dir.string(), ": cannot create (", ec.message(), ")");
    return dir;
  }

  /// Refuses a run directory that holds a symbolic link anywhere inside it.
  void refuse_links() const {
    namespace fs = std::filesystem;
    std::error_code ec;
    if (!fs::is_directory(root_, ec)) return;
    for (auto it = fs::recursive_directory_iterator(root_, ec); !ec && it != fs::recursive_directory_iterator();
         it.increment(ec))
      if (it->is_symlink()) link_refused(it->path());
  }

  // ---- its identity (recipes/fingerprint.hpp) -------------------------------------------------------
  /// This run's fingerprint config (and the all-defaults one, for options added since a run was made):
  /// what verify() compares and what checkpoints record. prepare() sets it.
  void set_identity(config::json identity, config::json defaults) {
    identity_ = std::move(identity);
    defaults_ = std::move(defaults);
  }
  const config::json& identity() const { return identity_; }
  /// What a checkpoint of this run's `job` (and fold) records (train/checkpoint_file.hpp).
  CheckpointIdentity checkpoint_identity(const std::string& job, int fold = -1) const { return {job, fold, identity_}; }
  /// The check a load of such a checkpoint makes: that job and fold, and this run's config.
  IdentityCheck identity_check(const std::string& job, int fold = -1) const {
    IdentityCheck c{checkpoint_identity(job, fold), {}};
    if (!identity_.is_null())
      c.config_differs = [now = identity_, defaults = defaults_](const config::json& saved) {
        return fingerprint::same_config(saved, now, defaults) ? std::string()
                                                              : fingerprint::differences(saved, now, 6, defaults);
      };
    return c;
  }

  /// Refuses a job that is not `fresh` on a directory another config made, or one that has weights but
  /// no fingerprint (it cannot say what made them). Call before any write.
  void verify(const std::string& job, bool fresh) const {
    namespace fs = std::filesystem;
    if (!fresh && !fs::exists(fingerprint::file_of(root_)) && has_weights())
      fail(root_.string(), ": holds checkpoints but no fingerprint.json, so nothing says which config made them; ", job,
           " would mix them into this run. Use another run.dir, or start over with `seti run` (without --resume)");
    fingerprint::verify_config(root_, identity_, job, fresh, defaults_);
  }
  /// Records the config (see fingerprint::record_config); a fresh run that replaces another's removes
  /// the old run's folds beyond `folds`. Returns what it replaced ("" if nothing). Needs take().
  std::string record(bool fresh, int folds) const {
    require_held("record");
    const auto replaced = fingerprint::record_config(root_, identity_, fresh);
    if (!replaced.empty())
      for (int k = folds; k < 256; ++k) {
        std::error_code ec;
        std::filesystem::remove_all(fold(k), ec);
      }
    return replaced;
  }
  /// Checks (or records) a training split's inputs. Needs take().
  void check_inputs(const std::string& split, const Dataset& d) const {
    require_held("check_inputs");
    fingerprint::check_inputs(root_, split, d);
  }

 private:
  bool has_weights() const {
    namespace fs = std::filesystem;
    if (fs::exists(model(root_)) || fs::exists(model(pretrain()))) return true;
    for (const auto& d : folds_present())
      if (fs::exists(model(d))) return true;
    return false;
  }
  void require_held(const char* what) const {
    if (!lock_) fail("RunDir::", what, ": ", root_.string(), " is not held (call take() first)");
  }
  [[noreturn]] static void link_refused(const std::filesystem::path& p) {
    fail(p.string(),
         ": a symbolic link inside the run directory; cadence writes nothing through links there (the run directory "
         "itself may be one). Remove it, or use another run.dir");
  }

  std::filesystem::path root_;
  config::json identity_, defaults_;
  std::shared_ptr<RunLock> lock_;  // shared: copies of a RunDir handed to the jobs hold the one lock
};

}  // namespace cadence
