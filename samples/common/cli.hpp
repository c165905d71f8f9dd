#pragma once
// What the sample programs share on top of CLI11: one-line errors, --help on every subcommand, and an
// Options aggregate's fields as flags (`positive_rate` is --positive-rate), read back through the
// same JSON reader as a config file, so a bad value names its key as it would in JSON.
#include <algorithm>
#include <cstdio>
#include <exception>
#include <iostream>
#include <string>
#include <string_view>
#include <vector>

#include <CLI/CLI.hpp>

#include "cadence/config/options.hpp"
#include "cadence/config/overrides.hpp"
#include "cadence/core/error.hpp"
#include "cadence/core/interrupt.hpp"

namespace cli {

/// Parses argv into `app`, then runs `body`. --help prints the (sub)command's help and exits 0; a
/// usage error or an exception from `body` prints one line starting with "error: " and exits 2 or 1.
template <class F>
int run(CLI::App& app, int argc, char** argv, F&& body) {
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp&) {
    const CLI::App* shown = &app;  // the deepest subcommand that was named
    for (auto* sub = shown; sub != nullptr;) {
      shown = sub;
      const auto subs = sub->get_subcommands();
      sub = subs.empty() ? nullptr : subs.front();
    }
    std::cout << shown->help();
    return 0;
  } catch (const CLI::ParseError& e) {
    std::string what = e.what(), where = app.get_name();
    const std::string first = argc > 1 ? argv[1] : "";
    std::vector<std::string> commands;
    for (const auto* sub : app.get_subcommands([](const CLI::App*) { return true; }))
      commands.push_back(sub->get_name());
    const bool is_command = std::find(commands.begin(), commands.end(), first) != commands.end();
    if (!commands.empty() && !first.empty() && first[0] != '-' && !is_command) {
      what = "unknown command `" + first + "` (commands:";
      for (const auto& c : commands) what += " " + c;
      what += ")";
    } else if (is_command) {
      where += " " + first;
    }
    for (char& c : what)
      if (c == '\n') c = ' ';
    std::fprintf(stderr, "error: %s (see %s --help)\n", what.c_str(), where.c_str());
    return 2;
  }
  try {
    return body();
  } catch (const cadence::Interrupted& e) {  // SIGINT/SIGTERM: the checkpoint is written
    std::fprintf(stderr, "interrupted: %s\n", e.what());
    return 128 + e.signal;
  } catch (const cadence::Error& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  } catch (const std::bad_alloc&) {
    std::fprintf(stderr,
                 "error: out of memory (a batch size, image size or model option too large for this machine?)\n");
    return 1;
  } catch (const std::exception& e) {  // LibTorch's errors carry a stack trace: their first line only
    std::fprintf(stderr, "error: %s\n", cadence::first_line(e.what(), 300).c_str());
    return 1;
  }
}

namespace detail {
struct FieldFlags {
  CLI::App& app;
  std::vector<std::string>& given;
  template <class T, class... Checks>
  void operator()(std::string_view key, T& value, Checks&&...) {
    std::string flag = "--" + std::string(key);
    for (char& c : flag)
      if (c == '_') c = '-';
    const auto shown = cadence::config::write_value(value);
    app.add_option_function<std::string>(
        flag,
        [&given = given, flag](const std::string& v) {
          given.insert(given.end(), {flag, v});
        },
        "default: " + (shown.is_string() ? shown.template get<std::string>() : shown.dump()));
  }
};
}  // namespace detail

/// Adds one --flag per field of `defaults` (an Options aggregate) to `app`; the given ones are
/// collected as "--flag value" pairs for cadence::config::flags_to_json.
template <class Options>
void add_fields(CLI::App& app, Options defaults, std::vector<std::string>& given) {
  detail::FieldFlags v{app, given};
  defaults.fields(v);
}

/// The --config FILE / --set key.path=value pair every job takes, read into one JSON object.
struct ConfigArgs {
  std::string file;
  std::vector<std::string> sets;
  void add_to(CLI::App& app) {
    app.add_option("--config", file, "the JSON configuration (e.g. samples/seti/configs/demo.json)")->required();
    app.add_option("--set", sets, "override one value: --set train.epochs=2 --set run.dir=runs/try (repeatable)");
  }
  cadence::config::json load() const {
    auto j = cadence::config::load_file(file);
    for (const auto& s : sets) cadence::config::apply_override(j, s);
    return j;
  }
};

}  // namespace cli
