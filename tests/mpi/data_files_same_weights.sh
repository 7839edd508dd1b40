#!/bin/sh
# One data set, stored three ways, trains to the same weights, bit for bit,
# on 1 and on 3 ranks: one file; the same rows split into files of unequal
# sizes (data.train as a list, and as a glob); one table [N, F + 1] holding
# the features and the label as columns (data.x = "data";
# data.y_columns = [-1]). Standardization, shuffling and a validation split
# span the files: the sums of the statistics are taken in blocks of the
# whole set's rows, so they are the single file's to the bit.
. "${top_srcdir:?run me through make check}/tests/lib.sh"

# 9000 rows of 5 features and 3 classes, split into 3 files of 2500, 4 and
# 6496 rows: the statistics' blocks of 4096 rows and the windows of 1000
# rows cross the files' borders.
dpt_test data one.h5 --rows 9000 --features 5 --kind classes --classes 3
"$PYTHON" - <<'PY'
import os
import h5py
import numpy as np
src = h5py.File("one.h5", "r")
X, y = src["X"][:], src["y"][:]
os.mkdir("shards")
cuts = [0, 2500, 2504, 9000]
for i in range(3):
    with h5py.File(f"shards/part-{i}.h5", "w") as f:
        f["X"] = X[cuts[i]:cuts[i + 1]]
        f["y"] = y[cuts[i]:cuts[i + 1]]
# The table: X's columns, then the label as a float32 column.
with h5py.File("table.h5", "w") as f:
    f["data"] = np.hstack([X, y.reshape(-1, 1).astype(X.dtype)])
PY
model='model = { layers = ( { type = "dense"; units = 16; activation = "relu"; },
                           { type = "dense"; units = 3; activation = "softmax"; } );
                loss = "cce"; optimizer = { type = "adam"; learning_rate = 0.01; }; };
train = { batch = 64; epochs = 3; seed = 7; };'
common='standardize = true; shuffle = true; validation_split = 0.2; window_rows = 1000;'
printf 'data = { train = "one.h5"; %s };\n%s\n' "$common" "$model" > one.cfg
printf 'data = { train = ["shards/part-0.h5", "shards/part-1.h5", "shards/part-2.h5"]; %s };\n%s\n' \
    "$common" "$model" > list.cfg
printf 'data = { train = "shards/part-*.h5"; %s };\n%s\n' "$common" "$model" > glob.cfg
printf 'data = { train = "table.h5"; x = "data"; y_columns = [-1]; %s };\n%s\n' \
    "$common" "$model" > table.cfg

n=0
for np in 1 3; do
    for how in one list glob table; do
        must mpirun_np $np "$DPTRAIN" train $how.cfg --out $how-$np.h5 --quiet
    done
    for how in list glob table; do
        n=$((n + 1))
        check "$n. P=$np: data.train as $how trains to the weights of the one file, bit for bit" \
            dpt_test compare one-$np.h5 $how-$np.h5 --max-abs 0
    done
done

# 7. The control: the same files in another order are another data set
#    (the list's order is the rows' order), and the comparison sees it.
printf 'data = { train = ["shards/part-2.h5", "shards/part-0.h5", "shards/part-1.h5"]; %s };\n%s\n' \
    "$common" "$model" > reordered.cfg
must "$DPTRAIN" train reordered.cfg --out reordered.h5 --quiet
check "7. the files listed in another order train to other weights" \
    dpt_test compare one-1.h5 reordered.h5 --min-max-abs 1e-6

summary
