#!/bin/sh
# `dptrain check-plugin` passes every built-in plugin file (README.md,
# "check-plugin"): gradients, buffer contracts, determinism, threads,
# instances, shapes and tensors, optimizers against their formulas. A
# built-in that fails a check has a bug. Layers that need settings get
# them with --set; conv2d and conv1d with each of their methods.
. "${top_srcdir:?run me through make check}/tests/lib.sh"

libs="$top_builddir/plugins/.libs"
# The settings a file's plugins need (none for most).
settings() {
    case $1 in
    layer_dense.so) echo "--set units=3" ;;
    layer_conv2d.so | layer_conv1d.so) echo "--set filters=2 --set kernel_size=3" ;;
    *) echo "" ;;
    esac
}

# 1. Every built-in file passes, each check on its own line, the count last.
n=0
for f in "$libs"/*.so; do
    b=$(basename "$f")
    n=$((n + 1))
    if [ "$b" = layer_flatten.so ]; then
        check "$b flatten: every check passes" dptrain check-plugin "$f" flatten
        check "$b reshape: every check passes" \
            dptrain check-plugin "$f" reshape --set 'target_shape="-1"'
        continue
    fi
    # shellcheck disable=SC2046 # the settings are words
    check "$b: every check passes" dptrain check-plugin "$f" $(settings "$b")
    grep -q '^check-plugin: [0-9]* checks, 0 failed$' check.out ||
        fail "$b: the last line counts the checks"
done
check "all $n built-in plugin files were checked" test "$n" -ge 25

# 2. The convolutions' other methods, on shapes given with --shape.
for m in direct winograd; do
    check "conv2d method $m passes" dptrain check-plugin "$libs/layer_conv2d.so" \
        --set filters=2 --set kernel_size=3 --set method=\""$m"\" --shape 6,6,2
done
check "conv1d method direct passes" dptrain check-plugin "$libs/layer_conv1d.so" \
    --set filters=3 --set kernel_size=2 --set method='"direct"' --shape 9,2

# 3. What the lines say: the tensors by name, the refused shapes reported
# as such, the dx contract under DPT_CAP_WRITES_DX, the formula checks.
dptrain check-plugin "$libs/layer_conv2d.so" --set filters=2 --set kernel_size=3 > out
check "conv2d: a gradient line per tensor" grep -q '^PASS layer conv2d: gradient kernel$' out
check "conv2d: bias too" grep -q '^PASS layer conv2d: gradient bias$' out
check "conv2d: refused shapes are reported, not failed" \
    grep -q '^PASS layer conv2d: shape \[7\] refused: .*needs \[H, W, C\] inputs' out
check "conv2d: the shape it takes and its output" \
    grep -q '^PASS layer conv2d: shape \[5, 4, 3\] -> \[3, 2, 2\], 56 parameters$' out
check "conv2d: dx fully written under DPT_CAP_WRITES_DX" \
    grep -q '^PASS layer conv2d: dx fully written (DPT_CAP_WRITES_DX)$' out
dptrain check-plugin "$libs/optimizer_adam.so" > out
check "adam: its formula with the defaults" \
    grep -q '^PASS optimizer adam: matches the formula (default settings)$' out
check "adam: and with other settings" \
    grep -q '^PASS optimizer adam: matches the formula (settings .*beta1 = 0.8' out
dptrain check-plugin "$libs/loss_cce.so" > out
check "cce: class labels checked" grep -q '^PASS loss cce: gradient pred$' out
check "cce: a form it refuses is reported" grep -q '^PASS loss cce: targets: 0/1 targets (1 output) refused' out

# 4. --format json: the same results as one document.
dptrain check-plugin "$libs/layer_dense.so" --set units=3 > text.out
dptrain check-plugin "$libs/layer_dense.so" --set units=3 --format json > json.out
check "json: one document with the same counts as the text" "$PYTHON" - <<'PY'
import json, re
doc = json.load(open("json.out"))
lines = open("text.out").read().splitlines()
m = re.match(r"check-plugin: (\d+) checks, (\d+) failed", lines[-1])
assert doc["total"] == int(m.group(1)) == len(doc["checks"]) == len(lines) - 1, doc["total"]
assert doc["failed"] == int(m.group(2)) == 0
for c, line in zip(doc["checks"], lines):
    assert line == "PASS %s %s: %s" % (c["kind"], c["name"], c["check"]), (line, c)
    assert c["passed"] is True and "detail" not in c
PY

# 5. Bad command lines and files exit 2 with a message.
expect_exit 2 "no such plugin file" dptrain check-plugin nothing.so
expect_exit 2 "has no plugin named 'dense2' (it has: dense)" \
    dptrain check-plugin "$libs/layer_dense.so" dense2
expect_exit 2 "\-\-shape '0,3'" dptrain check-plugin "$libs/layer_dense.so" --shape 0,3
expect_exit 2 "not a dptrain plugin" dptrain check-plugin "$DPT_TEST_PLUGINS/no_symbol.so"
expect_exit 2 "lacks the required function backward" \
    dptrain check-plugin "$DPT_TEST_PLUGINS/lacks_backward.so"
expect_exit 2 "was built for plugin ABI 3.0" dptrain check-plugin "$DPT_TEST_PLUGINS/bad_abi.so"
# A file that crashes while it loads exits 1 instead, as a failed check:
# the plugin's bug, not a wrong command line (as documented in --help).
expect_exit 1 "crashed with SIGSEGV while loading" \
    dptrain check-plugin "$DPT_TEST_PLUGINS/crash_ctor.so"
check "--help says so" sh -c "'$DPTRAIN' check-plugin --help | tr '\n' ' ' | grep -q '1 a check failed or the plugin crashed (also while its file loaded), 2 bad command line or a file that is not a plugin'"
check "--help" dptrain check-plugin --help
# A --set key the plugin never reads (a typo) fails instead of checking the
# defaults without a word, for every kind of plugin.
expect_error "^FAIL layer dense: settings all read: .*unknown key 'unit' (it takes: units" \
    dptrain check-plugin "$libs/layer_dense.so" --set units=3 --set unit=4
expect_error "^FAIL optimizer adam: settings all read: .*unknown key 'lr'" \
    dptrain check-plugin "$libs/optimizer_adam.so" --set lr=0.1
expect_error "^FAIL loss mse: settings all read: .*unknown key 'foo'" \
    dptrain check-plugin "$libs/loss_mse.so" --set foo=1
# 6. An ABI 1.x layer is not checked but failed, with what to do.
expect_error "^FAIL layer dense_v1: plugin ABI: built for plugin ABI 1.2; .*rebuild it" \
    dptrain check-plugin "$DPT_TEST_PLUGINS/v1_dense.so"
summary
