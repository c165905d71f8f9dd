// Run-directory integrity (docs/reliability.md): nothing written outside the run through a planted link,
// every checkpoint checked against what loads it, a refused job writes nothing, inputs that are not
// regular files refused at once, duplicate JSON keys refused, and what a run wrote read back strictly.
#include <sys/stat.h>
#include <unistd.h>

#include <csignal>

#include "cadence/augment/augment.hpp"
#include "cadence/config/overrides.hpp"
#include "cadence/data/load.hpp"
#include "cadence/detect/background.hpp"
#include "cadence/infer/tta.hpp"
#include "cadence/nn/model.hpp"
#include "cadence/nn/small_cnn.hpp"
#include "cadence/observe/hdf5.hpp"
#include "cadence/recipes/competition.hpp"
#include "cadence/recipes/run_files.hpp"
#include "small_run.hpp"
#include "support.hpp"

using cadence::config::json;

namespace {
json integrity_config(const std::filesystem::path& data, const std::filesystem::path& run) {
  return test::small_run_config(data, run, /*epochs=*/1);
}

/// A trained run shared by the cases below (finetune of 2 folds, one epoch, on 24 cadences).
struct TrainedRun {
  test::TempDir data{"itdata"}, out{"it"};
  json cfg;
  TrainedRun() {
    test::small_dataset(data.path, 24, 4);
    cfg = integrity_config(data.path, out / "r");
    cadence::recipes::finetune(test::small_run_pipeline(), cfg);
  }
  std::filesystem::path run() const { return out / "r"; }
};
}  // namespace

TEST_CASE("integrity: a planted link inside the run directory is refused, and nothing is written through it") {
  test::TempDir data("lkdata"), out("lk");
  test::small_dataset(data.path, 24, 4);
  test::write_file(out / "elsewhere/victim.txt", "keep me");
  const auto victim = out / "elsewhere/victim.txt";
  auto cfg = integrity_config(data.path, out / "r");
  cfg["finetune"]["init"] = "pretrained";
  cfg["pretrain"] = {{"split", "train"}};
  // the lock file as a link to a file elsewhere
  std::filesystem::create_directories(out / "r");
  std::filesystem::create_symlink(victim, out / "r/.lock");
  test::check_error([&] { cadence::recipes::pretrain(test::small_run_pipeline(), cfg); }, "r/.lock", "symbolic link");
  CHECK(test::read_file(victim) == "keep me");
  CHECK_FALSE(std::filesystem::exists(out / "r/config.json"));  // refused before any write
  std::filesystem::remove(out / "r/.lock");
  // a training directory as a link to a directory elsewhere
  std::filesystem::create_directory_symlink(out / "elsewhere", out / "r/pretrain");
  test::check_error([&] { cadence::recipes::pretrain(test::small_run_pipeline(), cfg); }, "r/pretrain",
                    "symbolic link inside the run directory");
  CHECK_FALSE(std::filesystem::exists(out / "elsewhere/split.csv"));
  CHECK_FALSE(std::filesystem::exists(out / "elsewhere/model.pt"));
  std::filesystem::remove(out / "r/pretrain");
  // an output file as a link
  std::filesystem::create_symlink(victim, out / "r/oof.csv");
  test::check_error([&] { cadence::recipes::run(test::small_run_pipeline(), cfg); }, "r/oof.csv", "symbolic link");
  CHECK(test::read_file(victim) == "keep me");
  std::filesystem::remove(out / "r/oof.csv");
  // a fold directory planted as a link before finetune
  std::filesystem::create_directory_symlink(out / "elsewhere", out / "r/fold_0");
  test::check_error(
      [&] { cadence::recipes::finetune(test::small_run_pipeline(), integrity_config(data.path, out / "r")); },
      "r/fold_0", "symbolic link");
  CHECK_FALSE(std::filesystem::exists(out / "elsewhere/log.jsonl"));
  std::filesystem::remove(out / "r/fold_0");
  // the run directory itself may be a link (runs/ on another disk)
  std::filesystem::create_directories(out / "disk/real");
  std::filesystem::create_directory_symlink(out / "disk/real", out / "linked");
  cadence::recipes::finetune(test::small_run_pipeline(), integrity_config(data.path, out / "linked"));
  CHECK(std::filesystem::exists(out / "disk/real/fold_1/model.pt"));
}

