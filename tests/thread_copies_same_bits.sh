#!/bin/sh
# A rank of two threads keeps a copy of the parameters and of the
# optimizer state per thread (of more threads, with DPTRAIN_THREAD_COPIES=1,
# as here for 1 x 3); each thread updates its own from the summed
# gradient (src/train/step.c thread_copies; DESIGN.md "Threads keep
# copies"). That changes no bit of the trained model: the model file is the
# same bytes as with one copy (DPTRAIN_THREAD_COPIES=0) for Adam with L2,
# SGD with momentum, RMSprop, clipping, --deterministic, a convolutional
# model, 1 x 2, 1 x 3 and 2 x 2, and a run stopped and resumed from its
# checkpoint (the copies are taken again from the checkpoint's weights and
# optimizer state), and `plan` counts the copies. (A NaN in the gradient
# still stops training naming its layer at 1 x 2:
# tests/nan_gradient_names_layer.sh.)
. "${top_srcdir:?run me through make check}/tests/lib.sh"

dpt_test data train.h5 --rows 500 --features 12 --classes 3 --seed 4 --noise 0.2
cat > m.cfg <<'CFG'
data = { train = "train.h5"; standardize = true; };
model = {
  layers = ( { type = "dense"; units = 32; activation = "relu"; l2 = 0.001; },
             { type = "dense"; units = 16; activation = "tanh"; },
             { type = "dense"; units = 3; activation = "softmax"; } );
  loss = "cce";
  optimizer = { type = "adam"; learning_rate = 0.01; };
};
train = { batch = 64; epochs = 3; seed = 3; micro_batch = 16; };
CFG

# run NAME COPIES THREADS [ARGS...]: ${np:-1} ranks into NAME.h5
run() {
    name=$1 copies=$2 threads=$3
    shift 3
    mpirun_np "${np:-1}" env DPTRAIN_THREAD_COPIES="$copies" "$DPTRAIN" train m.cfg \
        --threads "$threads" -q --out "$name.h5" "$@"
}
# same WHAT THREADS [ARGS...]: with and without the copies, the same bytes
same() {
    what=$1 threads=$2
    shift 2
    must run one 0 "$threads" "$@"
    must run copies 1 "$threads" "$@"
    check "$what, ${np:-1} x $threads: a copy per thread = one copy" cmp one.h5 copies.h5
}
same "Adam, L2" 2
same "Adam, L2" 3
same "SGD with momentum" 2 --set 'model.optimizer.type="sgd"' \
    --set model.optimizer.learning_rate=0.05 --set model.optimizer.momentum=0.9
same "RMSprop, a micro-shard per thread" 2 --set 'model.optimizer.type="rmsprop"' \
    --set train.micro_batch=32
same "clip_norm (the update after the whole sum)" 2 --set train.clip_norm=0.5
np=2 same "Adam, L2 (the update after the ranks' sum)" 2
np=2 same "clip_norm" 2 --set train.clip_norm=0.5
same "--deterministic" 2 --deterministic
must run det1 1 1 --deterministic
check "--deterministic: 1 x 2 with copies = 1 x 1" cmp det1.h5 copies.h5

# A convolutional model (no layer state: batch_norm's would turn the copies off).
"$PYTHON" "$top_srcdir/scripts/make-synth-images" img.h5 --n 160 --shape 8 8 1 --classes 3 \
    --seed 11 > /dev/null
cat > cnn.cfg <<'CFG'
data = { train = "img.h5"; scale = 0.00392156862745098; };
model = {
  layers = ( { type = "conv2d"; filters = 4; kernel_size = 3; padding = "same"; activation = "relu"; },
             { type = "max_pool2d"; pool_size = 2; },
             { type = "flatten"; },
             { type = "dense"; units = 3; activation = "softmax"; } );
  loss = "cce";
  optimizer = { type = "adam"; learning_rate = 0.01; };
};
train = { batch = 32; epochs = 2; seed = 2; };
CFG
must env DPTRAIN_THREAD_COPIES=0 "$DPTRAIN" train cnn.cfg --threads 2 -q --out cnn_one.h5
must dptrain train cnn.cfg --threads 2 -q --out cnn_copies.h5
check "conv2d, 1 x 2: a copy per thread = one copy" cmp cnn_one.h5 cnn_copies.h5

# Stopped after step 10 with a checkpoint, resumed: the threads take their
# copies from the checkpoint, and the model is the straight run's.
must run straight 1 2
expect_exit 3 "stopped on request after step 2 of epoch 2" \
    run stopped 1 2 --checkpoint ck.h5 --stop-after-steps 10
must dptrain train --resume ck.h5 --threads 2 -q --out resumed.h5
check "1 x 2 stopped at step 10 and resumed = straight (bitwise)" \
    dpt_test compare straight.h5 resumed.h5

# plan: the parameters once per thread with the copies (two threads), once
# without (three, unless DPTRAIN_THREAD_COPIES=1).
# mem THREADS [KIND [CFG]]: plan's bytes of KIND (default parameters) for 1 x THREADS
mem() {
    dptrain plan "${3:-m.cfg}" --threads "$1" --format json > plan.json &&
        "$PYTHON" -c "import json; print(json.load(open('plan.json'))['memory_per_rank']['${2:-parameters}'])"
}
params() { mem "$1"; }
p1=$(params 1) p2=$(params 2) p3=$(params 3)
p3c=$(DPTRAIN_THREAD_COPIES=1 params 3) p2off=$(DPTRAIN_THREAD_COPIES=0 params 2)
check "plan: parameters 1 x 1 $p1, 1 x 2 $p2, 1 x 3 $p3 bytes (1 x 3 forced: $p3c)" \
    [ "$p2" -eq $((2 * p1)) -a "$p3" -eq "$p1" -a "$p3c" -eq $((3 * p1)) ]
check "plan: DPTRAIN_THREAD_COPIES=0 turns them off (1 x 2: $p2off bytes)" [ "$p2off" -eq "$p1" ]
o1=$(mem 1 optimizer) o2=$(mem 2 optimizer)
check "plan: Adam's state once a thread ($o1 -> $o2 bytes)" [ "$o1" -gt 0 -a "$o2" -eq $((2 * o1)) ]
# A layer with state (batch_norm's moving statistics): one copy.
sed 's/{ type = "dense"; units = 16; activation = "tanh"; },/&\n             { type = "batch_norm"; },/' \
    m.cfg > bn.cfg
check "bn.cfg has a batch_norm layer" grep -q batch_norm bn.cfg
b1=$(mem 1 parameters bn.cfg) b2=$(mem 2 parameters bn.cfg)
check "plan: with batch_norm one copy ($b1 and $b2 bytes)" [ "$b2" -eq "$b1" ]
# Above 64 MB a copy (4100 x 4200 weights and SGD: 68.9 MB) the threads share one.
dpt_test data wide.h5 --rows 32 --features 4100 --classes 2 --seed 1
cat > m.cfg <<'CFG'
data = { train = "wide.h5"; };
model = { layers = ( { type = "dense"; units = 4200; activation = "relu"; },
                     { type = "dense"; units = 2; activation = "softmax"; } );
          loss = "cce"; optimizer = { type = "sgd"; learning_rate = 0.01; }; };
train = { batch = 32; epochs = 1; seed = 1; };
CFG
p1=$(params 1) p2=$(params 2)
check "plan: a copy of more than 64 MB ($p1 bytes) is not made (1 x 2: $p2)" [ "$p2" -eq "$p1" ]

summary
