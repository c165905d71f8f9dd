// core/caching_allocator.hpp: LibTorch's CPU tensors through cadence's caching allocator
// (run.keep_memory). The allocator is process-wide once installed, so these tests see it as the
// jobs do; the sizes are odd enough that nothing else in this process asks for the same classes.
#include <doctest/doctest.h>
#include <torch/torch.h>

#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "cadence/core/caching_allocator.hpp"

using cadence::CachingHostAllocator;

TEST_CASE("caching allocator: size classes are a quarter of the power of two, never smaller than the request") {
  for (std::size_t n : {std::size_t{1} << 20, (std::size_t{1} << 20) + 1, std::size_t{3'000'000},
                        std::size_t{107'000'000}, (std::size_t{1} << 30) - 1}) {
    const auto c = CachingHostAllocator::size_class(n);
    CHECK(c >= n);
    CHECK(static_cast<double>(c) <= 1.25 * static_cast<double>(n));
    CHECK(c % 4096 == 0);
    CHECK(CachingHostAllocator::size_class(c) == c);  // a class is its own class
  }
  CHECK(CachingHostAllocator::size_class(5'000'000) == 5'242'880);  // 4 MiB + 1 MiB steps
  CHECK(CachingHostAllocator::size_class(4'194'305) == 5'242'880);
}

TEST_CASE("caching allocator: a freed large block serves the next request of its class, already faulted in") {
  auto* cache = cadence::install_caching_allocator();
#if defined(CADENCE_ASAN)
  CHECK(cache == nullptr);  // under ASan LibTorch's own allocator stays, so that ASan sees every block
  return;
#endif
  REQUIRE(cache != nullptr);
  const auto before = cache->stats();
  void* first = nullptr;
  {
    auto t = torch::full({1'234'567}, 3.0f);  // 4.9 MB: a large block
    first = t.data_ptr();
    CHECK(cache->stats().live >= before.live + CachingHostAllocator::size_class(1'234'567 * 4));
  }
  const auto freed = cache->stats();
  CHECK(freed.cached >= CachingHostAllocator::size_class(1'234'567 * 4));
  auto u = torch::empty({1'234'500});  // another size of the same class: the same block, with the old data
  CHECK(u.data_ptr() == first);
  CHECK(u[0].item<float>() == 3.0f);
  CHECK(cache->stats().hits == freed.hits + 1);
  u.fill_(1.0f);
  CHECK(u.sum().item<double>() == doctest::Approx(1'234'500.0));
  auto small = torch::ones({1000});  // 4 kB: LibTorch's allocator, not counted
  CHECK(cache->stats().live == freed.live + CachingHostAllocator::size_class(1'234'567 * 4));
  CHECK(small.sum().item<float>() == 1000.0f);
  // small blocks keep LibTorch's deleter (their frees take no lock of the cache); large ones have the cache's
  const bool small_ours = small.storage().data_ptr().get_deleter() == cache->raw_deleter();
  const bool large_ours = u.storage().data_ptr().get_deleter() == cache->raw_deleter();
  CHECK_FALSE(small_ours);
  CHECK(large_ours);
}

TEST_CASE("caching allocator: the cache maps no more than the live peak, other classes' free blocks go first") {
  auto* cache = cadence::install_caching_allocator();
  if (cache == nullptr) return;  // under ASan (checked above)
  cache->empty_cache();
  cache->reset_peaks();
  const auto base = cache->stats();
  const std::size_t a = CachingHostAllocator::size_class(9'876'543 * 4),
                    b = CachingHostAllocator::size_class(7'654'321 * 4);
  REQUIRE(a != b);
  { auto x = torch::empty({9'876'543}); }  // peak: base + a; then a is cached
  CHECK(cache->stats().cached == a);
  { auto y = torch::empty({7'654'321}); }  // a miss of another class: the free block of class a goes back first
  const auto s = cache->stats();
  CHECK(s.mapped <= std::max(base.live + a, base.live + b));
  CHECK(s.released >= base.released + a);
  CHECK(s.mapped == s.live + s.cached);
  cache->empty_cache();
  CHECK(cache->stats().cached == 0);
}

TEST_CASE("caching allocator: raw_allocate / raw_deallocate (oneDNN's scratchpads) and many threads") {
  auto* cache = cadence::install_caching_allocator();
  if (cache == nullptr) return;  // under ASan (checked above)
  c10::Allocator* cpu = c10::GetCPUAllocator();
  CHECK(cpu == cache);
  for (std::size_t n : {std::size_t{64}, std::size_t{3} << 20}) {
    void* p = cpu->raw_allocate(n);
    REQUIRE(p != nullptr);
    std::memset(p, 7, n);
    cpu->raw_deallocate(p);
  }
  const auto before = cache->stats();
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([t] {
      for (int i = 0; i < 50; ++i) {
        auto x = torch::full({300'000 + 1000 * (i % 7) + t}, static_cast<float>(t));  // ~1.2 MB, several classes
        if (x.sum().item<double>() != static_cast<double>(t) * static_cast<double>(x.numel()))
          throw std::runtime_error("corrupt");
      }
    });
  for (auto& th : threads) th.join();
  const auto after = cache->stats();
  CHECK(after.live == before.live);  // everything handed out came back
  CHECK(after.mapped == after.live + after.cached);
  CHECK(after.hits + after.misses >= before.hits + before.misses + 200);
}

TEST_CASE(
    "caching allocator: a request the system cannot map is LibTorch's one-line out-of-memory error, and the cache "
    "survives it") {
  auto* cache = cadence::install_caching_allocator();
  if (cache == nullptr) return;  // under ASan (checked above): ASan's own allocator aborts on such a size
  const auto before = cache->stats();
  std::string msg;
  try {
    auto t = torch::empty({std::int64_t{1} << 48});  // 2^48 floats: 1 PiB, which no mapping gets
  } catch (const c10::Error& e) {
    msg = e.what_without_backtrace();
  }
  CHECK(msg.find("not enough memory") != std::string::npos);
  CHECK(msg.find("1125899906842624") != std::string::npos);  // the bytes asked for (2^50: its own size class)
  const auto after = cache->stats();
  CHECK(after.live == before.live);
  CHECK(after.cached == 0);  // everything cached was given back before the second try
  auto ok = torch::ones({2'000'000});
  CHECK(ok.sum().item<double>() == 2'000'000.0);
}
