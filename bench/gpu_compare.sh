#!/usr/bin/env bash
# cadence against the seed's Python stack on one CUDA GPU, side by side, with the seed's S config:
# learned resizer + EfficientNetV2-S at 384², batch 32, fp16 autocast, channels_last, cuDNN autotuner.
#
#   training   cadence: `seti holdout` itself (samples/effnetv2_s.json; Augment and Mixup batched on the
#              GPU, reading in load.threads threads); its log.jsonl gives the last epoch's samples/s and
#              data_wait, the share of the epoch spent waiting for the loader. peer: bench/peer/peer.py
#              --stage fit, the seed's loop (DataLoader with albumentations in num_workers processes,
#              mixup, GradScaler), timed the same way.
#   predict    TTA x16 over PREDICT files: cadence's bench_compare --stage predict (recipes::predict's
#              functions: BN folded, channels_last, predict.amp) against peer.py --stage predict.
#   compiled   (GPU) the peer's fit again with the model through torch.compile (COMPILE=0 skips it, COMPILE_TIMEOUT
#              seconds, 900, or DEADLINE_EPOCH, a `date +%s` to end by, bounds it): what a
#              PyTorch user reaches for first; its first epoch pays the compilation, the last is timed.
#   steps      (GPU) where the step's time goes: peer.py --stage steps on random inputs of the same batch and
#              size (eager fp16 step, the resizer alone, the backbone alone, eager bf16, bf16 in one CUDA
#              graph; the GPU's busy share and its ten costliest kernels), in $OUT/peer-steps.json; STEPS=0 skips it.
#   memory     the GPU's memory.used while each process runs, sampled by nvidia-smi every 100 ms, less
#              what was used before it started (so: that process' CUDA context + its allocator's cache);
#              the peer also reports torch.cuda.max_memory_allocated/reserved.
#
# It builds cadence against the machine's own PyTorch (as cmake/cuda_check.sh), makes its own synthetic
# data, and prints a table (also written to $OUT/gpu_compare.md and the raw numbers to $OUT/*.json).
#
#   bash bench/gpu_compare.sh          on a GPU machine: CADENCE_DEPS_PREFIX=... where range-v3,
#                                      nlohmann_json, doctest and CLI11 are installed, if not in a default
#                                      prefix; PYTHON (python3), THREADS (8 loader threads / workers),
#                                      TRAIN (2048 cadences), PREDICT (256), EPOCHS (2)
#   bash bench/gpu_compare.sh --cpu    the same steps at toy sizes on the CPU (the normal build and the
#                                      peer's venv, bench/peer/setup_venv.sh): keeps this script working
#                                      where no GPU is (a ctest entry runs it); TRAIN (48), PREDICT (8,
#                                      bench_compare's minimum), TESTS (8 test cadences), EPOCHS, THREADS (1)
set -euo pipefail
cd "$(dirname "$0")/.."
mode=gpu
[ "${1:-}" = --cpu ] && mode=cpu
threads=${THREADS:-8}
epochs=${EPOCHS:-2}
if [ "$mode" = gpu ]; then
  train=${TRAIN:-2048} predict=${PREDICT:-256} size=384 batch=32 device=cuda amp=fp16 holdout=0.1 tests=32
  build=${CADENCE_GPU_BUILD_DIR:-build-gpu}
  py=${PYTHON:-python3}
else
  train=${TRAIN:-48} predict=${PREDICT:-8} size=64 batch=4 device=cpu amp=off threads=${THREADS:-1} holdout=0.3 tests=${TESTS:-8}
  build=${CADENCE_BUILD_DIR:-build}
fi
out=${OUT:-$build/gpu-compare}
work=$build/gpu-compare-work
mkdir -p "$out" "$work"
step() { echo "== $* ($(( SECONDS ))s)"; }

step build
if [ "$mode" = gpu ]; then
  nvidia-smi -L
  "$py" -c 'import torch; print("torch", torch.__version__, "CUDA", torch.version.cuda, torch.cuda.get_device_name(0))'
  torch_prefix=$("$py" -c 'import torch; print(torch.utils.cmake_prefix_path)')
  cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DCMAKE_PREFIX_PATH="$torch_prefix;${CADENCE_DEPS_PREFIX:-}" \
    -DCADENCE_BUILD_TESTS=OFF -DCADENCE_BUILD_BENCH=ON -DCADENCE_INSTALL=OFF > "$out/configure.log" 2>&1 || { tail -40 "$out/configure.log"; exit 1; }
  ninja -C "$build" seti cadence-synth bench_compare > "$out/build.log" 2>&1 || { grep -B2 -A8 'error' "$out/build.log" | head -80; exit 1; }
else
  if [ ! -x "$build/samples/seti" ] || [ ! -x "$build/bench/bench_compare" ] || [ ! -x "$build/samples/cadence-synth" ]; then
    bash cmake/run.sh build seti cadence-synth bench_compare > "$out/build.log" 2>&1 || { tail -40 "$out/build.log"; exit 1; }
  fi
  py=$(bash bench/peer/setup_venv.sh | tail -1)
fi

