#include "cadence/detect/dedoppler.hpp"

#include <doctest/doctest.h>
#include <torch/torch.h>

#include <cmath>
#include <numbers>

#include "support.hpp"

namespace {
constexpr std::int64_t kTime = 30, kFreq = 40;

/// The search written the slow, obvious way (loops, no padding tricks), for one cadence (P,kTime,kFreq).
double brute_force(const torch::Tensor& x, const std::vector<std::int64_t>& position,
                   const cadence::DeDopplerOptions& o) {
  const auto P = x.size(0);
  const std::int64_t bin = o.time_bin, Tb = kTime / bin;
  auto a = x.accessor<float, 3>();
  double best = -1e300;
  for (double r : cadence::dedoppler::rates(o))
    for (std::int64_t f = 0; f < kFreq; ++f) {
      double on = 0, off = 0;
      int n_on = 0, n_off = 0;
      for (std::int64_t k = 0; k < P; ++k) {
        double sum = 0;
        for (std::int64_t j = 0; j < Tb; ++j) {
          const double when =
              static_cast<double>(position[static_cast<std::size_t>(k)] * kTime + j * bin) + 0.5 * (bin - 1);
          const auto c = f + static_cast<std::int64_t>(std::nearbyint(when * r));
          if (c < 0 || c >= kFreq) continue;
          double mean = 0;
          for (std::int64_t b = 0; b < bin; ++b) mean += a[k][j * bin + b][c];
          sum += mean / static_cast<double>(bin);
        }
        const double z = sum * std::sqrt(static_cast<double>(bin)) / std::sqrt(static_cast<double>(Tb));
        if (position[static_cast<std::size_t>(k)] % 2 == 0)
          on += z, ++n_on;
        else
          off += z, ++n_off;
      }
      best = std::max(best, on / n_on - (n_off > 0 ? off / n_off : 0.0));
    }
  return best;
}

cadence::DeDopplerOptions small_options() {
  cadence::DeDopplerOptions o;
  o.drift_max = 0.2;
  o.drift_steps = 9;
  o.time_bin = 2;
  o.tchans = kTime;
  return o;
}

/// Noise with a line of `level` per step from channel f0 at drift r through the given panels.
torch::Tensor with_line(std::uint64_t seed, double r, std::int64_t f0, float level, std::vector<int> panels) {
  torch::manual_seed(static_cast<std::int64_t>(seed));
  auto x = torch::randn({6, kTime, kFreq});
  auto a = x.accessor<float, 3>();
  for (int k : panels)
    for (std::int64_t t = 0; t < kTime; ++t) {
      const auto c = f0 + static_cast<std::int64_t>(std::nearbyint(r * static_cast<double>(k * kTime + t)));
      if (c >= 0 && c < kFreq) a[k][t][c] += level;
    }
  return x;
}
}  // namespace

