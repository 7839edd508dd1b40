#!/bin/sh
# What fit() users expect (issue 5, first part): early stopping stops at the
# expected epoch and restores the best weights, on every rank alike;
# learning-rate schedules give the expected factors at given steps; gradient
# clipping bounds the update; validation metrics and the per-epoch log.
set -eu
: "${DPTRAIN:?} ${MPIRUN:?}"
tmp=$(mktemp -d /tmp/dpt-fit.XXXXXX)
cd "$tmp"
fails=0
passes=0
ok() { echo "ok: $*"; passes=$((passes + 1)); }
bad() { echo "FAIL: $*"; fails=$((fails + 1)); }
/usr/bin/python3 - train.h5 <<'PY'
import sys, h5py, numpy as np
rng = np.random.default_rng(4)
X = rng.standard_normal((100, 6)).astype(np.float32)
y = ((X @ rng.standard_normal(6)) > 0).astype(np.float32)[:, None]
with h5py.File(sys.argv[1], "w") as h:
    h["X"], h["y"] = X, y
PY
cat > m.cfg <<'CFG'
data = { train = "train.h5"; };
model = { layers = ( { type = "dense"; units = 8; activation = "tanh"; },
                     { type = "dense"; units = 1; activation = "sigmoid"; } );
          loss = "bce"; optimizer = { type = "sgd"; learning_rate = 0.5; };
          metrics = [ "accuracy" ]; };
train = { batch = 10; epochs = 20; seed = 9; deterministic = true; };  # 10 steps per epoch
CFG
same() {
    /usr/bin/python3 - "$1" "$2" <<'PY'
import sys, h5py
def t(p):
    with h5py.File(p, "r") as f:
        return {f"{g}/{k}": f["layers"][g][k][...].tobytes() for g in f["layers"] for k in f["layers"][g]}
sys.exit(0 if t(sys.argv[1]) == t(sys.argv[2]) else 1)
PY
}

# 1. Early stopping: with min_delta huge nothing after epoch 1 counts as an
#    improvement, so patience 3 stops after epoch 4 and restore_best_weights
#    gives back the weights after epoch 1.
"$DPTRAIN" train m.cfg --set train.epochs=1 --out e1.h5 --quiet > log 2>&1 || { cat log; exit 1; }
es="--set train.early_stopping.monitor=loss --set train.early_stopping.min_delta=1e9 --set train.early_stopping.patience=3"
for np in 1 3; do
    # shellcheck disable=SC2086
    "$MPIRUN" --oversubscribe -np $np "$DPTRAIN" train m.cfg $es --set train.early_stopping.restore_best_weights=true \
        --out es$np.h5 > log$np 2>&1 || { cat log$np; exit 1; }
    if grep -q '^epoch  4/20 .*(early stopping)' log$np && ! grep -q '^epoch  5/20' log$np; then
        ok "np=$np: early stopping after epoch 4 (patience 3)"
    else
        cat log$np; bad "np=$np: early stopping epoch"
    fi
done
same e1.h5 es1.h5 && ok "restore_best_weights: the weights of epoch 1" || bad "restored weights differ from epoch 1's"
same es1.h5 es3.h5 && ok "1 and 3 ranks stop alike with the same weights" || bad "ranks disagree"
# shellcheck disable=SC2086
"$DPTRAIN" train m.cfg $es --out nores.h5 --quiet > log 2>&1 || { cat log; exit 1; }
same e1.h5 nores.h5 && bad "without restore_best_weights the weights should be epoch 4's" || ok "without restore: epoch 4's weights"

# 2. Schedules: the logged factor at the last step of each epoch (t = 10 e).
for sched in "exponential" "step" "cosine"; do
    "$DPTRAIN" train m.cfg --set train.epochs=5 --set train.lr_schedule.type=$sched \
        --set train.lr_schedule.decay_steps=20 --set train.lr_schedule.decay_rate=0.5 \
        --set train.lr_schedule.min_scale=0.1 --set train.lr_schedule.warmup_steps=15 \
        --set train.scale_lr_batch=5 --set train.log=$sched.csv --out s.h5 --quiet > log 2>&1 || { cat log; exit 1; }
    /usr/bin/python3 - $sched.csv $sched <<'PY' && ok "$sched schedule with warmup and batch scaling: expected factors" || bad "$sched schedule"
