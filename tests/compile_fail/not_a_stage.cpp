// expect: this stage can do nothing
#include "stages.hpp"
struct Idle : cadence::Composes<Idle> {
  CADENCE_TEST_NAMED(Idle)
};
auto p = Src{} | Idle{} | Net{};
