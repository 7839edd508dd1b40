#!/bin/sh
# What README.md and docs/*.md promise is tested (issue 18): docs/DESIGN.md,
# "Where the tests of each guarantee live", names the test of each
# guarantee. This test keeps those pointers from rotting, and checks the
# documented behaviours no other test covered.
. "${top_srcdir:?run me through make check}/tests/lib.sh"

# 1. Every tests/... path named in README.md and docs/*.md exists (a glob
#    matches something), every test script or CUnit source named there is
#    in Makefile.am (so that make check runs it), and every "tests/X.sh,
#    case N" (or "cases N-M, K and L") names a case X.sh has: a comment
#    "# N." or "# N-M." before it, or a check message "N. ...". The files
#    named in src/, examples/, scripts/, man/ and include/ exist, and the
#    module line "util -> ..." is the one tests/modules_form_a_line.sh
#    enforces.
check "the paths, case numbers and module line in README.md and docs/*.md are right" \
    "$PYTHON" - "$top_srcdir" <<'PY'
import glob, os, re, sys
os.chdir(sys.argv[1])
docs = ["README.md"] + sorted(glob.glob("docs/*.md"))
am = open("Makefile.am").read()
bad, refs, cases = [], 0, 0
for doc in docs:
    text = open(doc).read()
    for m in re.finditer(r"tests/[A-Za-z0-9_./*-]*[A-Za-z0-9_*/]", text):
        p = m.group(0)
        refs += 1
        hits = glob.glob(p)
        if not hits:
            bad.append(f"{doc}: {p}: no such file")
        for h in hits:
            if re.fullmatch(r"tests/(mpi/)?[^/]+\.(sh|c)", h) and h not in am:
                bad.append(f"{doc}: {p}: {h} is not in Makefile.am: make check does not run it")
    flat = re.sub(r"\s+", " ", text)
    for m in re.finditer(r"(tests/[\w/.-]+\.sh)`?[,;:]? \(?cases? ((?:\d+(?:-\d+)?(?:, | and |,)?)+)", flat):
        path, want = m.group(1), set()
        for part in re.split(r", | and |,", m.group(2).strip(", ")):
            a, _, b = part.partition("-")
            want.update(range(int(a), int(b or a) + 1))
        if not os.path.exists(path):
            continue
        have = set()
        for h in re.finditer(r"(?:^\s*#\s*|check\s+[\"'])(\d+)(?:-(\d+))?\.", open(path).read(), re.M):
            have.update(range(int(h.group(1)), int(h.group(2) or h.group(1)) + 1))
        for n in sorted(want):
            cases += 1
            if n not in have:
                bad.append(f"{doc}: {path}, case {n}: {path} has no case {n}")
# The files named in src/, examples/, scripts/, man/ and include/ (a glob
# or {a,b} alternatives) exist too,
# and the module line given is the one tests/modules_form_a_line.sh checks.
for doc in docs:
    text = open(doc).read()
    for m in re.finditer(r"(?<![\w/.$-])(?:src|examples|scripts|man|include)/[A-Za-z0-9_./*{},-]*[A-Za-z0-9_*}]", text):
        p = m.group(0)
        alts = re.match(r"(.*)\{([^}]*)\}(.*)", p)
        for q in [alts.group(1) + a + alts.group(3) for a in alts.group(2).split(",")] if alts else [p]:
            refs += 1
            if not glob.glob(q):
                bad.append(f"{doc}: {q}: no such file")
    order = re.search(r'^order="([^"]*)"', open("tests/modules_form_a_line.sh").read(), re.M).group(1)
    for m in re.finditer(r"util(?: ->\s+[a-z]+)+", text):
        if " ".join(m.group(0).replace("->", " ").split()) != order:
            bad.append(f"{doc}: the module line '{m.group(0)}' is not tests/modules_form_a_line.sh's '{order}'")
print("\n".join(bad))
print(f"{refs} paths in {len(docs)} files, {cases} case numbers; {len(bad)} wrong")
sys.exit(1 if bad else 0)
PY