import csv, math, sys
rows = list(csv.DictReader(open(sys.argv[1])))
kind = sys.argv[2]
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

# 3. Clipping: every step moves each weight by at most lr * clip_value, and
#    the whole update by at most lr * clip_norm (10 steps here).
"$DPTRAIN" train m.cfg --set train.epochs=0 --out w0.h5 --quiet > log 2>&1
"$DPTRAIN" train m.cfg --set train.epochs=1 --out free.h5 --quiet > log 2>&1
"$DPTRAIN" train m.cfg --set train.epochs=1 --set train.clip_value=1e-4 --out cv.h5 --quiet > log 2>&1
"$DPTRAIN" train m.cfg --set train.epochs=1 --set train.clip_norm=1e-3 --out cn.h5 --quiet > log 2>&1
/usr/bin/python3 - <<'PY' && ok "clipping bounds the update" || bad "clipping"
import h5py, numpy as np
def w(p):
    with h5py.File(p, "r") as f:
        return np.concatenate([f["layers"][g][k][...].ravel().astype(np.float64) for g in sorted(f["layers"]) for k in sorted(f["layers"][g])])
w0, free, cv, cn = w("w0.h5"), w("free.h5"), w("cv.h5"), w("cn.h5")
steps, lr = 10, 0.5
dv = np.abs(cv - w0).max(); dn = np.linalg.norm(cn - w0); df = np.abs(free - w0).max()
print(f"max |dw| by value {dv:.3g} (bound {steps * lr * 1e-4:.3g}); ||dw|| by norm {dn:.3g} (bound {steps * lr * 1e-3:.3g}); unclipped max |dw| {df:.3g}")
# Weights are float: each step rounds them by up to ~6e-8, hence the 1% slack.
assert dv <= steps * lr * 1e-4 * 1.01 and dn <= steps * lr * 1e-3 * 1.01 and df > 100 * dv
PY

# 3b. L2 regularization (Keras' kernel_regularizer): one SGD step of the
#     whole batch moves the weight tensor by an extra -lr * 2 * l2 * w0 and
#     leaves the bias alone.
cat > one.cfg <<'CFG'
data = { train = "train.h5"; shuffle = false; };
model = { layers = ( { type = "dense"; units = 3; activation = "tanh"; l2 = 0.25; },
                     { type = "dense"; units = 1; activation = "sigmoid"; } );
          loss = "bce"; optimizer = { type = "sgd"; learning_rate = 0.5; }; };
train = { batch = 100; epochs = 1; seed = 3; };
CFG
sed 's/ l2 = 0.25;//' one.cfg > plain.cfg
"$DPTRAIN" train one.cfg --set train.epochs=0 --out l0.h5 --quiet > log 2>&1
"$DPTRAIN" train one.cfg --out l2.h5 --quiet > log 2>&1 || { cat log; exit 1; }
"$DPTRAIN" train plain.cfg --out lp.h5 --quiet > log 2>&1 || { cat log; exit 1; }
/usr/bin/python3 - <<'PY' && ok "l2: the extra step is -lr * 2 * l2 * w0 on the weights only" || bad "l2"
import h5py, numpy as np
def t(p, k):
    with h5py.File(p, "r") as f:
        return f[f"layers/00_dense/{k}"][...].astype(np.float64)
w0 = t("l0.h5", "weight")
dw = t("l2.h5", "weight") - t("lp.h5", "weight")
assert np.allclose(dw, -0.5 * 2 * 0.25 * w0, atol=1e-6), np.abs(dw + 0.25 * w0).max()
assert np.array_equal(t("l2.h5", "bias"), t("lp.h5", "bias"))
PY

# 3c. Reduce on plateau: nothing improves by 1e9 after epoch 1, patience 1,
#     factor 0.5: the factor is 1, 1, 0.5, 0.25 at the ends of epochs 1-4.
"$DPTRAIN" train m.cfg --set train.epochs=4 --set train.reduce_lr_on_plateau.monitor=loss \
    --set train.reduce_lr_on_plateau.min_delta=1e9 --set train.reduce_lr_on_plateau.patience=1 \
    --set train.reduce_lr_on_plateau.factor=0.5 --set train.log=rop.csv --out r.h5 --quiet > log 2>&1 || { cat log; exit 1; }
