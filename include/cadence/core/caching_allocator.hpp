#pragma once
// A caching allocator for LibTorch's CPU tensors, as PyTorch's CUDA caching allocator is for the GPU
// (run.keep_memory, on by default).
//
// A CPU training step allocates and frees the same large blocks every step (the learned resizer's
// full-resolution activations are 107 MB each at batch 8). glibc serves blocks of 32 MiB and more with
// a fresh mmap and unmaps them on free, so each step faults them in again page by page and the kernel
// zeroes every page: measured at 2 threads, 60% of the step went to the kernel. Until this allocator,
// cadence turned glibc's mmap path off instead (mallopt), which is as fast but keeps every block in
// one heap: blocks of all sizes fragment it, and with activation checkpointing (whose recomputation
// frees and allocates in another order) the resident peak was 2.3 GiB for an allocation peak of 1.4.
//
// Blocks of 1 MiB and more are kept in free lists by size class: a request is rounded up to a quarter
// of its power of two (at most 25% slack), a freed block goes back to its class's list, and the next
// request of that class takes it, already faulted in. Each block is its own mapping, so no block pins
// its neighbours; and the cache never maps more than the live peak (the most bytes ever handed out at
// once): a request that misses while the mapped total would pass it first unmaps free blocks of other
// classes, largest first. The resident size is then the live peak plus the small blocks, which go to
// LibTorch's own allocator. Blocks are advised as transparent huge pages where the kernel allows
// (madvise mode): 512x fewer page faults when a block is mapped anew.
//
// Not under AddressSanitizer (it would hide the large blocks' overflows from it): there
// install_caching_allocator() installs nothing and returns nullptr.
#include <sys/mman.h>

#include <c10/core/Allocator.h>
#include <c10/core/CPUAllocator.h>
#include <c10/util/Exception.h>
#include <torch/version.h>

#include <algorithm>
#include <bit>
#include <cstddef>
#include <cstring>
#include <map>
#include <mutex>
#include <unordered_map>
#include <vector>

// PyTorch 2.3 made Allocator::allocate non-const and added the pure virtual copy_data
#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 3)
#define CADENCE_ALLOCATE_CONST
#define CADENCE_COPY_DATA_OVERRIDE override
#else
#define CADENCE_ALLOCATE_CONST const
#define CADENCE_COPY_DATA_OVERRIDE
#endif

#if defined(__SANITIZE_ADDRESS__)
#define CADENCE_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define CADENCE_ASAN 1
#endif
#endif

namespace cadence {

/// What the caching allocator holds, in bytes: `live` handed out, `cached` free in its lists,
/// `mapped` their sum; the peaks of `live` and `mapped`; requests served from a list (`hits`) or by a
/// new mapping (`misses`); bytes unmapped to stay under the live peak (`released`).
struct HostMemoryStats {
  std::size_t live = 0, cached = 0, mapped = 0, peak_live = 0, peak_mapped = 0, hits = 0, misses = 0, released = 0;
};

class CachingHostAllocator final : public c10::Allocator {
 public:
  static constexpr std::size_t kLarge = std::size_t{1} << 20;  // smaller requests: LibTorch's allocator

  /// One per process (its deleter finds it through a static); install_caching_allocator() makes it.
  explicit CachingHostAllocator(c10::Allocator* small) : small_(small) { instance() = this; }

  /// The size class of an n-byte request (n >= kLarge): n rounded up to a quarter of the power of two
  /// at or below it.
  static std::size_t size_class(std::size_t n) {
    const std::size_t step = std::bit_floor(n) / 4;
    return (n + step - 1) / step * step;
  }

  c10::DataPtr allocate(std::size_t n) CADENCE_ALLOCATE_CONST override {
    // small blocks keep LibTorch's own pointer and deleter: freeing them takes no lock of ours
    if (n < kLarge) return small_->allocate(n);
    // the context is the pointer itself, as LibTorch's raw_allocate / raw_deallocate (oneDNN's
    // scratchpads) require; the deleter finds a large block's class by its address, and hands
    // addresses it does not know (small blocks, through raw_deallocate) to LibTorch's allocator
    void* p = const_cast<CachingHostAllocator*>(this)->take(size_class(n));
    return {p, p, &deleter, c10::Device(c10::DeviceType::CPU)};
  }
  c10::DeleterFnPtr raw_deleter() const override { return &deleter; }
  void copy_data(void* dest, const void* src, std::size_t count) const CADENCE_COPY_DATA_OVERRIDE {
    std::memcpy(dest, src, count);
  }

