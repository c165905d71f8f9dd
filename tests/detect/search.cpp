// The de-Doppler hit search, turboSETI's .dat and the ON/OFF events, against turboSETI itself: the
// fixture cadence of tests/data/search (8192 channels x 16 samples, three ON-only signals, one of them
// drifting +3.5 Hz/s, and two RFI lines in all six files; tests/data/make_search_fixture.py) with
// turboSETI 2.3.2's find_doppler output for it, and find_event_pipeline's events on both turboSETI's
// .dat files and on the .dat files seti wrote.
#include <sys/stat.h>

#include <array>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <limits>
#include <random>
#include <sstream>

#include "cadence/detect/dat_file.hpp"
#include "cadence/detect/events.hpp"
#include "cadence/detect/hit_search.hpp"
#include "cadence/detect/hit_search_torch.hpp"
#include "cadence/detect/path_snr.hpp"
#include "cadence/observe/cadence.hpp"
#include "cadence/recipes/scan_manifest.hpp"
#include "cadence/recipes/scan_search.hpp"
#include "cadence/synth/observation.hpp"
#include "support.hpp"

namespace {
namespace dt = cadence::detect;
namespace ob = cadence::observe;

const std::array<const char*, 6> names{"a1", "b", "a2", "c", "a3", "d"};

std::filesystem::path search_fixture(const std::string& part) { return test::fixture("search/" + part); }

/// find_event_pipeline's CSV: the Freq of each row whose status is `status` (its first ON file's hits).
std::vector<double> event_frequencies(const std::filesystem::path& csv, const std::string& status) {
  std::ifstream in(csv);
  REQUIRE(in);
  std::string line;
  std::vector<double> out;
  if (!std::getline(in, line)) return out;  // no events: an empty file
  auto split = [](const std::string& s) {
    std::vector<std::string> f;
    std::stringstream ss(s);
    for (std::string x; std::getline(ss, x, ',');) f.push_back(x);
    return f;
  };
  const auto header = split(line);
  const auto col = [&](const std::string& name) {
    const auto it = std::find(header.begin(), header.end(), name);
    REQUIRE(it != header.end());
    return static_cast<std::size_t>(it - header.begin());
  };
  const std::size_t freq = col("Freq"), stat = col("status");
  while (std::getline(in, line)) {
    const auto f = split(line);
    REQUIRE(f.size() > std::max(freq, stat));
    if (f[stat] == status) out.push_back(std::stod(f[freq]));
  }
  std::sort(out.begin(), out.end());
  return out;
}

/// A file whose time row `row` (and channel `channel`) reads NaN: flagged data.
class Flagged : public ob::File {
 public:
  Flagged(std::unique_ptr<ob::File> f, std::int64_t row, std::int64_t channel)
      : f_(std::move(f)), row_(row), channel_(channel) {}
  const ob::Header& header() const override { return f_->header(); }
  void read(std::int64_t first, std::int64_t count, float* out) const override {
    f_->read(first, count, out);
    const float nan = std::numeric_limits<float>::quiet_NaN();
    for (std::int64_t c = 0; c < count; ++c) out[row_ * count + c] = nan;
    if (channel_ >= first && channel_ < first + count)
      for (std::int64_t t = 0; t < header().nsamples; ++t) out[t * count + channel_ - first] = nan;
  }

 private:
  std::unique_ptr<ob::File> f_;
  std::int64_t row_, channel_;
};

/// A file held in memory: `rows` x `nchans` samples.
class Memory : public ob::File {
 public:
  Memory(ob::Header h, std::vector<float> data) : h_(std::move(h)), data_(std::move(data)) {}
  const ob::Header& header() const override { return h_; }
  void read(std::int64_t first, std::int64_t count, float* out) const override {
    for (std::int64_t t = 0; t < h_.nsamples; ++t)
      std::copy_n(data_.data() + t * h_.nchans + first, count, out + t * count);
  }

 private:
  ob::Header h_;
  std::vector<float> data_;
};

dt::HitSearchOptions fixture_options() {
  dt::HitSearchOptions o;  // the fixture's settings are the defaults: +-4 Hz/s, SNR 10, DC blanked
  o.threads = 2;
  o.block = 1000;  // several work items per file, one of them partial
  return o;
}
}  // namespace