# Data for the runs below: a regression file, rows in a known order.
dpt_test data reg.h5 --rows 40 --features 3 --kind regression --seed 4
cat > lin.cfg <<'CFG'
data = { train = "reg.h5"; shuffle = false; };
model = {
  layers = ( { type = "dense"; units = 1; activation = "linear"; initializer = "zeros"; } );
  loss = "mse";
  optimizer = { type = "sgd"; learning_rate = 0.05; };
};
train = { batch = 10; epochs = 2; seed = 9; };
CFG

# 2. README.md, "Validation, callbacks, schedules": the RESULT line is on
#    standard output also with --quiet, and the epoch lines are not.
dptrain train lin.cfg --quiet --out q.h5 > q.out 2> q.err || true
check "--quiet: one RESULT line on stdout" sh -c 'grep -c "^RESULT samples_per_s=.* params=4 " q.out | grep -qx 1'
check "--quiet: no epoch lines" ! grep -q '^epoch ' q.out q.err

# 3. README.md, "A model file": data.shuffle = false keeps file order: the
#    weights are those of SGD on the file's rows in order, batch by batch
#    (numpy, float64), and not those of another order; shuffle = true
#    trains on another order.
must dptrain train lin.cfg --out ordered.h5 --quiet
must dptrain train lin.cfg --set data.shuffle=true --out shuffled.h5 --quiet
check "shuffle = false: the weights of SGD over the rows in file order" "$PYTHON" - <<'PY'
import numpy as np
from dpt_test import read_data, tensors
X, y, _ = read_data("reg.h5")
X, y = X.astype(np.float64), y.astype(np.float64).reshape(-1, 1)
def sgd(order):
    w, b = np.zeros((1, 3)), np.zeros(1)
    for _ in range(2):
        for s in range(0, 40, 10):
            rows = order[s:s + 10]
            g = 2 * (X[rows] @ w.T + b - y[rows]) / len(rows)   # d mse / d pred
            w -= 0.05 * g.T @ X[rows]
            b -= 0.05 * g.sum(0)
    return np.concatenate([w.ravel(), b])
def got(path):
    t = tensors(path)
    return np.concatenate([t["00_dense/weight"].ravel(), t["00_dense/bias"].ravel()])
want, other = sgd(np.arange(40)), sgd(np.arange(40)[::-1])
print("file order:", want, "\nshuffle = false:", got("ordered.h5"), "\nshuffle = true:", got("shuffled.h5"))
assert np.abs(want - other).max() > 1e-3, "the orders are not told apart"
assert np.allclose(got("ordered.h5"), want, rtol=1e-5, atol=1e-6), "not file order"
assert not np.allclose(got("shuffled.h5"), want, rtol=1e-4, atol=1e-4), "shuffle = true kept file order"
PY

# 4. README.md, "File locking": HDF5_USE_FILE_LOCKING=TRUE makes the lock
#    required (a file another process holds an exclusive lock on is
#    refused, naming it), and FALSE or unset reads it (the retry without
#    locking; tests/data_columns_locks_pandas.sh covers the unset case).
check "HDF5_USE_FILE_LOCKING=TRUE refuses a locked file, FALSE reads it" \
    env -u HDF5_USE_FILE_LOCKING "$PYTHON" - "$DPTRAIN" <<'PY'
import fcntl, os, subprocess, sys
held = open("reg.h5", "rb")
fcntl.flock(held, fcntl.LOCK_EX | fcntl.LOCK_NB)
def run(v):
    env = dict(os.environ, HDF5_USE_FILE_LOCKING=v)
    r = subprocess.run([sys.argv[1], "eval", "ordered.h5", "reg.h5"], env=env,
                       capture_output=True, text=True)
    print(v, r.returncode, r.stderr.strip())
    return r
r = run("TRUE")
assert r.returncode == 1 and r.stderr.startswith("dptrain: error: reg.h5") and "lock" in r.stderr
assert run("FALSE").returncode == 0
PY

