#!/usr/bin/env bash
# Is what a detector loses on the shift benchmark's pulsed signals the detector's, or the signals'?
#
# cadence-synth's pulsed signal is on for a duty cycle of 20-60% of each period (1-20 rows) at the level
# its SNR names, so it carries 20-60% of the energy of a constant signal of the same SNR. Four test sets
# drawn with the same seed, so that they hold the same cadences, noise, paths, widths and SNR draws and
# differ only where named: every positive constant; every positive pulsed; every positive constant at
# 0.4x the SNR (the mean duty cycle: the pulsed signals' mean energy); every positive constant but
# missing from one ON panel. Half the cadences positive, straight paths, no interference (--rfi-rate 0);
# a config (the track search by default) scores each set, and the test AUCs are printed side by side, by
# SNR too (the SNR bins of the 0.4x set hold its own, scaled SNRs). The training and old sets follow the
# same options (a network's config pretrains on old and trains on train; the track search learns nothing).
#
#   bash bench/pulsed_energy.sh                         about a minute on 2 cores (the track search)
#   CONFIG=samples/seti/configs/demo.json bash bench/pulsed_energy.sh   another detector (the network: minutes)
#   WORK=build/pulsed_energy SEED=11 THREADS=0
set -euo pipefail
cd "$(dirname "$0")/.."
build_dir=${CADENCE_BUILD_DIR:-build}
seed=${SEED:-11}
work=${WORK:-$build_dir/pulsed_energy/seed-$seed}
config=${CONFIG:-samples/seti/configs/track.json}
name=$(basename "$config" .json)
bash cmake/run.sh build seti cadence-synth > /dev/null

common=(--preset shift --seed "$seed" --train 400 --old 400 --test 1000 --positive-rate 0.5 --rfi-rate 0
        --test-paths straight --test-interference drifting --quiet)
declare -A extra=(
  [constant]="--test-intensities constant --test-skip-panel 0"
  [pulsed]="--test-intensities pulsed --test-skip-panel 0"
  [constant_0.4snr]="--test-intensities constant --test-skip-panel 0 --snr-min 1.2 --snr-max 8"
  [skips_an_on_panel]="--test-intensities constant --test-skip-panel 1"
)
sets="constant pulsed constant_0.4snr skips_an_on_panel"
for s in $sets; do
  data=$work/$s/data
  # shellcheck disable=SC2086  # the extra options are words
  [ -f "$data/.complete" ] || "$build_dir/samples/cadence-synth" --root "$data" "${common[@]}" ${extra[$s]}
  run=$work/$s/run-$name  # one run directory per config, so that two configs' runs stand side by side
  rm -rf "$run"
  "$build_dir/samples/seti" run --config "$config" --set load.root="$data" --set run.dir="$run" \
    --set run.threads="${THREADS:-0}" --quiet > "$run.log" 2>&1 || { tail -n 5 "$run.log" >&2; exit 1; }
done

/usr/bin/python3 - "$work" "$config" "$name" $sets <<'EOF'
import json, os, sys
work, config, name, sets = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4:]
pr = {s: json.load(open(os.path.join(work, s, "run-" + name, "predict.json"))) for s in sets}
print("%s, test ROC AUC (the same cadences in each set; half of them positive):" % os.path.basename(config))
print()
print("| set | test AUC | " + " | ".join("SNR %g–%g" % (b["snr_lo"], b["snr_hi"]) for b in pr[sets[0]]["test AUC by SNR"]) + " |")
print("|---|---:|" + "---:|" * len(pr[sets[0]]["test AUC by SNR"]))
for s in sets:
    bins = {(b["snr_lo"], b["snr_hi"]): b for b in pr[s]["test AUC by SNR"]}
    cells = []
    for b in pr[sets[0]]["test AUC by SNR"]:
        k = (b["snr_lo"], b["snr_hi"])
        cells.append("%.4f (%d)" % (bins[k]["auc"], bins[k]["positives"]) if k in bins and bins[k]["positives"] else "–")
    print("| %s | %.4f | %s |" % (s, pr[s]["test ROC AUC (test_labels.csv)"], " | ".join(cells)))
EOF
