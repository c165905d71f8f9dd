#!/usr/bin/env python3
"""Oracle fixture for cadence's augment ops, made by albumentations 1.0.3 itself.

Regenerate (run from the repository root):

    /usr/bin/python3 -m venv --system-site-packages /work/venv-alb        # once
    /work/venv-alb/bin/pip install --only-binary=:all: albumentations==1.0.3 \
        numpy==1.23.5 opencv-python-headless==4.5.5.64 scipy==1.10.1 scikit-image==0.20.0   # once
    /work/venv-alb/bin/python tests/data/make_albumentations_fixture.py

Generated with albumentations 1.0.3, opencv-python-headless 4.5.5.64 (OpenCV 4.5.5),
numpy 1.23.5 (albumentations 1.0.3 uses np.int / np.bool, removed in numpy 1.24, so pin < 1.24;
4.5.5.64 is the oldest OpenCV wheel installable on Python 3.11, the 2021 Kaggle
image had 4.5.x with the same warpAffine/line/filter2D code).  NOTE: a plain
`pip install albumentations==1.0.3` today pulls opencv-python-headless 5.0.0.93 and
numpy 2.x; OpenCV 5.0's warpAffine no longer rounds source coordinates to 1/32 pixel
(it matches unquantised float bilinear to ~1e-5 and differs from 4.x by up to ~0.09
on these images), so verify() below fails there.  (4.12.0 was checked and still
quantises like 4.5.5.)  Use the pinned versions above.

Writes tests/data/albumentations/:

  images.npy      float32 (3, 1, 37, 29)  N, C, H, W; standard normal, seed 20210801
  images_c3.npy   float32 (3, 3, 21, 17)  same, seed 20210802
  cases.json      {"versions": {...}, "cases": [...]} each case
                    {"op": "vflip"|"ssr"|"motion_blur", "params": {...},
                     "image": "images.npy"|"images_c3.npy", "index": i,
                     "output": "<file>.npy"}          output float32 (C, H, W)
                  The output is albumentations' functional call on the HWC image
                  (np.ascontiguousarray(images[i].transpose(1, 2, 0))), transposed back.
                  ssr params: angle (degrees), scale, dx, dy, border_mode
                    ("reflect_101"|"constant"|"replicate"|"reflect"), value (0 for
                    constant, else null); plus, for debugging only, "matrix" (the
                    forward 2x3 matrix albumentations passes to cv2.warpAffine) and
                    "inverse" (the dst->src matrix OpenCV derives from it).
                  motion_blur params: ksize, xs, ys, xe, ye (cv2.line from (xs, ys)
                    to (xe, ye), x = column, y = row), "kernel" (ksize x ksize
                    float32 values as written by get_params, row-major nested
                    lists) and "kernel01" (row strings of 0/1).
                  Cases with "source": "get_params" took their params from the real
                  transform class (ShiftScaleRotate / MotionBlur defaults) under
                  python random.seed(seed); "seed" is stored.
  lines.json      {"encoding": ..., "kernels": {"3": [...], "5": [...], "7": [...]}}
                  For ksize k, entry number ((xs*k + ys)*k + xe)*k + ye is the
                  cv2.line(zeros((k, k), uint8), (xs, ys), (xe, ye), 1, thickness=1)
                  mask as one string of k*k '0'/'1' chars, row-major (row y, col x
                  is char y*k + x).  All k^4 endpoint pairs.

The numpy reference implementations below (ref_*) document the exact algorithms;
the script verifies them against OpenCV / albumentations before writing anything
and aborts if they disagree.
"""
import json
import math
import os
import random
import sys

import numpy as np
import cv2
import albumentations as A
import albumentations.augmentations.functional as F
import albumentations.augmentations.geometric.functional as FG

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "albumentations")

BORDERS = {
    "reflect_101": cv2.BORDER_REFLECT_101,  # gfedcb|abcdefgh|gfedcba   (OpenCV default)
    "constant": cv2.BORDER_CONSTANT,        # vvvvvv|abcdefgh|vvvvvvv
    "replicate": cv2.BORDER_REPLICATE,      # aaaaaa|abcdefgh|hhhhhhh
    "reflect": cv2.BORDER_REFLECT,          # fedcba|abcdefgh|hgfedcb
}

