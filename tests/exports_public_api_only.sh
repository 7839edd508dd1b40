#!/bin/sh
# libdptrain.so exports exactly the public API: the functions that
# include/dptrain/*.h declare with DPT_API. Internal functions (the
# trainer's, the dpt__ helpers) stay hidden, so they can change freely.
. "${top_srcdir:?run me through make check}/tests/lib.sh"

lib="$top_builddir/.libs/libdptrain.so"
must test -f "$lib"
# 1. What the library defines for the dynamic linker, without the linker's
# own markers and OpenMP's named critical sections, is what the headers
# declare, no more and no less.
nm -D --defined-only "$lib" | awk '$2 ~ /^[TDBR]$/ {print $3}' |
    grep -v -e '^_' -e '^\.gomp_critical' | sort > exported
sed -n 's/^DPT_API[^(]*[ *]\(dpt_[a-z0-9_]*\)(.*/\1/p' "$top_srcdir"/include/dptrain/*.h |
    sort > declared
check "the headers declare a public API ($(wc -l < declared) functions)" test -s declared
check "libdptrain.so exports it and nothing else" diff declared exported
summary
