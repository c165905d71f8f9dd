#include "cadence/synth/generator.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdlib>
#include <map>
#include <numeric>
#include <sstream>
#include <string>

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
        CHECK(rows[i].energy > 0.0);  // constant and scintillating signals: about 1
        CHECK(rows[i].energy < 1.6);
        CHECK(rows[i].signal_params.find("width_hz=") != std::string::npos);
      } else {
        CHECK(std::isnan(rows[i].snr));
        CHECK(std::isnan(rows[i].drift));
        CHECK(std::isnan(rows[i].energy));
        CHECK(rows[i].signal_params.empty());
      }
      CHECK(rows[i].interference.empty() == rows[i].interference_params.empty());
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
  const std::string header(cadence::csv::kTruthHeader);
  // file, content, where the error points, what it says
  struct Refused {
    const char* file;
    std::string content;
    const char* where;
    const char* says;
  };
  const Refused refused[] = {
      {"a.csv", "id,target,snr\nx,1,3\n", "a.csv:1", "header"},
      {"b.csv", "id,target,snr,drift\nx,1,3\n", "b.csv:2", "4 columns"},
      {"c.csv", "id,target,snr,drift\nx,1,loud,0.1\n", "c.csv:2", "snr `loud`"},
      {"d.csv", "id,target,snr,drift\nx,2,3,0.1\n", "d.csv:2", "not 0 or 1"},
      {"e.csv", "id,target,snr,drift\n../x,1,3,0.1\n", "e.csv:2", "invalid id"},
      {"f.csv", header + "\nx,1,3,0.1,straight+pulsed+box,,-0.2,duty=0.3,\n", "f.csv:2", "energy `-0.2` is negative"},
      {"g.csv", header + "\nx,1,3,0.1,straight+pulsed+box,,half,duty=0.3,\n", "g.csv:2", "energy `half`"},
      {"h.csv", header + "\nx,1,3,0.1,straight+pulsed+box,,0.3,duty=0.3\n", "h.csv:2", "9 columns"},
      {"j.csv", header + "\nx,0,,,,,0.5,,\n", "j.csv:2", "energy `0.5` for a negative"},
      {"k.csv", header + "\nx,1,3,0.1,straight+pulsed+box,,,duty=0.3,\n", "k.csv:2", "a positive without its energy"},
      // numbers as the label files read them (decimal, a sign allowed), each id once
      {"l.csv", "id,target,snr,drift\nx,1,0x1p3,0.1\n", "l.csv:2", "snr `0x1p3` is not a number"},
      {"m.csv", "id,target,snr,drift\nx,1, 5,0.1\n", "m.csv:2", "snr ` 5` is not a number"},
      {"n.csv", "id,target,snr,drift\nx,1,5,-1e-3\nx,0,,\n", "n.csv:3", "duplicate id `x` (first on line 2)"},
  };
  for (const auto& r : refused) {
    CAPTURE(r.file);
    test::write_file(dir / r.file, r.content);
    test::check_error([&] { cadence::csv::read_truth(dir / r.file); }, r.where, r.says);
  }
  test::check_error([&] { cadence::csv::read_truth(dir / "none.csv"); }, "none.csv", "cannot open");
  test::write_file(dir / "i.csv", header + "\nx,1,3,-0.1,straight+pulsed+box,static,0.31,duty=0.3;width_hz=4,snr=9\n");
  const auto rows = cadence::csv::read_truth(dir / "i.csv");
  REQUIRE(rows.size() == 1);
  CHECK(rows[0].energy == doctest::Approx(0.31));
  CHECK(rows[0].drift == doctest::Approx(-0.1));  // a negative drift: the sign is read
  CHECK(rows[0].signal_params == "duty=0.3;width_hz=4");
  CHECK(rows[0].interference_params == "snr=9");
}