TEST_CASE("dedoppler: the search's scores equal a brute-force loop's, with and without the OFF panels") {
  const auto o = small_options();
  using enum cadence::dedoppler::LineSums;
  for (const auto sums : {prefix, gather}) {  // a CPU's way and a GPU's, both here
    CAPTURE(static_cast<int>(sums));
    for (std::uint64_t seed : {1u, 2u, 3u}) {
      const auto x = with_line(seed, 0.1, 7, 1.5f, {0, 2, 4});
      const auto best = cadence::dedoppler::search(x.unsqueeze(0), {0, 1, 2, 3, 4, 5}, o, sums);
      CHECK(best.score.item<float>() == doctest::Approx(brute_force(x, {0, 1, 2, 3, 4, 5}, o)).epsilon(1e-4));
      const auto on = x.index_select(0, torch::tensor({0, 2, 4}));
      const auto only_on = cadence::dedoppler::search(on.unsqueeze(0), {0, 2, 4}, o, sums);
      CHECK(only_on.score.item<float>() == doctest::Approx(brute_force(on, {0, 2, 4}, o)).epsilon(1e-4));
    }
    // a batch: each cadence's best line as when searched alone, drift and channel too
    const auto batch =
        torch::stack({with_line(5, -0.15, 30, 3.0f, {0, 2, 4}), with_line(6, 0.05, 12, 2.0f, {0, 2, 4})});
    const auto both = cadence::dedoppler::search(batch, {0, 1, 2, 3, 4, 5}, o, sums);
    for (std::int64_t b = 0; b < 2; ++b) {
      const auto alone = cadence::dedoppler::search(batch.narrow(0, b, 1), {0, 1, 2, 3, 4, 5}, o, sums);
      CHECK(both.score[b].item<float>() == doctest::Approx(alone.score.item<float>()).epsilon(1e-5));
      CHECK(both.drift[b].item<float>() == alone.drift.item<float>());
      CHECK(both.channel[b].item<std::int64_t>() == alone.channel.item<std::int64_t>());
    }
    CHECK(both.drift[0].item<float>() == doctest::Approx(-0.15).epsilon(1e-5));
    CHECK(both.channel[0].item<std::int64_t>() == 30);
  }
}

TEST_CASE("dedoppler: finds an injected line's drift and channel, RFI in all six panels scores low") {
  const auto o = small_options();
  const auto signal = with_line(4, -0.15, 30, 3.0f, {0, 2, 4});
  const auto best = cadence::dedoppler::search(signal.unsqueeze(0), {0, 1, 2, 3, 4, 5}, o);
  CHECK(best.drift.item<float>() == doctest::Approx(-0.15).epsilon(1e-5));
  CHECK(best.channel.item<std::int64_t>() == 30);
  CHECK(best.score.item<float>() > 8.0f);
  // the same line in all six panels cancels on its own line; what is left is what neighbouring lines
  // catch of it in some panels and not others, and noise: well under the ON-only line's score
  const auto rfi = with_line(4, -0.15, 30, 3.0f, {0, 1, 2, 3, 4, 5});
  const float rfi_score = cadence::dedoppler::search(rfi.unsqueeze(0), {0, 1, 2, 3, 4, 5}, o).score.item<float>();
  CHECK(rfi_score < 0.4f * best.score.item<float>());
}

TEST_CASE("dedoppler: the module reads stacked or 6-channel images, and names the layout it cannot read") {
  const auto o = small_options();
  const auto x = with_line(5, 0.1, 5, 2.0f, {0, 2, 4});
  cadence::DeDoppler six(o, 6, 2), one(o, 1, 1);
  const auto a = six->forward(x.unsqueeze(0));
  const auto b = one->forward(x.reshape({1, 1, 6 * kTime, kFreq}));
  REQUIRE(a.sizes() == torch::IntArrayRef({1, 2}));
  REQUIRE(b.sizes() == torch::IntArrayRef({1, 1}));
  CHECK(a[0][1].item<float>() == doctest::Approx(b[0][0].item<float>()));
  CHECK(a[0][0].item<float>() == 0.0f);
  CHECK(six->parameters().empty());
  // the track search reads the ON panels alone too (load.layout on_stacked): no OFF term, window or not
  auto track = o;
  track.search = cadence::DeDopplerSearch::track;
  track.time_bin = 1;
  const auto on = x.index_select(0, torch::tensor({0, 2, 4}));
  for (int window : {0, 8}) {
    CAPTURE(window);
    track.track_window = window;
    const auto alone = cadence::dedoppler::track_search(on.unsqueeze(0), {0, 2, 4}, track);
    CHECK(std::isfinite(alone.score.item<float>()));
    CHECK(cadence::DeDoppler(track, 1, 1)->forward(on.reshape({1, 1, 3 * kTime, kFreq}))[0][0].item<float>() ==
          doctest::Approx(alone.score.item<float>() - static_cast<float>(track.threshold)));
  }
  auto halved = o;  // scale: score units per logit
  halved.scale = 2.0;
  CHECK(cadence::DeDoppler(halved, 6, 2)->forward(x.unsqueeze(0))[0][1].item<float>() ==
        doctest::Approx(a[0][1].item<float>() / 2.0f));
  test::check_error([&] { one->forward(torch::zeros({1, 1, 5 * kTime, kFreq})); }, "load.layout", "model.tchans");
  test::check_error([&] { cadence::DeDoppler(o, 3, 2); }, "not 3 channels");
}

