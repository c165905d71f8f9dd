#pragma once
// Streams batches from disk on N threads through a bounded prefetch window.
//
// Batch b always holds the samples order[b*B .. b*B+B), whatever thread read it, and batches come
// out in order, so a seed gives the same batches with 1 or 8 threads. At most `prefetch` batches
// exist at once, so memory does not grow with the dataset (the real train set is ~50 GB of float16).
#include <algorithm>
#include <cmath>
#include <condition_variable>
#include <cstdint>
#include <cstdlib>
#include <exception>
#include <functional>
#include <iterator>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <torch/types.h>

#include "cadence/core/error.hpp"
#include "cadence/core/ordered_prefetch.hpp"
#include "cadence/core/stage.hpp"
#include "cadence/data/kaggle.hpp"
#include "cadence/data/layout.hpp"
#include "cadence/data/npy.hpp"

namespace cadence {

/// What to do with NaN/Inf in a file: refuse it (naming the id) or replace the values with 0.
enum class NonFinite { error, zero };

inline constexpr std::array<std::pair<NonFinite, std::string_view>, 2> enum_names(NonFinite) {
  return {{{NonFinite::error, "error"}, {NonFinite::zero, "zero"}}};
}

struct ReadOptions {
  PanelLayout layout = PanelLayout::on_stacked;
  bool standardize = true;
  NonFinite nonfinite = NonFinite::error;
  CadenceShape shape{};
  int classes = 2;  // target width: 2 = (1-y, y) for cross-entropy, 1 = y for BCE
};

/// A batch: images (B,C,H,W) float32, targets (B,K) soft labels, and where each row came from.
struct Batch {
  std::vector<std::int64_t> indices;  // into the dataset's entries
  std::vector<std::string> ids;
  torch::Tensor images;   // (B,C,H,W)
  torch::Tensor targets;  // (B,K)
  std::int64_t size() const { return static_cast<std::int64_t>(ids.size()); }
};

/// The pipeline's cadence stages, as the loader runs them (LoaderHooks::cadence).
using CadenceHook = std::function<void(std::span<float>, const CadenceKey&)>;
/// The pipeline's injection stages in a training pass (LoaderHooks::inject): returns the new label.
using InjectHook = std::function<float(std::span<float>, float, InjectKey)>;

/// Reads one cadence file into `out` (image_shape(layout).numel() floats). `inject` (when set, with the
/// sample's label in `*target`, which it may change) and then `cadence` run on the whole raw cadence,
/// in floats, before the layout keeps its panels and standardises them.
inline void read_sample(const Entry& e, const ReadOptions& o, std::span<float> out, const CadenceHook& cadence = {},
                        std::int64_t index = 0, const Dataset* dataset = nullptr, const InjectHook& inject = {},
                        float* target = nullptr) {
  thread_local std::vector<char> buffer;
  const auto dims = o.shape.dims();
  // Without a hook that sees the whole cadence, only the panels the layout keeps are read: the ON
  // panels, half of each file, for the usual layout. A panel that is not read is not checked for NaN.
  const bool kept_only = !cadence && !inject;
  const auto read = [&](std::int64_t step) {
    try {
      return npy::read_slices(e.file, dims, step, buffer);
    } catch (const Error& err) {
      fail("id `", e.id, "`: ", err.what());
    }
  };
  npy::Header h = read(kept_only ? panel_step(o.layout) : 1);
  const char* data = buffer.data() + h.data_offset;
  const auto panel_bytes = static_cast<std::size_t>(o.shape.panel_size()) * h.itemsize();
  if (h.dtype == npy::Dtype::f2 && kept_only) {
    std::size_t bad = 0;
    for (std::int64_t p = 0; p < o.shape.panels; p += panel_step(o.layout))
      bad += count_nonfinite_halves(data + static_cast<std::size_t>(p) * panel_bytes,
                                    static_cast<std::size_t>(o.shape.panel_size()));
    if (bad == 0) {  // the usual case: convert, gather statistics and standardise in one sweep
      arrange_halves(data, o.layout, o.standardize, out, o.shape);
      return;
    }
  }
  if (kept_only && panel_step(o.layout) != 1) {  // the slow path below reads every panel
    h = read(1);
    data = buffer.data() + h.data_offset;
  }
  const std::size_t n = h.count();
  thread_local std::vector<float> raw;
  raw.resize(n);
  if (h.dtype == npy::Dtype::f2)
    halves_to_floats(data, n, raw.data());
  else
    std::memcpy(raw.data(), data, n * sizeof(float));
  std::size_t bad = 0;
  for (float& v : raw)
    if (!std::isfinite(v)) {
      ++bad;
      v = 0.0f;
    }
  if (bad != 0 && o.nonfinite == NonFinite::error)
    fail("id `", e.id, "`: ", e.file.string(), ": ", bad,
         " NaN/Inf values (set load.nonfinite to \"zero\" to replace them with 0)");
  if (inject && target != nullptr) {
    try {
      *target = inject(raw, *target, InjectKey{o.shape.panels, o.shape.time, o.shape.freq, index});
    } catch (const Error& err) {
      fail("id `", e.id, "`: ", err.what());
    }
  }
  if (cadence) {
    try {
      cadence(raw, CadenceKey{o.shape.panels, o.shape.time, o.shape.freq, index, dataset});
    } catch (const Error& err) {
      fail("id `", e.id, "`: ", err.what());
    }
  }
  arrange(raw, o.layout, o.standardize, out, o.shape);
}

inline void fill_targets(float y, int classes, float* out) {
  const float t = y < 0.0f ? 0.0f : y;  // unlabelled rows get 0
  if (classes == 1) {
    out[0] = t;
    return;
  }
  for (int k = 0; k < classes; ++k) out[k] = 0.0f;
  out[0] = 1.0f - t;
  out[1] = t;
}

/// Reuses the large image buffers of batches: a batch's tensor returns its buffer here when the last
/// reference to it dies (even after the loader is gone), so a pass allocates O(prefetch) buffers,
/// not O(batches), and memory stays flat however long the dataset is.
class BufferPool : public std::enable_shared_from_this<BufferPool> {
 public:
  explicit BufferPool(std::size_t keep) : keep_(keep) {}
  ~BufferPool() {
    for (void* p : free_) std::free(p);
  }

