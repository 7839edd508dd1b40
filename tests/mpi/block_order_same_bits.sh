#!/bin/sh
# Block order (data.shuffle_by, README "Data"): a file too large to keep in
# memory is shuffled by blocks of neighbouring rows, its rows shuffled within
# pools of blocks, so that windows read runs of the file and a chunked file
# is decompressed once an epoch. The order depends on the seed and the epoch
# only: with --deterministic, P x T in {1x1, 2x1, 1x2, 3x1} end with the same
# bits, as do the rows kept in memory, the same values stored in gzip chunks
# (inflated by dptrain, or through HDF5's filters; the ranks of a node
# inflating each chunk once for all of them, or each for itself) and a
# validation split; memory per rank does not grow with the file, and a file
# kept in memory is held once.
. "${top_srcdir:?run me through make check}/tests/lib.sh"

# 3001 rows of 8192 floats: 98 MB, above the 64 MB that "auto" keeps in
# memory. Blocks of 7 rows (256 KB), pools of 1100 rows (32 MB, 11 batches).
data="--rows 3001 --features 8192 --seed 3 --kind classes --classes 3 --informative 16"
# shellcheck disable=SC2086
dpt_test data train.h5 $data
# shellcheck disable=SC2086
dpt_test data chunked.h5 $data --chunk-rows 7
cat > m.cfg <<'CFG'
data = { train = "train.h5"; };
model = {
  layers = ( { type = "dense"; units = 16; activation = "tanh"; },
             { type = "dense"; units = 3; activation = "softmax"; } );
  loss = "cce";
  optimizer = { type = "sgd"; learning_rate = 0.05; };
  metrics = [ "accuracy" ];
};
train = { batch = 100; epochs = 3; seed = 4; micro_batch = 25; deterministic = true; };
CFG

# 1. auto picks block order for this file and reads windows of whole pools.
must mpirun_np 1 "$DPTRAIN" train m.cfg --out p1t1.h5 --verbose
check "1x1: a window at a time, straight from the file, 2 x 1100 rows" \
    grep "read a window of steps at a time, straight from the file (2 buffers of 34.4 MiB per rank); in block order: blocks of 7 rows, pools of 1100" log
must mpirun_np 2 "$DPTRAIN" train m.cfg --out p2t1.h5 --verbose
check "2x1: windows of 550 rows a rank" grep "(2 buffers of 17.2 MiB per rank); in block order" log
must mpirun_np 1 "$DPTRAIN" train m.cfg --threads 2 --out p1t2.h5
must mpirun_np 3 "$DPTRAIN" train m.cfg --out p3t1.h5
must mpirun_np 2 "$DPTRAIN" train m.cfg --set data.cache=all --out p2t1c.h5 --verbose
check "cache = all: kept in memory, in block order" grep "kept in memory.*in block order" log
# The inflations an epoch: without the inflated copies kept on disk (4.).
must mpirun_np 2 env DPTRAIN_SCRATCH=none "$DPTRAIN" train m.cfg --set data.train=chunked.h5 \
    --out p2t1h.h5 --verbose
check "chunks of 7 rows: inflated by dptrain, blocks of 7 rows" \
    grep "by chunks inflated with libdeflate.*blocks of 7 rows" log
check "2 ranks of a node: each chunk inflated once for both" \
    grep "libdeflate, each once for the node's 2 ranks" log
inflated() { sed -n "s/^data: X's 429 chunks were inflated \([0-9]*\) times in all.*/\1/p" log; }
shared=$(inflated)
must mpirun_np 2 env DPTRAIN_NO_SHARED_CHUNKS=1 DPTRAIN_SCRATCH=none "$DPTRAIN" train m.cfg \
    --set data.train=chunked.h5 --out p2t1hn.h5 --verbose
check "DPTRAIN_NO_SHARED_CHUNKS=1: each rank inflates for itself" \
    ! grep "each once for the node" log
alone=$(inflated)
check "DPTRAIN_SCRATCH=none: no warning about it" ! grep -q "not kept once inflated" log
# 3 epochs of 429 chunks, once each (blocks that straddle two pools and the
# checks at opening add a few), against twice that when each rank reads
# for itself.
check "shared: $shared inflations for 3 epochs of 429 chunks (each rank alone: $alone)" \
    "$PYTHON" -c "import sys; sys.exit(not (3 * 429 <= $shared <= 1.05 * 3 * 429 and $alone >= 6 * 429))"
