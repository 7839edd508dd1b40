# Cases of tests/bad_input_suite.sh: model files (libconfig text) and the
# saved models and checkpoints that train writes. Every refused case names
# the file and the line or key (or the dataset inside an HDF5 file); the
# damaged HDF5 files are written by damage_model.py from a model and a
# checkpoint trained here first.

# mcfg NAME DATA MODEL TRAIN: NAME.cfg with those three sections, one per
# line (data on line 1, model on line 2, train on line 3), so that a case
# can name the line its error is on. Empty arguments give the defaults
# below; "-" leaves the section out.
mcfg_data='data = { train = "train.h5"; };'
mcfg_layers='layers = ( { type = "dense"; units = 8; activation = "relu"; }, { type = "dense"; units = 1; activation = "sigmoid"; } );'
mcfg_model="model = { $mcfg_layers loss = \"bce\"; optimizer = \"adam\"; };"
mcfg_train='train = { batch = 40; epochs = 1; };'
mcfg() {
    : > "$1.cfg"
    for dpt__s in "${2:-$mcfg_data}" "${3:-$mcfg_model}" "${4:-$mcfg_train}"; do
        [ "$dpt__s" = - ] || echo "$dpt__s" >> "$1.cfg"
    done
}
# A model group with layers $1 (default: the two dense layers, without
# activations) and optimizer $2 (default "adam").
mcfg_plain='{ type = "dense"; units = 8; }, { type = "dense"; units = 1; activation = "sigmoid"; }'
model_with() {
    dpt__l=${1:-$mcfg_plain} dpt__o=${2:-'"adam"'}
    echo "model = { layers = ( $dpt__l ); loss = \"bce\"; optimizer = $dpt__o; };"
}

small_model m.cfg 'checkpoint = { path = "ck.h5"; };'
dptrain train m.cfg --out m.h5 -q > train.log 2>&1 || cat train.log
sed 's/units = 8/units = 5/; s/ck.h5/other_ck.h5/' m.cfg > other.cfg
dptrain train other.cfg --out other.h5 -q > train.log 2>&1 || cat train.log
"$PYTHON" "$top_srcdir/tests/bad-input/damage_model.py" m.h5 ck.h5 damaged > damage.log

# The good file and its settings, accepted: what every case below changes one thing of.
mcfg good
accepted good-model-file dptrain train good.cfg -q --out good.h5
accepted good-model-eval dptrain eval m.h5 train.h5
accepted good-checkpoint-eval dptrain eval ck.h5 train.h5
accepted good-inspect dptrain inspect ck.h5
accepted set-64-bit-seed dptrain train good.cfg -q --out good_seed.h5 --set train.seed=5000000000

