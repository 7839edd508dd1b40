#!/bin/sh
# `dptrain plan` runs without mpirun, its text and JSON agree, and each of
# its warnings fires on a model that has the problem and not on the same
# model without it. tests/mpi/plan_matches_run.sh compares its figures
# with real runs; tests/bad-input/plan.sh holds its bad command lines.
. "${top_srcdir:?run me through make check}/tests/lib.sh"

bc=$top_srcdir/examples/breast_cancer.cfg
# The cores this process may use (nproc would answer OMP_NUM_THREADS).
cores=$("$PYTHON" -c 'import os; print(len(os.sched_getaffinity(0)))')

# The ids of the warnings of a plan (--format json) in file $1.
ids() {
    "$PYTHON" -c 'import json, sys; print(" ".join(w["id"] for w in json.load(open(sys.argv[1]))["warnings"]))' "$1"
}

# fires NAME ID ARGS...: the plan of ARGS warns ID; quiet NAME ID ARGS...:
# it does not. Both need the plan to succeed.
fires() {
    name=$1 id=$2
    shift 2
    if dptrain plan "$@" --format json > plan.json 2> plan.err; then
        case " $(ids plan.json) " in
        *" $id "*) ok "$name: warns $id" ;;
        *) fail "$name: no $id warning ($(ids plan.json))" ;;
        esac
    else
        fail "$name: the plan failed"
        dpt__show plan.err
    fi
}
quiet() {
    name=$1 id=$2
    shift 2
    if dptrain plan "$@" --format json > plan.json 2> plan.err; then
        case " $(ids plan.json) " in
        *" $id "*) fail "$name: warns $id"; "$PYTHON" -m json.tool plan.json | grep -A1 "\"$id\"" ;;
        *) ok "$name: no $id warning" ;;
        esac
    else
        fail "$name: the plan failed"
        dpt__show plan.err
    fi
}

# 1. Without mpirun, text and JSON: the same steps, rows and file sizes.
must dptrain plan "$bc" -np 2 --threads 1 --checkpoint ck/bc.h5
cp log plan.txt
must dptrain plan "$bc" -np 2 --threads 1 --checkpoint ck/bc.h5 --format json
cp log plan1.json
check "text and JSON agree (steps, rows per rank, file sizes, time)" "$PYTHON" - plan.txt plan1.json <<'PY'
import json, re, sys
text, p = open(sys.argv[1]).read(), json.load(open(sys.argv[2]))
assert f"{p['steps_per_epoch']} steps an epoch, {p['epochs']} epochs, {p['steps']} steps" in text
for r in p["per_rank"]:
    assert f"rank {r['rank']}: {r['train']} / {r['validation']} / {r['test']}" in text, r
assert f"({p['files']['model_bytes']} bytes)" in text and f"({p['files']['checkpoint_bytes']} bytes)" in text
assert p["time"]["steps_timed"] == 5 and p["time"]["step_s"] > 0, p["time"]
assert abs(p["time"]["estimate_s"] - p["time"]["step_s"] * p["steps"]) < 1e-9 * p["steps"]
assert "an estimate for this machine" in text
assert sum(r["train"] for r in p["per_rank"]) == p["train_rows"]
print(p["steps"], "steps;", p["time"]["estimate_s"], "s estimated")
PY
check "nothing was written (no model file, no checkpoint folder)" \
    sh -c '! [ -e breast_cancer.h5 ] && ! [ -e ck ]'

# 2. The learning-rate schedule: the factors train.lr_schedule gives at
#    the steps the plan names, times the optimizer's learning_rate.
must dptrain plan "$bc" --time-steps 0 --format json --set model.optimizer.type=adam \
    --set model.optimizer.learning_rate=0.01 --set train.lr_schedule.type=cosine \
    --set train.lr_schedule.decay_steps=300 --set train.lr_schedule.warmup_steps=30
cp log sched.json
check "cosine with warmup: lr at each step as the formula gives it" "$PYTHON" - sched.json <<'PY'
import json, math, sys
p = json.load(open(sys.argv[1]))
pts = p["learning_rate"]
assert len(pts) >= 5 and pts[0]["step"] == 1 and pts[-1]["step"] == p["steps"], pts
for q in pts:
    t = q["step"]
    # Cosine to 0 over decay_steps, counting the t - 1 steps before step t
    # (Keras' schedules see the step from 0).
    f = 0.5 * (1 + math.cos(math.pi * min(t - 1, 300) / 300))
    f *= min(1.0, t / 30)                                    # linear warmup
    assert abs(q["factor"] - f) < 1e-6, (t, q["factor"], f)
    assert abs(q["learning_rate"] - 0.01 * q["factor"]) < 1e-9, q
