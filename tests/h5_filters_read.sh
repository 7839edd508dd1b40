#!/bin/sh
# Data files compressed with the HDF5 filters h5py users write read as the
# uncompressed file does (docs/DESIGN.md, Files): h5py's own lzf and, from
# Debian's filter plugins, LZ4, BZip2 and Blosc. Debian builds each plugin
# for one HDF5 flavour (most for serial only) while dptrain links the
# openmpi one; dptrain finds them all (util/h5.h). Each file, named d.h5 in
# a folder of its own, trains to the same model file bytes as the plain
# file. A filter no Debian package has (tests/plugins/h5_xor_filter.c, id
# 300) reads when HDF5_PLUGIN_PATH names its folder (and lzf still reads
# then), and is otherwise refused in one line naming the file, the
# dataset, the filter and its id; so is lzf with HDF5_PLUGIN_PRELOAD=::.
. "${top_srcdir:?run me through make check}/tests/lib.sh"

mkdir xor
cp "$top_builddir/tests/plugins/.libs/libh5xor.so" xor/
must "$PYTHON" - <<'PY'
import os
import h5py
import numpy as np
h5py.h5pl.append(os.path.abspath("xor").encode())  # after the serial plugins' folder
rng = np.random.default_rng(3)
X = rng.standard_normal((400, 6)).astype(np.float32)
y = (X[:, 0] + X[:, 1] * X[:, 2] > 0).astype(np.int64)
filters = {  # folder -> h5py's create_dataset arguments, the filter id it stores
    "plain": ({}, None),
    "lzf": ({"compression": "lzf"}, 32000),
    "lz4": ({"compression": 32004}, 32004),
    "bzip2": ({"compression": 307, "compression_opts": (9,)}, 307),
    # blosc: blosclz at level 5 with byte shuffle (cd_values 4-6)
    "blosc": ({"compression": 32001, "compression_opts": (0, 0, 0, 0, 5, 1, 0)}, 32001),
    "xor": ({"compression": 300}, 300),
}
for name, (kw, fid) in filters.items():
    os.makedirs(name, exist_ok=True)
    with h5py.File(f"{name}/d.h5", "w") as f:
        chunks = {"chunks": True} if kw else {}
        f.create_dataset("X", data=X, **kw, **chunks)
        f.create_dataset("y", data=y, **kw, **chunks)
    with h5py.File(f"{name}/d.h5", "r") as f:
        got = [int(f["X"].id.get_create_plist().get_filter(i)[0])
               for i in range(f["X"].id.get_create_plist().get_nfilters())]
        assert got == ([fid] if fid else []), (name, got)
        assert np.array_equal(f["X"][...], X) and np.array_equal(f["y"][...], y), name
PY
cat > m.cfg <<'EOF'
data = { train = "d.h5"; standardize = true; };
model = {
  layers = ( { type = "dense"; units = 8; activation = "relu"; },
             { type = "dense"; units = 1; activation = "sigmoid"; } );
  loss = "bce";
  optimizer = { type = "adam"; learning_rate = 0.01; };
};
train = { batch = 40; epochs = 3; seed = 5; };
EOF
for d in plain lzf lz4 bzip2 blosc xor; do cp m.cfg "$d/"; done
cd plain
must dptrain train m.cfg --out m.h5
cd ..

# 1-4. Each filter trains to the plain file's model, byte for byte.
for d in lzf lz4 bzip2 blosc; do
    cd "$d"
    check "$d: trains" dptrain train m.cfg --out m.h5
    cd ..
    check "$d: the same model file bytes as the uncompressed file" cmp plain/m.h5 "$d/m.h5"
done

# 9. inspect reads an lzf file's values: its label counts.
expect_exit 0 "labels (2 distinct)" dptrain inspect lzf/d.h5

# 10. A filter of no Debian package: refused in one line, exit 1.
cd xor
expect_error "^dptrain: error: d.h5: dataset 'X' is compressed with HDF5 filter xor (id 300), which cannot be decoded here: no installed HDF5 filter plugin provides it and Debian ships none: an HDF5 filter plugin for filter id 300 is needed" \
    dptrain train m.cfg --out m.h5
lines=$(wc -l < "$tmp/.err")
if [ "$lines" = 1 ] && [ ! -s "$tmp/.out" ] && [ ! -e m.h5 ]; then
    ok "one line, nothing else printed, no model written"
else
    fail "expected one line and no model; got $lines lines:"
    cat "$tmp/.err" "$tmp/.out"
fi
expect_error "d.h5: dataset 'X' is compressed with HDF5 filter xor (id 300)" \
    dptrain eval ../plain/m.h5 d.h5
expect_exit 0 "not read: HDF5 filter xor (id 300) cannot be decoded here" dptrain inspect d.h5

# 14. With HDF5_PLUGIN_PATH naming its folder it reads, and trains as the
# plain file; the Debian plugins are still found after that folder.
check "HDF5_PLUGIN_PATH=xor/: trains" env HDF5_PLUGIN_PATH="$tmp/xor" \
    "$DPTRAIN" train m.cfg --out m.h5
check "HDF5_PLUGIN_PATH=xor/: the same model file bytes as the uncompressed file" \
    cmp ../plain/m.h5 m.h5
cd ../lzf
check "HDF5_PLUGIN_PATH=xor/: lzf still reads" env HDF5_PLUGIN_PATH="$tmp/xor" \
    "$DPTRAIN" train m.cfg --out m2.h5
check "HDF5_PLUGIN_PATH=xor/: lzf, the same model file bytes" cmp ../plain/m.h5 m2.h5

# 18. Plugins turned off by HDF5's own switch: lzf is refused, saying why.
expect_error "^dptrain: error: d.h5: dataset 'X' is compressed with HDF5 filter lzf (id 32000), which cannot be decoded here: HDF5_PLUGIN_PRELOAD=:: turns HDF5's filter plugins off" \
    env HDF5_PLUGIN_PRELOAD=:: "$DPTRAIN" train m.cfg --out m3.h5
cd ..
summary
