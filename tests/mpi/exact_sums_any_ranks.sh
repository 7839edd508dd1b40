#!/bin/sh
# Exact (--deterministic) sums under mpirun with 1-4 ranks: each P must give
# the bits one process gets alone (tests/mpi/test_exact_mpi.c), and so the
# hashes rank 0 prints must be the same for every P.
set -eu
: "${MPIRUN:?} ${top_builddir:?}"
tmp=$(mktemp -d /tmp/dpt-exact.XXXXXX)
for np in 1 2 3 4; do
    "$MPIRUN" --oversubscribe -np $np "$top_builddir/tests/mpi/test_exact_mpi" >"$tmp/np$np.out"
    cat "$tmp/np$np.out"
done
sets=$(grep -h '^hash ' "$tmp/np1.out" | wc -l)
distinct=$(grep -h '^hash ' "$tmp"/np*.out | sort -u | wc -l)
if [ "$sets" -eq 0 ] || [ "$distinct" -ne "$sets" ]; then
    echo "FAIL: the hashes differ between numbers of ranks (or none were printed)" >&2
    exit 1
fi
echo "the same $sets hashes for P = 1, 2, 3, 4"
rm -rf "$tmp"
