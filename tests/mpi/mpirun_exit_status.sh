#!/bin/sh
# What the batch system sees (docs/HPC.md, "Preemption, requeue and time
# limits"): a signal sent to mpirun during training, and mpirun's own exit
# status beside dptrain's (the --summary file's exit_status). Open MPI's
# mpirun forwards SIGUSR1 to the ranks and returns their status 3; on
# SIGTERM or SIGINT it sends SIGTERM to the ranks, which stop with a
# checkpoint and status 3 when they can within its grace period (a small
# model here), but mpirun itself returns 1. A job script that requeues on
# status 3 must therefore ask for SIGUSR1 (scripts/slurm-job.sh), or read
# the summary.
. "${top_srcdir:?run me through make check}/tests/lib.sh"

small_model m.cfg 'log = "run.csv";'

# A job left running by a failed step is ended with the test.
job=
trap 'dpt__st=$?; [ -z "$job" ] || kill -s TERM $job 2>/dev/null; dpt__cleanup $dpt__st' EXIT

# stop SIG: trains on 2 ranks until train.log has a row, sends SIG to
# mpirun, and leaves mpirun's status in rc.SIG, its output in out.SIG and
# the summary in s.SIG.json. ("$MPIRUN" itself, not mpirun_np: $! must be
# mpirun's pid, not a subshell's.) mpirun kills ranks still running about
# a second after it forwards SIGTERM, and stops reading their output at
# once: a rank that blocked on its next epoch line would be killed before
# its checkpoint and summary (it did, before dptrain made its output
# non-blocking on a stop; src/cli/main.c).
stop() {
    rm -f run.csv
    "$MPIRUN" --oversubscribe --allow-run-as-root -np 2 "$DPTRAIN" train m.cfg --threads 1 \
        --set train.epochs=100000000 --checkpoint "ck$1/c.h5" --out "m$1.h5" \
        --summary "s.$1.json" --overwrite > "out.$1" 2>&1 &
    job=$!
    i=0
    while [ ! -s run.csv ] && [ $i -lt 600 ]; do sleep 0.1; i=$((i + 1)); done
    sleep 0.5
    kill -s "$1" $job
    if wait $job; then echo 0; else echo $?; fi > "rc.$1"
    job=
}

# expect SIG MPIRUN_STATUS SIGNAL_THE_RANKS_GOT
expect() {
    check "SIG$1 to mpirun: mpirun returns $2; dptrain stopped on $3 with status 3 and a checkpoint" \
        "$PYTHON" - "$@" <<'PY'
import json, os, sys
sig, want, got_sig = sys.argv[1], sys.argv[2], sys.argv[3]
rc = open("rc." + sig).read().strip()
s = json.load(open("s.%s.json" % sig))
print("mpirun:", rc, "summary:", s["status"], s["stopped_by"], s["exit_status"], s.get("signal"))
assert rc == want, (rc, want)
assert s["status"] == "stopped" and s["stopped_by"] == "signal" and s["exit_status"] == 3, s
assert s["signal"] == got_sig, s
assert os.path.exists(s["files"]["checkpoint"]), s["files"]
PY
}

# 1. SIGUSR1: forwarded, and the ranks' 3 is mpirun's.
stop USR1
expect USR1 3 SIGUSR1

# 2. SIGTERM: the ranks stop as on SIGUSR1, but mpirun returns 1.
stop TERM
expect TERM 1 SIGTERM

# 3. SIGINT (Ctrl-C on an interactive mpirun): mpirun sends the ranks
#    SIGTERM, and returns 1.
stop INT
expect INT 1 SIGTERM
summary
