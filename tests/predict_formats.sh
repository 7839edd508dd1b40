#!/bin/sh
# dptrain predict --format csv and --format npy write what the HDF5 output
# of the same predict holds, for people who do not read HDF5:
#   1. a classifier of 3 classes (labels: argmax), a binary one (labels:
#      output > 0.5) and a regression of 2 targets (no labels) predict to
#      .h5 (the reference, read with h5py), .csv and .npy;
#   2. CSV: the header names pred_0.. and label, every value read back by
#      numpy as float32 is the HDF5 file's float32 exactly (9 digits), the
#      label column is /label; no label column without labels;
#   3. npy: numpy.load gives float32 [N, outputs] equal to /pred bit for
#      bit, and PRED.label.npy int32 [N] equal to /label; a regression
#      writes no label file.
. "${top_srcdir:?run me through make check}/tests/lib.sh"

data="$top_srcdir/data"
sed 's#"\.\./data/#"'"$data"'/#; s/epochs = [0-9]*/epochs = 3/' "$top_srcdir/examples/iris.cfg" > iris.cfg
small_model bin.cfg
dpt_test data reg-data.h5 --rows 200 --features 5 --seed 6 --kind regression --targets 2
cat > reg.cfg <<'CFG'
data = { train = "reg-data.h5"; standardize = true; standardize_y = true; };
model = { layers = ( { type = "dense"; units = 6; activation = "tanh"; }, { type = "dense"; units = 2; } );
          loss = "mse"; optimizer = { type = "adam"; learning_rate = 0.01; }; };
train = { batch = 20; epochs = 2; seed = 3; };
CFG
must dptrain train iris.cfg --out iris.h5 -q
must dptrain train bin.cfg --out bin.h5 -q
must dptrain train reg.cfg --out reg.h5 -q
dptrain eval reg.h5 reg-data.h5 > reg-eval.txt 2>&1
check "eval with standardize_y: the loss says it is of the standardized targets" \
    grep -q "^reg-data.h5: 200 samples  loss [0-9.]* (of the standardized targets)" reg-eval.txt
must dptrain train reg.cfg --out reg2.h5 --set data.test=reg-data.h5
check "train's test line: the loss's units, then mae and rmse as eval's" \
    grep -q "^test reg-data.h5: 200 samples  loss [0-9.]* (of the standardized targets)  mae [0-9.e+-]*  rmse " log
dptrain eval iris.h5 "$data/iris-test.h5" > iris-eval.txt 2>&1
check "... and without it nothing of the kind" ! grep -q "standardized" iris-eval.txt

# 1.-3. Each model, each format, against the HDF5 file of the same predict.
for m in iris:"$data/iris-test.h5" bin:train.h5 reg:reg-data.h5; do
    name=${m%%:*} file=${m#*:}
    must dptrain predict "$name.h5" "$file" --out "$name-p.h5"
    check "$name: --format csv writes $name-p.csv" \
        dptrain predict "$name.h5" "$file" --out "$name-p.csv" --format csv
    check "$name: --format npy writes $name-p.npy" \
        dptrain predict "$name.h5" "$file" --out "$name-p.npy" --format npy
    check "$name: the CSV holds the HDF5 file's /pred and /label exactly" \
        "$PYTHON" - "$name-p.h5" "$name-p.csv" <<'PY'
import sys, h5py, numpy as np
with h5py.File(sys.argv[1], "r") as f:
    pred = f["pred"][...]
    label = f["label"][...] if "label" in f else None
with open(sys.argv[2]) as f:
    header = f.readline().strip().split(",")
want = [f"pred_{j}" for j in range(pred.shape[1])] + (["label"] if label is not None else [])
assert header == want, f"header {header}, expected {want}"
rows = np.loadtxt(sys.argv[2], delimiter=",", skiprows=1, ndmin=2)
assert rows.shape == (pred.shape[0], len(want)), rows.shape
assert np.array_equal(rows[:, :pred.shape[1]].astype(np.float32), pred), "values differ"
if label is not None:
    assert np.array_equal(rows[:, -1].astype(np.int32), label), "labels differ"
print(f"{rows.shape[0]} rows, columns {','.join(header)}")
PY
    check "$name: the .npy files hold the HDF5 file's /pred and /label bit for bit" \
        "$PYTHON" - "$name-p.h5" "$name-p.npy" "$name-p.label.npy" <<'PY'
import os, sys, h5py, numpy as np
with h5py.File(sys.argv[1], "r") as f:
    pred = f["pred"][...]
    label = f["label"][...] if "label" in f else None
p = np.load(sys.argv[2])
assert p.dtype == np.float32 and p.shape == pred.shape, (p.dtype, p.shape)
assert p.tobytes() == pred.tobytes(), "values differ"
if label is None:
    assert not os.path.exists(sys.argv[3]), "a label file for a model without labels"
else:
    l = np.load(sys.argv[3])
    assert l.dtype == np.int32 and np.array_equal(l, label), (l.dtype, l.shape)
print(f"pred {p.shape} {p.dtype}" + ("" if label is None else f", label {label.shape}"))
PY
done

# 4. Without --format, an --out ending in .csv or .npy picks that format
#    (the same bytes as with --format); another name stays HDF5, and an
#    explicit --format wins over the name.
must dptrain predict iris.h5 "$data/iris-test.h5" --out by-name.csv
check "--out by-name.csv without --format: the same CSV as --format csv" cmp by-name.csv iris-p.csv
must dptrain predict iris.h5 "$data/iris-test.h5" --out by-name.npy
check "--out by-name.npy without --format: the same .npy as --format npy" cmp by-name.npy iris-p.npy
must dptrain predict iris.h5 "$data/iris-test.h5" --out forced.csv --format hdf5
check "--format hdf5 wins over a .csv name" "$PYTHON" -c 'import h5py, sys; h5py.File(sys.argv[1], "r")["pred"]' forced.csv
summary
