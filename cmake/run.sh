#!/usr/bin/env bash
# The two commands of the README, for a fresh Debian 12 machine. Both install what is missing,
# configure and build once (later runs skip what is done), then:
#   bash cmake/run.sh demo   generate data/synthetic if absent, run the competition pipeline on it
#   bash cmake/run.sh test   build everything and run the whole test suite (ctest), then the memory-handling
#                            unit tests and the command-line and end-to-end tests again under ASan + UBSan
#                            (build-asan/), then each libFuzzer target for a short smoke run (build-fuzz/)
set -euo pipefail
cd "$(dirname "$0")/.."

build_dir=${CADENCE_BUILD_DIR:-build}
packages=(g++ cmake ninja-build libtorch-dev libgloo-dev librange-v3-dev nlohmann-json3-dev doctest-dev libbenchmark-dev libcli11-dev libhdf5-dev bitshuffle)
# the tests also open report.html in a real browser, fuzz with clang's libFuzzer and check the form with clang-format
[ "${1:-}" = test ] && packages+=(chromium clang libclang-rt-14-dev clang-format)

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

# One compile per core (CADENCE_BUILD_JOBS overrides): ninja's default is two more than the cores, and
# on two cores the four GCC processes (1-2 GB each) took each other's caches. The sanitizer build, from
# nothing, on an AMD EPYC (avx2), 2 cores: 346 s at four jobs, 259 s at two (docs/performance.md).
build_jobs=${CADENCE_BUILD_JOBS:-$(nproc)}
for v in CADENCE_BUILD_JOBS CADENCE_TEST_JOBS; do
  if [ -n "${!v:-}" ] && ! [[ ${!v} =~ ^[1-9][0-9]*$ ]]; then
    echo "cmake/run.sh: $v='${!v}' is not a positive whole number of jobs" >&2
    exit 2
  fi
done
compile() { cmake --build "$1" --parallel "$build_jobs" "${@:2}"; }

configure() {
  [ -f "$build_dir/build.ninja" ] && return
  cmake -S . -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE=Release
}

case "${1:-}" in
  demo)
    install_missing
    configure
    compile "$build_dir" --target seti cadence-synth
    if [ ! -f data/synthetic/.complete ]; then
      "$build_dir/samples/cadence-synth" --root data/synthetic
    fi
    "$build_dir/samples/seti" run --config samples/seti/configs/demo.json "${@:2}"
    ;;
  build)  # bash cmake/run.sh build TARGET...: install, configure, build those targets (for bench/compare.sh)
    install_missing
    configure
    compile "$build_dir" --target "${@:2}"
    ;;
  test)
    # each phase's wall time, for docs/performance.md's account of the test command
    phase_start=$SECONDS
    phase() { echo "test command: $1 took $((SECONDS - phase_start)) s" >&2; phase_start=$SECONDS; }
    install_missing
    configure
    # bench.gpu_compare_cpu runs the Python peer, whose venv (bench/peer/setup_venv.sh) comes from PyPI:
    # made beside the build, mostly waiting on the network, instead of in one of ctest's two slots (~2 min)
    mkdir -p "$build_dir"
    bash bench/peer/setup_venv.sh > "$build_dir/peer-venv.log" 2>&1 &
    venv_pid=$!
    phase "install and configure"
    compile "$build_dir"
    phase "build"
    # a failed venv fails bench.gpu_compare_cpu, which makes it again and shows why; the log says it here too
    wait "$venv_pid" || { echo "the peer's venv: setup failed, see $build_dir/peer-venv.log" >&2; tail -5 "$build_dir/peer-venv.log" >&2; }
    # two at a time: ~200 of the entries are a process that spends its second loading LibTorch
    jobs=${CADENCE_TEST_JOBS:-2}
    ctest --test-dir "$build_dir" --output-on-failure -j "$jobs" "${@:2}"
    phase "ctest"
    # the unit tests of the code that indexes memory by hand, and the command-line and end-to-end tests
    # (whole jobs through an instrumented seti), under AddressSanitizer + UndefinedBehaviorSanitizer
    # (tests/CMakeLists.txt says which unit tests, and why); not e2e.ensemble (two e2e.run-sized jobs and
    # a blend of CSVs: e2e.run already takes that code through the sanitizers) nor the browser test
    asan_dir=${CADENCE_ASAN_DIR:-build-asan}
    # -O1: the sanitizers' own recommendation, and half the compile time of -O3 on two cores
    # seti with the jobs of the two architectures these tests run (small_cnn, dedoppler): the jobs of the
    # EfficientNetV2 pipelines are the same code over another model type, and ~2/3 of seti's compile time
    cmake -S . -B "$asan_dir" -G Ninja -DCMAKE_BUILD_TYPE=Release -DCMAKE_CXX_FLAGS_RELEASE="-O1" \
      -DCADENCE_SANITIZE=ON -DCADENCE_BUILD_BENCH=OFF "-DCADENCE_SETI_ARCHITECTURES=small_cnn;dedoppler"
    compile "$asan_dir" --target cadence_tests seti cadence-synth
    phase "ASan + UBSan build"
    ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 LSAN_OPTIONS=suppressions=$PWD/cmake/sanitizers.supp \
      UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
      ctest --test-dir "$asan_dir" --output-on-failure -j "$jobs" -R '^(unit\.|cli\.|e2e\.|dist\.equivalence)' \
      -E '^e2e\.(report_renders|ensemble)$'
    # each fuzz target for a short smoke run from its seed corpus (docs/reliability.md has the long runs)
    phase "ASan + UBSan tests"
    fuzz_dir=${CADENCE_FUZZ_DIR:-build-fuzz}
    [ -f "$fuzz_dir/build.ninja" ] || cmake -S tests/fuzz -B "$fuzz_dir" -G Ninja -DCMAKE_CXX_COMPILER=clang++
    compile "$fuzz_dir"
    # the targets run $jobs at a time (each is one single-threaded process); a crash's input is written
    # into the current directory
    fuzz_one() {
      mkdir -p "$fuzz_dir/work/$1"
      "$fuzz_dir/fuzz_$1" "$fuzz_dir/work/$1" "tests/fuzz/corpus/$1" -max_total_time="${CADENCE_FUZZ_SECONDS:-12}" \
        -print_final_stats=1 > "$fuzz_dir/work/$1.log" 2>&1
    }
    targets=(npy csv config safetensors filterbank)
    declare -A fuzz_pid=()
    for t in "${targets[@]}"; do
      while [ "$(jobs -rp | wc -l)" -ge "$jobs" ]; do wait -n || true; done
      fuzz_one "$t" &
      fuzz_pid[$t]=$!
    done
    failed=0
    for t in "${targets[@]}"; do
      if wait "${fuzz_pid[$t]}"; then
        echo "fuzz_$t: $(grep -E '^stat::number_of_executed_units' "$fuzz_dir/work/$t.log" | grep -oE '[0-9]+$') inputs, no crash"
      else
        tail -40 "$fuzz_dir/work/$t.log"
        echo "fuzz_$t: failed (the crashing input is in the current directory)" >&2
        failed=$((failed + 1))
      fi
    done
    phase "fuzz build and smoke runs"
    echo "fuzz: $(( ${#targets[@]} - failed )) passed, $failed failed"
    [ "$failed" -eq 0 ]
    ;;
  *)
    echo "usage: bash cmake/run.sh demo|test [extra arguments]" >&2
    exit 2
    ;;
esac