must mpirun_np 3 env DPTRAIN_SCRATCH=none "$DPTRAIN" train m.cfg --set data.train=chunked.h5 \
    --out p3t1h.h5 --verbose
check "3 ranks of a node: each chunk inflated once for all" \
    grep "each once for the node's 3 ranks" log
must mpirun_np 2 env DPTRAIN_NO_CHUNK_READS=1 "$DPTRAIN" train m.cfg \
    --set data.train=chunked.h5 --out p2t1hh.h5 --verbose
check "the same chunks through HDF5's filters, blocks of 7 rows" \
    grep "through HDF5.*blocks of 7 rows" log

# 4. A streamed file read again each epoch keeps its chunks once inflated
#    in an unlinked file in $TMPDIR (or DPTRAIN_SCRATCH's folder) and reads
#    them back from there: the node inflates each chunk once in the run,
#    not once an epoch. Not in a file system in memory unless
#    DPTRAIN_SCRATCH names it; not where the folder is unusable. The ranks
#    of a node keep them in one file, and once a whole epoch has kept every
#    chunk, each reads its own rows from it: no rows move between them.
mkdir scratch
must mpirun_np 2 env TMPDIR="$PWD/scratch" "$DPTRAIN" train m.cfg --set data.train=chunked.h5 \
    --out p2t1hk.h5 --verbose
check "kept: the log says where" grep "libdeflate (once: then kept in $PWD/scratch), each once for the node's 2 ranks" log
kept=$(inflated)
check "kept: $kept inflations for 3 epochs of 429 chunks (each once in the run)" \
    "$PYTHON" -c "import sys; sys.exit(not (429 <= $kept <= 1.05 * 429))"
check "kept: no warning that a rank keeps its own" ! grep -q "but not once a node" log
check "kept: from epoch 2 on, each rank reads its own rows from them" \
    grep "^data: from epoch 2 on, each rank read its own rows from the chunks kept once for its node" log
check "kept: nothing left in the folder" sh -c '[ -z "$(ls -A scratch)" ]'
must mpirun_np 3 env TMPDIR="$PWD/scratch" "$DPTRAIN" train m.cfg --set data.train=chunked.h5 \
    --out p3t1hk.h5 --verbose
kept3=$(inflated)
check "kept, 3 ranks (an epoch a window): each chunk inflated once ($kept3), then own rows read" \
    sh -c "grep -q '^data: from epoch 2 on, each rank read its own rows' log &&
           $PYTHON -c 'import sys; sys.exit(not (429 <= $kept3 <= 1.05 * 429))'"
# A rank that cannot open the node's file through /proc/PID/fd keeps its
# own: rank 1 in a process namespace of its own (rank 0's pid is not there),
# then with a folder of other files mounted over rank 0's /proc/PID/fd (the
# same descriptor number, another file: refused by its device and inode).
# Each chunk is still inflated once, the ranks go on exchanging rows.
must mpirun_np 2 sh -c '[ "$OMPI_COMM_WORLD_RANK" = 1 ] && exec unshare --pid --fork \
    --kill-child --mount-proc "$@"; exec "$@"' sh \
    env TMPDIR="$PWD/scratch" "$DPTRAIN" train m.cfg --set data.train=chunked.h5 \
    --out p2t1hp.h5 --verbose
apart=$(inflated)
check "rank 1 in another pid namespace: a warning names the rank and the cause" \
    grep -q "warning: X's chunks are kept once inflated, but not once a node: rank 1 could not open the file of its node's first rank through /proc/PID/fd (No such file or directory; " log
check "  ... each chunk inflated once all the same ($apart), rows exchanged" \
    sh -c "! grep -q 'each rank read its own rows' log &&
           $PYTHON -c 'import sys; sys.exit(not (429 <= $apart <= 1.05 * 429))'"
