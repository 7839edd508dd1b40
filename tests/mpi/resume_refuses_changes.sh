#!/bin/sh
# Resume refuses changes that break it and says which changes it applies
# (README, "Checkpoints"): another layer setting, loss, batch, seed or
# data (same shape, other values; other shape) is refused, naming each
# change; the epochs and the learning rate are applied and listed; a
# resume on another number of ranks without --deterministic says once
# that it is not exact.
. "${top_srcdir:?run me through make check}/tests/lib.sh"

small_model m.cfg
dpt_test data other.h5 --rows 400 --features 6 --seed 9 --noise 0.3
dpt_test data wide.h5 --rows 400 --features 7 --seed 2 --noise 0.3
expect_exit 3 "stopped on request" mpirun_np 2 "$DPTRAIN" train m.cfg --checkpoint ck.h5 \
    --out p.h5 --quiet --stop-after-steps 15

resume() {
    dptrain train m.cfg --resume ck.h5 --out x.h5 --quiet "$@"
}
# 1. Refused, each naming the setting, the checkpoint's value and the new.
expect_error 'ck.h5: cannot resume: the run changes what the checkpoint depends on: model.layers.\[0\].activation "relu" -> "tanh"' \
    resume --set 'model.layers.[0].activation="tanh"'
expect_error 'model.loss "bce" -> "mse"' resume --set model.loss=mse
expect_error 'train.batch 40 -> 20' resume --set train.batch=20
expect_error 'train.seed 5 -> 6' resume --set train.seed=6
expect_error 'data.shuffle 1 -> 0' resume --set data.shuffle=false
expect_error 'the data of data.train X \[400, 6\], y \[400, 1\] float; rows 0, 196, 392 (8 each): xxh3-64 [0-9a-f]* -> X \[400, 6\]' \
    resume --set data.train=other.h5
expect_error 'ck.h5: /layers/00_dense/weight has shape \[8, 6\]; the model needs \[8, 7\]' resume --set data.train=wide.h5
# Two changes at once: both named.
expect_error 'train.batch 40 -> 20, train.seed 5 -> 6' resume --set train.batch=20 --set train.seed=6

# 2. Applied, and listed: epochs and the learning rate; the resume goes
#    through.
expect_exit 0 'changed settings, applied from here on: model.optimizer.learning_rate 0.01 -> 0.001, train.epochs 4 -> 6' \
    mpirun_np 2 "$DPTRAIN" train m.cfg --resume ck.h5 --out x.h5 --quiet \
    --set model.optimizer.learning_rate=0.001 --set train.epochs=6
# The same settings: no note.
check "unchanged settings: no note" mpirun_np 2 "$DPTRAIN" train m.cfg --resume ck.h5 --out y.h5 --quiet
check "... none printed" ! grep -q "note:" check.out

# 3. Another number of ranks: one note, only without --deterministic.
expect_exit 0 'note: the checkpoint was written by 2 ranks x 1 thread; this run has 1 x 1: without --deterministic' \
    resume --threads 1
check "the rank note comes once" test "$(grep -c 'was written by' "$tmp/.err")" = 1
check "with --deterministic: no rank note" dptrain train m.cfg --resume ck.h5 --out z.h5 --quiet --deterministic --threads 1
check "... none printed" ! grep -q "was written by" check.out

summary
