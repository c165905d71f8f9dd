#!/usr/bin/env bash
# The GPU tests alone (tests/cuda), compiled as one translation unit with the machine's PyTorch and
# run: a minute or two of device time where `cmake/cuda_check.sh --quick` builds the whole test
# executable first. For a session whose GPU time is nearly spent.
#
#   bash cmake/cuda_tests_only.sh     CADENCE_DEPS_PREFIX=... where doctest, nlohmann_json, range-v3
#                                     and CLI11 are installed, if not in a default prefix; OUT=dir for logs
set -euo pipefail
cd "$(dirname "$0")/.."
out=${OUT:-build-cuda/out}
mkdir -p "$out" build-cuda
eval "$(python3 - <<'EOF'
import torch, os, glob, site
from torch.utils import cpp_extension
inc = cpp_extension.include_paths()
# the CUDA runtime's headers (train.cuda_graph's CUDAGraph needs cuda_runtime_api.h): the toolkit's, or
# those of the cuda-toolkit wheels PyTorch was installed with
cands = [os.path.join(os.environ.get("CUDA_HOME", "/usr/local/cuda"), "include")]
for sp in site.getsitepackages() + [os.path.dirname(os.path.dirname(torch.__file__))]:
    cands += sorted(glob.glob(os.path.join(sp, "nvidia", "*", "include"))) + [os.path.join(sp, "nvidia", "cuda_runtime", "include")]
cands += sorted(glob.glob("/usr/local/cuda*/include"))
inc += [c for c in cands if os.path.exists(os.path.join(c, "cuda_runtime_api.h"))][:1]
print(f"torch_inc='{' '.join('-isystem ' + p for p in inc)}'")
# the CUDA runtime itself, named on the link line (the tests call it directly: streams, events, graphs)
libs = []
for sp in site.getsitepackages() + [os.path.dirname(os.path.dirname(torch.__file__))]:
    libs += sorted(glob.glob(os.path.join(sp, "nvidia", "*", "lib", "libcudart.so*")))
libs += sorted(glob.glob(os.path.join(os.environ.get("CUDA_HOME", "/usr/local/cuda"), "lib*", "libcudart.so*")))
print(f"cudart='{libs[0] if libs else ''}'")
print(f"torch_lib='{os.path.join(os.path.dirname(torch.__file__), 'lib')}'")
print(f"abi={int(torch._C._GLIBCXX_USE_CXX11_ABI)}")
EOF
)"
nvidia-smi -L
deps=${CADENCE_DEPS_PREFIX:-/usr/local}
t0=$SECONDS
# libstdc++ ahead of LibTorch: PyTorch 2.11's libtorch.so exports std::filesystem symbols that crash
# (cmake/CadenceDependencies.cmake)
g++ -std=gnu++20 -O1 -D_GLIBCXX_USE_CXX11_ABI="$abi" -DCADENCE_TEST_DATA="\"$PWD/tests/data\"" \
  -Iinclude -Itests -isystem "$deps/include" $torch_inc tests/main.cpp tests/cuda/cuda.cpp -o build-cuda/cuda_tests_only \
  -Wl,--no-as-needed -lstdc++ -L"$torch_lib" -Wl,-rpath,"$torch_lib" -ltorch -ltorch_cuda -ltorch_cpu -lc10_cuda -lc10 $cudart -fopenmp -lpthread \
  > "$out/cuda_tests_only.build.log" 2>&1 || { grep -A6 'error' "$out/cuda_tests_only.build.log" | head -60; exit 1; }
echo "built in $((SECONDS - t0)) s"
build-cuda/cuda_tests_only --no-intro 2>&1 | tee "$out/cuda_tests_only.log" | tail -25