mkdir otherfd
for fd in $(seq 0 255); do echo "not the kept file" > otherfd/$fd; done
rm -f rank0.pid
must mpirun_np 2 sh -c 'if [ "$OMPI_COMM_WORLD_RANK" = 0 ]; then echo $$ > rank0.pid; exec "$@"; fi
    while [ ! -s rank0.pid ]; do sleep 0.05; done
    exec unshare --mount sh -c "mount --bind otherfd /proc/$(cat rank0.pid)/fd && exec \"\$@\"" sh "$@"' sh \
    env TMPDIR="$PWD/scratch" "$DPTRAIN" train m.cfg --set data.train=chunked.h5 \
    --out p2t1hm.h5 --verbose
check "another file at rank 0's /proc/PID/fd/N: refused, the warning says so" \
    sh -c "grep -q 'warning: .* but not once a node: rank 1 could not open .* (the path led to another file; ' log &&
           ! grep -q 'each rank read its own rows' log"
check "  ... and the files mounted there are as they were" \
    sh -c '[ "$(cat otherfd/* | sort -u)" = "not the kept file" ]'
check "kept apart: nothing left in the folder" sh -c '[ -z "$(ls -A scratch)" ]'
must mpirun_np 1 env DPTRAIN_SCRATCH=scratch "$DPTRAIN" train m.cfg \
    --set data.train=chunked.h5 --out p1t1hk.h5 --verbose
check "DPTRAIN_SCRATCH names the folder, a relative one shown in full" \
    grep "(once: then kept in $PWD/scratch)" log
check "/dev/shm is a tmpfs (for the next two checks)" sh -c '[ "$(stat -f -c %T /dev/shm)" = tmpfs ]'
must mpirun_np 1 env TMPDIR=/dev/shm "$DPTRAIN" train m.cfg --set data.train=chunked.h5 \
    --set train.epochs=2 --out shm.h5 --verbose
check "TMPDIR in memory: not kept" ! grep "kept in" log
check "TMPDIR in memory: a warning says why and what to set" \
    grep "warning: X's chunks are inflated again each epoch, not kept once inflated: /dev/shm is a file system in memory (tmpfs): set DPTRAIN_SCRATCH" log
must mpirun_np 1 env DPTRAIN_SCRATCH=/dev/shm "$DPTRAIN" train m.cfg \
    --set data.train=chunked.h5 --set train.epochs=2 --out shm.h5 --verbose
check "DPTRAIN_SCRATCH in memory: kept, as asked" grep "(once: then kept in /dev/shm)" log
must mpirun_np 1 env DPTRAIN_SCRATCH="$PWD/no-such-folder" "$DPTRAIN" train m.cfg \
    --set data.train=chunked.h5 --out p1t1hx.h5 --verbose
check "a folder that is not there: not kept, trained all the same" ! grep "kept in" log
check "a folder that is not there: a warning names it" \
    grep "warning: .* not kept once inflated: cannot make a file in $PWD/no-such-folder: " log
# A disk that fills up during the run: rank 1 may write files of 20 MB
# only (ulimit -f; dptrain ignores SIGXFSZ, so the write fails with EFBIG)
# and keeps 49 MB of chunks. It stops keeping, rank 0 says so, the chunks
# not kept are inflated again, and the bits are the same.
must mpirun_np 2 sh -c '[ "$OMPI_COMM_WORLD_RANK" != 1 ] || ulimit -f 40000; exec "$@"' sh \
    env DPTRAIN_SCRATCH="$PWD/scratch" "$DPTRAIN" train m.cfg --set data.train=chunked.h5 \
    --out p2t1hf.h5 --verbose
check "a full disk on rank 1: rank 0 warns, naming the folder and the cause" \
    grep "warning: X's chunks are no longer kept once inflated since epoch 1: a write to $PWD/scratch failed: File too large" log
full=$(inflated)
check "  ... and the chunks not kept are inflated again ($full: more than 429, less than 3 x 429)" \
    "$PYTHON" -c "import sys; sys.exit(not (429 < $full < 3 * 429))"
check "  ... and the ranks go on sharing the chunks each reads (not all are kept)" \
    ! grep "each rank read its own rows" log

# Standardizing a file over 64 MB takes a pass before the first epoch: a
# line says so at once, before the run's first line; not with --quiet.
must mpirun_np 1 "$DPTRAIN" train m.cfg --set data.standardize=true --set train.epochs=1 \
    --out std.h5
