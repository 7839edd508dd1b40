#!/bin/sh
# scripts/plot-metrics draws the metrics log of a real training run (with
# validation) into a PNG, from the CSV log or the JSONL one alike, and
# refuses a file that is not a metrics log.
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

# 3. The same run logged as JSONL ("val_loss": null where an epoch had no
#    validation) draws the very same PNG: both logs are named "metrics" in
#    folders of their own, since the title is the log's name.
must dptrain train "$top_srcdir/examples/iris.cfg" --set train.epochs=5 \
    --set data.validation_split=0.2 --set train.log="$tmp/m.jsonl" --out m.h5 --quiet
check "the JSONL log has the losses of the CSV one" \
    sh -c 'grep -o "\"loss\":[0-9.]*" m.jsonl | cut -d: -f2 > a; cut -d, -f2 m.csv | sed 1d > b; cmp a b'
mkdir csv jsonl
cp m.csv csv/metrics
cp m.jsonl jsonl/metrics
must sh -c 'cd csv && "$0" metrics ../csv.png' "$top_srcdir/scripts/plot-metrics"
must sh -c 'cd jsonl && "$0" metrics ../jsonl.png' "$top_srcdir/scripts/plot-metrics"
check "the PNG of the JSONL log is that of the CSV log" cmp csv.png jsonl.png
check "which has curves ($(wc -c < csv.png) > 5000 bytes)" [ "$(wc -c < csv.png)" -gt 5000 ]

# 4. Without validation the JSONL has no val_* keys and the CSV empty
#    cells: the two PNGs agree again (train curves only).
must dptrain train "$top_srcdir/examples/iris.cfg" --set train.epochs=5 \
    --set train.log="$tmp/g.jsonl" --out g.h5 --quiet
check "the JSONL has no val_loss" sh -c '! grep -q val_loss g.jsonl'
must dptrain train "$top_srcdir/examples/iris.cfg" --set train.epochs=5 \
    --set train.log="$tmp/g.csv" --out g2.h5 --quiet
cp g.csv csv/metrics
cp g.jsonl jsonl/metrics
must sh -c 'cd csv && "$0" metrics ../csv.png' "$top_srcdir/scripts/plot-metrics"
must sh -c 'cd jsonl && "$0" metrics ../jsonl.png' "$top_srcdir/scripts/plot-metrics"
check "and draw the same PNG" cmp csv.png jsonl.png

# 5. A JSONL file that is not a dptrain log is refused.
echo '{"step":1,"loss":0.5}' > bad.jsonl
expect_error "not a dptrain metrics log" "$top_srcdir/scripts/plot-metrics" bad.jsonl bad.png

summary
