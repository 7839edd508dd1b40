#!/bin/sh
# Forward and backward of the network (src/model/net.c) against numpy: for
# three tiny models tests/net_dump runs dpt_net_train_micro and
# dpt_net_eval_micro on known parameters and inputs (6 rows of 3 features)
# and prints every result; tests/net_numpy.py recomputes them in float64
# from the documented contracts, the models described there and not read
# from the dump, so a wrong layout in the C code cannot slip into the
# reference. Results agree to rtol 1e-5, atol 1e-6 (float32 against
# float64). For each model net_numpy.py checks:
#   - the flat buffer holds each dense layer's slice padded to 16 floats;
#   - the training and evaluation loss sums, and the predictions with the
#     final activation the loss fuses applied (evaluation without targets:
#     loss 0, the same predictions);
#   - the gradient is added to a prefilled buffer (dparams after == before +
#     gradient) and the padding between slices is left untouched, bit for
#     bit: backward accumulates, it does not overwrite;
#   - the hit counts are added to the count passed in.
. "${top_srcdir:?run me through make check}/tests/lib.sh"

# numpy MODEL: net_dump's results for MODEL, then net_numpy.py's verdict on
# them (one line per check; exit 1 when any differs).
numpy() {
    "$top_builddir/tests/net_dump" "$1" > "$1.txt" &&
        "$PYTHON" "$top_srcdir/tests/net_numpy.py" "$1.txt"
}

# 1. cce: dense(4) relu, dense(3) softmax, cce on class labels. The loss
#    fuses the softmax: training hands it the logits, predictions still go
#    through the softmax; a hit is a row whose largest logit is its label.
#    No ReLU input lies within 1e-3 of 0, where rounding would pick the
#    gradient.
check "cce: relu and a fused softmax equal numpy's" numpy cce

# 2. bce: dense(4) tanh, dense(1) sigmoid, bce on 0/1 targets. The loss
#    fuses the sigmoid; a hit is a row whose logit is > 0 exactly when its
#    target is 1.
check "bce: tanh and a fused sigmoid equal numpy's" numpy bce

# 3. mse: dense(4), a { type = "sigmoid"; } entry of its own, dense(2), mse
#    on two targets. Nothing is fused: the predictions are the last layer's
#    outputs, and mse counts no hits.
check "mse: an activation entry and two linear outputs equal numpy's" numpy mse

summary
