#!/bin/sh
# The checkpoint defaults (README, "Checkpoints"): --checkpoint PATH with no
# train.checkpoint group in the model file writes a checkpoint after every
# epoch and whenever train.checkpoint.every_seconds (600 by default) of
# training have passed since the last one, within an epoch too; a group
# without a path needs --checkpoint.
. "${top_srcdir:?run me through make check}/tests/lib.sh"

dpt_test data train.h5 --rows 1009 --features 8 --seed 3 --noise 0.3
cat > m.cfg <<'CFG'
data = { train = "train.h5"; standardize = true; };
model = {
  layers = ( { type = "dense"; units = 16; activation = "relu"; },
             { type = "dense"; units = 1; activation = "sigmoid"; } );
  loss = "bce";
  optimizer = { type = "adam"; learning_rate = 0.01; };
};
train = { batch = 50; epochs = 3; seed = 5; };
CFG
# Steps per epoch: 1009 rows in batches of 50.
steps=$(( (1009 + 49) / 50 ))

# 1. Stopped in its second epoch (as a killed job would be, but with a
#    checkpoint of its own at the stop): the checkpoint of the end of epoch 1
#    is there, and says so.
expect_exit 3 "stopped on request after step $((steps / 2)) of epoch 2" \
    dptrain train m.cfg --checkpoint ck.h5 --out o.h5 --stop-after-steps $((steps + steps / 2))
e1=$(printf 'ck-%012d.h5' $steps)
check "the checkpoint of epoch 1 ($e1) is there" test -f "$e1"
dptrain inspect "$e1" > inspect.txt 2>&1 || true
check "$e1 is the start of epoch 2" grep "epoch 2, step 0 of the epoch, $steps steps in all; checksum ok" inspect.txt

# 2. A whole run with the defaults: one checkpoint per epoch (at the end of
#    each epoch's last step), no more, as --verbose lists them.
must dptrain train m.cfg --checkpoint d.h5 --out o.h5 --verbose
grep '^checkpoint d.h5' log > lines || true
want=$(printf 'checkpoint d.h5 (step %d)\n' $steps $((2 * steps)) $((3 * steps)))
check "every epoch, no more: $(tr '\n' ' ' < lines)" test "$(cat lines)" = "$want"

# 3. every_seconds: with a tiny period every step is due, so checkpoints
#    come inside the first epoch (steps 1, 2, ...), on rank 0's clock.
must dptrain train m.cfg --checkpoint s.h5 --set train.checkpoint.every_seconds=1e-9 \
    --set train.checkpoint.keep=1000 --out o.h5 --verbose
check "every_seconds: a checkpoint after step 1" grep -x 'checkpoint s.h5 (step 1)' log
check "every_seconds: one after step $((steps - 1)) (inside epoch 1)" \
    grep -x "checkpoint s.h5 (step $((steps - 1)))" log
n=$(ls s-0*.h5 | wc -l)
check "every_seconds: $n numbered files, one per step ($((3 * steps)))" test "$n" = $((3 * steps))
# On 2 ranks (--deterministic: the flag rides in the exact sums) rank 0's
# clock decides for both: a checkpoint after every step and at each
# epoch's end (the epoch's state differs from its last step's).
must mpirun_np 2 "$DPTRAIN" train m.cfg --deterministic --checkpoint s2.h5 \
    --set train.checkpoint.every_seconds=1e-9 --out o.h5 --verbose
check "every_seconds on 2 ranks: $((3 * steps + 3)) checkpoints" \
    test "$(grep -c '^checkpoint s2.h5' log)" = $((3 * steps + 3))
# every_seconds = 0 turns it off: the epochs' checkpoints only.
must dptrain train m.cfg --checkpoint z.h5 --set train.checkpoint.every_seconds=0 --out o.h5 --verbose
check "every_seconds = 0: 3 checkpoints" test "$(grep -c '^checkpoint z.h5' log)" = 3

# 4. A group without a path sets how often --checkpoint writes; without
#    --checkpoint it is an error that says what to do.
must dptrain train m.cfg --set train.checkpoint.every_epochs=3 --checkpoint g.h5 --out o.h5 --verbose
check "a group without path + --checkpoint: every 3 epochs" \
    test "$(grep -c '^checkpoint g.h5' log)" = 1
expect_error "train.checkpoint has no path: set path = \"FILE.h5\"; there, or give --checkpoint PATH" \
    dptrain train m.cfg --set train.checkpoint.every_epochs=3 --out o.h5

summary
