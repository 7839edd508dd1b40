#!/bin/sh
# dptrain inspect DATA.h5 describes a data file: every figure it prints in
# --format json is compared with numpy's on the same file (h5py reads it),
# and the layout with what h5py says. Model files are still checked as
# before.
. "${top_srcdir:?run me through make check}/tests/lib.sh"

# data.h5: X float32 [500, 6] with NaN and Inf in places, chunked and
# gzip-compressed; y int16 [500] labels; img uint8 [40, 4, 4, 3] in a group;
# big-endian float64 targets; an enum (numpy bool) dataset; X2 with its raw
# data in an external file; a string dataset (described, no statistics).
"$PYTHON" - <<'PY'
import h5py, numpy as np
rng = np.random.default_rng(4)
X = (rng.normal(size=(500, 6)) * [1, 100, 1e-3, 5, 1, 1] + [0, 1e4, 0, -3, 0, 0]).astype(np.float32)
X[3, 0] = np.nan; X[10, 0] = np.nan; X[7, 4] = np.inf; X[8, 4] = -np.inf; X[:, 5] = 2.5
with h5py.File("data.h5", "w") as f:
    f.create_dataset("X", data=X, chunks=(50, 6), compression="gzip", compression_opts=3)
    f.create_dataset("y", data=rng.integers(-1, 4, 500).astype(np.int16))
    f.create_dataset("images/img", data=rng.integers(0, 256, size=(40, 4, 4, 3), dtype=np.uint8))
    f.create_dataset("t", data=rng.normal(size=(500, 2)).astype(">f8"))
    f.create_dataset("flag", data=rng.integers(0, 2, 500).astype(bool))
    f.create_dataset("names", data=np.array([b"a", b"b"]))
    rng.normal(size=(30, 3)).astype("<f4").tofile("x2.raw")
    f.create_dataset("X2", shape=(30, 3), dtype="<f4", external=[("x2.raw", 0, 30 * 3 * 4)])
PY
check "1. inspect a data file" sh -c "'$DPTRAIN' inspect data.h5 > data.txt"
check "1. ... names every dataset and its layout" grep -q "^/X: float32 \[500, 6\], chunked \[50, 6\], deflate level 3" data.txt
check "1. ... external raw data said" grep -q "^/X2: float32 \[30, 3\], contiguous, external raw data" data.txt
must "$DPTRAIN" inspect data.h5 --format json
cp log all.json
check "2. every figure as numpy computes it" "$PYTHON" - <<'PY'
import json, h5py, numpy as np
d = json.load(open("all.json"))
assert d["kind"] == "data"
got = {s["name"]: s for s in d["datasets"]}
f = h5py.File("data.h5", "r")
names = []
f.visititems(lambda n, o: names.append("/" + n) if isinstance(o, h5py.Dataset) else None)
assert sorted(got) == sorted(names), (sorted(got), names)
def close(a, b):
    return np.isclose(a, b, rtol=1e-9, atol=1e-12 * max(1.0, abs(b)))
for name in names:
    ds, s = f[name], got[name]
    assert s["shape"] == list(ds.shape), name
    assert s["layout"] == ("chunked" if ds.chunks else "contiguous"), (name, s["layout"])
    assert s["chunk"] == (list(ds.chunks) if ds.chunks else None), name
    assert s["external"] == bool(ds.external), name
    if ds.dtype.kind not in "biuf":
        assert "columns" not in s, name
        continue
    v = ds[...].astype(np.float64).reshape(ds.shape[0], -1)
    assert len(s["columns"]) == v.shape[1], name
    for j, c in enumerate(s["columns"]):
        col = v[:, j]
        fin = col[np.isfinite(col)]
        assert c["nan"] == np.isnan(col).sum() and c["inf"] == np.isinf(col).sum(), (name, j)
        assert c["count"] == fin.size, (name, j)
        for key, want in [("min", fin.min()), ("max", fin.max()), ("mean", fin.mean()), ("std", fin.std())]:
            assert close(c[key], want), (name, j, key, c[key], want)
    if ds.dtype.kind in "biu" and v.shape[1] == 1:
        vals, counts = np.unique(v[:, 0].astype(np.int64), return_counts=True)
        assert s["labels"] == {str(a): int(b) for a, b in zip(vals, counts)}, (name, s["labels"])
assert got["/X"]["filters"] == "deflate level 3"
print("figures of", len(names), "datasets as numpy; NaN/Inf counted in X:",
      [(c["nan"], c["inf"]) for c in got["/X"]["columns"]])
PY

# 3. --sample N: about N rows in 64 evenly spread runs; the figures are
#    numpy's over exactly those rows.
must "$DPTRAIN" inspect data.h5 --sample 100 --format json
cp log sample.json
check "3. --sample 100: numpy's figures over the sampled runs" "$PYTHON" - <<'PY'
import json, h5py, numpy as np
s = {d["name"]: d for d in json.load(open("sample.json"))["datasets"]}["/t"]
v = h5py.File("data.h5", "r")["t"][...].astype(np.float64)
N, take, runs = 500, 100, 64
rows = []
for k in range(runs):
    first = int(float(k) * N / runs)
    n = take // runs + (1 if k < take % runs else 0)
    rows += range(first, first + min(n, N - first))
assert s["rows_read"] == len(rows) == 100 and s["sampled"], s["rows_read"]
for j, c in enumerate(s["columns"]):
    col = v[rows, j]
    assert np.isclose(c["mean"], col.mean(), rtol=1e-9) and np.isclose(c["std"], col.std(), rtol=1e-9)
    assert c["min"] == col.min() and c["max"] == col.max()
print("sampled", s["rows_read"], "rows")
PY
check "3. the text says it is a sample" sh -c "'$DPTRAIN' inspect data.h5 --sample 100 | grep -q 'statistics of a sample: 100 of 500 rows'"

# 4. A converted file, contiguous: the layout and the labels in text; the
#    columns by the names convert kept (X's attribute columns).
printf 'a,b,y\n1,2,0\n3,4,1\n5,6,1\n' > c.csv
must "$DPTRAIN" convert c.csv c.h5
check "4. a converted file: contiguous, labels counted" sh -c \
    "'$DPTRAIN' inspect c.h5 | tee c.txt | grep -q '^/X: float32 \[3, 2\], contiguous' && grep -q 'labels (2 distinct): 0: 1, 1: 2' c.txt"
check "4. the columns named by the CSV's header, in text" sh -c \
    "grep -q '^  0 a  *1  *5 ' c.txt && grep -q '^  1 b  *2  *6 ' c.txt"
check "4. ... and in JSON" sh -c "'$DPTRAIN' inspect c.h5 --format json > c.json && \
    '$PYTHON' -c 'import json; s = json.load(open(\"c.json\"))[\"datasets\"][0]; assert [c[\"name\"] for c in s[\"columns\"]] == [\"a\", \"b\"], s'"

# 5. Model files are inspected as before (checksum and all).
small_model m.cfg
must "$DPTRAIN" train m.cfg --out model.h5 --checkpoint ck.h5 -q
check "5. a model file: still the model's description" sh -c "'$DPTRAIN' inspect model.h5 | grep -q 'model.h5: model, 6 inputs -> 1 outputs'"
check "5. a checkpoint: checksum ok" sh -c "'$DPTRAIN' inspect ck.h5 | grep -q 'checksum ok'"
expect_exit 2 "--sample applies to data files" dptrain inspect model.h5 --sample 10

summary