# ---------------------------------------------------------------------------
# Reference implementations (OpenCV 4.5.5 semantics)
# ---------------------------------------------------------------------------


def ref_border_interpolate(p, n, mode):
    """cv::borderInterpolate, vectorised. Returns -1 for BORDER_CONSTANT outside.

    REFLECT / REFLECT_101 loop until inside (so coordinates more than one image
    length outside reflect repeatedly); n == 1 always gives 0.
    """
    p = np.asarray(p, dtype=np.int64).copy()
    inside = (p >= 0) & (p < n)
    if mode == "replicate":
        return np.clip(p, 0, n - 1)
    if mode == "constant":
        return np.where(inside, p, -1)
    if n == 1:
        return np.zeros_like(p)
    delta = 1 if mode == "reflect_101" else 0
    while True:
        bad = (p < 0) | (p >= n)
        if not bad.any():
            return p
        p = np.where(p < 0, -p - 1 + delta, np.where(p >= n, n - 1 - (p - n) - delta, p))


def ref_rotation_matrix(width, height, angle, scale):
    """cv2.getRotationMatrix2D((width/2, height/2), angle, scale).

    The centre is a cv::Point2f (float32); angle in degrees, positive = counter-
    clockwise on screen (y down).  Exact double arithmetic of OpenCV:
        a = angle * (CV_PI/180); alpha = cos(a)*scale; beta = sin(a)*scale
        [[alpha, beta, (1-alpha)*cx - beta*cy], [-beta, alpha, beta*cx + (1-alpha)*cy]]
    """
    cx = float(np.float32(width / 2))
    cy = float(np.float32(height / 2))
    a = angle * (math.pi / 180)
    alpha = math.cos(a) * scale
    beta = math.sin(a) * scale
    return [[alpha, beta, (1 - alpha) * cx - beta * cy], [-beta, alpha, beta * cx + (1 - alpha) * cy]]


def ref_ssr_matrix(width, height, angle, scale, dx, dy):
    """albumentations shift_scale_rotate: rotation matrix then M[0,2] += dx*width, M[1,2] += dy*height."""
    m = ref_rotation_matrix(width, height, angle, scale)
    m[0][2] += dx * width
    m[1][2] += dy * height
    return m


def ref_invert_affine(m):
    """What cv::warpAffine does when WARP_INVERSE_MAP is not set (double precision)."""
    M = [m[0][0], m[0][1], m[0][2], m[1][0], m[1][1], m[1][2]]
    D = M[0] * M[4] - M[1] * M[3]
    D = 1.0 / D if D != 0 else 0.0
    A11 = M[4] * D
    A22 = M[0] * D
    M[0] = A11
    M[1] *= -D
    M[3] *= -D
    M[4] = A22
    b1 = -M[0] * M[2] - M[1] * M[5]
    b2 = -M[3] * M[2] - M[4] * M[5]
    M[2] = b1
    M[5] = b2
    return [[M[0], M[1], M[2]], [M[3], M[4], M[5]]]


INTER_BITS = 5
INTER_TAB_SIZE = 1 << INTER_BITS  # 32
AB_BITS = 10                      # max(10, INTER_BITS)
AB_SCALE = 1 << AB_BITS           # 1024
ROUND_DELTA = AB_SCALE // INTER_TAB_SIZE // 2  # 16 (INTER_LINEAR)


def cv_round(v):
    """cvRound / saturate_cast<int>(double): round half to EVEN (lrint), not std::round."""
    return np.rint(np.asarray(v, dtype=np.float64)).astype(np.int64)


