#!/bin/sh
# dptrain convert: what it writes is what pandas and numpy read from the
# same input, and dptrain trains on it. Each numbered case states what it
# expects; the expected values always come from pandas/numpy/h5py, never
# from dptrain. Refusals are cases of tests/bad-input/convert.sh.
. "${top_srcdir:?run me through make check}/tests/lib.sh"

# compare CSV OUT.h5 [pandas read_csv keyword arguments] [-- LABEL [int|float]]:
# X and y of OUT.h5 equal pandas' reading of CSV: features as float32 of
# pandas' float64 (round_trip: correctly rounded, as strtod), the label
# column (by name or position; default the last) as int64 or float32.
compare() {
    "$PYTHON" - "$@" <<'PY'
import sys, h5py, numpy as np, pandas as pd
csv, out, kw, label, ltype = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5]
df = pd.read_csv(csv, float_precision="round_trip", **eval("dict(%s)" % kw))
if label == "none":
    Xw, yw = df.to_numpy(np.float64), None
else:
    col = df.columns[int(label)] if label.lstrip("-").isdigit() else label
    yw, Xw = df[col].to_numpy(), df.drop(columns=[col]).to_numpy(np.float64)
with h5py.File(out, "r") as f:
    X = f["X"][...]
    assert X.dtype == np.float32, X.dtype
    assert X.shape == Xw.shape, (X.shape, Xw.shape)
    assert np.array_equal(X, Xw.astype(np.float32)), "X differs"
    if yw is None:
        assert "y" not in f
    else:
        y = f["y"][...]
        want = np.int64 if ltype == "int" else np.float32
        assert y.dtype == want, (y.dtype, want)
        assert np.array_equal(y, yw.astype(want)), "y differs"
print("same as pandas: X", X.shape, "y", None if yw is None else y.dtype)
PY
}

# 1. A header, quoted fields (a delimiter, a doubled quote and a line break
#    inside quotes), CRLF line ends, a blank line, spaces around numbers.
printf 'a,"b, the second","c ""q""\nx",label\r\n1.5, 2 ,"3",0\r\n\r\n-4e-3,5.25,"6",1\r\n7,8,9,2\r\n' > quoted.csv
check "1. quotes, CRLF, blank lines" "$DPTRAIN" convert quoted.csv quoted.h5
check "1. the same values as pandas.read_csv" compare quoted.csv quoted.h5 "" -1 int
# A UTF-8 byte order mark (Excel's) before the header, or before a number.
printf '\357\273\277a,b,y\n1,2,0\n3,4,1\n' > bom.csv
printf '\357\273\2771,2,0\n3,4,1\n' > bomnum.csv
check "1. a byte order mark before the header" "$DPTRAIN" convert bom.csv bom.h5 --label y
check "1. ... the header's first name without it, as pandas" compare bom.csv bom.h5 "" y int
check "1. a byte order mark before a number: no header detected" "$DPTRAIN" convert bomnum.csv bomnum.h5
check "1. ... as pandas" compare bomnum.csv bomnum.h5 "header=None" -1 int

# 2. Random data with and without a header; the header detected, or forced.
"$PYTHON" - <<'PY'
import numpy as np
rng = np.random.default_rng(1)
X = rng.normal(size=(300, 5)) * [1, 10, 1e-3, 1e5, 1]
y = rng.integers(0, 4, 300)
t = rng.normal(size=300)
def write(path, head, sep=",", target=y, fmt=repr):
    with open(path, "w") as f:
        if head:
            f.write(sep.join(["f%d" % i for i in range(5)] + ["target"]) + "\n")
        for r, l in zip(X, target):
            f.write(sep.join([fmt(float(v)) for v in r] + [fmt(l) if target is t else str(l)]) + "\n")
