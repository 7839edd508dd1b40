#!/bin/sh
# dptrain train --format json: one JSON object on one line on standard
# output at the end of the run, whatever the end (finished, early stopping,
# time limit, stop request, error), with the human lines on standard error;
# its numbers are checked against train.log, the model file (inspect), eval
# of the test set and the data. A metric that cannot be computed is left
# out, never nan: in the summary, the RESULT line and train.log.
. "${top_srcdir:?run me through make check}/tests/lib.sh"

data="$top_srcdir/data"
sed -e 's|"\.\./data/|"'"$data"'/|' -e 's/epochs = 100;/epochs = 3; log = "iris.csv";/' \
    "$top_srcdir/examples/iris.cfg" > iris.cfg
sed -e 's|"\.\./data/|"'"$data"'/|' -e 's/epochs = 20;/epochs = 30; log = "dia.jsonl";/' \
    "$top_srcdir/examples/diabetes.cfg" > dia.cfg
check "the model files are set up" grep -q 'log = "dia.jsonl"' dia.cfg

# run N CMD...: CMD's stdout in sN.json, stderr in sN.err, exit status in sN.rc.
run() {
    n=$1
    shift
    if "$@" > "s$n.json" 2> "s$n.err"; then echo 0; else echo $?; fi > "s$n.rc"
}

# summary FILE: the JSON object of FILE (stdout), which must be one line
# holding exactly one object; printed for the log.
cat > summary.py <<'PY'
import json, sys
lines = open(sys.argv[1]).read().splitlines()
assert len(lines) == 1, f"{len(lines)} lines on stdout: {lines}"
o = json.loads(lines[0])
assert isinstance(o, dict)
print(lines[0][:300])
PY

# 1. A finished run: stdout is the object alone, the epoch lines, RESULT
#    and the test line went to stderr.
run 1 dptrain train iris.cfg --threads 1 --out iris.h5 --format json
check "finished: exit 0" [ "$(cat s1.rc)" = 0 ]
check "finished: stdout is one JSON object on one line" "$PYTHON" summary.py s1.json
check "finished: the epoch lines are on stderr" grep -q '^epoch 3/3  loss' s1.err
check "finished: RESULT and the test line are on stderr" sh -c 'grep -q "^RESULT " s1.err && grep -q "^test " s1.err'
dptrain eval iris.h5 "$data/iris-test.h5" --format json > eval1.json
dptrain inspect iris.h5 --format json > inspect1.json
check "finished: the values are those of train.log, the model file, eval and the data" \
    "$PYTHON" - <<'PY'
import csv, json, math
s = json.load(open("s1.json"))
log = list(csv.DictReader(open("iris.csv")))
ev, ins = json.load(open("eval1.json")), json.load(open("inspect1.json"))
assert s["status"] == "finished" and s["stopped_by"] == "epochs" and s["exit_status"] == 0, s
assert s["epochs"] == s["epochs_planned"] == 3 == len(log), s
last = log[-1]
# train.log keeps 10 significant digits, the summary 10 too.
assert math.isclose(s["loss"], float(last["loss"]), rel_tol=1e-9), (s["loss"], last)
assert math.isclose(s["accuracy"], float(last["accuracy"]), rel_tol=1e-9)
assert "validation" not in s  # no validation data: left out, not null
assert s["params"] == ins["parameters"], (s["params"], ins)
assert s["out"] == "iris.h5" and s["ranks"] == 1 and s["threads"] == 1
assert s["deterministic"] is False and "checkpoint" not in s
t = s["test"]
assert t["samples"] == ev["samples"] and t["loss"] == ev["loss"] and t["accuracy"] == ev["accuracy"], (t, ev)
assert t["confusion"] == ev["confusion"]
assert s["samples_per_s"] > 0 and s["seconds"] > 0
print("steps", s["steps"], "loss", s["loss"], "test accuracy", t["accuracy"])
PY
check "finished: steps = epochs x ceil(rows / batch)" "$PYTHON" - "$data/iris-train.h5" <<'PY'
import json, math, sys
import h5py
s = json.load(open("s1.json"))
rows = len(h5py.File(sys.argv[1], "r")["y"])
want = 3 * math.ceil(rows / 16)
print(rows, "rows:", want, "steps; summary says", s["steps"], s["steps_this_run"])
assert s["steps"] == s["steps_this_run"] == want
PY

# 2. Early stopping on a regression (mse: no accuracy anywhere), with
#    validation: stopped_by, the best epoch and the validation loss of the
#    last row of train.log (JSON lines).
run 2 dptrain train dia.cfg --threads 1 --out dia.h5 --format json --set data.validation_split=0.25 \
    --set train.early_stopping.monitor=val_loss --set train.early_stopping.min_delta=1e9 \
    --set train.early_stopping.patience=2