def ref_warp_coords(inv, width, height):
    """WarpAffineInvoker (INTER_LINEAR) integer arithmetic, for dst pixel (x, y):

        X0(y) = cvRound((M1*y + M2) * 1024) + 16     Y0(y) = cvRound((M4*y + M5) * 1024) + 16
        adelta(x) = cvRound(M0*x*1024)               bdelta(x) = cvRound(M3*x*1024)
        X = (X0 + adelta) >> 5                        Y = (Y0 + bdelta) >> 5     (arithmetic shift)
        sx = X >> 5, fx = X & 31                      sy = Y >> 5, fy = Y & 31
    i.e. the source coordinate is rounded to the nearest 1/32 pixel and split into
    an integer (floor) part and a 5-bit fraction.  (M0..M5 = inverse matrix, row-major;
    products are evaluated left to right: (M0*x)*1024.)
    """
    M0, M1, M2 = inv[0]
    M3, M4, M5 = inv[1]
    ys = np.arange(height, dtype=np.float64)
    xs = np.arange(width, dtype=np.float64)
    X0 = cv_round((M1 * ys + M2) * AB_SCALE) + ROUND_DELTA
    Y0 = cv_round((M4 * ys + M5) * AB_SCALE) + ROUND_DELTA
    adelta = cv_round(M0 * xs * AB_SCALE)
    bdelta = cv_round(M3 * xs * AB_SCALE)
    X = (X0[:, None] + adelta[None, :]) >> (AB_BITS - INTER_BITS)
    Y = (Y0[:, None] + bdelta[None, :]) >> (AB_BITS - INTER_BITS)
    return X >> INTER_BITS, X & (INTER_TAB_SIZE - 1), Y >> INTER_BITS, Y & (INTER_TAB_SIZE - 1)


def ref_warp_affine(img, m, border, value=0.0):
    """cv2.warpAffine(img, m, (W, H), flags=INTER_LINEAR, borderMode=border, borderValue=value)
    for float32 HWC (or HW) images.

    Weights (BilinearTab_f, float32, exact): ax = fx/32, ay = fy/32,
        w00 = (1-ay)*(1-ax), w01 = (1-ay)*ax, w10 = ay*(1-ax), w11 = ay*ax
    out = ((v00*w00 + v01*w01) + v10*w10) + v11*w11      (float32, this order)
    with v00 = src(sy, sx), v01 = src(sy, sx+1), v10 = src(sy+1, sx), v11 = src(sy+1, sx+1).
    Pixels with 0 <= sx < W-1 and 0 <= sy < H-1 read the image directly.  Otherwise:
      CONSTANT: if sx >= W or sx+1 < 0 or sy >= H or sy+1 < 0 the output is exactly
        `value`; else each of the four taps that falls outside is `value`.
      others: each tap index goes through borderInterpolate independently
        (sx0 = bi(sx), sx1 = bi(sx+1), sy0 = bi(sy), sy1 = bi(sy+1)).
    """
    squeeze = img.ndim == 2
    if squeeze:
        img = img[:, :, None]
    H, W, C = img.shape
    inv = ref_invert_affine(m)
    sx, fx, sy, fy = ref_warp_coords(inv, W, H)
    ax = fx.astype(np.float32) * np.float32(1.0 / INTER_TAB_SIZE)
    ay = fy.astype(np.float32) * np.float32(1.0 / INTER_TAB_SIZE)
    one = np.float32(1)
    w00 = (one - ay) * (one - ax)
    w01 = (one - ay) * ax
    w10 = ay * (one - ax)
    w11 = ay * ax
    x0 = ref_border_interpolate(sx, W, border)
    x1 = ref_border_interpolate(sx + 1, W, border)
    y0 = ref_border_interpolate(sy, H, border)
    y1 = ref_border_interpolate(sy + 1, H, border)
    val = np.float32(value)

    def tap(yy, xx):
        ok = (yy >= 0) & (xx >= 0)
        v = img[np.where(ok, yy, 0), np.where(ok, xx, 0)]  # (H, W, C)
        return np.where(ok[:, :, None], v, val).astype(np.float32)

    out = (tap(y0, x0) * w00[:, :, None] + tap(y0, x1) * w01[:, :, None]) + tap(y1, x0) * w10[:, :, None]
    out = out + tap(y1, x1) * w11[:, :, None]
    if border == "constant":
        far = (sx >= W) | (sx + 1 < 0) | (sy >= H) | (sy + 1 < 0)
        out[far] = val
    out = out.astype(np.float32)
    return out[:, :, 0] if squeeze else out


