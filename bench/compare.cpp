// The cadence side of bench/compare.sh: the seed's three costly stages, timed the way bench/peer/peer.py
// times the Python stack, on the same data, sizes and thread count. Prints and writes JSON.
//
//   bench_compare --stage input|train|predict --data ROOT --threads 2 --samples 512 --steps 3
//                 --predict-samples 16 --json out.json      (one command line)
//
// On a GPU (bench/gpu_compare.sh): --device cuda --amp fp16 --batch 32 --size 384 for the predict stage
// (training on a GPU is timed through `seti holdout` itself, whose log.jsonl has samples/s and data wait).
//
// compare.sh runs each stage in a process of its own, as peer.py does, so that a stage's peak memory
// is its own and not what an earlier stage left in the allocator.
#include <torch/torch.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <numeric>
#include <string>

#include "bench_common.hpp"
#include "cadence/augment/augment.hpp"
#include "cadence/batch/mixup.hpp"
#include "cadence/config/overrides.hpp"
#include "cadence/core/caching_allocator.hpp"
#include "cadence/data/folds.hpp"
#include "cadence/data/load.hpp"
#include "cadence/infer/predict.hpp"
#include "cadence/infer/tta.hpp"
#include "cadence/nn/model.hpp"
#include "cadence/recipes/options.hpp"
#include "cadence/train/amp.hpp"
#include "cadence/nn/efficientnet_v2.hpp"
#include "cadence/nn/checkpoint.hpp"
#include "cadence/nn/head.hpp"
#include "cadence/nn/memory_format.hpp"
#include "cadence/nn/resize.hpp"

namespace {

using Clock = std::chrono::steady_clock;
using Aug4 = cadence::Augment<cadence::VFlip, cadence::SSR, cadence::MotionBlur, cadence::SpecAug>;

struct Args {
  std::string stage = "input";
  std::filesystem::path data;
  int threads = 2, samples = 512, steps = 3, warmup_batches = 2;
  bool keep_memory = true;   // run.keep_memory
  int predict_samples = 16;  // TTA x16 of a full-size model is slow on a CPU
  std::string device = "cpu";
  cadence::Amp amp = cadence::Amp::off;  // predict: autocast, as predict.amp
  int batch = 8;                         // train, predict: batch size
  int size = 256;                        // predict: the learned resizer's output, H = W
  bool grad_checkpointing = false;       // train: train.grad_checkpointing
  std::filesystem::path json = "cadence.json";
  template <class V>
  void fields(V& v) {
    v("stage", stage, [](const std::string& s, const std::string& path) {
      if (s != "input" && s != "train" && s != "predict") cadence::fail(path, ": expected input, train or predict");
    });
    v("data", data);
    v("threads", threads, cadence::config::at_least(1));
    v("samples", samples, cadence::config::at_least(8));
    v("steps", steps, cadence::config::at_least(1));
    v("warmup_batches", warmup_batches, cadence::config::at_least(0));
    v("predict_samples", predict_samples, cadence::config::at_least(8));
    v("keep_memory", keep_memory);
    v("device", device, cadence::config::non_empty());
    v("amp", amp);
    v("batch", batch, cadence::config::at_least(1));
    v("size", size, cadence::config::in_range(32, 1024));
    v("grad_checkpointing", grad_checkpointing);
    v("json", json);
  }
};

double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

torch::nn::Sequential network() {
  cadence::LearnedOptions r;
  r.size = r.test_size = {256, 256};
  return torch::nn::Sequential(
      cadence::LearnedResizer(r, 1),
      cadence::EfficientNetV2(cadence::efficientnetv2_s_arch(), cadence::EffNetV2Options{}, 1, 2));
}

}  // namespace