namespace {
// What one family adds to a sample: the same sample drawn with and without it (rfi_rate 1 and 0, or
// positive_rate 1 and 0), unstandardised, share their noise bit for bit; the difference is the family.
struct Added {
  std::vector<float> v;  // (6, 273, 256)
  float at(int panel, int row, int col) const { return v[(static_cast<std::size_t>(panel) * 273 + row) * 256 + col]; }
  int rows_with(int panel) const {  // rows of a panel where anything was added
    int n = 0;
    for (int r = 0; r < 273; ++r) {
      bool any = false;
      for (int c = 0; c < 256 && !any; ++c) any = at(panel, r, c) != 0.0f;
      n += any ? 1 : 0;
    }
    return n;
  }
  int peak(int panel, int row) const {
    int best = 0;
    for (int c = 1; c < 256; ++c)
      if (at(panel, row, c) > at(panel, row, best)) best = c;
    return best;
  }
};

Added added(cadence::synth::SynthOptions o, std::uint32_t index, bool signal) {
  o.standardize = false;
  o.profiles = "gaussian";  // one peak channel per row (a box's flat top would tie)
  (signal ? o.positive_rate : o.rfi_rate) = 1.0;
  (signal ? o.rfi_rate : o.positive_rate) = 0.0;
  const auto with = cadence::synth::make_sample(o, cadence::Split::train, index);
  (signal ? o.positive_rate : o.rfi_rate) = 0.0;
  const auto without = cadence::synth::make_sample(o, cadence::Split::train, index);
  Added a;
  a.v.resize(with.data.size());
  for (std::size_t k = 0; k < a.v.size(); ++k)
    a.v[k] = cadence::half_to_float(with.data[k]) - cadence::half_to_float(without.data[k]);
  return a;
}

std::uint64_t fnv1a(const std::vector<std::uint16_t>& data) {
  std::uint64_t h = 14695981039346656037ull;
  for (auto x : data) h = (h ^ x) * 1099511628211ull;
  return h;
}
}  // namespace

TEST_CASE("generator families: the defaults draw what the generator drew before families existed") {
  // Recorded from the generator at ff4aaac (before families); a dataset of 110 files made by both
  // was compared byte for byte. A change here changes every synthetic dataset and every AUC measured on one.
  cadence::synth::SynthOptions o;
  o.positive_rate = 0.5;
  o.rfi_rate = 0.5;
  std::vector<std::uint64_t> got;
  for (std::uint32_t i = 0; i < 4; ++i)
    got.push_back(fnv1a(cadence::synth::make_sample(o, cadence::Split::train, i).data));
  const std::vector<std::uint64_t> recorded = {0xeaaf35eb747a5910ull, 0x5c6d20a06e8e9d42ull, 0xe6fb4b5c3599cc4bull,
                                               0x7a3e10faa755243dull};
  CHECK(got == recorded);
}

