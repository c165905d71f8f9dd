// The code of docs/extending.md, compiled and run by tests/extending/custom_stages.cpp (which also
// checks that every C++ block of the doc appears here verbatim). Stages of a user's own, in a user's
// own file: cadence's engine runs them by what they can do.
#pragma once
// docs quote this file verbatim (tests compare them), so its layout is the docs' own:
// clang-format off
#include <atomic>
#include <cmath>
#include <memory>
#include <mutex>
#include <set>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include <cadence/cadence.hpp>

namespace example {

// A source: an in-memory dataset, no files. A positive holds a faint vertical line (a "needle" of
// constant frequency) in Gaussian noise; each image is a pure function of (seed, split, index).
struct MemoryOptions {
  int train = 64;     // labelled samples (the "old" split, for pretraining, is the same set)
  int test = 16;      // unlabelled samples; every 4th is a positive
  int size = 32;      // images are 1 x size x size
  double snr = 3.0;   // the line's amplitude over the noise's standard deviation
  std::uint64_t seed = 7;
  template <class V> void fields(V& v) {
    v("train", train, cadence::config::at_least(4));
    v("test", test, cadence::config::at_least(1));
    v("size", size, cadence::config::at_least(8));
    v("snr", snr, cadence::config::above(0.0));
    v("seed", seed);
  }
};

struct MemorySource : cadence::Composes<MemorySource> {
  static constexpr std::string_view name = "memory";
  using Options = MemoryOptions;
  Options options{};
  inline static std::atomic<long> reads{0};  // samples read, for the test

  static bool positive(int index) { return index % 4 == 0; }

  cadence::Dataset open(cadence::Split split) const {
    cadence::Dataset d;
    d.split = split;
    const bool test = split == cadence::Split::test;
    for (int i = 0; i < (test ? options.test : options.train); ++i)
      d.entries.push_back({std::string(test ? "t" : "m") + std::to_string(i), {}, test ? -1.0f : (positive(i) ? 1.0f : 0.0f)});
    return d;
  }

  cadence::ImageShape image_shape() const { return {1, options.size, options.size}; }

  std::unique_ptr<cadence::BatchStream> loader(const cadence::Dataset& data, std::vector<std::int64_t> order, int batch_size,
                                               int classes, cadence::LoaderHooks hooks) const {
    cadence::ReadOptions read;
    read.classes = classes;
    auto make = [o = options](const cadence::Entry& e, std::span<float> out) {
      ++reads;
      const int index = std::stoi(e.id.substr(1));
      cadence::RandomStream rng(o.seed, e.id[0] == 't' ? 1u : 0u, static_cast<std::uint32_t>(index), cadence::StreamId::synth);
      const auto column = rng.randint(0, o.size - 1);
      for (std::size_t p = 0; p < out.size(); ++p) {
        const bool on_line = positive(index) && static_cast<std::int64_t>(p) % o.size == column;
        out[p] = static_cast<float>(rng.normal() + (on_line ? o.snr : 0.0));
      }
    };
    // cadence's threaded loader does the batching, prefetching and the reader-thread hooks
    return std::make_unique<cadence::Loader>(data, std::move(order), read, batch_size, /*threads=*/2, /*prefetch=*/2,
                                             std::move(hooks), make, image_shape());
  }
};

// A per-sample augmentation: each sample times a random gain in [1 - amount, 1 + amount], drawn from
// the sample's own stream. It runs in the reader threads while training and in TTA's rounds.
struct GainOptions {
  double amount = 0.2;
  template <class V> void fields(V& v) { v("amount", amount, cadence::config::in_range(0.0, 1.0)); }
};

struct RandomGain : cadence::Composes<RandomGain> {
  static constexpr std::string_view name = "random_gain";
  static constexpr bool augmentation = true;  // training and TTA only; false would make it preprocessing
  using Options = GainOptions;
  Options options{};
  inline static std::atomic<long> samples{0}, tta_samples{0};
  inline static std::mutex mutex;
  inline static std::set<std::thread::id> training_threads;  // where it ran while training, for the test

