#!/bin/sh
# Subnormal floats are flushed to zero in every thread that runs a plugin
# (src/util/util.c, dpt__flush_denormals; DESIGN.md, "Numbers"), on one
# rank and on two, with several threads; DPTRAIN_KEEP_DENORMALS=1 keeps
# them. The layer tests/plugins/denormal_probe.c is y = x and makes its
# outputs NaN when the thread running it keeps subnormals, which stops the
# run at its first step naming the layer.
. "${top_srcdir:?run me through make check}/tests/lib.sh"

tp="$DPT_TEST_PLUGINS"
small_model m.cfg
sed -i 's/{ type = "dense"; units = 1;/{ type = "denormal_probe"; }, &/' m.cfg
check "the model has the probe" grep -q denormal_probe m.cfg

check "one rank, two threads: every thread flushes" \
    dptrain train m.cfg --plugin-path "$tp/denormal_probe.so" --threads 2 --out m.h5
check "two ranks of two threads" \
    mpirun_np 2 "$DPTRAIN" train m.cfg --plugin-path "$tp/denormal_probe.so" --threads 2 \
    --out m2.h5
check "eval flushes too" \
    dptrain eval m.h5 train.h5 --plugin-path "$tp/denormal_probe.so"

# The probe can fail: with the subnormals kept, its NaN stops the run.
export DPTRAIN_KEEP_DENORMALS=1
expect_error "layer plugin 'denormal_probe' 1.0.0 .*forward() wrote NaN into y" \
    dptrain train m.cfg --plugin-path "$tp/denormal_probe.so" --threads 2 --out k.h5
check "and writes no model" [ ! -e k.h5 ]
summary
