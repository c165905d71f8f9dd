#include "cadence/synth/inject.hpp"

#include <cmath>
#include <numeric>

#include "cadence/core/compose.hpp"
#include "cadence/config/pipeline_config.hpp"
#include "cadence/data/load.hpp"
#include "cadence/recipes/fingerprint.hpp"
#include "support.hpp"

namespace {
constexpr std::int64_t kT = 273, kF = 256, kPanel = kT * kF;

/// Gaussian noise N(mean, sigma) in six panels, keyed by `seed`.
std::vector<float> noise_cadence(double sigma, double mean = 0.0, std::uint64_t seed = 3) {
  cadence::RandomStream rng(seed, 0, 0, 0u);
  std::vector<float> x(static_cast<std::size_t>(6 * kPanel));
  for (float& v : x) v = static_cast<float>(mean + sigma * rng.normal());
  return x;
}

/// How many values of panel k differ between a and b.
std::int64_t changed(const std::vector<float>& a, const std::vector<float>& b, int k) {
  std::int64_t n = 0;
  for (std::int64_t i = k * kPanel; i < (k + 1) * kPanel; ++i)
    n += a[static_cast<std::size_t>(i)] != b[static_cast<std::size_t>(i)] ? 1 : 0;
  return n;
}

/// A recipe with no sections, for a pipeline's config alone.
struct NoRecipe {
  template <class V>
  void fields(V&) {}
};

cadence::Inject signals_only() {
  cadence::Inject in;
  in.options.p = 1.0;
  in.options.paths = "straight";
  in.options.intensities = "constant";
  in.options.profiles = "box";
  in.options.snr_min = in.options.snr_max = 10.0;
  return in;
}
}  // namespace

TEST_CASE(
    "inject: a negative becomes a positive carrying a signal in the ON panels, at setigen's level against its own "
    "noise") {
  const auto in = signals_only();
  for (double sigma : {1.0, 3.0}) {
    const auto before = noise_cadence(sigma, 10.0);
    auto after = before;
    const float y = in.inject(after, 0.0f, cadence::InjectKey{6, kT, kF, 17, 5, 0});
    CAPTURE(sigma);
    CHECK(y == 1.0f);
    for (int k : {1, 3, 5}) CHECK(changed(before, after, k) == 0);
    // the robust noise estimate is the noise's sigma
    const double measured = cadence::inject::robust_std(before);
    CHECK(measured == doctest::Approx(sigma).epsilon(0.03));
    // a box profile at constant intensity adds setigen's Frame.get_intensity(snr) to each pixel it covers,
    // a few channels per row (4-20 Hz at 2.79 Hz per channel)
    const double level = cadence::synth::FrameParams{kF, kT}.intensity(10.0, measured);
    for (int k : {0, 2, 4}) {
      CHECK(changed(before, after, k) > 0);
      for (std::int64_t r = 0; r < kT; ++r) {
        int covered = 0;
        for (std::int64_t j = 0; j < kF; ++j) {
          const auto i = static_cast<std::size_t>(k * kPanel + r * kF + j);
          const double added = static_cast<double>(after[i]) - static_cast<double>(before[i]);
          if (std::abs(added) < 1e-4) continue;
          ++covered;
          CHECK(added == doctest::Approx(level).epsilon(1e-3));
        }
        CHECK(covered <= 8);
      }
    }
  }
}

TEST_CASE(
    "inject: a positive keeps its data and label, and nothing to draw is inactive, so the source keeps its fast path") {
  const auto in = signals_only();
  const auto before = noise_cadence(1.0);
  auto after = before;
  CHECK(in.inject(after, 1.0f, cadence::InjectKey{6, kT, kF, 3, 5, 0}) == 1.0f);
  CHECK(after == before);
  cadence::Inject idle;
  CHECK_FALSE(idle.active());
  cadence::Load load;
  const auto p = load | idle;
  CHECK_FALSE(cadence::inject_hook(p, 5, 0));
  const auto q = load | in;
  CHECK(cadence::inject_hook(q, 5, 0));
  CHECK_FALSE(cadence::source_hooks(q).cadence);  // an injection is no cadence transform of every phase
}

TEST_CASE("inject: the draws depend on the seed, the epoch and the sample's index only") {
  auto in = signals_only();
  in.options.paths = "straight,quadratic,sine,random_walk";
  in.options.profiles = "gaussian,sinc2,box";
  in.options.snr_max = 30.0;
  const auto base = noise_cadence(1.0);
  auto draw = [&](std::uint64_t seed, std::uint32_t epoch, std::int64_t index) {
    auto x = base;
    in.inject(x, 0.0f, cadence::InjectKey{6, kT, kF, index, seed, epoch});
    return x;
  };
  const auto a = draw(5, 0, 7);
  CHECK(draw(5, 0, 7) == a);
  CHECK(draw(5, 1, 7) != a);
  CHECK(draw(5, 0, 8) != a);
  CHECK(draw(6, 0, 7) != a);
  // about p of the negatives get a signal
  in.options.p = 0.25;
  int got = 0;
  for (std::int64_t i = 0; i < 400; ++i) {
    auto x = base;
    got += in.inject(x, 0.0f, cadence::InjectKey{6, kT, kF, i, 5, 0}) == 1.0f ? 1 : 0;
  }
  CHECK(got > 70);
  CHECK(got < 130);
}

