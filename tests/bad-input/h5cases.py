"""Writes the HDF5 files of the bad-input suite (tests/bad-input/hdf5.sh) and
of tests/h5_layouts_read_right.sh into the current folder:

    $PYTHON tests/bad-input/h5cases.py

Every file holds X and y (unless the case is about one of them missing or
wrong) made from the same rows: X float32 [N, F] standard normal (or the
dtype the case is about), y int32 class labels 0..2. Cases that must be
accepted are listed in ACCEPTED (file name -> what it exercises); the
reading test compares every row dptrain reads from them with what h5py
reads. Files whose data live elsewhere (external links, virtual datasets,
external raw storage) keep that data under sub/ and name it relatively, so
that the tests can run from another folder holding a different file of the
same name (decoy/).

Everything is deterministic: the same run writes the same bytes, except for
the huge sparse files, whose size on disk is a few KB whatever they claim.
"""

import os

import h5py
import numpy as np

N, F = 60, 4
rng = np.random.default_rng(14)
X = rng.standard_normal((N, F)).astype(np.float32)
Y = rng.integers(0, 3, N).astype(np.int32)

# File name -> what the case exercises; every one of these trains.
ACCEPTED = {}


def accepted(name, why):
    ACCEPTED[name] = why
    return name


def write(name, x=X, y=Y, **kw):
    """X and y as datasets of a new file; kw go to create_dataset of X."""
    with h5py.File(name, "w") as f:
        f.create_dataset("X", data=x, **kw)
        if y is not None:
            f.create_dataset("y", data=y)


def layouts():
    write(accepted("contig.h5", "contiguous float32, the direct path"))
    write(accepted("chunked.h5", "chunks of 7 rows"), chunks=(7, F))
    write(accepted("gzip.h5", "gzip chunks"), chunks=(8, 2), compression="gzip")
    write(accepted("shuffle.h5", "shuffle + gzip"), chunks=(8, F), shuffle=True,
          compression="gzip", compression_opts=9)
    write(accepted("fletcher.h5", "Fletcher-32 checksums"), chunks=(8, F), fletcher32=True)
    write(accepted("lzf.h5", "h5py's lzf (Debian's plugin, built for serial HDF5)"),
          chunks=(8, F), compression="lzf")
    with h5py.File(accepted("bigend.h5", "big-endian X and y"), "w") as f:
        f["X"] = X.astype(">f4")
        f["y"] = Y.astype(">i4")
    with h5py.File(accepted("userblock.h5", "a 512-byte user block before the data"), "w",
                   userblock_size=512) as f:
        f["X"] = X
        f["y"] = Y
    with h5py.File(accepted("ycols.h5", "y [N, 1]"), "w") as f:
        f["X"] = X
        f["y"] = Y.reshape(N, 1)


def dtypes():
    """X in every numeric dtype h5py writes, and bool; y in each integer dtype."""
    for dt in ("int8", "uint8", "int16", "uint16", "int32", "uint32", "int64", "uint64",
               "float16", "float32", "float64"):
        if dt.startswith(("int", "uint")):
            info = np.iinfo(dt)
            # The extremes of the type are in, and they round to float32.
            x = rng.integers(max(info.min, -2**40), min(info.max, 2**40), (N, F),
                             dtype=dt, endpoint=True)
            x[0, 0], x[1, 1] = info.min, info.max
        else:
            x = (X * 100).astype(dt)
        write(accepted(f"x-{dt}.h5", f"X {dt}"), x=x)
        # dptrain's own chunk reads: shuffle + gzip, chunks of 7 rows (the
        # last one partly past N), each element size (float16 via HDF5).
        write(accepted(f"x-{dt}-zip.h5", f"X {dt}, shuffle + gzip chunks of 7 rows"), x=x,
              chunks=(7, F), shuffle=True, compression="gzip")
        if dt.startswith(("int", "uint")):
            write(accepted(f"y-{dt}.h5", f"y {dt}"), y=Y.astype(dt))
    write(accepted("x-bool.h5", "X numpy bool (an HDF5 enum on int8)"), x=X > 0)
    write(accepted("x-bool-chunked.h5", "X bool, chunked (HDF5 path)"), x=X > 0,
          chunks=(7, F))
    write(accepted("x-bool-zip.h5", "X bool, gzip chunks"), x=X > 0, chunks=(7, F),
          compression="gzip")
    with h5py.File(accepted("y-zip.h5", "X and y int16 in gzip chunks of 16 rows"), "w") as f:
        f.create_dataset("X", data=X, chunks=(16, F), compression="gzip")
        f.create_dataset("y", data=Y.astype("int16"), chunks=(16,), compression="gzip")
    # Binary labels as numpy bool: the model of the case is a sigmoid.
    write(accepted("y-bool.h5", "y numpy bool, labels 0/1"), y=Y > 0)
    with h5py.File(accepted("y-enum.h5", "y an enum on uint16 with values 0, 1, 2"),
                   "w") as f:
        f["X"] = X
        dt = h5py.enum_dtype({"setosa": 0, "versicolor": 1, "virginica": 2}, basetype="u2")
        f.create_dataset("y", data=Y.astype("u2"), dtype=dt)


