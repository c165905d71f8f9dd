#include "cadence/detect/background.hpp"

#include <doctest/doctest.h>
#include <torch/torch.h>

#include "cadence/core/compose.hpp"
#include "cadence/data/load.hpp"
#include "cadence/data/npy.hpp"
#include "support.hpp"

namespace {
constexpr std::int64_t P = 6, T = 16, F = 12;

torch::Tensor random_cadence(std::uint64_t seed) {
  torch::manual_seed(static_cast<std::int64_t>(seed));
  return torch::randn({P, T, F});
}

torch::Tensor subtracted(const torch::Tensor& x, cadence::BackgroundMode mode) {
  auto y = x.clone().contiguous();
  cadence::background::subtract(std::span<float>(y.data_ptr<float>(), static_cast<std::size_t>(y.numel())), P, T, F,
                                mode);
  return y;
}

/// numpy's median over dim 0 (the mean of the two middle values for an even count), independently of background.hpp.
torch::Tensor median0(const torch::Tensor& rows) {
  const auto sorted = std::get<0>(rows.sort(0));
  const auto n = rows.size(0);
  if (n % 2 == 1) return sorted[n / 2];
  return 0.5 * (sorted[n / 2 - 1] + sorted[n / 2]);
}
}  // namespace

TEST_CASE("background: each mode subtracts what its documentation says, against torch reductions") {
  const auto x = random_cadence(1);
  CHECK(torch::equal(subtracted(x, cadence::BackgroundMode::none), x));
  auto neighbours = [&](int p) {  // the panels next to panel p (OFF beside ON, ON beside OFF), rows stacked
    std::vector<torch::Tensor> v;
    if (p - 1 >= 0) v.push_back(x[p - 1]);
    if (p + 1 < P) v.push_back(x[p + 1]);
    return torch::cat(v, 0);
  };
  const auto mean = subtracted(x, cadence::BackgroundMode::off_mean);
  const auto median = subtracted(x, cadence::BackgroundMode::off_median);
  const auto panel = subtracted(x, cadence::BackgroundMode::off_panel);
  const auto symmetric = subtracted(x, cadence::BackgroundMode::neighbour_mean);
  // column: every panel's channels standardised over time (population std, as numpy's default)
  const auto column = subtracted(x, cadence::BackgroundMode::column);
  CHECK(torch::allclose(column, (x - x.mean(1, true)) / x.std(1, /*unbiased=*/false, /*keepdim=*/true), 1e-4, 1e-4));
  for (int p = 0; p < P; ++p) {
    CAPTURE(p);
    // neighbour_mean: every panel, ON or OFF, minus its neighbours' per-channel time mean
    CHECK(torch::allclose(symmetric[p], x[p] - neighbours(p).mean(0, true), 1e-5, 1e-5));
    if (p % 2 == 0) {
      CHECK(torch::allclose(mean[p], x[p] - neighbours(p).mean(0, true), 1e-5, 1e-5));
      CHECK(torch::allclose(median[p], x[p] - median0(neighbours(p)).unsqueeze(0), 1e-5, 1e-5));
      CHECK(torch::allclose(panel[p], x[p] - x[p + 1], 1e-5, 1e-5));
    } else {  // an OFF panel loses its own level
      CHECK(torch::allclose(mean[p], x[p] - x[p].mean(0, true), 1e-5, 1e-5));
      CHECK(torch::allclose(median[p], x[p] - median0(x[p]).unsqueeze(0), 1e-5, 1e-5));
      CHECK(torch::allclose(panel[p], x[p] - x[p].mean(0, true), 1e-5, 1e-5));
    }
  }
}

TEST_CASE("background: a band feature in all six panels goes, a signal in the ON panels stays") {
  auto x = torch::randn({P, T, F}) * 0.01;
  x.select(2, 3) += 5.0;                             // a bright channel in every panel (a band feature, zero-drift RFI)
  for (int p : {0, 2, 4}) x[p].select(1, 8) += 2.0;  // a needle in the ON panels only
  for (auto mode :
       {cadence::BackgroundMode::off_mean, cadence::BackgroundMode::off_median, cadence::BackgroundMode::off_panel}) {
    const auto y = subtracted(x, mode);
    CAPTURE(static_cast<int>(mode));
    CHECK(y.select(2, 3).abs().max().item<float>() < 0.1f);
    for (int p : {0, 2, 4}) CHECK(y[p].select(1, 8).mean().item<float>() > 1.9f);
  }
}

