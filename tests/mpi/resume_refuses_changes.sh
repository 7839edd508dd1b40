#!/bin/sh
. "${top_srcdir:?run me through make check}/tests/lib.sh"
ok placeholder
summary
