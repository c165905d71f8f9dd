#!/usr/bin/env python3
"""A shift benchmark drawn by setigen itself (not by cadence-synth), in the Kaggle layout.

The project's own shift set (`cadence-synth --preset shift`) is drawn by the project's generator; this
one by setigen's own paths, intensity profiles and frequency profiles, so that a detector's numbers do
not rest on the project's reading of them. Train and old: straight paths (setigen's constant_path),
constant intensity, gaussian profiles, SNR 3-20 log-uniform, and a quarter of the cadences with a
drifting line in all six panels (interference). Test: squared and sine paths beside straight ones,
sine-modulated intensity, gaussian, sinc2 and box profiles, and interference in all six panels or the
OFF panels only. About 1 in 10 positive. Each file float16 (6, 273, 256), ON panels 0, 2, 4.

    python3 -m venv --system-site-packages /tmp/sgv && /tmp/sgv/bin/pip install setigen
    /tmp/sgv/bin/python bench/setigen_shift.py --root /tmp/setigen_shift [--train 600 --test 400 --old 600]
    build/samples/seti run --config samples/seti/configs/track.json --set load.root=/tmp/setigen_shift

Writes train_labels.csv, train_signals.csv and test_labels.csv (id,target,snr,drift,signal,interference),
sample_submission.csv, train/, test/ and old_leaky_data/ (train_old/, train_labels_old.csv).
"""
import argparse, csv, math, os
import numpy as np
import setigen as stg
from astropy import units as u

T, F = 273, 256
DF, DT, FCH1 = 2.7939677238464355, 18.253611008, 6095.214842353016e6


def frame(rng):
    """An empty frame whose noise draws come from `rng` (setigen seeds each frame's own generator)."""
    return stg.Frame(fchans=F, tchans=T, df=DF * u.Hz, dt=DT * u.s, fch1=FCH1 * u.Hz, ascending=True,
                     seed=int(rng.integers(0, 2 ** 63)))


def draw(rng, split, positive):
    """What one cadence holds: a signal's family and parameters (or None), and an interference kind."""
    test = split == "test"
    sig = None
    if positive:
        snr = 3.0 * (20.0 / 3.0) ** rng.uniform()
        drift = rng.uniform(0.001, 0.012) * rng.choice([-1, 1])  # Hz/s
        path = rng.choice(["straight", "squared", "sine"]) if test else "straight"
        intensity = rng.choice(["constant", "sine"]) if test else "constant"
        profile = rng.choice(["gaussian", "sinc2", "box"]) if test else "gaussian"
        sig = dict(snr=snr, drift=drift, path=path, intensity=intensity, profile=profile,
                   width=rng.uniform(5, 20), period=rng.uniform(0.1, 0.5) * 6 * T * DT,
                   amplitude=rng.uniform(2, 8) * DF, t_period=rng.uniform(0.05, 0.3) * T * DT)
    rfi = None
    if rng.uniform() < 0.25:
        rfi = rng.choice(["drifting", "off_only"]) if test else "drifting"
    rfi_p = dict(snr=3.0 * (20.0 / 3.0) ** rng.uniform(), drift=rng.uniform(0.0, 0.012) * rng.choice([-1, 1]),
                 width=rng.uniform(5, 20))
    return sig, rfi, rfi_p


def start(rng, drift, extra=0.0):
    """A start frequency that keeps a path of `drift` over the cadence (plus `extra` Hz) inside the band."""
    span = abs(drift) * 6 * T * DT + 2 * extra
    lo, hi = FCH1 + 8 * DF + extra, FCH1 + (F - 8) * DF - extra
    f0 = rng.uniform(lo, max(lo, hi - span))
    return f0 if drift >= 0 else f0 + span - 2 * extra


