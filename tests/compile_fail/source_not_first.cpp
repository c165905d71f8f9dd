// expect: a source stage must come first
#include "stages.hpp"
auto p = Aug{} | Src{};
