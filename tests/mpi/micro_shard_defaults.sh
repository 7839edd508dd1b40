#!/bin/sh
# The default micro-shard size (train.micro_batch unset), as README.md and
# docs/DESIGN.md promise it and `train --verbose` reports it: a dense model
# gets one micro-shard per worker of a batch; a model with spatial layers
# (a convolution) micro-shards of at most 16 rows, as many per worker as
# it takes (batch 64 on 3 workers: 11 rows, 6 micro-shards, 2 per worker);
# a model with batch norm 32; --deterministic a quarter of the batch, at
# most 64 (16 with a convolution), the same on any P x T; train.micro_batch
# wins.
. "${top_srcdir:?run me through make check}/tests/lib.sh"

"$PYTHON" - <<'PY'
import h5py, numpy as np
rng = np.random.default_rng(3)
X = rng.integers(0, 256, size=(600, 6, 6, 1), dtype=np.uint8)
y = rng.integers(0, 3, size=600).astype(np.int32)
with h5py.File("img.h5", "w") as f:
    f["X"], f["y"] = X, y
with h5py.File("flat.h5", "w") as f:
    f["X"], f["y"] = X.reshape(600, -1), y
PY
model() { # $1: the data file, $2: the layers before the dense ones
    cat <<CFG
data = { train = "$1"; scale = 0.00392156862745098; };
model = {
  layers = ( $2 { type = "flatten"; }, { type = "dense"; units = 3; activation = "softmax"; } );
  loss = "cce"; optimizer = { type = "adam"; };
};
train = { batch = 64; epochs = 1; seed = 1; };
CFG
}
model flat.h5 "" > dense.cfg
model img.h5 '{ type = "conv2d"; filters = 2; kernel_size = 3; activation = "relu"; },' > conv.cfg
model img.h5 '{ type = "conv2d"; filters = 2; kernel_size = 3; }, { type = "batch_norm"; },' > bn.cfg

# $1: what, $2: the rows expected, then the command.
rows() {
    what=$1 want=$2
    shift 2
    must "$@" --verbose
    check "$what: micro-shards of $want rows" \
        grep -x "steps: batch 64 in micro-shards of $want rows" log
}
export OMP_NUM_THREADS=1
rows "dense, 1 x 1" 64 dptrain train dense.cfg --threads 1
rows "dense, 2 x 1" 32 mpirun_np 2 "$DPTRAIN" train dense.cfg --threads 1
rows "conv, 1 x 1" 16 dptrain train conv.cfg --threads 1
rows "conv, 1 x 2" 16 dptrain train conv.cfg --threads 2
rows "conv, 3 x 1" 11 mpirun_np 3 "$DPTRAIN" train conv.cfg --threads 1
rows "conv, 4 x 1" 16 mpirun_np 4 "$DPTRAIN" train conv.cfg --threads 1
rows "conv, micro_batch = 64" 64 dptrain train conv.cfg --threads 1 --set train.micro_batch=64
rows "conv, --deterministic" 16 dptrain train conv.cfg --threads 1 --deterministic
rows "conv, --deterministic, 2 x 1" 16 mpirun_np 2 "$DPTRAIN" train conv.cfg --threads 1 --deterministic
rows "dense, --deterministic (a quarter of 64)" 16 dptrain train dense.cfg --threads 1 --deterministic
rows "dense, --deterministic, 3 x 1" 16 mpirun_np 3 "$DPTRAIN" train dense.cfg --threads 1 --deterministic
must dptrain train dense.cfg --threads 1 --deterministic --set train.batch=512 --verbose
check "dense, --deterministic, batch 512: at most 64 rows" \
    grep -x "steps: batch 512 in micro-shards of 64 rows" log
rows "batch norm, --deterministic" 16 dptrain train bn.cfg --threads 1 --deterministic
rows "batch norm" 32 dptrain train bn.cfg --threads 1
summary
