#!/bin/sh
# dptrain export's graphs compute what dptrain predict computes: each model
# of tests/export_models.sh (every built-in layer and activation, scale and
# standardization of inputs and targets, images and rows) is exported, run
# in ONNX Runtime (the onnxruntime-node package from npm, run by node) on
# its training data, and compared with `dptrain predict` on the same rows:
# the largest absolute difference must be at most 1e-5.
#
# onnxruntime-node is installed once into a cache folder outside the source
# tree, ${XDG_CACHE_HOME:-$HOME/.cache}/dptrain/npm, and reused by later
# runs (DPT_NPM_CACHE names another). Its install script fetches GPU parts
# from a host that cannot be reached here, hence --ignore-scripts: the CPU
# runtime is inside the package. The test is skipped (exit 77, with the
# reason) only when npm cannot reach its registry; an install that works
# followed by a run that fails is a failure.
. "${top_srcdir:?run me through make check}/tests/lib.sh"
. "$top_srcdir/tests/export_models.sh"

if [ "${DPT_HAVE_ONNX:-1}" = 0 ]; then
    echo "SKIP: this dptrain was configured without ONNX export (no protoc-c," \
         "libprotobuf-c or onnx.proto)"
    dpt__done=1
    exit 77
fi
for dpt__p in node npm; do
    command -v "$dpt__p" > /dev/null ||
        { fail "$dpt__p is not installed (apt-get install npm)"; summary; }
done

# 1. onnxruntime-node is there, or npm installs it.
npm_dir=${DPT_NPM_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/dptrain/npm}
mkdir -p "$npm_dir"
if [ ! -f "$npm_dir/node_modules/onnxruntime-node/package.json" ]; then
    if ! (cd "$npm_dir" && npm install --ignore-scripts --no-audit --no-fund \
              onnxruntime-node) > npm.log 2>&1; then
        if grep -q -E 'ENOTFOUND|ECONNREFUSED|ETIMEDOUT|EAI_AGAIN|ENETUNREACH|ECONNRESET|network' npm.log; then
            echo "SKIP: npm cannot reach its registry, so onnxruntime-node cannot be installed:"
            sed 's/^/    /' npm.log | tail -n 5
            dpt__done=1
            exit 77
        fi
        cat npm.log
        fail "npm install onnxruntime-node failed (not for want of a network)"
        summary
    fi
fi
NODE_PATH="$npm_dir/node_modules"
export NODE_PATH
check "onnxruntime-node loads in node" node -e "require('onnxruntime-node')"

export_models

# 2. Each model: predict, export, ONNX Runtime on the same rows, compare.
for m in $export_names; do
    data=$(cat "$m.data")
    must dptrain predict "$m.h5" "$data" --out "$m-pred.h5"
    must dptrain export "$m.h5" "$m.onnx"
    # The rows as the graph takes them: float32, [N, H, W] as [N, H, W, 1].
    shape=$("$PYTHON" - "$m.h5" "$data" "$m-x.f32" <<'PY'
import sys, h5py, numpy as np
with h5py.File(sys.argv[1], "r") as f:
    sample = tuple(int(d) for d in f.attrs["input_shape"])
with h5py.File(sys.argv[2], "r") as f:
    x = f["X"][...].astype(np.float32)
x = x.reshape((x.shape[0],) + sample)
x.astype("<f4").tofile(sys.argv[3])
print(",".join(str(d) for d in x.shape))
PY
)
    check "$m: ONNX Runtime runs the exported graph on x [$shape]" \
        node "$top_srcdir/tests/onnx_run.js" "$m.onnx" "$m-x.f32" "$shape" "$m-ort.f32"
    check "$m: ONNX Runtime's outputs are dptrain predict's within 1e-5" \
        "$PYTHON" - "$m-pred.h5" "$m-ort.f32" <<'PY'
import sys, h5py, numpy as np
with h5py.File(sys.argv[1], "r") as f:
    pred = f["pred"][...]
ort = np.fromfile(sys.argv[2], dtype="<f4")
assert ort.size == pred.size, f"ONNX Runtime gave {ort.size} values, predict {pred.size}"
ort = ort.reshape(pred.shape)
diff = np.abs(ort.astype(np.float64) - pred.astype(np.float64))
print(f"{pred.shape[0]} rows x {pred.shape[1]} outputs, outputs in "
      f"[{pred.min():.4g}, {pred.max():.4g}], max abs difference {diff.max():.3g}")
assert np.isfinite(ort).all(), "ONNX Runtime gave a non-finite output"
assert diff.max() <= 1e-5, f"max abs difference {diff.max()} > 1e-5 at {np.unravel_index(diff.argmax(), diff.shape)}"
PY
done

summary
