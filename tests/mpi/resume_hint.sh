#!/bin/sh
# The resume hint printed after a stop (README, "Checkpoints") is the whole
# command: mpirun -np P when P > 1, the model file, the --set overrides,
# --out, --summary, --checkpoint and --resume auto (or, without a checkpoint series,
# the file the stop wrote); running it as printed finishes the run with
# the weights of an uninterrupted one.
. "${top_srcdir:?run me through make check}/tests/lib.sh"

small_model m.cfg
must mpirun_np 2 "$DPTRAIN" train m.cfg --set train.epochs=5 --out straight.h5 --quiet

# 1. Two ranks, a series: the hint names them all.
mkdir ck
want="resume with: mpirun -np 2 dptrain train m.cfg --set train.epochs=5 --out 'my run.h5' --checkpoint ck/c.h5 --resume auto"
expect_exit 3 "^$want\$" mpirun_np 2 "$DPTRAIN" train m.cfg --set train.epochs=5 \
    --out "my run.h5" --checkpoint ck/c.h5 --quiet --stop-after-steps 13
# Run the hint as printed, with the dptrain and mpirun under test.
hint=$(sed -n 's/^resume with: //p' "$tmp/.err")
printf '%s\n' "$hint" | sed "s|^mpirun -np 2 dptrain|\"\$MPIRUN\" --oversubscribe --allow-run-as-root -np 2 \"\$DPTRAIN\"|; s|\$| --quiet|" > again.sh
check "the hint runs: $(cat again.sh)" sh again.sh
check "stopped + resumed with the hint == uninterrupted" dpt_test compare straight.h5 "my run.h5"

# 2. One rank, no checkpoint series: no mpirun, --resume the file the stop
#    wrote (OUT-ckpt.h5).
expect_exit 3 "^resume with: dptrain train m.cfg --set train.epochs=5 --out o.h5 --resume o-ckpt.h5\$" \
    dptrain train m.cfg --set train.epochs=5 --out o.h5 --quiet --stop-after-steps 13

# 3. Options that shape the run or what it writes are in it:
#    --deterministic, --threads, --summary.
expect_exit 3 "^resume with: dptrain train m.cfg --out d.h5 --deterministic --threads 1 --summary d.json --checkpoint d-ck.h5 --resume auto\$" \
    dptrain train m.cfg --out d.h5 --deterministic --threads 1 --summary d.json --checkpoint d-ck.h5 --quiet --stop-after-steps 3

summary