### Wrong values: negative, zero, too large, NaN/inf, out of range.
mcfg batch_negative '' '' 'train = { batch = -1; };'
refused batch-negative 1 "batch_negative.cfg:3: train: 'batch' must be at least 1, got -1" dptrain train batch_negative.cfg
mcfg batch_zero '' '' 'train = { batch = 0; };'
refused batch-zero 1 "batch_zero.cfg:3: train: 'batch' must be at least 1, got 0" dptrain train batch_zero.cfg
# libconfig 1.5 keeps the low 32 bits of an integer written without L:
# 2^40 would read as 0, 4294967304 units as 8, without a word. (2^40 rows
# need more memory than any machine has, so the case is refused anywhere.)
mcfg batch_2_40 '' '' 'train = { batch = 1099511627776; };'
refused batch-2^40-not-cut-to-0 1 "batch_2_40.cfg: train.batch = 1099511627776.*work buffers.*layer 1 \(dense\).*bytes" dptrain train batch_2_40.cfg
mcfg batch_2_62 '' '' 'train = { batch = 4611686018427387904; };'
refused batch-2^62-no-overflow 1 "batch_2_62.cfg: train.batch = 4611686018427387904.*more than 2\^64 bytes" dptrain train batch_2_62.cfg
mcfg units_2_32 '' "$(model_with '{ type = "dense"; units = 4294967304; }')"
refused units-2^32+8-not-cut-to-8 1 "units_2_32.cfg:2: layer 1 \(dense\): 'units' must be in \[1, 1048576\], got 4294967304" dptrain train units_2_32.cfg
mcfg seed_beyond_64 '' '' 'train = { seed = 99999999999999999999; };'
refused integer-beyond-64-bits 1 "seed_beyond_64.cfg:3: the integer 99999999999999999999 does not fit in 64 bits" dptrain train seed_beyond_64.cfg
mcfg seed_beyond_64_L '' '' 'train = { seed = 99999999999999999999L; };'
refused integer-L-beyond-64-bits 1 "seed_beyond_64_L.cfg:3: the integer 99999999999999999999L does not fit" dptrain train seed_beyond_64_L.cfg
mcfg lr_negative '' "$(model_with '' '{ type = "adam"; learning_rate = -0.1; }')"
refused lr-negative 1 "lr_negative.cfg:2: optimizer \(adam\): 'learning_rate' must be in \[0, 1e\+06\], got -0.1" dptrain train lr_negative.cfg
mcfg clip_inf '' '' 'train = { clip_norm = 1e999; };'
refused clip-norm-inf 1 "clip_inf.cfg:3: train: 'clip_norm' must be a finite number, got inf" dptrain train clip_inf.cfg
mcfg lr_nan '' "$(model_with '' '{ type = "adam"; learning_rate = nan; }')"
refused lr-nan-syntax 1 "lr_nan.cfg:2: syntax error" dptrain train lr_nan.cfg
mcfg split_out_of_range 'data = { train = "train.h5"; validation_split = 1.5; };'
refused validation-split-1.5 1 "split_out_of_range.cfg:1: data: 'validation_split' must be in \[0, 0.99\], got 1.5" dptrain train split_out_of_range.cfg
mcfg cache_choice 'data = { train = "train.h5"; cache = "sometimes"; };'
refused cache-not-a-choice 1 "cache_choice.cfg:1: data: 'cache' must be \"auto\", \"none\" or \"all\", got \"sometimes\"" dptrain train cache_choice.cfg
mcfg dropout_rate '' "$(model_with '{ type = "dropout"; rate = 1.0; }, { type = "dense"; units = 1; activation = "sigmoid"; }')"
refused dropout-rate-1 1 "dropout_rate.cfg:2: layer 1 \(dropout\): 'rate' must be in \[0, 0.999\], got 1" dptrain train dropout_rate.cfg
mcfg train_empty 'data = { train = ""; };'
refused empty-data-file-name 1 "train_empty.cfg:1: data: 'train' must not be empty" dptrain train train_empty.cfg
mcfg x_empty 'data = { train = "train.h5"; x = ""; };'
refused empty-dataset-name 1 "x_empty.cfg:1: data: 'x' must not be empty" dptrain train x_empty.cfg
mcfg ckpt_path_empty '' '' 'train = { checkpoint = { path = ""; }; };'
refused empty-checkpoint-path 1 "ckpt_path_empty.cfg:3: train.checkpoint: 'path' must not be empty" dptrain train ckpt_path_empty.cfg
long=$(printf "%05000d" 0)
mcfg train_long "data = { train = \"$long.h5\"; };"
refused very-long-file-name 1 "train_long.cfg:1: data: 'train' is 5003 characters long" dptrain train train_long.cfg
mcfg activation_empty '' "$(model_with '{ type = "dense"; units = 1; activation = ""; }')"
refused empty-activation 1 "activation_empty.cfg:2: layer 1: no activation plugin named ''" dptrain train activation_empty.cfg

