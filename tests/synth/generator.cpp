#include "cadence/synth/generator.hpp"

#include "cadence/data/csv.hpp"
#include "support.hpp"

TEST_CASE("generator: the same seed writes byte-identical files with any thread count") {
  test::TempDir a("gen1"), b("gen2"), c("gen3");
  auto o = test::small_dataset(a.path, 6, 3, 3, 9);
  o.threads = 1;
  o.root = b.path;
  cadence::synth::generate(o, true);
  o.seed = 10;
  o.root = c.path;
  cadence::synth::generate(o, true);
  std::size_t files = 0, differ = 0;
  for (const auto& entry : std::filesystem::recursive_directory_iterator(a.path)) {
    if (!entry.is_regular_file() || entry.path().filename() == ".complete") continue;
    const auto rel = std::filesystem::relative(entry.path(), a.path);
    CHECK(test::read_file(entry.path()) == test::read_file(b.path / rel));
    differ += std::filesystem::exists(c.path / rel) ? 0 : 1;
    ++files;
  }
  CHECK(files == 12 + 5);  // 12 npy + train_labels, train_signals, sample_submission, test_labels, train_labels_old
  CHECK(differ == 12);     // another seed: other ids, so no .npy path is shared
}

TEST_CASE("generator: positives carry the signal in ON panels only, files are standardised float16") {
  cadence::synth::SynthOptions o;
  o.rfi_rate = 0.0;
  o.standardize = false;
  // The label is drawn before the noise, so a sample made positive and the same sample made negative
  // share their noise bit for bit: the difference is the injected signal alone.
  o.positive_rate = 1.0;
  const auto pos = cadence::synth::make_sample(o, cadence::Split::train, 3);
  o.positive_rate = 0.0;
  const auto neg = cadence::synth::make_sample(o, cadence::Split::train, 3);
  CHECK(pos.target == 1);
  CHECK(neg.target == 0);
  REQUIRE(pos.data.size() == 6u * 273 * 256);
  const std::size_t panel = 273 * 256;
  for (std::size_t p = 0; p < 6; ++p) {
    double added = 0.0;
    std::size_t rows_with_signal = 0;
    for (std::size_t t = 0; t < 273; ++t) {
      double row = 0.0;
      for (std::size_t f = 0; f < 256; ++f) {
        const std::size_t k = p * panel + t * 256 + f;
        row += cadence::half_to_float(pos.data[k]) - cadence::half_to_float(neg.data[k]);
      }
      added += row;
      rows_with_signal += row > 0.5 ? 1 : 0;
    }
    CAPTURE(p);
    if (p % 2 == 0) {
      CHECK(rows_with_signal > 200);  // every row of an ON panel carries the signal (SNR >= 10)
    } else {
      CHECK(added == 0.0);  // OFF panels: untouched
    }
  }

  o.standardize = true;
  const auto n = cadence::synth::make_sample(o, cadence::Split::test, 0);
  double m = 0, v = 0;
  for (std::size_t k = 0; k < panel; ++k) m += cadence::half_to_float(n.data[k]);
  m /= static_cast<double>(panel);
  for (std::size_t k = 0; k < panel; ++k) v += std::pow(cadence::half_to_float(n.data[k]) - m, 2);
  CHECK(std::abs(m) < 1e-3);
  CHECK(v / static_cast<double>(panel) == doctest::Approx(1.0).epsilon(1e-3));
}

TEST_CASE("generator: options are validated with the JSON path") {
  test::check_error(
      [] {
        cadence::config::parse<cadence::synth::SynthOptions>(nlohmann::json{{"positive_rate", -0.1}});
      },
      "/positive_rate");
  test::check_error(
      [] {
        cadence::config::parse<cadence::synth::SynthOptions>(nlohmann::json{{"train", -1}});
      },
      "/train", "minimum 0");
  cadence::synth::SynthOptions o;
  o.snr_min = 50;
  o.snr_max = 10;
  test::check_error([&] { o.validate(); }, "/snr_min");
}

TEST_CASE(
    "generator: the truth files give each positive's SNR and drift in the configured ranges, nothing for negatives") {
  test::TempDir dir("truth");
  auto o = test::small_dataset(dir.path, 30, 30);
  for (const char* name : {cadence::synth::kTestLabels, cadence::synth::kTrainSignals}) {
    CAPTURE(name);
    const auto rows = cadence::csv::read_truth(dir / name);
    const auto labels = cadence::csv::read_labels(
        dir / (std::string(name) == cadence::synth::kTestLabels ? "sample_submission.csv" : "train_labels.csv"), false);
    REQUIRE(rows.size() == labels.size());
    int positives = 0;
    for (std::size_t i = 0; i < rows.size(); ++i) {
      CHECK(rows[i].id == labels[i].id);
      if (rows[i].target == 1) {
        ++positives;
        CHECK(rows[i].snr >= o.snr_min);
        CHECK(rows[i].snr <= o.snr_max);
        CHECK(std::abs(rows[i].drift) >= o.drift_min - 1e-6);
        CHECK(std::abs(rows[i].drift) <= o.drift_max + 1e-6);
      } else {
        CHECK(std::isnan(rows[i].snr));
        CHECK(std::isnan(rows[i].drift));
      }
    }
    CHECK(positives > 0);
  }
  // the train truth agrees with train_labels.csv, and the sample's draw is what was written
  const auto train = cadence::csv::read_labels(dir / "train_labels.csv", cadence::csv::Column::label);
  const auto truth = cadence::csv::read_truth(dir / cadence::synth::kTrainSignals);
  for (std::size_t i = 0; i < train.size(); ++i) CHECK(truth[i].target == static_cast<int>(train[i].target));
  for (std::uint32_t i = 0; i < 30; ++i) {
    const auto s = cadence::synth::make_sample(o, cadence::Split::train, i);
    if (s.target == 1) CHECK(truth[i].snr == doctest::Approx(s.snr).epsilon(1e-3));
  }
}

TEST_CASE("truth files: malformed rows are refused with the file and line") {
  test::TempDir dir("badtruth");
  test::write_file(dir / "a.csv", "id,target,snr\nx,1,3\n");
  test::check_error([&] { cadence::csv::read_truth(dir / "a.csv"); }, "a.csv:1", "header");
  test::write_file(dir / "b.csv", "id,target,snr,drift\nx,1,3\n");
  test::check_error([&] { cadence::csv::read_truth(dir / "b.csv"); }, "b.csv:2", "4 columns");
  test::write_file(dir / "c.csv", "id,target,snr,drift\nx,1,loud,0.1\n");
  test::check_error([&] { cadence::csv::read_truth(dir / "c.csv"); }, "c.csv:2", "snr `loud`");
  test::write_file(dir / "d.csv", "id,target,snr,drift\nx,2,3,0.1\n");
  test::check_error([&] { cadence::csv::read_truth(dir / "d.csv"); }, "d.csv:2", "not 0 or 1");
  test::write_file(dir / "e.csv", "id,target,snr,drift\n../x,1,3,0.1\n");
  test::check_error([&] { cadence::csv::read_truth(dir / "e.csv"); }, "e.csv:2", "invalid id");
  test::check_error([&] { cadence::csv::read_truth(dir / "none.csv"); }, "none.csv", "cannot open");
}
