// expect: more than one source stage
#include "stages.hpp"
auto p = Src{} | Src{};
