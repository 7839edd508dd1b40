# tests/lib.sh: what every shell test shares. A test starts with
#
#     . "${top_srcdir:?run me through make check}/tests/lib.sh"
#
# and then runs in a folder of its own ($tmp, its working directory), checks
# numbered cases with `check`, `expect_error`, `ok` and `fail`, which print
# one line each and count, and ends with `summary`, which prints the closing
# line "N passed, N failed" and exits non-zero on any failure.
#
# `make check` sets DPTRAIN, MPIRUN, PYTHON, top_srcdir and top_builddir
# (Makefile.am, AM_TESTS_ENVIRONMENT). Run one test with
#     make check TESTS=tests/mpi/checkpoint_resume.sh
# and add KEEP=1 to keep its folder for a look (the log names it).
#
# What a test can use:
#   $tmp                     its folder, removed on exit unless KEEP=1
#   ok MSG, fail MSG         count and print one check ("ok 3: MSG")
#   check MSG [!] CMD...     ok MSG when CMD succeeds (with !, when it fails);
#                            CMD's output is printed under the line (only
#                            its last 3 lines if it passed) and kept in
#                            ./check.out
#   expect_error PATTERN CMD...
#                            CMD exits 1 and prints a line matching PATTERN
#                            (grep's basic regular expression)
#   expect_exit STATUS PATTERN CMD...
#                            the same with another exit status
#   must CMD...              a step the rest depends on: CMD's output goes to
#                            ./log; when CMD fails, the log is printed and
#                            the test ends
#   at_least X MIN           succeeds when the number X is >= MIN
#   json_number KEY FILE     the number after "KEY": in FILE (dptrain's
#                            --format json output: one object, one line)
#   dptrain ARGS...          the dptrain under test
#   mpirun_np N PROG ARGS... PROG on N ranks: $MPIRUN --oversubscribe
#                            --allow-run-as-root -np N PROG ARGS (mpirun
#                            options may come before PROG)
#   dpt_test CMD ARGS...     tests/dpt_test.py: data files, weight digests
#                            and comparisons (its --help lists them)
#   "$PYTHON" - <<'PY'       a check of the test's own in Python; it can
#                            `from dpt_test import read_model, ...`
#   summary                  the closing line and the exit status
set -eu
for dpt__v in DPTRAIN MPIRUN PYTHON top_srcdir top_builddir; do
    if eval "[ -z \"\${$dpt__v:-}\" ]"; then
        echo "$0: $dpt__v is not set: run the shell tests through make check" \
             "(make check TESTS=tests/NAME.sh for one)" >&2
        exit 1
    fi
done

dpt__passes=0
dpt__fails=0
dpt__done=0

# The folder: one per run of a test, named after it, so that a kept one is
# easy to find. The trap removes it on any exit (a failed `set -e` command,
# an interrupt) and says when a test stopped before its summary.
tmp=$(mktemp -d "${TMPDIR:-/tmp}/dpt-$(basename "$0" .sh).XXXXXX")
dpt__cleanup() {
    dpt__st=$1
    if [ "$dpt__done" = 0 ]; then
        echo "FAIL: the test stopped early (exit status $dpt__st) after" \
             "$dpt__passes passed, $dpt__fails failed"
        [ "$dpt__st" != 0 ] || dpt__st=1
    fi
    cd /
    if [ "${KEEP:-0}" != 0 ]; then
        echo "kept $tmp"
    else
        rm -rf "$tmp"
    fi
    exit "$dpt__st"
}
trap 'dpt__cleanup $?' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
cd "$tmp"

# Imported by the tests' own Python checks; no __pycache__ in the source tree.
PYTHONPATH="$top_srcdir/tests${PYTHONPATH:+:$PYTHONPATH}"
PYTHONDONTWRITEBYTECODE=1
export PYTHONPATH PYTHONDONTWRITEBYTECODE

ok() {
    dpt__passes=$((dpt__passes + 1))
    echo "ok $((dpt__passes + dpt__fails)): $*"
}

fail() {
    dpt__fails=$((dpt__fails + 1))
    echo "FAIL $((dpt__passes + dpt__fails)): $*"
}

# Prints a file indented under the check it belongs to: all of it, or with
# a line count only its last lines (enough for a measured value, short
# enough that a passing training run does not flood the log).
dpt__show() {
    [ ! -s "$1" ] || tail -n "${2:-1000000}" "$1" | sed 's/^/    /'
}

