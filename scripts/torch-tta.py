#!/usr/bin/python3
"""PyTorch's side of scripts/bench-tta (issue 16, time to accuracy): trains
a model epoch by epoch on an HDF5 image set, evaluates test accuracy after
every epoch and stops at the first epoch that reaches --target (or after
--max-epochs). The whole run, from the interpreter's start to its exit, is
what the benchmark times from outside.

The models and the training step are the PyTorch references' own, imported
from ../shared/bench (or --ref): torch_cnn.build for lenet, torch_mlp's
build_model for the MLP, torch_mlp.train_epoch (a shuffled index per epoch,
mini-batches sliced from tensors in memory) and torch_mlp.evaluate. `linear`
(one dense layer, softmax) is there to show how hard a data set is.

Data: X uint8 [N, 28, 28] (or [N, H, W, C]) and y int [N], read with h5py
and multiplied by --scale (1/255 by default), as dptrain's data.scale.

  /usr/bin/python3 scripts/torch-tta.py --train tr.h5 --test te.h5 --model mlp \
      --hidden 128 --batch 128 --lr 0.001 --target 0.97 --max-epochs 20 --threads 2

Prints one line per epoch ("epoch E: loss=L test_accuracy=A time=S") and
a last line "TTA epochs=E test_accuracy=A reached=0|1 threads=T".
"""
import argparse
import os
import sys
import time

import numpy as np

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")   # as the references
import torch  # noqa: E402
import torch.nn as nn  # noqa: E402


def get_args():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    here = os.path.dirname(os.path.abspath(__file__))
    p.add_argument("--train", required=True)
    p.add_argument("--test", required=True)
    p.add_argument("--model", choices=["mlp", "lenet", "linear"], default="mlp")
    p.add_argument("--hidden", default="128", help="the MLP's hidden layers, e.g. 128 or 256,128")
    p.add_argument("--scale", type=float, default=1 / 255)
    p.add_argument("--lr", type=float, default=0.001)
    p.add_argument("--batch", type=int, default=128)
    p.add_argument("--target", type=float, help="stop at the first epoch whose test accuracy is >= this")
    p.add_argument("--max-epochs", type=int, default=20)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--ref", default=os.environ.get("TORCH_BENCH_DIR", os.path.join(here, "..", "..", "shared", "bench")),
                   help="folder of torch_mlp.py and torch_cnn.py (default $TORCH_BENCH_DIR or ../shared/bench)")
    return p.parse_args()


def load(path, scale, images):
    """X float32 (NCHW images, or flat [N, F]) times scale, y int64 [N]."""
    import h5py
    with h5py.File(path, "r") as f:
        X, y = f["X"][...], f["y"][...]
    X = X.astype(np.float32) * np.float32(scale)
    if X.ndim == 3:
        X = X[..., None]
    X = X.transpose(0, 3, 1, 2) if images else X.reshape(len(X), -1)
    return torch.from_numpy(np.ascontiguousarray(X)), torch.from_numpy(y.astype(np.int64).reshape(-1))


def main():
    a = get_args()
    sys.path.insert(0, os.path.abspath(a.ref))
    import torch_cnn as tc
    import torch_mlp as tm
    tm.set_threads(a.threads)
    torch.manual_seed(a.seed)
    images = a.model == "lenet"
    X, y = load(a.train, a.scale, images)
    Xt, yt = load(a.test, a.scale, images)
    classes = int(max(y.max(), yt.max())) + 1
    if a.model == "lenet":
        _, c, h, w = X.shape
        model = tc.build("lenet", c, h, w, classes)
    else:
        hidden = [int(u) for u in a.hidden.split(",")] if a.model == "mlp" else []
        model = tm.build_model([X.shape[1]] + hidden + [classes], "relu")
    loss_fn = nn.CrossEntropyLoss()
    opt = tm.make_opt("adam", model.parameters(), a.lr)
    print(f"# torch {torch.__version__} threads={torch.get_num_threads()} model={a.model} "
          f"params={sum(p.numel() for p in model.parameters())} N={len(X)} test={len(Xt)}", flush=True)
    g = torch.Generator().manual_seed(a.seed)
    acc, ep, reached = 0.0, 0, False
    for ep in range(1, a.max_epochs + 1):
        t0 = time.perf_counter()
        model.train()
        loss = tm.train_epoch(model, loss_fn, opt, X, y, torch.randperm(len(X), generator=g), a.batch)
        model.eval()
        _, acc = tm.evaluate(model, loss_fn, Xt, yt)
        print(f"epoch {ep}: loss={loss:.6f} test_accuracy={acc:.4f} time={time.perf_counter() - t0:.3f}s", flush=True)
        reached = a.target is not None and acc >= a.target
        if reached:
            break
    print(f"TTA epochs={ep} test_accuracy={acc:.4f} reached={int(reached)} threads={a.threads}", flush=True)


if __name__ == "__main__":
    sys.exit(main())
