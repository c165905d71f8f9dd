#!/usr/bin/env python3
"""`seti scan`'s hit search and events against turboSETI on the same setigen cadence (bench/search.sh runs it).

Makes a cadence of six float32 .h5 files (2^CHANNELS_LOG2 channels x 16 samples, Green Bank's
high-resolution channel width and sample time; tests/data/make_search_fixture.py's make_cadence) with
  SIGNALS ON-only signals: SNR log-uniform from 8 to 50, drift uniform in -4..4 Hz/s;
  RFI lines in all six files (half at zero drift, half drifting up to +-1 Hz/s), and as many again that
  switch off after the second ON file (present in files 1-3 only), SNR 15 to 60;
  as many again of RFI that looks like a signal to find_event: drifting lines (0.05 to 2 Hz/s either way)
  in all six files, SNR 15 to 40 in the ON files and 4 to 7 in the OFF files, below the hit threshold
  of 10, so that no OFF file holds a hit and filter 3 passes them (a terrestrial source that is merely
  weaker while the telescope points away); in the drift-integrated spectrum of an OFF file they are
  still there to see;
then runs, at THREADS threads each:
  seti         seti scan, the search alone (max_drift 4, SNR 10, filter 3), and, when RUN names a trained
               run, the same with the run's folds scoring the events
  turboSETI    find_doppler on each file (max_drift 4, SNR 10, one coarse channel), then find_event_pipeline
               (filter 3), as users run them
and reports wall time, peak memory, recall of the injected signals (an event within 4 channels of a
signal's channel at the cadence's start) by SNR and by |drift|, and false events (matching no signal),
by what they match: an interference line of each kind, or nothing injected ("noise").
Writes WORK/result.json (and prints it).
"""
import contextlib
import csv
import io
import json
import os
import pathlib
import subprocess
import sys
import time

import numpy as np

HERE = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests" / "data"))
from make_search_fixture import FCH1, DF, NAMES, make_cadence  # noqa: E402
from scan_compare import timed  # noqa: E402  (bench/scan_compare.py: wall time and peak RSS of a command)

SNR_BINS = [(8, 12), (12, 20), (20, 50)]
DRIFT_BINS = [(0, 1), (1, 2.5), (2.5, 4)]


