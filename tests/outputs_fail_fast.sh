#!/bin/sh
# Fail fast, lose nothing (issue 13): every output is checked before the first
# step, a full disk is an error naming the file and the cause without a crash
# and without harm to the previous file, and --time-limit stops in time.
#
# A full disk is simulated without privileges by `ulimit -f`: dptrain
# ignores SIGXFSZ itself (src/cli/main.c), which would otherwise kill it
# without a word, so write() fails with EFBIG, "File too large". Set inside
# the rank only: mpirun's daemon needs to write files of its own. The limit
# is in 512-byte blocks (POSIX sh).
. "${top_srcdir:?run me through make check}/tests/lib.sh"

cp "$top_srcdir/data/iris-train.h5" "$top_srcdir/data/iris-test.h5" .
# 300 epochs of iris take well under a second; each is a line of train.log.
cat > m.cfg <<'CFG'
data = { train = "iris-train.h5"; standardize = true; };
model = { layers = ( { type = "dense"; units = 16; activation = "relu"; },
                     { type = "dense"; units = 3; activation = "softmax"; } );
          loss = "cce"; optimizer = "adam"; };
train = { batch = 16; epochs = 300; seed = 2; };
CFG
touch afile

# The time of a command into $took (whole seconds, rounded up) and $took_ms.
timed() {
    dpt__t0=$(date +%s%N)
    "$@"
    took_ms=$(( ($(date +%s%N) - dpt__t0) / 1000000 ))
    took=$(( (took_ms + 999) / 1000 ))
}
# Whether the last timed command ended within LIMIT s of dptrain's own
# clock, which starts in main (README: "counted from the start of
# dptrain"): the loading of the program and its libraries before it, up to
# a second under the sanitizers on a busy machine, is not counted.
within_limit() {
    [ "$took_ms" -le $(( $1 * 1000 + 1000 )) ]
}

# 1. An output that cannot be written ends the run before the first step:
#    with 100000 epochs, only a start-up check can end it within 10 s. The
#    message names the option, the file and the cause.
long="--set train.epochs=100000 -q"
timed expect_error "out /proc/x.h5: cannot write a file in /proc: No such file" \
    dptrain train m.cfg $long --out /proc/x.h5
check "... within $took s" [ "$took" -le 10 ]
timed expect_error "out afile/x.h5.*cannot make its folder afile.*: Not a directory" \
    dptrain train m.cfg $long --out afile/x.h5
check "... within $took s" [ "$took" -le 10 ]
expect_error "out \. .*is a folder" dptrain train m.cfg $long --out .
expect_error "checkpoint afile/ck.h5.*Not a directory" dptrain train m.cfg $long --checkpoint afile/ck.h5
expect_error "checkpoint afile .*is a regular file, not the link" \
    dptrain train m.cfg $long --checkpoint afile --overwrite
expect_error "train.log afile/t.csv.*Not a directory" \
    dptrain train m.cfg $long --set train.log=afile/t.csv
check "no file written by the refused runs" [ "$(ls | grep -v check.out | tr '\n' ' ')" = "afile iris-test.h5 iris-train.h5 m.cfg " ]

# 2. A missing output folder is made (the run then writes there).
check "missing folders of --out, --checkpoint and train.log are made" \
    dptrain train m.cfg -q --set train.epochs=2 --out new/a/m.h5 --checkpoint new/c/ck.h5 \
    --set train.log=new/l/t.csv
check "... and the files written there" [ -s new/a/m.h5 -a -L new/c/ck.h5 -a -s new/l/t.csv ]

# 3. data.test is checked before training: a typo, another feature count, a
#    missing dataset each end a 100000-epoch run at once, naming data.test.
dpt_test data f5.h5 --rows 20 --features 5 --kind classes --seed 1
timed expect_error "data.test: typo.h5.*no such file" \
    dptrain train m.cfg $long --set data.test=typo.h5
check "... within $took s" [ "$took" -le 10 ]
expect_error "data.test: .*f5.h5: dataset 'X' holds samples of shape \[5\]; the model takes \[4\]" \
    dptrain train m.cfg $long --set data.test=f5.h5
"$PYTHON" - <<'PY'
import shutil, h5py
shutil.copy("iris-test.h5", "noy.h5")
with h5py.File("noy.h5", "a") as f:
    del f["y"]
PY
expect_error "data.test: noy.h5.*no dataset 'y'" dptrain train m.cfg $long --set data.test=noy.h5

# 4. Full disk while writing the model: an error naming the file and the
#    cause, exit 1, no crash (HDF5 used to segfault in H5F__close_cb), the
#    previous model file unchanged, no temporary file left.
must dptrain train m.cfg -q --set train.epochs=2 --out prev.h5 --checkpoint ck.h5
cp prev.h5 prev.orig
cp "$(readlink -f ck.h5)" ck.orig
in_small_files() { # BLOCKS CMD...: CMD where files may not grow beyond BLOCKS
    dpt__blocks=$1
    shift
    "$MPIRUN" --oversubscribe --allow-run-as-root -np 1 sh -c \
        "ulimit -f $dpt__blocks; exec \"\$@\"" sh "$@"
}
# The size the message must give: the same model written whole (it holds
# the plugin files' paths, so it depends on where the build is).
must dptrain train m.cfg -q --out size-ref.h5
ref_bytes=$(wc -c < size-ref.h5)
rm size-ref.h5
expect_error "prev.h5.*: writing failed ($ref_bytes bytes.*File too large; the file there before.*unchanged" \
    in_small_files 8 "$DPTRAIN" train m.cfg -q --out prev.h5
