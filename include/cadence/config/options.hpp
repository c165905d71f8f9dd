#pragma once
// JSON <-> Options, with the JSON path in every error.
//
// An Options aggregate lists its fields once, and that one list drives reading, writing and docs:
//
//   struct LoadOptions {
//     int threads = 0;                  // loader threads; 0 = all cores
//     template <class V> void fields(V& v) { v("threads", threads, config::at_least(0)); }
//   };
//
// Reading keeps defaults for absent keys and refuses unknown keys, wrong types and out-of-range
// values with messages like `/load/threads: -1 is below the minimum 0`.
#include <array>
#include <cerrno>
#include <cstring>
#include <cmath>
#include <concepts>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <limits>
#include <map>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "cadence/core/error.hpp"
#include "cadence/core/regular_file.hpp"

namespace cadence::config {

using json = nlohmann::json;

namespace detail {
struct AnyVisitor {
  template <class... A>
  void operator()(A&&...) const {}
};
}  // namespace detail

/// An Options aggregate: `template <class V> void fields(V& v)` lists its (key, member, checks...).
template <class T>
concept HasFields = std::is_class_v<T> && requires(T& t, detail::AnyVisitor& v) {
  t.fields(v);
};

/// Enums plug in with a free `enum_names(E)` found by ADL, returning pairs {value, "name"}.
template <class E>
concept NamedEnum = std::is_enum_v<E> && requires(E e) {
  enum_names(e);
};

// ---- checks: callables (value, path) that fail with the path -------------------------------------

struct AtLeast {
  double lo;
  template <class T>
  void operator()(const T& v, const std::string& path) const {
    if (static_cast<double>(v) < lo) fail(path, ": ", v, " is below the minimum ", lo);
  }
};
struct Above {
  double lo;
  template <class T>
  void operator()(const T& v, const std::string& path) const {
    if (!(static_cast<double>(v) > lo)) fail(path, ": ", v, " must be greater than ", lo);
  }
};
struct InRange {
  double lo, hi;
  template <class T>
  void operator()(const T& v, const std::string& path) const {
    if (!(static_cast<double>(v) >= lo && static_cast<double>(v) <= hi))
      fail(path, ": ", v, " is outside [", lo, ", ", hi, "]");
  }
};
struct Odd {
  template <class T>
  void operator()(const T& v, const std::string& path) const {
    if (v % 2 == 0) fail(path, ": ", v, " must be odd");
  }
};
struct NonEmpty {
  template <class T>
  void operator()(const T& v, const std::string& path) const {
    if (v.empty()) fail(path, ": must not be empty");
  }
};

/// A directory cadence will make (run.dir, scan.out, ensemble.dir): not empty, and short enough for a
/// file system (255 bytes a name, 4095 a path), so that a 5,000-character name is refused here, in a line
/// that quotes a piece of it, not by mkdir later with the whole of it.
struct FitsFileSystem {
  void operator()(const std::filesystem::path& p, const std::string& path) const {
    const auto s = p.string();
    if (s.empty()) fail(path, ": must not be empty");
    if (s.size() > 4095) fail(path, ": a path of ", s.size(), " characters (`", s.substr(0, 40), "...`); at most 4095");
    for (const auto& part : p) {
      const auto name = part.string();
      if (name.size() > 255)
        fail(path, ": `", name.substr(0, 40), "...` is a name of ", name.size(),
             " characters; a file system allows 255");
    }
  }
};

/// A key that must be present (no default). The Reader checks it when the key is absent.
struct Required {
  template <class T>
  void operator()(const T&, const std::string&) const {}
};
/// One of a fixed list of strings; the error lists them.
struct OneOf {
  std::vector<std::string_view> choices;
  void operator()(const std::string& v, const std::string& path) const {
    std::string list;
    for (auto c : choices) {
      if (v == c) return;
      list += (list.empty() ? "\"" : ", \"") + std::string(c) + "\"";
    }
    fail(path, ": unknown value \"", first_line(v, 80), "\" (expected one of: ", list, ")");
  }
};

inline Required required() { return {}; }
inline AtLeast at_least(double lo) { return {lo}; }
inline Above above(double lo) { return {lo}; }
inline InRange in_range(double lo, double hi) { return {lo, hi}; }
inline InRange probability() { return {0.0, 1.0}; }
inline Odd odd() { return {}; }
inline NonEmpty non_empty() { return {}; }
inline FitsFileSystem fits_file_system() { return {}; }

inline std::string child(const std::string& path, std::string_view key) { return path + "/" + std::string(key); }

inline std::string type_name(const json& j) { return j.type_name(); }

// ---- reading ------------------------------------------------------------------------------------

template <class T>
void read_value(const json& j, T& out, const std::string& path);

class Reader {
 public:
  Reader(const json& j, std::string path) : j_(j), path_(std::move(path)) {
    if (!j_.is_object()) fail(path_.empty() ? "/" : path_, ": expected an object, got ", type_name(j_));
  }

