#!/bin/sh
# A resume keeps the order of the rows its checkpoint ran in (data.shuffle_by,
# docs/DESIGN.md "Checkpoint layout"): checkpoints record it in /train
# (order, order_block, order_pool), and a resumed run continues in it
# whatever "auto" would pick now, so that it ends with the bits of an
# uninterrupted run (--deterministic). A checkpoint without the record was
# written by a build that always used rows order: it continues in rows
# order, with a note, on a file for which "auto" now picks blocks. A setting
# that names the other order is refused, naming both.
# Needs $PYTHON with h5py (configure checks it; dpt_test attr/unattr).
. "${top_srcdir:?run me through make check}/tests/lib.sh"

# 2100 rows of 8192 floats: 69 MB, above the 64 MB under which "auto" keeps
# rows order. Batches of 100: 21 steps an epoch; the runs stop after 25.
dpt_test data train.h5 --rows 2100 --features 8192 --seed 3 --kind classes --classes 3 \
    --informative 16
cat > m.cfg <<'CFG'
data = { train = "train.h5"; };
model = {
  layers = ( { type = "dense"; units = 8; activation = "tanh"; },
             { type = "dense"; units = 3; activation = "softmax"; } );
  loss = "cce";
  optimizer = { type = "sgd"; learning_rate = 0.05; };
};
train = { batch = 100; epochs = 2; seed = 4; micro_batch = 25; deterministic = true;
          checkpoint = { path = "ck.h5"; every_steps = 1000; }; };
CFG
rows="--set data.shuffle_by=rows"

# 1. Uninterrupted runs: auto (block order for this file) and rows order
#    train other weights.
must mpirun_np 2 "$DPTRAIN" train m.cfg --out blocks.h5 --quiet --checkpoint s1.h5
must mpirun_np 2 "$DPTRAIN" train m.cfg $rows --out rows.h5 --quiet --checkpoint s2.h5
check "rows order trains other weights than block order" ! dpt_test compare blocks.h5 rows.h5

# 2. The checkpoint records the order auto resolved to, and a resume in it
#    ends with the uninterrupted run's bits.
expect_exit 3 "stopped on request" \
    mpirun_np 2 "$DPTRAIN" train m.cfg --out part.h5 --quiet --checkpoint b.h5 --stop-after-steps 25
check "the checkpoint records block order" \
    sh -c "\"$PYTHON\" \"$top_srcdir/tests/dpt_test.py\" attr b.h5 train order | grep -x blocks"
must mpirun_np 2 "$DPTRAIN" train m.cfg --resume b.h5 --checkpoint b.h5 --out bres.h5
check "block order: no note about the order" ! grep "order of the rows" log
check "block order: stopped + resumed == uninterrupted (bitwise)" dpt_test compare blocks.h5 bres.h5

# 3. An "old" checkpoint: rows order, its record removed. Resumed with the
#    model file as it is (auto, which picks blocks for this file now), it
#    goes on in rows order, says so, and ends with the rows-order run's bits.
expect_exit 3 "stopped on request" \
    mpirun_np 2 "$DPTRAIN" train m.cfg $rows --out part.h5 --quiet --checkpoint old.h5 \
    --stop-after-steps 25
check "the checkpoint records rows order" \
    sh -c "\"$PYTHON\" \"$top_srcdir/tests/dpt_test.py\" attr old.h5 train order | grep -x rows"
dpt_test unattr old.h5 train order order_block order_pool
check "the record is gone" ! dpt_test attr old.h5 train order
must mpirun_np 2 "$DPTRAIN" train m.cfg --resume old.h5 --checkpoint old.h5 --out ores.h5
check "old checkpoint: the note says rows order is kept" \
    grep "resuming in the checkpoint's order of the rows, \"rows\", not \"blocks\" (blocks of" log
check "old checkpoint: resumed == uninterrupted rows order (bitwise)" \
    dpt_test compare rows.h5 ores.h5
check "old checkpoint: not the block-order weights" ! dpt_test compare blocks.h5 ores.h5

check "old checkpoint: the resumed run's checkpoint records rows order in turn" \
    sh -c "\"$PYTHON\" \"$top_srcdir/tests/dpt_test.py\" attr old.h5 train order | grep -x rows"

# 4. A setting that contradicts the recorded order is refused, naming both;
#    for a checkpoint without the record, the other order is blocks.
dpt_test unattr old.h5 train order order_block order_pool
expect_error "data.shuffle_by \"blocks\" (blocks of .* rows, pools of .*) (the order the checkpoint's run used) -> \"rows\"" \
    mpirun_np 2 "$DPTRAIN" train m.cfg $rows --resume b.h5 --checkpoint b.h5 --out x.h5
expect_error "data.shuffle_by \"rows\" (the order the checkpoint's run used) -> \"blocks\"" \
    mpirun_np 2 "$DPTRAIN" train m.cfg --set data.shuffle_by=blocks --resume old.h5 \
    --checkpoint old.h5 --out x.h5

summary
