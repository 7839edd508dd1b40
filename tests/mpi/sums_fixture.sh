# The model and data of the tests of the gradient's sum over ranks
# (tests/mpi/overlap_same_bits.sh, tests/mpi/node_sum_same_bits.sh); they
# source this after tests/lib.sh.

# cnn_case: img.h5 (203 8x8x1 images, 4 classes) and cnn.cfg: conv2d +
# batch_norm (its moving statistics ride in the sum) + dropout + dense with
# L2, Adam, micro-shards of 8 rows.
cnn_case() {
    "$PYTHON" - <<'PY'
import h5py, numpy as np
rng = np.random.default_rng(7)
n = 203
X = rng.integers(0, 256, size=(n, 8, 8, 1), dtype=np.uint8)
w = rng.standard_normal((64, 4))
y = np.argmax((X.reshape(n, -1) / 255.0 - 0.5) @ w, axis=1).astype(np.int32)
with h5py.File("img.h5", "w") as f:
    f["X"], f["y"] = X, y
PY
    cat > cnn.cfg <<'CFG'
data = { train = "img.h5"; scale = 0.00392156862745098; };
model = {
  layers = ( { type = "conv2d"; filters = 4; kernel_size = 3; padding = "same"; },
             { type = "batch_norm"; },
             { type = "relu"; },
             { type = "max_pool2d"; pool_size = 2; },
             { type = "flatten"; },
             { type = "dropout"; rate = 0.2; },
             { type = "dense"; units = 16; activation = "relu"; l2 = 0.001; },
             { type = "dense"; units = 4; activation = "softmax"; } );
  loss = "cce";
  optimizer = { type = "adam"; learning_rate = 0.01; };
};
train = { batch = 32; epochs = 3; seed = 2; micro_batch = 8; };
CFG
}

# nan_case: nan.cfg, where layer 2 (the test plugin nan_at_step, in
# $DPT_TEST_PLUGINS) writes a NaN into its parameters' gradient at step 4 of
# epoch 1; nan_message is the error that must stop training.
nan_case() {
    cat > nan.cfg <<CFG
data = { train = "$top_srcdir/data/iris-train.h5"; standardize = true; shuffle = false; };
model = {
  layers = (
    { type = "dense"; units = 8; activation = "relu"; },
    { type = "nan_at_step"; step = 3; where = "dparams"; },
    { type = "dense"; units = 3; activation = "softmax"; }
  );
  loss = "cce"; optimizer = "adam";
};
train = { batch = 32; epochs = 3; seed = 1; };
CFG
}
nan_message="layer 2 (model.layers.\[1\]), layer plugin 'nan_at_step' .*: backward() wrote NaN into dparams (element 0) at epoch 1, step 4"
