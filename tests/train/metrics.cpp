#include "cadence/train/metrics.hpp"

#include <nlohmann/json.hpp>

#include "cadence/train/report.hpp"
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
  test::check_error(
      [] {
        cadence::roc_auc(std::vector<double>{1, 0}, std::vector<double>{0.1});
      },
      "2 labels but 1 scores");
}

TEST_CASE("metrics: ROC AUC refuses NaN and infinite scores instead of hanging on them") {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  test::check_error(
      [&] {
        cadence::roc_auc(std::vector<double>{1, 0, 1}, std::vector<double>{0.2, nan, 0.1});
      },
      "score 1", "not finite", "diverge");
  test::check_error(
      [&] {
        cadence::roc_auc(std::vector<double>{1, 0}, std::vector<double>{INFINITY, 0.1});
      },
      "score 0", "inf");
}

#include "cadence/train/report.hpp"

TEST_CASE("metrics: the validation log loss and the AUC by SNR bin equal scikit-learn's") {
  const auto j = nlohmann::json::parse(test::read_file(test::fixture("sklearn/log_loss_bins.json")));
  REQUIRE(j["cases"].size() == 3);
  for (const auto& c : j["cases"]) {
    const auto y = c["y_true"].get<std::vector<float>>();
    const auto p = c["prob"].get<std::vector<double>>();
    std::vector<double> snr;
    for (const auto& v : c["snr"]) snr.push_back(v.is_null() ? std::nan("") : v.get<double>());
    CHECK(cadence::log_loss(y, p) == doctest::Approx(c["log_loss"].get<double>()).epsilon(1e-9));
    const auto bins = cadence::report::auc_by_bins(y, p, snr, c["edges"].get<std::vector<double>>());
    REQUIRE(bins.size() == c["bins"].size());
    for (std::size_t b = 0; b < bins.size(); ++b) {
      CAPTURE(b);
      CHECK(bins[b].positives == c["bins"][b]["positives"].get<std::size_t>());
      CHECK(bins[b].auc == doctest::Approx(c["bins"][b]["auc"].get<double>()).epsilon(1e-12));
    }
  }
}

TEST_CASE(
    "report: a per-fold table with 4-digit AUCs, whole-epoch ticks, validation loss beside training loss, settings") {
  test::TempDir dir("report");
  using cadence::config::json;
  json history = json::array();
  for (int e = 1; e <= 3; ++e)
    history.push_back({{"tag", "fold 0"},
                       {"epoch", e},
                       {"train_loss", 0.5 / e},
                       {"valid_loss", 0.6 / e},
                       {"valid_auc", 0.8 + 0.01 * e},
                       {"lr", 1e-3},
                       {"samples_per_s", 50.0},
                       {"data_wait", 0.02}});
  history.push_back(
      {{"tag", "fold 1"}, {"epoch", 1}, {"valid_auc", 0.912345}, {"valid_loss", 0.3}, {"scored_only", true}});
  cadence::report::Extras extras;
  extras.settings = {{"model/arch", "small_cnn"}, {"train/lr", 0.003}};
  extras.prediction = {{"test ROC AUC (test_labels.csv)", 0.987654321}};
  const std::vector<float> truth{0, 1, 0, 1};
  const std::vector<double> pred{0.1, 0.9, 0.4, 0.3};
  extras.oof_snr = {std::nan(""), 12.0, std::nan(""), 33.0};
  cadence::report::write(dir / "r.html", "t", history, truth, pred, {{"out-of-fold ROC AUC", 0.75}}, extras);
  const auto html = test::read_file(dir / "r.html");
  CHECK(html.find("<td>0.8300</td>") != std::string::npos);           // fold 0's best AUC, 4 digits
  CHECK(html.find("<td>0.9123</td>") != std::string::npos);           // a scored-only fold (no training loss)
  CHECK(html.find("0.9877") != std::string::npos);                    // the prediction summary, 4 digits
  CHECK(html.find("stroke-dasharray=\"5 3\"") != std::string::npos);  // validation loss, dashed
  CHECK(html.find("fold 0 valid") != std::string::npos);
  CHECK(html.find("id=\"settings\"") != std::string::npos);
  CHECK(html.find("id=\"snr\"") != std::string::npos);
  CHECK(html.find("class=\"xtick\" x=\"") != std::string::npos);
  // the loss chart's epoch ticks are whole numbers (1, 2, 3), not 1.5
  const auto first_chart = html.find("loss (solid"), second = html.find("<svg", first_chart);
  for (std::size_t at = first_chart; (at = html.find("class=\"xtick\"", at)) != std::string::npos && at < second;
       ++at) {
    const auto gt = html.find('>', at), lt = html.find('<', gt);
    const auto label = html.substr(gt + 1, lt - gt - 1);
    CAPTURE(label);
    CHECK(label.find('.') == std::string::npos);
  }
}

