# Cases of tests/bad_input_suite.sh: settings that do not fit together,
# refused at start-up (exit 1) by src/train/consistency.c or the loss
# plugins' checks, before any step, instead of training without a word
# (a nan metric, a callback that never fires). Each message names the model
# file, what the setting expects, what the data or model holds and what to
# write instead. The accepted cases are their close neighbours that are right.
data="$top_srcdir/data"
# chk_cfg FILE DATA LAYERS LOSS [TRAIN_EXTRA] [DATA_EXTRA]: a one-epoch model file.
chk_cfg() {
    cat > "$1" <<CFG
data = { train = "$2"; ${6:-} };
model = { layers = ( $3 );
          loss = "$4"; optimizer = { type = "adam"; learning_rate = 0.01; }; };
train = { batch = 32; epochs = 1; seed = 1; ${5:-} };
CFG
}
dense3sm='{ type = "dense"; units = 3; activation = "softmax"; }'
dense1='{ type = "dense"; units = 1; }'
flat='{ type = "flatten"; },'

# Loss, labels and outputs.
chk_cfg c-mse-labels.cfg "$data/iris-train.h5" "$dense3sm" mse
refused mse-on-class-labels 1 'c-mse-labels.cfg:[0-9]+: model.loss "mse" compares each of the model.s 3 outputs .* integer class labels; for classes write loss = "cce"' \
    dptrain train c-mse-labels.cfg --out x.h5
chk_cfg c-mse-width.cfg "$data/diabetes-train.h5" '{ type = "dense"; units = 3; }' mse
refused mse-3-outputs-one-target 1 'c-mse-width.cfg:[0-9]+: model.loss "mse" .* one column of float targets; for one target per row give the last layer units = 1' \
    dptrain train c-mse-width.cfg --out x.h5
chk_cfg c-bce-digits.cfg "$data/digits-train.h5" "$flat { type = \"dense\"; units = 1; activation = \"sigmoid\"; }" bce
refused bce-on-labels-0-9 1 "digits-train.h5: dataset 'y': row [0-9]+: target [2-9] is outside \[0, 1\] .*softmax output of K units and loss \"cce\"" \
    dptrain train c-bce-digits.cfg --out x.h5
chk_cfg c-cce-regression.cfg "$data/diabetes-train.h5" "$dense3sm" cce
refused cce-on-regression-targets 1 "diabetes-train.h5: dataset 'y': row [0-9]+: label [0-9.]+ is (not an integer|out of range).*for regression targets use loss \"mse\"" \
    dptrain train c-cce-regression.cfg --out x.h5
chk_cfg c-bce-width.cfg "$data/breast_cancer-train.h5" '{ type = "dense"; units = 3; activation = "sigmoid"; }' bce
refused bce-outputs-not-y-columns 1 'breast_cancer-train.h5: the targets have 1 columns; binary cross-entropy needs one target per sigmoid output, 3' \
    dptrain train c-bce-width.cfg --out x.h5
chk_cfg c-cce-one-output.cfg "$data/iris-train.h5" '{ type = "dense"; units = 1; activation = "softmax"; }' cce
refused cce-one-output 1 'iris-train.h5: categorical cross-entropy needs at least 2 outputs' \
    dptrain train c-cce-one-output.cfg --out x.h5
chk_cfg c-std-y.cfg "$data/iris-train.h5" "$dense3sm" cce "" "standardize_y = true;"
refused standardize-y-class-labels 1 'c-std-y.cfg:[0-9]+: data.standardize_y standardizes regression targets, but loss .cce. takes class labels' \
    dptrain train c-std-y.cfg --out x.h5
chk_cfg c-mse-int.cfg "$data/iris-train.h5" "$dense1" mse
accepted mse-one-output-on-integer-targets dptrain train c-mse-int.cfg --out x.h5 --quiet

# Metrics that cannot be computed.
chk_cfg c-acc-mse.cfg "$data/diabetes-train.h5" "$dense1" mse
sed -i 's/loss = "mse";/loss = "mse"; metrics = [ "accuracy" ];/' c-acc-mse.cfg
refused accuracy-with-mse 1 'c-acc-mse.cfg:[0-9]+: model.metrics asks for "accuracy", but loss .mse. counts no hits' \
    dptrain train c-acc-mse.cfg --out x.h5

# Callbacks that watch a metric that never has a value.
chk_cfg c-es.cfg "$data/breast_cancer-train.h5" '{ type = "dense"; units = 1; activation = "sigmoid"; }' bce \
    'early_stopping = { monitor = "val_loss"; patience = 2; };'
refused early-stopping-val-loss-no-validation 1 'c-es.cfg:[0-9]+: early_stopping monitors val_loss but there is no validation data; set data.validation or validation_split, or monitor loss$' \
    dptrain train c-es.cfg --out x.h5
# A group without 'monitor' watches val_loss, as Keras' EarlyStopping does.
chk_cfg c-es-default.cfg "$data/breast_cancer-train.h5" '{ type = "dense"; units = 1; activation = "sigmoid"; }' bce \
    'early_stopping = { patience = 2; };'
refused early-stopping-default-monitor-no-validation 1 'c-es-default.cfg:[0-9]+: early_stopping monitors val_loss but there is no validation data' \
    dptrain train c-es-default.cfg --out x.h5
refused early-stopping-val-accuracy-no-validation 1 'c-es.cfg:[0-9]+: early_stopping monitors val_accuracy but there is no validation data; .* or monitor accuracy$' \
    dptrain train c-es.cfg --set train.early_stopping.monitor=val_accuracy --out x.h5
accepted early-stopping-val-loss-with-split dptrain train c-es.cfg --set data.validation_split=0.2 --out x.h5 --quiet
accepted early-stopping-loss dptrain train c-es.cfg --set train.early_stopping.monitor=loss --out x.h5 --quiet
refused plateau-val-loss-no-validation 1 '--set train.reduce_lr_on_plateau.monitor=val_loss: reduce_lr_on_plateau monitors val_loss but there is no validation data; set data.validation or validation_split, or monitor loss$' \
    dptrain train c-es.cfg --set train.early_stopping.monitor=loss --set train.reduce_lr_on_plateau.monitor=val_loss --out x.h5
chk_cfg c-es-mse.cfg "$data/diabetes-train.h5" "$dense1" mse 'early_stopping = { monitor = "accuracy"; };'
refused early-stopping-accuracy-with-mse 1 'c-es-mse.cfg:[0-9]+: early_stopping monitors accuracy but loss .mse. counts no hits, so there is no accuracy; monitor loss$' \
    dptrain train c-es-mse.cfg --out x.h5
refused plateau-val-accuracy-with-mse 1 '--set train.reduce_lr_on_plateau.monitor=val_accuracy: reduce_lr_on_plateau monitors val_accuracy but loss .mse. counts no hits, so there is no accuracy; monitor val_loss$' \
    dptrain train c-es-mse.cfg --set train.early_stopping.monitor=loss --set data.validation_split=0.2 \
    --set train.reduce_lr_on_plateau.monitor=val_accuracy --out x.h5
refused validation-file-and-split 1 'not both' \
    dptrain train c-es.cfg --set data.validation="$data/breast_cancer-test.h5" --set data.validation_split=0.2 --out x.h5
