#!/bin/sh
# The shipped examples reach the figures the README gives, trained on 2
# ranks (iris test accuracy >= 0.93, diabetes test R2 >= 0.40, digits with
# the CNN >= 0.97 and the MLP >= 0.95; breast cancer's is checked by
# tutorial_breast_cancer.sh), and the metrics eval
# reports equal the ones computed by hand in numpy from predict's outputs:
# accuracy, top-k, confusion matrix, precision/recall/F1, MAE, RMSE, R2.
. "${top_srcdir:?run me through make check}/tests/lib.sh"

data="$top_srcdir/data"
for m in iris diabetes breast_cancer digits_cnn digits_mlp; do
    must mpirun_np 2 "$DPTRAIN" train "$top_srcdir/examples/$m.cfg" --quiet --out $m.h5
    f=${m%_cnn}
    f=${f%_mlp}
    dptrain eval $m.h5 "$data/$f-test.h5" --format json > $m.json
    [ "$f" = "$m" ] || continue
    dptrain eval $m.h5 "$data/$m-test.h5" > $m.txt
    dptrain predict $m.h5 "$data/$m-test.h5" --out $m-pred.h5 > /dev/null
    cat $m.json
done

# 1. The figures.
acc=$(json_number accuracy iris.json)
check "iris: test accuracy '$acc' >= 0.93" at_least "$acc" 0.93
r2=$(json_number r2 diabetes.json)
check "diabetes: test R2 '$r2' >= 0.40" at_least "$r2" 0.40
acc=$(json_number accuracy digits_cnn.json)
check "digits, convolutional network: test accuracy '$acc' >= 0.97" at_least "$acc" 0.97
acc=$(json_number accuracy digits_mlp.json)
check "digits, dense network: test accuracy '$acc' >= 0.95" at_least "$acc" 0.95

# 2. Classification with 3 classes (iris): the accuracy is the share of rows
#    whose largest output is the label; row i of the confusion matrix counts
#    the rows of class i by predicted class; top-2 counts the rows where at
#    most one output is larger than the label's. All to 1e-6.
check "iris: accuracy, confusion matrix and top-2 accuracy equal numpy's" \
    "$PYTHON" - "$data" <<'PY'
import json, sys
import numpy as np
from dpt_test import read_data, read_predictions
r = json.load(open("iris.json"))
P = read_predictions("iris-pred.h5")[0].astype(np.float64)
truth = read_data(f"{sys.argv[1]}/iris-test.h5")[1].astype(int)
guess = P.argmax(1)
assert abs(r["accuracy"] - (truth == guess).mean()) <= 1e-6, r["accuracy"]
conf = np.zeros((3, 3), int)
np.add.at(conf, (truth, guess), 1)
assert r["confusion"] == conf.tolist(), (r["confusion"], conf)
topk = np.mean([(P[i] > P[i, truth[i]]).sum() < 2 for i in range(len(truth))])
assert abs(r["top2_accuracy"] - topk) <= 1e-6, (r["top2_accuracy"], topk)
PY

# 3. Binary classification (breast cancer), with the threshold 0.5:
#    precision tp / (tp + fp), recall tp / (tp + fn), F1 their harmonic
#    mean, and the confusion matrix [[tn, fp], [fn, tp]].
check "breast cancer: precision, recall, F1 and confusion matrix equal numpy's" \
    "$PYTHON" - "$data" <<'PY'
import json, sys
import numpy as np
from dpt_test import read_data, read_predictions
r = json.load(open("breast_cancer.json"))
P = read_predictions("breast_cancer-pred.h5")[0]
y = read_data(f"{sys.argv[1]}/breast_cancer-test.h5")[1]
a, p = (y[:, 0] > 0.5), (P[:, 0] > 0.5)
tp, fp, fn = (a & p).sum(), (~a & p).sum(), (a & ~p).sum()
prec, rec = tp / (tp + fp), tp / (tp + fn)
close = lambda got, want: abs(got - want) <= 1e-6 * max(1.0, abs(want))
assert close(r["precision"], prec) and close(r["recall"], rec), (r, prec, rec)
assert close(r["f1"], 2 * prec * rec / (prec + rec)), r
assert r["confusion"] == [[int((~a & ~p).sum()), int(fp)], [int(fn), int(tp)]], r["confusion"]
PY

# 4. Regression (diabetes): MAE and RMSE of the errors, R2 = 1 - SSE / SST.
check "diabetes: MAE, RMSE and R2 equal numpy's" "$PYTHON" - "$data" <<'PY'
import json, sys
import numpy as np
from dpt_test import read_data, read_predictions
r = json.load(open("diabetes.json"))
P = read_predictions("diabetes-pred.h5")[0].astype(np.float64)
y = read_data(f"{sys.argv[1]}/diabetes-test.h5")[1][:, 0]
e = P[:, 0] - y
r2 = 1 - (e ** 2).sum() / ((y - y.mean()) ** 2).sum()
close = lambda got, want: abs(got - want) <= 1e-6 * max(1.0, abs(want))
assert close(r["mae"], np.abs(e).mean()) and close(r["rmse"], np.sqrt((e ** 2).mean())), r
assert abs(r["r2"] - r2) < 1e-6, (r["r2"], r2)
PY

# 5. eval's text output for a classifier shows the confusion matrix.
check "iris: eval's text has a confusion matrix" grep "confusion matrix" iris.txt

summary
