// expect: a prediction stage lacks `at::Tensor reduce
#include "stages.hpp"
struct Rounds : cadence::Composes<Rounds> {
  CADENCE_TEST_NAMED(Rounds)
  int rounds() const;
  at::Tensor round_input(const at::Tensor&, int, const cadence::RoundContext&) const;
};
auto p = Src{} | Net{} | Rounds{};
