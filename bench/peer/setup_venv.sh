#!/usr/bin/env bash
# Creates <repo>/.venv-peer for bench/peer/peer.py: Debian's torch 1.13.1 / torchvision 0.14.1
# (system site packages) + pinned timm and albumentations from PyPI, with no torch wheel.
# Idempotent: a marker file records the pins that were installed; a second run only checks imports.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
venv="${PEER_VENV:-$repo/.venv-peer}"

# Pins. albumentations 1.0.3 uses np.int / np.bool (removed in numpy 1.24), so numpy < 1.24;
# timm is installed with --no-deps so that pip never pulls a torch wheel over Debian's.
PINS_ALB=(albumentations==1.0.3 numpy==1.23.5 opencv-python-headless==4.5.5.64 scipy==1.10.1 scikit-image==0.20.0
          qudida==0.0.4 scikit-learn==1.2.2)
PINS_TIMM=(timm==1.0.31)
PINS_TIMM_DEPS=(huggingface_hub==2.4.0 safetensors==0.8.0 pyyaml)
marker="$venv/.peer-ready"
want="$(printf '%s\n' "${PINS_ALB[@]}" "${PINS_TIMM[@]}" "${PINS_TIMM_DEPS[@]}" | sha256sum | cut -c1-16)"

as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

# 1. System packages (Debian 12: python3-torch 1.13.1, python3-torchvision 0.14.1).
missing=()
for p in python3-venv python3-torch python3-torchvision; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  echo "setup_venv: apt-get install ${missing[*]}"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}"
fi

# 2. The venv, seeing the system torch.
if [ ! -x "$venv/bin/python" ]; then
  echo "setup_venv: creating $venv"
  /usr/bin/python3 -m venv --system-site-packages "$venv"
fi
# Keep git from listing the venv (the repo's .gitignore does not name it).
[ -f "$venv/.gitignore" ] || echo '*' > "$venv/.gitignore"

# 3. Pinned packages, once per pin set.
if [ "$(cat "$marker" 2>/dev/null)" != "$want" ]; then
  pip=("$venv/bin/python" -m pip install --disable-pip-version-check -q)
  "${pip[@]}" --only-binary=:all: "${PINS_ALB[@]}"
  "${pip[@]}" --no-deps "${PINS_TIMM[@]}"
  "${pip[@]}" --only-binary=:all: "${PINS_TIMM_DEPS[@]}"
  "$venv/bin/python" -m pip freeze --disable-pip-version-check > "$venv/peer-freeze.txt"
  # torch must still be Debian's (nothing above may have pulled a wheel).
  "$venv/bin/python" - <<'PY'
import torch, sys
if "dist-packages" not in torch.__file__:
    sys.exit(f"setup_venv: torch comes from {torch.__file__}, expected Debian's python3-torch")
PY
fi

# 4. Everything must import together in this one interpreter.
"$venv/bin/python" - <<'PY'
import warnings
warnings.simplefilter("error", RuntimeWarning)   # a numpy ABI mismatch shows up as a RuntimeWarning
import numpy, torch, torchvision, timm, albumentations, cv2, scipy, skimage
m = timm.create_model("efficientnetv2_s", in_chans=1, num_classes=2)
print(f"setup_venv: numpy {numpy.__version__}, torch {torch.__version__}, torchvision {torchvision.__version__}, "
      f"timm {timm.__version__}, albumentations {albumentations.__version__}, cv2 {cv2.__version__}")
PY
echo "$want" > "$marker"
echo "$venv/bin/python"
