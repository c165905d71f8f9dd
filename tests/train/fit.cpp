// Each of fit()'s optional steps has an effect that these tests would miss if the step did nothing:
// gradient accumulation (fewer optimizer steps), gradient clipping (a bounded distance travelled),
// EMA (saved weights that are not the live ones), early stopping (a run cut short), SWA (the mean of
// the epochs' weights, with BatchNorm statistics recomputed).
#include "cadence/train/fit.hpp"

#include "cadence/nn/model.hpp"
#include "cadence/nn/small_cnn.hpp"
#include "cadence/recipes/holdout.hpp"
#include "cadence/data/load.hpp"
#include "networks.hpp"
#include "support.hpp"

using cadence::config::json;

namespace {
auto fit_pipeline() { return cadence::Load{} | cadence::Model<cadence::SmallCnnArch>{}; }

json fit_config(const std::filesystem::path& data, const std::filesystem::path& run, json train) {
  train["holdout"] = 0.25;
  return {{"run", {{"dir", run.string()}, {"seed", 11}, {"threads", 2}, {"quiet", true}}},
          {"load", {{"root", data.string()}, {"threads", 1}}},
          {"model", {{"arch", "small_cnn"}, {"width", 4}, {"depth", 2}, {"pool", 8}}},
          {"train", train}};
}

json position(const std::filesystem::path& last) {
  torch::serialize::InputArchive a;
  a.load_from(last.string());
  c10::IValue v;
  a.read("position", v);
  return json::parse(v.toStringRef());
}

/// The parameters (not the buffers) of a saved network of fit_pipeline().
std::vector<torch::Tensor> parameters(const std::filesystem::path& file) {
  auto net = test::small_cnn(4, 2, 8);
  torch::serialize::InputArchive a;
  a.load_from(file.string());
  net->load(a);
  std::vector<torch::Tensor> out;
  for (const auto& t : net->parameters()) out.push_back(t.detach().clone());
  return out;
}

double distance(const std::vector<torch::Tensor>& a, const std::vector<torch::Tensor>& b) {
  double sq = 0;
  for (std::size_t i = 0; i < a.size(); ++i) sq += (a[i] - b[i]).pow(2).sum().item<double>();
  return std::sqrt(sq);
}

struct Data {
  test::TempDir dir{"fitdata"};
  Data() { test::small_dataset(dir.path, 24, 2, 0, 9); }  // 18 to fit (5 batches of 4), 6 to validate
};
}  // namespace

TEST_CASE("fit: gradient accumulation takes one optimizer step per `accumulate` batches") {
  Data data;
  test::TempDir out("fitacc");
  for (int acc : {1, 3}) {
    CAPTURE(acc);
    const auto dir = out / ("a" + std::to_string(acc));
    cadence::recipes::holdout(fit_pipeline(),
                              fit_config(data.dir.path, dir, {{"epochs", 2}, {"batch_size", 4}, {"accumulate", acc}}));
    // 5 batches an epoch: 5 steps, or ceil(5 / 3) = 2 with the last partial group stepped too
    CHECK(position(dir / "last.pt")["step"] == (acc == 1 ? 10 : 4));
  }
}

TEST_CASE("fit: gradient clipping bounds the distance the weights travel") {
  Data data;
  test::TempDir out("fitclip");
  // SGD without momentum or decay moves the weights by lr x (clipped gradient) per step, so the whole
  // epoch's travel is at most steps x lr x clip_norm = 5 x 0.1 x 1e-6.
  auto initial = [] {
    torch::manual_seed(11);  // what the hold-out job does before it builds the network
    auto net = test::small_cnn(4, 2, 8);
    std::vector<torch::Tensor> v;
    for (const auto& t : net->parameters()) v.push_back(t.detach().clone());
    return v;
  }();
  json train = {{"epochs", 1},         {"batch_size", 4}, {"optimizer", "sgd"},     {"momentum", 0.0},
                {"weight_decay", 0.0}, {"lr", 0.1},       {"scheduler", "constant"}};
  cadence::recipes::holdout(fit_pipeline(), fit_config(data.dir.path, out / "free", train));
  train["clip_norm"] = 1e-6;
  cadence::recipes::holdout(fit_pipeline(), fit_config(data.dir.path, out / "clipped", train));
  const double free = distance(parameters(out / "free/last.pt"), initial);
  const double clipped = distance(parameters(out / "clipped/last.pt"), initial);
  CHECK(free > 1e-3);
  CHECK(clipped <= 5 * 0.1 * 1e-6 * 1.001);
  CHECK(clipped > 0.0);
}

