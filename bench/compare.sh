#!/usr/bin/env bash
# One command: cadence against the seed's Python stack (PyTorch + timm + albumentations 1.0.3 + a torch
# DataLoader, bench/peer/peer.py), on the same synthetic data, sizes and explicit thread count.
# Prints a table (and writes build/compare/{cadence,peer}.json).
#
#   bash bench/compare.sh        THREADS=2 SAMPLES=2048 STEPS=5 PREDICT_SAMPLES=16 DATASET=512 REPEAT=3 by default
#
# SAMPLES are timed input samples (after 2 warm-up batches; passes repeat over the DATASET cadences,
# which stay in the page cache), STEPS timed training steps (after 1), PREDICT_SAMPLES files predicted
# with TTA x16.
set -euo pipefail
cd "$(dirname "$0")/.."
threads=${THREADS:-2}
samples=${SAMPLES:-2048}
steps=${STEPS:-5}
dataset=${DATASET:-512}
repeat=${REPEAT:-3}
predict=${PREDICT_SAMPLES:-16}
build_dir=${CADENCE_BUILD_DIR:-build}
data=data/bench-compare-$dataset
out="$build_dir/compare"

bash cmake/run.sh build bench_compare cadence-synth
bash bench/peer/setup_venv.sh
if [ ! -f "$data/.complete" ]; then
  "$build_dir/samples/cadence-synth" --root "$data" --train "$dataset" --test 1 --old 0 --quiet
fi
mkdir -p "$out"
rm -f "$out"/cadence-*.json "$out"/peer-*.json
# One process per stage and side, so that each peak is its own. The input stage takes seconds and
# varies most on a shared machine: it runs REPEAT times on each side, alternating, and the table
# takes each side's median run.
for r in $(seq 1 "$repeat"); do
  echo "input, run $r of $repeat ..."
  "$build_dir/bench/bench_compare" --stage input --data "$data" --threads "$threads" --samples "$samples" \
    --warmup-batches 2 --json "$out/cadence-input-$r.json" > /dev/null
  .venv-peer/bin/python bench/peer/peer.py --stage input --data "$data" --threads "$threads" --samples "$samples" \
    --warmup-batches 2 --json "$out/peer-input-$r.json" > /dev/null
done
for stage in train predict; do
  echo "$stage ..."
  "$build_dir/bench/bench_compare" --stage "$stage" --data "$data" --threads "$threads" --steps "$steps" \
    --predict-samples "$predict" --json "$out/cadence-$stage.json" > /dev/null
  .venv-peer/bin/python bench/peer/peer.py --stage "$stage" --data "$data" --threads "$threads" --steps "$steps" \
    --samples "$predict" --json "$out/peer-$stage.json" > /dev/null
done
/usr/bin/python3 - "$out" "$threads" <<'PY'
import glob, json, os, sys
out = sys.argv[1]

def stage(side, name):
    runs = [json.load(open(f))[name] for f in sorted(glob.glob(os.path.join(out, f"{side}-{name}*.json")))]
    runs.sort(key=lambda r: r["samples_per_s"])
    pick = runs[(len(runs) - 1) // 2]  # the median run (the lower middle one for an even count)
    pick["runs_samples_per_s"] = [r["samples_per_s"] for r in runs]
    return pick

c = {k: stage("cadence", k) for k in ("input", "train", "predict")}
p = {k: stage("peer", k) for k in ("input", "train", "predict")}
for side, d in (("cadence", c), ("peer", p)):
    json.dump(d, open(os.path.join(out, f"{side}.json"), "w"), indent=2)
names = {"input": "input pipeline (load + augment + mixup)", "train": "train step (learned resizer + EfficientNetV2-S 256^2)",
         "predict": "predict, TTA x16 (same model)"}
print(f"threads: {sys.argv[2]}; input: median of {len(c['input']['runs_samples_per_s'])} runs per side")
print(f"{'stage':<55} {'cadence/s':>10} {'peer/s':>10} {'ratio':>7} {'cadence MiB':>12} {'peer MiB':>10} {'mem ratio':>10}")
for k in ("input", "train", "predict"):
    cs, ps = c[k]["samples_per_s"], p[k]["samples_per_s"]
    cm, pm = c[k]["peak_rss_mib"], p[k]["peak_rss_mib"]
    print(f"{names[k]:<55} {cs:>10.2f} {ps:>10.2f} {cs / ps:>6.2f}x {cm:>12.0f} {pm:>10.0f} {cm / pm:>9.2f}x")
PY
