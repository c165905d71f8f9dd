// seti: the competition's pipelines as one command-line program (CLI11).
//
//   seti run --config samples/seti/configs/demo.json [--set train.epochs=2 ...] [--resume] [--quiet]
//   seti ensemble --config samples/seti/configs/ensemble_demo.json
//   seti scan --config samples/seti/configs/demo.json --run runs/demo --cadence a1.h5 b.h5 a2.h5 c.h5 a3.h5 d.h5
//
// The config's model.arch picks the compiled pipeline: small_cnn, or EfficientNetV2-S/-M (plain or
// tf_) behind the learned resizer. `seti --help` and `seti <command> --help` list everything.
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <span>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "cadence/augment/augment.hpp"
#include "cadence/batch/mixup.hpp"
#include "cadence/config/overrides.hpp"
#include "cadence/data/load.hpp"
#include "cadence/data/png.hpp"
#include "cadence/detect/background.hpp"
#include "cadence/detect/dedoppler.hpp"
#include "cadence/detect/hit_search_torch.hpp"
#include "cadence/infer/tta.hpp"
#include "cadence/nn/efficientnet_v2.hpp"
#include "cadence/nn/model.hpp"
#include "cadence/nn/resize.hpp"
#include "cadence/nn/small_cnn.hpp"
#include "cadence/nn/timm_import.hpp"
#include "cadence/recipes/competition.hpp"
#include "cadence/recipes/ensemble.hpp"
#include "cadence/recipes/holdout.hpp"
#include "cadence/recipes/scan.hpp"
#include "cadence/recipes/scan_manifest.hpp"
#include "common/cli.hpp"
#include "seti/architectures.hpp"