namespace {
/// Every path through one image (T, F) ending in each channel, tried one by one (3^(T-1) of them from each
/// start for step 1): the definitions detect/track.hpp's dynamic programmes must equal. `best`: the best
/// path sum ending in each channel (Viterbi); `likelihood`: the sum over those paths of
/// exp(beta * path sum) / (2 step + 1)^(T-1) (the forward algorithm, before its log).
struct EveryPath {
  std::vector<double> best, likelihood;
};
EveryPath every_path(const torch::Tensor& img, std::int64_t step, double beta = 1.0) {
  const auto T = img.size(0), F = img.size(1);
  auto a = img.accessor<float, 2>();
  EveryPath out{std::vector<double>(static_cast<std::size_t>(F), -1e300),
                std::vector<double>(static_cast<std::size_t>(F), 0.0)};
  const double moves = std::pow(static_cast<double>(2 * step + 1), static_cast<double>(T - 1));
  std::vector<std::int64_t> path(static_cast<std::size_t>(T));
  auto walk = [&](auto&& self, std::int64_t t, double sum) -> void {
    const auto f = path[static_cast<std::size_t>(t)];
    sum += a[t][f];
    if (t == T - 1) {
      out.best[static_cast<std::size_t>(f)] = std::max(out.best[static_cast<std::size_t>(f)], sum);
      out.likelihood[static_cast<std::size_t>(f)] += std::exp(beta * sum) / moves;
      return;
    }
    for (std::int64_t d = -step; d <= step; ++d)
      if (f + d >= 0 && f + d < F) {
        path[static_cast<std::size_t>(t + 1)] = f + d;
        self(self, t + 1, sum);
      }
  };
  for (std::int64_t f = 0; f < F; ++f) {
    path[0] = f;
    walk(walk, 0, 0.0);
  }
  return out;
}

/// Noise with a sine-shaped path of `level` per step (amplitude 6 channels, a period of two panels, so
/// up to 0.63 channels a row) around channel f0 through the given panels.
torch::Tensor with_sine(std::uint64_t seed, std::int64_t f0, float level, std::vector<int> panels) {
  torch::manual_seed(static_cast<std::int64_t>(seed));
  auto x = torch::randn({6, kTime, kFreq});
  auto a = x.accessor<float, 3>();
  for (int k : panels)
    for (std::int64_t t = 0; t < kTime; ++t) {
      const double phase = std::numbers::pi * static_cast<double>(k * kTime + t) / static_cast<double>(kTime);
      a[k][t][f0 + static_cast<std::int64_t>(std::nearbyint(6.0 * std::sin(phase)))] += level;
    }
  return x;
}
}  // namespace

TEST_CASE("track: the Viterbi and forward programmes equal trying every path") {
  torch::manual_seed(7);
  const auto x = torch::randn({3, 6, 7});  // 3 images of 6 rows x 7 channels
  for (std::int64_t step : {0, 1, 2}) {
    CAPTURE(step);
    const auto sums = cadence::track::best_path_sums(x, step);
    REQUIRE(sums.sizes() == torch::IntArrayRef({3, 7}));
    const auto logs = cadence::track::log_path_sums(x, step, 0.7);
    REQUIRE(logs.sizes() == torch::IntArrayRef({3, 7}));
    for (std::int64_t n = 0; n < 3; ++n) {
      const auto want = every_path(x[n], step, 0.7);
      for (std::int64_t f = 0; f < 7; ++f) {
        CHECK(sums[n][f].item<float>() == doctest::Approx(want.best[static_cast<std::size_t>(f)]).epsilon(1e-5));
        CHECK(logs[n][f].item<float>() ==
              doctest::Approx(std::log(want.likelihood[static_cast<std::size_t>(f)])).epsilon(1e-5));
      }
    }
  }
  test::check_error([&] { cadence::track::best_path_sums(torch::zeros({2, 3}), 1); }, "(N, T, F)");
}

