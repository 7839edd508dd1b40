#!/bin/sh
# Trained-model files carry a checksum, as checkpoints do: the root
# attribute checksum = "xxh3-64:HEX" over every layer's tensors (layers in
# model order, each one's tensors in name order) and the standardization
# (mean, std, scale when not 1, y_mean, y_std), the bytes as stored. This
# test computes it again from the file with h5py and libxxhash (ctypes),
# checks that two runs of one training write the same one (no time or
# path in it), and that a model whose weights or statistics were changed
# afterwards is refused by inspect, eval, predict, export and train --init
# with one clear line and exit status 1. A model file from before
# checksums loads with a warning (src/io/model_file.h).
. "${top_srcdir:?run me through make check}/tests/lib.sh"

# Two models: a classifier with standardized inputs, and diabetes'
# regression (targets standardized too, inputs scaled: every statistic).
small_model m.cfg
sed -e 's|"\.\./data/|"'"$top_srcdir"'/data/|' -e 's/epochs = 20;/epochs = 2;/' \
    "$top_srcdir/examples/diabetes.cfg" > diabetes.cfg
must dptrain train m.cfg -q --out m.h5
must dptrain train m.cfg -q --out m2.h5
must dptrain train diabetes.cfg -q --out diabetes.h5 --set data.scale=0.5
ok "trained m.h5 (twice) and diabetes.h5"

# 1. The checksum, computed again here from what the file stores.
cat > sum.py <<'PY'
import ctypes, sys
import h5py, numpy as np

xxh = ctypes.CDLL("libxxhash.so.0")
xxh.XXH3_64bits.restype = ctypes.c_uint64
xxh.XXH3_64bits.argtypes = [ctypes.c_char_p, ctypes.c_size_t]

def checksum(path):
    parts = []
    with h5py.File(path, "r") as f:
        layers = sorted(f["layers"].values(), key=lambda g: int(g.attrs["index"]))
        for g in layers:
            for name in sorted(g):
                parts.append(np.asarray(g[name][()], dtype="<f4").tobytes())
        if "standardize" in f:
            s = f["standardize"]
            for name in ("mean", "std"):
                if name in s:
                    parts.append(np.asarray(s[name][()], dtype="<f8").tobytes())
            if "scale" in s.attrs:
                parts.append(np.float64(s.attrs["scale"]).astype("<f8").tobytes())
            for name in ("y_mean", "y_std"):
                if name in s:
                    parts.append(np.asarray(s[name][()], dtype="<f8").tobytes())
        stored = f.attrs["checksum"]
    data = b"".join(parts)
    return "xxh3-64:%016x" % xxh.XXH3_64bits(data, len(data)), stored, len(parts)

for path in sys.argv[1:]:
    mine, stored, n = checksum(path)
    print(path, stored, "computed from", n, "arrays:", mine)
    assert mine == stored, (path, mine, stored)
PY
check "the stored checksums are XXH3-64 of the tensors and statistics, computed again" \
    "$PYTHON" sum.py m.h5 diabetes.h5
check "diabetes.h5 has every statistic (mean, std, scale, y_mean, y_std)" "$PYTHON" -c "
import h5py; s = h5py.File('diabetes.h5')['standardize']
assert {'mean', 'std', 'y_mean', 'y_std'} <= set(s) and 'scale' in s.attrs, (list(s), dict(s.attrs))"
check "two runs of one training write the same checksum" "$PYTHON" -c "
import h5py; a, b = (h5py.File(p).attrs['checksum'] for p in ('m.h5', 'm2.h5'))
assert a == b, (a, b); print(a)"
for f in m.h5 diabetes.h5; do
    check "inspect $f: checksum ok" sh -c "\"\$DPTRAIN\" inspect $f | grep -x 'checksum ok'"
done
check "inspect --format json: checksum_ok true" \
    sh -c "\"\$DPTRAIN\" inspect m.h5 --format json | grep -q '\"checksum_ok\":true'"

# 2. Weights overwritten afterwards (h5py, as a user might): every command
#    that reads the model refuses it, naming the file.
cp m.h5 bad.h5
"$PYTHON" -c "
import h5py; f = h5py.File('bad.h5', 'r+'); w = f['layers/00_dense/weight']; w[...] = 1e30"
msg="bad.h5: checksum mismatch: the weights or state were changed after the file was written"
expect_error "$msg" dptrain inspect bad.h5
expect_error "$msg" dptrain eval bad.h5 train.h5
expect_error "$msg" dptrain predict bad.h5 train.h5 --out pred.h5
expect_error "$msg" dptrain export bad.h5 bad.onnx
expect_error "$msg" dptrain train m.cfg --init bad.h5 --out init.h5
check "predict and export wrote nothing" [ ! -e pred.h5 ] && [ ! -e bad.onnx ]

# 3. One weight nudged by 1e-3, and one statistic: refused as well.
cp m.h5 nudged.h5
dpt_test nudge nudged.h5 layers/01_dense/bias 0 1e-3
expect_error "nudged.h5: checksum mismatch" dptrain eval nudged.h5 train.h5
cp diabetes.h5 stats.h5
"$PYTHON" -c "
import h5py; f = h5py.File('stats.h5', 'r+'); m = f['standardize/y_mean']; m[0] = m[0] + 1"
expect_error "stats.h5: checksum mismatch" dptrain inspect stats.h5

# 4. A model file written before checksums (the attribute removed): it
#    loads, with a warning that it cannot be verified, and inspect says so.
cp m.h5 old.h5
"$PYTHON" -c "import h5py; del h5py.File('old.h5', 'r+').attrs['checksum']"
check "an old model file still evaluates" dptrain eval old.h5 train.h5
cp check.out eval_old.out
check "... with a warning naming it" grep "warning: old.h5: no checksum" eval_old.out
check "inspect says it has none" sh -c "\"\$DPTRAIN\" inspect old.h5 | grep -x 'no checksum (a file from before model files had one)'"
check "an old model file still starts a run (--init)" \
    dptrain train m.cfg --init old.h5 --out init_old.h5 -q

summary
