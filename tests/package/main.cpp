// A consumer of the installed package: the DSL and a torch-free reader, through find_package(cadence).
#include <cadence/core/pipeline.hpp>
#include <cadence/data/half.hpp>
#include <cadence/data/npy.hpp>
#include <iostream>
#include <sstream>

struct Source : cadence::Composes<Source> {
  static constexpr std::string_view name = "source";
  static constexpr cadence::StageKind kind = cadence::StageKind::source;
  struct Options {};
  Options options;
};
struct Net : cadence::Composes<Net> {
  static constexpr std::string_view name = "net";
  static constexpr cadence::StageKind kind = cadence::StageKind::module;
  static constexpr bool is_model = true;
  struct Options {};
  Options options;
};

int main() {
  std::ostringstream os;
  os << (Source{} | Net{});
  const bool ok = os.str() == "source | net" && cadence::half_to_float(cadence::float_to_half(1.5f)) == 1.5f;
  std::cout << (ok ? "package ok: " : "package BROKEN: ") << os.str() << '\n';
  return ok ? 0 : 1;
}