namespace {

using seti::Ops;

/// Calls f(pipeline, j) with the pipeline compiled for j's `model.arch` (architectures.hpp's table; the
/// library validates the key again, like every other, when it reads the config).
template <class F>
int with_pipeline(const cadence::config::json& j, F&& f) {
  if (!j.is_object()) cadence::fail("config: expected a JSON object at the top level, got ", j.type_name());
  if (!j.contains("model") || !j["model"].is_object() || !j["model"].contains("arch"))
    cadence::fail("/model/arch: missing (required, no default; one of: ", seti::architecture_names(), ")");
  if (!j["model"]["arch"].is_string())
    cadence::fail("/model/arch: expected a string, got ", j["model"]["arch"].type_name());
  const auto arch = j["model"]["arch"].get<std::string>();
  int status = 0;
  const bool found = seti::with_architecture(arch, [&](const auto& entry) {
    if constexpr (std::remove_cvref_t<decltype(entry)>::has_jobs)
      status = f(entry.pipeline(), j);
    else
      cadence::fail("/model/arch: \"", arch,
                    "\" is not compiled into this seti (built with CADENCE_SETI_ARCHITECTURES=",
                    seti::kCompiledArchitectures, ")");
  });
  if (!found)
    cadence::fail("/model/arch: unknown value \"", cadence::first_line(arch, 60),
                  "\" (expected one of: ", seti::architecture_names(), ")");
  return status;
}

template <class P>
int preview_with(P pipeline, const cadence::config::json& config, const std::string& out_dir) {
  cadence::CompetitionConfig recipe;
  cadence::config::read_config(config, pipeline, recipe);
  if constexpr (!P::template contains<Ops>) {
    std::ostringstream shown;
    shown << pipeline;
    cadence::fail("preview: the pipeline (", shown.str(), ") has no Augment stage to preview");
  }
  const auto& load = cadence::source_of(pipeline);
  const auto data = load.open(cadence::Split::train);
  std::int64_t index = -1;
  for (std::size_t i = 0; i < data.size() && index < 0; ++i)
    if (data.entries[i].target >= 0.5f) index = static_cast<std::int64_t>(i);
  if (index < 0) cadence::fail("preview: no positive sample in ", load.options.root.string());
  auto loader = load.loader(data, {index}, 1, 2, cadence::source_hooks(pipeline));
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
  if constexpr (!P::template contains<Ops>) {
    return 0;  // refused above
  } else {
    const auto& ops = pipeline.template get<Ops>();
    one(ops.template op<0>(), "vflip");
    one(ops.template op<1>(), "ssr");
    one(ops.template op<2>(), "motion_blur");
    one(ops.template op<3>(), "spec_aug");
    auto all = image.clone();
    ops.apply(all, {recipe.run.seed, 0, key});
    write("augment", all);
  }
  return 0;
}

/// The bare backbone `arch` names (architectures.hpp's table).
torch::nn::AnyModule build_arch(const std::string& arch, const cadence::EffNetV2Options& o, std::int64_t in_chans,
                                std::int64_t classes) {
  torch::nn::AnyModule m;
  const bool found = seti::with_architecture(arch, [&](const auto& entry) {
    using E = std::remove_cvref_t<decltype(entry)>;
    using Arch = typename E::tag;
    if constexpr (std::is_same_v<typename Arch::Options, cadence::EffNetV2Options>)
      m = Arch::build(o, in_chans, classes, arch);
    else if constexpr (E::has_backbone)
      m = Arch::build(typename Arch::Options{}, in_chans, classes);
  });
  if (m.is_empty())
    cadence::fail("--arch `", cadence::first_line(arch, 60), "`: expected one of ",
                  seti::architecture_names(/*backbones_only=*/true),
                  found ? " (this one has no backbone to build)" : "");
  return m;
}

struct ModelFlags {
  std::int64_t classes = 1000, in_chans = 3;
  cadence::EffNetV2Options net;
  template <class V>
  void fields(V& v) {
    v("classes", classes, cadence::config::in_range(1, 100000));
    v("in_chans", in_chans, cadence::config::in_range(1, 64));
    v("width_multiplier", net.width_multiplier, cadence::config::above(0.0), cadence::config::in_range(0.0, 8.0));
    v("depth_multiplier", net.depth_multiplier, cadence::config::above(0.0), cadence::config::in_range(0.0, 8.0));
  }
};

struct ModelArgs {
  std::string arch, weights, input, output;
  bool summary = false;
  std::vector<std::string> flags;  // ModelFlags as --name value
};

int model(const ModelArgs& a) {
  const auto f = cadence::config::parse<ModelFlags>(cadence::config::flags_to_json(a.flags));
  torch::set_num_threads(
      static_cast<int>(std::max(1u, std::thread::hardware_concurrency())));  // PyTorch alone picks 1 on 2 vCPUs
  auto m = build_arch(a.arch, f.net, f.in_chans, f.classes);
  if (!a.weights.empty()) {
    cadence::ImportOptions io;
    io.expect_model = a.arch;
    cadence::load_state_dict(*m.ptr(), a.weights, io);
  }
  if (a.summary) {
    std::int64_t n = 0;
    for (const auto& p : m.ptr()->parameters()) n += p.numel();
    std::string digits = std::to_string(n), grouped;
    for (std::size_t i = 0; i < digits.size(); ++i) {
      if (i > 0 && (digits.size() - i) % 3 == 0) grouped += ',';
      grouped += digits[i];
    }
    std::cout << *m.ptr() << '\n' << a.arch << ": " << grouped << " parameters\n";
  }
  if (!a.input.empty()) {
    if (a.output.empty()) cadence::fail("--input needs --output LOGITS.npy");
    std::vector<float> x;
    const auto head = cadence::npy::read_header(a.input);  // sizes first, before any allocation
    if (head.shape.size() != 4 || head.shape[1] != f.in_chans || head.shape[0] < 1 || head.shape[0] > 4096 ||
        head.shape[2] < 8 || head.shape[3] < 8 || head.shape[2] > 8192 || head.shape[3] > 8192)
      cadence::fail(a.input, ": expected a (B,", f.in_chans,
                    ",H,W) array with 1 <= B <= 4096 and 8 <= H, W <= 8192, got ",
                    cadence::npy::shape_string(head.shape));
    const auto h = cadence::npy::read_f32(a.input, {}, x);
    torch::NoGradGuard g;
    m.ptr()->eval();
    const auto logits = m.forward(torch::from_blob(x.data(), h.shape, torch::kFloat32)).contiguous();
    cadence::npy::write_f32(
        a.output, logits.sizes().vec(),
        std::span<const float>(logits.template data_ptr<float>(), static_cast<std::size_t>(logits.numel())));
    std::cout << "wrote " << a.output << " " << cadence::npy::shape_string(logits.sizes().vec()) << '\n';
  }
  return 0;
}

/// In a data-parallel run (torchrun's RANK, ...) only rank 0 prints results; true on rank 0.
bool quiet_unless_rank0() {
  if (cadence::dist::World::from_env().rank == 0) return true;
  if (std::freopen("/dev/null", "w", stdout) == nullptr) cadence::fail("cannot silence stdout on a rank other than 0");
  return false;
}

/// holdout | pretrain | finetune | predict | run, on the pipeline that j's model.arch names.
int job(const std::string& name, const cadence::config::json& config) {
  quiet_unless_rank0();
  return with_pipeline(config, [&](auto pipeline, const cadence::config::json& j) {
    std::cout << "pipeline: " << pipeline << '\n';
    namespace r = cadence::recipes;
    if (name == "holdout") {
      const auto h = r::holdout(pipeline, j);
      std::printf("validation ROC AUC: %.4f (best epoch %d), with TTA: %.4f\nsubmission: %s\nrun directory: %s\n",
                  h.best_auc, h.best_epoch, h.tta_auc, h.submission.string().c_str(), h.dir.string().c_str());
    } else if (name == "pretrain") {
      std::printf("pretrain validation ROC AUC: %.4f\n", r::pretrain(pipeline, j));
    } else if (name == "finetune") {
      const auto f = r::finetune(pipeline, j);
      std::printf("CV ROC AUC (out of fold): %.4f\nreport: %s\n", f.cv_auc, f.report.string().c_str());
    } else if (name == "check") {
      std::printf("%s", r::check(pipeline, j).c_str());
    } else if (name == "predict") {
      std::printf("submission: %s\n", r::predict(pipeline, j).string().c_str());
    } else {
      const auto f = r::run(pipeline, j);
      if (f.pretrain_auc >= 0) std::printf("pretrain validation ROC AUC: %.4f\n", f.pretrain_auc);
      std::printf("CV ROC AUC (out of fold): %.4f\nsubmission: %s\nreport: %s\n", f.cv_auc,
                  f.submission.string().c_str(), f.report.string().c_str());
    }
    return 0;
  });
}

/// Every member's config read and validated, naming the member on error, and the members' folds compared:
/// all before the first member trains (a member's bad config, or folds the blend cannot join, used to
/// surface after the others had trained).
void check_members(const cadence::EnsembleOptions& e, const std::vector<cadence::config::json>& members) {
  std::vector<std::pair<int, std::uint64_t>> folds;  // (train.folds, run.seed): what decides each id's fold
  for (std::size_t i = 0; i < members.size(); ++i) {
    try {
      with_pipeline(members[i], [&](auto pipeline, const cadence::config::json& mj) {
        cadence::CompetitionConfig cfg;
        cadence::config::read_config(mj, pipeline, cfg);
        cfg.validate();
        folds.emplace_back(cfg.train.folds, static_cast<std::uint64_t>(cfg.run.seed));
        return 0;
      });
    } catch (const cadence::Error& err) {
      cadence::fail("/ensemble/members/", i, " (", e.members[i].name, "): ", err.what());
    }
    if (folds[i] != folds[0])
      cadence::fail("/ensemble/members/", i, " (", e.members[i].name, "): train.folds ", folds[i].first,
                    " and run.seed ", folds[i].second, ", but member ", e.members[0].name, " has ", folds[0].first,
                    " and ", folds[0].second,
                    ": the blend joins the members' out-of-fold predictions, so they need the "
                    "same folds (give every member the same train.folds and run.seed)");
  }
}

/// Runs every member of the ensemble in its own directory (each on its own pipeline), then blends.
int ensemble(const std::string& file, const cadence::config::json& j, bool quiet) {
  const auto e = cadence::config::parse<cadence::EnsembleConfig>(j).ensemble;
  const bool rank0 = quiet_unless_rank0();
  const auto base = std::filesystem::path(file).parent_path();
  std::vector<cadence::config::json> members;
  for (const auto& m : e.members) {
    members.push_back(cadence::recipes::member_config(e, m, base));  // all errors before any work
    if (quiet) cadence::config::apply_override(members.back(), "run.quiet=true");
  }
  check_members(e, members);
  std::filesystem::create_directories(e.dir);
  if (rank0)
    cadence::write_text_atomically(e.dir / "ensemble.json", [&](std::ostream& o) {
      o << cadence::config::write(cadence::EnsembleConfig{e}).dump(2) << '\n';
    });
  for (std::size_t i = 0; i < e.members.size(); ++i) {
    std::printf("member %s (%zu/%zu), run directory %s\n", e.members[i].name.c_str(), i + 1, e.members.size(),
                members[i]["run"]["dir"].get<std::string>().c_str());
    std::fflush(stdout);
    job("run", members[i]);
  }
  if (!rank0) return 0;  // rank 0 blends
  const auto r = cadence::recipes::blend(e);
  for (const auto& [name, auc] : r.member_auc) std::printf("member %s: out-of-fold ROC AUC %.4f\n", name.c_str(), auc);
  if (r.test_auc >= 0)
    std::printf("blend: test ROC AUC %.4f (test_labels.csv; predict.json has it by SNR, drift and family)\n",
                r.test_auc);
  std::printf("blend: out-of-fold ROC AUC %.4f\nsubmission: %s\nreport: %s\n", r.blend_auc,
              r.submission.string().c_str(), r.report.string().c_str());
  return 0;
}

}  // namespace

