#!/bin/sh
# Output files in shared folders (issue 17): someone else who can write an
# output folder plants a symbolic link where dptrain will write, pointing at
# a file of the user's elsewhere ("victim"). dptrain must never write
# through it. Files written whole (the model, checkpoints, predictions,
# convert's and export's output, the --summary file) go through a temporary
# file renamed over the final path, which replaces a link there; the
# temporary file has an unpredictable name and is created with O_EXCL; a
# file written in place (train.log) refuses a link with a clear error.
# tests/test_output_tmp.c checks the helpers one by one; this test checks
# every command that writes.
. "${top_srcdir:?run me through make check}/tests/lib.sh"

cp "$top_srcdir/data/iris-train.h5" "$top_srcdir/data/iris-test.h5" .
cat > m.cfg <<'CFG'
data = { train = "iris-train.h5"; standardize = true; };
model = { layers = ( { type = "dense"; units = 8; activation = "relu"; },
                     { type = "dense"; units = 3; activation = "softmax"; } );
          loss = "cce"; optimizer = "adam"; };
train = { batch = 16; epochs = 2; seed = 2; };
CFG
printf 'a,b,label\n1,2,0\n3,4,1\n5,6,0\n' > in.csv
mkdir elsewhere
printf 'the user'"'"'s own file: it must not change\n' > elsewhere/victim
cp elsewhere/victim victim.copy
dptrain train m.cfg -q --out model.h5 > /dev/null

# A fresh output folder "out" with a link at NAME to the victim.
plant() {
    rm -rf out
    mkdir out
    ln -s ../elsewhere/victim "out/$1"
}
# The victim has its bytes, and out/NAME is now a regular file.
replaced() {
    check "$2: the victim is unchanged" cmp elsewhere/victim victim.copy
    check "$2: out/$1 is a regular file now, not the link" [ -f "out/$1" -a ! -L "out/$1" ]
}

# 1. A link planted at the final path is replaced, never written through.
plant m.h5
dptrain train m.cfg -q --out out/m.h5 > /dev/null
replaced m.h5 "train --out"
plant ck-000000000016.h5
dptrain train m.cfg -q --out out/m.h5 --checkpoint out/ck.h5 --overwrite > /dev/null
replaced ck-000000000016.h5 "train --checkpoint (the numbered file)"
plant p.csv
dptrain predict model.h5 iris-test.h5 --out out/p.csv --format csv > /dev/null
replaced p.csv "predict --out"
plant p.h5
dptrain predict model.h5 iris-test.h5 --out out/p.h5 > /dev/null
replaced p.h5 "predict --out (hdf5)"
plant m.onnx
dptrain export model.h5 out/m.onnx > /dev/null
replaced m.onnx "export"
plant s.json
dptrain train m.cfg -q --out out/m.h5 --summary out/s.json > /dev/null
replaced s.json "train --summary"
plant d.h5
dptrain convert in.csv out/d.h5 --overwrite -q
replaced d.h5 "convert --overwrite"
# Without --overwrite a link counts as a file there, even a dangling one.
plant d.h5
expect_error "out/d.h5 exists; --overwrite replaces it" dptrain convert in.csv out/d.h5 -q
rm out/d.h5
ln -s ../elsewhere/not-there out/d.h5
expect_error "out/d.h5 exists; --overwrite replaces it" dptrain convert in.csv out/d.h5 -q
check "convert: nothing made through the dangling link" [ ! -e elsewhere/not-there ]

# 2. train.log is written in place (appended to on a resume): a link there
#    is refused with a clear error, before the first step, fresh or resumed.
plant t.csv
expect_error "train.log out/t.csv.*: is a symbolic link; dptrain does not write through links in case someone else planted it; remove it or give another path" \
    dptrain train m.cfg -q --out out/m.h5 --set train.log=out/t.csv --overwrite
check "train.log: the victim is unchanged" cmp elsewhere/victim victim.copy
rm -rf out
dptrain train m.cfg -q --out out/m.h5 --checkpoint out/ck.h5 --set train.log=out/t.csv > /dev/null
mv out/t.csv out/t.saved
ln -s ../elsewhere/victim out/t.csv
expect_error "train.log out/t.csv.*: is a symbolic link" \
    dptrain train m.cfg -q --out out/m.h5 --checkpoint out/ck.h5 --set train.log=out/t.csv \
    --resume out/ck.h5 --set train.epochs=3
check "train.log on --resume: the victim is unchanged" cmp elsewhere/victim victim.copy

# 3. The old predictable names (OUT.tmp-PID, the checkpoint link's
#    PATH.link-PID, the probe's .dptrain-probe-PID) are not used: links
#    planted there for the very process id dptrain runs as (sh's $$, kept
#    by exec) are left alone, and so is a regular file; the victim keeps
#    its bytes. The old code opened OUT.tmp-PID with O_TRUNC through the link.
rm -rf out
mkdir out
sh -c 'for f in m.h5.tmp-$$ ck-000000000008.h5.tmp-$$ ck-000000000016.h5.tmp-$$ \
            t.csv.tmp-$$ s.json.tmp-$$ .dptrain-probe-$$; do
           ln -s ../elsewhere/victim "out/$f"; done
       echo "a file of someone else" > "out/ck.h5.link-$$"
       echo $$ > pid
       exec "$0" train m.cfg -q --out out/m.h5 --checkpoint out/ck.h5 --set train.log=out/t.csv \
           --summary out/s.json' "$DPTRAIN" > /dev/null
