#!/bin/sh
# Data parallelism does not change what is learned: the same model trained
# with P ranks x T threads (P in 1..4, T in 1, 2) ends with the weights of
# P = 1, T = 1 within a small relative tolerance (only the order of the
# float sums differs), and the ranks of every run hold bitwise identical
# weights after every step (--check-sync 1 compares a hash of the weights
# across ranks after each step and fails the run if they differ).
. "${top_srcdir:?run me through make check}/tests/lib.sh"

# A prime number of rows (1009) and a batch (50) not divisible by 3 or 4:
# short micro-shards and a short last step are exercised too.
dpt_test data train.h5 --rows 1009 --features 8 --seed 7 --noise 0.3
cat > m.cfg <<'CFG'
data = { train = "train.h5"; };
model = {
  layers = ( { type = "dense"; units = 16; activation = "tanh"; },
             { type = "dense"; units = 1; activation = "sigmoid"; } );
  loss = "bce";
  optimizer = { type = "sgd"; learning_rate = 0.1; momentum = 0.9; };
  metrics = [ "accuracy" ];
};
train = { batch = 50; epochs = 15; seed = 11; };  # 21 steps per epoch, 315 steps
CFG

# 1. Every P x T run completes with the ranks in sync at every step.
for np in 1 2 3 4; do
    for t in 1 2; do
        check "P=$np T=$t: ranks in sync after every step" \
            mpirun_np $np "$DPTRAIN" train m.cfg --threads $t --check-sync 1 --out p${np}t$t.h5
    done
done

# 2. Every run's weights are within 1e-4 of the largest weight of P=1, T=1's.
#    315 SGD-momentum steps in float32: summation-order differences of ~1e-7
#    relative per step grow slowly (seen: ~2e-6); 1e-4 is far below the
#    difference a wrong gradient (a missing or doubled micro-shard) makes,
#    which is O(1e-1) here.
for np in 1 2 3 4; do
    for t in 1 2; do
        check "P=$np T=$t: weights within 1e-4 max|w| of P=1 T=1's" \
            dpt_test compare p1t1.h5 p${np}t$t.h5 --max-rel 1e-4
    done
done

summary
