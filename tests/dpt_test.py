"""Helpers for dptrain's shell tests: make data files, read model files.

The shell tests (tests/*.sh, tests/mpi/*.sh) call this file through the
`dpt_test` function of tests/lib.sh, so that no test carries its own h5py
code:

  dpt_test data OUT.h5 --rows N --features F [--seed S] [--kind K] ...
      writes a synthetic data set (X, y) and, with more options (dpt_test
      data --help), the broken variants the error tests need (a NaN, a
      missing y, ...);
  dpt_test images OUT.h5 --rows N --shape H,W[,C] [--classes K] [--seed S]
                         [--draw D] [--border V] [--divide D] [--chunk-rows R]
      writes a synthetic set of uint8 images X [N, H, W(, C)] with class
      labels y int32 [N] (make_images()); with --divide, the same images as
      float32 X / D;
  dpt_test digest MODEL.h5...
      prints a hash of each model's layer tensors, so that runs can be
      compared bitwise from the shell;
  dpt_test compare A.h5 B.h5 [--max-abs X] [--max-norm X] [--max-rel X]
                             [--min-max-abs X]
      without bounds: exit 0 when the layer tensors are bitwise equal;
      with bounds: prints how far B's weights are from A's and checks them;
  dpt_test nudge MODEL.h5 TENSOR I,J DELTA
      adds DELTA to one weight in place (to damage a checkpoint);
  dpt_test attr FILE.h5 OBJECT NAME
      prints an attribute of a group or dataset (strings as text);
  dpt_test unattr FILE.h5 OBJECT NAME...
      deletes attributes in place, those present (to make a checkpoint look
      like one from an older build);
  dpt_test pty CMD ARGS...
      runs CMD on a pseudo-terminal (its stdin, stdout and stderr), copies
      what it wrote to stdout and exits with its status: a run "on a
      terminal" in a test.

Tests whose check is their own (a forward pass in numpy, metrics computed by
hand) import this file as a module (lib.sh puts tests/ on PYTHONPATH) and use
read_model(), tensors(), read_data() and read_predictions() instead of
h5py.

Everything here is deterministic: the same arguments write the same bytes.
It needs Python 3 with h5py and numpy: configure finds one and make check
passes it to the tests as $PYTHON (by hand: $PYTHON tests/dpt_test.py --help).
"""

import argparse
import hashlib
import os
import sys
import types

import h5py
import numpy as np


# ---------------------------------------------------------------------------
# Data files

KINDS = ("binary", "classes", "regression", "row-index")


def make_data(rows, features, seed=0, kind="binary", classes=3, informative=None,
              noise=0.0, targets=1):
    """Returns (X, y) as numpy arrays; X is float32 [rows, features].

    X is standard normal, drawn first from numpy's default_rng(seed), so that
    two kinds with the same seed share X. The labels depend on the first
    `informative` columns (all by default), through weights drawn next:
      binary      y = (X w + noise e > 0), float32 [rows, 1] (for bce);
      classes     y = argmax(X W) over `classes` columns, int32 [rows] (cce);
      regression  y = X w + noise e, float32 [rows, targets] (mse; w has
                  a column per target);
      row-index   no random numbers: X[:, 0] is the row's index, X[:, 1] is
                  1, and y is the index modulo 2; a test that sees a row's
                  data knows which row it is (tests/mpi/test_shard.c).
    The noise e is drawn after the weights, and only when noise is not 0.
    """
    if kind == "row-index":
        X = np.zeros((rows, features), np.float32)
        X[:, 0] = np.arange(rows)
        if features > 1:
            X[:, 1] = 1
        return X, (np.arange(rows) % 2).astype(np.float32)[:, None]
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((rows, features)).astype(np.float32)
    m = features if informative is None else informative
    if kind == "classes":
        y = (X[:, :m] @ rng.standard_normal((m, classes))).argmax(1).astype(np.int32)
        return X, y
    # One target draws a vector, not a column: the bytes of the files written
    # before there were more targets stay as they were.
    score = X[:, :m] @ rng.standard_normal(m if targets == 1 else (m, targets))
    if noise:
        score = score + noise * rng.standard_normal(score.shape)
    if kind == "regression":
        return X, score.astype(np.float32).reshape(rows, targets)
    return X, (score > 0).astype(np.float32)[:, None]


