#!/bin/sh
# --deterministic makes the whole model file the same for any number of
# ranks and threads, not only the weights: the standardization statistics
# (standardize/mean, std, y_mean, y_std) come from exact sums (data/norm.c,
# dist/exact.h struct dpt_wide), where floating-point sums over each rank's
# block of rows differed in the last bits between 1, 2 and 3 ranks.
#
# Every dataset and every attribute of the files is compared byte for byte
# (a tolerance of zero). No field is excluded: a model file holds no time
# stamp, host name or rank count (/config is the model file's text with
# train.deterministic set, the same for every layout).
. "${top_srcdir:?run me through make check}/tests/lib.sh"

# Diabetes: inputs and targets standardized, inputs scaled (the scale is
# stored too), 353 rows. Digits: uint8 images [N, 8, 8], a pixel's mean
# and std each. Two epochs each are enough: the statistics come first.
sed -e 's|"\.\./data/|"'"$top_srcdir"'/data/|' -e 's/epochs = 20;/epochs = 2; deterministic = true;/' \
    "$top_srcdir/examples/diabetes.cfg" > diabetes.cfg
cat > digits.cfg <<CFG
data = { train = "$top_srcdir/data/digits-train.h5"; scale = 0.0625; standardize = true; };
model = {
  layers = ( { type = "flatten"; },
             { type = "dense"; units = 10; activation = "softmax"; } );
  loss = "cce";
  optimizer = { type = "adam"; learning_rate = 0.01; };
  metrics = [ "accuracy" ];
};
train = { batch = 64; epochs = 2; seed = 3; deterministic = true; };
CFG
check "diabetes.cfg is deterministic, 2 epochs" grep -q "epochs = 2; deterministic = true;" diabetes.cfg

# 1. P x T = 1x1, 2x1, 3x2 and 4x1 train each model.
for m in diabetes digits; do
    for pt in 1x1 2x1 3x2 4x1; do
        must mpirun_np "${pt%x*}" "$DPTRAIN" train $m.cfg --threads "${pt#*x}" --out "$m-$pt.h5"
    done
    ok "$m: trained on 1x1, 2x1, 3x2, 4x1"
done

# 2. Every dataset and attribute equal to 1x1's, bitwise; and the
#    statistics are those of the data, computed here in exact rational
#    arithmetic (Python's fractions) and rounded: within 2 ulps of the
#    double nearest (the quotient and the square root round once more).
cat > same.py <<'PY'
import sys
from fractions import Fraction
import h5py
import numpy as np

def items(path):
    out = {}
    def add(name, obj):
        for k, v in obj.attrs.items():
            out[f"{name}@{k}"] = np.asarray(v).tobytes() if not isinstance(v, str) else v
        if isinstance(obj, h5py.Dataset):
            v = obj[()]
            out[name] = v if isinstance(v, bytes) else np.asarray(v).tobytes()
    with h5py.File(path, "r") as f:
        add("/", f)
        f.visititems(add)
    return out

ref, bad = items(sys.argv[1]), 0
for other in sys.argv[2:]:
    got = items(other)
    for k in sorted(set(ref) | set(got)):
        if ref.get(k) != got.get(k):
            print(f"{other}: {k} differs from {sys.argv[1]}'s")
            bad += 1
print(f"{len(ref)} datasets and attributes compared")
sys.exit(1 if bad else 0)
PY
for m in diabetes digits; do
    check "$m: 2x1, 3x2, 4x1 files identical to 1x1's, every dataset and attribute" \
        "$PYTHON" same.py "$m-1x1.h5" "$m-2x1.h5" "$m-3x2.h5" "$m-4x1.h5"
done

cat > stats.py <<'PY'
import sys
from fractions import Fraction
import math
import h5py
import numpy as np

model, data, scale = sys.argv[1], sys.argv[2], Fraction(sys.argv[3])
with h5py.File(data, "r") as f:
    arrays = {"": f["X"][...].reshape(len(f["X"]), -1).astype(np.float32),
              "y_": f["y"][...].reshape(len(f["y"]), -1).astype(np.float32)}
worst = 0
with h5py.File(model, "r") as m:
    st = m["standardize"]
    for pre, a in arrays.items():
        if pre + "mean" not in st:
            continue
        s = scale if pre == "" else Fraction(1)
        n = a.shape[0]
        for j in range(a.shape[1]):
            col = [Fraction(float(v)) for v in a[:, j]]
            if min(col) == max(col):
                continue
            mean = sum(col) / n
            var = sum((v - mean) ** 2 for v in col) / n
            want_mean = float(mean * s)
            want_std = math.sqrt(float(var)) * float(s)
            for got, want in ((st[pre + "mean"][j], want_mean), (st[pre + "std"][j], want_std)):
                ulps = abs(got - want) / math.ulp(want) if want else abs(got)
                worst = max(worst, ulps)
print(f"largest error {worst:g} ulp")
sys.exit(0 if worst <= 2 else 1)
PY
check "diabetes: mean, std, y_mean, y_std within 2 ulp of exact arithmetic" \
    "$PYTHON" stats.py diabetes-3x2.h5 "$top_srcdir/data/diabetes-train.h5" 1
check "digits: mean, std (scale 1/16) within 2 ulp of exact arithmetic" \
    "$PYTHON" stats.py digits-4x1.h5 "$top_srcdir/data/digits-train.h5" 0.0625

summary