f=$(cut -d, -f6 rop.csv | tail -n 4 | tr '\n' ' ')
[ "$f" = "1 1 0.5 0.25 " ] && ok "reduce on plateau: factors $f" || bad "reduce on plateau: factors '$f'"

# 4. Validation: a held-out split and a file; metrics in the JSON-lines log,
#    the same on 1 and 2 ranks (deterministic).
for np in 1 2; do
    "$MPIRUN" --oversubscribe -np $np "$DPTRAIN" train m.cfg --set train.epochs=3 --set data.validation_split=0.2 \
        --set train.log=v$np.jsonl --out v.h5 --quiet > log 2>&1 || { cat log; exit 1; }
done
/usr/bin/python3 - <<'PY' && ok "validation_split: val metrics logged, equal on 1 and 2 ranks" || bad "validation split"
import json
a = [json.loads(l) for l in open("v1.jsonl")]
b = [json.loads(l) for l in open("v2.jsonl")]
assert len(a) == 3 and all(r["val_loss"] is not None and r["val_accuracy"] is not None for r in a)
assert [r["val_loss"] for r in a] == [r["val_loss"] for r in b], (a, b)
assert [r["loss"] for r in a] == [r["loss"] for r in b]
PY
"$DPTRAIN" train m.cfg --set train.epochs=2 --set data.validation=train.h5 --out vf.h5 > log 2>&1 || { cat log; exit 1; }
grep -q 'val_loss' log && ok "data.validation file: $(grep '^epoch 2' log)" || bad "validation file"
set +e
"$DPTRAIN" train m.cfg --set data.validation=train.h5 --set data.validation_split=0.5 --out x.h5 > log 2>&1
st=$?
set -e
[ $st = 1 ] && grep -q "not both" log && ok "validation file and split together refused" || bad "both validation kinds accepted"

# 5. Threads: without --threads a small model runs on one thread (waking a
#    second costs more than it saves), a bigger one on all it may use;
#    --threads is obeyed.
OMP_NUM_THREADS=2 "$DPTRAIN" train m.cfg --set train.epochs=1 --out t.h5 > log 2>&1 || { cat log; exit 1; }
grep -q "1 rank x 1 thread" log && ok "small model: 1 thread by default" || { cat log; bad "small model threads"; }
OMP_NUM_THREADS=2 "$DPTRAIN" train m.cfg --set train.epochs=1 --threads 2 --out t.h5 > log 2>&1 || { cat log; exit 1; }
grep -q "1 rank x 2 threads" log && ok "--threads 2 obeyed" || { cat log; bad "--threads 2"; }
# 6 x 160001 parameters x 64 rows = 61 MFLOP a step: worth two threads.
sed 's/units = 8;/units = 20000;/' m.cfg > big.cfg
OMP_NUM_THREADS=2 "$DPTRAIN" train big.cfg --set train.epochs=1 --set train.batch=64 \
    --out t.h5 > log 2>&1 || { cat log; exit 1; }
grep -q "1 rank x 2 threads" log && ok "bigger model: 2 threads by default" || { cat log; bad "bigger model threads"; }
# Two ranks share the cores: on this machine's C cores each may use C / 2.
cores=$(getconf _NPROCESSORS_ONLN)
want=$((cores / 2)); [ "$want" -ge 1 ] || want=1; [ "$want" -le 2 ] || want=2
"$MPIRUN" --oversubscribe --bind-to none -x OMP_NUM_THREADS=2 -np 2 "$DPTRAIN" train big.cfg \
    --set train.epochs=1 --set train.batch=128 --out t.h5 > log 2>&1 || { cat log; exit 1; }
grep -q "2 ranks x $want thread" log && ok "2 ranks on $cores cores: $want thread(s) each" || { cat log; bad "2-rank threads"; }

cd /
rm -rf "$tmp"
echo "$passes passed, $fails failed"
[ $fails = 0 ]