def make_images(rows, shape, seed=0, classes=3, border=None, draw=0):
    """Returns (X, y): X uint8 [rows, *shape], y int32 [rows] in 0..classes-1.

    Each class has a prototype image drawn from numpy's default_rng(seed)
    (pixels 0..255); an image is its class's prototype plus noise (sd 40),
    rounded and clipped to 0..255, so that a small network can tell the
    classes apart. The labels, then the noise, come from default_rng([seed,
    draw]): files with the same seed and another draw are new samples of
    the same classes (a training and a test file). With
    border V, the pixels of the outer frame (first and last row and column
    of every image, all channels) are V in every image: pixels of zero
    variance, as scanned digits have.
    """
    protos = np.random.default_rng(seed).integers(0, 256, (classes,) + tuple(shape))
    rng = np.random.default_rng([seed, draw])
    y = rng.integers(0, classes, rows).astype(np.int32)
    X = np.clip(protos[y] + rng.normal(0, 40, (rows,) + tuple(shape)), 0, 255)
    X = np.rint(X).astype(np.uint8)
    if border is not None:
        X[:, 0], X[:, -1], X[:, :, 0], X[:, :, -1] = border, border, border, border
    return X, y


def write_data(path, X, y, chunk_rows=None):
    """Writes X and y (y may be None) as the datasets 'X' and 'y' of a new
    HDF5 file. With chunk_rows, X is stored in gzip-compressed chunks of that
    many rows, so that a reader has to go through HDF5's filters."""
    with h5py.File(path, "w") as f:
        if chunk_rows:
            f.create_dataset("X", data=X, chunks=(chunk_rows,) + X.shape[1:],
                             compression="gzip")
        else:
            f["X"] = X
        if y is not None:
            f["y"] = y


def read_data(path):
    """Returns (X, y, attrs) of a data file; y is None when it has none."""
    with h5py.File(path, "r") as f:
        y = f["y"][...] if "y" in f else None
        return f["X"][...], y, dict(f.attrs)


def read_predictions(path):
    """Returns (pred, label) of a file `dptrain predict` wrote: the model's
    outputs [N, n_outputs] and the predicted labels [N] (None for a
    regression model, whose file has no labels)."""
    with h5py.File(path, "r") as f:
        return f["pred"][...], f["label"][...] if "label" in f else None


def cmd_data(a):
    if a.targets != 1 and a.kind != "regression":
        sys.exit("dpt_test.py data: --targets is for --kind regression")
    X, y = make_data(a.rows, a.features, a.seed, a.kind, a.classes, a.informative, a.noise,
                     a.targets)
    # The damage is done after the labels are drawn, so that a file with a
    # NaN has the same labels as the clean one.
    for row, col, value in a.x_at:
        X[int(row), int(col)] = float(value)
    for row, value in a.y_at:
        y[int(row)] = 1 - y[int(row)] if value == "flip" else float(value)
    if a.x_shape:
        X = X.reshape((X.shape[0],) + tuple(int(d) for d in a.x_shape.split(",")))
    X = X.astype(a.x_dtype)
    y = y.astype(a.y_dtype) if a.y_dtype else y
    if a.y_flat:
        y = y.reshape(-1)
    if a.y_rows is not None:
        y = y[:a.y_rows]
    write_data(a.out, X, None if a.no_y else y, a.chunk_rows)


def cmd_images(a):
    X, y = make_images(a.rows, [int(d) for d in a.shape.split(",")], a.seed, a.classes,
                       a.border, a.draw)
    if a.divide:
        X = X.astype(np.float32) / np.float32(a.divide)
    write_data(a.out, X, y, a.chunk_rows)


# ---------------------------------------------------------------------------
# Model and checkpoint files

def tensors(path):
    """Returns the layer tensors of a model or checkpoint file as a dict
    {"00_dense/weight": array, ...}, in sorted order of layer and tensor name
    (the order digest() and compare use)."""
    with h5py.File(path, "r") as f:
        layers = f["layers"]
        return {f"{g}/{t}": layers[g][t][...]
                for g in sorted(layers) for t in sorted(layers[g])}


def flatten(ts):
    """Returns the tensors of a dict as one float64 vector, in its order."""
    return np.concatenate([t.ravel().astype(np.float64) for t in ts.values()])


