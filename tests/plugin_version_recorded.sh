#!/bin/sh
# Model files and checkpoints record each layer's plugin name, version and
# ABI; `dptrain inspect` shows them. Loading a file (eval, predict, inspect,
# train --init, train --resume) with a layer plugin of another version
# warns, naming the layer, the plugin and both versions, and gives the
# same results when the parameter layout is the same; another parameter
# count or tensor shape is an error naming the same, never weights read as
# something else. Files without the records (older dptrain) load as before.
#
# The layer is tests/plugins/versioned_scale.c, "vscale", built four times:
# 1.0.0 and 1.1.0 with weight [n]; 1.2.0 with weight [1, n] (the same count,
# another shape); 2.0.0 with weight [n] and bias [n] (another count).
. "${top_srcdir:?run me through make check}/tests/lib.sh"

# strip_records SRC DST: DST is SRC without the layers' plugin_version and
# plugin_abi, as dptrain wrote model files before it recorded them.
strip_records() {
    "$PYTHON" - "$1" "$2" <<'PY'
import shutil, sys, h5py
shutil.copy(sys.argv[1], sys.argv[2])
with h5py.File(sys.argv[2], "r+") as f:
    for g in f["layers"].values():
        del g.attrs["plugin_version"]
        del g.attrs["plugin_abi"]
PY
}

tp="$DPT_TEST_PLUGINS"
v10="$tp/vscale_1_0.so" v11="$tp/vscale_1_1.so" v12="$tp/vscale_1_2.so" v20="$tp/vscale_2_0.so"
iris="$top_srcdir/data/iris-train.h5"
cat > m.cfg <<CFG
data = { train = "$iris"; standardize = true; };
model = {
  layers = ( { type = "vscale"; },
             { type = "dense"; units = 3; activation = "softmax"; } );
  loss = "cce"; optimizer = "adam";
};
train = { batch = 16; epochs = 4; seed = 2; };
CFG
# What the records must say, found independently of the code that writes
# them: the ABI from the header, dense's version from `dptrain plugins`.
abi="$(sed -n 's/^#define DPT_ABI_MAJOR \([0-9]*\)$/\1/p' "$top_srcdir/include/dptrain/plugin.h")"
abi="$abi.$(sed -n 's/^#define DPT_ABI_MINOR \([0-9]*\)$/\1/p' "$top_srcdir/include/dptrain/plugin.h")"
dense_version="$(dptrain plugins | awk '$1 == "layer" && $2 == "dense" { print $3 }')"

must dptrain train m.cfg --plugin-path "$v10" --out m.h5 -q
# --stop-after-steps exits 3 after writing the checkpoint; must would stop
# on that, so the checkpoint's existence is the check.
dptrain train m.cfg --plugin-path "$v10" --out part.h5 -q --stop-after-steps 12 \
    --checkpoint ck.h5 > log 2>&1 || true
check "a stopped run wrote the checkpoint ck.h5" [ -e ck.h5 ]

# 1. The records: each layer group of the model file and of the checkpoint
#    holds type, plugin_version and plugin_abi.
check "m.h5 and ck.h5 record vscale 1.0.0 and dense $dense_version, ABI $abi" \
    "$PYTHON" - m.h5 ck.h5 "$dense_version" "$abi" <<'PY'
import sys, h5py
*files, dense, abi = sys.argv[1:]
want = {"00_vscale": ("vscale", "1.0.0"), "01_dense": ("dense", dense)}
for path in files:
    with h5py.File(path, "r") as f:
        for group, (name, version) in want.items():
            a = f["layers"][group].attrs
            got = tuple(x.decode() if isinstance(x, bytes) else x
                        for x in (a["type"], a["plugin_version"], a["plugin_abi"]))
            print(path, group, got)
            assert got == (name, version, abi), (path, group, got)
PY

# 2. inspect shows the records, and the version loaded now when it differs.
dptrain inspect m.h5 --plugin-path "$v10" > out 2> err
check "inspect: layer 1 (vscale) recorded as 1.0.0, ABI $abi" \
    grep -x "layer 1 (vscale): plugin 'vscale' version 1.0.0, ABI $abi" out
check "inspect: layer 2 (dense) recorded as $dense_version" \
    grep -x "layer 2 (dense): plugin 'dense' version $dense_version, ABI $abi" out
check "inspect with the same version warns about nothing" ! grep -q warning err
dptrain inspect m.h5 --plugin-path "$v11" > out 2> err
check "inspect with 1.1.0 says so" \
    grep -x "layer 1 (vscale): plugin 'vscale' version 1.0.0, ABI $abi (loaded now: version 1.1.0)" out
check "inspect with 1.1.0 warns" grep -F "dptrain: warning: m.h5: layer 1 (vscale)" err
check "inspect --format json has the records" sh -c \
    "'$DPTRAIN' inspect m.h5 --plugin-path '$v10' --format json | grep -F '\"index\":0,\"type\":\"vscale\",\"plugin_version\":\"1.0.0\",\"plugin_abi\":\"$abi\",\"loaded_version\":\"1.0.0\"'"