write("head.csv", True)
write("nohead.csv", False)
write("semi.csv", True, sep=";")
write("tab.csv", True, sep="\t")
write("float.csv", True, target=t)
# a label in the middle, by name: column "f2"
PY
check "2. header detected" "$DPTRAIN" convert head.csv head.h5
check "2. header: as pandas" compare head.csv head.h5 "" -1 int
check "2. no header detected" "$DPTRAIN" convert nohead.csv nohead.h5
check "2. no header: as pandas (header=None)" compare nohead.csv nohead.h5 "header=None" -1 int
check "2. --header forced on the file with one" "$DPTRAIN" convert head.csv head2.h5 --header
check "2. --no-header on a numeric first row" "$DPTRAIN" convert nohead.csv nohead2.h5 --no-header
check "2. --no-header: as pandas" compare nohead.csv nohead2.h5 "header=None" -1 int

# 3. Delimiters.
check "3. --delimiter ';'" "$DPTRAIN" convert semi.csv semi.h5 --delimiter ';'
check "3. ';': as pandas" compare semi.csv semi.h5 "sep=';'" -1 int
check "3. --delimiter tab" "$DPTRAIN" convert tab.csv tab.h5 --delimiter tab
check "3. tab: as pandas" compare tab.csv tab.h5 "sep='\t'" -1 int

# 4. The label column by name, by index, from the end; none.
check "4. --label f2 (a float column, by name)" "$DPTRAIN" convert head.csv byname.h5 --label f2
check "4. by name: as pandas, float32 labels" compare head.csv byname.h5 "" f2 float
check "4. --label 0" "$DPTRAIN" convert head.csv byindex.h5 --label 0
check "4. index 0: as pandas" compare head.csv byindex.h5 "" 0 float
check "4. --label -1" "$DPTRAIN" convert nohead.csv neg.h5 --label -1
check "4. index -1: as pandas" compare nohead.csv neg.h5 "header=None" -1 int
check "4. --no-label" "$DPTRAIN" convert head.csv nolabel.h5 --no-label
check "4. no label: every column in X" compare head.csv nolabel.h5 "" none int

# 5. Label types: float labels detected; forced either way.
check "5. float labels" "$DPTRAIN" convert float.csv float.h5
check "5. float labels: float32 as pandas" compare float.csv float.h5 "" -1 float
check "5. --label-type float on integer labels" "$DPTRAIN" convert head.csv lf.h5 --label-type float
check "5. forced float: as pandas" compare head.csv lf.h5 "" -1 float
printf 'a,b\n1,2.0\n3,-1.0\n' > intf.csv
check "5. --label-type int on labels written 2.0" "$DPTRAIN" convert intf.csv intf.h5 --label-type int
check "5. forced int: as pandas" compare intf.csv intf.h5 "" -1 int

# 6. Missing values filled: with a value, and with the column's mean
#    (pandas: fillna(value) and fillna(mean of the values present)).
printf 'a,b,c,y\n1,,3,0\nNA,5,6,1\n7,8,nan,0\n10,NaN,12,1\n' > missing.csv
check "6. --fill-missing 0" "$DPTRAIN" convert missing.csv fill0.h5 --fill-missing 0
check "6. --fill-missing mean" "$DPTRAIN" convert missing.csv fillmean.h5 --fill-missing mean
check "6. the filled values are pandas' fillna" "$PYTHON" - <<'PY'
import h5py, numpy as np, pandas as pd
df = pd.read_csv("missing.csv")
X = df.drop(columns=["y"])
for out, want in [("fill0.h5", X.fillna(0)), ("fillmean.h5", X.fillna(X.mean()))]:
    got = h5py.File(out, "r")["X"][...]
    assert np.allclose(got, want.to_numpy(np.float32), rtol=1e-7, atol=0), (out, got, want)
print("fillna(0) and fillna(mean) as pandas")
PY