TEST_CASE("fit: EMA validates and saves the averaged weights, not the live ones") {
  Data data;
  test::TempDir out("fitema");
  for (double ema : {0.0, 0.9}) {
    CAPTURE(ema);
    const auto dir = out / (ema > 0 ? "ema" : "plain");
    cadence::recipes::holdout(fit_pipeline(),
                              fit_config(data.dir.path, dir, {{"epochs", 1}, {"batch_size", 4}, {"ema", ema}}));
    // one epoch: model.pt is that epoch's (averaged) weights, last.pt holds the live ones
    const double d = distance(parameters(dir / "model.pt"), parameters(dir / "last.pt"));
    if (ema > 0)
      CHECK(d > 1e-4);
    else
      CHECK(d == 0.0);
  }
}

TEST_CASE("fit: early stopping ends the run after `early_stopping` epochs without a better AUC") {
  Data data;
  test::TempDir out("fitstop");
  // 6 validation samples: the AUC takes at most 17 values, so 20 epochs cannot all improve on the last
  auto epochs_logged = [&](int patience, const std::string& name) {
    const auto dir = out / name;
    cadence::recipes::holdout(
        fit_pipeline(),
        fit_config(data.dir.path, dir, {{"epochs", 20}, {"batch_size", 4}, {"early_stopping", patience}}));
    std::vector<double> aucs;
    std::istringstream log(test::read_file(dir / "log.jsonl"));
    for (std::string line; std::getline(log, line);) aucs.push_back(json::parse(line)["valid_auc"].get<double>());
    return aucs;
  };
  const auto all = epochs_logged(0, "off");
  CHECK(all.size() == 20);
  const auto cut = epochs_logged(1, "on");
  REQUIRE(cut.size() >= 2);
  CHECK(cut.size() < 20);
  // it stopped at the first epoch that did not beat the best so far, and not before
  for (std::size_t e = 1; e + 1 < cut.size(); ++e)
    CHECK(cut[e] > *std::max_element(cut.begin(), cut.begin() + static_cast<std::ptrdiff_t>(e)));
  CHECK(cut.back() <= *std::max_element(cut.begin(), cut.end() - 1));
}

TEST_CASE("fit: focal_gamma trains on the focal loss (a smaller loss, other weights), 0 on the plain one") {
  Data data;
  test::TempDir out("fitfocal");
  json train = {{"epochs", 1}, {"batch_size", 4}, {"optimizer", "sgd"}, {"lr", 0.05}, {"scheduler", "constant"}};
  cadence::recipes::holdout(fit_pipeline(), fit_config(data.dir.path, out / "ce", train));
  train["focal_gamma"] = 2.0;
  cadence::recipes::holdout(fit_pipeline(), fit_config(data.dir.path, out / "focal", train));
  auto train_loss = [](const std::filesystem::path& log) {
    return json::parse(test::read_file(log).substr(0, test::read_file(log).find('\n')))["train_loss"].get<double>();
  };
  // near p = 1/2 each term is weighed by about (1/2)^2: the focal loss is a fraction of the cross-entropy
  CHECK(train_loss(out / "focal/log.jsonl") < 0.6 * train_loss(out / "ce/log.jsonl"));
  CHECK(distance(parameters(out / "focal/last.pt"), parameters(out / "ce/last.pt")) > 1e-5);
}

