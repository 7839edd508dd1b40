#!/bin/sh
# On more than one rank the gradient is summed in buckets of whole layers,
# top layers first, each by a nonblocking allreduce that starts during the
# backward pass and is updated by the optimizer as its sum arrives
# (src/train/step.c, DESIGN.md "Summing while the backward pass runs").
# None of that changes a bit of the trained model: the model file is the
# same bytes whether the buckets start during the pass or after it, and on
# 2 ranks the same as with one bucket (the whole gradient in one blocking
# allreduce, as before buckets). Checked with conv2d + batch_norm (its
# moving statistics ride in the buckets) + dropout + dense, Adam and SGD
# with momentum, L2, and with clipping (which must see the whole gradient
# before any update), with one bucket per layer (DPTRAIN_BUCKET_BYTES=1).
# A NaN in one bucket still stops training naming its layer. Ranks on one
# node sum through shared memory instead (tests/mpi/node_sum_same_bits.sh):
# the buckets are what jobs over several nodes run, so cases 1-4 turn the
# node sum off (DPTRAIN_NODE_SUM=0); case 5 runs with it.
. "${top_srcdir:?run me through make check}/tests/lib.sh"

. "$top_srcdir/tests/mpi/sums_fixture.sh"
cnn_case

# run NAME P BUCKET_BYTES OVERLAP [--set ...]: trains on P ranks of
# ${threads:-1} threads into NAME.h5
run() {
    name=$1 np=$2 bytes=$3 overlap=$4
    shift 4
    DPTRAIN_NODE_SUM=0 DPTRAIN_BUCKET_BYTES=$bytes DPTRAIN_OVERLAP=$overlap timeout 300 "$MPIRUN" --oversubscribe \
        --allow-run-as-root -np "$np" "$DPTRAIN" train cnn.cfg --threads "${threads:-1}" --out "$name.h5" "$@" > "$name.log" 2>&1
}

# 1. 2 ranks: one bucket (the old single allreduce), a bucket per layer
#    started after the pass, and started during it: the same bytes.
must run one 2 0 1
must run after 2 1 0
must run during 2 1 1
check "2 ranks: buckets started during the pass = after it" cmp after.h5 during.h5
check "2 ranks: buckets = one allreduce of the whole gradient" cmp one.h5 during.h5
must run default 2 65536 1
check "2 ranks, the default bucket size: the same model" cmp one.h5 default.h5

# 2. 3 and 4 ranks (Open MPI's algorithm may differ with the message size,
#    so one bucket is not the reference there): during = after.
for p in 3 4; do
    must run after$p $p 1 0
    must run during$p $p 1 1
    check "$p ranks: buckets started during the pass = after it" cmp after$p.h5 during$p.h5
done

# 3. Two threads per rank: the threads' buffers are summed bucket by bucket,
#    each by the threads free at the time, as the last thread finishes the
#    bucket's layers (and on one rank updated right away): on 1 and 2 ranks
#    the same bytes as with one bucket, on 3 during = after.
threads=2
must run one1 1 0 1
must run during1 1 1 1
must run after1 1 1 0
check "1 x 2: a bucket per layer = one bucket" cmp one1.h5 during1.h5
check "1 x 2: during the pass = after it" cmp after1.h5 during1.h5
must run one 2 0 1
must run during 2 1 1
check "2 x 2: a bucket per layer = one bucket" cmp one.h5 during.h5
must run after3 3 1 0
must run during3 3 1 1
check "3 x 2: during the pass = after it" cmp after3.h5 during3.h5
threads=1

# 4. SGD with momentum, and clipping by the global norm (the update waits
#    for every bucket).
# same_with WHAT --set ...: cases 1 and 2 again with these settings
same_with() {
    what=$1
    shift
    must run one 2 0 1 "$@"
    must run during 2 1 1 "$@"
    must run after3 3 1 0 "$@"
    must run during3 3 1 1 "$@"
    check "$what: 2 ranks, a bucket per layer = one allreduce" cmp one.h5 during.h5
    check "$what: 3 ranks, during = after" cmp after3.h5 during3.h5
}
same_with "SGD with momentum" --set 'model.optimizer.type="sgd"' \
    --set model.optimizer.learning_rate=0.05 --set model.optimizer.momentum=0.9
same_with "clip_norm" --set train.clip_norm=0.5

# 5. A NaN that a layer's backward writes reaches the sum of its own bucket:
#    training stops naming the layer, no model is written.
tp="$DPT_TEST_PLUGINS"
nan_case
nan_run() {
    DPTRAIN_BUCKET_BYTES=1 timeout 120 "$MPIRUN" --oversubscribe --allow-run-as-root -np 2 \
        "$DPTRAIN" train nan.cfg --threads 1 \
        --plugin-path "$tp/nan_at_step.so" --out nan.h5
}
expect_error "$nan_message" nan_run
check "no model was written" [ ! -e nan.h5 ]

summary
