// Misuse and faults a careless or hostile user gives the jobs: each ends in one line naming the file,
// id, key or job, a non-zero exit, and nothing lost (docs/reliability.md lists them all).
#include <signal.h>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <regex>
#include <thread>

#include "cadence/augment/augment.hpp"
#include "cadence/core/run_lock.hpp"
#include "cadence/data/load.hpp"
#include "cadence/data/npy.hpp"
#include "cadence/infer/submission.hpp"
#include "cadence/infer/tta.hpp"
#include "cadence/nn/model.hpp"
#include "cadence/nn/small_cnn.hpp"
#include "cadence/recipes/competition.hpp"
#include "cadence/recipes/holdout.hpp"
#include "networks.hpp"
#include "small_run.hpp"
#include "support.hpp"

using cadence::config::json;

namespace {

struct Result {
  int status = -1;  // exit code, or 128 + signal
  std::string output;
};

/// Runs `seti args...` to the end, stdout and stderr together.
Result seti(const std::vector<std::string>& args) {
  std::string cmd = CADENCE_SETI_BINARY;
  for (const auto& a : args) cmd += " '" + a + "'";
  cmd += " 2>&1";
  Result r;
  FILE* p = ::popen(cmd.c_str(), "r");
  REQUIRE(p != nullptr);
  char buf[4096];
  while (std::fgets(buf, sizeof buf, p)) r.output += buf;
  const int st = ::pclose(p);
  r.status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
  return r;
}

std::filesystem::path write_config(const std::filesystem::path& file, const json& j) {
  test::write_file(file, j.dump());
  return file;
}

}  // namespace

TEST_CASE("hardening: a diverging run stops with one line naming the job, epoch and step") {
  test::TempDir data("divdata"), out("div");
  test::small_dataset(data.path, 24, 4);
  auto cfg = test::small_run_config(data.path, out / "r");
  cfg["train"]["lr"] = 1e30;
  cfg["train"]["epochs"] = 3;
  test::check_error([&] { cadence::recipes::holdout(test::small_run_pipeline(), cfg); },
                    "holdout: the training loss is", "at epoch", "step", "lower train.lr");
  CHECK_FALSE(std::filesystem::exists(out / "r/submission.csv"));
  // and a non-finite prediction never reaches a submission
  test::check_error(
      [&] {
        cadence::write_predictions(out / "s.csv", {"a", "b"}, {0.5, std::nan("")});
      },
      "s.csv", "id `b`", "not finite");
  CHECK_FALSE(std::filesystem::exists(out / "s.csv"));
}

