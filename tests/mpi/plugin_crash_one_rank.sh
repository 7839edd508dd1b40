#!/bin/sh
# A plugin that crashes on one rank of two (CRASH_ONLY_RANK=1; see
# tests/plugins/crash.c), in create() or while loading, is an error like
# any other: the crashing rank reports it to the others at the next
# collective, both ranks exit with status 1 within seconds (none waits
# forever), rank 0 prints rank 1's message naming the plugin and file,
# rank 1 prints nothing itself, and no model is written.
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

summary