step "synthetic data: $train train cadences"
data=$work/data-$train-$tests
if [ ! -f "$data/.complete" ]; then
  "$build/samples/cadence-synth" --root "$data" --train "$train" --test "$tests" --old 0 --quiet
fi

# Runs a command while sampling the GPU's memory.used; writes the peak above the idle level to $1.mib
gpu_memory_watch() {
  local name=$1; shift
  if [ "$mode" = gpu ]; then
    local base
    base=$(nvidia-smi --query-gpu=memory.used --format=csv,noheader,nounits -i 0 | head -1)
    nvidia-smi --query-gpu=memory.used --format=csv,noheader,nounits -i 0 -lms 100 > "$work/$name.mem" &
    local watcher=$!
    local rc=0
    "$@" || rc=$?
    kill "$watcher" 2>/dev/null; wait "$watcher" 2>/dev/null || true
    sort -n "$work/$name.mem" | tail -1 | awk -v b="$base" '{ print $1 - b }' > "$out/$name.mib"
    return $rc
  else
    echo 0 > "$out/$name.mib"
    "$@"
  fi
}

# cadence's training run: $1 names it, the rest are extra --set options. The network's drop rates are the
# peer's (timm's defaults, 0) so that both sides do the same work per step.
cadence_train() {
  local name=$1; shift
  rm -rf "$work/$name-run"
  gpu_memory_watch "$name" "$build/samples/seti" holdout --config samples/seti/configs/effnetv2_s.json \
    --set model.arch=efficientnetv2_s --set model.drop_rate=0 --set model.drop_path_rate=0 --set load.root="$data" \
    --set run.dir="$work/$name-run" --set run.device="$device" \
    --set run.quiet=true --set load.threads="$threads" --set train.epochs="$epochs" --set train.batch_size="$batch" \
    --set train.eval_batch_size="$batch" --set train.amp="$amp" --set predict.amp="$amp" --set train.holdout="$holdout" \
    --set "resize.size=[$size,$size]" --set "resize.test_size=[$size,$size]" "$@" > "$out/$name.log" 2>&1 \
    || { tail -20 "$out/$name.log"; return 1; }
  tail -1 "$work/$name-run/log.jsonl" > "$out/$name.json"
}
step "cadence: training (seti holdout, $epochs epochs, batch $batch, ${size}², $amp)"
cadence_train cadence-train || exit 1
if [ "$mode" = gpu ] && [ "${GRAPH:-1}" = 1 ]; then
  step "cadence: training with the step in a CUDA graph (train.cuda_graph)"
  cadence_train cadence-train-graph --set train.cuda_graph=true || echo "cadence: train.cuda_graph failed (row left out)"
fi

step "cadence: predict, TTA x16 over $predict files"
gpu_memory_watch cadence-predict "$build/bench/bench_compare" --stage predict --data "$data" --threads "$threads" \
  --device "$device" --amp "$amp" --batch "$batch" --size "$size" --predict-samples "$predict" --json "$out/cadence-predict.json" \
  > "$out/cadence-predict.log" 2>&1 || { tail -20 "$out/cadence-predict.log"; exit 1; }

peer=(env PYTHONUNBUFFERED=1 "$py" bench/peer/peer.py --data "$data" --threads "$threads" --device "$device" --amp "$amp"
      --channels-last --batch-size "$batch" --image-size "$size" "$size")
step "peer: training (peer.py --stage fit)"
gpu_memory_watch peer-train "${peer[@]}" --stage fit --epochs "$epochs" --json "$out/peer-train.json" > "$out/peer-train.log" 2>&1 \
  || { tail -20 "$out/peer-train.log"; exit 1; }
if [ "$mode" = gpu ] && [ "${STEPS:-1}" = 1 ]; then
  step "peer: where the step's time goes (peer.py --stage steps)"
  "${peer[@]}" --stage steps --steps 10 --json "$out/peer-steps.json" > "$out/peer-steps.log" 2>&1 \
    || { tail -20 "$out/peer-steps.log"; echo "peer: the steps stage failed"; }
fi
step "peer: predict, TTA x16"
gpu_memory_watch peer-predict "${peer[@]}" --stage predict --samples "$predict" --json "$out/peer-predict.json" \
  > "$out/peer-predict.log" 2>&1 || { tail -20 "$out/peer-predict.log"; exit 1; }

if [ "$mode" = gpu ] && [ "${COMPILE:-1}" = 1 ]; then
  step "peer: training with torch.compile (peer.py --stage fit --compile)"
  limit=${COMPILE_TIMEOUT:-900}
  [ -n "${DEADLINE_EPOCH:-}" ] && limit=$(( DEADLINE_EPOCH - $(date +%s) - 20 ))
  gpu_memory_watch peer-train-compiled timeout "$limit" "${peer[@]}" --stage fit --compile --epochs "$epochs" --json "$out/peer-train-compiled.json" \
    > "$out/peer-train-compiled.log" 2>&1 || { tail -20 "$out/peer-train-compiled.log"; echo "peer: torch.compile failed or ran past COMPILE_TIMEOUT (row left out)"; rm -f "$out/peer-train-compiled.json"; }
