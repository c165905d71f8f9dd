#!/usr/bin/env python3
"""The tables bench/quality.sh writes into docs/quality.md (the standard library only: /usr/bin/python3).

    quality_tables.py tables SET WORK OUT_MD SEED QUICK DATA ROWS...   one set's tables, from its work directory
    quality_tables.py draws OUT_MD ROOT DATA ROWS...                   each row over every shift draw under ROOT
                                                                       (ROOT/<draw>/DATA: its data)

Each writes its block between <!-- quality.sh ...: begin --> and <!-- ...: end --> markers in OUT_MD (added at
the end when absent) and leaves the rest of the file as it was.
"""
import csv, json, os, platform, subprocess, sys
def rows_of(path):  # a CSV file's rows as dicts (the file closed again)
    with open(path, newline="") as f:
        return list(csv.DictReader(f))
def read_text(path):
    with open(path) as f:
        return f.read()
def load(work, row, name):
    with open(os.path.join(work, "run-" + row, name)) as f:
        return json.load(f)
def f4(x):
    return "%.4f" % x if x is not None and x >= 0 else "–"
def bins(pr, key, lo, hi, fmt):
    return {(fmt % b[lo]) + ("+" if b[hi] > 1e8 else "–" + fmt % b[hi]): b for b in pr.get(key, [])}
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
def without_pulsed(work, data, row):  # the test AUC with the pulsed positives left out (their energy: the duty cycle's share)
    truth = os.path.join(data, "test_labels.csv")
    sub = os.path.join(work, "run-" + row, "submission.csv")
    if not (os.path.exists(truth) and os.path.exists(sub)):
        return None
    labels = {r["id"]: r for r in rows_of(truth)}
    pairs = [(float(r["target"]), int(labels[r["id"]]["target"])) for r in rows_of(sub)
             if r["id"] in labels and not (labels[r["id"]]["target"] == "1" and
                                           "pulsed" in labels[r["id"]].get("signal", "").split("+"))]
    return rank_auc(pairs)
ENERGY_EDGES = [3, 5, 7.5, 10, 15, 1e9]  # SNR x energy bins from the training set's least SNR (3) up
def scored(pred, column, truth):  # (score, label, SNR x energy) per id of a prediction file, from a truth file
    if not (os.path.exists(pred) and os.path.exists(truth)):
        return None
    labels = {r["id"]: r for r in rows_of(truth)}
    if not labels or "energy" not in next(iter(labels.values())):
        return None
    out = []
    for r in rows_of(pred):
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
def matched_energy(work, data, row):  # out of fold and test, each the mean of its SNR x energy bins' AUCs weighted by the
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
    y = [r[key] for r in rows_of(path)]
    return y.count("1"), y.count("0")
def gap_se(work, data, row, oof_auc, test_auc):  # out-of-fold minus test: each AUC's error, independent sets
    o = class_counts(os.path.join(work, "run-" + row, "oof.csv"), "target")
    t = class_counts(os.path.join(data, "test_labels.csv"), "target")
    if not o or not t or min(o + t) == 0 or not (0 < oof_auc < 1 and 0 < test_auc < 1):
        return None
    return (hanley_mcneil(oof_auc, *o) ** 2 + hanley_mcneil(test_auc, *t) ** 2) ** 0.5
def cpu_name():  # the CPU's model and the features the figures depend on
    cpu = subprocess.run(["sh", "-c", "lscpu | sed -n 's/^Model name: *//p'"], capture_output=True, text=True).stdout.strip()
    flags = subprocess.run(["sh", "-c", "lscpu | grep -o -w 'avx2\\|avx512f\\|avx512_bf16\\|amx_tile' | sort -u | tr '\\n' ' '"],
                           capture_output=True, text=True).stdout.split()
    return (cpu or platform.processor()) + (" (" + ", ".join(flags) + ")" if flags else "")
