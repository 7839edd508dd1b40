#!/bin/sh
# --set reaches a layer's settings with libconfig's path form,
# model.layers.[N].key (N from 0), and a bad path or value is an error that
# names the setting.
. "${top_srcdir:?run me through make check}/tests/lib.sh"

cfg="$top_srcdir/examples/iris.cfg"   # 4 inputs, dense 16 relu, dense 3 softmax

# 1. The override reaches the layer: with units = 64 in the first layer the
#    parameter count is 4*64 + 64 + 64*3 + 3, by hand.
must dptrain summary "$cfg" --format json --set model.layers.[0].units=64
want=$((4 * 64 + 64 + 64 * 3 + 3))
check "summary counts $want parameters with units = 64" \
    grep -q "\"totals\":{\"params\":$want," log
# ... and training uses it (the model written has the same count).
must dptrain train "$cfg" --set model.layers.[0].units=64 --set train.epochs=1 --out m.h5 --quiet
must dptrain inspect m.h5
check "the trained model has $want parameters" grep -q "$want" log

# 2. Errors name the setting and what is wrong.
expect_error "--set 'model.layers.\[5\].units=64': 'model.layers' has 2 entries, \[0\] to \[1\]; there is no entry \[5\]" \
    dptrain train "$cfg" --set model.layers.[5].units=64 --out x.h5
expect_error "--set model.layers.\[0\].unitz=64: layer 1 (dense): unknown key 'unitz'" \
    dptrain train "$cfg" --set model.layers.[0].unitz=64 --out x.h5
expect_error "--set model.layers.\[1\].units=many: layer 2 (dense): 'units' must be an integer, found a string" \
    dptrain train "$cfg" --set 'model.layers.[1].units="many"' --out x.h5
expect_error "'model.layers' is not a group, so it has no key 'units' (name a list's entry as \[N\]" \
    dptrain train "$cfg" --set model.layers.units=64 --out x.h5
expect_error "only a key of a group can be set; \[0\] is an entry of the list model.layers" \
    dptrain train "$cfg" --set model.layers.[0]=64 --out x.h5
expect_error "'data' is not a list, so it has no entry \[0\]" \
    dptrain train "$cfg" --set data.[0].x=1 --out x.h5
check "no model was written by a refused run" [ ! -e x.h5 ]

summary