TEST_CASE("hardening: bad inputs are found before any training, by every job and by seti check") {
  test::TempDir data("chkdata"), out("chk");
  test::small_dataset(data.path, 16, 4, 16);
  auto cfg = test::small_run_config(data.path, out / "r");
  // a fold with one class: 16 cadences at 30% hold about 5 positives, not 8
  cfg["train"]["folds"] = 8;
  test::check_error([&] { cadence::recipes::finetune(test::small_run_pipeline(), cfg); }, "/train/folds: 8 folds",
                    "positives", "both classes");
  test::check_error([&] { cadence::recipes::check(test::small_run_pipeline(), cfg); }, "/train/folds");
  CHECK_FALSE(std::filesystem::exists(out / "r/fold_0"));
  // with fewer than 2 of a class no train.folds helps: the remedy is data (it said "use at most 0 folds")
  test::check_error([] { cadence::checks::folds({1.0f}, 4, "train"); }, "1 positives and 0 negatives",
                    "cross-validation needs at least 2 positives and 2 negatives: add data");
  test::check_error(
      [] {
        cadence::checks::folds({1.0f, 1.0f, 1.0f, 0.0f}, 4, "train");
      },
      "cross-validation needs at least 2 positives and 2 negatives");
  test::check_error([] { cadence::checks::folds({1, 1, 1, 0, 0, 0, 0}, 4, "train"); }, "(use at most 3 folds)");
  cfg["train"]["folds"] = 2;
  CHECK(cadence::recipes::check(test::small_run_pipeline(), cfg).find("2 folds, each validation with both classes") !=
        std::string::npos);
  // a test file with a bad header: finetune refuses before training, naming the id
  const auto test_split = cadence::open_split(data.path, cadence::Split::test);
  const auto good = test::read_file(test_split.entries[2].file);
  auto bad = good;
  bad.replace(bad.find("273"), 3, "274");
  test::write_file(test_split.entries[2].file, bad);
  test::check_error([&] { cadence::recipes::finetune(test::small_run_pipeline(), cfg); },
                    "id `" + test_split.entries[2].id + "`", "(6, 274, 256)");
  CHECK_FALSE(std::filesystem::exists(out / "r/fold_0"));
  test::write_file(test_split.entries[2].file, good);
  // a bad sample_submission.csv, and a blend file with other ids
  const auto sample = test::read_file(data / "sample_submission.csv");
  test::write_file(data / "sample_submission.csv", "id,target\nnot/an/id,0\n");
  test::check_error([&] { cadence::recipes::check(test::small_run_pipeline(), cfg); }, "sample_submission.csv",
                    "invalid id");
  test::write_file(data / "sample_submission.csv", sample);
  test::write_file(out / "other.csv", "id,target\nx1,0.5\n");
  cfg["predict"] = {{"blend", {{{"submission", (out / "other.csv").string()}}}}};
  test::check_error([&] { cadence::recipes::check(test::small_run_pipeline(), cfg); }, "other.csv",
                    "rows, the test set has 4");
  // seti check prints the summary and trains nothing
  cfg.erase("predict");
  const auto r = seti({"check", "--config", write_config(out / "c.json", cfg).string()});
  CHECK(r.status == 0);
  CHECK(r.output.find("train  16 cadences") != std::string::npos);
  CHECK_FALSE(std::filesystem::exists(out / "r/fold_0"));
}

TEST_CASE("hardening: a run directory belongs to one run (a lock) and knows its config (a fingerprint)") {
  test::TempDir data("fpdata"), out("fp");
  test::small_dataset(data.path, 24, 4);
  auto cfg = test::small_run_config(data.path, out / "r");
  {  // held by this process: another process fails at once, naming us
    const cadence::RunLock held(out / "r");
    const auto r = seti({"predict", "--config", write_config(out / "a.json", cfg).string()});
    CHECK(r.status == 1);
    CHECK(r.output.find("in use by another run (pid " + std::to_string(::getpid()) + ")") != std::string::npos);
  }
  test::write_file(out / "r/fold_0/last.pt.tmp.99999999", "left by a killed run");
  cadence::recipes::finetune(test::small_run_pipeline(), cfg);
  CHECK_FALSE(std::filesystem::exists(out / "r/fold_0/last.pt.tmp.99999999"));  // removed once the lock was held
  // another config: finetune, predict and --resume refuse, naming what differs
  auto other = cfg;
  other["model"]["width"] = 8;
  test::check_error([&] { cadence::recipes::predict(test::small_run_pipeline(), other); }, "made by another config",
                    "model.width: 4 -> 8");
  other = cfg;
  other["train"]["folds"] = 3;
  test::check_error([&] { cadence::recipes::finetune(test::small_run_pipeline(), other); }, "train.folds: 2 -> 3",
                    "another run.dir");
  other = cfg;
  other["run"]["seed"] = 4;
  other["run"]["resume"] = true;
  test::check_error([&] { cadence::recipes::run(test::small_run_pipeline(), other); }, "run.seed: 3 -> 4");
  // prediction-time and presentation keys are not the run's identity
  other = cfg;
  other["tta"] = {{"mode", "flips"}};
  other["run"]["threads"] = 1;
  other["run"]["quiet"] = false;
  other["finetune"]["baseline"] = true;  // the report's yardstick, scored after training
  other["finetune"]["baseline_search"] = "track";
  CHECK(test::error_of([&] { cadence::recipes::predict(test::small_run_pipeline(), other); }).empty());
  // other data under the same config: refused on resume
  test::small_dataset(data.path, 20, 4, 0, 6);
  auto resumed = cfg;
  resumed["run"]["resume"] = true;
  test::check_error([&] { cadence::recipes::finetune(test::small_run_pipeline(), resumed); },
                    "the train split has changed", "24 -> 20");
  // a fresh run with fewer folds replaces the old run: no stale fold in the outputs
  test::small_dataset(data.path, 24, 4);
  cfg["train"]["folds"] = 3;
  cadence::recipes::run(test::small_run_pipeline(), cfg);
  cfg["train"]["folds"] = 2;
  cadence::recipes::run(test::small_run_pipeline(), cfg);
  CHECK_FALSE(std::filesystem::exists(out / "r/fold_2"));
  CHECK(test::read_file(out / "r/report.html").find("fold 2") == std::string::npos);
  CHECK(test::read_file(out / "r/oof.csv").find(",2\n") == std::string::npos);
}

