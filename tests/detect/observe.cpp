// Observation files (.fil, .h5) against blimpy, the cadence checks, the windows and the time axis.
#include "cadence/observe/cadence.hpp"

#include <limits>
#include <doctest/doctest.h>

#include <cstring>
#include <fstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "cadence/data/npy.hpp"
#include "cadence/synth/observation.hpp"
#include "support.hpp"

namespace {
namespace ob = cadence::observe;
const std::vector<std::string> kNames{"a1", "b", "a2", "c", "a3", "d"};

std::vector<std::filesystem::path> cadence_files(const std::string& fmt) {
  std::vector<std::filesystem::path> v;
  for (const auto& n : kNames) v.push_back(test::fixture("scan/" + fmt + "/" + n + "." + fmt));
  return v;
}

nlohmann::json oracle() { return nlohmann::json::parse(test::read_file(test::fixture("scan/oracle.json"))); }

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const cadence::Error& e) {
    return e.what();
  }
  return "(no error)";
}

/// A small float32 filterbank file: nsamples x nchans of `value`, with `name` as source.
void write_fil(const std::filesystem::path& p, std::int64_t nchans, std::int64_t nsamples, float value,
               const std::string& name = "T", double fch1 = 1000.0, double foff = -0.001, double tstart = 0.0,
               std::int64_t nbits = 32) {
  ob::Header h;
  h.source_name = name;
  h.fch1 = fch1;
  h.foff = foff;
  h.tsamp = 1.0;
  h.tstart = tstart;
  h.nchans = nchans;
  h.nbits = nbits;
  std::vector<float> data(static_cast<std::size_t>(nchans * nsamples), value);
  ob::write_filterbank(p, h, data);
}
}  // namespace

TEST_CASE("observe: .fil and .h5 read exactly what blimpy reads (header and data)") {
  const auto o = oracle();
  std::vector<float> expect;
  const auto npy = cadence::npy::read_f32(test::fixture("scan/a1_blimpy.npy"), {}, expect);
  REQUIRE(npy.shape == std::vector<std::int64_t>{16, 768});
  for (const std::string fmt : {"fil", "h5"})
    for (const auto& n : kNames) {
      CAPTURE(fmt);
      CAPTURE(n);
      const auto f = ob::open_observation(test::fixture("scan/" + fmt + "/" + n + "." + fmt));
      const auto& want = o["files"][fmt + "/" + n + "." + fmt];
      const auto& h = f->header();
      CHECK(h.fch1 == want["fch1"].get<double>());
      CHECK(h.foff == want["foff"].get<double>());
      CHECK(h.tsamp == want["tsamp"].get<double>());
      CHECK(h.tstart == want["tstart"].get<double>());
      CHECK(h.nchans == want["nchans"].get<std::int64_t>());
      CHECK(h.nbits == want["nbits"].get<std::int64_t>());
      CHECK(h.source_name == want["source_name"].get<std::string>());
      CHECK(h.nsamples == want["shape"][0].get<std::int64_t>());
      if (n == "a1") {
        std::vector<float> got(static_cast<std::size_t>(16 * 768));
        f->read(0, 768, got.data());
        CHECK(std::memcmp(got.data(), expect.data(), got.size() * sizeof(float)) == 0);
        std::vector<float> part(static_cast<std::size_t>(16 * 100));  // a channel range: the right columns
        f->read(333, 100, part.data());
        bool same = true;
        for (int t = 0; t < 16; ++t)
          for (int c = 0; c < 100; ++c)
            same = same &&
                   part[static_cast<std::size_t>(t * 100 + c)] == expect[static_cast<std::size_t>(t * 768 + 333 + c)];
        CHECK(same);
      }
    }
}

