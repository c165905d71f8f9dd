// expect: two stages share one JSON name
#include "stages.hpp"
struct Aug2 : cadence::Composes<Aug2> {
  static constexpr std::string_view name = "Aug";
  struct Options {};
  Options options;
  static constexpr bool augmentation = false;
  void apply(at::Tensor&, const cadence::SampleKey&) const;
};
auto p = Src{} | Aug{} | Aug2{} | Net{};