namespace {
/// Every state entry (parameters and buffers) of a saved network of fit_pipeline(), by name.
std::map<std::string, torch::Tensor> state(const std::filesystem::path& file) {
  auto net = test::small_cnn(4, 2, 8);
  torch::serialize::InputArchive a;
  a.load_from(file.string());
  net->load(a);
  std::map<std::string, torch::Tensor> out;
  for (const auto& [k, t] : cadence::state_dict_entries(*net)) out[k] = t.detach().clone();
  return out;
}
}  // namespace

TEST_CASE("fit: SWA saves the mean of the epochs' weights from swa_start on, with BatchNorm statistics of its own") {
  Data data;
  test::TempDir out("fitswa");
  // SGD at a constant rate: the first epoch of a 2-epoch run is a 1-epoch run (the epoch's order is keyed
  // by the epoch), so the 1-epoch run's last.pt is the 2-epoch run's weights after epoch 1
  json train = {{"epochs", 1},        {"batch_size", 4}, {"eval_batch_size", 4},
                {"optimizer", "sgd"}, {"lr", 0.05},      {"scheduler", "constant"}};
  cadence::recipes::holdout(fit_pipeline(), fit_config(data.dir.path, out / "e1", train));
  train["epochs"] = 2;
  cadence::recipes::holdout(fit_pipeline(), fit_config(data.dir.path, out / "e2", train));
  train["swa_start"] = 1;
  train["swa_bn"] = false;
  cadence::recipes::holdout(fit_pipeline(), fit_config(data.dir.path, out / "swa_kept_bn", train));
  train["swa_bn"] = true;
  cadence::recipes::holdout(fit_pipeline(), fit_config(data.dir.path, out / "swa", train));

  const auto w1 = state(out / "e1/last.pt"), w2 = state(out / "e2/last.pt");
  const auto kept = state(out / "swa_kept_bn/model.pt"), swa = state(out / "swa/model.pt");
  // SWA changes what is saved, not how the network trains
  for (const auto& [k, t] : state(out / "swa/last.pt")) CHECK(torch::equal(t, w2.at(k)));
  double from_last = 0.0;
  for (const auto& [k, t] : kept) {
    CAPTURE(k);
    if (t.is_floating_point()) {  // every weight and running statistic: the mean of the two epochs'
      CHECK(torch::allclose(t, (w1.at(k) + w2.at(k)) / 2, 1e-5, 1e-7));
      from_last += (t - w2.at(k)).abs().sum().item<double>();
    } else {
      CHECK(torch::equal(t, w2.at(k)));  // the batch counters: the latest
    }
  }
  CHECK(from_last > 1e-4);
  // swa_bn: the same weights, the statistics recomputed by one pass over the 18 fitting cadences in
  // batches of 4 (the counter restarts: 5 batches, not the 10 of training)
  for (const auto& [k, t] : swa) {
    CAPTURE(k);
    if (k.find("running_") != std::string::npos)
      CHECK(!torch::allclose(t, kept.at(k)));
    else if (k.find("num_batches_tracked") != std::string::npos)
      CHECK(t.item<std::int64_t>() == 5);
    else
      CHECK(torch::equal(t, kept.at(k)));
  }
  // the averaged weights were validated: the log's last line, under "<tag> swa", over 2 epochs
  const auto log = test::read_file(out / "swa/log.jsonl");
  std::vector<json> lines;
  std::istringstream in(log);
  for (std::string l; std::getline(in, l);) lines.push_back(json::parse(l));
  REQUIRE(lines.size() == 3);
  CHECK(lines.back()["tag"] == "holdout swa");
  CHECK(lines.back()["swa_epochs"] == 2);
  CHECK(lines.back()["valid_auc"].get<double>() >= 0.0);
}

