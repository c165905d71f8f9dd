"""Makes tests/data/npy/: small .npy files written by numpy itself, the oracle for cadence's reader.

Run from the repository root:  /usr/bin/python3 tests/data/make_npy_fixture.py
(Debian's python3-numpy is enough; the files are committed, so the tests need no Python.)
"""
import json
import os

import numpy as np

out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "npy")
os.makedirs(out, exist_ok=True)
rng = np.random.default_rng(7)
a = (rng.standard_normal((6, 4, 8)) * 3).astype(np.float16)
a.flat[:6] = np.array([0.0, -0.0, 65504.0, 6e-8, -1e-5, 1.0 / 3.0], dtype=np.float16)  # edge values
np.save(os.path.join(out, "f2_v1.npy"), a)
with open(os.path.join(out, "f2_v2.npy"), "wb") as f:
    np.lib.format.write_array(f, a, version=(2, 0))
np.save(os.path.join(out, "f4_v1.npy"), a.astype(np.float32) * 1.5)
np.save(os.path.join(out, "f8.npy"), a.astype(np.float64))
np.save(os.path.join(out, "f2_big_endian.npy"), a.astype(">f2"))
np.save(os.path.join(out, "f2_fortran.npy"), np.asfortranarray(a))
# float -> half rounding oracle: numpy's astype(float16) on awkward values
vals = np.concatenate([rng.standard_normal(200) * 10.0 ** rng.integers(-9, 5, 200),
                       [65519.0, 65520.0, 1e-8, 2.98e-8, 5.96e-8, 1.0009765625 + 2 ** -11, -0.0]]).astype(np.float32)
json.dump({"float32_bits": [int(v) for v in vals.view(np.uint32)],
           "float16_bits": [int(v) for v in vals.astype(np.float16).view(np.uint16)],
           "values_f2_v1": [float(v) for v in a.astype(np.float32).ravel()]},
          open(os.path.join(out, "expected.json"), "w"))
print("wrote", sorted(os.listdir(out)))
