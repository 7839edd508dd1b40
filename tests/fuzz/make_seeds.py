#!/usr/bin/env python3
"""Writes the seed corpus of the dataset harness (tests/fuzz/seeds/dataset/).

Each seed is a small HDF5 file (a few KB) with datasets X and y in one of
the layouts and dtypes dptrain meets or must refuse: contiguous (the direct
read path), chunked, compressed, big-endian, compact, the latest file
format, images, every integer and float dtype, NaN, a bool enum, strings,
compound, scalar, empty, mismatched N, a group named X, an external link,
a virtual dataset and external raw storage whose targets are absent, and a
never-written chunked X that claims 2^20 rows. The fuzzer mutates them.

    python3 tests/fuzz/make_seeds.py tests/fuzz/seeds/dataset

scripts/fuzz does not run this: the seeds are kept in git, so that every
run starts from the same corpus; run it again after changing it.
"""
import os
import sys

import h5py
import numpy as np

rng = np.random.default_rng(14)


def table(n, f, dtype="f4"):
    return rng.normal(size=(n, f)).astype(dtype)


def labels(n, k=3, dtype="i8"):
    return rng.integers(0, k, size=n).astype(dtype)


def write(folder, name, fill, libver=None):
    path = os.path.join(folder, name + ".h5")
    with h5py.File(path, "w", libver=libver) as f:
        fill(f)


def compact(f, name, data):
    """A dataset stored in its object header (h5py has no keyword for it)."""
    dcpl = h5py.h5p.create(h5py.h5p.DATASET_CREATE)
    dcpl.set_layout(h5py.h5d.COMPACT)
    space = h5py.h5s.create_simple(data.shape)
    tid = h5py.h5t.py_create(data.dtype)
    ds = h5py.h5d.create(f.id, name.encode(), tid, space, dcpl=dcpl)
    ds.write(h5py.h5s.ALL, h5py.h5s.ALL, data)


def virtual(f):
    layout = h5py.VirtualLayout(shape=(8, 3), dtype="f4")
    layout[:] = h5py.VirtualSource("absent.h5", "X", shape=(8, 3))
    f.create_virtual_dataset("X", layout, fillvalue=0.5)
    f["y"] = labels(8)


SEEDS = {
    "contiguous_f32": lambda f: (f.create_dataset("X", data=table(8, 3)),
                                 f.create_dataset("y", data=labels(8))),
    "contiguous_f64_y2": lambda f: (f.create_dataset("X", data=table(6, 4, "f8")),
                                    f.create_dataset("y", data=table(6, 2))),
    "images_u8": lambda f: (f.create_dataset("X", data=rng.integers(0, 255, (6, 4, 4), "u1")),
                            f.create_dataset("y", data=labels(6, dtype="u1"))),
    "images_i16_c2": lambda f: (f.create_dataset("X", data=rng.integers(-9, 9, (5, 3, 3, 2), "i2")),
                                f.create_dataset("y", data=labels(5, dtype="i4"))),
    "chunked_gzip": lambda f: (f.create_dataset("X", data=table(10, 4), chunks=(3, 4),
                                                compression="gzip"),
                               f.create_dataset("y", data=labels(10), chunks=(4,))),
    "shuffle_fletcher": lambda f: (f.create_dataset("X", data=table(7, 2), chunks=(2, 2),
                                                    shuffle=True, fletcher32=True),
                                   f.create_dataset("y", data=labels(7, dtype="i1"))),
    "big_endian": lambda f: (f.create_dataset("X", data=table(6, 3, ">f4")),
                             f.create_dataset("y", data=labels(6, dtype=">i2"))),
    "int_types": lambda f: (f.create_dataset("X", data=rng.integers(0, 9, (6, 3)).astype("u4")),
                            f.create_dataset("y", data=labels(6, dtype="u8"))),
    "x_i64_y_u16": lambda f: (f.create_dataset("X", data=rng.integers(-5, 5, (6, 2)).astype("i8")),
                              f.create_dataset("y", data=labels(6, dtype="u2"))),
    "nan": lambda f: (f.create_dataset("X", data=np.array([[1, 2], [np.nan, 3]], "f4")),
                      f.create_dataset("y", data=np.array([0, 1], "f4"))),
    "bool_enum": lambda f: (f.create_dataset("X", data=table(4, 2)),
                            f.create_dataset("y", data=np.array([True, False, True, True]))),
    "strings": lambda f: (f.create_dataset("X", data=np.array([[b"ab", b"cd"]] * 3)),
                          f.create_dataset("y", data=labels(3))),
    "compound": lambda f: f.create_dataset("X", data=np.zeros(3, dtype=[("a", "f4"), ("b", "i4")])),
    "scalar": lambda f: f.create_dataset("X", data=np.float32(1.5)),
    "empty": lambda f: (f.create_dataset("X", shape=(0, 3), dtype="f4"),
                        f.create_dataset("y", shape=(0,), dtype="i8")),
    "mismatched_n": lambda f: (f.create_dataset("X", data=table(5, 2)),
                               f.create_dataset("y", data=labels(4))),
    "group_x": lambda f: (f.create_group("X"), f.create_dataset("y", data=labels(3))),
    "no_y": lambda f: f.create_dataset("X", data=table(4, 5)),
    "rank5": lambda f: f.create_dataset("X", data=np.zeros((2, 1, 1, 1, 2), "f4")),
    "huge_claim": lambda f: (f.create_dataset("X", shape=(1 << 20, 4), dtype="f4", chunks=(64, 4)),
                             f.create_dataset("y", shape=(1 << 20,), dtype="i8", chunks=(64,))),
    "external_link": lambda f: (f.__setitem__("X", h5py.ExternalLink("absent.h5", "/X")),
                                f.create_dataset("y", data=labels(4))),
    "virtual": virtual,
    "external_storage": lambda f: (f.create_dataset("X", shape=(4, 2), dtype="f4",
                                                    external=[("absent.bin", 0, 32)]),
                                   f.create_dataset("y", data=labels(4))),
    "compact": lambda f: (compact(f, "X", table(4, 3)), compact(f, "y", labels(4))),
}


def main():
    folder = sys.argv[1]
    os.makedirs(folder, exist_ok=True)
    for name, fill in SEEDS.items():
        write(folder, name, fill)
    write(folder, "latest_format", SEEDS["chunked_gzip"], libver="latest")


if __name__ == "__main__":
    main()
