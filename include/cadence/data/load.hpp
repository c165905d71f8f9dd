#pragma once
// Load: the source stage. Reads the competition's layout from `root` and streams batches.
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "cadence/config/options.hpp"
#include "cadence/core/pipeline.hpp"
#include "cadence/data/kaggle.hpp"
#include "cadence/data/layout.hpp"
#include "cadence/data/loader.hpp"

namespace cadence {

struct LoadOptions {
  std::filesystem::path root = "data/synthetic";    // the Kaggle layout (train_labels.csv, train/, test/, ...)
  PanelLayout layout = PanelLayout::on_stacked;      // on_stacked (1,819,256) | all_stacked | channels (6,273,256)
  bool standardize = true;                           // per-panel zero mean, unit variance
  NonFinite nonfinite = NonFinite::error;            // NaN/Inf in a file: "error" stops with the id, "zero" replaces
  int threads = 0;                                   // reader threads; 0 = all cores
  int prefetch = 4;                                  // batches read ahead (bounds memory)

  template <class V> void fields(V& v) {
    v("root", root);
    v("layout", layout);
    v("standardize", standardize);
    v("nonfinite", nonfinite);
    v("threads", threads, config::at_least(0));
    v("prefetch", prefetch, config::at_least(1));
  }
};

struct Load : Composes<Load> {
  static constexpr std::string_view name = "load";
  using Options = LoadOptions;
  Options options{};

  static std::string label() { return "Load"; }

  Dataset open(Split split) const { return open_split(options.root, split); }

  ImageShape image_shape() const { return cadence::image_shape(options.layout); }

  ReadOptions read_options(int classes) const {
    return ReadOptions{options.layout, options.standardize, options.nonfinite, CadenceShape{}, classes};
  }

  /// Batches of `data` in the given order; `hooks` (if any) run in the reader threads.
  std::unique_ptr<BatchStream> loader(const Dataset& data, std::vector<std::int64_t> order, int batch_size, int classes,
                                 LoaderHooks hooks = {}) const {
    return std::make_unique<Loader>(data, std::move(order), read_options(classes), batch_size, options.threads,
                                    options.prefetch, std::move(hooks));
  }
};

}  // namespace cadence
