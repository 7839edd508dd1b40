#!/bin/sh
# A plugin that lacks a required function is refused with a message naming
# the function, the plugin and its file: at load time (a layer without
# backward) and when the model is built (a layer with parameters but no
# init). The plugins are tests/plugins/lacks_function.c, built twice.
. "${top_srcdir:?run me through make check}/tests/lib.sh"

tp="$DPT_TEST_PLUGINS"
cat > m.cfg <<CFG
data = { train = "$top_srcdir/data/iris-train.h5"; };
model = { layers = ( { type = "lacks_init"; }, { type = "dense"; units = 3; } );
          loss = "cce"; optimizer = "sgd"; };
CFG

# 1. Load time: the file is refused, naming it, the layer and the function.
expect_error "plugin $tp/lacks_backward.so: layer 'lacks_backward' lacks the required function backward" \
    dptrain train m.cfg --plugin-path "$tp/lacks_backward.so" --out m.h5

# 2. Model building: the layer reports a parameter and has no init.
expect_error "m.cfg:2: layer 1 (lacks_init): the plugin has parameters but lacks the required function init" \
    dptrain train m.cfg --plugin-path "$tp/lacks_init.so" --out m.h5

summary
