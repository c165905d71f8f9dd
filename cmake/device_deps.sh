#!/usr/bin/env bash
# What a GPU machine lacks, gathered here into .deps/ (git-ignored) so that it can travel with the tree:
# the header-only C++ dependencies (range-v3, nlohmann_json, doctest, CLI11: headers and their CMake
# package files, copied from this machine's Debian packages with their layout kept, so the files find
# their prefix relative to themselves) and the peer's pure-Python packages the GPU image lacks
# (albumentations 1.0.3 and qudida, from bench/peer's venv).
#
#   bash cmake/device_deps.sh        here (Debian, packages installed by cmake/run.sh)
#   then, on the GPU machine:        export CADENCE_DEPS_PREFIX=$PWD/.deps/usr PYTHONPATH=$PWD/.deps/python
#                                    (what bench/gpu_compare.sh, bench/gpu_scan.sh, cmake/cuda_check.sh and
#                                    cmake/cuda_tests_only.sh read)
set -euo pipefail
cd "$(dirname "$0")/.."
rm -rf .deps
mkdir -p .deps/usr .deps/python
for pkg in librange-v3-dev nlohmann-json3-dev doctest-dev libcli11-dev; do
  dpkg -L "$pkg" >/dev/null 2>&1 || { echo "device_deps: $pkg is not installed (bash cmake/run.sh build installs it)" >&2; exit 1; }
  dpkg -L "$pkg" | grep -E '^/usr/(include|lib/cmake|share/cmake)/' | while read -r f; do
    [ -f "$f" ] || continue
    mkdir -p ".deps${f%/*}"
    cp "$f" ".deps$f"
  done
done
site=$(ls -d .venv-peer/lib/python3*/site-packages 2>/dev/null | head -1 || true)
if [ -z "$site" ]; then
  bash bench/peer/setup_venv.sh > /dev/null
  site=$(ls -d .venv-peer/lib/python3*/site-packages | head -1)
fi
for p in albumentations qudida; do
  cp -r "$site/$p" .deps/python/
  cp -r "$site/$p"-*.dist-info .deps/python/
done
find .deps/python -name __pycache__ -prune -exec rm -rf {} +
du -sh .deps | sed 's/^/device_deps: /'
