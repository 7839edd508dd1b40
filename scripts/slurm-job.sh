#!/bin/bash
# Example Slurm batch job for dptrain: 1 node x 2 ranks x 2 threads (what
# the breast_cancer example needs; scale --nodes, --ntasks-per-node and
# --cpus-per-task up for a real model), with checkpoints and a clean stop
# before the time limit.
#
#   sbatch scripts/slurm-job.sh examples/breast_cancer.cfg
#   CKPT=run/bc.h5 sbatch scripts/slurm-job.sh examples/breast_cancer.cfg
#
# Checkpoints go to $CKPT (default ckpt/MODEL.h5): --checkpoint alone writes
# one after every epoch and every 10 minutes of training, so a node failure
# or an OOM kill loses at most that much. Every run of the job, the first
# and each requeued one, passes --resume auto: it continues from the newest
# checkpoint that loads, or starts afresh when there is none yet.
#
# --signal=B:USR1@120 makes Slurm send SIGUSR1 to this batch shell 120 s
# before the time limit. The trap (set before mpirun starts, so an early
# signal is not lost) forwards it to mpirun, which passes SIGUSR1 on to every
# rank (Open MPI forwards SIGUSR1 and SIGUSR2); each rank finishes its
# current step, rank 0 writes a checkpoint, and dptrain exits with status 3.
# The job then requeues itself (at most MAX_REQUEUES times, default 20) and
# the next run resumes. Slurm's own SIGTERM at the time limit is followed by
# SIGKILL after KillWait (30 s by default): ask for the early USR1 instead of
# relying on it. Without scheduler signals, dptrain's --time-limit
# HH:MM:SS (train.time_limit) stops with a checkpoint and status 3 early
# enough to write it: pass the job's --time minus a margin.
#SBATCH --job-name=dptrain
#SBATCH --nodes=1
#SBATCH --ntasks-per-node=2
#SBATCH --cpus-per-task=2
#SBATCH --time=00:30:00
#SBATCH --signal=B:USR1@120
#SBATCH --requeue
#SBATCH --open-mode=append
set -u
model=${1:?usage: sbatch scripts/slurm-job.sh MODEL.cfg}
ckpt=${CKPT:-ckpt/$(basename "$model" .cfg).h5}
max_requeues=${MAX_REQUEUES:-20}
mkdir -p "$(dirname "$ckpt")"
export OMP_NUM_THREADS=${SLURM_CPUS_PER_TASK:-1} OMP_PLACES=cores OMP_PROC_BIND=close

pid=""
stop=0
trap 'stop=1; [ -z "$pid" ] || kill -USR1 "$pid"' USR1
mpirun --map-by "ppr:${SLURM_NTASKS_PER_NODE:-2}:node:PE=${SLURM_CPUS_PER_TASK:-1}" \
    dptrain train "$model" --checkpoint "$ckpt" --resume auto &
pid=$!
[ "$stop" = 0 ] || kill -USR1 "$pid"   # the signal came before $pid was known
wait "$pid"          # returns early when the trap runs: wait again for the exit status
status=$?
while kill -0 "$pid" 2>/dev/null; do wait "$pid"; status=$?; done
if [ "$status" = 3 ]; then
    if [ "${SLURM_RESTART_COUNT:-0}" -ge "$max_requeues" ]; then
        echo "dptrain stopped with a checkpoint ($ckpt); not requeueing: already requeued" \
             "${SLURM_RESTART_COUNT:-0} times (MAX_REQUEUES=$max_requeues)"
        exit "$status"
    fi
    echo "dptrain stopped with a checkpoint ($ckpt); requeueing"
    scontrol requeue "$SLURM_JOB_ID"
fi
exit "$status"