TEST_CASE("search: the Taylor tree sums along its staircases, each from 0 to its drift") {
  for (int P : {2, 4, 8, 16, 32, 64}) {
    const std::int64_t W = 3 * P + 5;
    std::vector<float> rows(static_cast<std::size_t>(P * W)), scratch(rows.size());
    std::mt19937 rng(static_cast<unsigned>(P));
    std::normal_distribution<float> noise;
    for (float& x : rows) x = noise(rng);
    const auto in = rows;
    const float* sums = dt::taylor::sums(rows.data(), scratch.data(), P, W);
    double worst = 0.0;
    for (int D = 0; D < P; ++D) {
      CHECK(dt::taylor::offset(P, D, 0) == 0);
      CHECK(dt::taylor::offset(P, D, P - 1) == D);
      for (int t = 1; t < P; ++t) {
        const auto step = dt::taylor::offset(P, D, t) - dt::taylor::offset(P, D, t - 1);
        CHECK((step == 0 || step == 1));  // a staircase: never back, never more than one channel a row
      }
      for (std::int64_t c = 0; c + P - 1 < W; ++c) {
        double want = 0.0;
        for (int t = 0; t < P; ++t) want += in[static_cast<std::size_t>(t * W + c + dt::taylor::offset(P, D, t))];
        worst = std::max(worst, std::abs(want - sums[D * W + c]));
      }
    }
    CHECK(worst < 1e-4);
  }
}

#if CADENCE_HAS_HDF5
TEST_CASE("search: every hit turboSETI's find_doppler reports in the fixture is found, at its drift and SNR") {
  const auto o = fixture_options();
  for (const char* name : names) {
    CAPTURE(name);
    const auto file = ob::open_observation(search_fixture(std::string("h5/") + name + ".h5"));
    const auto ours = dt::search_hits(*file, o);
    const auto theirs = dt::read_dat(search_fixture(std::string("turboseti/") + name + ".dat"));
    CHECK(ours.drift_step == doctest::Approx(theirs.deltaf_hz < 0 ? -theirs.deltaf_hz / (15 * theirs.deltat)
                                                                  : theirs.deltaf_hz / (15 * theirs.deltat)));
    const double channel_mhz = std::abs(theirs.deltaf_hz) / 1e6;
    const auto dat = dt::dat_of(file->header(), ours);
    for (const auto& t : theirs.hits) {
      CAPTURE(t.frequency);
      CAPTURE(t.drift);
      const dt::DatHit* match = nullptr;
      for (const auto& h : dat.hits)
        if (std::abs(h.frequency - t.frequency) <= 2.5 * channel_mhz &&
            std::abs(h.drift - t.drift) <= 2.5 * ours.drift_step)
          match = &h;
      REQUIRE(match != nullptr);
      CHECK(match->snr == doctest::Approx(t.snr).epsilon(0.1));
    }
    // and nothing strong that turboSETI did not report
    for (const auto& h : dat.hits) {
      if (h.snr < 20) continue;
      bool reported = false;
      for (const auto& t : theirs.hits) reported = reported || std::abs(h.frequency - t.frequency) <= 2.5 * channel_mhz;
      CHECK_MESSAGE(reported, "seti's hit at ", h.frequency, " MHz, SNR ", h.snr, " is not in turboSETI's .dat");
    }
  }
}

