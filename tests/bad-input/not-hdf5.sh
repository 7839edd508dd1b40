# Cases of tests/bad_input_suite.sh: data given in a form dptrain does not
# read (a CSV, a .npy, an .npz, a text file named .h5) is refused naming the
# file and what it looks like, with the command that converts it
# (dptrain convert), whichever command was handed it.
mkdir -p not-hdf5 && cd not-hdf5
"$PYTHON" - <<'PY'
import numpy as np
import h5py
rng = np.random.default_rng(3)
X = rng.normal(size=(20, 4)).astype(np.float32)
y = rng.integers(0, 2, 20)
with open("data.csv", "w") as f:
    f.write("a,b,c,d,label\n")
    for row, label in zip(X, y):
        f.write(",".join(f"{v:.4f}" for v in row) + f",{label}\n")
np.save("X.npy", X)
np.savez("data.npz", X=X, y=y)
with h5py.File("good.h5", "w") as f:
    f["X"] = X
    f["y"] = y
PY
cp data.csv table.h5
cat > m.cfg <<'CFG'
data = { train = "good.h5"; };
model = { layers = ( { type = "dense"; units = 1; activation = "sigmoid"; } );
          loss = "bce"; optimizer = "sgd"; };
train = { epochs = 1; batch = 10; };
CFG
refused csv-to-train 1 "data.csv: not an HDF5 file: it is text \(a CSV\?\); convert it first: dptrain convert data.csv data.h5" dptrain train m.cfg --set data.train=data.csv --out m.h5
refused csv-named-h5 1 "table.h5: not an HDF5 file: it is text \(a CSV\?\); convert it first: dptrain convert table.h5 table-converted.h5" dptrain train m.cfg --set data.train=table.h5 --out m.h5
refused npy-to-train 1 "X.npy: not an HDF5 file: it is a numpy .npy file; convert it first: dptrain convert X.npy X.h5" dptrain train m.cfg --set data.train=X.npy --out m.h5
refused npz-to-test 1 "data.test: .*data.npz: not an HDF5 file: it is a zip file \(numpy .npz\?\); convert it first" dptrain train m.cfg --set data.test=data.npz --out m.h5
dptrain train m.cfg --out m.h5 > /dev/null 2>&1
refused csv-to-predict 1 "data.csv: not an HDF5 file: it is text \(a CSV\?\); convert it first" dptrain predict m.h5 data.csv --out p.h5
refused npy-to-eval 1 "X.npy: not an HDF5 file: it is a numpy .npy file" dptrain eval m.h5 X.npy
cd ..
