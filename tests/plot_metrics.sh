#!/bin/sh
# scripts/plot-metrics draws the log of a real training run (with validation)
# into a PNG, and refuses a file that is not a metrics log.
set -eu
: "${DPTRAIN:?} ${top_srcdir:?}"
tmp=$(mktemp -d /tmp/dpt-plot.XXXXXX)
"$DPTRAIN" train "$top_srcdir/examples/iris.cfg" --set train.epochs=5 \
    --set data.validation_split=0.2 --set train.log="$tmp/m.csv" --out "$tmp/m.h5" --quiet > "$tmp/log" 2>&1 ||
    { cat "$tmp/log"; exit 1; }
"$top_srcdir/scripts/plot-metrics" "$tmp/m.csv" "$tmp/m.png"
# A PNG file starts with \211PNG.
[ "$(od -An -c -N4 "$tmp/m.png" | tr -d ' ')" = '211PNG' ] || { echo "FAIL: not a PNG"; exit 1; }
[ "$(wc -c < "$tmp/m.png")" -gt 5000 ] || { echo "FAIL: the PNG is suspiciously small"; exit 1; }
echo "epoch,loss" > "$tmp/bad.csv"
set +e
"$top_srcdir/scripts/plot-metrics" "$tmp/bad.csv" "$tmp/bad.png" 2> "$tmp/err"
st=$?
set -e
[ $st = 1 ] && grep -q "not a dptrain metrics CSV" "$tmp/err" || { cat "$tmp/err"; echo "FAIL: bad CSV"; exit 1; }
rm -rf "$tmp"
echo "PASS plot"