TEST_CASE("search: the .dat files seti writes are the ones turboSETI's find_event_pipeline read in the fixture") {
  test::TempDir out("search-dat");
  cadence::ScanOptions so;
  so.out = out.path;
  so.threads = 2;
  std::vector<std::filesystem::path> files;
  for (const char* name : names) files.push_back(search_fixture(std::string("h5/") + name + ".h5"));
  const auto s = cadence::recipes::search(so, files, /*quiet=*/true);
  for (const char* name : names) {
    CAPTURE(name);
    const auto now = dt::read_dat(out / (std::string(name) + ".dat"));
    const auto read = dt::read_dat(search_fixture(std::string("seti/") + name + ".dat"));
    CHECK(now.file_id == read.file_id);
    CHECK(now.source == read.source);
    CHECK(now.mjd == doctest::Approx(read.mjd));
    CHECK(now.max_drift == read.max_drift);
    CHECK(now.obs_length == doctest::Approx(read.obs_length));
    REQUIRE(now.hits.size() == read.hits.size());
    for (std::size_t k = 0; k < now.hits.size(); ++k) {
      CHECK(now.hits[k].frequency == read.hits[k].frequency);  // both as written, to 6 decimals
      CHECK(now.hits[k].drift == doctest::Approx(read.hits[k].drift));
      CHECK(now.hits[k].snr == doctest::Approx(read.hits[k].snr).epsilon(1e-4));
      CHECK(now.hits[k].index == read.hits[k].index);
    }
  }
  // the events: what find_event_pipeline found in seti's .dat files, and in turboSETI's own, are ours
  const auto by_find_event = event_frequencies(search_fixture("seti/events.csv"), "on_table_1");
  const auto by_turboseti = event_frequencies(search_fixture("turboseti/events.csv"), "on_table_1");
  std::vector<double> mine;
  for (const auto& e : s.events) mine.push_back(e.event.frequency);
  std::sort(mine.begin(), mine.end());
  REQUIRE(mine.size() == by_find_event.size());
  for (std::size_t k = 0; k < mine.size(); ++k)
    CHECK(std::abs(mine[k] - by_find_event[k]) <= 1e-6);  // 6 decimals: 1 Hz
  CHECK(by_turboseti.size() == by_find_event.size());
  // and they are the three injected ON-only signals, not the RFI (channel at the cadence's start)
  const auto signals = cadence::config::load_file(search_fixture("signals.json"));
  std::vector<std::int64_t> injected;
  for (const auto& x : signals["signals"])
    if (x["where"] == "on") injected.push_back(x["channel"].get<std::int64_t>());
  std::vector<std::int64_t> found;
  for (const auto& e : s.events) found.push_back(e.channel);
  std::sort(injected.begin(), injected.end());
  std::sort(found.begin(), found.end());
  REQUIRE(found.size() == injected.size());
  for (std::size_t k = 0; k < found.size(); ++k) CHECK(std::abs(found[k] - injected[k]) <= 3);
  CHECK(std::filesystem::exists(s.csv));
}

TEST_CASE("search: two files of a cadence with one stem are refused before their .dat files overwrite each other") {
  test::TempDir dir("stems");
  std::filesystem::create_directories(dir / "x");
  std::filesystem::copy_file(search_fixture("h5/b.h5"), dir / "x/a1.h5");  // the OFF file, under the ON file's stem
  std::vector<std::filesystem::path> files;
  for (const char* name : names) files.push_back(search_fixture(std::string("h5/") + name + ".h5"));
  files[1] = dir / "x/a1.h5";
  cadence::ScanOptions so;
  so.out = dir / "out";
  CHECK(test::error_of([&] {
          (void)cadence::recipes::search(so, files, true);
        }).find("x/a1.h5: another file of the cadence has the stem `a1`; the .dat files are named by stem") !=
        std::string::npos);
  CHECK_FALSE(std::filesystem::exists(dir / "out/a1.dat"));
}

TEST_CASE("search: a NaN row and a NaN channel are masked, and the fast drifter is still found at its SNR") {
  const auto o = fixture_options();
  const auto path = search_fixture("h5/a1.h5");
  const auto clean = dt::search_hits(*ob::open_observation(path), o);
  const Flagged flagged(ob::open_observation(path), 5, 6900);
  const auto masked = dt::search_hits(flagged, o);
  CHECK(masked.masked == 8192 + 15);
  auto fast = [](const dt::FileHits& r) -> const dt::Hit* {
    for (const auto& h : r.hits)
      if (std::abs(h.channel - 7000) <= 3 && h.drift > 3.3) return &h;
    return nullptr;
  };
  REQUIRE(fast(clean) != nullptr);
  REQUIRE(fast(masked) != nullptr);
  // one row of 16 lost: the signal keeps about 15/16 of its power
  CHECK(fast(masked)->snr == doctest::Approx(fast(clean)->snr).epsilon(0.15));
}
#endif

