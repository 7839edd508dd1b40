#!/bin/sh
# Data files as people have them: a table whose features and labels are
# columns of one dataset (data.x_columns, data.y_columns), a file another
# program holds locked (dptrain opens it without HDF5's file lock when the
# lock fails, as on Lustre or NFS without flock), and DataFrames written by
# pandas (the fixed format is read through its block0_values; the table
# format is refused with how to write it instead).
. "${top_srcdir:?run me through make check}/tests/lib.sh"

dpt_test data xy.h5 --rows 600 --features 5 --kind classes --classes 3
"$PYTHON" - <<'PY'
import h5py
import numpy as np
import pandas as pd
src = h5py.File("xy.h5", "r")
X, y = src["X"][:], src["y"][:]
# [label, f0 .. f4, a column that is neither]: numpy's own slicing says
# what x_columns = "1:-1" and y_columns = [0] must read.
junk = np.arange(len(X), dtype=X.dtype).reshape(-1, 1)
with h5py.File("table.h5", "w") as f:
    f["data"] = np.hstack([y.reshape(-1, 1).astype(X.dtype), X, junk])
# pandas: float64 columns f0..f4 and the label last, in both formats.
df = pd.DataFrame(X.astype(np.float64), columns=[f"f{j}" for j in range(X.shape[1])])
df["label"] = y.astype(np.float64)
df.to_hdf("fixed.h5", key="df")
df.to_hdf("frame_table.h5", key="df", format="table")
df.astype({"label": np.int64}).to_hdf("mixed.h5", key="df")
PY
model='model = { layers = ( { type = "dense"; units = 8; activation = "relu"; },
                           { type = "dense"; units = 3; activation = "softmax"; } );
                loss = "cce"; optimizer = { type = "adam"; learning_rate = 0.01; }; };
train = { batch = 32; epochs = 2; seed = 3; };'
cfg() { printf 'data = { %s standardize = true; };\n%s\n' "$2" "$model" > "$1"; }
cfg xy.cfg 'train = "xy.h5";'
cfg cols.cfg 'train = "table.h5"; x = "data"; x_columns = "1:-1"; y_columns = [0];'
cfg fixed.cfg 'train = "fixed.h5"; x = "df/block0_values"; y_columns = -1;'
must "$DPTRAIN" train xy.cfg --out xy-model.h5 --quiet

# 1. Columns 1..5 of the table as X and column 0 as y are the X and y of
#    xy.h5: the same weights, bit for bit.
must "$DPTRAIN" train cols.cfg --out cols-model.h5 --quiet
check "1. x_columns = \"1:-1\", y_columns = [0] train as X and y stored apart" \
    dpt_test compare xy-model.h5 cols-model.h5 --max-abs 0

# 2. eval and predict of the columns model read the table's columns too:
#    the predictions equal those of the X/y model on xy.h5.
must "$DPTRAIN" predict xy-model.h5 xy.h5 --out p-xy.h5
must "$DPTRAIN" predict cols-model.h5 table.h5 --out p-cols.h5
check "2. predict on the table picks the model's columns" "$PYTHON" - <<'PY'
import h5py, numpy as np
a = h5py.File("p-xy.h5", "r"); b = h5py.File("p-cols.h5", "r")
for k in a:
    if isinstance(a[k], h5py.Dataset):
        assert np.array_equal(a[k][()], b[k][()]), k
print("same predictions:", list(a))
PY
check "3. eval of the columns model on the table reports a loss" \
    sh -c '"$DPTRAIN" eval cols-model.h5 table.h5 | grep -E "loss [0-9.]+"'

# 4. A file that another program holds an exclusive flock on: HDF5 with
#    file locking cannot open it (shown with h5py and
#    HDF5_USE_FILE_LOCKING=TRUE), dptrain trains on it all the same.
check "4. dptrain trains on a file another process holds an exclusive lock on" \
    env -u HDF5_USE_FILE_LOCKING "$PYTHON" - "$DPTRAIN" <<'PY'
import fcntl, os, subprocess, sys
held = open("xy.h5", "rb")
fcntl.flock(held, fcntl.LOCK_EX | fcntl.LOCK_NB)
probe = subprocess.run([sys.executable, "-c", "import h5py; h5py.File('xy.h5', 'r')"],
                       env=dict(os.environ, HDF5_USE_FILE_LOCKING="TRUE"),
                       capture_output=True, text=True)
assert probe.returncode != 0 and "lock" in probe.stderr, "the lock does not bite: " + probe.stderr
r = subprocess.run([sys.argv[1], "train", "xy.cfg", "--out", "locked-model.h5", "--quiet"],
                   capture_output=True, text=True)
print(r.stdout, r.stderr)
assert r.returncode == 0, r.returncode
PY
check "5. ... and to the same weights" dpt_test compare xy-model.h5 locked-model.h5 --max-abs 0

# 6. pandas' fixed format (df.to_hdf(path, key="df")): its block0_values
#    with y_columns = -1 train as xy.h5 does.
must "$DPTRAIN" train fixed.cfg --out fixed-model.h5 --quiet
check "6. a pandas fixed-format file trains through df/block0_values" \
    dpt_test compare xy-model.h5 fixed-model.h5 --max-abs 0

# 7-9. What the messages say about pandas files opened with data.x = "X".
#    eval names its own option, --x, not the model file's data.x (which
#    eval has no way to set), and following it works.
expect_error "fixed.h5: no dataset 'X' (found: df); 'df' is a pandas DataFrame (fixed format).*data.x = \"df/block0_values\".*data.y_columns" \
    "$DPTRAIN" train xy.cfg --set data.train=fixed.h5 --out x.h5
expect_error "fixed.h5: no dataset 'X' (found: df); 'df' is a pandas DataFrame (fixed format).*so give --x df/block0_values (its label columns are read as the model's data.y_columns says)\$" \
    "$DPTRAIN" eval xy-model.h5 fixed.h5
expect_exit 0 "fixed.h5: 600 samples" "$DPTRAIN" eval fixed-model.h5 fixed.h5 --x df/block0_values
expect_error "frame_table.h5: no dataset 'X' (found: df); 'df' is a pandas DataFrame stored with format=\"table\".*h5py.*dptrain convert IN.csv OUT.h5" \
    "$DPTRAIN" train xy.cfg --set data.train=frame_table.h5 --out x.h5
expect_error "mixed.h5: no dataset 'X' (found: df); 'df' is a pandas DataFrame whose columns pandas stored in several arrays by dtype" \
    "$DPTRAIN" train xy.cfg --set data.train=mixed.h5 --out x.h5

summary
