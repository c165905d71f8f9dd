#pragma once
// Seeded stratified splits: K folds (each fold keeps the dataset's positive rate) and a hold-out.
// Saved as `id,fold` CSV in the run directory so that later jobs (fine-tune, predict) reuse them.
#include <algorithm>
#include <cstdlib>
#include <cstdint>
#include <filesystem>
#include <string>
#include <unordered_map>
#include <vector>

#include <range/v3/range/conversion.hpp>
#include <range/v3/view/filter.hpp>
#include <range/v3/view/iota.hpp>

#include "cadence/core/atomic_file.hpp"
#include "cadence/core/error.hpp"
#include "cadence/core/random.hpp"
#include "cadence/data/csv.hpp"

namespace cadence {

/// Fisher-Yates with a counter-based stream: the permutation depends only on (seed, epoch, stream).
inline void shuffle(std::vector<std::int64_t>& v, std::uint64_t seed, std::uint32_t epoch, StreamId stream) {
  RandomStream rng(seed, epoch, 0, stream);
  for (std::size_t i = v.size(); i > 1; --i) {
    const auto j = static_cast<std::size_t>(rng.randint(0, static_cast<std::int64_t>(i) - 1));
    std::swap(v[i - 1], v[j]);
  }
}

/// Groups indices by class (target >= 0.5 is positive), each group shuffled.
inline std::vector<std::vector<std::int64_t>> shuffled_classes(const std::vector<float>& targets, std::uint64_t seed,
                                                               StreamId stream) {
  std::vector<std::vector<std::int64_t>> cls(2);
  for (std::size_t i = 0; i < targets.size(); ++i)
    cls[targets[i] >= 0.5f ? 1 : 0].push_back(static_cast<std::int64_t>(i));
  for (std::uint32_t c = 0; c < 2; ++c) shuffle(cls[c], seed, c, stream);
  return cls;
}

/// fold[i] in [0, k): the positives and the negatives are each dealt round-robin over the folds.
inline std::vector<int> stratified_kfold(const std::vector<float>& targets, int k, std::uint64_t seed) {
  if (k < 2) fail("folds: k = ", k, "; stratified K-fold needs k >= 2");
  if (targets.size() < static_cast<std::size_t>(k))
    fail("folds: ", targets.size(), " samples cannot fill ", k, " folds");
  std::vector<int> fold(targets.size(), -1);
  int next = 0;  // continue dealing where the previous class stopped, so fold sizes differ by <= 1
  for (const auto& members : shuffled_classes(targets, seed, StreamId::folds))
    for (auto i : members) {
      fold[static_cast<std::size_t>(i)] = next;
      next = (next + 1) % k;
    }
  return fold;
}

/// is_valid[i]: a stratified hold-out of round(fraction * n_class) samples of each class.
inline std::vector<bool> stratified_holdout(const std::vector<float>& targets, double fraction, std::uint64_t seed) {
  if (!(fraction > 0.0 && fraction < 1.0)) fail("holdout: fraction ", fraction, " must be in (0, 1)");
  std::vector<bool> valid(targets.size(), false);
  for (const auto& members : shuffled_classes(targets, seed, StreamId::holdout)) {
    const auto take = static_cast<std::size_t>(static_cast<double>(members.size()) * fraction + 0.5);
    for (std::size_t j = 0; j < take && j < members.size(); ++j) valid[static_cast<std::size_t>(members[j])] = true;
  }
  return valid;
}

/// A split's two sides: the dataset indices to fit on and those to validate on.
struct SplitIndices {
  std::vector<std::int64_t> fitting, valid;
};

/// The indices i with in_valid(i) on the validation side, the rest on the fitting side, in order.
template <class Pred>
SplitIndices split_indices(std::size_t n, Pred in_valid) {
  auto side = [&](bool valid) {
    return ranges::views::iota(std::int64_t{0}, static_cast<std::int64_t>(n)) |
           ranges::views::filter(
               [&](std::int64_t i) { return static_cast<bool>(in_valid(static_cast<std::size_t>(i))) == valid; }) |
           ranges::to<std::vector<std::int64_t>>();
  };
  return {side(false), side(true)};
}

/// Fold k of a K-fold assignment as validation, the other folds as the fitting side.
inline SplitIndices fold_split(const std::vector<int>& fold, int k) {
  return split_indices(fold.size(), [&](std::size_t i) { return fold[i] == k; });
}

inline void save_folds(const std::filesystem::path& path, const std::vector<std::string>& ids,
                       const std::vector<int>& fold) {
  write_text_atomically(path, [&](std::ostream& out) {
    out << "id,fold\n";
    for (std::size_t i = 0; i < ids.size(); ++i) out << ids[i] << ',' << fold[i] << '\n';
  });
}

/// Reads `id,fold` and returns the fold of each id in `ids` (every id must be present).
inline std::vector<int> load_folds(const std::filesystem::path& path, const std::vector<std::string>& ids) {
  std::unordered_map<std::string, int> by_id;
  for (const auto& r : csv::read_labels(path, csv::Column::any, "fold")) {
    char* end = nullptr;
    const long f = std::strtol(r.value.c_str(), &end, 10);
    if (r.value.empty() || *end != '\0' || f < 0)
      fail(path.string(), ": fold `", r.value, "` of id `", r.id, "` is not a fold number");
    by_id.emplace(r.id, static_cast<int>(f));
  }
  std::vector<int> fold;
  fold.reserve(ids.size());
  for (const auto& id : ids) {
    auto it = by_id.find(id);
    if (it == by_id.end()) fail(path.string(), ": no fold for id `", id, "`");
    fold.push_back(it->second);
  }
  return fold;
}

/// Sample order for one epoch: a seeded permutation of `members`.
inline std::vector<std::int64_t> epoch_order(std::vector<std::int64_t> members, std::uint64_t seed,
                                             std::uint32_t epoch) {
  shuffle(members, seed, epoch, StreamId::shuffle);
  return members;
}

/// Class-balanced order for one epoch: `count` draws with replacement, each class drawn with
/// probability 1/2 and a uniform member within it (about 1 sample in 10 is positive otherwise).
inline std::vector<std::int64_t> balanced_order(const std::vector<std::int64_t>& members,
                                                const std::vector<float>& targets, std::size_t count,
                                                std::uint64_t seed, std::uint32_t epoch) {
  std::vector<std::int64_t> cls[2];
  for (auto i : members) cls[targets[static_cast<std::size_t>(i)] >= 0.5f ? 1 : 0].push_back(i);
  if (cls[0].empty() || cls[1].empty()) fail("balanced sampler: the training set holds only one class");
  std::vector<std::int64_t> order(count);
  for (std::size_t k = 0; k < count; ++k) {
    RandomStream rng(seed, epoch, static_cast<std::uint32_t>(k), StreamId::sampler);
    const auto& c = cls[rng.bernoulli(0.5) ? 1 : 0];
    order[k] = c[static_cast<std::size_t>(rng.randint(0, static_cast<std::int64_t>(c.size()) - 1))];
  }
  return order;
}

}  // namespace cadence
