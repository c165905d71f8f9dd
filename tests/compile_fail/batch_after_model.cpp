// expect: must come before Resize/Model/TTA
#include "stages.hpp"
auto p = Src{} | Net{} | Aug{};
