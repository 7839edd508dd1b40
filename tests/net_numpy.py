"""The numpy reference for one training and one evaluation micro-shard.

Reads what tests/net_dump wrote (inputs, parameters, the gradient buffer
before and after dpt_net_train_micro, the loss sums, hit counts and
predictions), recomputes forward and backward here in float64 from the
documented contracts, and compares:

  - the training loss sum (scale does not enter it) and the evaluation loss;
  - dparams after == dparams before + scale * d(loss sum)/dparams on every
    parameter, and the padding between layer slices untouched, bit for bit
    (gradients are added to the buffer, not written over it);
  - the hit count added to the one passed in, in training and evaluation;
  - the predictions, with the final activation the loss fuses applied.

Usage: python3 net_numpy.py DUMP.  Exits 1 and says what differs when
anything does.

The models are described here, not read from the dump, so that a wrong layout
in the C code cannot slip into the reference: dense layers hold
W (n_out, n_in) row-major then b (n_out), each layer's slice starts on a
16-float boundary (src/model/net.h), and a cce or bce loss receives the
logits in training, the softmax or sigmoid still running for predictions.
"""
import sys

import numpy as np

N_IN = 3
SLICE_ALIGN = 16

# Layers in order: ("dense", units) or an activation name.
MODELS = {
    "cce": ([("dense", 4), "relu", ("dense", 3), "softmax"], "cce"),
    "bce": ([("dense", 4), "tanh", ("dense", 1), "sigmoid"], "bce"),
    "mse": ([("dense", 4), "sigmoid", ("dense", 2)], "mse"),
}
FUSED = {"cce": "softmax", "bce": "sigmoid", "mse": None}

# Float32 results against a float64 reference of the same formulas.
RTOL, ATOL = 1e-5, 1e-6


def read_dump(path):
    arrays = {}
    with open(path) as f:
        for line in f:
            name, rows, cols, *values = line.split()
            if name == "case":
                arrays[name] = values[0]
                continue
            arrays[name] = np.array([float(v) for v in values]).reshape(int(rows), int(cols))
    return arrays


