#include "cadence/data/loader.hpp"

#include <torch/torch.h>

#include <range/v3/view/take.hpp>

#include "cadence/augment/augment.hpp"
#include "cadence/batch/mixup.hpp"
#include "cadence/data/folds.hpp"
#include "cadence/data/load.hpp"
#include "support.hpp"

namespace {
std::vector<cadence::Batch> drain(cadence::Loader& l) {
  std::vector<cadence::Batch> out;
  while (auto b = l.next()) out.push_back(std::move(*b));
  return out;
}
std::vector<std::int64_t> all(std::size_t n) {
  std::vector<std::int64_t> v(n);
  std::iota(v.begin(), v.end(), 0);
  return v;
}
/// Replaces one sample's file with `content`.
void corrupt(const cadence::Entry& e, const std::string& content) { test::write_file(e.file, content); }
}  // namespace

TEST_CASE("loader: the same seed gives the same batches with 1 and 2 threads") {
  test::TempDir dir("loader");
  test::small_dataset(dir.path, 20, 2);
  const auto data = cadence::open_split(dir.path, cadence::Split::train);
  const auto order = cadence::epoch_order(all(data.size()), 11, 3);
  const cadence::ReadOptions ro;
  cadence::Loader one(data, order, ro, 6, 1, 2), two(data, order, ro, 6, 2, 2);
  const auto a = drain(one), b = drain(two);
  REQUIRE(a.size() == 4);  // 6 + 6 + 6 + 2
  REQUIRE(b.size() == 4);
  CHECK(a.back().size() == 2);
  for (std::size_t i = 0; i < a.size(); ++i) {
    CHECK(a[i].ids == b[i].ids);
    CHECK(torch::equal(a[i].images, b[i].images));
    CHECK(torch::equal(a[i].targets, b[i].targets));
    CHECK(a[i].images.sizes() == torch::IntArrayRef({a[i].size(), 1, 819, 256}));
  }
  // Rows follow the order, and each row is the sample as read on its own.
  std::vector<float> one_sample(1 * 819 * 256);
  for (std::size_t k = 0; k < order.size(); ++k) {
    const auto& e = data.entries[static_cast<std::size_t>(order[k])];
    const auto& batch = a[k / 6];
    CHECK(batch.ids[k % 6] == e.id);
    cadence::read_sample(e, ro, one_sample);
    CHECK(torch::equal(batch.images[static_cast<std::int64_t>(k % 6)].flatten(),
                       torch::from_blob(one_sample.data(), {819 * 256})));
    CHECK(batch.targets[static_cast<std::int64_t>(k % 6)][1].item<float>() == e.target);
    CHECK(batch.targets[static_cast<std::int64_t>(k % 6)][0].item<float>() == 1.0f - e.target);
  }
}

TEST_CASE("loader: augment and mixup in the reader threads give what they give on the consumer's thread") {
  test::TempDir dir("loader-transform");
  test::small_dataset(dir.path, 20, 2);
  const auto data = cadence::open_split(dir.path, cadence::Split::train);
  const auto order = cadence::epoch_order(all(data.size()), 5, 1);
  const cadence::ReadOptions ro;
  cadence::Augment<cadence::VFlip, cadence::SSR, cadence::MotionBlur, cadence::SpecAug> aug;
  cadence::Mixup mix;
  mix.options.p = 1.0;
  cadence::Loader plain(data, order, ro, 6, 2, 2);
  auto want = drain(plain);
  std::uint32_t no = 0;
  for (auto& b : want) {  // batched, on this thread
    aug.apply(b.images, {9, 1, b.indices});
    mix.apply(b.images, b.targets, 9, 1, no++);
  }
  cadence::LoaderHooks hooks;  // per sample as read, then per batch, in the reader threads
  hooks.sample = [&](torch::Tensor& one, std::int64_t index) {
    aug.apply(one, {9, 1, std::span<const std::int64_t>(&index, 1)});
  };
  hooks.batch = [&](cadence::Batch& b, std::size_t n) {
    mix.apply(b.images, b.targets, 9, 1, static_cast<std::uint32_t>(n));
  };
  for (int threads : {1, 2}) {
    cadence::Loader on_readers(data, order, ro, 6, threads, 2, hooks);
    const auto got = drain(on_readers);
    REQUIRE(got.size() == want.size());
    for (std::size_t i = 0; i < got.size(); ++i) {
      CHECK(torch::equal(got[i].images, want[i].images));
      CHECK(torch::equal(got[i].targets, want[i].targets));
    }
  }
}

