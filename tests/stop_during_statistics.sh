#!/bin/sh
# Signals during data preparation: SIGINT, SIGTERM and SIGUSR1 sent one
# second into the standardization statistics of a file that takes several
# seconds end the run within about two seconds, with 128 + the signal's
# number (130, 143, 138: no step was taken, nothing to save), a one-line
# message naming the signal and the file, and no checkpoint or model.
# The same for evaluation (dptrain eval reads the same file).
. "${top_srcdir:?run me through make check}/tests/lib.sh"

# 6 million rows of 32 int8 columns (192 MB): read through HDF5's
# conversion, the statistics take ~2 s on a quiet machine (Zen 3), and
# longer on a busy one or in the sanitizer build, so the signal one second
# in lands in them (with 48 MB they were over before it on a quiet one).
"$PYTHON" - <<'PY'
import numpy as np, h5py
rng = np.random.default_rng(1)
n, f = 6_000_000, 32
with h5py.File("big.h5", "w") as h:
    h["X"] = rng.integers(0, 4, (n, f), dtype=np.int8)
    h["y"] = (rng.random(n) < 0.5).astype(np.float32)
PY
cat > m.cfg <<'CFG'
data = { train = "big.h5"; standardize = true; cache = "none"; };
model = { layers = ( { type = "dense"; units = 1; activation = "sigmoid"; } );
          loss = "bce"; optimizer = "sgd"; };
train = { batch = 32; epochs = 1; };
CFG

# Runs CMD in the background, sends SIG one second in, and records the
# exit status in $st and the seconds from the signal to the exit in $took.
signal_at_1s() {
    sig=$1
    shift
    "$@" > out 2>&1 &
    pid=$!
    sleep 1
    t0=$(date +%s.%N)
    kill -s "$sig" $pid
    if wait $pid; then st=0; else st=$?; fi
    took=$(echo "$(date +%s.%N) - $t0" | bc)
    cat out
}

for case in INT:130 TERM:143 USR1:138; do
    sig=${case%:*} want=${case#*:}
    rm -f m.h5 m-ckpt.h5
    signal_at_1s $sig "$DPTRAIN" train m.cfg --out m.h5
    check "SIG$sig during the statistics: exit status $st is $want" [ "$st" = "$want" ]
    check "SIG$sig: within 2 s of the signal ($took s)" at_least 2 "$took"
    check "SIG$sig: one line names the signal and the file" \
        grep -q "^dptrain: stopped by SIG$sig while reading big.h5; no step taken, nothing to save (exit $want)" out
    check "SIG$sig: no checkpoint, no model" [ ! -e m-ckpt.h5 ] && [ ! -e m.h5 ]
done

# Evaluation reads through the same code: a model of the right shape with
# 512 hidden units (so that evaluating big.h5 takes several seconds),
# trained on the first rows, then eval of big.h5 stopped.
"$PYTHON" - <<'PY'
import h5py
with h5py.File("big.h5") as b, h5py.File("small.h5", "w") as s:
    s["X"] = b["X"][:64]
    s["y"] = b["y"][:64]
PY
cat > wide.cfg <<'CFG'
data = { train = "small.h5"; };
model = { layers = ( { type = "dense"; units = 512; activation = "relu"; },
                     { type = "dense"; units = 1; activation = "sigmoid"; } );
          loss = "bce"; optimizer = "sgd"; };
train = { batch = 32; epochs = 1; };
CFG
must dptrain train wide.cfg --out small-model.h5 --quiet
signal_at_1s TERM "$DPTRAIN" eval small-model.h5 big.h5
check "SIGTERM during eval: exit status $st is 143" [ "$st" = 143 ]
check "SIGTERM during eval: within 2 s ($took s)" at_least 2 "$took"
check "SIGTERM during eval: says so" grep -q "^dptrain: stopped by SIGTERM while reading big.h5; eval stopped" out
rm -f big.h5
summary
