// expect: network modules such as Resize feed the model and must come before Model
#include "stages.hpp"
auto p = Src{} | Net{} | Resizer{};
