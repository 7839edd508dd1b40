#!/bin/sh
# eval and predict name the datasets with their own --x and --y: a file
# without the model's X or y is refused with a hint that names those
# options (src/data/dataset.c, missing_hint), not the model file's data.x,
# data.y and data.y_columns, which `eval --set` would not take (there is
# no --set); train keeps its data.y hint. Following the hint works.
. "${top_srcdir:?run me through make check}/tests/lib.sh"

"$PYTHON" - <<'PY'
import h5py, numpy as np
X = np.random.default_rng(1).standard_normal((100, 6)).astype(np.float32)
y = np.arange(100) % 4
for path, x_name, y_name in [("good.h5", "X", "y"), ("noy.h5", "X", "labels"),
                             ("nox.h5", "feat", "y")]:
    with h5py.File(path, "w") as f:
        f[x_name], f[y_name] = X, y
PY
cat > m.cfg <<CFG
data = { train = "good.h5"; };
model = { layers = ( { type = "dense"; units = 4; activation = "softmax"; } );
          loss = "cce"; optimizer = "sgd"; };
train = { epochs = 1; batch = 8; };
CFG
must dptrain train m.cfg --out m.h5

# 1. No 'y': eval names --y NAME (and predict, which needs no targets).
want="noy.h5: no dataset 'y' (found: X, labels); name the dataset of the targets with --y NAME"
want="$want (or use \`dptrain predict\` for outputs without targets)\$"
expect_error "$want" dptrain eval m.h5 noy.h5
dptrain eval m.h5 noy.h5 > noy.out 2>&1 || true
check "... and no model file key" ! grep "data\.y" noy.out
expect_exit 0 "noy.h5: 100 samples" dptrain eval m.h5 noy.h5 --y labels

# 2. No 'X': eval and predict name --x NAME.
want="nox.h5: no dataset 'X' (found: feat, y); name the dataset of the features with --x NAME\$"
expect_error "$want" dptrain eval m.h5 nox.h5
expect_error "$want" dptrain predict m.h5 nox.h5 --out p.h5
expect_exit 0 "nox.h5: 100 samples" dptrain eval m.h5 nox.h5 --x feat

# 3. train, where the datasets are the model file's keys, keeps its hints.
expect_error "noy.h5: no dataset 'y' (found: X, labels); set data.y to the dataset of the targets, or data.y_columns" \
    dptrain train m.cfg --set data.train=noy.h5 --out t.h5
expect_error "nox.h5: no dataset 'X' (found: feat, y); set data.x to the dataset of the features" \
    dptrain train m.cfg --set data.train=nox.h5 --out t.h5

summary
