#!/usr/bin/env python3
"""Observation cadences for `seti scan`, written by setigen and blimpy (the format oracles).

    /work/venv-seti/bin/python tests/data/make_scan_fixture.py        # rewrites tests/data/scan/

A venv with setigen, blimpy and hdf5plugin (for the bitshuffle filter):
    /usr/bin/python3 -m venv --system-site-packages VENV && VENV/bin/pip install setigen blimpy hdf5plugin turbo_seti

tests/data/scan/ gets one small cadence (six files, ABACAD, 768 channels x 16 samples, Green Bank's
high-frequency-resolution channel width and sample time) with one drifting signal in the ON files:
  fil/{a1,b,a2,c,a3,d}.fil   SIGPROC filterbank, float32 (blimpy's writer)
  h5/{a1,b,a2,c,a3,d}.h5     Breakthrough Listen HDF5, bitshuffle + LZ4 (blimpy's writer)
  oracle.json                what blimpy reads back from each file (header, shape) and where the signal is
  a1_blimpy.npy              blimpy's data of a1 (16 x 768 float32), to compare the readers with

bench/scan.sh imports make_cadence() for its 2^20-channel cadences with many signals.
"""
import json
import pathlib
import sys

import numpy as np

NAMES = ["a1", "b", "a2", "c", "a3", "d"]
SOURCES = ["TARGET", "OFF_B", "TARGET", "OFF_C", "TARGET", "OFF_D"]


def make_cadence(out_dir, fchans, signals, fmt="fil", seed=7, tchans=16, fch1_mhz=6095.214842353016, mean=10.0):
    """Writes six files NAMES.<fmt> into out_dir; `signals` is a list of dicts with channel (at the
    cadence's start), snr, drift (Hz/s) and width (Hz), injected into the ON files along one path
    through the whole cadence. Returns the files."""
    import astropy.units as u
    import setigen as stg

    out_dir = pathlib.Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    frames = []
    for k in range(6):
        fr = stg.Frame(fchans=fchans * u.pixel, tchans=tchans * u.pixel, df=2.7939677238464355 * u.Hz,
                       dt=18.253611008 * u.s, fch1=fch1_mhz * u.MHz, source_name=SOURCES[k],
                       t_start=1.7e9 + k * (tchans * 18.253611008 + 20.0), seed=int(rng.integers(1 << 30)))
        fr.add_noise(x_mean=mean, noise_type="chi2")
        frames.append(fr)
    cad = stg.OrderedCadence(frames, order="ABACAD")
    on = cad.by_label("A")
    for s in signals:
        f0 = (frames[0].fch1 - s["channel"] * frames[0].df) * u.Hz  # the file's channel: fch1 is channel 0, frequency falls
        on.add_signal(stg.constant_path(f_start=f0, drift_rate=s["drift"] * u.Hz / u.s),
                      stg.constant_t_profile(level=frames[0].get_intensity(snr=s["snr"])),
                      stg.gaussian_f_profile(width=s.get("width", 20.0) * u.Hz),
                      stg.constant_bp_profile(level=1))
    files = []
    for k, fr in enumerate(frames):
        path = out_dir / f"{NAMES[k]}.{fmt}"
        wf = fr.get_waterfall()
        wf.header["source_name"] = SOURCES[k]
        wf.header["tstart"] = 60000.0 + (fr.t_start - 1.7e9) / 86400.0
        if fmt == "fil":
            wf.write_to_fil(str(path))
        else:
            wf.write_to_hdf5(str(path))
        files.append(path)
    return files


def main():
    import blimpy

    here = pathlib.Path(__file__).resolve().parent / "scan"
    signal = {"channel": 430, "snr": 60.0, "drift": 0.08, "width": 20.0}
    oracle = {"signal": signal, "files": {}}
    for fmt in ("fil", "h5"):
        files = make_cadence(here / fmt, 768, [signal], fmt=fmt, seed=7)
        for f in files:
            wf = blimpy.Waterfall(str(f))
            h = wf.header
            oracle["files"][f"{fmt}/{f.name}"] = {
                "fch1": float(h["fch1"]), "foff": float(h["foff"]), "tsamp": float(h["tsamp"]), "tstart": float(h["tstart"]),
                "nchans": int(h["nchans"]), "nifs": int(h["nifs"]), "nbits": int(h["nbits"]),
                "source_name": str(h["source_name"]), "shape": list(wf.data.shape),
            }
            if f.name == "a1.fil":
                np.save(here / "a1_blimpy.npy", wf.data[:, 0, :].astype(np.float32))
    (here / "oracle.json").write_text(json.dumps(oracle, indent=2, sort_keys=True) + "\n")
    print("wrote", here)


if __name__ == "__main__":
    sys.exit(main())