TEST_CASE("observe: 8- and 16-bit filterbank data reads as unsigned integers") {
  test::TempDir dir("obs-bits");
  for (const std::int64_t bits : {8, 16}) {
    ob::Header h;
    h.source_name = "X";
    h.fch1 = 1000;
    h.foff = -0.001;
    h.tsamp = 1;
    h.nchans = 4;
    h.nbits = bits;
    const std::vector<float> data{0, 1, 200, 255, 3, 4, 5, 6};
    const auto p = dir / ("b" + std::to_string(bits) + ".fil");
    ob::write_filterbank(p, h, data);
    const auto f = ob::open_observation(p);
    CHECK(f->header().nsamples == 2);
    std::vector<float> got(4);
    f->read(2, 2, got.data());
    CHECK(got == std::vector<float>{200, 255, 5, 6});
  }
}

TEST_CASE("observe: bad files are one-line errors naming the file") {
  test::TempDir dir("obs-bad");
  write_fil(dir / "good.fil", 512, 4, 1.0f);
  const std::string good = test::read_file(dir / "good.fil");
  SUBCASE("truncated header") {
    test::write_file(dir / "t.fil", good.substr(0, 60));
    const auto e = error_of([&] { (void)ob::open_observation(dir / "t.fil"); });
    CHECK(e.find("t.fil: truncated header") != std::string::npos);
  }
  SUBCASE("truncated data") {
    test::write_file(dir / "t.fil", good.substr(0, good.size() - 3));
    CHECK(error_of([&] { (void)ob::open_observation(dir / "t.fil"); }).find("t.fil: truncated data") !=
          std::string::npos);
  }
  SUBCASE("unknown nbits") {
    auto bad = good;
    const auto at = bad.find("nbits") + 5;
    const std::int32_t four = 4;
    std::memcpy(bad.data() + at, &four, 4);
    test::write_file(dir / "n.fil", bad);
    CHECK(error_of([&] {
            (void)ob::open_observation(dir / "n.fil");
          }).find("n.fil: nbits is 4; cadence reads 8, 16 (unsigned) and 32 (float)") != std::string::npos);
  }
  SUBCASE("unknown keyword") {
    auto bad = good;
    const auto at = bad.find("nifs");
    bad.replace(at, 4, "nfoo");
    test::write_file(dir / "k.fil", bad);
    CHECK(error_of([&] { (void)ob::open_observation(dir / "k.fil"); }).find("k.fil: unknown header keyword `nfoo`") !=
          std::string::npos);
  }
  SUBCASE("not a filterbank, not HDF5, unknown extension, missing") {
    test::write_file(dir / "x.fil", "hello, this is text and not a header at all");
    CHECK(error_of([&] { (void)ob::open_observation(dir / "x.fil"); }).find("x.fil: not a SIGPROC filterbank") !=
          std::string::npos);
    test::write_file(dir / "x.h5", good);
#if CADENCE_HAS_HDF5
    CHECK(error_of([&] { (void)ob::open_observation(dir / "x.h5"); }).find("x.h5: not an HDF5 file") !=
          std::string::npos);
#endif
    test::write_file(dir / "x.raw", good);
    CHECK(error_of([&] { (void)ob::open_observation(dir / "x.raw"); }).find("unknown observation format `.raw`") !=
          std::string::npos);
    CHECK(error_of([&] { (void)ob::open_observation(dir / "none.fil"); }).find("none.fil: no such file") !=
          std::string::npos);
  }
#if CADENCE_HAS_HDF5
  SUBCASE("a truncated .h5") {
    const std::string h5 = test::read_file(test::fixture("scan/h5/a1.h5"));
    test::write_file(dir / "t.h5", h5.substr(0, h5.size() / 2));
    const auto e = error_of([&] {
      const auto f = ob::open_observation(dir / "t.h5");
      std::vector<float> v(static_cast<std::size_t>(16 * 768));
      f->read(0, 768, v.data());
    });
    CHECK(e.find("t.h5: ") != std::string::npos);
  }
#endif
}