# 7. numpy: .npy (X, and y from --y-file), .npz stored and compressed, and
#    dtypes: big-endian, float16 (to float32), bool (to uint8), uint8 images.
"$PYTHON" - <<'PY'
import numpy as np
rng = np.random.default_rng(2)
X = rng.normal(size=(50, 3)).astype(np.float32)
y = rng.integers(0, 3, 50)
img = rng.integers(0, 256, size=(50, 6, 5, 2), dtype=np.uint8)
np.save("X.npy", X); np.save("y.npy", y)
np.savez("plain.npz", X=X, y=y)
np.savez_compressed("packed.npz", X=X.astype(">f8"), y=y.astype(">i4"))
np.savez("pos.npz", img, rng.normal(size=50))                 # arr_0, arr_1
np.savez("named.npz", feats=X.astype(np.float16), target=y.astype(bool))
PY
check "7. .npy with --y-file" "$DPTRAIN" convert X.npy npy.h5 --y-file y.npy
check "7. .npz (np.savez)" "$DPTRAIN" convert plain.npz plain.h5
check "7. .npz (np.savez_compressed, big-endian)" "$DPTRAIN" convert packed.npz packed.h5
check "7. .npz positional arrays (arr_0, arr_1)" "$DPTRAIN" convert pos.npz pos.h5
check "7. .npz named with --x/--y, float16 and bool" "$DPTRAIN" convert named.npz named.h5 --x feats --y target
check "7. every array as numpy reads it" "$PYTHON" - <<'PY'
import h5py, numpy as np
def same(out, X, y, xdt, ydt):
    f = h5py.File(out, "r")
    assert f["X"].dtype == xdt and f["y"].dtype == ydt, (out, f["X"].dtype, f["y"].dtype)
    assert np.array_equal(f["X"][...], X.astype(xdt)), out
    assert np.array_equal(f["y"][...], y.astype(ydt)), out
X, y = np.load("X.npy"), np.load("y.npy")
same("npy.h5", X, y, np.float32, np.int64)
same("plain.h5", X, y, np.float32, np.int64)
p = np.load("packed.npz"); same("packed.h5", p["X"], p["y"], np.float64, np.int32)
p = np.load("pos.npz"); same("pos.h5", p["arr_0"], p["arr_1"], np.uint8, np.float64)
p = np.load("named.npz"); same("named.h5", p["feats"], p["target"], np.float32, np.uint8)
print("npy/npz: values and dtypes as numpy")
PY

# 8. Chunked and compressed output, as asked; the values unchanged.
check "8. --chunk-rows 64" "$DPTRAIN" convert head.csv chunked.h5 --chunk-rows 64
check "8. --compress 6" "$DPTRAIN" convert head.csv gz.h5 --compress 6
check "8. --compress 4 --chunk-rows 7 (npz)" "$DPTRAIN" convert pos.npz gz7.h5 --compress 4 --chunk-rows 7
check "8. layouts as h5py sees them" "$PYTHON" - <<'PY'
import h5py, numpy as np
ref = h5py.File("head.h5", "r")
assert ref["X"].chunks is None and ref["X"].compression is None
c = h5py.File("chunked.h5", "r")
assert c["X"].chunks == (64, 5) and c["X"].compression is None, c["X"].chunks
g = h5py.File("gz.h5", "r")
assert g["X"].compression == "gzip" and g["X"].compression_opts == 6 and g["X"].chunks
assert g["y"].compression == "gzip"
g7 = h5py.File("gz7.h5", "r")
assert g7["X"].chunks == (7, 6, 5, 2) and g7["X"].compression_opts == 4
for f in (c, g):
    assert np.array_equal(f["X"][...], ref["X"][...]) and np.array_equal(f["y"][...], ref["y"][...])
assert np.array_equal(g7["X"][...], np.load("pos.npz")["arr_0"])
print("contiguous by default; chunks", c["X"].chunks, "gzip", g["X"].chunks)
PY

# 9. dptrain trains on a converted file, and eval reads it.
cat > m.cfg <<'EOF'
data = { train = "head.h5"; standardize = true; };
model = {
  layers = ( { type = "dense"; units = 8; activation = "relu"; },
             { type = "dense"; units = 4; activation = "softmax"; } );
  loss = "cce";
  optimizer = { type = "adam"; learning_rate = 0.01; };
};
train = { batch = 30; epochs = 3; seed = 1; };
EOF
check "9. train on the converted CSV" "$DPTRAIN" train m.cfg --out model.h5 -q
check "9. eval on the gzip-compressed conversion" "$DPTRAIN" eval model.h5 gz.h5

