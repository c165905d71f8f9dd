// expect: a source stage lacks `std::unique_ptr<BatchStream> loader
#include "stages.hpp"
struct HalfSource : cadence::Composes<HalfSource> {
  CADENCE_TEST_NAMED(HalfSource)
  cadence::Dataset open(cadence::Split) const;
  cadence::ImageShape image_shape() const;
};
auto p = HalfSource{} | Net{};
