#!/usr/bin/env bash
# One command: detection quality by SNR and drift rate. Generates a held-out cadence-synth set like the
# demo's (same sizes and signal ranges, another seed), runs the demo recipe and its variants (each
# background mode, input layout, epochs, mixup) and the de-Doppler baseline on it, and writes a table of
# ROC AUC (out-of-fold and held-out test, overall and by SNR and |drift| bins) with wall times to
# docs/quality.md. The test AUCs use cadence-synth's test_labels.csv (id,target,snr,drift).
#
#   bash bench/quality.sh                 all rows (about 40 minutes on 2 cores)
#   ROWS="demo dedoppler" bash bench/quality.sh     some rows
#   SEED=2026 THREADS=0 OUT=docs/quality.md by default; QUICK=1: a tiny set and 1 epoch (a smoke test)
set -euo pipefail
cd "$(dirname "$0")/.."
seed=${SEED:-2026}
build_dir=${CADENCE_BUILD_DIR:-build}
out_md=${OUT:-docs/quality.md}
work=${WORK:-$build_dir/quality}
all_rows="demo bg_none bg_off_mean bg_off_median bg_off_panel bg_nearest mean_channels mean_no_mixup mean_epochs_3 dedoppler dedoppler_off_mean"
rows=${ROWS:-$all_rows}
if [ "${QUICK:-0}" = 1 ]; then
  sizes=(--train 48 --test 24 --old 48)
  quick=(--set train.epochs=1 --set pretrain.epochs=1 --set train.folds=2 --set train.batch_size=16)
else
  sizes=()
  quick=()
fi
data=$work/data-$seed${QUICK:+-quick}

bash cmake/run.sh build seti cadence-synth
if [ ! -f "$data/.complete" ]; then
  "$build_dir/samples/cadence-synth" --root "$data" --seed "$seed" "${sizes[@]}" --quiet
fi

demo=samples/seti/configs/demo.json
dd=samples/seti/configs/dedoppler.json
# row name -> config and overrides
declare -A config what
config[demo]=$demo;                 what[demo]="demo.json as shipped"
config[bg_none]=$demo;              what[bg_none]="background.mode=none"
config[bg_off_mean]=$demo;          what[bg_off_mean]="background.mode=off_mean"
config[bg_off_median]=$demo;        what[bg_off_median]="background.mode=off_median"
config[bg_off_panel]=$demo;         what[bg_off_panel]="background.mode=off_panel"
config[bg_nearest]=$demo;           what[bg_nearest]="background.mode=nearest"
config[mean_channels]=$demo;        what[mean_channels]="background.mode=off_mean load.layout=channels"
config[mean_no_mixup]=$demo;        what[mean_no_mixup]="background.mode=off_mean mixup.p=0"
config[mean_epochs_3]=$demo;        what[mean_epochs_3]="background.mode=off_mean train.epochs=3 pretrain.epochs=3"
config[dedoppler]=$dd;              what[dedoppler]="dedoppler.json as shipped"
config[dedoppler_off_mean]=$dd;     what[dedoppler_off_mean]="background.mode=off_mean"
mkdir -p "$work"
for row in $rows; do
  [ -n "${config[$row]:-}" ] || { echo "quality.sh: unknown row \`$row\` (rows: ${!config[*]})" >&2; exit 2; }
  sets=()
  if [ "${what[$row]}" != "${config[$row]##*/} as shipped" ]; then
    for kv in ${what[$row]}; do sets+=(--set "$kv"); done
  fi
  echo "== $row: ${what[$row]}"
  rm -rf "$work/run-$row"
  start=$(date +%s%N)
  "$build_dir/samples/seti" run --config "${config[$row]}" --set load.root="$data" --set run.dir="$work/run-$row" \
    --set run.threads="${THREADS:-0}" "${sets[@]}" "${quick[@]}" --quiet > "$work/run-$row.log" 2>&1 ||
    { tail -n 5 "$work/run-$row.log" >&2; exit 1; }
  end=$(date +%s%N)
  echo "{\"row\": \"$row\", \"what\": \"${what[$row]}\", \"wall_s\": $(( (end - start) / 1000000 )).0e-3}" > "$work/run-$row/wall.json"
  tail -n 3 "$work/run-$row.log"
