#!/bin/sh
# Ranks that all run on one node sum their gradients through memory they
# share (dpt_node_sum in src/dist/dist.c, DESIGN.md "Summing on one node"):
# each rank's gradient buffer is a slot of an MPI shared-memory window, each
# rank adds its piece of every slot in rank order and writes the sum into
# every slot. On 2 ranks that is a + b, MPI's sum too, so the model file is
# the same bytes as through MPI's allreduce (DPTRAIN_NODE_SUM=0), with one
# thread or two a rank, Adam + batch_norm + dropout and SGD + clipping. On 4
# ranks the order differs from Open MPI's, so the bits may too: two runs
# give the same bytes, and the model is MPI's to float rounding. `--verbose`
# says which sum runs. Turned off on one rank only, or without MPI's
# shared-memory windows, every rank uses MPI's allreduce. A NaN in the sum
# stops training naming the layer.
. "${top_srcdir:?run me through make check}/tests/lib.sh"

. "$top_srcdir/tests/mpi/sums_fixture.sh"
cnn_case

# run NAME P NODE_SUM THREADS [OPTION...]: trains into NAME.h5, the log in
# NAME.log
run() {
    name=$1 np=$2 sum=$3 th=$4
    shift 4
    DPTRAIN_NODE_SUM=$sum timeout 300 "$MPIRUN" --oversubscribe --allow-run-as-root -np "$np" \
        "$DPTRAIN" train cnn.cfg --threads "$th" --verbose --out "$name.h5" "$@" > "$name.log" 2>&1
}

# 1. 2 ranks: the same bytes either way, one thread or two a rank.
must run node 2 1 1
must run mpi 2 0 1
check "--verbose names the node sum" grep -q "^sums: through memory the 2 ranks share" node.log
check "--verbose names MPI's allreduce when it is off" grep -q "^sums: MPI's allreduce" mpi.log
check "2 x 1: node sum = MPI's allreduce, byte for byte" cmp node.h5 mpi.h5
must run node2 2 1 2
must run mpi2 2 0 2
check "2 x 2: node sum = MPI's allreduce, byte for byte" cmp node2.h5 mpi2.h5
must run nodesgd 2 1 1 --set 'model.optimizer.type="sgd"' --set model.optimizer.momentum=0.9 \
    --set train.clip_norm=0.5
must run mpisgd 2 0 1 --set 'model.optimizer.type="sgd"' --set model.optimizer.momentum=0.9 \
    --set train.clip_norm=0.5
check "SGD with momentum and clip_norm: the same bytes" cmp nodesgd.h5 mpisgd.h5

# DPTRAIN_NODE_SUM=0 on one rank only: the ranks agree on MPI's allreduce
# (no rank waits in a collective the other skipped).
one_off() {
    timeout 120 "$MPIRUN" --oversubscribe --allow-run-as-root \
        -np 1 -x DPTRAIN_NODE_SUM=0 "$DPTRAIN" train cnn.cfg --threads 1 --verbose --out mixed.h5 : \
        -np 1 "$DPTRAIN" train cnn.cfg --threads 1 --verbose --out mixed.h5 > mixed.log 2>&1
}
must one_off
check "turned off on one rank: every rank sums through MPI's allreduce" grep -q "^sums: MPI's allreduce" mixed.log
check "... the same model" cmp mixed.h5 mpi.h5

# Without Open MPI's shared-memory windows (osc/sm excluded) the window
# cannot be made: every rank falls back to MPI's allreduce, the same model.
no_windows() {
    timeout 120 "$MPIRUN" --oversubscribe --allow-run-as-root --mca osc ^sm -np 2 \
        "$DPTRAIN" train cnn.cfg --threads 1 --verbose --out nowin.h5 > nowin.log 2>&1
}
must no_windows
check "no shared-memory windows: MPI's allreduce" grep -q "^sums: MPI's allreduce" nowin.log
check "... the same model" cmp nowin.h5 mpi.h5

# 2. 4 ranks: reproducible, and MPI's model to rounding. With SGD: Adam
#    turns the rounding noise of the conv bias's gradient (zero but for
#    rounding: batch_norm follows it) into steps of the learning rate.
must run node4 4 1 1
must run again4 4 1 1
check "4 ranks: two runs with the node sum give the same bytes" cmp node4.h5 again4.h5
sgd="model.optimizer.type=\"sgd\""
must run node4 4 1 1 --set "$sgd"
must run mpi4 4 0 1 --set "$sgd"
close() {
    "$PYTHON" - "$1" "$2" <<'PY'
import sys, h5py, numpy as np
a, b = h5py.File(sys.argv[1]), h5py.File(sys.argv[2])
names = []
a["layers"].visititems(lambda n, o: names.append(n) if isinstance(o, h5py.Dataset) and o.size
                      else None)
worst = max(float(np.max(np.abs(a["layers"][n][()] - b["layers"][n][()]))) for n in names)
print(f"{len(names)} arrays, largest difference {worst:.2e}")
sys.exit(0 if names and worst < 1e-5 else 1)
PY
}
check "4 ranks: the node sum's model is MPI's to rounding" close node4.h5 mpi4.h5

# 3. A NaN a layer's backward writes reaches the node sum: training stops
#    naming the layer, no model is written.
tp="$DPT_TEST_PLUGINS"
nan_case
nan_run() {
    timeout 120 "$MPIRUN" --oversubscribe --allow-run-as-root -np 2 "$DPTRAIN" train nan.cfg \
        --threads 1 --verbose --plugin-path "$tp/nan_at_step.so" --out nan.h5
}
expect_error "$nan_message" nan_run
check "no model was written" [ ! -e nan.h5 ]

summary
