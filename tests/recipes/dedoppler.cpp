// The de-Doppler search as the model of a pipeline, through the recipes (the kernel itself: tests/detect/dedoppler.cpp).
#include <doctest/doctest.h>
#include <torch/torch.h>

#include <sys/stat.h>

#include <map>
#include <numeric>

#include "cadence/data/load.hpp"
#include "cadence/detect/background.hpp"
#include "cadence/detect/dedoppler.hpp"
#include "cadence/infer/tta.hpp"
#include "cadence/nn/model.hpp"
#include "cadence/nn/small_cnn.hpp"
#include "cadence/recipes/competition.hpp"
#include "cadence/synth/generator.hpp"
#include "support.hpp"

namespace {
// The scores of `b`, a classical search (nothing to train), for every cadence of the train split under
// `root`, read with all six panels, by id; and their ROC AUC: what finetune.baseline must report for the
// same cadences.
struct SearchScores {
  std::map<std::string, double> by_id;
  double auc = 0.0;
};
template <class P>
SearchScores train_scores(P b, const std::filesystem::path& root) {
  b.template get<cadence::Load>().options.root = root;
  b.template get<cadence::Load>().options.layout = cadence::PanelLayout::all_stacked;
  const auto train = b.template get<cadence::Load>().open(cadence::Split::train);
  auto net = cadence::build_network(b, 1);
  std::vector<std::int64_t> all(train.size());
  std::iota(all.begin(), all.end(), 0);
  const auto p = cadence::predict_pipeline(b, net, cadence::Head::ce, train, all, 64, torch::kCPU, 1, "x", true);
  SearchScores out;
  const auto ids = train.ids();
  for (std::size_t k = 0; k < p.size(); ++k) out.by_id[ids[k]] = p[k];
  out.auc = cadence::roc_auc(train.targets(), p);
  return out;
}
}  // namespace

TEST_CASE("dedoppler: as the model of a pipeline, run scores the folds without training and predicts once") {
  test::TempDir data("dd"), out("ddrun");
  test::small_dataset(data.path, 40, 20);
  const auto pipeline = cadence::Load{} | cadence::Background{} | cadence::Model<cadence::DeDopplerArch>{};
  const cadence::config::json j = {
      {"run", {{"dir", (out / "r").string()}, {"seed", 1}, {"threads", 2}, {"quiet", true}}},
      {"load", {{"root", data.path.string()}, {"layout", "all_stacked"}, {"threads", 2}}},
      {"model", {{"arch", "dedoppler"}, {"drift_steps", 9}}},
      {"train", {{"folds", 2}}},
      {"finetune", {{"init", "scratch"}}}};
  const auto r = cadence::recipes::run(pipeline, j);
  REQUIRE(r.fold_auc.size() == 2);
  CHECK(r.cv_auc > 0.8);  // the synthetic positives are bright drifting lines: the classical search finds them
  const auto log = test::read_file(out / "r/fold_0/log.jsonl");
  CHECK(std::count(log.begin(), log.end(), '\n') == 1);
  CHECK(log.find("\"scored_only\":true") != std::string::npos);
  CHECK(std::filesystem::exists(out / "r/fold_1/model.pt"));
  const auto predict = cadence::config::json::parse(test::read_file(out / "r/predict.json"));
  CHECK(predict["models (folds)"] == 1);  // nothing learnt: the folds agree, so one pass
  CHECK(predict.contains("test ROC AUC (test_labels.csv)"));
  const auto report = test::read_file(out / "r/report.html");
  CHECK(report.find("id=\"snr\"") != std::string::npos);
  CHECK(report.find("id=\"prediction\"") != std::string::npos);
  // predict.json's binned tables (by SNR, SNR x energy, drift, family) stay out of the report's summary
  REQUIRE(predict.contains("test AUC by energy SNR"));
  CHECK(report.find("snr_lo") == std::string::npos);
}