# 5. docs/SECURITY.md: write access given to another user by a POSIX ACL
#    shows in the group bits (the ACL mask) and is refused like them. The
#    ACL is set with setxattr (the acl package's setfacl is not needed).
mkdir p
cp "$DPT_TEST_PLUGINS/vscale_1_0.so" p/vscale.so
chmod 644 p/vscale.so
if "$PYTHON" - <<'PY'
import os, struct, sys
# system.posix_acl_access, version 2: (tag, perm, id) entries: the owner rw,
# user nobody (65534) rw, the group r, the mask rw, others r.
U = 0xffffffff
entries = [(0x01, 6, U), (0x02, 6, 65534), (0x04, 4, U), (0x10, 6, U), (0x20, 4, U)]
try:
    os.setxattr("p/vscale.so", "system.posix_acl_access",
                struct.pack("<I", 2) + b"".join(struct.pack("<HHI", *e) for e in entries))
except OSError as e:
    print("no ACLs on this file system:", e)
    sys.exit(1)
PY
then
    expect_error "plugin file p/vscale.so.*writable by its group (mode 0664)" \
        dptrain plugins --plugin-path p/vscale.so
else
    echo "skipped: an ACL granting write (this file system takes none)"
fi

# 6. README.md, "Fail fast, lose nothing": DPTRAIN_READ_TIMEOUT=0 never
#    ends a read: a file libhdf5 loops on is still being read when an
#    outside timeout stops it after 4 s, and good files read as usual
#    (tests/damaged_files_named.sh checks the limit when it is set).
hang="$top_srcdir/tests/fuzz/hdf5-bugs/saved_model/hang-global-heap-vlen-attribute.h5"
if DPTRAIN_READ_TIMEOUT=0 timeout 4 "$DPTRAIN" inspect "$hang" > hang.out 2>&1; then st=0; else st=$?; fi
check "DPTRAIN_READ_TIMEOUT=0: a hanging read is not ended (stopped by timeout(1): 124, got $st)" \
    sh -c "[ $st = 124 ] && ! grep -q 'made no progress' hang.out"
check "DPTRAIN_READ_TIMEOUT=0: a good file reads" env DPTRAIN_READ_TIMEOUT=0 "$DPTRAIN" eval ordered.h5 reg.h5

# 7. README.md, "Checkpoints": without --checkpoint, --resume auto's series
#    is OUT-ckpt.h5: an empty series starts afresh and says so, and a run
#    stopped after 5 of its 8 steps (its checkpoint goes to OUT-ckpt.h5)
#    resumes from there to the weights of an uninterrupted run.
must dptrain train lin.cfg --out straight.h5 --quiet
dptrain train lin.cfg --out r.h5 --resume auto --set train.epochs=0 > afresh.out 2>&1 || true
check "--resume auto, nothing there: 'no checkpoint of r-ckpt.h5 yet: starting afresh'" \
    grep -q "^dptrain: note: --resume auto: no checkpoint of r-ckpt.h5 yet: starting afresh" afresh.out
rm -f r.h5
expect_exit 3 "checkpoint r-ckpt.h5" dptrain train lin.cfg --out r.h5 --stop-after-steps 5
must dptrain train lin.cfg --out r.h5 --resume auto
check "--resume auto resumed from r-ckpt.h5's series" grep -q "resuming from r-ckpt-000000000005.h5" log
check "... to the uninterrupted run's weights" dpt_test compare straight.h5 r.h5 --max-abs 0

# 8. README.md, "Using a trained model elsewhere": export takes a model or
#    a checkpoint; the checkpoint at the end of a run exports the graph
#    and the weights of that run's model file.
must dptrain train lin.cfg --out e.h5 --checkpoint eck.h5 --quiet
must dptrain export e.h5 e.onnx
must dptrain export eck.h5 eck.onnx
check "export of a checkpoint: the model file's nodes and initializers" "$PYTHON" - <<'PY'
import onnx
from onnx import numpy_helper
a, b = onnx.load("e.onnx"), onnx.load("eck.onnx")
assert [n.op_type for n in a.graph.node] == [n.op_type for n in b.graph.node]
ia = {i.name: numpy_helper.to_array(i) for i in a.graph.initializer}
ib = {i.name: numpy_helper.to_array(i) for i in b.graph.initializer}
assert sorted(ia) == sorted(ib) and all((ia[k] == ib[k]).all() for k in ia)
print(len(a.graph.node), "nodes,", len(ia), "initializers alike")
PY

