#!/bin/sh
# A model-file error found on a rank other than 0 quotes the user's file
# and line, as rank 0's would: every rank parses the bytes rank 0 read (and
# applies the --set values itself), not a re-rendered copy whose lines
# differ from the file's (comments, blank lines and layout are gone from a
# rendering). The layer plugin "vscale" is found on rank 0 only, so only
# rank 1 fails, on the line of that layer: line 9 of the file (a rendering
# puts it on line 12, which rank 1 quoted before).
. "${top_srcdir:?run me through make check}/tests/lib.sh"

dpt_test data train.h5 --rows 64 --features 4 --seed 1
cat > m.cfg <<'CFG'
# A model file with comments and blank lines above its settings,
# so that its line numbers are not those of a libconfig rendering.

data = { train = "train.h5"; };

model = {
  layers = (
    { type = "dense"; units = 4; },
    { type = "vscale"; },
    { type = "dense"; units = 1; activation = "sigmoid"; }
  );
  loss = "bce";
  optimizer = "sgd";
};
CFG

# Each rank records its own stderr and exit status; rank 0 alone finds the
# plugin (--plugin-path to the test build of vscale).
timeout 60 "$MPIRUN" --oversubscribe --allow-run-as-root -np 2 sh -c '
    if [ "$OMPI_COMM_WORLD_RANK" = 0 ]; then more="--plugin-path $1"; else more=; fi
    "$0" train m.cfg --set train.epochs=1 $more 2>> "err.$OMPI_COMM_WORLD_RANK"
    echo $? > "rc.$OMPI_COMM_WORLD_RANK"' \
    "$DPTRAIN" "$DPT_TEST_PLUGINS/vscale_1_0.so" > out 2>&1 || true
cat err.* out

# 1. Both ranks exit with status 1, and rank 0 prints rank 1's message.
for r in 0 1; do
    rc=$(cat rc.$r 2>/dev/null || echo missing)
    check "rank $r exits with status 1 (got $rc)" [ "$rc" = 1 ]
done
check "one error line, from rank 1" [ "$(grep -c '^dptrain: error: rank 1: ' err.0)" = 1 ]

# 2. It quotes the file and the line of the layer in the file (9), not
#    that of a rendering (12).
check "rank 1's message names m.cfg:9, layer 2" \
    grep "^dptrain: error: rank 1: m.cfg:9: layer 2: no layer plugin named 'vscale'" err.0

# 3. The same file with the plugin on both ranks trains: the --set value
#    and the file's relative paths reach rank 1 as they reach rank 0.
check "with the plugin on every rank it trains" mpirun_np 2 "$DPTRAIN" train m.cfg \
    --set train.epochs=1 --plugin-path "$DPT_TEST_PLUGINS/vscale_1_0.so" -q --out m.h5
summary