TEST_CASE("report: tick labels tell the ticks apart when the span is small beside the values (a band in MHz)") {
  cadence::report::Series s{"score", {{6092.285158, 0.3}, {6095.214842, 0.9}}, false};
  const auto svg = cadence::report::line_chart("score along the band", "frequency (MHz)", {s});
  std::vector<std::string> labels;
  for (std::size_t at = 0; (at = svg.find("class=\"xtick\"", at)) != std::string::npos; ++at) {
    const auto open = svg.find('>', at) + 1;
    labels.push_back(svg.substr(open, svg.find('<', open) - open));
  }
  REQUIRE(labels.size() == 5);
  CHECK(labels.front() == "6092.29");
  CHECK(labels.back() == "6095.21");
  for (std::size_t i = 1; i < labels.size(); ++i) CHECK(labels[i] != labels[i - 1]);
  CHECK(cadence::report::tick_digits(0.5, 1.0) == 3);  // AUCs and losses keep three digits
}

TEST_CASE("AUC by family: each family's AUC is roc_auc (checked against scikit-learn above) on its subset") {
  // positives carry a signal family (path+intensity+profile[+skip<k>]), any sample an interference kind
  const std::vector<float> y{1, 1, 1, 1, 0, 0, 0, 0, 0, 0};
  const std::vector<double> p{0.9, 0.2, 0.7, 0.4, 0.1, 0.8, 0.3, 0.3, 0.5, 0.05};
  const std::vector<std::string> signal{"straight+constant+gaussian",
                                        "sine+pulsed+box+skip2",
                                        "straight+pulsed+gaussian",
                                        "sine+constant+sinc2",
                                        "",
                                        "",
                                        "",
                                        "",
                                        "",
                                        ""};
  const std::vector<std::string> interference{"", "off_only", "", "", "off_only", "off_only", "", "broadband", "", ""};
  const auto rows = cadence::report::auc_by_family(y, p, signal, interference);
  auto subset_auc = [&](auto keep) {
    std::vector<float> yy;
    std::vector<double> pp;
    for (std::size_t i = 0; i < y.size(); ++i)
      if (keep(i)) {
        yy.push_back(y[i]);
        pp.push_back(p[i]);
      }
    return cadence::roc_auc(yy, pp);
  };
  auto find = [&](const std::string& group, const std::string& family) {
    for (const auto& r : rows)
      if (r.group == group && r.family == family) return r;
    FAIL("no row ", group, "=", family);
    return cadence::report::FamilyAuc{};
  };
  const auto straight = find("path", "straight");
  CHECK(straight.positives == 2);
  CHECK(straight.negatives == 6);
  CHECK(straight.auc ==
        doctest::Approx(subset_auc([&](std::size_t i) { return y[i] < 0.5f || signal[i].rfind("straight", 0) == 0; })));
  CHECK(find("intensity", "pulsed").auc == doctest::Approx(subset_auc([&](std::size_t i) {
          return y[i] < 0.5f || signal[i].find("pulsed") != std::string::npos;
        })));
  CHECK(find("profile", "box").positives == 1);
  CHECK(find("skip", "skips an ON panel").positives == 1);
  const auto off = find("interference", "off_only");  // all positives against the negatives carrying it
  CHECK(off.positives == 4);
  CHECK(off.negatives == 2);
  CHECK(off.auc ==
        doctest::Approx(subset_auc([&](std::size_t i) { return y[i] >= 0.5f || interference[i] == "off_only"; })));
  CHECK(find("interference", "none").negatives == 3);
  CHECK(rows.size() == 2 + 2 + 3 + 1 + 3);  // 2 paths, 2 intensities, 3 profiles, skip, 3 kinds with none
}