### Wrong types.
mcfg batch_string '' '' 'train = { batch = "32"; };'
refused string-for-integer 1 "batch_string.cfg:3: train: 'batch' must be an integer, found a string" dptrain train batch_string.cfg
mcfg batch_list '' '' 'train = { batch = [ 32 ]; };'
refused list-for-integer 1 "batch_list.cfg:3: train: 'batch' must be an integer, found a list" dptrain train batch_list.cfg
mcfg batch_float '' '' 'train = { batch = 32.5; };'
refused float-for-integer 1 "batch_float.cfg:3: train: 'batch' must be an integer, found a number" dptrain train batch_float.cfg
mcfg shuffle_int 'data = { train = "train.h5"; shuffle = 1; };'
refused integer-for-bool 1 "shuffle_int.cfg:1: data: 'shuffle' must be true or false, found an integer" dptrain train shuffle_int.cfg
mcfg lr_string '' "$(model_with '' '{ type = "adam"; learning_rate = "fast"; }')"
refused string-for-number 1 "lr_string.cfg:2: optimizer \(adam\): 'learning_rate' must be a number, found a string" dptrain train lr_string.cfg
mcfg layers_group '' 'model = { layers = { type = "dense"; units = 1; }; loss = "bce"; optimizer = "adam"; };'
refused group-for-list 1 "layers_group.cfg:2: model: 'layers' must be a non-empty list" dptrain train layers_group.cfg
mcfg layers_empty '' 'model = { layers = (); loss = "bce"; optimizer = "adam"; };'
refused empty-list 1 "layers_empty.cfg:2: model: 'layers' must be a non-empty list" dptrain train layers_empty.cfg
mcfg train_string '' '' 'train = "fast";'
refused string-for-group 1 "train_string.cfg:3: top level: 'train' must be a group \{ ... \}, found a string" dptrain train train_string.cfg
mcfg ckpt_list '' '' 'train = { checkpoint = ( 1, 2 ); };'
refused list-for-group 1 "ckpt_list.cfg:3: train: 'checkpoint' must be a group \{ ... \}, found a list" dptrain train ckpt_list.cfg
mcfg layer_not_group '' "$(model_with '"dense"')"
refused string-for-layer 1 "layer_not_group.cfg:2: model: layer 1 must be a group with a type" dptrain train layer_not_group.cfg
mcfg metrics_number '' "model = { $mcfg_layers loss = \"bce\"; optimizer = \"adam\"; metrics = 3; };"
refused number-for-metrics 1 "metrics_number.cfg:2: model: 'metrics' must be a list" dptrain train metrics_number.cfg

