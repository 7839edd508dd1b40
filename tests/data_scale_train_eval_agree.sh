#!/bin/sh
# data.scale multiplies the inputs before anything else, in training and in
# evaluation alike: a model trained on uint8 images with scale = 1/255
# trains, evaluates and predicts as one trained on the same images already
# divided by 255 in float32 (the same loss to float tolerance), whichever
# way the training rows are held (in memory or read a window at a time),
# after a stop and a resume too. The model file keeps the scale (attribute
# /standardize/scale) and eval applies it. With data.standardize the
# statistics are those of the scaled pixels, and pixels of zero variance
# (a constant image border) get std 1 and come out as 0. Bad values of
# data.scale are refused.
. "${top_srcdir:?run me through make check}/tests/lib.sh"

# Images 8 x 8 of 4 classes with a constant border of 7: the uint8 files and
# their float32 copies divided by 255 (the same images: same seed and draw).
for kind in u8 f; do
    div=""
    [ $kind = u8 ] || div="--divide 255"
    dpt_test images $kind-train.h5 --rows 600 --shape 8,8 --classes 4 --seed 3 --border 7 $div
    dpt_test images $kind-test.h5 --rows 200 --shape 8,8 --classes 4 --seed 3 --draw 1 \
        --border 7 $div
done
# 1/255 as Python prints it: the same double.
cat > a.cfg <<'CFG'
data = { train = "u8-train.h5"; test = "u8-test.h5"; scale = 0.00392156862745098; };
model = { layers = ( { type = "flatten"; },
                     { type = "dense"; units = 16; activation = "relu"; },
                     { type = "dense"; units = 4; activation = "softmax"; } );
          loss = "cce"; optimizer = { type = "adam"; learning_rate = 0.01; };
          metrics = [ "accuracy" ]; };
train = { epochs = 3; batch = 32; seed = 1; };
CFG
sed -e 's/u8-/f-/g' -e 's/ scale = 0.00392156862745098;//' a.cfg > b.cfg
must dptrain train a.cfg --out a.h5
cp log a.log
must dptrain train b.cfg --out b.h5
cp log b.log

# loss_of FILE: the loss of a `dptrain eval --format json` output.
loss_of() { json_number loss "$1"; }
# close A B REL: |A - B| <= REL max(|A|, |B|, 1e-30).
close() {
    awk -v a="$1" -v b="$2" -v r="$3" 'BEGIN { d = a - b; if (d < 0) d = -d;
        m = a < 0 ? -a : a; n = b < 0 ? -b : b; if (n > m) m = n; if (m < 1e-30) m = 1e-30;
        exit !(a != "" && b != "" && d <= r * m) }'
}

# 1. The model file keeps the scale (the same double as 1/255); the model
#    trained without a scale has no /standardize group at all, as before.
check "a.h5 has /standardize attr scale = 1/255; b.h5 has no /standardize" \
    "$PYTHON" - <<'PY'
import h5py
with h5py.File("a.h5", "r") as f:
    assert f["standardize"].attrs["scale"] == 1 / 255, dict(f["standardize"].attrs)
    assert "mean" not in f["standardize"]
with h5py.File("b.h5", "r") as f:
    assert "standardize" not in f, list(f)
PY

# 2. Training saw the same inputs: the same epoch losses and test loss
#    (printed to 6 digits), and the same weights to float tolerance.
grep -E '^(epoch|test)' a.log | sed 's/ *[0-9.]* samples\/s.*//' > a.loss
grep -E '^(epoch|test)' b.log | sed -e 's/ *[0-9.]* samples\/s.*//' -e 's/f-test/u8-test/' > b.loss
check "the epoch and test losses of a (uint8, scale) equal b's (float / 255)" \
    diff a.loss b.loss
check "a's weights equal b's to 1e-5 (relative to the largest)" \
    dpt_test compare a.h5 b.h5 --max-rel 1e-5

# 3. eval applies the model file's scale: a on the uint8 test file has b's
#    loss on the float one, and the loss training printed for it; a on the
#    already divided file (scaled twice) does not.
dptrain eval a.h5 u8-test.h5 --format json > a.json
dptrain eval b.h5 f-test.h5 --format json > b.json
dptrain eval a.h5 f-test.h5 --format json > twice.json
la=$(loss_of a.json) lb=$(loss_of b.json) l2=$(loss_of twice.json)
lt=$(sed -n 's/^test u8-test.h5: .* loss \([0-9.]*\) .*/\1/p' a.log)
check "eval: a on uint8 ($la) = b on float ($lb) to 1e-6" close "$la" "$lb" 1e-6
check "eval: a on uint8 ($la) = the test loss training printed ($lt)" close "$la" "$lt" 1e-4
check "eval: a on the divided file ($l2) is not a's loss ($la): scaled twice" \
    ! close "$la" "$l2" 0.5

