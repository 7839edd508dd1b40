#!/bin/sh
# A batch larger than the training rows trains, as Keras' fit() does with
# such a batch_size: each epoch is one step over all the rows (their mean
# gradient). dptrain says so at start in one note line, on rank 0 only,
# with the ranks that then get no rows and what would give them some; and
# `dptrain plan` prints the same note, word for word. A batch within the
# rows gets no note, unless its micro-shards are fewer than the ranks
# (case 5).
. "${top_srcdir:?run me through make check}/tests/lib.sh"

# 100 rows, batch 1000; 2 ranks x 1 thread make micro-shards of 500 rows
# (batch / workers): the one step of an epoch is 1 micro-shard, rank 0's.
tiny_model m.cfg "batch = 1000; epochs = 5; seed = 9;"
note="note: train.batch = 1000 is more than the 100 training rows: each epoch is one step over all 100 rows"

# 1. Two ranks: exit 0, one note line (rank 0's), naming the idle rank and
#    the batch that gives every rank rows; five epochs are five steps.
expect_exit 0 "$note" mpirun_np 2 "$DPTRAIN" train m.cfg --threads 1 --out a.h5 \
    --summary a.json
cp "$tmp/.err" err1
cp "$tmp/.out" out1
check "one note line" [ "$(grep -c '^dptrain: note: ' err1)" = 1 ]
check "it says what the step is and which rank waits" grep -q -x "dptrain: $note (their mean gradient, as Keras does with such a batch_size), in 1 micro-shard of up to 500 rows, so rank 1 of 2 gets no rows and only waits; train.batch = 100 gives every rank rows" err1
check "one step an epoch: 5 steps" "$PYTHON" -c '
import json; s = json.load(open("a.json"))
assert s["status"] == "finished" and s["epochs"] == 5 and s["steps"] == 5, s'

# 2. The plan of the same job prints the same note.
must dptrain plan m.cfg -np 2 --threads 1 --time-steps 0
check "plan: the same note, word for word" \
    grep -q -x -F "$(sed -n 's/^dptrain: note: /note: /p' err1)" log

# 3. What a step is: a batch of 1000 trains the weights a batch of all
#    100 rows trains, bit for bit (--deterministic sums exactly, and the
#    same micro-shards of 25 rows on both).
must mpirun_np 2 "$DPTRAIN" train m.cfg --threads 1 --deterministic \
    --set train.micro_batch=25 --out big.h5
cp log out3
must mpirun_np 2 "$DPTRAIN" train m.cfg --threads 1 --deterministic \
    --set train.micro_batch=25 --set train.batch=100 --out all.h5
check "batch 1000 == batch 100 (all the rows)" dpt_test compare all.h5 big.h5
check "4 micro-shards of 25 rows: the note says no rank waits" \
    sh -c 'grep -q "in 4 micro-shards of up to 25 rows$" out3 && ! grep -q "only wait" out3'

# 4. A batch of all the rows: no note.
mpirun_np 2 "$DPTRAIN" train m.cfg --threads 1 --set train.batch=100 --out c.h5 > out4 2>&1
check "batch 100 on 100 rows: no note" ! grep -q "note:" out4

# 5. A batch within the rows whose micro-shards are fewer than the ranks
#    (as batch_norm's 32-row micro-shards with a batch of 32): the note
#    names the rank left without rows and what gives every rank some;
#    plan says the same.
expect_exit 0 "note: train.batch = 32 in micro-shards of 32 rows makes 1 micro-shard a step for 2 ranks, so rank 1 of 2 gets no rows and only waits; train.batch = 64 or train.micro_batch = 16 gives every rank rows" \
    mpirun_np 2 "$DPTRAIN" train m.cfg --threads 1 --set train.batch=32 \
    --set train.micro_batch=32 --out d.h5
must dptrain plan m.cfg -np 2 --threads 1 --time-steps 0 --set train.batch=32 \
    --set train.micro_batch=32
check "plan: the same note" grep -q "^note: train.batch = 32 in micro-shards of 32 rows" log
mpirun_np 2 "$DPTRAIN" train m.cfg --threads 1 --set train.batch=64 --set train.micro_batch=32 \
    --out e.h5 > out5 2>&1
check "batch 64 in micro-shards of 32 on 2 ranks: no note" ! grep -q "note:" out5
summary
