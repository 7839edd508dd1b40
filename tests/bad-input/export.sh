# Cases of tests/bad_input_suite.sh: `dptrain export MODEL.h5 OUT.onnx`.
# A bad command line exits 2; a model file that is not one, a layer or
# activation without an ONNX mapping (a plugin of another name, an ABI 1.x
# layer, a plugin that shadows a built-in's name from another file) or an
# OUT that cannot be written exits 1, naming the file and the layer with
# its plugin. A refused export leaves the file at OUT as it was
# (tests/export_onnx_checked.sh checks the bytes).
if [ "${DPT_HAVE_ONNX:-1}" = 1 ]; then
tp=${DPT_TEST_PLUGINS:-$top_builddir/tests/plugins/.libs}
small_model ex.cfg
dptrain train ex.cfg --out ex.h5 -q > ex-train.log 2>&1 || cat ex-train.log
accepted export-good dptrain export ex.h5 ex.onnx

refused export-no-arguments 2 'give a model file and the ONNX file' dptrain export
refused export-no-out 2 'give a model file and the ONNX file' dptrain export ex.h5
refused export-third-argument 2 "unexpected argument 'extra'" dptrain export ex.h5 a.onnx extra
refused export-unknown-option 2 "unexpected argument '--opset'" dptrain export ex.h5 a.onnx --opset 11
refused export-over-its-model 2 'ex.h5 is the model file itself' dptrain export ex.h5 ./ex.h5
refused export-missing-model 1 'no-such.h5 .*No such file' dptrain export no-such.h5 a.onnx
refused export-data-file 1 'train.h5: not a dptrain model file' dptrain export train.h5 a.onnx
refused export-config-file 1 'ex.cfg: not an HDF5 file' dptrain export ex.cfg a.onnx
refused export-out-unwritable 1 'OUT.onnx.*/proc/ex.onnx' dptrain export ex.h5 /proc/ex.onnx
refused export-out-is-folder 1 'OUT.onnx' dptrain export ex.h5 .

# A layer plugin the exporter does not know, by name (vscale, a test plugin).
cat > ex-vscale.cfg <<'CFG'
data = { train = "train.h5"; };
model = { layers = ( { type = "vscale"; }, { type = "dense"; units = 1; activation = "sigmoid"; } );
          loss = "bce"; optimizer = "adam"; };
train = { batch = 40; epochs = 1; seed = 1; };
CFG
dptrain train ex-vscale.cfg --out ex-vscale.h5 -q --plugin-path "$tp/vscale_1_0.so" > ex-train.log 2>&1 || cat ex-train.log
refused export-plugin-without-mapping 1 "ex-vscale.h5: layer 1 \(vscale\): layer plugin 'vscale' \(.*vscale_1_0.so\) has no ONNX mapping" \
    dptrain export ex-vscale.h5 vscale.onnx --plugin-path "$tp/vscale_1_0.so"
# An ABI 1.x layer (run as a flat layer; its arithmetic is its own).
sed 's/"vscale"; }/"dense_v1"; units = 4; }/' ex-vscale.cfg > ex-v1.cfg
dptrain train ex-v1.cfg --out ex-v1.h5 -q --plugin-path "$tp/v1_dense.so" > ex-train.log 2>&1 || cat ex-train.log
refused export-abi1-layer 1 "ex-v1.h5: layer 1 \(dense_v1\): layer plugin 'dense_v1' .*v1_dense.so\) has no ONNX mapping" \
    dptrain export ex-v1.h5 v1.onnx --plugin-path "$tp/v1_dense.so"
# A "relu" from another file shadows the built-in: not the built-in's arithmetic.
refused export-shadowed-builtin 1 "ex.h5: layer 1 \(relu\): activation plugin 'relu' \(.*dup_relu.so\) has no ONNX mapping" \
    dptrain export ex.h5 dup.onnx --plugin-path "$tp/dup_relu.so"
fi

# predict --format: the file formats and json/text; anything else is a bad command line.
small_model pf.cfg
dptrain train pf.cfg --out pf.h5 -q > ex-train.log 2>&1 || cat ex-train.log
accepted predict-format-csv dptrain predict pf.h5 train.h5 --out pf.csv --format csv
refused predict-format-unknown 2 "--format must be hdf5, json, csv or npy, got 'xlsx'" \
    dptrain predict pf.h5 train.h5 --out pf.xlsx --format xlsx
refused predict-csv-unwritable 1 '/proc/pf.csv' dptrain predict pf.h5 train.h5 --out /proc/pf.csv --format csv
