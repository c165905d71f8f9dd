#!/usr/bin/env python3
"""`seti scan` against turboSETI's find_doppler on the same setigen cadence (bench/scan.sh runs it).

Makes a cadence of six .h5 files (2^CHANNELS_LOG2 channels x 16 samples, Green Bank's high-resolution
channel width and sample time; tests/data/make_scan_fixture.py's make_cadence) with SIGNALS drifting
signals in the ON files, SNR evenly from 10 to 50, drift rates from -0.2 to 0.2 Hz/s, at random channels;
then times, at the same thread count:
  seti scan        the run's folds over every window (and the de-Doppler line of each)
  find_doppler     turboSETI on each of the six files (max_drift 0.3 Hz/s, SNR >= 10), then
                   find_event_pipeline's ON-only filter (filter_threshold 3), as users run it
and counts, for each, the injected signals with SNR >= 20 (and all of them) found in its top 20:
seti's 20 best windows (a signal is found when a window holds its channel at the cadence's midpoint),
turboSETI's 20 strongest events (found when an event's frequency is within 200 channels of the signal's
start). Writes WORK/result.json (and prints it).
"""
import contextlib
import json
import os
import pathlib
import subprocess
import sys
import time

import numpy as np

HERE = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests" / "data"))
from make_scan_fixture import make_cadence, NAMES  # noqa: E402

DF_HZ, DT_S, TCHANS = 2.7939677238464355, 18.253611008, 16