TEST_CASE("observe: a cadence is six files on one frequency axis, ABACAD, in observing order") {
  SUBCASE("the fixtures form one, ON from the source names") {
    const ob::Cadence c(cadence_files("fil"), {});
    CHECK(c.nchans() == 768);
    for (std::size_t p = 0; p < 6; ++p) CHECK(c.given_index(p) == static_cast<int>(p));
    CHECK(c.header(2).source_name == "TARGET");
    const std::vector<std::filesystem::path> same(6, test::fixture("scan/fil/a1.fil"));  // one file six times
    CHECK(error_of([&] {
            ob::Cadence bad(same, {});
          }).find("a1.fil: starts (tstart MJD 60000.000000) no later than the file given before it") !=
          std::string::npos);
  }
  SUBCASE("five files") {
    auto f = cadence_files("fil");
    f.pop_back();
    CHECK(error_of([&] {
            ob::Cadence c(f, {});
          }).find("a cadence is six files (ABACAD: ON, OFF, ON, OFF, ON, OFF), got 5") != std::string::npos);
  }
  SUBCASE("an OFF where an ON should be: names the file") {
    auto f = cadence_files("fil");
    std::swap(f[1], f[2]);
    // given a1, a2, b, ...: b started before a2 (the headers' tstart), which is the first thing broken
    CHECK(
        error_of([&] {
          ob::Cadence c(f, {});
        }).find("b.fil: starts (tstart MJD 60000.003612) no later than the file given before it (MJD 60000.007224)") !=
        std::string::npos);
  }
  SUBCASE("another time resolution in one file: names it and both tsamps") {
    test::TempDir dir("obs-tsamp");
    std::vector<std::filesystem::path> f;
    for (int k = 0; k < 6; ++k) {
      f.push_back(dir / ("f" + std::to_string(k) + ".fil"));
      ob::Header h;
      h.source_name = k % 2 == 0 ? "T" : "O";
      h.fch1 = 1000.0;
      h.foff = -0.001;
      h.tsamp = k == 3 ? 2.0 : 1.0;
      h.tstart = 60000.0 + 0.01 * k;
      h.nchans = 300;
      h.nbits = 32;
      ob::write_filterbank(f.back(), h, std::vector<float>(300 * 3, 1.0f));
    }
    CHECK(error_of([&] { ob::Cadence c(f, {}); }).find("f3.fil: tsamp 2 s, but ") != std::string::npos);
    CHECK(error_of([&] {
            ob::Cadence c(f, {});
          }).find("f0.fil's is 1 s; the six files of a cadence must share one time resolution") != std::string::npos);
  }
  SUBCASE("scan.on reorders: ON files to 0, 2, 4, OFF files to 1, 3, 5") {
    test::TempDir dir("obs-on");
    std::vector<std::filesystem::path> f;
    const std::vector<std::string> names{"T", "T", "T", "O1", "O2", "O3"};
    for (int k = 0; k < 6; ++k) {
      f.push_back(dir / ("f" + std::to_string(k) + ".fil"));
      write_fil(f.back(), 300, 3, 1.0f + static_cast<float>(k), names[static_cast<std::size_t>(k)]);
    }
    const ob::Cadence c(f, {0, 1, 2});
    CHECK(c.given_index(0) == 0);
    CHECK(c.given_index(1) == 3);
    CHECK(c.given_index(2) == 1);
    CHECK(c.given_index(3) == 4);
    CHECK(c.given_index(4) == 2);
    CHECK(c.given_index(5) == 5);
    CHECK(error_of([&] {
            ob::Cadence bad(f, {});
          }).find("f1.fil: source `T` at cadence position 2, where ABACAD wants an OFF source") != std::string::npos);
  }
  SUBCASE("mismatched frequency axes, and files out of time order") {
    test::TempDir dir("obs-axis");
    std::vector<std::filesystem::path> f;
    for (int k = 0; k < 6; ++k) {
      f.push_back(dir / ("f" + std::to_string(k) + ".fil"));
      write_fil(f.back(), 300, 3, 1.0f, k % 2 == 0 ? "T" : "O", k == 3 ? 1000.5 : 1000.0, -0.001, 60000.0 + k);
    }
    CHECK(error_of([&] {
            ob::Cadence c(f, {});
          }).find("f3.fil: its frequency axis (300 channels from 1000.5 MHz by -0.001 MHz) is not") !=
          std::string::npos);
    write_fil(f[3], 300, 3, 1.0f, "O", 1000.0, -0.001, 60000.0 + 3);
    write_fil(f[4], 290, 3, 1.0f, "T", 1000.0, -0.001, 60000.0 + 4);
    CHECK(error_of([&] { ob::Cadence c(f, {}); }).find("f4.fil: its frequency axis (290 channels") !=
          std::string::npos);
    write_fil(f[4], 300, 3, 1.0f, "T", 1000.0, -0.001, 60000.0 + 1.5);
    CHECK(error_of([&] {
            ob::Cadence c(f, {});
          }).find("f4.fil: starts (tstart MJD 60001.500000) no later than the file given before it") !=
          std::string::npos);
  }
}

