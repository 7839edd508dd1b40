#!/bin/sh
# The shape layers train end to end: a model that turns the breast cancer
# data's 30 features into a 5x6 image (reshape) and runs it through
# max_pool2d, avg_pool2d, flatten, reshape with an inferred -1 and
# global_avg_pool2d learns, two threads learn the same, and shapes that do
# not fit are refused with the file, line, layer and both shapes.
. "${top_srcdir:?run me through make check}/tests/lib.sh"

data="$top_srcdir/data"
cat > m.cfg <<CFG
data = { train = "$data/breast_cancer-train.h5"; standardize = true; };
model = {
  layers = (
    { type = "reshape"; target_shape = "5, 6, 1"; },              # [5, 6, 1]
    { type = "dense"; units = 8; activation = "relu"; },          # [5, 6, 8]
    { type = "max_pool2d"; padding = "same"; },                    # [3, 3, 8]
    { type = "avg_pool2d"; pool_size = 2; strides = 1; },          # [2, 2, 8]
    { type = "flatten"; },                                         # [32]
    { type = "reshape"; target_shape = "[2, -1, 8]"; },            # [2, 2, 8]
    { type = "global_avg_pool2d"; },                               # [8]
    { type = "dense"; units = 1; activation = "sigmoid"; }
  );
  loss = "bce";
  optimizer = { type = "adam"; learning_rate = 0.01; };
  metrics = [ "accuracy" ];
};
train = { batch = 32; epochs = 30; seed = 1; };
CFG

# 1. It learns: the held-out accuracy is well above the 63% of always
#    answering the larger class (it reached 89% when this test was written;
#    the dense model of examples/ reaches 97%).
must dptrain train m.cfg --out t1.h5
dptrain eval t1.h5 "$data/breast_cancer-test.h5" --format json > eval.json
check "held-out accuracy at least 0.85" at_least "$(json_number accuracy eval.json)" 0.85

# 2. Two threads split each step differently; only the order of the float
#    sums changes, so the weights stay within 1e-4 of one thread's, and two
#    runs on two threads give the same bits (the layers are deterministic).
must dptrain train m.cfg --threads 2 --out t2.h5
must dptrain train m.cfg --threads 2 --out t2again.h5
check "2 threads: weights within 1e-4 max|w| of 1 thread's" \
    dpt_test compare t1.h5 t2.h5 --max-rel 1e-4
check "2 threads twice: the same weights" dpt_test compare t2.h5 t2again.h5 --max-abs 0

# 3. Shapes that do not fit: the message names the file and line, the
#    layer, and the shapes. (The layers' own tests check every message.)
sed 's/padding = "same";/pool_size = 7;/' m.cfg > big_pool.cfg
expect_error 'big_pool.cfg:[0-9]*: layer 3 (max_pool2d): pool_size 7 does not fit input \[5, 6, 8\]' \
    dptrain train big_pool.cfg
sed 's/target_shape = "5, 6, 1"/target_shape = "30"/' m.cfg > flat_pool.cfg
expect_error 'flat_pool.cfg:[0-9]*: layer 3 (max_pool2d): needs \[H, W, C\] inputs (channels last), got \[8\]' \
    dptrain train flat_pool.cfg
sed 's/target_shape = "5, 6, 1"/target_shape = "5, 5, 1"/' m.cfg > bad_reshape.cfg
expect_error 'bad_reshape.cfg:[0-9]*: layer 1 (reshape): target_shape \[5, 5, 1\] holds 25 floats, but input \[30\] holds 30' \
    dptrain train bad_reshape.cfg

summary
