#!/bin/sh
. "${top_srcdir:?}/tests/lib.sh"
summary
