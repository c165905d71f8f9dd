#!/usr/bin/env bash
# seti scan's de-Doppler hit search and events against turboSETI (find_doppler x 6 + find_event_pipeline)
# on one setigen cadence of 2^20 channels (six float32 .h5 files) with ON-only signals drifting up to
# +-4 Hz/s and RFI, a third of it faint in the OFF files so that find_event's filter passes it
# (bench/search_compare.py does the work): wall time, peak memory, recall by SNR and by drift, false
# events by the interference they match, at the same thread count. With RUN set (a trained run, e.g. runs/demo from
# `bash cmake/run.sh demo`) the run's folds score the events too. Rewrites the block between the markers
# in docs/scan.md.
#
#   bash bench/search.sh                        # the search alone
#   RUN=runs/demo bash bench/search.sh          # and the events scored by the network
#
# Needs the venv of bench/scan.sh (.venv-scan: setigen, blimpy, hdf5plugin, turbo_seti 2.3.2; made here if
# absent). Nothing else may run on the machine while it measures.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${VENV:-.venv-scan}
WORK=${WORK:-/tmp/cadence-search-bench}
export CHANNELS_LOG2=${CHANNELS_LOG2:-20} SIGNALS=${SIGNALS:-32} THREADS=${THREADS:-2} RUN=${RUN:-}
if [ ! -x "$VENV/bin/python" ]; then
  /usr/bin/python3 -m venv --system-site-packages "$VENV"
  "$VENV/bin/pip" install -q "numpy<2" "astropy<6.1" "pandas<2.3" "scipy<1.14" "matplotlib<3.10" "h5py<3.12" "hdf5plugin<5" \
    setigen==2.7.0 blimpy==2.1.4 turbo_seti==2.3.2
fi
bash cmake/run.sh build seti >/dev/null
config=samples/seti/configs/demo.json
[ -n "$RUN" ] && config="$RUN/config.json"
mkdir -p "$WORK"
"$VENV/bin/python" bench/search_compare.py "${CADENCE_BUILD_DIR:-build}/samples/seti" "$config" "$WORK" \
  > "$WORK/search_compare.log" 2>&1 || { tail -20 "$WORK/search_compare.log" >&2; exit 1; }
cat "$WORK/search_result.json"
features=$(grep -m1 -o -w 'avx512f\|avx2' /proc/cpuinfo | sort -u | tr '\n' ' ' || true)
model=$(lscpu | sed -n 's/^Model name: *//p' | head -1)
"$VENV/bin/python" - "$WORK/search_result.json" docs/scan.md "$model" "$features" <<'PY'
import json, sys, datetime, pathlib
r = json.load(open(sys.argv[1]))
doc = pathlib.Path(sys.argv[2])
bins = list(r["seti"]["recall"].keys())
label = lambda b: b.replace("|drift|", "drift ±")  # a result.json of an older run
def row(name, e):
    rec = " | ".join(f"{e['recall'][b][0]}/{e['recall'][b][1]}" for b in bins)
    kinds = e.get("false_by_kind", {})
    why = ", ".join(f"{n} {k.replace('rfi_', '').replace('_', '-') if k != 'rfi' else 'steady RFI'}"
                    for k, n in kinds.items() if n)
    false = f"{e['false_events']}" + (f" ({why})" if why else "")
    return f"| {name} | {e.get('seconds', '')} s | {e.get('peak_rss_mib', '')} MiB | {e['events']} | {false} | {rec} |"
lines = [
    f"Measured {datetime.date.today()} by `bench/search.sh` on {sys.argv[3]} ({sys.argv[4].strip() or 'no AVX2'}), 2 cores, no GPU,"
    f" {r['threads']} threads each: one setigen cadence of {r['channels']:,} channels x 16 samples per file (six float32 .h5"
    f" files), {r['signals']} ON-only signals (SNR 8 to 50, drift -4 to 4 Hz/s) and {r['rfi_lines']} RFI lines (in all six files,"
    " or switching off after the second ON file"
    + (f", or, {r['rfi_faint_off']} of them, in all six files at SNR 15 to 40 in the ON files and 4 to 7, below the"
       " threshold, in the OFF files: faint-off" if r.get("rfi_faint_off") else "")
    + "); max_drift 4 Hz/s, SNR 10, filter 3. Recall: events found / signals in the bin;"
    " a false event matches no injected signal (in brackets: the interference it matches, or noise).",
    "",
    "| | wall time | peak memory | events | false events | " + " | ".join(map(label, bins)) + " |",
    "|---|---|---|---|---|" + "---|" * len(bins),
    row("`seti scan`, the search alone", r["seti"]),
]
if "seti_with_run" in r:
    w = r["seti_with_run"]
    lines.append(row(f"`seti scan --run {r['run']}` (events scored)", w))
    s = dict(w["score_ge_0.5"]); s["seconds"] = ""; s["peak_rss_mib"] = ""
    lines.append(row("  its events scored >= 0.5", s).replace(" s |", " |", 1).replace(" MiB |", " |", 1))
    if "score_auc_true_vs_false" in w:
        note = (f"The run's score ranks a true event above a false one with probability {w['score_auc_true_vs_false']}"
                " (the ROC AUC between them; 0.5 is chance).")
lines.append(row("turboSETI `find_doppler` x 6 + `find_event_pipeline`", r["turboseti"]))
if "seti_with_run" in r and "score_auc_true_vs_false" in r["seti_with_run"]:
    lines += ["", note]
v = r["seti"].get("vetoed")
if v is not None:
    kinds = ", ".join(f"{n} {k.replace('rfi_', '').replace('_', '-') if k != 'rfi' else 'steady RFI'}"
                      for k, n in v["by_kind"].items() if n)
    lines += ["", f"`seti scan` set aside {v['events']} events that passed find_event's filter because their OFF files"
              f" show them along their path (`scan.off_snr`){': ' + kinds if kinds else ''}; injected signals among"
              f" them: {v['signals']}."]
text = doc.read_text()
a, b = "<!-- search.sh: begin -->", "<!-- search.sh: end -->"
if a not in text:
    text = text.replace("## Measured\n", "## Measured\n\n### The search against turboSETI (`bash bench/search.sh`)\n\n" + a + "\n" + b + "\n\n### Windows (`bash bench/scan.sh`)\n", 1)
i, j = text.index(a) + len(a), text.index(b)
doc.write_text(text[:i] + "\n" + "\n".join(lines) + "\n" + text[j:])
print("updated", doc)
PY
