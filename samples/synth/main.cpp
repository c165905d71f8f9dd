// cadence-synth: writes a synthetic SETI dataset in the Kaggle competition's layout.
//
//   cadence-synth --root data/synthetic --train 1200 --test 400 --old 1200 --seed 0
//
// Every option of cadence::synth::SynthOptions is a flag (`positive_rate` is --positive-rate).
#include <cstdio>
#include <iostream>
#include <string>
#include <vector>

#include "cadence/config/overrides.hpp"
#include "cadence/synth/generator.hpp"

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  bool quiet = false;
  for (auto it = args.begin(); it != args.end();) {
    if (*it == "--help" || *it == "-h") {
      std::cout << "usage: cadence-synth [--name value ...] [--quiet]\n\noptions (defaults):\n"
                << cadence::config::write(cadence::synth::SynthOptions{}).dump(2) << '\n';
      return 0;
    }
    if (*it == "--quiet") { quiet = true; it = args.erase(it); } else ++it;
  }
  try {
    const auto options = cadence::config::parse<cadence::synth::SynthOptions>(cadence::config::flags_to_json(args));
    cadence::synth::generate(options, quiet);
    std::printf("wrote %d train, %d test, %d old cadences to %s\n", options.train, options.test, options.old,
                options.root.string().c_str());
  } catch (const std::exception& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
  return 0;
}
