// Minimal stages of each capability for the compile-fail snippets. The protocol's types are only
// declared (cadence/core/stage.hpp), so these compile in a second, without torch.
#pragma once
#include "cadence/core/pipeline.hpp"
#define CADENCE_TEST_NAMED(Name)                  \
  static constexpr std::string_view name = #Name; \
  struct Options {};                              \
  Options options;
struct Src : cadence::Composes<Src> {
  CADENCE_TEST_NAMED(Src)
  cadence::Dataset open(cadence::Split) const;
  cadence::ImageShape image_shape() const;
  std::unique_ptr<cadence::BatchStream> loader(const cadence::Dataset&, std::vector<std::int64_t>, int, int,
                                               cadence::LoaderHooks) const;
};
struct Clean : cadence::Composes<Clean> {
  CADENCE_TEST_NAMED(Clean)
  void transform_cadence(std::span<float>, const cadence::CadenceKey&) const;
};
struct Aug : cadence::Composes<Aug> {
  CADENCE_TEST_NAMED(Aug)
  static constexpr bool augmentation = true;
  void apply(at::Tensor&, const cadence::SampleKey&) const;
};
struct Mix : cadence::Composes<Mix> {
  CADENCE_TEST_NAMED(Mix)
  void apply(at::Tensor&, at::Tensor&, const cadence::BatchKey&) const;
};
struct Resizer : cadence::Composes<Resizer> {
  CADENCE_TEST_NAMED(Resizer)
  torch::nn::AnyModule build(std::int64_t) const;
};
struct Net : cadence::Composes<Net> {
  CADENCE_TEST_NAMED(Net)
  torch::nn::AnyModule build(std::int64_t) const;
  cadence::Head head() const;
};
struct Tta : cadence::Composes<Tta> {
  CADENCE_TEST_NAMED(Tta)
  int rounds() const;
  at::Tensor round_input(const at::Tensor&, int, const cadence::RoundContext&) const;
  at::Tensor reduce(const std::vector<at::Tensor>&, cadence::Head) const;
};
