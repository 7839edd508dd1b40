#!/bin/bash
# Example Slurm batch job for dptrain: 1 node x 2 ranks x 1 thread, 5
# minutes, what the breast_cancer example needs (a model that small trains
# on one thread per rank whatever it is given; scale --nodes,
# --ntasks-per-node, --cpus-per-task, --mem-per-cpu and --time up for a
# real model), with checkpoints and a clean stop before the time limit.
#
#   sbatch scripts/slurm-job.sh examples/breast_cancer.cfg
#   CKPT=run/bc.h5 sbatch scripts/slurm-job.sh examples/breast_cancer.cfg --set train.epochs=80
#
# Arguments after the model file go to `dptrain train` as they are.
# Environment variables it reads (sbatch passes the submitting shell's on):
#   CKPT          checkpoint path (default ckpt/MODEL.h5)
#   MAX_REQUEUES  how many times the job requeues itself at most (default 20)
#   MPIRUN_OPTS   extra mpirun options, split at spaces (default none), e.g.
#                 "--mca btl ^openib" or, on a machine with fewer cores than
#                 ranks, "--oversubscribe"
#
# Checkpoints go to $CKPT: --checkpoint alone writes one after every epoch
# and every 10 minutes of training, so a node failure or an OOM kill loses
# at most that much. Every run of the job, the first and each requeued one,
# passes --resume auto: it continues from the newest checkpoint that loads,
# or starts afresh when there is none yet.
#
# --signal=B:USR1@60 makes Slurm send SIGUSR1 to this batch shell 60 s
# before the time limit. The trap (set before mpirun starts, so an early
# signal is not lost) forwards it to mpirun, which passes SIGUSR1 on to every
# rank (Open MPI forwards SIGUSR1 and SIGUSR2); each rank finishes its
# current step, rank 0 writes a checkpoint, and dptrain exits with status 3.
# The job then requeues itself with `scontrol requeue` and exits 3; the next
# run resumes. After MAX_REQUEUES requeues (Slurm counts them in
# SLURM_RESTART_COUNT) it says so and stops requeueing, so a job that can
# never finish in its time does not run for ever. Slurm's own SIGTERM at the
# time limit is followed by SIGKILL after KillWait (30 s by default): ask
# for the early USR1 instead of relying on it.
#
# The alternative without scheduler signals: dptrain's --time-limit
# HH:MM:SS (or train.time_limit in the model file) stops with a checkpoint
# and status 3 early enough to write it, and this script requeues on that
# status alike. Pass the job's --time minus a margin:
#   sbatch scripts/slurm-job.sh examples/breast_cancer.cfg --time-limit 00:04:00
#
# tests/mpi/slurm_job_requeue.sh runs this script with fake scontrol and
# sbatch commands: preempted twice, requeued, finished, and the weights
# compared bitwise with an uninterrupted run.
#SBATCH --job-name=dptrain
#SBATCH --nodes=1
#SBATCH --ntasks-per-node=2
#SBATCH --cpus-per-task=1
#SBATCH --mem-per-cpu=1G
#SBATCH --time=00:05:00
#SBATCH --signal=B:USR1@60
#SBATCH --requeue
#SBATCH --open-mode=append
set -u
model=${1:?usage: sbatch scripts/slurm-job.sh MODEL.cfg [dptrain train options]}
shift
ckpt=${CKPT:-ckpt/$(basename "$model" .cfg).h5}
max_requeues=${MAX_REQUEUES:-20}
mkdir -p "$(dirname "$ckpt")"
export OMP_NUM_THREADS=${SLURM_CPUS_PER_TASK:-1} OMP_PLACES=cores OMP_PROC_BIND=close

# The trap forwards SIGUSR1 to mpirun once its pid is known; a signal that
# comes earlier is remembered and forwarded right after mpirun starts.
# `woke` tells the wait loop below that the trap cut a wait short.
pid=""
stop=0
sent=0
woke=0
trap 'woke=1; stop=1; if [ -n "$pid" ] && [ "$sent" = 0 ]; then sent=1; kill -USR1 "$pid"; fi' USR1
# shellcheck disable=SC2086 # MPIRUN_OPTS is a list of options, split at spaces.
mpirun ${MPIRUN_OPTS:-} \
    --map-by "ppr:${SLURM_NTASKS_PER_NODE:-2}:node:PE=${SLURM_CPUS_PER_TASK:-1}" \
    dptrain train "$model" --checkpoint "$ckpt" --resume auto "$@" &
pid=$!
if [ "$stop" = 1 ] && [ "$sent" = 0 ]; then
    sent=1
    kill -USR1 "$pid"
fi
# A trap ends `wait` early with a status above 128: wait again until mpirun
# has really ended (bash keeps its status, so waiting once more after it
# ended returns the same status).
woke=1
while [ "$woke" = 1 ]; do
    woke=0
    wait "$pid"
    status=$?
done

if [ "$status" = 3 ]; then
    restarts=${SLURM_RESTART_COUNT:-0}
    if [ "$restarts" -ge "$max_requeues" ]; then
        echo "dptrain stopped with a checkpoint ($ckpt); not requeueing: the job was" \
             "already requeued $restarts times (MAX_REQUEUES=$max_requeues)" >&2
        exit "$status"
    fi
    echo "dptrain stopped with a checkpoint ($ckpt); requeueing job $SLURM_JOB_ID" \
         "(requeue $((restarts + 1)) of at most $max_requeues)"
    if ! scontrol requeue "$SLURM_JOB_ID"; then
        echo "scontrol requeue $SLURM_JOB_ID failed: resubmit this job by hand;" \
             "it resumes from $ckpt" >&2
        exit 1
    fi
fi
exit "$status"
