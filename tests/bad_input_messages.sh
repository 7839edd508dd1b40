#!/bin/sh
# shellcheck disable=SC2046,SC2086  # $good and $(t FILE) are lists of words
# Bad input gets one clear line and a non-zero exit status: 2 for a bad
# command line, 1 for a bad file. The line names the file and what is wrong
# in it: model files, data files (not HDF5, missing dataset, wrong rank, N
# mismatch, labels out of range, NaN/Inf rows), model files given to eval.
# Each expect_error / expect_exit line holds the text the message must match
# (a grep pattern), so a changed message is changed here in one place.
. "${top_srcdir:?run me through make check}/tests/lib.sh"

cfg="$top_srcdir/examples/breast_cancer.cfg"

# 1. The command line: help and version exit 0, a wrong command line exits 2
#    with the usage or the word that is wrong; a missing model file exits 1.
expect_exit 0 "usage: dptrain" dptrain --help
expect_exit 0 "^dptrain [0-9]" dptrain --version
expect_exit 0 "usage: dptrain train" dptrain train --help
expect_exit 2 "usage: dptrain" dptrain
expect_exit 2 "unknown command 'frobnicate'" dptrain frobnicate
expect_exit 2 "no model file given" dptrain train
expect_exit 2 "unknown option '--bogus'" dptrain train "$cfg" --bogus
expect_exit 2 "--threads must be a number" dptrain train "$cfg" --threads zero
expect_error "/nonexistent.cfg: cannot read the model file" dptrain train /nonexistent.cfg

# The data files: good.h5 is a valid 40 x 30 binary data set (the example
# model's width); every other file differs from it in one way.
good="--rows 40 --features 30 --seed 0"
dpt_test data good.h5 $good
dpt_test data nan.h5 $good --x-at 17 4 nan
dpt_test data inf.h5 $good --x-at 33 0 inf
dpt_test data noy.h5 $good --no-y
dpt_test data rank5.h5 $good --x-shape 5,3,2,1
dpt_test data short.h5 $good --y-rows 39
dpt_test data badlabel.h5 $good --y-at 21 2
dpt_test data f64.h5 $good --x-dtype float64 --y-dtype int64
dpt_test data ints.h5 $good --x-dtype int16 --y-dtype uint8 --y-flat
dpt_test data wrongwidth.h5 --rows 40 --features 12 --seed 0
dpt_test data cls.h5 $good --kind classes --classes 3 --y-at 9 5
echo "this is not HDF5" > text.h5

# 2. A bad training file: the message names the file, and the dataset, row
#    or size that is wrong. t FILE gives the options that train the example
#    model on FILE for one epoch, with the good file as its test file.
t() { echo "--set data.train=$tmp/$1 --set data.test=$tmp/good.h5 --set train.epochs=1"; }
expect_error "text.h5: not an HDF5 file" dptrain train "$cfg" $(t text.h5) --out m.h5
expect_error "missing.h5" dptrain train "$cfg" $(t missing.h5) --out m.h5
expect_error "noy.h5.*'y'" dptrain train "$cfg" $(t noy.h5) --out m.h5
expect_error "rank5.h5.*'X'.*found 5 dimensions" dptrain train "$cfg" $(t rank5.h5) --out m.h5
expect_error "short.h5.*39.*40\|short.h5.*40.*39" dptrain train "$cfg" $(t short.h5) --out m.h5
expect_error "nan.h5.*row 17" dptrain train "$cfg" $(t nan.h5) --out m.h5
expect_error "inf.h5.*row 33" dptrain train "$cfg" $(t inf.h5) --out m.h5
expect_error "badlabel.h5: dataset 'y': row 21" dptrain train "$cfg" $(t badlabel.h5) --out m.h5
expect_error "'nope'" dptrain train "$cfg" $(t good.h5) --set data.x=nope --out m.h5

# 3. A test file whose width is not the training file's.
expect_error "wrongwidth.h5.*shape \[12\]; the model takes \[30\]" dptrain train "$cfg" $(t good.h5) --set data.test="$tmp/wrongwidth.h5" --out m.h5

# 4. An unknown loss: the message names where it was written, here the
#    --set that gave it (in a file, the file and its line).
expect_error "^dptrain: error: --set model.loss=nosuchloss: model.loss: no loss plugin named 'nosuchloss'" \
    dptrain train "$cfg" --set model.loss=nosuchloss --out m.h5

# 5. Other dtypes are converted, not refused: float64 X with int64 y, int16
#    X with uint8 y of shape [N]. (m.h5 is the model eval uses in case 7.)
expect_exit 0 "wrote" dptrain train "$cfg" $(t f64.h5) --out m.h5
expect_exit 0 "wrote" dptrain train "$cfg" $(t ints.h5) --out m2.h5

# 6. A label out of range for a 3-class softmax model names the row and label.
cat > cls.cfg <<CFG
data = { train = "cls.h5"; };
model = { layers = ( { type = "dense"; units = 3; activation = "softmax"; } );
          loss = "cce"; optimizer = "sgd"; };
train = { epochs = 1; batch = 8; };
CFG
expect_error "cls.h5: dataset 'y': row 9: label 5" dptrain train cls.cfg --out c.h5

# 7. eval and predict: a data file given as the model, a file that is not
#    HDF5, a data file of the wrong width or of images where the model takes
#    flat rows (both shapes named), predict without --out.
expect_error "good.h5: not a dptrain model file" dptrain eval good.h5 good.h5
expect_error "text.h5: not an HDF5 file" dptrain eval text.h5 good.h5
expect_error "wrongwidth.h5.*shape \[12\]; the model takes \[30\]" dptrain eval m.h5 wrongwidth.h5
expect_error "digits-test.h5: dataset 'X' holds samples of shape \[8, 8, 1\]; the model takes \[30\]" \
    dptrain predict m.h5 "$top_srcdir/data/digits-test.h5" --out p.h5
expect_exit 2 "--out PRED.h5 is required" dptrain predict m.h5 good.h5

# 7b. l2 on a layer whose first tensor is not trainable (batch norm without
#     gamma and beta: its first tensor is the moving mean) is refused with
#     the layer named, rather than regularizing state.
cat > l2state.cfg <<CFG
data = { train = "good.h5"; };
model = { layers = ( { type = "batch_norm"; center = false; scale = false; l2 = 0.1; },
                     { type = "dense"; units = 1; activation = "sigmoid"; } );
          loss = "bce"; optimizer = "sgd"; };
CFG
expect_error "l2state.cfg:2: layer 1 (batch_norm): 'l2' needs trainable weights" \
    dptrain train l2state.cfg --out l.h5

# 8. A model that diverges stops with a message naming the epoch and step,
#    and writes no model.
cat > diverge.cfg <<CFG
data = { train = "good.h5"; };
model = { layers = ( { type = "dense"; units = 1; } );
          loss = "mse"; optimizer = { type = "sgd"; learning_rate = 100000.0; }; };
train = { epochs = 50; batch = 8; };
CFG
expect_error "loss became .* at epoch [0-9]*, step [0-9]*" dptrain train diverge.cfg --out d.h5
check "a diverged run wrote no model" [ ! -e d.h5 ]
# With checkpoints written before it diverged, the error says they are kept
# and how to resume.
expect_error "loss became .* at epoch [0-9]*, step [0-9]*" dptrain train diverge.cfg --out d.h5 \
    --checkpoint ck.h5 --set train.checkpoint.every_steps=1
check "a diverged run points to its checkpoints" \
    grep -q "^dptrain: the checkpoints at ck.h5 are kept; once the cause is fixed, resume with: .*--resume auto" "$tmp/.err"

summary
