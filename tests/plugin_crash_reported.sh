#!/bin/sh
# A plugin that crashes (SIGSEGV) while loading (a constructor dlopen runs,
# or its dpt_plugins()) or in create() is reported by dptrain naming the
# plugin and its file, and dptrain exits with status 1 rather than dying of
# the signal: at training, at evaluation (the model is built on load), in
# `dptrain plugins`, and in check-plugin (a FAIL naming create()). A crash
# in training (forward, backward) prints one line naming the layer, the
# plugin, its file and the function before the process dies of it. The
# plugins are tests/plugins/crash.c, built four times; the guard is
# src/plugin/guard.c, the line in training src/cli/main.c (dpt__running). tests/mpi/plugin_crash_one_rank.sh does this on one
# rank of two.
. "${top_srcdir:?run me through make check}/tests/lib.sh"

tp="$DPT_TEST_PLUGINS"
here=$(pwd -P)
cat > m.cfg <<CFG
data = { train = "$top_srcdir/data/iris-train.h5"; };
model = { layers = ( { type = "crash_create"; },
                     { type = "dense"; units = 3; activation = "softmax"; } );
          loss = "cce"; optimizer = "sgd"; };
train = { epochs = 1; };
CFG

# 1. create() crashes: the model file's line, the layer, the plugin, its
#    file and the function; no model is written.
expect_error "m.cfg:2: layer 1 (crash_create): plugin 'crash_create' ($tp/crash_create.so) crashed with SIGSEGV in create()" \
    dptrain train m.cfg --plugin-path "$tp/crash_create.so" --out m.h5
check "no model written" [ ! -e m.h5 ]

# 2. Loading crashes: in a constructor (dlopen runs it) and in
#    dpt_plugins(), from --plugin-path and from DPTRAIN_PLUGIN_PATH.
expect_error "plugin file $tp/crash_ctor.so crashed with SIGSEGV while loading (dlopen" \
    dptrain train m.cfg --plugin-path "$tp/crash_ctor.so" --out m.h5
expect_error "plugin file $tp/crash_list.so crashed with SIGSEGV in dpt_plugins()" \
    env DPTRAIN_PLUGIN_PATH="$tp/crash_list.so:$DPTRAIN_PLUGIN_PATH" "$DPTRAIN" plugins

# 3. A crashing file in a scanned folder is an error too, not a rejected
#    file to pass over: the process must not go on after a crash. A
#    relative path is shown as resolved.
mkdir scan
ln -s "$tp/crash_list.so" scan/crash_list.so
expect_error "plugin file scan/crash_list.so (resolved as $here/scan/crash_list.so) crashed with SIGSEGV in dpt_plugins()" \
    dptrain plugins --plugin-path scan

# 4. Evaluation builds the model's layers: a model trained while the layer
#    did not crash (CRASH_ONLY_RANK names a rank this serial run is not)
#    crashes in create() when loaded.
must env CRASH_ONLY_RANK=7 "$DPTRAIN" train m.cfg --plugin-path "$tp/crash_create.so" \
    --out ok.h5 --quiet
expect_error "plugin 'crash_create' ($tp/crash_create.so) crashed with SIGSEGV in create()" \
    dptrain eval ok.h5 "$top_srcdir/data/iris-test.h5" --plugin-path "$tp/crash_create.so"

# 5. check-plugin: a crash in create() is a FAIL naming the function, and
#    nothing more of the file runs; a crash while loading is an error.
#    Both exit with status 1.
expect_exit 1 "FAIL layer crash_create: create() does not crash: create() crashed with SIGSEGV for input \[7\]" \
    dptrain check-plugin "$tp/crash_create.so"
expect_exit 1 "plugin file $tp/crash_ctor.so crashed with SIGSEGV while loading" \
    dptrain check-plugin "$tp/crash_ctor.so"

# 6. check-plugin: a crash in a function called during the checks (here
#    backward, through the NULL workspace that workspace_bytes declared for
#    B = 1) is a FAIL naming the function, the check and the case, with
#    status 1; the lines of the checks made before it are printed, also
#    into a pipe or file (each is flushed).
expect_exit 1 "^FAIL layer broken_leaky_ws_none: backward() does not crash: backward() crashed with SIGSEGV in the gradient checks (finite differences), input \[7\], B = 1, given no workspace" \
    dptrain check-plugin "$tp/broken_leaky_ws_none.so"
dptrain check-plugin "$tp/broken_leaky_ws_none.so" > crash.out || true
check "the lines before the crash are printed" \
    grep -q '^PASS layer broken_leaky_ws_none: parameter tensors$' crash.out
check "  and the count" grep -q '^check-plugin: [0-9]* checks, 1 failed$' crash.out
dptrain check-plugin "$tp/broken_leaky_ws_none.so" --format json > crash.json || true
check "  and in --format json" "$PYTHON" - <<'PY'
import json
doc = json.load(open("crash.json"))
bad = [c for c in doc["checks"] if not c["passed"]]
assert len(bad) == 1 and bad[0]["check"] == "backward() does not crash", bad
PY

# 7. A crash in training, in forward() or backward() (CRASH_FN): one line
#    names the layer, the plugin, its file, the function and how to check
#    the plugin; the process then dies of the signal as it would without
#    dptrain's line (a core file, Open MPI's report). Under AddressSanitizer
#    (DPT_ASAN=yes) its own report is what is printed.
sed 's/crash_create/crash_train/' m.cfg > t.cfg
for fn in forward backward; do
    if CRASH_FN=$fn "$DPTRAIN" train t.cfg --plugin-path "$tp/crash_train.so" --out t.h5 \
        > t.out 2> t.err; then rc=0; else rc=$?; fi
    if [ "${DPT_ASAN:-no}" = yes ]; then
        check "crash in $fn: AddressSanitizer's report" grep -q "AddressSanitizer: SEGV" t.err
        check "crash in $fn: exit status $rc is not 0" [ "$rc" != 0 ]
    else
        check "crash in $fn: the line naming the layer, plugin, file and function" grep -q -x -F \
            "dptrain: error: layer 1 (crash_train) crashed with SIGSEGV in its $fn() (plugin 'crash_train', $tp/crash_train.so); \`dptrain check-plugin $tp/crash_train.so\` checks the plugin's functions" t.err
        check "crash in $fn: died of SIGSEGV (status $rc)" [ "$rc" = 139 ]
    fi
    check "crash in $fn: no model written" [ ! -e t.h5 ]
done
must dptrain train t.cfg --plugin-path "$tp/crash_train.so" --out t.h5 --quiet
check "without CRASH_FN the layer trains, and no such line" ! grep -q crashed log

summary
