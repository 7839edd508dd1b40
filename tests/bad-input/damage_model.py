#!/usr/bin/env python3
"""Damaged copies of a trained model and of a checkpoint, for the bad-input
suite (tests/bad-input/model.sh).

    damage_model.py MODEL.h5 CHECKPOINT.h5 OUTDIR

writes OUTDIR/NAME.h5 for each NAME in DAMAGES (model files) and
CKPT_DAMAGES (checkpoints), each one thing wrong with an otherwise whole
file, and prints the names. The files are made with h5py from the good ones
(a copy, then one change), so that what is wrong is exactly what the name
says; the case file says what dptrain must answer for each.
"""
import os
import shutil
import sys

import h5py
import numpy as np


def truncate(path, keep):
    """Keeps the first `keep` bytes (a fraction when below 1)."""
    size = os.path.getsize(path)
    n = int(size * keep) if keep < 1 else int(keep)
    with open(path, "r+b") as f:
        f.truncate(n)


def with_h5(fn):
    def damage(path):
        with h5py.File(path, "r+") as f:
            fn(f)
    return damage


def replace(f, name, data):
    del f[name]
    f[name] = data


def set_config(text):
    def fn(f):
        del f["config"]
        f.create_dataset("config", data=text, dtype=h5py.string_dtype())
    return fn


def first_weight(f):
    """The name of the first layer's first tensor, e.g. layers/00_dense/weight."""
    g = f["layers"][sorted(f["layers"])[0]]
    return g.name + "/" + sorted(g)[-1]


def weight_wrong_shape(f):
    w = f[first_weight(f)]
    shape = (w.shape[0] + 1,) + w.shape[1:]
    replace(f, w.name, np.zeros(shape, np.float32))


def weight_dtype(dtype):
    def fn(f):
        w = f[first_weight(f)]
        replace(f, w.name, np.zeros(w.shape, dtype))
    return fn


def weight_strings(f):
    w = f[first_weight(f)]
    replace(f, w.name, np.array([b"x"] * w.shape[0]))


def weight_nan(f):
    w = f[first_weight(f)]
    a = w[()]
    a.flat[0] = np.nan
    w[...] = a


def weight_nudged(f):
    """One weight changed by a little: a finite value only a checksum catches."""
    w = f[first_weight(f)]
    a = w[()]
    a.flat[0] = np.nextafter(a.flat[0], np.float32(np.inf))
    w[...] = a


def drop(name):
    def fn(f):
        del f[name]
    return fn


def attr(name, value):
    def fn(f):
        f.attrs[name] = value
    return fn


def drop_attr(name):
    def fn(f):
        del f.attrs[name]
    return fn


def mean_wrong_length(f):
    m = f["standardize/mean"][()]
    replace(f, "standardize/mean", np.concatenate([m, m]))


def std_zero(f):
    s = f["standardize/std"][()]
    s[0] = 0.0
    f["standardize/std"][...] = s


def layer_group_renamed(f):
    g = sorted(f["layers"])[0]
    f["layers"].move(g, "07_conv2d")


def config_units(f):
    """The stored model text asks for more units than the tensors have."""
    text = f["config"][()]
    text = text.decode() if isinstance(text, bytes) else text
    set_config(text.replace("units = 8", "units = 9", 1))(f)


# Damages of a trained model file (also applied to the checkpoint where
# they mean the same).
DAMAGES = {
    "truncated_half": lambda p: truncate(p, 0.5),
    "truncated_head": lambda p: truncate(p, 100),
    "empty_file": lambda p: truncate(p, 0),
    "no_config": with_h5(drop("config")),
    "config_syntax": with_h5(set_config("model = { layers = ( { type = \"dense\"; units = 8;\n")),
    "config_empty": with_h5(set_config("")),
    "config_units": with_h5(config_units),
    "no_layers": with_h5(drop("layers")),
    "no_tensor": with_h5(lambda f: drop(first_weight(f))(f)),
    "layer_renamed": with_h5(layer_group_renamed),
    "wrong_shape": with_h5(weight_wrong_shape),
    "dtype_int32": with_h5(weight_dtype(np.int32)),
    "dtype_float64": with_h5(weight_dtype(np.float64)),
    "dtype_string": with_h5(weight_strings),
    "format_version": with_h5(attr("format_version", 99)),
    "format_version_string": with_h5(attr("format_version", "one")),
    "no_format": with_h5(drop_attr("format")),
    "format_other": with_h5(attr("format", "keras")),
    "mean_length": with_h5(mean_wrong_length),
    "std_zero": with_h5(std_zero),
    "n_inputs": with_h5(attr("n_inputs", 7)),
}

# Damages only a checkpoint has to have.
CKPT_DAMAGES = {
    "ckpt_no_optimizer": with_h5(drop("optimizer")),
    "ckpt_optimizer_shape": with_h5(lambda f: replace(f, "optimizer/state",
                                                      np.zeros((2, 3), np.float32))),
    "ckpt_no_train": with_h5(drop("train")),
    "ckpt_checksum": with_h5(weight_nudged),
    "ckpt_weight_nan": with_h5(weight_nan),
    "ckpt_no_checksum": with_h5(drop_attr("checksum")),
    "ckpt_step": with_h5(lambda f: f["train"].attrs.__setitem__("global_step", -5)),
}


def main():
    model, ckpt, out = sys.argv[1:4]
    os.makedirs(out, exist_ok=True)
    for table, src, prefix in ((DAMAGES, model, "model_"), (DAMAGES, ckpt, "ckpt_"),
                               (CKPT_DAMAGES, ckpt, "")):
        for name, damage in table.items():
            path = os.path.join(out, prefix + name + ".h5")
            shutil.copyfile(src, path)
            damage(path)
            print(prefix + name)


if __name__ == "__main__":
    main()
