// The data room: npy reading and the multi-threaded loader, in samples/s and bytes/s.
//
//   build/bench/bench_data                       all
//   build/bench/bench_data --benchmark_filter=Loader
#include <benchmark/benchmark.h>
#include <torch/torch.h>

#include <cstring>
#include <numeric>
#include <thread>
#include <vector>

#include "bench_common.hpp"
#include "cadence/data/folds.hpp"
#include "cadence/data/load.hpp"
#include "cadence/data/npy.hpp"

namespace {

constexpr int kFiles = 500;
constexpr std::int64_t kFileBytes = 6 * 273 * 256 * 2;

const cadence::Dataset& data() {
  static const cadence::Dataset d = cadence::open_split(bench::dataset(kFiles), cadence::Split::train);
  return d;
}

// One float16 cadence file -> float32, shape checked.
void NpyRead(benchmark::State& state) {
  const auto& d = data();
  std::vector<float> out;
  const auto dims = cadence::CadenceShape{}.dims();
  std::size_t i = 0;
  for (auto _ : state) {
    cadence::npy::read_f32(d.entries[i++ % d.size()].file, dims, out);
    benchmark::DoNotOptimize(out.data());
  }
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(state.iterations() * kFileBytes);
}
BENCHMARK(NpyRead)->Unit(benchmark::kMicrosecond);

// A full pass of the loader (read + ON-panel layout + per-panel standardisation + batching),
// batch 32, by reader thread count.
void Loader(benchmark::State& state) {
  const auto& d = data();
  std::vector<std::int64_t> order(d.size());
  std::iota(order.begin(), order.end(), 0);
  const int threads = static_cast<int>(state.range(0));
  for (auto _ : state) {
    cadence::Loader loader(d, order, cadence::ReadOptions{}, 32, threads, 4);
    while (auto b = loader.next()) benchmark::DoNotOptimize(b->images.data_ptr());
  }
  state.SetItemsProcessed(state.iterations() * static_cast<std::int64_t>(order.size()));
  state.SetBytesProcessed(state.iterations() * static_cast<std::int64_t>(order.size()) * kFileBytes);
  state.counters["threads"] = threads;
}
BENCHMARK(Loader)->Arg(1)->Arg(2)->Unit(benchmark::kMillisecond)->UseRealTime();

// Peak resident memory of one pass over N samples (the 500 files cycled): bounded by the prefetch
// window, so 500 and 5,000 samples should peak at about the same RSS.
void LoaderPeakMemory(benchmark::State& state) {
  const auto& d = data();
  const auto n = static_cast<std::size_t>(state.range(0));
  std::vector<std::int64_t> order(n);
  for (std::size_t i = 0; i < n; ++i) order[i] = static_cast<std::int64_t>(i % d.size());
  double peak = 0.0;
  for (auto _ : state) {
    bench::reset_peak_rss();
    cadence::Loader loader(d, order, cadence::ReadOptions{}, 32, 2, 4);
    while (auto b = loader.next()) benchmark::DoNotOptimize(b->images.data_ptr());
    peak = bench::peak_rss_mib();
  }
  state.SetItemsProcessed(state.iterations() * static_cast<std::int64_t>(n));
  state.counters["peak_rss_MiB"] = peak;
}
BENCHMARK(LoaderPeakMemory)->Arg(500)->Arg(5000)->Iterations(1)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace

// The input pipeline's ceiling: memory bandwidth. A 256 MiB copy (far larger than the caches) on 1 or
// 2 threads, each copying its half; bytes_per_second counts bytes read + written.
static void MemoryCopy(benchmark::State& state) {
  const auto threads = static_cast<std::size_t>(state.range(0));
  const std::size_t n = std::size_t{256} << 20;
  std::vector<char> src(n, 1), dst(n, 0);
  for (auto _ : state) {
    std::vector<std::thread> ts;
    for (std::size_t t = 0; t < threads; ++t)
      ts.emplace_back([&, t] { std::memcpy(dst.data() + t * n / threads, src.data() + t * n / threads, n / threads); });
    for (auto& th : ts) th.join();
    benchmark::DoNotOptimize(dst.data());
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations()) * static_cast<std::int64_t>(2 * n));
  state.counters["threads"] = static_cast<double>(threads);
}
BENCHMARK(MemoryCopy)->Arg(1)->Arg(2)->Unit(benchmark::kMillisecond)->UseRealTime();

BENCHMARK_MAIN();