TEST_CASE("observe: windows cover every channel, the time axis is interpolated or averaged") {
  CHECK(ob::window_starts(768, 256, 64) == std::vector<std::int64_t>{0, 192, 384, 512});
  CHECK(ob::window_starts(512, 256, 0) == std::vector<std::int64_t>{0, 256});
  CHECK(ob::window_starts(256, 256, 255) == std::vector<std::int64_t>{0});
  CHECK(error_of([] { (void)ob::window_starts(200, 256, 0); }).find("200 channels, fewer than a window's 256") !=
        std::string::npos);
  // linear in time when upsampling: first and last rows kept, a ramp stays a ramp
  std::vector<float> in{0, 10, 1, 11, 2, 12};  // 3 rows x 2 cols
  std::vector<float> out(5 * 2);
  ob::resample_time(in.data(), 3, 2, out.data(), 5);
  CHECK(out == std::vector<float>{0, 10, 0.5f, 10.5f, 1, 11, 1.5f, 11.5f, 2, 12});
  // the mean of each output row's share when downsampling
  std::vector<float> many{1, 3, 5, 7, 9, 11};  // 6 rows x 1 col
  std::vector<float> two(2);
  ob::resample_time(many.data(), 6, 1, two.data(), 2);
  CHECK(two == std::vector<float>{3, 9});
}

TEST_CASE(
    "observe: NaN/Inf samples are masked, a window with a panel of them or no power is refused, a good one is scaled "
    "to mean power 1") {
  test::TempDir dir("obs-nan");
  std::vector<std::filesystem::path> f;
  for (int k = 0; k < 6; ++k) {
    f.push_back(dir / ("f" + std::to_string(k) + ".fil"));
    write_fil(f.back(), 512, 4, 1000.0f * static_cast<float>(k + 1), k % 2 == 0 ? "T" : "O");
  }
  const ob::Cadence c(f, {});
  ob::Block b;
  ob::read_block(c, 0, 512, b);
  std::vector<float> out(static_cast<std::size_t>(6 * 10 * 256));
  REQUIRE(ob::cut_window(c, b, 256, 256, 10, out));
  double sum = 0;
  for (float v : out) sum += v;
  CHECK(sum / static_cast<double>(out.size()) == doctest::Approx(1.0));
  CHECK(out[0] == doctest::Approx(1.0 / 3.5));  // panel 0 holds 1000, the window's mean is 3500
  b.panels[3][static_cast<std::size_t>(2 * 512 + 300)] = std::nanf("");
  std::int64_t masked = -1;
  REQUIRE(ob::cut_window(c, b, 256, 256, 10, out, &masked));  // a flagged sample is masked, not the window blanked
  CHECK(masked == 1);
  for (float v : out) REQUIRE(std::isfinite(v));
  for (std::size_t k = 3 * 10 * 256; k < 4 * 10 * 256;
       ++k)  // the NaN took its panel's mean (4000): the panel stays flat
    REQUIRE(out[k] == doctest::Approx(4000.0 / 3500.0));
  CHECK(ob::cut_window(c, b, 0, 256, 10, out, &masked));  // the NaN is in the other window
  CHECK(masked == 0);
  for (std::size_t k = 0; k < b.panels[3].size(); ++k) b.panels[3][k] = std::numeric_limits<float>::infinity();
  CHECK_FALSE(ob::cut_window(c, b, 0, 256, 10, out, &masked));  // a panel with no finite sample: nothing to mask with
  CHECK(out[5] == 0.0f);
  for (auto& p : b.panels) std::fill(p.begin(), p.end(), 0.0f);
  CHECK_FALSE(ob::cut_window(c, b, 0, 256, 10, out));  // flagged: no power at all
}