# 9. docs/PLUGINS.md: plugins are opened with RTLD_NOW, so a symbol a
#    plugin needs and does not link fails at load time, naming the file
#    (not at the first call, in the middle of training).
cat > unlinked.c <<'C'
#include <dptrain/plugin.h>
float some_function_nobody_links(float x);
static void fwd(const void *state, const float *x, float *y, size_t rows, size_t cols)
{
    (void)state;
    for (size_t i = 0; i < rows * cols; i++) {
        y[i] = some_function_nobody_links(x[i]);
    }
}
static void bwd(const void *state, const float *x, const float *y, const float *dy,
                float *dx, size_t rows, size_t cols)
{
    (void)state, (void)x, (void)y;
    for (size_t i = 0; i < rows * cols; i++) {
        dx[i] += dy[i];
    }
}
static const struct dpt_activation_plugin unlinked = {
    .base = DPT_PLUGIN_HEADER(DPT_KIND_ACTIVATION, "unlinked", "1.0.0", "calls what it lacks"),
    .forward = fwd,
    .backward = bwd,
};
static const struct dpt_plugin *const all[] = {&unlinked.base, NULL};
DPT_PLUGIN_EXPORT const struct dpt_plugin *const *dpt_plugins(void)
{
    return all;
}
C
must "${PLAIN_CC:-cc}" -fPIC -shared -I"$top_srcdir/include" unlinked.c -o unlinked.so
chmod 644 unlinked.so
expect_error "unlinked.so.*some_function_nobody_links" dptrain plugins --plugin-path unlinked.so

# 10. README.md, "Validation, callbacks, schedules": on a terminal rank 0
#     draws a progress bar (erased by "\r ESC[K" before each epoch line),
#     --no-progress turns it off there; into a pipe there is none.
#     The check shows what the run printed, and its exit status.
bars() {
    if "$@" > bars.out 2>&1; then dpt__rc=0; else dpt__rc=$?; fi
    n=$(grep -c "$(printf '\r\033')\[K" bars.out || true)
}
bars dpt_test pty "$DPTRAIN" train lin.cfg --out bar.h5
check "on a terminal: a bar erased before each epoch line ($n, exit status $dpt__rc)" \
    sh -c 'cat -v bars.out; [ "$1" = 2 ]' - "$n"
bars dpt_test pty "$DPTRAIN" train lin.cfg --out bar.h5 --no-progress
check "on a terminal with --no-progress: none ($n, exit status $dpt__rc)" \
    sh -c 'cat -v bars.out; [ "$1" = 0 ]' - "$n"
bars "$DPTRAIN" train lin.cfg --out bar.h5
check "into a pipe: none ($n, exit status $dpt__rc)" sh -c 'cat -v bars.out; [ "$1" = 0 ]' - "$n"