TEST_CASE("inject: interference keeps the label and goes where its kind says") {
  cadence::Inject in;
  in.options.rfi_p = 1.0;
  const auto before = noise_cadence(1.0);
  in.options.interference = "off_only";
  auto x = before;
  CHECK(in.inject(x, 0.0f, cadence::InjectKey{6, kT, kF, 1, 5, 0}) == 0.0f);
  for (int k : {0, 2, 4}) CHECK(changed(before, x, k) == 0);
  CHECK(changed(before, x, 1) + changed(before, x, 3) + changed(before, x, 5) > 0);
  in.options.interference = "broadband";
  x = before;
  CHECK(in.inject(x, 1.0f, cadence::InjectKey{6, kT, kF, 2, 5, 0}) == 1.0f);
  int on_changed = 0;
  for (int k : {0, 2, 4}) on_changed += changed(before, x, k) > 0 ? 1 : 0;
  CHECK(on_changed == 1);
  for (int k : {1, 3, 5}) CHECK(changed(before, x, k) == 0);
}

TEST_CASE(
    "inject: a training loader relabels what it injects into, while the loader without the hook (evaluation) does "
    "not") {
  test::TempDir data("inject");
  test::small_dataset(data.path, 12, 2);
  cadence::Load load;
  load.options.root = data.path;
  load.options.threads = 1;
  const auto train = load.open(cadence::Split::train);
  auto p = load | signals_only();
  std::vector<std::int64_t> order(train.size());
  std::iota(order.begin(), order.end(), 0);
  cadence::LoaderHooks hooks;
  hooks.inject = cadence::inject_hook(p, 5, 0);
  const auto injected = load.loader(train, order, 12, 2, std::move(hooks))->next();
  const auto plain = load.loader(train, order, 12, 2)->next();
  REQUIRE(injected);
  REQUIRE(plain);
  int negatives = 0;
  for (std::int64_t i = 0; i < 12; ++i) {
    const bool negative = train.entries[static_cast<std::size_t>(i)].target < 0.5f;
    negatives += negative ? 1 : 0;
    CHECK(injected->targets[i][1].item<float>() == 1.0f);  // every negative got a signal (p = 1)
    CHECK(plain->targets[i][1].item<float>() == (negative ? 0.0f : 1.0f));
    // a positive is read as the file holds it (to float16 rounding: the injecting path reads via floats)
    if (!negative) CHECK(torch::allclose(injected->images[i], plain->images[i], 1e-4, 1e-4));
    if (negative) CHECK_FALSE(torch::allclose(injected->images[i], plain->images[i], 1e-3, 1e-3));
  }
  CHECK(negatives > 0);
}

TEST_CASE("inject: options are checked with their JSON paths") {
  auto read = [](const cadence::config::json& j) {
    cadence::InjectOptions o;
    cadence::config::read_value(j, o, "/inject");
    return o;
  };
  CHECK(read({{"p", 0.2}, {"paths", "sine"}}).paths == "sine");
  CHECK_THROWS_WITH(read({{"paths", "spiral"}}), doctest::Contains("/inject/paths: unknown family \"spiral\""));
  CHECK_THROWS_WITH(read({{"snr_min", 8}, {"snr_max", 4}}), doctest::Contains("/inject/snr_max: 4 is below"));
  CHECK_THROWS_WITH(read({{"rfi_p", 1.5}}), doctest::Contains("/inject/rfi_p"));
  CHECK_THROWS_WITH(read({{"interference", ""}}), doctest::Contains("/inject/interference: must name"));
}

TEST_CASE("inject: its options are part of a run's fingerprint, so a resume or predict with others is refused") {
  cadence::Load load;
  cadence::Inject in;
  in.options.p = 0.1;
  const auto pipeline = load | in;
  const auto was = cadence::fingerprint::of_config(cadence::config::write_config(pipeline, NoRecipe{}), {});
  auto other = pipeline;
  other.get<cadence::Inject>().options.p = 0.3;
  const auto now = cadence::fingerprint::of_config(cadence::config::write_config(other, NoRecipe{}), {});
  CHECK_FALSE(cadence::fingerprint::same_config(was, now));
  CHECK(cadence::fingerprint::differences(was, now).find("inject.p: 0.1 -> 0.3") != std::string::npos);
  // an old run made before Inject existed (no "inject" section) matches one with Inject at its defaults
  auto before = was;
  before.erase("inject");
  const auto idle =
      cadence::fingerprint::of_config(cadence::config::write_config(load | cadence::Inject{}, NoRecipe{}), {});
  CHECK(cadence::fingerprint::same_config(before, idle, idle));
}

TEST_CASE("inject: a cadence that is not six panels is refused when a draw would need its panels") {
  const auto in = signals_only();
  std::vector<float> four(static_cast<std::size_t>(4 * kPanel), 0.0f);
  CHECK_THROWS_WITH(in.inject(four, 0.0f, cadence::InjectKey{4, kT, kF, 1, 5, 0}),
                    doctest::Contains("inject: a cadence of 4 panels"));
  CHECK(in.inject(four, 1.0f, cadence::InjectKey{4, kT, kF, 1, 5, 0}) == 1.0f);  // a positive draws nothing
}

TEST_CASE(
    "inject: faint_off came later: Inject's default and the shift benchmark's test set name the seven before it") {
  // naming faint_off in either would change every draw of the runs and benchmarks measured before it
  const std::string seven = "drifting,static,off_only,broadband,switching,dc_spike,ripple";
  CHECK(cadence::synth::family_names(cadence::synth::kInterference) == seven + ",faint_off");
  CHECK(cadence::InjectOptions{}.interference == seven);
  CHECK(cadence::synth::shift_preset()["test_interference"].get<std::string>() == seven);
}