TEST_CASE(
    "dedoppler: finetune.baseline scores the baseline on the network's out-of-fold cadences, for cv.json and the "
    "report") {
  test::TempDir data("ddbase"), out("ddbaserun");
  test::small_dataset(data.path, 40, 8);
  const auto pipeline =
      cadence::Load{} | cadence::Background{} | cadence::Model<cadence::SmallCnnArch>{} | cadence::TTA<2>{};
  const cadence::config::json j = {
      {"run", {{"dir", (out / "r").string()}, {"seed", 1}, {"threads", 2}, {"quiet", true}}},
      {"load", {{"root", data.path.string()}, {"threads", 2}}},
      {"background", {{"mode", "off_mean"}}},
      {"model", {{"arch", "small_cnn"}, {"width", 4}, {"depth", 2}, {"pool", 8}}},
      {"train", {{"epochs", 1}, {"batch_size", 8}, {"folds", 2}}},
      {"finetune", {{"init", "scratch"}, {"baseline", true}}}};
  const auto r = cadence::recipes::finetune(pipeline, j);
  const auto cv = cadence::config::json::parse(test::read_file(out / "r/cv.json"));
  REQUIRE(cv.contains("baseline_auc"));
  // the same number as the baseline pipeline itself on those cadences (all of train: two folds cover it)
  const auto line = train_scores(cadence::Load{} | cadence::Model<cadence::DeDopplerArch>{}, data.path);
  CHECK(cv["baseline_auc"].get<double>() == doctest::Approx(line.auc).epsilon(1e-12));
  CHECK(cv["baseline_search"] == "line");
  const auto report = test::read_file(r.report);
  CHECK(report.find("de-Doppler baseline ROC AUC (same cadences)") != std::string::npos);
  CHECK(report.find("<th>de-Doppler baseline</th>") != std::string::npos);        // beside the network, by SNR
  CHECK(report.find("<title>de-Doppler baseline</title>") != std::string::npos);  // and on the ROC chart
  // predict draws the report again: the baseline stays beside the network (baseline.csv keeps its scores)
  CHECK(std::filesystem::exists(out / "r/baseline.csv"));
  auto flips = j;  // this pipeline has no Augment stage for TTA's default mode
  flips["tta"] = {{"mode", "flips"}};
  cadence::recipes::predict(pipeline, flips);
  const auto after = test::read_file(out / "r/report.html");
  CHECK(after.find("<th>de-Doppler baseline</th>") != std::string::npos);
  CHECK(after.find("<title>de-Doppler baseline</title>") != std::string::npos);
  // a baseline.csv of other cadences is named, not drawn; nor is a FIFO read (it would block)
  test::write_file(out / "r/baseline.csv", "id,target\nnot_ours,0.5\n");
  test::check_error([&] { cadence::recipes::predict(pipeline, flips); }, "baseline.csv: not the cadences of");
  std::filesystem::remove(out / "r/baseline.csv");
  REQUIRE(mkfifo((out / "r/baseline.csv").c_str(), 0600) == 0);
  test::check_error([&] { cadence::recipes::predict(pipeline, flips); }, "baseline.csv");
  std::filesystem::remove(out / "r/baseline.csv");
  // a directory planted in its place is named when a finetune without a baseline must remove it
  std::filesystem::create_directories(out / "r/baseline.csv/x");
  auto without = j;
  without["finetune"] = {{"init", "scratch"}};
  test::check_error([&] { cadence::recipes::finetune(pipeline, without); }, "baseline.csv: cannot remove");
  std::filesystem::remove_all(out / "r/baseline.csv");
  // a finetune without a baseline removes the file
  cadence::recipes::finetune(pipeline, j);
  REQUIRE(std::filesystem::exists(out / "r/baseline.csv"));
  cadence::recipes::finetune(pipeline, without);
  CHECK_FALSE(std::filesystem::exists(out / "r/baseline.csv"));
}

TEST_CASE("dedoppler: finetune.baseline_search \"track\" scores the track search as track.json ships it") {
  test::TempDir data("ddtrack"), out("ddtrackrun");
  cadence::synth::SynthOptions raw;  // files as a telescope writes them: not standardised
  raw.root = data.path;
  raw.train = 40;
  raw.test = 8;
  raw.old = 0;
  raw.positive_rate = 0.3;
  raw.standardize = false;
  raw.threads = 2;
  cadence::synth::generate(raw, /*quiet=*/true);
  const auto pipeline =
      cadence::Load{} | cadence::Background{} | cadence::Model<cadence::SmallCnnArch>{} | cadence::TTA<2>{};
  cadence::config::json j = {{"run", {{"dir", (out / "r").string()}, {"seed", 1}, {"threads", 2}, {"quiet", true}}},
                             {"load", {{"root", data.path.string()}, {"threads", 2}}},
                             {"background", {{"mode", "off_mean"}}},
                             {"model", {{"arch", "small_cnn"}, {"width", 4}, {"depth", 2}, {"pool", 8}}},
                             {"train", {{"epochs", 1}, {"batch_size", 8}, {"folds", 2}}},
                             {"finetune", {{"init", "scratch"}, {"baseline", true}, {"baseline_search", "track"}}}};
  j["load"]["standardize"] = false;  // the network's reading; the baseline reads as track.json does
  cadence::recipes::finetune(pipeline, j);
  const auto cv = cadence::config::json::parse(test::read_file(out / "r/cv.json"));
  REQUIRE(cv.contains("baseline_auc"));
  CHECK(cv["baseline_search"] == "track");
  // the same number as track.json's own pipeline (its model and background sections) on those cadences
  const auto track =
      cadence::config::load_file(std::filesystem::path(CADENCE_SOURCE_DIR) / "samples/seti/configs/track.json");
  auto b = cadence::Load{} | cadence::Background{} | cadence::Model<cadence::DeDopplerArch>{};
  b.get<cadence::Background>().options = cadence::config::parse<cadence::BackgroundOptions>(track["background"]);
  b.get<cadence::Model<cadence::DeDopplerArch>>().options =
      cadence::config::parse<cadence::ModelOptions<cadence::DeDopplerArch>>(track["model"]);
  const auto track_scores = train_scores(b, data.path);
  CHECK(cv["baseline_auc"].get<double>() == doctest::Approx(track_scores.auc).epsilon(1e-12));
  // score for score (the probabilities too, whose threshold is in track.json's standardised units)
  const auto written = cadence::csv::read_labels(out / "r/baseline.csv");
  REQUIRE(written.size() == track_scores.by_id.size());
  for (const auto& row : written) CHECK(row.target == doctest::Approx(track_scores.by_id.at(row.id)).epsilon(1e-5));
  // and the preset is track.json's model, key for key
  const cadence::DeDopplerOptions& shipped = b.get<cadence::Model<cadence::DeDopplerArch>>().options;
  CHECK(cadence::config::write_value(shipped) ==
        cadence::config::write_value(cadence::DeDopplerOptions::shipped_track()));
  CHECK(track["background"]["mode"] == "neighbour_mean");
  // without a baseline, naming its search is refused with the key's path
  j["finetune"] = {{"init", "scratch"}, {"baseline_search", "track"}};
  test::check_error([&] { cadence::recipes::finetune(pipeline, j); }, "/finetune/baseline_search",
                    "only \"baseline\": true reads it");
}
