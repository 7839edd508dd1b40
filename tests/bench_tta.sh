#!/bin/sh
# The time-to-accuracy bench's scripts (issue 16) do what
# docs/PERFORMANCE.md says, cheaply: scripts/make-digits28 writes uint8
# [N, 28, 28] images with int labels 0..9, the same bytes for the same seed
# and a test file unlike the train file; scripts/bench-tta --report gives
# the medians, ranges and ratios one computes by hand from a canned tta.txt;
# bad arguments get the usage and exit status 2. No training runs here
# (scripts/bench-tta --quick is the smoke test of the measurement itself).
. "${top_srcdir:?run me through make check}/tests/lib.sh"

if ! /usr/bin/python3 -c "import PIL, h5py" 2> /dev/null ||
    [ ! -f /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf ]; then
    echo "SKIP: scripts/make-digits28 needs /usr/bin/python3 with PIL and h5py" \
         "and fonts-dejavu-core (scripts/deps installs them)"
    dpt__done=1
    exit 77
fi

# 1. The data: shapes, dtypes, label range, every class present, seeded.
must "$top_srcdir/scripts/make-digits28" a --n-train 300 --n-test 50 --seed 3
must "$top_srcdir/scripts/make-digits28" b --n-train 300 --n-test 50 --seed 3
check "1. make-digits28: uint8 [N, 28, 28], int labels 0..9, seeded, test unlike train" \
    /usr/bin/python3 - <<'PY'
import h5py
import numpy as np
def read(path):
    with h5py.File(path, "r") as f:
        return f["X"][...], f["y"][...]
Xa, ya = read("a/digits28-train.h5")
Ta, ta = read("a/digits28-test.h5")
Xb, yb = read("b/digits28-train.h5")
assert Xa.shape == (300, 28, 28) and Xa.dtype == np.uint8, (Xa.shape, Xa.dtype)
assert Ta.shape == (50, 28, 28) and Ta.dtype == np.uint8, (Ta.shape, Ta.dtype)
assert ya.shape == (300,) and np.issubdtype(ya.dtype, np.integer), (ya.shape, ya.dtype)
assert ta.shape == (50,) and np.issubdtype(ta.dtype, np.integer)
assert ya.min() >= 0 and ya.max() <= 9 and len(set(ya.tolist())) == 10, np.bincount(ya)
assert ta.min() >= 0 and ta.max() <= 9
# Ink on a dark ground: a digit's pixels reach well above the noise.
assert Xa.reshape(300, -1).max(axis=1).min() > 100 and np.median(Xa) < 40, (Xa.max(), np.median(Xa))
assert (Xa == Xb).all() and (ya == yb).all(), "another run with the same seed differs"
assert not (Xa[:50] == Ta).all(), "the test file repeats the train file"
print("ok", np.bincount(ya).tolist())
PY

# 2. The report, on canned runs. mlp: dptrain 10, 12, 11 s, torch 30, 33,
#    40 s: medians 11 and 33, ratio 3.00x, per round 3.00, 2.75, 3.64;
#    one torch run ended at 0.965 < 0.97. lenet: torch never reached the
#    target in round 0, so no counted rounds. The FMA ratios are listed.
mkdir canned
cat > canned/tta.txt <<'TXT'
fma 0 1.95
0 mlp dptrain 3 9.5 0.9773 0.97
0 mlp torch 4 31.0 0.9769 0.97
0 lenet dptrain 2 20.0 0.9812 0.98
0 lenet torch none 90.0 0.9790 0.98
fma 1 1.90
1 mlp dptrain 3 10.000 0.9773 0.97
1 mlp torch 4 30.000 0.9769 0.97
fma 2 1.41
2 mlp dptrain 3 12.000 0.9773 0.97
2 mlp torch 4 33.000 0.9650 0.97
fma 3 1.88
3 mlp dptrain 3 11.000 0.9773 0.97
3 mlp torch 4 40.000 0.9769 0.97
TXT
must "$top_srcdir/scripts/bench-tta" --report canned
cp log report.txt
check "2. mlp: epochs 3/4, 3 rounds, dptrain median 11.00 (10.00-12.00)" \
    grep -E '^mlp +0\.97 +3/4 +3 +11\.00 \(10\.00-12\.00\)' report.txt
check "2. mlp: torch median 33.00 (30.00-40.00), 3.00x (2.75-3.64)" \
    grep -E '33\.00 \(30\.00-40\.00\) +3\.00x \(2\.75-3\.64\)$' report.txt
check "2. mlp: the last accuracies, one torch run below the target" \
    grep -x '       last test accuracy: dptrain 0.9773 0.9773 0.9773, torch 0.9769 0.9650 0.9769 (0 dptrain and 1 torch runs ended below the target)' report.txt
check "2. lenet: not measured, torch did not reach 0.98 in round 0" \
    grep -E '^lenet +0\.98 +2/none +not measured' report.txt
check "2. the FMA check of every round" \
    grep -x 'FMA check, 2 threads / 1 per round (>= 1.8: two real cores): 1.95 1.90 1.41 1.88' report.txt

# 3. Bad arguments: the usage, exit status 2.
for args in "--report" "--report nowhere" "--fast" "0" "3x"; do
    # shellcheck disable=SC2086 # each case is a list of arguments
    expect_exit 2 "^usage: scripts/bench-tta" "$top_srcdir/scripts/bench-tta" $args
done

summary