def ref_line(k, xs, ys, xe, ye):
    """cv2.line(zeros((k,k),uint8), (xs,ys), (xe,ye), 1, thickness=1) (LINE_8, shift 0),
    endpoints inside the image.  OpenCV's LineIterator(connectivity 8, leftToRight):

        if xe < xs: swap the two endpoints                  (always draw left to right)
        dx = xe - xs (>= 0); dy = |ye - ys|; ystep = sign(ye - ys) (+1 if 0)
        if dy > dx: major axis = y (step ystep), minor = x (step +1), swap dx, dy
        else:       major axis = x (step +1),   minor = y (step ystep)
        err = dx - 2*dy    (dx = major extent, dy = minor extent after the swap)
        repeat dx + 1 times: plot; if err < 0: err += 2*dx - 2*dy, step major AND minor
                                    else:      err -= 2*dy,       step major only
    (note the tie rule 'err < 0', and that only the start after the swap matters, so
    (a->b) and (b->a) give the same pixels.)
    """
    K = np.zeros((k, k), np.uint8)
    if xe < xs:
        xs, ys, xe, ye = xe, ye, xs, ys
    dx = xe - xs
    dy = ye - ys
    ystep = -1 if dy < 0 else 1
    dy = abs(dy)
    x, y = xs, ys
    if dy > dx:
        dmaj, dmin = dy, dx
        step_maj, step_min = (0, ystep), (1, 0)
    else:
        dmaj, dmin = dx, dy
        step_maj, step_min = (1, 0), (0, ystep)
    err = dmaj - 2 * dmin
    for _ in range(dmaj + 1):
        K[y, x] = 1
        if err < 0:
            err += 2 * dmaj - 2 * dmin
            x += step_maj[0] + step_min[0]
            y += step_maj[1] + step_min[1]
        else:
            err -= 2 * dmin
            x += step_maj[0]
            y += step_maj[1]
    return K


def ref_motion_kernel(k, xs, ys, xe, ye):
    """MotionBlur.get_params after the endpoints: uint8 line mask -> float32 / sum."""
    K = ref_line(k, xs, ys, xe, ye)
    return K.astype(np.float32) / np.float32(K.sum())


def ref_filter2d(img, kernel):
    """cv2.filter2D(img, -1, kernel) (anchor = centre (k//2, k//2), delta 0,
    BORDER_REFLECT_101): CORRELATION, no kernel flip:

        out(y, x) = sum_{i,j} kernel[i, j] * src(bi(y + i - k//2), bi(x + j - k//2))
    summed in float32 over the NON-ZERO kernel taps in row-major order
    (OpenCV's Filter2D drops zero coefficients; SIMD may fuse multiply-adds, so
    the last bit can differ).
    """
    squeeze = img.ndim == 2
    if squeeze:
        img = img[:, :, None]
    H, W, C = img.shape
    kh, kw = kernel.shape
    ay, ax = kh // 2, kw // 2
    out = np.zeros(img.shape, np.float32)
    rows = np.arange(H)
    cols = np.arange(W)
    for i in range(kh):
        for j in range(kw):
            c = np.float32(kernel[i, j])
            if c == 0:
                continue
            yy = ref_border_interpolate(rows + i - ay, H, "reflect_101")
            xx = ref_border_interpolate(cols + j - ax, W, "reflect_101")
            out = out + c * img[yy][:, xx]
    return out[:, :, 0] if squeeze else out


def ref_vflip(img_chw):
    """albumentations vflip: img[::-1] on HWC = reverse the rows (H axis)."""
    return img_chw[:, ::-1, :].copy()


# ---------------------------------------------------------------------------
# albumentations oracle calls (HWC in, HWC out)
# ---------------------------------------------------------------------------


def alb_ssr(img_hwc, p):
    return FG.shift_scale_rotate(
        img_hwc, p["angle"], p["scale"], p["dx"], p["dy"],
        interpolation=cv2.INTER_LINEAR, border_mode=BORDERS[p["border_mode"]], value=p["value"],
    )