TEST_CASE("integrity: a refused job writes nothing (every check before the first write)") {
  TrainedRun t;
  const auto config_before = test::read_file(t.run() / "config.json");
  const auto fingerprint_before = test::read_file(t.run() / "fingerprint.json");
  test::write_file(t.out / "garbage.safetensors", "not a weights file at all");
  auto cfg = t.cfg;
  cfg["model"]["weights"] = (t.out / "garbage.safetensors").string();
  cfg["finetune"]["init"] = "weights";
  test::check_error([&] { cadence::recipes::run(test::small_run_pipeline(), cfg); }, "/model/weights");
  CHECK(test::read_file(t.run() / "config.json") == config_before);
  CHECK(test::read_file(t.run() / "fingerprint.json") == fingerprint_before);
  // the run's own config still works on it
  CHECK(test::error_of([&] { cadence::recipes::predict(test::small_run_pipeline(), t.cfg); }).empty());
  // weights a job never reads are not read: finetune.init "scratch" (run does no pretrain, finetune starts fresh)
  cfg["finetune"]["init"] = "scratch";
  CHECK(test::error_of([&] { cadence::recipes::check(test::small_run_pipeline(), cfg); }).empty());
  cfg["finetune"]["init"] = "weights";
  test::check_error([&] { cadence::recipes::check(test::small_run_pipeline(), cfg); }, "/model/weights");
}

TEST_CASE("integrity: a checkpoint from another fold, job, run or shape is refused, naming both sides") {
  TrainedRun t;
  const auto run = t.run();
  auto resumed = t.cfg;
  resumed["run"]["resume"] = true;
  const auto fold0_last = test::read_file(run / "fold_0/last.pt");
  const auto fold0_model = test::read_file(run / "fold_0/model.pt");
  // another fold's last.pt in fold 0: --resume refuses
  std::filesystem::copy_file(run / "fold_1/last.pt", run / "fold_0/last.pt",
                             std::filesystem::copy_options::overwrite_existing);
  test::check_error([&] { cadence::recipes::finetune(test::small_run_pipeline(), resumed); }, "fold_0/last.pt",
                    "a checkpoint of finetune fold 1", "expects finetune fold 0");
  test::write_file(run / "fold_0/last.pt", fold0_last);
  // another fold's model.pt: predict refuses
  std::filesystem::copy_file(run / "fold_1/model.pt", run / "fold_0/model.pt",
                             std::filesystem::copy_options::overwrite_existing);
  test::check_error([&] { cadence::recipes::predict(test::small_run_pipeline(), t.cfg); }, "fold_0/model.pt",
                    "finetune fold 1", "finetune fold 0");
  test::write_file(run / "fold_0/model.pt", fold0_model);
  // another run's (another seed: another config) checkpoint
  auto other = t.cfg;
  other["run"]["dir"] = (t.out / "other").string();
  other["run"]["seed"] = 4;
  cadence::recipes::finetune(test::small_run_pipeline(), other);
  std::filesystem::copy_file(t.out / "other/fold_0/model.pt", run / "fold_0/model.pt",
                             std::filesystem::copy_options::overwrite_existing);
  test::check_error([&] { cadence::recipes::predict(test::small_run_pipeline(), t.cfg); }, "fold_0/model.pt",
                    "another config", "run.seed: 4 -> 3");
  // another width: the shapes differ (LibTorch alone would load it and predict with it)
  auto wide = other;
  wide["run"]["dir"] = (t.out / "wide").string();
  wide["model"]["width"] = 8;
  wide["run"]["seed"] = 3;
  cadence::recipes::finetune(test::small_run_pipeline(), wide);
  auto net = cadence::build_network(test::small_run_pipeline(), 1);  // width 4
  test::check_error([&] { cadence::load_module(net, t.out / "wide/fold_0/model.pt"); }, "wide/fold_0/model.pt",
                    "in the checkpoint but", "another model");
  std::filesystem::copy_file(t.out / "wide/fold_0/model.pt", run / "fold_0/model.pt",
                             std::filesystem::copy_options::overwrite_existing);
  test::check_error([&] { cadence::recipes::predict(test::small_run_pipeline(), t.cfg); }, "fold_0/model.pt",
                    "model.width: 8 -> 4");
  test::write_file(run / "fold_0/model.pt", fold0_model);
  // a checkpoint with no identity (written by hand, or before checkpoints recorded one)
  auto plain = cadence::build_network(test::small_run_pipeline(), 1);
  cadence::save_module(plain, run / "fold_1/model.pt");
  test::check_error([&] { cadence::recipes::predict(test::small_run_pipeline(), t.cfg); }, "fold_1/model.pt",
                    "records no identity");
}

