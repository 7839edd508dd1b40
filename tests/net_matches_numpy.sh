#!/bin/sh
# Forward and backward of the network (src/model/net.c) against numpy: for
# three tiny models (dense relu / softmax with cce, dense tanh / sigmoid with
# bce, dense, a sigmoid entry, dense with mse) tests/net_dump runs
# dpt_net_train_micro and dpt_net_eval_micro on known parameters and inputs,
# and tests/net_numpy.py recomputes the loss sums, the gradient added to a
# prefilled buffer, the hit counts and the predictions in float64.
# PYTHON must name a Python with numpy (configure finds one).
set -eu
: "${top_srcdir:?} ${top_builddir:?}"
python=${PYTHON:-python3}
"$python" -c "import numpy" || {
    echo "FAIL: $python has no numpy; set PYTHON to a Python that has"; exit 1; }
tmp=$(mktemp -d /tmp/dpt-net.XXXXXX)
fails=0
for model in cce bce mse; do
    "$top_builddir/tests/net_dump" "$model" > "$tmp/$model.txt" || {
        echo "FAIL: net_dump $model"; fails=$((fails + 1)); continue; }
    "$python" "$top_srcdir/tests/net_numpy.py" "$tmp/$model.txt" || fails=$((fails + 1))
done
rm -rf "$tmp"
[ "$fails" -eq 0 ]