TEST_CASE("track: follows a path that oscillates (a line loses it) and cancels the same path in all six panels") {
  auto line = small_options();
  auto track = line;
  track.search = cadence::DeDopplerSearch::track;
  track.time_bin = 1;
  track.track_step = 1;  // paths of up to 1 channel a row follow the sine's 0.63
  track.freq_bin = 1;
  const std::vector<std::int64_t> all = {0, 1, 2, 3, 4, 5};
  const auto signal = with_sine(11, 20, 2.0f, {0, 2, 4});
  const auto noise = with_sine(11, 20, 0.0f, {});
  const auto rfi = with_sine(11, 20, 2.0f, {0, 1, 2, 3, 4, 5});
  auto score = [&](const torch::Tensor& x, const cadence::DeDopplerOptions& o) {
    return (o.search == cadence::DeDopplerSearch::track ? cadence::dedoppler::track_search(x.unsqueeze(0), all, o)
                                                        : cadence::dedoppler::search(x.unsqueeze(0), all, o))
        .score.item<float>();
  };
  const float track_gain = score(signal, track) - score(noise, track);
  const float line_gain = score(signal, line) - score(noise, line);
  CHECK(track_gain > 2.0f * line_gain);  // the track keeps the path's power; lines catch bits of it
  CHECK(score(signal, track) > 4.0f);
  CHECK(score(rfi, track) < 0.3f * score(signal, track));
  auto forward = track;  // the sum over every path: the same verdicts
  forward.track_algorithm = cadence::TrackAlgorithm::forward;
  CHECK(score(signal, forward) > score(noise, forward) + 20.0f);
  CHECK(std::abs(score(rfi, forward)) < 0.1f * score(signal, forward));
  const auto best = cadence::dedoppler::track_search(signal.unsqueeze(0), all, track);
  CHECK(std::isnan(best.drift.item<float>()));
  CHECK(std::abs(best.channel.item<std::int64_t>() - 20) <= 7);  // the path's last channel, in the sine's range
  // a line search does not bin channels: the module says which field to change
  auto wrong = line;
  wrong.freq_bin = 2;
  test::check_error([&] { cadence::DeDoppler(wrong, 6, 2); }, "/model/freq_bin", "\"track\"");
  auto ignored = line;  // so does a track key, built in code as well as read from a config
  ignored.track_window = 8;
  test::check_error([&] { cadence::DeDoppler(ignored, 6, 2); }, "/model/track_window", "only \"search\": \"track\"");
}

namespace {
/// The track search on unbinned rows, the forward algorithm at beta 1: the windows' and compares' tests.
cadence::DeDopplerOptions forward_track_options() {
  auto o = small_options();
  o.search = cadence::DeDopplerSearch::track;
  o.time_bin = 1;
  o.track_algorithm = cadence::TrackAlgorithm::forward;
  o.track_beta = 1.0;
  return o;
}
}  // namespace