# 11. docs/PLUGINS.md: train and eval warn about a plugin shadowed by
#     another of its kind and name found earlier on the path (train's
#     warning: tests/plugin_search_path.sh).
mkdir -p shadow && cp "$DPTRAIN_PLUGIN_PATH/activation_relu.so" shadow/ && chmod 644 shadow/*.so
check "eval warns which copy was shadowed" sh -c '"$0" eval ordered.h5 reg.h5 --plugin-path shadow 2>&1 |
    grep -q "^dptrain: warning: activation relu in .*activation_relu.so (shadowed by shadow/activation_relu.so)"' "$DPTRAIN"

# 12. README.md, "A model file": data.cache = "auto" keeps the whole file
#     in memory when its rows take at most 64 MB as floats (X and y), else
#     reads windows; train --verbose says which. 16384 rows of 1023 uint8
#     features and a label are 64 MiB as floats, one row more is over.
"$PYTHON" - <<'PY'
import h5py, numpy as np
for n in (16384, 16385):
    with h5py.File(f"c{n}.h5", "w") as f:
        X = np.zeros((n, 1023), np.uint8)
        X[::7, 3] = 1
        f["X"] = X
        f["y"] = (np.arange(n) % 2).astype(np.float32)
PY
cat > cache.cfg <<'CFG'
data = { train = "c16384.h5"; };
model = { layers = ( { type = "dense"; units = 1; activation = "sigmoid"; } );
          loss = "bce"; optimizer = "sgd"; };
train = { batch = 64; epochs = 0; };
CFG
dptrain train cache.cfg --verbose --out c.h5 > c1.out 2>&1 || true
dptrain train cache.cfg --set data.train=c16385.h5 --verbose --out c.h5 > c2.out 2>&1 || true
check "cache = auto: 64 MB as floats kept in memory" grep -q "^data: 16384 rows x 1023 features kept in memory" c1.out
check "cache = auto: one row more is read in windows" grep -q "^data: 16385 rows x 1023 features read a window" c2.out
rm -f c16384.h5 c16385.h5

# 13. README.md, "Threads" (and docs/HPC.md): --verbose names OpenBLAS's
#     kernels, and notes when OPENBLAS_CORETYPE holds a CPU with AVX-512 to
#     AVX2 kernels; without the variable, or on a CPU without AVX-512,
#     there is no note. Without the variable, a CPU with AVX2 runs AVX2 or
#     AVX-512 kernels (src/util/blas_core.h; tests/test_blas_core.c).
avx512=yes
for f in avx512f avx512bw avx512dq avx512vl; do
    grep -m 1 '^flags' /proc/cpuinfo | grep -qw "$f" || avx512=no
done
OPENBLAS_CORETYPE=Haswell "$DPTRAIN" train lin.cfg --verbose --out v.h5 > haswell.out 2>&1 || true
env -u OPENBLAS_CORETYPE "$DPTRAIN" train lin.cfg --verbose --out v.h5 > own.out 2>&1 || true
check "--verbose: 'blas: ... kernels Haswell (OPENBLAS_CORETYPE=Haswell)'" \
    grep -q '^blas: .*, kernels Haswell (OPENBLAS_CORETYPE=Haswell)$' haswell.out
if [ $avx512 = yes ]; then
    check "AVX-512 here: a note that OPENBLAS_CORETYPE holds it to Haswell kernels" \
        grep -q '^blas: note: this CPU has AVX-512 but OPENBLAS_CORETYPE holds OpenBLAS to Haswell kernels' haswell.out
else
    check "no AVX-512 here: no note" ! grep -q '^blas: note:' haswell.out
fi
check "without OPENBLAS_CORETYPE: no note" ! grep -q '^blas: note:' own.out
# ... and OpenBLAS's fallback for a CPU model it does not know (Prescott,
# SSE3, on a VM that hides the model: this happens on some CI machines) is
# replaced: a CPU with AVX2 and FMA runs AVX2 or AVX-512 kernels, and the
# kernels are named with who chose them.
avx2=yes
for f in avx2 fma; do
    grep -m 1 '^flags' /proc/cpuinfo | grep -qw "$f" || avx2=no
done
if [ $avx2 = yes ]; then
    check "AVX2 here: without OPENBLAS_CORETYPE the kernels use AVX2 or AVX-512" \
        grep -Eq '^blas: .*, kernels (Haswell|Zen|SkylakeX|Cooperlake|SapphireRapids|Excavator)( |$)' own.out
fi
env -u OPENBLAS_CORETYPE "$DPTRAIN" --version > version.out 2>&1 || true
check "dptrain --version names the same kernels as train --verbose" \
    sh -c 'test "$(grep "^blas: " version.out)" = "$(grep "^blas: " own.out)"'
if grep -q '^blas: .*set by dptrain' own.out; then
    check "set by dptrain: the kernels OpenBLAS had chosen are named" \
        grep -Eq '^blas: .*kernels (Haswell|SkylakeX) \(OPENBLAS_CORETYPE=(Haswell|SkylakeX), set by dptrain: OpenBLAS chose [A-Za-z0-9]+ for this CPU' own.out
fi

summary
