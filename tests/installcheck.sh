#!/bin/sh
# The installed tree works on its own: run by `make installcheck`, which
# `make distcheck` (and so CI) runs against its temporary prefix. With
# PKG_CONFIG_PATH naming only the installed lib/pkgconfig, the installed
# examples/plugins build with `pkg-config --cflags dptrain` alone (no -I
# to the source tree), the installed `dptrain check-plugin` passes them, the
# installed command trains the installed example model files from another
# folder (their relative data paths lead to the installed data), the
# per-user plugin folder works, and the installed man pages render without
# warnings. Makefile.am's installcheck-local passes the install folders.
for v in bindir libdir includedir pkgdatadir plugindir mandir docdir PACKAGE_VERSION GROFF; do
    if eval "[ -z \"\${$v:-}\" ]"; then
        echo "$0: $v is not set: run me through make installcheck" >&2
        exit 1
    fi
done
DPTRAIN="$bindir/dptrain"
export DPTRAIN
. "${top_srcdir:?run me through make installcheck}/tests/lib.sh"

# Nothing of the build or source tree, and nothing of the user's: the
# installed pkg-config file only, no plugin path, a fresh per-user folder,
# the installed command first on PATH (the examples' Makefile runs
# `dptrain`).
PKG_CONFIG_PATH="$libdir/pkgconfig"
XDG_DATA_HOME="$tmp/xdg"
PATH="$bindir:$PATH"
export PKG_CONFIG_PATH XDG_DATA_HOME PATH
unset DPTRAIN_PLUGIN_PATH CPATH C_INCLUDE_PATH LIBRARY_PATH PKG_CONFIG_LIBDIR || true
OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 OMP_WAIT_POLICY=PASSIVE
OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
export OMP_NUM_THREADS OPENBLAS_NUM_THREADS OMP_WAIT_POLICY
export OMPI_ALLOW_RUN_AS_ROOT OMPI_ALLOW_RUN_AS_ROOT_CONFIRM

# 1. dptrain.pc: the version, -I to the installed headers and nothing else
#    (a plugin needs no other library's headers), and plugindir, the
#    folder the installed command loads its built-in plugins from.
check "pkg-config finds dptrain $PACKAGE_VERSION" \
    test "$(pkg-config --modversion dptrain)" = "$PACKAGE_VERSION"
check "pkg-config --cflags dptrain is -I$includedir" \
    test "$(pkg-config --cflags dptrain | tr -d ' ')" = "-I$includedir"
check "pkg-config --variable=plugindir dptrain is $plugindir" \
    test "$(pkg-config --variable=plugindir dptrain)" = "$plugindir"
check "the built-in plugins are in plugindir" test -f "$plugindir/layer_dense.so"
# docs/PLUGINS.md maps the source tree's paths to these variables.
check "includedir/dptrain/plugin.h from pkg-config" \
    test -f "$(pkg-config --variable=includedir dptrain)/dptrain/plugin.h"
check "examplesdir/plugins/channel_scale.c from pkg-config" \
    test -f "$(pkg-config --variable=examplesdir dptrain)/plugins/channel_scale.c"

# 2. pkg-config --libs links a program against the installed libdptrain.
cat > version.c <<'EOF'
#include <dptrain/dptrain.h>
#include <stdio.h>
int main(void) { puts(dpt_version()); return 0; }
EOF
must cc -Wall -Werror version.c -o version $(pkg-config --cflags --libs dptrain)
check "a program linked with pkg-config --libs dptrain runs" \
    test "$(LD_LIBRARY_PATH="$libdir" ./version)" = "$PACKAGE_VERSION"

# 3. The installed examples/plugins build with their Makefile, outside any
#    tree, with the installed headers: the compiler lists every header it
#    read in deps.txt (GCC's and clang's DEPENDENCIES_OUTPUT, which
#    appends), whatever way the Makefile spells its flags.
cp -R "$pkgdatadir/examples/plugins" plugins
must env DEPENDENCIES_OUTPUT="$tmp/deps.txt" make -C plugins
tr ' ' '\n' < deps.txt | grep 'dptrain/[a-z_]*\.h$' | sort -u > headers.txt
dpt__show headers.txt
check "the example plugins include <dptrain/plugin.h> from $includedir" \
    grep -q -x -e "$includedir/dptrain/plugin.h" headers.txt
check "and no dptrain header from anywhere else" sh -c "! grep -v -e '^$includedir/' headers.txt"
for so in softsign.so channel_scale.so huber.so; do
    check "examples/plugins/$so was built" test -f "plugins/$so"
done

