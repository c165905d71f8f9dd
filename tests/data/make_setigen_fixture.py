#!/usr/bin/env python3
"""Generate oracle fixtures from the Python package `setigen` (and sklearn).

Regenerate (from any directory) with:

    /usr/bin/python3 -m venv --system-site-packages .venv-oracle   # once
    .venv-oracle/bin/pip install setigen scikit-learn               # once
    .venv-oracle/bin/python tests/data/make_setigen_fixture.py

Generated with setigen 2.7.0, numpy 2.4.6, scikit-learn 1.9.1, astropy 8.0.2.
Output goes to tests/data/setigen/ next to this script:

  signals.json + case_*.npy  noise-free frames (float32, C order, shape
                             (tchans, fchans) = (16, 64)) produced by
                             Frame.add_signal on a zero frame.
                             IMPORTANT: setigen's Frame.data column j is
                             ALWAYS at frequency fs[j] in ASCENDING order,
                             even for ascending=False (fch1 = max frequency
                             is then the LAST column). Each case stores the
                             exact column frequencies (col_freqs_hz) and row
                             times (row_times_s) used.
  noise.json                 chi2 noise parameters/statistics of
                             Frame.add_noise(x_mean=10, noise_type='chi2').
  ../sklearn/roc_auc.json    sklearn.metrics.roc_auc_score reference cases.

Everything is deterministic (fixed seeds), so reruns give identical files
(given the same library versions).
"""
import json
import os
import sys

import numpy as np
import scipy.stats
import setigen as stg
import sklearn
from astropy import units as u
from astropy.stats import sigma_clip
from sklearn.metrics import roc_auc_score

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "setigen")

# setigen Frame defaults (frame.py lines 42-45)
DEF_DF = 2.7939677238464355   # Hz
DEF_DT = 18.253611008         # s
DEF_FCH1 = 6e9                # Hz


def versions():
    import astropy
    return {"setigen": stg.__version__, "numpy": np.__version__,
            "scipy": scipy.__version__, "sklearn": sklearn.__version__,
            "astropy": astropy.__version__, "python": sys.version.split()[0]}


# --------------------------------------------------------------------------
# signals
# --------------------------------------------------------------------------
def make_path(p):
    k = p["kind"]
    if k == "constant":
        return stg.constant_path(f_start=p["f_start_hz"] * u.Hz,
                                 drift_rate=p["drift_rate_hz_per_s"] * u.Hz / u.s)
    if k == "squared":
        return stg.squared_path(f_start=p["f_start_hz"] * u.Hz,
                                drift_rate=p["drift_rate_hz_per_s"] * u.Hz / u.s)
    if k == "sine":
        return stg.sine_path(f_start=p["f_start_hz"] * u.Hz,
                             drift_rate=p["drift_rate_hz_per_s"] * u.Hz / u.s,
                             period=p["period_s"] * u.s,
                             amplitude=p["amplitude_hz"] * u.Hz)
    raise ValueError(k)


def make_t_profile(p):
    k = p["kind"]
    if k == "constant":
        return stg.constant_t_profile(level=p["level"])
    if k == "sine":
        return stg.sine_t_profile(period=p["period_s"] * u.s, phase=p["phase_s"],
                                  amplitude=p["amplitude"], level=p["level"])
    raise ValueError(k)


def make_f_profile(p):
    k = p["kind"]
    if k == "gaussian":
        return stg.gaussian_f_profile(width=p["width_hz"] * u.Hz)
    if k == "sinc2":
        return stg.sinc2_f_profile(width=p["width_hz"] * u.Hz,
                                   width_mode=p["width_mode"], trunc=p["trunc"])
    if k == "box":
        return stg.box_f_profile(width=p["width_hz"] * u.Hz)
    raise ValueError(k)


