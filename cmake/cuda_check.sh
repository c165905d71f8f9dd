#!/usr/bin/env bash
# The GPU check: builds cadence against the machine's own CUDA LibTorch (the one inside its PyTorch),
# runs the GPU tests (tests/cuda) and the whole unit suite against that LibTorch, then the competition
# jobs on the GPU with fp16 autocast: the demo (small CNN) and EfficientNetV2-S behind the learned
# resizer at the seed's sizes, on a small synthetic dataset. CPU CI cannot run any of this.
#
#   bash cmake/cuda_check.sh          CADENCE_DEPS_PREFIX=... where range-v3, nlohmann_json and doctest
#                                     are installed, if not in a default prefix; OUT=dir for the logs
set -euo pipefail
cd "$(dirname "$0")/.."
build=${CADENCE_CUDA_BUILD_DIR:-build-cuda}
out=${OUT:-$build/out}
mkdir -p "$out"
torch_prefix=$(python3 -c 'import torch; print(torch.utils.cmake_prefix_path)')
nvidia-smi -L
python3 -c 'import torch; print("torch", torch.__version__, "CUDA", torch.version.cuda, torch.cuda.get_device_name(0))'
step() { echo "== $*"; }
failed=0  # a failing test step is reported and the script goes on, then exits 1

step configure
cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DCMAKE_PREFIX_PATH="$torch_prefix;${CADENCE_DEPS_PREFIX:-}" \
  -DCADENCE_BUILD_BENCH=OFF -DCADENCE_INSTALL=OFF -DCADENCE_TEST_CUDA=ON > "$out/configure.log" 2>&1 || { tail -40 "$out/configure.log"; exit 1; }
step build
ninja -C "$build" cadence_tests seti cadence-synth > "$out/build.log" 2>&1 || { grep -B2 -A8 'error' "$out/build.log" | head -80; exit 1; }
grep -c 'warning:' "$out/build.log" | sed 's/^/compiler warnings: /' || true

step GPU tests
"$build/tests/cadence_tests" --no-intro -tc='cuda*' > "$out/cuda-tests.log" 2>&1 || { grep -B3 -A12 'ERROR' "$out/cuda-tests.log" | head -60; failed=1; }
tail -3 "$out/cuda-tests.log"
step competition jobs on the GPU, fp16 autocast
"$build/samples/cadence-synth" --root "$build/data" --train 1024 --test 256 --old 1024 --quiet
"$build/samples/seti" run --config samples/seti/configs/demo.json --quiet --set load.root="$build/data" \
  --set run.dir="$build/runs/demo" --set run.device=cuda --set train.amp=fp16 2>&1 | tail -3
"$build/samples/seti" run --config samples/seti/configs/effnetv2_s.json --quiet --set load.root="$build/data" \
  --set run.dir="$build/runs/effnetv2_s" --set train.epochs=2 --set pretrain.epochs=2 --set train.folds=2 2>&1 | tail -3
for r in demo effnetv2_s; do
  cp "$build/runs/$r/cv.json" "$out/$r-cv.json" 2>/dev/null || true
  cp "$build/runs/$r/report.html" "$out/$r-report.html" 2>/dev/null || true
done
head -3 "$build/runs/effnetv2_s/submission.csv"

step unit tests against this LibTorch
"$build/tests/cadence_tests" --no-intro -tce='cuda*' > "$out/unit-tests.log" 2>&1 || { grep -B3 -A12 'ERROR' "$out/unit-tests.log" | head -80; failed=1; }
tail -3 "$out/unit-tests.log"
[ "$failed" -eq 0 ] || { echo "cuda_check: a test step failed (see above)" >&2; exit 1; }
