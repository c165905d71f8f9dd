#!/usr/bin/env bash
# One command: detection quality, in four sets of rows written to docs/quality.md.
#   in-distribution  a held-out cadence-synth set like the demo's (same sizes and signal ranges, another
#                    seed): the demo recipe, its variants (background modes, layout, epochs, mixup) and
#                    the de-Doppler baseline; ROC AUC out of fold and on test, by SNR and |drift|.
#   shift            `cadence-synth --preset shift`: train on straight, faint signals and all-panel
#                    interference, test on every family (curved and wandering paths, pulsed signals,
#                    signals that skip an ON panel, OFF-only, broadband, switching, DC-spike and ripple
#                    interference); ROC AUC out of fold, on test, and on test by family.
#   shift2           the shift benchmark drawn again (--preset shift --seed 7: other cadences, the same
#                    families): how far one draw's test AUC moves, for the rows that decide the defaults
#   setigen          the same kind of shift drawn by setigen's own paths and profiles (bench/setigen_shift.py,
#                    in a venv of its own, .venv-setigen or SETIGEN_PYTHON): the track search, the baselines
#                    and the demo on data the project's generator did not draw.
# The test AUCs use cadence-synth's test_labels.csv (id,target,snr,drift,signal,interference,energy,...).
#
#   bash bench/quality.sh                                   every row of every set (about five hours on 2 cores)
#   SETS=shift ROWS="demo dedoppler" bash bench/quality.sh  some rows of one set; the tables keep the rest
#   SEED=2026 THREADS=0 OUT=docs/quality.md by default; QUICK=1: tiny sets and 1 epoch (a smoke test)
# the tables of one set: every row measured so far in its work directory (a later call with ROWS=...
# adds or replaces rows)
write_tables() {
/usr/bin/python3 - "$1" "$2" "$out_md" "$seed" "${QUICK:-0}" "$3" $4 <<'EOF'
import csv, json, os, platform, subprocess, sys
set_name, work, out_md, seed, quick, data, rows = (sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5],
                                                   sys.argv[6], sys.argv[7:])
def load(row, name):
    with open(os.path.join(work, "run-" + row, name)) as f:
        return json.load(f)
res = []
for row in [r for r in rows if os.path.exists(os.path.join(work, "run-" + r, "wall.json"))]:
    w, cv, pr = load(row, "wall.json"), load(row, "cv.json"), load(row, "predict.json")
    if "blend" in cv:  # an ensemble's cv.json: the blend's out-of-fold AUC (no folds of its own)
        cv = {"oof_auc": cv["blend"]["oof_auc"]}
    res.append((row, w, cv, pr))
def f4(x):
    return "%.4f" % x if x is not None and x >= 0 else "–"
def bins(pr, key, lo, hi, fmt):
    return {(fmt % b[lo]) + ("+" if b[hi] > 1e8 else "–" + fmt % b[hi]): b for b in pr.get(key, [])}
lines = []
cpu = subprocess.run(["sh", "-c", "lscpu | sed -n 's/^Model name: *//p'"], capture_output=True, text=True).stdout.strip()
flags = subprocess.run(["sh", "-c", "lscpu | grep -o -w 'avx2\\|avx512f\\|avx512_bf16\\|amx_tile' | sort -u | tr '\\n' ' '"],
                       capture_output=True, text=True).stdout.split()
cpu = (cpu or platform.processor()) + (" (" + ", ".join(flags) + ")" if flags else "")
shift = set_name in ("shift", "shift2", "setigen")  # out-of-fold minus test, and the table by family
def rank_auc(pairs):  # pairs: (score, label); ties share their mean rank
    pairs = sorted(pairs)
    i = 0
    ranks = [0.0] * len(pairs)
    while i < len(pairs):
        j = i
        while j + 1 < len(pairs) and pairs[j + 1][0] == pairs[i][0]:
            j += 1
        for k in range(i, j + 1):
            ranks[k] = (i + j) / 2 + 1
        i = j + 1
    pos = sum(1 for _, y in pairs if y == 1)
    neg = len(pairs) - pos
    if pos == 0 or neg == 0:
        return None
    return (sum(r for r, (_, y) in zip(ranks, pairs) if y == 1) - pos * (pos + 1) / 2) / (pos * neg)
