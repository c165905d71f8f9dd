#include "cadence/train/amp.hpp"

#include "cadence/nn/small_cnn.hpp"
#include "cadence/recipes/holdout.hpp"
#include "cadence/data/load.hpp"
#include "cadence/nn/model.hpp"
#include "support.hpp"

namespace {
bool cpu_autocast_on() {
#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 4)
  return at::autocast::is_autocast_enabled(at::kCPU);
#else
  return at::autocast::is_cpu_enabled();
#endif
}
}  // namespace

TEST_CASE("amp: the loss scaler skips non-finite steps, halves, and grows after good ones") {
  auto w = torch::ones({2}, torch::requires_grad());
  torch::optim::SGD opt({w}, torch::optim::SGDOptions(1.0));
  cadence::GradScaler s(true, 8.0, /*growth_interval=*/2);
  auto backward = [&](float g) {
    opt.zero_grad();
    s.scale_loss((w * g).sum()).backward();  // d/dw = g * scale
  };
  backward(1.f);
  CHECK(w.grad()[0].item<float>() == 8.f);
  bool finite = s.unscale({w});
  CHECK(finite);
  CHECK(w.grad()[0].item<float>() == 1.f);
  CHECK(s.step(opt, finite));
  CHECK(w[0].item<float>() == 0.f);  // 1 - 1*1
  backward(std::numeric_limits<float>::infinity());
  finite = s.unscale({w});
  CHECK_FALSE(finite);
  CHECK_FALSE(s.step(opt, finite));
  CHECK(w[0].item<float>() == 0.f);  // skipped
  CHECK(s.scale() == 4.0);           // halved
  for (int i = 0; i < 2; ++i) {
    backward(0.f);
    s.step(opt, s.unscale({w}));
  }
  CHECK(s.scale() == 8.0);  // doubled after growth_interval good steps
  cadence::GradScaler off(false);
  CHECK(off.scale_loss(torch::ones({})).item<float>() == 1.f);
  // several parameters, one read of the flags: a NaN in the last gradient alone is found, and every
  // gradient is unscaled all the same; a parameter without a gradient is passed over
  auto u = torch::ones({3}, torch::requires_grad()), v = torch::ones({2}, torch::requires_grad());
  auto none = torch::ones({1}, torch::requires_grad());
  cadence::GradScaler many(true, 4.0);
  u.mutable_grad() = torch::full({3}, 8.f);
  v.mutable_grad() = torch::tensor({4.f, std::numeric_limits<float>::quiet_NaN()});
  CHECK_FALSE(many.unscale({u, none, v}));
  CHECK(torch::equal(u.grad(), torch::full({3}, 2.f)));
  CHECK(v.grad()[0].item<float>() == 1.f);
  v.mutable_grad() = torch::full({2}, 4.f);
  u.mutable_grad() = torch::full({3}, 4.f);
  CHECK(many.unscale({u, none, v}));
  CHECK(many.unscale({none}));
}

TEST_CASE("amp: bf16 autocast trains on the CPU, fp16 without CUDA is refused before any work") {
  test::TempDir data("amp"), out("amprun");
  test::small_dataset(data.path, 16, 2, 0);
  nlohmann::json cfg = {{"run", {{"dir", (out / "a").string()}, {"threads", 2}, {"quiet", true}}},
                        {"load", {{"root", data.path.string()}}},
                        {"model", {{"arch", "small_cnn"}, {"width", 4}, {"depth", 2}, {"pool", 8}}},
                        {"train", {{"epochs", 1}, {"batch_size", 8}, {"holdout", 0.25}, {"amp", "bf16"}}}};
  auto p = cadence::Load{} | cadence::Model<cadence::SmallCnnArch>{};
  {
    cadence::AutocastGuard g(cadence::Amp::bf16, torch::kCPU);
    CHECK(cpu_autocast_on());
    CHECK((torch::mm(torch::ones({2, 2}), torch::ones({2, 2})).scalar_type() == torch::kBFloat16));
  }
  CHECK_FALSE(cpu_autocast_on());
  const auto r = cadence::recipes::holdout(p, cfg);
  CHECK(std::isfinite(r.best_auc));
  const auto log = nlohmann::json::parse(test::read_file(out / "a/log.jsonl"));
  CHECK(std::isfinite(log["train_loss"].get<double>()));
  CHECK(log["data_wait"].get<double>() >= 0.0);  // the share of the epoch spent waiting for the loader
  CHECK(log["data_wait"].get<double>() < 1.0);
  cfg["train"]["amp"] = "fp16";
  cfg["run"]["dir"] = (out / "b").string();
  test::check_error([&] { cadence::recipes::holdout(p, cfg); }, "/train/amp", "CUDA");
  CHECK_FALSE(std::filesystem::exists(out / "b"));
  cfg["train"]["amp"] = "bf16";
  cfg["predict"] = {{"amp", "fp16"}};  // prediction's autocast: fp16 needs a GPU too
  test::check_error([&] { cadence::recipes::holdout(p, cfg); }, "/predict/amp", "CUDA");
  CHECK_FALSE(std::filesystem::exists(out / "b"));
  cfg["predict"] = {{"amp", "off"}};
  cfg["train"]["cuda_graph"] = true;  // a captured step needs a GPU, and says so before any work
  test::check_error([&] { cadence::recipes::holdout(p, cfg); }, "/train/cuda_graph", "CUDA device");
  cfg["train"]["accumulate"] = 2;  // and one batch per step: the combination is refused first, on any device
  test::check_error([&] { cadence::recipes::holdout(p, cfg); }, "/train/cuda_graph", "accumulate");
  cfg["train"]["accumulate"] = 1;
  cfg["train"]["grad_checkpointing"] = true;
  test::check_error([&] { cadence::recipes::holdout(p, cfg); }, "/train/cuda_graph", "grad_checkpointing");
  cfg["train"]["grad_checkpointing"] = false;
  cfg["train"]["optimizer"] = "sgd";
  test::check_error([&] { cadence::recipes::holdout(p, cfg); }, "/train/cuda_graph", "adamw");
  CHECK_FALSE(std::filesystem::exists(out / "b"));
}

TEST_CASE("fit: a diverging run stops with one line that names the step and the intact checkpoint") {
  test::TempDir data("diverge"), out("divergerun");
  test::small_dataset(data.path, 16, 2, 0);
  nlohmann::json cfg = {{"run", {{"dir", (out / "a").string()}, {"threads", 2}, {"quiet", true}}},
                        {"load", {{"root", data.path.string()}}},
                        {"model", {{"arch", "small_cnn"}, {"width", 4}, {"depth", 2}, {"pool", 8}}},
                        {"train",
                         {{"epochs", 3},
                          {"batch_size", 4},
                          {"holdout", 0.25},
                          {"lr", 1e30},
                          {"optimizer", "sgd"},
                          {"scheduler", "constant"}}}};
  auto p = cadence::Load{} | cadence::Model<cadence::SmallCnnArch>{};
  // checked as each batch's loss is read (at once on a CPU, a batch late on a GPU)
  test::check_error([&] { cadence::recipes::holdout(p, cfg); }, "the training loss is", "last.pt");
}
