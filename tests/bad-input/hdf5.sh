# Cases of tests/bad_input_suite.sh: HDF5 data files, written by
# tests/bad-input/h5cases.py (which says what each file holds). Each goes
# through train and, where a data file can be the cause, eval and predict
# with a model trained on a good file; inspect
# describes a data file (tests/inspect_data_like_numpy.sh). Every refusal names the file and the
# dataset. That accepted files also read right is tests/h5_layouts_read_right.sh.
mkdir -p hdf5 && cd hdf5
"$PYTHON" "$top_srcdir/tests/bad-input/h5cases.py"
cat > cls.cfg <<'EOF2'
model = {
  layers = ( { type = "dense"; units = 8; activation = "relu"; },
             { type = "dense"; units = 3; activation = "softmax"; } );
  loss = "cce";
  optimizer = { type = "sgd"; learning_rate = 0.1; };
};
data = { standardize = true; };
train = { batch = 16; epochs = 1; seed = 1; };
EOF2
sed -e 's/units = 3; activation = "softmax"/units = 1; activation = "sigmoid"/' \
    -e 's/"cce"/"bce"/' cls.cfg > bin.cfg
# A model to evaluate with, trained on the plain file.
"$DPTRAIN" train cls.cfg --set data.train=contig.h5 --out model.h5 > /dev/null

# Accepted: every layout and dtype of h5cases.py's ACCEPTED list; bool labels
# with a sigmoid model. Run from decoy/ for the files of sub/.
while IFS="$(printf '\t')" read -r f why; do
    cfg=cls.cfg
    case $f in y-bool.h5) cfg=bin.cfg ;; esac
    cd decoy
    accepted "train $f ($why)" dptrain train ../$cfg --set "data.train=../$f" --out ../out.h5 --overwrite
    cd ..
done < accepted.txt
cd decoy
for f in sub/elink.h5 sub/vds.h5 sub/efile.h5 x-uint8.h5 bigend.h5; do
    accepted "eval $f" dptrain eval ../model.h5 "../$f"
    accepted "predict $f" dptrain predict ../model.h5 "../$f" --out "../pred-$(echo "$f" | tr / _)"
done
cd ..

# Refused: what each file cannot be, through train, eval and predict. The
# pattern names the file and the dataset.
cat > refusals.txt <<'LIST'
empty.h5|'X' has no rows
scalar.h5|'X': expected 2 to 4 dimensions .* found 0
null.h5|'X': expected 2 to 4 dimensions .* found 0
group.h5|'X' is a group, not a dataset
strings.h5|'X' has dtype string; expected an integer or float
vlen-strings.h5|'X' has dtype string; expected an integer or float
compound.h5|'X' has dtype compound; expected an integer or float
opaque.h5|'X' has dtype opaque; expected an integer or float
nan.h5|'X': row 17, column 2 is NaN
nan-chunked.h5|'X': row 17, column 2 is NaN
inf.h5|'X': row 17, column 2 is Inf
inf-chunked.h5|'X': row 17, column 2 is Inf
mismatch.h5|'y' has 59 rows but 'X' has 60
unwritten.h5|'X' \(shape \[60, 4\]\) was never written
part-written.h5|'X' \(shape \[60, 4\]\) was only partly written: 2 of its 8 chunks
huge-rows.h5|'X' \(shape \[8589934592, 4\]\) was never written
huge-square.h5|'X' \(shape \[65536, 65536\]\) was never written
huge-row.h5|'X' \(shape \[2, 274877906944\]\) is too large for this rank: one row .* needs 3.0 TiB .* can be allocated
sub/elink-dangling.h5|'X' is an external link to '/X' in .*sub/missing.h5, which cannot be read
sub/vds-missing.h5|'X' is a virtual dataset whose source file 'vds-gone.h5' .*sub/vds-gone.h5. cannot be read
sub/vds-gap.h5|'X' \(shape \[60, 4\]\) is a virtual dataset that maps only 100 of its 240 values
sub/efile-missing.h5|'X' keeps its values in the external file 'efile-gone.raw' .*sub/efile-gone.raw.*cannot be read
sub/efile-short.h5|'X' keeps its values in the external file 'efile-short.raw' .*which is 480 bytes long; the dataset needs its bytes up to 960
LIST
cd decoy
while IFS='|' read -r f pattern; do
    refused "train $f" 1 "\.\./$f: dataset $pattern|\.\./$f: $pattern" \
        dptrain train ../cls.cfg --set "data.train=../$f" --out ../out.h5 --overwrite
    case $f in huge-*) continue ;; esac
    refused "eval $f" 1 "\.\./$f: (dataset )?$pattern" dptrain eval ../model.h5 "../$f"
    # predict reads no y: a y of the wrong length does not matter to it.
    case $f in mismatch.h5) continue ;; esac
    refused "predict $f" 1 "\.\./$f: (dataset )?$pattern" \
        dptrain predict ../model.h5 "../$f" --out "../pred-$(echo "$f" | tr / _)"
done < ../refusals.txt
# Filter plugins turned off (HDF5's own switch): lzf, accepted above, is
# refused in one line that names the filter and says why.
for cmd in "train ../cls.cfg --set data.train=../lzf.h5 --out ../out.h5 --overwrite" \
           "eval ../model.h5 ../lzf.h5" "predict ../model.h5 ../lzf.h5 --out ../pred-lzf.h5"; do
    # shellcheck disable=SC2086
    refused "${cmd%% *} lzf.h5, HDF5_PLUGIN_PRELOAD=::" 1 "\.\./lzf.h5: dataset 'X' is compressed with HDF5 filter lzf \(id 32000\), which cannot be decoded here: HDF5_PLUGIN_PRELOAD=:: turns HDF5's filter plugins off" \
        env HDF5_PLUGIN_PRELOAD=:: "$DPTRAIN" $cmd
done
# Labels an enum stores as 0 and 7: read as their integers, so out of range;
# the first bad row of the file is named (row 0, not the first of the
# shuffled order) with how many there are.
refused "train enum-float-labels.h5" 1 "enum-float-labels.h5: dataset 'y': row 0: label 7 is out of range .*; 42 of its 60 rows are bad" \
    dptrain train ../cls.cfg --set data.train=../enum-float-labels.h5 --out ../out.h5 --overwrite
# 2^24 x 2^16 uint8, allocated and never written (a sparse file of 1 TB):
# kept whole in memory as floats (data.cache = "all": 4 TiB, held once) it
# cannot fit.
refused "train huge-sparse.h5 cached" 1 "huge-sparse.h5: dataset 'X' \(shape \[16777216, 65536\]\) is too large for this rank: the whole file as floats .* needs 4.0 TiB" \
    dptrain train ../cls.cfg --set data.train=../huge-sparse.h5 --set data.cache=all \
    --set data.standardize=false --out ../out.h5 --overwrite
accepted "inspect a data file through an external link" dptrain inspect ../sub/elink.h5
cd ..
cd ..
# On two ranks: one line for a refusal both ranks make, and a link read right.
cd hdf5/decoy
refused "2 ranks: huge-rows.h5" 1 "\.\./huge-rows.h5: dataset 'X' \(shape \[8589934592, 4\]\) was never written" \
    mpirun_np 2 "$DPTRAIN" train ../cls.cfg --set data.train=../huge-rows.h5 --out ../out.h5 --overwrite
accepted "2 ranks: sub/elink.h5" \
    mpirun_np 2 "$DPTRAIN" train ../cls.cfg --set data.train=../sub/elink.h5 --out ../out.h5 --overwrite
cd ../..
