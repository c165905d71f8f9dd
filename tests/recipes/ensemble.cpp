#include "cadence/recipes/ensemble.hpp"

#include <sys/stat.h>

#include "cadence/data/csv.hpp"
#include "support.hpp"

using cadence::config::json;

namespace {
// Two members' run directories, as finetune and predict leave them: oof.csv and submission.csv.
void member(const std::filesystem::path& dir, const std::vector<double>& oof, const std::vector<double>& test,
            int shift_fold = 0) {
  std::string o = "id,target,prediction,fold\n";
  for (std::size_t i = 0; i < oof.size(); ++i) {  // in steps: GCC 12's -Wstringop-overflow misreads "a" + string&&
    o += "a";
    o += std::to_string(i) + "," + (i % 2 ? "1" : "0") + "," + std::to_string(oof[i]) + "," +
         std::to_string((i + shift_fold) % 2) + "\n";
  }
  test::write_file(dir / "oof.csv", o);
  std::string s = "id,target\n";
  for (std::size_t i = 0; i < test.size(); ++i) {
    s += "t";
    s += std::to_string(i) + "," + std::to_string(test[i]) + "\n";
  }
  test::write_file(dir / "submission.csv", s);
}

cadence::EnsembleOptions options(const std::filesystem::path& dir, const char* blend, double weight_s = 3.0) {
  return cadence::config::parse<cadence::EnsembleConfig>(
             json{{"ensemble",
                   {{"dir", dir.string()},
                    {"blend", blend},
                    {"members",
                     {{{"name", "s"}, {"config", "s.json"}, {"weight", weight_s}},
                      {{"name", "m"}, {"config", "m.json"}, {"weight", 1.0}}}}}}})
      .ensemble;
}
}  // namespace

TEST_CASE("ensemble: blends fold predictions and submissions by weight, as probabilities or ranks") {
  test::TempDir d("ensemble");
  // member s ranks the positive a1 below both negatives: AUC 2/4; member m is perfect
  member(d / "s", {0.2, 0.1, 0.3, 0.9}, {0.1, 0.5});
  member(d / "m", {0.1, 0.6, 0.2, 0.7}, {0.3, 0.1});
  const auto r = cadence::recipes::blend(options(d.path, "prob"));
  CHECK(r.member_auc.at("s") == doctest::Approx(0.5));
  CHECK(r.member_auc.at("m") == doctest::Approx(1.0));
  const auto sub = cadence::csv::read_labels(r.submission);
  REQUIRE(sub.size() == 2);
  CHECK(sub[0].target == doctest::Approx((3 * 0.1 + 0.3) / 4));
  CHECK(sub[1].target == doctest::Approx((3 * 0.5 + 0.1) / 4));
  // the blend's OOF: (3 s + m) / 4 = 0.175, 0.225, 0.275, 0.85: a1 now beats a0, not a2 -> 3/4
  CHECK(r.blend_auc == doctest::Approx(0.75));
  const auto cv = json::parse(test::read_file(d / "cv.json"));
  CHECK(cv["members"]["s"]["oof_auc"] == doctest::Approx(0.5));
  CHECK(cv["blend"]["oof_auc"] == doctest::Approx(0.75));
  CHECK(cv["blend"]["mode"] == "prob");
  const auto oof = test::read_file(d / "oof.csv");
  CHECK(oof.substr(0, oof.find('\n')) == "id,target,prediction,fold,s,m");
  const auto html = test::read_file(r.report);
  CHECK(html.find("out-of-fold ROC AUC, s") != std::string::npos);
  CHECK(html.find("out-of-fold ROC AUC, blend (prob)") != std::string::npos);

  // ranks: each member's column becomes its normalised ranks before the weighted mean
  const auto ranked = cadence::recipes::blend(options(d.path, "rank"));
  const auto rsub = cadence::csv::read_labels(ranked.submission);
  CHECK(rsub[0].target == doctest::Approx((3 * 0.5 + 1.0) / 4));  // s: 0.1 -> rank 1/2, m: 0.3 -> rank 2/2
  CHECK(rsub[1].target == doctest::Approx((3 * 1.0 + 0.5) / 4));

  // rank_min: the least of the members' normalised ranks, weights aside. Out of fold s ranks a0..a3
  // 2/4 1/4 3/4 1, m 1/4 3/4 2/4 1; the least, 1/4 1/4 2/4 1, ties a1 with a0 and puts it below a2:
  // AUC (0.5 + 0 + 1 + 1) / 4
  test::check_error([&] { options(d.path, "rank_min"); }, "/ensemble/members/1/weight: 1, member 0's 3",
                    "weights do not apply");
  const auto least = cadence::recipes::blend(options(d.path, "rank_min", /*weight_s=*/1.0));
  const auto lsub = cadence::csv::read_labels(least.submission);
  CHECK(lsub[0].target == doctest::Approx(0.5));  // s 1/2, m 2/2
  CHECK(lsub[1].target == doctest::Approx(0.5));  // s 2/2, m 1/2
  CHECK(least.blend_auc == doctest::Approx(0.625));
  CHECK(json::parse(test::read_file(d / "cv.json"))["blend"]["mode"] == "rank_min");
}