def write_block(out_md, tag, text):  # `text` between <!-- tag: begin --> and <!-- tag: end --> in out_md (atomically)
    marker_begin, marker_end = "<!-- %s: begin -->" % tag, "<!-- %s: end -->" % tag
    block = marker_begin + "\n" + text + marker_end
    if os.path.exists(out_md):
        doc = read_text(out_md)
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
def tables(set_name, work, out_md, seed, quick, data, rows):
    res = []
    for row in [r for r in rows if os.path.exists(os.path.join(work, "run-" + r, "wall.json"))]:
        w, cv, pr = load(work, row, "wall.json"), load(work, row, "cv.json"), load(work, row, "predict.json")
        if "blend" in cv:  # an ensemble's cv.json: the blend's out-of-fold AUC (no folds of its own)
            cv = {"oof_auc": cv["blend"]["oof_auc"]}
        res.append((row, w, cv, pr))
    lines = []
    cpu = cpu_name()
    shift = set_name in ("shift", "shift2", "shift3", "shift4", "setigen")  # out-of-fold minus test, and the table by family
    pulsed = set_name in ("shift", "shift2", "shift3", "shift4")  # the sets with pulsed signals in their test set
    matched = {r[0]: matched_energy(work, data, r[0]) for r in res} if pulsed else {}
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
            se = gap_se(work, data, row, cv["oof_auc"], test_auc)
            gap = " %+.4f%s |" % (cv["oof_auc"] - test_auc, " ± %.3f" % se if se is not None else "")
        if pulsed:
            np_auc = without_pulsed(work, data, row)
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
    source = {"indist": "cadence-synth seed " + seed, "shift": "cadence-synth --preset shift",
              "shift2": "cadence-synth --preset shift --seed 7, a second draw",
              "shift3": "cadence-synth --preset shift --seed 8, a third draw",
              "shift4": "cadence-synth --preset shift --seed 9, a fourth draw",
              "setigen": "bench/setigen_shift.py, setigen's own signals"}[set_name]
    header = ("Measured by `bash bench/quality.sh` (%s%s) on %s, %d cores.\n\n" %
              (source, ", QUICK" if quick == "1" else "", cpu, os.cpu_count()))
    write_block(out_md, tag, header + text)
    print(text)
    print("wrote", out_md)
SHIFT_DRAWS = ["shift", "shift2", "shift3", "shift4"]  # the sets drawn by --preset shift, each with its own seed
def draws(out_md, root, rows, data_name="data"):
    """Over every shift draw measured (a work directory with the row's results): each row's gaps, raw and
    at the training set's SNR x energy, per draw and their mean, with two errors of the mean: the draws'
    sampling errors combined (independent draws: the root of the summed variances over their count),
    which holds a detector fixed, and the spread of the draws' gaps (their standard deviation over the
    root of their count), which also sees a network trained again on each draw."""
    found = []
    for name in SHIFT_DRAWS:
        work = os.path.join(root, name)
        if os.path.isdir(work):
            found.append((name, work, os.path.join(work, data_name)))
    used = []  # the draws some row was measured on, for the header
    lines = ["| row | draws | mean test AUC | mean out-of-fold − test (± sampling s.e.; ± the draws' spread) | "
             "the same at the training set's SNR × energy | per draw: raw / at SNR × energy |",
             "|---|---|---|---|---|---|"]
    for row in rows:
        per = []
        for name, work, data in found:
            if not os.path.exists(os.path.join(work, "run-" + row, "wall.json")):
                continue
            cv, pr = load(work, row, "cv.json"), load(work, row, "predict.json")
            if "blend" in cv:
                cv = {"oof_auc": cv["blend"]["oof_auc"]}
            test = pr.get("test ROC AUC (test_labels.csv)")
            m = matched_energy(work, data, row)
            if test is None or m is None:
                continue
            se = gap_se(work, data, row, cv["oof_auc"], test) or 0.0  # None: an AUC of 0 or 1, no sampling error
            per.append((name, test, cv["oof_auc"] - test, se, m[0] - m[1], m[2]))
        if len(per) < 2:
            continue
        used += [p[0] for p in per if p[0] not in used]
        n = len(per)
        mean = lambda k: sum(p[k] for p in per) / n
        err = lambda k: sum(p[k] ** 2 for p in per) ** 0.5 / n
        spread = lambda k: (sum((p[k] - mean(k)) ** 2 for p in per) / (n - 1)) ** 0.5 / n ** 0.5
        lines.append("| %s | %d | %.4f | %+.4f ± %.3f; ± %.3f | %+.4f ± %.3f; ± %.3f | %s |" % (
            row, n, mean(1), mean(2), err(3), spread(2), mean(4), err(5), spread(4),
            ", ".join("%s %+.3f / %+.3f" % (p[0], p[2], p[4]) for p in per)))
    text = ("Measured by `bash bench/quality.sh` over the shift draws (%s) on %s, %d cores.\n\n" %
            (", ".join(f[0] for f in found if f[0] in used), cpu_name(), os.cpu_count())) + "\n".join(lines) + "\n"
    write_block(out_md, "quality.sh draws", text)
    print(text)
    print("wrote", out_md)

if __name__ == "__main__":
    if len(sys.argv) >= 8 and sys.argv[1] == "tables":
        tables(*sys.argv[2:8], sys.argv[8:])
    elif len(sys.argv) >= 5 and sys.argv[1] == "draws":
        draws(sys.argv[2], sys.argv[3], sys.argv[5:], sys.argv[4])
    else:
        sys.exit(__doc__)
