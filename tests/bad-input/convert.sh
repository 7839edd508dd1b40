# Cases of tests/bad_input_suite.sh: dptrain convert (CSV, .npy, .npz) and
# inspect of data files. A refused input names the file and the line and
# column (CSV) or array (numpy), with the text found; no refusal leaves an
# output file or a temporary one behind (checked at the end).
mkdir -p convert && cd convert
printf 'a,b,y\n1,2,0\n3,4,1\n' > good.csv

### CSV: values
printf 'a,b,y\n1,2,0\n3,,1\n' > empty.csv
refused csv-missing-empty 1 "empty.csv: line 3, column 'b' \(index 1\): missing value \(''\); --fill-missing" \
    dptrain convert empty.csv out.h5
printf 'a,b,y\n1,2,0\n3,NA,1\n' > na.csv
refused csv-missing-na 1 "na.csv: line 3, column 'b' \(index 1\): missing value \('NA'\)" dptrain convert na.csv out.h5
printf '1,2,0\n3,nan,1\n' > nanhead.csv
refused csv-missing-no-header 1 "nanhead.csv: line 2, column index 1: missing value \('nan'\)" dptrain convert nanhead.csv out.h5
printf 'a,b,y\n1,2,0\n3,4x,1\n' > text.csv
refused csv-not-a-number 1 "text.csv: line 3, column 'b' \(index 1\): '4x' is not a number" dptrain convert text.csv out.h5
printf 'a,b,y\n1,inf,0\n' > inf.csv
refused csv-infinite 1 "inf.csv: line 2, column 'b' \(index 1\): 'inf' is not a finite number" dptrain convert inf.csv out.h5
printf 'a,b,y\n1,0x10,0\n' > hex.csv
refused csv-hex-is-text 1 "hex.csv: line 2, column 'b' \(index 1\): '0x10' is not a number" dptrain convert hex.csv out.h5
printf 'a,b,y\n1,2,0\n3,4\n' > ragged.csv
refused csv-ragged 1 "ragged.csv: line 3: 2 fields, expected 3 \(as on line 1\)" dptrain convert ragged.csv out.h5
printf 'a,b,y\n1,"2,0\n' > quote.csv
refused csv-open-quote 1 "quote.csv: line 2: a quoted field is not closed by the end of the file" dptrain convert quote.csv out.h5
printf 'a,b,y\n1,2,\n' > nolabel.csv
refused csv-missing-label 1 "nolabel.csv: line 2, label column 'y' \(index 2\): missing label \(''\); labels are never filled" \
    dptrain convert nolabel.csv out.h5 --fill-missing 0
printf 'a,b,y\n1,2,cat\n3,4,0\n' > mixedlabel.csv
refused csv-label-numbers-and-text 1 "mixedlabel.csv: label column 'y' \(index 2\) holds numbers \(line 3: '0'\) and text \(line 2: 'cat'\); .*--classes" \
    dptrain convert mixedlabel.csv out.h5
refused csv-label-not-in-classes 1 "mixedlabel.csv: line 2, label column 'y' \(index 2\): 'cat' is not one of --classes \(0,dog\)" \
    dptrain convert mixedlabel.csv out.h5 --classes 0,dog
refused csv-text-label-typed 1 "mixedlabel.csv: line 2, label column 'y' \(index 2\): 'cat' is not a number \(--label-type" \
    dptrain convert mixedlabel.csv out.h5 --label-type float
refused csv-classes-twice 1 "--classes: 'cat' is listed twice" dptrain convert mixedlabel.csv out.h5 --classes cat,0,cat
accepted csv-text-labels-as-classes dptrain convert mixedlabel.csv classes.h5 --classes cat,0 -q
printf 'a,b,c,y\n1,x,2,0\n3,4,,1\n5,6,7,1\n' > twobad.csv
refused csv-bad-values-together 1 "twobad.csv: line 2, column 'b' \(index 1\): 'x' is not a number; 2 bad values in all \(--fill-missing" \
    dptrain convert twobad.csv out.h5
# A column of words (more text than numbers) is refused once, as a column,
# with the ways out; a column of numbers with a typo stays a bad value.
printf 'size,city,price\n50,Hamburg,300\n60,Munich,400\n70,,350\n80,Hamburg,420\n' > city.csv
refused csv-text-column 1 "city.csv: column 'city' \(index 1\) holds text: 'Hamburg' on line 2 \(3 of its 4 values\); convert writes numbers only: leave it out with --drop city, or one-hot encode it before converting \(pandas: df = pd.get_dummies\(df, columns=\['city'\], dtype=float\)\)$" \
    dptrain convert city.csv out.h5 --label price