TEST_CASE("search: .dat files round-trip, and a bad one is refused with its file and line") {
  test::TempDir dir("dat");
  ob::Header h;
  h.file = "obs.h5";
  h.source_name = "TARGET";
  h.tstart = 60000.5;
  h.tsamp = 18.253611008;
  h.foff = -2.7939677238464355e-6;
  h.fch1 = 6095.214842353016;
  h.nchans = 1024;
  h.nsamples = 16;
  h.src_raj = 174000.5;
  h.src_dej = -290028.1;
  dt::FileHits r;
  r.max_drift = 4;
  r.obs_length = 16 * h.tsamp;
  r.channels_per_coarse = 1024;
  r.hits.push_back(dt::Hit{100, 1.25, 33.5, 0, 884, 0, 7});
  r.hits.push_back(dt::Hit{900, -0.5, 12.0, 116, 1023, 0, 7});
  const auto d = dt::dat_of(h, r);
  dt::write_dat(dir / "obs.dat", d, h);
  const auto back = dt::read_dat(dir / "obs.dat");
  CHECK(back.file_id == "obs.h5");
  CHECK(back.source == "TARGET");
  CHECK(back.mjd == doctest::Approx(60000.5));
  CHECK(back.deltaf_hz == doctest::Approx(-2.793968));
  CHECK(back.max_drift == 4);
  REQUIRE(back.hits.size() == 2);
  CHECK(std::abs(back.hits[0].frequency - h.frequency(100)) <= 1e-6);  // MHz to 6 decimals, as turboSETI writes
  CHECK(back.hits[1].drift == doctest::Approx(-0.5));
  CHECK(back.hits[1].index == 900);
  CHECK(std::abs(back.hits[0].freq_end - h.frequency(884)) <= 1e-6);
  const auto text = test::read_file(dir / "obs.dat");
  CHECK(text.find("RA: 17h40m00.5s\tDEC: -29d00m28.1s") != std::string::npos);
  test::write_file(dir / "bad.dat", text + "000003\t1.0\tnope\t6095.0\t6095.0\t1\t6095.0\t6095.0\t0.0\t0.0\t0\t7\t\n");
  CHECK(test::error_of([&] { (void)dt::read_dat(dir / "bad.dat"); }).find("bad.dat:12: `nope` is not a number") !=
        std::string::npos);
}

TEST_CASE("search: events follow find_event's filter levels") {
  auto file = [](double mjd, std::vector<std::pair<double, double>> hits) {  // (MHz, Hz/s) at SNR 20
    dt::DatFile d;
    d.mjd = mjd;
    d.deltat = 18.25;
    d.deltaf_hz = -2.79;
    d.max_drift = 4;
    d.obs_length = 292;
    for (auto [f, r] : hits) d.hits.push_back(dt::DatHit{0, r, 20.0, f, 0, f, f, 0, 1});
    return d;
  };
  const double day = 1.0 / 86400.0;
  // a signal at 6000 MHz drifting +1 Hz/s, seen in the three ONs; RFI at 6001 in an OFF; a hit at 6002 in ON 1 only
  const auto on1 = file(60000, {{6000.0, 1.0}, {6001.0, 0.5}, {6002.0, -1.0}});
  const auto off1 = file(60000 + 312 * day, {{6001.0001, 0.5}});
  const auto on2 = file(60000 + 624 * day, {{6000.0 + 624e-6, 1.0}});
  const auto off2 = file(60000 + 936 * day, {});
  const auto on3 = file(60000 + 1248 * day, {{6000.0 + 1248e-6, 1.0}});
  const auto off3 = file(60000 + 1560 * day, {});
  const std::array<const dt::DatFile*, 3> on{&on1, &on2, &on3}, off{&off1, &off2, &off3};
  dt::EventOptions o;
  o.level = 1;
  CHECK(dt::find_events(on, off, o).size() == 5);  // every ON hit
  o.level = 2;
  CHECK(dt::find_events(on, off, o).size() == 4);  // not the RFI
  o.level = 3;
  const auto events = dt::find_events(on, off, o);
  REQUIRE(events.size() == 1);
  CHECK(events[0].frequency == 6000.0);
  CHECK(events[0].hit == std::array<int, 3>{0, 0, 0});
  o.snr = 25;  // the SNR cut
  CHECK(dt::find_events(on, off, o).empty());
}

