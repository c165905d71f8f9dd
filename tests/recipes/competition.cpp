#include "cadence/recipes/competition.hpp"

#include "cadence/recipes/holdout.hpp"

#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <thread>

#include "cadence/augment/augment.hpp"
#include "cadence/data/csv.hpp"
#include "cadence/infer/tta.hpp"
#include "cadence/nn/small_cnn.hpp"
#include "cadence/data/load.hpp"
#include "cadence/nn/model.hpp"
#include "networks.hpp"
#include "small_run.hpp"
#include "support.hpp"

using cadence::config::json;

namespace {
auto competition_pipeline() { return test::small_run_pipeline(); }

json competition_config(const std::filesystem::path& data, const std::filesystem::path& run) {
  return {{"run", {{"dir", run.string()}, {"seed", 3}, {"threads", 2}, {"quiet", true}, {"deterministic", true}}},
          {"load", {{"root", data.string()}, {"threads", 2}}},
          {"model", {{"arch", "small_cnn"}, {"width", 4}, {"depth", 2}, {"pool", 8}}},
          {"train", {{"epochs", 2}, {"batch_size", 8}, {"folds", 2}, {"holdout", 0.25}}}};
}

std::string file(const std::filesystem::path& p) { return test::read_file(p); }
}  // namespace

TEST_CASE("competition: pretrain -> 2-fold finetune -> predict writes the run directory") {
  test::TempDir data("compdata"), out("comprun");
  test::small_dataset(data.path, 32, 7, 24);
  const auto r = cadence::recipes::run(competition_pipeline(), competition_config(data.path, out / "r"));
  // the reported AUCs are the logged best epoch's and the out-of-fold file's
  double best_logged = -1;
  std::istringstream plog(file(out / "r/pretrain/log.jsonl"));
  for (std::string l; std::getline(plog, l);)
    best_logged = std::max(best_logged, json::parse(l)["valid_auc"].get<double>());
  CHECK(r.pretrain_auc == best_logged);
  REQUIRE(r.fold_auc.size() == 2);
  for (const char* f :
       {"config.json", "pretrain/model.pt", "pretrain/log.jsonl", "pretrain/last.pt", "fold_0/model.pt",
        "fold_1/model.pt", "fold_1/log.jsonl", "folds.csv", "oof.csv", "cv.json", "submission.csv", "report.html"})
    CHECK_MESSAGE(std::filesystem::exists(out / "r" / f), f);
  // OOF: every training id once, with its fold
  const auto train = cadence::csv::read_labels(data / "train_labels.csv");
  std::ifstream oof(out / "r/oof.csv");
  std::string line;
  std::getline(oof, line);
  CHECK(line == "id,target,prediction,fold");
  std::set<std::string> ids;
  std::vector<float> truth;
  std::vector<double> pred;
  while (std::getline(oof, line)) {
    ids.insert(line.substr(0, line.find(',')));
    std::istringstream cells(line);
    std::string id, t, p;
    std::getline(cells, id, ',');
    std::getline(cells, t, ',');
    std::getline(cells, p, ',');
    truth.push_back(std::stof(t));
    pred.push_back(std::stod(p));
  }
  CHECK(ids.size() == train.size());
  CHECK(r.cv_auc == doctest::Approx(cadence::roc_auc(truth, pred)).epsilon(1e-6));
  // submission in sample order
  const auto sample = cadence::csv::read_labels(data / "sample_submission.csv", false);
  const auto sub = cadence::csv::read_labels(r.submission);
  REQUIRE(sub.size() == sample.size());
  for (std::size_t i = 0; i < sub.size(); ++i) CHECK(sub[i].id == sample[i].id);
  const auto cv = json::parse(file(out / "r/cv.json"));
  CHECK(cv["oof_auc"].get<double>() == doctest::Approx(r.cv_auc));
  const std::string html = file(r.report);
  CHECK(html.find("<svg class=\"chart\"") != std::string::npos);
  CHECK(html.find("ROC of the out-of-fold predictions") != std::string::npos);

  // blending with another submission: the average of the two
  auto cfg = competition_config(data.path, out / "r");
  test::write_file(out / "other.csv", [&] {
    std::string s = "id,target\n";
    for (const auto& row : sample) s += row.id + ",1\n";
    return s;
  }());
  cfg["predict"] = {{"weight", 1.0}, {"blend", {{{"submission", (out / "other.csv").string()}, {"weight", 1.0}}}}};
  cadence::recipes::predict(competition_pipeline(), cfg);
  const auto blended = cadence::csv::read_labels(out / "r/submission.csv");
  for (std::size_t i = 0; i < blended.size(); ++i)
    CHECK(blended[i].target == doctest::Approx((sub[i].target + 1.0) / 2.0).epsilon(1e-6));
}