### Unknown keys at every level, with the key a typo stands for.
mcfg unknown_top '' '' 'trian = { epochs = 1; };'
refused unknown-top-level 1 "unknown_top.cfg:3: top level: unknown key 'trian' \(it takes: [^)]*\); did you mean 'train'\?" dptrain train unknown_top.cfg
mcfg unknown_data 'data = { train = "train.h5"; standardise = true; };'
refused unknown-data-key 1 "unknown_data.cfg:1: data: unknown key 'standardise' \(it takes: [^)]*\); did you mean 'standardize'\?" dptrain train unknown_data.cfg
mcfg unknown_model '' "model = { $mcfg_layers loss = \"bce\"; optimiser = \"adam\"; };"
refused unknown-model-key 1 "unknown_model.cfg:2: model: unknown key 'optimiser' \(it takes: [^)]*\); did you mean 'optimizer'\?" dptrain train unknown_model.cfg
mcfg unknown_layer '' "$(model_with '{ type = "dense"; unit = 8; }')"
refused unknown-layer-key 1 "unknown_layer.cfg:2: layer 1 \(dense\): unknown key 'unit' \(it takes: [^)]*\); did you mean 'units'\?" dptrain train unknown_layer.cfg
mcfg unknown_layer_far '' "$(model_with '{ type = "dense"; units = 8; colour = "red"; }, { type = "dense"; units = 1; }')"
refused unknown-layer-key-no-match 1 "unknown_layer_far.cfg:2: layer 1 \(dense\): unknown key 'colour' \(it takes: units" dptrain train unknown_layer_far.cfg
mcfg unknown_train '' '' 'train = { epoch = 3; };'
refused unknown-train-key 1 "unknown_train.cfg:3: train: unknown key 'epoch' \(it takes: [^)]*\); did you mean 'epochs'\?" dptrain train unknown_train.cfg
mcfg unknown_ckpt '' '' 'train = { checkpoint = { path = "c.h5"; evry_steps = 3; }; };'
refused unknown-checkpoint-key 1 "unknown_ckpt.cfg:3: train.checkpoint: unknown key 'evry_steps' \(it takes: [^)]*\); did you mean 'every_steps'\?" dptrain train unknown_ckpt.cfg
mcfg unknown_es '' '' 'train = { early_stopping = { monitor = "loss"; patiense = 3; }; };'
refused unknown-early-stopping-key 1 "unknown_es.cfg:3: train.early_stopping: unknown key 'patiense' \(it takes: [^)]*\); did you mean 'patience'\?" dptrain train unknown_es.cfg
mcfg unknown_rop '' '' 'train = { reduce_lr_on_plateau = { factr = 0.5; }; };'
refused unknown-plateau-key 1 "unknown_rop.cfg:3: train.reduce_lr_on_plateau: unknown key 'factr' \(it takes: [^)]*\); did you mean 'factor'\?" dptrain train unknown_rop.cfg
mcfg unknown_sched '' '' 'train = { lr_schedule = { type = "step"; decay_step = 10; }; };'
refused unknown-schedule-key 1 "unknown_sched.cfg:3: train.lr_schedule: unknown key 'decay_step' \(it takes: [^)]*\); did you mean 'decay_steps'\?" dptrain train unknown_sched.cfg
mcfg unknown_opt '' "$(model_with '' '{ type = "adam"; learning_rat = 0.1; }')"
refused unknown-optimizer-key 1 "unknown_opt.cfg:2: optimizer \(adam\): unknown key 'learning_rat' \(it takes: [^)]*\); did you mean 'learning_rate'\?" dptrain train unknown_opt.cfg
mcfg unknown_plugin '' "$(model_with '{ type = "dens"; units = 8; }')"
refused unknown-layer-type 1 "unknown_plugin.cfg:2: layer 1: .*'dens'" dptrain train unknown_plugin.cfg

### Missing required keys.
mcfg no_model '' -
refused no-model-section 1 "no_model.cfg: top level: no 'model' section" dptrain train no_model.cfg
mcfg no_loss '' "model = { $mcfg_layers optimizer = \"adam\"; };"
refused no-loss 1 "no_loss.cfg:2: model: 'loss' must name a loss" dptrain train no_loss.cfg
mcfg no_optimizer '' "model = { $mcfg_layers loss = \"bce\"; };"
refused no-optimizer 1 "no_optimizer.cfg:2: model: 'optimizer' must name an optimizer" dptrain train no_optimizer.cfg
mcfg no_units '' "$(model_with '{ type = "dense"; }')"
refused no-units 1 "no_units.cfg:2: layer 1 \(dense\): 'units' is required" dptrain train no_units.cfg
mcfg no_type '' "$(model_with '{ units = 8; }')"
refused layer-without-type 1 "no_type.cfg:2: model: layer 1 must be a group with a type" dptrain train no_type.cfg
mcfg no_train_file 'data = { };'
refused no-training-data 1 "no_train_file.cfg: no training data: set data.train" dptrain train no_train_file.cfg

