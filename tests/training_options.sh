#!/bin/sh
# The training options users know from Keras' fit() do what they promise:
# early stopping stops at the expected epoch and restores the best weights,
# on every rank alike; learning-rate schedules and reduce-on-plateau give the
# expected factors at given steps; gradient clipping bounds the update; l2
# adds its term to the weights only; validation metrics are logged, the same
# on 1 and 2 ranks; and the default thread count suits the model's size.
. "${top_srcdir:?run me through make check}/tests/lib.sh"

tiny_model m.cfg "batch = 10; epochs = 20; seed = 9; deterministic = true;"  # 10 steps per epoch

# 1. Early stopping: with min_delta huge nothing after epoch 1 counts as an
#    improvement, so patience 3 stops after epoch 4 (on 1 and on 3 ranks),
#    and restore_best_weights gives back the weights after epoch 1. Without
#    it the weights are those after epoch 4.
must dptrain train m.cfg --set train.epochs=1 --out e1.h5 --quiet
must dptrain train m.cfg --set train.epochs=4 --out e4.h5 --quiet
es="--set train.early_stopping.monitor=loss --set train.early_stopping.min_delta=1e9 --set train.early_stopping.patience=3"
for np in 1 3; do
    # shellcheck disable=SC2086
    must mpirun_np $np "$DPTRAIN" train m.cfg $es --set train.early_stopping.restore_best_weights=true \
        --out es$np.h5
    check "np=$np: early stopping after epoch 4 (patience 3)" grep '^epoch  4/20 .*(early stopping)' log
    check "np=$np: no epoch 5" ! grep '^epoch  5/20' log
done
check "restore_best_weights: the weights of epoch 1" dpt_test compare e1.h5 es1.h5
check "1 and 3 ranks stop alike with the same weights" dpt_test compare es1.h5 es3.h5
# shellcheck disable=SC2086
must dptrain train m.cfg $es --out nores.h5 --quiet
check "without restore_best_weights: the weights of epoch 4" dpt_test compare e4.h5 nores.h5
check "... which are not those of epoch 1" ! dpt_test compare e1.h5 nores.h5
# ... and when the epochs run out before the patience does (patience 10,
#    4 epochs): restore_best_weights still ends with epoch 1's weights, and
#    the summary and the last line say so.
# shellcheck disable=SC2086
must dptrain train m.cfg $es --set train.early_stopping.patience=10 --set train.epochs=4 \
    --set train.early_stopping.restore_best_weights=true --out end.h5 --summary end.json
check "epochs ran out, restore_best_weights: the weights of epoch 1" dpt_test compare e1.h5 end.h5
check "... the summary: stopped_by epochs, best_epoch 1, restored_epoch 1" "$PYTHON" -c '
import json, sys
s = json.load(open("end.json"))
sys.exit(not (s["stopped_by"] == "epochs" and s["best_epoch"] == 1 and s["restored_epoch"] == 1))'
check "... the last line names the epoch" grep -q "wrote end.h5 (the weights of epoch 1, restored" log

# 2. Schedules: the logged factor at the last step of each epoch (t = 10 e)
#    is the schedule's at step k = t - 1, times the warmup's t / 15 while
#    t <= 15, times 2 for a batch of 10 scaled from a reference batch of 5.
for sched in exponential step cosine; do
    must dptrain train m.cfg --set train.epochs=5 --set train.lr_schedule.type=$sched \
        --set train.lr_schedule.decay_steps=20 --set train.lr_schedule.decay_rate=0.5 \
        --set train.lr_schedule.min_scale=0.1 --set train.lr_schedule.warmup_steps=15 \
        --set train.scale_lr_batch=5 --set train.log=$sched.csv --out s.h5 --quiet
    check "$sched schedule with warmup and batch scaling: the expected factors" \
        "$PYTHON" - $sched.csv $sched <<'PY'
