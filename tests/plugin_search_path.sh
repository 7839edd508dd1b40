#!/bin/sh
# The plugin search path (README.md "Writing a plugin", docs/DESIGN.md):
# --plugin-path, then $DPTRAIN_PLUGIN_PATH, then the per-user folder
# ${XDG_DATA_HOME:-$HOME/.local/share}/dptrain/plugins, then the built-in
# folder; `dptrain plugins --verbose` prints that path and each plugin's file.
. "${top_srcdir:?run me through make check}/tests/lib.sh"

# The out-of-tree softsign activation, built from the public headers, is the
# plugin that moves between the places of the path.
must "${PLAIN_CC:-cc}" -O2 -fPIC -shared -I"$top_srcdir/include" \
    "$top_srcdir/examples/plugins/softsign.c" -o softsign.so -lm
mkdir -p xdg/dptrain/plugins empty/dptrain/plugins home/.local/share/dptrain/plugins cli env
cp softsign.so xdg/dptrain/plugins/
cp softsign.so home/.local/share/dptrain/plugins/
cp softsign.so cli/
cp softsign.so env/

# 1. A plugin in $XDG_DATA_HOME/dptrain/plugins is found with nothing else
#    set, and its file is the per-user one.
XDG_DATA_HOME="$tmp/xdg" "$DPTRAIN" plugins > list.txt
check "softsign found in \$XDG_DATA_HOME/dptrain/plugins" \
    grep -E "^activation +softsign +1\.0\.0 +$tmp/xdg/dptrain/plugins/softsign\.so " list.txt

# 2. Without XDG_DATA_HOME (or with a relative one, which the XDG
#    specification says to ignore) the folder is $HOME/.local/share's.
(unset XDG_DATA_HOME; HOME="$tmp/home" "$DPTRAIN" plugins) > list.txt
check "softsign found in \$HOME/.local/share/dptrain/plugins" \
    grep -E "softsign +1\.0\.0 +$tmp/home/\.local/share/dptrain/plugins/softsign\.so" list.txt
XDG_DATA_HOME=xdg HOME="$tmp/home" "$DPTRAIN" plugins > list.txt
check "a relative XDG_DATA_HOME is ignored: \$HOME/.local/share is searched" \
    grep -E "softsign +1\.0\.0 +$tmp/home/\.local/share/" list.txt

# 3. --verbose prints the search path in its order, each place with its
#    origin and what is there, then every plugin with its file. The order
#    is the one documented. The built-in folder is the build tree's here,
#    and make check's DPTRAIN_PLUGIN_PATH names it too, so it is listed as
#    already scanned.
DPTRAIN_PLUGIN_PATH="$tmp/env:$DPTRAIN_PLUGIN_PATH" XDG_DATA_HOME="$tmp/empty" \
    "$DPTRAIN" plugins -v > verbose.txt
sed 's/^/    /' verbose.txt | head -6
sed -n '2,/^$/p' verbose.txt | sed '/^$/d' | awk '{print $1}' > origins.txt
printf '%s\n' DPTRAIN_PLUGIN_PATH DPTRAIN_PLUGIN_PATH per-user built-in > want.txt
check "the search path is DPTRAIN_PLUGIN_PATH (2 entries), per-user, built-in" \
    cmp want.txt origins.txt
check "a DPTRAIN_PLUGIN_PATH folder is listed as a folder" \
    grep -E "^  DPTRAIN_PLUGIN_PATH +$tmp/env \(folder\)$" verbose.txt
check "the per-user folder is listed with its origin" \
    grep -E "^  per-user \(\\\$XDG_DATA_HOME\) +$tmp/empty/dptrain/plugins \(folder\)$" verbose.txt
check "the built-in folder is listed, as scanned already" \
    grep -E "^  built-in \(build tree\) +$top_builddir/plugins/\.libs \(folder, already scanned above\)$" verbose.txt
check "each plugin with its file: dense from the built-in folder" \
    grep -E "^layer +dense +[0-9.]+ +$top_builddir/plugins/\.libs/layer_dense\.so " verbose.txt

