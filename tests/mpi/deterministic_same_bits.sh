#!/bin/sh
# --deterministic gives the same bits whatever the machine layout: P in
# {1,2,3,4} ranks x T in {1,2} threads end with byte-identical weights, on a
# data set with a prime number of rows and a batch not divisible by the
# worker counts, whether the rows are kept in memory or read from the file a
# window or an epoch at a time, straight or through HDF5's filters. A model
# with dropout too: its masks depend on (seed, epoch, sample) only, so they
# are the same for P = 1 and P = 3.
. "${top_srcdir:?run me through make check}/tests/lib.sh"

data="--rows 1009 --features 12 --seed 11 --kind classes --classes 3 --informative 4"
# shellcheck disable=SC2086
dpt_test data train.h5 $data
# The same values, stored in gzip-compressed chunks.
# shellcheck disable=SC2086
dpt_test data chunked.h5 $data --chunk-rows 64
cat > m.cfg <<'CFG'
data = { train = "train.h5"; };
model = {
  layers = ( { type = "dense"; units = 32; activation = "tanh"; },
             { type = "dense"; units = 3; activation = "softmax"; } );
  loss = "cce";
  optimizer = { type = "sgd"; learning_rate = 0.1; momentum = 0.9; };
  metrics = [ "accuracy" ];
};
train = { batch = 100; epochs = 12; seed = 2; micro_batch = 16; deterministic = true; };
CFG

# 1. Every P x T run completes, its ranks in sync every 10 steps.
for np in 1 2 3 4; do
    for t in 1 2; do
        check "P=$np T=$t: trains, ranks in sync" \
            mpirun_np $np "$DPTRAIN" train m.cfg --threads $t --check-sync 10 --out p${np}t$t.h5
    done
done

# 2. How the rows reach memory: the runs above keep the small file in
#    memory (data.cache = "auto"); these read it from the file a few steps
#    at a time (data.window_rows) or an epoch at a time (data.cache =
#    "none"), straight from the file (contiguous X) or by gzip chunks
#    (chunked.h5). --verbose says which way was taken.
must mpirun_np 3 "$DPTRAIN" train m.cfg --set data.window_rows=150 --out p3t1w.h5 --verbose
check "window_rows = 150: read a window at a time, straight from the file" \
    grep "read a window of steps at a time, straight from the file" log
must mpirun_np 2 "$DPTRAIN" train m.cfg --threads 2 --set data.window_rows=64 --out p2t2w.h5 --verbose
check "window_rows = 64, 2 threads: read a window at a time" grep "read a window of steps at a time" log
must mpirun_np 2 "$DPTRAIN" train m.cfg --set data.cache=none --out p2t1n.h5 --verbose
check "cache = none: read an epoch at a time, straight from the file" \
    grep "read an epoch at a time, straight from the file" log
must mpirun_np 2 "$DPTRAIN" train m.cfg --set data.cache=none --set data.train=chunked.h5 --out p2t1h.h5 --verbose
check "cache = none, chunked file: read an epoch at a time, by chunks dptrain inflates" \
    grep "read an epoch at a time, by chunks inflated with libdeflate" log
must mpirun_np 1 "$DPTRAIN" train m.cfg --out p1t1c.h5 --verbose
check "cache = auto: kept in memory" grep "kept in memory" log

# 3. All 13 runs above end with the bits of P=1 T=1.
dpt_test digest p*t*.h5
for run in p1t2 p2t1 p2t2 p3t1 p3t2 p4t1 p4t2 p3t1w p2t2w p2t1n p2t1h p1t1c; do
    check "$run: the weights of p1t1, bitwise" dpt_test compare p1t1.h5 $run.h5
done

# 4. Dropout: P = 1 and P = 3 (with 1 or 2 threads) draw the same masks, so
#    end with the same weights; and the masks do change the weights (the
#    digest covers the tensors' bytes only, so a model with a dropout layer
#    compares with one without).
sed 's/units = 32; activation = "tanh"; },/units = 32; activation = "tanh"; }, { type = "dropout"; rate = 0.3; },/' m.cfg > drop.cfg
check "drop.cfg has a dropout layer" grep dropout drop.cfg
for run in "1 1" "3 1" "3 2"; do
    # shellcheck disable=SC2086  # "P T" into $1 $2
    set -- $run
    must mpirun_np $1 "$DPTRAIN" train drop.cfg --threads $2 --out d$1t$2.h5
