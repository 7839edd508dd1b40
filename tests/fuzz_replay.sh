#!/bin/sh
# The fuzzing harnesses of tests/fuzz/ (spec, dataset, saved_model) replay
# every seed input and every regression input (an input that once crashed,
# leaked, hung or drew a sanitizer report, kept after the fix) through the
# plain driver tests/fuzz/replay.c. Each must run to the end: no crash, no
# abort from the harness's own checks (an error without a message, an HDF5
# object left open), and, under scripts/check --sanitize, no sanitizer
# report. scripts/fuzz runs the same harnesses under libFuzzer.
. "${top_srcdir:?run me through make check}/tests/lib.sh"

fuzz="$top_srcdir/tests/fuzz"
for h in spec dataset saved_model; do
    n=0
    for d in "$fuzz/seeds/$h" "$fuzz/regressions/$h"; do
        n=$((n + $(find "$d" -maxdepth 1 -type f ! -name '.*' | wc -l)))
    done
    check "$h: the harness replays its $n seed and regression inputs" \
        "$top_builddir/tests/fuzz/replay_$h" "$fuzz/seeds/$h" "$fuzz/regressions/$h"
    cp check.out "replay-$h.out"
    # The count the driver printed: every file was run, and there were some.
    ran=$(sed -n 's/^\([0-9]*\) inputs ran$/\1/p' "replay-$h.out")
    check "$h: $n inputs, all of them run" test "${ran:-0}" = "$n" -a "$n" -gt 0
    if grep -q -E 'ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:' "replay-$h.out"; then
        fail "$h: a sanitizer report"
        grep -E -A 5 'ERROR: |runtime error:' "replay-$h.out" | head -20 | sed 's/^/    /'
    fi
done
summary