  template <class T, class... Checks>
  void operator()(std::string_view key, T& value, Checks&&... checks) {
    known_.emplace(key);
    auto it = j_.find(std::string(key));
    if (it == j_.end()) {
      if constexpr ((std::is_same_v<std::remove_cvref_t<Checks>, Required> || ...)) {
        std::string hint;
        (
            [&](const auto& c) {
              if constexpr (std::is_same_v<std::remove_cvref_t<decltype(c)>, OneOf>)
                for (auto choice : c.choices) hint += (hint.empty() ? "; one of: " : ", ") + std::string(choice);
            }(checks),
            ...);
        fail(child(path_, key), ": missing (required, no default", hint, ")");
      }
      return;  // keep the default
    }
    const std::string path = child(path_, key);
    read_value(*it, value, path);
    if constexpr (requires {
                    value.has_value();
                    *value;
                  }) {
      if (value) (checks(*value, path), ...);  // optional: checks apply to a present value
    } else {
      (checks(value, path), ...);
    }
  }

  /// Refuses keys that no field claimed.
  void finish() const {
    for (const auto& [key, _] : j_.items()) {
      if (known_.count(key) == 0) {
        std::string known;
        for (const auto& k : known_) known += (known.empty() ? "" : ", ") + k;
        fail(child(path_, first_line(key, 80)), ": unknown key (known keys: ", known.empty() ? "none" : known, ")");
      }
    }
  }

  const std::string& path() const { return path_; }

 private:
  const json& j_;
  std::string path_;
  std::set<std::string, std::less<>> known_;
};

template <class T>
void read_value(const json& j, T& out, const std::string& path) {
  if constexpr (std::is_same_v<T, bool>) {
    if (!j.is_boolean()) fail(path, ": expected a boolean, got ", type_name(j));
    out = j.get<bool>();
  } else if constexpr (std::is_integral_v<T>) {
    if (!j.is_number_integer()) fail(path, ": expected an integer, got ", type_name(j), " ", first_line(j.dump(), 80));
    if (j.is_number_unsigned()) {
      auto v = j.get<std::uint64_t>();
      if (v > static_cast<std::uint64_t>(std::numeric_limits<T>::max())) fail(path, ": ", v, " is too large");
      out = static_cast<T>(v);
    } else {
      auto v = j.get<std::int64_t>();
      if (v < static_cast<std::int64_t>(std::numeric_limits<T>::min()) ||
          (v > 0 && static_cast<std::uint64_t>(v) > static_cast<std::uint64_t>(std::numeric_limits<T>::max())))
        fail(path, ": ", v, " is out of range for this field");
      out = static_cast<T>(v);
    }
  } else if constexpr (std::is_floating_point_v<T>) {
    if (!j.is_number()) fail(path, ": expected a number, got ", type_name(j));
    out = j.get<T>();
    if (!std::isfinite(out)) fail(path, ": must be finite");
  } else if constexpr (std::is_same_v<T, std::string>) {
    if (!j.is_string()) fail(path, ": expected a string, got ", type_name(j));
    out = j.get<std::string>();
  } else if constexpr (std::is_same_v<T, std::filesystem::path>) {
    if (!j.is_string()) fail(path, ": expected a path string, got ", type_name(j));
    out = j.get<std::string>();
  } else if constexpr (NamedEnum<T>) {
    if (!j.is_string()) fail(path, ": expected a string, got ", type_name(j));
    const auto s = j.get<std::string>();
    std::string choices;
    for (const auto& [value, name] : enum_names(T{})) {
      if (s == name) {
        out = value;
        return;
      }
      choices += (choices.empty() ? "" : ", ") + std::string(name);
    }
    fail(path, ": unknown value \"", first_line(s, 80), "\" (expected one of: ", choices, ")");
  } else if constexpr (requires {
                         typename T::value_type;
                         out.push_back(std::declval<typename T::value_type>());
                       }) {
    if (!j.is_array()) fail(path, ": expected an array, got ", type_name(j));
    T result;
    for (std::size_t i = 0; i < j.size(); ++i) {
      typename T::value_type v{};
      read_value(j[i], v, child(path, std::to_string(i)));
      result.push_back(std::move(v));
    }
    out = std::move(result);
  } else if constexpr (requires {
                         typename T::value_type;
                         out.has_value();
                       }) {
    if (j.is_null()) {
      out.reset();
      return;
    }
    typename T::value_type v{};
    read_value(j, v, path);
    out = std::move(v);
  } else if constexpr (HasFields<T>) {
    Reader r(j, path);
    out.fields(r);
    r.finish();
  } else if constexpr (std::is_class_v<T> && std::is_empty_v<T>) {  // `struct Options {};`: an empty object
    Reader(j, path).finish();
  } else {
    static_assert(sizeof(T) == 0,
                  "cadence::config: no JSON reader for this field type; give it fields() or enum_names().");
  }
}

// ---- writing ------------------------------------------------------------------------------------

template <class T>
json write_value(const T& v);

class Writer {
 public:
  json out = json::object();
  template <class T, class... Checks>
  void operator()(std::string_view key, T& value, Checks&&...) {
    out[std::string(key)] = write_value(value);
  }
};

template <class T>
json write_value(const T& v) {
  if constexpr (std::is_same_v<T, std::filesystem::path>) {
    return v.string();
  } else if constexpr (NamedEnum<T>) {
    for (const auto& [value, name] : enum_names(T{}))
      if (value == v) return std::string(name);
    return nullptr;
  } else if constexpr (HasFields<T>) {
    Writer w;
    T copy = v;  // fields() is one non-const list for reading and writing
    copy.fields(w);
    return w.out;
  } else if constexpr (std::is_class_v<T> && std::is_empty_v<T>) {
    return json::object();
  } else if constexpr (requires {
                         typename T::value_type;
                         v.has_value();
                       }) {
    return v ? write_value(*v) : json(nullptr);
  } else if constexpr (requires {
                         typename T::value_type;
                         v.begin();
                       } &&
                       !std::is_same_v<T, std::string>) {
    json a = json::array();
    for (const auto& e : v) a.push_back(write_value(e));
    return a;
  } else {
    return json(v);
  }
}

// ---- entry points -------------------------------------------------------------------------------

/// Reads options from `j` (a JSON object) into `out`, starting from out's current values.
template <HasFields T>
void read(const json& j, T& out, const std::string& path = "") {
  read_value(j, out, path);
}

template <HasFields T>
T parse(const json& j, const std::string& path = "") {
  T out{};
  read(j, out, path);
  return out;
}

template <HasFields T>
json write(const T& v) {
  return write_value(v);
}

namespace detail {
/// nlohmann's parser callback that refuses a key given twice in one object (nlohmann would keep the
/// last silently) and nesting deeper than kMaxDepth, naming the JSON path.
class StrictKeys {
 public:
  static constexpr int kMaxDepth = 64;
  explicit StrictKeys(std::string where) : where_(std::move(where)) {}
  bool operator()(int depth, json::parse_event_t event, json& parsed) {
    using E = json::parse_event_t;
    if (depth > kMaxDepth) fail(where_, ": ", path(), ": nested deeper than ", kMaxDepth, " levels");
    switch (event) {
      case E::object_start:
        frames_.push_back({true, {}, {}, 0});
        break;
      case E::array_start:
        frames_.push_back({false, {}, {}, 0});
        break;
      case E::key: {
        auto& f = frames_.back();
        f.key = parsed.get<std::string>();
        if (!f.keys.insert(f.key).second)
          fail(where_, ": ", path(), ": given twice in one object (each key may appear once)");
        break;
      }
      case E::object_end:
      case E::array_end:
        frames_.pop_back();
        child_done();
        break;
      case E::value:
        child_done();
        break;
    }
    return true;
  }

