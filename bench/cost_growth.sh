#!/usr/bin/env bash
# How cadence's cost grows with the work: the input pipeline (load + Augment + Mixup, batch 32) at 1 and
# 2 reader threads, on 500 and on 5,000 cadences (samples/s and the process' peak memory, which must not
# grow with the dataset: files are read as they are needed), and the training step (learned resizer +
# EfficientNetV2-S 256², AdamW) at batch 4, 8 and 16. Prints a Markdown table (docs/performance.md).
#
#   bash bench/cost_growth.sh        SAMPLES=2048 input samples timed per run, STEPS=3 training steps
set -euo pipefail
cd "$(dirname "$0")/.."
build=${CADENCE_BUILD_DIR:-build}
samples=${SAMPLES:-2048}
steps=${STEPS:-3}
bash cmake/run.sh build bench_compare cadence-synth > /dev/null
for n in 500 5000; do
  [ -f "data/bench-growth-$n/.complete" ] || "$build/samples/cadence-synth" --root "data/bench-growth-$n" --train "$n" --test 1 --old 0 --quiet
done
json() { "$build/bench/bench_compare" "$@" --json /dev/stdout | tail -1; }
echo "| run | samples/s | peak memory, MiB |"
echo "|---|---:|---:|"
for n in 500 5000; do
  for t in 1 2; do
    # the files once through the page cache first, so that both sizes are timed from memory
    cat "data/bench-growth-$n"/train/*/*.npy > /dev/null
    r=$(json --stage input --data "data/bench-growth-$n" --threads "$t" --samples "$samples" --warmup-batches 2)
    /usr/bin/python3 -c "import json,sys; r=json.loads(sys.argv[1])['input']; print(f\"| input pipeline, $n cadences, $t thread(s) | {r['samples_per_s']:.0f} | {r['peak_rss_mib']:.0f} |\")" "$r"
  done
done
for b in 4 8 16; do
  r=$(json --stage train --data data/bench-growth-500 --threads 2 --steps "$steps" --batch "$b")
  /usr/bin/python3 -c "import json,sys; r=json.loads(sys.argv[1])['train']; print(f\"| training step, batch $b, 2 threads | {r['samples_per_s']:.2f} | {r['peak_rss_mib']:.0f} |\")" "$r"
done