TEST_CASE("competition: config and data errors stop before training, naming the JSON path or file") {
  test::TempDir data("comperr"), out("comperrrun");
  test::small_dataset(data.path, 8, 2, 0);
  auto attempt = [&](json j) { return [j] { cadence::recipes::finetune(competition_pipeline(), j); }; };
  auto cfg = competition_config(data.path, out / "x");
  cfg["train"]["folds"] = 1;
  test::check_error(attempt(cfg), "/train/folds", "outside [2, 100]");
  cfg = competition_config(data.path, out / "x");
  cfg["finetune"] = {{"init", "imagenet"}};
  test::check_error(attempt(cfg), "/finetune/init", "pretrained, weights, scratch");
  cfg = competition_config(data.path, out / "x");
  test::check_error(attempt(cfg), "/finetune/init", "pretrain/model.pt", "does not exist");
  CHECK_FALSE(std::filesystem::exists(out / "x/fold_0"));
  cfg["predict"] = {{"blend", {{{"submission", "/nowhere.csv"}}}}};
  test::check_error([&] { cadence::recipes::predict(competition_pipeline(), cfg); }, "/predict/blend", "/nowhere.csv");
  cfg = competition_config(data.path, out / "x");
  cfg["train"]["scheduler"] = "linear";
  test::check_error(attempt(cfg), "/train/scheduler", "cosine, onecycle, step, plateau, constant");
  // a test file that goes missing mid-run: predict stops with the id named
  cfg = competition_config(data.path, out / "x");
  cfg["finetune"] = {{"init", "scratch"}};
  cadence::recipes::finetune(competition_pipeline(), cfg);
  const auto test_split = cadence::open_split(data.path, cadence::Split::test);
  const auto good = test::read_file(test_split.entries[1].file);
  test::write_file(test_split.entries[1].file, good.substr(0, 1000));
  test::check_error([&] { cadence::recipes::predict(competition_pipeline(), cfg); },
                    "id `" + test_split.entries[1].id + "`", "truncated");
  CHECK(std::filesystem::exists(out / "x/fold_0/model.pt"));  // the last good checkpoint is intact
}

TEST_CASE(
    "engine: the schedulers shape the learning rate (accumulation, clipping, EMA, early stopping: "
    "tests/train/fit.cpp)") {
  cadence::TrainOptions t;
  t.epochs = 4;
  t.lr = 1.0;
  t.warmup = 0.25;
  t.scheduler = cadence::SchedulerKind::cosine;
  cadence::LrSchedule cos(t, 100);
  CHECK(cos.lr(0) == doctest::Approx(1.0 / 25));
  CHECK(cos.lr(24) == doctest::Approx(1.0));
  CHECK(cos.lr(62) == doctest::Approx(0.5).epsilon(0.02));
  CHECK(cos.lr(99) < 0.01);
  t.scheduler = cadence::SchedulerKind::onecycle;
  cadence::LrSchedule one(t, 100);
  CHECK(one.lr(0) == doctest::Approx(1.0 / 25));
  CHECK(one.lr(25) == doctest::Approx(1.0));
  CHECK(one.lr(100) == doctest::Approx(1.0 / 25 / 1e4));
  t.scheduler = cadence::SchedulerKind::step;
  t.step_size = 2;
  t.gamma = 0.1;
  cadence::LrSchedule step(t, 100);  // 25 steps per epoch
  CHECK(step.lr(49) == doctest::Approx(1.0));
  CHECK(step.lr(50) == doctest::Approx(0.1));
  t.scheduler = cadence::SchedulerKind::plateau;
  t.plateau_patience = 1;
  cadence::LrSchedule plateau(t, 100);
  plateau.epoch_end(0.8);
  plateau.epoch_end(0.7);
  CHECK(plateau.lr(0) == doctest::Approx(1.0));
  plateau.epoch_end(0.7);
  CHECK(plateau.lr(0) == doctest::Approx(0.1));
}

