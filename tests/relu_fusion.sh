#!/bin/sh
# A convolution followed by relu runs as one node (ABI 2.1: the layer has
# DPT_CAP_APPLIES_RELU, relu DPT_CAP_IS_RELU; src/model/net.c fuse_relus):
# relu's output and its gradient get no buffers of their own, and the
# trained model is byte for byte the one of the two nodes run apart
# (DPTRAIN_FUSE=0), for each method of conv2d (direct, im2col with and
# without a bias, Winograd, also with 21 filters: the bias gradient's
# vectors of 8 columns and 5 columns after them) and for conv1d, on one
# thread and on two.
. "${top_srcdir:?run me through make check}/tests/lib.sh"

# sklearn's 8x8 digits, as examples/digits_cnn.cfg trains them; two epochs.
cat > cnn.cfg <<CFG
data = { train = "$top_srcdir/data/digits-train.h5"; scale = 0.0625; };
model = {
  layers = (
    { type = "conv2d"; filters = 16; kernel_size = 3; padding = "same"; activation = "relu"; },
    { type = "max_pool2d"; pool_size = 2; },
    { type = "conv2d"; filters = 32; kernel_size = 3; padding = "same"; activation = "relu"; },
    { type = "flatten"; },
    { type = "dense"; units = 10; activation = "softmax"; }
  );
  loss = "cce";
  optimizer = { type = "adam"; learning_rate = 0.002; };
};
train = { batch = 32; epochs = 2; seed = 1; };
CFG

# 1. The relu nodes' buffers are gone: plan's figure for activations and
#    workspaces drops by exactly two buffers (output and gradient) of the
#    micro-shard's 16 rows for each relu, [8, 8, 16] and [4, 4, 32] floats.
relu_bytes=$((2 * 16 * (8 * 8 * 16 + 4 * 4 * 32) * 4))
act_bytes() {
    sed -n 's/^  activations and workspaces .*(\([0-9]*\) bytes)$/\1/p' log
}
must dptrain plan cnn.cfg --threads 1
fused=$(act_bytes)
DPTRAIN_FUSE=0 must dptrain plan cnn.cfg --threads 1
apart=$(act_bytes)
check "plan: $apart - $fused bytes = the relus' buffers ($relu_bytes)" \
    test "$((apart - fused))" = "$relu_bytes"

# 2. The same model files, byte for byte, whichever way the relus ran.
same_model() { # NAME SETTINGS...: trains fused and apart, compares
    name=$1
    shift
    must dptrain train cnn.cfg --quiet --out "$name-fused.h5" "$@"
    DPTRAIN_FUSE=0 must dptrain train cnn.cfg --quiet --out "$name-apart.h5" "$@"
    check "$name: the same model file fused and apart" cmp "$name-fused.h5" "$name-apart.h5"
}
L0=model.layers.[0] L2=model.layers.[2]
same_model auto --threads 1
same_model two-threads --threads 2
same_model direct --threads 1 --set "$L0.method=\"direct\"" --set "$L2.method=\"direct\""
same_model im2col --threads 1 --set "$L0.method=\"im2col\"" --set "$L2.method=\"im2col\""
same_model no-bias --threads 1 --set "$L0.method=\"im2col\"" --set "$L0.use_bias=false" \
    --set "$L2.use_bias=false"
same_model winograd --threads 1 --set "$L2.method=\"winograd\""
same_model one-by-one --threads 1 --set "$L2.kernel_size=1"
same_model winograd-odd --threads 1 --set "$L2.method=\"winograd\"" --set "$L2.filters=21"

# 3. conv1d on [64, 1] rows: the same. (Its second layer has one channel
#    and a layer that trains before it: its dx is computed, from the dy
#    relu masked.)
cat > c1.cfg <<CFG
data = { train = "$top_srcdir/data/digits-train.h5"; scale = 0.0625; };
model = {
  layers = (
    { type = "reshape"; target_shape = "64, 1"; },
    { type = "conv1d"; filters = 1; kernel_size = 3; padding = "same"; },
    { type = "conv1d"; filters = 6; kernel_size = 5; activation = "relu"; },
    { type = "flatten"; },
    { type = "dense"; units = 10; activation = "softmax"; }
  );
  loss = "cce";
  optimizer = "adam";
};
train = { batch = 32; epochs = 2; seed = 3; };
CFG
must dptrain train c1.cfg --quiet --threads 1 --out c1-fused.h5
DPTRAIN_FUSE=0 must dptrain train c1.cfg --quiet --threads 1 --out c1-apart.h5
check "conv1d: the same model file fused and apart" cmp c1-fused.h5 c1-apart.h5
# ... and by 16 output columns per vector (one channel, 6 filters: the
# forward and the kernel's gradient, plugins/layers/conv_common.h,
# conv_rowlanes_chunk and conv_rowlanes_dk_sample; forced here on any CPU)
# fused and apart. (Against the 8-lane tiles the kernel's gradient sums in
# another order: tests/test_conv.c compares the two within rounding.)
DPTRAIN_CONV_LANES=16 must dptrain train c1.cfg --quiet --threads 1 --out c1-cols.h5
DPTRAIN_CONV_LANES=16 DPTRAIN_FUSE=0 must dptrain train c1.cfg --quiet --threads 1 --out c1-cols-apart.h5
check "conv1d: by output columns, the same model file fused and apart" \
    cmp c1-cols.h5 c1-cols-apart.h5

summary
