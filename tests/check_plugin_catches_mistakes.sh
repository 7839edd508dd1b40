#!/bin/sh
# `dptrain check-plugin` catches the quiet mistakes of plugin authors (issue
# 12; README.md, "check-plugin"): each plugin in tests/plugins/broken_*.c is
# the layer of tests/plugins/broken_layer.h (or, broken_leaky_*.c, the dense
# leaky relu layer of tests/plugins/leaky_layer.h) with one mistake. Each must exit
# 1 with a FAIL line for the check that the mistake breaks, naming the
# function or buffer where that says something, while the checks the mistake
# does not touch still pass (so a FAIL points at the mistake). The layer
# without a mistake passes everything.
. "${top_srcdir:?run me through make check}/tests/lib.sh"

libs="$DPT_TEST_PLUGINS"

# mistake NAME 'FAIL PATTERN' PASSING-CHECK...: check-plugin on
# broken_NAME.so (with the options in $opts) exits 1, a FAIL line matches
# the pattern, and each passing check has its PASS line (a note on points
# skipped at kinks may follow it).
opts=
mistake() {
    name=$1 pattern=$2
    shift 2
    # shellcheck disable=SC2086 # the options are words
    expect_error "^FAIL layer broken_$name: $pattern" \
        dptrain check-plugin "$libs/broken_$name.so" $opts
    # shellcheck disable=SC2086
    dptrain check-plugin "$libs/broken_$name.so" $opts > out || true
    for c in "$@"; do
        grep -q "^PASS layer broken_$name: $c\( (.* skipped: a kink within the step)\)\?$" out ||
            fail "$name: '$c' should still pass"
    done
    grep -q "^check-plugin: [0-9]* checks, [1-9][0-9]* failed$" out || fail "$name: the count"
}

# 0. The layer without a mistake passes every check.
check "the layer without a mistake passes" dptrain check-plugin "$libs/scale_ok.so"

# 1. dparams = instead of +=, and a backward that zeroes its own dparams:
# the gradients are right, only the accumulation is wrong.
for m in assign_dparams zero_dparams; do
    mistake $m 'dparams accumulate (+=): .* not prefill + gradient' \
        'gradient x' 'gradient weight' 'gradient bias' 'forward writes every output' \
        'writes stay inside buffers' 'finite outputs' 'instances independent'
done
# 2. DPT_CAP_WRITES_DX while adding into dx (dx filled with NaN shows it).
mistake writes_dx_adds 'dx fully written (DPT_CAP_WRITES_DX): ' \
    'gradient x' 'dparams accumulate (+=)' 'finite outputs' 'deterministic'
# 3. A NaN produced in backward from finite inputs, named with its function.
mistake nan_backward 'finite outputs: backward produced NaN or Inf in dparams' \
    'gradient x' 'forward writes every output' 'writes stay inside buffers'
# 4. Writes past the output and past the declared workspace.
mistake past_output 'writes stay inside buffers: forward wrote outside y' \
    'gradient x' 'gradient weight' 'dparams accumulate (+=)' 'finite outputs'
mistake past_workspace 'writes stay inside buffers: forward wrote outside workspace' \
    'gradient x' 'gradient weight' 'dparams accumulate (+=)' 'finite outputs'
#    Blamed on the function that wrote: here backward alone, past a
#    workspace declared one float short (forward does not touch it).
mistake leaky_ws_short 'writes stay inside buffers: backward wrote outside workspace' \
    'gradient x' 'dparams accumulate (+=)' 'finite outputs' 'deterministic'
# 5. Outputs forward leaves unwritten (at inference).
mistake unwritten 'forward writes every output: 1 of ' \
    'gradient x' 'finite outputs' 'dparams accumulate (+=)' 'writes stay inside buffers'
# 6. Hidden global state: two instances interfere.
mistake global 'instances independent: ' \
    'gradient x' 'gradient weight' 'dparams accumulate (+=)' 'forward writes every output'
# 7. A wrong gradient (a sign error in dx): the worst error and where.
mistake sign 'gradient x: relative error 2 at x\[row [0-9]*\]\[[0-9]*\] (backward' \
    'gradient weight' 'gradient bias' 'dx accumulates (+=)' 'dparams accumulate (+=)'
# 8. Parameter tensors that do not cover the slice.
mistake tensors "parameter tensors: 'bias' starts at float 6, but the tensors before it end at 7 (an overlap)" \
    'gradient x' 'dparams accumulate (+=)'

# 9. Kinks are not mistakes: a dense layer with leaky relu (alpha 0.1)
#    passes on inputs [8, 8, 3], where a step of 1e-2 in a bias crosses a
#    kink of some output most of the time; the points where a kink lies
#    even within the smallest step are skipped and counted. A wrong
#    gradient still fails there: a sign error in the bias gradient, the
#    slope alpha forgotten, and dweight = instead of +=.
for shape in 8,8,3 16,16,3 7; do
    check "leaky relu dense passes, inputs [$shape]" \
        dptrain check-plugin "$libs/leaky_ok.so" --shape "$shape"
done
dptrain check-plugin "$libs/leaky_ok.so" --shape 16,16,3 > out
check "the points skipped at kinks are counted" \
    grep -q '^PASS layer leaky_ok: gradient bias ([1-9][0-9]* of 48 points skipped: a kink within the step)$' out
opts="--shape 8,8,3"
mistake leaky_sign 'gradient bias: relative error 2 at bias\[' 'gradient x' 'gradient weight'
mistake leaky_slope 'gradient x: relative error' 'dparams accumulate (+=)'
mistake leaky_slope 'gradient bias: relative error'
mistake leaky_assign 'dparams accumulate (+=): ' 'gradient x' 'gradient weight' 'gradient bias'
opts=

# 10. What `dptrain train` refuses when it builds the layer, check-plugin
#    fails with the same words (tests/lacks_function_named.sh): parameters
#    without an init function.
mistake leaky_noinit 'shape \[7\]: the plugin has parameters but lacks the required function init$'

# 11. The failure also shows in --format json, with its detail.
dptrain check-plugin "$libs/broken_sign.so" --format json > json.out || true
check "json: the failed check with its detail" "$PYTHON" - <<'PY'
import json
doc = json.load(open("json.out"))
bad = [c for c in doc["checks"] if not c["passed"]]
assert doc["failed"] == len(bad) == 1, bad
assert bad[0]["check"] == "gradient x" and "relative error 2" in bad[0]["detail"], bad
PY
summary
