#!/usr/bin/env bash
# train.cuda_graph's step checked without a GPU: DeviceStep (train/cuda_graph.hpp) against the eager
# scaler + ForeachAdamW step, on the CPU, built against a LibTorch 2.x from PyPI's torch wheel, whose
# fused AdamW and loss-scale kernels have CPU versions (Debian's LibTorch 1.13 has neither, so the
# normal build compiles this code out). Also compiles the GPU tests (tests/cuda) against that LibTorch,
# which is what a GPU lease would compile first. Needs the CUDA runtime's headers (a CUDA toolkit:
# CUDA_HOME, /usr/local/cuda*), and downloads the wheel once (~0.5 GB) into build-torch2/.
#
#   bash cmake/torch2_cpu_check.sh      TORCH_VERSION (2.11.0), the PyTorch the GPU machines have
set -euo pipefail
cd "$(dirname "$0")/.."
version=${TORCH_VERSION:-2.11.0}
dir=build-torch2
mkdir -p "$dir"
if [ ! -d "$dir/torch-$version/torch/include" ]; then
  /usr/bin/python3 -m pip download --quiet "torch==$version" --no-deps -d "$dir/wheel-$version"
  unzip -q -o "$dir"/wheel-"$version"/torch-"$version"-*.whl 'torch/include/*' 'torch/lib/*' -d "$dir/torch-$version"
fi
torch=$PWD/$dir/torch-$version/torch
cuda_inc=
for c in "${CUDA_HOME:-/usr/local/cuda}/include" /usr/local/cuda*/include; do
  [ -f "$c/cuda_runtime_api.h" ] && { cuda_inc=$c; break; }
done
[ -n "$cuda_inc" ] || { echo "torch2_cpu_check: no cuda_runtime_api.h (set CUDA_HOME to a CUDA toolkit)" >&2; exit 1; }
flags=(-std=gnu++20 -D_GLIBCXX_USE_CXX11_ABI=1 -Iinclude -Itests -isystem "$torch/include"
       -isystem "$torch/include/torch/csrc/api/include" -isystem "$cuda_inc")
echo "== the GPU tests compile against torch $version (syntax only)"
g++ "${flags[@]}" -fsyntax-only -DCADENCE_TEST_DATA='""' tests/cuda/cuda.cpp
echo "== DeviceStep against the eager step, on the CPU"
cat > "$dir/device_step_cpu.cpp" <<'CPP'
#include <torch/torch.h>
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>
#include "cuda/device_step.hpp"
static_assert(cadence::cuda_graphs_built(), "built against a LibTorch with CUDA graphs");
TEST_CASE("train.cuda_graph's DeviceStep equals the eager step on the CPU (LibTorch 2.x)") {
  for (double clip : {0.0, 1.0}) {
    const double worst = test::device_step_against_eager(torch::kCPU, clip);
    MESSAGE("clip_norm " << clip << ": largest difference " << worst);
    CHECK(worst <= 1e-6);
  }
}
CPP
# torch_cpu and c10 only: nothing here calls CUDA (the wheel's torch_cpu still loads the CUDA runtime,
# found in the toolkit)
g++ "${flags[@]}" -O1 "$dir/device_step_cpu.cpp" -o "$dir/device_step_cpu" -Wl,--no-as-needed \
  -L"$torch/lib" -Wl,-rpath,"$torch/lib" -Wl,-rpath,"${cuda_inc%/include}/lib64" -Wl,-rpath,"${cuda_inc%/include}/lib" \
  -ltorch_cpu -lc10 -fopenmp -lpthread
"$dir/device_step_cpu"
