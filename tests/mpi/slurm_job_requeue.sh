#!/bin/sh
# scripts/slurm-job.sh without Slurm: fake `sbatch` and `scontrol` commands
# on PATH stand in for the scheduler. The job is preempted twice (SIGUSR1 to
# the batch shell while training runs, as --signal=B:USR1 does), each time
# exits 3 after asking for a requeue, runs again as the requeued job would
# (SLURM_RESTART_COUNT one higher) and at last finishes; its final weights
# must equal bitwise those of an uninterrupted run (--deterministic, so 2
# ranks and 1 rank agree). A job already requeued MAX_REQUEUES times stops
# requeueing and says so.
. "${top_srcdir:?run me through make check}/tests/lib.sh"

dpt_test data d.h5 --rows 4000 --features 8 --seed 1
cat > m.cfg <<'CFG'
data = { train = "d.h5"; standardize = true; };
model = { layers = ( { type = "dense"; units = 32; activation = "relu"; },
                     { type = "dense"; units = 1; activation = "sigmoid"; } );
          loss = "bce"; optimizer = { type = "adam"; learning_rate = 0.001; }; };
train = { batch = 16; epochs = 300; seed = 3; };
CFG

# The fake scheduler, tests/fake-slurm/: sbatch runs the job at once in
# this folder, as `sbatch --wait` would, with the SLURM_* variables of a
# batch job (SLURM_RESTART_COUNT from the requeues recorded so far) and the
# batch shell's pid in batch.pid; scontrol records `requeue JOBID` in
# requeues.
mkdir bin
# dptrain and mpirun as the job finds them on PATH.
printf '#!/bin/sh\nexec "%s" "$@"\n' "$DPTRAIN" > bin/dptrain
printf '#!/bin/sh\nexec "%s" "$@"\n' "$MPIRUN" > bin/mpirun
chmod +x bin/*
PATH="$tmp/bin:$top_srcdir/tests/fake-slurm:$PATH"
MPIRUN_OPTS="--oversubscribe --allow-run-as-root"
export PATH MPIRUN_OPTS

# A job left running by a failed check is ended with the test: mpirun (which
# ends its ranks) first, then the batch shell.
end_job() {
    if [ -s batch.pid ] && kill -0 "$(cat batch.pid)" 2>/dev/null; then
        pkill -TERM -P "$(cat batch.pid)" || true
        kill -TERM "$(cat batch.pid)" || true
    fi
}
trap 'dpt__st=$?; end_job; dpt__cleanup $dpt__st' EXIT

newest() {
    ls ckpt/m-*.h5 2>/dev/null | tail -n 1
}
requeues() {
    cat requeues 2>/dev/null | wc -l
}

# Runs the job once more; with "preempt", sends SIGUSR1 to the batch shell
# once training runs (a checkpoint newer than the run found), as Slurm does
# before the time limit. Sets $st to sbatch's status; the output is in out.
job="$top_srcdir/scripts/slurm-job.sh"
run_job() {
    before=$(newest)
    rm -f batch.pid
    sbatch "$job" m.cfg --deterministic --quiet --out final.h5 > out 2>&1 &
    sb=$!
    if [ "${1:-}" = preempt ]; then
        n=0
        until [ -s batch.pid ] && [ "$(newest)" != "$before" ]; do
            [ $n -lt 600 ] || break
            sleep 0.05
            n=$((n + 1))
        done
        kill -USR1 "$(cat batch.pid)"
    fi
    if wait $sb; then st=0; else st=$?; fi
    cat out
}

# 1-2. Preempted twice: status 3, one requeue more each time, and the
#      second run resumed where the first stopped.
for i in 1 2; do
    run_job preempt
    check "preemption $i: the job exits 3 (got $st)" test "$st" = 3
    check "preemption $i: it asked for requeue $i of job 4242" test "$(requeues)" = "$i"
    check "preemption $i: it said so" grep -q "requeueing job 4242 (requeue $i of at most 20)" out
    check "preemption $i: dptrain stopped on the forwarded signal" \
        grep -q "stopped on request (SIGUSR1)" out
    check "preemption $i: no rank ended on a signal" ! grep -q "exited on signal" out
done
check "the requeued run had SLURM_RESTART_COUNT=1" grep -q "restart count 1" out
check "the requeued run resumed from the checkpoint of the stop" \
    grep -q "resuming from ckpt/m-" out

# 3. The last run finishes: status 0, no requeue, and the weights equal
#    those of an uninterrupted run bitwise.
run_job
check "the requeued job finishes (status $st)" test "$st" = 0
check "it asked for no more requeues" test "$(requeues)" = 2
must dptrain train m.cfg --deterministic --out whole.h5
check "its final weights equal an uninterrupted run's bitwise" dpt_test compare whole.h5 final.h5

# 4. The requeue limit: this job was requeued twice; with MAX_REQUEUES=2 a
#    stop with a checkpoint does not requeue it again and says why, with 3
#    it does.
CKPT=lim/m.h5 MAX_REQUEUES=2 sbatch "$job" m.cfg --stop-after-steps 10 --out lim.h5 > out 2>&1 \
    && st=0 || st=$?
cat out
check "at the limit: exit 3 (got $st)" test "$st" = 3
check "at the limit: no requeue asked" test "$(requeues)" = 2
check "at the limit: it says so" grep -q "not requeueing: the job was already requeued 2 times (MAX_REQUEUES=2)" out
CKPT=lim/m.h5 MAX_REQUEUES=3 sbatch "$job" m.cfg --stop-after-steps 20 --out lim.h5 > out 2>&1 \
    && st=0 || st=$?
cat out
check "below the limit: exit 3 (got $st) and a requeue" test "$st:$(requeues)" = 3:3
summary
