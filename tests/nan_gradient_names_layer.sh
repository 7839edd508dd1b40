#!/bin/sh
# A NaN made by a plugin's backward (or forward) is reported naming the
# layer (index, model.layers path, kind, plugin name, version and file), the
# function and the buffer (backward's dx or dparams, forward's y), the epoch
# and step, and that the function's inputs were finite; on one rank, several
# threads, two ranks and with --deterministic. The layer is
# tests/plugins/nan_at_step.c: y = w * x whose backward writes a NaN into dx
# or dparams (or forward into y) from its "step" on (0-based within the
# epoch, so step = 3 is the message's "step 4").
. "${top_srcdir:?run me through make check}/tests/lib.sh"

tp="$DPT_TEST_PLUGINS"
# Iris, 120 rows, in file order: batch 32 over 2 ranks gives micro-shards of
# 16 rows; rank 1 holds rows 16..31 of each step.
cat > m.cfg <<CFG
data = { train = "$top_srcdir/data/iris-train.h5"; standardize = true; shuffle = false; };
model = {
  layers = (
    { type = "dense"; units = 8; activation = "relu"; },
    { type = "nan_at_step"; step = 3; where = "dparams"; },
    { type = "dense"; units = 3; activation = "softmax"; }
  );
  loss = "cce"; optimizer = "adam";
};
train = { batch = 32; epochs = 3; seed = 1; };
CFG
said="layer 2 (model.layers.\[1\]), layer plugin 'nan_at_step' 1.0.0 ($tp/nan_at_step.so)"
finite="although its inputs (x, y, dy and the parameters) were finite"

# 1. One rank, one thread: the NaN in dparams at step 4 is named, not
#    reported as a NaN loss, and no model is written.
expect_error "$said: backward() wrote NaN into dparams (element 0) at epoch 1, step 4, $finite" \
    dptrain train m.cfg --plugin-path "$tp/nan_at_step.so" --out m.h5
check "the message does not blame the learning rate" ! grep -q "learning rate" .err
check "no model was written" [ ! -e m.h5 ]

# 2. The same for dx, and from a later epoch (epoch 2, step 1).
expect_error "$said: backward() wrote NaN into dx (element 0) at epoch 2, step 1, $finite" \
    dptrain train m.cfg --plugin-path "$tp/nan_at_step.so" --out m.h5 \
    --set 'model.layers.[1].where="dx"' --set model.layers.[1].epoch=1 \
    --set model.layers.[1].step=0

# 3. Two threads, and --deterministic (whose exact sums refuse a NaN: the
#    message names the layer rather than "outside the range of exact sums").
expect_error "$said: backward() wrote NaN into dparams (element 0) at epoch 1, step 4" \
    dptrain train m.cfg --plugin-path "$tp/nan_at_step.so" --out m.h5 --threads 2
expect_error "$said: backward() wrote NaN into dparams (element 0) at epoch 1, step 4" \
    dptrain train m.cfg --plugin-path "$tp/nan_at_step.so" --out m.h5 --deterministic

# 4. Two ranks, the NaN only in rank 1's rows: step 2 holds rows 32..63 of
#    the epoch, rank 1 rows 48..63 (from_sample = 48). Every rank exits 1 and
#    rank 0 prints rank 1's diagnosis (rank 0 re-ran its rows and found them
#    finite).
mpi() {
    timeout 120 "$MPIRUN" --oversubscribe --allow-run-as-root -np 2 "$DPTRAIN" train m.cfg \
        --plugin-path "$tp/nan_at_step.so" --out m.h5 --set 'model.layers.[1].where="dx"' "$@"
}
expect_error "rank 1: $said: backward() wrote NaN into dx (element 0) at epoch 1, step 2" \
    mpi --set model.layers.[1].step=1 --set model.layers.[1].from_sample=48
# With --deterministic the micro-shards are cut otherwise, and both ranks
# may meet the NaN: the diagnosis is everyone's message, naming the rank
# when only one failed.
expect_error "error: \(rank [01]: \)\{0,1\}$said: backward() wrote NaN into dx (element 0) at epoch 1, step" \
    mpi --deterministic

# 5. A NaN from forward (the loss becomes NaN) is named the same way, on one
#    rank, two threads and two ranks (rank 1's rows only), rather than
#    reported as a NaN loss with a hint about the learning rate.
fwd="$said: forward() wrote NaN into y (element 0) at epoch 1, step"
expect_error "$fwd 4, although its inputs (x and the parameters) were finite" \
    dptrain train m.cfg --plugin-path "$tp/nan_at_step.so" --out m.h5 --set 'model.layers.[1].where="y"'
check "the message does not blame the learning rate" ! grep -q "learning rate" .err
expect_error "$fwd 4" \
    dptrain train m.cfg --plugin-path "$tp/nan_at_step.so" --out m.h5 --threads 2 \
    --set 'model.layers.[1].where="y"'
expect_error "rank 1: $fwd 2" \
    mpi --set 'model.layers.[1].where="y"' --set model.layers.[1].step=1 \
    --set model.layers.[1].from_sample=48

# 6. The check does not fire on a healthy run: with the NaN's epoch past the
#    end, the same model trains and is written.
check "a run without the NaN trains" \
    dptrain train m.cfg --plugin-path "$tp/nan_at_step.so" --out ok.h5 --set model.layers.[1].epoch=1000
check "and writes its model" [ -s ok.h5 ]

summary