# 10. The output: an existing file is kept without --overwrite; a failed
#     conversion (a bad row near the end) leaves neither OUT nor a
#     temporary file; --overwrite replaces.
cp head.h5 keep.h5
before=$(cksum < keep.h5)
check "10. an existing OUT is refused" ! "$DPTRAIN" convert float.csv keep.h5
check "10. ... and left as it was" test "$before" = "$(cksum < keep.h5)"
{ cat head.csv; echo "1,2,3,4,oops,1"; } > badtail.csv
check "10. a bad last row is refused" ! "$DPTRAIN" convert badtail.csv bad.h5
check "10. ... leaving no bad.h5 and no temporary file" sh -c '! ls bad.h5* 2>/dev/null | grep -q .'
check "10. --overwrite replaces" "$DPTRAIN" convert float.csv keep.h5 --overwrite
check "10. ... with the new data" compare float.csv keep.h5 "" -1 float
check "10. no temporary files left anywhere" sh -c '! ls *.tmp-* 2>/dev/null | grep -q .'

# 11. Text labels are classes 0..K-1 in byte order of their names (pandas'
#     Categorical with sorted categories), the same numbering for a train
#     and a test file converted apart; --classes fixes the list and order.
#     The names are y's attribute `classes`, printed, and in inspect's
#     label counts.
"$PYTHON" - <<'PY'
import numpy as np, pandas as pd
rng = np.random.default_rng(3)
names = np.array(["virginica", "setosa", "Versicolor", "setosa-2"])
for path, n in [("iris_train.csv", 60), ("iris_test.csv", 25)]:
    df = pd.DataFrame(rng.normal(size=(n, 3)), columns=["a", "b", "c"])
    df["species"] = names[rng.permutation(np.arange(n) % 4)]
    df.to_csv(path, index=False)
PY
if "$DPTRAIN" convert iris_train.csv iris_train.h5 > classes.out 2>&1; then rc=0; else rc=$?; fi
check "11. text labels converted" test $rc = 0
check "11. iris_test.csv converted apart" "$DPTRAIN" convert iris_test.csv iris_test.h5 -q
check "11. --classes in a fixed order" "$DPTRAIN" convert iris_train.csv fixed.h5 -q --classes "virginica,setosa,setosa-2,Versicolor,unused"
"$DPTRAIN" inspect iris_train.h5 > classes.inspect 2>&1 || :
check "11. y, classes, the printed mapping and inspect's counts as pandas" "$PYTHON" - <<'PY'
import h5py, numpy as np, pandas as pd
def codes(path, cats):
    return pd.Categorical(pd.read_csv(path)["species"], categories=cats).codes.astype(np.int64)
cats = sorted(pd.read_csv("iris_train.csv")["species"].unique(), key=lambda s: s.encode())
for out, path, want in [("iris_train.h5", "iris_train.csv", cats), ("iris_test.h5", "iris_test.csv", cats),
                        ("fixed.h5", "iris_train.csv",
                         ["virginica", "setosa", "setosa-2", "Versicolor", "unused"])]:
    f = h5py.File(out, "r")
    assert f["y"].dtype == np.int64, f["y"].dtype
    assert list(f["y"].attrs["classes"]) == want, (out, list(f["y"].attrs["classes"]), want)
    assert np.array_equal(f["y"][...], codes(path, want)), out
    assert np.array_equal(f["X"][...], pd.read_csv(path)[["a", "b", "c"]].to_numpy(np.float32)), out
mapping = ", ".join("%d %s" % (i, c) for i, c in enumerate(cats))
assert ("4 classes, y = " + mapping) in open("classes.out").read(), open("classes.out").read()
counts = pd.Series(codes("iris_train.csv", cats)).value_counts().sort_index()
want = ", ".join("%d (%s): %d" % (i, cats[i], n) for i, n in counts.items())
assert ("labels (4 distinct): " + want) in open("classes.inspect").read(), open("classes.inspect").read()
print("classes", cats, "as pandas' Categorical codes")
PY