def without_pulsed(row):  # the test AUC with the pulsed positives left out (their energy: the duty cycle's share)
    truth = os.path.join(data, "test_labels.csv")
    sub = os.path.join(work, "run-" + row, "submission.csv")
    if not (os.path.exists(truth) and os.path.exists(sub)):
        return None
    labels = {r["id"]: r for r in csv.DictReader(open(truth))}
    pairs = [(float(r["target"]), int(labels[r["id"]]["target"])) for r in csv.DictReader(open(sub))
             if r["id"] in labels and not (labels[r["id"]]["target"] == "1" and
                                           "pulsed" in labels[r["id"]].get("signal", "").split("+"))]
    return rank_auc(pairs)
ENERGY_EDGES = [3, 5, 7.5, 10, 15, 1e9]  # SNR x energy bins from the training set's least SNR (3) up
def scored(pred, column, truth):  # (score, label, SNR x energy) per id of a prediction file, from a truth file
    if not (os.path.exists(pred) and os.path.exists(truth)):
        return None
    labels = {r["id"]: r for r in csv.DictReader(open(truth))}
    if not labels or "energy" not in next(iter(labels.values())):
        return None
    out = []
    for r in csv.DictReader(open(pred)):
        t = labels.get(r["id"])
        if t is None:
            return None
        e = float(t["snr"]) * float(t["energy"]) if t["target"] == "1" else None
        out.append((float(r[column]), int(t["target"]), e))
    return out
def by_energy(rows):  # per ENERGY_EDGES bin: (AUC of its positives against every negative, positives), negatives
    neg = [(s, 0) for s, y, _ in rows if y == 0]
    bins = []
    for lo, hi in zip(ENERGY_EDGES[:-1], ENERGY_EDGES[1:]):
        pos = [(s, 1) for s, y, e in rows if y == 1 and lo <= e < hi]
        bins.append((rank_auc(pos + neg) if pos else None, len(pos)))
    return bins, len(neg)
def matched_energy(row):  # out of fold and test, each the mean of its SNR x energy bins' AUCs weighted by the
    # training positives' shares of the bins (direct standardisation), and the error of their difference
    oof = scored(os.path.join(work, "run-" + row, "oof.csv"), "prediction", os.path.join(data, "train_signals.csv"))
    test = scored(os.path.join(work, "run-" + row, "submission.csv"), "target", os.path.join(data, "test_labels.csv"))
    if not oof or not test:
        return None
    (ob, on), (tb, tn) = by_energy(oof), by_energy(test)
    total = sum(n for _, n in ob)
    if total == 0 or any(n > 0 and (a is None or t is None) for (a, n), (t, _) in zip(ob, tb)):
        return None  # a bin the training set fills and the test set does not: no matched comparison
    w = [n / total for _, n in ob]
    o_auc = sum(wi * a for wi, (a, n) in zip(w, ob) if n)
    t_auc = sum(wi * a for wi, (a, n) in zip(w, tb) if wi > 0)
    var = sum((wi * hanley_mcneil(a, n, on)) ** 2 for wi, (a, n) in zip(w, ob) if n and 0 < a < 1)
    var += sum((wi * hanley_mcneil(a, n, tn)) ** 2 for wi, (a, n) in zip(w, tb) if wi > 0 and 0 < a < 1)
    return o_auc, t_auc, var ** 0.5
def hanley_mcneil(a, pos, neg):  # the standard error of an AUC of `a` over pos positives and neg negatives
    q1, q2 = a / (2 - a), 2 * a * a / (1 + a)
    return ((a * (1 - a) + (pos - 1) * (q1 - a * a) + (neg - 1) * (q2 - a * a)) / (pos * neg)) ** 0.5
