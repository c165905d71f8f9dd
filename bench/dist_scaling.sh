#!/usr/bin/env bash
# Data-parallel scaling on this machine's CPUs: the demo recipe (small CNN, Augment and Mixup on the
# reader threads) trained on fold 0 of data/synthetic for 2 epochs, as
#   1 process  x 2 threads   (run.threads=2, load.threads=2)
#   2 processes x 1 thread   (Gloo on loopback, each run.threads=1, load.threads=1)
# and the same with SyncBatchNorm. Prints training samples/s (rank 0's bar: all ranks' samples) per
# epoch and the job's wall time. On a GPU machine pass --gpus N to time 1 .. N GPUs instead
# (run.device=cuda, NCCL), with the seed's S config if CONFIG is given.
#
# usage: bash bench/dist_scaling.sh [--gpus N] [CONFIG]
set -euo pipefail
cd "$(dirname "$0")/.."
gpus=0
if [[ ${1:-} == --gpus ]]; then gpus=$2; shift 2; fi
config=${1:-samples/seti/configs/demo.json}
bash cmake/run.sh build seti cadence-synth >/dev/null
build=${CADENCE_BUILD_DIR:-build}
[[ -f data/synthetic/.complete ]] || "$build/samples/cadence-synth" --root data/synthetic --quiet
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
common=(--config "$config" --set run.quiet=true --set finetune.init=scratch --set train.epochs=2 --set 'finetune.only=[0]')

# job NAME WORLD THREADS [extra --set ...]
job() {
  local name=$1 world=$2 threads=$3
  shift 3
  local dir=$work/$name start=$SECONDS pids=()
  for ((r = 0; r < world; r++)); do
    local dev=()
    [[ $gpus -gt 0 ]] && dev=(--set run.device=cuda)
    RANK=$r WORLD_SIZE=$world LOCAL_RANK=$r MASTER_ADDR=127.0.0.1 MASTER_PORT=$((29700 + world)) \
      "$build/samples/seti" finetune "${common[@]}" "${dev[@]}" --set "run.dir=$dir" --set "run.threads=$threads" \
      --set "load.threads=$threads" "$@" >"$work/$name.$r.log" 2>&1 &
    pids+=($!)
  done
  for p in "${pids[@]}"; do wait "$p"; done
  local rates
  rates=$(grep -o '"samples_per_s":[0-9.]*' "$dir/fold_0/log.jsonl" | cut -d: -f2 | awk '{printf "%s%.1f", (NR > 1 ? ", " : ""), $1}')
  printf "| %-34s | %-16s | %4d s |\n" "$name" "$rates" $((SECONDS - start))
}

find data/synthetic/train -name '*.npy' -exec cat {} + >/dev/null  # every job reads from the page cache
echo "| run | train samples/s (epoch 1, 2) | wall |"
echo "|---|---|---|"
if [[ $gpus -gt 0 ]]; then
  for ((n = 1; n <= gpus; n *= 2)); do job "$n GPU(s)" "$n" 4; done
else
  job "1 process x 2 threads" 1 2
  job "2 processes x 1 thread (Gloo)" 2 1
  job "2 processes x 1 thread, SyncBN" 2 1 --set train.sync_batchnorm=true
fi
