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
#include "cadence/data/npy.hpp"

namespace cadence {

struct LoadOptions {
  std::filesystem::path root = "data/synthetic";  // the Kaggle layout (train_labels.csv, train/, test/, ...)
  PanelLayout layout = PanelLayout::on_stacked;   // on_stacked (1,819,256) | all_stacked | channels (6,273,256)
  bool standardize = true;                        // per-panel zero mean, unit variance
  NonFinite nonfinite = NonFinite::error;         // NaN/Inf in a file: "error" stops with the id, "zero" replaces
  int threads = 0;                                // reader threads; 0 = all cores
  int prefetch = 4;                               // batches read ahead (bounds memory)

  template <class V>
  void fields(V& v) {
    v("root", root);
    v("layout", layout);
    v("standardize", standardize);
    v("nonfinite", nonfinite);
    v("threads", threads, config::in_range(0, 256));
    v("prefetch", prefetch, config::in_range(1, 256));
  }
};

struct Load : Composes<Load> {
  static constexpr std::string_view name = "load";
  using Options = LoadOptions;
  Options options{};

  static std::string label() { return "Load"; }

  Dataset open(Split split) const { return open_split(options.root, split); }

  ImageShape image_shape() const { return cadence::image_shape(options.layout); }

  /// Reads every file's header (not its data): dtype float16/float32 and shape (6, 273, 256), the
  /// file long enough for it. Refuses the first bad one, naming its id. (`seti check`, every job.)
  void check(const Dataset& d) const {
    const auto dims = CadenceShape{}.dims();
    for (const auto& e : d.entries) {
      try {
        npy::check_shape(npy::read_header(e.file), dims, e.file);
      } catch (const Error& err) {
        fail("id `", e.id, "`: ", err.what());
      }
    }
  }

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