TEST_CASE("search: a manifest of cadences is read strictly, sharded, and summarised on a survey page") {
  namespace rc = cadence::recipes;
  test::TempDir dir("manifest");
  const std::string six = "a1.h5,b.h5,a2.h5,c.h5,a3.h5,d.h5\n";
  test::write_file(dir / "m.csv", "name,file1,file2,file3,file4,file5,file6\nhip1," + six + "\nhip2," + six);
  const auto m = rc::read_manifest(dir / "m.csv");
  REQUIRE(m.size() == 2);
  CHECK(m[1].name == "hip2");
  CHECK(m[1].line == 4);
  CHECK(m[0].files[2] == dir / "a2.h5");  // relative to the manifest
  auto error = [&](const std::string& text) {
    test::write_file(dir / "bad.csv", text);
    return test::error_of([&] { (void)rc::read_manifest(dir / "bad.csv"); });
  };
  CHECK(error("cadence,a,b\n").find("bad.csv:1: the header must be") != std::string::npos);
  CHECK(error("name,file1,file2,file3,file4,file5,file6\nx,a,b\n").find("bad.csv:2: 3 fields") != std::string::npos);
  CHECK(error("name,file1,file2,file3,file4,file5,file6\n../up," + six)
            .find("bad.csv:2: name `../up` is not a directory name") != std::string::npos);
  CHECK(error("name,file1,file2,file3,file4,file5,file6\nx," + six + "x," + six)
            .find("bad.csv:3: name `x` is given twice") != std::string::npos);
  CHECK(error("name,file1,file2,file3,file4,file5,file6\n").find("no cadences") != std::string::npos);
  // shards: a SLURM array task, torchrun's ranks, or everything
  ::setenv("SLURM_ARRAY_TASK_ID", "7", 1);
  ::setenv("SLURM_ARRAY_TASK_MIN", "5", 1);
  ::setenv("SLURM_ARRAY_TASK_COUNT", "4", 1);
  auto s = rc::shard_from_environment();
  CHECK(s.index == 2);
  CHECK(s.count == 4);
  ::unsetenv("SLURM_ARRAY_TASK_ID");
  ::unsetenv("SLURM_ARRAY_TASK_MIN");
  ::unsetenv("SLURM_ARRAY_TASK_COUNT");
  ::setenv("WORLD_SIZE", "3", 1);
  ::setenv("RANK", "1", 1);
  s = rc::shard_from_environment();
  CHECK((s.index == 1 && s.count == 3));
  ::unsetenv("WORLD_SIZE");
  ::unsetenv("RANK");
  s = rc::shard_from_environment();
  CHECK((s.index == 0 && s.count == 1));
  // the survey: a complete cadence (scan.json there) with its best event, one not yet scanned
  std::filesystem::create_directories(dir / "out/hip1");
  test::write_file(
      dir / "out/hip1/scan.json",
      R"({"search": {"events": [{"freq_mhz": 6095.5, "drift_hz_s": 1.25, "snr": 40.5, "score": 0.875}]}})");
  CHECK(rc::scan_complete(dir / "out/hip1"));
  CHECK_FALSE(rc::scan_complete(dir / "out/hip2"));
  rc::write_survey(dir / "out", m);
  const auto csv = test::read_file(dir / "out/survey.csv");
  CHECK(csv.find("hip1,1,1,6095.5,1.25,40.5,0.875\n") != std::string::npos);
  CHECK(csv.find("hip2,0,,,,,\n") != std::string::npos);
  CHECK(test::read_file(dir / "out/survey.html").find("1 of 2 cadences scanned") != std::string::npos);
}

