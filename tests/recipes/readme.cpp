// The README's C++ example, compiled here and run on tiny data with the shipped EfficientNetV2-S
// config (shrunk by --set-style overrides so that it runs in seconds on a CPU). A last test checks
// that the README's block is this code verbatim, so the README cannot drift from what compiles.
// docs quote this file verbatim (tests compare them), so its layout is the docs' own:
// clang-format off
#include <cadence/cadence.hpp>

#include <unistd.h>

#include "support.hpp"

namespace {

void readme_example() {
// README: begin
using namespace cadence;

auto pipeline = Load{} | Augment<VFlip, SSR, MotionBlur, SpecAug>{} | Mixup{}
              | Resize<Learned>{} | Model<EffNetV2S>{} | TTA<16>{};
auto cfg      = config::load_file("samples/seti/configs/effnetv2_s.json");
recipes::pretrain(pipeline, cfg);   // hold-out on old_leaky_data
recipes::finetune(pipeline, cfg);   // stratified 4-fold CV from the pretrained weights: oof.csv, cv.json
recipes::predict(pipeline, cfg);    // folds x TTA<16> on test: submission.csv
// README: end
}

/// Runs f in `dir` as the working directory.
template <class F>
void in_directory(const std::filesystem::path& dir, F&& f) {
  const auto back = std::filesystem::current_path();
  std::filesystem::current_path(dir);
  try {
    f();
  } catch (...) {
    std::filesystem::current_path(back);
    throw;
  }
  std::filesystem::current_path(back);
}

std::filesystem::path shipped(const std::string& name) {
  return std::filesystem::path(CADENCE_SOURCE_DIR) / "samples/seti/configs" / name;
}

}  // namespace

TEST_CASE("readme: the C++ example runs the three jobs with the shipped effnetv2_s.json") {
  test::TempDir work("readme");
  test::small_dataset(work / "data/seti-breakthrough-listen", 24, 6, 24);
  auto j = cadence::config::load_file(shipped("effnetv2_s.json"));
  CHECK(j["model"]["arch"] == "tf_efficientnetv2_s");  // the seed's ImageNet-pretrained variant
  for (const char* s : {"run.device=cpu", "train.amp=off", "predict.amp=off", "run.quiet=true", "run.threads=2", "load.threads=2", "train.epochs=1",
                        "train.folds=2", "train.batch_size=8", "model.width_multiplier=0.25", "model.depth_multiplier=0.25",
                        "resize.size=[64,64]", "resize.test_size=[64,64]", "resize.filters=4"})
    cadence::config::apply_override(j, s);
  test::write_file(work / "samples/seti/configs/effnetv2_s.json", j.dump(2));
  in_directory(work.path, readme_example);
  const auto run = work / "runs/effnetv2_s";
  for (const char* f : {"pretrain/model.pt", "fold_0/model.pt", "fold_1/model.pt", "oof.csv", "cv.json", "submission.csv"})
    CHECK_MESSAGE(std::filesystem::exists(run / f), f);
  const auto saved = cadence::config::load_file(run / "config.json");
  CHECK(saved["model"]["arch"] == "tf_efficientnetv2_s");
  CHECK(cadence::csv::read_labels(run / "submission.csv").size() == 6);
}

TEST_CASE("readme: the README's C++ block is the example above, verbatim") {
  const auto readme = test::read_file(std::filesystem::path(CADENCE_SOURCE_DIR) / "README.md");
  const auto begin = readme.find("```cpp\n#include <cadence/cadence.hpp>\n");
  REQUIRE(begin != std::string::npos);
  const auto body = begin + std::string("```cpp\n#include <cadence/cadence.hpp>\n").size();
  const auto block = readme.substr(body, readme.find("```", body) - body);
  const auto self = test::read_file(std::filesystem::path(CADENCE_SOURCE_DIR) / "tests/recipes/readme.cpp");
  const auto code = self.substr(self.find("// README: begin\n") + 17);
  CHECK(code.substr(0, block.size()) == block);
}

TEST_CASE("readme: every shipped config is complete and valid for its pipeline") {
  auto ops = cadence::Augment<cadence::VFlip, cadence::SSR, cadence::MotionBlur, cadence::SpecAug>{};
  auto effnet_s = cadence::Load{} | ops | cadence::Mixup{} | cadence::Resize<cadence::Learned>{} | cadence::Model<cadence::EffNetV2S>{} | cadence::TTA<16>{};
  auto effnet_m = cadence::Load{} | ops | cadence::Mixup{} | cadence::Resize<cadence::Learned>{} | cadence::Model<cadence::EffNetV2M>{} | cadence::TTA<16>{};
  // seti's small pipeline (samples/seti/architectures.hpp)
  auto small = cadence::Load{} | cadence::Inject{} | cadence::Background{} | ops | cadence::Mixup{} | cadence::Model<cadence::SmallCnnArch>{} | cadence::TTA<16>{};
  auto dedoppler = cadence::Load{} | cadence::Background{} | cadence::Model<cadence::DeDopplerArch>{};
  cadence::CompetitionConfig c;
  cadence::config::read_config(cadence::config::load_file(shipped("effnetv2_s.json")), effnet_s, c);
  cadence::config::read_config(cadence::config::load_file(shipped("effnetv2_m.json")), effnet_m, c);
  CHECK(effnet_m.get<cadence::Model<cadence::EffNetV2M>>().arch() == "tf_efficientnetv2_m");
  CHECK(c.run.dir == "runs/effnetv2_m");  // S and M no longer share a run directory
  cadence::config::read_config(cadence::config::load_file(shipped("demo.json")), small, c);
  CHECK(small.get<cadence::Model<cadence::SmallCnnArch>>().arch() == "small_cnn");
  CHECK(small.get<cadence::Background>().options.mode == cadence::BackgroundMode::off_mean);  // chosen by bench/quality.sh
  CHECK(c.finetune.baseline);  // the report shows the de-Doppler baseline beside the network
  // chosen from the shift table (docs/quality.md): frequency resolution and interference injection
  CHECK(small.get<cadence::Model<cadence::SmallCnnArch>>().options.pool == 8);
  CHECK(small.get<cadence::Model<cadence::SmallCnnArch>>().options.pool_freq == 2);
  CHECK(small.get<cadence::Inject>().options.rfi_p == 0.3);
  // and ShiftScaleRotate without its rotation, which turns a one-channel needle into a slanted, interpolated
  // line: better test AUC on all four shift draws and in distribution (docs/quality.md, "Rotation off")
  const auto& augment = small.get<decltype(ops)>().options.ops;
  CHECK(std::get<1>(augment).rotate_limit == 0.0);  // SSR: shifts and scales still
  CHECK(std::get<1>(augment).p == 0.5);
  CHECK(std::get<2>(augment).p == 0.5);  // MotionBlur, VFlip and SpecAugment as before
  CHECK(std::get<0>(augment).p == 0.5);
  CHECK(std::get<3>(augment).p == 0.5);
  cadence::config::read_config(cadence::config::load_file(shipped("dedoppler.json")), dedoppler, c);
  CHECK(dedoppler.get<cadence::Model<cadence::DeDopplerArch>>().arch() == "dedoppler");
  CHECK(c.finetune.init == cadence::FinetuneInit::scratch);  // nothing to pretrain
}
// clang-format on