def alb_motion_blur(img_hwc, kernel):
    return F.convolve(img_hwc, kernel=kernel)


def to_hwc(chw):
    return np.ascontiguousarray(chw.transpose(1, 2, 0))


def to_chw(hwc):
    return np.ascontiguousarray(hwc.transpose(2, 0, 1)).astype(np.float32)


def motion_get_params_with_endpoints(blur_limit=(3, 7)):
    """Copy of MotionBlur.get_params (albumentations 1.0.3) that also returns the endpoints."""
    ksize = random.choice(np.arange(blur_limit[0], blur_limit[1] + 1, 2))
    xs, xe = random.randint(0, ksize - 1), random.randint(0, ksize - 1)
    if xs == xe:
        ys, ye = random.sample(range(ksize), 2)
    else:
        ys, ye = random.randint(0, ksize - 1), random.randint(0, ksize - 1)
    return int(ksize), int(xs), int(ys), int(xe), int(ye)


# ---------------------------------------------------------------------------
# Verification of the reference implementations
# ---------------------------------------------------------------------------


def verify():
    rng = np.random.default_rng(12345)
    worst = 0.0
    worst_nonquant = 0.0
    mats = []
    for (h, w) in [(37, 29), (21, 17), (16, 16), (5, 9), (1, 7)]:
        specs = [(0, 1.0, 0, 0), (45, 1.0, 0, 0), (-45, 1.0, 0.1, -0.05), (12.5, 0.9, 0.0625, -0.0625),
                 (30.7, 1.1, -0.0625, 0.0625), (90, 0.93, 0.03, 0.0), (180, 1.0, 0.0, 0.0),
                 (0, 1.0, 1.3, -1.7), (0, 0.4, 0.5, 0.5), (-77.3, 2.5, -2.2, 0.9)]
        for _ in range(10):
            specs.append((rng.uniform(-180, 180), rng.uniform(0.5, 1.5), rng.uniform(-0.3, 0.3), rng.uniform(-0.3, 0.3)))
        for s in specs:
            mats.append(((h, w), ref_ssr_matrix(w, h, *s), s))
        for _ in range(5):  # general affine incl. shear
            m = (np.eye(2, 3) + rng.normal(0, 0.3, (2, 3)) * [1, 1, 5]).tolist()
            mats.append(((h, w), m, "general"))
    for (h, w), m, s in mats:
        if s != "general":
            cvm = cv2.getRotationMatrix2D((w / 2, h / 2), s[0], s[1])
            cvm[0, 2] += s[2] * w
            cvm[1, 2] += s[3] * h
            assert np.array_equal(cvm, np.array(m)), (cvm, m)  # bit-exact matrix
        for c in (1, 3):
            img = rng.standard_normal((h, w, c)).astype(np.float32)
            for name, mode in BORDERS.items():
                value = 0.0 if name == "constant" else None
                got = cv2.warpAffine(img, np.array(m), (w, h), flags=cv2.INTER_LINEAR, borderMode=mode,
                                     borderValue=value)
                if got.ndim == 2:
                    got = got[:, :, None]
                ref = ref_warp_affine(img, m, name, 0.0)
                worst = max(worst, float(np.abs(got - ref).max()))
                # how much the 1/32 quantisation matters (documentation only)
                nq = _nonquantised_warp(img, m, name)
                worst_nonquant = max(worst_nonquant, float(np.abs(got - nq).max()))
    assert worst < 1e-5, worst
    print(f"warpAffine: {len(mats)} matrices x 2 channel counts x 4 borders, max |cv2 - ref| = {worst:.3g}; "
          f"max |cv2 - unquantised bilinear| = {worst_nonquant:.3g}")

    # lines: every endpoint pair
    n = 0
    for k in (3, 5, 7):
        for xs in range(k):
            for ys in range(k):
                for xe in range(k):
                    for ye in range(k):
                        K = np.zeros((k, k), np.uint8)
                        cv2.line(K, (xs, ys), (xe, ye), 1, thickness=1)
                        assert np.array_equal(K, ref_line(k, xs, ys, xe, ye)), (k, xs, ys, xe, ye)
                        n += 1
    print(f"cv2.line: {n} endpoint pairs (k = 3, 5, 7) identical")

    # filter2D with every motion kernel, on C=1 and C=3 images
    worst = 0.0
    img1 = rng.standard_normal((13, 11, 1)).astype(np.float32)
    img3 = rng.standard_normal((9, 8, 3)).astype(np.float32)
    nk = 0
    for k in (3, 5, 7):
        for xs in range(k):
            for ys in range(k):
                for xe in range(k):
                    for ye in range(k):
                        kern = ref_motion_kernel(k, xs, ys, xe, ye)
                        for img in (img1, img3):
                            got = alb_motion_blur(img, kern)
                            worst = max(worst, float(np.abs(got - ref_filter2d(img, kern)).max()))
                        nk += 1
    # a few dense non-symmetric kernels (proves correlation, not convolution)
    for k in (3, 5, 7):
        kern = rng.standard_normal((k, k)).astype(np.float32)
        for img in (img1, img3):
            worst = max(worst, float(np.abs(alb_motion_blur(img, kern) - ref_filter2d(img, kern)).max()))
    assert worst < 1e-5, worst
    print(f"filter2D (via albumentations convolve): {nk} motion kernels + dense kernels, max diff = {worst:.3g}")