TEST_CASE("search: a channel mask blanks its band (no hit starts there) and is read strictly") {
  auto o = fixture_options();
  const auto file = ob::open_observation(search_fixture("h5/a1.h5"));
  const auto& h = file->header();
  // the band the fast drifter crosses in this file (7000 -> ~6634): masked, it is gone
  o.mask = {{h.frequency(7040), h.frequency(6600)}};
  const auto r = dt::search_hits(*file, o);
  CHECK(r.masked_channels == 441);
  for (const auto& x : r.hits) {
    CAPTURE(x.channel);
    CHECK_FALSE((x.channel >= 6600 && x.channel <= 7040));           // no hit starts in the mask
    CHECK_FALSE((std::abs(x.channel - 7000) <= 400 && x.snr > 20));  // nor takes the drifter's power from beside it
  }
  CHECK(r.hits.size() == dt::search_hits(*file, fixture_options()).hits.size() - 1);  // and nothing else changed
  test::TempDir dir("mask");
  test::write_file(dir / "mask.txt", "# known RFI\n6095.20,6095.19\n\n 6000 6001   # a comment\n");
  const auto ranges = dt::read_mask(dir / "mask.txt");
  REQUIRE(ranges.size() == 2);
  CHECK(ranges[0] == std::pair<double, double>{6095.19, 6095.20});
  CHECK(ranges[1] == std::pair<double, double>{6000.0, 6001.0});
  REQUIRE(::mkfifo((dir / "fifo").c_str(), 0600) == 0);  // refused, not read (a read would block)
  CHECK(test::error_of([&] {
          (void)dt::read_mask(dir / "fifo");
        }).find("/scan/mask: " + (dir / "fifo").string() + ": not a regular file (a FIFO)") != std::string::npos);
  CHECK(test::error_of([&] {
          (void)cadence::recipes::read_manifest(dir / "fifo");
        }).find("not a regular file (a FIFO)") != std::string::npos);
  test::write_file(dir / "bad.txt", "6000,6001\n6095.1\n");
  CHECK(test::error_of([&] { (void)dt::read_mask(dir / "bad.txt"); }).find("bad.txt:2: 1 fields") != std::string::npos);
  test::write_file(dir / "bad.txt", "6000,60o1\n");
  CHECK(test::error_of([&] {
          (void)dt::read_mask(dir / "bad.txt");
        }).find("bad.txt:1: `60o1` is not a frequency in MHz") != std::string::npos);
}

TEST_CASE("search: the SNR along a path is the line's on it, noise's beside it, and a NaN row does not blank it") {
  // six files of 16 rows x 2048 channels of unit gaussian noise; a line of 2 per row along the path in
  // OFF file 1 (z about 2 x 16 / 4 = 8), none in the others; the path moves 0.05 channels a second
  constexpr std::int64_t N = 2048, T = 16;
  const dt::Path path{1000.0, 0.05};
  std::mt19937 rng(3);
  std::normal_distribution<float> noise(0.0f, 1.0f);
  std::array<std::unique_ptr<Memory>, 6> owned;
  std::array<const ob::File*, 6> files{};
  std::array<double, 6> start{};
  for (std::size_t p = 0; p < 6; ++p) {
    ob::Header h;
    h.nchans = N;
    h.nsamples = T;
    h.tsamp = 18.25;
    start[p] = static_cast<double>(p) * 312.0;
    std::vector<float> x(static_cast<std::size_t>(N * T));
    for (float& v : x) v = noise(rng);
    for (std::int64_t r = 0; r < T; ++r) {
      const auto c = std::llround(path.at(start[p] + static_cast<double>(r) * h.tsamp));
      if (p == 1) x[static_cast<std::size_t>(r * N + c)] += 2.0f;
      if (p == 3) x[static_cast<std::size_t>(r * N + c + 30)] += 2.0f;  // a line beside the path: not on it
      if (p == 5 && r == 4) x[static_cast<std::size_t>(r * N + c)] = std::numeric_limits<float>::quiet_NaN();
    }
    owned[p] = std::make_unique<Memory>(h, std::move(x));
    files[p] = owned[p].get();
  }
  const auto r = dt::path_snr(files, start, path, dt::PathSnrOptions{});
  CAPTURE(r.file);
  CHECK(r.file[1] > 6.0);
  CHECK(r.file[1] < 13.0);
  for (const int q : {0, 2, 3, 4, 5}) {
    const auto p = static_cast<std::size_t>(q);
    CAPTURE(p);
    CHECK(std::isfinite(r.file[p]));  // the NaN sample of file 5 counts as its row's median
    CHECK(r.file[p] < 4.0);           // noise, and in file 3 a line 30 channels off the path
  }
  CHECK(r.off ==
        doctest::Approx(std::max(r.file[1], (r.file[1] + r.file[3] + r.file[5]) / std::sqrt(3.0))).epsilon(0.3));
  CHECK(r.off >= r.file[1]);
  // the fitted path: least squares through the points; one point keeps the given drift
  const std::array<std::pair<double, double>, 3> on{{{0.0, 100.0}, {624.0, 131.0}, {1248.0, 162.6}}};
  bool fitted = false;
  const auto line = dt::fit_path(on, 9.0, &fitted);
  CHECK(fitted);
  CHECK(line.per_s == doctest::Approx(62.6 / 1248.0));
  CHECK(line.at(624.0) == doctest::Approx((100.0 + 131.0 + 162.6) / 3.0));
  const auto one = dt::fit_path(std::span(on).first(1), 0.25, &fitted);
  CHECK_FALSE(fitted);
  CHECK(one.per_s == 0.25);
  CHECK(one.at(4.0) == 101.0);
}

