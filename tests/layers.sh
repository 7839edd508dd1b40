#!/bin/sh
# The modules of src/ form a line without circles (docs/DESIGN.md, "Module
# map"): a file may include headers of its own module and of the modules
# before it, never of one after it. So each module can be read, and tested,
# knowing only the ones below it.
set -u
order="util dist data plugin model io train cli"
rank() { i=0; for m in $order; do [ "$m" = "$1" ] && { echo $i; return; }; i=$((i + 1)); done; echo -1; }
bad=0 checked=0
for f in "$top_srcdir"/src/*/*.[ch]; do
    mod=$(basename "$(dirname "$f")")
    r=$(rank "$mod")
    if [ "$r" -lt 0 ]; then
        echo "FAIL: ${f#$top_srcdir/}: module '$mod' is not in the map ($order)"
        bad=$((bad + 1))
        continue
    fi
    for dep in $(sed -n 's|^#include "\([a-z]*\)/.*|\1|p' "$f" | sort -u); do
        checked=$((checked + 1))
        d=$(rank "$dep")
        if [ "$d" -lt 0 ] || [ "$d" -gt "$r" ]; then
            echo "FAIL: ${f#$top_srcdir/} ($mod) includes $dep/, which comes after it in: $order"
            bad=$((bad + 1))
        fi
    done
done
if [ "$checked" -eq 0 ]; then
    echo "FAIL: no includes found under $top_srcdir/src"
    exit 1
fi
echo "ok: $checked module includes checked against: $order"
if [ "$bad" -gt 0 ]; then
    echo "0 passed, 1 failed"
    exit 1
fi
echo "1 passed, 0 failed"
