#!/usr/bin/env bash
# One GPU lease's checks, in order of what is least measured, ending within DEADLINE seconds (560) so
# that one `run` of the device tool (600 s at most) returns everything:
#   1. the GPU tests (cmake/cuda_tests_only.sh: one translation unit, g++) beside the product's build
#   2. bench/gpu_scan.sh with RUNS=cuda:256: the scan at its GPU batch and the hit search on cuda against
#      the CPUs (the same .dat lines expected)
#      (SCAN=0 leaves it out: it needs a trained demo run carried in runs/demo)
#   3. bench/gpu_compare.sh: cadence's training (eager, and with train.cuda_graph) and TTA prediction
#      against the peer, the peer's step split (eager fp16, resizer, backbone, bf16, bf16 in one CUDA
#      graph) and, with what time is left, the peer with torch.compile (STEPS=0 and COMPILE=0, passed
#      through, leave out those two)
# Prepare here first: bash cmake/torch2_cpu_check.sh (the GPU tests compile against LibTorch 2.x, and
# train.cuda_graph's step is right on the CPU), bash cmake/device_deps.sh (.deps: headers, CMake files,
# the peer's albumentations),
# and a trained demo run in runs/demo (bash cmake/run.sh demo). Then, with the device tool:
#   run(command="bash cmake/gpu_session.sh", carry=[".deps", "runs/demo"], timeout_s=600)
# Its results come back as a few files in $OUT (the tables, each script's log, and logs.tgz with all).
set -uo pipefail
cd "$(dirname "$0")/.."
t_end=$(( $(date +%s) + ${DEADLINE:-560} ))
res=${OUT:-build-gpu/session}
logs=/tmp/gpu-session
rm -rf "$logs"; mkdir -p "$res" "$logs"
export CADENCE_DEPS_PREFIX=${CADENCE_DEPS_PREFIX:-$PWD/.deps/usr}
export PYTHONPATH=$PWD/.deps/python${PYTHONPATH:+:$PYTHONPATH}
left() { local l=$(( t_end - $(date +%s) )); echo $(( l > 1 ? l : 1 )); }  # timeout needs a positive bound
trap 'tar czf "$res/logs.tgz" -C "$logs" . 2>/dev/null' EXIT
step() { echo "== $* ($SECONDS s, $(left) s left)"; }

step "GPU tests beside the build"
( OUT=$logs/cuda-tests timeout 300 bash cmake/cuda_tests_only.sh > "$res/cuda_tests.log" 2>&1
  echo "cuda_tests_only exit $?" >> "$res/cuda_tests.log" ) &
tests=$!
torch_prefix=$(python3 -c 'import torch; print(torch.utils.cmake_prefix_path)')
cmake -S . -B build-gpu -G Ninja -DCMAKE_BUILD_TYPE=Release -DCMAKE_PREFIX_PATH="$torch_prefix;$CADENCE_DEPS_PREFIX" \
  -DCADENCE_BUILD_TESTS=OFF -DCADENCE_INSTALL=OFF > "$logs/configure.log" 2>&1 || { tail -30 "$logs/configure.log"; exit 1; }
ninja -C build-gpu seti cadence-synth bench_compare > "$logs/build.log" 2>&1 || { grep -B2 -A8 error "$logs/build.log" | head -60; exit 1; }
step "built; waiting for the GPU tests"
wait "$tests"
tail -8 "$res/cuda_tests.log"

if [ "${SCAN:-1}" = 1 ]; then
  step "scan and hit search (bench/gpu_scan.sh, RUNS=cuda:256)"
  RUNS=cuda:256 OUT=$logs/scan timeout $(( $(left) > 260 ? $(left) - 200 : 60 )) bash bench/gpu_scan.sh > "$res/gpu_scan.log" 2>&1 \
    || echo "gpu_scan failed or ran out of time (exit $?)"
  tail -12 "$res/gpu_scan.log"
fi

step "training and prediction against the peer (bench/gpu_compare.sh)"
DEADLINE_EPOCH=$(( t_end - 15 )) OUT=$logs/compare timeout $(( $(left) - 10 )) bash bench/gpu_compare.sh > "$res/gpu_compare.log" 2>&1 \
  || echo "gpu_compare failed or ran out of time (exit $?)"
tail -45 "$res/gpu_compare.log"
step done