TEST_CASE(
    "observe: cadence-synth's observations are cadences with their signals where signals.csv says, in the ON files "
    "only") {
  test::TempDir dir("obs-synth");
  constexpr std::int64_t N = 8192;
  cadence::synth::ObservationOptions o;
  o.root = dir.path;
  o.channels = N;
  o.signals = 3;
  o.snr_min = o.snr_max = 200.0;
  o.seed = 3;
  const auto files = cadence::synth::generate_observation(o);
  REQUIRE(files.size() == 6);
  const ob::Cadence c(files, {});  // ABACAD from the source names, tstart rising, one axis
  CHECK(c.nchans() == N);
  CHECK(c.header(0).nsamples == 16);
  CHECK(c.header(0).foff == doctest::Approx(-2.7939677238464355e-06));
  const auto lines = test::read_file(dir / "signals.csv");
  CHECK(lines.rfind("channel,snr,drift_hz_s,width_hz,off_gain\n", 0) == 0);
  const auto signals = cadence::synth::draw_signals(o);
  REQUIRE(signals.size() == 3);
  ob::Block b;
  ob::read_block(c, 0, N, b);
  double sum = 0;
  for (float v : b.panels[1]) sum += v;
  CHECK(sum / static_cast<double>(b.panels[1].size()) ==
        doctest::Approx(10.0).epsilon(0.01));  // the noise mean, x_mean
  for (const auto& s : signals) {
    CAPTURE(s.channel);
    CHECK(lines.find(std::to_string(s.channel) + ",") != std::string::npos);
    auto peak = [&](std::size_t panel, std::int64_t row) {  // the brightest channel within 150 of the signal's start
      std::int64_t best = s.channel - 150;
      for (std::int64_t j = s.channel - 150; j <= s.channel + 150; ++j)
        if (b.panels[panel][static_cast<std::size_t>(row * N + j)] >
            b.panels[panel][static_cast<std::size_t>(row * N + best)])
          best = j;
      return best;
    };
    CHECK(std::abs(peak(0, 0) - s.channel) <= 1);  // at its channel at the cadence's start
    // later rows: moved by the drift (frequency up = channel down), in the next ON file too
    const double per_row = s.drift * 18.253611008 / 2.7939677238464355;
    CHECK(std::abs(static_cast<double>(peak(0, 15)) - (static_cast<double>(s.channel) - 15 * per_row)) <= 1.5);
    const double a2_start = 2 * (16 * 18.253611008 + 20.0) * s.drift / 2.7939677238464355;
    CHECK(std::abs(static_cast<double>(peak(2, 0)) - (static_cast<double>(s.channel) - a2_start)) <= 1.5);
    float off_max = 0, on_max = 0;  // the OFF file is noise there
    for (std::int64_t j = s.channel - 100; j <= s.channel + 100; ++j) {
      off_max = std::max(off_max, b.panels[1][static_cast<std::size_t>(j)]);
      on_max = std::max(on_max, b.panels[0][static_cast<std::size_t>(j)]);
    }
    CHECK(on_max > 2.0f * off_max);
  }
  o.signals = 7;  // 8192 channels hold six signals 1200 apart (400 from each edge), not seven
  CHECK(error_of([&] {
          (void)cadence::synth::draw_signals(o);
        }).find("/signals: 7 signals need 9200 channels (1200 apart), there are 8192") != std::string::npos);
}
