#!/usr/bin/env bash
# One command: cadence against the seed's Python stack (PyTorch + timm + albumentations 1.0.3 + a torch
# DataLoader, bench/peer/peer.py), on the same synthetic data, sizes and explicit thread count.
# Prints a table (and writes build/compare/{cadence,peer,tuned}.json): cadence (also with
# train.grad_checkpointing) against the peer as shipped and the peer with its best allocator setting
# and channels_last ("peer+").
#
#   bash bench/compare.sh        THREADS=2 SAMPLES=2048 STEPS=5 PREDICT_SAMPLES=16 DATASET=512 REPEAT=3 by default
#
# SAMPLES are timed input samples (after 2 warm-up batches; passes repeat over the DATASET cadences,
# which stay in the page cache), STEPS timed training steps (after 1), PREDICT_SAMPLES files predicted
# with TTA x16.
#
# A second table puts cadence's own host-memory cache (run.keep_memory, core/caching_allocator.hpp)
# beside general-purpose allocators doing that job: the same cadence runs with the cache off and glibc's
# malloc, or mimalloc or jemalloc preloaded (Debian's libmimalloc2.0 / libjemalloc2, installed here),
# as shipped and, "jemalloc+", as a jemalloc user would tune it for this job (freed pages kept: no
# decay back to the system, MALLOC_CONF=dirty_decay_ms:-1,muzzy_decay_ms:-1), alternating with runs
# of the cache itself so that all columns share one stretch of time.
# ALLOCATORS="glibc mimalloc jemalloc jemalloc+" by default; ALLOCATORS= skips the table, PEER=0 the first one.
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

allocators=${ALLOCATORS-glibc mimalloc jemalloc jemalloc+}
peer_table=${PEER:-1}

bash cmake/run.sh build bench_compare cadence-synth
[ "$peer_table" = 0 ] || bash bench/peer/setup_venv.sh
# the allocators' libraries, preloaded into cadence's runs for the second table
declare -A allocator_lib=([glibc]="" [mimalloc]=/usr/lib/x86_64-linux-gnu/libmimalloc.so.2
                          [jemalloc]=/usr/lib/x86_64-linux-gnu/libjemalloc.so.2
                          [jemalloc+]=/usr/lib/x86_64-linux-gnu/libjemalloc.so.2)
declare -A allocator_conf=([jemalloc+]=dirty_decay_ms:-1,muzzy_decay_ms:-1)
declare -A allocator_pkg=([mimalloc]=libmimalloc2.0 [jemalloc]=libjemalloc2 [jemalloc+]=libjemalloc2)
missing=()
for a in $allocators; do
  [ -n "${allocator_pkg[$a]:-}" ] || continue
  dpkg-query -W -f='${Status}' "${allocator_pkg[$a]}" 2>/dev/null | grep -q "install ok installed" || missing+=("${allocator_pkg[$a]}")
