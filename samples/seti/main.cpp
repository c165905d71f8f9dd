// seti: the competition pipeline as a command-line program.
//
//   seti run --config samples/seti/configs/demo.json [--set train.epochs=2 ...]
//
// `run` trains the pipeline below with a stratified hold-out of train/, prints the validation ROC AUC
// and writes the Kaggle submission for test/ (see docs/skeleton.md).
#include <cstdio>
#include <cstring>
#include <iostream>
#include <string>
#include <vector>

#include "cadence/config/overrides.hpp"
#include "cadence/data/load.hpp"
#include "cadence/nn/model.hpp"
#include "cadence/nn/small_cnn.hpp"
#include "cadence/recipes/holdout.hpp"

namespace {

constexpr const char* usage =
    "usage: seti run --config FILE [--set key.path=value ...]\n"
    "\n"
    "  run       train with a stratified hold-out, report the validation ROC AUC, write submission.csv\n"
    "  --config  the JSON configuration (samples/seti/configs/demo.json)\n"
    "  --set     override one value, e.g. --set train.epochs=2 --set run.dir=runs/try\n";

int run(const std::vector<std::string>& args) {
  std::string config_file;
  std::vector<std::string> sets;
  for (std::size_t i = 0; i < args.size(); ++i) {
    if ((args[i] == "--config" || args[i] == "--set") && i + 1 >= args.size())
      cadence::fail(args[i], ": missing its value");
    if (args[i] == "--config") config_file = args[++i];
    else if (args[i] == "--set") sets.push_back(args[++i]);
    else cadence::fail("unknown argument `", args[i], "` (see seti --help)");
  }
  if (config_file.empty()) cadence::fail("--config FILE is required (see seti --help)");
  auto j = cadence::config::load_file(config_file);
  for (const auto& s : sets) cadence::config::apply_override(j, s);

  auto pipeline = cadence::Load{} | cadence::Model<cadence::SmallCnnArch>{};
  std::cout << "pipeline: " << pipeline << '\n';
  const auto r = cadence::recipes::holdout(pipeline, j);
  std::printf("validation ROC AUC: %.4f (epoch %d)\nsubmission: %s\nrun directory: %s\n", r.best_auc, r.best_epoch,
              r.submission.string().c_str(), r.dir.string().c_str());
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  if (args.empty() || args[0] == "--help" || args[0] == "-h") {
    std::cout << usage;
    return args.empty() ? 2 : 0;
  }
  try {
    if (args[0] == "run") return run({args.begin() + 1, args.end()});
    cadence::fail("unknown command `", args[0], "` (see seti --help)");
  } catch (const std::exception& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
}