def elsewhere():
    """Data in another file: external links, virtual datasets, external raw
    storage, all named relative to the file that names them."""
    os.makedirs("sub", exist_ok=True)
    os.makedirs("decoy", exist_ok=True)
    # The target of the links: a contiguous one (direct reads of the target
    # file) and a chunked one (HDF5). The decoy folder holds files of the
    # same names with other numbers, so that resolving against the working
    # folder instead of the linking file's shows.
    for folder, x, y in (("sub", X, Y), ("decoy", -X, (Y + 1) % 3)):
        with h5py.File(f"{folder}/target.h5", "w") as f:
            f["X"] = x
            f["y"] = y
            f.create_dataset("Xc", data=x, chunks=(7, F), compression="gzip")
        with h5py.File(f"{folder}/vds-a.h5", "w") as f:
            f["X"] = x[:25]
        with h5py.File(f"{folder}/vds-b.h5", "w") as f:
            f["X"] = x[25:]
        x.tofile(f"{folder}/efile-x.raw")
        y.astype("<i4").tofile(f"{folder}/efile-y.raw")
    with h5py.File(accepted("sub/elink.h5", "X, y external links into target.h5"), "w") as f:
        f["X"] = h5py.ExternalLink("target.h5", "/X")
        f["y"] = h5py.ExternalLink("target.h5", "/y")
    with h5py.File(accepted("sub/elink-chunked.h5", "X an external link to a gzip dataset"),
                   "w") as f:
        f["X"] = h5py.ExternalLink("target.h5", "/Xc")
        f["y"] = h5py.ExternalLink("target.h5", "/y")
    with h5py.File("sub/elink-dangling.h5", "w") as f:
        f["X"] = h5py.ExternalLink("missing.h5", "/X")
        f["y"] = Y
    vds("sub/vds.h5", [("vds-a.h5", 0, 25), ("vds-b.h5", 25, N)])
    accepted("sub/vds.h5", "X a virtual dataset over two files")
    vds("sub/vds-missing.h5", [("vds-a.h5", 0, 25), ("vds-gone.h5", 25, N)])
    vds("sub/vds-gap.h5", [("vds-a.h5", 0, 25)])
    with h5py.File(accepted("sub/vds-same.h5", "X a virtual dataset over its own file"),
                   "w") as f:
        f["Xsrc"] = X
        layout = h5py.VirtualLayout(shape=(N, F), dtype="f4")
        layout[:] = h5py.VirtualSource(".", "Xsrc", shape=(N, F))
        f.create_virtual_dataset("X", layout)
        f["y"] = Y
    efile("sub/efile.h5", X.nbytes, Y.nbytes)
    accepted("sub/efile.h5", "X and y in external raw files")
    X[:N // 2].tofile("sub/efile-short.raw")
    efile("sub/efile-short.h5", X.nbytes, Y.nbytes, x_file="efile-short.raw")
    efile("sub/efile-missing.h5", X.nbytes, Y.nbytes, x_file="efile-gone.raw")


def vds(name, parts):
    with h5py.File(name, "w") as f:
        layout = h5py.VirtualLayout(shape=(N, F), dtype="f4")
        for src, lo, hi in parts:
            layout[lo:hi] = h5py.VirtualSource(src, "X", shape=(hi - lo, F))
        f.create_virtual_dataset("X", layout, fillvalue=0)
        f["y"] = Y


def efile(name, x_bytes, y_bytes, x_file="efile-x.raw"):
    """X claims x_bytes of x_file (more than it holds, for the short case)."""
    with h5py.File(name, "w") as f:
        rows = x_bytes // (F * 4)
        f.create_dataset("X", shape=(rows, F), dtype="<f4", external=[(x_file, 0, x_bytes)])
        f.create_dataset("y", shape=(y_bytes // 4,), dtype="<i4",
                         external=[("efile-y.raw", 0, y_bytes)])


def never_written(name, shape, chunks=None, y_rows=None, dtype="f4"):
    """Datasets created and never written: HDF5 allocates no storage."""
    with h5py.File(name, "w") as f:
        f.create_dataset("X", shape=shape, dtype=dtype, chunks=chunks)
        f.create_dataset("y", shape=(y_rows or shape[0],), dtype="i4",
                         chunks=(1024,) if chunks else None)


def sparse(name, shape, dtype):
    """A contiguous dataset whose storage is allocated when it is created and
    never written: the file is as long as the data it claims, all zeros, and
    takes a few KB on disk (a sparse file)."""
    fid = h5py.h5f.create(name.encode(), h5py.h5f.ACC_TRUNC)
    for dname, shp, dt in (("X", shape, dtype), ("y", shape[:1], "i1")):
        dcpl = h5py.h5p.create(h5py.h5p.DATASET_CREATE)
        dcpl.set_alloc_time(h5py.h5d.ALLOC_TIME_EARLY)
        dcpl.set_fill_time(h5py.h5d.FILL_TIME_NEVER)
        space = h5py.h5s.create_simple(shp)
        tid = h5py.h5t.py_create(np.dtype(dt))
        h5py.h5d.create(fid, dname.encode(), tid, space, dcpl=dcpl).close()
    fid.close()


def refused_files():
    with h5py.File("empty.h5", "w") as f:
        f["X"] = np.zeros((0, F), np.float32)
        f["y"] = np.zeros(0, np.int32)
    with h5py.File("scalar.h5", "w") as f:
        f["X"] = np.float32(1.5)
        f["y"] = Y
    with h5py.File("null.h5", "w") as f:
        f.create_dataset("X", data=h5py.Empty("f4"))
        f["y"] = Y
    never_written("unwritten.h5", (N, F))
    never_written("huge-rows.h5", (2**33, F), chunks=(4096, F))
    never_written("huge-square.h5", (65536, 65536), chunks=(256, 256), y_rows=65536)
    with h5py.File("part-written.h5", "w") as f:
        d = f.create_dataset("X", shape=(N, F), dtype="f4", chunks=(8, F))
        d[:16] = X[:16]
        f["y"] = Y
    # 2^24 rows of 2^16 uint8 features: 1 TB claimed, 4 TB as floats.
    sparse("huge-sparse.h5", (2**24, 2**16), "u1")
    # Two rows of 2^38 features: a row as floats is 1 TB.
    sparse("huge-row.h5", (2, 2**38), "u1")
    with h5py.File("strings.h5", "w") as f:
        f["X"] = np.array([[b"ab"] * F] * N)
        f["y"] = Y
    with h5py.File("vlen-strings.h5", "w") as f:
        f.create_dataset("X", data=[["a"] * F] * N, dtype=h5py.string_dtype())
        f["y"] = Y
    with h5py.File("compound.h5", "w") as f:
        f["X"] = np.zeros((N, F), dtype=[("a", "f4"), ("b", "i4")])
        f["y"] = Y
    with h5py.File("opaque.h5", "w") as f:
        f["X"] = np.zeros((N, F), dtype="V4")
        f["y"] = Y
    with h5py.File("enum-float-labels.h5", "w") as f:
        f["X"] = X
        dt = h5py.enum_dtype({"a": 0, "b": 7}, basetype="i1")
        f.create_dataset("y", data=np.where(Y > 0, 7, 0).astype("i1"), dtype=dt)
    for what, v in (("nan", np.nan), ("inf", np.inf)):
        x = X.copy()
        x[17, 2] = v
        write(f"{what}.h5", x=x)
        write(f"{what}-chunked.h5", x=x, chunks=(7, F), compression="gzip")
    write("mismatch.h5", y=Y[:-1])
    with h5py.File("group.h5", "w") as f:
        f.create_group("X")
        f["y"] = Y


def main():
    layouts()
    dtypes()
    elsewhere()
    refused_files()
    with open("accepted.txt", "w") as out:
        for name, why in ACCEPTED.items():
            out.write(f"{name}\t{why}\n")


if __name__ == "__main__":
    main()
