// expect: at most one Model
#include "stages.hpp"
auto p = Src{} | Net{} | Net{};
