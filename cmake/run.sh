#!/usr/bin/env bash
# The two commands of the README, for a fresh Debian 12 machine. Both install what is missing,
# configure and build once (later runs skip what is done), then:
#   bash cmake/run.sh demo   generate data/synthetic if absent, run the competition pipeline on it
#   bash cmake/run.sh test   build everything and run the whole test suite (ctest)
set -euo pipefail
cd "$(dirname "$0")/.."

build_dir=${CADENCE_BUILD_DIR:-build}
packages=(g++ cmake ninja-build libtorch-dev librange-v3-dev nlohmann-json3-dev doctest-dev libbenchmark-dev libcli11-dev)
# the tests also open report.html in a real browser
[ "${1:-}" = test ] && packages+=(chromium)

install_missing() {
  local missing=()
  for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return
  echo "installing: ${missing[*]}"
  local sudo=""
  [ "$(id -u)" -ne 0 ] && sudo=sudo
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
}

configure() {
  [ -f "$build_dir/build.ninja" ] && return
  cmake -S . -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE=Release
}

case "${1:-}" in
  demo)
    install_missing
    configure
    cmake --build "$build_dir" --target seti cadence-synth
    if [ ! -f data/synthetic/.complete ]; then
      "$build_dir/samples/cadence-synth" --root data/synthetic
    fi
    "$build_dir/samples/seti" run --config samples/seti/configs/demo.json "${@:2}"
    ;;
  build)  # bash cmake/run.sh build TARGET...: install, configure, build those targets (for bench/compare.sh)
    install_missing
    configure
    cmake --build "$build_dir" --target "${@:2}"
    ;;
  test)
    install_missing
    configure
    cmake --build "$build_dir"
    ctest --test-dir "$build_dir" --output-on-failure "${@:2}"
    ;;
  *)
    echo "usage: bash cmake/run.sh demo|test [extra arguments]" >&2
    exit 2
    ;;
esac