done
check "dropout: P=3 T=1 ends with the weights of P=1 T=1" dpt_test compare d1t1.h5 d3t1.h5
check "dropout: P=3 T=2 ends with the weights of P=1 T=1" dpt_test compare d1t1.h5 d3t2.h5
dpt_test digest d1t1.h5 p1t1.h5 > digests
cat digests
check "dropout changes the weights" [ "$(cut -d' ' -f1 digests | sort -u | wc -l)" = 2 ]

# 5. The double form of a thread's sums (docs/DESIGN.md, "--deterministic"):
#    the runs above take it where a thread adds 4 or more micro-shards (P=1,
#    T=1 alone: 2 or more) and the fixed path elsewhere. DPTRAIN_EXACT_DOUBLES=0
#    keeps every sum on the fixed path: the same bits. wild.h5 has a feature
#    that is 3e5 in a few rows and 1e-9 in the others, so that some terms
#    go the fixed way after all (below 2^-41, or a weight's terms spanning
#    more than a double holds; a debug print showed some at every step of
#    such a run). tests/test_exact.c checks the integers term for term.
must mpirun_np 1 env DPTRAIN_EXACT_DOUBLES=0 "$DPTRAIN" train m.cfg --out p1t1f.h5
check "fixed path only: the weights of p1t1, bitwise" dpt_test compare p1t1.h5 p1t1f.h5
must "$PYTHON" - <<'PY'
import h5py, numpy as np
r = np.random.default_rng(5)
X = r.normal(size=(1009, 12)).astype(np.float32)
X[:, 0] = np.where(r.random(1009) < 0.05, 3e5, 1e-9) * r.choice([-1, 1], 1009)
y = (X[:, 1] > 0).astype(np.int32) + (X[:, 2] > 0.5)
with h5py.File("wild.h5", "w") as f:
    f["X"] = X
    f["y"] = y.astype(np.int32)
PY
sed -e 's/train.h5/wild.h5/' -e 's/learning_rate = 0.1/learning_rate = 0.001/' m.cfg > wild.cfg
must mpirun_np 1 env DPTRAIN_EXACT_DOUBLES=0 "$DPTRAIN" train wild.cfg --out w1f.h5
must mpirun_np 1 "$DPTRAIN" train wild.cfg --out w1.h5
must mpirun_np 1 "$DPTRAIN" train wild.cfg --threads 2 --out w12.h5
must mpirun_np 2 "$DPTRAIN" train wild.cfg --out w2.h5
for run in w1 w12 w2; do
    check "wide-ranging sums, $run: the weights of the fixed path, bitwise" \
        dpt_test compare w1f.h5 $run.h5
done

# 6. Ranks of one thread sum their double forms themselves (a ring of
#    doubles, src/dist/exact.c dpt_fixd_allreduce_float) once the gradient
#    has 4096 values a rank: a model of 16k parameters on P = 1..4 (blocks
#    of unequal sizes at P = 3), P = 2 T = 2 (the thread sum in fixed
#    point), the fixed path only, and wild.h5, whose terms send some steps
#    back to the fixed path: the same bits everywhere.
#    tests/mpi/test_exact_mpi.c checks when the ring takes the doubles and
#    when it declines.
sed -e 's/units = 32/units = 1024/' m.cfg > big.cfg
sed -e 's/train.h5/wild.h5/' -e 's/learning_rate = 0.1/learning_rate = 0.001/' big.cfg > bigwild.cfg
must mpirun_np 1 env DPTRAIN_EXACT_DOUBLES=0 "$DPTRAIN" train big.cfg --out b1f.h5
for np in 1 2 3 4; do
    must mpirun_np $np "$DPTRAIN" train big.cfg --out b$np.h5
    check "16k parameters, P=$np: the weights of the fixed path, bitwise" dpt_test compare b1f.h5 b$np.h5
done
must mpirun_np 2 "$DPTRAIN" train big.cfg --threads 2 --out b22.h5
check "16k parameters, P=2 T=2: the same weights" dpt_test compare b1f.h5 b22.h5
must mpirun_np 1 env DPTRAIN_EXACT_DOUBLES=0 "$DPTRAIN" train bigwild.cfg --out bw1f.h5
must mpirun_np 2 "$DPTRAIN" train bigwild.cfg --out bw2.h5
must mpirun_np 3 "$DPTRAIN" train bigwild.cfg --out bw3.h5
for run in bw2 bw3; do
    check "16k parameters, wide-ranging sums, $run: the weights of the fixed path, bitwise" \
        dpt_test compare bw1f.h5 $run.h5
done
summary