check "standardize, 98 MB: a line before the pass, first of the run" \
    sh -c 'head -1 log | grep -q "^data: standardizing: a pass over the 3001 rows of train.h5 (93.8 MiB as floats) for each feature.s mean and standard deviation, before epoch 1$"' ||
    head -3 log
must mpirun_np 1 "$DPTRAIN" train m.cfg --set data.standardize=true --set train.epochs=1 \
    --out std.h5 --quiet
check "  ... not with --quiet" ! grep -q "standardizing" log

# 2. The same bits everywhere.
for run in p2t1 p1t2 p3t1 p2t1c p2t1h p2t1hn p3t1h p2t1hh p2t1hk p3t1hk p2t1hp p2t1hm p1t1hk p1t1hx \
    p2t1hf; do
    check "$run: the weights of p1t1, bitwise" dpt_test compare p1t1.h5 $run.h5
done

# 3. "rows" is the order of every row from anywhere: another model;
#    "blocks" is what auto chose.
must mpirun_np 1 "$DPTRAIN" train m.cfg --set data.shuffle_by=rows --out rows.h5 --verbose
check "shuffle_by = rows: no block order" ! grep "block order" log
check "shuffle_by = rows trains other weights" ! dpt_test compare p1t1.h5 rows.h5
must mpirun_np 1 "$DPTRAIN" train m.cfg --set data.shuffle_by=blocks --out blocks.h5
check "shuffle_by = blocks: auto's weights" dpt_test compare p1t1.h5 blocks.h5

# 4. A validation split keeps blocks whole: it trains, at 1 and 2 ranks alike.
must mpirun_np 1 "$DPTRAIN" train m.cfg --set data.validation_split=0.2 --out v1.h5
must mpirun_np 2 "$DPTRAIN" train m.cfg --set data.validation_split=0.2 --out v2.h5
check "validation split: 2x1 = 1x1" dpt_test compare v1.h5 v2.h5
must mpirun_np 2 "$DPTRAIN" train m.cfg --set data.validation_split=0.2 \
    --set data.train=chunked.h5 --out v2h.h5 --verbose
check "--verbose counts the rows held out for validation" \
    grep -q "^data: 2401 rows x 8192 features read .*; 600 more held out for validation" log
check "validation split, chunks kept once for the node: then each rank reads its own rows" \
    grep -q "each rank read its own rows" log
check "  ... and trains the weights of 1x1" dpt_test compare v1.h5 v2h.h5
check "validation split, chunks shared by 2 ranks: 2x1 = 1x1" dpt_test compare v1.h5 v2h.h5

# 5. Memory per rank does not grow with the file: twice the rows, the same
#    data bytes in the plan (what train allocates: windows, steps, staging).
dpt_test data big.h5 --rows 9001 --features 8192 --seed 3 --kind classes --classes 3
"$DPTRAIN" plan m.cfg -np 2 --time-steps 0 --format json > small.json
"$DPTRAIN" plan m.cfg -np 2 --time-steps 0 --format json --set data.train=big.h5 > big.json
"$PYTHON" - <<'PY' > mem.txt
import json
a = json.load(open("small.json"))["memory_per_rank"]["data"]
b = json.load(open("big.json"))["memory_per_rank"]["data"]
print(a, b)
PY
small=$(cut -d' ' -f1 mem.txt) big=$(cut -d' ' -f2 mem.txt)
check "3x the rows: data memory per rank $small -> $big bytes, within 2%" \
    "$PYTHON" -c "import sys; sys.exit(not $big <= 1.02 * $small)"

# 6. Kept in memory (cache = "all"), a file larger than 64 MB is held once
#    and gathered in windows of 64 MB, not again in two epochs of rows:
#    the plan's data bytes stay under the file (295 MB as floats) + 70 MB.
"$DPTRAIN" plan m.cfg -np 1 --time-steps 0 --format json --set data.train=big.h5 \
    --set data.cache=all > all.json
all=$("$PYTHON" -c 'import json; print(json.load(open("all.json"))["memory_per_rank"]["data"])')
check "cache = all: data memory per rank $all bytes, the file once plus windows" \
    "$PYTHON" -c "import sys; sys.exit(not 9001 * 8192 * 4 < $all <= 9001 * 8196 * 4 + 70 * 2**20)"

summary
