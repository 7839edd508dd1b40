#!/bin/sh
# dptrain export writes ONNX that ONNX's own checker accepts, with the
# model file's numbers where they belong:
#   1. every model of tests/export_models.sh (every built-in layer and
#      activation) and a checkpoint export, and python3-onnx's checker
#      (onnx.checker.check_model, full_check=True: types and shapes
#      inferred through the whole graph) accepts each file; opset >= 13,
#      input "x" [N, sample shape], output "pred" [N, outputs], as the
#      model file's input_shape and n_outputs say;
#   2. the input's scale and standardization are the graph's first nodes,
#      with the model file's /standardize numbers (scale, mean and 1 / std
#      as float32), and the targets' standardization is undone at the end
#      with y_std and y_mean;
#   3. a refused export leaves the file at OUT byte for byte as it was,
#      and no temporary file behind.
# That the graphs compute predict's outputs is tests/export_onnx_runtime.sh.
. "${top_srcdir:?run me through make check}/tests/lib.sh"
. "$top_srcdir/tests/export_models.sh"

if [ "${DPT_HAVE_ONNX:-1}" = 0 ]; then
    echo "SKIP: this dptrain was configured without ONNX export (no protoc-c," \
         "libprotobuf-c or onnx.proto)"
    dpt__done=1
    exit 77
fi

export_models
must dptrain train mlp.cfg --out mlp-final.h5 -q --checkpoint ck.h5

# 1. The checker on every file, and the graph's interface.
for m in $export_names ck; do
    check "$m: exported" dptrain export "$m.h5" "$m.onnx"
    check "$m: onnx.checker.check_model(full_check=True) accepts it" \
        "$PYTHON" - "$m.onnx" "$m.h5" <<'PY'
import sys, h5py, onnx
model = onnx.load(sys.argv[1])
onnx.checker.check_model(model, full_check=True)
opset = [o.version for o in model.opset_import if o.domain in ("", "ai.onnx")]
assert opset and opset[0] >= 13, f"opset {opset}"
with h5py.File(sys.argv[2], "r") as f:
    want_in = [int(d) for d in f.attrs["input_shape"]]
    n_out = int(f.attrs["n_outputs"])
def dims(v):
    return [d.dim_param or d.dim_value for d in v.type.tensor_type.shape.dim]
(x,), (pred,) = model.graph.input, model.graph.output
assert x.name == "x" and dims(x) == ["N"] + want_in, f"input {x.name} {dims(x)}"
assert pred.name == "pred" and dims(pred) == ["N", n_out], f"output {pred.name} {dims(pred)}"
print(f"opset {opset[0]}, x {dims(x)} -> pred {dims(pred)}, {len(model.graph.node)} nodes")
PY
done

# 2. The model file's statistics at the front and the end of the graph.
check "mlp: Cast, Mul by data.scale, Cast, Sub mean, Mul 1/std come first" \
    "$PYTHON" - mlp.onnx mlp.h5 <<'PY'
import sys, h5py, numpy as np, onnx
from onnx import numpy_helper
model = onnx.load(sys.argv[1])
init = {t.name: numpy_helper.to_array(t) for t in model.graph.initializer}
ops = [(n.op_type, list(n.input)) for n in model.graph.node[:5]]
assert [o for o, _ in ops] == ["Cast", "Mul", "Cast", "Sub", "Mul"], ops
assert ops[0][1][0] == "x", ops[0]
with h5py.File(sys.argv[2], "r") as f:
    scale = f["standardize"].attrs["scale"]
    mean, std = f["standardize/mean"][...], f["standardize/std"][...]
assert init[ops[1][1][1]] == scale, (init[ops[1][1][1]], scale)
assert np.array_equal(init[ops[3][1][1]], mean.astype(np.float32))
assert np.array_equal(init[ops[4][1][1]], (1.0 / std).astype(np.float32))
print(f"scale {scale}, {mean.size} means and 1/std as stored")
PY
check "reg: the graph ends with y * y_std + y_mean in double" \
    "$PYTHON" - reg.onnx reg.h5 <<'PY'
import sys, h5py, numpy as np, onnx
from onnx import numpy_helper
model = onnx.load(sys.argv[1])
init = {t.name: numpy_helper.to_array(t) for t in model.graph.initializer}
tail = model.graph.node[-5:]
assert [n.op_type for n in tail] == ["Cast", "Mul", "Add", "Cast", "Identity"], tail
with h5py.File(sys.argv[2], "r") as f:
    y_mean, y_std = f["standardize/y_mean"][...], f["standardize/y_std"][...]
assert np.array_equal(init[tail[1].input[1]], y_std)
assert np.array_equal(init[tail[2].input[1]], y_mean)
print("y_std", y_std, "y_mean", y_mean)
PY

# 3. A refused export (a plugin without a mapping) leaves OUT alone.
cp mlp.onnx keep.onnx
cp mlp.onnx keep.orig
tp=${DPT_TEST_PLUGINS:-$top_builddir/tests/plugins/.libs}
expect_error "has no ONNX mapping" dptrain export mlp.h5 keep.onnx --plugin-path "$tp/dup_relu.so"
check "the refused export left keep.onnx as it was" cmp keep.onnx keep.orig
check "and no temporary file" sh -c '! ls keep.onnx.tmp-* 2>/dev/null'

# 4. Class names: a model trained on labels that `dptrain convert` named
#    carries them into the graph's metadata ("classes", a JSON array,
#    output k's name at k); one without names has no metadata.
printf 'x1,x2,kind\n1,2,"b, the second"\n3,4,a\n5,6,c\n1,3,"b, the second"\n3,5,a\n5,7,c\n' > named.csv
must dptrain convert named.csv named.h5 --label kind
cat > named.cfg <<CFG
data = { train = "named.h5"; };
model = { layers = ( { type = "dense"; units = 3; activation = "softmax"; } );
          loss = "cce"; optimizer = { type = "sgd"; learning_rate = 0.1; }; };
train = { batch = 2; epochs = 1; };
CFG
must dptrain train named.cfg --out named-m.h5
must dptrain export named-m.h5 named.onnx
check "the graph names the classes as the model file does" "$PYTHON" - named.onnx mlp.onnx <<'PY'
import json, sys, onnx
named, plain = (onnx.load(p) for p in sys.argv[1:3])
onnx.checker.check_model(named, full_check=True)
meta = {p.key: p.value for p in named.metadata_props}
assert json.loads(meta["classes"]) == ["a", "b, the second", "c"], meta
assert not plain.metadata_props, plain.metadata_props
print("classes", meta["classes"])
PY

summary