# 12. A CSV written by pandas' df.to_csv(path) (index=True: a first column
#     with an empty name) loses that index, saying so; --keep-index keeps it
#     (pandas reads it as "Unnamed: 0").
"$PYTHON" - <<'PY'
import numpy as np, pandas as pd
rng = np.random.default_rng(4)
df = pd.DataFrame(rng.normal(size=(40, 3)), columns=["u", "v", "w"])
df["target"] = rng.integers(0, 3, 40)
df.to_csv("indexed.csv")
PY
if "$DPTRAIN" convert indexed.csv indexed.h5 > indexed.out 2>&1; then rc=0; else rc=$?; fi
check "12. pandas' index dropped" test $rc = 0
check "12. ... said on one line" test "$(grep -c "the first column has no name in the header: the index pandas' to_csv writes, dropped" indexed.out)" = 1
check "12. ... X and y as pandas' read_csv(index_col=0)" compare indexed.csv indexed.h5 "index_col=0" -1 int
check "12. --keep-index" "$DPTRAIN" convert indexed.csv kept.h5 --keep-index -q
check "12. ... the index is the first feature, as pandas reads it" compare indexed.csv kept.h5 "" -1 int

# 13. --fill-missing reports how many values it filled, and with what, per
#     column (pandas: isna().sum() and the column's mean).
if "$DPTRAIN" convert missing.csv fillmean2.h5 --fill-missing mean > fill.out 2>&1; then rc=0; else rc=$?; fi
check "13. --fill-missing mean converted" test $rc = 0
check "13. the filled counts and values as pandas" "$PYTHON" - <<'PY'
import numpy as np, pandas as pd
X = pd.read_csv("missing.csv").drop(columns=["y"])
na = X.isna().sum()
parts = ["column '%s' (index %d): %d with %g" % (c, j, na[c], float(np.float32(X[c].mean())))
         for j, c in enumerate(X.columns) if na[c]]
want = "missing.csv: filled %d missing values (each column's mean): %s" % (na.sum(), ", ".join(parts))
got = open("fill.out").read()
assert want in got, (want, got)
print(want)
PY

# 14. Bad values are listed together: the first on the error line, the next
#     nine indented under it, and the count of all (found by pandas'
#     to_numeric(errors="coerce") here).
"$PYTHON" - <<'PY'
import numpy as np
rng = np.random.default_rng(5)
rows = [["%.3f" % v for v in rng.normal(size=3)] + [str(i % 2)] for i in range(50)]
for i, j in [(3, 0), (7, 2), (8, 1), (12, 0), (20, 2), (21, 2), (30, 1), (33, 0), (40, 1), (41, 0), (44, 2), (49, 1)]:
    rows[i][j] = "oops%d" % i
open("manybad.csv", "w").write("a,b,c,y\n" + "".join(",".join(r) + "\n" for r in rows))
PY
if "$DPTRAIN" convert manybad.csv manybad.h5 > /dev/null 2> manybad.err; then rc=0; else rc=$?; fi
check "14. a file with 12 bad values is refused" test $rc = 1
check "14. one error line, nine detail lines, the rest counted, as pandas finds them" "$PYTHON" - <<'PY'
import pandas as pd
df = pd.read_csv("manybad.csv", dtype=str)
bad = [(i + 2, j, c, df.iat[i, j]) for i in range(len(df)) for j, c in enumerate(df.columns[:3])
       if pd.isna(pd.to_numeric(df.iat[i, j], errors="coerce"))]
text = ["line %d, column '%s' (index %d): '%s' is not a number" % (l, c, j, v) for l, j, c, v in bad]
lines = open("manybad.err").read().splitlines()
assert lines[0] == "dptrain: error: manybad.csv: %s; %d bad values in all:" % (text[0], len(bad)), lines[0]
assert lines[1:10] == ["  " + t for t in text[1:10]], lines[1:10]
assert lines[10:] == ["  ... and %d more" % (len(bad) - 10)], lines[10:]
print(len(bad), "bad values, listed as pandas finds them")
PY