# The helpers' variables are named dpt__*: shell functions share the
# test's variables, and a test's $want or $n must survive a check.
check() {
    dpt__msg=$1
    shift
    dpt__want=0
    if [ "$1" = "!" ]; then
        dpt__want=1
        shift
    fi
    if "$@" > check.out 2>&1; then dpt__got=0; else dpt__got=1; fi
    if [ "$dpt__got" = "$dpt__want" ]; then
        ok "$dpt__msg"
        dpt__show check.out 3
    else
        fail "$dpt__msg"
        dpt__show check.out
    fi
}

expect_exit() {
    dpt__want=$1 dpt__pattern=$2
    shift 2
    if "$@" > "$tmp/.out" 2> "$tmp/.err"; then dpt__got=0; else dpt__got=$?; fi
    if [ "$dpt__got" = "$dpt__want" ] && grep -q -- "$dpt__pattern" "$tmp/.err" "$tmp/.out"; then
        # The line that matched, so that the log shows the message.
        ok "$(cat "$tmp/.err" "$tmp/.out" | grep -m 1 -- "$dpt__pattern")"
    else
        fail "$*"
        echo "    expected exit status $dpt__want and /$dpt__pattern/; got status $dpt__got:"
        dpt__show "$tmp/.err"
        dpt__show "$tmp/.out"
    fi
}

expect_error() {
    expect_exit 1 "$@"
}

must() {
    if ! "$@" > log 2>&1; then
        cat log
        fail "this step failed, so the test stops: $*"
        summary
    fi
}

at_least() {
    awk -v x="$1" -v min="$2" 'BEGIN { exit !(x != "" && x + 0 >= min + 0) }'
}

json_number() {
    sed -n "s/.*\"$1\": *\([0-9.eE+-]*\).*/\1/p" "$2"
}

dptrain() {
    "$DPTRAIN" "$@"
}

# small_model FILE [TRAIN_EXTRA]: train.h5 (400 rows x 6 features, binary
# labels) and a small bce model file on it, batch 40, 4 epochs, seed 5;
# TRAIN_EXTRA goes into its train group (e.g. 'log = "run.csv";'). The
# resume and checkpoint tests share it.
small_model() {
    dpt_test data train.h5 --rows 400 --features 6 --seed 2 --noise 0.3
    cat > "$1" <<CFG
data = { train = "train.h5"; standardize = true; };
model = {
  layers = ( { type = "dense"; units = 8; activation = "relu"; },
             { type = "dense"; units = 1; activation = "sigmoid"; } );
  loss = "bce";
  optimizer = { type = "adam"; learning_rate = 0.01; };
};
train = { batch = 40; epochs = 4; seed = 5; ${2:-}};
CFG
}

# tiny_model FILE TRAIN: train.h5 (100 rows x 6 features, binary labels,
# seed 4) and a model file on it: dense 8 tanh, dense 1 sigmoid, bce, SGD
# at 0.5, accuracy; TRAIN is its train group's settings.
tiny_model() {
    dpt_test data train.h5 --rows 100 --features 6 --seed 4
    cat > "$1" <<CFG
data = { train = "train.h5"; };
model = { layers = ( { type = "dense"; units = 8; activation = "tanh"; },
                     { type = "dense"; units = 1; activation = "sigmoid"; } );
          loss = "bce"; optimizer = { type = "sgd"; learning_rate = 0.5; };
          metrics = [ "accuracy" ]; };
train = { $2 };
CFG
}

# softmax_model FILE: a model file of three classes on train.h5 (made by
# the test, e.g. with dptrain convert): standardized, one dense softmax
# layer, cce, Adam at 0.05, batch 16, 3 epochs, seed 1. The class- and
# column-name tests share it.
softmax_model() {
    cat > "$1" <<CFG
data = { train = "train.h5"; standardize = true; };
model = { layers = ( { type = "dense"; units = 3; activation = "softmax"; } );
          loss = "cce"; optimizer = { type = "adam"; learning_rate = 0.05; }; };
train = { batch = 16; epochs = 3; seed = 1; };
CFG
}

mpirun_np() {
    dpt__np=$1
    shift
    "$MPIRUN" --oversubscribe --allow-run-as-root -np "$dpt__np" "$@"
}

dpt_test() {
    "$PYTHON" "$top_srcdir/tests/dpt_test.py" "$@"
}

# A test that checked nothing has not passed.
summary() {
    dpt__done=1
    echo "$dpt__passes passed, $dpt__fails failed"
    [ "$dpt__fails" = 0 ] && [ "$dpt__passes" -gt 0 ] || exit 1
    exit 0
}
