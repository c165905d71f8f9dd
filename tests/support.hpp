// Helpers shared by the unit tests.
#pragma once
#include <unistd.h>

#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <string>

#include "cadence/core/error.hpp"

namespace test {

inline std::filesystem::path fixture(const std::string& rel) { return std::filesystem::path(CADENCE_TEST_DATA) / rel; }

/// A fresh directory removed at scope exit.
struct TempDir {
  std::filesystem::path path;
  explicit TempDir(const std::string& tag = "t") {
    static int counter = 0;
    path = std::filesystem::temp_directory_path() /
           ("cadence-" + tag + "-" + std::to_string(::getpid()) + "-" + std::to_string(counter++));
    std::filesystem::remove_all(path);
    std::filesystem::create_directories(path);
  }
  ~TempDir() { std::filesystem::remove_all(path); }
  std::filesystem::path operator/(const std::string& rel) const { return path / rel; }
};

inline void write_file(const std::filesystem::path& p, const std::string& content) {
  std::filesystem::create_directories(p.parent_path());
  std::ofstream(p, std::ios::binary) << content;
}

inline std::string read_file(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

/// The message of the cadence::Error that f throws ("" if it throws none; other exceptions propagate).
inline std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const cadence::Error& e) {
    return e.what();
  }
  return "";
}

/// f must throw a one-line cadence::Error containing every `needle`.
template <class... Needles>
void check_error(const std::function<void()>& f, const Needles&... needles) {
  const std::string msg = error_of(f);
  INFO("message: ", msg);
  CHECK_FALSE(msg.empty());
  CHECK(msg.find('\n') == std::string::npos);
  for (const std::string& needle : {std::string(needles)...}) {
    INFO("expected to contain: ", needle);
    CHECK(msg.find(needle) != std::string::npos);
  }
}

}  // namespace test

#include "cadence/synth/generator.hpp"

namespace test {

/// A small synthetic dataset in the Kaggle layout (real file shapes).
inline cadence::synth::SynthOptions small_dataset(const std::filesystem::path& root, int train = 24, int test = 8,
                                                  int old = 0, std::uint64_t seed = 5) {
  cadence::synth::SynthOptions o;
  o.root = root;
  o.train = train;
  o.test = test;
  o.old = old;
  o.seed = seed;
  o.positive_rate = 0.3;
  o.threads = 2;
  cadence::synth::generate(o, /*quiet=*/true);
  return o;
}

}  // namespace test
