#!/bin/sh
# Sharding under mpirun with 1-4 ranks (tests/mpi/test_shard.c does the
# checking): each rank reads only its rows, about N/P of them; every row is
# seen exactly once per epoch across ranks, also when the rows are read a
# window at a time; and each micro-shard holds the same rows whatever P and
# T are.
. "${top_srcdir:?run me through make check}/tests/lib.sh"

# A prime number of rows, so that no batch divides it; column 0 of row r
# holds r, so test_shard sees which row landed where.
dpt_test data rows.h5 --rows 1009 --features 3 --kind row-index

# 1. For P = 1..4 ranks, and batch B, micro-shard m and T threads giving a
#    short last micro-shard (50 13 1), micro-shards shared by 2 threads
#    (64 16 2), a micro-shard as large as the batch (7 7 1), and the whole
#    file as one batch of 11 micro-shards (1009 100 2): test_shard's checks
#    pass (it exits non-zero on a failed one).
for np in 1 2 3 4; do
    for args in "50 13 1" "64 16 2" "7 7 1" "1009 100 2"; do
        # shellcheck disable=SC2086
        check "P=$np, B m T = $args: test_shard's checks pass" \
            mpirun_np $np "$top_builddir/tests/mpi/test_shard" rows.h5 $args
    done
done

summary