import csv, math, sys
rows = list(csv.DictReader(open(sys.argv[1])))
kind = sys.argv[2]
assert len(rows) == 5, rows
for r in rows:
    t = 10 * int(r["epoch"]); k = t - 1
    f = {"exponential": 0.5 ** (k / 20), "step": 0.5 ** (k // 20),
         "cosine": 0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * min(k / 20, 1)))}[kind]
    if t <= 15:
        f *= t / 15
    f *= 10 / 5
    got = float(r["lr_scale"])
    assert abs(got - f) <= 1e-6 * max(1, f), (r["epoch"], got, f)
print(kind, [round(float(r["lr_scale"]), 6) for r in rows])
PY
done

# 3. Clipping: in 10 steps of lr 0.5, clip_value = 1e-4 moves each weight by
#    at most 10 x 0.5 x 1e-4 = 5e-4, and clip_norm = 1e-3 moves the whole
#    weight vector by at most 5e-3. Weights are floats: each step rounds them
#    by up to ~6e-8, hence 1% slack. Unclipped, some weight moves more than
#    100 times as far as the value bound allows: clipping did the bounding.
must dptrain train m.cfg --set train.epochs=0 --out w0.h5 --quiet
must dptrain train m.cfg --set train.epochs=1 --out free.h5 --quiet
must dptrain train m.cfg --set train.epochs=1 --set train.clip_value=1e-4 --out cv.h5 --quiet
must dptrain train m.cfg --set train.epochs=1 --set train.clip_norm=1e-3 --out cn.h5 --quiet
check "clip_value bounds each weight's move" dpt_test compare w0.h5 cv.h5 --max-abs 5.05e-4
check "clip_norm bounds the norm of the update" dpt_test compare w0.h5 cn.h5 --max-norm 5.05e-3
check "unclipped, a weight moves more than 100 x 5.05e-4" dpt_test compare w0.h5 free.h5 --min-max-abs 5.05e-2

# 4. L2 regularization (Keras' kernel_regularizer): one SGD step of the
#    whole batch moves the weight tensor by an extra -lr * 2 * l2 * w0 and
#    leaves the bias alone.
cat > one.cfg <<'CFG'
data = { train = "train.h5"; shuffle = false; };
model = { layers = ( { type = "dense"; units = 3; activation = "tanh"; l2 = 0.25; },
                     { type = "dense"; units = 1; activation = "sigmoid"; } );
          loss = "bce"; optimizer = { type = "sgd"; learning_rate = 0.5; }; };
train = { batch = 100; epochs = 1; seed = 3; };
CFG
sed 's/ l2 = 0.25;//' one.cfg > plain.cfg
must dptrain train one.cfg --set train.epochs=0 --out l0.h5 --quiet
must dptrain train one.cfg --out l2.h5 --quiet
must dptrain train plain.cfg --out lp.h5 --quiet
check "l2: the extra step is -lr * 2 * l2 * w0 on the weights only" "$PYTHON" - <<'PY'
import numpy as np
from dpt_test import tensors
w0, l2, plain = tensors("l0.h5"), tensors("l2.h5"), tensors("lp.h5")
dw = l2["00_dense/weight"].astype(np.float64) - plain["00_dense/weight"]
want = -0.5 * 2 * 0.25 * w0["00_dense/weight"].astype(np.float64)
assert np.allclose(dw, want, atol=1e-6), np.abs(dw - want).max()
assert np.array_equal(l2["00_dense/bias"], plain["00_dense/bias"])
PY

# 5. Reduce on plateau: nothing improves by 1e9 after epoch 1; with patience
#    1 and factor 0.5 the factor is 1, 1, 0.5, 0.25 at the ends of epochs 1-4.
must dptrain train m.cfg --set train.epochs=4 --set train.reduce_lr_on_plateau.monitor=loss \
    --set train.reduce_lr_on_plateau.min_delta=1e9 --set train.reduce_lr_on_plateau.patience=1 \
    --set train.reduce_lr_on_plateau.factor=0.5 --set train.log=rop.csv --out r.h5 --quiet