  torch::Tensor tensor(std::vector<std::int64_t> sizes) {
    std::size_t numel = 1;
    for (auto d : sizes) numel *= static_cast<std::size_t>(d);
    const std::size_t bytes = std::max<std::size_t>(1, numel * sizeof(float));
    void* p = nullptr;
    {
      std::lock_guard lk(m_);
      if (bytes == bytes_ && !free_.empty()) {
        p = free_.back();
        free_.pop_back();
      }
    }
    if (p == nullptr) {
      p = std::aligned_alloc(64, (bytes + 63) / 64 * 64);
      if (p == nullptr) throw std::bad_alloc();
    }
    auto self = shared_from_this();
    return torch::from_blob(
        p, sizes, [self, bytes](void* q) { self->give_back(q, bytes); }, torch::TensorOptions().dtype(torch::kFloat32));
  }

 private:
  void give_back(void* p, std::size_t bytes) {
    {
      std::lock_guard lk(m_);
      if (bytes_ != bytes) {  // a new batch size: drop the old buffers
        for (void* q : free_) std::free(q);
        free_.clear();
        bytes_ = bytes;
      }
      if (free_.size() < keep_) {
        free_.push_back(p);
        return;
      }
    }
    std::free(p);
  }

  std::mutex m_;
  std::size_t keep_, bytes_ = 0;
  std::vector<void*> free_;
};

/// What a source stage's loader gives the engine: batches in order, then nullopt. (LoaderHooks, the
/// work its reader threads do after reading, is declared with the stage protocol in core/stage.hpp.)
/// It is also an input range of batches: `for (Batch& b : *loader)`, `*loader | ranges::views::take(2)`.
class BatchStream {
 public:
  virtual ~BatchStream() = default;
  /// The next batch in order, or nullopt at the end.
  virtual std::optional<Batch> next() = 0;
  virtual std::size_t num_samples() const = 0;

  struct sentinel {};
  class iterator {
   public:
    using value_type = Batch;
    using difference_type = std::ptrdiff_t;
    using iterator_concept = std::input_iterator_tag;
    using iterator_category = std::input_iterator_tag;
    iterator() = default;
    explicit iterator(BatchStream* s) : s_(s) { ++*this; }
    Batch& operator*() const { return *s_->current_; }
    iterator& operator++() {
      s_->current_ = s_->next();
      return *this;
    }
    void operator++(int) { ++*this; }
    bool done() const { return !s_ || !s_->current_; }
    friend bool operator==(const iterator& i, sentinel) { return i.done(); }
    friend bool operator==(sentinel s, const iterator& i) { return i == s; }
    friend bool operator!=(const iterator& i, sentinel s) { return !(i == s); }
    friend bool operator!=(sentinel s, const iterator& i) { return !(i == s); }

