#include "cadence/train/metrics.hpp"

#include <nlohmann/json.hpp>

#include "support.hpp"

TEST_CASE("metrics: ROC AUC equals scikit-learn's roc_auc_score, ties included") {
  const auto j = nlohmann::json::parse(test::read_file(test::fixture("sklearn/roc_auc.json")));
  REQUIRE(j["cases"].size() == 5);
  for (const auto& c : j["cases"]) {
    CAPTURE(c["name"].get<std::string>());
    const auto y = c["y_true"].get<std::vector<double>>();
    const auto s = c["y_score"].get<std::vector<double>>();
    CHECK(cadence::roc_auc(y, s) == doctest::Approx(c["roc_auc"].get<double>()).epsilon(1e-12));
  }
}

TEST_CASE("metrics: ROC AUC refuses a single class") {
  test::check_error([] { cadence::roc_auc(std::vector<double>{1, 1}, std::vector<double>{0.1, 0.2}); }, "both classes");
  test::check_error([] { cadence::roc_auc(std::vector<double>{1, 0}, std::vector<double>{0.1}); }, "2 labels but 1 scores");
}

TEST_CASE("metrics: ROC AUC refuses NaN and infinite scores instead of hanging on them") {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  test::check_error([&] { cadence::roc_auc(std::vector<double>{1, 0, 1}, std::vector<double>{0.2, nan, 0.1}); }, "score 1", "not finite",
                    "diverge");
  test::check_error([&] { cadence::roc_auc(std::vector<double>{1, 0}, std::vector<double>{INFINITY, 0.1}); }, "score 0", "inf");
}