pid=$(cat pid)
check "train: the victim is unchanged by links at OUT.tmp-$pid and the like" \
    cmp elsewhere/victim victim.copy
check "train: the six planted links are all still there, untouched" \
    [ "$(find out -type l -name "*$pid" | wc -l)" = 6 ]
check "train: the file at ck.h5.link-$pid is kept as it was" \
    grep -qx "a file of someone else" "out/ck.h5.link-$pid"
check "train: the outputs are written" [ -f out/m.h5 -a -L out/ck.h5 -a -f out/t.csv -a -f out/s.json ]
for cmd in "predict model.h5 iris-test.h5 --out out/p.csv --format csv:p.csv" \
           "export model.h5 out/m.onnx:m.onnx" "convert in.csv out/d.h5 -q:d.h5"; do
    file=${cmd##*:}
    sh -c 'ln -s ../elsewhere/victim "out/$1.tmp-$$"; ln -s ../elsewhere/victim "out/.dptrain-probe-$$"
           echo $$ > pid; exec "$0" $2' "$DPTRAIN" "$file" "${cmd%:*}" > /dev/null
    pid=$(cat pid)
    check "${cmd%% *}: links at $file.tmp-$pid and .dptrain-probe-$pid: the victim is unchanged, $file written" \
        sh -c 'cmp elsewhere/victim victim.copy && [ -L "out/$1.tmp-$2" ] && [ -f "out/$1" ]' - "$file" "$pid"
done

# 4. No two runs use the same temporary name: the names are random. A write
#    stopped by a full "disk" (ulimit -f; export, which starts no MPI
#    daemon that the limit would stop too) names its temporary file in the
#    message; two such runs name two different files, neither named after
#    the process id.
for i in 1 2; do
    timeout -k 5 60 sh -c 'ulimit -f 1; trap "" XFSZ; echo $$ > pid
                           exec "$0" export model.h5 out2/m.onnx' "$DPTRAIN" 2> err$i || true
    sed -n 's/.*temporary file \(out2\/m\.onnx\.tmp-[0-9a-z]*\)).*/\1/p' err$i > name$i
    ! grep -q "out2/m.onnx.tmp-$(cat pid))" err$i || echo "run $i used OUT.tmp-PID" >> same
done
cat err1 err2
check "a failed write names its temporary file" grep -q "out2/m.onnx.tmp-[0-9a-z]\{12\}$" name1
check "two runs use two different temporary names, not the process id" \
    sh -c '[ -s name2 ] && ! cmp -s name1 name2 && [ ! -e same ]'
check "and the failed runs leave no temporary file" [ -z "$(ls -A out2)" ]

# 5. The stale temporaries a killed checkpoint writer left are removed: only
#    names of the new pattern (12 characters of [0-9a-z]) that are regular
#    files; another name, or a link with that name, is kept.
rm -rf out
mkdir out
echo stale > out/ck-000000000001.h5.tmp-0123456789ab
echo keep > out/ck-000000000001.h5.tmp-keepme
ln -s ../elsewhere/victim out/ck-000000000001.h5.tmp-abcdefghijkl
dptrain train m.cfg -q --out out/m.h5 --checkpoint out/ck.h5 > /dev/null
check "a stale temporary file of the checkpoints is removed" [ ! -e out/ck-000000000001.h5.tmp-0123456789ab ]
check "a file of another name is kept" grep -qx keep out/ck-000000000001.h5.tmp-keepme
check "a link with a temporary name is kept, and the victim unchanged" \
    sh -c '[ -L out/ck-000000000001.h5.tmp-abcdefghijkl ] && cmp elsewhere/victim victim.copy'

# 6. Files get the mode 0666 less the umask, as any file the user creates:
#    the group reads them under umask 027 (mkstemp's 0600 would not let it).
for mask in 027 022; do
    want=$(printf '%o' $((0666 & ~0$mask)))
    rm -rf out
    (umask $mask
     dptrain train m.cfg -q --out out/m.h5 --checkpoint out/ck.h5 --set train.log=out/t.csv \
         --summary out/s.json > /dev/null
     dptrain predict out/m.h5 iris-test.h5 --out out/p.csv --format csv > /dev/null
     dptrain export out/m.h5 out/m.onnx > /dev/null
     dptrain convert in.csv out/d.h5 -q)
    check "umask $mask: the model file has mode $want" [ "$(stat -c %a out/m.h5)" = "$want" ]
    check "umask $mask: every other output too" sh -c 'for f in out/ck-000000000016.h5 out/t.csv \
        out/s.json out/p.csv out/m.onnx out/d.h5; do [ "$(stat -c %a "$f")" = "$1" ] || \
        { echo "$f: $(stat -c %a "$f")"; exit 1; }; done' - "$want"
done

summary
