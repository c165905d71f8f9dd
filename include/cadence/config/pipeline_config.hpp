#pragma once
// A run's whole configuration is one JSON object: the recipe's sections ("run", "train", ...) and one
// object per stage under the stage's name ("load", "model", ...). Unknown sections are errors.
#include <type_traits>

#include "cadence/config/options.hpp"

namespace cadence::config {

/// Reads `j` into the recipe's sections and each stage's options (defaults kept for absent keys).
template <class Pipeline, class Recipe>
void read_config(const json& j, Pipeline& pipeline, Recipe& recipe) {
  Reader r(j, "");
  recipe.fields(r);
  pipeline.for_each([&](auto& s) {
    const std::string name(std::remove_cvref_t<decltype(s)>::name);
    if (j.contains(name)) r(name, s.options);
  });
  r.finish();
  pipeline.for_each([&](auto& s) {  // an absent section keeps its defaults, but a required key is still named
    const std::string name(std::remove_cvref_t<decltype(s)>::name);
    if (!j.contains(name)) read_value(json::object(), s.options, "/" + name);
  });
}

/// The resolved configuration (defaults filled in), as written beside every run's outputs.
template <class Pipeline, class Recipe>
json write_config(const Pipeline& pipeline, const Recipe& recipe) {
  json out = write(recipe);
  pipeline.for_each(
      [&](const auto& s) { out[std::string(std::remove_cvref_t<decltype(s)>::name)] = write_value(s.options); });
  return out;
}

}  // namespace cadence::config
