// recipes::scan end to end in the unit suite: a de-Doppler run (nothing to train) scans the setigen/blimpy
// fixture cadence of tests/data/scan (768 channels, one signal drifting from channel 430 to ~377 in the
// ON files) after a whole time row of one ON file was flagged (NaN): the row is masked, not the windows
// blanked, and the signal's window still ranks first; the de-Doppler hit search (scan.mode both) finds the
// signal as the one ON/OFF event, flagged row or not.
#include <cmath>
#include <cstring>
#include <fstream>
#include <limits>

#include "cadence/data/load.hpp"
#include "cadence/detect/background.hpp"
#include "cadence/detect/dedoppler.hpp"
#include "cadence/nn/model.hpp"
#include "cadence/recipes/scan.hpp"
#include "support.hpp"

namespace {
/// Sets time row `row` of a float32 .fil file to NaN (every channel).
void flag_row(const std::filesystem::path& fil, std::int64_t row, std::int64_t nchans) {
  auto bytes = test::read_file(fil);
  const auto end = bytes.find("HEADER_END");
  REQUIRE(end != std::string::npos);
  const std::size_t data = end + 10 + static_cast<std::size_t>(row * nchans) * sizeof(float);
  REQUIRE(data + static_cast<std::size_t>(nchans) * sizeof(float) <= bytes.size());
  const float nan = std::numeric_limits<float>::quiet_NaN();
  for (std::int64_t c = 0; c < nchans; ++c)
    std::memcpy(bytes.data() + data + static_cast<std::size_t>(c) * sizeof(float), &nan, sizeof nan);
  test::write_file(fil, bytes);
}
}  // namespace

TEST_CASE("scan: a cadence with a NaN row still finds its signal (the row is masked, and the scan says so)") {
  test::TempDir data("scan-data"), out("scan-nan");
  test::small_dataset(data.path, 24, 4);
  auto cfg =
      cadence::config::load_file(std::filesystem::path(CADENCE_SOURCE_DIR) / "samples/seti/configs/dedoppler.json");
  cfg["load"]["root"] = data.path.string();
  cfg["run"]["dir"] = (out / "run").string();
  cfg["run"]["quiet"] = true;
  cfg["run"]["threads"] = 2;
  cfg["train"]["folds"] = 2;
  cfg["scan"] = {{"out", (out / "scan").string()}, {"overlap", 0}, {"threads", 2}, {"mode", "both"}};
  const auto pipeline = cadence::Load{} | cadence::Background{} | cadence::Model<cadence::DeDopplerArch>{};
  cadence::recipes::run(pipeline, cfg);
  std::vector<std::filesystem::path> files;
  for (const char* name : {"a1", "b", "a2", "c", "a3", "d"}) {
    files.push_back(out / (std::string(name) + ".fil"));
    std::filesystem::copy_file(test::fixture(std::string("scan/fil/") + name + ".fil"), files.back());
  }
  const auto clean = cadence::recipes::scan(pipeline, cfg, files, out / "run");
  REQUIRE(clean.hits.size() == 3);
  CHECK(clean.hits[0].first == 256);
  CHECK(clean.masked_windows == 0);
  // the hit search: the signal (SNR 60, 0.08 Hz/s, channel 430 -> ~377 in the ON files) is the one event
  REQUIRE(clean.search.events.size() == 1);
  CHECK(std::abs(clean.search.events[0].channel - 430) <= 3);
  CHECK(clean.search.events[0].event.drift > 0.0);
  CHECK(clean.search.events[0].window <= 377);
  CHECK(clean.search.events[0].window + 256 > 430);
  CHECK(std::isfinite(clean.search.events[0].score));
  flag_row(files[2], 5, 768);  // the second ON file loses a whole time sample
  const auto flagged = cadence::recipes::scan(pipeline, cfg, files, out / "run");
  CHECK(flagged.skipped == 0);
  CHECK(flagged.masked_windows == 3);
  CHECK(flagged.masked_samples == 768);
  CHECK(flagged.hits[0].first == 256);
  CHECK(flagged.hits[0].valid);
  CHECK(flagged.hits[0].score > flagged.hits[2].score);
  // and the search still finds its event, the row masked (768 samples, in the second ON file's .dat search)
  REQUIRE(flagged.search.events.size() == 1);
  CHECK(flagged.search.masked == 768);
  CHECK(flagged.search.events[0].event.snr == doctest::Approx(clean.search.events[0].event.snr).epsilon(0.1));
  CHECK(flagged.search.events[0].snr[1] < clean.search.events[0].snr[1]);  // the flagged file's hit lost a row
  CHECK(test::read_file(out / "scan/scan.json").find("\"masked_samples\": 768") != std::string::npos);
  // the event's picture spans its path and draws its fitted line (the line changes the pixels)
  const cadence::observe::Cadence cad(files, {});
  const auto plain = cadence::observe::waterfall_png(cad, 300, 256);
  const auto lined =
      cadence::observe::waterfall_png(cad, 300, 256, [](std::size_t, double row) { return 430.0 - row; });
  CHECK(plain.size() > 100);
  CHECK(plain != lined);
}
