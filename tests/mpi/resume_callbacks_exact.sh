#!/bin/sh
# Exact resume with callbacks (README, "Checkpoints"): with early stopping
# (restore_best_weights) and reduce_lr_on_plateau on, a run stopped at a
# checkpoint (exit 3) and resumed ends with bitwise the weights of the
# uninterrupted run, stopping early at the same epoch, on 1 rank and on 2
# (same P and T: the fast mode's sums are the same). The checkpoint holds
# the callbacks' state: the plateau's reduced learning-rate factor, the
# waits and best values, the best weights.
. "${top_srcdir:?run me through make check}/tests/lib.sh"

dpt_test data cb.h5 --rows 600 --features 8 --seed 4 --noise 1.0
# 450 training rows in batches of 30: 15 steps per epoch. Uninterrupted,
# val_loss is best at epoch 16; the plateau halves the learning rate from
# epoch 16 on and early stopping ends training after epoch 19.
cat > cb.cfg <<'CFG'
data = { train = "cb.h5"; standardize = true; validation_split = 0.25; };
model = {
  layers = ( { type = "dense"; units = 32; activation = "relu"; },
             { type = "dense"; units = 1; activation = "sigmoid"; } );
  loss = "bce";
  optimizer = { type = "adam"; learning_rate = 0.002; };
  metrics = [ "accuracy" ];
};
train = { batch = 30; epochs = 60; seed = 7;
          early_stopping = { monitor = "val_loss"; patience = 3; restore_best_weights = true; };
          reduce_lr_on_plateau = { monitor = "val_loss"; patience = 1; factor = 0.5; }; };
CFG

# The epoch a run's output says early stopping ended it at.
stopped_at() {
    sed -n 's|^epoch *\([0-9]*\)/60 .*(early stopping)$|\1|p' "$1"
}

for np in 1 2; do
    run() { mpirun_np $np "$DPTRAIN" train cb.cfg "$@"; }
    must run --out straight$np.h5
    cp log straight$np.log
    e=$(stopped_at straight$np.log)
    check "np=$np: uninterrupted, early stopping ends it at epoch $e (of 60)" test -n "$e"
    check "np=$np: the plateau has lowered the learning rate by then" \
        grep -q "^epoch *$e/60 .*lr x0\." straight$np.log

    # 1. Stopped after step 10 of epoch 17 (250 steps: after the plateau
    #    acted and early stopping began to wait), resumed.
    expect_exit 3 "stopped on request after step 10 of epoch 17" \
        run --out p.h5 --checkpoint a$np.h5 --stop-after-steps 250 --quiet
    must run --out late$np.h5 --checkpoint a$np.h5 --resume auto
    check "np=$np: stopped in epoch 17 + resumed: early stopping at epoch $e too" \
        test "$(stopped_at log)" = "$e"
    check "np=$np: stopped in epoch 17 + resumed == uninterrupted (bitwise)" \
        dpt_test compare straight$np.h5 late$np.h5

    # 2. Stopped at an epoch's end (after epoch 8, 120 steps, before either
    #    callback acted), then twice more: after epoch 15, and after the
    #    last step of epoch 19 (before its validation and callbacks ran).
    expect_exit 3 "stopped on request" run --out p.h5 --checkpoint b$np.h5 --stop-after-steps 120 --quiet
    expect_exit 3 "stopped on request" \
        run --out p.h5 --checkpoint b$np.h5 --resume auto --stop-after-steps 105 --quiet
    expect_exit 3 "stopped on request" \
        run --out p.h5 --checkpoint b$np.h5 --resume auto --stop-after-steps 60 --quiet
    must run --out thrice$np.h5 --checkpoint b$np.h5 --resume auto
    check "np=$np: stopped three times: early stopping at epoch $e too" test "$(stopped_at log)" = "$e"
    check "np=$np: stopped three times + resumed == uninterrupted (bitwise)" \
        dpt_test compare straight$np.h5 thrice$np.h5

    # 3. The checkpoint written when early stopping ended training holds
    #    the restored best weights and says training is over: resuming it
    #    trains no further, even with more epochs allowed.
    must run --out again$np.h5 --resume b$np.h5 --set train.epochs=80
    check "np=$np: resumed after early stopping: no epoch trained" test "$(grep -c '^epoch' log)" = 0
    check "np=$np: ... and the same weights" dpt_test compare straight$np.h5 again$np.h5
done

summary
