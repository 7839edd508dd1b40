#!/bin/sh
# Errors about files name the path as given and, when it is relative, the
# absolute path it was resolved to ("PATH (resolved as /ABS): ..."): a model
# file copied elsewhere whose relative data path no longer reaches the
# data, and every other path a user gives (model file, --out, --resume,
# --init, train.log, eval/predict/inspect arguments).
. "${top_srcdir:?run me through make check}/tests/lib.sh"

here=$(pwd -P)
mkdir -p x/y
cp "$top_srcdir/examples/iris.cfg" x/y/model.cfg   # data.train = "../data/iris-train.h5"
ok_cfg="$top_srcdir/examples/iris.cfg"

# 1. The copied model file: its data path is joined to the file's folder,
#    and the message says which absolute file was looked for.
expect_error "x/y/../data/iris-train.h5 (resolved as $here/x/data/iris-train.h5): no such file" \
    dptrain train x/y/model.cfg --out m.h5

# 1b. A path given with --set is the command line's, so relative to the
#     current folder (not to the model file's, as the same path written in
#     the file would be).
expect_error "^dptrain: error: data/iris-train.h5 (resolved as $here/data/iris-train.h5): no such file" \
    dptrain train x/y/model.cfg --set data.train=data/iris-train.h5 --out m.h5

# 2. The model file itself, and files given on the command line.
expect_error "x/../nomodel.cfg (resolved as $here/nomodel.cfg): cannot read the model file" \
    dptrain train x/../nomodel.cfg
expect_error "x/../none.h5 (resolved as $here/none.h5): No such file or directory" \
    dptrain inspect x/../none.h5
expect_error "none.h5 (resolved as $here/none.h5): No such file or directory" \
    dptrain eval none.h5 "$top_srcdir/data/iris-test.h5"
expect_error "\./none.h5 (resolved as $here/none.h5): No such file or directory" \
    dptrain train "$ok_cfg" --resume ./none.h5
expect_error "x/none.h5 (resolved as $here/x/none.h5): No such file or directory" \
    dptrain train "$ok_cfg" --init x/none.h5
# (A missing folder of an output is made: tests/outputs_fail_fast.sh. A
# folder that is a file is the error.)
touch afile
expect_error "out afile/m.h5 (resolved as $here/afile/m.h5): cannot make its folder afile (resolved as $here/afile): Not a directory" \
    dptrain train "$ok_cfg" --set train.epochs=1 --out afile/m.h5
expect_error "train.log afile/l.csv (resolved as $here/afile/l.csv)" \
    dptrain train "$ok_cfg" --set train.epochs=1 --set train.log=afile/l.csv --out m.h5

# 3. An absolute path is shown as it is.
expect_error "dptrain: error: /nonexistent/none.h5: No such file or directory" \
    dptrain inspect /nonexistent/none.h5

summary
