// The network room: Resize<Learned> and EfficientNetV2-S/M, forward and training step, batch 8 of
// 1x819x256 resized to 256^2 or 384^2, contiguous or channels_last, 2 intra-op threads.
//
//   build/bench/bench_nn                                  (slow on a CPU: a few minutes)
//   build/bench/bench_nn --benchmark_filter='S/256'
//   build/bench/bench_nn --benchmark_filter=Search      the detectors that learn nothing: the line and track searches
#include <benchmark/benchmark.h>
#include <torch/torch.h>

#include <numeric>
#include <thread>

#include "cadence/augment/augment.hpp"
#include "cadence/core/caching_allocator.hpp"
#include "cadence/detect/dedoppler.hpp"
#include "cadence/infer/tta.hpp"
#include "cadence/nn/efficientnet_v2.hpp"
#include "cadence/nn/head.hpp"
#include "cadence/nn/memory_format.hpp"
#include "cadence/nn/resize.hpp"

// As the jobs run (run.keep_memory, on by default): freed host memory is kept for reuse.
static const bool kKeepMemory = cadence::install_caching_allocator() != nullptr;

namespace {

constexpr std::int64_t kB = 8;

/// resizer -> backbone, as a pipeline's network.
torch::nn::Sequential network(bool m, std::int64_t size) {
  cadence::LearnedOptions r;
  r.size = r.test_size = {size, size};
  auto arch = m ? cadence::efficientnetv2_m_arch() : cadence::efficientnetv2_s_arch();
  return torch::nn::Sequential(cadence::LearnedResizer(r, 1),
                               cadence::EfficientNetV2(arch, cadence::EffNetV2Options{}, 1, 2));
}

// args: model (0 = S, 1 = M), size, channels_last, train, threads
void EffNetV2(benchmark::State& state) {
  const bool m = state.range(0) == 1, cl = state.range(2) == 1, train = state.range(3) == 1;
  const std::int64_t size = state.range(1);
  torch::set_num_threads(static_cast<int>(state.range(4)));
  auto net = network(m, size);
  auto x = torch::randn({kB, 1, 819, 256});
  const auto y = torch::tensor({1.f, 0.f}).repeat({kB, 1});
  if (cl) {
    cadence::to_channels_last(*net);
    x = cadence::as_channels_last(x);
  }
  torch::optim::AdamW opt(net->parameters(), torch::optim::AdamWOptions(1e-4));
  if (train)
    net->train();
  else
    net->eval();
  for (auto _ : state) {
    if (train) {
      opt.zero_grad();
      auto loss = cadence::head_loss(cadence::Head::ce, net->forward(x), y);
      loss.backward();
      opt.step();
    } else {
      torch::NoGradGuard g;
      benchmark::DoNotOptimize(net->forward(x).data_ptr());
    }
  }
  state.SetItemsProcessed(state.iterations() * kB);
  state.SetBytesProcessed(state.iterations() * kB * 819 * 256 * 4);
  state.counters["threads"] = static_cast<double>(state.range(4));
  state.SetLabel(std::string(m ? "M" : "S") + "/" + std::to_string(size) + (cl ? "/channels_last" : "/contiguous") +
                 (train ? "/train_step" : "/forward"));
}

void args(benchmark::internal::Benchmark* b) {
  for (int train : {0, 1}) {
    for (int m : {0, 1})
      for (int size : {256, 384})
        for (int cl : {0, 1}) b->Args({m, size, cl, train, 2});
    b->Args({0, 256, 1, train, 1});  // thread scaling, on the cheapest configuration
  }
}
BENCHMARK(EffNetV2)->Apply(args)->Iterations(2)->Unit(benchmark::kMillisecond)->UseRealTime();

// The learned resizer alone (inference), 819x256 -> 384^2. arg: threads.
void LearnedResizer(benchmark::State& state) {
  torch::set_num_threads(static_cast<int>(state.range(0)));
  cadence::LearnedOptions r;
  r.size = r.test_size = {384, 384};
  cadence::LearnedResizer net(r, 1);
  net->eval();
  const auto x = torch::randn({kB, 1, 819, 256});
  for (auto _ : state) {
    torch::NoGradGuard g;
    benchmark::DoNotOptimize(net->forward(x).data_ptr());
  }
  state.SetItemsProcessed(state.iterations() * kB);
  state.SetBytesProcessed(state.iterations() * kB * 819 * 256 * 4);
  state.counters["threads"] = static_cast<double>(state.range(0));
}
BENCHMARK(LearnedResizer)->Arg(1)->Arg(2)->Unit(benchmark::kMillisecond)->UseRealTime();

// Prediction with TTA<16> (the seed's 16 augmented rounds), EfficientNetV2-S at 256^2 behind the
// learned resizer, batch 8 read once: augment + forward per round. args: fold BN + channels_last, threads.
void PredictTta16(benchmark::State& state) {
  torch::set_num_threads(static_cast<int>(state.range(1)));
  const bool fast = state.range(0) == 1;
  auto net = network(false, 256);
  net->eval();
  if (fast) {
    net[1]->as<cadence::EfficientNetV2>()->fold_batchnorm();
    cadence::to_channels_last(*net);
  }
  const cadence::Augment<cadence::VFlip, cadence::SSR, cadence::MotionBlur, cadence::SpecAug> aug;
  const auto x = torch::randn({kB, 1, 819, 256});
  std::vector<std::int64_t> keys(kB);
  std::iota(keys.begin(), keys.end(), 0);
  for (auto _ : state) {
    torch::NoGradGuard g;
    std::vector<torch::Tensor> rounds;
    for (std::uint32_t r = 0; r < 16; ++r) {
      auto xr = x.clone();
      aug.apply(xr, {1, cadence::kTtaEpochBase + r, keys});
      rounds.push_back(net->forward(fast ? cadence::as_channels_last(xr) : xr));
    }
    benchmark::DoNotOptimize(cadence::reduce_rounds(rounds, cadence::Head::ce, cadence::TtaReduce::prob).data_ptr());
  }
  state.SetItemsProcessed(state.iterations() * kB);
  state.SetBytesProcessed(state.iterations() * kB * 819 * 256 * 4);
  state.counters["threads"] = static_cast<double>(state.range(1));
  state.SetLabel(fast ? "folded BN + channels_last" : "plain");
}
BENCHMARK(PredictTta16)->Args({0, 2})->Args({1, 2})->Iterations(1)->Unit(benchmark::kMillisecond)->UseRealTime();

// The detectors that learn nothing, as configs/dedoppler.json and configs/track.json run them: 64 standardised
// cadences (6 x 273 x 256 float32) a batch, cadences/s. args: search (0 line, 1 track forward, 2 track
// viterbi), threads.
void Search(benchmark::State& state) {
  torch::set_num_threads(static_cast<int>(state.range(1)));
  cadence::DeDopplerOptions o;  // dedoppler.json: time_bin 3, drift_max 0.1, 41 rates
  std::string label = "line (dedoppler.json)";
  if (state.range(0) > 0) {  // track.json
    o.search = cadence::DeDopplerSearch::track;
    o.time_bin = 6;
    o.freq_bin = 2;
    o.track_algorithm = state.range(0) == 1 ? cadence::TrackAlgorithm::forward : cadence::TrackAlgorithm::viterbi;
    o.track_beta = 0.5;
    o.track_window = 32;
    o.track_compare = cadence::TrackCompare::max;
    label = state.range(0) == 1 ? "track, forward (track.json)" : "track, viterbi";
  }
  constexpr std::int64_t kCadences = 64;
  torch::manual_seed(0);
  const auto x = torch::randn({kCadences, 6, 273, 256});
  const std::vector<std::int64_t> position = {0, 1, 2, 3, 4, 5};
  for (auto _ : state) {
    const auto best = o.search == cadence::DeDopplerSearch::track ? cadence::dedoppler::track_search(x, position, o)
                                                                  : cadence::dedoppler::search(x, position, o);
    benchmark::DoNotOptimize(best.score.data_ptr<float>());
  }
  state.SetItemsProcessed(state.iterations() * kCadences);
  state.counters["threads"] = static_cast<double>(state.range(1));
  state.SetLabel(label);
}
BENCHMARK(Search)->ArgsProduct({{0, 1, 2}, {1, 2}})->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace

// The model step's ceiling: the FLOP/s this CPU attains with the kernels the model uses (oneDNN
// convolutions), from one large 3x3 convolution (256 -> 256 channels, 64x64, batch 8: 38.7 GFLOP), the
// best case for them; docs/performance.md compares it with what a training step achieves. (A matrix
// product would measure Debian's reference BLAS, which the convolutions do not use.)
static void ConvPeak(benchmark::State& state) {
  torch::set_num_threads(static_cast<int>(state.range(0)));
  torch::NoGradGuard g;
  auto conv = torch::nn::Conv2d(torch::nn::Conv2dOptions(256, 256, 3).padding(1).bias(false));
  const auto x = torch::randn({8, 256, 64, 64});
  auto y = conv->forward(x);
  for (auto _ : state) {
    y = conv->forward(x);
    benchmark::DoNotOptimize(y.data_ptr<float>());
  }
  const double flop = 2.0 * 8 * 64 * 64 * 256 * 256 * 9;
  state.counters["GFLOP/s"] =
      benchmark::Counter(flop * static_cast<double>(state.iterations()) / 1e9, benchmark::Counter::kIsRate);
  state.counters["threads"] = static_cast<double>(state.range(0));
}
BENCHMARK(ConvPeak)->Arg(1)->Arg(2)->Unit(benchmark::kMillisecond)->UseRealTime();

BENCHMARK_MAIN();
