#!/usr/bin/env bash
# seti scan on one CUDA GPU: the rate a whole observation is scanned at, for docs/scan.md.
#
#   bash bench/gpu_scan.sh            on a GPU machine (CADENCE_DEPS_PREFIX as for bench/gpu_compare.sh),
#                                     with a trained run in RUN (default runs/demo: carry it to the machine)
#   bash bench/gpu_scan.sh --cpu      the same steps at toy sizes on the CPU (keeps the script working)
#   RUNS="cuda:256"                   (GPU) which device:batch scans to time (default cuda:32 cuda:256 cpu:32)
#
# Builds seti and cadence-synth against the machine's own PyTorch, writes a synthetic observation with
# `cadence-synth observation` (LOG2 = 22: six .fil files of 2^22 channels x 16 samples, 16 signals; no
# Python packages, no download), then scans it (scan.mode windows: every window scored) with run.device cuda (and, for the same machine's
# comparison, on its CPUs), printing windows/s, channels/s and the minutes a 2^26-channel observation
# (Green Bank's ~67 million channels per file) would take at that rate. Results also in $OUT/gpu_scan.md.
set -euo pipefail
cd "$(dirname "$0")/.."
mode=gpu
[ "${1:-}" = --cpu ] && mode=cpu
run=${RUN:-runs/demo}
if [ "$mode" = gpu ]; then
  log2=${LOG2:-22} signals=16 build=${CADENCE_GPU_BUILD_DIR:-build-gpu} py=${PYTHON:-python3} runs=${RUNS:-"cuda:32 cuda:256 cpu:32"}
else
  log2=${LOG2:-14} signals=4 build=${CADENCE_BUILD_DIR:-build} runs="cpu:32"
fi
out=${OUT:-$build/gpu-scan}
work=$build/gpu-scan-work
mkdir -p "$out" "$work"
[ -f "$run/config.json" ] || { echo "bench/gpu_scan.sh: no trained run in $run" >&2; exit 1; }
if [ "$mode" = gpu ]; then
  nvidia-smi -L; "$py" -c "import torch; print('torch', torch.__version__, 'cuda', torch.version.cuda)"
  torch_prefix=$("$py" -c 'import torch; print(torch.utils.cmake_prefix_path)')
  cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DCMAKE_PREFIX_PATH="$torch_prefix;${CADENCE_DEPS_PREFIX:-}" \
    -DCADENCE_BUILD_TESTS=OFF -DCADENCE_BUILD_BENCH=OFF -DCADENCE_INSTALL=OFF > "$out/configure.log" 2>&1 || { tail -40 "$out/configure.log"; exit 1; }
fi
ninja -C "$build" seti cadence-synth > "$out/build.log" 2>&1 || { grep -B2 -A8 'error' "$out/build.log" | head -60; exit 1; }
channels=$((1 << log2))
t0=$SECONDS
"$build/samples/cadence-synth" observation --root "$work/obs" --channels "$channels" --signals "$signals" > /dev/null
echo "observation: $channels channels x 16 samples x 6 files in $((SECONDS - t0)) s"
files=$(for n in a1 b a2 c a3 d; do echo "$work/obs/$n.fil"; done)
{
  echo "| device | batch | windows | seconds | windows/s | channels/s | a 2^26-channel observation |"
  echo "|---|---|---|---|---|---|---|"
} > "$out/gpu_scan.md"
for r in $runs; do
  device=${r%%:*} batch=${r##*:}
  "$build/samples/seti" scan --config "$run/config.json" --run "$run" --quiet --cadence $files \
    --set scan.out="$work/scan_${device}_$batch" --set scan.mode=windows --set scan.batch="$batch" --set run.device="$device" --set scan.top=5 > "$out/scan_${device}_$batch.log" 2>&1 ||
    { tail -20 "$out/scan_${device}_$batch.log"; exit 1; }
  "${py:-python3}" - "$work/scan_${device}_$batch/scan.json" "$device" "$channels" "$batch" >> "$out/gpu_scan.md" <<'EOF'
import json, sys
s = json.load(open(sys.argv[1])); ch = int(sys.argv[3])
rate = ch / s["seconds"]
print(f"| {sys.argv[2]} | {sys.argv[4]} | {s['windows']} | {s['seconds']:.1f} | {s['windows_per_s']:.1f} | {rate:,.0f} | {(1 << 26) / rate / 60:.1f} min |")
EOF
done
# the hit search alone (no run): the drift search in LibTorch ops on the GPU against the CPU threads, the
# same .dat files expected
searches="cpu"
[ "$mode" = gpu ] && searches="cuda cpu"
{ echo; echo "| hit search on | seconds (six files, +-4 Hz/s) | hits |"; echo "|---|---|---|"; } >> "$out/gpu_scan.md"
for device in $searches; do
  "$build/samples/seti" scan --config "$run/config.json" --quiet --cadence $files --set scan.out="$work/search_$device" \
    --set run.device="$device" > "$out/search_$device.log" 2>&1 || { tail -20 "$out/search_$device.log"; exit 1; }
  "${py:-python3}" - "$work/search_$device/scan.json" "$device" >> "$out/gpu_scan.md" <<'EOF'
import json, sys
s = json.load(open(sys.argv[1]))["search"]
print(f"| {sys.argv[2]} | {s['seconds']:.2f} | {sum(d['hits'] for d in s['dat'])} |")
EOF
done
if [ "$mode" = gpu ]; then  # the same hits: every .dat line below the header
  for n in a1 b a2 c a3 d; do
    cmp <(grep -v '^#' "$work/search_cuda/$n.dat") <(grep -v '^#' "$work/search_cpu/$n.dat") ||
      echo "hit search: $n.dat differs between cuda and cpu" | tee -a "$out/gpu_scan.md"
  done
fi
cat "$out/gpu_scan.md"
