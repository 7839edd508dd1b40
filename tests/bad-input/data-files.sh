# Cases of tests/bad_input_suite.sh: data sets of several files and column
# picks (data.train as a list or glob, data.x_columns, data.y_columns), and
# pandas files. Each refusal names the file or the pattern, and for the
# columns the key, its line in the model file and the dataset's width. That
# the accepted forms read right: tests/mpi/data_files_same_weights.sh and
# tests/data_columns_locks_pandas.sh.
mkdir -p data-files && cd data-files
"$PYTHON" - <<'PY'
import h5py
import numpy as np
import pandas as pd
rng = np.random.default_rng(1)
def write(name, X, y=None, key="X"):
    with h5py.File(name, "w") as f:
        f[key] = X
        if y is not None:
            f["y"] = y
X = rng.normal(size=(40, 5)).astype(np.float32)
y = rng.integers(0, 3, 40)
write("a.h5", X[:25], y[:25])
write("b.h5", X[25:], y[25:])
write("b-wide.h5", rng.normal(size=(15, 4)).astype(np.float32), y[25:])   # 4 features
write("b-f64.h5", X[25:].astype(np.float64), y[25:])                      # another dtype
write("b-y32.h5", X[25:], y[25:].astype(np.int32))                        # y's dtype
write("table.h5", np.hstack([X, y.reshape(-1, 1)]).astype(np.float32), key="data")
write("cube.h5", rng.normal(size=(40, 3, 2)).astype(np.float32), key="data")
df = pd.DataFrame(X.astype(np.float64), columns=list("abcde"))
df["label"] = y.astype(np.float64)
df.to_hdf("pandas-table.h5", key="df", format="table")
PY
cat > base.cfg <<'EOF2'
model = { layers = ( { type = "dense"; units = 3; activation = "softmax"; } );
          loss = "cce"; optimizer = "sgd"; };
train = { batch = 8; epochs = 1; seed = 1; };
EOF2
# dcfg NAME DATA-SETTINGS: a model file whose data section is on line 1.
dcfg() { printf 'data = { %s };\n' "$2" > "$1"; cat base.cfg >> "$1"; }

dcfg list.cfg 'train = ["a.h5", "b.h5"];'
accepted list-of-two dptrain train list.cfg --out m.h5 --overwrite --quiet
dcfg glob.cfg 'train = "[ab].h5";'
accepted glob-of-two dptrain train glob.cfg --out m.h5 --overwrite --quiet
dcfg cols.cfg 'train = "table.h5"; x = "data"; y_columns = [-1];'
accepted y-columns-last dptrain train cols.cfg --out m.h5 --overwrite --quiet

# Files that do not make one data set: the odd file is named, with what it
# holds and what the first file holds.
dcfg wide.cfg 'train = ["a.h5", "b-wide.h5"];'
refused files-other-width 1 "data.train: .*b-wide.h5 holds X \[N, 4\] float32, y \[N\] int64, but the data set's first file .*a.h5 holds X \[N, 5\] float32" \
    dptrain train wide.cfg --out m.h5
dcfg f64.cfg 'train = ["a.h5", "b-f64.h5"];'
refused files-other-x-dtype 1 "data.train: .*b-f64.h5 holds X \[N, 5\] float64, .* first file .*a.h5 holds X \[N, 5\] float32" \
    dptrain train f64.cfg --out m.h5
dcfg y32.cfg 'train = ["a.h5", "b-y32.h5"];'
refused files-other-y-dtype 1 "data.train: .*b-y32.h5 holds X \[N, 5\] float32, y \[N\] int32, .*a.h5 holds .*y \[N\] int64" \
    dptrain train y32.cfg --out m.h5
dcfg missing.cfg 'train = ["a.h5", "c.h5"];'
refused list-missing-file 1 "c.h5( \(resolved as .*/c.h5\))?: no such file" dptrain train missing.cfg --out m.h5
dcfg noglob.cfg 'train = "shards/part-*.h5";'
refused glob-matches-nothing 1 "data.train: no file matches the pattern '.*shards/part-\*.h5'" \
    dptrain train noglob.cfg --out m.h5
dcfg testglob.cfg 'train = "a.h5"; test = "none-*.h5";'
refused test-glob-matches-nothing 1 "data.test: no file matches the pattern '.*none-\*.h5'" \
    dptrain train testglob.cfg --out m.h5
dcfg empty.cfg 'train = [];'
refused empty-list 1 "empty.cfg:1: data: 'train' is an empty list" dptrain train empty.cfg --out m.h5
dcfg numbers.cfg 'train = ("a.h5", 2);'
refused list-not-strings 1 "numbers.cfg:1: data: 'train': item 2 is not a string" \
    dptrain train numbers.cfg --out m.h5