### Conflicting settings.
mcfg both_validation 'data = { train = "train.h5"; validation = "train.h5"; validation_split = 0.2; };'
refused validation-and-split 1 "both_validation.cfg:1: data: give 'validation' \(a file\) or 'validation_split'" dptrain train both_validation.cfg
mcfg ckpt_no_path '' '' 'train = { checkpoint = { every_steps = 3; }; };'
refused checkpoint-without-path 1 "ckpt_no_path.cfg: train.checkpoint has no path" dptrain train ckpt_no_path.cfg
mcfg layer_key_unread '' "$(model_with '{ type = "dense"; units = 8; rate = 0.5; }, { type = "dense"; units = 1; }')"
refused layer-key-plugin-does-not-read 1 "layer_key_unread.cfg:2: layer 1 \(dense\): unknown key 'rate'" dptrain train layer_key_unread.cfg
mcfg l2_no_weights '' "$(model_with '{ type = "dropout"; l2 = 0.1; }, { type = "dense"; units = 1; activation = "sigmoid"; }')"
refused l2-on-layer-without-weights 1 "l2_no_weights.cfg:2: layer 1 \(dropout\): 'l2' needs trainable weights" dptrain train l2_no_weights.cfg
mcfg cce_no_softmax '' "model = { $mcfg_layers loss = \"cce\"; optimizer = \"adam\"; };"
refused fused-loss-without-its-activation 1 "cce_no_softmax.cfg:2: model.loss \"cce\" needs the last layer to end in activation = \"softmax\"" dptrain train cce_no_softmax.cfg

### Syntax errors, empty and binary files, a folder.
printf 'data = { train = "train.h5"; };\nmodel = {\n  layers = ( { type = "dense"; units = 8 } )\n  loss = "bce"; ;\n};\n' > syntax.cfg
refused syntax-error-line 1 "syntax.cfg:4: syntax error" dptrain train syntax.cfg
printf 'data = { train = "train.h5";\n' > unclosed.cfg
refused unclosed-group 1 "unclosed.cfg:[12]: syntax error" dptrain train unclosed.cfg
: > empty.cfg
refused empty-file 1 "empty.cfg: top level: no 'model' section" dptrain train empty.cfg
head -c 4096 /dev/urandom > garbage.cfg
refused binary-garbage 1 "garbage.cfg(:[0-9]+)?: (a NUL byte|syntax error)" dptrain train garbage.cfg
refused hdf5-file-as-model-file 1 "m.h5:[0-9]+: a NUL byte: a model file is text" dptrain train m.h5
mkdir -p a_folder.cfg
refused folder-as-model-file 1 "a_folder.cfg.*: cannot read the model file: it is a folder" dptrain train a_folder.cfg
refused device-as-model-file 1 "/dev/zero: more than 1048576 bytes" dptrain train /dev/zero
refused summary-of-binary 1 "garbage.cfg" dptrain summary garbage.cfg

### Huge sizes, refused before anything is allocated.
mcfg units_1e12 '' "$(model_with '{ type = "dense"; units = 1000000000000; }')"
refused dense-10^12-units 1 "units_1e12.cfg:2: layer 1 \(dense\): 'units' must be in \[1, 1048576\], got 1000000000000: its weights alone would take 2.4e\+13 bytes" dptrain train units_1e12.cfg
printf '%s\nmodel = {\n  layers = ( { type = "dense"; units = 1048576; },\n    { type = "dense"; units = 1048576; } );\n  loss = "mse"; optimizer = "adam"; };\n' "$mcfg_data" > params_1e12.cfg
refused 10^12-parameters 1 "params_1e12.cfg:4: layer 2 \(dense\): 1099512676352 parameters take 4.0 TiB \(4398050705408 bytes\).*the model needs 16.0 TiB \([0-9]+ bytes\), and .* \([0-9]+ bytes\) can be allocated \(MemAvailable, cgroup and ulimit\)" dptrain train params_1e12.cfg
refused 10^12-parameters-summary 1 "params_1e12.cfg:4: layer 2 \(dense\): 1099512676352 parameters" dptrain summary params_1e12.cfg

