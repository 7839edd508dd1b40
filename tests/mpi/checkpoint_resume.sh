#!/bin/sh
# Checkpoints and resume: a run stopped at a checkpoint and resumed, with
# another number of ranks and threads, ends with bitwise the weights of an
# uninterrupted run (--deterministic); the same holds in the default mode
# with the same ranks and threads; resuming with more epochs equals training
# that many straight; damaged checkpoints and another model are refused with
# a clear message; --init starts from given weights; old checkpoints are
# removed (keep); a signal sent to mpirun stops the run at a checkpoint.
. "${top_srcdir:?run me through make check}/tests/lib.sh"

dpt_test data train.h5 --rows 1009 --features 8 --seed 3 --noise 0.3
# 1009 rows in batches of 50: 21 steps per epoch, 126 in 6 epochs; a
# checkpoint every 5 steps, of which the last 2 are kept.
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

# 1. Deterministic: straight on 2 ranks x 1 thread, versus stopped after 40
#    steps (step 19 of epoch 2) on 2x1 and resumed on 3x2 (a different P
#    and T). --stop-after-steps stops as a signal would: a checkpoint, then
#    exit status 3; ck.h5 links to the newest numbered checkpoint.
must mpirun_np 2 "$DPTRAIN" train m.cfg --deterministic --out straight.h5 --quiet --checkpoint s.h5
expect_exit 3 "stopped on request after step 19 of epoch 2" \
    mpirun_np 2 "$DPTRAIN" train m.cfg --deterministic --out part.h5 --quiet --stop-after-steps 40
check "ck.h5 is a link to $(readlink ck.h5)" [ -L ck.h5 ]
dptrain inspect ck.h5 > inspect.txt 2>&1 || true
check "inspect: the checkpoint's place and checksum" \
    grep "epoch 2, step 19 of the epoch, 40 steps in all; checksum ok" inspect.txt
check "resumed on 3 ranks x 2 threads" \
    mpirun_np 3 "$DPTRAIN" train m.cfg --deterministic --threads 2 --resume ck.h5 --out resumed.h5 --quiet
check "stopped at 2x1 + resumed at 3x2 == straight (bitwise)" dpt_test compare straight.h5 resumed.h5

# 1b. The same with rows read a few steps at a time: the resume lands in the
#     middle of a window.
expect_exit 3 "stopped on request" \
    mpirun_np 2 "$DPTRAIN" train m.cfg --deterministic --set data.window_rows=120 --out wpart.h5 --quiet \
    --checkpoint wck.h5 --stop-after-steps 40
check "windowed: resumed on 3 ranks" \
    mpirun_np 3 "$DPTRAIN" train m.cfg --deterministic --set data.window_rows=120 --resume wck.h5 \
    --checkpoint wck.h5 --out wresumed.h5 --quiet
check "windows of 120 rows: stopped + resumed at 3x1 == straight" dpt_test compare straight.h5 wresumed.h5

# 2. Default (fast) mode with the same P and T: two runs give the same
#    weights, and so does a run stopped after 33 steps and resumed.
must mpirun_np 2 "$DPTRAIN" train m.cfg --out fs.h5 --quiet --checkpoint fck.h5
must mpirun_np 2 "$DPTRAIN" train m.cfg --out fs2.h5 --quiet --checkpoint fck2.h5
check "fast mode: two runs, same P and T, same weights" dpt_test compare fs.h5 fs2.h5
expect_exit 3 "stopped on request" \
    mpirun_np 2 "$DPTRAIN" train m.cfg --out fp.h5 --quiet --checkpoint fck3.h5 --stop-after-steps 33
check "fast mode: resumed" \
    mpirun_np 2 "$DPTRAIN" train m.cfg --out fr.h5 --quiet --checkpoint fck3.h5 --resume fck3.h5
check "fast mode: stopped + resumed (same P, T) == straight" dpt_test compare fs.h5 fr.h5

# 3. Longer training from the end of a shorter one: 3 epochs on 2 ranks,
#    then resumed to 6 on 1 rank, equals 6 straight; so does --resume with
#    no model file (the checkpoint holds the model description).
must mpirun_np 2 "$DPTRAIN" train m.cfg --deterministic --set train.epochs=3 --checkpoint e3.h5 --out e3m.h5 --quiet
check "resumed from 3 epochs to 6" \
    mpirun_np 1 "$DPTRAIN" train m.cfg --deterministic --resume e3.h5 --checkpoint e6.h5 --out e6m.h5 --quiet
check "3 epochs, then resumed to 6 == 6 straight" dpt_test compare straight.h5 e6m.h5
check "--resume without a model file" \
    mpirun_np 1 "$DPTRAIN" train --resume e3.h5 --deterministic --set train.epochs=6 --out alone.h5 --quiet
