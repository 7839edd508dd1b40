#!/bin/sh
# shellcheck disable=SC2016  # sh -c expands its own $1 and $2
# Labels the loss refuses are found before the first step, in every row of
# the file (src/train/eval.c, dpt_eval_check_targets): the error names the
# first bad row in file order, whatever the shuffle, the validation split
# and the number of ranks (1 and 2 ranks print the same message, word for
# word), says how many rows of the file are bad, and, when the labels run
# 1..K for K softmax outputs, that dptrain numbers classes from 0. Before,
# the first epoch checked its windows: the row named was the first bad row
# of the shuffled order (2942 or 430 for row 2), and on 2 ranks "rank 0: ".
. "${top_srcdir:?run me through make check}/tests/lib.sh"

# labels FILE LABELS...: 4000 rows of 6 features, y cycling through LABELS.
labels() {
    f=$1
    shift
    "$PYTHON" - "$f" "$@" <<'PY'
import sys
import h5py, numpy as np
path, cycle = sys.argv[1], [int(v) for v in sys.argv[2:]]
rng = np.random.default_rng(5)
with h5py.File(path, "w") as f:
    f["X"] = rng.standard_normal((4000, 6)).astype(np.float32)
    f["y"] = np.resize(np.array(cycle, dtype=np.int64), 4000)
PY
}
# 1-based labels of 4 classes: rows 2, 6, 10... hold label 4.
labels train_p1.h5 1 2 4 3
# 0-based labels of 5 classes for a model of 4 outputs: label 4 too, but
# the labels run 0..4, so the error must not call them 1-based.
labels five.h5 0 2 4 3 1
labels good.h5 0 1 2 3
cat > m.cfg <<CFG
data = { train = "train_p1.h5"; };
model = { layers = ( { type = "dense"; units = 4; activation = "softmax"; } );
          loss = "cce"; optimizer = "sgd"; };
train = { epochs = 1; batch = 8; seed = 3; };
CFG

# msg CMD...: the message CMD prints after "dptrain: error: " into $msg.
msg() {
    msg=$("$@" 2>&1 | sed -n 's/^dptrain: error: //p')
}
# same WHAT WANT GOT: GOT is WANT, word for word.
same() {
    check "$1" sh -c 'echo "$2"; [ -n "$1" ] && [ "$1" = "$2" ]' sh "$2" "$3"
}
# ranks2 NAME ARGS...: dptrain ARGS on 2 ranks; rank R's stderr in
# NAME.err.R, its exit status in NAME.rc.R (the wrapper exits 0 so that
# mpirun lets both finish).
ranks2() {
    dpt__name=$1
    shift
    timeout 60 "$MPIRUN" --oversubscribe --allow-run-as-root -np 2 sh -c \
        'n=$1; shift; "$0" "$@" 2> "$n.err.$OMPI_COMM_WORLD_RANK"; echo $? > "$n.rc.$OMPI_COMM_WORLD_RANK"' \
        "$DPTRAIN" "$dpt__name" "$@" > "$dpt__name.out" 2>&1 || true
    for r in 0 1; do
        rc=$(cat "$dpt__name.rc.$r" 2> /dev/null || echo missing)
        check "$dpt__name, 2 ranks: rank $r exits with status 1 (got $rc)" [ "$rc" = 1 ]
    done
}

# 1. The first bad row of the file is row 2; 1000 of its 4000 rows hold
#    label 4; the labels run 1..4.
want="^dptrain: error: train_p1.h5: dataset 'y': row 2: label 4 is out of range \[0, 3\] for 4 outputs"
want="$want.* (loss 'cce'); 1000 of its 4000 rows are bad; the labels run 1..4: dptrain numbers"
want="$want classes from 0; convert with labels - 1 (or let \`dptrain convert --label\` number"
want="$want text labels)\$"
expect_error "$want" dptrain train m.cfg --out m.h5
msg dptrain train m.cfg --out m.h5
one=$msg
check "no model written" [ ! -e m.h5 ]
dptrain train m.cfg --out m.h5 > t.out 2>&1 || true
check "found before the first epoch" sh -c '! grep "^epoch" t.out'

# 2. The same message with a validation split (its rows are the file's
#    too), without shuffling, and in block order.
for opt in data.validation_split=0.1 data.shuffle=false data.shuffle_by=\"blocks\"; do
    msg dptrain train m.cfg --set "$opt" --out m.h5
    same "--set $opt: the same message" "$one" "$msg"
done

# 3. On 2 ranks: every rank exits 1 and rank 0 prints the message of 1
#    rank, word for word (no "rank R: ": every rank found the same error).
ranks2 train train m.cfg --set data.validation_split=0.1 --out m2.h5
same "train, 2 ranks: rank 0 prints the message of 1 rank" "$one" \
    "$(sed -n 's/^dptrain: error: //p' train.err.0)"
check "train, 2 ranks: rank 1 prints nothing" [ ! -s train.err.1 ]

# 4. Labels 0..4 for 4 outputs are not 1-based: the row and the count, no
#    such hint.
expect_error "five.h5: dataset 'y': row 2: label 4 is out of range .*; 800 of its 4000 rows are bad\$" \
    dptrain train m.cfg --set data.train=five.h5 --out m.h5

# 5. data.test, data.validation and `dptrain eval` give the same message
#    for the same file (data.test's prefixed with its key), on 1 and 2
#    ranks.
must dptrain train m.cfg --set data.train=good.h5 --out good_m.h5
msg dptrain eval good_m.h5 train_p1.h5
same "eval: the message of train" "$one" "$msg"
ranks2 eval eval good_m.h5 train_p1.h5
same "eval, 2 ranks: rank 0 prints the message of 1 rank" "$one" \
    "$(sed -n 's/^dptrain: error: //p' eval.err.0)"
msg dptrain train m.cfg --set data.train=good.h5 --set data.validation=train_p1.h5 --out v.h5
same "data.validation: the message of train" "$one" "$msg"
msg dptrain train m.cfg --set data.train=good.h5 --set data.test=train_p1.h5 --out t.h5
same "data.test: the message of train, after 'data.test: '" "data.test: $one" "$msg"
ranks2 test train m.cfg --set data.train=good.h5 --set data.test=train_p1.h5 --out t2.h5
same "data.test, 2 ranks: rank 0 prints the message of 1 rank" "data.test: $one" \
    "$(sed -n 's/^dptrain: error: //p' test.err.0)"

summary
