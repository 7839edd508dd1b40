#!/bin/sh
# Writes the seed corpus of the saved_model harness
# (tests/fuzz/seeds/saved_model/): small trained models and checkpoints
# made by the dptrain given, one of each kind of content the loaders read:
# a standardized MLP with Adam (model and checkpoint), a checkpoint with
# early stopping's best weights and reduce_lr_on_plateau's state, a
# regression with data.scale and standardize_y, a small CNN with SGD
# (no optimizer state), and batch_norm (its running statistics).
#
#     tests/fuzz/make_model_seeds.sh build/src/dptrain tests/fuzz/seeds/saved_model
#
# Like make_seeds.py, it is run by hand and its output kept in git.
set -eu
dptrain=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
out=$(mkdir -p "$2" && cd "$2" && pwd)
here=$(cd "$(dirname "$0")/.." && pwd)
python=${PYTHON:-python3}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"
export OMP_NUM_THREADS=1
"$python" "$here/dpt_test.py" data bin.h5 --rows 40 --features 4 --seed 1 --noise 0.3
"$python" "$here/dpt_test.py" data reg.h5 --rows 40 --features 3 --kind regression --targets 2 --seed 2
"$python" "$here/dpt_test.py" images img.h5 --rows 30 --shape 6,6 --classes 3

cat > mlp.cfg <<'CFG'
data = { train = "bin.h5"; standardize = true; };
model = { layers = ( { type = "dense"; units = 3; activation = "relu"; },
                     { type = "dense"; units = 1; activation = "sigmoid"; } );
          loss = "bce"; optimizer = { type = "adam"; learning_rate = 0.01; }; };
train = { batch = 10; epochs = 2; seed = 1; };
CFG
"$dptrain" train mlp.cfg --out "$out/mlp_adam_model.h5" --checkpoint c1.h5 --quiet
cp -L c1.h5 "$out/mlp_adam_checkpoint.h5"

"$dptrain" train mlp.cfg --out m2.h5 --checkpoint c2.h5 --quiet \
    --set train.early_stopping.monitor=loss --set train.early_stopping.restore_best_weights=true \
    --set train.reduce_lr_on_plateau.monitor=loss --set model.optimizer.type=rmsprop
cp -L c2.h5 "$out/callbacks_checkpoint.h5"

cat > reg.cfg <<'CFG'
data = { train = "reg.h5"; standardize = true; standardize_y = true; scale = 0.5; };
model = { layers = ( { type = "dense"; units = 2; activation = "linear"; } );
          loss = "mse"; optimizer = "sgd"; };
train = { batch = 10; epochs = 1; };
CFG
"$dptrain" train reg.cfg --out "$out/regression_scaled_model.h5" --quiet

cat > cnn.cfg <<'CFG'
data = { train = "img.h5"; scale = 0.0039; };
model = { layers = ( { type = "conv2d"; filters = 2; kernel_size = 3; activation = "relu"; },
                     { type = "max_pool2d"; pool_size = 2; },
                     { type = "flatten"; },
                     { type = "batch_norm"; },
                     { type = "dense"; units = 3; activation = "softmax"; } );
          loss = "cce"; optimizer = "sgd"; };
train = { batch = 10; epochs = 1; };
CFG
"$dptrain" train cnn.cfg --out "$out/cnn_model.h5" --checkpoint c3.h5 --quiet
cp -L c3.h5 "$out/cnn_sgd_checkpoint.h5"
ls -l "$out"
