#!/bin/sh
# shellcheck disable=SC2016,SC2086  # $bin, $split: lists of words; sh -c expands its own
# What evaluation promises (src/train/eval.c, src/cli/eval_cmd.c): validation
# rows are checked against the loss like the rows of `dptrain eval`, so a bad
# label stops training with the file, the dataset and the row; predict writes
# class labels when the loss classifies; inspect tells a checkpoint from a
# model by asking the file.
. "${top_srcdir:?run me through make check}/tests/lib.sh"

# Binary data (bce), 3 classes (cce) and two regression targets (mse) on the
# same X, 61 rows: 61 does not split evenly over 2 or 3 ranks.
bin="--rows 61 --features 4 --seed 7"
dpt_test data bin.h5 $bin
dpt_test data cls.h5 $bin --kind classes --classes 3
dpt_test data reg.h5 $bin --kind regression --targets 2
# model FILE DATA UNITS ACTIVATION LOSS LR: a one-layer model file.
model() {
    cat > "$1" <<CFG
data = { train = "$2"; };
model = { layers = ( { type = "dense"; units = $3; activation = "$4"; } );
          loss = "$5"; optimizer = { type = "sgd"; learning_rate = $6; }; };
train = { batch = 8; epochs = 2; seed = 3; deterministic = true; };
CFG
}
model bin.cfg bin.h5 1 sigmoid bce 0.5
model cls.cfg cls.h5 3 softmax cce 0.5
model reg.cfg reg.h5 2 linear mse 0.1
model regsig.cfg bin.h5 1 sigmoid mse 0.5

# 1. A data.validation file with a label the loss refuses (2 for bce, which
#    takes 0/1): training stops with exit 1 and the very message `dptrain
#    eval` gives for the same file, naming the file, the dataset and the row,
#    and writes no model. Before, the row went into val_loss unchecked.
dpt_test data badval.h5 $bin --y-at 45 2
must dptrain train bin.cfg --out binm.h5 --quiet
want="badval.h5: dataset 'y': row 45: target 2 is outside \[0, 1\]"
expect_error "$want" dptrain eval binm.h5 badval.h5
expect_error "$want" dptrain train bin.cfg --set data.validation=badval.h5 --out v.h5
evalmsg=$(dptrain eval binm.h5 badval.h5 2>&1 | sed -n 's/^dptrain: error: //p')
trainmsg=$(dptrain train bin.cfg --set data.validation=badval.h5 --out v.h5 2>&1 |
    sed -n 's/^dptrain: error: //p')
check "data.validation: training stops with eval's message, word for word" \
    sh -c '[ -n "$1" ] && [ "$1" = "$2" ]' sh "$evalmsg" "$trainmsg"
check "... and writes no model" [ ! -e v.h5 ]
# data.test and data.validation are checked at start, before the first step
# (before, data.test's labels were read only after training).
dptrain train bin.cfg --set data.test=badval.h5 --out t.h5 > t.out 2>&1 || true
check "data.test: training stops with eval's message, before the first epoch" \
    sh -c 'grep -q "^dptrain: error: data.test: .*$1" t.out && ! grep -q "^epoch" t.out' sh "$want"
check "... and writes no model" [ ! -e t.h5 ]
dptrain train bin.cfg --set data.validation=badval.h5 --out v.h5 > v.out 2>&1 || true
check "data.validation: before the first epoch too" \
    sh -c 'grep -q "$1" v.out && ! grep -q "^epoch" v.out' sh "$want"

# 2. The same on 2 ranks: each rank checks a contiguous half of the
#    validation rows, row 45 of 61 is rank 1's (30..60), so rank 1 finds it,
#    every rank exits 1 and rank 0 prints the message of 1 rank, without
#    "rank 1: " (tests/bad_labels_file_order.sh). Each rank
#    records its own status (the wrapper exits 0 so mpirun lets all finish);
#    timeout runs programs, not shell functions, hence mpirun spelled out.
timeout 60 "$MPIRUN" --oversubscribe --allow-run-as-root -np 2 sh -c \
    '"$0" train bin.cfg --set data.validation=badval.h5 --out v2.h5 2>> "err.$OMPI_COMM_WORLD_RANK"; echo $? > "rc.$OMPI_COMM_WORLD_RANK"' \
    "$DPTRAIN" > out 2>&1 || true
cat err.* out 2> /dev/null || true
for r in 0 1; do
    rc=$(cat rc.$r 2> /dev/null || echo missing)
    check "2 ranks: rank $r exits with status 1 (got $rc)" [ "$rc" = 1 ]
done
check "2 ranks: rank 0 prints the message of 1 rank" grep -Fx "dptrain: error: $trainmsg" err.0
check "2 ranks: rank 1 prints nothing" [ ! -s err.1 ]
check "2 ranks: no model written" [ ! -e v2.h5 ]