TEST_CASE(
    "search: interference weaker in the OFF files passes find_event's filter, and the OFF files' SNR along its path "
    "sets it aside") {
  test::TempDir dir("faint-off");
  cadence::synth::ObservationOptions o;
  o.root = dir / "obs";
  o.channels = 16384;
  o.signals = 4;      // 1200 channels apart or more, on 12 slots
  o.faint_off = 2;    // the first two by channel: in the OFF files at 0.15 of their level (0.2 leaves a hit in
  o.off_gain = 0.15;  // one OFF file with this seed, and find_event drops that one itself)
  o.snr_min = o.snr_max = 30.0;
  o.drift_max = 1.0;
  o.seed = 5;
  const auto files = cadence::synth::generate_observation(o);
  const auto lines = cadence::synth::draw_signals(o);
  auto line_of = [&](std::int64_t channel) -> const cadence::synth::InjectedSignal* {
    for (const auto& l : lines)
      if (std::abs(l.channel - channel) <= 4) return &l;
    return nullptr;
  };
  cadence::ScanOptions so;
  so.threads = 2;
  so.off_snr = 0;  // find_event's filter alone: every line is an event, the faint-off ones too
  so.out = dir / "all";
  const auto all = cadence::recipes::search(so, files, true);
  REQUIRE(all.events.size() == 4);
  for (const auto& e : all.events) {
    const auto* l = line_of(e.channel);
    REQUIRE(l != nullptr);
    CAPTURE(l->channel);
    CAPTURE(e.path.file);
    for (std::size_t p = 0; p < 6; p += 2) CHECK(e.path.file[p] > 10.0);  // the line in each ON file, on the path
    if (l->off_gain > 0)
      CHECK(e.path.off > 6.0);  // about 0.15 x its ON SNR in each OFF file (4-6 here), more summed
    else
      CHECK(e.path.off < 4.0);  // the OFF files hold noise there
  }
  so.off_snr = 5;  // the default
  so.out = dir / "checked";
  const auto checked = cadence::recipes::search(so, files, true);
  REQUIRE(checked.events.size() == 2);
  REQUIRE(checked.vetoed.size() == 2);
  for (const auto& e : checked.events) CHECK(line_of(e.channel)->off_gain == 0.0);
  for (const auto& e : checked.vetoed) CHECK(line_of(e.channel)->off_gain > 0.0);
  const auto csv = test::read_file(dir / "checked/events.csv");
  CHECK(csv.find(",off_snr,") != std::string::npos);
  const auto json = cadence::config::json::parse(test::read_file(dir / "checked/scan.json"));
  CHECK(json["search"]["vetoed"].size() == 2);
  CHECK(json["search"]["events"][0]["path_snr"].size() == 6);
}

