// cadence-synth: writes a synthetic SETI dataset in the Kaggle competition's layout.
//
//   cadence-synth --root data/synthetic --train 1200 --test 400 --old 1200 --seed 0
//   cadence-synth observation --root data/observation --channels 1048576 --signals 16   (six .fil files for seti scan)
//
// Every option of cadence::synth::SynthOptions is a flag (`positive_rate` is --positive-rate); the
// values go through the same JSON reader as a config file, so a bad one names its key.
#include <cstdio>
#include <string>
#include <vector>

#include "cadence/config/overrides.hpp"
#include "cadence/synth/generator.hpp"
#include "cadence/synth/observation.hpp"
#include "common/cli.hpp"

int main(int argc, char** argv) {
  CLI::App app{"cadence-synth: a synthetic SETI dataset (setigen's physics) in the Kaggle competition's layout",
               "cadence-synth"};
  std::vector<std::string> flags;
  bool quiet = false;
  std::string preset;
  cli::add_fields(app, cadence::synth::SynthOptions{}, flags);
  app.add_flag("--quiet", quiet, "no progress bar");
  app.add_option("--preset", preset, "shift: the shift benchmark's families (below)")->check(CLI::IsMember({"shift"}));
  {
    using namespace cadence::synth;
    app.footer(
        "\nFamilies (comma-separated lists; train and old draw from --paths ... --skip-panel, test from the\n"
        "--test-... lists where given, else from the same):\n"
        "  --paths          " +
        family_names(kPaths) +
        "\n"
        "  --intensities    " +
        family_names(kIntensities) +
        "\n"
        "  --profiles       " +
        family_names(kProfiles) +
        "\n"
        "  --interference   " +
        family_names(kInterference) +
        "\n"
        "                   (drawn for --rfi-rate of the samples, either class)\n"
        "  --snr-dist       uniform,log_uniform (one of)\n"
        "  --skip-panel     the fraction of positives missing from one ON panel\n"
        "The truth files (test_labels.csv, train_signals.csv) name each sample's families and\n"
        "parameters, and each signal's ON-panel energy against a constant one of its SNR\n"
        "(docs/synthetic.md).\n\n"
        "A shift benchmark (docs/quality.md): --preset shift (train: straight signals and all-panel\n"
        "interference; test: every family); the options given beside it override it.\n");
  }
  std::vector<std::string> obs_flags;
  auto* obs =
      app.add_subcommand("observation", "a whole observation for seti scan: six .fil files (ABACAD) and signals.csv");
  cli::add_fields(*obs, cadence::synth::ObservationOptions{}, obs_flags);
  app.require_subcommand(0, 1);
  return cli::run(app, argc, argv, [&] {
    if (obs->parsed()) {
      const auto o =
          cadence::config::parse<cadence::synth::ObservationOptions>(cadence::config::flags_to_json(obs_flags));
      const auto files = cadence::synth::generate_observation(o);
      std::printf("wrote %s ... %s (%lld channels x %d samples each) and %s\n", files.front().string().c_str(),
                  files.back().string().c_str(), static_cast<long long>(o.channels), o.samples,
                  (o.root / "signals.csv").string().c_str());
      return 0;
    }
    auto given = preset == "shift" ? cadence::synth::shift_preset() : cadence::config::json::object();
    given.merge_patch(cadence::config::flags_to_json(flags));
    const auto options = cadence::config::parse<cadence::synth::SynthOptions>(given);
    cadence::synth::generate(options, quiet);
    std::printf("wrote %d train, %d test, %d old cadences to %s\n", options.train, options.test, options.old,
                options.root.string().c_str());
    return 0;
  });
}