def signal_cases():
    """Case definitions. Frequencies are placed relative to the frame's
    column grid with fractional offsets so no box/sinc2 edge sits on a tie."""
    cases = []

    def frame_of(df, dt, fch1, ascending):
        return stg.Frame(fchans=64, tchans=16, df=df * u.Hz, dt=dt * u.s,
                         fch1=fch1 * u.Hz, ascending=ascending, seed=0)

    # 1. constant (linear) path + gaussian, default frame (ascending=False),
    #    drift = +2 px/row -> moves 30 channels over the frame.
    fr = frame_of(DEF_DF, DEF_DT, DEF_FCH1, False)
    cases.append(dict(
        name="linear_gaussian_default_desc",
        frame=dict(df_hz=DEF_DF, dt_s=DEF_DT, fch1_hz=DEF_FCH1, ascending=False),
        path=dict(kind="constant", f_start_hz=float(fr.get_frequency(12) + 0.3 * DEF_DF),
                  drift_rate_hz_per_s=2.0 * DEF_DF / DEF_DT),
        t_profile=dict(kind="constant", level=1.0),
        f_profile=dict(kind="gaussian", width_hz=3.0 * DEF_DF)))

    # 2. squared path + sinc2 (crossing, truncated), ascending=True frame.
    df, dt, fch1 = 7.450580596923828, 1.073741824, 1.4e9
    cases.append(dict(
        name="squared_sinc2_asc",
        frame=dict(df_hz=df, dt_s=dt, fch1_hz=fch1, ascending=True),
        path=dict(kind="squared", f_start_hz=fch1 + 10.37 * df,
                  drift_rate_hz_per_s=1.2),
        t_profile=dict(kind="constant", level=3.0),
        f_profile=dict(kind="sinc2", width_hz=4.0 * df, width_mode="crossing",
                       trunc=True)))

    # 3. sine path + box, default frame (ascending=False).
    fr = frame_of(DEF_DF, DEF_DT, DEF_FCH1, False)
    cases.append(dict(
        name="sine_box_default_desc",
        frame=dict(df_hz=DEF_DF, dt_s=DEF_DT, fch1_hz=DEF_FCH1, ascending=False),
        path=dict(kind="sine", f_start_hz=float(fr.get_frequency(30) + 0.21 * DEF_DF),
                  drift_rate_hz_per_s=0.05, period_s=120.0,
                  amplitude_hz=6.3 * DEF_DF),
        t_profile=dict(kind="constant", level=2.5),
        f_profile=dict(kind="box", width_hz=3.5 * DEF_DF)))

    # 4. negative drift (-3 px/row, 45 channels) + sine_t_profile + gaussian,
    #    default frame (ascending=False).
    fr = frame_of(DEF_DF, DEF_DT, DEF_FCH1, False)
    cases.append(dict(
        name="neg_drift_sine_t_gaussian_default_desc",
        frame=dict(df_hz=DEF_DF, dt_s=DEF_DT, fch1_hz=DEF_FCH1, ascending=False),
        path=dict(kind="constant", f_start_hz=float(fr.get_frequency(55) - 0.4 * DEF_DF),
                  drift_rate_hz_per_s=-3.0 * DEF_DF / DEF_DT),
        t_profile=dict(kind="sine", period_s=100.0, phase_s=7.0, amplitude=0.5,
                       level=1.0),
        f_profile=dict(kind="gaussian", width_hz=2.0 * DEF_DF)))

    # 5. negative non-integer drift, sinc2 with width_mode='fwhm', trunc=False,
    #    ascending=True, custom resolution.
    df, dt, fch1 = 1.0, 2.0, 8.0e9
    cases.append(dict(
        name="neg_drift_sinc2_fwhm_untrunc_asc",
        frame=dict(df_hz=df, dt_s=dt, fch1_hz=fch1, ascending=True),
        path=dict(kind="constant", f_start_hz=fch1 + 50.25,
                  drift_rate_hz_per_s=-0.77),
        t_profile=dict(kind="sine", period_s=23.0, phase_s=0.0, amplitude=0.8,
                       level=1.5),
        f_profile=dict(kind="sinc2", width_hz=3.0, width_mode="fwhm", trunc=False)))

    # 6. ascending=False, non-default resolution/fch1, sine path with negative
    #    drift and box profile (several channels of travel).
    df, dt, fch1 = 3.0, 5.0, 1.5e9
    cases.append(dict(
        name="sine_neg_drift_box_desc_custom",
        frame=dict(df_hz=df, dt_s=dt, fch1_hz=fch1, ascending=False),
        path=dict(kind="sine", f_start_hz=fch1 - 20.6 * df,
                  drift_rate_hz_per_s=-0.9, period_s=40.0, amplitude_hz=8.2),
        t_profile=dict(kind="sine", period_s=33.0, phase_s=4.0, amplitude=0.3,
                       level=2.0),
        f_profile=dict(kind="box", width_hz=2.3 * df)))
    return cases