check "early stopping: exit 0, one JSON object" sh -c '[ "$(cat s2.rc)" = 0 ] && "$PYTHON" summary.py s2.json'
check "early stopping: stopped_by, best epoch, validation, no accuracy" "$PYTHON" - <<'PY'
import json
s = json.load(open("s2.json"))
log = [json.loads(l) for l in open("dia.jsonl")]
assert s["status"] == "finished" and s["stopped_by"] == "early_stopping", s
# min_delta 1e9: the first epoch is the best, two more without improvement.
assert s["epochs"] == 3 == len(log) and s["epochs_planned"] == 30 and s["best_epoch"] == 1, s
assert s["validation"]["loss"] == log[-1]["val_loss"] and s["loss"] == log[-1]["loss"]
assert "accuracy" not in s and "accuracy" not in s["validation"] and "accuracy" not in s["test"]
assert not any("accuracy" in r for r in log), log[-1]
assert {"mae", "rmse", "r2"} <= set(s["test"])
PY
check "early stopping: no nan anywhere (stdout, stderr, train.log)" ! grep -i 'nan' s2.json s2.err dia.jsonl
check "early stopping: RESULT leaves accuracy out" sh -c 'grep "^RESULT " s2.err | grep -v "accuracy="'

# 3. The time limit: exit 3, the model so far in --out.
run 3 dptrain train dia.cfg --threads 1 --out tl.h5 --format json --set train.epochs=1000000 \
    --set train.log=tl.jsonl --time-limit 2
check "time limit: exit 3, one JSON object" sh -c '[ "$(cat s3.rc)" = 3 ] && "$PYTHON" summary.py s3.json'
check "time limit: stopped, by time_limit, the model in --out" "$PYTHON" - <<'PY'
import json, os
s = json.load(open("s3.json"))
assert s["status"] == "stopped" and s["stopped_by"] == "time_limit" and s["exit_status"] == 3, s
assert s["out"] == "tl.h5" and os.path.exists("tl.h5") and "test" not in s
assert 0 < s["epochs"] < s["epochs_planned"]
PY

# 4. A stop request after 5 steps (as a signal would): exit 3, the
#    checkpoint it wrote, where it stands.
run 4 dptrain train dia.cfg --threads 1 --out so.h5 --format json --set train.log=so.jsonl \
    --stop-after-steps 5
check "stop request: exit 3, one JSON object" sh -c '[ "$(cat s4.rc)" = 3 ] && "$PYTHON" summary.py s4.json'
dptrain inspect so-ckpt.h5 --format json > inspect4.json
check "stop request: stopped_by signal, the checkpoint and its step" "$PYTHON" - <<'PY'
import json
s, ins = json.load(open("s4.json")), json.load(open("inspect4.json"))
assert s["status"] == "stopped" and s["stopped_by"] == "signal", s
assert s["steps"] == s["checkpoint_step"] == 5 and s["checkpoint"] == "so-ckpt.h5", s
assert "out" not in s and "loss" not in s  # no model written, no epoch finished
assert ins["kind"] == "checkpoint" and ins["global_step"] == 5, ins
PY

# 5. An error: exit 1, the object says so with the message of stderr's line.
run 5 dptrain train iris.cfg --out x.h5 --format json --set model.loss=mse --set train.log=x.csv
check "error: exit 1, one JSON object" sh -c '[ "$(cat s5.rc)" = 1 ] && "$PYTHON" summary.py s5.json'
check "error: status error, the message of the error line" "$PYTHON" - <<'PY'
import json
s = json.load(open("s5.json"))
line = [l for l in open("s5.err") if l.startswith("dptrain: error: ")][0]
assert s["status"] == "error" and s["stopped_by"] == "error" and s["exit_status"] == 1, s
assert s["error"] == line[len("dptrain: error: "):].rstrip("\n"), (s["error"], line)
assert s["epochs"] == 0 and "out" not in s
PY

# 6. On 2 ranks: one object (rank 0's), ranks = 2.
run 6 mpirun_np 2 "$DPTRAIN" train iris.cfg --threads 1 --out m2.h5 --format json \
    --set train.log=m2.csv
check "2 ranks: exit 0, one JSON object" sh -c '[ "$(cat s6.rc)" = 0 ] && "$PYTHON" summary.py s6.json'
check "2 ranks: ranks 2" "$PYTHON" -c 'import json; s = json.load(open("s6.json")); assert s["ranks"] == 2 and s["status"] == "finished", s'

summary