/// What a scan's search found: hits per file, the events, the best five.
void print_events(const cadence::ScanResult& r) {
  const auto& x = r.search;
  std::size_t hits = 0;
  for (const auto& d : x.dats) hits += d.hits.size();
  std::printf("searched 6 files: %zu hits (%lld drift rates, %.4g Hz/s apart%s), %zu event(s), in %.1f s\n", hits,
              static_cast<long long>(x.drifts), x.drift_step,
              x.masked > 0 ? (", " + std::to_string(x.masked) + " NaN/Inf samples masked").c_str() : "",
              x.events.size(), x.seconds);
  for (std::size_t k = 0; k < std::min<std::size_t>(5, x.events.size()); ++k) {
    const auto& e = x.events[k];
    std::printf("event %zu: %.6f MHz, %.4f Hz/s, SNR %.1f", k + 1, e.event.frequency, e.event.drift, e.event.snr);
    if (std::isfinite(e.score)) std::printf(", score %.4f", e.score);
    std::printf("\n");
  }
  std::printf("events: %s\n", x.csv.string().c_str());
}

/// The hit search's drift engine for run.device: LibTorch ops on a GPU, else the CPU threads.
cadence::detect::DriftSearch drift_search_for(const cadence::CompetitionConfig& cfg) {
  const torch::Device device = cfg.run.apply();
  return device.is_cuda() ? cadence::detect::torch_drift_search(device) : cadence::detect::DriftSearch{};
}

