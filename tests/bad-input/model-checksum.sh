# Cases of tests/bad_input_suite.sh: trained-model files changed after they
# were written. Their checksum (src/io/model_file.h) no longer matches, and
# every command that reads the model refuses it naming the file; a model
# file from before checksums is accepted (with a warning).
# tests/model_checksum.sh recomputes the checksum and checks the rest.

small_model cksum.cfg
dptrain train cksum.cfg --out cksum.h5 -q > cksum-train.log 2>&1 || cat cksum-train.log
cp cksum.h5 cksum-1e30.h5
cp cksum.h5 cksum-mean.h5
cp cksum.h5 cksum-old.h5
"$PYTHON" - <<'PY'
import h5py
with h5py.File("cksum-1e30.h5", "r+") as f:
    f["layers/00_dense/weight"][...] = 1e30
with h5py.File("cksum-mean.h5", "r+") as f:
    f["standardize/mean"][0] += 0.5
with h5py.File("cksum-old.h5", "r+") as f:
    del f.attrs["checksum"]
PY

ck_msg="cksum-1e30.h5: checksum mismatch: the weights or state were changed after the file was written"
refused model-checksum-inspect 1 "$ck_msg" dptrain inspect cksum-1e30.h5
refused model-checksum-eval 1 "$ck_msg" dptrain eval cksum-1e30.h5 train.h5
refused model-checksum-predict 1 "$ck_msg" dptrain predict cksum-1e30.h5 train.h5 --out cksum-pred.h5
refused model-checksum-export 1 "$ck_msg" dptrain export cksum-1e30.h5 cksum.onnx
refused model-checksum-init 1 "$ck_msg" dptrain train cksum.cfg --init cksum-1e30.h5 --out cksum-init.h5
refused model-checksum-statistics 1 "cksum-mean.h5: checksum mismatch" dptrain eval cksum-mean.h5 train.h5
accepted model-checksum-none dptrain eval cksum-old.h5 train.h5
