#!/bin/sh
# The shipped examples reach their figures (iris test accuracy >= 0.93,
# diabetes test R2 >= 0.40; breast cancer is tutorial_breast_cancer.sh), on 2
# ranks, and eval's metrics equal the ones computed by hand (numpy) from the
# predictions: accuracy, precision/recall/F1, top-k, confusion matrix, MAE,
# RMSE, R2.
set -eu
: "${DPTRAIN:?} ${MPIRUN:?} ${top_srcdir:?}"
tmp=$(mktemp -d /tmp/dpt-ex.XXXXXX)
fail() { echo "FAIL: $*"; exit 1; }
for m in iris diabetes breast_cancer; do
    "$MPIRUN" --oversubscribe -np 2 "$DPTRAIN" train "$top_srcdir/examples/$m.cfg" --quiet \
        --out "$tmp/$m.h5" > "$tmp/log" 2>&1 || { cat "$tmp/log"; fail "train $m"; }
    "$DPTRAIN" eval "$tmp/$m.h5" "$top_srcdir/data/$m-test.h5" --format json > "$tmp/$m.json"
    "$DPTRAIN" eval "$tmp/$m.h5" "$top_srcdir/data/$m-test.h5" > "$tmp/$m.txt"
    "$DPTRAIN" predict "$tmp/$m.h5" "$top_srcdir/data/$m-test.h5" --out "$tmp/$m-pred.h5" > /dev/null
    cat "$tmp/$m.json"
done
grep -q "confusion matrix" "$tmp/iris.txt" || fail "no confusion matrix in eval's text"
/usr/bin/python3 - "$tmp" "$top_srcdir/data" <<'PY'
import json, sys, h5py, numpy as np
tmp, data = sys.argv[1], sys.argv[2]
def load(m):
    r = json.load(open(f"{tmp}/{m}.json"))
    with h5py.File(f"{tmp}/{m}-pred.h5", "r") as p, h5py.File(f"{data}/{m}-test.h5", "r") as t:
        return r, p["pred"][...].astype(np.float64), t["y"][...]
close = lambda a, b: abs(a - b) <= 1e-6 * max(1.0, abs(b))

r, P, y = load("iris")
assert r["accuracy"] >= 0.93, f"iris test accuracy {r['accuracy']} < 0.93"
truth, guess = y.astype(int), P.argmax(1)
assert close(r["accuracy"], (truth == guess).mean())
conf = np.zeros((3, 3), int)
np.add.at(conf, (truth, guess), 1)
assert r["confusion"] == conf.tolist(), (r["confusion"], conf)
topk = np.mean([(P[i] > P[i, truth[i]]).sum() < 2 for i in range(len(y))])
assert close(r["top2_accuracy"], topk)

r, P, y = load("breast_cancer")
a, p = (y[:, 0] > 0.5), (P[:, 0] > 0.5)
tp, fp, fn = (a & p).sum(), (~a & p).sum(), (a & ~p).sum()
prec, rec = tp / (tp + fp), tp / (tp + fn)
assert close(r["precision"], prec) and close(r["recall"], rec) and close(r["f1"], 2 * prec * rec / (prec + rec))
assert r["confusion"] == [[int((~a & ~p).sum()), int(fp)], [int(fn), int(tp)]]

r, P, y = load("diabetes")
e = P[:, 0] - y[:, 0]
r2 = 1 - (e ** 2).sum() / ((y[:, 0] - y[:, 0].mean()) ** 2).sum()
assert r["r2"] >= 0.40, f"diabetes test R2 {r['r2']} < 0.40"
assert close(r["mae"], np.abs(e).mean()) and close(r["rmse"], np.sqrt((e ** 2).mean()))
assert abs(r["r2"] - r2) < 1e-6, (r["r2"], r2)
print(f"iris accuracy {load('iris')[0]['accuracy']:.4f}, diabetes r2 {r['r2']:.4f}: metrics match numpy")
PY
rm -rf "$tmp"
echo "PASS examples"
