// Control: the rules accept the competition's shape, in any grouping, and both groupings give one type.
#include <type_traits>
#include "stages.hpp"
auto a = Src{} | Aug{} | Resizer{} | Net{} | Tta{};
auto b = Src{} | (Aug{} | (Resizer{} | (Net{} | Tta{})));
static_assert(std::is_same_v<decltype(a), decltype(b)>);
static_assert(std::is_same_v<decltype(a), cadence::Pipeline<Src, Aug, Resizer, Net, Tta>>);
static_assert(decltype(a)::has_source && decltype(a)::has_model && decltype(a)::size == 5);
int main() {}