print([(q["step"], round(q["learning_rate"], 6)) for q in pts])
PY

# 3. The warnings, each on a model that has the problem, then on the same
#    one without it. --ranks-per-node 1 keeps the cores out of it.
fires "micro-shards 8 of batch 32 on 3 ranks" uneven_batch "$bc" -np 3 --threads 1 \
    --ranks-per-node 1 --set train.micro_batch=8 --time-steps 0
quiet "micro-shards 8 of batch 32 on 2 ranks" uneven_batch "$bc" -np 2 --threads 1 \
    --ranks-per-node 1 --set train.micro_batch=8 --time-steps 0
fires "batch 8 in one micro-shard on 2 ranks" idle_rank "$bc" -np 2 --threads 1 \
    --ranks-per-node 1 --set train.batch=8 --set train.micro_batch=8 --time-steps 0
quiet "batch 8 in two micro-shards on 2 ranks" idle_rank "$bc" -np 2 --threads 1 \
    --ranks-per-node 1 --set train.batch=8 --set train.micro_batch=4 --time-steps 0
# A batch above the training rows: idle_rank's reason says the data has
# fewer rows than the batch, and the plan carries train's note (JSON
# batch_note, a "note:" line of the text); a batch within the rows has none.
fires "batch 100000 on 2 ranks" idle_rank "$bc" -np 2 --threads 1 \
    --ranks-per-node 1 --set train.batch=100000 --time-steps 0
check "idle_rank names the training rows and the batch; batch_note says what a step is" \
    "$PYTHON" - plan.json <<'PY'
import json, sys
p = json.load(open(sys.argv[1]))
n = p["train_rows"]
w = [w["message"] for w in p["warnings"] if w["id"] == "idle_rank"][0]
assert f"the data has {n} training rows, fewer than the batch of 100000" in w, w
assert p["batch_note"].startswith(f"train.batch = 100000 is more than the {n} training rows: "
                                  f"each epoch is one step over all {n} rows"), p["batch_note"]
print(w)
PY
dptrain plan "$bc" -np 2 --threads 1 --ranks-per-node 1 --set train.batch=100000 \
    --time-steps 0 > note.txt 2>&1 || true
check "the text has the note after the steps" \
    sh -c 'grep -A1 "^steps: " note.txt | grep -q "^note: train.batch = 100000 is more than"'
must dptrain plan "$bc" --time-steps 0 --format json
check "a batch within the rows: batch_note null" "$PYTHON" -c '
import json; assert json.load(open("log"))["batch_note"] is None'
fires "early stopping on val_loss without validation data" refused "$bc" \
    --set train.early_stopping.patience=3 --time-steps 0
check "the refusal is dpt_consistency_check's, naming val_loss" grep -q "val_loss" plan.json
quiet "early stopping on val_loss with validation_split" refused "$bc" \
    --set train.early_stopping.patience=3 --set data.validation_split=0.2 --time-steps 0
fires "$cores ranks x 2 threads on $cores cores" oversubscribed "$bc" -np "$cores" \
    --threads 2 --time-steps 0
quiet "1 rank x 1 thread" oversubscribed "$bc" -np 1 --threads 1 --time-steps 0
fires "an estimate beyond train.time_limit = 1" time_limit "$bc" \
    --set train.epochs=1000000 --set train.time_limit=1
quiet "the same without a time limit" time_limit "$bc" --set train.epochs=1000000
fires "inputs scaled to infinity: the steps cannot be timed" timing "$bc" \
    --set data.scale=1e37
quiet "inputs as they are" timing "$bc"

# rereads_compressed: X gzip-compressed in chunks, read in windows of 64
# rows; the same windows of a contiguous copy, and the compressed file
# kept in memory, read it once.
"$PYTHON" - "$top_srcdir/data/breast_cancer-train.h5" <<'PY'
import h5py, sys
src = h5py.File(sys.argv[1], "r")
for name, opts in (("gzip.h5", dict(chunks=(64, src["X"].shape[1]), compression="gzip")),
                   ("plain.h5", {})):
    with h5py.File(name, "w") as f:
        f.create_dataset("X", data=src["X"][...], **opts)
        f.create_dataset("y", data=src["y"][...])
PY
fires "gzip chunks read in windows of 64 rows" rereads_compressed "$bc" \
    --set data.train=gzip.h5 --set data.cache=none --set data.window_rows=64 --time-steps 0
quiet "a contiguous X read in windows of 64 rows" rereads_compressed "$bc" \
    --set data.train=plain.h5 --set data.cache=none --set data.window_rows=64 --time-steps 0
quiet "gzip chunks kept in memory" rereads_compressed "$bc" \
    --set data.train=gzip.h5 --set data.cache=all --time-steps 0
