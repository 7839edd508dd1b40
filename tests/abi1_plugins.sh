#!/bin/sh
# Plugins built for ABI 1.x keep working under ABI 2.0: a 1.2 layer runs as a
# flat layer on [F] inputs. tests/plugins/v1_dense.so is the dense layer of
# dptrain 0.1, unchanged but for its name, built against the frozen 1.2
# header; a model that uses it trains to the same bits as one that uses
# today's dense (ABI 2.0), with a 2.0 layer (dropout) between them.
. "${top_srcdir:?run me through make check}/tests/lib.sh"

v1="$top_builddir/tests/plugins/.libs/v1_dense.so"
dpt_test data train.h5 --rows 120 --features 5 --seed 3
model() { # FILE LAYER-TYPE
    cat > "$1" <<CFG
data = { train = "train.h5"; standardize = true; };
model = { layers = ( { type = "$2"; units = 7; activation = "relu"; },
                     { type = "dropout"; rate = 0.2; },
                     { type = "$2"; units = 1; activation = "sigmoid"; l2 = 0.001; } );
          loss = "bce"; optimizer = { type = "adam"; learning_rate = 0.01; }; };
train = { batch = 16; epochs = 3; seed = 5; };
CFG
}
model v2.cfg dense
model v1.cfg dense_v1

# 1. The loader takes the 1.2 file and lists it with its ABI.
must dptrain plugins --plugin-path "$v1"
check "dptrain plugins lists the 1.2 layer" grep 'dense_v1' log
# 2. Trained with the 1.2 layer, the weights are those of the 2.0 dense,
#    bit for bit (same arithmetic, same initialization).
must dptrain train v2.cfg --out v2.h5 --quiet
must dptrain train v1.cfg --plugin-path "$v1" --out v1.h5 --quiet
check "a model with the 1.2 layer trains to the 2.0 layer's weights" \
    "$PYTHON" - v1.h5 v2.h5 <<'PY'
import sys
from dpt_test import tensors
a, b = tensors(sys.argv[1]), tensors(sys.argv[2])
ka = sorted(k.replace("dense_v1", "dense") for k in a)
assert ka == sorted(b), (ka, sorted(b))
for k, v in a.items():
    w = b[k.replace("dense_v1", "dense")]
    assert v.tobytes() == w.tobytes(), k
print(len(a), "tensors equal")
PY
# 3. Its model file evaluates and predicts like any other.
expect_exit 0 "samples" dptrain eval v1.h5 train.h5 --plugin-path "$v1"
summary