   private:
    BatchStream* s_ = nullptr;
  };
  /// Starts reading: each call continues where the stream stands (an input range is read once).
  iterator begin() { return iterator(this); }
  sentinel end() const { return {}; }

 private:
  std::optional<Batch> current_;
};

/// Fills one sample's floats (image_shape().numel() of them) for entry `e`: how a source reads.
using SampleReader = std::function<void(const Entry& e, std::span<float> out)>;

/// The threaded loader every source can use: N reader threads, a bounded prefetch window, batches
/// in order. By default it reads the competition's .npy files; a source with its own storage passes
/// a SampleReader and the image shape.
class Loader : public BatchStream {
 public:
  Loader(const Dataset& data, std::vector<std::int64_t> order, ReadOptions read, int batch_size, int threads,
         int prefetch, LoaderHooks hooks = {}, SampleReader reader = {}, std::optional<ImageShape> shape = {})
      : data_(data),
        order_(std::move(order)),
        read_(read),
        batch_(batch_size),
        prefetch_(std::max(1, prefetch)),
        pool_(std::make_shared<BufferPool>(static_cast<std::size_t>(prefetch_) + 2)),
        hooks_(std::move(hooks)),
        reader_(std::move(reader)),
        shape_(shape ? *shape : image_shape(read.layout, read.shape)) {
    if (batch_size < 1) fail("loader: batch size ", batch_size, " must be >= 1");
    if (reader_ && hooks_.inject)
      fail(
          "loader: this source reads its samples itself (a SampleReader), so it cannot hand the pipeline's injection "
          "stages (Inject) the raw cadence; drop them, or draw the injection in the reader");
    if (reader_ && hooks_.cadence)
      fail(
          "loader: this source reads its samples itself (a SampleReader), so it cannot hand the pipeline's cadence "
          "stages (Background) the raw cadence; drop them, or apply them in the reader");
    for (auto i : order_)
      if (i < 0 || static_cast<std::size_t>(i) >= data_.size()) fail("loader: index ", i, " outside the dataset");
    batches_ = (order_.size() + static_cast<std::size_t>(batch_) - 1) / static_cast<std::size_t>(batch_);
    ahead_.emplace(batches_, threads, prefetch_, [this](std::size_t b) {
      Batch out = load(b);
      if (hooks_.batch) hooks_.batch(out, b);
      return out;
    });
  }
  Loader(const Loader&) = delete;
  Loader& operator=(const Loader&) = delete;
  std::size_t num_batches() const { return batches_; }
  std::size_t num_samples() const override { return order_.size(); }

  /// The next batch in order, or nullopt at the end. A read error is rethrown here, for the batch
  /// that holds the bad sample.
  std::optional<Batch> next() override { return ahead_->next(); }

 private:
  Batch load(std::size_t b) const {
    const std::size_t begin = b * static_cast<std::size_t>(batch_);
    const std::size_t end = std::min(order_.size(), begin + static_cast<std::size_t>(batch_));
    const auto n = static_cast<std::int64_t>(end - begin);
    const ImageShape& s = shape_;
    Batch out;
    out.images = pool_->tensor({n, s.channels, s.height, s.width});
    out.targets = torch::empty({n, read_.classes}, torch::kFloat32);
    float* img = out.images.data_ptr<float>();
    float* tgt = out.targets.data_ptr<float>();
    for (std::size_t k = begin; k < end; ++k) {
      const auto& e = data_.entries[static_cast<std::size_t>(order_[k])];
      const auto row = static_cast<std::size_t>(k - begin);
      const std::span<float> dst(img + row * static_cast<std::size_t>(s.numel()), static_cast<std::size_t>(s.numel()));
      float target = e.target;
      if (reader_)
        reader_(e, dst);
      else
        read_sample(e, read_, dst, hooks_.cadence, order_[k], &data_, hooks_.inject, &target);
      if (hooks_.sample) {
        auto one = out.images.narrow(0, static_cast<std::int64_t>(row), 1);
        hooks_.sample(one, order_[k]);
      }
      fill_targets(target, read_.classes, tgt + row * static_cast<std::size_t>(read_.classes));
      out.indices.push_back(order_[k]);
      out.ids.push_back(e.id);
    }
    return out;
  }

  const Dataset& data_;
  std::vector<std::int64_t> order_;
  ReadOptions read_;
  int batch_;
  int prefetch_;
  std::shared_ptr<BufferPool> pool_;
  LoaderHooks hooks_;
  SampleReader reader_;
  ImageShape shape_;
  std::size_t batches_ = 0;
  std::optional<OrderedPrefetch<Batch>> ahead_;  // last: its workers read the members above
};

}  // namespace cadence
