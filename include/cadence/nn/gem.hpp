#pragma once
// GeM: generalised-mean pooling (Radenovic, Tolias & Chum 2018), a global pool between the average
// (p = 1) and the maximum (p -> infinity) with p learnt: (mean over H, W of clamp(x, eps)^p)^(1/p).
// The top SETI solutions used it in place of the average for needles: a narrow line covers a few
// pixels of the last feature map, and the average dilutes it with the rest. Its one parameter is
// named `p` (as in timm's and the competition notebooks' GeM modules).
#include <torch/nn.h>

namespace cadence {

class GeMImpl : public torch::nn::Module {
 public:
  explicit GeMImpl(double p = 3.0, double eps = 1e-6) : eps_(eps) { p_ = register_parameter("p", torch::full({1}, p)); }
  /// (B,C,H,W) -> (B,C)
  torch::Tensor forward(const torch::Tensor& x) { return x.clamp_min(eps_).pow(p_).mean({2, 3}).pow(1.0 / p_); }
  const torch::Tensor& p() const { return p_; }

 private:
  double eps_;
  torch::Tensor p_;
};
TORCH_MODULE(GeM);

}  // namespace cadence
