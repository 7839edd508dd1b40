#!/bin/sh
# dptrain convert streams: converting a CSV 30 times larger than another
# takes about the same peak memory (blocks of 1 MiB, src/cli/convert.h),
# where reading it whole would add its size as floats (tens of MB). And
# progress: a line rewritten on a terminal, only a few lines in a log.
. "${top_srcdir:?run me through make check}/tests/lib.sh"

# small.csv: 8,000 rows; big.csv: the same rows 30 times (240,000 x 21
# fields, about 40 MB; X as float32 alone would be 19 MB).
"$PYTHON" - <<'PY'
import numpy as np
rng = np.random.default_rng(3)
X = rng.normal(size=(8000, 20))
y = rng.integers(0, 5, 8000)
lines = "".join(",".join("%.9f" % v for v in r) + ",%d\n" % l for r, l in zip(X, y))
head = ",".join("f%d" % i for i in range(20)) + ",y\n"
open("small.csv", "w").write(head + lines)
with open("big.csv", "w") as f:
    f.write(head)
    for _ in range(30):
        f.write(lines)
PY

# peak IN OUT [OPTIONS]: the peak resident memory (KiB) of `dptrain convert
# IN.csv OUT.h5 OPTIONS`, from the kernel's account of a child process
# (getrusage), its stderr kept in OUT.err. Under AddressSanitizer freed
# memory waits in a quarantine (256 MB) before it is reused, so memory that
# a plain build reuses (the compressed chunks' buffers) would count once
# per chunk: no quarantine, so that the bound means the same in both builds.
ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}quarantine_size_mb=0"
export ASAN_OPTIONS
peak() {
    "$PYTHON" - "$DPTRAIN" "$@" <<'PY'
import resource, subprocess, sys
dpt, src, out = sys.argv[1:4]
with open(out + ".err", "w") as err:
    subprocess.run([dpt, "convert", src + ".csv", out + ".h5"] + sys.argv[4:],
                   check=True, stdout=subprocess.DEVNULL, stderr=err)
print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
PY
}
small=$(peak small small)
big=$(peak big big)
echo "peak RSS: small.csv $small KiB, big.csv $big KiB"
check "1. the 30x larger file converts in about the same memory (+ <= 6 MiB)" \
    test "$big" -le $((small + 6144))
check "1. ... and every row is there, as pandas reads it" "$PYTHON" - <<'PY'
import h5py, numpy as np, pandas as pd
df = pd.read_csv("big.csv", float_precision="round_trip")
f = h5py.File("big.h5", "r")
assert np.array_equal(f["X"][...], df.drop(columns=["y"]).to_numpy(np.float32))
assert np.array_equal(f["y"][...], df["y"].to_numpy(np.int64))
print(f["X"].shape)
PY

# 2. Compressed and chunked output streams too (whole chunks per block).
gz=$(peak big gz --compress 1 --chunk-rows 5000)
echo "peak RSS, compressed: $gz KiB"
check "2. compressed output, same memory bound" test "$gz" -le $((small + 6144))

# 3. Progress: not a terminal, a short conversion: no progress lines, one
#    closing line on stdout. On a terminal (script(1) gives one), a line
#    rewritten with carriage returns.
check "3. a log gets no progress lines for a short conversion" test ! -s big.err
if command -v script > /dev/null 2>&1; then
    script -qec "'$DPTRAIN' convert big.csv tty.h5" /dev/null > tty.out 2>&1 || true
    check "3. a terminal gets progress rewritten in place" grep -q "$(printf '\r')convert big.csv: reading" tty.out
    check "3. ... and the closing line" grep -q "tty.h5: X \[240000, 20\] float32" tty.out
else
    fail "3. script(1) (util-linux) is needed to give the command a terminal"
fi

summary
