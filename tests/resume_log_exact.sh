#!/bin/sh
# train.log of an interrupted and resumed run is the uninterrupted run's
# (issue 13): a resume drops the rows the interrupted run logged after the
# checkpoint it continues from, which it logs again. Only the wall-clock
# columns (samples_per_s, seconds, elapsed) may differ; every other column
# is compared as written.
. "${top_srcdir:?run me through make check}/tests/lib.sh"

dpt_test data train.h5 --rows 1009 --features 8 --seed 3 --noise 0.3
cat > m.cfg <<'CFG'
data = { train = "train.h5"; standardize = true; };
model = {
  layers = ( { type = "dense"; units = 16; activation = "relu"; },
             { type = "dense"; units = 1; activation = "sigmoid"; } );
  loss = "bce";
  optimizer = { type = "adam"; learning_rate = 0.01; };
};
train = { batch = 50; epochs = 4; seed = 5; };
CFG
# Steps per epoch: 1009 rows in batches of 50.
steps=$(( (1009 + 49) / 50 ))
# Every checkpoint kept, so that the test can remove the newest.
keep="--set train.checkpoint.keep=100"

# same_log A B: the logs hold the same rows, the same columns, and the same
# values in every column that is not a wall-clock time (CSV or JSON lines).
same_log() {
    "$PYTHON" - "$1" "$2" <<'PY'
import csv, json, sys
clock = {"samples_per_s", "seconds", "elapsed"}
def rows(path):
    with open(path) as f:
        if path.endswith(".jsonl"):
            got = [json.loads(line) for line in f]
        else:
            got = list(csv.DictReader(f))
    return [{k: v for k, v in r.items() if k not in clock} for r in got]
a, b = rows(sys.argv[1]), rows(sys.argv[2])
print("epochs:", [r["epoch"] for r in a], "vs", [r["epoch"] for r in b])
sys.exit(0 if a == b and len(a) == 4 else 1)
PY
}

# drop_after STEP PREFIX: removes the numbered checkpoints of the series
# PREFIX written after global step STEP, as if the job had been killed
# before writing them.
drop_after() {
    for f in "$2"-0*.h5; do
        n=${f#"$2"-}
        n=${n%.h5}
        [ "$(expr "$n" + 0)" -le "$1" ] || rm "$f"
    done
}

must dptrain train m.cfg -q --out u.h5 --set train.log=u.csv
must dptrain train m.cfg -q --out u.h5 --set train.log=u.jsonl

# 1. Killed between epoch 3's log row and its checkpoint: the run stopped one
#    step into epoch 4, and its checkpoints after epoch 2 are removed. The
#    resumed run continues after epoch 2 and logs epoch 3 again.
for log in a.csv a.jsonl; do
    ck=${log%%.*}-${log#*.}
    expect_exit 3 "stopped on request" dptrain train m.cfg -q $keep --checkpoint $ck.h5 --out a.h5 \
        --set train.log=$log --stop-after-steps $((3 * steps + 1))
    drop_after $((2 * steps)) $ck
    check "$log: before the resume, it holds epoch 3 (after the checkpoint)" \
        grep -q '^3,\|"epoch":3,' $log
    must dptrain train m.cfg -q $keep --checkpoint $ck.h5 --resume auto --out a.h5 --set train.log=$log
    check "$log: resumed after epoch 2, it equals the uninterrupted run's" same_log $log u.${log#*.}
done

# 2. Stopped in the middle of epoch 3 (checkpoint at its step 5), resumed,
#    then killed after epoch 3's row and before the checkpoint of the stop
#    one step into epoch 4: resumed again from the middle of epoch 3, the
#    run logs epoch 3 again.
expect_exit 3 "stopped on request" dptrain train m.cfg -q $keep --checkpoint b.h5 --out b.h5out \
    --set train.log=b.csv --stop-after-steps $((2 * steps + 5))
expect_exit 3 "stopped on request" dptrain train m.cfg -q $keep --checkpoint b.h5 --out b.h5out \
    --set train.log=b.csv --resume auto --stop-after-steps $((steps - 5 + 1))
drop_after $((2 * steps + 5)) b
check "before the resume, b.csv holds epoch 3 (after the checkpoint)" grep -q '^3,' b.csv
must dptrain train m.cfg -q $keep --checkpoint b.h5 --resume auto --out b.h5out --set train.log=b.csv
check "resumed inside epoch 3, b.csv equals the uninterrupted run's" same_log b.csv u.csv

# 3. --resume auto with no checkpoint left starts afresh: no row of the
#    earlier run stays in the log.
drop_after 0 b
must dptrain train m.cfg -q $keep --checkpoint b.h5 --resume auto --out b.h5out --set train.log=b.csv
check "a fresh start by --resume auto: b.csv equals the uninterrupted run's" same_log b.csv u.csv

summary