def _nonquantised_warp(img, m, border):
    """Plain float64 bilinear without OpenCV's 1/32 rounding (documentation only)."""
    H, W, C = img.shape
    inv = np.array(ref_invert_affine(m))
    yy, xx = np.mgrid[0:H, 0:W].astype(np.float64)
    fx = inv[0, 0] * xx + inv[0, 1] * yy + inv[0, 2]
    fy = inv[1, 0] * xx + inv[1, 1] * yy + inv[1, 2]
    sx = np.floor(fx).astype(np.int64)
    sy = np.floor(fy).astype(np.int64)
    ax = (fx - sx)[:, :, None]
    ay = (fy - sy)[:, :, None]
    x0, x1 = ref_border_interpolate(sx, W, border), ref_border_interpolate(sx + 1, W, border)
    y0, y1 = ref_border_interpolate(sy, H, border), ref_border_interpolate(sy + 1, H, border)

    def tap(a, b):
        ok = (a >= 0) & (b >= 0)
        return np.where(ok[:, :, None], img[np.where(ok, a, 0), np.where(ok, b, 0)], 0.0)

    return ((1 - ay) * (1 - ax) * tap(y0, x0) + (1 - ay) * ax * tap(y0, x1)
            + ay * (1 - ax) * tap(y1, x0) + ay * ax * tap(y1, x1))


# ---------------------------------------------------------------------------
# Fixture
# ---------------------------------------------------------------------------