TEST_CASE(
    "resume: a run killed with SIGKILL anywhere, several times, and resumed ends with the same weights (SWA too)") {
  test::TempDir data("resume"), out("resumerun");
  test::small_dataset(data.path, 48, 2, 0);
  auto cfg = competition_config(data.path, out / "a");
  cfg["train"]["epochs"] = 4;
  cfg["train"]["batch_size"] = 4;
  cfg["train"]["checkpoint_every"] = 2;  // mid-epoch checkpoints: 36 samples to fit, 9 batches an epoch
  cfg["train"]["swa_start"] = 2;         // SWA's running mean (epochs 2 to 4) is part of what resumes
  cfg["finetune"] = {{"init", "scratch"}, {"only", {0}}};
  cfg["model"] = {{"arch", "small_cnn"}, {"width", 8}, {"depth", 3}, {"pool", 2}};
  // runs seti finetune; with kill_after_ms >= 0, kills it that long after its next checkpoint appears
  auto run_seti = [&](const json& c, const std::filesystem::path& cfg_file, int kill_after_ms, bool resume = false) {
    test::write_file(cfg_file, c.dump());
    std::vector<std::string> args{CADENCE_SETI_BINARY, "finetune", "--config", cfg_file.string()};
    if (resume) args.push_back("--resume");
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    const auto last = std::filesystem::path(c["run"]["dir"].get<std::string>()) / "fold_0/last.pt";
    std::error_code ec;
    const auto before = std::filesystem::last_write_time(last, ec);
    pid_t pid = 0;
    REQUIRE(posix_spawn(&pid, argv[0], nullptr, nullptr, argv.data(), environ) == 0);
    if (kill_after_ms >= 0) {
      for (int i = 0; i < 6000; ++i) {
        std::error_code e2;
        const auto now = std::filesystem::last_write_time(last, e2);
        if (!e2 && (ec || now != before)) break;
        std::this_thread::sleep_for(std::chrono::milliseconds(2));
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(kill_after_ms));
      kill(pid, SIGKILL);
    }
    int status = 0;
    waitpid(pid, &status, 0);
    return status;
  };
  CHECK(run_seti(cfg, out / "a.json", -1) == 0);
  auto killed = cfg;
  killed["run"]["dir"] = (out / "b").string();
  int kills = 0;
  for (int after_ms : {0, 7, 15}) {  // at a checkpoint, and a few batches past one
    const int status = run_seti(killed, out / "b.json", after_ms, /*resume=*/kills > 0);
    if (WIFSIGNALED(status)) ++kills;
  }
  CHECK(kills >= 2);
  const auto partial = test::read_file(out / "b/fold_0/log.jsonl");
  CHECK(std::count(partial.begin(), partial.end(), '\n') < 4);  // it really was interrupted
  CHECK(run_seti(killed, out / "b2.json", -1, /*resume=*/true) == 0);
  // the final and the best weights are identical, and so is the validation history
  auto net = [&](const std::filesystem::path& file) {
    auto n = test::small_cnn(8, 3, 2);
    torch::load(n, file.string());
    return n;
  };

  for (const char* f : {"fold_0/last.pt", "fold_0/model.pt"}) {
    CAPTURE(f);
    auto x = net(out / "a" / f), y = net(out / "b" / f);
    auto px = x->named_parameters(), py = y->named_parameters();
    for (const auto& item : px) CHECK(torch::equal(item.value(), py[item.key()]));
  }
  auto aucs = [](const std::string& log) {
    std::vector<double> v;
    std::istringstream in(log);
    for (std::string l; std::getline(in, l);) v.push_back(json::parse(l)["valid_auc"].get<double>());
    return v;
  };
  CHECK(aucs(test::read_file(out / "a/fold_0/log.jsonl")) == aucs(test::read_file(out / "b/fold_0/log.jsonl")));
}