TEST_CASE("track: with a window, a signal beside bright interference in all six panels is not buried by it") {
  const auto o = forward_track_options();
  const std::vector<std::int64_t> all = {0, 1, 2, 3, 4, 5};
  // interference: a line in channel 4 of all six panels, 3 per pixel; a signal: a line from channel 28 at
  // -0.05 channels a step in the ON panels, 1.5 per pixel
  const auto noise = with_line(21, 0.0, 0, 0.0f, {});
  const auto rfi = with_line(21, 0.0, 4, 3.0f, {0, 1, 2, 3, 4, 5}) - noise;
  const auto signal_on = with_line(21, -0.05, 28, 1.5f, {0, 2, 4}) - noise;
  auto score = [&](const torch::Tensor& x, int window) {
    auto w = o;
    w.track_window = window;
    return cadence::dedoppler::track_search(x.unsqueeze(0), all, w).score.item<float>();
  };
  const auto interference = noise + rfi, signal = noise + signal_on, both = interference + signal_on;
  // over the whole band each panel's sum over paths is the interference's: the signal is lost in it
  CHECK(score(signal, 0) > 10.0f);
  CHECK(std::abs(score(both, 0) - score(interference, 0)) < 0.1f * score(signal, 0));
  // window by window the signal's window holds it alone, and the interference meets its OFF part (what is
  // left: the noise along a bright path, which differs from panel to panel)
  CHECK(score(both, 8) > 0.8f * score(signal, 8));
  CHECK(score(interference, 8) < 0.5f * score(signal, 8));
  // the window's best channel: the signal's, not the interference's
  auto w = o;
  w.track_window = 8;
  CHECK(cadence::dedoppler::track_search(both.unsqueeze(0), all, w).channel.item<std::int64_t>() > 16);
}

TEST_CASE("track: compare max meets interference in one OFF panel beside an ON panel, which a mean halves") {
  const auto o = forward_track_options();
  const std::vector<std::int64_t> all = {0, 1, 2, 3, 4, 5};
  const auto noise = with_line(23, 0.0, 0, 0.0f, {});
  // interference that switches on at panel 2 (ON) and stays (3, 4, 5), and a signal in the ON panels only
  const auto switching = with_line(23, 0.02, 12, 3.0f, {2, 3, 4, 5});
  const auto signal = with_line(23, 0.02, 12, 1.5f, {0, 2, 4});
  auto score = [&](const torch::Tensor& x, int window, cadence::TrackCompare compare) {
    auto w = o;
    w.track_window = window;
    w.track_compare = compare;
    return cadence::dedoppler::track_search(x.unsqueeze(0), all, w).score.item<float>();
  };
  using enum cadence::TrackCompare;
  auto excess = [&](const torch::Tensor& x, int window, cadence::TrackCompare compare) {
    return score(x, window, compare) - score(noise, window, compare);  // over the noise's own score
  };
  // window by window: ON panel 2 holds it and so does OFF panel 3; against their mean (OFF panel 1 is
  // empty) half of it is left, a sixth of a signal's score after the mean over the ON panels; against
  // the brighter of the two, only the difference of the noise along it
  CHECK(excess(switching, 8, mean) > 0.1f * excess(signal, 8, mean));
  CHECK(excess(switching, 8, max) < 0.2f * excess(switching, 8, mean));
  // a signal in the ON panels meets two empty OFF panels either way: the brighter one's noise costs little
  for (int window : {0, 8}) {
    CAPTURE(window);
    CHECK(score(signal, window, max) > 0.9f * score(signal, window, mean));
    CHECK(score(signal, window, max) <= score(signal, window, mean));
  }
  // over the whole band: the mean ON panel's number against the largest OFF panel's, each panel's number
  // the log of its mean likelihood ratio over end channels (detect/track.hpp, a definition apart from the
  // search's windows)
  const auto numbers = torch::logsumexp(cadence::track::log_path_sums(switching, 1, 1.0), 1) - std::log(double(kFreq));
  const auto expected = numbers.index_select(0, torch::tensor({0, 2, 4})).mean() -
                        numbers.index_select(0, torch::tensor({1, 3, 5})).max();
  CHECK(score(switching, 0, max) == doctest::Approx(expected.item<float>()).epsilon(1e-4));
  // a line search refuses the key it would ignore
  auto line = small_options();
  line.track_compare = max;
  test::check_error([&] { cadence::DeDoppler(line, 6, 2); }, "/model/track_compare", "only \"search\": \"track\"");
}