f=$(cut -d, -f6 rop.csv | tail -n 4 | tr '\n' ' ')
check "reduce on plateau: factors '$f' are '1 1 0.5 0.25 '" [ "$f" = "1 1 0.5 0.25 " ]

# 6. Validation: a held-out split logs val_loss and val_accuracy every epoch,
#    the same on 1 and 2 ranks (deterministic = true); a validation file is
#    evaluated too; both at once are refused.
for np in 1 2; do
    must mpirun_np $np "$DPTRAIN" train m.cfg --set train.epochs=3 --set data.validation_split=0.2 \
        --set train.log=v$np.jsonl --out v.h5 --quiet
done
check "validation_split: val metrics logged, equal on 1 and 2 ranks" "$PYTHON" - <<'PY'
import json
a = [json.loads(l) for l in open("v1.jsonl")]
b = [json.loads(l) for l in open("v2.jsonl")]
assert len(a) == 3 and all(r["val_loss"] is not None and r["val_accuracy"] is not None for r in a)
assert [r["val_loss"] for r in a] == [r["val_loss"] for r in b], (a, b)
assert [r["loss"] for r in a] == [r["loss"] for r in b]
PY
must dptrain train m.cfg --set train.epochs=2 --set data.validation=train.h5 --out vf.h5
check "data.validation file: val_loss in the epoch line" grep '^epoch 2/2 .*val_loss' log
expect_error "not both" dptrain train m.cfg --set data.validation=train.h5 --set data.validation_split=0.5 --out x.h5
# With validation_split and standardize, the statistics are of every row
# of the file, the held-out ones included (README, data.standardize).
must dptrain train m.cfg --set train.epochs=1 --set data.validation_split=0.5 \
    --set data.standardize=true --out vs.h5
check "validation_split: standardize's mean and std are of all the file's rows" "$PYTHON" - <<'PY'
import h5py, numpy as np
X = h5py.File("train.h5", "r")["X"][...].astype(np.float64)
with h5py.File("vs.h5", "r") as f:
    m, s = f["standardize/mean"][...], f["standardize/std"][...]
assert np.allclose(m, X.mean(0), rtol=1e-6, atol=1e-7), (m, X.mean(0))
assert np.allclose(s, X.std(0), rtol=1e-5), (s, X.std(0))
PY

# 7. Threads: without --threads a small model runs on one thread (waking a
#    second costs more than it saves), a bigger one on all it may use;
#    --threads is obeyed; two ranks share the cores.
must env OMP_NUM_THREADS=2 "$DPTRAIN" train m.cfg --set train.epochs=1 --out t.h5
check "small model: 1 thread by default" grep "1 rank x 1 thread" log
must env OMP_NUM_THREADS=2 "$DPTRAIN" train m.cfg --set train.epochs=1 --threads 2 --out t.h5
check "--threads 2 obeyed" grep "1 rank x 2 threads" log
# 6 x 160001 parameters x 64 rows = 61 MFLOP a step: worth two threads.
sed 's/units = 8;/units = 20000;/' m.cfg > big.cfg
must env OMP_NUM_THREADS=2 "$DPTRAIN" train big.cfg --set train.epochs=1 --set train.batch=64 --out t.h5
check "bigger model: 2 threads by default" grep "1 rank x 2 threads" log
# On this machine's C cores each of two ranks may use C / 2 (at most the 2
# that OMP_NUM_THREADS allows, at least 1).
cores=$(getconf _NPROCESSORS_ONLN)
want=$((cores / 2)); [ "$want" -ge 1 ] || want=1; [ "$want" -le 2 ] || want=2
must mpirun_np 2 --bind-to none -x OMP_NUM_THREADS=2 "$DPTRAIN" train big.cfg \
    --set train.epochs=1 --set train.batch=128 --out t.h5
check "2 ranks on $cores cores: $want thread(s) each" grep "2 ranks x $want thread" log

summary
