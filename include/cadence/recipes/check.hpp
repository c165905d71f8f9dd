#pragma once
// What every job checks before it trains, and `seti check` runs alone: the config, and every input it
// names, found wrong in seconds rather than after hours of training.
//
//   - each split: the labels CSV (header, ids, targets), every id's file, and (when the source can:
//     Load reads each .npy header, not the data) each file's dtype and shape;
//   - the K folds of train and the hold-out of the pretraining split: both classes in every
//     validation side (ROC AUC needs them);
//   - predict's blend files: present, with the test ids in sample order; model.weights: present.
#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include "cadence/core/compose.hpp"
#include "cadence/data/csv.hpp"
#include "cadence/data/folds.hpp"
#include "cadence/recipes/options.hpp"

namespace cadence {

/// Opens `split` through the pipeline's source and, when the source has `check(const Dataset&)`,
/// checks each file there.
template <class P>
Dataset open_checked(const P& pipeline, Split split) {
  const auto& source = source_of(pipeline);
  Dataset d = source.open(split);
  if constexpr (requires { source.check(d); }) source.check(d);
  return d;
}

namespace checks {

inline std::size_t positives(const std::vector<float>& targets) {
  return static_cast<std::size_t>(std::count_if(targets.begin(), targets.end(), [](float t) { return t >= 0.5f; }));
}

/// K stratified folds: each validation fold needs a positive and a negative.
inline void folds(const std::vector<float>& targets, int k, const std::string& split) {
  const auto pos = positives(targets), neg = targets.size() - pos;
  if (pos >= static_cast<std::size_t>(k) && neg >= static_cast<std::size_t>(k)) return;
  const auto most = std::min(pos, neg);
  // cross-validation needs 2 folds at least: below that, the remedy is data, not a smaller train.folds
  const auto remedy = most >= 2 ? "use at most " + std::to_string(most) + " folds"
                                : std::string("cross-validation needs at least 2 positives and 2 negatives: add data");
  fail("/train/folds: ", k, " folds, but the ", split, " split has ", pos, " positives and ", neg,
       " negatives: every fold's validation needs both classes (", remedy, ")");
}

/// A stratified hold-out: both sides need both classes.
inline void holdout(const std::vector<float>& targets, const std::vector<bool>& is_valid, const std::string& split) {
  std::size_t vp = 0, vn = 0, fp = 0, fn = 0;
  for (std::size_t i = 0; i < targets.size(); ++i) {
    const bool pos = targets[i] >= 0.5f;
    (is_valid[i] ? (pos ? vp : vn) : (pos ? fp : fn))++;
  }
  if (vp == 0 || vn == 0 || fp == 0 || fn == 0)
    fail("/train/holdout: the ", split, " split's hold-out has ", vp, " positives and ", vn,
         " negatives to validate on, ", fp, " and ", fn, " to fit on: both sides need both classes (", targets.size(),
         " cadences in all; change train.holdout or add data)");
}

/// predict.blend: each file exists and lists the test ids in sample order.
inline void blend(const PredictOptions& p, const Dataset& test) {
  for (std::size_t m = 0; m < p.blend.size(); ++m) {
    const auto& f = p.blend[m].submission;
    if (!std::filesystem::exists(f)) fail("/predict/blend/", m, "/submission: ", f.string(), " does not exist");
    const auto rows = csv::read_labels(f);
    if (rows.size() != test.size()) fail(f.string(), ": ", rows.size(), " rows, the test set has ", test.size());
    for (std::size_t i = 0; i < rows.size(); ++i)
      if (rows[i].id != test.entries[i].id)
        fail(f.string(), ":", i + 2, ": id `", rows[i].id, "`, expected `", test.entries[i].id, "`");
  }
}

}  // namespace checks

}  // namespace cadence