TEST_CASE("integrity: checkpoints without a fingerprint are refused, not adopted under another config") {
  TrainedRun t;
  std::filesystem::remove(t.run() / "fingerprint.json");
  auto cfg = t.cfg;
  cfg["background"] = {{"mode", "off_mean"}};
  auto with_background = cadence::Load{} | cadence::Background{} | test::SmallAug{} |
                         cadence::Model<cadence::SmallCnnArch>{} | cadence::TTA<2>{};
  test::check_error([&] { cadence::recipes::predict(with_background, cfg); }, "no fingerprint.json",
                    "which config made them");
  CHECK_FALSE(std::filesystem::exists(t.run() / "fingerprint.json"));
}

TEST_CASE(
    "integrity: JSON configs refuse duplicate keys, deep nesting and numbers out of range, naming file and path") {
  test::TempDir out("json");
  test::write_file(out / "dup.json", R"({"train": {"epochs": 1, "epochs": 3}})");
  test::check_error([&] { cadence::config::load_file(out / "dup.json"); }, "dup.json", "/train/epochs", "given twice");
  test::write_file(out / "dup_top.json", R"({"train": {}, "model": {"arch": "small_cnn"}, "train": {}})");
  test::check_error([&] { cadence::config::load_file(out / "dup_top.json"); }, "/train: given twice");
  test::write_file(out / "in_array.json",
                   R"({"predict": {"blend": [{"submission": "a"}, {"submission": "b", "submission": "c"}]}})");
  test::check_error([&] { cadence::config::load_file(out / "in_array.json"); },
                    "/predict/blend/1/submission: given twice");
  std::string deep = "{\"a\":";
  for (int i = 0; i < 100; ++i) deep += "[";
  test::write_file(out / "deep.json", deep + "1" + std::string(100, ']') + "}");
  test::check_error([&] { cadence::config::load_file(out / "deep.json"); }, "deep.json", "nested deeper than 64");
  test::write_file(out / "huge.json", R"({"train": {"lr": 1e400}})");
  test::check_error([&] { cadence::config::load_file(out / "huge.json"); }, "huge.json", "number out of range");
  json j = json::object();
  test::check_error([&] { cadence::config::apply_override(j, "train.lr=1e400"); }, "--set `train.lr=1e400`",
                    "out of range");
  test::check_error([&] { cadence::config::apply_override(j, R"(predict={"weight": 1, "weight": 2})"); }, "--set",
                    "/weight: given twice");
  // the same keys once each are fine, in any order
  test::write_file(out / "ok.json", R"({"train": {"epochs": 1}, "model": {"epochs": 3}})");
  CHECK(cadence::config::load_file(out / "ok.json")["model"]["epochs"] == 3);
}

