#!/bin/sh
# --deterministic: P in {1,2,3,4} x T in {1,2} give byte-identical
# parameters (compared by hash), on a data set with a prime number of rows
# and a batch not divisible by the worker counts, whether the rows are kept
# in memory or read from the file. A model with dropout too:
# its masks depend on (seed, epoch, sample) only, so they are the same for
# P = 1 and P = 3.
set -eu
: "${DPTRAIN:?} ${MPIRUN:?}"
tmp=$(mktemp -d /tmp/dpt-det.XXXXXX)
cd "$tmp"
/usr/bin/python3 - train.h5 <<'PY'
import sys, h5py, numpy as np
rng = np.random.default_rng(11)
n, f = 1009, 12
X = rng.standard_normal((n, f)).astype(np.float32)
y = (X[:, :4] @ rng.standard_normal((4, 3))).argmax(1).astype(np.int32)
with h5py.File(sys.argv[1], "w") as h:
    h["X"], h["y"] = X, y
PY
cat > m.cfg <<'CFG'
data = { train = "train.h5"; };
model = {
  layers = ( { type = "dense"; units = 32; activation = "tanh"; },
             { type = "dense"; units = 3; activation = "softmax"; } );
  loss = "cce";
  optimizer = { type = "sgd"; learning_rate = 0.1; momentum = 0.9; };
  metrics = [ "accuracy" ];
};
train = { batch = 100; epochs = 12; seed = 2; micro_batch = 16; deterministic = true; };
CFG
for np in 1 2 3 4; do
    for t in 1 2; do
        "$MPIRUN" --oversubscribe -np $np "$DPTRAIN" train m.cfg --threads $t --check-sync 10 \
            --out "p${np}t$t.h5" > log 2>&1 || { cat log; exit 1; }
    done
done
# How the rows reach memory changes nothing either. The runs above keep
# the small file in memory (data.cache = "auto"); these read it from the
# file: a few steps at a time (data.window_rows), or an epoch at a time
# (data.cache = "none"), straight from the file (contiguous X) or through
# HDF5 (chunked.h5: the same values, chunked and compressed).
/usr/bin/python3 - train.h5 chunked.h5 <<'PY'
import sys, h5py
with h5py.File(sys.argv[1], "r") as src, h5py.File(sys.argv[2], "w") as dst:
    dst.create_dataset("X", data=src["X"][...], chunks=(64, 12), compression="gzip")
    dst["y"] = src["y"][...]
PY
run() {
    out=$1; shift
    "$MPIRUN" --oversubscribe "$@" --out "$out" --verbose > log 2>&1 || { cat log; exit 1; }
}
run p3t1w.h5 -np 3 "$DPTRAIN" train m.cfg --set data.window_rows=150
grep -q "read a window of steps at a time, straight from the file" log || { cat log; exit 1; }
run p2t2w.h5 -np 2 "$DPTRAIN" train m.cfg --threads 2 --set data.window_rows=64
run p2t1n.h5 -np 2 "$DPTRAIN" train m.cfg --set data.cache=none
grep -q "read an epoch at a time, straight from the file" log || { cat log; exit 1; }
run p2t1h.h5 -np 2 "$DPTRAIN" train m.cfg --set data.cache=none --set data.train=chunked.h5
grep -q "read an epoch at a time, through HDF5" log || { cat log; exit 1; }
run p1t1c.h5 -np 1 "$DPTRAIN" train m.cfg
grep -q "kept in memory" log || { cat log; exit 1; }
sed 's/units = 32; activation = "tanh"; },/units = 32; activation = "tanh"; }, { type = "dropout"; rate = 0.3; },/' m.cfg > drop.cfg
grep -q dropout drop.cfg
for run in "1 1" "3 1" "3 2"; do
    set -- $run
    "$MPIRUN" --oversubscribe -np $1 "$DPTRAIN" train drop.cfg --threads $2 --out "d$1t$2.h5" > log 2>&1 || { cat log; exit 1; }
done
"$MPIRUN" --oversubscribe -np 1 "$DPTRAIN" train m.cfg --out nodrop.h5 > log 2>&1
/usr/bin/python3 - <<'PY'
import sys, glob, hashlib, h5py
def digest(p):
    h = hashlib.sha256()
    with h5py.File(p, "r") as f:
        for g in sorted(f["layers"]):
            for t in sorted(f["layers"][g]):
                h.update(f["layers"][g][t][...].tobytes())
    return h.hexdigest()[:16]
drop = {p: digest(p + ".h5") for p in ["d1t1", "d3t1", "d3t2", "nodrop"]}
print("dropout:", drop)
drop_ok = drop["d1t1"] == drop["d3t1"] == drop["d3t2"] != drop["nodrop"]
d = {p[:-3]: digest(p) for p in sorted(glob.glob("p*t*.h5"))}  # includes the windowed runs
for k, v in d.items():
    print(f"{k}: {v}")
n = len(set(d.values()))
print(f"{len(d)} runs, {n} distinct parameter hash(es)")
sys.exit(0 if drop_ok and n == 1 and len(d) == 13 else 1)
PY
cd /
rm -rf "$tmp"
