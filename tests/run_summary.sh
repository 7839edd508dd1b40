#!/bin/sh
# train --summary FILE.json: the end-of-run summary, written whole (a
# temporary file renamed over FILE) however the run ends: all epochs,
# early stopping (and the epoch whose weights were restored), the time
# limit, a signal, a NaN, an error. --format json prints the same object.
# The first and last lines of a run, and the summary, say when (case 10).
# Each case reads the file with Python's json and checks it against
# train.log, the files on disk and dptrain eval, computed here on their own.
. "${top_srcdir:?run me through make check}/tests/lib.sh"

data="$top_srcdir/data"
sed -e 's|"\.\./data/|"'"$data"'/|' -e 's/epochs = 100;/epochs = 12; log = "iris.csv";/' \
    "$top_srcdir/examples/iris.cfg" > iris.cfg
check "the model file is set up" grep -q 'log = "iris.csv"' iris.cfg

# run N CMD...: CMD's stdout in oN, stderr in eN, exit status in rcN.
run() {
    n=$1
    shift
    if "$@" > "o$n" 2> "e$n"; then echo 0; else echo $?; fi > "rc$n"
}

# 1. All epochs: the file is the object --format json prints; its final and
#    best metrics are those of train.log, its test those of eval.
run 1 dptrain train iris.cfg --threads 1 --out m1.h5 --summary sum/s1.json --format json
dptrain eval m1.h5 "$data/iris-test.h5" --format json > eval1.json
check "epochs: exit 0, the summary file and stdout hold one and the same object" \
    sh -c '[ "$(cat rc1)" = 0 ] && cmp o1 sum/s1.json'
check "epochs: stopped_by, counts, final and best from train.log, test from eval, files" \
    "$PYTHON" - "$data/iris-train.h5" <<'PY'
import csv, json, math, os, sys
import h5py
s = json.load(open("sum/s1.json"))
log = list(csv.DictReader(open("iris.csv")))
ev = json.load(open("eval1.json"))
rows = len(h5py.File(sys.argv[1], "r")["y"])
assert s["status"] == "finished" and s["stopped_by"] == "epochs" and s["exit_status"] == 0, s
assert s["epochs"] == len(log) == 12 and s["steps"] == 12 * math.ceil(rows / 16), s
close = lambda a, b: math.isclose(a, float(b), rel_tol=1e-9)
assert close(s["final"]["train"]["loss"], log[-1]["loss"]), (s["final"], log[-1])
assert close(s["final"]["train"]["accuracy"], log[-1]["accuracy"])
for name, pick in (("loss", min), ("accuracy", max)):
    vals = [float(r[name]) for r in log]
    best = pick(vals)
    epoch = vals.index(best) + 1  # the first epoch reaching it
    got = s["best"]["train"][name]
    assert close(got["value"], best) and got["epoch"] == epoch, (name, got, best, epoch)
assert "validation" not in s["best"] and "validation" not in s["final"]
t = s["final"]["test"]
assert t["loss"] == ev["loss"] and t["accuracy"] == ev["accuracy"] and t["confusion"] == ev["confusion"]
f = s["files"]
assert f == {"model": "m1.h5", "log": "iris.csv", "summary": "sum/s1.json"}, f
assert all(os.path.exists(p) for p in f.values())
assert s["samples_per_s"] > 0 and 0 < s["seconds"] <= s["wall_seconds"], s
print("best", s["best"]["train"], "final", s["final"]["train"])
PY
check "epochs: no temporary file is left beside the summary" [ "$(ls sum)" = s1.json ]

# 2. Early stopping with restore_best_weights, on validation data: the
#    epoch restored is the first one (min_delta 1e9: no later epoch counts
#    as better), and the best validation loss is train.log's smallest.
run 2 dptrain train iris.cfg --threads 1 --out m2.h5 --summary s2.json --set train.log=es.csv \
    --set data.validation_split=0.25 --set train.early_stopping.monitor=val_loss \
    --set train.early_stopping.min_delta=1e9 --set train.early_stopping.patience=3 \
    --set train.early_stopping.restore_best_weights=true
check "early stopping: exit 0, restored epoch 1, best and final validation from train.log" \
    "$PYTHON" - <<'PY'