TEST_CASE("hardening: unreadable checkpoints and weights are one line naming the file") {
  test::TempDir data("ckdata"), out("ck");
  test::small_dataset(data.path, 24, 4);
  auto cfg = test::small_run_config(data.path, out / "r");
  cfg["train"]["epochs"] = 1;
  cadence::recipes::finetune(test::small_run_pipeline(), cfg);
  const auto last = out / "r/fold_0/last.pt";
  const auto good = test::read_file(last);
  test::write_file(last, good.substr(0, good.size() / 3));
  auto resumed = cfg;
  resumed["run"]["resume"] = true;
  test::check_error([&] { cadence::recipes::finetune(test::small_run_pipeline(), resumed); }, "fold_0/last.pt",
                    "cannot resume from this checkpoint");
  test::write_file(out / "r/fold_1/model.pt", "garbage");
  test::check_error([&] { cadence::recipes::predict(test::small_run_pipeline(), cfg); }, "fold_1/model.pt",
                    "cannot load these weights");
  // weights of another width, loaded by hand
  auto wide = test::small_run_pipeline();
  wide.get<cadence::Model<cadence::SmallCnnArch>>().options.width = 8;
  auto net = cadence::build_network(wide, 1);
  test::check_error([&] { cadence::load_module(net, out / "r/fold_0/model.pt"); }, "fold_0/model.pt", "another model");
}

TEST_CASE("hardening: write failures leave the previous file and no temporary behind") {
  test::TempDir out("wf");
  test::write_file(out / "report.html", "the previous report");
  // the file-size limit stands in for a full disk: writes past it fail with EFBIG
  ::signal(SIGXFSZ, SIG_IGN);
  rlimit old{};
  ::getrlimit(RLIMIT_FSIZE, &old);
  rlimit small = old;
  small.rlim_cur = 4096;
  REQUIRE(::setrlimit(RLIMIT_FSIZE, &small) == 0);
  const auto msg = test::error_of([&] {
    cadence::write_text_atomically(out / "report.html", [](std::ostream& o) { o << std::string(100000, 'x'); });
  });
  const auto torch_msg = test::error_of([&] {
    auto net = cadence::build_network(test::small_run_pipeline(), 1);
    cadence::save_module(net, out / "model.pt");
  });
  ::setrlimit(RLIMIT_FSIZE, &old);
  ::signal(SIGXFSZ, SIG_DFL);
  INFO(msg);
  CHECK(msg.find("report.html: write failed (disk full?)") != std::string::npos);
  CHECK(msg.find('\n') == std::string::npos);
  CHECK(test::read_file(out / "report.html") == "the previous report");
  INFO(torch_msg);
  CHECK(torch_msg.find("model.pt: write failed (disk full?)") !=
        std::string::npos);  // LibTorch's archive, written by cadence
  CHECK(torch_msg.find('\n') == std::string::npos);
  std::size_t leftovers = 0;
  for (const auto& e : std::filesystem::directory_iterator(out.path))
    leftovers += e.path().string().find(".tmp.") != std::string::npos;
  CHECK(leftovers == 0);
  // a directory that cannot be made (a file is in the way)
  test::check_error([&] { cadence::write_text_atomically(out / "report.html/x.csv", [](std::ostream& o) { o << 1; }); },
                    "x.csv");
}

