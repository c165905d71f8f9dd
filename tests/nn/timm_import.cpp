#include "cadence/nn/timm_import.hpp"

#include <nlohmann/json.hpp>

#include "cadence/data/npy.hpp"
#include "cadence/nn/efficientnet_v2.hpp"
#include "support.hpp"

namespace {
cadence::EfficientNetV2 tiny(std::int64_t classes = 2, std::int64_t in_chans = 1) {
  const auto d = nlohmann::json::parse(test::read_file(test::fixture("timm/tiny.json")));
  cadence::EffNetV2Arch arch;
  for (const auto& stage : d["arch_def"]) arch.stages.push_back(stage[0]);
  arch.stem = d["stem_size"];
  arch.num_features = d["num_features"];
  return cadence::EfficientNetV2(arch, cadence::EffNetV2Options{}, in_chans, classes);
}

torch::Tensor timm_npy(const std::string& rel) {
  std::vector<float> v;
  const auto h = cadence::npy::read_f32(test::fixture(rel), {}, v);
  return torch::from_blob(v.data(), h.shape, torch::kFloat32).clone();
}

/// `file` with a safetensors `__metadata__` naming `model` (as export_timm.py writes it).
std::string with_recorded_model(const std::string& bytes, const std::string& model) {
  std::uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = (n << 8) | static_cast<unsigned char>(bytes[static_cast<std::size_t>(i)]);
  auto header = nlohmann::json::parse(bytes.substr(8, n));
  header["__metadata__"] = {{"timm_model", model}};
  const auto text = header.dump();
  std::string out(8, '\0');
  for (int i = 0; i < 8; ++i) out[static_cast<std::size_t>(i)] = static_cast<char>((text.size() >> (8 * i)) & 0xff);
  return out + text + bytes.substr(8 + n);
}
}  // namespace

TEST_CASE("timm import: a 3-channel stem adapted to 1 or 6 channels gives timm's logits") {
  // the oracle: timm's own pretrained path (load_pretrained, as create_model(..., in_chans=C) runs it)
  for (auto [chans, input, logits] : {std::tuple{1, "timm/input.npy", "timm/tiny_in3_as_in1_eval_logits.npy"},
                                      std::tuple{6, "timm/input6.npy", "timm/tiny_in3_as_in6_eval_logits.npy"}}) {
    CAPTURE(chans);
    auto net = tiny(2, chans);
    const auto r = cadence::load_state_dict(*net, test::fixture("timm/tiny_in3.pt"));
    CHECK(r.stem_adapted);
    net->eval();
    torch::NoGradGuard g;
    const auto got = net->forward(timm_npy(input));
    CHECK(torch::allclose(got, timm_npy(logits), 1e-4, 1e-4));
  }
}

TEST_CASE("timm import: weights that record their model are refused for another architecture") {
  test::TempDir dir("named");
  const std::string st = test::read_file(test::fixture("timm/tiny.safetensors"));
  test::write_file(dir / "plain.safetensors", with_recorded_model(st, "efficientnetv2_s.ra_in1k"));
  test::write_file(dir / "tf.safetensors", with_recorded_model(st, "tf_efficientnetv2_s.in21k"));
  auto load = [&](const std::filesystem::path& p, const std::string& expect) {
    return [p, expect] {
      auto n = tiny();
      cadence::ImportOptions o;
      o.expect_model = expect;
      cadence::load_state_dict(*n, p, o);
    };
  };
  // same keys and shapes, so only the recorded name tells a tf_ file from a plain one
  CHECK(test::error_of(load(dir / "plain.safetensors", "efficientnetv2_s")).empty());
  test::check_error(load(dir / "plain.safetensors", "tf_efficientnetv2_s"), "plain.safetensors",
                    "`efficientnetv2_s.ra_in1k`", "`tf_efficientnetv2_s`");
  test::check_error(load(dir / "tf.safetensors", "tf_efficientnetv2_m"), "tf_efficientnetv2_s.in21k",
                    "tf_efficientnetv2_m");
  // a torch.save'd dict records it as a string entry (export_timm.py), which is not a tensor to load
  CHECK(test::error_of(load(test::fixture("timm/tiny_named.pt"), "tf_efficientnetv2_s")).empty());
  test::check_error(load(test::fixture("timm/tiny_named.pt"), "efficientnetv2_s"), "tiny_named.pt",
                    "tf_efficientnetv2_s.in21k");
  // no record: nothing to check against
  CHECK(test::error_of(load(test::fixture("timm/tiny.pt"), "tf_efficientnetv2_m")).empty());
  // torch.save(model.state_dict()) as is: one line saying how to convert it
  test::check_error(load(test::fixture("timm/tiny_ordereddict.pt"), ""), "tiny_ordereddict.pt", "OrderedDict",
                    "convert it");
}

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
  CHECK(torch::equal(net->conv_stem->weight,
                     cadence::read_state_dict(test::fixture("timm/tiny.pt")).at("conv_stem.weight")));
}

TEST_CASE("timm import: bad files and mismatched keys are refused with the file and key named") {
  test::TempDir dir("import");
  const std::string good = test::read_file(test::fixture("timm/tiny.pt"));
  test::write_file(dir / "trunc.pt", good.substr(0, good.size() / 2));
  auto load = [&](const std::filesystem::path& p) {
    return [p] {
      auto n = tiny();
      cadence::load_state_dict(*n, p);
    };
  };
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
  test::check_error(
      [&] {
        cadence::EfficientNetV2 n(shorter, cadence::EffNetV2Options{}, 1, 2);
        cadence::load_state_dict(*n, test::fixture("timm/tiny.pt"));
      },
      "tiny.pt", "unexpected keys: blocks.3.0");
  // a wider model: mis-shaped keys
  cadence::EffNetV2Arch wider = shorter;
  wider.stages.push_back("ir_r1_k3_s1_e6_c40_se0.25");
  test::check_error(
      [&] {
        cadence::EfficientNetV2 n(wider, cadence::EffNetV2Options{}, 1, 2);
        cadence::load_state_dict(*n, test::fixture("timm/tiny.pt"));
      },
      "tiny.pt", "blocks.3.0.", "in the file but");
  // a deeper model: missing keys
  cadence::EffNetV2Arch deeper = wider;
  deeper.stages.back() = d["arch_def"].back()[0];
  deeper.stages.push_back("ir_r1_k3_s1_e6_c32_se0.25");
  test::check_error(
      [&] {
        cadence::EfficientNetV2 n(deeper, cadence::EffNetV2Options{}, 1, 2);
        cadence::load_state_dict(*n, test::fixture("timm/tiny.pt"));
      },
      "tiny.pt", "missing keys: blocks.4.0");
}
