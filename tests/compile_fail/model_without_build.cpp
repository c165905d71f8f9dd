// expect: a model stage lacks `torch::nn::AnyModule build
#include "stages.hpp"
struct Headless : cadence::Composes<Headless> {
  CADENCE_TEST_NAMED(Headless)
  cadence::Head head() const;
};
auto p = Src{} | Headless{};
