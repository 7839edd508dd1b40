#!/bin/sh
# Damaged files that crash or hang libhdf5 1.10.8 itself (found by fuzzing,
# kept in tests/fuzz/hdf5-bugs/): dptrain cannot fix the library, but it
# ends with exit status 1 and one line naming the file, never a core dump
# or a job that sits until its time limit (src/cli/main.c,
# cli_guard_reads; docs/RELIABILITY.md). DPTRAIN_READ_TIMEOUT is set low
# so that the hang ends in seconds. Under AddressSanitizer dptrain leaves
# crashes to ASan's own report (DPT_ASAN=yes): the crash cases then check
# only that the run failed; scripts/check's plain build checks the message.
. "${top_srcdir:?run me through make check}/tests/lib.sh"

bugs="$top_srcdir/tests/fuzz/hdf5-bugs"
cfg="$top_srcdir/examples/breast_cancer.cfg"
export DPTRAIN_READ_TIMEOUT=3

# crashed FILE CMD...: CMD crashes inside libhdf5 on FILE.
crashed() {
    dpt__f=$1
    shift
    if [ "${DPT_ASAN:-no}" = yes ]; then
        check "$(basename "$dpt__f"): fails under ASan" ! timeout 60 "$@"
    else
        expect_error "$(basename "$dpt__f"): the HDF5 library crashed (SIG[A-Z]*) reading this file: it is damaged" timeout 60 "$@"
    fi
}

d="$bugs/dataset"
crashed segv-local-heap-name-lookup.h5 "$DPTRAIN" train "$cfg" --set data.train="$d/segv-local-heap-name-lookup.h5" --out m.h5
crashed bad-free-object-header-message.h5 "$DPTRAIN" train "$cfg" --set data.train="$d/bad-free-object-header-message.h5" --out m.h5
# Refused before HDF5 reads past its own buffer: the stored bytes are
# fewer than the shape needs.
expect_error "heap-overflow-compact-smaller-than-shape.h5: dataset 'X' (shape \[4, 14851\]) stores 48 bytes, fewer than" \
    dptrain train "$cfg" --set data.train="$d/heap-overflow-compact-smaller-than-shape.h5" --out m.h5

s="$bugs/saved_model"
crashed memcpy-overlap-vlen-attribute.h5 "$DPTRAIN" inspect "$s/memcpy-overlap-vlen-attribute.h5"
# The endless loop: ended by the read watchdog, within a few seconds of
# the limit, on one rank and on two.
start=$(date +%s)
expect_error "hang-global-heap-vlen-attribute.h5: reading this file made no progress for 3 s" \
    timeout 60 "$DPTRAIN" inspect "$s/hang-global-heap-vlen-attribute.h5"
check "the hang ended within 20 s" test $(($(date +%s) - start)) -lt 20
expect_error "hang-global-heap-vlen-attribute.h5: reading this file made no progress" \
    timeout 60 "$DPTRAIN" train "$cfg" --resume "$s/hang-global-heap-vlen-attribute.h5" --out m.h5
check "two ranks: the job ends with status 1" ! timeout 60 "$MPIRUN" --oversubscribe --allow-run-as-root -np 2 "$DPTRAIN" eval "$s/hang-global-heap-vlen-attribute.h5" "$top_srcdir/data/breast_cancer-test.h5"
grep -q "reading this file made no progress" check.out && ok "two ranks: the reason is printed" || fail "two ranks: the reason is printed"

# A healthy run is not disturbed by the watchdog or the handlers.
check "a healthy run trains" dptrain train "$cfg" --set train.epochs=2 --out ok.h5
summary
