#!/bin/sh
# A plugin that crashes on one rank of two (CRASH_ONLY_RANK=1; see
# tests/plugins/crash.c), in create() or while loading, is an error like
# any other: the crashing rank reports it to the others at the next
# collective, both ranks exit with status 1 within seconds (none waits
# forever), rank 0 prints rank 1's message naming the plugin and file,
# rank 1 prints nothing itself, and no model is written. A crash in
# training on rank 1 prints that rank's line naming the layer and the
# function, and the job ends within seconds.
. "${top_srcdir:?run me through make check}/tests/lib.sh"

tp="$DPT_TEST_PLUGINS"
cat > m.cfg <<CFG
data = { train = "$top_srcdir/data/iris-train.h5"; };
model = { layers = ( { type = "crash_create"; },
                     { type = "dense"; units = 3; activation = "softmax"; } );
          loss = "cce"; optimizer = "sgd"; };
train = { epochs = 1; };
CFG

# Runs dptrain train on 2 ranks with plugin file $1; each rank records its
# stderr and exit status (as in error_on_one_rank.sh).
run2() {
    rm -f err.* rc.* out
    start=$(date +%s)
    CRASH_ONLY_RANK=1 timeout 60 "$MPIRUN" --oversubscribe --allow-run-as-root \
        -x CRASH_ONLY_RANK -np 2 sh -c \
        '"$0" train m.cfg --plugin-path "$1" --out m.h5 2>> "err.$OMPI_COMM_WORLD_RANK"; echo $? > "rc.$OMPI_COMM_WORLD_RANK"' \
        "$DPTRAIN" "$1" > out 2>&1 || true
    took=$(( $(date +%s) - start ))
    cat err.* out
}

for what in create ctor; do
    run2 "$tp/crash_$what.so"
    case $what in
        create) want="rank 1: .*layer 1 (crash_create): plugin 'crash_create' ($tp/crash_create.so) crashed with SIGSEGV in create()" ;;
        ctor) want="rank 1: plugin file $tp/crash_ctor.so crashed with SIGSEGV while loading" ;;
    esac
    for r in 0 1; do
        rc=$(cat rc.$r 2>/dev/null || echo missing)
        check "crash in $what: rank $r exits with status 1 (got $rc)" [ "$rc" = 1 ]
    done
    check "crash in $what: rank 0 prints rank 1's message" grep "$want" err.0
    check "crash in $what: rank 1 prints nothing" [ ! -s err.1 ]
    check "crash in $what: no model written" [ ! -e m.h5 ]
    check "crash in $what: done in $took s <= 20 s" [ "$took" -le 20 ]
done

# A crash in training (in backward(), rank 1 only): rank 1 prints the one
# line naming its rank, the layer, the plugin and the function, and dies of
# the signal; mpirun then ends the job within seconds, no model written.
sed 's/crash_create/crash_train/' m.cfg > t.cfg
rm -f err.* rc.*
start=$(date +%s)
CRASH_FN=backward CRASH_ONLY_RANK=1 timeout 60 "$MPIRUN" --oversubscribe --allow-run-as-root \
    -x CRASH_FN -x CRASH_ONLY_RANK -np 2 sh -c \
    '"$0" train t.cfg --plugin-path "$1" --out t.h5 2>> "err.$OMPI_COMM_WORLD_RANK"; echo $? > "rc.$OMPI_COMM_WORLD_RANK"' \
    "$DPTRAIN" "$tp/crash_train.so" > out 2>&1 && mpirun_rc=0 || mpirun_rc=$?
took=$(( $(date +%s) - start ))
cat err.* out
check "crash in training: mpirun's exit status $mpirun_rc is not 0" [ "$mpirun_rc" != 0 ]
if [ "${DPT_ASAN:-no}" = yes ]; then
    check "crash in training: AddressSanitizer's report from rank 1" grep -q "AddressSanitizer: SEGV" err.1
else
    check "crash in training: rank 1's line names its rank, the layer and backward()" grep -q \
        "^dptrain: error: rank 1: layer 1 (crash_train) crashed with SIGSEGV in its backward() (plugin 'crash_train', $tp/crash_train.so)" err.1
    check "crash in training: rank 1 died of SIGSEGV" [ "$(cat rc.1 2>/dev/null)" = 139 ]
fi
check "crash in training: rank 0 printed no such line" ! grep -q crashed err.0
check "crash in training: no model written" [ ! -e t.h5 ]
check "crash in training: done in $took s <= 20 s" [ "$took" -le 20 ]

summary