def cadence(work, log2, n_signals, seed=2026):
    fchans = 1 << log2
    rng = np.random.default_rng(seed)
    n_rfi = max(2, n_signals // 2)
    slots = np.sort(rng.choice(np.arange(3000, fchans - 3000, 6000), size=n_signals + 3 * n_rfi, replace=False))
    rng.shuffle(slots)
    lines = []
    for i in range(n_signals):
        lines.append({"name": f"signal_{i}", "channel": int(slots[i]), "snr": float(np.exp(rng.uniform(np.log(8), np.log(50)))),
                      "drift": float(rng.uniform(-4, 4)), "where": "on"})
    for j in range(n_rfi):
        c = slots[n_signals + j]
        lines.append({"name": f"rfi_{j}", "channel": int(c), "snr": float(rng.uniform(15, 60)),
                      "drift": 0.0 if j % 2 == 0 else float(rng.uniform(-1, 1)), "where": "all"})
    for j in range(n_rfi):
        c = slots[n_signals + n_rfi + j]
        lines.append({"name": f"rfi_switching_{j}", "channel": int(c), "snr": float(rng.uniform(15, 60)),
                      "drift": float(rng.uniform(-1, 1)), "where": "files", "files": [0, 1, 2]})
    for j in range(n_rfi):  # faint in the OFF files: setigen's intensity is linear in the SNR, so the line
        c = slots[n_signals + 2 * n_rfi + j]  # is added to all six at the OFF level and to the ON ones again
        on, off = float(rng.uniform(15, 40)), float(rng.uniform(4, 7))
        drift = float(rng.uniform(0.05, 2)) * (1 if rng.uniform() < 0.5 else -1)
        lines.append({"name": f"rfi_faint_off_{j}", "channel": int(c), "snr": off, "drift": drift, "where": "all"})
        lines.append({"name": f"rfi_faint_off_{j}", "channel": int(c), "snr": on - off, "drift": drift, "where": "on",
                      "rfi": True, "on_snr": on})
    data = work / f"search_{log2}_faint_off"
    if not (data / "d.h5").exists():
        make_cadence(data, lines, fchans=fchans, seed=11, eight_bit=False)
    return data, lines


def recall(found, signals):
    by = {}
    for lo, hi in SNR_BINS:
        idx = [i for i, s in enumerate(signals) if lo <= s["snr"] < hi]
        by[f"snr {lo}-{hi}"] = [sum(found[i] for i in idx), len(idx)]
    for lo, hi in DRIFT_BINS:
        idx = [i for i, s in enumerate(signals) if lo <= abs(s["drift"]) < hi]
        by[f"drift ±{lo}-{hi} Hz/s"] = [sum(found[i] for i in idx), len(idx)]
    by["all"] = [sum(found), len(signals)]
    return by


KINDS = ["rfi_switching", "rfi_faint_off", "rfi"]  # longest prefix first


def match(channels, signals, interference):
    """Which signals an event channel list finds, how many events match none, and those by what they
    match: an interference line's kind (its name's prefix) or "noise"."""
    found = [False] * len(signals)
    false = 0
    by_kind = {k: 0 for k in KINDS + ["noise"]}
    for c in channels:
        hit = [i for i, s in enumerate(signals) if abs(c - s["channel"]) <= 4]
        for i in hit:
            found[i] = True
        if not hit:
            false += 1
            near = [r["name"] for r in interference if abs(c - r["channel"]) <= 4]
            kind = next((k for k in KINDS if near and near[0].startswith(k)), "noise")
            by_kind[kind] += 1
    return found, false, by_kind


def main():
    seti, config, work = sys.argv[1], sys.argv[2], pathlib.Path(sys.argv[3])
    run = os.environ.get("RUN", "")
    log2 = int(os.environ.get("CHANNELS_LOG2", "20"))
    threads = int(os.environ.get("THREADS", "2"))
    data, lines = cadence(work, log2, int(os.environ.get("SIGNALS", "32")))
    signals = [s for s in lines if s["where"] == "on" and not s.get("rfi")]
    interference = [s for s in lines if s not in signals]
    files = [str(data / f"{n}.h5") for n in NAMES]
    env = dict(os.environ, OMP_NUM_THREADS=str(threads))
    result = {"channels": 1 << log2, "signals": len(signals), "threads": threads,
              "rfi_lines": len({s["name"] for s in interference}),
              "rfi_faint_off": len({s["name"] for s in interference if s["name"].startswith("rfi_faint_off")})}

    def seti_scan(out, with_run):
        cmd = [seti, "scan", "--config", config, "--quiet", "--cadence", *files, "--set", f"scan.out={out}",
               "--set", f"scan.threads={threads}", "--set", f"run.threads={threads}"]
        if with_run:
            cmd += ["--run", run]
        seconds, mib, _ = timed(cmd, env)
        rows = list(csv.DictReader(io.StringIO((out / "events.csv").read_text())))
        found, false, kinds = match([int(r["channel"]) for r in rows], signals, interference)
        entry = {"seconds": round(seconds, 1), "peak_rss_mib": round(mib), "events": len(rows), "false_events": false,
                 "false_by_kind": kinds, "recall": recall(found, signals)}
        # what scan.off_snr set aside (interference by its OFF files along the path): a signal there is lost
        vetoed = json.loads((out / "scan.json").read_text())["search"].get("vetoed", [])
        v_found, v_false, v_kinds = match([int(v["channel"]) for v in vetoed], signals, interference)
        entry["vetoed"] = {"events": len(vetoed), "signals": sum(v_found), "by_kind": v_kinds}
        if with_run:  # the network's verdict: events it scores >= 0.5
            kept = [r for r in rows if r["score"] and float(r["score"]) >= 0.5]
            f2, false2, kinds2 = match([int(r["channel"]) for r in kept], signals, interference)
            entry["score_ge_0.5"] = {"events": len(kept), "false_events": false2, "false_by_kind": kinds2,
                                     "recall": recall(f2, signals)}
            # threshold-free: how often a true event outscores a false one (the ROC AUC of the score
            # between the two; 0.5 = no better than chance)
            true_s, false_s = [], []
            for r in rows:
                if r["score"]:
                    (true_s if match([int(r["channel"])], signals, interference)[1] == 0 else false_s).append(
                        float(r["score"]))
            if true_s and false_s:
                entry["score_auc_true_vs_false"] = round(
                    sum((t > f) + 0.5 * (t == f) for t in true_s for f in false_s) / (len(true_s) * len(false_s)), 3)
        return entry

    result["seti"] = seti_scan(work / "seti_search", False)
    if run:
        result["seti_with_run"] = seti_scan(work / "seti_events", True)
        result["run"] = run

    ts_dir = work / "turboseti_search"
    ts_dir.mkdir(parents=True, exist_ok=True)
    for f in ts_dir.glob("*"):
        f.unlink()
    code = ("import sys\nfrom turbo_seti.find_doppler.find_doppler import FindDoppler\n"
            "for f in sys.argv[2:]:\n    FindDoppler(f, max_drift=4.0, snr=10, out_dir=sys.argv[1], n_coarse_chan=1, "
            "blank_dc=True, log_level_int=40).search()\n")
    ts_s, ts_mb, _ = timed([sys.executable, "-c", code, str(ts_dir), *files], env)
    from turbo_seti.find_event.find_event_pipeline import find_event_pipeline
    (ts_dir / "dats.lst").write_text("".join(f"{ts_dir / (pathlib.Path(f).stem + '.dat')}\n" for f in files))
    (ts_dir / "h5s.lst").write_text("".join(f"{f}\n" for f in files))
    t1 = time.time()
    with contextlib.redirect_stdout(sys.stderr):
        events = find_event_pipeline(str(ts_dir / "dats.lst"), str(ts_dir / "h5s.lst"), filter_threshold=3,
                                     number_in_cadence=6, SNR_cut=10, csv_name=str(ts_dir / "events.csv"), saving=True,
                                     user_validation=False)
    ts_s += time.time() - t1
    channels = []
    if events is not None and len(events):
        first = events[events["status"] == "on_table_1"]
        channels = [round((FCH1 - float(f)) / (DF * 1e-6)) for f in first["Freq"]]
    found, false, kinds = match(channels, signals, interference)
    result["turboseti"] = {"seconds": round(ts_s, 1), "peak_rss_mib": round(ts_mb), "events": len(channels),
                           "false_events": false, "false_by_kind": kinds, "recall": recall(found, signals)}
    text = json.dumps(result, indent=2)
    (work / "search_result.json").write_text(text + "\n")
    print(text)


if __name__ == "__main__":
    main()
