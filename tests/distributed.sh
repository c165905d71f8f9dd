#!/usr/bin/env bash
# Data-parallel runs of the real CLI over c10d Gloo on loopback, each rank a process started here with
# torchrun's variables (no Python, no torchrun needed):
#
#   equivalence  2 processes x batch B == 1 process x batch 2B, same seed (SyncBatchNorm on, mixup and
#                dropout off: both draw per batch): the same out-of-fold predictions within 2e-4, the
#                same out-of-fold AUC to 4 digits, the same submission within 2e-4
#   dead rank    rank 1 killed (SIGKILL) mid-training: rank 0 exits non-zero with a one-line error
#                naming the failed collective, within the timeout, never hangs
#   resume       2 ranks stopped by SIGTERM mid-epoch (exit 143, one checkpoint), resumed by 1 process
#
#   slurm        cmake/slurm.sh sets torchrun's variables from SLURM's
#
# usage: tests/distributed.sh SETI SYNTH CONFIG WORK [equivalence|dead_rank|resume|slurm]
set -uo pipefail
seti=$1 synth=$2 config=$3 work=$4 what=${5:-equivalence}
data=$work/data
fail() { echo "FAIL: $*" >&2; exit 1; }

mkdir -p "$work"
if [[ $what != slurm && ! -f $data/train_labels.csv ]]; then
  "$synth" --root "$data" --train 96 --test 17 --old 0 --seed 5 --quiet >/dev/null || fail "cadence-synth"
fi
common=(--config "$config" --set "load.root=$data" --set run.quiet=true --set run.threads=1 --set load.threads=1
        --set train.folds=2 --set finetune.init=scratch --set mixup.p=0 --set model.dropout=0 --set train.sync_batchnorm=true
        --set run.dist_timeout=60)

port() { echo $((20000 + RANDOM % 20000)); }

# ranks N PORT LOGPREFIX args...: starts N ranks in the background; their pids in $pids
ranks() {
  local n=$1 p=$2 log=$3
  shift 3
  pids=()
  for ((r = 0; r < n; r++)); do
    RANK=$r WORLD_SIZE=$n LOCAL_RANK=$r LOCAL_WORLD_SIZE=$n MASTER_ADDR=127.0.0.1 MASTER_PORT=$p \
      "$seti" "$@" >"$log.$r.out" 2>"$log.$r.err" &
    pids+=($!)
  done
}

wait_for_file() {  # path seconds
  for ((i = 0; i < $2 * 10; i++)); do [[ -f $1 ]] && return 0; sleep 0.1; done
  return 1
}

case $what in
equivalence)
  rm -rf "$work/one" "$work/two"
  timeout 600 "$seti" run "${common[@]}" --set "run.dir=$work/one" --set train.batch_size=16 --set train.epochs=2 \
    >"$work/one.out" 2>"$work/one.err" || { cat "$work/one.err"; fail "1 process"; }
  # with progress (rank 0's bars: on a pipe, one summary line each)
  ranks 2 "$(port)" "$work/two" run "${common[@]}" --set "run.dir=$work/two" --set train.batch_size=8 --set train.epochs=2 \
    --set run.quiet=false
  for p in "${pids[@]}"; do wait "$p" || { cat "$work"/two.*.err; fail "2 processes: a rank failed"; }; done
  [[ -s $work/two.1.out ]] && fail "rank 1 printed results (only rank 0 may): $(head -c 200 "$work/two.1.out")"
  grep -q "CV ROC AUC" "$work/two.0.out" || fail "rank 0 printed no result"
  grep -q "^data-parallel: 2 ranks x 1 thread each, gloo$" "$work/two.0.out" || fail "rank 0 did not say the run is data-parallel"
  grep -q "\] [0-9]*/[0-9]* " "$work/two.0.err" || fail "rank 0 showed no progress: $(head -c 300 "$work/two.0.err")"
  # a bar counts the samples of all ranks, never more than there are (17 test cadences: each rank predicts
  # 9, one of rank 1's a pad; the bars showed 18/17)
  grep -o "\] [0-9]*/[0-9]* " "$work/two.0.err" | tr -d '] ' | awk -F/ '$1 != $2 { print "bar ends at " $0; bad = 1 } END { exit bad }' \
    || fail "a progress bar of rank 0 does not end at its total"
  grep -q "\] [0-9]*/[0-9]* " "$work/two.1.err" && fail "rank 1 showed progress (only rank 0 may): $(head -c 200 "$work/two.1.err")"
  # same out-of-fold predictions (id,target,prediction,fold) and AUC, same submission
  paste -d, "$work/one/oof.csv" "$work/two/oof.csv" | awk -F, 'NR > 1 {
      if ($1 != $5 || $4 != $8) { print "row " NR ": " $1 " fold " $4 " vs " $5 " fold " $8; bad = 1 }
      d = $3 - $7; if (d < 0) d = -d; if (d > m) m = d }
    END { printf "oof: max |p1 - p2| = %.3g over %d rows\n", m, NR - 1; exit (bad || m > 2e-4) }' || fail "out-of-fold predictions differ"
  a1=$(grep -o '"oof_auc": [0-9.]*' "$work/one/cv.json" | awk '{printf "%.4f", $2}')
  a2=$(grep -o '"oof_auc": [0-9.]*' "$work/two/cv.json" | awk '{printf "%.4f", $2}')
  echo "out-of-fold AUC: 1 x 16 = $a1, 2 x 8 = $a2"
  [[ $a1 == "$a2" ]] || fail "out-of-fold AUC $a1 vs $a2"
  paste -d, "$work/one/submission.csv" "$work/two/submission.csv" | awk -F, 'NR > 1 {
      if ($1 != $3) bad = 1; d = $2 - $4; if (d < 0) d = -d; if (d > m) m = d }
    END { printf "submission: max |p1 - p2| = %.3g\n", m; exit (bad || m > 2e-4) }' || fail "submissions differ"
  grep -q '"world_size":2' "$work/two/fold_0/log.jsonl" || fail "the 2-rank log does not record its world size"
  ;;
