#!/bin/sh
# The bad-input suite: every case a file of tests/bad-input/ lists, each with
# its expected outcome. A case that is refused must end with exit status 1
# (a bad file) or 2 (a bad command line), as the case says, and print exactly
# one line that starts "dptrain: error:", with no doubled prefix ("rank 0:
# rank 0:", a "dptrain: error:" inside one), and matches the case's pattern (the
# pattern names the file and the dataset, row, line or key); a case that is
# accepted must exit 0. No case may crash, hang (TIMEOUT seconds) or draw a
# sanitizer report (this suite also runs under scripts/check --sanitize).
#
# The case files are shell fragments sourced in name order, in this test's
# folder; they make their own inputs and call
#
#   refused NAME STATUS PATTERN CMD...   CMD is refused as described above
#   accepted NAME CMD...                 CMD exits 0, cleanly
#
# PATTERN is a grep extended regular expression. NAME is a short label for
# the log. docs/RELIABILITY.md counts the cases by file.
. "${top_srcdir:?run me through make check}/tests/lib.sh"

TIMEOUT=${TIMEOUT:-120}
suite="$top_srcdir/tests/bad-input"

# Prints what is wrong with a finished case's output (.err and .out), or
# nothing: a sanitizer's report, a crash, or a timeout.
bad_run() {
    if grep -q -E 'ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:|SUMMARY: UndefinedBehaviorSanitizer' "$tmp/.err" "$tmp/.out"; then
        echo "a sanitizer report"
    elif [ "$1" = 124 ] || [ "$1" = 137 ]; then
        echo "no end within $TIMEOUT s (a hang)"
    elif [ "$1" -ge 125 ]; then
        echo "exit status $1 (a crash, or no such command)"
    fi
}

# CMD may be the shell function dptrain (or mpirun_np), which timeout cannot
# run: they are replaced by what they stand for.
run_case() {
    case "$1" in
    dptrain) shift; set -- "$DPTRAIN" "$@" ;;
    mpirun_np) dpt__np=$2; shift 2; set -- "$MPIRUN" --oversubscribe --allow-run-as-root -np "$dpt__np" "$@" ;;
    esac
    if timeout -k 5 "$TIMEOUT" "$@" > "$tmp/.out" 2> "$tmp/.err"; then dpt__got=0; else dpt__got=$?; fi
}

show_case() {
    dpt__show "$tmp/.err" 20
    dpt__show "$tmp/.out" 5
}

refused() {
    dpt__name=$1 dpt__want=$2 dpt__pattern=$3
    shift 3
    run_case "$@"
    dpt__why=$(bad_run "$dpt__got")
    dpt__lines=$(grep -c '^dptrain: error:' "$tmp/.err" || true)
    if [ -z "$dpt__why" ] && [ "$dpt__got" != "$dpt__want" ]; then
        dpt__why="exit status $dpt__got, expected $dpt__want"
    fi
    if [ -z "$dpt__why" ] && [ "$dpt__lines" != 1 ]; then
        dpt__why="$dpt__lines lines start 'dptrain: error:', expected 1"
    fi
    # One prefix each: "rank 0: rank 0: ..." or a message quoted inside
    # another's "dptrain: error:" was an error reported twice.
    if [ -z "$dpt__why" ] && grep -q -E 'rank [0-9]+: rank [0-9]+:|dptrain: (error|warning): .*dptrain: ' "$tmp/.err"; then
        dpt__why="a doubled prefix"
    fi
    if [ -z "$dpt__why" ] && ! grep '^dptrain: error:' "$tmp/.err" | grep -q -E -- "$dpt__pattern"; then
        dpt__why="the error does not match /$dpt__pattern/"
    fi
    if [ -z "$dpt__why" ]; then
        ok "$dpt__name: $(grep -m 1 '^dptrain: error:' "$tmp/.err")"
    else
        fail "$dpt__name: $dpt__why: $*"
        show_case
    fi
}

accepted() {
    dpt__name=$1
    shift
    run_case "$@"
    dpt__why=$(bad_run "$dpt__got")
    if [ -z "$dpt__why" ] && [ "$dpt__got" != 0 ]; then
        dpt__why="exit status $dpt__got, expected 0"
    fi
    if [ -z "$dpt__why" ]; then
        ok "$dpt__name: accepted"
    else
        fail "$dpt__name: $dpt__why: $*"
        show_case
    fi
}

for dpt__case in "$suite"/*.sh; do
    [ -f "$dpt__case" ] || continue
    echo "# $(basename "$dpt__case")"
    cd "$tmp"
    . "$dpt__case"
done
cd "$tmp"
summary
