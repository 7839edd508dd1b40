#!/bin/sh
# `dptrain summary` shows what a model file builds, with the numbers one
# counts by hand: a dense layer of u units on inputs of width n (the last
# axis) has u * n + u parameters, dropout and activations none. The table
# and its JSON agree; the shape comes from data.train or --input-shape;
# errors name the file and line; no MPI is needed. `train` (its final line
# and --verbose table) and `inspect` report the same count: no alignment
# padding (the flat buffer holds 432 floats for the breast-cancer model).
. "${top_srcdir:?run me through make check}/tests/lib.sh"

bc=$top_srcdir/examples/breast_cancer.cfg
F=$("$PYTHON" -c 'import h5py, sys; print(h5py.File(sys.argv[1])["X"].shape[1])' \
    "$top_srcdir/data/breast_cancer-train.h5")
# The example: F -> dense 10 (relu) -> dense 8 (relu) -> dense 1 (sigmoid).
p1=$((10 * F + 10)) p2=$((8 * 10 + 8)) p3=$((1 * 8 + 1))
total=$((p1 + p2 + p3))
# Bytes as Keras writes them: float32, powers of 1024 with two decimals.
kb=$(awk -v n="$total" 'BEGIN { printf "%.2f KB", 4 * n / 1024 }')

# 1. The table: one row per entry with its output shape and count, then the
#    totals, all trainable, with the memory they take.
must dptrain summary "$bc"
cp log bc.txt
check "input [$F], from data.train's X" grep -x "Model: $bc, input \[$F\]" bc.txt
check "row 1: dense (relu) [10] $p1" grep -E "^ +1  dense \(relu\) +\[10\] +$p1\$" bc.txt
check "row 2: dense (relu) [8] $p2" grep -E "^ +2  dense \(relu\) +\[8\] +$p2\$" bc.txt
check "row 3: dense (sigmoid) [1] $p3" grep -E "^ +3  dense \(sigmoid\) +\[1\] +$p3\$" bc.txt
check "three rows, no more" test "$(grep -cE '^ +[0-9]+  ' bc.txt)" = 3
check "Total params: $total ($kb)" grep -x "Total params: $total ($kb)" bc.txt
check "Trainable params: $total ($kb)" grep -x "Trainable params: $total ($kb)" bc.txt
check "Non-trainable params: 0 (0.00 B)" grep -x "Non-trainable params: 0 (0.00 B)" bc.txt

# 2. --format json: one object that parses, with the same numbers.
must dptrain summary "$bc" --format json
cp log bc.json
check "JSON: the same layers, shapes and totals" "$PYTHON" - bc.json "$F" <<'PY'
import json, sys
o = json.load(open(sys.argv[1]))
F = int(sys.argv[2])
want = [(1, "dense", "relu", [10], 10 * F + 10), (2, "dense", "relu", [8], 88),
        (3, "dense", "sigmoid", [1], 9)]
got = [(l["index"], l["type"], l["activation"], l["output_shape"], l["params"])
       for l in o["layers"]]
assert got == want, got
assert all(l["trainable"] == l["params"] for l in o["layers"]), o["layers"]
assert o["input_shape"] == [F], o["input_shape"]
n = sum(w[4] for w in want)
assert o["totals"] == {"params": n, "trainable": n, "non_trainable": 0, "bytes": 4 * n}, o
print(o["totals"])
PY

# 3. Without a data file the shape comes from --input-shape; dense acts on
#    the last axis, so [8, 8, 3] -> [8, 8, 6] takes 6 * 3 + 6 floats. An
#    activation-only entry and dropout keep the shape and add nothing.
cat > nodata.cfg <<'CFG'
model = { layers = ( { type = "dense"; units = 6; activation = "relu"; },
                     { type = "dropout"; rate = 0.25; },
                     { type = "tanh"; },
                     { type = "dense"; units = 3; activation = "softmax"; } );
          loss = "cce"; optimizer = "adam"; };
CFG
must dptrain summary nodata.cfg --input-shape 8,8,3
cp log img.txt
check "--input-shape 8,8,3 is the input" grep -x "Model: nodata.cfg, input \[8, 8, 3\]" img.txt
check "dense on [8, 8, 3]: [8, 8, 6], $((6 * 3 + 6))" \
    grep -E "^ +1  dense \(relu\) +\[8, 8, 6\] +$((6 * 3 + 6))\$" img.txt