fi
step table
"$py" - "$out" "$mode" "$threads" "$batch" "$size" "$amp" <<'PY' | tee "$out/gpu_compare.md"
import json, os, sys
out, mode, threads, batch, size, amp = sys.argv[1:]
def load(name):
    return json.load(open(os.path.join(out, name + ".json")))
def mib(name):
    return float(open(os.path.join(out, name + ".mib")).read().strip() or 0)
ct, cp = load("cadence-train"), load("cadence-predict")["predict"]
pj, pp = load("peer-train"), load("peer-predict")
pt, pp, v = pj["fit"], pp["predict"], pj["versions"]
print(f"device: {v.get('gpu') or 'CPU'} ({mode} mode); torch {v['torch']}, CUDA {v.get('cuda')}, timm {v['timm']}, "
      f"albumentations {v['albumentations']}; batch {batch}, {size}x{size}, amp {amp}, channels_last; "
      f"{threads} reader threads (cadence) / DataLoader workers (peer)")
print()
print("| | cadence | peer (timm + PyTorch) | cadence / peer |")
print("|---|---:|---:|---:|")
def row(name, c, p, fmt="{:.1f}", ratio=True):
    r = f"{c / p:.2f}x" if ratio and p else ""
    print(f"| {name} | {fmt.format(c)} | {fmt.format(p)} | {r} |")
row("training samples/s (last epoch)", ct["samples_per_s"], pt["samples_per_s"])
if os.path.exists(os.path.join(out, "cadence-train-graph.json")):
    cg = load("cadence-train-graph")
    row("training samples/s, cadence with train.cuda_graph", cg["samples_per_s"], pt["samples_per_s"])
    row("training with train.cuda_graph: share of time waiting for data", 100 * cg["data_wait"], 100 * pt["data_wait"], "{:.1f}%", ratio=False)
    row("training with train.cuda_graph: peak GPU memory, MiB", mib("cadence-train-graph"), mib("peer-train"), "{:.0f}")
    print(f"| cadence's validation AUC after {ct['epoch']} epochs: eager {ct.get('valid_auc', float('nan')):.4f}, "
          f"train.cuda_graph {cg.get('valid_auc', float('nan')):.4f}; training loss {ct.get('train_loss', float('nan')):.4f} / "
          f"{cg.get('train_loss', float('nan')):.4f} | | | |")
row("training: share of time waiting for data", 100 * ct["data_wait"], 100 * pt["data_wait"], "{:.1f}%", ratio=False)
row("training: peak GPU memory used, MiB (nvidia-smi)", mib("cadence-train"), mib("peer-train"), "{:.0f}")
if os.path.exists(os.path.join(out, "peer-train-compiled.json")):
    pc = load("peer-train-compiled")["fit"]
    row("training samples/s against the peer with torch.compile (last epoch)", ct["samples_per_s"], pc["samples_per_s"])
    row("training with torch.compile: peak GPU memory used, MiB", mib("cadence-train"), mib("peer-train-compiled"), "{:.0f}")
row("predict TTA x16 samples/s", cp["samples_per_s"], pp["samples_per_s"])
row("predict: peak GPU memory used, MiB (nvidia-smi)", mib("cadence-predict"), mib("peer-predict"), "{:.0f}")
if "gpu_peak_allocated_mib" in pt:
    print(f"\npeer allocator peaks (torch.cuda.max_memory_allocated/reserved): training {pt['gpu_peak_allocated_mib']:.0f}/"
          f"{pt['gpu_peak_reserved_mib']:.0f} MiB, predict {pp['gpu_peak_allocated_mib']:.0f}/{pp['gpu_peak_reserved_mib']:.0f} MiB")
print(f"peer epochs (samples/s, data wait): " + ", ".join(f"{e['samples_per_s']:.1f}, {100 * e['data_wait']:.0f}%" for e in pt["epochs"]))
if os.path.exists(os.path.join(out, "peer-steps.json")):
    st = load("peer-steps")["steps"]
    b = st["batch_size"]
    print(f"\nthe peer's step on random inputs (batch {b}, {size}x{size}), ms per step and samples/s:\n")
    print("| step | ms | samples/s |")
    print("|---|---:|---:|")
    for k, name in (("eager", f"whole step, eager, {amp} (GradScaler)"), ("resizer_fwd_bwd", "the resizer alone, forward + backward"),
                    ("backbone_step", f"the backbone alone at {size}x{size}, step"), ("eager_bf16", "whole step, eager, bf16"),
                    ("graph_bf16", "whole step, bf16, one CUDA graph replayed")):
        if k in st:
            print(f"| {name} | {1e3 * st[k]:.1f} | {b / st[k]:.1f} |")
    for k in ("gpu_busy_share", "kernel_launches_per_step", "graph_bf16_loss_finite", "profile_error", "graph_error"):
        if k in st:
            print(f"{k}: {st[k]}")
    for kern in st.get("top_kernels", []):
        print(f"  {kern['ms_per_step']:8.2f} ms/step {kern['calls_per_step']:6.1f} calls  {kern['name']}")
PY
step done