done
if [ ${#missing[@]} -gt 0 ]; then
  sudo=""; [ "$(id -u)" -ne 0 ] && sudo=sudo
  $sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
if [ ! -f "$data/.complete" ]; then
  "$build_dir/samples/cadence-synth" --root "$data" --train "$dataset" --test 1 --old 0 --quiet
fi
mkdir -p "$out"
rm -f "$out"/alloc_*.json
[ "$peer_table" = 0 ] || rm -f "$out"/cadence-*.json "$out"/peer-*.json "$out"/tuned-*.json
# The peer as its users can best run it: glibc's allocator keeping freed blocks (what jemalloc or
# tcmalloc would do for it; cadence's run.keep_memory keeps them in its own cache) and channels_last
# (timm's --channels-last).
tuned=(env GLIBC_TUNABLES=glibc.malloc.mmap_max=0:glibc.malloc.trim_threshold=68719476736)
# One process per stage and side, so that each peak is its own. The input stage takes seconds and
# varies most on a shared machine: it runs REPEAT times on each side, alternating, and the table
# takes each side's median run.
for r in $(seq 1 "$repeat"); do
  [ "$peer_table" = 0 ] && break
  echo "input, run $r of $repeat ..."
  "$build_dir/bench/bench_compare" --stage input --data "$data" --threads "$threads" --samples "$samples" \
    --warmup-batches 2 --json "$out/cadence-input-$r.json" > /dev/null
  .venv-peer/bin/python bench/peer/peer.py --stage input --data "$data" --threads "$threads" --samples "$samples" \
    --warmup-batches 2 --json "$out/peer-input-$r.json" > /dev/null
  "${tuned[@]}" .venv-peer/bin/python bench/peer/peer.py --stage input --data "$data" --threads "$threads" --samples "$samples" \
    --warmup-batches 2 --json "$out/tuned-input-$r.json" > /dev/null
done
# The train and predict stages vary from run to run too (the peer's more: its steps spend much of
# their time in page faults): each runs REPEAT times per side as well, and the table takes medians.
for r in $(seq 1 "$repeat"); do
  [ "$peer_table" = 0 ] && break
  echo "train, run $r of $repeat ..."
  "$build_dir/bench/bench_compare" --stage train --data "$data" --threads "$threads" --steps "$steps" --json "$out/cadence-train-$r.json" > /dev/null
  "$build_dir/bench/bench_compare" --stage train --data "$data" --threads "$threads" --steps "$steps" --grad-checkpointing true \
    --json "$out/cadence-ckpt-$r.json" > /dev/null
  .venv-peer/bin/python bench/peer/peer.py --stage train --threads "$threads" --steps "$steps" --json "$out/peer-train-$r.json" > /dev/null
  "${tuned[@]}" .venv-peer/bin/python bench/peer/peer.py --stage train --threads "$threads" --steps "$steps" --channels-last \
    --json "$out/tuned-train-$r.json" > /dev/null
done
for r in $(seq 1 "$repeat"); do
  [ "$peer_table" = 0 ] && break
  echo "predict, run $r of $repeat ..."
  "$build_dir/bench/bench_compare" --stage predict --data "$data" --threads "$threads" --predict-samples "$predict" \
    --json "$out/cadence-predict-$r.json" > /dev/null
  .venv-peer/bin/python bench/peer/peer.py --stage predict --data "$data" --threads "$threads" --samples "$predict" \
    --json "$out/peer-predict-$r.json" > /dev/null
  "${tuned[@]}" .venv-peer/bin/python bench/peer/peer.py --stage predict --data "$data" --threads "$threads" --samples "$predict" \
    --channels-last --json "$out/tuned-predict-$r.json" > /dev/null
done
# cadence with its cache off (run.keep_memory=false) and each allocator doing the cache's job, and
# (the baseline, "cache") the cache on, as shipped
for r in $(seq 1 "$repeat"); do
  for a in ${allocators:+cache $allocators}; do
    echo "allocator $a, run $r of $repeat ..."
    keep=false; [ "$a" = cache ] && keep=true
    pre=(env); [ -n "${allocator_lib[$a]:-}" ] && pre+=(LD_PRELOAD="${allocator_lib[$a]}")
    [ -n "${allocator_conf[$a]:-}" ] && pre+=(MALLOC_CONF="${allocator_conf[$a]}")
    "${pre[@]}" "$build_dir/bench/bench_compare" --stage input --data "$data" --threads "$threads" --samples "$samples" \
      --warmup-batches 2 --keep-memory "$keep" --json "$out/alloc_$a-input-$r.json" > /dev/null
    "${pre[@]}" "$build_dir/bench/bench_compare" --stage train --data "$data" --threads "$threads" --steps "$steps" \
      --keep-memory "$keep" --json "$out/alloc_$a-train-$r.json" > /dev/null
    "${pre[@]}" "$build_dir/bench/bench_compare" --stage train --data "$data" --threads "$threads" --steps "$steps" \
      --grad-checkpointing true --keep-memory "$keep" --json "$out/alloc_$a-ckpt-$r.json" > /dev/null
    "${pre[@]}" "$build_dir/bench/bench_compare" --stage predict --data "$data" --threads "$threads" \
      --predict-samples "$predict" --keep-memory "$keep" --json "$out/alloc_$a-predict-$r.json" > /dev/null
  done
done
cpu=$(grep -m1 "model name" /proc/cpuinfo | sed 's/.*: //')
features=$(grep -m1 "^flags" /proc/cpuinfo | tr ' ' '\n' | grep -E "^(avx2|avx512f|avx512_bf16|amx_tile|amx_bf16)$" | tr '\n' ' ')
echo "CPU: $cpu; features: ${features:-no AVX2}; $(nproc) cores visible"
/usr/bin/python3 - "$out" "$threads" "$allocators" "$peer_table" <<'PY'
import glob, json, os, sys
out = sys.argv[1]

def stage(side, file_stem, key):
    files = sorted(glob.glob(os.path.join(out, f"{side}-{file_stem}-[0-9]*.json"))) or [os.path.join(out, f"{side}-{file_stem}.json")]
    runs = [json.load(open(f))[key] for f in files]
    runs.sort(key=lambda r: r["samples_per_s"])
    pick = runs[(len(runs) - 1) // 2]  # the median run (the lower middle one for an even count)
    pick["runs_samples_per_s"] = [r["samples_per_s"] for r in runs]
    return pick

rows = [("input", "input", "input", "input pipeline (load + augment + mixup)"),
        ("train", "train", "train", "train step (learned resizer + EfficientNetV2-S 256^2, batch 8)"),
        ("ckpt", "train", "train", "  the same, cadence with train.grad_checkpointing"),
        ("predict", "predict", "predict", "predict, TTA x16 (same model)")]
if sys.argv[4] != "0":
    c = {name: stage("cadence", name, key) for name, key, _, _ in rows}
    p = {name: stage("peer", peer, key) for name, key, peer, _ in rows}
    t = {name: stage("tuned", peer, key) for name, key, peer, _ in rows}
    for side, d in (("cadence", c), ("peer", p), ("tuned", t)):
        json.dump(d, open(os.path.join(out, f"{side}.json"), "w"), indent=2)
    print(f"threads: {sys.argv[2]}; each stage: the median of {len(c['input']['runs_samples_per_s'])} runs per side (by samples/s); "
          f"peer+: the peer with GLIBC_TUNABLES (freed memory kept) and channels_last")
    print(f"| stage | cadence/s | peer/s | peer+/s | vs peer | vs peer+ | cadence MiB | peer MiB | peer+ MiB | mem vs peer | mem vs peer+ |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for name, _, _, label in rows:
        cs, ps, ts = c[name]["samples_per_s"], p[name]["samples_per_s"], t[name]["samples_per_s"]
        cm, pm, tm = c[name]["peak_rss_mib"], p[name]["peak_rss_mib"], t[name]["peak_rss_mib"]
        print(f"| {label} | {cs:.2f} | {ps:.2f} | {ts:.2f} | {cs / ps:.2f}x | {cs / ts:.2f}x | {cm:.0f} | {pm:.0f} | {tm:.0f} | "
              f"{cm / pm:.2f}x | {cm / tm:.2f}x |")
allocs = sys.argv[3].split()
if allocs:
    a = {x: {name: stage(f"alloc_{x}", name, key) for name, key, _, _ in rows} for x in ["cache"] + allocs}
    json.dump(a, open(os.path.join(out, "allocators.json"), "w"), indent=2)
    if sys.argv[4] != "0":
        print()
    print(f"each stage: the median of {len(a['cache']['input']['runs_samples_per_s'])} runs per column, the columns alternating")
    print("cadence's host-memory cache (run.keep_memory, the default) against the cache off with each allocator "
          "(glibc's malloc, or the library preloaded); samples/s, then peak RSS in MiB; ratios are against the cache")
    print("| stage | cache/s | " + " | ".join(f"{x}/s" for x in allocs) + " | cache MiB | " +
          " | ".join(f"{x} MiB" for x in allocs) + " |")
    print("|---|" + "---:|" * (2 * len(allocs) + 2))
    for name, _, _, label in rows:
        cs, cm = a["cache"][name]["samples_per_s"], a["cache"][name]["peak_rss_mib"]
        speed = " | ".join(f"{a[x][name]['samples_per_s']:.2f} ({a[x][name]['samples_per_s'] / cs:.2f}x)" for x in allocs)
        mem = " | ".join(f"{a[x][name]['peak_rss_mib']:.0f} ({a[x][name]['peak_rss_mib'] / cm:.2f}x)" for x in allocs)
        print(f"| {label} | {cs:.2f} | {speed} | {cm:.0f} | {mem} |")
PY
