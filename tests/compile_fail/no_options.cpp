// expect: missing the member `Options options`
#include "stages.hpp"
struct Bare : cadence::Composes<Bare> {
  static constexpr std::string_view name = "bare";
  using Options = int;
  torch::nn::AnyModule build(std::int64_t) const;
};
auto p = Src{} | Bare{} | Net{};
