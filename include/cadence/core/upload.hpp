#pragma once
// Small host tensors (an augmentation's indices and matrices, mixup's partners) onto the device.
#include <torch/types.h>

namespace cadence {

/// `host` on `device`. On CUDA through pinned memory and without waiting: a copy from pageable memory
/// synchronises the stream, so the host would wait for every kernel queued before it (a training step's
/// whole backward) before it could queue the next batch's work. PyTorch's pinned-memory cache keeps the
/// pinned block until the copy has run. Elsewhere `to(device)`.
inline torch::Tensor upload(const torch::Tensor& host, const torch::Device& device) {
  if (!device.is_cuda()) return host.to(device);
  return host.pin_memory().to(device, host.scalar_type(), /*non_blocking=*/true);
}

}  // namespace cadence
