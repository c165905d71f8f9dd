// Precompiled for the unit tests only (never used by the header self-containment check).
#include <nlohmann/json.hpp>
#include <torch/torch.h>
// Debian's LibTorch logs through glog, whose CHECK macros would shadow doctest's.
#undef CHECK
#undef CHECK_EQ
#undef CHECK_NE
#undef CHECK_LE
#undef CHECK_LT
#undef CHECK_GE
#undef CHECK_GT
#include <doctest/doctest.h>