def write_signals():
    meta = []
    for i, c in enumerate(signal_cases()):
        f = c["frame"]
        fr = stg.Frame(fchans=64, tchans=16, df=f["df_hz"] * u.Hz,
                       dt=f["dt_s"] * u.s, fch1=f["fch1_hz"] * u.Hz,
                       ascending=f["ascending"], seed=0)
        assert not fr.data.any()
        path = make_path(c["path"])
        tprof = make_t_profile(c["t_profile"])
        fprof = make_f_profile(c["f_profile"])
        # All add_signal options at their defaults:
        # bp_profile=None, bounding_f_range=None, integrate_path=False,
        # integrate_t_profile=False, integrate_f_profile=False,
        # doppler_smearing=False.
        sig = fr.add_signal(path, tprof, fprof)
        assert np.array_equal(sig, fr.data)
        centers = np.asarray(path(fr.ts), dtype=np.float64)
        tvals = np.asarray(tprof(fr.ts), dtype=np.float64)
        # guard against box / truncation edge ties (|f-fc| == half width)
        fp = c["f_profile"]
        if fp["kind"] == "box":
            edge = fp["width_hz"] / 2
        elif fp["kind"] == "sinc2" and fp["trunc"]:
            edge = fp["width_hz"] / 2
        else:
            edge = None
        if edge is not None:
            margin = np.min(np.abs(np.abs(fr.fs[None, :] - centers[:, None]) - edge))
            assert margin > 1e-3 * fr.df, (c["name"], margin)
        npy = f"case_{i}_{c['name']}.npy"
        data32 = np.ascontiguousarray(fr.data.astype(np.float32))
        assert data32.shape == (16, 64)
        np.save(os.path.join(OUT, npy), data32)
        c = dict(c)
        c["frame"] = dict(fchans=64, tchans=16, **f)
        c["npy"] = npy
        c["derived"] = dict(
            fmin_hz=float(fr.fmin), fmax_hz=float(fr.fmax),
            col_freqs_hz=[float(x) for x in fr.fs],  # column j of data -> fs[j]
            row_times_s=[float(x) for x in fr.ts],   # row i of data -> ts[i]
            path_center_hz=[float(x) for x in centers],
            t_profile_values=[float(x) for x in tvals],
            data_max=float(fr.data.max()), data_sum=float(fr.data.sum()),
            nonzero_pixels=int(np.count_nonzero(fr.data)))
        c["add_signal_options"] = dict(bp_profile=None, bounding_f_range=None,
                                       integrate_path=False,
                                       integrate_t_profile=False,
                                       integrate_f_profile=False,
                                       doppler_smearing=False)
        meta.append(c)
    doc = dict(
        description=("Noise-free setigen frames: one signal added to a zero "
                     "Frame(fchans=64, tchans=16). data[i, j] = "
                     "t_profile(ts[i]) * f_profile(fs[j], path(ts[i])); "
                     "ts[i] = i*dt (row start, not centre); fs is ASCENDING in "
                     "column index for both ascending flags (ascending=False: "
                     "fs[j] = fch1 - (fchans-1-j)*df; ascending=True: "
                     "fs[j] = fch1 + j*df). npy: float32, C order, shape "
                     "(tchans, fchans); setigen computed in float64."),
        versions=versions(),
        cases=meta)
    with open(os.path.join(OUT, "signals.json"), "w") as fh:
        json.dump(doc, fh, indent=1)


