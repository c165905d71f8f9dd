#include "cadence/data/folds.hpp"

#include <algorithm>
#include <numeric>

#include "support.hpp"

namespace {
std::vector<float> targets(int n, int every) {
  std::vector<float> t(static_cast<std::size_t>(n));
  for (int i = 0; i < n; ++i) t[static_cast<std::size_t>(i)] = i % every == 0 ? 1.0f : 0.0f;
  return t;
}
}  // namespace

TEST_CASE("folds: stratified K-fold keeps each fold's positive rate and size") {
  const auto t = targets(1003, 10);  // 101 positives
  const auto fold = cadence::stratified_kfold(t, 4, 7);
  for (int k = 0; k < 4; ++k) {
    int n = 0, pos = 0;
    for (std::size_t i = 0; i < t.size(); ++i)
      if (fold[i] == k) {
        ++n;
        pos += t[i] > 0.5f;
      }
    CHECK(std::abs(n - 1003 / 4) <= 1);
    CHECK(std::abs(pos - 101 / 4) <= 1);
  }
  CHECK(fold == cadence::stratified_kfold(t, 4, 7));
  CHECK(fold != cadence::stratified_kfold(t, 4, 8));
  test::check_error([&] { cadence::stratified_kfold(t, 1, 7); }, "k = 1", "k >= 2");
}

TEST_CASE("folds: stratified hold-out") {
  const auto t = targets(500, 10);
  const auto v = cadence::stratified_holdout(t, 0.2, 3);
  int n = 0, pos = 0;
  for (std::size_t i = 0; i < t.size(); ++i)
    if (v[i]) {
      ++n;
      pos += t[i] > 0.5f;
    }
  CHECK(n == 100);
  CHECK(pos == 10);
  test::check_error([&] { cadence::stratified_holdout(t, 1.0, 3); }, "fraction");
}

TEST_CASE("folds: saved and loaded by id") {
  test::TempDir dir("folds");
  const std::vector<std::string> ids{"a", "b", "c"};
  cadence::save_folds(dir / "folds.csv", ids, {2, 0, 1});
  CHECK(cadence::load_folds(dir / "folds.csv", {"c", "a"}) == std::vector<int>{1, 2});
  test::check_error([&] { cadence::load_folds(dir / "folds.csv", {"z"}); }, "folds.csv", "no fold for id `z`");
}

TEST_CASE("sampler: epoch orders are seeded permutations, the balanced sampler draws about half positives") {
  std::vector<std::int64_t> members(1000);
  std::iota(members.begin(), members.end(), 0);
  const auto a = cadence::epoch_order(members, 1, 0);
  CHECK(a == cadence::epoch_order(members, 1, 0));
  CHECK(a != cadence::epoch_order(members, 1, 1));
  auto sorted = a;
  std::sort(sorted.begin(), sorted.end());
  CHECK(sorted == members);

  const auto t = targets(1000, 10);
  const auto b = cadence::balanced_order(members, t, 4000, 1, 0);
  const auto pos = std::count_if(b.begin(), b.end(), [&](auto i) { return t[static_cast<std::size_t>(i)] > 0.5f; });
  CHECK(pos > 1800);
  CHECK(pos < 2200);
  CHECK(b == cadence::balanced_order(members, t, 4000, 1, 0));
}