TEST_CASE("loader: a bad file stops the pass at its batch, with the id named") {
  test::TempDir dir("loaderbad");
  test::small_dataset(dir.path, 12, 2);
  const auto data = cadence::open_split(dir.path, cadence::Split::train);
  const auto& victim = data.entries[7];
  const std::string good = test::read_file(victim.file);
  cadence::ReadOptions ro;

  corrupt(victim, good.substr(0, good.size() / 2));
  {
    cadence::Loader l(data, all(data.size()), ro, 4, 2, 2);
    CHECK(l.next().has_value());  // batch 0: samples 0..3
    test::check_error([&] { l.next(); }, "id `" + victim.id + "`", "truncated");
  }

  // A float16 NaN and an Inf in the middle of ON panel 4 (the data ends with panels 4 and 5, 139,776
  // bytes each).
  constexpr std::size_t panel_bytes = 273 * 256 * 2;
  const std::size_t at = good.size() - panel_bytes - 1000;
  std::string nan = good;
  nan[at] = '\x00';
  nan[at + 1] = '\x7E';
  nan[at + 499] = '\x7C';
  nan[at + 498] = '\x00';
  corrupt(victim, nan);
  {
    cadence::Loader l(data, {7}, ro, 1, 1, 1);
    test::check_error([&] { l.next(); }, "id `" + victim.id + "`", "2 NaN/Inf values", "load.nonfinite");
  }
  // The same values in OFF panel 5: the ON panels' layout does not read that panel, the six panels'
  // layout does.
  std::string off = good;
  for (std::size_t k : {std::size_t{0}, std::size_t{1}, std::size_t{498}, std::size_t{499}})
    off[at + panel_bytes + k] = nan[at + k];
  corrupt(victim, off);
  {
    cadence::Loader l(data, {7}, ro, 1, 1, 1);
    const auto b = l.next();
    REQUIRE(b.has_value());
    CHECK(torch::isfinite(b->images).all().item<bool>());
    auto all_panels = ro;
    all_panels.layout = cadence::PanelLayout::all_stacked;
    cadence::Loader l6(data, {7}, all_panels, 1, 1, 1);
    test::check_error([&] { l6.next(); }, "id `" + victim.id + "`", "2 NaN/Inf values");
  }
  corrupt(victim, nan);
  ro.nonfinite = cadence::NonFinite::zero;
  ro.standardize = false;
  ro.layout = cadence::PanelLayout::channels;
  {
    cadence::Loader l(data, {7}, ro, 1, 1, 1);
    const auto b = l.next();
    REQUIRE(b.has_value());
    CHECK(torch::isfinite(b->images).all().item<bool>());
    CHECK(b->images.flatten()[static_cast<std::int64_t>(at - 128) / 2].item<float>() == 0.0f);
  }

  // A file of the wrong shape.
  const std::int64_t wrong[] = {6, 273, 255};
  std::vector<std::uint16_t> zeros(6 * 273 * 255);
  cadence::npy::write_f16(victim.file, wrong, zeros);
  {
    cadence::Loader l(data, {7}, ro, 1, 1, 1);
    test::check_error([&] { l.next(); }, "id `" + victim.id + "`", "shape (6, 273, 255), expected (6, 273, 256)");
  }
}

TEST_CASE("loader: Load's config picks the layout and channel count") {
  test::TempDir dir("loadstage");
  test::small_dataset(dir.path, 4, 2);
  cadence::Load load;
  load.options.root = dir.path;
  load.options.layout = cadence::PanelLayout::channels;
  const auto data = load.open(cadence::Split::test);
  auto l = load.loader(data, {0, 1}, 2, 1);
  const auto b = l->next();
  REQUIRE(b.has_value());
  CHECK(b->images.sizes() == torch::IntArrayRef({2, 6, 273, 256}));
  CHECK(b->targets.sizes() == torch::IntArrayRef({2, 1}));
  CHECK(!l->next().has_value());
}

TEST_CASE("loader: an input range of batches that range-v3's views work on") {
  test::TempDir dir("loaderrange");
  test::small_dataset(dir.path, 20, 2);
  const auto data = cadence::open_split(dir.path, cadence::Split::train);
  const cadence::ReadOptions ro;
  cadence::Loader whole(data, all(data.size()), ro, 6, 2, 2), taken(data, all(data.size()), ro, 6, 2, 2);
  static_assert(ranges::input_range<cadence::BatchStream>);
  const auto expected = drain(whole);
  std::vector<std::vector<std::string>> ids;
  for (const cadence::Batch& b : static_cast<cadence::BatchStream&>(taken) | ranges::views::take(2))
    ids.push_back(b.ids);
  REQUIRE(ids.size() == 2);
  CHECK(ids[0] == expected[0].ids);
  CHECK(ids[1] == expected[1].ids);
  // the range-for form drains what is left, in order
  std::size_t rest = 0;
  for (cadence::Batch& b : static_cast<cadence::BatchStream&>(taken)) {
    (void)b;
    ++rest;
  }
  CHECK(rest <= 2);  // take(2) may have read one batch ahead of the two it yielded
}
