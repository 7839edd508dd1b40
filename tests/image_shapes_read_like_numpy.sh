#!/bin/sh
# X of rank 2, 3 and 4 ([N, F], [N, H, W], [N, H, W, C]) in uint8, int16,
# float32 and float64, written by h5py, reads as numpy reads it: each row
# the sample's values flat in the file's order, converted to float32, on
# both read paths (pread of a contiguous dataset; HDF5 for gzip chunks that
# cut through rows and images), for scattered rows and for a range. The
# sample shape is [F], [H, W, 1] or [H, W, C]. Ranks 1 and 5 are refused
# with a message that says what was expected, by the library and by
# dptrain train.
. "${top_srcdir:?run me through make check}/tests/lib.sh"

dump="$top_builddir/tests/data_dump"

# The files: random values over each integer type's whole range, random
# floats of both signs; labels 0..9. Chunks of 7 rows, cut in the middle of
# an image's height, so that HDF5 assembles rows from several chunks.
must "$PYTHON" - <<'PY'
import h5py
import numpy as np
rng = np.random.default_rng(11)
N = 300
shapes = {"r2": (13,), "r3": (5, 4), "r4": (5, 4, 3)}
for lay, shape in shapes.items():
    for dt in ("uint8", "int16", "float32", "float64"):
        if dt.startswith(("uint", "int")):
            info = np.iinfo(dt)
            X = rng.integers(info.min, info.max, (N,) + shape, dtype=dt, endpoint=True)
        else:
            X = (rng.standard_normal((N,) + shape) * 1000).astype(dt)
        y = rng.integers(0, 10, N).astype(np.int32)
        for store in ("contiguous", "chunked"):
            with h5py.File(f"{lay}-{dt}-{store}.h5", "w") as f:
                if store == "chunked":
                    chunks = (7,) + shape if len(shape) == 1 else (7, 2) + shape[1:]
                    f.create_dataset("X", data=X, chunks=chunks, compression="gzip")
                else:
                    f["X"] = X
                f["y"] = y
with h5py.File("ranks.h5", "w") as f:
    f["x1"] = np.zeros(6, np.float32)
    f["x5"] = np.zeros((6, 2, 2, 2, 2), np.float32)
    f["y"] = np.zeros(6, np.int32)
PY

# compare.py FILE STORE: runs data_dump on scattered rows (runs, single rows,
# long gaps, the last row) and on a range, and compares every value, the
# labels, the sample shape, the feature count and the read path.
cat > compare.py <<'PY'
import subprocess, sys
import h5py
import numpy as np
path, store, dump = sys.argv[1], sys.argv[2], sys.argv[3]
with h5py.File(path, "r") as f:
    X, y = f["X"][...], f["y"][...]
N, shape = X.shape[0], X.shape[1:]
want_shape = [1, shape[0], 0, 0] if len(shape) == 1 else \
             [3, shape[0], shape[1], shape[2] if len(shape) == 3 else 1]
rows = sorted(set(list(range(3, 40)) + list(range(50, 200, 3)) + [250, N - 1]))
for arg, idx in ((",".join(map(str, rows)), rows), ("100+57", list(range(100, 157)))):
    out = subprocess.run([dump, path, "X", "y", arg], capture_output=True, text=True,
                         check=True).stdout.splitlines()
    head = out[0].split()
    got_shape = [int(v) for v in head[1:5]]
    assert got_shape == want_shape, (got_shape, want_shape)
    assert int(head[6]) == int(np.prod(shape)), head
    assert int(head[8]) == N, head
    assert int(head[10]) == (store == "contiguous"), ("direct", head[10], store)
    xs = np.array([[np.float32(v) for v in l.split()[1:]] for l in out[1::2]], np.float32)
    ys = np.array([float(l.split()[1]) for l in out[2::2]])
    want = X[idx].reshape(len(idx), -1).astype(np.float32)
    assert xs.shape == want.shape, (xs.shape, want.shape)
    assert np.array_equal(xs.view(np.uint32), want.view(np.uint32)), \
        np.argwhere(xs != want)[:5]
    assert np.array_equal(ys, y[idx].astype(np.float64)), "labels"
print(f"{path}: shape {want_shape}, {len(rows)} rows and a range of 57 equal numpy's")
PY

# 1-24. Every layout, dtype and read path.
for lay in r2 r3 r4; do
    for dt in uint8 int16 float32 float64; do
        for store in contiguous chunked; do
            check "$lay $dt $store: rows, labels and shape as numpy reads them" \
                "$PYTHON" compare.py "$lay-$dt-$store.h5" "$store" "$dump"
        done
    done
done

# 25-26. Ranks 1 and 5 are refused, with what was expected and what was found.
expected='expected 2 to 4 dimensions \[N, features\], \[N, H, W\] or \[N, H, W, C\]'
expect_error "ranks.h5: dataset 'x1': $expected, found 1 dimension$" \
    "$dump" ranks.h5 x1 y 0+1
expect_error "ranks.h5: dataset 'x5': $expected, found 5 dimensions$" \
    "$dump" ranks.h5 x5 y 0+1

# 27. dptrain train says the same about its training file.
cat > m.cfg <<'CFG'
data = { train = "ranks.h5"; x = "x5"; };
model = { layers = ( { type = "dense"; units = 2; activation = "softmax"; } );
          loss = "cce"; optimizer = "sgd"; };
train = { epochs = 1; batch = 2; };
CFG
expect_error "ranks.h5: dataset 'x5': $expected, found 5 dimensions" \
    dptrain train m.cfg --out m.h5
summary