def cadence(rng, split, positive):
    sig, rfi, rp = draw(rng, split, positive)
    panels = []
    if sig:
        f0 = start(rng, sig["drift"], sig["amplitude"] if sig["path"] == "sine" else 0)
        phase = rng.uniform(0, sig["t_period"])
    if rfi:
        r0 = start(rng, rp["drift"])
    for k in range(6):
        fr = frame(rng)
        fr.add_noise(x_mean=10, noise_type="chi2")
        t0 = k * T * DT
        if sig and k % 2 == 0:
            if sig["path"] == "straight":
                base = stg.constant_path(f_start=f0, drift_rate=sig["drift"] * u.Hz / u.s)
            elif sig["path"] == "squared":  # f0 + a t^2 / 2: with a = 2 drift / D it ends where the straight
                # path of `drift` ends (after the cadence's D seconds), so `drift` stays its mean drift rate
                base = stg.squared_path(f_start=f0, drift_rate=2 * sig["drift"] / (6 * T * DT) * u.Hz / u.s)
            else:
                base = stg.sine_path(f_start=f0, drift_rate=sig["drift"] * u.Hz / u.s, period=sig["period"] * u.s,
                                     amplitude=sig["amplitude"] * u.Hz)
            level = fr.get_intensity(snr=sig["snr"])
            if sig["intensity"] == "constant":
                tp = stg.constant_t_profile(level=level)
            else:
                tp = stg.sine_t_profile(period=sig["t_period"], phase=phase, amplitude=level, level=level)
            fp = {"gaussian": stg.gaussian_f_profile, "sinc2": stg.sinc2_f_profile, "box": stg.box_f_profile}[sig["profile"]](
                width=sig["width"] * u.Hz)
            fr.add_signal(lambda t, b=base, t0=t0: b(t + t0), lambda t, p=tp, t0=t0: p(t + t0), fp,
                          stg.constant_bp_profile(level=1))
        if rfi and (rfi == "drifting" or k % 2 == 1):
            rpath = stg.constant_path(f_start=r0, drift_rate=rp["drift"] * u.Hz / u.s)
            fr.add_signal(lambda t, b=rpath, t0=t0: b(t + t0), stg.constant_t_profile(level=fr.get_intensity(snr=rp["snr"])),
                          stg.gaussian_f_profile(width=rp["width"] * u.Hz), stg.constant_bp_profile(level=1))
        panels.append(fr.data.astype(np.float32) / 10.0)
    family = "" if not sig else "+".join([sig["path"], sig["intensity"], sig["profile"]])
    return np.stack(panels).astype(np.float16), sig, family, rfi or ""


def write(root, split, n, rng, labels_name="train_labels.csv", truth_name=None):
    os.makedirs(os.path.join(root, split), exist_ok=True)
    rows = []
    for i in range(n):
        positive = rng.uniform() < 0.1
        x, sig, family, rfi = cadence(rng, split if split == "test" else "train", positive)
        ident = "%015x" % rng.integers(0, 16 ** 15)
        d = os.path.join(root, split, ident[0])
        os.makedirs(d, exist_ok=True)
        np.save(os.path.join(d, ident + ".npy"), x)
        rows.append((ident, int(positive), "%.3f" % sig["snr"] if sig else "", "%.6f" % sig["drift"] if sig else "", family, rfi))
    return rows


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--root", required=True)
    ap.add_argument("--train", type=int, default=600)
    ap.add_argument("--test", type=int, default=400)
    ap.add_argument("--old", type=int, default=600)
    ap.add_argument("--seed", type=int, default=2028)
    a = ap.parse_args()
    rng = np.random.default_rng(a.seed)
    head = ["id", "target", "snr", "drift", "signal", "interference"]
    def csvw(path, rows, cols):
        with open(path + ".tmp", "w", newline="") as f:
            w = csv.writer(f); w.writerow(cols); w.writerows(rows)
        os.replace(path + ".tmp", path)
    train = write(a.root, "train", a.train, rng)
    csvw(os.path.join(a.root, "train_labels.csv"), [r[:2] for r in train], head[:2])
    csvw(os.path.join(a.root, "train_signals.csv"), train, head)
    test = write(a.root, "test", a.test, rng)
    csvw(os.path.join(a.root, "test_labels.csv"), test, head)
    csvw(os.path.join(a.root, "sample_submission.csv"), [(r[0], 0.5) for r in test], head[:2])
    old_root = os.path.join(a.root, "old_leaky_data")  # the competition's layout: train_old/, train_labels_old.csv
    old = write(old_root, "train_old", a.old, rng)
    csvw(os.path.join(old_root, "train_labels_old.csv"), [r[:2] for r in old], head[:2])
    print("wrote %d train, %d test, %d old cadences to %s" % (a.train, a.test, a.old, a.root))


if __name__ == "__main__":
    main()