TEST_CASE("fit: swa_start after the last epoch is refused, naming the key, before the run trains") {
  Data data;
  test::TempDir out("fitswabad");
  test::check_error(
      [&] {
        cadence::recipes::holdout(fit_pipeline(),
                                  fit_config(data.dir.path, out / "r", {{"epochs", 2}, {"swa_start", 3}}));
      },
      "/train/swa_start: epoch 3 is after the last epoch (train.epochs: 2)");
  CHECK(!std::filesystem::exists(out / "r/model.pt"));
}

// ForeachAdamW (train/adamw.hpp) is LibTorch's AdamW with the step batched over the parameters: the oracle
// is LibTorch's AdamW itself, step for step, to the bit, including a parameter that joins late (its own
// step count, so its own bias corrections) and a state handed from one optimizer to the other.
TEST_CASE("ForeachAdamW: LibTorch's AdamW to the bit, a late parameter's own step count, state either way") {
  torch::manual_seed(3);
  const auto make = [] {
    torch::manual_seed(5);
    return std::vector<torch::Tensor>{torch::randn({4, 3, 3, 3}).requires_grad_(), torch::randn({4}).requires_grad_(),
                                      torch::randn({7, 4}).requires_grad_()};
  };
  auto a = make(), b = make();
  const auto options = torch::optim::AdamWOptions(3e-2).weight_decay(0.05).betas({0.8, 0.95}).eps(1e-6);
  torch::optim::AdamW reference(a, options);
  cadence::ForeachAdamW batched(b, options);
  const std::vector<torch::Tensor> grads_by_step = {torch::randn({6, 4 * 27 + 4 + 28}),
                                                    torch::randn({6, 4 * 27 + 4 + 28})};
  auto set_grads = [&](std::vector<torch::Tensor>& params, int step) {
    const auto g = grads_by_step[0][step] * (step % 2 == 0 ? 1.0 : 1e-3) + grads_by_step[1][step];
    params[0].mutable_grad() = g.slice(0, 0, 108).reshape({4, 3, 3, 3}).clone();
    params[1].mutable_grad() = g.slice(0, 108, 112).clone();
    // the third parameter has no gradient in the first two steps: it starts its own count at step 3
    params[2].mutable_grad() = step < 2 ? torch::Tensor() : g.slice(0, 112, 140).reshape({7, 4}).clone();
  };
  for (int step = 0; step < 6; ++step) {
    set_grads(a, step);
    set_grads(b, step);
    reference.step();
    batched.step();
    for (std::size_t i = 0; i < a.size(); ++i) REQUIRE(torch::equal(a[i], b[i]));
  }
  const auto& state = batched.state();
  CHECK(state.size() == 3);
  // the state is LibTorch's: saved from the batched optimizer, loaded by LibTorch's, the next steps agree
  std::stringstream saved;
  {
    torch::serialize::OutputArchive out;
    batched.save(out);
    out.save_to(saved);
  }
  auto c = make();
  for (std::size_t i = 0; i < c.size(); ++i) c[i].data().copy_(b[i].data());
  torch::optim::AdamW restored(c, options);
  {
    torch::serialize::InputArchive in;
    in.load_from(saved);
    restored.load(in);
  }
  set_grads(b, 5);
  set_grads(c, 5);
  batched.step();
  restored.step();
  for (std::size_t i = 0; i < c.size(); ++i) CHECK(torch::equal(b[i], c[i]));
  // and amsgrad, which it does not batch, is LibTorch's step
  auto d = make(), e = make();
  torch::optim::AdamW ams_reference(d, torch::optim::AdamWOptions(1e-2).amsgrad(true));
  cadence::ForeachAdamW ams(e, torch::optim::AdamWOptions(1e-2).amsgrad(true));
  set_grads(d, 3);
  set_grads(e, 3);
  ams_reference.step();
  ams.step();
  for (std::size_t i = 0; i < d.size(); ++i) CHECK(torch::equal(d[i], e[i]));
}
