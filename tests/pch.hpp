// Precompiled for the unit tests only (never used by the header self-containment check).
#include <doctest/doctest.h>
#include <nlohmann/json.hpp>
#include <torch/torch.h>