namespace {
/// A CSV file with a header as rows of column -> text.
std::vector<std::map<std::string, std::string>> csv_rows(const std::filesystem::path& f) {
  std::istringstream in(test::read_file(f));
  auto cells = [](const std::string& line) {
    std::vector<std::string> v;
    std::istringstream l(line);
    for (std::string c; std::getline(l, c, ',');) v.push_back(c);
    return v;
  };
  std::string line;
  std::getline(in, line);
  const auto header = cells(line);
  std::vector<std::map<std::string, std::string>> rows;
  while (std::getline(in, line)) {
    const auto c = cells(line);
    auto& row = rows.emplace_back();
    for (std::size_t i = 0; i < header.size() && i < c.size(); ++i) row[header[i]] = c[i];
  }
  return rows;
}
}  // namespace

TEST_CASE(
    "pseudo-labelling: each fold's teacher labels the test cadences it is sure of and the fold trains on them too") {
  test::TempDir data("pseudodata"), out("pseudorun");
  test::small_dataset(data.path, 32, 12, 0);
  auto cfg = competition_config(data.path, out / "r");
  cfg["train"]["epochs"] = 1;
  cfg["train"]["batch_size"] = 4;
  cfg["finetune"] = {{"init", "scratch"}, {"only", {0}}, {"pseudo", true}, {"pseudo_low", 0.98}, {"pseudo_high", 0.99}};
  cadence::recipes::finetune(competition_pipeline(), cfg);
  // a network one epoch old is nowhere near 0.98 sure of a positive: every test cadence is labelled, each
  // with the label its teacher's probability gives it
  const auto rows = csv_rows(out / "r/fold_0/pseudo.csv");
  std::set<std::string> labelled, test_ids;
  int positives = 0;
  for (const auto& row : rows) {
    labelled.insert(row.at("id"));
    const double teacher = std::stod(row.at("teacher")), target = std::stod(row.at("target"));
    CHECK(target == (teacher >= 0.99 ? 1.0 : 0.0));
    CHECK((teacher >= 0.99 || teacher <= 0.98));
    positives += target == 1.0;
  }
  for (const auto& r : cadence::csv::read_labels(data.path / "sample_submission.csv")) test_ids.insert(r.id);
  CHECK(labelled == test_ids);
  const auto cv = json::parse(file(out / "r/cv.json"));
  REQUIRE(cv["pseudo"].size() == 1);
  CHECK(cv["pseudo"][0]["positives"] == positives);
  CHECK(cv["pseudo"][0]["negatives"] == 12 - positives);
  // the teacher trained on the fold's 16 fitting cadences (4 batches of 4), the fold's network on those
  // and the 12 labelled ones (7 batches): last.pt says how many optimizer steps each took in its epoch
  auto steps = [](const std::filesystem::path& last) {
    torch::serialize::InputArchive a;
    a.load_from(last.string());
    c10::IValue v;
    a.read("position", v);
    return json::parse(v.toStringRef())["step"].get<int>();
  };
  CHECK(steps(out / "r/fold_0/teacher/last.pt") == 4);
  CHECK(steps(out / "r/fold_0/last.pt") == 7);
  auto weights = [](const std::filesystem::path& f) {
    auto n = test::small_cnn(4, 2, 8);
    torch::load(n, f.string());
    return torch::cat([&] {
      std::vector<torch::Tensor> v;
      for (const auto& t : n->parameters()) v.push_back(t.detach().flatten());
      return v;
    }());
  };
  CHECK(!torch::equal(weights(out / "r/fold_0/model.pt"), weights(out / "r/fold_0/teacher/model.pt")));
  // validation is the fold's own, on true labels: oof.csv holds the fold's 16 train cadences, no test id
  const auto oof = csv_rows(out / "r/oof.csv");
  CHECK(oof.size() == 16);
  for (const auto& row : oof) CHECK(test_ids.count(row.at("id")) == 0);
  // a fresh run without pseudo-labelling in the same directory keeps no teacher or labels of the old one
  cfg["finetune"]["pseudo"] = false;
  cadence::recipes::run(competition_pipeline(), cfg);
  CHECK(!std::filesystem::exists(out / "r/fold_0/teacher"));
  CHECK(!std::filesystem::exists(out / "r/fold_0/pseudo.csv"));
  CHECK(!json::parse(file(out / "r/cv.json")).contains("pseudo"));
}