TEST_CASE("background: zero_dm subtracts each row's numpy median, so a broadband burst goes and a needle stays") {
  const auto x = random_cadence(2);
  auto y = x.clone().contiguous();
  const std::span<float> all(y.data_ptr<float>(), static_cast<std::size_t>(y.numel()));
  cadence::background::subtract_row_medians(all, P * T, F);
  // against torch: the median over dim 0 of the transposed rows is each row's median over frequency
  const auto rows = x.reshape({P * T, F});
  CHECK(torch::allclose(y.reshape({P * T, F}), rows - median0(rows.t()).unsqueeze(1), 1e-5, 1e-5));
  CHECK_THROWS_WITH_AS(cadence::background::subtract_row_medians(all, P * T + 1, F),
                       doctest::Contains("values for 97 rows of 12 channels"), cadence::Error);

  // through the stage: a burst in rows 4..6 of ON panel 2 at every channel, a needle in channel 8 of the
  // ON panels; with mode none, zero_dm alone makes the stage active
  auto z = torch::randn({P, T, F}) * 0.01;
  z[2].slice(0, 4, 7) += 3.0;
  for (int p : {0, 2, 4}) z[p].select(1, 8) += 2.0;
  cadence::Background stage;
  CHECK_FALSE(stage.active());
  stage.options.zero_dm = true;
  REQUIRE(stage.active());
  cadence::CadenceKey key;
  key.panels = P;
  key.time = T;
  key.freq = F;
  auto w = z.clone().contiguous();
  stage.transform_cadence(std::span<float>(w.data_ptr<float>(), static_cast<std::size_t>(w.numel())), key);
  CHECK(w[2].slice(0, 4, 7).select(1, 3).abs().max().item<float>() < 0.1f);  // the burst, off the needle
  for (int p : {0, 2, 4}) CHECK(w[p].select(1, 8).mean().item<float>() > 1.9f);
}

TEST_CASE("background: refuses a cadence that is not six panels, and a source that cannot offer raw cadences") {
  std::vector<float> five(static_cast<std::size_t>(5 * T * F));
  test::check_error([&] { cadence::background::subtract(five, 5, T, F, cadence::BackgroundMode::off_mean); },
                    "5 panels", "ABACAD");
  std::vector<float> short_of(10);
  test::check_error([&] { cadence::background::subtract(short_of, 6, T, F, cadence::BackgroundMode::off_mean); },
                    "10 values");
  cadence::Dataset d;
  d.entries.push_back({"a", "x.npy", 0.0f});
  cadence::LoaderHooks hooks;
  hooks.cadence = [](std::span<float>, const cadence::CadenceKey&) {};
  test::check_error(
      [&] {
        cadence::Loader l(d, {0}, cadence::ReadOptions{}, 1, 1, 1, hooks,
                          [](const cadence::Entry&, std::span<float>) {});
      },
      "cannot hand the pipeline's cadence stages");
}

