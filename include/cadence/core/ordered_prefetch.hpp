#pragma once
// One ordered prefetcher for everything that reads ahead of a consumer: the loader's batches
// (data/loader.hpp) and the scan's windows (recipes/scan.hpp).
//
// `count` items, numbered 0..count-1, are produced by `threads` worker threads, at most `window`
// ahead of the consumer, and handed out by next() in their number order, whatever thread made them
// and whenever it finished (LibTorch's data/detail/sequencers.h, OrderedSequencer). A producer's
// exception travels with its item's number and is rethrown by next() in order, for that item (as
// LibTorch's data/dataloader/base.h Result{sequence_number, exception}); the items before it are
// still delivered.
//
//   OrderedPrefetch<Batch> ahead(batches, threads, prefetch, [&](std::size_t b) { return load(b); });
//   while (auto b = ahead.next()) use(*b);
#include <algorithm>
#include <condition_variable>
#include <cstddef>
#include <exception>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <thread>
#include <utility>
#include <vector>

#include <ATen/Parallel.h>

#ifdef _OPENMP
#include <omp.h>
#endif

namespace cadence {

template <class T>
class OrderedPrefetch {
 public:
  using Produce = std::function<T(std::size_t index)>;

  /// Starts the workers at once. `threads` <= 0: one per core; `window` < 1 counts as 1.
  OrderedPrefetch(std::size_t count, int threads, int window, Produce produce)
      : count_(count), window_(static_cast<std::size_t>(std::max(1, window))), produce_(std::move(produce)) {
    const int n = threads > 0 ? threads : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
    workers_.reserve(static_cast<std::size_t>(n));
    for (int t = 0; t < n; ++t) workers_.emplace_back([this] { work(); });
  }
  OrderedPrefetch(const OrderedPrefetch&) = delete;
  OrderedPrefetch& operator=(const OrderedPrefetch&) = delete;
  /// Stops the workers after the items they are making (nothing is waited for beyond those).
  ~OrderedPrefetch() {
    {
      std::lock_guard lk(m_);
      stop_ = true;
    }
    space_.notify_all();
    for (auto& w : workers_) w.join();
  }

  std::size_t size() const { return count_; }

  /// The next item in order, or nullopt after the last; a producer's exception is rethrown here.
  std::optional<T> next() {
    std::unique_lock lk(m_);
    if (consumed_ == count_) return std::nullopt;
    ready_.wait(lk, [&] { return done_.count(consumed_) != 0; });
    auto node = done_.extract(consumed_);
    ++consumed_;
    lk.unlock();
    space_.notify_all();
    if (node.mapped().error) std::rethrow_exception(node.mapped().error);
    return std::move(node.mapped().value);
  }

 private:
  struct Result {
    std::optional<T> value;
    std::exception_ptr error;
  };

  void work() {
    // Each worker is one of `threads` parallel lanes already: an op it runs must not start an OpenMP
    // team of its own (2 workers x 2 OpenMP threads on 2 cores spin against each other). ATen sets a
    // thread's team size on its first parallel_for, so let it do that first, then pin ours to 1.
    (void)at::get_num_threads();
#ifdef _OPENMP
    omp_set_num_threads(1);
#endif
    for (;;) {
      std::unique_lock lk(m_);
      space_.wait(lk, [&] { return stop_ || claimed_ >= count_ || claimed_ < consumed_ + window_; });
      if (stop_ || claimed_ >= count_) return;
      const std::size_t index = claimed_++;
      lk.unlock();
      Result r;
      try {
        r.value.emplace(produce_(index));
      } catch (...) {
        r.error = std::current_exception();
      }
      lk.lock();
      done_.emplace(index, std::move(r));
      lk.unlock();
      ready_.notify_all();
    }
  }

  const std::size_t count_, window_;
  Produce produce_;
  std::mutex m_;
  std::condition_variable space_, ready_;
  std::size_t claimed_ = 0, consumed_ = 0;
  bool stop_ = false;
  std::map<std::size_t, Result> done_;
  std::vector<std::thread> workers_;  // last: the workers start once everything above exists
};

}  // namespace cadence