def layer_slices(layers):
    """(offset, W shape) per dense layer and the padded buffer length."""
    slices, width, off = [], N_IN, 0
    for layer in layers:
        if isinstance(layer, tuple):
            units = layer[1]
            slices.append((off, (units, width)))
            off += -(-(units * width + units) // SLICE_ALIGN) * SLICE_ALIGN
            width = units
    return slices, off


def softmax(z):
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def act_forward(name, z):
    return {"relu": lambda: np.maximum(z, 0.0), "tanh": lambda: np.tanh(z),
            "sigmoid": lambda: sigmoid(z), "softmax": lambda: softmax(z)}[name]()


def act_backward(name, z, a, da):
    """dL/dz from dL/da, for a = act(z)."""
    if name == "relu":
        return da * (z > 0)
    if name == "tanh":
        return da * (1.0 - a * a)
    if name == "sigmoid":
        return da * a * (1.0 - a)
    raise ValueError(name)


def loss_and_grad(loss, out, y, scale):
    """Loss sum over rows and scale * its gradient w.r.t. out (logits for cce/bce)."""
    B, n_out = out.shape
    if loss == "cce":
        labels = y[:, 0].astype(int)
        shift = out - out.max(axis=1, keepdims=True)
        lse = np.log(np.exp(shift).sum(axis=1))
        total = np.sum(lse - shift[np.arange(B), labels])
        onehot = np.eye(n_out)[labels]
        return total, scale * (softmax(out) - onehot)
    if loss == "bce":
        # -[t log s + (1 - t) log(1 - s)], s = sigmoid(z), mean over outputs.
        s = sigmoid(out)
        total = np.sum(np.mean(-(y * np.log(s) + (1 - y) * np.log(1 - s)), axis=1))
        return total, scale * (s - y) / n_out
    if loss == "mse":
        diff = out - y
        return np.sum(np.mean(diff * diff, axis=1)), scale * 2.0 * diff / n_out
    raise ValueError(loss)


def hits(loss, out, y):
    if loss == "cce":
        return int(np.sum(np.argmax(out, axis=1) == y[:, 0].astype(int)))
    if loss == "bce":
        return int(np.sum(np.all((out > 0) == (y > 0.5), axis=1)))
    return 0  # mse counts no hits


def run(layers, loss, d):
    """Forward in float64: per layer its input, pre-activation and output."""
    params = d["params"][0]
    slices, _ = layer_slices(layers)
    fused = FUSED[loss]
    train_layers = layers[:-1] if fused else layers
    x, tape, dense_i = d["x"], [], 0
    for layer in train_layers:
        if isinstance(layer, tuple):
            off, (n_out, n_in) = slices[dense_i]
            dense_i += 1
            W = params[off:off + n_out * n_in].reshape(n_out, n_in)
            b = params[off + n_out * n_in:off + n_out * n_in + n_out]
            tape.append(("dense", x, (W, off)))
            x = x @ W.T + b
        else:
            a = act_forward(layer, x)
            tape.append((layer, x, a))
            x = a
    return x, tape


def backward(tape, dout, n_params):
    grad = np.zeros(n_params)
    dy = dout
    for kind, x, extra in reversed(tape):
        if kind == "dense":
            W, off = extra
            n_out, n_in = W.shape
            grad[off:off + n_out * n_in] = (dy.T @ x).ravel()
            grad[off + n_out * n_in:off + n_out * n_in + n_out] = dy.sum(axis=0)
            dy = dy @ W
        else:
            dy = act_backward(kind, x, extra, dy)
    return grad


def main():
    d = read_dump(sys.argv[1])
    case = d["case"]
    layers, loss = MODELS[case]
    fails = []

    def check(what, ok, detail=""):
        print(("ok   " if ok else "FAIL ") + f"{case}: {what}" + (f": {detail}" if detail else ""))
        if not ok:
            fails.append(what)

    def close(what, got, want):
        got, want = np.asarray(got, dtype=np.float64), np.asarray(want, dtype=np.float64)
        ok = got.shape == want.shape and np.allclose(got, want, rtol=RTOL, atol=ATOL)
        err = np.max(np.abs(got - want)) if got.shape == want.shape else "shape"
        check(what, ok, f"max |difference| {err}")

    slices, n_params = layer_slices(layers)
    check("the flat buffer holds the padded slices", d["params"].shape[1] == n_params,
          f"{d['params'].shape[1]} floats, expected {n_params}")
    if fails:
        return 1
    scale, y = d["scale"][0, 0], d["y"]
    out, tape = run(layers, loss, d)
    # A ReLU input at 0 would make the gradient depend on rounding.
    for kind, x, _ in tape:
        if kind == "relu":
            check("no ReLU input near its kink", np.min(np.abs(x)) > 1e-3)

    total, dout = loss_and_grad(loss, out, y, scale)
    close("training loss sum", d["train_loss"][0, 0], total)
    grad = backward(tape, dout, n_params)
    used = np.zeros(n_params, dtype=bool)
    for off, (n_out, n_in) in slices:
        used[off:off + n_out * n_in + n_out] = True
    check("the gradient is not trivially small", np.max(np.abs(grad)) > 1e-2)
    before, after = d["dparams_before"][0], d["dparams_after"][0]
    close("dparams == prefilled + gradient", after[used], before[used] + grad[used])
    check("padding between slices untouched", np.array_equal(after[~used], before[~used]))
    h = hits(loss, out, y)
    check("training hits added to the count passed in",
          d["train_correct"][0, 0] == d["correct_before"][0, 0] + h,
          f"{d['train_correct'][0, 0]:g}, expected {d['correct_before'][0, 0]:g} + {h}")

    close("evaluation loss sum", d["eval_loss"][0, 0], total)
    check("evaluation hits", d["eval_correct"][0, 0] == h, f"{d['eval_correct'][0, 0]:g}, expected {h}")
    pred = act_forward(FUSED[loss], out) if FUSED[loss] else out
    close("predictions (fused activation applied)", d["eval_pred"], pred)
    check("no targets: loss 0", d["eval_loss_no_y"][0, 0] == 0)
    close("no targets: the same predictions", d["eval_pred_no_y"], pred)
    return 1 if fails else 0


if __name__ == "__main__":
    sys.exit(main())
