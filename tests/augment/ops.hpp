// The seed's four ops, shared by the augment tests and the GPU tests.
#pragma once
#include <tuple>

#include "cadence/augment/augment.hpp"

namespace test {

using Aug4 = cadence::Augment<cadence::VFlip, cadence::SSR, cadence::MotionBlur, cadence::SpecAug>;

/// The four ops, each applied to every sample (p = 1).
inline Aug4 always() {
  Aug4 a;
  std::apply([](auto&... o) { ((o.p = 1.0), ...); }, a.options.ops);
  return a;
}

}  // namespace test
