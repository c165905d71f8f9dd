#!/usr/bin/env python3
"""A cadence for `seti scan`'s de-Doppler hit search and events, with turboSETI as the oracle.

    .venv-scan/bin/python tests/data/make_search_fixture.py build/samples/seti     # rewrites tests/data/search/

(the venv: bench/scan.sh makes .venv-scan with setigen 2.7.0, blimpy 2.1.4, hdf5plugin and turbo_seti 2.3.2)

tests/data/search/ gets:
  h5/{a1,b,a2,c,a3,d}.h5  a setigen cadence in Breakthrough Listen HDF5 (blimpy's writer): 8192 channels x 16
                          samples at Green Bank's high-resolution channel width and sample time, rounded to
                          8-bit whole numbers (a small fixture, and the 8-bit path of the readers), ABACAD, with
                          three ON-only signals (one fast: +3.5 Hz/s) and two RFI lines in all six files
  signals.json            what was injected (channel at the cadence's first sample, SNR, drift, where)
  turboseti/*.dat         turboSETI's find_doppler on each file (max_drift 4, snr 10, one coarse channel)
  turboseti/events.csv    turboSETI's find_event_pipeline (filter 3) on those .dat files
  seti/*.dat              `seti scan`'s .dat files (the search alone: no --run) with the same settings
  seti/events.csv         turboSETI's find_event_pipeline (filter 3) on seti's .dat files: what turboSETI
                          reads in what seti writes

tests/detect/search.cpp compares the search with turboseti/*.dat (every turboSETI hit found, at its drift)
and the events with both events.csv files; a change to the .dat layout or the search's numbers shows there.
"""
import json
import os
import pathlib
import shutil
import subprocess
import sys
import tempfile

import numpy as np

NAMES = ["a1", "b", "a2", "c", "a3", "d"]
SOURCES = ["TARGET", "OFF_B", "TARGET", "OFF_C", "TARGET", "OFF_D"]
DF, DT, TCHANS, FCHANS = 2.7939677238464355, 18.253611008, 16, 8192
FCH1 = 6095.214842353016
# channel: at the cadence's first sample (the frequency falls with the channel: a positive drift in Hz/s
# moves to lower channels); where: "on" (the three ON files) or "all" (RFI)
SIGNALS = [
    {"name": "fast", "channel": 7000, "snr": 50.0, "drift": 3.5, "where": "on"},
    {"name": "falling", "channel": 1000, "snr": 30.0, "drift": -1.0, "where": "on"},
    {"name": "slow", "channel": 3000, "snr": 25.0, "drift": 0.5, "where": "on"},
    {"name": "rfi_drifting", "channel": 4400, "snr": 40.0, "drift": 0.3, "where": "all"},
    {"name": "rfi_still", "channel": 7900, "snr": 60.0, "drift": 0.0, "where": "all"},
]
MAX_DRIFT, SNR = 4.0, 10.0


def make_cadence(out_dir, signals=SIGNALS, fchans=FCHANS, seed=11, eight_bit=True):
    """Six .h5 files NAMES in out_dir; each signal (a dict as in SIGNALS) along one path through the
    cadence, in the ON files ("on"), in all six ("all", RFI) or in the files its "files" list names (RFI
    that switches on or off). bench/search_compare.py imports it for its 2^20-channel cadences."""
    import astropy.units as u
    import setigen as stg

    out_dir = pathlib.Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    frames = []
    for k in range(6):
        fr = stg.Frame(fchans=fchans * u.pixel, tchans=TCHANS * u.pixel, df=DF * u.Hz, dt=DT * u.s, fch1=FCH1 * u.MHz,
                       source_name=SOURCES[k], t_start=1.7e9 + k * (TCHANS * DT + 20.0), seed=int(rng.integers(1 << 30)))
        fr.add_noise(x_mean=10.0, noise_type="chi2")
        frames.append(fr)
    cad = stg.OrderedCadence(frames, order="ABACAD")
    for s in signals:
        if "files" in s:
            target = stg.Cadence([frames[k] for k in s["files"]])
        else:
            target = cad.by_label("A") if s["where"] == "on" else cad
        f0 = (FCH1 * 1e6 - s["channel"] * DF) * u.Hz
        target.add_signal(stg.constant_path(f_start=f0, drift_rate=s["drift"] * u.Hz / u.s),
                          stg.constant_t_profile(level=frames[0].get_intensity(snr=s["snr"])),
                          stg.gaussian_f_profile(width=20.0 * u.Hz), stg.constant_bp_profile(level=1))
    files = []
    for k, fr in enumerate(frames):
        path = out_dir / f"{NAMES[k]}.h5"
        wf = fr.get_waterfall()
        if eight_bit:  # whole numbers in 8 bits (as Breakthrough Listen's 8-bit products): the fixture stays small
            wf.data = np.clip(np.rint(wf.data), 0, 255).astype(np.uint8)
            wf.header["nbits"] = 8
        wf.header["source_name"] = SOURCES[k]
        wf.header["tstart"] = 60000.0 + (fr.t_start - 1.7e9) / 86400.0
        wf.write_to_hdf5(str(path))
        files.append(path)
    return files


