// The augment room: each op and the whole Augment on batches of 32 cadence images (1x819x256
// float32), by intra-op thread count, in samples/s and bytes/s.
//
//   build/bench/bench_augment
#include <benchmark/benchmark.h>
#include <torch/torch.h>

#include <numeric>

#include "cadence/augment/augment.hpp"
#include "cadence/batch/mixup.hpp"

namespace {

constexpr std::int64_t kB = 32, kH = 819, kW = 256;
constexpr std::int64_t kSampleBytes = kH * kW * 4;

torch::Tensor batch() {
  static const torch::Tensor x = [] {
    torch::manual_seed(0);
    return torch::randn({kB, 1, kH, kW});
  }();
  return x;
}

/// Runs `apply(images, epoch)` on a fresh copy of the batch per iteration (the copy is timed out).
template <class F>
void run(benchmark::State& state, F&& apply) {
  const int before = torch::get_num_threads();
  torch::set_num_threads(static_cast<int>(state.range(0)));
  std::uint32_t epoch = 0;
  for (auto _ : state) {
    state.PauseTiming();
    auto x = batch().clone();
    state.ResumeTiming();
    apply(x, epoch++);
    benchmark::DoNotOptimize(x.data_ptr());
  }
  torch::set_num_threads(before);
  state.SetItemsProcessed(state.iterations() * kB);
  state.SetBytesProcessed(state.iterations() * kB * kSampleBytes);
  state.counters["threads"] = static_cast<double>(state.range(0));
}

std::vector<std::int64_t> keys() {
  std::vector<std::int64_t> k(kB);
  std::iota(k.begin(), k.end(), 0);
  return k;
}

/// One op applied to every sample (p = 1): its cost when it fires.
template <class Op>
void Op_(benchmark::State& state) {
  Op op;
  op.options.p = 1.0;
  const auto k = keys();
  run(state, [&](torch::Tensor& x, std::uint32_t e) { op.apply(x, cadence::draw_params(op, {1, e, k}, 0, kH, kW)); });
}
BENCHMARK_TEMPLATE(Op_, cadence::VFlip)->Arg(1)->Arg(2)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK_TEMPLATE(Op_, cadence::SSR)->Arg(1)->Arg(2)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK_TEMPLATE(Op_, cadence::MotionBlur)->Arg(1)->Arg(2)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK_TEMPLATE(Op_, cadence::SpecAug)->Arg(1)->Arg(2)->Unit(benchmark::kMillisecond)->UseRealTime();

using Aug4 = cadence::Augment<cadence::VFlip, cadence::SSR, cadence::MotionBlur, cadence::SpecAug>;

/// The seed's Augment: four ops, each with p = 0.5.
void Augment(benchmark::State& state) {
  const Aug4 aug;
  const auto k = keys();
  run(state, [&](torch::Tensor& x, std::uint32_t e) { aug.apply(x, {1, e, k}); });
}
BENCHMARK(Augment)->Arg(1)->Arg(2)->Unit(benchmark::kMillisecond)->UseRealTime();

void Mixup(benchmark::State& state) {
  cadence::Mixup m;
  m.options.p = 1.0;
  auto y = torch::rand({kB, 2});
  run(state, [&](torch::Tensor& x, std::uint32_t e) { m.apply(x, y, 1, e, 0); });
}
BENCHMARK(Mixup)->Arg(1)->Arg(2)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
