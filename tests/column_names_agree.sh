#!/bin/sh
# Column names (X's attribute `columns`, the CSV header's names of the
# feature columns, as `dptrain convert` writes it) go into the model file,
# and every file checked against the model or the training data (`dptrain
# eval` and `predict`, data.test, data.validation, the files of data.train
# after the first) must name the same columns in the same order. A test CSV
# whose columns come in another order is refused with the column that
# differs and the order to convert it in, instead of being scored by
# position. A file or model without names is not checked (case 6).
. "${top_srcdir:?run me through make check}/tests/lib.sh"

# rows FILE ORDER: a CSV of 120 rows with the features x1, x2, x3 in ORDER
# (e.g. "x2 x1 x3") and the label kind, the same rows whatever the order.
rows() {
    f=$1 order=$2
    echo "$order" | sed 's/ /,/g; s/$/,kind/' > "$f"
    for i in $(seq 1 120); do
        k=$((i % 3))
        line=
        for c in $order; do
            case $c in
                x1) v="$k.$((i % 10))" ;;
                x2) v="$((k * 3)).$((i % 7))" ;;
                *)  v="$((i % 5)).5" ;;
            esac
            line="$line$v,"
        done
        echo "${line}c$k" >> "$f"
    done
}
rows train.csv "x1 x2 x3"
rows same.csv "x1 x2 x3"
rows swapped.csv "x2 x1 x3"
rows other.csv "x1 x2 x4"
for f in train same swapped other; do
    must dptrain convert "$f.csv" "$f.h5" --label kind
done
softmax_model m.cfg

# names H5 [GROUP]: the string attribute `columns` of H5's root (or of the
# dataset GROUP), joined by ','; "-" when there is none.
names() {
    "$PYTHON" -c '
import h5py, sys
with h5py.File(sys.argv[1], "r") as f:
    o = f[sys.argv[2]] if len(sys.argv) > 2 else f
    v = o.attrs.get("columns")
print("-" if v is None else ",".join(c.decode() if isinstance(c, bytes) else c for c in v))' "$@"
}

# 1. convert keeps the header's names of the features (not the label) as
#    X's attribute `columns`, in the CSV's order; the model file keeps the
#    training data's as its root attribute `columns`.
check "X's attribute columns of swapped.h5 is x2,x1,x3" test "$(names swapped.h5 X)" = x2,x1,x3
must dptrain train m.cfg --out m.h5
check "the model file's attribute columns is x1,x2,x3" test "$(names m.h5)" = x1,x2,x3

# 2. A file with the same columns in the same order is evaluated.
check "eval of a file with the model's columns" dptrain eval m.h5 same.h5

# 3. One with x1 and x2 swapped is refused by eval and predict, naming the
#    column that differs and the order to convert the CSV in; predict
#    writes nothing.
want="swapped.h5: X names the columns (x2, x1, x3), the model names (x1, x2, x3): column 0 is 'x2' here and 'x1' to the model; put the CSV's feature columns in the order x1,x2,x3 and convert it again"
expect_error "$want" dptrain eval m.h5 swapped.h5
expect_error "$want" dptrain predict m.h5 swapped.h5 --out p.csv
check "no predictions after the refusal" test ! -e p.csv
#    A column the model does not have: the same refusal, with the columns
#    the CSV must have.
expect_error "other.h5: .*column 2 is 'x4' here and 'x3' to the model; make the CSV's feature columns x1,x2,x3" \
    dptrain eval m.h5 other.h5
#    A column missing (the CSV's last feature converted as its label): named,
#    not only told as a shape.
must dptrain convert same.csv short.h5 --label x3 --drop kind
expect_error "short.h5: X names the columns (x1, x2), the model names (x1, x2, x3): column 2 of the model ('x3') is missing here" \
    dptrain predict m.h5 short.h5 --out p.csv

# 4. Training refuses such a file as data.test and as data.validation
#    before the first step, writing no model; and two data.train files
#    that order their columns apart.
expect_error "data.test: swapped.h5: .*column 0 is 'x2' here and 'x1' to the training data" \
    dptrain train m.cfg --set data.test=swapped.h5 --out t.h5
check "no epoch ran before the refusal" ! grep -q '^epoch' "$tmp/.out" "$tmp/.err"
check "no model file after the refusal of data.test" test ! -e t.h5
expect_error "swapped.h5: .*column 0 is 'x2' here and 'x1' to the training data" \
    dptrain train m.cfg --set data.validation=swapped.h5 --out v.h5
check "no model file after the refusal of data.validation" test ! -e v.h5
sed 's/train = "train.h5";/train = ["train.h5", "swapped.h5"];/' m.cfg > two.cfg
expect_error "swapped.h5: X names the columns (x2, x1, x3), train.h5 names (x1, x2, x3)" \
    dptrain train two.cfg --out l.h5
check "no model file after the refusal of data.train" test ! -e l.h5

# 5. Checkpoints keep the names: the checkpoint has them, and a run
#    stopped and resumed from its checkpoint alone writes them into its
#    model, which refuses the swapped file as the first did.
expect_exit 3 "stopped on request" dptrain train m.cfg --checkpoint ck.h5 --stop-after-steps 5
check "the checkpoint's attribute columns is x1,x2,x3" test "$(names ck.h5)" = x1,x2,x3
must dptrain train --resume ck.h5 --out r.h5
check "the resumed run's model names x1,x2,x3" test "$(names r.h5)" = x1,x2,x3
expect_error "swapped.h5: .*column 0 is 'x2' here and 'x1' to the model" dptrain eval r.h5 swapped.h5

# 6. A model file from before the names (the attribute removed) checks
#    nothing: the swapped file is evaluated and predicted as before. A file
#    without names (a CSV without a header) is evaluated by the named model.
cp m.h5 old.h5
"$PYTHON" -c '
import h5py
with h5py.File("old.h5", "r+") as f:
    del f.attrs["columns"]'
check "a model without names evaluates the swapped file" dptrain eval old.h5 swapped.h5
check "a model without names predicts the swapped file" dptrain predict old.h5 swapped.h5 --out old.csv
sed 1d swapped.csv > bare.csv
must dptrain convert bare.csv bare.h5 --no-header --label 3 --classes c0,c1,c2
check "the named model evaluates a file without names" dptrain eval m.h5 bare.h5
#    Without --no-header the text label makes the first row look like a
#    header: numbers are no column names, so X gets none.
must dptrain convert bare.csv guessed.h5 --label 3 --classes c0,c1,c2
check "a first row of numbers taken for a header names no columns" \
    test "$(names guessed.h5 X)" = -

summary