refused csv-text-column-maybe-label 1 "city.csv: column 'city' .*get_dummies.*; if it is the label \(class names\), --label city$" \
    dptrain convert city.csv out.h5
accepted csv-text-column-dropped dptrain convert city.csv dropped.h5 --label price --drop city --fill-missing 0 -q
printf 'n,colour,x,shape,y\n1,red,2,round,0\n2x,blue,3,square,1\n' > colours.csv
refused csv-text-columns 1 "colours.csv: columns hold text, not numbers:\$" dptrain convert colours.csv out.h5
grep -q "^  column 'shape' (index 3) holds text: 'round' on line 2 (2 of its 2 values)\$" "$tmp/.err" &&
    grep -q "^  convert writes numbers only: leave them out with --drop colour,shape, or one-hot encode them before converting (pandas: df = pd.get_dummies(df, columns=\['colour', 'shape'\], dtype=float)); other columns hold 1 more bad value, listed once these are left out\$" "$tmp/.err" &&
    ok "csv-text-columns: each column on a line, then --drop and get_dummies for both" ||
    fail "csv-text-columns: the column lines and the ways out: $(cat "$tmp/.err")"
refused csv-text-columns-dropped 1 "colours.csv: line 3, column 'n' \(index 0\): '2x' is not a number\$" \
    dptrain convert colours.csv out.h5 --drop colour,shape
printf 'a,b,y\n1,2,1.5\n' > floatlabel.csv
refused csv-label-not-int 1 "floatlabel.csv: line 2, label column 'y' \(index 2\): '1.5' is not an integer \(--label-type int\)" \
    dptrain convert floatlabel.csv out.h5 --label-type int
printf 'a,b,y\n,2,0\nNA,3,1\n' > allmissing.csv
refused csv-mean-of-nothing 1 "allmissing.csv: column 'a' \(index 0\): every value is missing" \
    dptrain convert allmissing.csv out.h5 --fill-missing mean
accepted csv-mean-fill dptrain convert empty.csv filled.h5 --fill-missing mean -q
# --fill-from: a file with the fill values of every column, or refused.
accepted csv-not-filled dptrain convert good.csv unfilled.h5 -q
refused csv-fill-from-unfilled 1 "--fill-from unfilled.h5: its X holds no fill values \(the attribute fill_values that dptrain convert --fill-missing writes\): convert the training file with --fill-missing mean" \
    dptrain convert empty.csv out.h5 --fill-from unfilled.h5
refused csv-fill-from-not-hdf5 1 "--fill-from good.csv: cannot read it as an HDF5 file" \
    dptrain convert empty.csv out.h5 --fill-from good.csv
printf 'a,z,y\n1,,0\n' > otherfill.csv
refused csv-fill-from-other-column 1 "otherfill.csv: column 'z' \(index 1\) is not among the columns of --fill-from filled.h5, so it has no fill value there" \
    dptrain convert otherfill.csv out.h5 --fill-from filled.h5
printf '1,,3,0\n' > threefill.csv
refused csv-fill-from-width 1 "threefill.csv: --fill-from filled.h5: it holds 2 fill values, one per feature column, and threefill.csv has 3 feature columns" \
    dptrain convert threefill.csv out.h5 --fill-from filled.h5
refused csv-fill-from-and-missing 2 "--fill-from and --fill-missing do not go together" \
    dptrain convert empty.csv out.h5 --fill-from filled.h5 --fill-missing 0

### CSV: the file as a whole, the label column
: > nothing.csv
refused csv-empty-file 1 "nothing.csv: no records \(an empty file\)" dptrain convert nothing.csv out.h5
printf 'a,b,y\n' > headonly.csv
refused csv-header-only 1 "headonly.csv: a header and no rows of data" dptrain convert headonly.csv out.h5
printf 'y\n1\n' > onecol.csv
refused csv-label-only 1 "onecol.csv: one column, the label: no features left" dptrain convert onecol.csv out.h5
refused csv-label-name 1 "good.csv: --label 'z': no such column \(the header has: 'a', 'b', 'y'\)" dptrain convert good.csv out.h5 --label z
printf 'a;b;y\n1;2;0\n' > semi.csv
refused csv-semicolon-hint 1 "semi.csv: one column, the label: no features left; use --delimiter ';'" dptrain convert semi.csv out.h5
refused csv-semicolon-hint-label 1 "semi.csv: --label 'y': no such column \(the header has: 'a;b;y'\); use --delimiter ';'" \
    dptrain convert semi.csv out.h5 --label y