### The same wrong values through --set (relative to good.cfg): blamed on the --set
### as typed, not on the file, whose line the value never had.
refused set-batch-negative 1 "^dptrain: error: --set train.batch=-1: train: 'batch' must be at least 1, got -1" dptrain train good.cfg --set train.batch=-1
refused set-batch-string 1 "^dptrain: error: --set train.batch=many: train: 'batch' must be an integer, found a string" dptrain train good.cfg --set train.batch=many
refused set-batch-float 1 "^dptrain: error: --set train.batch=2.5: train: 'batch' must be an integer, found a number" dptrain train good.cfg --set train.batch=2.5
refused set-batch-2^40 1 "good.cfg: train.batch = 1099511627776.*work buffers" dptrain train good.cfg --set train.batch=1099511627776
refused set-beyond-64-bits 1 "--set 'train.seed=99999999999999999999': the integer does not fit in 64 bits" dptrain train good.cfg --set train.seed=99999999999999999999
refused set-clip-inf 1 "--set train.clip_norm=inf: train: 'clip_norm' must be a finite number, got inf" dptrain train good.cfg --set train.clip_norm=1e999
refused set-nan 1 "--set train.clip_norm=nan: train: 'clip_norm' must be a number, found a string" dptrain train good.cfg --set train.clip_norm=nan
refused set-key-of-a-string 1 "--set 'model.optimizer.learning_rate=0.1': 'model.optimizer' is not a group" dptrain train good.cfg --set model.optimizer.learning_rate=0.1
refused set-unknown-key 1 "--set train.epoch=3: train: unknown key 'epoch' \(it takes: [^)]*\); did you mean 'epochs'\?" dptrain train good.cfg --set train.epoch=3
refused set-unknown-layer-key 1 "--set model.layers.\[0\].unit=3: layer 1 \(dense\): unknown key 'unit' \(it takes: [^)]*\); did you mean 'units'\?" dptrain train good.cfg --set model.layers.[0].unit=3
refused set-empty-train 1 "--set data.train=: data: 'train' must not be empty" dptrain train good.cfg --set 'data.train=""'
refused set-both-validation 1 "--set data.validation=train.h5: data: give 'validation' \(a file\) or 'validation_split'" dptrain train good.cfg --set data.validation=train.h5 --set data.validation_split=0.2
refused set-list-entry-missing 1 "--set 'model.layers.\[5\].units=3': 'model.layers' has 2 entries" dptrain train good.cfg --set model.layers.[5].units=3
refused set-no-equals 2 "--set 'train.batch': no '='; expected SECTION.KEY=VALUE" dptrain train good.cfg --set train.batch

### Saved models and checkpoints: damaged files (damage_model.py says how
### each was made) given to eval, inspect, predict and train --resume. eval
### and predict load a model the same way (dpt_model_load), so predict
### gets a few of them; a checkpoint's damages are checked by inspect and
### by a resume (below), and by eval for those only a checkpoint can have.
damaged_model() {
    dpt__d=damaged/$1.h5 dpt__p=$2
    for dpt__cmd in $3; do
        case $dpt__cmd in
        eval) refused "eval-$1" 1 "$dpt__d:.*$dpt__p" dptrain eval "$dpt__d" train.h5 ;;
        predict) refused "predict-$1" 1 "$dpt__d:.*$dpt__p" dptrain predict "$dpt__d" train.h5 --out pred.h5 ;;
        inspect) refused "inspect-$1" 1 "$dpt__d:.*$dpt__p" dptrain inspect "$dpt__d" ;;
        esac
    done
}
for kind in model ckpt; do
    if [ $kind = model ]; then cmds="eval inspect"; else cmds=inspect; fi
    damaged_model ${kind}_truncated_half "not an HDF5 file \(or a truncated one\)" "$cmds predict"
    damaged_model ${kind}_truncated_head "not an HDF5 file \(or a truncated one\)" "$cmds"
    damaged_model ${kind}_empty_file "not an HDF5 file \(or a truncated one\)" "$cmds"
    damaged_model ${kind}_no_config "damaged model file \(no /config or n_inputs\)" "$cmds"
    damaged_model ${kind}_no_layers "no group /layers/00_dense" "$cmds"
    damaged_model ${kind}_layer_renamed "no group /layers/00_dense" "$cmds"
    damaged_model ${kind}_no_tensor "missing dataset /layers/00_dense/weight" "$cmds predict"
    damaged_model ${kind}_wrong_shape "/layers/00_dense/weight has shape \[9, 6\]; the model needs \[8, 6\]" "$cmds"
    damaged_model ${kind}_config_units "/layers/00_dense/weight has shape \[8, 6\]; the model needs \[9, 6\]" "$cmds"
    damaged_model ${kind}_dtype_int32 "/layers/00_dense/weight holds int32; model files store float32" "$cmds predict"
    damaged_model ${kind}_dtype_float64 "/layers/00_dense/weight holds float64; model files store float32" "$cmds"
    damaged_model ${kind}_dtype_string "/layers/00_dense/weight has shape \[8\]" "$cmds"
    damaged_model ${kind}_format_version "dptrain-(model|checkpoint) format version 99; this dptrain reads version 1" "$cmds"
    damaged_model ${kind}_format_version_string "no integer attribute format_version" "$cmds"
    damaged_model ${kind}_no_format "not a dptrain model file" "$cmds"
    damaged_model ${kind}_format_other "not a dptrain model file" "$cmds"
    damaged_model ${kind}_mean_length "/standardize/mean must be float64 \[6\]" "$cmds"
    damaged_model ${kind}_std_zero "/standardize/std\[0\] is 0" "$cmds predict"
    damaged_model ${kind}_n_inputs "input_shape does not fit n_inputs = 7" "$cmds"
