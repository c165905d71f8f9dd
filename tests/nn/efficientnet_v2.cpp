// EfficientNetV2 against timm 1.0.31 itself (tests/data/make_timm_fixture.py).
#include "cadence/nn/efficientnet_v2.hpp"

#include <nlohmann/json.hpp>

#include "cadence/data/npy.hpp"
#include "cadence/nn/timm_import.hpp"
#include "support.hpp"

using nlohmann::json;

namespace {
torch::Tensor fixture_npy(const std::string& rel) {
  std::vector<float> v;
  const auto h = cadence::npy::read_f32(test::fixture(rel), {}, v);
  return torch::tensor(v).view(h.shape);
}

std::string shape_text(const torch::Tensor& t) {
  if (t.dim() == 0) return "-";
  std::string s;
  for (auto d : t.sizes()) {  // (appending piecewise: GCC 12 warns falsely on `"," + to_string(d)`)
    if (!s.empty()) s += ',';
    s += std::to_string(d);
  }
  return s;
}

std::int64_t count(const cadence::EfficientNetV2& net) {
  std::int64_t n = 0;
  for (const auto& p : net->parameters()) n += p.numel();
  return n;
}

/// The tiny fixture model, from its JSON description.
cadence::EfficientNetV2 tiny(const json& d, const cadence::EffNetV2Options& o = {}) {
  cadence::EffNetV2Arch arch;
  for (const auto& stage : d["arch_def"]) arch.stages.push_back(stage[0]);
  arch.stem = d["stem_size"];
  arch.num_features = d["num_features"];
  arch.tf = d["pad_type"] == "same";
  return cadence::EfficientNetV2(arch, o, d["in_chans"].get<std::int64_t>(), d["num_classes"].get<std::int64_t>());
}
}  // namespace

TEST_CASE("efficientnetv2: S and M have timm's state_dict keys, shapes, order and parameter counts") {
  const auto counts = json::parse(test::read_file(test::fixture("timm/counts.json")));
  for (const auto& [name, arch] : {std::pair{std::string("efficientnetv2_s"), cadence::efficientnetv2_s_arch()},
                                   std::pair{std::string("efficientnetv2_m"), cadence::efficientnetv2_m_arch()}}) {
    CAPTURE(name);
    cadence::EfficientNetV2 net(arch, cadence::EffNetV2Options{}, 3, 1000);
    std::string ours;
    for (const auto& [k, t] : cadence::state_dict_entries(*net)) ours += k + " " + shape_text(t) + "\n";
    CHECK(ours == test::read_file(test::fixture("timm/keys_" + name + ".txt")));
    CHECK(count(net) == counts["params"][name].get<std::int64_t>());
    auto tf = arch;
    tf.tf = true;
    CHECK(count(cadence::EfficientNetV2(tf, cadence::EffNetV2Options{}, 3, 1000)) ==
          counts["params"]["tf_" + name].get<std::int64_t>());
  }
  CHECK(count(cadence::EfficientNetV2(cadence::efficientnetv2_s_arch(), cadence::EffNetV2Options{}, 1, 2)) ==
        counts["params"]["efficientnetv2_s(num_classes=2,in_chans=1)"].get<std::int64_t>());
  CHECK(count(cadence::EfficientNetV2(cadence::efficientnetv2_s_arch(), cadence::EffNetV2Options{}, 3, 1000)) ==
        21458488);
  CHECK(count(cadence::EfficientNetV2(cadence::efficientnetv2_m_arch(), cadence::EffNetV2Options{}, 3, 1000)) ==
        54139356);
}

