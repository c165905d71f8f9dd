#include "cadence/recipes/holdout.hpp"

#include "cadence/data/csv.hpp"
#include "cadence/nn/small_cnn.hpp"
#include "cadence/data/load.hpp"
#include "cadence/nn/model.hpp"
#include "support.hpp"

using cadence::config::json;

namespace {
json holdout_config(const std::filesystem::path& data, const std::filesystem::path& run) {
  return {{"run", {{"dir", run.string()}, {"seed", 3}, {"threads", 2}, {"quiet", true}}},
          {"load", {{"root", data.string()}, {"threads", 2}}},
          {"model", {{"arch", "small_cnn"}, {"width", 4}, {"depth", 2}, {"pool", 4}}},
          {"train", {{"epochs", 2}, {"batch_size", 8}, {"holdout", 0.25}}}};
}
}  // namespace

TEST_CASE("holdout: Load | Model trains, validates and writes a submission in sample order") {
  test::TempDir data("hodata"), run("horun");
  test::small_dataset(data.path, 40, 9);
  auto pipeline = cadence::Load{} | cadence::Model<cadence::SmallCnnArch>{};
  const auto r = cadence::recipes::holdout(pipeline, holdout_config(data.path, run.path / "r"));
  const auto sample = cadence::csv::read_labels(data / "sample_submission.csv", false);
  const auto sub = cadence::csv::read_labels(r.submission);
  REQUIRE(sub.size() == sample.size());
  for (std::size_t i = 0; i < sub.size(); ++i) CHECK(sub[i].id == sample[i].id);
  const auto resolved = json::parse(test::read_file(run / "r/config.json"));
  CHECK(resolved["model"]["width"] == 4);
  CHECK(resolved["model"]["head"] == "ce");  // defaults filled in
  CHECK(resolved["train"]["lr"].is_number());
  std::ifstream log(run / "r/log.jsonl");
  int lines = 0;
  double best = -1;
  for (std::string l; std::getline(log, l);) {
    ++lines;
    best = std::max(best, json::parse(l)["valid_auc"].get<double>());
  }
  CHECK(lines == 2);
  CHECK(r.best_auc == best);  // the reported AUC is the best logged epoch's
  CHECK(std::filesystem::exists(run / "r/model.pt"));
  const auto split = cadence::csv::read_labels(run / "r/split.csv", cadence::csv::Column::probability, "fold");
  const auto n_valid = std::count_if(split.begin(), split.end(), [](const auto& r) { return r.target == 1.0; });
  const auto labels = cadence::csv::read_labels(data / "train_labels.csv");
  const auto positives = std::count_if(labels.begin(), labels.end(), [](const auto& r) { return r.target == 1.0; });
  auto quarter = [](long n) { return static_cast<long>(static_cast<double>(n) * 0.25 + 0.5); };
  CHECK(n_valid == quarter(positives) + quarter(40 - positives));  // stratified: a quarter of each class
  CHECK(static_cast<long>(cadence::csv::read_labels(run / "r/valid.csv").size()) == n_valid);
  for (const auto& e : std::filesystem::directory_iterator(run / "r"))
    CHECK(e.path().string().find(".tmp.") == std::string::npos);  // no temp files left
}

TEST_CASE("holdout: config and data errors stop before training, leaving no outputs") {
  test::TempDir data("hodata2"), run("horun2");
  test::small_dataset(data.path, 8, 2);
  auto pipeline = cadence::Load{} | cadence::Model<cadence::SmallCnnArch>{};
  auto attempt = [&](json j) { return [&pipeline, j] { cadence::recipes::holdout(pipeline, j); }; };
  auto cfg = holdout_config(data.path, run / "x");
  cfg["train"]["epochs"] = 0;
  test::check_error(attempt(cfg), "/train/epochs");
  cfg = holdout_config(data.path, run / "x");
  cfg["model"]["widht"] = 8;
  test::check_error(attempt(cfg), "/model/widht", "unknown key");
  cfg = holdout_config(data.path, run / "x");
  cfg["load"]["threads"] = "two";
  test::check_error(attempt(cfg), "/load/threads", "expected an integer");
  cfg = holdout_config(data / "missing", run / "x");
  test::check_error(attempt(cfg), "missing", "does not exist");
  cfg = holdout_config(data.path, run / "x");
  cfg["run"]["device"] = "gpu7";
  test::check_error(attempt(cfg), "/run/device", "gpu7");
  CHECK_FALSE(std::filesystem::exists(run / "x"));
}