TEST_CASE("generator families: each interference kind adds what it names, and nothing else") {
  cadence::synth::SynthOptions o;
  for (std::uint32_t i = 0; i < 4; ++i) {
    CAPTURE(i);
    o.interference = "drifting";
    auto a = added(o, i, false);
    for (int p = 0; p < 6; ++p) CHECK(a.rows_with(p) > 200);

    o.interference = "static";
    a = added(o, i, false);
    const int column = a.peak(0, 0);
    for (int p = 0; p < 6; ++p)
      for (int r : {0, 136, 272}) CHECK(a.peak(p, r) == column);  // no drift: one column throughout

    o.interference = "off_only";
    a = added(o, i, false);
    for (int p = 0; p < 6; ++p) CHECK((p % 2 == 0 ? a.rows_with(p) == 0 : a.rows_with(p) > 200));

    o.interference = "broadband";
    a = added(o, i, false);
    int panels = 0;
    for (int p = 0; p < 6; ++p) {
      const int rows = a.rows_with(p);
      if (rows == 0) continue;
      ++panels;
      CHECK(p % 2 == 0);  // an ON panel
      CHECK(rows <= 8);
      for (int r = 0; r < 273; ++r)
        if (a.at(p, r, 0) != 0.0f)
          for (int c = 0; c < 256; ++c) CHECK(a.at(p, r, c) > 0.0f);  // every channel of the burst's rows
    }
    CHECK(panels == 1);

    o.interference = "dc_spike";
    a = added(o, i, false);
    for (int p = 0; p < 6; ++p)
      for (int r = 0; r < 273; r += 17)
        for (int c = 0; c < 256; ++c) CHECK((c == 128 ? a.at(p, r, c) > 0.0f : a.at(p, r, c) == 0.0f));

    o.interference = "switching";  // on over one stretch of the cadence that starts at its start or ends at its end
    a = added(o, i, false);
    std::vector<int> on;
    for (int p = 0; p < 6; ++p)
      for (int r = 0; r < 273; ++r) {
        bool any = false;
        for (int c = 0; c < 256 && !any; ++c) any = a.at(p, r, c) != 0.0f;
        on.push_back(any ? 1 : 0);
      }
    const auto first = std::find(on.begin(), on.end(), 1) - on.begin();
    const auto last = std::find(on.rbegin(), on.rend(), 1) - on.rbegin();
    const auto count = std::count(on.begin(), on.end(), 1);
    CHECK(count > 0.15 * 6 * 273 - 2);
    CHECK(count < 0.85 * 6 * 273 + 2);
    CHECK(count == static_cast<long>(on.size()) - first - last);  // one contiguous stretch
    CHECK((first == 0 || last == 0));

    // the drifting kind's line (the same draw) in the ON panels, one gain of 0.15-0.4 times it in the OFF ones
    o.interference = "drifting";
    const auto full = added(o, i, false);
    o.interference = "faint_off";
    a = added(o, i, false);
    std::array<double, 6> sum_faint{}, sum_full{}, err{};
    for (int p = 0; p < 6; ++p)
      for (int r = 0; r < 273; ++r)
        for (int c = 0; c < 256; ++c) {
          sum_faint[static_cast<std::size_t>(p)] += a.at(p, r, c);
          sum_full[static_cast<std::size_t>(p)] += full.at(p, r, c);
        }
    const double off_gain = sum_faint[1] / sum_full[1];
    CHECK(off_gain > 0.14);
    CHECK(off_gain < 0.41);
    for (int p = 0; p < 6; ++p) {
      const double g = p % 2 == 0 ? 1.0 : off_gain;
      CHECK(sum_full[static_cast<std::size_t>(p)] > 0.0);
      for (int r = 0; r < 273; ++r)
        for (int c = 0; c < 256; ++c)
          err[static_cast<std::size_t>(p)] =
              std::max(err[static_cast<std::size_t>(p)], std::abs(a.at(p, r, c) - g * full.at(p, r, c)));
      CHECK(err[static_cast<std::size_t>(p)] < 0.02);  // float16 rounding of noise + line
    }

    o.interference = "ripple";  // a gain per channel, the same in every row of every panel, within 1 +- 0.2
    o.standardize = false;
    o.rfi_rate = 0.0;
    o.positive_rate = 0.0;
    const auto clean = cadence::synth::make_sample(o, cadence::Split::train, i);
    o.rfi_rate = 1.0;
    const auto rippled = cadence::synth::make_sample(o, cadence::Split::train, i);
    o.rfi_rate = 0.25;
    std::vector<double> gain(256);
    double lo = 2, hi = 0;
    for (int c = 0; c < 256; ++c) {
      gain[static_cast<std::size_t>(c)] = cadence::half_to_float(rippled.data[static_cast<std::size_t>(c)]) /
                                          cadence::half_to_float(clean.data[static_cast<std::size_t>(c)]);
      lo = std::min(lo, gain[static_cast<std::size_t>(c)]);
      hi = std::max(hi, gain[static_cast<std::size_t>(c)]);
    }
    CHECK(lo > 0.79);
    CHECK(hi < 1.21);
    CHECK(hi - lo > 0.03);
    for (int p = 0; p < 6; ++p)
      for (int r = 0; r < 273; r += 30)
        for (int c = 0; c < 256; c += 5) {
          const auto k =
              (static_cast<std::size_t>(p) * 273 + static_cast<std::size_t>(r)) * 256 + static_cast<std::size_t>(c);
          CHECK(cadence::half_to_float(rippled.data[k]) / cadence::half_to_float(clean.data[k]) ==
                doctest::Approx(gain[static_cast<std::size_t>(c)]).epsilon(2e-3));  // float16 rounding
        }
  }
}

