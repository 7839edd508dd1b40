#!/bin/sh
# scripts/plot-metrics draws the metrics log of a real training run (with
# validation) into a PNG, and refuses a file that is not a metrics log.
. "${top_srcdir:?run me through make check}/tests/lib.sh"

# 1. Five epochs of iris with a validation split: the PNG starts with the
#    PNG signature (\211PNG) and is big enough to hold curves (an empty plot
#    is smaller than 5000 bytes).
must dptrain train "$top_srcdir/examples/iris.cfg" --set train.epochs=5 \
    --set data.validation_split=0.2 --set train.log="$tmp/m.csv" --out m.h5 --quiet
must "$top_srcdir/scripts/plot-metrics" m.csv m.png
check "a PNG file" [ "$(od -An -c -N4 m.png | tr -d ' ')" = '211PNG' ]
size=$(wc -c < m.png)
check "of $size > 5000 bytes" [ "$size" -gt 5000 ]

# 2. A CSV without dptrain's columns is refused with exit status 1.
echo "epoch,loss" > bad.csv
expect_error "not a dptrain metrics CSV" "$top_srcdir/scripts/plot-metrics" bad.csv bad.png

summary