# 3. data.validation_split holds out rows of the training file, which the
#    training steps never read, so their targets must be checked where they
#    are evaluated. Which rows are held out depends on the seed only; find
#    one: with a learning rate of 1e-20 no weight moves by a representable
#    step, so flipping a 0/1 label changes val_loss exactly when its row is
#    held out. A row whose flip changes nothing (a training row) shows the
#    probe tells the two apart.
split="--set data.validation_split=0.5 --set train.epochs=1"
# val_loss DATA: sets $vl to the first epoch's val_loss on DATA with the
# weights left as drawn (10 significant digits, as the log writes it);
# each probe replaces the last one's log (--overwrite).
val_loss() {
    must dptrain train bin.cfg --set data.train="$1" $split --overwrite \
        --set model.optimizer.learning_rate=1e-20 --set train.log=v.jsonl --out p.h5 --quiet
    vl=$(json_number val_loss v.jsonl)
}
val_loss bin.h5
base=$vl
check "the probe reads a val_loss ('$base')" at_least "$base" 0
held='' kept=''
for r in 0 1 2 3 4 5 6 7 8 9; do
    dpt_test data probe.h5 $bin --y-at $r flip
    val_loss probe.h5
    if [ "$vl" != "$base" ]; then
        held=${held:-$r}
    else
        kept=${kept:-$r}
    fi
    [ -z "$held" ] || [ -z "$kept" ] || break
done
check "validation_split 0.5: row '$held' is held out (its flip changes val_loss)" [ -n "$held" ]
check "validation_split 0.5: row '$kept' is a training row (its flip does not)" [ -n "$kept" ]
if [ -n "$held" ]; then
    dpt_test data badtrain.h5 $bin --y-at "$held" 2
    expect_error "badtrain.h5: dataset 'y': row $held: target 2 is outside" \
        dptrain train bin.cfg --set data.train=badtrain.h5 $split --out s.h5
    check "validation_split: no model written" [ ! -e s.h5 ]
fi

# 4. predict writes /label when the loss classifies: bce (one sigmoid
#    output, label = output > 0.5) and cce (softmax, label = argmax); mse
#    gets none, also when its model ends in a sigmoid, also with two
#    outputs. The labels are recomputed here from /pred, and must hold more
#    than one class (else the test could not tell a rule from a constant);
#    3 ranks gather the same bytes as 1; predict says "and label" exactly
#    when it writes them.
for md in bin:bin cls:cls reg:reg regsig:bin; do
    m=${md%:*} data=${md#*:}.h5
    must dptrain train $m.cfg --out $m-model.h5 --quiet
    must dptrain predict $m-model.h5 "$data" --out $m-p1.h5
    cp log $m-p1.txt
    must mpirun_np 3 "$DPTRAIN" predict $m-model.h5 "$data" --out $m-p3.h5
done
for mr in bin:threshold cls:argmax reg:none regsig:none; do
    m=${mr%:*} rule=${mr#*:} what="labels by $rule"
    [ "$rule" != none ] || what="no labels"
    check "predict $m: $what; 3 ranks write the same" "$PYTHON" - $m $rule <<'PY'
import sys
import numpy as np
from dpt_test import read_predictions
m, rule = sys.argv[1], sys.argv[2]
pred, label = read_predictions(f"{m}-p1.h5")
pred3, label3 = read_predictions(f"{m}-p3.h5")
assert pred.shape[0] == 61 and pred.tobytes() == pred3.tobytes(), m
text = open(f"{m}-p1.txt").read()
if rule == "none":
    assert label is None and label3 is None and "and label" not in text, m
    print(m, "no labels, outputs", pred.shape)
    sys.exit(0)
want = (pred[:, 0] > np.float32(0.5)) if rule == "threshold" else pred.argmax(1)
assert label.dtype == np.int32 and np.array_equal(label, want.astype(np.int32)), m
assert np.array_equal(label, label3) and "and label" in text, m
assert len(set(label.tolist())) > 1, (m, "one class only: the test would not tell")
print(m, rule, "labels per class", np.bincount(label))
PY
done

# 5. inspect asks the file what it is: a checkpoint is named a checkpoint
#    (and its checksum verified: a changed weight is refused), a model a
#    model, and an HDF5 file that is neither is described as a data file
#    (its figures are checked in tests/inspect_data_like_numpy.sh).
must dptrain train bin.cfg --checkpoint ck.h5 --out m5.h5 --quiet
check "inspect ck.h5 succeeds" dptrain inspect ck.h5
cp check.out ck.txt
check "ck.h5 is a checkpoint, 4 inputs -> 1 outputs" grep "^ck.h5: checkpoint, 4 inputs -> 1 outputs" ck.txt
check "ck.h5: checksum ok" grep "checksum ok" ck.txt
expect_exit 0 '"kind":"checkpoint"' dptrain inspect ck.h5 --format json
check "inspect m5.h5 succeeds" dptrain inspect m5.h5
cp check.out m5.txt
check "m5.h5 is a model, 4 inputs -> 1 outputs" grep "^m5.h5: model, 4 inputs -> 1 outputs" m5.txt
check "m5.h5: a model's checksum is verified too" grep -x "checksum ok" m5.txt
expect_exit 0 '"kind":"model"' dptrain inspect m5.h5 --format json
cp -L ck.h5 damaged.h5
dpt_test nudge damaged.h5 layers/00_dense/bias 0 1
expect_error "damaged.h5: checksum mismatch" dptrain inspect damaged.h5
for f in bin.h5 bin-p1.h5; do
    expect_exit 0 "^$f: data file" dptrain inspect $f
done
expect_exit 0 '"kind":"data"' dptrain inspect bin.h5 --format json

summary
