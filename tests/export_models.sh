# tests/export_models.sh: the small trained models that the export tests
# (export_onnx_checked.sh, export_onnx_runtime.sh) export, sourced after
# tests/lib.sh. Together they use every built-in layer and activation,
# data.scale, input and target standardization, images of one channel
# ([N, 8, 8] files) and flat rows, in the three layouts dptrain has ([F],
# [L, C], [H, W, C]). Each is trained for a few epochs only: the weights
# need to be trained (moving statistics away from 0 and 1), not good.
#
#   export_models         writes NAME.cfg and trains NAME.h5 for each NAME
#                         of $export_names; NAME.data is its data file
export_names="mlp reg cnn cnn2"

export_models() {
    dpt_test data mlp-data.h5 --rows 300 --features 10 --seed 3 --noise 0.2
    dpt_test data reg-data.h5 --rows 300 --features 6 --seed 4 --noise 0.1 \
        --kind regression --targets 2
    cp "$top_srcdir/data/digits-train.h5" digits.h5
    echo mlp-data.h5 > mlp.data
    echo reg-data.h5 > reg.data
    echo digits.h5 > cnn.data
    echo digits.h5 > cnn2.data
    # [F] rows: dense, batch_norm without its shift, dropout, activations
    # as layers of their own with settings, a final sigmoid fused with bce.
    cat > mlp.cfg <<'CFG'
data = { train = "mlp-data.h5"; standardize = true; scale = 0.5; };
model = {
  layers = ( { type = "dense"; units = 16; activation = "relu"; },
             { type = "batch_norm"; center = false; },
             { type = "dropout"; rate = 0.3; },
             { type = "leaky_relu"; alpha = 0.2; },
             { type = "dense"; units = 8; },
             { type = "elu"; alpha = 0.5; },
             { type = "dense"; units = 1; activation = "sigmoid"; } );
  loss = "bce"; optimizer = { type = "adam"; learning_rate = 0.01; };
};
train = { batch = 30; epochs = 3; seed = 7; };
CFG
    # Regression with standardized inputs and targets (2 columns): the
    # smooth activations.
    cat > reg.cfg <<'CFG'
data = { train = "reg-data.h5"; standardize = true; standardize_y = true; };
model = {
  layers = ( { type = "dense"; units = 12; activation = "gelu"; },
             { type = "dense"; units = 8; }, { type = "gelu"; approximate = "tanh"; },
             { type = "dense"; units = 8; activation = "softplus"; },
             { type = "dense"; units = 6; activation = "swish"; },
             { type = "dense"; units = 4; activation = "tanh"; },
             { type = "dense"; units = 2; activation = "linear"; } );
  loss = "mse"; optimizer = { type = "adam"; learning_rate = 0.01; };
};
train = { batch = 30; epochs = 3; seed = 7; };
CFG
    # [8, 8, 1] images scaled by 1/16: "same" and "valid" convolutions,
    # dilation, batch norm on channels, pooling with "same" padding (an
    # average over fewer cells on the border), flatten.
    cat > cnn.cfg <<'CFG'
data = { train = "digits.h5"; scale = 0.0625; };
model = {
  layers = ( { type = "conv2d"; filters = 8; kernel_size = 3; padding = "same"; activation = "relu"; },
             { type = "batch_norm"; },
             { type = "max_pool2d"; pool_size = 3; strides = 2; padding = "same"; },
             { type = "conv2d"; filters = 8; kernel_size = 2; dilation = 2; activation = "elu"; },
             { type = "avg_pool2d"; pool_size = 2; strides = 1; padding = "same"; },
             { type = "avg_pool2d"; pool_size = 2; },
             { type = "flatten"; },
             { type = "dropout"; rate = 0.2; },
             { type = "dense"; units = 10; activation = "softmax"; } );
  loss = "cce"; optimizer = { type = "adam"; learning_rate = 0.01; };
};
train = { batch = 32; epochs = 2; seed = 7; };
CFG
    # Standardized images: a strided convolution without bias, a softmax
    # over channels inside the network, reshape to [L, C] (with -1) for
    # conv1d and back to an image, global average pooling.
    cat > cnn2.cfg <<'CFG'
data = { train = "digits.h5"; standardize = true; };
model = {
  layers = ( { type = "conv2d"; filters = 6; kernel_size = 3; strides = 2; padding = "same"; use_bias = false; activation = "swish"; },
             { type = "softmax"; },
             { type = "reshape"; target_shape = "-1, 6"; },
             { type = "conv1d"; filters = 4; kernel_size = 3; padding = "same"; activation = "tanh"; },
             { type = "batch_norm"; scale = false; },
             { type = "reshape"; target_shape = "4, 4, 4"; },
             { type = "global_avg_pool2d"; },
             { type = "dense"; units = 10; activation = "softmax"; } );
  loss = "cce"; optimizer = { type = "adam"; learning_rate = 0.01; };
};
train = { batch = 32; epochs = 2; seed = 7; };
CFG
    for dpt__m in $export_names; do
        must dptrain train "$dpt__m.cfg" --out "$dpt__m.h5" -q
    done
}