  HostMemoryStats stats() const {
    std::lock_guard<std::mutex> lock(mu_);
    return stats_;
  }
  /// Starts the peaks again from what is held now (the live peak also bounds the cache: after a
  /// reset the cache shrinks to the next stretch's own peak).
  void reset_peaks() {
    std::lock_guard<std::mutex> lock(mu_);
    stats_.peak_live = stats_.live;
    stats_.peak_mapped = stats_.mapped;
  }
  /// Unmaps every free block.
  void empty_cache() {
    std::lock_guard<std::mutex> lock(mu_);
    release_locked(stats_.cached);
  }

 private:
  static CachingHostAllocator*& instance() {
    static CachingHostAllocator* a = nullptr;
    return a;
  }
  static void deleter(void* p) { instance()->give_back(p); }

  void* take(std::size_t size) {
    std::lock_guard<std::mutex> lock(mu_);
    auto& s = stats_;
    void* p = nullptr;
    if (auto it = free_.find(size); it != free_.end() && !it->second.empty()) {
      p = it->second.back();
      it->second.pop_back();
      s.cached -= size;
      ++s.hits;
    } else {
      ++s.misses;
      const std::size_t limit = std::max(s.peak_live, s.live + size);  // map no more than the live peak
      if (s.mapped + size > limit) release_locked(s.mapped + size - limit);
      p = ::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
      if (p == MAP_FAILED) {
        release_locked(s.cached);  // all that is cached, then once more
        p = ::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        // LibTorch's own allocator's words, so that callers and users see the same error
        TORCH_CHECK(p != MAP_FAILED, "cadence's host allocator: not enough memory: you tried to allocate ", size,
                    " bytes (", s.live, " bytes in use)");
      }
#if defined(MADV_HUGEPAGE)
      ::madvise(p, size, MADV_HUGEPAGE);
#endif
      s.mapped += size;
      s.peak_mapped = std::max(s.peak_mapped, s.mapped);
    }
    s.live += size;
    s.peak_live = std::max(s.peak_live, s.live);
    live_.emplace(p, size);
    return p;
  }

  void give_back(void* p) {
    std::unique_lock<std::mutex> lock(mu_);
    const auto it = live_.find(p);
    if (it == live_.end()) {  // a small block, LibTorch's allocator's
      lock.unlock();
      small_->raw_deallocate(p);
      return;
    }
    const std::size_t size = it->second;
    live_.erase(it);
    free_[size].push_back(p);
    stats_.live -= size;
    stats_.cached += size;
  }

  /// Unmaps free blocks, largest classes first, until at least `bytes` are unmapped or none is left.
  void release_locked(std::size_t bytes) {
    std::size_t done = 0;
    for (auto it = free_.rbegin(); it != free_.rend() && done < bytes; ++it)
      for (auto& list = it->second; !list.empty() && done < bytes; list.pop_back()) {
        ::munmap(list.back(), it->first);
        done += it->first;
        stats_.cached -= it->first;
        stats_.mapped -= it->first;
        stats_.released += it->first;
      }
  }

  c10::Allocator* small_;
  mutable std::mutex mu_;
  std::map<std::size_t, std::vector<void*>> free_;  // free blocks by size class
  std::unordered_map<void*, std::size_t> live_;     // handed-out large blocks: address -> class
  HostMemoryStats stats_;
};

/// Makes the caching allocator LibTorch's CPU allocator for the rest of the process (the first call;
/// later calls return the same one) and returns it; tensors allocated before keep their deleters.
/// Never destroyed: tensors may outlive static destruction. nullptr (nothing installed) under ASan.
inline CachingHostAllocator* install_caching_allocator() {
#if defined(CADENCE_ASAN)
  return nullptr;
#else
  static CachingHostAllocator* a = [] {
    auto* alloc = new CachingHostAllocator(c10::GetCPUAllocator());
    c10::SetCPUAllocator(alloc, /*priority=*/100);
    return alloc;
  }();
  return a;
#endif
}

}  // namespace cadence
