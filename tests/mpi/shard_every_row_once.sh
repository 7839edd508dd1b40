#!/bin/sh
# Sharding under mpirun with 1-4 ranks: rows read per rank, every row once
# per epoch, micro-shard contents independent of P (tests/mpi/test_shard.c).
set -eu
: "${MPIRUN:?} ${top_builddir:?}"
tmp=$(mktemp -d /tmp/dpt-shard.XXXXXX)
/usr/bin/python3 - "$tmp/rows.h5" <<'PY'
import sys, h5py, numpy as np
n = 1009  # prime
X = np.zeros((n, 3), np.float32); X[:, 0] = np.arange(n); X[:, 1] = 1
with h5py.File(sys.argv[1], "w") as f:
    f["X"] = X
    f["y"] = (np.arange(n) % 2).astype(np.float32)[:, None]
PY
for np in 1 2 3 4; do
    for args in "50 13 1" "64 16 2" "7 7 1" "1009 100 2"; do
        # shellcheck disable=SC2086
        "$MPIRUN" --oversubscribe -np $np "$top_builddir/tests/mpi/test_shard" "$tmp/rows.h5" $args
    done
done
rm -rf "$tmp"