TEST_CASE("efficientnetv2: every block is timm's block (type, channels, kernel, stride, skip, drop path)") {
  const auto blocks = json::parse(test::read_file(test::fixture("timm/blocks_efficientnetv2.json")));
  for (const auto& name : {"efficientnetv2_s", "tf_efficientnetv2_s", "efficientnetv2_m", "tf_efficientnetv2_m"}) {
    CAPTURE(name);
    const std::string n = name;
    const bool tf = n.starts_with("tf_");
    cadence::EffNetV2Options o;
    o.drop_path_rate = 0.2;  // what the fixture's drop_path values were made with
    cadence::EfficientNetV2 net(
        n.find("_s") != std::string::npos ? cadence::efficientnetv2_s_arch(tf) : cadence::efficientnetv2_m_arch(tf), o,
        3, 1000);
    const auto modules = net->named_modules();
    const auto& want =
        blocks[tf ? n.substr(3) : n]["blocks"];  // tf_ blocks are the same; only BN eps and padding differ
    CHECK(net->bn1->options.eps() == doctest::Approx(blocks[n]["bn_eps"].get<double>()));
    CHECK(net->bn1->options.momentum().value() == doctest::Approx(blocks[n]["bn_momentum"].get<double>()));
    std::size_t seen = 0;
    for (const auto& item : modules) {
      auto b = std::dynamic_pointer_cast<cadence::effnet::BlockImpl>(item.value());
      if (!b) continue;
      REQUIRE(seen < want.size());
      const auto& w = want[seen++];
      CAPTURE(w["name"].get<std::string>());
      CHECK(item.key() == w["name"].get<std::string>());
      CHECK(b->type() == w["type"].get<std::string>());
      CHECK(b->has_skip() == w["has_skip"].get<bool>());
      CHECK(b->drop_path_rate() == doctest::Approx(w["drop_path"].get<double>()).epsilon(1e-9));
      const auto& conv = b->spatial_conv();
      const auto& c = w[b->type() == "cn" ? "conv" : b->type() == "er" ? "conv_exp" : "conv_dw"];
      CHECK(conv->weight.size(2) == c["kernel"].get<std::int64_t>());
      CHECK(conv->options.stride()->at(0) == c["stride"].get<std::int64_t>());
      CHECK(conv->options.groups() == c["groups"].get<std::int64_t>());
      const auto params = item.value()->named_parameters();
      std::int64_t in = 0, out = 0;
      for (const auto& p : params) {  // the first conv's input channels, the last conv's output
        if (p.value().dim() != 4 || p.key().starts_with("se.")) continue;
        if (in == 0) in = p.value().size(1) * (p.key().starts_with("conv_dw") ? p.value().size(0) : 1);
        out = p.value().size(0);
      }
      CHECK(in == w["in_chs"].get<std::int64_t>());
      CHECK(out == w["out_chs"].get<std::int64_t>());
      CHECK((params.contains("se.conv_reduce.weight") ? params["se.conv_reduce.weight"].size(0) : 0) ==
            w["se_rd_chs"].get<std::int64_t>());
    }
    CHECK(seen == want.size());
  }
}

TEST_CASE("efficientnetv2: stem_stride [1, 2] gives timm's logits with its stem's stride set to (1, 2)") {
  cadence::EffNetV2Options o;
  o.stem_stride = {1, 2};
  for (const char* variant : {"tiny", "tiny_tf"}) {
    CAPTURE(variant);
    const auto d = json::parse(test::read_file(test::fixture(std::string("timm/") + variant + ".json")));
    auto net = tiny(d, o), plain = tiny(d);
    // the same weights load (the stride changes no shape)
    const auto report = cadence::load_state_dict(*net, test::fixture("timm/" + d["state_dict"].get<std::string>()));
    CHECK(report.loaded == cadence::state_dict_entries(*net).size());
    net->eval();
    plain->eval();
    torch::NoGradGuard g;
    for (const std::string input : {"input", "input_even"}) {
      CAPTURE(input);
      const auto x = fixture_npy("timm/" + input + ".npy");
      const auto want = fixture_npy("timm/" + std::string(variant) + "_stem12_eval_logits" +
                                    (input == "input" ? "" : "_even") + ".npy");
      CHECK((net->forward(x) - want).abs().max().item<double>() < 1e-4);
      // twice the time resolution after the stem, the frequency's as before
      const auto f = net->forward_features(x), p = plain->forward_features(x);
      CHECK(f.size(2) > p.size(2));
      CHECK(f.size(3) == p.size(3));
    }
  }
  o.stem_stride = {3, 2};
  const auto d = json::parse(test::read_file(test::fixture("timm/tiny.json")));
  test::check_error([&] { (void)tiny(d, o); }, "/model/stem_stride: expected [height, width] strides of 1 or 2");
  o.stem_stride = {1};
  test::check_error([&] { (void)tiny(d, o); }, "/model/stem_stride");
}

