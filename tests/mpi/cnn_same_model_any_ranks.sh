#!/bin/sh
# A convolutional network trains to the same model whatever the machine
# layout: conv2d + batch_norm + max_pool2d + conv2d + flatten + dropout +
# dense on uint8 images scaled by 1/255. Batch norm's statistics come from
# micro-shards of train.micro_batch rows, which do not depend on the ranks
# and threads, so with --deterministic every number of the model file
# (weights and moving statistics) is the same for P x T = 1x1, 2x1 and 3x2,
# and without it the same up to float rounding; a run stopped on 2 ranks
# and resumed on 3 ends where the uninterrupted run ends, bit for bit.
. "${top_srcdir:?run me through make check}/tests/lib.sh"

"$PYTHON" - <<'PY'
import h5py, numpy as np
rng = np.random.default_rng(5)
n = 239                                  # prime: no batch or rank divides it
X = rng.integers(0, 256, size=(n, 10, 10, 2), dtype=np.uint8)
w = rng.standard_normal((10 * 10 * 2, 3))
y = np.argmax((X.reshape(n, -1) / 255.0 - 0.5) @ w, axis=1).astype(np.int32)
with h5py.File("img.h5", "w") as f:
    f["X"], f["y"] = X, y
PY
cat > cnn.cfg <<'CFG'
data = { train = "img.h5"; scale = 0.00392156862745098; };
model = {
  layers = ( { type = "conv2d"; filters = 4; kernel_size = 3; padding = "same"; activation = "relu"; },
             { type = "batch_norm"; },
             { type = "max_pool2d"; pool_size = 2; },
             { type = "conv2d"; filters = 6; kernel_size = 2; activation = "relu"; },
             { type = "flatten"; },
             { type = "dropout"; rate = 0.2; },
             { type = "dense"; units = 3; activation = "softmax"; } );
  loss = "cce";
  optimizer = { type = "adam"; learning_rate = 0.01; };
  metrics = [ "accuracy" ];
};
train = { batch = 24; epochs = 3; seed = 4; micro_batch = 8; };
CFG

# 1. --deterministic: 1x1, 2x1 and 3x2 write byte-identical tensors, the
#    moving statistics of batch norm included, and byte-identical files
#    (model files record no times).
for run in "1 1" "2 1" "3 2"; do
    set -- $run
    must mpirun_np "$1" "$DPTRAIN" train cnn.cfg --deterministic --threads "$2" --out d$1x$2.h5
done
check "2x1 --deterministic: the model of 1x1, bitwise" dpt_test compare d1x1.h5 d2x1.h5
check "3x2 --deterministic: the model of 1x1, bitwise" dpt_test compare d1x1.h5 d3x2.h5
check "... and the model files are byte-identical (cmp)" cmp d1x1.h5 d3x2.h5
check "the model file holds the moving statistics" \
    "$PYTHON" -c "import h5py,sys; g=h5py.File('d3x2.h5')['layers/01_batch_norm']; \
sys.exit(0 if {'moving_mean','moving_variance'} <= set(g) else 1)"

# 2. Without --deterministic only the order of float sums differs.
must mpirun_np 1 "$DPTRAIN" train cnn.cfg --threads 1 --out f1x1.h5
must mpirun_np 3 "$DPTRAIN" train cnn.cfg --threads 2 --out f3x2.h5
check "3x2 without --deterministic: within float rounding of 1x1" \
    dpt_test compare f1x1.h5 f3x2.h5 --max-abs 1e-4

# 3. Stopped after 13 steps on 2 ranks, resumed on 3: the bits of the
#    uninterrupted run (batch norm's state is in the checkpoint).
expect_exit 3 "stopped on request" mpirun_np 2 "$DPTRAIN" train cnn.cfg --deterministic \
    --checkpoint ck.h5 --stop-after-steps 13 --out stopped.h5
must mpirun_np 3 "$DPTRAIN" train cnn.cfg --deterministic --resume ck.h5 --out resumed.h5
check "resumed on 3 ranks: the model of the uninterrupted run, bitwise" \
    dpt_test compare d1x1.h5 resumed.h5
# 4. Without train.micro_batch a model with batch norm takes micro-shards of
#    32 rows whatever P and T (README, micro_batch), so its statistics, and
#    the model, stay within rounding of 1x1 on 2x2; with micro-shards of
#    batch / workers they would not (they differed by 0.2).
sed 's/ micro_batch = 8;//' cnn.cfg > default.cfg
must mpirun_np 1 "$DPTRAIN" train default.cfg --threads 1 --out m1x1.h5
must mpirun_np 2 "$DPTRAIN" train default.cfg --threads 2 --out m2x2.h5
check "no micro_batch: 2x2 within float rounding of 1x1" \
    dpt_test compare m1x1.h5 m2x2.h5 --max-abs 1e-4
summary