import csv, json, math
assert open("rc2").read().strip() == "0"
s = json.load(open("s2.json"))
log = list(csv.DictReader(open("es.csv")))
assert s["stopped_by"] == "early_stopping" and s["best_epoch"] == 1 and s["restored_epoch"] == 1, s
assert s["epochs"] == len(log) == 4, (s["epochs"], len(log))
vals = [float(r["val_loss"]) for r in log]
b = s["best"]["validation"]["loss"]
assert math.isclose(b["value"], min(vals), rel_tol=1e-9) and b["epoch"] == vals.index(min(vals)) + 1, b
assert math.isclose(s["final"]["validation"]["loss"], vals[-1], rel_tol=1e-9)
PY
check "early stopping: the text output says which epoch's weights were written" \
    grep -q "; wrote m2.h5 (the weights of epoch 1, restored by early stopping)" o2
check "a run without early stopping says nothing of the kind" ! grep -q "restored by early stopping" o1 e1

# 3. The time limit: exit 3, the model so far written and listed.
run 3 dptrain train iris.cfg --threads 1 --out m3.h5 --summary s3.json --set train.log=tl.csv \
    --set train.epochs=100000000 --time-limit 2
check "time limit: exit 3, stopped_by time_limit, the model in files" "$PYTHON" - <<'PY'
import json, os
assert open("rc3").read().strip() == "3"
s = json.load(open("s3.json"))
assert s["status"] == "stopped" and s["stopped_by"] == "time_limit" and s["exit_status"] == 3, s
assert s["files"]["model"] == "m3.h5" and os.path.exists("m3.h5") and 0 < s["epochs"] < s["epochs_planned"]
assert "test" not in s["final"]
PY

# 4. SIGTERM during training: exit 3, the signal named, the checkpoint
#    written and listed.
# ("$DPTRAIN", not the shell function: the signal must reach dptrain itself.)
"$DPTRAIN" train iris.cfg --threads 1 --out m4.h5 --summary s4.json --set train.log=sig.csv \
    --set train.epochs=100000000 > o4 2> e4 &
pid=$!
i=0
while [ ! -s sig.csv ] && [ $i -lt 300 ]; do sleep 0.1; i=$((i + 1)); done
sleep 0.3
kill -TERM $pid
if wait $pid; then echo 0; else echo $?; fi > rc4
check "signal: exit 3, stopped_by signal, SIGTERM, the checkpoint in files" "$PYTHON" - <<'PY'
import json, os
assert open("rc4").read().strip() == "3", open("rc4").read()
s = json.load(open("s4.json"))
assert s["status"] == "stopped" and s["stopped_by"] == "signal" and s["signal"] == "SIGTERM", s
assert s["files"]["checkpoint"] == "m4-ckpt.h5" and os.path.exists("m4-ckpt.h5"), s["files"]
assert s["checkpoint_step"] == s["steps"] > 0 and "model" not in s["files"]
PY

# 5. A NaN: a layer whose backward writes NaN from the second epoch on
#    (tests/plugins/nan_at_step.c): exit 1, stopped_by nan, one epoch done.
sed 's/{ type = "dense"; units = 3;/{ type = "nan_at_step"; epoch = 1; step = 0; }, &/' iris.cfg > nan.cfg
run 5 dptrain train nan.cfg --threads 1 --out m5.h5 --summary s5.json --set train.log=nan.csv \
    --plugin-path "$DPT_TEST_PLUGINS/nan_at_step.so"
check "NaN: exit 1, stopped_by nan, the error line's message, one epoch" "$PYTHON" - <<'PY'
import json
assert open("rc5").read().strip() == "1"
s = json.load(open("s5.json"))
line = [l for l in open("e5") if l.startswith("dptrain: error: ")][0]
assert s["status"] == "error" and s["stopped_by"] == "nan" and s["exit_status"] == 1, s
assert s["error"] == line[len("dptrain: error: "):].rstrip("\n") and "NaN" in s["error"]
assert s["epochs"] == 1 and "model" not in s["files"] and s["final"]["train"]["loss"] > 0
PY

# 6. An error before training (a data file that is not HDF5): exit 1, the
#    summary still written.
echo "not hdf5" > bad.h5
run 6 dptrain train iris.cfg --out m6.h5 --summary s6.json --set data.train=bad.h5 --set train.log=e.csv
check "error: exit 1, stopped_by error, nothing but the summary in files" "$PYTHON" - <<'PY'
import json
assert open("rc6").read().strip() == "1"
s = json.load(open("s6.json"))
assert s["stopped_by"] == "error" and "bad.h5" in s["error"] and s["epochs"] == 0, s
assert s["files"] == {"summary": "s6.json"} and s["best"] == {} and s["final"] == {}, s
PY

