// expect: must be the last stage
#include "stages.hpp"
auto p = (Src{} | Tta{}) | (Net{} | Tta{});