done
# The stored model text: its errors name the file and /config.
damaged_model model_config_syntax "/config:2: syntax error" "eval inspect"
damaged_model model_config_empty "/config: top level: no 'model' section" "eval inspect"
# What only a checkpoint holds: eval and predict check it as a resume does.
damaged_model ckpt_no_optimizer "damaged checkpoint: no /optimizer" "eval inspect"
damaged_model ckpt_optimizer_shape "/optimizer/state has shape \[2, 3\]" "eval inspect"
damaged_model ckpt_no_train "damaged checkpoint: /train or the checksum is missing" "eval inspect"
damaged_model ckpt_no_checksum "damaged checkpoint: /train or the checksum is missing" "eval inspect"
damaged_model ckpt_checksum "checksum mismatch" "eval predict inspect"
damaged_model ckpt_weight_nan "checksum mismatch" "eval inspect"
damaged_model ckpt_step "checksum mismatch" "eval inspect"

for f in damaged/ckpt_*.h5; do
    name=$(basename "$f" .h5)
    case $name in
    *config_units) want="cannot resume: .*model.layers.\[0\].units 9 -> 8" ;;
    *no_config) want="$f: damaged file: no /config" ;;
    *config*) want="$f:/config" ;;
    *) want="$f: " ;;
    esac
    refused "resume-$name" 1 "$want" dptrain train m.cfg -q --resume "$f" --out resumed.h5
done
refused resume-checkpoint-of-another-model 1 "other_ck.h5: /layers/00_dense/weight has shape \[5, 6\]; the model needs \[8, 6\]" dptrain train m.cfg -q --resume other_ck.h5 --out resumed.h5
refused init-from-another-model 1 "other.h5: /layers/00_dense/weight has shape \[5, 6\]; the model needs \[8, 6\]" dptrain train m.cfg -q --init other.h5 --out resumed.h5 --checkpoint init_ck.h5
refused resume-from-a-model 1 "m.h5: a trained model, not a checkpoint" dptrain train m.cfg -q --resume m.h5 --out resumed.h5
refused resume-from-a-data-file 1 "train.h5: not a dptrain model file" dptrain train m.cfg -q --resume train.h5 --out resumed.h5
refused eval-data-file-as-model 1 "train.h5: not a dptrain model file" dptrain eval train.h5 train.h5
accepted inspect-data-file dptrain inspect train.h5
refused eval-folder-as-model 1 "damaged: a folder, not a model file" dptrain eval damaged train.h5
refused eval-missing-model 1 "nothing.h5.*: No such file or directory" dptrain eval nothing.h5 train.h5
