// cadence-synth: writes a synthetic SETI dataset in the Kaggle competition's layout.
//
//   cadence-synth --root data/synthetic --train 1200 --test 400 --old 1200 --seed 0
//
// Every option of cadence::synth::SynthOptions is a flag (`positive_rate` is --positive-rate); the
// values go through the same JSON reader as a config file, so a bad one names its key.
#include <cstdio>
#include <string>
#include <vector>

#include "cadence/config/overrides.hpp"
#include "cadence/synth/generator.hpp"
#include "common/cli.hpp"

int main(int argc, char** argv) {
  CLI::App app{"cadence-synth: a synthetic SETI dataset (setigen's physics) in the Kaggle competition's layout", "cadence-synth"};
  std::vector<std::string> flags;
  bool quiet = false;
  cli::add_fields(app, cadence::synth::SynthOptions{}, flags);
  app.add_flag("--quiet", quiet, "no progress bar");
  return cli::run(app, argc, argv, [&] {
    const auto options = cadence::config::parse<cadence::synth::SynthOptions>(cadence::config::flags_to_json(flags));
    cadence::synth::generate(options, quiet);
    std::printf("wrote %d train, %d test, %d old cadences to %s\n", options.train, options.test, options.old,
                options.root.string().c_str());
    return 0;
  });
}