TEST_CASE("hardening: absurd sizes are refused before anything is allocated") {
  test::TempDir data("szdata"), out("sz");
  test::small_dataset(data.path, 8, 2);
  auto cfg = test::small_run_config(data.path, out / "r");
  cfg["model"]["width"] = 100000000;
  test::check_error([&] { cadence::recipes::holdout(test::small_run_pipeline(), cfg); }, "/model/width",
                    "outside [1, 1024]");
  cfg["model"]["width"] = 512;
  cfg["model"]["depth"] = 8;
  test::check_error([&] { cadence::recipes::holdout(test::small_run_pipeline(), cfg); }, "/model/width",
                    "65536 channels");
  // a 128-byte .npy whose header claims a huge array
  const std::string header = "{'descr': '<f4', 'fortran_order': False, 'shape': (100000, 3, 100000, 100000), }";
  std::string npy = "\x93NUMPY\x01";
  npy += '\0';
  std::string padded = header + std::string(118 - header.size() - 1, ' ') + "\n";
  npy += static_cast<char>(padded.size() & 0xff);
  npy += static_cast<char>(padded.size() >> 8);
  npy += padded;
  test::write_file(out / "huge.npy", npy);
  auto r = seti({"model", "--arch", "efficientnetv2_s", "--input", (out / "huge.npy").string(), "--output",
                 (out / "o.npy").string()});
  CHECK(r.status == 1);
  CHECK(r.output.find("huge.npy: truncated: shape (100000, 3, 100000, 100000) needs") != std::string::npos);
  CHECK(std::count(r.output.begin(), r.output.end(), '\n') == 1);
  // shapes the network cannot take: an empty batch, an image too small for its strides
  for (const char* shape : {"(0, 3, 64, 64)", "(1, 3, 4, 4)", "(2, 3, 64, 0)"}) {
    CAPTURE(shape);
    const std::string h = std::string("{'descr': '<f4', 'fortran_order': False, 'shape': ") + shape + ", }";
    test::write_file(out / "small.npy", cadence::npy::frame_header(h) + std::string(192, '\0'));
    r = seti({"model", "--arch", "efficientnetv2_s", "--input", (out / "small.npy").string(), "--output",
              (out / "o.npy").string()});
    CHECK(r.status == 1);
    CHECK(r.output.find("small.npy: expected a (B,3,H,W) array with 1 <= B <= 4096 and 8 <= H, W <= 8192") !=
          std::string::npos);
  }
}