TEST_CASE(
    "background: in a pipeline it runs on the raw cadence before the layout, in every layout, \"none\" keeps the fast "
    "path") {
  test::TempDir data("bg");
  test::small_dataset(data.path, 6, 2);
  for (auto layout :
       {cadence::PanelLayout::on_stacked, cadence::PanelLayout::all_stacked, cadence::PanelLayout::channels}) {
    cadence::Load load;
    load.options.root = data.path;
    load.options.layout = layout;
    load.options.threads = 1;
    const auto train = load.open(cadence::Split::train);
    auto p = load | cadence::Background{};
    p.get<cadence::Background>().options.mode = cadence::BackgroundMode::off_median;
    auto loader = load.loader(train, {0, 1}, 2, 2, cadence::source_hooks(p));
    const auto got = loader->next()->images;
    for (int i = 0; i < 2; ++i) {  // by hand: read, subtract, keep the layout's panels, standardise each
      std::vector<char> buf;
      const auto h = cadence::npy::read_raw(train.entries[static_cast<std::size_t>(i)].file, buf);
      std::vector<float> raw(h.count());
      cadence::halves_to_floats(buf.data() + h.data_offset, raw.size(), raw.data());
      cadence::background::subtract(raw, 6, 273, 256, cadence::BackgroundMode::off_median);
      std::vector<float> want(static_cast<std::size_t>(cadence::image_shape(layout).numel()));
      cadence::arrange(raw, layout, true, want);
      const auto w = torch::from_blob(want.data(), {static_cast<std::int64_t>(want.size())}).clone();
      CAPTURE(static_cast<int>(layout));
      CHECK(torch::allclose(got[i].reshape({-1}), w, 1e-5, 1e-5));
    }
    p.get<cadence::Background>().options.mode = cadence::BackgroundMode::none;
    CHECK_FALSE(cadence::source_hooks(p).cadence);  // nothing to do: the float16 fast path
    auto plain = load.loader(train, {0, 1}, 2, 2, cadence::source_hooks(p))->next()->images;
    auto direct = load.loader(train, {0, 1}, 2, 2)->next()->images;
    CHECK(torch::equal(plain, direct));
  }
}

TEST_CASE(
    "background nearest: finds the cadence that shares the background, and subtracting it removes the background") {
  test::TempDir dir("nearest");
  constexpr std::int64_t P6 = 6, TT = 273, FF = 256;
  cadence::Dataset d;
  d.root = dir.path;
  std::vector<torch::Tensor> raw;
  torch::manual_seed(11);
  for (int k = 0; k < 5; ++k) {  // five backgrounds (a strong per-channel band shape), two cadences each
    const auto band = torch::randn({P6, 1, FF}) * 3.0;
    for (int twin = 0; twin < 2; ++twin) {
      const auto x = (band + torch::randn({P6, TT, FF}) * 0.3).contiguous();
      raw.push_back(x);
      const std::string id = "c" + std::to_string(2 * k + twin);
      const auto file = dir / (id + ".npy");
      std::vector<std::uint16_t> halves(static_cast<std::size_t>(x.numel()));
      const float* p = x.data_ptr<float>();
      for (std::size_t i = 0; i < halves.size(); ++i) halves[i] = cadence::float_to_half(p[i]);
      const std::int64_t shape[3] = {P6, TT, FF};
      cadence::npy::write_f16(file, shape, halves);
      d.entries.push_back({id, file, 0.0f});
    }
  }
  cadence::Background bg;
  bg.options.mode = cadence::BackgroundMode::nearest;
  for (std::int64_t i = 0; i < 10; ++i) CHECK(bg.neighbour_of(d, i) == (i ^ 1));
  auto x = raw[4].clone();
  bg.transform_cadence(std::span<float>(x.data_ptr<float>(), static_cast<std::size_t>(x.numel())),
                       cadence::CadenceKey{6, 273, 256, 4, &d});
  const auto profile = x.mean(1);  // the per-channel level left: the band shape is gone
  CHECK(profile.abs().max().item<float>() < 0.1f);
  CHECK(raw[4].mean(1).abs().max().item<float>() > 1.0f);
  // the search is bounded: with one candidate, every cadence but that one gets it
  cadence::Background one = bg;
  one.options.nearest_limit = 1;
  CHECK(one.neighbour_of(d, 3) == 0);
  CHECK(one.neighbour_of(d, 0) == 1);
  // misuse: one cadence has no neighbour; no dataset in the key
  cadence::Dataset single;
  single.entries.push_back(d.entries[0]);
  test::check_error([&] { (void)bg.neighbour_of(single, 0); }, "the split has 1 cadence");
  test::check_error(
      [&] {
        bg.transform_cadence(std::span<float>(x.data_ptr<float>(), static_cast<std::size_t>(x.numel())),
                             cadence::CadenceKey{});
      },
      "needs the dataset");
}