done

# the table: every row measured so far in $work (a later call with ROWS=... adds or replaces rows)
/usr/bin/python3 - "$work" "$out_md" "$seed" "${QUICK:-0}" $all_rows <<'EOF'
import json, os, platform, subprocess, sys
work, out_md, seed, quick, rows = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5:]
def load(row, name):
    with open(os.path.join(work, "run-" + row, name)) as f:
        return json.load(f)
res = []
for row in [r for r in rows if os.path.exists(os.path.join(work, "run-" + r, "wall.json"))]:
    w, cv, pr = load(row, "wall.json"), load(row, "cv.json"), load(row, "predict.json")
    res.append((row, w, cv, pr))
def f4(x):
    return "%.4f" % x if x is not None and x >= 0 else "–"
def bins(pr, key, lo, hi, fmt):
    return {(fmt % b[lo]) + ("+" if b[hi] > 1e8 else "–" + fmt % b[hi]): b for b in pr.get(key, [])}
lines = []
cpu = subprocess.run(["sh", "-c", "lscpu | sed -n 's/^Model name: *//p'"], capture_output=True, text=True).stdout.strip()
lines.append("| row | what | out-of-fold AUC | test AUC | wall time |")
lines.append("|---|---|---|---|---|")
for row, w, cv, pr in res:
    lines.append("| %s | %s | %s | %s | %d min %02d s |" % (row, w["what"], f4(cv["oof_auc"]), f4(pr.get("test ROC AUC (test_labels.csv)", -1)),
                 int(w["wall_s"]) // 60, int(w["wall_s"]) % 60))
def table(key, lo, hi, fmt, title):
    cols = []
    for _, _, _, pr in res:
        for k in bins(pr, key, lo, hi, fmt):
            if k not in cols: cols.append(k)
    out = ["", title, "", "| row | " + " | ".join(cols) + " |", "|---|" + "---|" * len(cols)]
    npos = None
    for row, _, _, pr in res:
        b = bins(pr, key, lo, hi, fmt)
        out.append("| %s | " % row + " | ".join(f4(b[c]["auc"]) if c in b else "–" for c in cols) + " |")
        if npos is None: npos = [str(b[c]["positives"]) if c in b else "0" for c in cols]
    out.append("| (positives) | " + " | ".join(npos or []) + " |")
    return out
lines += table("test AUC by SNR", "snr_lo", "snr_hi", "%g", "Held-out test ROC AUC by the signal's SNR (each bin's positives against all negatives):")
lines += table("test AUC by |drift| (Hz/s)", "drift_lo", "drift_hi", "%g", "Held-out test ROC AUC by the signal's |drift rate| in Hz/s:")
text = "\n".join(lines) + "\n"
marker_begin, marker_end = "<!-- quality.sh: begin -->", "<!-- quality.sh: end -->"
header = ("Measured by `bash bench/quality.sh` (cadence-synth seed %s%s) on %s, %d cores.\n\n" %
          (seed, ", QUICK" if quick == "1" else "", cpu or platform.processor(), os.cpu_count()))
block = marker_begin + "\n" + header + text + marker_end
if os.path.exists(out_md):
    doc = open(out_md).read()
    if marker_begin in doc and marker_end in doc:
        a, b = doc.index(marker_begin), doc.index(marker_end) + len(marker_end)
        doc = doc[:a] + block + doc[b:]
    else:
        doc += "\n" + block + "\n"
else:
    doc = "# Detection quality\n\n" + block + "\n"
tmp = out_md + ".tmp"
with open(tmp, "w") as f: f.write(doc)
os.replace(tmp, out_md)
print(text)
print("wrote", out_md)
EOF