# Column picks: the key, its line and the dataset's width.
dcfg c-range.cfg 'train = "table.h5"; x = "data"; y_columns = [9];'
refused y-column-outside 1 "c-range.cfg:1: data.y_columns: column 9 is outside dataset 'data' of .*table.h5, which has 6 columns \(0 to 5, or -6 to -1\)" \
    dptrain train c-range.cfg --out m.h5
dcfg c-neg.cfg 'train = "table.h5"; x = "data"; y_columns = -7;'
refused y-column-negative-outside 1 "c-neg.cfg:1: data.y_columns: column -7 is outside dataset 'data' .* 6 columns" \
    dptrain train c-neg.cfg --out m.h5
dcfg c-xrange.cfg 'train = "table.h5"; x = "data"; x_columns = "0:8"; y_columns = [-1];'
refused x-range-outside 1 "c-xrange.cfg:1: data.x_columns: range \"0:8\" is outside dataset 'data' .* 6 columns" \
    dptrain train c-xrange.cfg --out m.h5
dcfg c-empty.cfg 'train = "table.h5"; x = "data"; x_columns = "3:1"; y_columns = [-1];'
refused x-range-empty 1 "c-empty.cfg:1: data.x_columns: range \"3:1\" selects no column of dataset 'data' .* 6 columns" \
    dptrain train c-empty.cfg --out m.h5
dcfg c-syntax.cfg 'train = "table.h5"; x = "data"; y_columns = "1:2:3";'
refused columns-syntax 1 "c-syntax.cfg:1: data.y_columns: expected a column index .* found \"1:2:3\"" \
    dptrain train c-syntax.cfg --out m.h5
dcfg c-float.cfg 'train = "table.h5"; x = "data"; y_columns = 1.5;'
refused columns-float 1 "c-float.cfg:1: data.y_columns: expected a column index .* found 1.5" \
    dptrain train c-float.cfg --out m.h5
dcfg c-twice.cfg 'train = "table.h5"; x = "data"; x_columns = ("0:3", 2); y_columns = [-1];'
refused column-twice 1 "c-twice.cfg:1: data.x_columns: column 2 of dataset 'data' is selected twice" \
    dptrain train c-twice.cfg --out m.h5
dcfg c-overlap.cfg 'train = "table.h5"; x = "data"; x_columns = "0:6"; y_columns = [-1];'
refused label-among-features 1 "c-overlap.cfg:1: data.x_columns: column 5 of dataset 'data' is a label column too" \
    dptrain train c-overlap.cfg --out m.h5
dcfg c-all.cfg 'train = "table.h5"; x = "data"; y_columns = ":";'
refused labels-take-every-column 1 "c-all.cfg:1: data.y_columns: takes every column of dataset 'data' of .*table.h5 \(6 columns\)" \
    dptrain train c-all.cfg --out m.h5
dcfg c-both.cfg 'train = "table.h5"; x = "data"; y = "y"; y_columns = [-1];'
refused y-and-y-columns 1 "c-both.cfg:1: data: give 'y' .* or 'y_columns' .*, not both" \
    dptrain train c-both.cfg --out m.h5
dcfg c-cube.cfg 'train = "cube.h5"; x = "data"; y_columns = [-1];'
refused columns-of-3d 1 "c-cube.cfg:1: data.y_columns: dataset 'data' of .*cube.h5 has shape \[40, 3, 2\]; columns are taken from a 2-D dataset" \
    dptrain train c-cube.cfg --out m.h5

# A table opened as X and y: the message points at the columns keys.
dcfg notx.cfg 'train = "table.h5";'
refused table-without-columns 1 "table.h5: no dataset 'X' \(found: data\); .*set data.x to its name and data.y_columns to the label column" \
    dptrain train notx.cfg --out m.h5
# pandas' table format: how to write it instead.
dcfg pandas.cfg 'train = "pandas-table.h5";'
refused pandas-table-format 1 "pandas-table.h5: no dataset 'X' \(found: df\); 'df' is a pandas DataFrame stored with format=\"table\".*h5py.*dptrain convert" \
    dptrain train pandas.cfg --out m.h5
dcfg pandas2.cfg 'train = "pandas-table.h5"; x = "df/table"; y_columns = [-1];'
refused pandas-table-dataset 1 "pandas-table.h5: dataset 'df/table' has dtype compound; .*'df' is a pandas DataFrame stored with format=\"table\"" \
    dptrain train pandas2.cfg --out m.h5
cd ..