TEST_CASE("hardening: SIGTERM mid-epoch writes a checkpoint, exits 143, and --resume ends as an uninterrupted run") {
  test::TempDir data("sigdata"), out("sig");
  test::small_dataset(data.path, 64, 2);
  auto cfg = test::small_run_config(data.path, out / "a");
  cfg["train"] = {{"epochs", 2}, {"batch_size", 4}, {"folds", 2}, {"checkpoint_every", 1}};
  cfg["model"] = {{"arch", "small_cnn"}, {"width", 8}, {"depth", 3}, {"pool", 2}};
  cfg["finetune"] = {{"init", "scratch"}, {"only", {0}}};
  CHECK(seti({"finetune", "--config", write_config(out / "a.json", cfg).string()}).status == 0);
  auto b = cfg;
  b["run"]["dir"] = (out / "b").string();
  const auto b_json = write_config(out / "b.json", b);
  std::vector<std::string> args{CADENCE_SETI_BINARY, "finetune", "--config", b_json.string()};
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  pid_t pid = 0;
  REQUIRE(posix_spawn(&pid, argv[0], nullptr, nullptr, argv.data(), environ) == 0);
  const auto last = out / "b/fold_0/last.pt";
  for (int i = 0; i < 6000 && !std::filesystem::exists(last); ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  ::kill(pid, SIGTERM);
  int status = 0;
  ::waitpid(pid, &status, 0);
  REQUIRE(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 143);
  CHECK_FALSE(std::filesystem::exists(out.path / ("b/fold_0/log.jsonl.tmp." + std::to_string(pid))));
  const auto r = seti({"finetune", "--config", b_json.string(), "--resume"});
  CHECK(r.status == 0);
  for (const char* f : {"fold_0/last.pt", "fold_0/model.pt", "fold_0/log.jsonl", "oof.csv"}) {
    CAPTURE(f);
    if (std::string(f).ends_with(".pt")) {
      auto n = [&](const std::filesystem::path& p) {
        auto net = test::small_cnn(8, 3, 2);
        cadence::load_module(net, p);
        return net;
      };
      auto x = n(out / "a" / f), y = n(out / "b" / f);
      auto py = y->named_parameters();
      for (const auto& item : x->named_parameters()) CHECK(torch::equal(item.value(), py[item.key()]));
    } else {
      auto strip = [](std::string s) {  // samples/s differs run to run
        return std::regex_replace(s, std::regex("\"(samples_per_s|data_wait)\":[0-9.e+-]+"), "");
      };
      CHECK(strip(test::read_file(out / "a" / f)) == strip(test::read_file(out / "b" / f)));
    }
  }
}

TEST_CASE("hardening: a run made before an option existed resumes while the option is at its default") {
  namespace fp = cadence::fingerprint;
  const auto was = cadence::config::json::parse(R"({"train": {"lr": 0.1, "epochs": 4}})");
  const auto defaults =
      cadence::config::json::parse(R"({"train": {"lr": 0.002, "epochs": 4, "sync_batchnorm": false}})");
  auto now = cadence::config::json::parse(R"({"train": {"lr": 0.1, "epochs": 4, "sync_batchnorm": false}})");
  CHECK(fp::same_config(was, now, defaults));
  CHECK_FALSE(fp::same_config(was, now));  // without the defaults, any new key differs
  now["train"]["sync_batchnorm"] = true;   // the new option set: a different run
  CHECK_FALSE(fp::same_config(was, now, defaults));
  CHECK(fp::differences(was, now, 6, defaults) == "train.sync_batchnorm: (absent) -> true");
  now["train"]["sync_batchnorm"] = false;
  now["train"]["lr"] = 0.2;  // a recorded key changed
  CHECK_FALSE(fp::same_config(was, now, defaults));
  CHECK(fp::differences(was, now, 6, defaults) == "train.lr: 0.1 -> 0.2");
  now = cadence::config::json::parse(R"({"train": {"lr": 0.1}})");  // a recorded key gone
  CHECK_FALSE(fp::same_config(was, now, defaults));
}

TEST_CASE("hardening: train.grad_checkpointing may change on --resume (same gradients), train.lr may not") {
  namespace fp = cadence::fingerprint;
  const auto a = cadence::config::json::parse(R"({"train": {"lr": 0.1, "grad_checkpointing": false}})");
  auto b = a;
  b["train"]["grad_checkpointing"] = true;  // out of memory: resume with recomputation
  CHECK(fp::same_config(fp::of_config(a, {}), fp::of_config(b, {})));
  b["train"]["lr"] = 0.2;
  CHECK_FALSE(fp::same_config(fp::of_config(a, {}), fp::of_config(b, {})));
}

TEST_CASE(
    "hardening: run.device may change between jobs (train on a GPU, predict or scan on a CPU), also on runs recorded "
    "with it") {
  namespace fp = cadence::fingerprint;
  const auto cpu = cadence::config::json::parse(R"({"run": {"device": "cpu", "seed": 1}, "train": {"lr": 0.1}})");
  auto cuda = cpu;
  cuda["run"]["device"] = "cuda:1";
  CHECK(fp::same_config(fp::of_config(cpu, {}), fp::of_config(cuda, {})));
  CHECK_FALSE(fp::of_config(cpu, {}).contains(cadence::config::json::json_pointer("/run/device")));
  // a fingerprint written when the device was part of it (runs made before this version) still matches
  CHECK(fp::same_config(cpu, fp::of_config(cuda, {})));
  CHECK(fp::differences(cpu, fp::of_config(cuda, {})).empty());
  cuda["run"]["seed"] = 2;  // a key that does change the run still differs, and is the only one named
  CHECK_FALSE(fp::same_config(cpu, fp::of_config(cuda, {})));
  CHECK(fp::differences(cpu, fp::of_config(cuda, {})) == "run.seed: 1 -> 2");
}