 private:
  struct Frame {
    bool object;
    std::set<std::string> keys;
    std::string key;
    std::size_t index;
  };
  void child_done() {
    if (!frames_.empty() && !frames_.back().object) ++frames_.back().index;
  }
  std::string path() const {
    std::string p;
    // appended piece by piece: `"/" + std::string&&` trips GCC 12's -Wstringop-overflow
    for (const auto& f : frames_) {
      p += '/';
      p += f.object ? first_line(f.key, 60) : std::to_string(f.index);
    }
    return p.empty() ? "/" : p;
  }
  std::string where_;
  std::vector<Frame> frames_;
};
}  // namespace detail

/// Parses JSON text (comments allowed) strictly: a key twice in one object, nesting deeper than 64
/// levels, a number beyond a double's range and a syntax error are each one line naming `where`.
inline json parse_strict(const std::string& text, const std::string& where) {
  try {
    return json::parse(text, detail::StrictKeys(where), true, /*ignore_comments=*/true);
  } catch (const json::parse_error& e) {
    fail(where, ": invalid JSON: ", first_line(e.what()));
  } catch (const json::out_of_range& e) {  // 406: a number that overflows a double, e.g. 1e400
    fail(where, ": a number out of range (", first_line(e.what()), ")");
  }
}

/// Parses a JSON file (parse_strict); the file must be a regular file (a FIFO or directory is refused
/// at once), and an error names it.
inline json load_file(const std::filesystem::path& file) {
  std::error_code ec;
  if (!std::filesystem::exists(file, ec)) fail(file.string(), ": cannot open config file (no such file)");
  const int fd = open_regular_file(file, file.string());
  std::string text;
  char buf[1 << 16];
  for (;;) {
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      ::close(fd);
      fail(file.string(), ": cannot read config file (", std::strerror(errno), ")");
    }
    if (n == 0) break;
    text.append(buf, static_cast<std::size_t>(n));
  }
  ::close(fd);
  return parse_strict(text, file.string());
}

}  // namespace cadence::config

// nlohmann's serializer for every Options type (any namespace): `json j = options;` and
// `j.get<Options>()` go through the same field list, with the same checks and paths.
namespace nlohmann {
template <cadence::config::HasFields T>
struct adl_serializer<T, void> {
  static void to_json(json& j, const T& v) { j = cadence::config::write(v); }
  static void from_json(const json& j, T& v) { cadence::config::read(j, v); }
};
}  // namespace nlohmann
