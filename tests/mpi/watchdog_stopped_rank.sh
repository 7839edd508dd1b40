#!/bin/sh
# Never hang: a rank that stops answering (SIGSTOP) does not leave the
# others waiting in the step's allreduce for ever. With --timeout 5 the
# watchdog of every live rank prints where it waits (phase, epoch, step)
# (the step's gradient sum, or the agreement on a window of rows) and
# the job ends with a non-zero exit status within 15 s; the stopped
# rank prints nothing, which is how the output names it. --timeout 0
# turns the watchdog off, also over a train.timeout of the model file.
. "${top_srcdir:?run me through make check}/tests/lib.sh"

dpt_test data d.h5 --rows 2000 --features 8 --seed 1
cat > m.cfg <<'CFG'
data = { train = "d.h5"; };
model = { layers = ( { type = "dense"; units = 8; activation = "relu"; },
                     { type = "dense"; units = 1; activation = "sigmoid"; } );
          loss = "bce"; optimizer = "sgd"; };
train = { batch = 32; epochs = 1000000; };
CFG

# The test's cleanup: the stopped rank is ended whatever happens. mpirun's
# SIGTERM stays pending while it is stopped, and mpirun does not wait for
# it, so the test ends it (SIGKILL works on a stopped process).
cleanup_ranks() {
    for f in pid.*; do
        [ -f "$f" ] || continue
        kill -KILL "$(cat "$f")" 2>/dev/null || true
        kill -CONT "$(cat "$f")" 2>/dev/null || true
    done
}
trap 'dpt__st=$?; cleanup_ranks; dpt__cleanup $dpt__st' EXIT

# start_job NP OUT TRAIN-ARGS: `dptrain train TRAIN-ARGS` on NP ranks in the
# background ($job: mpirun's pid), its output into OUT. Each rank writes
# its pid to pid.RANK, then becomes dptrain (exec keeps the pid); returns
# once training is under way.
start_job() {
    np=$1 log=$2
    shift 2
    "$MPIRUN" --oversubscribe --allow-run-as-root -np "$np" sh -c \
        'echo $$ > pid.$OMPI_COMM_WORLD_RANK; exec "$0" train "$@"' "$DPTRAIN" "$@" > "$log" 2>&1 &
    job=$!
    n=0
    while [ "$(ls pid.* 2>/dev/null | wc -l)" -lt "$np" ] && [ $n -lt 100 ]; do
        sleep 0.1
        n=$((n + 1))
    done
    sleep 2
}

start_job 3 out m.cfg --out m.h5 --quiet --timeout 5
start=$(date +%s)
kill -STOP "$(cat pid.1)"
if wait $job; then st=0; else st=$?; fi
took=$(( $(date +%s) - start ))
cat out

# 1. The job ends, with a non-zero exit status, within 15 s of the stop.
check "the job ended with a non-zero status ($st)" [ "$st" != 0 ]
check "within 15 s of the stop (took $took s)" [ "$took" -le 15 ]

# 2. Ranks 0 and 2 each print one line naming the phase, the epoch and the
#    step; rank 1, stopped, prints none.
for r in 0 2; do
    check "rank $r says where it waits" grep -q "dptrain: error: rank $r: no answer from the other ranks for [0-9]* s in [a-z ]* (epoch [0-9]*, step [0-9]*)" out
done
check "rank 1 (stopped) prints no such line" ! grep -q "rank 1: no answer" out

# 3. The live ranks are gone with the job (a zombie waiting for its
#    reaper counts as gone; the teardown may take a moment); the stopped
#    one goes with the cleanup.
gone() {
    n=0
    while [ -d "/proc/$1" ] && ! grep -q '^State:.*Z' "/proc/$1/status" 2>/dev/null; do
        [ $n -lt 30 ] || return 1
        sleep 0.1
        n=$((n + 1))
    done
}
for r in 0 2; do
    check "rank $r is gone" gone "$(cat pid.$r)"
done
cleanup_ranks
check "the stopped rank is gone after SIGKILL" gone "$(cat pid.1)"

# 4. --timeout 0: the watchdog is off. The model file asks for 2 s; rank 1
#    is stopped for 6 s and continued, the job keeps training, and SIGUSR1
#    then stops it as asked (exit 3, a checkpoint), with no watchdog line.
rm -f pid.*
sed 's/epochs = 1000000;/epochs = 1000000; timeout = 2;/' m.cfg > t.cfg
start_job 2 out0 t.cfg --out t.h5 --quiet --timeout 0
kill -STOP "$(cat pid.1)"
sleep 6
kill -CONT "$(cat pid.1)"
sleep 1
alive=no
kill -0 $job 2>/dev/null && alive=yes
kill -USR1 $job
if wait $job; then st=0; else st=$?; fi
cat out0
check "the job still ran 6 s after the stop of a rank (train.timeout = 2)" [ $alive = yes ]
check "and stopped on SIGUSR1 with exit status 3 ($st)" [ "$st" = 3 ]
check "no watchdog line" ! grep -q "no answer from the other ranks" out0
summary
