#!/bin/sh
# A data set of several files (data.train = [...] or a glob) under mpirun
# with 1-4 ranks: every rank reads only its rows, and every row is read
# exactly once per epoch across ranks, whole epochs and windows, also when
# a step's rows come from different files (tests/mpi/test_shard.c does the
# checking, as in shard_every_row_once.sh).
. "${top_srcdir:?run me through make check}/tests/lib.sh"

# 1009 rows (prime), column 0 of row r holds r; split into four files of
# unequal sizes (1, 500, 8 and 500 rows), so column 0 still holds the row
# of the whole set, wherever it is stored.
dpt_test data rows.h5 --rows 1009 --features 3 --kind row-index
"$PYTHON" - <<'PY'
import h5py
src = h5py.File("rows.h5", "r")
cuts = [0, 1, 501, 509, 1009]
for i in range(4):
    with h5py.File(f"part-{i}.h5", "w") as f:
        f["X"] = src["X"][cuts[i]:cuts[i + 1]]
        f["y"] = src["y"][cuts[i]:cuts[i + 1]]
PY
parts=part-0.h5,part-1.h5,part-2.h5,part-3.h5

# 1. For P = 1..4 ranks and the batch, micro-shard and thread counts of
#    shard_every_row_once.sh, test_shard's checks pass on the four files as
#    one data set: rows per rank about N/P, rows read = rows held, each
#    micro-shard holds the rows its positions say (their data included),
#    every row seen exactly once per epoch and per window sweep.
for np in 1 2 3 4; do
    for args in "50 13 1" "64 16 2" "1009 100 2"; do
        # shellcheck disable=SC2086
        check "P=$np, B m T = $args, 4 files of 1/500/8/500 rows: test_shard's checks pass" \
            mpirun_np $np "$top_builddir/tests/mpi/test_shard" $parts $args
    done
done

summary
