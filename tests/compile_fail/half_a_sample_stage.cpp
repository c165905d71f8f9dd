// expect: a per-sample stage lacks `static constexpr bool augmentation`
#include "stages.hpp"
struct Denoise : cadence::Composes<Denoise> {
  CADENCE_TEST_NAMED(Denoise)
  void apply(at::Tensor&, const cadence::SampleKey&) const;
};
auto p = Src{} | Denoise{} | Net{};
