#!/usr/bin/env bash
# Runs one rank of a data-parallel cadence job under SLURM, without torchrun: maps SLURM's variables
# onto the ones torchrun sets (RANK, WORLD_SIZE, LOCAL_RANK, LOCAL_WORLD_SIZE, MASTER_ADDR,
# MASTER_PORT) and execs the command. One task per GPU (or per CPU rank):
#
#   srun --nodes=2 --ntasks-per-node=8 --gpus-per-task=1 bash cmake/slurm.sh \
#        build/samples/seti run --config samples/seti/configs/effnetv2_s.json --set run.device=cuda
#
# MASTER_ADDR defaults to the first host of the allocation, MASTER_PORT to 29500 (set either to override).
set -euo pipefail
: "${SLURM_PROCID:?not inside a SLURM step (run it with srun)}"
export RANK=$SLURM_PROCID
export WORLD_SIZE=${SLURM_NTASKS:?}
export LOCAL_RANK=${SLURM_LOCALID:?}
export LOCAL_WORLD_SIZE=${SLURM_NTASKS_PER_NODE:-${SLURM_TASKS_PER_NODE%%(*}}
if [[ -z ${MASTER_ADDR:-} ]]; then
  MASTER_ADDR=$(scontrol show hostnames "${SLURM_JOB_NODELIST:?}" | head -n 1)
fi
export MASTER_ADDR
export MASTER_PORT=${MASTER_PORT:-29500}
exec "$@"
