#!/bin/sh
# Checkpoints and resume (issue 4): an interrupted run resumed from its
# checkpoint, with another number of ranks and threads, ends with bitwise the
# weights of an uninterrupted run (--deterministic); the same holds in the
# default mode with the same ranks and threads; resuming with more epochs
# equals training that many straight; damaged checkpoints, another model
# and --init; retention (keep); a signal sent to mpirun.
set -eu
: "${DPTRAIN:?} ${MPIRUN:?}"
tmp=$(mktemp -d /tmp/dpt-ckpt.XXXXXX)
cd "$tmp"
fails=0
passes=0
ok() { echo "ok: $*"; passes=$((passes + 1)); }
bad() { echo "FAIL: $*"; fails=$((fails + 1)); }
run() { "$MPIRUN" --oversubscribe -np "$@"; }

/usr/bin/python3 - train.h5 <<'PY'
import sys, h5py, numpy as np
rng = np.random.default_rng(3)
n, f = 1009, 8
X = rng.standard_normal((n, f)).astype(np.float32)
y = ((X @ rng.standard_normal(f) + 0.3 * rng.standard_normal(n)) > 0).astype(np.float32)[:, None]
with h5py.File(sys.argv[1], "w") as h:
    h["X"], h["y"] = X, y
PY
cat > m.cfg <<'CFG'
data = { train = "train.h5"; standardize = true; };
model = {
  layers = ( { type = "dense"; units = 16; activation = "relu"; },
             { type = "dense"; units = 1; activation = "sigmoid"; } );
  loss = "bce";
  optimizer = { type = "adam"; learning_rate = 0.01; };
  metrics = [ "accuracy" ];
};
train = { batch = 50; epochs = 6; seed = 5; micro_batch = 10;
          checkpoint = { path = "ck.h5"; every_steps = 5; keep = 2; }; };
CFG
sed 's/units = 16/units = 12/' m.cfg > other.cfg

# same A B: the layer tensors of two model/checkpoint files are bitwise equal.
same() {
    /usr/bin/python3 - "$1" "$2" <<'PY'
import sys, h5py
def tensors(p):
    with h5py.File(p, "r") as f:
        return {f"{g}/{t}": f["layers"][g][t][...].tobytes() for g in f["layers"] for t in f["layers"][g]}
a, b = tensors(sys.argv[1]), tensors(sys.argv[2])
sys.exit(0 if a == b else 1)
PY
}

# 1. Deterministic: straight on 2x1 vs stopped after 40 steps on 2x1 and
#    resumed on 3x2 (a different P and T).
run 2 "$DPTRAIN" train m.cfg --deterministic --out straight.h5 --quiet --checkpoint s.h5 > log 2>&1 || { cat log; exit 1; }
set +e
run 2 "$DPTRAIN" train m.cfg --deterministic --out part.h5 --quiet --stop-after-steps 40 > log 2>&1
st=$?
set -e
[ $st = 3 ] && ok "stop after 40 steps exits 3" || { cat log; bad "stop exit status $st"; }
[ -L ck.h5 ] && ok "ck.h5 is a link to $(readlink ck.h5)" || bad "no checkpoint link"
"$DPTRAIN" inspect ck.h5 | tee log | grep -q "epoch 2, step 19 of the epoch, 40 steps in all; checksum ok" &&
    ok "inspect: $(tail -n 1 log)" || { cat log; bad "inspect after stop"; }
run 3 "$DPTRAIN" train m.cfg --deterministic --threads 2 --resume ck.h5 --out resumed.h5 --quiet > log 2>&1 || { cat log; bad "resume"; }
same straight.h5 resumed.h5 && ok "stopped at 2x1 + resumed at 3x2 == straight (bitwise)" || bad "resumed weights differ"

# 1b. The same with rows read a few steps at a time: the resume lands in the
#     middle of a window.
set +e
run 2 "$DPTRAIN" train m.cfg --deterministic --set data.window_rows=120 --out wpart.h5 --quiet \
    --checkpoint wck.h5 --stop-after-steps 40 > log 2>&1
set -e
run 3 "$DPTRAIN" train m.cfg --deterministic --set data.window_rows=120 --resume wck.h5 \
    --checkpoint wck.h5 --out wresumed.h5 --quiet > log 2>&1 || { cat log; bad "windowed resume"; }
same straight.h5 wresumed.h5 && ok "windows of 120 rows: stopped + resumed at 3x1 == straight" || bad "windowed resume differs"

# 2. Default (fast) mode, same P and T: also bitwise.
run 2 "$DPTRAIN" train m.cfg --out fs.h5 --quiet --checkpoint fck.h5 > log 2>&1 || { cat log; exit 1; }
run 2 "$DPTRAIN" train m.cfg --out fs2.h5 --quiet --checkpoint fck2.h5 > log 2>&1 || { cat log; exit 1; }
same fs.h5 fs2.h5 && ok "fast mode: two runs, same P and T, same weights" || bad "fast mode not repeatable"
set +e
run 2 "$DPTRAIN" train m.cfg --out fp.h5 --quiet --checkpoint fck3.h5 --stop-after-steps 33 > log 2>&1
set -e
run 2 "$DPTRAIN" train m.cfg --out fr.h5 --quiet --checkpoint fck3.h5 --resume fck3.h5 > log 2>&1 || { cat log; bad "fast resume"; }
same fs.h5 fr.h5 && ok "fast mode: stopped + resumed (same P, T) == straight" || bad "fast resume differs"

