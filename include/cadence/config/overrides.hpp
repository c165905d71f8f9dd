#pragma once
// Command-line overrides of a JSON config: `key.path=value` (value parsed as JSON, else taken as a
// string), and `--flag-name value` lists turned into an object ({"flag_name": value}).
#include <string>
#include <string_view>
#include <vector>

#include "cadence/config/options.hpp"

namespace cadence::config {

inline json parse_scalar(const std::string& text) {
  json j;
  try {
    j = json::parse(text);
  } catch (const json::parse_error&) {
    return text;  // bare words are strings: run.device=cuda
  } catch (const json::out_of_range&) {
    fail("`", first_line(text, 40), "` is a number out of range");
  }
  std::string where = "`";  // built in steps: `"`" + std::string&&` trips GCC 12's -Wstringop-overflow
  where += first_line(text, 40);
  where += '`';
  return parse_strict(text, where);  // valid JSON: no key twice in an object
}

/// Applies `a.b.c=value` to `j`, creating objects on the way.
inline void apply_override(json& j, std::string_view full) {
  const std::string quoted = first_line(full, 120);
  const std::string_view assignment = full;
  const auto eq = assignment.find('=');
  if (eq == std::string_view::npos || eq == 0) fail("--set `", quoted, "`: expected key.path=value");
  json* node = &j;
  std::string_view path = assignment.substr(0, eq);
  for (;;) {
    const auto dot = path.find('.');
    const std::string key(path.substr(0, dot));
    if (key.empty()) fail("--set `", quoted, "`: empty key");
    if (node->is_null()) *node = json::object();
    if (!node->is_object())
      fail("--set `", quoted, "`: `", first_line(key, 80), "` is inside a value that is not an object");
    node = &(*node)[key];
    if (dot == std::string_view::npos) break;
    path.remove_prefix(dot + 1);
  }
  try {
    *node = parse_scalar(std::string(assignment.substr(eq + 1)));
  } catch (const Error& e) {
    fail("--set `", quoted, "`: ", e.what());
  }
}

/// `--train 100 --positive-rate 0.2` -> {"train": 100, "positive_rate": 0.2}.
inline json flags_to_json(const std::vector<std::string>& args) {
  json j = json::object();
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a.rfind("--", 0) != 0 || a.size() < 3) fail("argument `", a, "`: expected --name value");
    if (i + 1 >= args.size()) fail("argument `", a, "`: missing its value");
    std::string key = a.substr(2);
    for (char& c : key)
      if (c == '-') c = '_';
    j[key] = parse_scalar(args[++i]);
  }
  return j;
}

}  // namespace cadence::config
