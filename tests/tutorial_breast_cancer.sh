#!/bin/sh
# End to end: train examples/breast_cancer.cfg under mpirun (1 and 2 ranks),
# check the test accuracy (>= 0.97), the model file's layout with h5py, eval
# and predict (text and JSON).
set -eu
: "${DPTRAIN:?} ${MPIRUN:?} ${top_srcdir:?}"
tmp=$(mktemp -d /tmp/dpt-e2e.XXXXXX)
fail() { echo "FAIL: $*"; exit 1; }

for np in 1 2; do
    "$MPIRUN" --oversubscribe -np $np "$DPTRAIN" train "$top_srcdir/examples/breast_cancer.cfg" \
        --out "$tmp/bc$np.h5" > "$tmp/train$np.log" 2>&1 || { cat "$tmp/train$np.log"; fail "train -np $np"; }
    cat "$tmp/train$np.log"
    grep -q '^epoch 40/40 ' "$tmp/train$np.log" || fail "no line for the last epoch"
    "$MPIRUN" --oversubscribe -np $np "$DPTRAIN" eval "$tmp/bc$np.h5" \
        "$top_srcdir/data/breast_cancer-test.h5" --format json > "$tmp/eval$np.json"
    cat "$tmp/eval$np.json"
    acc=$(sed -n 's/.*"accuracy": *\([0-9.eE+-]*\).*/\1/p' "$tmp/eval$np.json")
    [ -n "$acc" ] || fail "no accuracy in eval JSON"
    awk -v a="$acc" 'BEGIN { exit !(a >= 0.97) }' || fail "test accuracy $acc < 0.97 with $np rank(s)"
    echo "np=$np: test accuracy $acc"
    if [ $np = 1 ]; then acc1=$acc; fi
done

# Text eval agrees with the JSON one; predict writes labels that give the same accuracy.
"$DPTRAIN" eval "$tmp/bc1.h5" "$top_srcdir/data/breast_cancer-test.h5" | grep -q 'accuracy' || fail "text eval"
"$DPTRAIN" predict "$tmp/bc1.h5" "$top_srcdir/data/breast_cancer-test.h5" --out "$tmp/pred.h5" \
    --format json > "$tmp/pred.json"
grep -q '"samples": *113' "$tmp/pred.json" || fail "predict JSON: $(cat "$tmp/pred.json")"

/usr/bin/python3 - "$tmp/bc1.h5" "$tmp/pred.h5" "$top_srcdir/data/breast_cancer-test.h5" "$acc1" "$tmp/bc2.h5" <<'PY'
import sys, h5py, numpy as np
model, pred, test, acc, model2 = sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4]), sys.argv[5]
with h5py.File(model, "r") as f:
    assert f.attrs["format"] == "dptrain-model", f.attrs["format"]
    assert f.attrs["n_inputs"] == 30 and f.attrs["n_outputs"] == 1
    cfg = f["config"][()]
    cfg = cfg.decode() if isinstance(cfg, bytes) else cfg
    assert "dense" in cfg and "bce" in cfg
    layers = sorted(f["layers"].keys())
    assert layers == ["00_dense", "01_dense", "02_dense"], layers
    W = [f["layers"][k]["weight"][...] for k in layers]
    b = [f["layers"][k]["bias"][...] for k in layers]
    assert [w.shape for w in W] == [(10, 30), (8, 10), (1, 8)], [w.shape for w in W]
    mean, std = f["standardize/mean"][...], f["standardize/std"][...]
with h5py.File(model2, "r") as f2:
    # Two ranks computed the statistics from two halves of the rows.
    assert np.allclose(f2["standardize/mean"][...], mean, rtol=1e-12, atol=0)
    assert np.allclose(f2["standardize/std"][...], std, rtol=1e-12, atol=0)
with h5py.File(test, "r") as t:
    X, y = t["X"][...].astype(np.float64), t["y"][...].reshape(-1)
    # The stored standardization is the train split's, as the data file says.
    assert np.allclose(mean, t.attrs["X_mean"], rtol=1e-5), "mean differs from X_mean"
    assert np.allclose(std, t.attrs["X_std"], rtol=1e-5), "std differs from X_std"
# Recompute the network in numpy from the file alone: same predictions.
h = (X - mean) / std
for i, (w, bb) in enumerate(zip(W, b)):
    h = h @ w.T + bb
    h = np.maximum(h, 0) if i < 2 else 1 / (1 + np.exp(-h))
with h5py.File(pred, "r") as p:
    P, L = p["pred"][...], p["label"][...]
assert P.shape == (113, 1) and L.shape == (113,)
assert np.allclose(P, h, atol=1e-4), np.abs(P - h).max()
np_acc = ((h[:, 0] > 0.5) == (y > 0.5)).mean()
assert abs(np_acc - acc) < 1e-6, (np_acc, acc)
assert abs(((L == 1) == (y > 0.5)).mean() - np_acc) < 1e-9
print("h5py: model layout ok, numpy forward matches predictions, accuracy %.4f" % np_acc)
PY
rm -rf "$tmp"
echo "PASS e2e"