# 4. predict: a's outputs on uint8 equal b's on float to 1e-6.
dptrain predict a.h5 u8-test.h5 --out pa.h5 > /dev/null
dptrain predict b.h5 f-test.h5 --out pb.h5 > /dev/null
check "predict: a on uint8 = b on float, every output to 1e-6" "$PYTHON" - <<'PY'
import numpy as np
from dpt_test import read_predictions
pa, la = read_predictions("pa.h5")
pb, lb = read_predictions("pb.h5")
assert np.abs(pa - pb).max() <= 1e-6, np.abs(pa - pb).max()
assert (la == lb).all()
PY

# 5. The training rows read a window at a time on 2 ranks (the runs above
#    held them in memory; the shard scales them on the way in, either way):
#    a's weights equal b's trained the same way, to float tolerance.
for m in a b; do
    must mpirun_np 2 "$DPTRAIN" train $m.cfg --set 'data.cache="none"' \
        --set data.window_rows=64 --out $m-windows.h5
done
check "2 ranks, windows of 64 rows: a's weights = b's to 1e-5" \
    dpt_test compare a-windows.h5 b-windows.h5 --max-rel 1e-5

# 6. With standardize: c (uint8, scale) against d (float / 255). c's mean
#    and std are those of the scaled pixels (d's, to float rounding); the
#    28 border pixels have std 1 and mean 7/255; both evaluate alike.
sed 's/scale = 0.00392156862745098;/& standardize = true;/' a.cfg > c.cfg
sed 's/test = "f-test.h5";/& standardize = true;/' b.cfg > d.cfg
must dptrain train c.cfg --out c.h5
must dptrain train d.cfg --out d.h5
check "c's statistics are d's (scaled units); border pixels: std 1, mean 7/255" \
    "$PYTHON" - <<'PY'
import h5py
import numpy as np
from dpt_test import read_data
with h5py.File("c.h5", "r") as f:
    cm, cs = f["standardize/mean"][...], f["standardize/std"][...]
    assert f["standardize"].attrs["scale"] == 1 / 255
with h5py.File("d.h5", "r") as f:
    dm, ds = f["standardize/mean"][...], f["standardize/std"][...]
X = read_data("u8-train.h5")[0].reshape(600, -1).astype(np.float64) / 255
border = X.min(0) == X.max(0)
assert border.sum() == 28, border.sum()
assert (cs[border] == 1).all() and (ds[border] == 1).all()
assert (cm[border] == 7 * (1 / 255)).all(), cm[border]
assert np.allclose(dm[border], 7 / 255, rtol=1e-7)
assert np.allclose(cm, dm, rtol=1e-6) and np.allclose(cs, ds, rtol=1e-6)
assert np.allclose(cm[~border], X.mean(0)[~border], rtol=1e-12)
assert np.allclose(cs[~border], X.std(0)[~border], rtol=1e-9)
PY
dptrain eval c.h5 u8-test.h5 --format json > c.json
dptrain eval d.h5 f-test.h5 --format json > d.json
lc=$(loss_of c.json) ld=$(loss_of d.json)
check "eval, standardized: c on uint8 ($lc) = d on float ($ld) to 1e-4" close "$lc" "$ld" 1e-4
acc=$(json_number accuracy c.json)
check "c learned the classes: test accuracy $acc >= 0.9" at_least "$acc" 0.9
# Held in memory (c.h5: the file is small), the rows are scaled and
# standardized once when read (src/data/shard.c read_all); read a window
# at a time, as each window comes in: the same weights, bitwise.
must dptrain train c.cfg --set 'data.cache="none"' --set data.window_rows=64 --out c-windows.h5
check "c from windows of 64 rows = c held in memory, bitwise" \
    dpt_test compare c.h5 c-windows.h5

# 7. Stopped and resumed from the checkpoint alone (its /config gives the
#    scale to 15 digits, its /standardize all of them): the same weights,
#    bitwise, as the run that was not stopped. A resume that changes the
#    scale under the statistics is refused, naming the checkpoint.
expect_exit 3 "stopped on request" dptrain train c.cfg --checkpoint ck.h5 --stop-after-steps 25
must dptrain train --resume ck.h5 --out c-resumed.h5
check "stopped and resumed: the same weights as c, bitwise" dpt_test compare c.h5 c-resumed.h5
expect_error "ck.h5: the input statistics were computed on inputs scaled by 0.003921568627" \
    dptrain train c.cfg --resume ck.h5 --set data.scale=1 --out x.h5

# 8. data.scale must be a number above 0; the message names the key.
expect_error "--set data.scale=0: data: 'scale' must be above 0 .*got 0" \
    dptrain train a.cfg --set data.scale=0 --out x.h5
expect_error "--set data.scale=-2: data: 'scale' must be above 0 .*got -2" \
    dptrain train a.cfg --set data.scale=-2 --out x.h5
expect_error "--set data.scale=1/255: data: 'scale' must be a number" \
    dptrain train a.cfg --set 'data.scale="1/255"' --out x.h5
summary
