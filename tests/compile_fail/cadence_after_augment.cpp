// expect: cadence stages \(Background\) work on the raw cadence as the source reads it
#include "stages.hpp"
auto p = Src{} | Aug{} | Clean{} | Net{};