TEST_CASE("generator families: signal paths, intensities and a skipped ON panel do what they say") {
  cadence::synth::SynthOptions o;
  o.snr_min = o.snr_max = 40;
  for (std::uint32_t i = 0; i < 4; ++i) {
    CAPTURE(i);
    o.skip_panel = 1.0;  // every positive misses one ON panel, and the truth names it
    auto a = added(o, i, true);
    const auto s = cadence::synth::make_sample(
        [&] {
          auto p = o;
          p.positive_rate = 1.0;
          return p;
        }(),
        cadence::Split::train, i);
    const auto at = s.family.signal.find("+skip");
    REQUIRE(at != std::string::npos);
    const int skipped = std::stoi(s.family.signal.substr(at + 5));
    for (int p = 0; p < 6; ++p) CHECK((p % 2 == 1 || p == skipped ? a.rows_with(p) == 0 : a.rows_with(p) > 200));
    o.skip_panel = 0.0;

    o.intensities = "pulsed";  // on for 20-60% of each period: many rows of an ON panel carry nothing
    a = added(o, i, true);
    const int rows = a.rows_with(0) + a.rows_with(2) + a.rows_with(4);
    CHECK(rows > 0.1 * 3 * 273);
    CHECK(rows < 0.75 * 3 * 273);
    o.intensities = "constant,scintillating";

    // a random walk leaves a straight line: the peak's channel strays from its least-squares line
    o.paths = "random_walk";
    a = added(o, i, true);
    std::vector<double> t, f;
    for (int p : {0, 2, 4})
      for (int r = 0; r < 273; r += 3) {
        t.push_back(p * 273 + r);
        f.push_back(a.peak(p, r));
      }
    const double n = static_cast<double>(t.size());
    const double mt = std::accumulate(t.begin(), t.end(), 0.0) / n, mf = std::accumulate(f.begin(), f.end(), 0.0) / n;
    double stt = 0, stf = 0;
    for (std::size_t k = 0; k < t.size(); ++k) {
      stt += (t[k] - mt) * (t[k] - mt);
      stf += (t[k] - mt) * (f[k] - mf);
    }
    double worst = 0;
    for (std::size_t k = 0; k < t.size(); ++k) worst = std::max(worst, std::abs(f[k] - mf - stf / stt * (t[k] - mt)));
    CHECK(worst > 3.0);    // channels off the line
    CHECK(worst < 40.0);   // the walk is bounded (+-16 channels)
    o.paths = "straight";  // the same measure on a straight path: within a channel or two
    a = added(o, i, true);
    f.clear();
    for (int p : {0, 2, 4})
      for (int r = 0; r < 273; r += 3) f.push_back(a.peak(p, r));
    const double mf2 = std::accumulate(f.begin(), f.end(), 0.0) / n;
    stf = 0;
    for (std::size_t k = 0; k < t.size(); ++k) stf += (t[k] - mt) * (f[k] - mf2);
    worst = 0;
    for (std::size_t k = 0; k < t.size(); ++k) worst = std::max(worst, std::abs(f[k] - mf2 - stf / stt * (t[k] - mt)));
    CHECK(worst < 2.5);
    o.paths = "straight,quadratic,sine";
  }
}

TEST_CASE(
    "generator families: test draws from the test_ lists, train and old from the others, and the truth names both") {
  test::TempDir dir("families");
  cadence::synth::SynthOptions o;
  o.root = dir.path;
  o.train = 40;
  o.test = 40;
  o.old = 0;
  o.positive_rate = 0.5;
  o.rfi_rate = 0.5;
  o.snr_min = 2;
  o.snr_max = 50;
  o.paths = "straight";
  o.interference = "static";
  o.test_paths = "sine,quadratic";
  o.test_interference = "off_only,broadband";
  o.test_snr_dist = "log_uniform";
  o.test_skip_panel = 0.5;
  o.threads = 2;
  cadence::synth::generate(o, true);
  const auto train = cadence::csv::read_truth(dir / cadence::synth::kTrainSignals);
  const auto test_rows = cadence::csv::read_truth(dir / cadence::synth::kTestLabels);
  std::vector<double> train_snr, test_snr;
  int skipped = 0, interfered = 0;
  for (const auto& r : train) {
    if (r.target == 1) {
      CHECK(r.signal.rfind("straight+", 0) == 0);
      CHECK(r.signal.find("skip") == std::string::npos);
      train_snr.push_back(r.snr);
    } else {
      CHECK(r.signal.empty());
    }
    CHECK((r.interference.empty() || r.interference == "static"));
  }
  for (const auto& r : test_rows) {
    if (r.target == 1) {
      CHECK((r.signal.rfind("sine+", 0) == 0 || r.signal.rfind("quadratic+", 0) == 0));
      skipped += r.signal.find("+skip") != std::string::npos ? 1 : 0;
      test_snr.push_back(r.snr);
    }
    CHECK((r.interference.empty() || r.interference == "off_only" || r.interference == "broadband"));
    interfered += r.interference.empty() ? 0 : 1;
  }
  CHECK(skipped > 0);
  CHECK(interfered > 5);
  // log-uniform in [2, 50] has its median at 10; uniform at 26
  auto median = [](std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return v[v.size() / 2];
  };
  REQUIRE(test_snr.size() > 8);
  CHECK(median(test_snr) < 18.0);
  CHECK(median(train_snr) > 14.0);
}