TEST_CASE("efficientnetv2: timm's weights give timm's logits (eval and train mode, torch and tf padding)") {
  for (const char* variant : {"tiny", "tiny_tf"}) {
    CAPTURE(variant);
    const auto d = json::parse(test::read_file(test::fixture(std::string("timm/") + variant + ".json")));
    auto net = tiny(d);
    const auto report = cadence::load_state_dict(*net, test::fixture("timm/" + d["state_dict"].get<std::string>()));
    CHECK(report.loaded == cadence::state_dict_entries(*net).size());
    CHECK(count(net) == d["param_count"].get<std::int64_t>());
    net->eval();
    torch::NoGradGuard g;
    const auto x = fixture_npy("timm/input.npy");
    CHECK((net->forward(x) - fixture_npy("timm/" + d["eval_logits"].get<std::string>())).abs().max().item<double>() <
          1e-4);
    const auto xe = fixture_npy("timm/input_even.npy");
    CHECK((net->forward(xe) - fixture_npy("timm/" + d["eval_logits_even"].get<std::string>()))
              .abs()
              .max()
              .item<double>() < 1e-4);
    // train mode: batch statistics, and the running statistics they update
    net->train();
    CHECK((net->forward(x) - fixture_npy("timm/" + d["train_logits"].get<std::string>())).abs().max().item<double>() <
          1e-3);
    const auto after = cadence::read_state_dict(test::fixture("timm/" + d["after_train_buffers"].get<std::string>()));
    REQUIRE(!after.empty());
    for (const auto& [k, t] : cadence::state_dict_entries(*net)) {
      auto it = after.find(k);
      if (it == after.end()) continue;
      CAPTURE(k);
      CHECK(torch::allclose(t.to(torch::kFloat64), it->second.to(torch::kFloat64), 1e-4, 1e-5));
    }
  }
}

TEST_CASE("efficientnetv2: the in_chans adaptation of a 3-channel stem is timm's adapt_input_conv") {
  const auto d = json::parse(test::read_file(test::fixture("timm/tiny.json")));
  for (auto [chans, file] : {std::pair{1, "timm/tiny_in3_adapted_stem.npy"},
                             {2, "timm/tiny_in3_adapted_stem_in2.npy"},
                             {4, "timm/tiny_in3_adapted_stem_in4.npy"}}) {
    CAPTURE(chans);
    auto dd = d;
    dd["in_chans"] = chans;
    auto net = tiny(dd);
    const auto report = cadence::load_state_dict(*net, test::fixture("timm/tiny_in3.pt"));
    CHECK(report.stem_adapted);
    CHECK(torch::allclose(net->conv_stem->weight, fixture_npy(file), 1e-6, 1e-6));
  }
}

TEST_CASE("efficientnetv2: block strings are decoded as timm decodes them, and bad ones refused") {
  const auto b = cadence::parse_block("ir_r6_k3_s2_e4_c128_se0.25");
  CHECK(b.type == 'i');
  CHECK(b.repeat == 6);
  CHECK(b.stride == 2);
  CHECK(b.exp == 4.0);
  CHECK(b.out == 128);
  CHECK(b.se == 0.25);
  CHECK(cadence::parse_block("cn_r2_k3_s1_e1_c24_skip").skip);
  CHECK(cadence::parse_block("er_r1_k3_s1_e4_c8_noskip").noskip);
  test::check_error([] { cadence::parse_block("xx_r1_c8"); }, "xx_r1_c8", "cn, er or ir");
  test::check_error([] { cadence::parse_block("ir_r1_k3_s1_e4"); }, "needs");
  test::check_error([] { cadence::parse_block("ir_rX_k3_s1_c8"); }, "bad number");
  CHECK(cadence::make_divisible(24 * 0.5) == 16);  // 12 -> 16 (int(12 + 4) // 8 * 8)
  CHECK(cadence::make_divisible(1280 * 0.75) == 960);
  // a width/depth-scaled variant builds and runs (the CPU demo size)
  cadence::EffNetV2Options o;
  o.width_multiplier = 0.25;
  o.depth_multiplier = 0.25;
  cadence::EfficientNetV2 small(cadence::efficientnetv2_s_arch(), o, 1, 2);
  CHECK(small->forward(torch::randn({2, 1, 64, 48})).sizes() == torch::IntArrayRef({2, 2}));
}
