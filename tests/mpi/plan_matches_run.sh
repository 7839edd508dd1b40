#!/bin/sh
# What `dptrain plan -np P --threads T` says a job will do is what
# `mpirun -np P dptrain train --threads T` then does: the steps it reports,
# the micro-shard size --verbose prints, the bytes of the model file and
# of every checkpoint file it writes, and how many checkpoints it writes
# and keeps. The rows per rank (training, validation, test) are checked
# against numpy, which deals the micro-shards of every step as shard.h
# says (micro-shard k of a step to rank k % P) and splits validation and
# test rows into contiguous shares.
. "${top_srcdir:?run me through make check}/tests/lib.sh"

bc=$top_srcdir/examples/breast_cancer.cfg
# A validation split, checkpoints every 7 steps (and each epoch), so that
# the counts are not trivial; few epochs, so that it is quick.
sets="--set train.epochs=3 --set data.validation_split=0.2 --set train.checkpoint.every_steps=7"

for job in "1 1 2" "2 1 100" "3 1 2" "2 2 3"; do
    set -- $job
    P=$1 T=$2 keep=$3
    dir=run-$P-$T
    mkdir "$dir"
    # shellcheck disable=SC2086
    must dptrain plan "$bc" -np "$P" --threads "$T" $sets --set train.checkpoint.keep="$keep" \
        --out "$dir/m.h5" --checkpoint "$dir/ck/c.h5" --format json
    cp log "$dir/plan.json"
    # The JSON object on stdout, the --verbose lines on stderr, in files of
    # their own: mpirun forwards the two streams in pieces, and merged they
    # can cut the one long JSON line in two.
    # shellcheck disable=SC2086
    if ! mpirun_np "$P" "$DPTRAIN" train "$bc" --threads "$T" $sets \
            --set train.checkpoint.keep="$keep" --out "$dir/m.h5" --checkpoint "$dir/ck/c.h5" \
            --format json --verbose > "$dir/train.json" 2> "$dir/train.log"; then
        cat "$dir/train.log"
        fail "$P x $T: the training run failed"
        summary
    fi
    check "$P x $T: steps, micro-shards, file sizes and checkpoints as planned" \
        "$PYTHON" - "$dir" <<'PY'
import glob, json, os, re, sys
d = sys.argv[1]
p = json.load(open(f"{d}/plan.json"))
log = open(f"{d}/train.log").read()
run = json.loads([l for l in open(f"{d}/train.json").read().splitlines()
                  if l.startswith('{"status"')][-1])
assert run["status"] == "finished", run
assert run["steps"] == p["steps"], (run["steps"], p["steps"])
assert run["params"] == p["params"], (run["params"], p["params"])
m = re.search(r"micro-shards of (\d+) rows", log)
assert m and int(m.group(1)) == p["micro_batch"], (m and m.group(0), p["micro_batch"])
f = p["files"]
assert os.path.getsize(f"{d}/m.h5") == f["model_bytes"], (os.path.getsize(f"{d}/m.h5"), f)
kept = sorted(glob.glob(f"{d}/ck/c-*.h5"))
assert len(kept) == f["checkpoints_kept"], (len(kept), f)
for k in kept:
    assert os.path.getsize(k) == f["checkpoint_bytes"], (k, os.path.getsize(k), f)
print(p["steps"], "steps, micro", p["micro_batch"], "model", f["model_bytes"], "bytes,",
      len(kept), "checkpoints of", f["checkpoint_bytes"], "bytes")
PY
    check "$P x $T: rows per rank as numpy deals them" "$PYTHON" - "$dir/plan.json" \
        "$top_srcdir/data/breast_cancer-train.h5" "$top_srcdir/data/breast_cancer-test.h5" <<'PY'
import json, sys
import h5py
p = json.load(open(sys.argv[1]))
N = h5py.File(sys.argv[2], "r")["X"].shape[0]
N_test = h5py.File(sys.argv[3], "r")["X"].shape[0]
P, B, m = p["ranks"], p["batch"], p["micro_batch"]
n_val = max(1, round(N * 0.2))
n_train = N - n_val
train = [0] * P
for first in range(0, n_train, B):
    rows = min(B, n_train - first)
    for k, start in enumerate(range(0, rows, m)):
        train[k % P] += min(m, rows - start)
share = lambda n, r: n * (r + 1) // P - n * r // P
for r, q in enumerate(p["per_rank"]):
    assert q["train"] == train[r], (r, q, train)
    assert q["validation"] == share(n_val, r), (r, q)
    assert q["test"] == share(N_test, r), (r, q)
print("train", train, "validation", [q["validation"] for q in p["per_rank"]])
PY
done

# With keep = 100 nothing was pruned, so the files on disk are all the
# checkpoints the run wrote: as many as the plan said.
check "2 x 1, keep 100: the checkpoints written are those planned" "$PYTHON" - run-2-1 <<'PY'
import glob, json, sys
p = json.load(open(f"{sys.argv[1]}/plan.json"))
files = glob.glob(f"{sys.argv[1]}/ck/c-*.h5")
assert len(files) == p["files"]["checkpoints_written"] == p["files"]["checkpoints_kept"], \
    (len(files), p["files"])
print(len(files), "checkpoints")
PY

summary
