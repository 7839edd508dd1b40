#!/bin/sh
# An error on one rank becomes everyone's: a NaN in a row that only rank 1
# reads makes every rank exit with status 1 within seconds (none waits
# forever in a collective), rank 0 prints rank 1's message naming the file
# and row, rank 1 prints nothing itself, and no model is written.
. "${top_srcdir:?run me through make check}/tests/lib.sh"

dpt_test data nan.h5 --rows 200 --features 4 --seed 1 --x-at 20 2 nan
# File order, batch 32 over 2 ranks: micro-shards of 16, rank 1 holds rows
# 16..31. cache = "none": each rank reads only its rows (a small file would
# otherwise be read whole by every rank, and every rank would find the NaN).
cat > m.cfg <<'CFG'
data = { train = "nan.h5"; shuffle = false; cache = "none"; };
model = { layers = ( { type = "dense"; units = 1; activation = "sigmoid"; } );
          loss = "bce"; optimizer = "sgd"; };
train = { batch = 32; epochs = 2; };
CFG

# Each rank records its own stderr and exit status (the wrapper exits 0 so
# that mpirun does not cut the others short). timeout runs programs, not
# shell functions: hence mpirun spelled out rather than mpirun_np.
start=$(date +%s)
timeout 60 "$MPIRUN" --oversubscribe --allow-run-as-root -np 2 sh -c \
    '"$0" train m.cfg --out m.h5 2>> "err.$OMPI_COMM_WORLD_RANK"; echo $? > "rc.$OMPI_COMM_WORLD_RANK"' \
    "$DPTRAIN" > out 2>&1 || true
took=$(( $(date +%s) - start ))
cat err.* out

# 1. Both ranks exit with status 1.
for r in 0 1; do
    rc=$(cat rc.$r 2>/dev/null || echo missing)
    check "rank $r exits with status 1 (got $rc)" [ "$rc" = 1 ]
done

# 2. Rank 0 prints rank 1's message, which names the file, dataset and row;
#    rank 1 prints nothing (only rank 0 reports).
check "rank 0 prints rank 1's message" grep "rank 1: .*nan.h5: dataset 'X': row 20" err.0
check "rank 1 prints nothing" [ ! -s err.1 ]

# 3. No model is written, and all this took 20 s at most.
check "no model written" [ ! -e m.h5 ]
check "done in $took s <= 20 s" [ "$took" -le 20 ]

summary
