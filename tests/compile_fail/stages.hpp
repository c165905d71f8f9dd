// Minimal stages of each kind for the compile-fail snippets (no torch: these compile in a second).
#pragma once
#include "cadence/core/pipeline.hpp"
#define CADENCE_TEST_STAGE(Name, Kind, Model)                            \
  struct Name : cadence::Composes<Name> {                                \
    static constexpr std::string_view name = #Name;                      \
    static constexpr cadence::StageKind kind = cadence::StageKind::Kind; \
    static constexpr bool is_model = Model;                              \
    struct Options {};                                                   \
    Options options;                                                     \
  };
CADENCE_TEST_STAGE(Src, source, false)
CADENCE_TEST_STAGE(Aug, batch, false)
CADENCE_TEST_STAGE(Resizer, module, false)
CADENCE_TEST_STAGE(Net, module, true)
CADENCE_TEST_STAGE(Tta, predict, false)
