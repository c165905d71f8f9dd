#include "cadence/core/pipeline.hpp"

#include <sstream>

#include "cadence/data/load.hpp"
#include "cadence/nn/model.hpp"
#include "cadence/nn/small_cnn.hpp"
#include "support.hpp"

namespace {
struct Aug : cadence::Composes<Aug> {
  static constexpr std::string_view name = "aug";
  static constexpr bool augmentation = true;
  struct Options {
    int n = 3;
  };
  Options options;
  void apply(torch::Tensor&, const cadence::SampleKey&) const {}
  static std::string label() { return "Augment<VFlip>"; }
};
}  // namespace

TEST_CASE("pipeline: | flattens, groups associatively and prints") {
  using cadence::Load;
  using Net = cadence::Model<cadence::SmallCnnArch>;
  auto left = (Load{} | Aug{}) | Net{};
  auto right = Load{} | (Aug{} | Net{});
  static_assert(std::is_same_v<decltype(left), decltype(right)>);
  static_assert(std::is_same_v<decltype(left), cadence::Pipeline<Load, Aug, Net>>);
  static_assert(decltype(left)::has_source && decltype(left)::has_model);
  static_assert(decltype(left)::contains<Aug> && !decltype(left)::contains<int>);
  std::ostringstream os;
  os << left;
  CHECK(os.str() == "Load | Augment<VFlip> | Model<small_cnn>");
}

TEST_CASE("pipeline: stages keep their options through composition") {
  cadence::Load load;
  load.options.threads = 7;
  Aug aug;
  aug.options.n = 11;
  auto p = load | aug | cadence::Model<cadence::SmallCnnArch>{};
  CHECK(p.get<cadence::Load>().options.threads == 7);
  CHECK(p.get<Aug>().options.n == 11);
  int visited = 0;
  p.for_each([&](auto&) { ++visited; });
  CHECK(visited == 3);
}

TEST_CASE("pipeline: a partial pipeline without a source is allowed until a recipe needs one") {
  auto tail = Aug{} | cadence::Model<cadence::SmallCnnArch>{};
  static_assert(!decltype(tail)::has_source);
  auto full = cadence::Load{} | tail;
  static_assert(decltype(full)::has_source && decltype(full)::size == 3);
}