TEST_CASE("integrity: a FIFO, a directory or a device as an input file is refused at once, not read") {
  test::TempDir out("fifo");
  const auto fifo = out / "config.json";
  REQUIRE(::mkfifo(fifo.c_str(), 0644) == 0);
  test::check_error([&] { cadence::config::load_file(fifo); }, "config.json",
                    "not a regular file (a FIFO)");  // returns: no writer needed
  test::check_error([&] { cadence::config::load_file(out.path); }, "not a regular file (a directory)");
  std::filesystem::create_symlink("/dev/zero", out / "zero.json");
  test::check_error([&] { cadence::config::load_file(out / "zero.json"); }, "zero.json", "not a regular file");
  const auto fil = out / "a1.fil";
  REQUIRE(::mkfifo(fil.c_str(), 0644) == 0);
  test::check_error([&] { (void)cadence::observe::open_observation(fil); }, "a1.fil", "not a regular file (a FIFO)");
#if CADENCE_HAS_HDF5
  const auto h5 = out / "a1.h5";
  REQUIRE(::mkfifo(h5.c_str(), 0644) == 0);
  test::check_error([&] { (void)cadence::observe::open_observation(h5); }, "a1.h5", "not a regular file (a FIFO)");
#endif
}

TEST_CASE("integrity: what a run wrote is read back strictly: oof.csv and log.jsonl name the file and line") {
  test::TempDir out("rf");
  test::write_file(out / "oof.csv", "id,target,prediction,fold\na,1,0.9,0\nb,0,zero,1\n");
  test::check_error([&] { cadence::read_oof(out / "oof.csv"); }, "oof.csv:3", "not numbers");
  test::write_file(out / "oof.csv", "id,target,prediction,fold\na,1,0.9,0\na,0,0.1,1\n");
  test::check_error([&] { cadence::read_oof(out / "oof.csv"); }, "oof.csv:3", "id `a` a second time");
  test::write_file(out / "oof.csv", "id,target,prediction,fold\na,1,0.9,0x\n");
  test::check_error([&] { cadence::read_oof(out / "oof.csv"); }, "oof.csv:2");
  test::write_file(out / "oof.csv", "id,target,prediction,fold\na,1,0.9,0\nb,0,0.2,1\n");
  const auto [rows, order] = cadence::read_oof(out / "oof.csv");
  CHECK(order == std::vector<std::string>{"a", "b"});
  CHECK(rows.at("b").fold == 1);
  test::write_file(out / "log.jsonl", "{\"epoch\": 1}\n{\"epoch\": 2, \"valid_au");
  test::check_error([&] { cadence::read_history(out / "log.jsonl"); }, "log.jsonl:2", "not a JSON object");
  CHECK(cadence::read_history(out / "absent.jsonl").empty());
}

TEST_CASE("integrity: predict refuses a train split that changed since the run (a label flipped, a row removed)") {
  TrainedRun t;
  const auto labels = t.data / "train_labels.csv";
  const auto original = test::read_file(labels);
  const auto config_before = test::read_file(t.run() / "config.json");
  // a label flipped: the same ids and count, other labels (the folds' models learnt the old ones)
  auto flipped = original;
  const auto row = flipped.find('\n') + 1;              // the first data row: id,target
  auto& target = flipped[flipped.find('\n', row) - 1];  // its last character is the label
  target = target == '0' ? '1' : '0';
  test::write_file(labels, flipped);
  for (const char* job : {"predict", "finetune"}) {
    CAPTURE(job);
    test::check_error(
        [&] {
          if (std::string(job) == "predict")
            cadence::recipes::predict(test::small_run_pipeline(), t.cfg);
          else
            cadence::recipes::finetune(test::small_run_pipeline(), t.cfg);
        },
        "the train split has changed since this run began (24 -> 24 cadences, or other ids or labels)");
  }
  auto resumed = t.cfg;
  resumed["run"]["resume"] = true;
  test::check_error([&] { cadence::recipes::run(test::small_run_pipeline(), resumed); }, "the train split has changed");
  CHECK_FALSE(std::filesystem::exists(t.run() / "submission.csv"));
  CHECK(test::read_file(t.run() / "config.json") == config_before);  // refused before the first write
  // a row removed
  test::write_file(labels, original.substr(0, original.rfind('\n', original.size() - 2) + 1));
  test::check_error([&] { cadence::recipes::predict(test::small_run_pipeline(), t.cfg); }, "(24 -> 23 cadences");
  // the split as it was: predict works again
  test::write_file(labels, original);
  CHECK(test::error_of([&] { cadence::recipes::predict(test::small_run_pipeline(), t.cfg); }).empty());
  CHECK(std::filesystem::exists(t.run() / "submission.csv"));
}

