#include "cadence/nn/timm_import.hpp"

#include <nlohmann/json.hpp>

#include "cadence/nn/efficientnet_v2.hpp"
#include "support.hpp"

namespace {
cadence::EfficientNetV2 tiny(std::int64_t classes = 2) {
  const auto d = nlohmann::json::parse(test::read_file(test::fixture("timm/tiny.json")));
  cadence::EffNetV2Arch arch;
  for (const auto& stage : d["arch_def"]) arch.stages.push_back(stage[0]);
  arch.stem = d["stem_size"];
  arch.num_features = d["num_features"];
  return cadence::EfficientNetV2(arch, cadence::EffNetV2Options{}, 1, classes);
}
}  // namespace

TEST_CASE("timm import: safetensors and torch.save give the same tensors") {
  const auto a = cadence::read_state_dict(test::fixture("timm/tiny.pt"));
  const auto b = cadence::read_state_dict(test::fixture("timm/tiny.safetensors"));
  REQUIRE(a.size() == b.size());
  for (const auto& [k, t] : a) {
    CAPTURE(k);
    REQUIRE(b.count(k) == 1);
    CHECK(torch::equal(t, b.at(k)));
  }
}

TEST_CASE("timm import: a new class count re-initialises the head only") {
  auto net = tiny(5);
  const auto before = net->classifier->weight.clone();
  const auto r = cadence::load_state_dict(*net, test::fixture("timm/tiny.pt"));
  CHECK(r.reinitialized == std::vector<std::string>{"classifier.bias", "classifier.weight"});
  CHECK(torch::equal(net->classifier->weight, before));
  CHECK(torch::equal(net->conv_stem->weight, cadence::read_state_dict(test::fixture("timm/tiny.pt")).at("conv_stem.weight")));
}

TEST_CASE("timm import: bad files and mismatched keys are refused with the file and key named") {
  test::TempDir dir("import");
  const std::string good = test::read_file(test::fixture("timm/tiny.pt"));
  test::write_file(dir / "trunc.pt", good.substr(0, good.size() / 2));
  auto load = [&](const std::filesystem::path& p) { return [p] { auto n = tiny(); cadence::load_state_dict(*n, p); }; };
  test::check_error(load(dir / "trunc.pt"), "trunc.pt", "cannot read");
  test::write_file(dir / "junk.pt", "not a checkpoint");
  test::check_error(load(dir / "junk.pt"), "junk.pt", "not a torch.save file");
  test::check_error(load(dir / "none.pt"), "none.pt", "cannot open");
  const std::string st = test::read_file(test::fixture("timm/tiny.safetensors"));
  test::write_file(dir / "trunc.safetensors", st.substr(0, st.size() - 100));
  test::check_error(load(dir / "trunc.safetensors"), "trunc.safetensors", "truncated");

  // a model that lacks a block: the file's extra keys are unexpected
  const auto d = nlohmann::json::parse(test::read_file(test::fixture("timm/tiny.json")));
  cadence::EffNetV2Arch shorter;
  for (std::size_t i = 0; i + 1 < d["arch_def"].size(); ++i) shorter.stages.push_back(d["arch_def"][i][0]);
  shorter.stem = 8;
  shorter.num_features = 64;
  test::check_error([&] { cadence::EfficientNetV2 n(shorter, cadence::EffNetV2Options{}, 1, 2); cadence::load_state_dict(*n, test::fixture("timm/tiny.pt")); },
                    "tiny.pt", "unexpected keys: blocks.3.0");
  // a wider model: mis-shaped keys
  cadence::EffNetV2Arch wider = shorter;
  wider.stages.push_back("ir_r1_k3_s1_e6_c40_se0.25");
  test::check_error([&] { cadence::EfficientNetV2 n(wider, cadence::EffNetV2Options{}, 1, 2); cadence::load_state_dict(*n, test::fixture("timm/tiny.pt")); },
                    "tiny.pt", "blocks.3.0.", "in the file but");
  // a deeper model: missing keys
  cadence::EffNetV2Arch deeper = wider;
  deeper.stages.back() = d["arch_def"].back()[0];
  deeper.stages.push_back("ir_r1_k3_s1_e6_c32_se0.25");
  test::check_error([&] { cadence::EfficientNetV2 n(deeper, cadence::EffNetV2Options{}, 1, 2); cadence::load_state_dict(*n, test::fixture("timm/tiny.pt")); },
                    "tiny.pt", "missing keys: blocks.4.0");
}