namespace {
// A truth file's parameter field, `key=value;...`, as a map of its numbers (names, such as line=, left out).
std::map<std::string, double> params_of(const std::string& text) {
  std::map<std::string, double> out;
  std::stringstream in(text);
  for (std::string item; std::getline(in, item, ';');) {
    const auto eq = item.find('=');
    REQUIRE(eq != std::string::npos);
    const std::string value = item.substr(eq + 1);
    char* end = nullptr;
    const double x = std::strtod(value.c_str(), &end);
    if (end == value.c_str() + value.size()) out[item.substr(0, eq)] = x;
  }
  return out;
}
cadence::synth::SynthSample drawn_sample(cadence::synth::SynthOptions o, std::uint32_t index, bool signal) {
  o.standardize = false;
  o.profiles = "gaussian";
  (signal ? o.positive_rate : o.rfi_rate) = 1.0;
  (signal ? o.rfi_rate : o.positive_rate) = 0.0;
  return cadence::synth::make_sample(o, cadence::Split::train, index);
}
}  // namespace

TEST_CASE("generator families: each sample's energy and parameters agree with the pixels it got") {
  cadence::synth::SynthOptions o;
  o.snr_min = o.snr_max = 40;
  const cadence::synth::FrameParams fp{o.fchans, o.tchans};
  for (std::uint32_t i = 0; i < 6; ++i) {
    CAPTURE(i);
    // pulsed: the energy is the share of ON rows that are on (each is at the full level or empty)
    o.intensities = "pulsed";
    auto s = drawn_sample(o, i, true);
    auto a = added(o, i, true);
    const int on_rows = a.rows_with(0) + a.rows_with(2) + a.rows_with(4);
    CHECK(s.family.energy == doctest::Approx(on_rows / (3.0 * 273.0)).epsilon(1e-9));
    auto q = params_of(s.family.signal_params);
    CHECK(q.at("duty") >= 0.2);
    CHECK(q.at("duty") <= 0.6);
    CHECK(q.at("pulse_period_s") >= fp.dt * (1 - 1e-6));
    CHECK(q.at("pulse_period_s") <= 20 * fp.dt * (1 + 1e-6));
    CHECK(q.at("width_hz") >= o.width_min * (1 - 1e-5));
    CHECK(q.at("width_hz") <= o.width_max * (1 + 1e-5));
    // constant: 1, and the line starts at the channel it names (a gaussian's peak); constant and missing
    // from one ON panel: two thirds, the panel named
    o.intensities = "constant";
    s = drawn_sample(o, i, true);
    CHECK(s.family.energy == doctest::Approx(1.0).epsilon(1e-12));
    CHECK(std::abs(params_of(s.family.signal_params).at("start_channel") - added(o, i, true).peak(0, 0)) <= 1.0);
    o.skip_panel = 1.0;
    s = drawn_sample(o, i, true);
    CHECK(s.family.energy == doctest::Approx(2.0 / 3.0).epsilon(1e-12));
    a = added(o, i, true);
    CHECK(a.rows_with(static_cast<int>(params_of(s.family.signal_params).at("skip_panel"))) == 0);
    o.skip_panel = 0.0;
    o.intensities = "constant,scintillating";

    // broadband: the panel and rows it names are the rows that got it
    o.interference = "broadband";
    s = drawn_sample(o, i, false);
    a = added(o, i, false);
    q = params_of(s.family.interference_params);
    const int panel = static_cast<int>(q.at("panel")), first = static_cast<int>(q.at("first_row"));
    CHECK(a.rows_with(panel) == static_cast<int>(q.at("rows")));
    CHECK(a.at(panel, first, 7) > 0.0f);
    if (first > 0) CHECK(a.at(panel, first - 1, 7) == 0.0f);
    // a static line: the line's family and width as drawn, zero drift, the channel it sits at
    o.interference = "static";
    s = drawn_sample(o, i, false);
    a = added(o, i, false);
    q = params_of(s.family.interference_params);
    CHECK(q.at("drift_hz_s") == 0.0);
    CHECK(q.count("width_hz") == 1);
    CHECK(std::abs(q.at("start_channel") - a.peak(1, 100)) <= 1.0);
    CHECK(s.family.interference_params.find("line=straight+") != std::string::npos);
    o.interference = "drifting";
    CHECK(drawn_sample(o, i, false).family.interference_params.find(";line=") != std::string::npos);
    // a DC spike: its gain times the level its SNR gives
    o.interference = "dc_spike";
    s = drawn_sample(o, i, false);
    a = added(o, i, false);
    q = params_of(s.family.interference_params);
    CHECK(q.at("channel") == 128);
    const double spike = q.at("gain") * fp.intensity(q.at("snr"), fp.noise_std(o.x_mean));
    CHECK(a.at(3, 100, 128) == doctest::Approx(spike).epsilon(0.02));  // float16 rounding of noise + spike
    // switching: on from (or off after) the time it names
    o.interference = "switching";
    s = drawn_sample(o, i, false);
    a = added(o, i, false);
    q = params_of(s.family.interference_params);
    REQUIRE((q.count("on_from_s") + q.count("on_until_s")) == 1);
    const double at = q.count("on_from_s") ? q.at("on_from_s") : q.at("on_until_s");
    const int edge = static_cast<int>(std::ceil(at / fp.dt - 1e-9));  // the first row at or after the switch
    const bool from = q.count("on_from_s") == 1;
    auto row_on = [&](int k) {
      for (int c = 0; c < 256; ++c)
        if (a.at(k / 273, k % 273, c) != 0.0f) return true;
      return false;
    };
    CHECK(row_on(edge) == from);
    CHECK(row_on(edge - 1) == !from);
    // ripple: the depth bounds the gain per channel, and the gains come near it (8-64-channel periods)
    o.interference = "ripple";
    s = drawn_sample(o, i, false);
    q = params_of(s.family.interference_params);
    auto clean_o = o;
    clean_o.rfi_rate = 0.0;
    clean_o.positive_rate = 0.0;
    clean_o.standardize = false;
    const auto clean = cadence::synth::make_sample(clean_o, cadence::Split::train, i);
    double lo = 2, hi = 0;
    for (std::size_t c = 0; c < 256; ++c) {
      const double g = cadence::half_to_float(s.data[c]) / cadence::half_to_float(clean.data[c]);
      lo = std::min(lo, g);
      hi = std::max(hi, g);
    }
    CHECK(hi <= 1.0 + q.at("depth") + 2e-3);
    CHECK(lo >= 1.0 - q.at("depth") - 2e-3);
    CHECK(hi - lo >= 1.8 * q.at("depth") - 4e-3);
    o.interference = "drifting";
  }
}

TEST_CASE("generator families: an unknown family is refused with its key and the list") {
  test::check_error(
      [] {
        cadence::config::parse<cadence::synth::SynthOptions>(cadence::config::json{{"paths", "straight,zigzag"}});
      },
      "/paths: unknown family \"zigzag\"", "random_walk");
  test::check_error(
      [] {
        cadence::config::parse<cadence::synth::SynthOptions>(cadence::config::json{{"interference", ""}});
      },
      "/interference: must name at least one", "dc_spike");
  test::check_error(
      [] {
        cadence::config::parse<cadence::synth::SynthOptions>(cadence::config::json{{"test_snr_dist", "normal"}});
      },
      "/test_snr_dist", "log_uniform");
}