/// seti scan --manifest: each cadence of this process's shard into <scan.out>/<name>, complete ones
/// skipped, then the survey page of every complete cadence.
int scan_manifest(const cadence::config::json& j, const std::string& manifest, const std::string& run) {
  return with_pipeline(j, [&](auto pipeline, const cadence::config::json& cj) {
    namespace recipes = cadence::recipes;
    cadence::CompetitionConfig cfg;
    cadence::config::read_config(cj, pipeline, cfg);
    cfg.validate();
    if (cfg.scan.out.empty())
      cadence::fail("/scan/out: with --manifest, give the directory the cadences' directories go under");
    const auto entries = recipes::read_manifest(manifest);
    const auto shard = recipes::shard_from_environment();
    int scanned = 0, complete = 0;
    for (auto i = static_cast<std::size_t>(shard.index); i < entries.size();
         i += static_cast<std::size_t>(shard.count)) {
      const auto& e = entries[i];
      const auto dir = cfg.scan.out / e.name;
      if (recipes::scan_complete(dir)) {
        ++complete;
        continue;
      }
      cadence::ScanResult r;
      try {
        if (run.empty()) {
          cadence::ScanOptions so = cfg.scan;
          so.out = dir;
          r.search = recipes::search(so, e.files, cfg.run.quiet, drift_search_for(cfg));
        } else {
          auto one = cj;
          one["scan"]["out"] = dir.string();
          r = recipes::scan(pipeline, one, e.files, run);
        }
      } catch (const std::exception& x) {
        cadence::fail(manifest, ":", e.line, " (", e.name, "): ", cadence::first_line(x.what()));
      }
      ++scanned;
      std::printf("cadence %s: %zu event(s)\n", e.name.c_str(), r.search.events.size());
    }
    recipes::write_survey(cfg.scan.out, entries);
    std::printf("%s: %d cadence(s) scanned, %d already complete; survey: %s\n", shard.from.c_str(), scanned, complete,
                (cfg.scan.out / "survey.html").string().c_str());
    return 0;
  });
}

