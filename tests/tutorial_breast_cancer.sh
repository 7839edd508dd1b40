#!/bin/sh
# The README's tutorial works end to end: examples/breast_cancer.cfg trains
# under mpirun on 1 and 2 ranks to a test accuracy >= 0.97; the model file
# has the documented layout (docs/DESIGN.md) and alone is enough to
# recompute the predictions in numpy; eval and predict agree with it, in
# text and JSON.
. "${top_srcdir:?run me through make check}/tests/lib.sh"

test_h5="$top_srcdir/data/breast_cancer-test.h5"

# 1. Training on 1 and 2 ranks logs every epoch up to the 40th, and the test
#    accuracy eval reports is at least the README's 0.97.
for np in 1 2; do
    must mpirun_np $np "$DPTRAIN" train "$top_srcdir/examples/breast_cancer.cfg" --out bc$np.h5
    cat log
    check "np=$np: a line for the last epoch" grep '^epoch 40/40 ' log
    mpirun_np $np "$DPTRAIN" eval bc$np.h5 "$test_h5" --format json > eval$np.json
    cat eval$np.json
    acc=$(json_number accuracy eval$np.json)
    check "np=$np: test accuracy '$acc' >= 0.97" at_least "$acc" 0.97
    if [ $np = 1 ]; then acc1=$acc; fi
done

# 2. eval's text output has the accuracy too; predict's JSON counts the 113
#    test rows.
dptrain eval bc1.h5 "$test_h5" > eval.txt
check "text eval prints the accuracy" grep 'accuracy' eval.txt
dptrain predict bc1.h5 "$test_h5" --out pred.h5 --format json > pred.json
check "predict JSON: 113 samples" grep '"samples": *113' pred.json

# 3. The model file's layout: the format attribute, the sizes, the model
#    description, three dense layers of the tutorial's shapes.
check "model file layout" "$PYTHON" - bc1.h5 <<'PY'
import sys
from dpt_test import read_model
m = read_model(sys.argv[1])
assert m.attrs["format"] == "dptrain-model", m.attrs["format"]
assert m.attrs["n_inputs"] == 30 and m.attrs["n_outputs"] == 1, m.attrs
assert "dense" in m.config and "bce" in m.config, m.config
shapes = {k: v.shape for k, v in m.tensors.items()}
assert shapes == {"00_dense/bias": (10,), "00_dense/weight": (10, 30),
                  "01_dense/bias": (8,), "01_dense/weight": (8, 10),
                  "02_dense/bias": (1,), "02_dense/weight": (1, 8)}, shapes
PY

# 4. The standardization stored in the model is the training split's, as
#    the data file's X_mean and X_std attributes give it; two ranks, which
#    computed it from two halves of the rows, store the same to 1e-12.
check "standardization: the train split's, the same on 2 ranks" "$PYTHON" - bc1.h5 bc2.h5 "$test_h5" <<'PY'
import sys
import numpy as np
from dpt_test import read_data, read_model
m1, m2 = read_model(sys.argv[1]), read_model(sys.argv[2])
_, _, attrs = read_data(sys.argv[3])
assert np.allclose(m2.mean, m1.mean, rtol=1e-12, atol=0)
assert np.allclose(m2.std, m1.std, rtol=1e-12, atol=0)
assert np.allclose(m1.mean, attrs["X_mean"], rtol=1e-5), "mean differs from X_mean"
assert np.allclose(m1.std, attrs["X_std"], rtol=1e-5), "std differs from X_std"
PY

# 5. The network recomputed in numpy from the model file alone (relu, relu,
#    sigmoid, as the tutorial's model says) gives predict's outputs to 1e-4,
#    eval's accuracy, and predict's labels.
check "numpy forward pass == predict's outputs; same accuracy as eval" \
    "$PYTHON" - bc1.h5 pred.h5 "$test_h5" "$acc1" <<'PY'
import sys
import numpy as np
from dpt_test import read_data, read_model, read_predictions
m = read_model(sys.argv[1])
X, y, _ = read_data(sys.argv[3])
acc = float(sys.argv[4])
h = (X.astype(np.float64) - m.mean) / m.std
for i in range(3):
    h = h @ m.tensors[f"0{i}_dense/weight"].T + m.tensors[f"0{i}_dense/bias"]
    h = np.maximum(h, 0) if i < 2 else 1 / (1 + np.exp(-h))
P, L = read_predictions(sys.argv[2])
y = y.reshape(-1)
assert P.shape == (113, 1) and L.shape == (113,), (P.shape, L.shape)
assert np.allclose(P, h, atol=1e-4), np.abs(P - h).max()
np_acc = ((h[:, 0] > 0.5) == (y > 0.5)).mean()
assert abs(np_acc - acc) < 1e-6, (np_acc, acc)
assert abs(((L == 1) == (y > 0.5)).mean() - np_acc) < 1e-9
print("numpy accuracy %.4f" % np_acc)
PY

summary
