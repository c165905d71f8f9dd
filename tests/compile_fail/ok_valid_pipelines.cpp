// Control: the rules accept the competition's shape, in any grouping, and both groupings give one type.
#include <type_traits>
#include "stages.hpp"
auto a = Src{} | Aug{} | Mix{} | Resizer{} | Net{} | Tta{};
auto b = Src{} | (Aug{} | (Mix{} | (Resizer{} | (Net{} | Tta{}))));
static_assert(std::is_same_v<decltype(a), decltype(b)>);
static_assert(std::is_same_v<decltype(a), cadence::Pipeline<Src, Aug, Mix, Resizer, Net, Tta>>);
static_assert(decltype(a)::has_source && decltype(a)::has_model && decltype(a)::has_predict && decltype(a)::size == 6);
// each stage is recognised by what it can do
static_assert(cadence::SourceStage<Src> && cadence::SampleStage<Aug> && cadence::BatchStage<Mix>);
static_assert(cadence::ModuleStage<Resizer> && !cadence::ModelStage<Resizer> && cadence::ModelStage<Net> &&
              cadence::PredictStage<Tta>);
static_assert(!cadence::SampleStage<Mix> && !cadence::BatchStage<Aug> && !cadence::SourceStage<Net>);
// a cadence stage (Background) between the source and the augmentations
auto c = Src{} | Clean{} | Aug{} | Mix{} | Net{};
static_assert(cadence::CadenceStage<Clean> && !cadence::SampleStage<Clean> && !cadence::CadenceStage<Aug>);
int main() {}