quiet "gzip chunks in windows of 64 rows in block order" rereads_compressed "$bc" \
    --set data.train=gzip.h5 --set data.cache=none --set data.window_rows=64 \
    --set data.shuffle_by=blocks --time-steps 0
# The reading line says what train --verbose says: chunk reads, kept once
# inflated in $TMPDIR (40 epochs, streamed), shared by the node's ranks,
# block order (blocks of X's chunk, 64 rows).
TMPDIR="$PWD" "$DPTRAIN" plan "$bc" -np 2 --set data.train=gzip.h5 --set data.cache=none \
    --set data.shuffle_by=blocks --time-steps 0 > reading.txt
check "plan, 2 ranks, gzip: read by chunks, kept, each once for the node's 2 ranks, in block order" \
    grep -q "^reading: .*by chunks inflated with libdeflate (once: then kept in $PWD, .* of disk a node), each once for the node's 2 ranks; in block order: blocks of 64 rows" reading.txt
TMPDIR="$PWD" "$DPTRAIN" plan "$bc" -np 2 --set data.train=gzip.h5 --set data.cache=none \
    --set data.shuffle_by=blocks --time-steps 0 --format json > reading.json
DPTRAIN_SCRATCH=none "$DPTRAIN" plan "$bc" -np 2 --set data.train=gzip.h5 --set data.cache=none \
    --set data.shuffle_by=blocks --time-steps 0 --format json > none.json
DPTRAIN_NO_SHARED_CHUNKS=1 "$DPTRAIN" plan "$bc" -np 2 --set data.train=gzip.h5 \
    --set data.cache=none --set data.shuffle_by=blocks --time-steps 0 --format json > alone.json
check "plan counts the rows swapped by the node's ranks in each rank's data bytes" \
    "$PYTHON" -c "import json, sys; d = lambda f: json.load(open(f))['memory_per_rank']['data']; sys.exit(not d('reading.json') > d('alone.json'))"
# chunks_not_kept: no file as large as X inflated may be written (a file-size limit, ulimit -f).
(ulimit -f 64 && "$DPTRAIN" plan "$bc" --set data.train=gzip.h5 --set data.cache=none \
    --time-steps 0 > fsize.txt 2>&1)
check "chunks_not_kept under a file-size limit names it (ulimit -f)" \
    grep -q "warning \[chunks_not_kept\]: .* not kept once inflated: the file-size limit (ulimit -f) is 32.0 KiB" fsize.txt ||
    cat fsize.txt
# chunks_not_kept: the folder for the kept chunks cannot hold a file.
export DPTRAIN_SCRATCH="$PWD/nowhere"
fires "gzip, streamed, 40 epochs, DPTRAIN_SCRATCH a missing folder" chunks_not_kept \
    "$bc" --set data.train=gzip.h5 --set data.cache=none --time-steps 0
check "chunks_not_kept names the folder and the reason" \
    grep -q "not kept once inflated: cannot make a file in $PWD/nowhere: " plan.json
DPTRAIN_SCRATCH=none
quiet "gzip, streamed, 40 epochs, DPTRAIN_SCRATCH=none" chunks_not_kept \
    "$bc" --set data.train=gzip.h5 --set data.cache=none --time-steps 0
unset DPTRAIN_SCRATCH
# The disk the kept chunks take on the node: X inflated (whole chunks of
# 64 rows) once when the ranks share the chunks, once per rank when not.
check "plan --format json: the kept chunks' folder and disk (X inflated; twice unshared; none)" \
    "$PYTHON" - <<'PY'
import json, math, os, sys, h5py
p, a, n = (json.load(open(f)) for f in ("reading.json", "alone.json", "none.json"))
X = h5py.File("gzip.h5", "r")["X"]
inflated = math.ceil(X.shape[0] / 64) * 64 * X.shape[1] * X.dtype.itemsize
print(p["chunks_kept_in"], p["chunks_kept_bytes"], a["chunks_kept_bytes"], n["chunks_kept_in"], inflated)
sys.exit(not (p["chunks_kept_in"] == os.getcwd() and p["chunks_kept_bytes"] == inflated
              and a["chunks_kept_bytes"] == 2 * inflated and n["chunks_kept_in"] is None
              and n["chunks_kept_bytes"] == 0))
PY
# A tmpfs that DPTRAIN_SCRATCH names: kept there, and what it takes is memory.
DPTRAIN_SCRATCH=/dev/shm "$DPTRAIN" plan "$bc" -np 2 --set data.train=gzip.h5 \
    --set data.cache=none --time-steps 0 > shm.txt
