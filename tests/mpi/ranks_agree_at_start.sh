#!/bin/sh
# Rank agreement at start-up (issue 13): every rank describes the training
# data it opened (shapes, dtypes), the plugin files its network uses (name,
# version, file, content hash) and the model it built; a rank that differs
# from rank 0 is named with the first line that differs, before the first
# step, and every rank exits with status 1 within seconds. Ranks get
# different files as nodes with different builds or node-local data copies
# would: MPMD contexts (`mpirun -np 1 A : -np 1 B`) with their own
# environment (-x) or working folder (-wdir).
. "${top_srcdir:?run me through make check}/tests/lib.sh"

mkdir -p r0/a r1/a own
cat > r0/a/m.cfg <<'CFG'
data = { train = "d.h5"; };
model = { layers = ( { type = "dense"; units = 3; activation = "softmax"; } );
          loss = "cce"; optimizer = "adam"; };
train = { batch = 16; epochs = 2; };
CFG
dpt_test data r0/a/d.h5 --rows 64 --features 4 --kind classes --seed 1 --x-dtype float64
cp r0/a/d.h5 r1/a/d.h5

# Two ranks, one per MPMD context: OPTS0 and OPTS1 are each one's mpirun
# options. Each rank's stderr and exit status are recorded.
two_ranks() {
    start=$(date +%s)
    rm -f err.* rc.*
    # shellcheck disable=SC2086
    timeout 60 "$MPIRUN" --oversubscribe --allow-run-as-root \
        -np 1 $OPTS0 sh -c '"$0" train a/m.cfg -q --out o.h5 2> "'"$tmp"'/err.0"; echo $? > "'"$tmp"'/rc.0"' "$DPTRAIN" : \
        -np 1 $OPTS1 sh -c '"$0" train a/m.cfg -q --out o.h5 2> "'"$tmp"'/err.1"; echo $? > "'"$tmp"'/rc.1"' "$DPTRAIN" \
        > out 2>&1 || true
    took=$(( $(date +%s) - start ))
    cat err.* out
}
both_fail() { [ "$(cat rc.0 rc.1 2>/dev/null | tr '\n' ' ')" = "1 1 " ]; }

# 1. The same files on both ranks: training runs (the checks find nothing).
OPTS0="-wdir $tmp/r0" OPTS1="-wdir $tmp/r0"
two_ranks
check "same files: both ranks exit 0" [ "$(cat rc.0 rc.1 | tr '\n' ' ')" = "0 0 " ]

# 2. Rank 1 finds its own build of the dense plugin first on its search path
#    (the same code with bytes appended: it loads and trains alike, so only
#    the content hash tells): rank 0 names rank 1, both files and hashes.
cp "$DPTRAIN_PLUGIN_PATH/layer_dense.so" own/
printf 'another build' >> own/layer_dense.so
OPTS0="-wdir $tmp/r0" OPTS1="-wdir $tmp/r0 -x DPTRAIN_PLUGIN_PATH=$tmp/own:$DPTRAIN_PLUGIN_PATH"
two_ranks
check "another plugin file: both ranks exit 1" both_fail
check "rank 0 names rank 1, the plugin and both files" \
    grep "rank 1 differs from rank 0 in its plugins: rank 0 has layer 'dense' .* from $DPTRAIN_PLUGIN_PATH/layer_dense.so (xxh3 [0-9a-f]*); rank 1 has layer 'dense' .* from $tmp/own/layer_dense.so (xxh3 [0-9a-f]*)" err.0
check "rank 1 prints nothing itself" [ ! -s err.1 ]
check "within $took s <= 20 s" [ "$took" -le 20 ]

# 3. Rank 1 runs in another folder, whose a/d.h5 (the model file's
#    relative data.train) holds the same values as float32: rank 0 names the
#    dtypes.
dpt_test data r1/a/d.h5 --rows 64 --features 4 --kind classes --seed 1 --x-dtype float32
OPTS0="-wdir $tmp/r0" OPTS1="-wdir $tmp/r1"
two_ranks
check "another dtype: both ranks exit 1" both_fail
check "rank 0 names rank 1 and both dtypes" \
    grep "rank 1 differs from rank 0 in its training data: rank 0 has a/d.h5: X \[64, 4\] float64, y \[64\] int[0-9]*; rank 1 has a/d.h5: X \[64, 4\] float32" err.0

# 4. The same with another feature count: the data line, not a hang or a
#    collective of another size.
dpt_test data r1/a/d.h5 --rows 64 --features 5 --kind classes --seed 1 --x-dtype float64
two_ranks
check "another feature count: both ranks exit 1" both_fail
check "rank 0 names rank 1 and both shapes" \
    grep "rank 1 differs from rank 0 in its training data: rank 0 has a/d.h5: X \[64, 4\] .*; rank 1 has a/d.h5: X \[64, 5\]" err.0
check "within $took s <= 20 s" [ "$took" -le 20 ]

summary
