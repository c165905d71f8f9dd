// seti: the competition pipeline as a command-line program.
//
//   seti run --config samples/seti/configs/demo.json [--set train.epochs=2 ...]
//
// `run` trains the pipeline below with a stratified hold-out of train/, prints the validation ROC AUC
// (per epoch plain, then the best weights with TTA) and writes the Kaggle submission for test/
// (see docs/skeleton.md).
#include <cstdio>
#include <filesystem>
#include <span>
#include <thread>
#include <cstring>
#include <iostream>
#include <string>
#include <vector>

#include "cadence/augment/augment.hpp"
#include "cadence/batch/mixup.hpp"
#include "cadence/config/overrides.hpp"
#include "cadence/data/load.hpp"
#include "cadence/data/png.hpp"
#include "cadence/infer/tta.hpp"
#include "cadence/nn/efficientnet_v2.hpp"
#include "cadence/nn/model.hpp"
#include "cadence/nn/resize.hpp"
#include "cadence/nn/timm_import.hpp"
#include "cadence/nn/small_cnn.hpp"
#include "cadence/recipes/competition.hpp"
#include "cadence/recipes/holdout.hpp"

namespace {

constexpr const char* usage =
    "usage: seti run|pretrain|finetune|predict|holdout --config FILE [--set key.path=value ...] [--resume] [--quiet]\n"
    "       seti preview --config FILE --out DIR [--set key.path=value ...]\n"
    "       seti model --arch NAME [--classes K] [--in-chans C] [--width-multiplier W] [--depth-multiplier D]\n"
    "                  [--summary] [--weights FILE] [--input X.npy --output LOGITS.npy]\n"
    "\n"
    "  pretrain  hold-out training on old_leaky_data; best weights in <run.dir>/pretrain/\n"
    "  finetune  stratified K-fold on train from the pretrained weights; oof.csv, cv.json, report.html\n"
    "  predict   fold ensemble x TTA on test (blended with predict.blend); submission.csv\n"
    "  run       pretrain, finetune, predict\n"
    "  holdout   one hold-out run on train, then predict: the quickest end-to-end check\n"
    "  preview   write before/after PNGs of each augment op on a positive training sample to DIR\n"
    "  model     build a backbone (efficientnetv2_s|efficientnetv2_m|tf_efficientnetv2_s|tf_efficientnetv2_m|small_cnn):\n"
    "            --summary prints its parameter count and module tree; --input runs one eval-mode forward\n"
    "            of a float32 (B,C,H,W) .npy and writes the logits to --output\n"
    "  --config  the JSON configuration (samples/seti/configs/demo.json); its \"arch\" picks the pipeline:\n"
    "            small_cnn | efficientnetv2_s | efficientnetv2_m\n"
    "  --set     override one value, e.g. --set train.epochs=2 --set run.dir=runs/try\n"
    "  --resume  continue each fold from its last finished epoch (run.resume)\n"
    "  --quiet   no progress bars (run.quiet)\n";

struct Args {
  cadence::config::json config;
  std::string out;
};

Args parse(const std::vector<std::string>& args) {
  std::string config_file, out;
  std::vector<std::string> sets;
  for (std::size_t i = 0; i < args.size(); ++i) {
    if (args[i] == "--resume" || args[i] == "--quiet") {  // shorthands for --set run.resume=true / run.quiet=true
      sets.push_back("run." + args[i].substr(2) + "=true");
      continue;
    }
    if ((args[i] == "--config" || args[i] == "--set" || args[i] == "--out") && i + 1 >= args.size())
      cadence::fail(args[i], ": missing its value");
    if (args[i] == "--config") config_file = args[++i];
    else if (args[i] == "--set") sets.push_back(args[++i]);
    else if (args[i] == "--out") out = args[++i];
    else cadence::fail("unknown argument `", args[i], "` (see seti --help)");
  }
  if (config_file.empty()) cadence::fail("--config FILE is required (see seti --help)");
  auto j = cadence::config::load_file(config_file);
  for (const auto& s : sets) cadence::config::apply_override(j, s);
  return {std::move(j), std::move(out)};
}

// The competition's pipelines. The config's top-level "arch" picks one (the model is part of the
// pipeline's type, so each is compiled in).
using Ops = cadence::Augment<cadence::VFlip, cadence::SSR, cadence::MotionBlur, cadence::SpecAug>;
template <class Arch>
auto effnet_pipeline() {
  using namespace cadence;
  return Load{} | Ops{} | Mixup{} | Resize<Learned>{} | Model<Arch>{} | TTA<16>{};
}
auto small_pipeline() {
  using namespace cadence;
  return Load{} | Ops{} | Mixup{} | Model<SmallCnnArch>{} | TTA<16>{};
}

/// Calls f(pipeline) with the pipeline that j["arch"] names, and j without "arch".
template <class F>
int with_pipeline(cadence::config::json j, F&& f) {
  std::string arch = "efficientnetv2_s";
  if (j.contains("arch")) {
    if (!j["arch"].is_string()) cadence::fail("/arch: expected a string");
    arch = j["arch"].get<std::string>();
    j.erase("arch");
  }
  if (arch == "small_cnn") return f(small_pipeline(), j);
  if (arch == "efficientnetv2_s") return f(effnet_pipeline<cadence::EffNetV2S>(), j);
  if (arch == "efficientnetv2_m") return f(effnet_pipeline<cadence::EffNetV2M>(), j);
  cadence::fail("/arch: unknown value \"", arch, "\" (expected one of: small_cnn, efficientnetv2_s, efficientnetv2_m)");
}

template <class P>
int preview_with(P pipeline, const cadence::config::json& config, const std::string& out_dir) {
  cadence::CompetitionConfig recipe;
  cadence::config::read_config(config, pipeline, recipe);
  const auto& load = pipeline.template get<cadence::Load>();
  const auto data = load.open(cadence::Split::train);
  std::int64_t index = -1;
  for (std::size_t i = 0; i < data.size() && index < 0; ++i)
    if (data.entries[i].target >= 0.5f) index = static_cast<std::int64_t>(i);
  if (index < 0) cadence::fail("preview: no positive sample in ", load.options.root.string());
  auto loader = load.loader(data, {index}, 1, 2);
  const auto image = loader->next()->images;  // (1,C,H,W)
  const std::vector<std::int64_t> key{index};
  auto write = [&](const std::string& name, const torch::Tensor& after) {
    // before | after, 2x2 average-pooled, first channel
    const auto gap = torch::full({image.size(0), image.size(1), image.size(2), 8}, 3.5f);  // a white rule
    auto side = torch::cat({image, gap, after}, 3);
    side = torch::avg_pool2d(side, 2).select(0, 0).select(0, 0).contiguous();
    const auto path = std::filesystem::path(out_dir) / (name + ".png");
    cadence::png::write_gray(path, side.template data_ptr<float>(), static_cast<std::uint32_t>(side.size(1)),
                             static_cast<std::uint32_t>(side.size(0)), -2.5f, 3.5f);
    std::cout << "wrote " << path.string() << '\n';
  };
  auto one = [&](auto op, const std::string& name) {
    op.options.p = 1.0;
    auto x = image.clone();
    op.apply(x, cadence::draw_params(op, {recipe.run.seed, 0, key}, 0, x.size(2), x.size(3)));
    write(name, x);
  };
  const auto& ops = pipeline.template get<Ops>();
  one(ops.template op<0>(), "vflip");
  one(ops.template op<1>(), "ssr");
  one(ops.template op<2>(), "motion_blur");
  one(ops.template op<3>(), "spec_aug");
  auto all = image.clone();
  ops.apply(all, {recipe.run.seed, 0, key});
  write("augment", all);
  return 0;
}

/// Before/after pictures of each op (p forced to 1) on the first positive training sample.
int preview(const std::vector<std::string>& argv) {
  const auto args = parse(argv);
  if (args.out.empty()) cadence::fail("--out DIR is required for preview");
  return with_pipeline(args.config, [&](auto pipeline, const cadence::config::json& j) {
    return preview_with(pipeline, j, args.out);
  });
}


/// The backbones by timm name.
torch::nn::AnyModule build_arch(const std::string& arch, const cadence::EffNetV2Options& o, std::int64_t in_chans,
                                std::int64_t classes) {
  using namespace cadence;
  if (arch == EffNetV2S::name) return EffNetV2S::build(o, in_chans, classes);
  if (arch == EffNetV2M::name) return EffNetV2M::build(o, in_chans, classes);
  if (arch == TfEffNetV2S::name) return TfEffNetV2S::build(o, in_chans, classes);
  if (arch == TfEffNetV2M::name) return TfEffNetV2M::build(o, in_chans, classes);
  if (arch == SmallCnnArch::name) return SmallCnnArch::build(SmallCnnOptions{}, in_chans, classes);
  fail("--arch `", arch, "`: expected efficientnetv2_s, efficientnetv2_m, tf_efficientnetv2_s, tf_efficientnetv2_m or small_cnn");
}

struct ModelFlags {
  std::int64_t classes = 1000, in_chans = 3;
  cadence::EffNetV2Options net;
  template <class V> void fields(V& v) {
    v("classes", classes, cadence::config::at_least(1));
    v("in_chans", in_chans, cadence::config::at_least(1));
    v("width_multiplier", net.width_multiplier, cadence::config::above(0.0));
    v("depth_multiplier", net.depth_multiplier, cadence::config::above(0.0));
  }
};

int model(const std::vector<std::string>& argv) {
  std::string arch, weights, input, output;
  bool summary = false;
  std::vector<std::string> flags;
  for (std::size_t i = 0; i < argv.size(); ++i) {
    const std::string& a = argv[i];
    if (a == "--summary") { summary = true; continue; }
    if (i + 1 >= argv.size()) cadence::fail(a, ": missing its value");
    if (a == "--arch") arch = argv[++i];
    else if (a == "--weights") weights = argv[++i];
    else if (a == "--input") input = argv[++i];
    else if (a == "--output") output = argv[++i];
    else { flags.push_back(a); flags.push_back(argv[++i]); }
  }
  if (arch.empty()) cadence::fail("--arch NAME is required (see seti --help)");
  const auto f = cadence::config::parse<ModelFlags>(cadence::config::flags_to_json(flags));
  torch::set_num_threads(static_cast<int>(std::max(1u, std::thread::hardware_concurrency())));  // PyTorch alone picks 1 on 2 vCPUs
  auto m = build_arch(arch, f.net, f.in_chans, f.classes);
  if (!weights.empty()) cadence::load_state_dict(*m.ptr(), weights);
  if (summary) {
    std::int64_t n = 0;
    for (const auto& p : m.ptr()->parameters()) n += p.numel();
    std::string digits = std::to_string(n), grouped;
    for (std::size_t i = 0; i < digits.size(); ++i) {
      if (i > 0 && (digits.size() - i) % 3 == 0) grouped += ',';
      grouped += digits[i];
    }
    std::cout << *m.ptr() << '\n' << arch << ": " << grouped << " parameters\n";
  }
  if (!input.empty()) {
    if (output.empty()) cadence::fail("--input needs --output LOGITS.npy");
    std::vector<float> x;
    const auto h = cadence::npy::read_f32(input, {}, x);
    if (h.shape.size() != 4 || h.shape[1] != f.in_chans)
      cadence::fail(input, ": expected a float32 (B,", f.in_chans, ",H,W) array, got ", cadence::npy::shape_string(h.shape));
    torch::NoGradGuard g;
    m.ptr()->eval();
    const auto logits = m.forward(torch::from_blob(x.data(), h.shape, torch::kFloat32)).contiguous();
    cadence::npy::write_f32(output, logits.sizes().vec(), std::span<const float>(logits.template data_ptr<float>(), static_cast<std::size_t>(logits.numel())));
    std::cout << "wrote " << output << " " << cadence::npy::shape_string(logits.sizes().vec()) << '\n';
  }
  return 0;
}

/// holdout | pretrain | finetune | predict | run
int job(const std::string& name, const std::vector<std::string>& argv) {
  const auto args = parse(argv);
  if (!args.out.empty()) cadence::fail("--out is for preview; ", name, " writes to run.dir");
  return with_pipeline(args.config, [&](auto pipeline, const cadence::config::json& j) {
    std::cout << "pipeline: " << pipeline << '\n';
    namespace r = cadence::recipes;
    if (name == "holdout") {
      const auto h = r::holdout(pipeline, j);
      std::printf("validation ROC AUC: %.4f (best epoch %d), with TTA: %.4f\nsubmission: %s\nrun directory: %s\n", h.best_auc,
                  h.best_epoch, h.tta_auc, h.submission.string().c_str(), h.dir.string().c_str());
    } else if (name == "pretrain") {
      std::printf("pretrain validation ROC AUC: %.4f\n", r::pretrain(pipeline, j));
    } else if (name == "finetune") {
      const auto f = r::finetune(pipeline, j);
      std::printf("CV ROC AUC (out of fold): %.4f\nreport: %s\n", f.cv_auc, f.report.string().c_str());
    } else if (name == "predict") {
      std::printf("submission: %s\n", r::predict(pipeline, j).string().c_str());
    } else {
      const auto f = r::run(pipeline, j);
      if (f.pretrain_auc >= 0) std::printf("pretrain validation ROC AUC: %.4f\n", f.pretrain_auc);
      std::printf("CV ROC AUC (out of fold): %.4f\nsubmission: %s\nreport: %s\n", f.cv_auc, f.submission.string().c_str(),
                  f.report.string().c_str());
    }
    return 0;
  });
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  if (args.empty() || args[0] == "--help" || args[0] == "-h") {
    std::cout << usage;
    return args.empty() ? 2 : 0;
  }
  try {
    for (const char* j : {"run", "pretrain", "finetune", "predict", "holdout"})
      if (args[0] == j) return job(j, {args.begin() + 1, args.end()});
    if (args[0] == "preview") return preview({args.begin() + 1, args.end()});
    if (args[0] == "model") return model({args.begin() + 1, args.end()});
    cadence::fail("unknown command `", args[0], "` (see seti --help)");
  } catch (const std::exception& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
}