TEST_CASE("search: the drift search in LibTorch ops finds what the CPU threads find, hit for hit") {
  // what `seti scan` runs on a GPU (run.device cuda), here on the CPU device: the same sums, so the same
  // hits, drifts, SNRs and counts; in chunks that do not divide the band, two coarse channels, zero drift kept
  test::TempDir dir("torch-drifts");
  cadence::synth::ObservationOptions o;
  o.root = dir.path;
  o.channels = 8192;
  o.signals = 5;
  o.snr_min = 12.0;
  o.snr_max = 40.0;
  o.drift_max = 4.0;  // up to the search's +-4 Hz/s: several drift blocks of both signs
  o.seed = 9;
  const auto files = cadence::synth::generate_observation(o);
  for (const double min_drift : {0.0001, 0.0}) {
    CAPTURE(min_drift);
    dt::HitSearchOptions cpu;
    cpu.threads = 2;
    cpu.min_drift = min_drift;
    cpu.coarse_channels = 4096;
    auto gpu = cpu;
    gpu.drifts = dt::torch_drift_search(torch::kCPU, 1500);
    for (std::size_t p : {std::size_t{0}, std::size_t{3}}) {  // an ON file with signals, an OFF file with noise
      const auto file = ob::open_observation(files[p]);
      const auto a = dt::search_hits(*file, cpu), b = dt::search_hits(*file, gpu);
      CAPTURE(p);
      REQUIRE(a.hits.size() == b.hits.size());
      if (p == 0) CHECK(a.hits.size() >= 3);
      for (std::size_t i = 0; i < a.hits.size(); ++i) {
        CAPTURE(a.hits[i].channel);
        CHECK(a.hits[i].channel == b.hits[i].channel);
        CHECK(a.hits[i].drift == b.hits[i].drift);
        CHECK(a.hits[i].snr == b.hits[i].snr);
        CHECK(a.hits[i].coarse_hits == b.hits[i].coarse_hits);
      }
    }
  }
}

TEST_CASE(
    "search: spectral kurtosis keeps a band crowded with bursts out of the noise, and the signal beside it shows") {
  // one coarse channel of 4096 x 16 of setigen's chi-squared noise (204 degrees of freedom, mean 10: SK 1
  // for N = 2 tsamp |foff| = 102 accumulations); channels 3300-4095 (a fifth) each take a burst of 30 in
  // one row, which inflates the zero-drift spectrum's spread about fourfold; a line of 3.7 per row moves
  // one channel a row from channel 2000 (SNR about 15 against the true noise), out of reach of paths
  // that could collect the bursts (+-392 channels at 4 Hz/s)
  constexpr std::int64_t N = 4096, T = 16;
  ob::Header h;
  h.file = "crowded.fil";
  h.nchans = N;
  h.nsamples = T;
  h.tsamp = 18.253611008;
  h.foff = -2.7939677238464355e-6;
  h.fch1 = 6000.0;
  std::mt19937 rng(11);
  std::chi_squared_distribution<double> chi(204.0);
  std::vector<float> x(static_cast<std::size_t>(N * T));
  for (float& v : x) v = static_cast<float>(chi(rng) * 10.0 / 204.0);
  for (std::int64_t c = 3300; c < N; ++c) x[static_cast<std::size_t>((c * 7) % T * N + c)] += 30.0f;
  for (std::int64_t r = 0; r < T; ++r) x[static_cast<std::size_t>(r * N + 2000 + r)] += 3.7f;
  const Memory file(h, std::move(x));
  auto line = [](const dt::FileHits& r) -> const dt::Hit* {
    for (const auto& hit : r.hits)
      if (std::abs(hit.channel - 2000) <= 1) return &hit;
    return nullptr;
  };
  dt::HitSearchOptions o;
  const auto plain = dt::search_hits(file, o);
  CHECK(plain.sk_flagged == 0);
  CHECK(line(plain) == nullptr);  // the bursts' spread hides it
  o.sk_sigma = 5;
  const auto flagged = dt::search_hits(file, o);
  CHECK(flagged.sk_flagged >= 796);       // every burst channel
  CHECK(flagged.sk_flagged <= 796 + 20);  // and few others: the line's own channels, noise at 5 sigma
  const auto* hit = line(flagged);
  REQUIRE(hit != nullptr);
  CHECK(std::abs(hit->drift) == doctest::Approx(2.7939677238464355 / 18.253611008).epsilon(0.01));
  CHECK(hit->snr > 12.0);
  CHECK(hit->snr < 25.0);
  // the hits the crowded band itself leaves stand higher too: flagging changed the noise, not the search
  REQUIRE_FALSE(plain.hits.empty());
  CHECK(flagged.hits.back().snr > plain.hits.back().snr);
}