check "dropout: [8, 8, 6], 0" grep -E '^ +2  dropout +\[8, 8, 6\] +0$' img.txt
check "tanh alone: [8, 8, 6], 0" grep -E '^ +3  tanh +\[8, 8, 6\] +0$' img.txt
check "dense (softmax): [8, 8, 3], $((3 * 6 + 3))" \
    grep -E "^ +4  dense \(softmax\) +\[8, 8, 3\] +$((3 * 6 + 3))\$" img.txt
check "total $((6 * 3 + 6 + 3 * 6 + 3))" grep -x "Total params: $((6 * 3 + 6 + 3 * 6 + 3)) .*" img.txt
expect_error "nodata.cfg: no data.train to take the input shape from" dptrain summary nodata.cfg
expect_exit 2 "--input-shape takes 1 to 3 numbers" dptrain summary nodata.cfg --input-shape 8,0
expect_exit 2 "--input-shape takes 1 to 3 numbers" dptrain summary nodata.cfg --input-shape 1,2,3,4
expect_exit 2 "unknown option '--bogus'" dptrain summary nodata.cfg --bogus
expect_exit 2 "no model file given" dptrain summary

# 4. A bad model file is an error naming the file and the line.
printf 'model = { layers = (\n  { type = "dense"; units = 4; },\n  { type = "dense"; units = 0; } );\n  loss = "mse"; optimizer = "sgd"; };\n' > bad.cfg
expect_error "^dptrain: error: bad.cfg:3: layer 2 (dense): 'units'" \
    dptrain summary bad.cfg --input-shape 5
printf 'model = { layers = (\n  { type = "dense"; units = = 4; } );\n  loss = "mse"; optimizer = "sgd"; };\n' > syntax.cfg
expect_error "^dptrain: error: syntax.cfg:2: syntax error" dptrain summary syntax.cfg --input-shape 5
expect_error "^dptrain: error: .*nowhere.h5" dptrain summary "$bc" --set data.train=nowhere.h5

# 5. No MPI: with a PML that does not exist MPI_Init fails, so train fails,
#    while summary, which never starts MPI, still answers.
check "control: train cannot start MPI with OMPI_MCA_pml=nonexistent" ! \
    env OMPI_MCA_pml=nonexistent "$DPTRAIN" train "$bc" --set train.epochs=1 --out no.h5
check "summary runs without MPI" sh -c 'OMPI_MCA_pml=nonexistent "$DPTRAIN" summary "$1" > nompi.txt' \
    sh "$bc"
check "... and prints the same table" cmp nompi.txt bc.txt

# 6. One count everywhere: train's final line, inspect (text and JSON) and
#    summary agree with the hand count, on the example and on a model with
#    dropout and an activation-only entry (F2 -> 6 -> 3 classes).
F2=5
dpt_test data cls.h5 --rows 40 --features $F2 --kind classes --classes 3 --seed 2
sed 's/^model/data = { train = "cls.h5"; };\nmodel/' nodata.cfg > drop.cfg
for m in bc drop; do
    if [ $m = bc ]; then cfg=$bc n=$total; else cfg=drop.cfg n=$((6 * F2 + 6 + 3 * 6 + 3)); fi
    must dptrain train "$cfg" --set train.epochs=1 --out $m.h5
    check "$m: train: trained $n parameters" grep "^trained $n parameters in " log
    check "$m: train's RESULT line: params=$n" grep "^RESULT .* params=$n " log
    must dptrain inspect $m.h5
    check "$m: inspect: $n parameters" grep ", $n parameters, " log
    must dptrain inspect $m.h5 --format json
    check "$m: inspect --format json: $n" test "$(json_number parameters log)" = "$n"
    must dptrain summary "$cfg" --format json
    check "$m: summary: $n" "$PYTHON" -c \
        'import json, sys; t = json.load(open("log"))["totals"]; assert t["params"] == t["trainable"] == int(sys.argv[1]), t' "$n"
done

# 7. train --verbose prints the same table before the first epoch, once,
#    on 1 rank and on 2 (rank 0 only).
awk '/^Model: /, /^Non-trainable params: /' bc.txt > table.txt
for np in 1 2; do
    must mpirun_np $np "$DPTRAIN" train "$bc" --set train.epochs=1 --out v.h5 --verbose
    awk '/^Model: /, /^Non-trainable params: /' log > vtable.txt
    check "np=$np: train --verbose prints summary's table" cmp table.txt vtable.txt
    check "np=$np: ... before epoch 1" awk '/^Model: /{m = NR} /^epoch 1\//{e = NR} END {exit !(m && e && m < e)}' log
    check "np=$np: ... once" test "$(grep -c '^Model: ' log)" = 1
done

summary