check "... not a crash" ! grep -i "segmentation\|signal\|infinite loop" .err
check "... the previous model file is unchanged" cmp prev.h5 prev.orig
check "... no temporary file is left" [ -z "$(ls | grep tmp)" ]

# 5. Full disk at a checkpoint of a run that continues the series (--resume
#    auto): the same, and the previous checkpoint (the
#    link and its file) stays intact.
expect_error "ck-000000000024.h5.*writing failed.*File too large" \
    in_small_files 8 "$DPTRAIN" train m.cfg -q --set train.epochs=3 --out m3.h5 --checkpoint ck.h5 \
    --resume auto
check "... not a crash" ! grep -i "segmentation\|signal\|infinite loop" .err
check "... ck.h5 still points at the previous checkpoint" [ "$(readlink ck.h5)" = ck-000000000016.h5 ]
check "... which is unchanged" cmp ck-000000000016.h5 ck.orig
check "... and resumes" dptrain train m.cfg -q --set train.epochs=3 --resume ck.h5 --out r.h5

# 6. Full disk for train.log (room for the model, not for 600 lines):
#    reported at once with the cause, training goes on, the model is
#    written, and the exit status is 1. The limit is the model's size in
#    512-byte blocks (sh's ulimit -f) and one more: the model holds the
#    plugin files' paths, so its size depends on where the build is.
must dptrain train m.cfg -q --set train.epochs=600 --out log-ref.h5 --set train.log=\"t-ref.csv\"
blocks=$(( $(wc -c < log-ref.h5) / 512 + 2 ))
check "... the log ($(wc -c < t-ref.csv) bytes) outgrows $blocks blocks, the model not" \
    [ "$(wc -c < t-ref.csv)" -gt $((blocks * 512)) ]
rm -f log-ref.h5 t-ref.csv
expect_error "train.log t.csv.*writing failed: File too large; training goes on" \
    in_small_files $blocks "$DPTRAIN" train m.cfg -q --set train.epochs=600 --out logged.h5 \
    --set train.log=t.csv
check "... the model is still written" [ -s logged.h5 ]

# 7. Free space is checked at start-up against the sizes of the model file
#    and of two checkpoints (a new one beside the previous): a model of 1.6M
#    parameters (6.5 MB a file; Adam makes a checkpoint 19 MB) is refused
#    before the first step on a 4 MB filesystem, naming the outputs, what is
#    free and what is needed. The small filesystem is a tmpfs mounted in a
#    private namespace (unshare -rm: no privileges needed where user
#    namespaces are allowed); where it cannot be had, the case says so.
cat > big.cfg <<'CFG'
data = { train = "iris-train.h5"; };
model = { layers = ( { type = "dense"; units = 200000; activation = "relu"; },
                     { type = "dense"; units = 3; activation = "softmax"; } );
          loss = "cce"; optimizer = "adam"; };
train = { batch = 16; epochs = 100000; };
CFG
mkdir small
if unshare -rm sh -c 'mount -t tmpfs -o size=4m tmpfs small' 2> /dev/null; then
    timed expect_error "not enough free space for the model file small/big.h5 (about 6.5 MB) and two checkpoints small/ck.h5 (about 38.6 MB): small .*has 4.2 MB free, 45.1 MB are needed" \
        unshare -rm sh -c 'mount -t tmpfs -o size=4m tmpfs small && exec "$@"' sh \
        "$DPTRAIN" train big.cfg -q --out small/big.h5 --checkpoint small/ck.h5
    check "... within $took s" [ "$took" -le 10 ]
else
    ok "(not applicable here: no tmpfs can be mounted in a private namespace)"
fi

# 8. --time-limit 4 on a run that would take minutes: stops in time, writes
#    the checkpoint, exits 3; the checkpoint resumes. Without --checkpoint
#    the model so far goes to --out, also with status 3.
timed expect_exit 3 "time limit of 4 s: stopped after step .* left; checkpoint tl.h5" \
    dptrain train m.cfg $long --time-limit 4 --checkpoint tl.h5
check "... within the limit ($took_ms ms)" within_limit 4
expect_exit 3 "time limit of 2 s: stopped after step" \
    dptrain train m.cfg $long --resume tl.h5 --time-limit 0:02 --checkpoint tl.h5
timed expect_exit 3 "time limit of 3 s.*no --checkpoint, so the model so far was written to tlm.h5" \
    dptrain train m.cfg $long --set train.time_limit='"00:00:03"' --out tlm.h5
