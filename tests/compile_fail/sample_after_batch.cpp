// expect: per-sample stages \(Augment\) run before batch stages
#include "stages.hpp"
auto p = Src{} | Mix{} | Aug{} | Net{};