int main(int argc, char** argv) {
  CLI::App app{"seti: the SETI Breakthrough Listen competition pipeline, built on cadence", "seti"};
  app.require_subcommand(1);
  cli::ConfigArgs config;
  bool resume = false, quiet = false;
  std::string job_name;
  const std::vector<std::pair<const char*, const char*>> jobs = {
      {"run", "pretrain, finetune and predict"},
      {"pretrain", "hold-out training on old_leaky_data; best weights in <run.dir>/pretrain/"},
      {"finetune", "stratified K-fold on train from the pretrained weights; oof.csv, cv.json, report.html"},
      {"predict", "the fold ensemble x TTA on test (blended with predict.blend); submission.csv"},
      {"holdout", "one hold-out run on train, then predict: the quickest end-to-end check"},
      {"check",
       "check the config and every input it names (labels, each file's header, folds, blend files) without training"}};
  for (const auto& [name, help] : jobs) {
    auto* sub = app.add_subcommand(name, help);
    config.add_to(*sub);
    if (std::string_view(name) != "check") {  // check trains nothing: nothing to resume, no bars
      sub->add_flag("--resume", resume, "continue each fold from its last checkpoint (run.resume=true)");
      sub->add_flag("--quiet", quiet, "no progress bars (run.quiet=true)");
    }
    sub->callback([&job_name, n = std::string(name)] { job_name = n; });
  }
  auto* ens =
      app.add_subcommand("ensemble", "run each member of an ensemble config in its own directory, then blend them");
  config.add_to(*ens);
  bool ensemble_quiet = false;
  ens->add_flag("--quiet", ensemble_quiet, "no progress bars in any member (run.quiet=true)");
  std::string out;
  auto* prev =
      app.add_subcommand("preview", "write before/after PNGs of each augment op on a positive training sample");
  config.add_to(*prev);
  prev->add_option("--out", out, "the directory for the PNGs")->required();
  std::string scan_run;
  std::vector<std::string> scan_files;
  bool scan_quiet = false;
  auto* scn =
      app.add_subcommand("scan",
                         "search an observation (six .fil/.h5 files, ABACAD) for drifting signals: turboSETI .dat "
                         "files, ON/OFF events ranked by a run's folds (events.csv), waterfall PNGs, scan.html");
  config.add_to(*scn);
  scn->add_option("--run", scan_run,
                  "the run directory whose fold_<k>/model.pt score the events (or windows); without it, the search "
                  "alone (scan.out required)");
  std::string scan_manifest_file;
  auto* cadence_option = scn->add_option("--cadence", scan_files, "the six files of the cadence, in observing order");
  scn->add_option(
         "--manifest", scan_manifest_file,
         "a CSV of cadences (name,file1,...,file6) to scan into <scan.out>/<name>, sharded over RANK/WORLD_SIZE "
         "or a SLURM array; then survey.html")
      ->excludes(cadence_option);
  scn->add_flag("--quiet", scan_quiet, "no progress bar (run.quiet=true)");
  ModelArgs margs;
  auto* mod = app.add_subcommand(
      "model", "build a backbone: its parameter count and module tree, or one forward pass of a .npy");
  mod->add_option("--arch", margs.arch, seti::architecture_names(/*backbones_only=*/true))->required();
  mod->add_option("--weights", margs.weights, "a timm state_dict (.safetensors or a torch.save'd dict) to load");
  mod->add_option("--input", margs.input, "a float32 (B,C,H,W) .npy to run in eval mode");
  mod->add_option("--output", margs.output, "where --input's logits go (.npy)");
  mod->add_flag("--summary", margs.summary, "print the module tree and the parameter count");
  cli::add_fields(*mod, ModelFlags{}, margs.flags);

  return cli::run(app, argc, argv, [&]() -> int {
    if (!job_name.empty()) {
      auto j = config.load();
      if (resume) cadence::config::apply_override(j, "run.resume=true");
      if (quiet) cadence::config::apply_override(j, "run.quiet=true");
      return job(job_name, j);
    }
    if (ens->parsed()) return ensemble(config.file, config.load(), ensemble_quiet);
    if (scn->parsed()) {
      auto j = config.load();
      if (scan_quiet) cadence::config::apply_override(j, "run.quiet=true");
      if (!scan_manifest_file.empty()) return scan_manifest(j, scan_manifest_file, scan_run);
      if (scan_files.empty())
        cadence::fail("scan: give the six files of a cadence (--cadence) or a --manifest of cadences");
      if (scan_run.empty())  // the search alone: .dat files and unscored events
        return with_pipeline(j, [&](auto pipeline, const cadence::config::json& cj) {
          cadence::CompetitionConfig cfg;
          cadence::config::read_config(cj, pipeline, cfg);
          cfg.validate();
          const std::vector<std::filesystem::path> files(scan_files.begin(), scan_files.end());
          cadence::ScanResult r;
          r.search = cadence::recipes::search(cfg.scan, files, cfg.run.quiet, drift_search_for(cfg));
          print_events(r);
          return 0;
        });
      return with_pipeline(j, [&](auto pipeline, const cadence::config::json& cfg) {
        const std::vector<std::filesystem::path> files(scan_files.begin(), scan_files.end());
        const auto r = cadence::recipes::scan(pipeline, cfg, files, scan_run);
        if (r.mode != cadence::ScanMode::windows) print_events(r);
        if (r.mode == cadence::ScanMode::events) {
          std::printf("page: %s\n", r.html.string().c_str());
          return 0;
        }
        std::string notes;
        if (r.skipped > 0) notes += ", " + std::to_string(r.skipped) + " skipped: a panel all NaN/Inf, or no power";
        if (r.masked_windows > 0)
          notes += ", " + std::to_string(r.masked_samples) + " NaN/Inf samples masked in " +
                   std::to_string(r.masked_windows) + " windows";
        std::printf("scanned %lld windows with %zu model(s) x %d round(s) in %.1f s (%.1f windows/s)%s\n",
                    static_cast<long long>(r.windows), r.models, r.rounds, r.seconds, r.windows_per_s, notes.c_str());
        for (std::size_t k = 0; k < std::min<std::size_t>(5, r.hits.size()); ++k)
          std::printf("hit %zu: channels %lld-%lld, score %.4f\n", k + 1, static_cast<long long>(r.hits[k].first),
                      static_cast<long long>(r.hits[k].first + r.hits[k].width - 1), r.hits[k].score);
        std::printf("hits: %s\npage: %s\n", r.csv.string().c_str(), r.html.string().c_str());
        return 0;
      });
    }
    if (prev->parsed())
      return with_pipeline(
          config.load(), [&](auto pipeline, const cadence::config::json& j) { return preview_with(pipeline, j, out); });
    return model(margs);
  });
}