check "... within the limit ($took_ms ms), the model written" within_limit 3
check "... the model written" [ -s tlm.h5 ]
expect_exit 2 "time-limit needs HH:MM:SS or seconds > 0, got '1:70'" dptrain train m.cfg --time-limit 1:70

# 9. predict --out is probed as train's is, before the model or the data
#    is read: a path under a regular file fails with the probe's message,
#    also when the data file does not exist (its error would come first if
#    the data were read before the probe), and nothing is written. eval
#    writes no file: --out is a usage error there.
expect_exit 2 "eval writes no file (--out is predict's)" \
    dptrain eval prev.h5 iris-test.h5 --out afile/p.h5
for cmd in predict; do
    expect_error "out afile/p.h5.*cannot make its folder afile.*: Not a directory" \
        dptrain $cmd prev.h5 iris-test.h5 --out afile/p.h5
    expect_error "out afile/p.h5.*cannot make its folder afile.*: Not a directory" \
        dptrain $cmd prev.h5 missing.h5 --out afile/p.h5
    expect_error "out /proc/p.h5: cannot write a file in /proc: No such file" \
        dptrain $cmd prev.h5 missing.h5 --out /proc/p.h5
done
check "... and afile is still the empty regular file" [ -f afile -a ! -s afile ]
check "predict --out makes a missing folder and writes there" \
    dptrain predict prev.h5 iris-test.h5 --out newp/p.h5
check "... the predictions are there" [ -s newp/p.h5 ]

# 10. No output replaces an input: --out, --summary, train.log and
#     --checkpoint naming the training data (by its name, another name of
#     it, or a match of data.train's glob), the test data, the model file or
#     --init's weights are refused before the first step, naming both, and
#     every input is left as it was (the summary is not written over an
#     input, not even when the run fails for another reason). A symbolic link to an input is replaced, not written
#     through. predict refuses --out over its model or data.
mkdir -p in
cp iris-train.h5 iris-test.h5 m.cfg in/
sed 's/epochs = 300/epochs = 2/' m.cfg > in/m2.cfg
sed 's|train = "iris-train.h5";|train = "iris-tr*.h5"; test = "iris-test.h5";|' in/m2.cfg > in/glob.cfg
ln in/iris-train.h5 in/hard.h5
(cd in && sha256sum iris-train.h5 iris-test.h5 m2.cfg glob.cfg > ../in.sum)
runin() { (cd in && "$DPTRAIN" train "$@"); }
expect_error "out iris-train.h5 .*is data.train's (iris-train.h5): writing it would destroy what this run reads; give --out another file" \
    runin m2.cfg --out iris-train.h5
expect_error "out hard.h5 .*is data.train's (iris-train.h5)" runin m2.cfg --out hard.h5
expect_error "out iris-train.h5 .*is data.train's (iris-train.h5)" runin glob.cfg --out iris-train.h5
expect_error "out iris-test.h5 .*is data.test's file (iris-test.h5)" runin glob.cfg --out iris-test.h5
expect_error "out m2.cfg .*is the model file (m2.cfg)" runin m2.cfg --out m2.cfg
expect_error "summary iris-train.h5 .*is data.train's (iris-train.h5)" \
    runin m2.cfg --out o.h5 --summary iris-train.h5
expect_error "summary m2.cfg .*is the model file" runin m2.cfg --out o.h5 --summary m2.cfg
expect_error "train: 'epochs' must be at least 0" \
    runin m2.cfg --out o.h5 --summary m2.cfg --set train.epochs=-1
expect_error "train.log iris-test.h5 .*is data.test's file" \
    runin glob.cfg --out o.h5 --set 'train.log="iris-test.h5"'
expect_error "checkpoint iris-train.h5 .*is data.train's (iris-train.h5)" \
    runin m2.cfg --out o.h5 --checkpoint iris-train.h5
check "... without a word of checkpoints kept there" \
    sh -c "test -s '$tmp/.err' && ! grep -q 'checkpoints at .* are kept' '$tmp/.err'"
check "every input is as it was" sh -c 'cd in && sha256sum -c ../in.sum'
check "no model was written" test ! -e in/o.h5
must runin m2.cfg --out w.h5
expect_error "out w.h5 .*is --init's file (w.h5)" runin m2.cfg --init w.h5 --out w.h5
ln -s iris-test.h5 in/link.h5
check "--out as a link to the test data: the link is replaced" runin glob.cfg --out link.h5 --quiet
check "... and the test data kept" sh -c 'cd in && sha256sum -c ../in.sum && test ! -L link.h5'
expect_error "out in/iris-test.h5 .*is the data file (in/iris-test.h5)" \
    dptrain predict in/w.h5 in/iris-test.h5 --out in/iris-test.h5
expect_error "out in/w.h5 .*is the model file (in/w.h5)" \
    dptrain predict in/w.h5 in/iris-test.h5 --out in/w.h5
check "predict left both as they were" sh -c 'cd in && sha256sum -c ../in.sum'
check "... the model too" dptrain eval in/w.h5 in/iris-test.h5

summary