dead_rank)
  rm -rf "$work/dead"
  ranks 2 "$(port)" "$work/dead" finetune "${common[@]}" --set "run.dir=$work/dead" --set train.batch_size=8 \
    --set train.epochs=500 --set train.checkpoint_every=1
  wait_for_file "$work/dead/fold_0/last.pt" 120 || { kill -9 "${pids[@]}"; cat "$work"/dead.*.err; fail "no checkpoint within 120 s"; }
  kill -9 "${pids[1]}"
  start=$SECONDS
  timeout 120 tail --pid="${pids[0]}" -f /dev/null
  wait "${pids[0]}"
  rc=$?
  echo "rank 0: exit $rc, $((SECONDS - start)) s after rank 1 was killed: $(cat "$work/dead.0.err")"
  [[ $rc -ne 0 && $rc -ne 124 ]] || { kill -9 "${pids[0]}" 2>/dev/null; fail "rank 0 exit $rc"; }
  grep -q "distributed: rank 0 of 2: .* failed" "$work/dead.0.err" || fail "rank 0's error does not say which collective failed"
  [[ $(grep -c . "$work/dead.0.err") -eq 1 ]] || fail "rank 0's error is not one line"
  ;;
resume)
  rm -rf "$work/resume"
  ranks 2 "$(port)" "$work/resume" finetune "${common[@]}" --set "run.dir=$work/resume" --set train.batch_size=4 \
    --set train.epochs=2 --set train.checkpoint_every=1
  wait_for_file "$work/resume/fold_0/last.pt" 120 || { kill -9 "${pids[@]}"; fail "no checkpoint within 120 s"; }
  kill -TERM "${pids[@]}"
  for p in "${pids[@]}"; do wait "$p"; rc=$?; [[ $rc -eq 143 || $rc -eq 0 ]] || { cat "$work"/resume.*.err; fail "rank exit $rc after SIGTERM"; }; done
  grep -q "continue with --resume" "$work/resume.0.err" || fail "the ranks did not stop at a checkpoint: $(cat "$work/resume.0.err")"
  echo "2 ranks: $(cat "$work/resume.0.err")"
  timeout 600 "$seti" finetune "${common[@]}" --set "run.dir=$work/resume" --set train.batch_size=4 --set train.epochs=2 --resume \
    >"$work/resume.one.out" 2>"$work/resume.one.err" || { cat "$work/resume.one.err"; fail "1 process could not resume the 2-rank run"; }
  grep -q "CV ROC AUC" "$work/resume.one.out" || fail "no result after the resume"
  [[ $(grep -c '"epoch"' "$work/resume/fold_0/log.jsonl") -eq 2 ]] || fail "fold 0's log does not hold its 2 epochs once each"
  ;;
slurm)  # cmake/slurm.sh maps SLURM's variables onto torchrun's (a fake scontrol names the nodes)
  mkdir -p "$work/bin"
  printf '#!/bin/sh\n[ "$1 $2 $3" = "show hostnames nodeA,nodeB" ] && printf "nodeA\\nnodeB\\n"\n' >"$work/bin/scontrol"
  chmod +x "$work/bin/scontrol"
  slurm=$(dirname "$0")/../cmake/slurm.sh
  out=$(env -u MASTER_ADDR -u MASTER_PORT PATH="$work/bin:$PATH" SLURM_PROCID=5 SLURM_NTASKS=8 SLURM_LOCALID=1 SLURM_NTASKS_PER_NODE=4 \
        SLURM_JOB_NODELIST=nodeA,nodeB bash "$slurm" env) || fail "slurm.sh failed"
  for want in RANK=5 WORLD_SIZE=8 LOCAL_RANK=1 LOCAL_WORLD_SIZE=4 MASTER_ADDR=nodeA MASTER_PORT=29500; do
    grep -qx "$want" <<<"$out" || fail "slurm.sh did not set $want"
  done
  out=$(env -u SLURM_PROCID bash "$slurm" env 2>&1) && fail "slurm.sh ran outside SLURM"
  grep -q "not inside a SLURM step" <<<"$out" || fail "slurm.sh outside SLURM: $out"
  ;;
*) fail "unknown test $what" ;;
esac
echo "distributed $what: ok"