# 4. The installed check-plugin passes every example: exit status 0 and
#    a last line that counts some checks and no failure.
for so in plugins/*.so; do
    "$DPTRAIN" check-plugin "$so" > check-plugin.txt 2>&1 && st=0 || st=$?
    last=$(tail -n 1 check-plugin.txt)
    if [ "$st" = 0 ] && echo "$last" | grep -q -E '^check-plugin: [1-9][0-9]* checks, 0 failed$'; then
        ok "dptrain check-plugin $so: $last"
    else
        fail "dptrain check-plugin $so: exit status $st"
        dpt__show check-plugin.txt
    fi
done
check "make check in the examples runs check-plugin on each" make -C plugins check

# 5. The installed command trains the installed custom model (all three
#    example plugins, the bundled diabetes data through "../../data/...")
#    from another folder, and the model it writes is a useful regressor.
mkdir run
cd run
must "$DPTRAIN" train "$pkgdatadir/examples/plugins/custom.cfg" --plugin-path "$tmp/plugins" \
    --out custom.h5
"$DPTRAIN" eval custom.h5 "$pkgdatadir/data/diabetes-test.h5" --plugin-path "$tmp/plugins" \
    --format json > custom.json
r2=$(json_number r2 custom.json)
check "custom.cfg, installed: test R2 '$r2' >= 0.30" at_least "$r2" 0.30

# 6. The same for the softsign example and a built-in example, whose data
#    paths are "../../data" and "../data" from the installed model files.
must "$DPTRAIN" train "$pkgdatadir/examples/plugins/softsign.cfg" --plugin-path "$tmp/plugins" \
    --out softsign.h5
"$DPTRAIN" eval softsign.h5 "$pkgdatadir/data/breast_cancer-test.h5" \
    --plugin-path "$tmp/plugins" --format json > softsign.json
acc=$(json_number accuracy softsign.json)
check "softsign.cfg, installed: test accuracy '$acc' >= 0.9" at_least "$acc" 0.9
must "$DPTRAIN" train "$pkgdatadir/examples/iris.cfg" --out iris.h5
"$DPTRAIN" eval iris.h5 "$pkgdatadir/data/iris-test.h5" --format json > iris.json
acc=$(json_number accuracy iris.json)
check "iris.cfg, installed: test accuracy '$acc' >= 0.9" at_least "$acc" 0.9
cd "$tmp"

# 7. The installed command's search path ends with the installed plugin
#    folder; `make install` of the examples puts them in the per-user
#    folder, where the command finds them without --plugin-path.
"$DPTRAIN" plugins --verbose > plugins.txt
check "plugins --verbose: the built-in folder is $plugindir" \
    grep -E "^  built-in +$plugindir \(folder\)$" plugins.txt
check "plugins --verbose: dense comes from $plugindir" \
    grep -E "^layer +dense +[0-9.]+ +$plugindir/layer_dense\.so " plugins.txt
must make -C plugins install
"$DPTRAIN" plugins --verbose > plugins.txt
check "after make install, softsign comes from the per-user folder" \
    grep -E "^activation +softsign +[0-9.]+ +$XDG_DATA_HOME/dptrain/plugins/softsign\.so " plugins.txt

# 8. The installed man pages render without a groff warning, and the
#    documentation is installed.
for page in "$mandir/man1/dptrain.1" "$mandir/man7/dptrain-plugin.7"; do
    "$GROFF" -man -Tutf8 -ww "$page" > page.txt 2> warnings.txt || true
    check "$page renders without warnings" \
        sh -c '! [ -s warnings.txt ] && [ "$(wc -l < page.txt)" -gt 50 ] || { cat warnings.txt; false; }'
done
# README.md says this README and docs/ are installed to share/doc/dptrain:
# every file of the source tree's docs/, so that one added there and not
# to Makefile.am's dist_doc_DATA fails here.
for doc in README.md $(cd "$top_srcdir/docs" && ls *.md); do
    check "$docdir/$doc is installed" test -s "$docdir/$doc"
done

# 9. The Slurm batch script docs/HPC.md tells users to sbatch is installed,
#    executable, as in the source tree (the path HPC.md gives).
check "$pkgdatadir/scripts/slurm-job.sh is installed, executable" \
    test -x "$pkgdatadir/scripts/slurm-job.sh"
check "and is scripts/slurm-job.sh" cmp "$pkgdatadir/scripts/slurm-job.sh" \
    "$top_srcdir/scripts/slurm-job.sh"
check "HPC.md names where it is installed" \
    grep -q "share/dptrain/scripts/slurm-job.sh" "$docdir/HPC.md"

summary