# 15. --drop leaves columns out by name or index (negative from the end),
#     as pandas' read_csv(usecols=...) reads the rest; a European file
#     (';' between fields, decimal commas) reads as read_csv(sep=";",
#     decimal=",") with --delimiter ';' --decimal-comma.
printf 'id,x1,note,x2,batch,label\n7,1.5,"a, b",2,b1,0\n8,-3,c,4.25,b2,1\n9,0.5,d,6,b1,0\n' > ids.csv
check "15. --drop id,note,-2, into folders made for it" \
    "$DPTRAIN" convert ids.csv new/sub/ids.h5 --drop id,note,-2 -q
check "15. ... X as pandas reads the kept columns" \
    compare ids.csv new/sub/ids.h5 "usecols=['x1', 'x2', 'label']" label int
printf 'a;b;c\n6,705;-1,5;0\n1,25;3;1\n2;0,125;0\n' > eu.csv
check "15. --delimiter ';' --decimal-comma" \
    "$DPTRAIN" convert eu.csv eu.h5 --delimiter ';' --decimal-comma -q
check "15. ... X and y as read_csv(sep=';', decimal=',')" \
    compare eu.csv eu.h5 "sep=';', decimal=','" -1 int

# 16. Images channels first ([N, C, H, W], PyTorch's layout): without
#     --channels-first convert copies them as they are and a note says they
#     look channels-first, naming the option; with it, X is numpy's
#     transpose(0, 2, 3, 1), element for element (uint8 from a .npy, and
#     big-endian float64 from a .npz, of several 1 MiB blocks, chunked by
#     7 rows: blocks and chunks do not line up with the images). Arrays
#     that are channels last, or whose C is no count of channels, get no
#     note.
"$PYTHON" - <<'PY'
import numpy as np
rng = np.random.default_rng(6)
np.save("cf.npy", rng.integers(0, 256, size=(20, 1, 12, 10), dtype=np.uint8))
np.save("cfy.npy", np.arange(20) % 2)
np.savez("cf.npz", X=rng.normal(size=(150, 3, 32, 33)).astype(">f8"), y=np.arange(150) % 3)
np.save("cl.npy", rng.normal(size=(20, 12, 10, 3)).astype(np.float32))
np.save("c5.npy", rng.normal(size=(20, 5, 12, 10)).astype(np.float32))
PY
if "$DPTRAIN" convert cf.npy cf-as-is.h5 --y-file cfy.npy > cf.out 2>&1; then rc=0; else rc=$?; fi
check "16. [N, 1, 12, 10] without --channels-first: converted as it is" test $rc = 0
check "16. ... with a note that it looks channels-first, naming --channels-first" grep -q \
    "^cf.npy: X has shape \[20, 1, 12, 10\], which looks channels-first (\[N, C, H, W\], PyTorch's layout); dptrain takes images as \[N, H, W, C\] and reads these as 1 x 12 images of 10 channels: --channels-first transposes them while converting\$" cf.out
check "16. --channels-first on a .npy" "$DPTRAIN" convert cf.npy cf.h5 --y-file cfy.npy --channels-first
check "16. ... says nothing of channels first" sh -c '! grep -q "channels-first" check.out'
check "16. --channels-first on a .npz, chunked by 7 rows" \
    "$DPTRAIN" convert cf.npz cfz.h5 --channels-first --chunk-rows 7
for a in cl.npy c5.npy; do
    "$DPTRAIN" convert "$a" "$a.h5" > "$a.out" 2>&1 || :
    check "16. no note for $a" sh -c "! grep -q 'channels-first' $a.out"
done
check "16. X is numpy's transpose(0, 2, 3, 1), every value in its place" "$PYTHON" - <<'PY'
import h5py, numpy as np
for out, X, y in [("cf.h5", np.load("cf.npy"), np.load("cfy.npy")),
                  ("cfz.h5", np.load("cf.npz")["X"], np.load("cf.npz")["y"])]:
    f = h5py.File(out, "r")
    want = X.transpose(0, 2, 3, 1)
    assert f["X"].shape == want.shape and f["X"].dtype == want.dtype.newbyteorder("<"), (out, f["X"].shape)
    assert np.array_equal(f["X"][...], want), out
    n, h, w, c = 13, 7, 9, X.shape[1] - 1   # one value, by hand
    assert f["X"][n, h, w, c] == X[n, c, h, w], out
    assert np.array_equal(f["y"][...], y), out
