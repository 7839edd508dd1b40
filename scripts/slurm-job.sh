#!/bin/bash
# Example Slurm batch job for dptrain: 2 nodes x 4 ranks, 8 threads per rank,
# with checkpoints, and a clean stop before the time limit.
#
#   sbatch scripts/slurm-job.sh examples/breast_cancer.cfg
#
# --signal=B:USR1@120 makes Slurm send SIGUSR1 to this batch shell 120 s
# before the time limit. The trap forwards it to mpirun, which passes SIGUSR1
# on to every rank (Open MPI forwards SIGUSR1 and SIGUSR2); each rank finishes
# its current step, rank 0 writes a checkpoint, and dptrain exits with status
# 3. The job then requeues itself and the next run resumes. Sending SIGTERM
# to mpirun works as well (mpirun forwards it to the ranks), but Slurm's own
# SIGTERM at the time limit is followed by SIGKILL after KillWait (30 s by
# default): ask for the early USR1 instead of relying on it.
#SBATCH --job-name=dptrain
#SBATCH --nodes=2
#SBATCH --ntasks-per-node=4
#SBATCH --cpus-per-task=8
#SBATCH --time=04:00:00
#SBATCH --signal=B:USR1@120
#SBATCH --requeue
#SBATCH --open-mode=append
set -u
model=${1:?usage: sbatch scripts/slurm-job.sh MODEL.cfg}
ckpt=${CKPT:-ckpt/$(basename "$model" .cfg).h5}
mkdir -p "$(dirname "$ckpt")"
export OMP_NUM_THREADS=$SLURM_CPUS_PER_TASK OMP_PLACES=cores OMP_PROC_BIND=close

resume=""
[ -e "$ckpt" ] && resume="--resume $ckpt"
mpirun --map-by "ppr:${SLURM_NTASKS_PER_NODE}:node:PE=${SLURM_CPUS_PER_TASK}" \
    dptrain train "$model" --checkpoint "$ckpt" $resume &
pid=$!
trap 'kill -USR1 $pid' USR1
wait $pid            # returns early when the trap runs: wait again for the exit status
status=$?
while kill -0 $pid 2>/dev/null; do wait $pid; status=$?; done
if [ "$status" = 3 ]; then
    echo "dptrain stopped with a checkpoint ($ckpt); requeueing"
    scontrol requeue "$SLURM_JOB_ID"
fi
exit "$status"