def class_counts(path, key):  # positives and negatives in a CSV's 0/1 column
    if not os.path.exists(path):
        return None
    y = [r[key] for r in csv.DictReader(open(path))]
    return y.count("1"), y.count("0")
def gap_se(row, oof_auc, test_auc):  # out-of-fold minus test: each AUC's error, independent sets
    o = class_counts(os.path.join(work, "run-" + row, "oof.csv"), "target")
    t = class_counts(os.path.join(data, "test_labels.csv"), "target")
    if not o or not t or min(o + t) == 0 or not (0 < oof_auc < 1 and 0 < test_auc < 1):
        return None
    return (hanley_mcneil(oof_auc, *o) ** 2 + hanley_mcneil(test_auc, *t) ** 2) ** 0.5
pulsed = set_name in ("shift", "shift2")  # the sets with pulsed signals in their test set
matched = {r[0]: matched_energy(r[0]) for r in res} if pulsed else {}
energy = any(m is not None for m in matched.values())
lines.append("| row | what | out-of-fold AUC | mean of the folds' AUCs | test AUC |%s%s%s wall time |" %
             (" out-of-fold − test (± its standard error) |" if shift else "",
              " test AUC without pulsed positives | out-of-fold − that |" if pulsed else "",
              " at the training set's SNR × energy: out of fold / test | out-of-fold − test there (± s.e.) |"
              if energy else ""))
lines.append("|---|---|---|---|---|---|" + ("---|" if shift else "") + ("---|---|" if pulsed else "") +
             ("---|---|" if energy else ""))