# 7. A summary that cannot be written fails at start-up, naming it, in one
#    error line (no second one for the summary it then cannot write).
expect_error "--summary /proc/s.json: cannot write a file in /proc" \
    dptrain train iris.cfg --out m7.h5 --summary /proc/s.json --set train.log=p.csv
check "no training happened (no model file)" [ ! -e m7.h5 ]
check "one error line" [ "$(grep -c '^dptrain: error: ' "$tmp/.err")" = 1 ]

# 9. A typo in the model file's train or data section, or at its top level,
#    is found as the file is read, before any output is checked: the
#    summary is written all the same, in a folder that does not exist yet
#    (made as for every output), with one error line, the typo's (on 2
#    ranks too: rank 0 writes it).
sed 's/epochs = 12;/epoch = 12;/' iris.cfg > typo_train.cfg
sed 's/standardize = true;/standardise = true;/' iris.cfg > typo_data.cfg
{ cat iris.cfg; echo 'trian = { batch = 16; };'; } > typo_top.cfg
for t in train data top; do
    run 9$t dptrain train typo_$t.cfg --out new9$t/m.h5 --summary new9$t/s.json
done
run 9np mpirun_np 2 "$DPTRAIN" train typo_train.cfg --threads 1 --out new9np/m.h5 \
    --summary new9np/s.json
for t in train data top np; do
    check "typo ($t): exit 1, one error line, the summary in the new folder says it" \
        "$PYTHON" - "9$t" <<'PY'
import json, sys
n = sys.argv[1]
assert open("rc" + n).read().strip() == "1"
errors = [l for l in open("e" + n) if l.startswith("dptrain: error: ")]
assert len(errors) == 1, errors
s = json.load(open("new%s/s.json" % n))
assert s["status"] == "error" and s["stopped_by"] == "error" and s["exit_status"] == 1, s
assert s["error"] == errors[0][len("dptrain: error: "):].rstrip("\n"), (s["error"], errors)
assert "typo_" in s["error"] and s["files"] == {"summary": "new%s/s.json" % n}, s
print(errors[0].rstrip())
PY
done

# 8. On 2 ranks: one summary (rank 0's), ranks 2.
run 8 mpirun_np 2 "$DPTRAIN" train iris.cfg --threads 1 --out m8.h5 --summary s8.json \
    --set train.log=m8.csv
check "2 ranks: exit 0, ranks 2, finished" "$PYTHON" -c '
import json; s = json.load(open("s8.json"))
assert open("rc8").read().strip() == "0" and s["ranks"] == 2 and s["status"] == "finished", s'

# 10. When, for batch logs: the first line says when the run started and
#     the last line when it ended (UTC, to the second), and the summary has
#     both in ISO 8601 ("started", "ended"), within this test's own clock.
before=$(date -u +%s)
run 10 dptrain train iris.cfg --threads 1 --out m10.h5 --summary s10.json --set train.log=iris10.csv
after=$(date -u +%s)
check "the first and last lines and the summary say when (UTC)" "$PYTHON" - "$before" "$after" <<'PY'
import datetime, json, re, sys
lo, hi = int(sys.argv[1]), int(sys.argv[2])
out = open("o10").read().splitlines()
first = re.match(r"dptrain [0-9.]+, (\S+ \S+) UTC: training iris.cfg on ", out[0])
last = [re.search(r"; wrote m10.h5; (\S+ \S+) UTC$", l) for l in out if l.startswith("trained ")]
s = json.load(open("s10.json"))
def at(text, form):
    return datetime.datetime.strptime(text, form).replace(tzinfo=datetime.timezone.utc).timestamp()
t0, t1 = at(first.group(1), "%Y-%m-%d %H:%M:%S"), at(last[0].group(1), "%Y-%m-%d %H:%M:%S")
j0, j1 = at(s["started"], "%Y-%m-%dT%H:%M:%SZ"), at(s["ended"], "%Y-%m-%dT%H:%M:%SZ")
assert lo <= t0 == j0 <= t1 <= j1 <= hi, (lo, t0, j0, t1, j1, hi)
PY
summary