# 3. Another version with the same parameters: every way of loading warns,
#    naming the file, the layer, the plugin, both versions and the plugin
#    file, and the model gives the same results bit for bit.
warned="dptrain: warning: m.h5: layer 1 (vscale): written by plugin 'vscale' version 1.0.0; the plugin loaded now ($v11) is version 1.1.0"
must dptrain eval m.h5 "$iris" --plugin-path "$v10" --format json
mv log eval10.json
dptrain eval m.h5 "$iris" --plugin-path "$v11" --format json > eval11.json 2> err
check "eval with 1.1.0 warns" grep -F "$warned" err
check "and gives the same loss and metrics as with 1.0.0" cmp eval10.json eval11.json
dptrain eval m.h5 "$iris" --plugin-path "$v10" > /dev/null 2> err
check "eval with 1.0.0 warns about nothing" ! grep -q warning err
must dptrain predict m.h5 "$iris" --plugin-path "$v10" --out p10.h5
dptrain predict m.h5 "$iris" --plugin-path "$v11" --out p11.h5 > /dev/null 2> err
check "predict with 1.1.0 warns" grep -F "$warned" err
check "and writes the same predictions bit for bit" "$PYTHON" - <<'PY'
import h5py, numpy as np
a, b = (h5py.File(p, "r")["pred"][...] for p in ("p10.h5", "p11.h5"))
assert a.shape == b.shape and a.tobytes() == b.tobytes(), "predictions differ"
PY
# train --init and --resume: the warning names the file given, and a run
# resumed with 1.1.0 ends with the weights of an uninterrupted 1.0.0 run.
dptrain train m.cfg --plugin-path "$v11" --init m.h5 --out init11.h5 -q > /dev/null 2> err
check "train --init with 1.1.0 warns" grep -F "$warned" err
check "and trains" [ -s init11.h5 ]
dptrain train m.cfg --plugin-path "$v11" --resume ck.h5 --out resumed11.h5 -q > /dev/null 2> err
check "train --resume with 1.1.0 warns, naming the checkpoint" \
    grep "dptrain: warning: ck.h5: layer 1 (vscale): written by plugin 'vscale' version 1.0.0; .* is version 1.1.0" err
check "the resumed run ends with the uninterrupted run's weights" \
    dpt_test compare m.h5 resumed11.h5

# 4. Another parameter count (2.0.0 has a bias): every way of loading stops
#    with exit status 1, naming the layer, the plugin, both versions and
#    both counts; the counts are read from the file (4 inputs, so w is 4
#    floats, and 2.0.0 has twice that).
n="$("$PYTHON" -c 'import h5py, sys; print(int(h5py.File(sys.argv[1], "r").attrs["n_inputs"]))' m.h5)"
counted="layer 1 (vscale): the file holds $n parameters for this layer, written by plugin 'vscale' version 1.0.0; the plugin loaded now ($v20) is version 2.0.0 and has $((2 * n))"
expect_error "m.h5: $counted" dptrain eval m.h5 "$iris" --plugin-path "$v20"
expect_error "m.h5: $counted" dptrain predict m.h5 "$iris" --plugin-path "$v20" --out p20.h5
check "no predictions were written" [ ! -e p20.h5 ]
expect_error "m.h5: $counted" dptrain inspect m.h5 --plugin-path "$v20"
expect_error "m.h5: $counted" dptrain train m.cfg --plugin-path "$v20" --init m.h5 --out x.h5 -q
expect_error "ck.h5: $counted" dptrain train m.cfg --plugin-path "$v20" --resume ck.h5 --out x.h5 -q
check "no model was written" [ ! -e x.h5 ]
# The other way round, a model of 2.0.0 loaded with 1.0.0, whose weight
# tensor is in the file: reading it alone would drop the bias.
must dptrain train m.cfg --plugin-path "$v20" --out m20.h5 -q
expect_error "m20.h5: layer 1 (vscale): the file holds $((2 * n)) parameters for this layer, written by plugin 'vscale' version 2.0.0; the plugin loaded now ($v10) is version 1.0.0 and has $n" \
    dptrain eval m20.h5 "$iris" --plugin-path "$v10"

# 5. Another tensor shape with the same count (1.2.0 stores w as [1, n]):
#    the shape error also names both versions.
expect_error "m.h5: /layers/00_vscale/weight has shape \[$n\]; the model needs \[1, $n\] (a different model?) (layer 1 (vscale): written by plugin 'vscale' version 1.0.0; the plugin loaded now ($v12) is version 1.2.0)" \
    dptrain eval m.h5 "$iris" --plugin-path "$v12"

# 6. A file without the records, as dptrain wrote them before: the same
#    model with plugin_version and plugin_abi deleted loads with any version
#    of the same layout, without a warning and with the same results, and
#    inspect says the version was not recorded.
must strip_records m.h5 old.h5
dptrain eval old.h5 "$iris" --plugin-path "$v11" --format json > old11.json 2> err
check "an old file loads with 1.1.0 without a warning" ! grep -q warning err
# The outputs differ only in the file named.
sed 's/"model":"old.h5"/"model":"m.h5"/' old11.json > old11-renamed.json
check "and gives the same loss and metrics" cmp eval10.json old11-renamed.json
dptrain inspect old.h5 --plugin-path "$v11" > out 2> err
check "inspect: the old file's version was not recorded" \
    grep -x "layer 1 (vscale): plugin 'vscale', version not recorded (an older file)" out
check "inspect --format json: null for an old file" sh -c \
    "'$DPTRAIN' inspect old.h5 --plugin-path '$v11' --format json | grep -F '\"plugin_version\":null,\"plugin_abi\":null'"
# Without a record nothing is compared; the tensors still are: 2.0.0's
# bias is missing from the file.
expect_error "old.h5: missing dataset /layers/00_vscale/bias" \
    dptrain eval old.h5 "$iris" --plugin-path "$v20"

# Nor is a file of 2.0.0 without records read by 1.0.0 as if the bias
# were not there: the count is compared whatever the versions.
must strip_records m20.h5 old20.h5
expect_error "old20.h5: layer 1 (vscale): the file holds $((2 * n)) parameters for this layer; plugin 'vscale' version 1.0.0 ($v10) has $n (a different model, or another build of the plugin)" \
    dptrain eval old20.h5 "$iris" --plugin-path "$v10"

summary