as_is = h5py.File("cf-as-is.h5", "r")["X"][...]
assert np.array_equal(as_is, np.load("cf.npy")), "without the option X is copied as it is"
print("channels last:", h5py.File("cf.h5", "r")["X"].shape, h5py.File("cfz.h5", "r")["X"].shape)
PY

# 17. A test file filled with its training file's values. --fill-missing
#     mean prints every filled column (here 7, more than the five it once
#     stopped at), with its count and value, keeps each column's mean in
#     X's attribute fill_values (pandas' X.mean() as float32) and prints how
#     to fill a test file the same way; --fill-from TRAIN.h5 then fills a
#     test file's gaps with those values, by column name (the test file's
#     columns come in another order, and have gaps where the training file
#     had none): pandas' test.fillna(train.mean()).
"$PYTHON" - <<'PY'
import numpy as np, pandas as pd
rng = np.random.default_rng(7)
cols = ["c%d" % i for i in range(8)]
train = pd.DataFrame(rng.normal(size=(60, 8)).round(3), columns=cols)
for j in range(7):                                  # c7 has no gaps in train
    train.iloc[rng.choice(60, j + 1, replace=False), j] = np.nan
train["y"] = np.arange(60) % 2
train.to_csv("fill_train.csv", index=False)
test = pd.DataFrame(rng.normal(size=(20, 8)).round(3), columns=cols)
for j in range(8):
    test.iloc[rng.choice(20, 2, replace=False), j] = np.nan
test["y"] = np.arange(20) % 2
test[cols[::-1] + ["y"]].to_csv("fill_test.csv", index=False)   # c7, c6, ..., c0
PY
if "$DPTRAIN" convert fill_train.csv fill_train.h5 --fill-missing mean > fill_train.out 2>&1; then rc=0; else rc=$?; fi
check "17. --fill-missing mean on 7 columns with gaps" test $rc = 0
if "$DPTRAIN" convert fill_test.csv fill_test.h5 --fill-from fill_train.h5 > fill_test.out 2>&1; then rc=0; else rc=$?; fi
check "17. the test file converted with --fill-from fill_train.h5" test $rc = 0
check "17. every column's count and value, fill_values, and the test file's cells as pandas" \
    "$PYTHON" - <<'PY'
import h5py, numpy as np, pandas as pd
train, test = pd.read_csv("fill_train.csv"), pd.read_csv("fill_test.csv")
Xtr, Xte = train.drop(columns=["y"]), test.drop(columns=["y"])
mean = Xtr.mean().astype(np.float32)
def listed(X, what):
    na = X.isna().sum()
    parts = ["column '%s' (index %d): %d with %g" % (c, j, na[c], float(mean[c]))
             for j, c in enumerate(X.columns) if na[c]]
    return "filled %d missing values (%s): %s\n" % (na.sum(), what, ", ".join(parts))
out = open("fill_train.out").read()
assert "fill_train.csv: " + listed(Xtr, "each column's mean") in out, out
assert ("fill_train.csv: each column's mean is kept in fill_train.h5 (X's attribute "
        "fill_values); fill a test file with the same values: dptrain convert TEST.csv "
        "TEST.h5 --fill-from fill_train.h5\n") in out, out
f = h5py.File("fill_train.h5", "r")
assert f["X"].attrs["fill_values"].dtype == np.float32
assert np.array_equal(f["X"].attrs["fill_values"], mean.to_numpy()), f["X"].attrs["fill_values"]
out = open("fill_test.out").read()
assert "fill_test.csv: " + listed(Xte, "the values of fill_train.h5") in out, out
got = h5py.File("fill_test.h5", "r")["X"][...]
want = Xte.fillna(mean.astype(np.float64)).to_numpy(np.float32)
assert np.array_equal(got, want), (got, want)
assert np.array_equal(h5py.File("fill_test.h5", "r")["X"].attrs["fill_values"], mean[Xte.columns].to_numpy())
print("test gaps filled with the training means:", dict(mean[Xte.columns[:3]]))
PY

summary