TEST_CASE("integrity: a signal after training stops predict at its next batch, as training stops, and writes nothing") {
  TrainedRun t;
  cadence::InterruptGuard
      outer;  // the handlers as a job installs them; the signal arrives before predict's first batch
  std::raise(SIGTERM);
  REQUIRE(cadence::interrupt_requested() == SIGTERM);
  bool interrupted = false;
  try {
    cadence::recipes::predict(test::small_run_pipeline(), t.cfg);
  } catch (const cadence::Interrupted& e) {
    interrupted = true;
    CHECK(e.signal == SIGTERM);
    const std::string what = e.what();
    CHECK(what.find("stopped by SIGTERM") != std::string::npos);
    CHECK(what.find("--resume") != std::string::npos);
  }
  CHECK(interrupted);
  CHECK_FALSE(std::filesystem::exists(t.run() / "submission.csv"));
}

TEST_CASE("integrity: predict refuses a truncated log before it writes submission.csv") {
  TrainedRun t;
  cadence::recipes::predict(test::small_run_pipeline(), t.cfg);
  const auto before = test::read_file(t.run() / "submission.csv");
  test::write_file(t.run() / "fold_1/log.jsonl", "{\"tag\": \"fold 1\", \"epo");
  std::filesystem::remove(t.run() / "submission.csv");
  test::check_error([&] { cadence::recipes::predict(test::small_run_pipeline(), t.cfg); }, "fold_1/log.jsonl:1");
  CHECK_FALSE(std::filesystem::exists(t.run() / "submission.csv"));
  CHECK_FALSE(before.empty());
}

TEST_CASE("integrity: a killed run's temporaries are removed, a user's files and a live writer's are not") {
  test::TempDir out("tmpclean");
  test::write_file(out / "r/fold_0/last.pt.tmp.99999999", "a killed run's");  // no such pid (beyond pid_max)
  test::write_file(out / "r/notes.txt.tmp.99999999", "the user's own");
  test::write_file(out / ("r/oof.csv.tmp." + std::to_string(::getpid())), "this process's own, being written");
  cadence::RunDir dir(out / "r");
  dir.take();
  CHECK_FALSE(std::filesystem::exists(out / "r/fold_0/last.pt.tmp.99999999"));
  CHECK(std::filesystem::exists(out / "r/notes.txt.tmp.99999999"));
  CHECK(std::filesystem::exists(out / ("r/oof.csv.tmp." + std::to_string(::getpid()))));
  // a second holder of the same directory in this process is refused too (no re-entrant lock)
  cadence::RunDir again(out / "r");
  test::check_error([&] { again.take(); }, "in use by another run (pid " + std::to_string(::getpid()) + ")");
}

TEST_CASE("integrity: seti check refuses what used to pass it and fail late, with a message that says what is wrong") {
  test::TempDir data("latedata"), out("late");
  test::small_dataset(data.path, 16, 4);
  auto cfg = integrity_config(data.path, out / "r");
  auto bad = cfg;
  bad["run"]["dir"] = "";
  test::check_error([&] { cadence::recipes::check(test::small_run_pipeline(), bad); }, "/run/dir: must not be empty");
  bad = cfg;
  bad["predict"] = {{"weight", 0}};
  test::check_error([&] { cadence::recipes::check(test::small_run_pipeline(), bad); }, "/predict/weight", "sum to 0");
  bad = cfg;
  bad["load"]["root"] = (data / "train_labels.csv").string();  // a file, not the layout's folder
  test::check_error([&] { cadence::recipes::check(test::small_run_pipeline(), bad); },
                    "train_labels.csv` is not a directory");
  std::filesystem::rename(data / "train_labels.csv", data / "labels.bak");
  std::filesystem::create_directory(data / "train_labels.csv");
  test::check_error([&] { cadence::recipes::check(test::small_run_pipeline(), cfg); },
                    "train_labels.csv: not a regular file (a directory)");
}