def find_events(dats, h5s, csv):
    from turbo_seti.find_event.find_event_pipeline import find_event_pipeline

    with tempfile.TemporaryDirectory() as tmp:
        dl, hl = pathlib.Path(tmp) / "dats.lst", pathlib.Path(tmp) / "h5s.lst"
        dl.write_text("".join(f"{d}\n" for d in dats))
        hl.write_text("".join(f"{h}\n" for h in h5s))
        df = find_event_pipeline(str(dl), h5_file_list_str=str(hl), filter_threshold=3, number_in_cadence=6,
                                 SNR_cut=SNR, csv_name=str(csv), saving=True, user_validation=False)
    if df is None:
        csv.write_text("")
    return df


def relative_dats(csv, root):
    """find_event's CSV names no paths we need; keep it as written but with the files' directory dropped."""
    if csv.stat().st_size:
        text = csv.read_text().replace(str(root) + "/", "")
        csv.write_text(text)


def main():
    from turbo_seti.find_doppler.find_doppler import FindDoppler

    if len(sys.argv) != 2:
        sys.exit("usage: make_search_fixture.py PATH/TO/seti")
    seti = pathlib.Path(sys.argv[1]).resolve()
    here = pathlib.Path(__file__).resolve().parent / "search"
    if here.exists():
        shutil.rmtree(here)
    files = make_cadence(here / "h5")
    (here / "signals.json").write_text(json.dumps({"signals": SIGNALS, "max_drift": MAX_DRIFT, "snr": SNR,
                                                   "channels": FCHANS, "df_hz": DF, "tsamp": DT}, indent=2) + "\n")
    # turboSETI on each file
    ts = here / "turboseti"
    ts.mkdir()
    for f in files:
        FindDoppler(str(f), max_drift=MAX_DRIFT, snr=SNR, out_dir=str(ts), n_coarse_chan=1, blank_dc=True,
                    log_level_int=40).search()
    for log in ts.glob("*.log"):
        log.unlink()
    find_events([ts / f"{n}.dat" for n in NAMES], files, ts / "events.csv")
    # seti on each file, then turboSETI's find_event_pipeline on what seti wrote
    out = here / "seti"
    config = pathlib.Path(__file__).resolve().parents[2] / "samples/seti/configs/demo.json"
    subprocess.run([str(seti), "scan", "--config", str(config), "--set", f"scan.out={out}", "--set",
                    f"scan.max_drift={MAX_DRIFT}", "--set", f"scan.snr={SNR}", "--quiet", "--cadence",
                    *map(str, files)], check=True)
    for extra in ["events.csv", ".lock"]:
        if (out / extra).exists():
            (out / extra).rename(out / ("seti_" + extra.lstrip(".")))
    (out / "seti_lock").unlink(missing_ok=True)
    (out / "seti_events.csv").unlink(missing_ok=True)
    find_events([out / f"{n}.dat" for n in NAMES], files, out / "events.csv")
    relative_dats(ts / "events.csv", ts)
    relative_dats(out / "events.csv", out)
    print("wrote", here)


if __name__ == "__main__":
    sys.exit(main())
