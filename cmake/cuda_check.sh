#!/usr/bin/env bash
# The GPU check: builds cadence against the machine's own CUDA LibTorch (the one inside its PyTorch),
# runs the GPU tests (tests/cuda) and the whole unit suite against that LibTorch, then the competition
# jobs on the GPU with fp16 autocast: the demo (small CNN) and EfficientNetV2-S behind the learned
# resizer at the seed's sizes, on a small synthetic dataset. CPU CI cannot run any of this.
#
#   bash cmake/cuda_check.sh          CADENCE_DEPS_PREFIX=... where range-v3, nlohmann_json, doctest and
#                                     CLI11 are installed, if not in a default prefix; OUT=dir for the logs
#   bash cmake/cuda_check.sh --quick  the GPU tests only (no competition jobs, no unit suite)
#
# Every step runs even when an earlier one failed; the script exits 1 if any did, naming them.
set -uo pipefail
cd "$(dirname "$0")/.."
quick=0
[ "${1:-}" = --quick ] && quick=1
build=${CADENCE_CUDA_BUILD_DIR:-build-cuda}
out=${OUT:-$build/out}
mkdir -p "$out"
failed=()
step() { echo "== $* (${SECONDS}s)"; }
# check NAME COMMAND...: runs it, records NAME when it exits non-zero
check() {
  local name=$1; shift
  "$@" || { echo "cuda_check: FAILED: $name" >&2; failed+=("$name"); }
}
fatal() { echo "cuda_check: $*" >&2; exit 1; }

torch_prefix=$(python3 -c 'import torch; print(torch.utils.cmake_prefix_path)') || fatal "python3 has no torch"
nvidia-smi -L || fatal "nvidia-smi found no GPU"
python3 -c 'import torch; print("torch", torch.__version__, "CUDA", torch.version.cuda, torch.cuda.get_device_name(0))' \
  || fatal "PyTorch sees no GPU"

step configure
cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DCMAKE_PREFIX_PATH="$torch_prefix;${CADENCE_DEPS_PREFIX:-}" \
  -DCADENCE_BUILD_TESTS=ON -DCADENCE_BUILD_BENCH=OFF -DCADENCE_INSTALL=OFF -DCADENCE_TEST_CUDA=ON > "$out/configure.log" 2>&1 \
  || { tail -40 "$out/configure.log"; fatal "configure failed ($out/configure.log)"; }
step build
targets=(cadence_tests)
[ "$quick" -eq 1 ] || targets+=(seti cadence-synth)
ninja -C "$build" "${targets[@]}" > "$out/build.log" 2>&1 \
  || { grep -B2 -A8 'error' "$out/build.log" | head -80; fatal "build failed ($out/build.log)"; }
echo "compiler warnings: $(grep -c 'warning:' "$out/build.log")"

# doctest's exit status is the verdict; its summary lines are shown either way
tests() {  # tests LOG FILTER...
  local log=$1; shift
  local rc=0
  "$build/tests/cadence_tests" --no-intro "$@" > "$log" 2>&1 || rc=$?
  [ "$rc" -eq 0 ] || grep -B3 -A12 'ERROR' "$log" | head -80
  tail -3 "$log"
  return "$rc"
}
step GPU tests
check "GPU tests (tests/cuda)" tests "$out/cuda-tests.log" -tc='cuda*'

if [ "$quick" -eq 0 ]; then
  step competition jobs on the GPU, fp16 autocast
  job() {  # job NAME CONFIG SETTINGS...: a whole seti run; its submission must exist
    local name=$1 config=$2; shift 2
    rm -rf "$build/runs/$name"
    "$build/samples/seti" run --config "$config" --quiet --set load.root="$build/data" --set run.dir="$build/runs/$name" "$@" \
      > "$out/$name.log" 2>&1 || { tail -20 "$out/$name.log"; return 1; }
    tail -3 "$out/$name.log"
    head -3 "$build/runs/$name/submission.csv" || return 1
    cp "$build/runs/$name/cv.json" "$out/$name-cv.json"
    cp "$build/runs/$name/report.html" "$out/$name-report.html"
  }
  check "synthetic data" "$build/samples/cadence-synth" --root "$build/data" --train 1024 --test 256 --old 1024 --quiet
  check "demo on the GPU" job demo samples/seti/configs/demo.json --set run.device=cuda --set train.amp=fp16 --set predict.amp=fp16
  cross() {  # the GPU-trained demo predicts on the CPU: the device is no part of a run's identity
    "$build/samples/seti" predict --config samples/seti/configs/demo.json --quiet --set load.root="$build/data" \
      --set run.dir="$build/runs/demo" --set run.device=cpu > "$out/demo-cpu-predict.log" 2>&1 || { tail -5 "$out/demo-cpu-predict.log"; return 1; }
    head -3 "$build/runs/demo/submission.csv"
  }
  check "the GPU-trained demo predicts on the CPU" cross
  check "EfficientNetV2-S on the GPU" job effnetv2_s samples/seti/configs/effnetv2_s.json \
    --set train.epochs=2 --set pretrain.epochs=2 --set train.folds=2

  step unit tests against this LibTorch
  check "unit tests" tests "$out/unit-tests.log" -tce='cuda*'
fi

if [ "${#failed[@]}" -gt 0 ]; then
  printf 'cuda_check: %d step(s) failed:' "${#failed[@]}" >&2
  printf ' [%s]' "${failed[@]}" >&2
  echo >&2
  exit 1
fi
echo "cuda_check: all steps passed"
