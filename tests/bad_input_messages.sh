#!/bin/sh
# Bad input gets one clear line and a non-zero exit: the command line, model
# files, data files (not HDF5, missing dataset, wrong rank, N mismatch, labels
# out of range, NaN/Inf rows) and model files for eval.
set -eu
: "${DPTRAIN:?} ${top_srcdir:?}"
tmp=$(mktemp -d /tmp/dpt-cli.XXXXXX)
fails=0
passes=0

# expect STATUS PATTERN CMD...: exit status and a stderr line matching PATTERN.
expect() {
    want=$1 pattern=$2
    shift 2
    set +e
    "$@" > "$tmp/out" 2> "$tmp/err"
    got=$?
    set -e
    if [ "$got" -ne "$want" ] || ! grep -q -- "$pattern" "$tmp/err" "$tmp/out"; then
        echo "FAIL: $*"
        echo "  expected status $want and /$pattern/; got status $got:"
        sed 's/^/    /' "$tmp/err"
        fails=$((fails + 1))
    else
        echo "ok: $(head -n 1 "$tmp/err" "$tmp/out" | grep -v '^==>' | grep . | head -n 1)"
        passes=$((passes + 1))
    fi
}

cfg="$top_srcdir/examples/breast_cancer.cfg"
expect 0 "usage: dptrain" "$DPTRAIN" --help
expect 0 "^dptrain [0-9]" "$DPTRAIN" --version
expect 0 "usage: dptrain train" "$DPTRAIN" train --help
expect 2 "usage: dptrain" "$DPTRAIN"
expect 2 "unknown command 'frobnicate'" "$DPTRAIN" frobnicate
expect 2 "no model file given" "$DPTRAIN" train
expect 2 "unknown option '--bogus'" "$DPTRAIN" train "$cfg" --bogus
expect 2 "--threads must be a number" "$DPTRAIN" train "$cfg" --threads zero
expect 1 "/nonexistent.cfg: cannot read the model file" "$DPTRAIN" train /nonexistent.cfg

/usr/bin/python3 - "$tmp" <<'PY'
import sys, h5py, numpy as np
d = sys.argv[1]
rng = np.random.default_rng(0)
X = rng.standard_normal((40, 30)).astype(np.float32)
y = (rng.random((40, 1)) > 0.5).astype(np.float32)
def write(name, **ds):
    with h5py.File(f"{d}/{name}", "w") as f:
        for k, v in ds.items():
            f.create_dataset(k, data=v)
write("good.h5", X=X, y=y)
Xn = X.copy(); Xn[17, 4] = np.nan
write("nan.h5", X=Xn, y=y)
Xi = X.copy(); Xi[33, 0] = np.inf
write("inf.h5", X=Xi, y=y)
write("noy.h5", X=X)
write("rank3.h5", X=X.reshape(40, 30, 1), y=y)
write("short.h5", X=X, y=y[:39])
yb = y.copy(); yb[21, 0] = 2.0
write("badlabel.h5", X=X, y=yb)
write("f64.h5", X=X.astype(np.float64), y=y.astype(np.int64))
write("ints.h5", X=(X * 100).astype(np.int16), y=y.astype(np.uint8).reshape(-1))
write("wrongwidth.h5", X=X[:, :12], y=y)
yc = rng.integers(0, 3, 40).astype(np.int32); yc[9] = 5
write("cls.h5", X=X, y=yc)
PY
echo "this is not HDF5" > "$tmp/text.h5"

t() { echo "--set data.train=$tmp/$1 --set data.test=$tmp/good.h5 --set train.epochs=1"; }
# shellcheck disable=SC2046
expect 1 "text.h5: not an HDF5 file" "$DPTRAIN" train "$cfg" $(t text.h5) --out "$tmp/m.h5"
expect 1 "missing.h5" "$DPTRAIN" train "$cfg" $(t missing.h5) --out "$tmp/m.h5"
expect 1 "noy.h5.*'y'" "$DPTRAIN" train "$cfg" $(t noy.h5) --out "$tmp/m.h5"
expect 1 "rank3.h5.*'X'.*3" "$DPTRAIN" train "$cfg" $(t rank3.h5) --out "$tmp/m.h5"
expect 1 "short.h5.*39.*40\|short.h5.*40.*39" "$DPTRAIN" train "$cfg" $(t short.h5) --out "$tmp/m.h5"
expect 1 "nan.h5.*row 17" "$DPTRAIN" train "$cfg" $(t nan.h5) --out "$tmp/m.h5"
expect 1 "inf.h5.*row 33" "$DPTRAIN" train "$cfg" $(t inf.h5) --out "$tmp/m.h5"
expect 1 "badlabel.h5: dataset 'y': row 21" "$DPTRAIN" train "$cfg" $(t badlabel.h5) --out "$tmp/m.h5"
expect 1 "'nope'" "$DPTRAIN" train "$cfg" $(t good.h5) --set data.x=nope --out "$tmp/m.h5"
expect 1 "wrongwidth.h5.*12 features" "$DPTRAIN" train "$cfg" $(t good.h5) --set data.test="$tmp/wrongwidth.h5" --out "$tmp/m.h5"
expect 1 "model.cfg\|breast_cancer.cfg" "$DPTRAIN" train "$cfg" --set model.loss=nosuchloss --out "$tmp/m.h5"
# Other dtypes are converted: float64 X with int64 y, int16 X with uint8 [N] y.
expect 0 "wrote" "$DPTRAIN" train "$cfg" $(t f64.h5) --out "$tmp/m.h5"
expect 0 "wrote" "$DPTRAIN" train "$cfg" $(t ints.h5) --out "$tmp/m2.h5"
# A label out of range for a 3-class softmax model.
cat > "$tmp/cls.cfg" <<CFG
data = { train = "cls.h5"; };
model = { layers = ( { type = "dense"; units = 3; activation = "softmax"; } );
          loss = "cce"; optimizer = "sgd"; };
train = { epochs = 1; batch = 8; };
CFG
expect 1 "cls.h5: dataset 'y': row 9: label 5" "$DPTRAIN" train "$tmp/cls.cfg" --out "$tmp/c.h5"
# eval: not a model file, a data file with the wrong width, a missing file.
expect 1 "good.h5: not a dptrain model file" "$DPTRAIN" eval "$tmp/good.h5" "$tmp/good.h5"
expect 1 "text.h5: not an HDF5 file" "$DPTRAIN" eval "$tmp/text.h5" "$tmp/good.h5"
expect 1 "wrongwidth.h5.*12 features" "$DPTRAIN" eval "$tmp/m.h5" "$tmp/wrongwidth.h5"
expect 2 "--out PRED.h5 is required" "$DPTRAIN" predict "$tmp/m.h5" "$tmp/good.h5"
# A model that diverges stops with a message naming epoch and step.
cat > "$tmp/diverge.cfg" <<CFG
data = { train = "good.h5"; };
model = { layers = ( { type = "dense"; units = 1; } );
          loss = "mse"; optimizer = { type = "sgd"; learning_rate = 100000.0; }; };
train = { epochs = 50; batch = 8; };
CFG
expect 1 "loss became .* at epoch [0-9]*, step [0-9]*" "$DPTRAIN" train "$tmp/diverge.cfg" --out "$tmp/d.h5"
[ ! -e "$tmp/d.h5" ] || { echo "FAIL: a diverged run wrote a model"; fails=$((fails + 1)); }

rm -rf "$tmp"
echo "$passes passed, $fails failed"
[ "$fails" -eq 0 ]
