#!/usr/bin/env bash
# seti scan against turboSETI's find_doppler on one setigen cadence of 2^20 channels (six .h5 files),
# at 2 threads: time, peak memory, and the recall of injected signals in the top 20 hits of each
# (bench/scan_compare.py does the work). Rewrites the block between the markers in docs/scan.md.
#
#   bash bench/scan.sh                       # RUN=runs/demo (bash cmake/run.sh demo makes it)
#   RUN=runs/x CHANNELS_LOG2=22 bash bench/scan.sh
#
# Needs a venv with setigen, blimpy, hdf5plugin and turbo_seti (VENV, made here if absent; turboSETI
# 2.3.2 needs numpy < 2, hence the pins). Nothing else may run on the machine while it measures.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${VENV:-.venv-scan}
RUN=${RUN:-runs/demo}
WORK=${WORK:-/tmp/cadence-scan-bench}
export CHANNELS_LOG2=${CHANNELS_LOG2:-20} SIGNALS=${SIGNALS:-16} THREADS=${THREADS:-2}
if [ ! -x "$VENV/bin/python" ]; then
  /usr/bin/python3 -m venv --system-site-packages "$VENV"
  "$VENV/bin/pip" install -q "numpy<2" "astropy<6.1" "pandas<2.3" "scipy<1.14" "matplotlib<3.10" "h5py<3.12" "hdf5plugin<5" \
    setigen==2.7.0 blimpy==2.1.4 turbo_seti==2.3.2
fi
[ -f "$RUN/config.json" ] || { echo "bench/scan.sh: no trained run in $RUN (bash cmake/run.sh demo makes runs/demo)" >&2; exit 1; }
ninja -C "${CADENCE_BUILD_DIR:-build}" seti >/dev/null
mkdir -p "$WORK"
"$VENV/bin/python" bench/scan_compare.py "${CADENCE_BUILD_DIR:-build}/samples/seti" "$RUN/config.json" "$RUN" "$WORK" \
  > "$WORK/scan_compare.log" 2>&1 || { tail -20 "$WORK/scan_compare.log" >&2; exit 1; }
cat "$WORK/result.json"
"$VENV/bin/python" - "$WORK/result.json" docs/scan.md "$RUN" <<'EOF'
import json, sys, datetime, pathlib
r = json.load(open(sys.argv[1]))
doc = pathlib.Path(sys.argv[2])
s, t = r["seti"], r["turboseti"]
pct = lambda x: f"{100 * x:.0f}%"
lines = [
    f"Measured {datetime.date.today()} by `bench/scan.sh` on this machine (2 cores, no GPU), {r['threads']} threads each: one setigen",
    f"cadence of {r['channels']:,} channels x 16 samples per file (six .h5 files, bitshuffle), {r['signals']} signals injected in the ON files",
    f"(SNR 10 to 50, {r['signals_snr_ge_20']} of them at SNR >= 20), seti with the run `{sys.argv[3]}`.",
    "",
    "| | wall time | channels/s | windows/s | peak memory | recall in top 20, SNR >= 20 | recall in top 20, all |",
    "|---|---|---|---|---|---|---|",
    f"| `seti scan` (the run's folds) | {s['seconds']} s | {s['channels_per_s']:,} | {s['windows_per_s']} | {s['peak_rss_mib']} MiB | {pct(s['recall_top20_snr_ge_20'])} | {pct(s['recall_top20_all'])} |",
    f"| its de-Doppler column alone (same scan, ranked by `dedoppler_snr`) | | | | | {pct(s['dedoppler_recall_top20_snr_ge_20'])} | |",
    f"| turboSETI `find_doppler` x 6 + `find_event_pipeline` | {t['seconds']} s | {t['channels_per_s']:,} | | {t['peak_rss_mib']} MiB | {pct(t['recall_top20_snr_ge_20'])} | {pct(t['recall_top20_all'])} |",
    "",
    f"Missed at SNR >= 20 by seti: {json.dumps(r['missed_by_seti']) if r['missed_by_seti'] else 'none'}; by turboSETI: "
    f"{json.dumps(r['missed_by_turboseti']) if r['missed_by_turboseti'] else 'none'}.",
]
text = doc.read_text()
a, b = "<!-- scan.sh: begin -->", "<!-- scan.sh: end -->"
i, j = text.index(a) + len(a), text.index(b)
doc.write_text(text[:i] + "\n" + "\n".join(lines) + "\n" + text[j:])
print("updated", doc)
EOF
