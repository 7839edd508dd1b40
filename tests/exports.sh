#!/bin/sh
# libdptrain.so exports exactly the public API: the functions that
# include/dptrain/*.h declare with DPT_API. Internal functions (the
# trainer's, the dpt__ helpers) stay hidden, so they can change freely.
set -u
lib="$top_builddir/.libs/libdptrain.so"
[ -f "$lib" ] || { echo "FAIL: $lib was not built"; exit 1; }
# Functions and variables the library defines for the dynamic linker,
# without the linker's own markers and OpenMP's named critical sections.
exported=$(nm -D --defined-only "$lib" | awk '$2 ~ /^[TDBR]$/ {print $3}' |
           grep -v -e '^_' -e '^\.gomp_critical' | sort)
declared=$(sed -n 's/^DPT_API[^(]*[ *]\(dpt_[a-z0-9_]*\)(.*/\1/p' \
           "$top_srcdir"/include/dptrain/*.h | sort)
if [ -z "$declared" ]; then
    echo "FAIL: found no DPT_API declarations in include/dptrain/"
    exit 1
fi
if [ "$exported" = "$declared" ]; then
    echo "ok: libdptrain.so exports the $(echo "$declared" | wc -l) public functions and nothing else"
    echo "1 passed, 0 failed"
    exit 0
fi
echo "FAIL: exports differ from the public API"
echo "exported but not declared:"; echo "$exported" | grep -vxF "$declared" | sed 's/^/  /'
echo "declared but not exported:"; echo "$declared" | grep -vxF "$exported" | sed 's/^/  /'
echo "0 passed, 1 failed"
exit 1