DPTRAIN_SCRATCH=/dev/shm "$DPTRAIN" plan "$bc" -np 2 --set data.train=gzip.h5 \
    --set data.cache=none --time-steps 0 --format json > shm.json
check "DPTRAIN_SCRATCH=/dev/shm (a tmpfs): plan says the kept chunks take memory, not disk" \
    grep -q "^reading: .*(once: then kept in /dev/shm, .* of memory (a tmpfs) a node)" shm.txt
check "  ... chunks_kept_in_memory true there, false in \$PWD" \
    "$PYTHON" -c "import json, sys; m = lambda f: json.load(open(f))['chunks_kept_in_memory']; sys.exit(not (m('shm.json') is True and m('reading.json') is False))"
check "plan --format json: chunk_reads, chunks_shared_by 2, order blocks" \
    "$PYTHON" -c "import json, sys; p = json.load(open('reading.json')); sys.exit(not (p['chunk_reads'] is True and p['chunks_shared_by'] == 2 and p['order'] == 'blocks' and p['block_rows'] == 64))"

# The chunk reads' buffers are part of a rank's data bytes: the gzip file
# needs its inflated chunk and its compressed one more than the contiguous
# copy (2 x 64 rows x the row's bytes).
for f in gzip plain; do
    "$DPTRAIN" plan "$bc" -np 1 --set data.train=$f.h5 --set data.cache=none \
        --set data.window_rows=64 --time-steps 0 --format json > mem-$f.json
done
check "plan's data bytes count the chunk reader's two chunk buffers" \
    "$PYTHON" - "$top_srcdir/data/breast_cancer-train.h5" <<'PY'
import h5py, json, sys
x = h5py.File(sys.argv[1], "r")["X"]
chunk = 64 * x.shape[1] * x.dtype.itemsize
d = lambda f: json.load(open(f))["memory_per_rank"]["data"]
sys.exit(d("mem-gzip.json") - d("mem-plain.json") != 2 * chunk)
PY

# disk_space: a checkpoint every step, kept by the million, cannot fit the
# free space of this folder's filesystem; the default two can.
free=$(df -P -B1 . | awk 'NR == 2 { print $4 }')
keep=$((free / 20000 + 1000))
fires "keep $keep checkpoints of every step ($free bytes free)" disk_space "$bc" \
    --checkpoint ck/c.h5 --set train.checkpoint.every_steps=1 \
    --set train.checkpoint.keep=$keep --set train.epochs=$((keep / 10)) --time-steps 0
check "the disk_space warning names the folder and the sizes" \
    grep -q "not enough free space for.* [0-9]* checkpoints of ck/c.h5 in" plan.json
quiet "keep 2 of them" disk_space "$bc" --checkpoint ck/c.h5 \
    --set train.checkpoint.every_steps=1 --set train.epochs=$((keep / 10)) --time-steps 0

# memory: a rank of a model with about 2.4M parameters (Adam: the
# parameters, a gradient and two state floats each, and workspaces) fits
# this machine; as many ranks on one node as need twice its MemAvailable
# do not. (Not under `ulimit -v`, which AddressSanitizer's build cannot run
# under.)
big="--set model.layers.[0].units=40000 --set model.layers.[1].units=30 --time-steps 0"
# shellcheck disable=SC2086
must dptrain plan "$bc" -np 1 $big --format json
cp log mem1.json
per_rank=$("$PYTHON" -c 'import json, sys; print(json.load(open(sys.argv[1]))["memory_per_rank"]["total"])' mem1.json)
avail_kb=$(sed -n 's/^MemAvailable: *\([0-9]*\) kB/\1/p' /proc/meminfo)
many=$((avail_kb * 1024 * 2 / per_rank + 1))
for np in "$many" 1; do
    # shellcheck disable=SC2086
    if dptrain plan "$bc" -np "$np" $big --format json > mem.json 2> mem.err; then
        case " $(ids mem.json) " in
        *" memory "*) got=warns ;;
        *) got=quiet ;;
        esac
        want=$([ "$np" = 1 ] && echo quiet || echo warns)
        check "$np ranks of $per_rank bytes each on one node: $want memory" test "$got" = "$want"
    else
        fail "$np ranks: the plan failed"
        dpt__show mem.err
    fi
done

# Every warning plan can give is named in dptrain(1) and README.md.
for id in $(grep -o 'warn(p, "[a-z_]*"' "$top_srcdir/src/train/plan.c" | cut -d'"' -f2 | sort -u); do
    check "warning $id: in dptrain(1) and README.md" \
        sh -c "grep -q '^\\.BR* $id' '$top_srcdir/man/dptrain.1' && grep -q '\`$id\`' '$top_srcdir/README.md'"
done

summary
