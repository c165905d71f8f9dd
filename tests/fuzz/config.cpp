// libFuzzer target: a JSON config with --set overrides, read into real Options types (the ensemble's
// and the synthetic generator's: nested objects, arrays, enums, required keys, range checks).
// Input: lines `--set key.path=value` first, then the JSON document (parsed strictly, as load_file does:
// the corpus has duplicate keys, deep nesting and numbers out of range).
#include <cstddef>
#include <cstdint>
#include <string>

#include "cadence/config/options.hpp"
#include "cadence/config/overrides.hpp"
#include "cadence/recipes/ensemble.hpp"
#include "cadence/synth/generator.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string text(reinterpret_cast<const char*>(data), size);
  std::vector<std::string> sets;
  while (text.rfind("--set ", 0) == 0) {
    const auto nl = text.find('\n');
    sets.push_back(text.substr(6, nl == std::string::npos ? std::string::npos : nl - 6));
    text = nl == std::string::npos ? "" : text.substr(nl + 1);
  }
  // the product's parser (config::load_file's): a document, or one cadence::Error line (a key twice,
  // nesting deeper than 64, a number beyond a double, a syntax error); any other exception is a crash
  cadence::config::json j;
  try {
    j = cadence::config::parse_strict(text, "fuzz.json");
  } catch (const cadence::Error& e) {
    if (std::string(e.what()).find('\n') != std::string::npos) __builtin_trap();  // one line
    return 0;
  }
  try {
    for (const auto& s : sets) cadence::config::apply_override(j, s);
    try {
      const auto e = cadence::config::parse<cadence::EnsembleConfig>(j);
      const auto back = cadence::config::write(e);  // what was read writes back and reads again the same
      if (cadence::config::write(cadence::config::parse<cadence::EnsembleConfig>(back)) != back) __builtin_trap();
    } catch (const cadence::Error&) {}
    if (j.is_object() && j.contains("synth"))
      (void)cadence::config::parse<cadence::synth::SynthOptions>(j["synth"], "/synth");
  } catch (const cadence::Error&) {
  } catch (const cadence::config::json::exception&) {  // not JSON at all: nlohmann's own parse error
  }
  return 0;
}
