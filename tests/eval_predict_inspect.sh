#!/bin/sh
# What evaluation promises (src/train/eval.c, src/cli/eval_cmd.c): validation
# rows are checked against the loss like the rows of `dptrain eval`, so a bad
# label stops training with the file, the dataset and the row; predict writes
# class labels when the loss classifies; inspect tells a checkpoint from a
# model by asking the file.
set -eu
: "${DPTRAIN:?} ${MPIRUN:?}"
tmp=$(mktemp -d /tmp/dpt-eval.XXXXXX)
cd "$tmp"
fails=0
passes=0
ok() { echo "ok: $*"; passes=$((passes + 1)); }
bad() { echo "FAIL: $*"; fails=$((fails + 1)); }
# run CMD...: runs a command that may fail; its status in $st, output in log.
run() {
    set +e
    "$@" > log 2>&1
    st=$?
    set -e
}

# Binary data (bce), 3 classes (cce) and two regression targets (mse), 61
# rows: 61 does not split evenly over 2 or 3 ranks.
/usr/bin/python3 - <<'PY'
import h5py, numpy as np
rng = np.random.default_rng(7)
X = rng.standard_normal((61, 4)).astype(np.float32)
s = X @ rng.standard_normal((4, 3)).astype(np.float32)
with h5py.File("bin.h5", "w") as h:
    h["X"], h["y"] = X, (s[:, :1] > 0).astype(np.float32)
with h5py.File("cls.h5", "w") as h:
    h["X"], h["y"] = X, s.argmax(1).astype(np.int32)
with h5py.File("reg.h5", "w") as h:
    h["X"], h["y"] = X, s[:, :2]
PY
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
# label SRC DST ROW VALUE: a copy of SRC whose target at ROW is VALUE ("flip": 1 - y).
label() {
    /usr/bin/python3 - "$@" <<'PY'
import sys, h5py
src, dst, r, v = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
with h5py.File(src) as f, h5py.File(dst, "w") as h:
    h["X"], y = f["X"][...], f["y"][...]
    y[r, 0] = 1 - y[r, 0] if v == "flip" else float(v)
    h["y"] = y
PY
}

# 1. A data.validation file with a label the loss refuses (2 for bce, which
#    takes 0/1): training stops with exit 1 and the message `dptrain eval`
#    gives for the same file, naming the file, the dataset and the row, and
#    writes no model. Before, the row went into val_loss unchecked.
label bin.h5 badval.h5 45 2
"$DPTRAIN" train bin.cfg --out binm.h5 --quiet > log 2>&1 || { cat log; exit 1; }
run "$DPTRAIN" eval binm.h5 badval.h5
want="badval.h5: dataset 'y': row 45: target 2 is outside \[0, 1\]"
[ $st = 1 ] && grep -q "$want" log && ok "eval refuses the file: $(cat log)" || { cat log; bad "eval on badval.h5"; }
evalmsg=$(sed -n 's/^dptrain: error: //p' log)
run "$DPTRAIN" train bin.cfg --set data.validation=badval.h5 --out v.h5
trainmsg=$(sed -n 's/^dptrain: error: //p' log)
if [ $st = 1 ] && [ "$trainmsg" = "$evalmsg" ] && [ ! -e v.h5 ]; then
    ok "data.validation: training stops with eval's message, no model"
else
    cat log; bad "data.validation with a bad label: status $st"
fi

# 2. The same on 2 ranks: each rank takes a contiguous half of the
#    validation rows, row 45 of 61 is rank 1's (30..60), so rank 1 finds it,
#    every rank exits 1 and rank 0 prints rank 1's message. Each rank
#    records its own status (the wrapper exits 0 so mpirun lets all finish).
timeout 60 "$MPIRUN" --oversubscribe -np 2 sh -c \
    '"$0" train bin.cfg --set data.validation=badval.h5 --out v2.h5 2>> err.$OMPI_COMM_WORLD_RANK; echo $? > rc.$OMPI_COMM_WORLD_RANK' \
    "$DPTRAIN" > log 2>&1 || true
if [ "$(cat rc.0 rc.1 | tr '\n' ' ')" = "1 1 " ] && grep -q "rank 1: .*$want" err.0 && [ ! -s err.1 ] && [ ! -e v2.h5 ]; then
    ok "2 ranks: both exit 1, rank 0 prints $(sed 's/^dptrain: error: //' err.0)"
else
    cat log err.* rc.* 2>/dev/null; bad "2 ranks with a bad validation label"
fi

# 3. data.validation_split holds out rows of the training file, which the
#    training steps never read, so their targets must be checked where they
#    are evaluated. Which rows are held out depends on the seed only; find
#    one: with a learning rate of 1e-20 no weight moves by a representable
#    step, so flipping a 0/1 label changes val_loss exactly when its row is
#    held out. A row whose flip changes nothing (a training row) shows the
#    probe tells the two apart.
split="--set data.validation_split=0.5 --set train.epochs=1"
# val_loss DATA: the first epoch's val_loss with the weights left as drawn.
val_loss() {
    # shellcheck disable=SC2086
    "$DPTRAIN" train bin.cfg --set data.train="$1" $split --set model.optimizer.learning_rate=1e-20 \
        --set train.log=v.jsonl --out p.h5 --quiet > log 2>&1 &&
        /usr/bin/python3 -c 'import json; print(json.loads(open("v.jsonl").readline())["val_loss"])'
}
base=$(val_loss bin.h5) || { cat log; exit 1; }
held= kept=
for r in 0 1 2 3 4 5 6 7 8 9; do
    label bin.h5 probe.h5 $r flip
    probe=$(val_loss probe.h5) || { cat log; exit 1; }
    if [ "$probe" != "$base" ]; then
        held=${held:-$r}
    else
        kept=${kept:-$r}
    fi
    [ -z "$held" ] || [ -z "$kept" ] || break
