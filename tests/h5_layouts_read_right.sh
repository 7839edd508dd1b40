#!/bin/sh
# Every HDF5 layout dptrain accepts reads exactly what h5py reads, on both
# read paths (pread where dataset.c proves the bytes are the dataset's, or
# its own chunk reads for gzip and shuffle + gzip chunks of whole rows;
# H5Dread always): chunked, gzip, shuffle, Fletcher-32, big-endian, a user
# block, every integer and float dtype, numpy bool (an HDF5 enum) as X and
# as y, an integer enum as y, X and y behind external links (a contiguous
# target read with pread, a gzip one), virtual datasets over two files and
# over their own file, and external raw storage. The files come from
# tests/bad-input/h5cases.py (its ACCEPTED list, accepted.txt); those whose
# data live in other files keep them in sub/ and name them relatively, and
# they are read from decoy/, a working folder holding different files of
# the same names: relative names must resolve from the file's folder. The
# reference is h5py run in the file's own folder. Then training: on bool
# labels (a sigmoid model; bce sees labels 0/1), and on the external links
# from decoy/ trains exactly as on the target file itself.
. "${top_srcdir:?run me through make check}/tests/lib.sh"

dump="$top_builddir/tests/data_dump"
must "$PYTHON" "$top_srcdir/tests/bad-input/h5cases.py"

# 1. Every accepted file, every row, as a list of scattered rows and as a
# range, both paths, from decoy/.
cat > compare.py <<'PY'
import os, subprocess, sys
import h5py
import numpy as np
dump, top = sys.argv[1], os.getcwd()
direct_seen, chunks_seen = {}, {}
bad = 0
for line in open("accepted.txt"):
    name, why = line.rstrip("\n").split("\t")
    folder, base = os.path.split(os.path.join(top, name))
    os.chdir(folder)        # h5py resolves relative names from here, as it should
    with h5py.File(base, "r") as f:
        X = np.asarray(f["X"][...]).astype(np.float32)
        y = np.asarray(f["y"][...]).astype(np.float32)
    os.chdir(os.path.join(top, "decoy"))
    N = X.shape[0]
    X, y = X.reshape(N, -1), y.reshape(N, -1)
    scattered = [0, 1, 2, 5, 6, 7, 8, 30, 31, 45, N - 1]
    for arg, idx in ((",".join(map(str, scattered)), scattered), (f"0+{N}", range(N))):
        for path in ("direct", "hdf5"):
            cmd = [dump, os.path.join(top, name), "X", "y", arg] + (["hdf5"] if path == "hdf5" else [])
            out = subprocess.run(cmd, capture_output=True, text=True)
            if out.returncode != 0:
                print(f"{name} ({why}): data_dump failed: {out.stderr.strip()}")
                bad += 1
                continue
            lines = out.stdout.splitlines()
            head = lines[0].split()
            direct, chunks = int(head[-3]), int(head[-1])
            if path == "direct":
                direct_seen[name], chunks_seen[name] = direct, chunks
            elif direct or chunks:
                print(f"{name}: still direct or chunk reads after dpt_dataset_no_direct")
                bad += 1
            xs = np.array([[float(v) for v in l.split()[1:]] for l in lines[1::2]], np.float32)
            ys = np.array([[float(v) for v in l.split()[1:]] for l in lines[2::2]], np.float32)
            if not (np.array_equal(xs, X[list(idx)]) and np.array_equal(ys, y[list(idx)])):
                print(f"{name} ({why}), {path} path, rows {arg[:20]}: differs from h5py")
                bad += 1
print(f"{len(direct_seen)} files compared; read with pread: "
      + " ".join(sorted(n for n, d in direct_seen.items() if d))
      + "; by chunks: " + " ".join(sorted(n for n, d in chunks_seen.items() if d)))
# The direct path must still be taken where it can be, and never elsewhere.
want = {"contig.h5": 1, "userblock.h5": 1, "x-bool.h5": 1, "y-bool.h5": 1,
        "sub/elink.h5": 1, "bigend.h5": 0, "chunked.h5": 0, "sub/elink-chunked.h5": 0,
        "sub/vds.h5": 0, "sub/vds-same.h5": 0, "sub/efile.h5": 0, "x-float16.h5": 0}
for n, d in want.items():
    if direct_seen.get(n) != d:
        print(f"{n}: direct {direct_seen.get(n)}, expected {d}")
        bad += 1
# dptrain's own chunk reads: gzip (or shuffle + gzip) chunks of whole rows
# of a native type; not chunks of part of a row, other filters, big-endian.
want = {"shuffle.h5": 1, "sub/elink-chunked.h5": 1, "gzip.h5": 0, "chunked.h5": 0,
        "fletcher.h5": 0, "contig.h5": 0, "bigend.h5": 0, "x-float16-zip.h5": 0,
        "x-uint8-zip.h5": 1, "x-int16-zip.h5": 1, "x-float32-zip.h5": 1,
        "x-float64-zip.h5": 1, "x-uint64-zip.h5": 1, "x-bool-zip.h5": 1, "y-zip.h5": 1}
for n, c in want.items():
    if chunks_seen.get(n) != c:
        print(f"{n}: chunk reads {chunks_seen.get(n)}, expected {c}")
        bad += 1
sys.exit(1 if bad else 0)
PY
check "every accepted layout reads as h5py reads it, both paths, from another folder" \
    "$PYTHON" compare.py "$dump"

# 2. Training on numpy bool labels; predictions come out as probabilities.
cat > bin.cfg <<'EOF2'
model = {
  layers = ( { type = "dense"; units = 1; activation = "sigmoid"; } );
  loss = "bce";
  optimizer = { type = "sgd"; learning_rate = 0.1; };
  metrics = [ "accuracy" ];
};
train = { batch = 16; epochs = 2; seed = 1; };
EOF2
check "dptrain trains on bool y (bce, labels 0/1)" \
    dptrain train bin.cfg --set data.train=y-bool.h5 --out bool.h5
check "and evaluates on it" dptrain eval bool.h5 y-bool.h5

# 3. External links from another folder train exactly as the target itself
# (the issue's case: labels read from the parent file's bytes).
cat > cls.cfg <<'EOF2'
model = {
  layers = ( { type = "dense"; units = 8; activation = "relu"; },
             { type = "dense"; units = 3; activation = "softmax"; } );
  loss = "cce";
  optimizer = { type = "sgd"; learning_rate = 0.1; };
};
train = { batch = 16; epochs = 2; seed = 1; };
EOF2
must dptrain train cls.cfg --set data.train=sub/target.h5 --out direct.h5
cd decoy
must dptrain train ../cls.cfg --set data.train=../sub/elink.h5 --out ../linked.h5
must dptrain train ../cls.cfg --set data.train=../sub/vds.h5 --out ../vds.h5
cd ..
check "external links from another folder train bitwise as the target file" \
    dpt_test compare direct.h5 linked.h5
check "so does a virtual dataset over two files" dpt_test compare direct.h5 vds.h5
summary
