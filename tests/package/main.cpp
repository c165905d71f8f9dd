// A consumer of the installed package: the DSL and a torch-free reader, through find_package(cadence).
#include <cadence/core/pipeline.hpp>
#include <cadence/data/half.hpp>
#include <cadence/data/npy.hpp>
#include <iostream>
#include <sstream>

// Stages declare their capabilities with the protocol's (here only declared) types: no torch needed.
struct Source : cadence::Composes<Source> {
  static constexpr std::string_view name = "source";
  struct Options {};
  Options options;
  cadence::Dataset open(cadence::Split) const;
  cadence::ImageShape image_shape() const;
  std::unique_ptr<cadence::BatchStream> loader(const cadence::Dataset&, std::vector<std::int64_t>, int, int,
                                               cadence::LoaderHooks) const;
};
struct Net : cadence::Composes<Net> {
  static constexpr std::string_view name = "net";
  struct Options {};
  Options options;
  torch::nn::AnyModule build(std::int64_t) const;
  cadence::Head head() const;
};

int main() {
  std::ostringstream os;
  os << (Source{} | Net{});
  const bool ok = os.str() == "source | net" && cadence::half_to_float(cadence::float_to_half(1.5f)) == 1.5f;
  std::cout << (ok ? "package ok: " : "package BROKEN: ") << os.str() << '\n';
  return ok ? 0 : 1;
}
