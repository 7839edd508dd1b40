#!/bin/sh
# Model files and checkpoints store a layer's slice tensor by tensor
# (struct dpt_tensor in include/dptrain/plugin.h): a layer whose tensors do
# not cover its slice exactly would train and then save another model than
# the one trained, without a word. Training refuses it when the model is
# built, naming the layer and what is wrong, with the rule check-plugin
# reports (tests/check_plugin_catches_mistakes.sh, "tensors"). The plugin
# is tests/plugins/broken_tensors.c: its bias starts one float early.
. "${top_srcdir:?run me through make check}/tests/lib.sh"

tp="$DPT_TEST_PLUGINS"
cat > m.cfg <<CFG
data = { train = "$top_srcdir/data/iris-train.h5"; };
model = { layers = ( { type = "broken_tensors"; }, { type = "dense"; units = 3; activation = "softmax"; } );
          loss = "cce"; optimizer = "sgd"; };
train = { epochs = 1; };
CFG

# 1. Refused before training, naming the layer and the overlap; no model.
expect_error "m.cfg:2: layer 1 (broken_tensors): the plugin's tensors do not cover its slice: 'bias' starts at float 3, but the tensors before it end at 4 (an overlap)" \
    dptrain train m.cfg --plugin-path "$tp/broken_tensors.so" --out m.h5
check "no model file" test ! -e m.h5

# 2. The same layer without the mistake trains and its model loads.
sed 's/broken_tensors/scale_ok/' m.cfg > ok.cfg
check "the layer without the mistake trains" \
    dptrain train ok.cfg --plugin-path "$tp/scale_ok.so" --out ok.h5 --quiet
check "... and its model evaluates" \
    dptrain eval ok.h5 "$top_srcdir/data/iris-test.h5" --plugin-path "$tp/scale_ok.so"

summary