TEST_CASE("ensemble: on a set with a truth file the blend's and each member's test AUC go to predict.json") {
  test::TempDir d("ensemble_truth"), data("ensemble_truth_data");
  member(d / "s", {0.2, 0.1, 0.3, 0.9}, {0.1, 0.5, 0.2});
  member(d / "m", {0.1, 0.6, 0.2, 0.7}, {0.3, 0.1, 0.9});
  test::write_file(data / "test_labels.csv", std::string(cadence::csv::kTruthHeader) +
                                                 "\nt0,0,,,,static,,,snr=5;drift_hz_s=0\n"
                                                 "t1,1,6.5,0.003,straight+constant+gaussian,,1,width_hz=4,\n"
                                                 "t2,1,14,-0.004,sine+pulsed+box,,0.3,width_hz=3;duty=0.3,\n");
  // members whose runs left no config.json: no data root, so no truth and no predict.json
  auto r = cadence::recipes::blend(options(d.path, "prob"));
  CHECK(r.test_auc < 0);
  CHECK_FALSE(std::filesystem::exists(d / "predict.json"));
  // the first member's config.json names the data root, as every run writes it
  test::write_file(d / "s/config.json", json{{"load", {{"root", data.path.string()}}}}.dump());
  r = cadence::recipes::blend(options(d.path, "prob"));
  // blend (3 s + m) / 4 = 0.15, 0.4, 0.375: both positives above the negative; s alone too; m 0.3 | 0.1, 0.9
  CHECK(r.test_auc == doctest::Approx(1.0));
  const auto p = json::parse(test::read_file(d / "predict.json"));
  CHECK(p["test ROC AUC (test_labels.csv)"] == doctest::Approx(1.0));
  CHECK(p["test ROC AUC, s"] == doctest::Approx(1.0));
  CHECK(p["test ROC AUC, m"] == doctest::Approx(0.5));
  CHECK(p["test cadences"] == 3);
  REQUIRE(p.contains("test AUC by family"));
  CHECK(p["test AUC by family"].size() >= 4);  // straight, sine, constant, pulsed, ... and `static`
  // by SNR times the ON energy: the pulsed positive at 14 x 0.3 = 4.2, the constant one at 6.5
  REQUIRE(p.contains("test AUC by energy SNR"));
  const auto& by_energy = p["test AUC by energy SNR"];
  REQUIRE(by_energy.size() == 2);
  CHECK(by_energy[0]["snr_lo"] == 3);
  CHECK(by_energy[0]["snr_hi"] == 5);
  CHECK(by_energy[0]["positives"] == 1);
  CHECK(by_energy[1]["snr_lo"] == 5);
  CHECK(by_energy[1]["positives"] == 1);
  CHECK(p["test AUC by SNR"][1]["snr_lo"] == 10);  // by the drawn SNR the pulsed one is in 10-15
  CHECK(test::read_file(r.report).find("test ROC AUC, blend") != std::string::npos);
  // a config.json that is not JSON is named
  test::write_file(d / "s/config.json", "{nope");
  test::check_error([&] { cadence::recipes::blend(options(d.path, "prob")); }, "s/config.json: not JSON");
  // nor a FIFO in its place (reading it would block)
  std::filesystem::remove(d / "s/config.json");
  REQUIRE(mkfifo((d / "s/config.json").c_str(), 0600) == 0);
  test::check_error([&] { cadence::recipes::blend(options(d.path, "prob")); }, "s/config.json");
}

TEST_CASE("ensemble: members that used other folds or other ids are refused, naming the file") {
  test::TempDir d("ensemble_bad");
  member(d / "s", {0.2, 0.1, 0.3, 0.9}, {0.1, 0.5});
  member(d / "m", {0.1, 0.6, 0.2, 0.7}, {0.3, 0.1}, /*shift_fold=*/1);
  test::check_error([&] { cadence::recipes::blend(options(d.path, "prob")); }, "m/oof.csv", "fold", "same run.seed");
  member(d / "m", {0.1, 0.6, 0.2, 0.7}, {0.3});
  test::check_error([&] { cadence::recipes::blend(options(d.path, "prob")); }, "m/submission.csv");
  test::check_error(
      [&] {
        cadence::config::parse<cadence::EnsembleConfig>(
            json{{"ensemble", {{"members", {{{"name", "s"}, {"config", "s.json"}}}}}}});
      },
      "/ensemble/members", "at least two");
  test::check_error(
      [&] {
        cadence::config::parse<cadence::EnsembleConfig>(
            json{{"ensemble",
                  {{"members", {{{"name", "../x"}, {"config", "s.json"}}, {{"name", "m"}, {"config", "m.json"}}}}}}});
      },
      "/ensemble/members/0/name", "not a directory name");
  // each member runs in its own directory under the ensemble's, with the ensemble's and its own overrides
  test::write_file(d / "base.json", R"({"run": {"dir": "elsewhere"}, "train": {"epochs": 9}})");
  auto e = options(d.path, "prob");
  e.set = {"train.epochs=2"};
  e.members[1].set = {"train.epochs=3"};
  e.members[0].config = e.members[1].config = "base.json";
  CHECK(cadence::recipes::member_config(e, e.members[0], d.path)["run"]["dir"] == (d / "s").string());
  CHECK(cadence::recipes::member_config(e, e.members[0], d.path)["train"]["epochs"] == 2);
  CHECK(cadence::recipes::member_config(e, e.members[1], d.path)["train"]["epochs"] == 3);
}
