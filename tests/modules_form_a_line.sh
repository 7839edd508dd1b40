#!/bin/sh
# The modules of src/ form a line without circles (docs/DESIGN.md, "Module
# map"): a file may include headers of its own module and of the modules
# before it, never of one after it. So each module can be read, and tested,
# knowing only the ones below it.
. "${top_srcdir:?run me through make check}/tests/lib.sh"

order="util dist data plugin model io train check cli"
rank() {
    i=0
    for m in $order; do
        [ "$m" = "$1" ] && { echo $i; return; }
        i=$((i + 1))
    done
    echo -1
}
# 1. Every module is on the map, and every "module/header.h" a file
# includes belongs to its own module or to one before it.
: > wrong
n=0
for f in "$top_srcdir"/src/*/*.[ch]; do
    mod=$(basename "$(dirname "$f")")
    r=$(rank "$mod")
    [ "$r" -ge 0 ] || echo "${f#"$top_srcdir"/}: module '$mod' is not on the map" >> wrong
    for dep in $(sed -n 's|^#include "\([a-z]*\)/.*|\1|p' "$f" | sort -u); do
        n=$((n + 1))
        d=$(rank "$dep")
        if [ "$d" -lt 0 ] || [ "$d" -gt "$r" ]; then
            echo "${f#"$top_srcdir"/} ($mod) includes $dep/, after it in: $order" >> wrong
        fi
    done
done
check "$n module includes go down the line $order" test "$n" -gt 0 -a ! -s wrong
cat wrong
summary