def read_model(path):
    """Returns a model file's parts: .attrs (dict), .config (the model
    description as text), .tensors (as tensors() returns them), .mean and
    .std (the standardization, None when the file has none)."""
    with h5py.File(path, "r") as f:
        config = f["config"][()]
        std = f["standardize"] if "standardize" in f else None
        return types.SimpleNamespace(
            attrs=dict(f.attrs),
            config=config.decode() if isinstance(config, bytes) else config,
            tensors=tensors(path),
            mean=std["mean"][...] if std is not None else None,
            std=std["std"][...] if std is not None else None)


def digest(path):
    """Returns 16 hex digits of a SHA-256 over the bytes of every layer
    tensor: equal digests mean bitwise equal weights."""
    h = hashlib.sha256()
    for t in tensors(path).values():
        h.update(t.tobytes())
    return h.hexdigest()[:16]


def cmd_digest(a):
    for path in a.models:
        print(digest(path), path)


def cmd_compare(a):
    ta, tb = tensors(a.a), tensors(a.b)
    shapes_a = [(k, v.shape) for k, v in ta.items()]
    shapes_b = [(k, v.shape) for k, v in tb.items()]
    if shapes_a != shapes_b:
        print(f"{a.a} and {a.b} hold different tensors: {shapes_a} and {shapes_b}")
        return 1
    bounds = (a.max_abs, a.max_norm, a.max_rel, a.min_max_abs)
    if all(x is None for x in bounds):
        differ = [k for k in ta if ta[k].tobytes() != tb[k].tobytes()]
        if differ:
            print(f"{a.b} differs from {a.a} in {', '.join(differ)}")
        return 1 if differ else 0
    wa = flatten(ta)
    d = flatten(tb) - wa
    max_abs, norm = float(np.abs(d).max()), float(np.linalg.norm(d))
    checks = []
    if a.max_abs is not None:
        checks.append((max_abs <= a.max_abs, f"max |b - a| = {max_abs:.3g} <= {a.max_abs:.3g}"))
    if a.max_norm is not None:
        checks.append((norm <= a.max_norm, f"||b - a|| = {norm:.3g} <= {a.max_norm:.3g}"))
    if a.max_rel is not None:
        tol = a.max_rel * float(np.abs(wa).max())
        checks.append((max_abs <= tol,
                       f"max |b - a| = {max_abs:.3g} <= {a.max_rel:g} max |a| = {tol:.3g}"))
    if a.min_max_abs is not None:
        checks.append((max_abs >= a.min_max_abs,
                       f"max |b - a| = {max_abs:.3g} >= {a.min_max_abs:.3g}"))
    print("; ".join(("" if good else "NOT ") + text for good, text in checks))
    return 0 if all(good for good, _ in checks) else 1


def cmd_nudge(a):
    index = tuple(int(i) for i in a.index.split(","))
    with h5py.File(a.model, "r+") as f:
        t = f[a.tensor]
        v = t[...]
        v[index] += a.delta
        t[...] = v


def cmd_attr(a):
    with h5py.File(a.file, "r") as f:
        v = f[a.object].attrs[a.name]
        print(v.decode() if isinstance(v, bytes) else v)


def cmd_unattr(a):
    with h5py.File(a.file, "r+") as f:
        attrs = f[a.object].attrs
        for name in a.names:
            if name in attrs:
                del attrs[name]


def cmd_pty(a):
    import pty
    import subprocess
    m, s = pty.openpty()
    p = subprocess.Popen(a.cmd, stdin=s, stdout=s, stderr=s)
    os.close(s)
    while True:
        try:
            b = os.read(m, 65536)
        except OSError:  # EIO: the terminal's last writer is gone
            break
        if not b:
            break
        sys.stdout.buffer.write(b)
    sys.stdout.flush()
    return p.wait()


# ---------------------------------------------------------------------------
# Command line