# --------------------------------------------------------------------------
# noise
# --------------------------------------------------------------------------
def write_noise():
    fchans, tchans, x_mean, nframes, snr = 256, 273, 10.0, 20, 10.0
    samples, first = [], None
    for k in range(nframes):
        fr = stg.Frame(fchans=fchans, tchans=tchans, df=DEF_DF * u.Hz,
                       dt=DEF_DT * u.s, fch1=DEF_FCH1 * u.Hz, seed=1000 + k)
        fr.add_noise(x_mean=x_mean, noise_type="chi2")
        if first is None:
            first = fr
        samples.append(fr.data.ravel())
    x = np.concatenate(samples)
    k2 = int(first.chi2_df)
    q = [0.01, 0.5, 0.99]
    clipped = sigma_clip(first.data, sigma=3, maxiters=5, masked=False)
    clipped_std = float(np.std(clipped))
    doc = dict(
        description=("Frame(fchans=256, tchans=273, df, dt) then "
                     "add_noise(x_mean=10, noise_type='chi2'); noise = "
                     "rng.chisquare(chi2_df, shape) * x_mean / chi2_df with "
                     "chi2_df = 4*round(df*dt). Stats pooled over 20 frames "
                     "(seeds 1000..1019), np.std ddof=0, scipy.stats "
                     "skew/kurtosis (bias=True, kurtosis is excess), "
                     "np.quantile linear interpolation."),
        versions=versions(),
        fchans=fchans, tchans=tchans, df_hz=DEF_DF, dt_s=DEF_DT,
        df_times_dt=DEF_DF * DEF_DT,
        chi2_df=k2, x_mean=x_mean, n_frames=nframes, n_samples=int(x.size),
        pooled=dict(mean=float(x.mean()), std=float(x.std()),
                    skewness=float(scipy.stats.skew(x)),
                    excess_kurtosis=float(scipy.stats.kurtosis(x)),
                    q01=float(np.quantile(x, 0.01)),
                    q50=float(np.quantile(x, 0.5)),
                    q99=float(np.quantile(x, 0.99))),
        theoretical=dict(mean=x_mean, std=x_mean * np.sqrt(2.0 / k2),
                         skewness=float(np.sqrt(8.0 / k2)),
                         excess_kurtosis=12.0 / k2,
                         q01=float(scipy.stats.chi2.ppf(0.01, k2) * x_mean / k2),
                         q50=float(scipy.stats.chi2.ppf(0.5, k2) * x_mean / k2),
                         q99=float(scipy.stats.chi2.ppf(0.99, k2) * x_mean / k2)),
        frame_noise_std=float(first.noise_std),
        frame_noise_mean=float(first.noise_mean),
        frame_noise_std_formula="sqrt(2*chi2_df)*x_mean/chi2_df (set because frame was all-zero before add_noise)",
        get_intensity_snr=snr,
        get_intensity=float(first.get_intensity(snr=snr)),
        get_intensity_formula="snr * noise_std / sqrt(tchans)",
        reference_sigma_clipped_noise_std_frame0=clipped_std,
        reference_get_intensity_if_sigma_clipped=float(snr * clipped_std / np.sqrt(tchans)),
    )
    assert abs(doc["frame_noise_std"] - x_mean * np.sqrt(2 * k2) / k2) < 1e-12
    with open(os.path.join(OUT, "noise.json"), "w") as fh:
        json.dump(doc, fh, indent=1)


# --------------------------------------------------------------------------
# ROC AUC
# --------------------------------------------------------------------------
def write_roc():
    rng = np.random.default_rng(20240607)
    cases = []

    def labels(n, npos):
        y = np.zeros(n, dtype=int)
        y[rng.choice(n, npos, replace=False)] = 1
        return y

    def add(name, y, s):
        s = [float(v) for v in s]
        cases.append(dict(name=name, n=len(y), n_pos=int(np.sum(y)),
                          y_true=[int(v) for v in y], y_score=s,
                          roc_auc=float(roc_auc_score(y, s))))

    y = labels(50, 5)
    add("continuous_n50", y, rng.normal(0, 1, 50) + 1.2 * y)
    y = labels(120, 12)
    add("ties_round1_n120", y, np.round(rng.normal(0, 0.3, 120) + 0.25 * y, 1))
    y = labels(200, 20)
    add("all_tied_n200", y, np.full(200, 0.7))
    y = labels(300, 30)
    add("ties_round1_n300", y, np.round(rng.uniform(0, 1, 300) + 0.15 * y, 1))
    y = labels(80, 8)
    add("three_levels_inverted_n80", y,
        np.where(rng.uniform(size=80) < 0.4 + 0.3 * y, 0.0,
                 np.where(rng.uniform(size=80) < 0.5, 0.5, 1.0)))
    doc = dict(description=("sklearn.metrics.roc_auc_score(y_true, y_score); "
                            "ties count 1/2 (equivalent to Mann-Whitney U / "
                            "(n_pos*n_neg)); all-tied -> 0.5."),
               versions=versions(), cases=cases)
    os.makedirs(os.path.join(HERE, "sklearn"), exist_ok=True)
    with open(os.path.join(HERE, "sklearn", "roc_auc.json"), "w") as fh:
        json.dump(doc, fh, indent=1)


def main():
    os.makedirs(OUT, exist_ok=True)
    write_signals()
    write_noise()
    write_roc()
    print("wrote fixtures to", OUT)


if __name__ == "__main__":
    main()