for row, w, cv, pr in res:
    test_auc = pr.get("test ROC AUC (test_labels.csv)", -1)
    gap = ""
    if shift:
        se = gap_se(row, cv["oof_auc"], test_auc)
        gap = " %+.4f%s |" % (cv["oof_auc"] - test_auc, " ± %.3f" % se if se is not None else "")
    if pulsed:
        np_auc = without_pulsed(row)
        gap += " %s | %s |" % (f4(np_auc), "%+.4f" % (cv["oof_auc"] - np_auc) if np_auc is not None else "–")
    if energy:
        m = matched[row]
        gap += " %s / %s | %s |" % ((f4(m[0]), f4(m[1]), "%+.4f ± %.3f" % (m[0] - m[1], m[2])) if m else ("–", "–", "–"))
    folds = cv.get("fold_auc") or []
    fold_mean = sum(folds) / len(folds) if folds else None
    lines.append("| %s | %s | %s | %s | %s |%s %d min %02d s |" % (row, w["what"], f4(cv["oof_auc"]), f4(fold_mean),
                 f4(test_auc), gap, int(w["wall_s"]) // 60, int(w["wall_s"]) % 60))
def table(key, lo, hi, fmt, title):
    cols = []
    for _, _, _, pr in res:
        for k in bins(pr, key, lo, hi, fmt):
            if k not in cols: cols.append(k)
    if not cols:
        return []
    out = ["", title, "", "| row | " + " | ".join(cols) + " |", "|---|" + "---|" * len(cols)]
    npos = None
    for row, _, _, pr in [r for r in res if key in r[3]]:  # rows predicted before a key existed: left out
        b = bins(pr, key, lo, hi, fmt)
        out.append("| %s | " % row + " | ".join(f4(b[c]["auc"]) if c in b else "–" for c in cols) + " |")
        if npos is None: npos = [str(b[c]["positives"]) if c in b else "0" for c in cols]
    out.append("| (positives) | " + " | ".join(npos or []) + " |")
    return out
lines += table("test AUC by SNR", "snr_lo", "snr_hi", "%g", "Held-out test ROC AUC by the signal's SNR (each bin's positives against all negatives):")
lines += table("test AUC by energy SNR", "snr_lo", "snr_hi", "%g", "Held-out test ROC AUC by the signal's SNR times its "
               "ON-panel energy (the truth file's `energy`: 1 for a constant signal, about the duty cycle for a pulsed "
               "one, 2/3 for one missing from an ON panel), each bin's positives against all negatives:")
lines += table("test AUC by |drift| (Hz/s)", "drift_lo", "drift_hi", "%g", "Held-out test ROC AUC by the signal's |drift rate| in Hz/s:")
if shift:  # by family: a signal family's positives against all negatives; an interference kind's negatives against all positives
    cols, counts = [], {}
    for _, _, _, pr in res:
        for b in pr.get("test AUC by family", []):
            k = b["group"] + ": " + b["family"]
            if k not in cols: cols.append(k)
            counts.setdefault(k, b["negatives"] if b["group"] == "interference" else b["positives"])
    lines += ["", "Held-out test ROC AUC by family (a signal family: its positives against all negatives; an "
              "interference kind: all positives against the negatives that carry it; `none`: clean negatives):", "",
              "| family | " + " | ".join(r[0] for r in res) + " | (samples) |", "|---|" + "---|" * (len(res) + 1)]
    for k in cols:
        vals = []
        for _, _, _, pr in res:
            b = {x["group"] + ": " + x["family"]: x for x in pr.get("test AUC by family", [])}
            vals.append(f4(b[k]["auc"]) if k in b else "–")
        lines.append("| %s | %s | %d |" % (k, " | ".join(vals), counts[k]))
text = "\n".join(lines) + "\n"
tag = "quality.sh" + ("" if set_name == "indist" else " " + set_name)
marker_begin, marker_end = "<!-- %s: begin -->" % tag, "<!-- %s: end -->" % tag
source = {"indist": "cadence-synth seed " + seed, "shift": "cadence-synth --preset shift",
          "shift2": "cadence-synth --preset shift --seed 7, a second draw",
          "setigen": "bench/setigen_shift.py, setigen's own signals"}[set_name]
header = ("Measured by `bash bench/quality.sh` (%s%s) on %s, %d cores.\n\n" %
          (source, ", QUICK" if quick == "1" else "", cpu, os.cpu_count()))
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
}

set -euo pipefail
cd "$(dirname "$0")/.."
seed=${SEED:-2026}
build_dir=${CADENCE_BUILD_DIR:-build}
out_md=${OUT:-docs/quality.md}
work=${WORK:-$build_dir/quality}
sets=${SETS:-indist shift shift2 setigen}
indist_rows="demo demo_before bg_none bg_off_mean bg_off_median bg_off_panel bg_nearest mean_channels mean_no_mixup mean_epochs_3 rfi_only pool_8x2 pool_8x2_rfi dedoppler dedoppler_off_mean track track_band track_window16 track_window64 track_viterbi track_beta2 track_beta1 track_beta4 track_mean"
shift_rows="demo demo_before swa pseudo pseudo_wide bg_column focal inject inject_rfi rfi_only inject_strong inject_same mixup_renorm gem pool_8x2 pool_8x2_rfi demo_seed43 pool_8x2_rfi_seed43 zero_dm dedoppler dedoppler_off_mean dedoppler_zero_dm dedoppler_off_mean_zero_dm blend_dedoppler blend_dedoppler_seed43 blend_dedoppler_off_mean blend_zero_dm blend_dedoppler_min track track_band track_window16 track_window64 track_viterbi track_beta2 track_beta1 track_beta4 track_off_mean dedoppler_neighbour_mean track_t3f1 track_t3f2 track_t12f1s2 track_t6f2s2 track_t13f4 track_mean"
setigen_rows="demo dedoppler dedoppler_off_mean track track_band track_mean"
shift2_rows="demo dedoppler_off_mean track track_band track_mean"
if [ "${QUICK:-0}" = 1 ]; then
  sizes=(--train 48 --test 24 --old 48)
  quick=(--set train.epochs=1 --set pretrain.epochs=1 --set train.folds=2 --set train.batch_size=16)
else
  sizes=()
  quick=()
fi

bash cmake/run.sh build seti cadence-synth

demo=samples/seti/configs/demo.json
dd=samples/seti/configs/dedoppler.json
tr=samples/seti/configs/track.json
# row name -> config and overrides
declare -A config what
# the rows measured before demo.json took model.pool=8, pool_freq=2 and inject.rfi_p=0.3 (2026-12-03) say
# so: $before is demo.json as it was, so that every row still names the config it ran
before="model.pool=4 model.pool_freq=0 inject.rfi_p=0"
config[demo]=$demo;                 what[demo]="demo.json as shipped"
config[demo_before]=$demo;          what[demo_before]="$before"
config[swa]=$demo;                  what[swa]="train.swa_start=3"
config[pseudo]=$demo;               what[pseudo]="finetune.pseudo=true"
config[pseudo_wide]=$demo;          what[pseudo_wide]="finetune.pseudo=true finetune.pseudo_high=0.5 finetune.pseudo_low=0.1"
config[bg_none]=$demo;              what[bg_none]="$before background.mode=none"
config[bg_off_mean]=$demo;          what[bg_off_mean]="$before background.mode=off_mean"
config[bg_off_median]=$demo;        what[bg_off_median]="$before background.mode=off_median"
config[bg_off_panel]=$demo;         what[bg_off_panel]="$before background.mode=off_panel"
config[bg_nearest]=$demo;           what[bg_nearest]="$before background.mode=nearest"
config[bg_column]=$demo;            what[bg_column]="$before background.mode=column"
config[focal]=$demo;                what[focal]="$before train.focal_gamma=2"
config[inject]=$demo;               what[inject]="$before inject.p=0.1"
config[inject_rfi]=$demo;           what[inject_rfi]="model.pool=4 model.pool_freq=0 inject.p=0.1 inject.rfi_p=0.3"
config[rfi_only]=$demo;             what[rfi_only]="model.pool=4 model.pool_freq=0 inject.rfi_p=0.3"
config[inject_strong]=$demo;        what[inject_strong]="model.pool=4 model.pool_freq=0 inject.p=0.3 inject.snr_min=3 inject.snr_max=20 inject.rfi_p=0.5"
config[inject_same]=$demo;          what[inject_same]="$before inject.p=0.1 inject.paths=straight inject.intensities=constant,scintillating inject.snr_min=3 inject.snr_max=20"
config[mixup_renorm]=$demo;         what[mixup_renorm]="$before mixup.renormalize=true"
config[pool_8x2]=$demo;             what[pool_8x2]="model.pool=8 model.pool_freq=2 inject.rfi_p=0"
config[pool_8x2_rfi]=$demo;         what[pool_8x2_rfi]="model.pool=8 model.pool_freq=2 inject.rfi_p=0.3"
config[demo_seed43]=$demo;          what[demo_seed43]="$before run.seed=43"
config[pool_8x2_rfi_seed43]=$demo;  what[pool_8x2_rfi_seed43]="model.pool=8 model.pool_freq=2 inject.rfi_p=0.3 run.seed=43"
config[gem]=$demo;                  what[gem]="$before model.global_pool=gem"
config[mean_channels]=$demo;        what[mean_channels]="$before background.mode=off_mean load.layout=channels"
config[mean_no_mixup]=$demo;        what[mean_no_mixup]="$before background.mode=off_mean mixup.p=0"
config[mean_epochs_3]=$demo;        what[mean_epochs_3]="$before background.mode=off_mean train.epochs=3 pretrain.epochs=3"
config[dedoppler]=$dd;              what[dedoppler]="dedoppler.json as shipped"
config[dedoppler_off_mean]=$dd;     what[dedoppler_off_mean]="background.mode=off_mean"
config[zero_dm]=$demo;              what[zero_dm]="background.zero_dm=true"
config[dedoppler_zero_dm]=$dd;      what[dedoppler_zero_dm]="background.zero_dm=true"
config[dedoppler_off_mean_zero_dm]=$dd; what[dedoppler_off_mean_zero_dm]="background.mode=off_mean background.zero_dm=true"
# the track search (model.search "track", the forward algorithm, background neighbour_mean) and what each of its settings does
config[track]=$tr;                  what[track]="track.json as shipped"
config[track_band]=$tr;             what[track_band]="model.track_window=0"
config[track_window16]=$tr;         what[track_window16]="model.track_window=16"
config[track_window64]=$tr;         what[track_window64]="model.track_window=64"
config[track_viterbi]=$tr;          what[track_viterbi]="model.track_algorithm=viterbi"
config[track_beta2]=$tr;           what[track_beta2]="model.track_beta=2"
config[track_beta1]=$tr;            what[track_beta1]="model.track_beta=1"
config[track_beta4]=$tr;            what[track_beta4]="model.track_beta=4"
config[track_off_mean]=$tr;         what[track_off_mean]="background.mode=off_mean"
config[dedoppler_neighbour_mean]=$dd; what[dedoppler_neighbour_mean]="background.mode=neighbour_mean"
config[track_t3f1]=$tr;             what[track_t3f1]="model.time_bin=3 model.freq_bin=1"
config[track_t3f2]=$tr;             what[track_t3f2]="model.time_bin=3 model.freq_bin=2"
config[track_t12f1s2]=$tr;          what[track_t12f1s2]="model.time_bin=12 model.freq_bin=1 model.track_step=2"
config[track_t6f2s2]=$tr;           what[track_t6f2s2]="model.track_step=2"
config[track_t13f4]=$tr;            what[track_t13f4]="model.time_bin=13 model.freq_bin=4"
config[track_mean]=$tr;             what[track_mean]="model.track_compare=mean"
# blends: `seti ensemble` over two rows' configs (each member trained in the row's directory, then a rank
# blend with equal weights, fixed in advance); blend[row] names the members, blend_set[row] adds overrides to all,
# blend_mode[row] is the ensemble's "blend"
declare -A blend
blend[blend_dedoppler]="demo dedoppler";        what[blend_dedoppler]="rank blend of demo and dedoppler"
blend[blend_dedoppler_seed43]="demo dedoppler"; what[blend_dedoppler_seed43]="rank blend of demo and dedoppler, run.seed=43"
blend[blend_dedoppler_off_mean]="demo dedoppler_off_mean"; what[blend_dedoppler_off_mean]="rank blend of demo and dedoppler_off_mean"
config[blend_dedoppler]=ensemble;               config[blend_dedoppler_seed43]=ensemble
config[blend_dedoppler_off_mean]=ensemble
blend[blend_zero_dm]="zero_dm dedoppler_off_mean"; config[blend_zero_dm]=ensemble
what[blend_zero_dm]="rank blend of zero_dm and dedoppler_off_mean"
blend[blend_dedoppler_min]="dedoppler dedoppler_off_mean"; config[blend_dedoppler_min]=ensemble
what[blend_dedoppler_min]="rank_min blend of dedoppler and dedoppler_off_mean"
declare -A blend_set=([blend_dedoppler_seed43]="run.seed=43")
declare -A blend_mode=([blend_dedoppler_min]=rank_min)  # the rest: rank

for set in $sets; do
  case $set in
    indist) set_work=$work; data=$work/data-$seed${QUICK:+-quick}; preset=(--seed "$seed"); all_rows=$indist_rows ;;
    shift) set_work=$work/shift; data=$work/shift/data${QUICK:+-quick}; preset=(--preset shift); all_rows=$shift_rows ;;
    shift2) set_work=$work/shift2; data=$work/shift2/data${QUICK:+-quick}; preset=(--preset shift --seed 7); all_rows=$shift2_rows ;;
    setigen) set_work=$work/setigen; data=$work/setigen/data${QUICK:+-quick}; all_rows=$setigen_rows ;;
    *) echo "quality.sh: unknown set \`$set\` (sets: indist shift shift2 setigen)" >&2; exit 2 ;;
  esac
  mkdir -p "$set_work"
  if [ "$set" = setigen ] && [ ! -f "$data/old_leaky_data/train_labels_old.csv" ]; then
    # drawn by setigen (PyPI) in a venv of its own: an oracle's data, never a dependency of the build
    py=${SETIGEN_PYTHON:-.venv-setigen/bin/python}
    if ! "$py" -c "import setigen" 2> /dev/null; then
      /usr/bin/python3 -m venv --system-site-packages .venv-setigen && .venv-setigen/bin/pip install -q setigen
      py=.venv-setigen/bin/python
    fi
    if [ "${QUICK:-0}" = 1 ]; then sg_sizes=(--train 48 --test 24 --old 48); else sg_sizes=(--train 1200 --test 1000 --old 1200); fi
    "$py" bench/setigen_shift.py --root "$data" "${sg_sizes[@]}"
  elif [ "$set" != setigen ] && [ ! -f "$data/.complete" ]; then
    "$build_dir/samples/cadence-synth" --root "$data" "${preset[@]}" "${sizes[@]}" --quiet
  fi
  for row in ${ROWS:-$all_rows}; do
    [ -n "${config[$row]:-}" ] || { echo "quality.sh: unknown row \`$row\` (rows: ${!config[*]})" >&2; exit 2; }
    sets_=()
    if [ "${what[$row]}" != "${config[$row]##*/} as shipped" ]; then
      for kv in ${what[$row]}; do sets_+=(--set "$kv"); done
    fi
    echo "== $set/$row: ${what[$row]}"
    rm -rf "$set_work/run-$row"
    start=$(date +%s%N)
    if [ -n "${blend[$row]:-}" ]; then
      # the members as their rows run them (config and overrides), the blend's own overrides on top
      /usr/bin/python3 - "$set_work/ens-$row.json" "$set_work/run-$row" "$data" "${THREADS:-0}" \
        "${blend_set[$row]:-}" "${quick[*]}" "${blend_mode[$row]:-rank}" ${blend[$row]} > /dev/null <<EOF_PY
