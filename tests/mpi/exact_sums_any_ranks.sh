#!/bin/sh
# Exact (--deterministic) sums under mpirun with 1-4 ranks: every P gives
# the bits one process gets alone (tests/mpi/test_exact_mpi.c checks that on
# each run), so the hashes of the results rank 0 prints are the same for
# every P.
. "${top_srcdir:?run me through make check}/tests/lib.sh"

# 1. Each P passes test_exact_mpi's own checks (it exits non-zero on a
#    failed one), and P = 1 prints some hashes.
for np in 1 2 3 4; do
    check "P=$np: test_exact_mpi's checks pass" mpirun_np $np "$top_builddir/tests/mpi/test_exact_mpi"
    grep '^hash ' check.out > hashes$np || true
done
check "P=1 printed $(wc -l < hashes1) hashes" [ -s hashes1 ]

# 2. P = 2, 3, 4 print the same hashes as P = 1, in the same order.
for np in 2 3 4; do
    check "P=$np: the same hashes as P=1" cmp hashes1 hashes$np
done

summary
