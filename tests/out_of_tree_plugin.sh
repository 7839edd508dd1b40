#!/bin/sh
# The out-of-tree example plugin (examples/plugins/softsign.c) builds against
# the public headers alone, is listed by `dptrain plugins`, and trains.
set -eu
: "${DPTRAIN:?} ${top_srcdir:?}"
tmp=$(mktemp -d /tmp/dpt-plugin.XXXXXX)
fail() { echo "FAIL: $*"; exit 1; }

# Headers alone: only include/ on the include path, no libdptrain, no config.h.
"${PLAIN_CC:-cc}" -O2 -Wall -Wextra -Werror -fPIC -shared -I"$top_srcdir/include" \
    "$top_srcdir/examples/plugins/softsign.c" -o "$tmp/softsign.so" -lm

"$DPTRAIN" plugins --plugin-path "$tmp" > "$tmp/list.txt"
grep -E '^activation +softsign +1\.0\.0 ' "$tmp/list.txt" || { cat "$tmp/list.txt"; fail "softsign not listed"; }

"$DPTRAIN" train "$top_srcdir/examples/plugins/softsign.cfg" --plugin-path "$tmp" \
    --out "$tmp/m.h5" > "$tmp/train.log" 2>&1 || { cat "$tmp/train.log"; fail "training with softsign"; }
cat "$tmp/train.log"
acc=$(sed -n 's/^test .*accuracy \([0-9.]*\).*/\1/p' "$tmp/train.log")
awk -v a="$acc" 'BEGIN { exit !(a >= 0.9) }' || fail "softsign model test accuracy '$acc' < 0.9"

# Without the plugin path the model cannot be built, and the message says why.
if "$DPTRAIN" eval "$tmp/m.h5" "$top_srcdir/data/breast_cancer-test.h5" > "$tmp/err.txt" 2>&1; then
    fail "eval without the plugin succeeded"
fi
grep -q "no activation plugin named 'softsign'" "$tmp/err.txt" || { cat "$tmp/err.txt"; fail "message"; }
rm -rf "$tmp"
echo "PASS example plugin"
