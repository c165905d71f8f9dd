// Proof from outside the library: stages defined in a user's file (custom_stages.hpp, the code of
// docs/extending.md) run in hold-out, pretrain, fine-tune and predict, each with an observable effect.
#include "extending/custom_stages.hpp"

#include <regex>

#include "support.hpp"

using cadence::config::json;

namespace {
std::vector<std::string> cpp_blocks(const std::string& markdown) {
  std::vector<std::string> blocks;
  std::size_t at = 0;
  while ((at = markdown.find("```cpp\n", at)) != std::string::npos) {
    const auto begin = at + 7, end = markdown.find("```", begin);
    blocks.push_back(markdown.substr(begin, end - begin));
    at = end + 3;
  }
  return blocks;
}
}  // namespace

TEST_CASE("extending: a user's source, per-sample op, batch op and network run through all three jobs") {
  static_assert(cadence::SourceStage<example::MemorySource> && cadence::SampleStage<example::RandomGain> &&
                cadence::BatchStage<example::LabelSmoothing> && cadence::ModelStage<example::TinyModel>);
  test::TempDir out("extending");
  const auto reads0 = example::MemorySource::reads.load();
  const auto r = example::run_all(out / "run");
  // every stage ran
  CHECK(example::MemorySource::reads > reads0);
  CHECK(example::RandomGain::samples > 0);
  CHECK(example::RandomGain::tta_samples > 0);  // TTA<4>'s "augment" rounds
  CHECK(example::LabelSmoothing::batches > 0);
  CHECK(example::TinyModel::built >= 1 + 2 + 2);  // pretrain, two folds, two fold models at predict
  {  // while training, the per-sample op ran in the loader's reader threads (a CPU run), not on this one
    std::lock_guard lock(example::RandomGain::mutex);
    CHECK_FALSE(example::RandomGain::training_threads.empty());
    CHECK(example::RandomGain::training_threads.count(std::this_thread::get_id()) == 0);
  }
  // ...and they did their jobs: the network learned the needle from the in-memory source
  CHECK(r.pretrain_auc > 0.9);
  CHECK(r.cv_auc > 0.9);
  CHECK(json::parse(test::read_file(out / "run/config.json"))["label_smoothing"]["epsilon"] == 0.05);
  const auto sub = cadence::csv::read_labels(r.submission);
  REQUIRE(sub.size() == 32);
  std::vector<float> truth;
  std::vector<double> pred;
  for (std::size_t i = 0; i < sub.size(); ++i) {
    truth.push_back(example::MemorySource::positive(static_cast<int>(i)) ? 1.f : 0.f);
    pred.push_back(sub[i].target);
  }
  CHECK(cadence::roc_auc(truth, pred) > 0.9);  // the held-out split, scored by the fold ensemble with TTA
}

TEST_CASE("extending: the batch op changes the loss, the augmentation changes TTA, and each can be left out") {
  // Label smoothing puts a floor under the cross-entropy: with epsilon 0.4 the loss cannot fall below
  // the entropy of (0.8, 0.2) = 0.5 nats, which an unsmoothed run of the same data goes well under.
  auto loss_of = [](double epsilon, const std::filesystem::path& dir) {
    auto p = example::MemorySource{} | example::LabelSmoothing{} | example::TinyModel{};
    auto cfg = json::parse(R"({"run": {"seed": 2, "threads": 2, "quiet": true}, "memory": {"train": 64, "snr": 3.0},
                               "train": {"epochs": 4, "batch_size": 16, "lr": 0.02, "holdout": 0.25}})");
    cfg["run"]["dir"] = dir.string();
    cfg["label_smoothing"] = {{"epsilon", epsilon}};
    cadence::recipes::holdout(p, cfg);
    const auto log = test::read_file(dir / "log.jsonl");
    const auto last = log.substr(log.rfind('\n', log.size() - 2) + 1);
    return json::parse(last)["train_loss"].get<double>();
  };
  test::TempDir out("extending2");
  const double smoothed = loss_of(0.4, out / "s"), plain = loss_of(0.0, out / "p");
  CHECK(smoothed > 0.5);
  CHECK(plain < 0.4);

  // TTA<4> in "augment" mode averages four rounds of the user's augmentation: with amount 0 the rounds
  // are identical and the TTA prediction equals the plain one; with 0.5 it differs.
  auto pipeline = example::custom_pipeline();
  auto& source = pipeline.get<example::MemorySource>();
  const auto data = source.open(cadence::Split::test);
  auto net = cadence::build_network(pipeline, 1);
  std::vector<std::int64_t> all(data.size());
  for (std::size_t i = 0; i < all.size(); ++i) all[i] = static_cast<std::int64_t>(i);
  auto predict = [&](double amount, bool tta) {
    pipeline.get<example::RandomGain>().options.amount = amount;
    return cadence::predict_pipeline(pipeline, net, cadence::Head::ce, data, all, 8, torch::kCPU, 1, "p", true, tta);
  };
  const auto plain_p = predict(0.5, false);
  const auto still = predict(0.0, true), varied = predict(0.5, true);
  for (std::size_t i = 0; i < plain_p.size(); ++i) CHECK(still[i] == doctest::Approx(plain_p[i]).epsilon(1e-9));
  CHECK(varied != plain_p);
}

TEST_CASE("extending: docs/extending.md shows exactly the code that these tests compile") {
  const auto doc = test::read_file(std::filesystem::path(CADENCE_SOURCE_DIR) / "docs/extending.md");
  const auto code = test::read_file(std::filesystem::path(CADENCE_SOURCE_DIR) / "tests/extending/custom_stages.hpp");
  const auto blocks = cpp_blocks(doc);
  CHECK(blocks.size() >= 5);
  for (const auto& b : blocks) {
    INFO("docs/extending.md block not in tests/extending/custom_stages.hpp:\n", b);
    CHECK(code.find(b) != std::string::npos);
  }
}