  void apply(torch::Tensor& images, const cadence::SampleKey& key) const {  // images (B,C,H,W), row b = key.samples[b]
    for (std::int64_t b = 0; b < images.size(0); ++b) {
      auto rng = cadence::sample_stream(key, static_cast<std::size_t>(b));
      images[b].mul_(rng.uniform(1.0 - options.amount, 1.0 + options.amount));
    }
    if (key.epoch >= cadence::kTtaEpochBase) {  // a TTA round
      tta_samples += images.size(0);
      return;
    }
    samples += images.size(0);
    std::lock_guard lock(mutex);
    training_threads.insert(std::this_thread::get_id());
  }
};

// A batch stage: label smoothing, y <- (1 - epsilon) y + epsilon / K. Batch stages run in training only.
struct SmoothingOptions {
  double epsilon = 0.1;
  template <class V> void fields(V& v) { v("epsilon", epsilon, cadence::config::in_range(0.0, 0.5)); }
};

struct LabelSmoothing : cadence::Composes<LabelSmoothing> {
  static constexpr std::string_view name = "label_smoothing";
  using Options = SmoothingOptions;
  Options options{};
  inline static std::atomic<long> batches{0};

  void apply(torch::Tensor& images, torch::Tensor& targets, const cadence::BatchKey& key) const {  // (B,C,H,W), (B,K)
    (void)images;
    (void)key;
    targets.mul_(1.0 - options.epsilon).add_(options.epsilon / static_cast<double>(targets.size(1)));
    ++batches;
  }
};

// A network: any torch::nn module. As the pipeline's last module it is the model, so it also says how
// its outputs are read (the head).
struct TinyNetImpl : torch::nn::Module {
  TinyNetImpl(std::int64_t in_chans, std::int64_t classes, std::int64_t width)
      : conv(register_module("conv", torch::nn::Conv2d(torch::nn::Conv2dOptions(in_chans, width, {7, 1}).padding({3, 0})))),
        fc(register_module("fc", torch::nn::Linear(width, classes))) {}
  torch::Tensor forward(torch::Tensor x) {  // (B,C,H,W) -> (B,classes)
    x = torch::relu(conv->forward(x)).mean(2);  // average along time: a vertical line adds up
    return fc->forward(std::get<0>(x.max(2)));  // the strongest column
  }
  torch::nn::Conv2d conv;
  torch::nn::Linear fc;
};
TORCH_MODULE(TinyNet);

struct TinyNetOptions {
  int width = 8;
  cadence::Head head = cadence::Head::ce;
  template <class V> void fields(V& v) {
    v("width", width, cadence::config::at_least(1));
    v("head", head);
  }
};

struct TinyModel : cadence::Composes<TinyModel> {
  static constexpr std::string_view name = "tiny_net";
  using Options = TinyNetOptions;
  Options options{};
  inline static std::atomic<int> built{0};

  torch::nn::AnyModule build(std::int64_t in_chans) const {
    ++built;
    return torch::nn::AnyModule(TinyNet(in_chans, cadence::head_classes(options.head), options.width));
  }
  cadence::Head head() const { return options.head; }
};

// The pipeline and the three jobs, as for the built-in stages.
inline auto custom_pipeline() {
  return MemorySource{} | RandomGain{} | LabelSmoothing{} | TinyModel{} | cadence::TTA<4>{};
}

inline cadence::CompetitionResult run_all(const std::filesystem::path& dir) {
  auto config = cadence::config::json::parse(R"({
    "run": {"seed": 1, "threads": 2, "quiet": true},
    "memory": {"train": 96, "test": 32, "size": 32, "snr": 1.5},
    "random_gain": {"amount": 0.2},
    "label_smoothing": {"epsilon": 0.05},
    "tiny_net": {"width": 8},
    "train": {"epochs": 3, "batch_size": 16, "lr": 0.01, "folds": 2},
    "tta": {"mode": "augment"}
  })");
  config["run"]["dir"] = dir.string();
  return cadence::recipes::run(custom_pipeline(), config);  // pretrain, 2-fold finetune, predict
}

}  // namespace example
// clang-format on