def main():
    import scipy
    import skimage

    versions = {
        "albumentations": A.__version__,
        "opencv": cv2.__version__,
        "opencv_python_headless_wheel": _dist_version("opencv-python-headless"),
        "numpy": np.__version__,
        "scipy": scipy.__version__,
        "scikit_image": skimage.__version__,
        "python": sys.version.split()[0],
    }
    print("versions:", versions)
    verify()

    os.makedirs(OUT, exist_ok=True)
    images = {
        "images.npy": np.random.default_rng(20210801).standard_normal((3, 1, 37, 29)).astype(np.float32),
        "images_c3.npy": np.random.default_rng(20210802).standard_normal((3, 3, 21, 17)).astype(np.float32),
    }
    for name, arr in images.items():
        np.save(os.path.join(OUT, name), arr)

    cases = []

    def add(op, params, image, index, extra=None):
        chw = images[image][index]
        hwc = to_hwc(chw)
        if op == "vflip":
            out = to_chw(F.vflip(hwc))
            ref = ref_vflip(chw)
        elif op == "ssr":
            out = to_chw(alb_ssr(hwc, params))
            ref = to_chw(ref_warp_affine(hwc, ref_ssr_matrix(hwc.shape[1], hwc.shape[0], params["angle"],
                                                             params["scale"], params["dx"], params["dy"]),
                                         params["border_mode"], params["value"] or 0.0))
            m = ref_ssr_matrix(hwc.shape[1], hwc.shape[0], params["angle"], params["scale"], params["dx"], params["dy"])
            params = dict(params, matrix=m, inverse=ref_invert_affine(m))
        elif op == "motion_blur":
            kern = params.pop("_kernel")
            out = to_chw(alb_motion_blur(hwc, kern))
            ref = to_chw(ref_filter2d(hwc, kern))
            k01 = ["".join(str(int(v > 0)) for v in row) for row in kern]
            params = dict(params, kernel=kern.tolist(), kernel01=k01)
        else:
            raise ValueError(op)
        assert out.shape == chw.shape and out.dtype == np.float32, (out.shape, out.dtype)
        diff = float(np.abs(out - ref).max())
        assert diff < 1e-5, (op, params, diff)
        fname = f"case_{len(cases):02d}_{op}.npy"
        np.save(os.path.join(OUT, fname), out)
        case = {"op": op, "params": params, "image": image, "index": index, "output": fname}
        if extra:
            case.update(extra)
        cases.append(case)

    # --- vflip
    add("vflip", {}, "images.npy", 0)
    add("vflip", {}, "images_c3.npy", 1)

    # --- ShiftScaleRotate with fixed params
    def ssr(angle, scale, dx, dy, border):
        return {"angle": angle, "scale": scale, "dx": dx, "dy": dy, "border_mode": border,
                "value": 0 if border == "constant" else None}

    for image, idx, p in [
        ("images.npy", 0, ssr(0.0, 1.0, 0.0, 0.0, "reflect_101")),         # identity
        ("images.npy", 1, ssr(12.5, 0.9, 0.0625, -0.0625, "reflect_101")),
        ("images.npy", 2, ssr(-45.0, 1.1, -0.03, 0.05, "reflect_101")),
        ("images.npy", 0, ssr(45.0, 1.0, 0.0, 0.0, "constant")),
        ("images.npy", 1, ssr(90.0, 1.0, 0.0625, 0.0, "replicate")),        # non-square: 90 deg leaves gaps
        ("images.npy", 2, ssr(30.7, 0.93, -0.0625, 0.0625, "reflect")),
        ("images.npy", 0, ssr(0.0, 0.9, 0.0, 0.0, "constant")),
        ("images.npy", 1, ssr(0.0, 1.0, 0.0625, 0.0625, "reflect_101")),    # pure shift by 1.8125, 2.3125 px
        ("images.npy", 2, ssr(0.0, 1.0, 1.3, -1.2, "reflect_101")),         # repeated (two-step) reflection
        ("images.npy", 0, ssr(-12.5, 1.0, -1.3, 1.2, "reflect")),           # repeated reflection, REFLECT
        ("images_c3.npy", 0, ssr(12.5, 1.1, 0.01, -0.02, "reflect_101")),
        ("images_c3.npy", 1, ssr(-45.0, 0.9, 0.0625, 0.0625, "constant")),
        ("images_c3.npy", 2, ssr(90.0, 0.93, -0.0625, 0.0, "replicate")),
        ("images_c3.npy", 0, ssr(30.7, 1.0, 0.0, -0.0625, "reflect")),
    ]:
        add("ssr", p, image, idx)

    # --- ShiftScaleRotate params drawn by the real class (defaults: shift 0.0625, scale 0.1, rotate 45)
    for seed, image, idx in [(1, "images.npy", 1), (2, "images_c3.npy", 2)]:
        t = A.ShiftScaleRotate(p=1.0)
        random.seed(seed)
        gp = t.get_params()
        p = ssr(gp["angle"], gp["scale"], gp["dx"], gp["dy"], "reflect_101")
        # and the class itself agrees with the functional call
        hwc = to_hwc(images[image][idx])
        random.seed(seed)
        cls_out = t.apply(hwc, **t.update_params(t.get_params(), image=hwc))
        assert np.array_equal(cls_out, alb_ssr(hwc, p))
        add("ssr", p, image, idx, {"source": "get_params", "seed": seed})

    # --- MotionBlur with explicit endpoints
    def mb(k, xs, ys, xe, ye):
        K = np.zeros((k, k), dtype=np.uint8)
        cv2.line(K, (xs, ys), (xe, ye), 1, thickness=1)
        kern = K.astype(np.float32) / np.sum(K)  # exactly as MotionBlur.get_params
        assert kern.dtype == np.float32
        return {"ksize": k, "xs": xs, "ys": ys, "xe": xe, "ye": ye, "_kernel": kern}

    for image, idx, p in [
        ("images.npy", 0, mb(3, 0, 1, 2, 1)),     # horizontal through centre
        ("images_c3.npy", 1, mb(3, 1, 0, 1, 2)),  # vertical
        ("images.npy", 1, mb(5, 0, 0, 4, 4)),     # diagonal
        ("images.npy", 2, mb(5, 0, 3, 4, 1)),     # shallow, upward
        ("images_c3.npy", 0, mb(5, 2, 4, 2, 0)),  # vertical, drawn bottom-up (xs == xe)
        ("images.npy", 0, mb(7, 2, 0, 4, 6)),     # steep
        ("images.npy", 1, mb(7, 6, 2, 0, 5)),     # right-to-left endpoints
        ("images_c3.npy", 2, mb(7, 0, 6, 6, 0)),  # anti-diagonal
        ("images.npy", 2, mb(7, 3, 3, 3, 3)),     # single point at centre (identity; get_params never does this)
        ("images.npy", 0, mb(5, 0, 4, 0, 4)),     # single off-centre point: a pure shift with reflect_101
    ]:
        add("motion_blur", p, image, idx)

    # --- MotionBlur params drawn by the real class (blur_limit default 7 -> ksize in {3, 5, 7})
    for seed, image, idx in [(3, "images.npy", 1), (4, "images_c3.npy", 0)]:
        t = A.MotionBlur(p=1.0)
        random.seed(seed)
        kern = t.get_params()["kernel"]
        random.seed(seed)
        k, xs, ys, xe, ye = motion_get_params_with_endpoints(t.blur_limit)
        p = mb(k, xs, ys, xe, ye)
        assert np.array_equal(p["_kernel"], kern) and kern.dtype == np.float32
        hwc = to_hwc(images[image][idx])
        assert np.array_equal(t.apply(hwc, kernel=kern), alb_motion_blur(hwc, kern))
        add("motion_blur", p, image, idx, {"source": "get_params", "seed": seed})

    with open(os.path.join(OUT, "cases.json"), "w") as f:  # one case per line
        f.write('{"versions": ' + json.dumps(versions) + ',\n "cases": [\n  ')
        f.write(",\n  ".join(json.dumps(c) for c in cases))
        f.write("\n ]}\n")

    # --- lines.json: every endpoint pair for k = 3, 5, 7
    kernels = {}
    for k in (3, 5, 7):
        lst = []
        for xs in range(k):
            for ys in range(k):
                for xe in range(k):
                    for ye in range(k):
                        K = np.zeros((k, k), np.uint8)
                        cv2.line(K, (xs, ys), (xe, ye), 1, thickness=1)
                        lst.append("".join("1" if v else "0" for v in K.ravel()))
        kernels[str(k)] = lst
    lines = {
        "encoding": "kernels[str(k)][((xs*k + ys)*k + xe)*k + ye] is cv2.line(zeros((k,k),uint8), (xs,ys), (xe,ye), 1,"
                    " thickness=1) as k*k chars '0'/'1', row-major: char y*k + x is row y, column x",
        "versions": versions,
        "kernels": kernels,
    }
    with open(os.path.join(OUT, "lines.json"), "w") as f:
        json.dump(lines, f, separators=(",", ":"))
        f.write("\n")

    total = 0
    for name in sorted(os.listdir(OUT)):
        size = os.path.getsize(os.path.join(OUT, name))
        total += size
    print(f"wrote {len(cases)} cases, {len(os.listdir(OUT))} files, {total} bytes to {OUT}")
    assert total < 400 * 1024, total


def _dist_version(name):
    try:
        from importlib.metadata import version
        return version(name)
    except Exception:  # pragma: no cover
        return None


if __name__ == "__main__":
    main()