def timed(cmd, env=None):
    """Runs cmd in a fresh wrapper process; returns (seconds, the command's peak RSS in MiB, its output)."""
    wrap = ("import resource,subprocess,sys\n"
            "p=subprocess.run(sys.argv[1:])\n"
            "print('PEAK_RSS_KB', resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)\n"
            "sys.exit(p.returncode)\n")
    t = time.time()
    p = subprocess.run([sys.executable, "-c", wrap, *cmd], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    seconds = time.time() - t
    if p.returncode != 0:
        sys.exit(f"{cmd[0]} failed:\n{p.stdout[-3000:]}")
    kb = int(p.stdout.rsplit("PEAK_RSS_KB", 1)[1].split()[0])
    return seconds, kb / 1024.0, p.stdout


def main():
    seti, config, run, work = sys.argv[1], sys.argv[2], sys.argv[3], pathlib.Path(sys.argv[4])
    log2 = int(os.environ.get("CHANNELS_LOG2", "20"))
    n_signals = int(os.environ.get("SIGNALS", "16"))
    threads = int(os.environ.get("THREADS", "2"))
    fchans = 1 << log2
    rng = np.random.default_rng(2026)
    snrs = np.linspace(10, 50, n_signals)
    channels = np.sort(rng.choice(np.arange(400, fchans - 400, 1200), size=n_signals, replace=False))
    drifts = rng.uniform(0.02, 0.2, n_signals) * rng.choice([-1, 1], n_signals)
    signals = [{"channel": int(c), "snr": float(s), "drift": float(d), "width": 20.0} for c, s, d in zip(channels, rng.permutation(snrs), drifts)]
    data = work / f"cadence_{log2}"
    t0 = time.time()
    if not (data / "d.h5").exists():
        make_cadence(data, fchans, signals, fmt="h5", seed=11)
    made = time.time() - t0
    if os.environ.get("GENERATE_ONLY"):
        print(f"made {data} in {made:.1f} s")
        return
    files = [str(data / f"{n}.h5") for n in NAMES]
    cadence_s = 6 * TCHANS * DT_S
    mid = [s["channel"] - s["drift"] * cadence_s / 2 / DF_HZ for s in signals]  # channel falls as frequency rises

    out = work / "seti_scan"
    env = dict(os.environ, OMP_NUM_THREADS=str(threads))
    seti_s, seti_mb, seti_out = timed([seti, "scan", "--config", config, "--run", run, "--quiet", "--cadence", *files,
                                       "--set", f"scan.out={out}", "--set", f"scan.threads={threads}", "--set", f"run.threads={threads}"], env)
    rows = [line.split(",") for line in (out / "hits.csv").read_text().splitlines()[1:]]
    windows = len(rows)
    top = [(int(r[2]), int(r[3])) for r in rows[:20]]
    seti_found = [any(a <= m < b for a, b in top) for m in mid]
    by_snr = sorted(((float(r[9]) if r[9] else -1e9, int(r[2]), int(r[3])) for r in rows), reverse=True)[:20]
    dd_found = [any(a <= m < b for _, a, b in by_snr) for m in mid]

    from turbo_seti.find_doppler.find_doppler import FindDoppler
    from turbo_seti.find_event.find_event_pipeline import find_event_pipeline
    ts_dir = work / "turboseti"
    ts_dir.mkdir(parents=True, exist_ok=True)
    for f in ts_dir.glob("*"):
        f.unlink()
    code = ("import sys\nfrom turbo_seti.find_doppler.find_doppler import FindDoppler\n"
            "for f in sys.argv[2:]:\n    FindDoppler(f, max_drift=0.3, snr=10, out_dir=sys.argv[1], blank_dc=False, log_level_int=40).search()\n")
    ts_s, ts_mb, _ = timed([sys.executable, "-c", code, str(ts_dir), *files], env)
    dats = [str(ts_dir / (pathlib.Path(f).stem + ".dat")) for f in files]
    (ts_dir / "dats.lst").write_text("\n".join(dats) + "\n")
    (ts_dir / "h5s.lst").write_text("\n".join(files) + "\n")
    t1 = time.time()
    cwd = os.getcwd()
    os.chdir(ts_dir)
    try:
        with contextlib.redirect_stdout(sys.stderr):  # it prints its progress; stdout is this script's JSON
            events = find_event_pipeline(str(ts_dir / "dats.lst"), str(ts_dir / "h5s.lst"), filter_threshold=3, number_in_cadence=6,
                                         csv_name=str(ts_dir / "events.csv"), saving=True, user_validation=False)
    finally:
        os.chdir(cwd)
    ts_s += time.time() - t1
    ts_found = [False] * len(signals)
    n_events = 0
    if events is not None and len(events):
        ev = events[events["Status"] == "on_table_1"] if "Status" in events else events
        ev = ev.sort_values("SNR", ascending=False).head(20)
        n_events = len(events)
        fch1 = 6095.214842353016
        for _, e in ev.iterrows():
            ch = (fch1 - float(e["Freq"])) / (DF_HZ * 1e-6)
            for i, s in enumerate(signals):
                if abs(ch - s["channel"]) < 200:
                    ts_found[i] = True

    strong = [i for i, s in enumerate(signals) if s["snr"] >= 20]
    frac = lambda found, idx: sum(found[i] for i in idx) / max(1, len(idx))
    result = json.dumps({
        "channels": fchans, "signals": len(signals), "signals_snr_ge_20": len(strong), "threads": threads,
        "cadence_generation_s": round(made, 1),
        "seti": {"seconds": round(seti_s, 1), "windows": windows, "windows_per_s": round(windows / seti_s, 1),
                 "channels_per_s": round(fchans / seti_s), "peak_rss_mib": round(seti_mb),
                 "recall_top20_snr_ge_20": frac(seti_found, strong), "recall_top20_all": frac(seti_found, range(len(signals))),
                 "dedoppler_recall_top20_snr_ge_20": frac(dd_found, strong)},
        "turboseti": {"seconds": round(ts_s, 1), "channels_per_s": round(fchans / ts_s), "peak_rss_mib": round(ts_mb),
                      "events": n_events, "recall_top20_snr_ge_20": frac(ts_found, strong), "recall_top20_all": frac(ts_found, range(len(signals)))},
        "missed_by_seti": [signals[i] for i in strong if not seti_found[i]],
        "missed_by_turboseti": [signals[i] for i in strong if not ts_found[i]],
    }, indent=2)
    (work / "result.json").write_text(result + "\n")  # turboSETI's loggers print to stdout too
    print(result)


if __name__ == "__main__":
    main()