import json, os, sys
out, run_dir, data, threads, extra, quick, mode, members = (sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4],
                                                           sys.argv[5], sys.argv[6], sys.argv[7], sys.argv[8:])
config = {$(for m in ${blend[$row]}; do printf '"%s": ("%s", "%s"), ' "$m" "$(realpath "${config[$m]}")" "${what[$m]}"; done)}
common = ["load.root=" + data, "run.threads=" + threads] + extra.split() + [kv for kv in quick.split() if kv != "--set"]
def own(m):
    path, what = config[m]
    return [] if what == os.path.basename(path) + " as shipped" else what.split()
ens = {"ensemble": {"dir": run_dir, "blend": mode, "set": common,
                    "members": [{"name": m, "config": config[m][0], "weight": 1.0 / len(members), "set": own(m)}
                                for m in members]}}
json.dump(ens, open(out, "w"), indent=2)
EOF_PY
      "$build_dir/samples/seti" ensemble --config "$set_work/ens-$row.json" --quiet > "$set_work/run-$row.log" 2>&1 ||
        { tail -n 5 "$set_work/run-$row.log" >&2; exit 1; }
    else
      "$build_dir/samples/seti" run --config "${config[$row]}" --set load.root="$data" --set run.dir="$set_work/run-$row" \
        --set run.threads="${THREADS:-0}" "${sets_[@]}" "${quick[@]}" --quiet > "$set_work/run-$row.log" 2>&1 ||
        { tail -n 5 "$set_work/run-$row.log" >&2; exit 1; }
    fi
    end=$(date +%s%N)
    echo "{\"row\": \"$row\", \"what\": \"${what[$row]}\", \"wall_s\": $(( (end - start) / 1000000 )).0e-3}" > "$set_work/run-$row/wall.json"
    tail -n 3 "$set_work/run-$row.log"
  done
  write_tables "$set" "$set_work" "$data" "$all_rows"
done
