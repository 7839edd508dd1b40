#!/bin/sh
# Class names (y's attribute `classes`, as `dptrain convert` writes it) go
# into the model file, and every file whose labels are checked against the
# model (data.test, data.validation, the files of data.train, `dptrain
# eval`) must number the classes as the training data
# did. A test CSV that lacks a class converts to other numbers: it is
# refused with what a label means on each side and the --classes to convert
# it with, instead of being scored against the wrong classes. predict and
# eval show the names, and train's --summary for its test data (case 9).
. "${top_srcdir:?run me through make check}/tests/lib.sh"

# rows FILE NAMES...: a CSV of 40 rows per class name, two features that
# tell the classes apart.
rows() {
    f=$1; shift
    echo "x1,x2,kind" > "$f"
    k=0
    for name in "$@"; do
        for i in $(seq 1 40); do
            echo "$k.$((i % 10)),$((k * 3)).$((i % 7)),$name" >> "$f"
        done
        k=$((k + 1))
    done
}
rows train.csv ant bee cat
rows test_ab.csv ant bee
rows test_ac.csv ant cat
rows test_abcd.csv ant bee cat dog
for f in train test_ab test_ac test_abcd; do
    must dptrain convert "$f.csv" "$f.h5" --label kind
done
must dptrain convert test_ac.csv test_ac_fixed.h5 --label kind --classes ant,bee,cat
softmax_model m.cfg

# 1. The model file keeps the training data's names as its attribute
#    `classes`, label k's name at k.
must dptrain train m.cfg --out m.h5
check "the model file's attribute classes is [ant, bee, cat]" "$PYTHON" -c '
import h5py, sys
with h5py.File("m.h5", "r") as f:
    got = [c.decode() if isinstance(c, bytes) else c for c in f.attrs["classes"]]
sys.exit(got != ["ant", "bee", "cat"])'

# 2. A test file whose classes are the model's first ones (no "cat": ant 0,
#    bee 1, as in training) is evaluated.
check "eval of a file without the last class" dptrain eval m.h5 test_ab.h5

# 3. One without "bee" numbers cat 1: refused by eval, naming what label 1
#    means on each side and the --classes that converts it right.
want="test_ac.h5: y names the classes (ant, cat), the model names (ant, bee, cat): label 1 means 'cat' here and 'bee' to the model; convert the file again with --classes ant,bee,cat"
expect_error "$want" dptrain eval m.h5 test_ac.h5

# 4. Converted with --classes ant,bee,cat it is evaluated (and predicted).
check "eval of the file converted with --classes" dptrain eval m.h5 test_ac_fixed.h5
check "predict of the file converted without --classes (no labels read)" \
    dptrain predict m.h5 test_ac.h5 --out p.h5

# 5. A class the model does not know (dog, label 3) is refused.
expect_error "test_abcd.h5: .*label 3 ('dog') is not a class of the model" \
    dptrain eval m.h5 test_abcd.h5

# 6. Training refuses such a file as data.test and as data.validation
#    before the first step, writing no model; and two data.train files
#    that number their classes apart.
expect_error "data.test: test_ac.h5: .*label 1 means 'cat' here and 'bee' to the training data" \
    dptrain train m.cfg --set data.test=test_ac.h5 --out t.h5
check "no model file after the refusal" test ! -e t.h5
expect_error "test_ac.h5: .*label 1 means 'cat' here and 'bee' to the training data" \
    dptrain train m.cfg --set data.validation=test_ac.h5 --out v.h5
sed 's/train = "train.h5";/train = ["train.h5", "test_ac.h5"];/' m.cfg > two.cfg
expect_error "test_ac.h5: y names the classes (ant, cat), train.h5 names (ant, bee, cat)" \
    dptrain train two.cfg --out l.h5
check "data.test without the last class trains" \
    dptrain train m.cfg --set data.test=test_ab.h5 --out t.h5 --quiet

# 7. Checkpoints keep the names too: a run stopped and resumed from its
#    checkpoint alone writes them into its model.
expect_exit 3 "stopped on request" dptrain train m.cfg --checkpoint ck.h5 --stop-after-steps 5
must dptrain train --resume ck.h5 --out r.h5
check "the resumed run's model names [ant, bee, cat]" "$PYTHON" -c '
import h5py, sys
with h5py.File("r.h5", "r") as f:
    got = [c.decode() if isinstance(c, bytes) else c for c in f.attrs["classes"]]
sys.exit(got != ["ant", "bee", "cat"])'

# 8. A model file from before the names (the attribute removed) checks
#    nothing: the file is evaluated as before.
cp m.h5 old.h5
"$PYTHON" -c '
import h5py
with h5py.File("old.h5", "r+") as f:
    del f.attrs["classes"]'
check "a model without names evaluates any file" dptrain eval old.h5 test_ac.h5

# 9. What predict and eval show: the name of each predicted label in the
#    CSV's column "class" (quoted as CSV quotes it: a name with a comma and
#    a quote reads back whole with Python's csv module), the root attribute
#    `classes` of the HDF5 predictions, the classes above eval's confusion
#    matrix and in its JSON, and in the test section of train's --summary.
#    A model without names: no such column.
rows named.csv "cat" 'dog, big' 'say "hi"'
sed -e 's/,dog, big$/,"dog, big"/' -e 's/,say "hi"$/,"say ""hi"""/' named.csv > named_q.csv
must dptrain convert named_q.csv named.h5 --label kind
sed 's/train.h5/named.h5/' m.cfg > named.cfg
must dptrain train named.cfg --out named_m.h5 --set train.epochs=20 --quiet
must dptrain predict named_m.h5 named.h5 --out p.csv
check "the CSV's header ends in label,class" grep -q -x 'pred_0,pred_1,pred_2,label,class' p.csv
check "each row's class is its label's name, read back with Python's csv module" "$PYTHON" -c '
import csv, sys
names = ["cat", "dog, big", "say \"hi\""]
rows = list(csv.DictReader(open("p.csv")))
sys.exit(len(rows) != 120 or any(r["class"] != names[int(r["label"])] for r in rows)
         or {r["class"] for r in rows} != set(names))'
must dptrain predict named_m.h5 named.h5 --out p2.h5
check "the HDF5 predictions name the classes" "$PYTHON" -c '
import h5py, sys
with h5py.File("p2.h5", "r") as f:
    got = [c.decode() if isinstance(c, bytes) else c for c in f.attrs["classes"]]
sys.exit(got != ["cat", "dog, big", "say \"hi\""])'
dptrain eval named_m.h5 named.h5 > eval.txt 2>&1 || true
check "eval: the classes above the confusion matrix" grep -q -x -F 'classes: 0 cat, 1 dog, big, 2 say "hi"' eval.txt
dptrain eval named_m.h5 named.h5 --format json > eval.json 2>&1 || true
check "eval --format json: classes" "$PYTHON" -c '
import json, sys
sys.exit(json.load(open("eval.json"))["classes"] != ["cat", "dog, big", "say \"hi\""])'
must dptrain train named.cfg --out named_t.h5 --set data.test=named.h5 --set train.epochs=2 \
    --quiet --summary sum.json
check "train --summary: the test section names the classes" "$PYTHON" -c '
import json, sys
sys.exit(json.load(open("sum.json"))["test"]["classes"] != ["cat", "dog, big", "say \"hi\""])'
must dptrain predict old.h5 test_ab.h5 --out old.csv
check "a model without names: no class column" grep -q -x 'pred_0,pred_1,pred_2,label' old.csv

summary
