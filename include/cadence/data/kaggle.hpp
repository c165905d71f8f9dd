#pragma once
// The competition's directory layout:
//
//   <root>/train_labels.csv              id,target
//   <root>/train/<id[0]>/<id>.npy        float16 (6, 273, 256): cadence ABACAD, time x frequency
//   <root>/sample_submission.csv         the test ids, in submission order
//   <root>/test/<id[0]>/<id>.npy
//   <root>/old_leaky_data/train_labels_old.csv, old_leaky_data/train_old/<id[0]>/<id>.npy
//
// Opening a split checks that every listed file exists, so a missing file stops the run before
// training, with the id named.
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include <range/v3/range/conversion.hpp>
#include <range/v3/view/transform.hpp>

#include "cadence/core/error.hpp"
#include "cadence/data/csv.hpp"

namespace cadence {

enum class Split { train, test, old };

inline const char* to_string(Split s) {
  switch (s) {
    case Split::train:
      return "train";
    case Split::test:
      return "test";
    case Split::old:
      return "old";
  }
  return "?";
}

struct Entry {
  std::string id;
  std::filesystem::path file;
  float target = -1.0f;  // -1 when unlabelled (the test split)
};

struct Dataset {
  std::filesystem::path root;
  Split split = Split::train;
  std::vector<Entry> entries;

  std::size_t size() const { return entries.size(); }
  std::vector<float> targets() const {
    std::vector<float> t;
    t.reserve(entries.size());
    for (const auto& e : entries) t.push_back(e.target);
    return t;
  }
  std::vector<std::string> ids() const {
    std::vector<std::string> v;
    v.reserve(entries.size());
    for (const auto& e : entries) v.push_back(e.id);
    return v;
  }
};

/// Where a split's labels and files live, relative to the data root.
struct SplitLayout {
  std::filesystem::path labels;  // csv
  std::filesystem::path dir;     // directory holding <id[0]>/<id>.npy
  bool labelled;
};

inline SplitLayout layout_of(Split s) {
  switch (s) {
    case Split::train:
      return {"train_labels.csv", "train", true};
    case Split::test:
      return {"sample_submission.csv", "test", false};
    case Split::old:
      return {"old_leaky_data/train_labels_old.csv", "old_leaky_data/train_old", true};
  }
  return {};
}

inline std::filesystem::path npy_path(const std::filesystem::path& dir, const std::string& id) {
  return dir / std::string(1, id.front()) / (id + ".npy");
}

inline Dataset open_split(const std::filesystem::path& root, Split split) {
  namespace fs = std::filesystem;
  if (fs::exists(root) && !fs::is_directory(root))
    fail("data root `", first_line(root.string(), 200),
         "` is not a directory (load.root names the Kaggle layout's folder)");
  if (!fs::is_directory(root))
    fail("data root `", first_line(root.string(), 200), "` does not exist (make one with cadence-synth --root ",
         first_line(root.string(), 200), ")");
  const SplitLayout l = layout_of(split);
  Dataset d{root, split, {}};
  const auto rows = csv::read_labels(root / l.labels, l.labelled ? csv::Column::label : csv::Column::any);
  d.entries = rows | ranges::views::transform([&](const csv::Row& r) {  // ids -> files
                return Entry{r.id, npy_path(root / l.dir, r.id), l.labelled ? static_cast<float>(r.target) : -1.0f};
              }) |
              ranges::to<std::vector<Entry>>();
  for (const auto& e : d.entries)
    if (!fs::is_regular_file(e.file)) fail(e.file.string(), ": missing file for id `", e.id, "`");
  return d;
}

}  // namespace cadence