printf 'a;name, x;y\n6,705;1,5;0\n' > european.csv
refused csv-european-hint 1 "european.csv: line 2: 3 fields, expected 2 \(as on line 1\); line 1 holds ';': if that separates the fields, use --delimiter ';' \(and --decimal-comma for numbers like 6,705\)" \
    dptrain convert european.csv out.h5
printf 'a,label,label\n1,2,0\n' > dupnames.csv
refused csv-label-ambiguous 1 "dupnames.csv: --label 'label': 2 columns of the header have that name \(indices 1, 2\); give the index of the one you mean" \
    dptrain convert dupnames.csv out.h5 --label label
refused csv-drop-unknown 1 "good.csv: --drop 'z': no such column" dptrain convert good.csv out.h5 --drop z
refused csv-drop-label 1 "good.csv: --drop y: that is the label column" dptrain convert good.csv out.h5 --drop y
refused csv-drop-all 1 "good.csv: every column but the label is left out: no features left" \
    dptrain convert good.csv out.h5 --drop a,b
printf 'a,b,y\n1,2,caf\351\n' > latin1.csv
refused csv-label-not-utf8 1 "latin1.csv: line 2, label column 'y' \(index 2\): the label is not UTF-8 text \(byte 0xe9 at offset 3 of it\)" \
    dptrain convert latin1.csv out.h5
printf 'a\tb\ty\n1\t2\t0\n' > tabbed.csv
refused csv-tab-hint 1 "tabbed.csv: one column, the label: no features left; use --delimiter tab" dptrain convert tabbed.csv out.h5
printf ',a,y\n0,1.5,0\n1,2.5,1\n' > indexed.csv
refused csv-label-is-index 1 "indexed.csv: --label 0: the column with no name, pandas' index, which convert drops; --keep-index" \
    dptrain convert indexed.csv out.h5 --label 0
printf ',y\n0,0\n1,1\n' > indexonly.csv
refused csv-index-and-label-only 1 "indexonly.csv: two columns, pandas' index and the label: no features left" \
    dptrain convert indexonly.csv out.h5
refused csv-label-index 1 "good.csv: --label 3: the file has 3 columns \(indices 0 to 2, or -3 to -1\)" dptrain convert good.csv out.h5 --label 3
refused csv-label-name-no-header 1 "nanhead.csv: --label 'y': the file has no header" dptrain convert nanhead.csv out.h5 --label y
refused csv-forced-header-missing 1 "good.csv: line 1, column index 0: 'a' is not a number" dptrain convert good.csv out.h5 --no-header
refused input-missing 1 "absent.csv: No such file or directory" dptrain convert absent.csv out.h5
refused input-folder 1 "\.: a folder, not a CSV file" dptrain convert . out.h5
refused input-is-hdf5 1 "filled.h5: already an HDF5 file" dptrain convert filled.h5 out.h5