# 3. Longer training from the end of a shorter one: 3 then 6 epochs == 6 straight.
run 2 "$DPTRAIN" train m.cfg --deterministic --set train.epochs=3 --checkpoint e3.h5 --out e3m.h5 --quiet > log 2>&1 || { cat log; exit 1; }
run 1 "$DPTRAIN" train m.cfg --deterministic --resume e3.h5 --checkpoint e6.h5 --out e6m.h5 --quiet > log 2>&1 || { cat log; bad "extend"; }
same straight.h5 e6m.h5 && ok "3 epochs, then resumed to 6 == 6 straight" || bad "extended run differs"
# --resume alone uses the checkpoint's own model description.
run 1 "$DPTRAIN" train --resume e3.h5 --deterministic --set train.epochs=6 --out alone.h5 --quiet > log 2>&1 || { cat log; bad "resume alone"; }
same straight.h5 alone.h5 && ok "--resume without a model file" || bad "--resume alone differs"

# 4. Damaged checkpoints and a different model are refused with a clear error.
target=$(readlink -f ck.h5)
cp "$target" flipped.h5
/usr/bin/python3 -c "
import h5py
with h5py.File('flipped.h5', 'r+') as f:
    w = f['layers/00_dense/weight']; a = w[...]; a[3, 2] += 1e-3; w[...] = a"
expect_error() {  # expect_error PATTERN ARGS...
    pattern=$1; shift
    set +e
    "$DPTRAIN" "$@" > log 2>&1
    st=$?
    set -e
    if [ $st = 1 ] && grep -q -- "$pattern" log; then ok "$(grep 'error' log | head -n 1)"; else cat log; bad "$*: expected /$pattern/"; fi
}
expect_error "flipped.h5: checksum mismatch" train m.cfg --resume flipped.h5 --out x.h5
head -c 3000 "$target" > truncated.h5
expect_error "truncated.h5: not an HDF5 file (or a truncated one)" train m.cfg --resume truncated.h5 --out x.h5
expect_error "truncated.h5" inspect truncated.h5
expect_error "/layers/00_dense/weight has shape \[16, 8\]; the model needs \[12, 8\]" train other.cfg --resume ck.h5 --out x.h5
expect_error "a trained model, not a checkpoint" train m.cfg --resume straight.h5 --out x.h5

# 5. --init: epochs = 0 writes the initial weights, which are the given ones.
run 1 "$DPTRAIN" train m.cfg --init straight.h5 --set train.epochs=0 --out init0.h5 --quiet > log 2>&1 || { cat log; bad "--init"; }
same straight.h5 init0.h5 && ok "--init starts from the given weights" || bad "--init weights differ"
expect_error "has shape" train other.cfg --init straight.h5 --out x.h5

# 6. keep = 2: at most two numbered checkpoints remain, and the link's target is one.
n=$(ls ck-0*.h5 | wc -l)
[ "$n" -le 2 ] && [ -e "$(readlink -f ck.h5)" ] && ok "keep = 2: $n numbered files" || { ls; bad "keep"; }

# 7. A signal to mpirun: every rank finishes its step, a checkpoint is
#    written, and resuming completes to the same weights. mpirun forwards
#    SIGUSR1 and passes on the ranks' exit status 3. On SIGTERM mpirun
#    forwards SIGTERM too (the ranks write the checkpoint and exit 3) but
#    exits with status 1 itself, and sends SIGKILL after a grace period: the
#    docs tell users to prefer SIGUSR1.
sed 's/epochs = 6;/epochs = 150;/' m.cfg > long.cfg
run 2 "$DPTRAIN" train long.cfg --deterministic --out long-straight.h5 --quiet --checkpoint ls.h5 > log 2>&1 || { cat log; exit 1; }
for sig in USR1 TERM; do
    rm -f sg.h5 sg-0*.h5
    "$MPIRUN" --oversubscribe -np 2 "$DPTRAIN" train long.cfg --deterministic --checkpoint sg.h5 \
        --out sig.h5 > sig.log 2>&1 &
    pid=$!
    sleep 1.5
    kill -s $sig $pid
    set +e
    wait $pid
    st=$?
    set -e
    want=3
    [ $sig = TERM ] && want=1
    if [ $st = $want ] && grep -q "stopped on request" sig.log && [ -L sg.h5 ]; then
        ok "SIG$sig to mpirun: exit $st, $(grep 'stopped on request' sig.log)"
        run 2 "$DPTRAIN" train long.cfg --deterministic --resume sg.h5 --out sig-res.h5 --quiet > log 2>&1 || { cat log; bad "resume after SIG$sig"; }
        same long-straight.h5 sig-res.h5 && ok "SIG$sig: resumed == straight" || bad "SIG$sig: resumed weights differ"
    else
        cat sig.log
        bad "SIG$sig to mpirun: exit status $st"
    fi
done

cd /
rm -rf "$tmp"
echo "$passes passed, $fails failed"
[ $fails = 0 ]
