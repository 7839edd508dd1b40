#!/bin/sh
# Failure agreement: a NaN in a row that lands in rank 1's shard makes every
# rank exit non-zero, with rank 1's message naming the row, within seconds.
set -eu
: "${DPTRAIN:?} ${MPIRUN:?}"
tmp=$(mktemp -d /tmp/dpt-fail.XXXXXX)
/usr/bin/python3 - "$tmp/nan.h5" <<'PY'
import sys, h5py, numpy as np
X = np.random.default_rng(1).standard_normal((200, 4)).astype(np.float32)
X[20, 2] = np.nan
with h5py.File(sys.argv[1], "w") as h:
    h["X"] = X
    h["y"] = (X[:, :1] > 0).astype(np.float32)
PY
# File order, batch 32 over 2 ranks: micro-shards of 16, rank 1 holds rows 16..31.
# cache = "none": each rank reads only its rows (a small file would otherwise
# be read whole by every rank, and every rank would find the NaN).
cat > "$tmp/m.cfg" <<'CFG'
data = { train = "nan.h5"; shuffle = false; cache = "none"; };
model = { layers = ( { type = "dense"; units = 1; activation = "sigmoid"; } );
          loss = "bce"; optimizer = "sgd"; };
train = { batch = 32; epochs = 2; };
CFG
# Each rank records its own exit status (the wrapper exits 0 so that mpirun
# does not cut the others short).
start=$(date +%s)
timeout 60 "$MPIRUN" --oversubscribe -np 2 sh -c \
    '"$0" train "$1" --out "$2/m.h5" 2>> "$2/err.$OMPI_COMM_WORLD_RANK"; echo $? > "$2/rc.$OMPI_COMM_WORLD_RANK"' \
    "$DPTRAIN" "$tmp/m.cfg" "$tmp" > "$tmp/out" 2>&1
took=$(( $(date +%s) - start ))
cat "$tmp"/err.* "$tmp/out"
fail=0
for r in 0 1; do
    rc=$(cat "$tmp/rc.$r" 2>/dev/null || echo missing)
    echo "rank $r exit status: $rc"
    [ "$rc" = 1 ] || fail=1
done
grep -q "rank 1: .*nan.h5: dataset 'X': row 20" "$tmp/err.0" || { echo "FAIL: rank 0 did not print rank 1's message"; fail=1; }
[ ! -s "$tmp/err.1" ] || { echo "FAIL: rank 1 printed too (only rank 0 reports)"; fail=1; }
[ ! -e "$tmp/m.h5" ] || { echo "FAIL: a model was written"; fail=1; }
[ "$took" -le 20 ] || { echo "FAIL: took $took s"; fail=1; }
echo "took $took s"
rm -rf "$tmp"
exit $fail
