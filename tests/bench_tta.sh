#!/bin/sh
# The time-to-accuracy bench's scripts (issue 16) do what
# docs/PERFORMANCE.md says, cheaply: scripts/make-digits28 writes uint8
# [N, 28, 28] images with int labels 0..9, the same bytes for the same seed
# and a test file unlike the train file; scripts/bench-tta --report gives
# the medians, ranges and ratios one computes by hand from a canned tta.txt;
# bad arguments get the usage and exit status 2. No training runs here
# (scripts/bench-tta --quick is the smoke test of the measurement itself).
. "${top_srcdir:?run me through make check}/tests/lib.sh"

# scripts/deps installs what make-digits28 needs: a machine without it
# fails here, rather than passing without having checked anything.
check "/usr/bin/python3 has PIL and h5py (scripts/deps installs them)" \
    /usr/bin/python3 -c "import PIL, h5py"
check "the DejaVu fonts are installed (fonts-dejavu-core, scripts/deps)" \
    [ -f /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf ]

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

# 2. The report, on canned runs. Round 2 failed the two-core check (FMA
#    1.41 < 1.8), so mlp counts rounds 1 and 3: dptrain 10 and 11 s,
#    PyTorch 30 and 40 s, medians 10.5 and 35, ratio 3.33x, per round 3.00
#    and 3.64; 2 of 3 rounds. One PyTorch run (round 2) ended at 0.965 <
#    0.97: every counted run's accuracy is listed. dptrain_yield ran in
#    rounds 1 and 3 only: 8 and 9 s, median 8.5, 4.12x, per round 3.75 and
#    4.44. lenet: PyTorch never reached the target in round 0, so it has
#    no counted rounds.
mkdir canned
cat > canned/tta.txt <<'TXT'
fma 0 1.95
0 mlp dptrain 3 9.5 0.9773 0.97
0 mlp torch 4 31.0 0.9769 0.97
0 lenet dptrain 2 20.0 0.9812 0.98
0 lenet torch none 90.0 0.9790 0.98
fma 1 1.90
1 mlp dptrain 3 10.000 0.9773 0.97
1 mlp dptrain_yield 3 8.000 0.9773 0.97
1 mlp torch 4 30.000 0.9769 0.97
fma 2 1.41
2 mlp dptrain 3 12.000 0.9773 0.97
2 mlp torch 4 33.000 0.9650 0.97
fma 3 1.88
3 mlp dptrain 3 11.000 0.9773 0.97
3 mlp dptrain_yield 3 9.000 0.9773 0.97
3 mlp torch 4 40.000 0.9769 0.97
TXT
must "$top_srcdir/scripts/bench-tta" --report canned
cp log report.txt
check "2. mlp: epochs 3/4, rounds 2/3, dptrain median 10.50 (10.00-11.00)" \
    grep -E '^mlp +0\.97 +dptrain +3/4 +2/3 +10\.50 \(10\.00-11\.00\)' report.txt
check "2. mlp: PyTorch median 35.00 (30.00-40.00), 3.33x (3.00-3.64)" \
    grep -E '^mlp .* dptrain .* 35\.00 \(30\.00-40\.00\) +3\.33x \(3\.00-3\.64\)$' report.txt
check "2. mlp, dptrain_yield: rounds 2/2, 8.50 (8.00-9.00), 35.00, 4.12x (3.75-4.44)" \
    grep -E '^mlp +0\.97 +dptrain_yield +3/4 +2/2 +8\.50 \(8\.00-9\.00\) +35\.00 \(30\.00-40\.00\) +4\.12x \(3\.75-4\.44\)$' report.txt
check "2. mlp: the last accuracies, one PyTorch run below the target" \
    grep -x '       last test accuracy: dptrain 0.9773 0.9773 0.9773, dptrain_yield 0.9773 0.9773, torch 0.9769 0.9650 0.9769 (0 dptrain and 1 PyTorch runs ended below the target)' report.txt
check "2. lenet: not measured, PyTorch did not reach 0.98 in round 0" \
    grep -E '^lenet +0\.98 +- +2/none +not measured: a side did not reach the target in round 0' report.txt
check "2. the FMA check of every round" \
    grep -x 'FMA check, 2 threads / 1 per round (>= 1.8: two real cores): 1.95 1.90 1.41 1.88' report.txt
check "2. no noisy-round note when a round passed the check" ! grep -q 'noisy' report.txt

# 2b. When no counted round passed the check, all count and the row says so:
#     dptrain 5 and 7 s, PyTorch 20 and 21 s: medians 6 and 20.5, 3.42x,
#     per round 4.00 and 3.00.
mkdir noisy
cat > noisy/tta.txt <<'TXT'
fma 0 1.20
0 mlp dptrain 2 9.0 0.9800 0.97
0 mlp torch 2 22.0 0.9750 0.97
fma 1 1.30
1 mlp dptrain 2 5.000 0.9800 0.97
1 mlp torch 2 20.000 0.9750 0.97
fma 2 1.00
2 mlp dptrain 2 7.000 0.9800 0.97
2 mlp torch 2 21.000 0.9750 0.97
TXT
must "$top_srcdir/scripts/bench-tta" --report noisy
cp log noisy.txt
check "2b. all rounds: 0/2, 6.00 (5.00-7.00), 20.50 (20.00-21.00), 3.42x (3.00-4.00)" \
    grep -E '^mlp +0\.97 +dptrain +2/2 +0/2 +6\.00 \(5\.00-7\.00\) +20\.50 \(20\.00-21\.00\) +3\.42x \(3\.00-4\.00\)$' noisy.txt
check "2b. ... and says so" grep -q 'no round passed the two-core check: all rounds counted, noisy' noisy.txt

# 3. Bad arguments: the usage, exit status 2.
for args in "--report" "--report nowhere" "--fast" "0" "3x"; do
    # shellcheck disable=SC2086 # each case is a list of arguments
    expect_exit 2 "^usage: scripts/bench-tta" "$top_srcdir/scripts/bench-tta" $args
done

summary
