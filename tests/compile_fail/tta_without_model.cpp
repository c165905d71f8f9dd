// expect: a prediction stage \(TTA\) wraps a model
#include "stages.hpp"
auto p = Src{} | Aug{} | Resizer{} | Tta{};
