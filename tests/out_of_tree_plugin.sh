#!/bin/sh
# A plugin written outside the tree (examples/plugins/softsign.c) builds
# against the public headers alone, is listed by `dptrain plugins`, trains a
# model to a useful accuracy, and a model that needs it cannot be used
# without it: the message says which plugin is missing.
. "${top_srcdir:?run me through make check}/tests/lib.sh"

# 1. It compiles with only include/ on the include path: no libdptrain, no
#    config.h, warnings as errors.
must "${PLAIN_CC:-cc}" -O2 -Wall -Wextra -Werror -fPIC -shared -I"$top_srcdir/include" \
    "$top_srcdir/examples/plugins/softsign.c" -o softsign.so -lm
ok "softsign.so builds from the public headers alone"

# 2. `dptrain plugins` lists it with its kind, name and version.
dptrain plugins --plugin-path "$tmp" > list.txt
check "listed as activation softsign 1.0.0" grep -E '^activation +softsign +1\.0\.0 ' list.txt

# 3. The breast-cancer model with softsign activations reaches a test
#    accuracy of 0.9 at least (the built-in activations reach 0.97).
must dptrain train "$top_srcdir/examples/plugins/softsign.cfg" --plugin-path "$tmp" --out m.h5
cat log
acc=$(sed -n 's/^test .*accuracy \([0-9.]*\).*/\1/p' log)
check "softsign model: test accuracy '$acc' >= 0.9" at_least "$acc" 0.9

# 4. Without the plugin path the model cannot be built, and the message says why.
expect_error "no activation plugin named 'softsign' (known: .*); a plugin of your own is found with --plugin-path" \
    dptrain eval m.h5 "$top_srcdir/data/breast_cancer-test.h5"

summary