check "--resume alone == 6 straight" dpt_test compare straight.h5 alone.h5

# 4. A damaged checkpoint, a truncated one, one of another model and a
#    trained model given as a checkpoint are refused, each with a message
#    that names the file and the problem.
target=$(readlink -f ck.h5)
cp "$target" flipped.h5
dpt_test nudge flipped.h5 layers/00_dense/weight 3,2 1e-3
head -c 3000 "$target" > truncated.h5
expect_error "flipped.h5: checksum mismatch" dptrain train m.cfg --resume flipped.h5 --out x.h5
expect_error "truncated.h5: not an HDF5 file (or a truncated one)" dptrain train m.cfg --resume truncated.h5 --out x.h5
expect_error "truncated.h5" dptrain inspect truncated.h5
expect_error "/layers/00_dense/weight has shape \[16, 8\]; the model needs \[12, 8\]" \
    dptrain train other.cfg --resume ck.h5 --out x.h5
expect_error "a trained model, not a checkpoint" dptrain train m.cfg --resume straight.h5 --out x.h5

# 5. --init: with epochs = 0 the written weights are the initial ones, which
#    are the given file's; a file of another shape is refused. (m.cfg's
#    checkpoint series ck.h5 is an earlier run's: its own runs start
#    afresh with another --checkpoint path.)
check "--init with 0 epochs" \
    mpirun_np 1 "$DPTRAIN" train m.cfg --init straight.h5 --set train.epochs=0 --out init0.h5 \
    --checkpoint i0.h5 --quiet
check "--init starts from the given weights" dpt_test compare straight.h5 init0.h5
expect_error "has shape" dptrain train other.cfg --init straight.h5 --out x.h5 --checkpoint xc.h5

# 6. keep = 2: at most two numbered checkpoints remain, and the link's
#    target is one of them.
n=$(ls ck-0*.h5 | wc -l)
check "keep = 2: $n numbered files" [ "$n" -le 2 ]
check "ck.h5 points to an existing file" [ -e "$(readlink -f ck.h5)" ]

# 7. A signal to mpirun: every rank finishes its step, a checkpoint is
#    written, and resuming completes to the weights of a run never stopped.
#    mpirun forwards SIGUSR1 and passes on the ranks' exit status 3. On
#    SIGTERM mpirun forwards SIGTERM too (the ranks write the checkpoint
#    and exit 3) but exits with status 1 itself, and sends SIGKILL after a
#    grace period: the docs tell users to prefer SIGUSR1.
# The signalled run is long (150 epochs) for its checkpoints every 5 steps
# (630 files); the straight run and the resumed ones write one every 1000
# steps: the same weights (--deterministic), and under AddressSanitizer,
# whose allocator maps HDF5's buffers afresh for every file, 2 s a run
# instead of 30.
sed 's/epochs = 6;/epochs = 150;/' m.cfg > long.cfg
few="--set train.checkpoint.every_steps=1000"
must mpirun_np 2 "$DPTRAIN" train long.cfg --deterministic $few --out long-straight.h5 --quiet \
    --checkpoint ls.h5
for sig in USR1 TERM; do
    # sig.log goes too: the shell truncates it in the child it forks, and
    # the wait below could otherwise read the previous run's lines.
    rm -f sg.h5 sg-0*.h5 sig.log
    # mpirun itself must get the signal, so it is started directly (a
    # function run in the background is a subshell of its own).
    "$MPIRUN" --oversubscribe --allow-run-as-root -np 2 "$DPTRAIN" train long.cfg --deterministic \
        --checkpoint sg.h5 --out sig.h5 > sig.log 2>&1 &
    pid=$!
    # Signalled once the first epoch is done and the first checkpoint
    # written (the ranks' handlers are in place by then): a fixed sleep
    # came before the ranks had started on a busy machine, and mpirun died
    # of the signal itself.
    i=0
    until { [ -L sg.h5 ] && grep -q '^epoch' sig.log 2>/dev/null; } || [ $i -ge 1200 ]; do
        sleep 0.1
        i=$((i + 1))
    done
    kill -s $sig $pid
    if wait $pid; then st=0; else st=$?; fi
    want=3
    [ $sig = TERM ] && want=1
    check "SIG$sig to mpirun: exit status $st is $want" [ $st = $want ]
    check "SIG$sig: the ranks say they stopped" grep "stopped on request" sig.log
    check "SIG$sig: sg.h5 links to a checkpoint" [ -L sg.h5 ]
    check "SIG$sig: resumed" \
        mpirun_np 2 "$DPTRAIN" train long.cfg --deterministic $few --resume sg.h5 --out sig-res.h5 \
        --quiet
    check "SIG$sig: resumed == straight" dpt_test compare long-straight.h5 sig-res.h5
done

summary
