// The pipeline and config the recipe-misuse tests (hardening.cpp, integrity.cpp) run: a width-4 small CNN
// with two augment ops and TTA x2, 2 folds, on test::small_dataset's data; seconds per job.
#pragma once
#include <filesystem>

#include "cadence/augment/augment.hpp"
#include "cadence/config/options.hpp"
#include "cadence/data/load.hpp"
#include "cadence/infer/tta.hpp"
#include "cadence/nn/model.hpp"
#include "cadence/nn/small_cnn.hpp"

namespace test {

using SmallAug = cadence::Augment<cadence::VFlip, cadence::SpecAug>;
inline auto small_run_pipeline() {
  return cadence::Load{} | SmallAug{} | cadence::Model<cadence::SmallCnnArch>{} | cadence::TTA<2>{};
}

inline cadence::config::json small_run_config(const std::filesystem::path& data, const std::filesystem::path& run,
                                              int epochs = 2) {
  return {{"run", {{"dir", run.string()}, {"seed", 3}, {"threads", 2}, {"quiet", true}}},
          {"load", {{"root", data.string()}, {"threads", 2}}},
          {"model", {{"arch", "small_cnn"}, {"width", 4}, {"depth", 2}, {"pool", 8}}},
          {"train", {{"epochs", epochs}, {"batch_size", 8}, {"folds", 2}, {"holdout", 0.25}}},
          {"finetune", {{"init", "scratch"}}}};
}

}  // namespace test
