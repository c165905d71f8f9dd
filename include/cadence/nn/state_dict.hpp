#pragma once
// A module's parameters and buffers as PyTorch's state_dict() lists them.
#include <string>
#include <utility>
#include <vector>

#include <torch/nn/module.h>

namespace cadence {

/// A module's state in PyTorch's state_dict order: each module's parameters, then its buffers, then
/// its children's, recursively, in registration order.
inline std::vector<std::pair<std::string, torch::Tensor>> state_dict_entries(const torch::nn::Module& m,
                                                                             const std::string& prefix = "") {
  std::vector<std::pair<std::string, torch::Tensor>> out;
  for (const auto& p : m.named_parameters(/*recurse=*/false)) out.emplace_back(prefix + p.key(), p.value());
  for (const auto& b : m.named_buffers(/*recurse=*/false)) out.emplace_back(prefix + b.key(), b.value());
  for (const auto& c : m.named_children()) {
    auto sub = state_dict_entries(*c.value(), prefix + c.key() + ".");
    out.insert(out.end(), sub.begin(), sub.end());
  }
  return out;
}

}  // namespace cadence
