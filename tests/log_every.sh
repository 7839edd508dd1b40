#!/bin/sh
# train.log_every thins the epoch lines of a batch log (stdout not a
# terminal): every Nth epoch, or one line per T of training time, and
# always the first and the last epoch, the epoch early stopping ended on
# and the last epoch finished however the run stops. Each checkpoint has a
# line of its own, whatever log_every says, and brings no epoch line with
# it. train.log keeps every row.
# The lines expected are counted here from the epoch numbers, independently
# of dptrain.
. "${top_srcdir:?run me through make check}/tests/lib.sh"

# A run of many tiny epochs: 40 rows, batch 40, one step per epoch.
dpt_test data tiny.h5 --rows 40 --features 3 --seed 1 --noise 0.3
cat > m.cfg <<'CFG'
data = { train = "tiny.h5"; };
model = { layers = ( { type = "dense"; units = 1; activation = "sigmoid"; } );
          loss = "bce"; optimizer = { type = "sgd"; learning_rate = 0.01; }; };
train = { batch = 40; epochs = 2000; seed = 1; log = "all.csv"; log_every = 100; };
CFG

# epochs FILE: the epoch numbers of FILE's epoch lines, one a line.
epochs() {
    sed -n 's|^epoch *\([0-9]*\)/.*|\1|p' "$1"
}

# 1. Every 100 epochs of 2000: epochs 1, 100, 200, ..., 2000 (21 lines),
#    while train.log has all 2000 rows.
must dptrain train m.cfg --out m.h5 --no-progress
dptrain train m.cfg --out m.h5 --overwrite > out1 2>&1
epochs out1 > got1
{ echo 1; seq 100 100 2000; } > want1
check "every 100 epochs: epochs 1, 100, ..., 2000 ($(wc -l < want1) lines)" cmp got1 want1
check "train.log has every epoch (2000 rows)" [ "$(($(wc -l < all.csv) - 1))" = 2000 ]

# 2. The default prints every epoch.
dptrain train m.cfg --out m.h5 --overwrite --set train.log_every=1 --set train.epochs=300 > out2 2>&1
check "log_every = 1: 300 epoch lines" [ "$(epochs out2 | wc -l)" = 300 ]

# 3. A checkpoint every 70 epochs: each has its checkpoint line, and no
#    epoch line of its own (epochs 70, 140, ... are not printed); a stop
#    request after 450 steps (in epoch 450, before its end): the last epoch
#    finished (449) and the stop's checkpoint are printed too, in that order.
dptrain train m.cfg --out m3.h5 --overwrite --set train.epochs=1000 --checkpoint ck/c.h5 \
    --set train.checkpoint.every_epochs=70 --stop-after-steps 450 > out3 2>&1 || true
epochs out3 > got3
{ echo 1; seq 100 100 449; echo 449; } > want3
check "checkpoints and a stop: epochs $(tr '\n' ' ' < want3)" cmp got3 want3
check "a checkpoint line per checkpoint ($(($(seq 70 70 450 | wc -l) + 1)))" \
    [ "$(grep -c '^checkpoint ck/c.h5 (step [0-9]*)$' out3)" = "$(($(seq 70 70 450 | wc -l) + 1))" ]
check "the last epoch's line comes before the stop's checkpoint line" \
    sh -c 'grep -A1 "^epoch  449/" out3 | grep -q "^checkpoint ck/c.h5 (step 450)"'

# 4. Early stopping: its epoch is printed, marked.
dptrain train m.cfg --out m4.h5 --overwrite --set train.early_stopping.monitor=loss \
    --set train.early_stopping.min_delta=1e9 --set train.early_stopping.patience=3 > out4 2>&1
check "early stopping: epochs 1 and 4, the last marked" \
    sh -c '[ "$1" = "1 4 " ] && grep -q "^epoch    4/2000 .*(early stopping)" out4' - "$(epochs out4 | tr '\n' ' ')"

# 5. By time: "0.2s" gives a line per 0.2 s of training at most: the
#    elapsed times of the lines (last field) are >= 0.2 s apart, except the
#    last epoch's.
dptrain train m.cfg --out m5.h5 --overwrite --set train.log_every=0.2s --set train.epochs=4000 > out5 2>&1
epochs out5 > got5
check "by time: fewer lines than epochs, the first and the last" \
    sh -c '[ "$(wc -l < got5)" -lt 4000 ] && [ "$(head -1 got5)" = 1 ] && [ "$(tail -1 got5)" = 4000 ]'
check "by time: lines 0.2 s of training apart" "$PYTHON" - <<'PY'
import re
t = [float(m.group(1)) for m in (re.search(r"  ([0-9.]+) s$", l) for l in open("out5")) if m]
gaps = [b - a for a, b in zip(t[:-2], t[1:-1])]  # the last line is the last epoch's
print(len(t), "lines, smallest gap", min(gaps) if gaps else None)
assert all(g >= 0.2 - 0.011 for g in gaps), gaps  # times are printed to 0.01 s
PY

# 6. Bad values name the key and what it takes.
sed 's/log_every = 100;/log_every = "soon";/' m.cfg > soon.cfg
expect_error "soon.cfg:4: train: 'log_every': expected a number of epochs .* found \"soon\"" \
    dptrain train soon.cfg --out x.h5 --overwrite
expect_error "--set train.log_every=0: train: 'log_every' must be at least 1" \
    dptrain train m.cfg --set train.log_every=0 --out x.h5 --overwrite

# 7. log_every = 100 with a checkpoint after every epoch (--checkpoint's
#    default), 10 epochs: the first and the last epoch's lines and ten
#    checkpoint lines, not an epoch line per checkpoint.
dptrain train m.cfg --out m7.h5 --overwrite --set train.epochs=10 --checkpoint ck7/c.h5 \
    > out7 2>&1
check "log_every = 100, a checkpoint every epoch: epoch lines 1 and 10" \
    [ "$(epochs out7 | tr '\n' ' ')" = "1 10 " ]
check "and a checkpoint line per epoch (10)" \
    [ "$(grep -c '^checkpoint ck7/c.h5 (step [0-9]*)$' out7)" = 10 ]

# 8. The default log_every = 1 prints the checkpoint lines too, each after
#    its epoch's line; --quiet prints neither.
dptrain train m.cfg --out m8.h5 --overwrite --set train.epochs=5 --set train.log_every=1 \
    --checkpoint ck8/c.h5 > out8 2>&1
sed -n -e 's|^epoch *\([0-9]*\)/.*|e\1|p' -e 's|^checkpoint ck8/c.h5 (step \([0-9]*\))$|c\1|p' \
    out8 | tr '\n' ' ' > got8
check "log_every = 1: epoch 1, its checkpoint, ..., epoch 5, its checkpoint: $(cat got8)" \
    [ "$(cat got8)" = "e1 c1 e2 c2 e3 c3 e4 c4 e5 c5 " ]
dptrain train m.cfg --out m8.h5 --overwrite --set train.epochs=5 --checkpoint ck8/c.h5 \
    --quiet > out8q 2>&1
check "--quiet: no epoch or checkpoint line" ! grep -q -e '^epoch' -e '^checkpoint' out8q
summary