int main(int argc, char** argv) {
  try {
    const auto a = cadence::config::parse<Args>(cadence::config::flags_to_json({argv + 1, argv + argc}));
    if (a.keep_memory) cadence::install_caching_allocator();  // as the jobs do (run.keep_memory, on by default)
    torch::set_num_threads(a.threads);
    cadence::Load load;
    load.options.root = a.data;
    load.options.threads = a.threads;
    const auto data = load.open(cadence::Split::train);
    std::vector<std::int64_t> all(data.size());
    std::iota(all.begin(), all.end(), 0);
    auto order_of = [&](std::size_t n, std::uint32_t epoch) {
      auto o = cadence::epoch_order(all, 0, epoch);
      std::vector<std::int64_t> out;
      for (std::size_t i = 0; i < n; ++i) out.push_back(o[i % o.size()]);
      return out;
    };
    cadence::config::json out;

    if (a.stage == "input") {  // read + layout + standardise + Augment<4 ops> + Mixup, batch 32, in the reader threads
      const Aug4 aug;
      cadence::Mixup mix;
      const int bs = 32, warm = a.warmup_batches * bs;
      bench::reset_peak_rss();
      auto t0 = Clock::now();
      cadence::LoaderHooks hooks;  // as fit() sets them up for a CPU run
      hooks.sample = [&](torch::Tensor& one, std::int64_t index) {
        aug.apply(one, {0, 0, std::span<const std::int64_t>(&index, 1)});
      };
      hooks.batch = [&](cadence::Batch& b, std::size_t no) {
        mix.apply(b.images, b.targets, 0, 0, static_cast<std::uint32_t>(no));
      };
      auto loader = load.loader(data, order_of(static_cast<std::size_t>(warm + a.samples), 0), bs, 2, std::move(hooks));
      std::int64_t seen = -warm;  // like peer.py: the clock starts after the warm-up batches
      while (auto batch = loader->next()) {
        seen += batch->size();
        if (seen == 0) t0 = Clock::now();
      }
      out["input"] = {{"samples_per_s", static_cast<double>(seen) / seconds_since(t0)},
                      {"peak_rss_mib", bench::peak_rss_mib()},
                      {"samples", seen},
                      {"batch_size", bs},
                      {"reader_threads", a.threads},
                      {"warmup_samples", warm}};
    }
    if (a.stage ==
        "train") {  // training step: Resize<Learned> 256^2 + EfficientNetV2-S, batch --batch (8), AdamW, channels_last
      bench::reset_peak_rss();
      auto net = network();
      cadence::to_channels_last(*net);
      cadence::set_grad_checkpointing(*net, a.grad_checkpointing);
      net->train();
      torch::optim::AdamW opt(net->parameters(), torch::optim::AdamWOptions(1e-4));
      const auto x = cadence::as_channels_last(torch::randn({a.batch, 1, 819, 256}));
      const auto y = torch::tensor({1.f, 0.f}).repeat({a.batch, 1});
      auto step = [&] {
        opt.zero_grad();
        cadence::head_loss(cadence::Head::ce, net->forward(x), y).backward();
        opt.step();
      };
      step();  // warm-up
      const auto t0 = Clock::now();
      for (int s = 0; s < a.steps; ++s) step();
      out["train"] = {{"samples_per_s", static_cast<double>(a.batch) * a.steps / seconds_since(t0)},
                      {"peak_rss_mib", bench::peak_rss_mib()},
                      {"grad_checkpointing", a.grad_checkpointing},
                      {"batch_size", a.batch}};
    }
    if (a.stage == "predict") {  // prediction with TTA<16>: the functions seti predict runs (recipes::predict)
      const torch::Device device(a.device);
      if (device.is_cuda()) at::globalContext().setBenchmarkCuDNN(true);  // as RunOptions::apply on a GPU
      bench::reset_peak_rss();
      auto pipeline = load | Aug4{} | cadence::Resize<cadence::Learned>{} | cadence::Model<cadence::EffNetV2S>{} |
                      cadence::TTA<16>{};
      pipeline.get<cadence::Model<cadence::EffNetV2S>>().options.arch = "efficientnetv2_s";
      auto& resize = pipeline.get<cadence::Resize<cadence::Learned>>().options;
      resize.size = resize.test_size = {a.size, a.size};
      auto net = cadence::build_network(pipeline, load.image_shape().channels);
      net->to(device);
      cadence::prepare_for_inference(*net, cadence::PredictOptions{}.inference());  // seti predict's defaults
      cadence::AutocastGuard autocast(a.amp, device);                               // predict.amp
      const auto n = std::min<std::size_t>(static_cast<std::size_t>(a.predict_samples), data.size());
      const auto head = cadence::pipeline_head(pipeline);
      if (device
              .is_cuda())  // cuDNN's autotuner and the allocator's first blocks, outside the clock (peer.py warms up too)
        cadence::predict_pipeline(pipeline, net, head, data, order_of(static_cast<std::size_t>(a.batch), 2), a.batch,
                                  device, 0, "warm-up", true);
      const auto t0 = Clock::now();
      cadence::predict_pipeline(pipeline, net, head, data, order_of(n, 1), a.batch, device, 0, "predict",
                                /*quiet=*/true);
      out["predict"] = {{"samples_per_s", static_cast<double>(n) / seconds_since(t0)},
                        {"peak_rss_mib", bench::peak_rss_mib()},
                        {"samples", n},
                        {"batch_size", a.batch},
                        {"size", a.size},
                        {"device", device.str()},
                        {"amp", a.amp == cadence::Amp::fp16   ? "fp16"
                                : a.amp == cadence::Amp::bf16 ? "bf16"
                                                              : "off"}};
    }
    out["threads"] = a.threads;
    if (const auto* cache =
            a.keep_memory ? cadence::install_caching_allocator() : nullptr) {  // what run.keep_memory's cache held
      const auto st = cache->stats();
      out["host_cache"] = {{"peak_live_mib", st.peak_live / 1048576.0},
                           {"peak_mapped_mib", st.peak_mapped / 1048576.0},
                           {"hits", st.hits},
                           {"misses", st.misses},
                           {"released_mib", st.released / 1048576.0}};
    }
    std::ofstream(a.json) << out.dump(2) << '\n';
    std::cout << out.dump() << '\n';
  } catch (const std::exception& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
  return 0;
}