### numpy
"$PYTHON" - <<'PY'
import numpy as np
np.save("fortran.npy", np.asfortranarray(np.zeros((4, 3))))
np.save("one_d.npy", np.zeros(5))
np.save("objects.npy", np.array([1, "a"], dtype=object), allow_pickle=True)
np.save("complex.npy", np.zeros((3, 2), dtype=np.complex64))
np.save("x4.npy", np.zeros((4, 3), dtype=np.float32))
np.save("y5.npy", np.zeros(5, dtype=np.int64))
np.savez("other.npz", a=np.zeros((2, 2)), b=np.zeros(2))
np.savez_compressed("packed.npz", X=np.arange(4000, dtype=np.float64).reshape(1000, 4))
d = open("x4.npy", "rb").read()
open("short.npy", "wb").write(d[:-5])
z = open("packed.npz", "rb").read()
open("cut.npz", "wb").write(z[:len(z) // 2])
b = bytearray(z); b[len(b) // 3] ^= 0xFF; b[len(b) // 3 + 1] ^= 0xFF
open("flipped.npz", "wb").write(bytes(b))
PY
refused npy-fortran 1 "fortran.npy: the array is in Fortran order; save np.ascontiguousarray" dptrain convert fortran.npy out.h5
refused npy-1d 1 "one_d.npy: X has shape \[5\]; expected \[N, features\]" dptrain convert one_d.npy out.h5
refused npy-object 1 "objects.npy: dtype '\|O' is not a bool, integer or float" dptrain convert objects.npy out.h5
refused npy-complex 1 "complex.npy: dtype '<c8' is not a bool, integer or float" dptrain convert complex.npy out.h5
refused npy-truncated 1 "short.npy: truncated: the shape needs 48 bytes of values, the file holds 43" dptrain convert short.npy out.h5
refused npy-y-rows 1 "y5.npy: y has shape \[5\]; expected \[4\] or \[4, k\]" dptrain convert x4.npy out.h5 --y-file y5.npy
refused npy-channels-first-rank 1 "x4.npy: X has shape \[4, 3\]; --channels-first takes images \[N, C, H, W\]" \
    dptrain convert x4.npy out.h5 --channels-first
refused csv-channels-first 2 "--channels-first does not apply to csv input \(good.csv\)" \
    dptrain convert good.csv out.h5 --channels-first
refused npz-no-x 1 "other.npz: no array X, x or arr_0 \(found: a, b\); name the features with --x NAME" dptrain convert other.npz out.h5
refused npz-no-such-member 1 "other.npz: no array 'c' \(found: a, b\)" dptrain convert other.npz out.h5 --x a --y c
refused npz-truncated 1 "cut.npz: not a .npz \(zip\) archive: no end of central directory" dptrain convert cut.npz out.h5
refused npz-damaged-deflate 1 "flipped.npz: array 'X': (damaged compressed data \(zlib: |the compressed member ends before its values do)" dptrain convert flipped.npz out.h5
accepted npz-named dptrain convert other.npz named.h5 --x a --y b -q

### the output
refused out-exists 1 "filled.h5 exists; --overwrite replaces it" dptrain convert good.csv filled.h5
: > afile
refused out-under-a-file 1 "OUT afile/out.h5.*: cannot make its folder" dptrain convert good.csv afile/out.h5
accepted out-new-folder dptrain convert good.csv made/here/out.h5 -q
check "convert: no refusal left an output or a temporary file" sh -c '! ls out.h5* *.tmp-* 2>/dev/null | grep -q .'

### the command line (exit 2)
refused convert-no-output 2 "give the input and the output" dptrain convert good.csv
refused convert-compress-level 2 "--compress takes a level from 0 \(none\) to 9, got '11'" dptrain convert good.csv o.h5 --compress 11
refused convert-chunk-rows 2 "--chunk-rows must be a positive number, got '0'" dptrain convert good.csv o.h5 --chunk-rows 0
refused convert-delimiter 2 "--delimiter must be one character" dptrain convert good.csv o.h5 --delimiter ab
refused convert-fill 2 "--fill-missing takes a finite number or 'mean', got 'zero'" dptrain convert good.csv o.h5 --fill-missing zero
refused convert-label-type 2 "--label-type must be int or float, got 'str'" dptrain convert good.csv o.h5 --label-type str
refused convert-from 2 "--from must be csv, npy or npz, got 'xls'" dptrain convert good.csv o.h5 --from xls
refused convert-csv-option-on-npy 2 "--delimiter does not apply to npy input" dptrain convert x4.npy o.h5 --delimiter ';'
refused convert-npy-option-on-csv 2 "--y-file does not apply to csv input" dptrain convert good.csv o.h5 --y-file y5.npy
refused convert-classes-empty 2 "--classes takes class names separated by ',' \(none empty\), got 'a,,b'" dptrain convert good.csv o.h5 --classes a,,b
refused convert-classes-typed 2 "--classes does not go with --label-type" dptrain convert good.csv o.h5 --classes a,b --label-type int
refused convert-classes-on-npy 2 "--classes does not apply to npy input" dptrain convert x4.npy o.h5 --classes a,b
refused convert-decimal-comma 2 "--decimal-comma needs another delimiter than ','" dptrain convert good.csv o.h5 --decimal-comma
refused convert-drop-on-npy 2 "--drop does not apply to npy input" dptrain convert x4.npy o.h5 --drop 0
refused convert-unknown 2 "unknown option '--bogus'" dptrain convert good.csv o.h5 --bogus

### inspect of data files
refused inspect-sample-zero 2 "--sample takes a number of rows above 0, got '0'" dptrain inspect filled.h5 --sample 0
refused inspect-not-hdf5 1 "good.csv: not an HDF5 file" dptrain inspect good.csv
accepted inspect-data-file dptrain inspect filled.h5
cd ..