XDG_DATA_HOME="$tmp/none" "$DPTRAIN" plugins --verbose --plugin-path "$tmp/cli" > verbose.txt
check "--plugin-path comes first, and a missing per-user folder says so" \
    sh -c "sed -n 2p verbose.txt | grep -E '^  --plugin-path +$tmp/cli \(folder\)$' &&
           grep -E '^  per-user .* $tmp/none/dptrain/plugins \(does not exist\)$' verbose.txt"

# 4. One name found in several places: the first in the search order is
#    used (--plugin-path before DPTRAIN_PLUGIN_PATH before the per-user
#    folder), as a command on $PATH; `plugins` lists the others as shadowed
#    and train warns about them, so a development copy can be tried over an
#    installed one.
env DPTRAIN_PLUGIN_PATH="$tmp/env" XDG_DATA_HOME="$tmp/xdg" \
    "$DPTRAIN" plugins --plugin-path "$tmp/cli" > shadow.txt
check "--plugin-path's softsign is used" \
    grep -E "^activation +softsign +1\.0\.0 +$tmp/cli/softsign\.so " shadow.txt
check "... DPTRAIN_PLUGIN_PATH's is listed as shadowed by it" \
    grep -xF "shadowed: activation softsign in $tmp/env/softsign.so (shadowed by $tmp/cli/softsign.so)" shadow.txt
check "... and the per-user folder's too" \
    grep -xF "shadowed: activation softsign in $tmp/xdg/dptrain/plugins/softsign.so (shadowed by $tmp/cli/softsign.so)" shadow.txt
env DPTRAIN_PLUGIN_PATH="$tmp/env" XDG_DATA_HOME="$tmp/xdg" "$DPTRAIN" plugins > shadow2.txt
check "without --plugin-path, DPTRAIN_PLUGIN_PATH's comes first" \
    grep -E "^activation +softsign +1\.0\.0 +$tmp/env/softsign\.so " shadow2.txt
must env DPTRAIN_PLUGIN_PATH="$tmp/env" XDG_DATA_HOME="$tmp/xdg" "$DPTRAIN" train \
    "$top_srcdir/examples/plugins/softsign.cfg" --plugin-path "$tmp/cli" --set train.epochs=1 \
    --out shadow.h5 --quiet
check "train warns which copy was shadowed" \
    grep -F "dptrain: warning: activation softsign in $tmp/env/softsign.so (shadowed by $tmp/cli/softsign.so)" log

#    A file on the path that is not a usable plugin is skipped (a copy of
#    the same plugin found later is used), and train says so.
mkdir -p broken && cp "$tmp/cli/softsign.so" broken/ && cp "$DPT_TEST_PLUGINS/no_symbol.so" broken/
must "$DPTRAIN" train "$top_srcdir/examples/plugins/softsign.cfg" --plugin-path broken \
    --set train.epochs=1 --out skipped.h5 --quiet
check "train warns about the skipped file, naming it and why" \
    grep -E "^dptrain: warning: plugin file skipped: .*broken/no_symbol\.so.*no 'dpt_plugins' symbol" log

# 5. A model that needs the plugin trains with it from the per-user folder
#    alone (no --plugin-path): the folder is a real place to install into.
must env XDG_DATA_HOME="$tmp/xdg" "$DPTRAIN" train "$top_srcdir/examples/plugins/softsign.cfg" \
    --set train.epochs=1 --out m.h5
check "the softsign model trained with the per-user plugin" test -s m.h5

# 6. The table's columns line up: VERSION and FILE start at the same
#    column on every row, whatever the length of the names and paths.
dptrain plugins > table.txt
check "the columns of 'dptrain plugins' line up" awk '
    NR == 1 { v = index($0, "VERSION"); f = index($0, "FILE"); next }
    /^(layer|activation|loss|optimizer) / {
        n = split($0, c, / +/); rest = substr($0, length(c[1]) + 1)
        if (substr($0, v - 1, 1) != " " || substr($0, v, 1) == " ") bad = 1
        if (substr($0, f - 1, 1) != " " || substr($0, f, 1) != "/") bad = 1
    }
    END { exit bad }' table.txt

summary