def main(argv=None):
    p = argparse.ArgumentParser(prog="dpt_test.py", description=__doc__.split("\n")[0])
    sub = p.add_subparsers(dest="command", required=True)

    d = sub.add_parser("data", help="write a synthetic data file")
    d.add_argument("out", help="the HDF5 file to write")
    d.add_argument("--rows", type=int, required=True, metavar="N")
    d.add_argument("--features", type=int, required=True, metavar="F")
    d.add_argument("--seed", type=int, default=0, help="numpy's default_rng seed (0)")
    d.add_argument("--kind", choices=KINDS, default="binary",
                   help="what y is (binary); see make_data()")
    d.add_argument("--classes", type=int, default=3, metavar="K", help="for --kind classes (3)")
    d.add_argument("--informative", type=int, metavar="M",
                   help="labels depend on the first M columns (all)")
    d.add_argument("--noise", type=float, default=0.0, metavar="SD",
                   help="label noise for binary and regression (0)")
    d.add_argument("--targets", type=int, default=1, metavar="T",
                   help="columns of y for --kind regression (1)")
    d.add_argument("--x-dtype", default="float32", metavar="DTYPE", help="numpy dtype of X")
    d.add_argument("--y-dtype", metavar="DTYPE", help="convert y (default: as the kind makes it)")
    d.add_argument("--y-flat", action="store_true", help="y of shape [N], not [N, 1]")
    d.add_argument("--x-shape", metavar="D1,D2,...",
                   help="X reshaped to [N, D1, D2, ...] (their product must be F)")
    d.add_argument("--y-rows", type=int, metavar="N", help="keep only the first N rows of y")
    d.add_argument("--no-y", action="store_true", help="write no dataset 'y'")
    d.add_argument("--x-at", nargs=3, action="append", default=[],
                   metavar=("ROW", "COL", "VALUE"), help="set X[ROW, COL] (nan, inf allowed)")
    d.add_argument("--y-at", nargs=2, action="append", default=[],
                   metavar=("ROW", "VALUE"),
                   help="set the label of ROW (flip: 0 <-> 1, for binary labels)")
    d.add_argument("--chunk-rows", type=int, metavar="R",
                   help="store X in gzip-compressed chunks of R rows")
    d.set_defaults(run=cmd_data)

    i = sub.add_parser("images", help="write a synthetic set of uint8 images")
    i.add_argument("out", help="the HDF5 file to write")
    i.add_argument("--rows", type=int, required=True, metavar="N")
    i.add_argument("--shape", required=True, metavar="H,W[,C]", help="one image's shape")
    i.add_argument("--classes", type=int, default=3, metavar="K", help="labels 0..K-1 (3)")
    i.add_argument("--seed", type=int, default=0, help="the classes' prototypes (0)")
    i.add_argument("--draw", type=int, default=0,
                   help="which sample of them: labels and noise (0)")
    i.add_argument("--border", type=int, metavar="V", help="constant frame pixels of value V")
    i.add_argument("--divide", type=float, metavar="D",
                   help="write float32 X / D instead of the uint8 pixels")
    i.add_argument("--chunk-rows", type=int, metavar="R",
                   help="store X in gzip-compressed chunks of R rows")
    i.set_defaults(run=cmd_images)

    g = sub.add_parser("digest", help="print a hash of each model's weights")
    g.add_argument("models", nargs="+")
    g.set_defaults(run=cmd_digest)

    c = sub.add_parser("compare", help="compare the weights of two model files")
    c.add_argument("a")
    c.add_argument("b")
    c.add_argument("--max-abs", type=float, help="max |b - a| must be <= X")
    c.add_argument("--max-norm", type=float, help="||b - a|| must be <= X")
    c.add_argument("--max-rel", type=float, help="max |b - a| must be <= X max |a|")
    c.add_argument("--min-max-abs", type=float, help="max |b - a| must be >= X")
    c.set_defaults(run=cmd_compare)

    n = sub.add_parser("nudge", help="add DELTA to one weight of a file, in place")
    n.add_argument("model")
    n.add_argument("tensor", help="the dataset, e.g. layers/00_dense/weight")
    n.add_argument("index", help="the element, e.g. 3,2")
    n.add_argument("delta", type=float)
    n.set_defaults(run=cmd_nudge)

    r = sub.add_parser("attr", help="print an attribute")
    r.add_argument("file")
    r.add_argument("object", help="a group or dataset, e.g. train")
    r.add_argument("name")
    r.set_defaults(run=cmd_attr)

    u = sub.add_parser("unattr", help="delete attributes in place")
    u.add_argument("file")
    u.add_argument("object", help="a group or dataset, e.g. train")
    u.add_argument("names", nargs="+")
    u.set_defaults(run=cmd_unattr)

    t = sub.add_parser("pty", help="run a command on a pseudo-terminal")
    t.add_argument("cmd", nargs=argparse.REMAINDER)
    t.set_defaults(run=cmd_pty)

    a = p.parse_args(argv)
    return a.run(a) or 0


if __name__ == "__main__":
    sys.exit(main())
