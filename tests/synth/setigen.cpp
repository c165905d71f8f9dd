// cadence's synthetic physics against setigen 2.7 itself (tests/data/make_setigen_fixture.py).
#include "cadence/synth/setigen.hpp"

#include <nlohmann/json.hpp>

#include "cadence/data/npy.hpp"
#include "support.hpp"

using namespace cadence::synth;
using nlohmann::json;

namespace {
Signal signal_of(const json& c) {
  Signal s;
  const auto& p = c["path"];
  const std::string pk = p["kind"];
  s.path.kind = pk == "constant" ? PathKind::constant : pk == "squared" ? PathKind::squared : PathKind::sine;
  s.path.f_start = p["f_start_hz"];
  s.path.drift_rate = p["drift_rate_hz_per_s"];
  if (s.path.kind == PathKind::sine) {
    s.path.period = p["period_s"];
    s.path.amplitude = p["amplitude_hz"];
  }
  const auto& t = c["t_profile"];
  if (t["kind"] == "sine") {
    s.t_profile = {TProfileKind::sine, t["level"], t["period_s"], t["phase_s"], t["amplitude"]};
  } else {
    s.t_profile.level = t["level"];
  }
  const auto& f = c["f_profile"];
  const std::string fk = f["kind"];
  s.f_profile.kind = fk == "gaussian" ? FProfileKind::gaussian
                     : fk == "sinc2"  ? FProfileKind::sinc2
                                      : FProfileKind::box;
  s.f_profile.width = f["width_hz"];
  if (fk == "sinc2") {
    s.f_profile.sinc2_fwhm = f["width_mode"] == "fwhm";
    s.f_profile.trunc = f["trunc"];
  }
  return s;
}
}  // namespace

TEST_CASE("setigen: noise-free signals match setigen's frames pixel for pixel") {
  const auto fixture = json::parse(test::read_file(test::fixture("setigen/signals.json")));
  REQUIRE(fixture["cases"].size() == 6);
  for (const auto& c : fixture["cases"]) {
    CAPTURE(c["name"].get<std::string>());
    const auto& fr = c["frame"];
    FrameParams p{fr["fchans"], fr["tchans"], fr["df_hz"], fr["dt_s"], fr["fch1_hz"], fr["ascending"]};
    for (std::int64_t j = 0; j < p.fchans; ++j)
      CHECK(p.freq(j) == doctest::Approx(c["derived"]["col_freqs_hz"][j].get<double>()).epsilon(1e-15));
    std::vector<float> ours(static_cast<std::size_t>(p.tchans * p.fchans), 0.0f), theirs;
    add_signal(ours, p, signal_of(c));
    cadence::npy::read_f32(test::fixture("setigen/" + c["npy"].get<std::string>()), {}, theirs);
    REQUIRE(theirs.size() == ours.size());
    double max_err = 0.0, sum = 0.0;
    for (std::size_t i = 0; i < ours.size(); ++i) {
      max_err = std::max(max_err, static_cast<double>(std::abs(ours[i] - theirs[i])));
      sum += ours[i];
    }
    CHECK(max_err < 1e-5);
    CHECK(sum == doctest::Approx(c["derived"]["data_sum"].get<double>()).epsilon(1e-5));  // integrated power
  }
}

TEST_CASE("setigen: chi2 noise has setigen's degrees of freedom and distribution") {
  const auto n = json::parse(test::read_file(test::fixture("setigen/noise.json")));
  FrameParams p;  // setigen's defaults
  CHECK(p.fchans == n["fchans"]);
  CHECK(p.tchans == n["tchans"]);
  CHECK(p.chi2_df() == n["chi2_df"].get<double>());
  const double x_mean = n["x_mean"];
  CHECK(p.noise_std(x_mean) == doctest::Approx(n["frame_noise_std"].get<double>()).epsilon(1e-12));
  CHECK(p.intensity(10.0, p.noise_std(x_mean)) ==
        doctest::Approx(10.0 * n["frame_noise_std"].get<double>() / std::sqrt(273.0)));

  std::vector<float> all;
  for (std::uint32_t frame = 0; frame < 20; ++frame) {
    std::vector<float> f(static_cast<std::size_t>(p.tchans * p.fchans));
    cadence::RandomStream rng(1000 + frame, 0, 0, cadence::StreamId::synth);
    chi2_noise(f, p, x_mean, rng);
    all.insert(all.end(), f.begin(), f.end());
  }
  double m = 0, m2 = 0, m3 = 0, m4 = 0;
  for (float v : all) m += v;
  m /= static_cast<double>(all.size());
  for (float v : all) {
    const double d = v - m;
    m2 += d * d;
    m3 += d * d * d;
    m4 += d * d * d * d;
  }
  const double N = static_cast<double>(all.size());
  m2 /= N;
  m3 /= N;
  m4 /= N;
  const auto& s = n["pooled"];  // setigen's sample statistics over the same number of pixels
  CHECK(m == doctest::Approx(s["mean"].get<double>()).epsilon(1e-3));
  CHECK(std::sqrt(m2) == doctest::Approx(s["std"].get<double>()).epsilon(5e-3));
  CHECK(m3 / std::pow(m2, 1.5) == doctest::Approx(s["skewness"].get<double>()).epsilon(0.05));
  CHECK(std::abs(m4 / (m2 * m2) - 3.0 - s["excess_kurtosis"].get<double>()) < 0.02);
  std::sort(all.begin(), all.end());
  auto q = [&](double p) { return all[static_cast<std::size_t>(p * (N - 1))]; };
  CHECK(q(0.01) == doctest::Approx(s["q01"].get<double>()).epsilon(2e-3));
  CHECK(q(0.50) == doctest::Approx(s["q50"].get<double>()).epsilon(1e-3));
  CHECK(q(0.99) == doctest::Approx(s["q99"].get<double>()).epsilon(2e-3));
}
