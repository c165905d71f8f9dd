"""Generate the scikit-learn oracle for the report's numbers (run from this directory):

  sklearn/log_loss_bins.json   sklearn.metrics.log_loss(y, clip(p, 1e-7, 1 - 1e-7)) for cadence's
                               validation loss, and per SNR bin roc_auc_score over the bin's positives
                               and all negatives, for the report's "AUC by SNR" table.

Needs numpy and scikit-learn (e.g. the peer venv: .venv-peer/bin/python make_sklearn_fixture.py).
(sklearn/roc_auc.json comes from make_setigen_fixture.py.)
"""
import json
import os

import numpy as np
import sklearn
from sklearn.metrics import log_loss, roc_auc_score

HERE = os.path.dirname(os.path.abspath(__file__))


def main():
    rng = np.random.default_rng(20261127)
    cases = []
    edges = [0, 10, 15, 20, 25, 30, 40, 60, 1e9]
    for n, npos in ((60, 9), (200, 25), (400, 40)):
        y = np.zeros(n, dtype=int)
        y[rng.choice(n, npos, replace=False)] = 1
        snr = np.where(y == 1, rng.uniform(5, 50, n), np.nan)
        p = 1 / (1 + np.exp(-(rng.normal(0, 1, n) + 0.08 * np.nan_to_num(snr))))
        p[:3] = [0.0, 1.0, 0.5]  # 0 and 1 are clipped at 1e-7, as cadence's log_loss does
        p[3:9] = 0.25  # ties
        bins = []
        for lo, hi in zip(edges[:-1], edges[1:]):
            pos = (y == 1) & (snr >= lo) & (snr < hi)
            keep = pos | (y == 0)
            bins.append(dict(lo=lo, hi=hi, positives=int(pos.sum()),
                             auc=float(roc_auc_score(y[keep], p[keep])) if pos.any() else -1.0))
        cases.append(dict(n=n, y_true=[int(v) for v in y], prob=[float(v) for v in p],
                          snr=[None if np.isnan(v) else float(v) for v in snr],
                          log_loss=float(log_loss(y, np.clip(p, 1e-7, 1 - 1e-7))), edges=edges, bins=bins))
    doc = dict(description=__doc__.strip().splitlines()[0],
               versions=dict(numpy=np.__version__, sklearn=sklearn.__version__), cases=cases)
    os.makedirs(os.path.join(HERE, "sklearn"), exist_ok=True)
    with open(os.path.join(HERE, "sklearn", "log_loss_bins.json"), "w") as fh:
        json.dump(doc, fh, indent=1)
    print("wrote", os.path.join(HERE, "sklearn", "log_loss_bins.json"))


if __name__ == "__main__":
    main()
