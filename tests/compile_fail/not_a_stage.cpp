// expect: the right side of `|` is not a stage
#include "stages.hpp"
auto p = Src{} | 42;