TEST_CASE("pseudo-labelling: a link planted where a fold's teacher goes is refused before anything is written") {
  test::TempDir data("pseudolink"), out("pseudolinkrun"), elsewhere("pseudoelsewhere");
  test::small_dataset(data.path, 32, 12, 0);
  auto cfg = competition_config(data.path, out / "r");
  cfg["finetune"] = {{"init", "scratch"}, {"only", {0}}, {"pseudo", true}};
  std::filesystem::create_directories(out / "r/fold_0");
  std::filesystem::create_directory_symlink(elsewhere.path, out / "r/fold_0/teacher");
  test::check_error([&] { cadence::recipes::finetune(competition_pipeline(), cfg); }, "fold_0/teacher",
                    "a symbolic link inside the run directory");
  CHECK(std::filesystem::is_empty(elsewhere.path));
  CHECK(!std::filesystem::exists(out / "r/fold_0/model.pt"));
}

TEST_CASE("pseudo-labelling: the labels are hard, or the teacher's probabilities when soft, and only the sure ones") {
  cadence::FinetuneOptions o;
  o.pseudo_low = 0.1;
  o.pseudo_high = 0.8;
  const std::vector<double> p{0.05, 0.5, 0.9, 0.1, 0.8, 0.2};
  auto hard = cadence::recipes::detail::select_pseudo(p, o);
  CHECK(hard.index == std::vector<std::size_t>{0, 2, 3, 4});
  CHECK(hard.label == std::vector<float>{0, 1, 0, 1});
  CHECK(hard.positives == 2);
  CHECK(hard.negatives == 2);
  o.pseudo_soft = true;
  auto soft = cadence::recipes::detail::select_pseudo(p, o);
  CHECK(soft.index == hard.index);
  CHECK(soft.label == std::vector<float>{0.05f, 0.9f, 0.1f, 0.8f});
}

TEST_CASE("determinism: the same seed with 1 and 2 threads gives the same predictions") {
  test::TempDir data("threads"), out("threadsrun");
  test::small_dataset(data.path, 24, 6, 0);
  std::vector<std::string> subs;
  for (int threads : {1, 2}) {
    auto cfg = competition_config(data.path, out / ("t" + std::to_string(threads)));
    cfg["run"]["threads"] = threads;
    cfg["load"]["threads"] = threads;
    cfg["finetune"] = {{"init", "scratch"}};
    cadence::recipes::finetune(competition_pipeline(), cfg);
    subs.push_back(test::read_file(cadence::recipes::predict(competition_pipeline(), cfg)));
    subs.push_back(test::read_file(out / ("t" + std::to_string(threads)) / "oof.csv"));
  }
  CHECK(subs[0] == subs[2]);  // submission.csv
  CHECK(subs[1] == subs[3]);  // oof.csv
}
