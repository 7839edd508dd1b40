#!/bin/sh
# A stop signal in the first moments of a job is a clean stop, never a
# rank "exited on signal": dptrain catches SIGINT, SIGTERM, SIGUSR1 and
# SIGUSR2 first thing in main, before MPI_Init (which takes ~0.5 s). A
# signal 0.1, 0.3 or 0.6 s after the ranks started ends the run with the
# documented status: 138 (SIGUSR1) or 143 (SIGTERM) and a one-line message
# when no step was taken yet, 3 with a checkpoint when one was.
#
# mpirun forwards SIGUSR1 to the ranks and passes their status on; on
# SIGTERM mpirun ends with status 1 itself, so SIGTERM goes straight to the
# ranks here and each rank records its own status. Times count from the
# moment both ranks catch the signals (/proc/PID/status, SigCgt): that
# keeps the test off the ~0.1 s in which the loader maps dptrain's 50
# libraries, before any of its code runs, where a signal still ends a rank
# (README, "Signals").
. "${top_srcdir:?run me through make check}/tests/lib.sh"

dpt_test data d.h5 --rows 4000 --features 8 --seed 1
cat > m.cfg <<'CFG'
data = { train = "d.h5"; };
model = { layers = ( { type = "dense"; units = 8; activation = "relu"; },
                     { type = "dense"; units = 1; activation = "sigmoid"; } );
          loss = "bce"; optimizer = "sgd"; };
train = { batch = 32; epochs = 100000; };
CFG

cleanup_ranks() {
    for f in pid.*; do
        [ -f "$f" ] && kill -9 "$(cat "$f")" 2>/dev/null || true
    done
}
trap 'dpt__st=$?; cleanup_ranks; dpt__cleanup $dpt__st' EXIT

# Whether process $1 catches SIGUSR1 and SIGTERM (bits 10 and 15).
catches() {
    hex=$(awk '/^SigCgt:/ {print $2}' "/proc/$1/status" 2>/dev/null)
    [ -n "$hex" ] && [ $((0x$hex & 0x4200)) = $((0x4200)) ]
}

# Waits until both ranks wrote their pid files and catch the signals.
wait_ranks() {
    n=0
    until [ -f pid.0 ] && [ -f pid.1 ] && catches "$(cat pid.0)" && catches "$(cat pid.1)"; do
        [ $n -lt 1000 ] || break
        sleep 0.01
        n=$((n + 1))
    done
}

# Each rank's status agrees with its message: 3 and "stopped on request",
# or the signal's status and "nothing to save".
status_ok() {
    case "$1" in
    3) grep -q "stopped on request" "$3" ;;
    "$2") grep -q "no step taken, nothing to save (exit $2)" "$3" ;;
    *) false ;;
    esac
}

for t in 0.1 0.3 0.6; do
    # SIGUSR1 to mpirun, which forwards it.
    rm -f pid.* m-ckpt.h5
    "$MPIRUN" --oversubscribe --allow-run-as-root -np 2 sh -c \
        'echo $$ > pid.$OMPI_COMM_WORLD_RANK; exec "$0" train m.cfg --out m.h5 --quiet' \
        "$DPTRAIN" > out 2>&1 &
    job=$!
    wait_ranks
    sleep $t
    kill -s USR1 $job
    if wait $job; then st=0; else st=$?; fi
    cat out
    check "SIGUSR1 at $t s: status $st is 3 or 138, as the message says" status_ok "$st" 138 out
    check "SIGUSR1 at $t s: no rank exited on a signal" ! grep -q "exited on signal" out

    # SIGTERM to the ranks themselves.
    rm -f pid.* rc.* m-ckpt.h5
    "$MPIRUN" --oversubscribe --allow-run-as-root -np 2 sh -c \
        '"$0" train m.cfg --out m.h5 --quiet & echo $! > pid.$OMPI_COMM_WORLD_RANK; wait $!; echo $? > rc.$OMPI_COMM_WORLD_RANK' \
        "$DPTRAIN" > out 2>&1 &
    job=$!
    wait_ranks
    sleep $t
    kill -s TERM "$(cat pid.0)" "$(cat pid.1)"
    wait $job || true
    cat out
    for r in 0 1; do
        st=$(cat rc.$r 2>/dev/null || echo missing)
        check "SIGTERM at $t s: rank $r status $st is 3 or 143, as the message says" \
            status_ok "$st" 143 out
    done
done
summary
