// The small CNN the recipe tests train, built outside a recipe (to load what a run saved).
#pragma once
#include "cadence/core/compose.hpp"
#include "cadence/data/load.hpp"
#include "cadence/nn/model.hpp"
#include "cadence/nn/small_cnn.hpp"

namespace test {

inline torch::nn::Sequential small_cnn(int width, int depth, int pool) {
  auto p = cadence::Load{} | cadence::Model<cadence::SmallCnnArch>{};
  auto& o = p.get<cadence::Model<cadence::SmallCnnArch>>().options;
  o.width = width;
  o.depth = depth;
  o.pool = pool;
  return cadence::build_network(p, 1);
}

}  // namespace test