done
if [ -z "$held" ] || [ -z "$kept" ]; then
    bad "validation_split 0.5: rows 0-9 are not a mix of held-out ('$held') and training ('$kept') rows by val_loss"
else
    label bin.h5 badtrain.h5 "$held" 2
    # shellcheck disable=SC2086
    run "$DPTRAIN" train bin.cfg --set data.train=badtrain.h5 $split --out s.h5
    if [ $st = 1 ] && grep -q "badtrain.h5: dataset 'y': row $held: target 2 is outside" log && [ ! -e s.h5 ]; then
        ok "validation_split: held-out row $held with label 2 stops training: $(sed -n 's/^dptrain: error: //p' log)"
    else
        cat log; bad "validation_split: held-out row $held with label 2: status $st"
    fi
fi

# 4. predict writes /label when the loss classifies: bce (one sigmoid
#    output, label = output > 0.5) and cce (softmax, label = argmax); mse
#    gets none, also when its model ends in a sigmoid. The labels are
#    recomputed here from /pred; 3 ranks gather the same bytes as 1.
for md in bin:bin cls:cls reg:reg regsig:bin; do
    m=${md%:*} data=${md#*:}.h5
    "$DPTRAIN" train $m.cfg --out $m-model.h5 --quiet > log 2>&1 || { cat log; exit 1; }
    "$DPTRAIN" predict $m-model.h5 "$data" --out $m-p1.h5 > $m-p1.txt 2>&1 || { cat $m-p1.txt; exit 1; }
    "$MPIRUN" --oversubscribe -np 3 "$DPTRAIN" predict $m-model.h5 "$data" --out $m-p3.h5 > log 2>&1 || { cat log; exit 1; }
done
/usr/bin/python3 - <<'PY' && ok "predict: labels for bce and cce, none for mse; 3 ranks write the same" || bad "predict labels"
import h5py, numpy as np
def read(p):
    with h5py.File(p, "r") as f:
        return f["pred"][...], (f["label"][...] if "label" in f else None)
for m, rule in (("bin", "threshold"), ("cls", "argmax"), ("reg", None), ("regsig", None)):
    pred, label = read(f"{m}-p1.h5")
    pred3, label3 = read(f"{m}-p3.h5")
    assert pred.shape[0] == 61 and pred.tobytes() == pred3.tobytes(), m
    text = open(f"{m}-p1.txt").read()
    if rule is None:
        assert label is None and label3 is None and "and label" not in text, m
        continue
    want = (pred[:, 0] > np.float32(0.5)) if rule == "threshold" else pred.argmax(1)
    assert label.dtype == np.int32 and np.array_equal(label, want.astype(np.int32)), m
    assert np.array_equal(label, label3) and "and label" in text, m
    assert len(set(label.tolist())) > 1, (m, "one class only: the test would not tell")
    print(m, rule, np.bincount(label))
PY

# 5. inspect asks the file what it is: a checkpoint is named a checkpoint
#    (and its checksum verified: a changed weight is refused), a model a
#    model, and an HDF5 file that is neither is refused with exit 1.
"$DPTRAIN" train bin.cfg --checkpoint ck.h5 --out m5.h5 --quiet > log 2>&1 || { cat log; exit 1; }
run "$DPTRAIN" inspect ck.h5
[ $st = 0 ] && grep -q "^ck.h5: checkpoint, 4 inputs -> 1 outputs" log && grep -q "checksum ok" log &&
    ok "inspect: $(head -n 1 log)" || { cat log; bad "inspect of a checkpoint"; }
run "$DPTRAIN" inspect ck.h5 --format json
[ $st = 0 ] && grep -q '"kind":"checkpoint"' log && ok "inspect --format json: kind checkpoint" || { cat log; bad "inspect json checkpoint"; }
run "$DPTRAIN" inspect m5.h5
[ $st = 0 ] && grep -q "^m5.h5: model, 4 inputs -> 1 outputs" log && ! grep -q "checksum" log &&
    ok "inspect: $(cat log)" || { cat log; bad "inspect of a model"; }
run "$DPTRAIN" inspect m5.h5 --format json
[ $st = 0 ] && grep -q '"kind":"model"' log && ok "inspect --format json: kind model" || { cat log; bad "inspect json model"; }
cp -L ck.h5 damaged.h5
/usr/bin/python3 -c '
import h5py
with h5py.File("damaged.h5", "r+") as f:
    b = f["layers/00_dense/bias"]; b[0] = b[0] + 1
'
run "$DPTRAIN" inspect damaged.h5
[ $st = 1 ] && grep -q "damaged.h5: checksum mismatch" log && ok "inspect: $(cat log)" || { cat log; bad "inspect of a damaged checkpoint"; }
for f in bin.h5 bin-p1.h5; do
    run "$DPTRAIN" inspect $f
    [ $st = 1 ] && grep -q "$f: not a dptrain model file" log && ok "inspect: $(cat log)" || { cat log; bad "inspect of $f"; }
done

cd /
rm -rf "$tmp"
echo "$passes passed, $fails failed"
[ $fails = 0 ]
