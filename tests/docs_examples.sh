#!/bin/sh
# The documentation's examples work: every fenced block of README.md and
# docs/*.md is found by tests/doc_blocks.py and, by its info string, run
# (sh: the commands; console: the command, its output compared with the
# documented one; cfg: a model file, trained; make: a Makefile, made; usage:
# each command's options are in its --help), or is an output sample or a
# layout (text), or is skipped with the reason written beside it
# (<!-- doc-test: skip: ... -->). A block that is none of these, a new one
# without an info string say, fails the test, so no example goes unchecked.
# Each check names the block's file and line.
#
# Each block runs in a folder of its own holding a copy of examples/ and
# include/, and data/ and scripts/ of the source tree, as a reader runs
# them from the top of a checkout, with:
#   - the built dptrain on PATH, as if installed (pkg-config finds a
#     dptrain.pc for the headers of this tree);
#   - mpirun on PATH adding --oversubscribe --allow-run-as-root;
#   - sbatch and scontrol of tests/fake-slurm/ on PATH (sbatch runs the job
#     at once, in the folder);
#   - the files its doc-test comment names after "needs" (the list below);
#   - with "epochs N" in that comment, every `dptrain train` of the block
#     (under mpirun and sbatch too) trains N epochs: the dptrain on PATH
#     adds --set train.epochs=N after the block's own arguments.
#
# README's first block, scripts/demo and scripts/check, is skipped: both
# install packages with apt-get and build from scratch, and scripts/check is
# what CI runs. Case 2 runs scripts/demo itself on the built tree instead,
# with its install and build steps stubbed: its training and evaluation
# commands run as written.
. "${top_srcdir:?run me through make check}/tests/lib.sh"

# The tools every block finds on PATH. mpirun by its full path, or the
# wrapper would find itself.
mpirun_path=$(command -v "$MPIRUN")
mkdir bin pc
cat > bin/dptrain <<EOF
#!/bin/sh
if [ -n "\${DOC_EPOCHS:-}" ] && [ "\${1:-}" = train ]; then
    exec "$DPTRAIN" "\$@" --set train.epochs="\$DOC_EPOCHS"
fi
exec "$DPTRAIN" "\$@"
EOF
cat > bin/mpirun <<EOF
#!/bin/sh
exec "$mpirun_path" --oversubscribe --allow-run-as-root "\$@"
EOF
chmod +x bin/*
cat > pc/dptrain.pc <<EOF
Name: dptrain
Description: the tree under test, as if installed
Version: 0
Cflags: -I$top_srcdir/include
Libs:
EOF
PATH="$tmp/bin:$top_srcdir/tests/fake-slurm:$PATH"
PKG_CONFIG_PATH="$tmp/pc"
export PATH PKG_CONFIG_PATH

# Files a block may need ("needs NAME" in its doc-test comment; "prepend
# NAME" puts one before a cfg or make block's text). Paths in the model
# files are those of a folder beside data/, as examples/ is.
mkdir files
(
    cd files
    sed 's|"\.\./data/|"data/|' "$top_srcdir/examples/breast_cancer.cfg" > model.cfg
    # A data, model and (with validation) data group for a cfg block that is
    # only a train group; it is written into examples/.
    cat > base.cfg <<'CFG'
data = { train = "../data/breast_cancer-train.h5"; validation_split = 0.2; standardize = true; };
model = {
  layers = ( { type = "dense"; units = 8; activation = "relu"; },
             { type = "dense"; units = 1; activation = "sigmoid"; } );
  loss = "bce";
  optimizer = { type = "adam"; learning_rate = 0.01; };
  metrics = [ "accuracy" ];
};
CFG
    # What a make block's rule finds defined in examples/plugins/Makefile.
    cat > plugin.mk <<'MK'
PKG_CONFIG = pkg-config
DPTRAIN_CFLAGS = $(shell $(PKG_CONFIG) --cflags dptrain)
MK
    cp "$top_srcdir/examples/plugins/channel_scale.c" channel_scale.c
    cp channel_scale.c mylayer.c
    cp "$top_srcdir/data/breast_cancer-test.h5" rows.h5
    "$DPTRAIN" train "$top_srcdir/examples/breast_cancer.cfg" --set train.epochs=1 \
        --quiet --out bc.h5 > bc.log 2>&1 || { cat bc.log; exit 1; }
    # Inputs for `dptrain convert`: a CSV with a header and an "outcome"
    # column last, a TSV without a header and the label first, numpy files.
    printf 'age,bmi,pressure,outcome\n' > patients.csv
    awk 'BEGIN { for (i = 0; i < 40; i++)
                     printf "%d,%.1f,%d,%d\n", 30 + i, 20 + i % 9, 110 + i % 30, i % 2 }' \
        >> patients.csv
    cp patients.csv huge.csv
    awk 'BEGIN { for (i = 0; i < 40; i++) printf "%d\t%.2f\t%.2f\n", i % 3, i / 7, i % 5 }' \
        > data.tsv
    "$PYTHON" - <<'PY'
import numpy as np
X = np.arange(120, dtype=np.float32).reshape(40, 3) / 10
y = (np.arange(40) % 2).astype(np.int64)
np.save("X.npy", X)
np.save("y.npy", y)
np.savez("train.npz", X=X, y=y)
np.save("images.npy", np.zeros((40, 1, 28, 28), dtype=np.uint8))  # PyTorch's layout
PY
) || { fail "the files the blocks need could not be made"; summary; }

# A fresh folder for a block: examples/ and include/ copied (blocks write
# there), data/ and scripts/ linked, and the files it needs.
block_folder() {
    rm -rf "$1"
    mkdir "$1"
    cp -R "$top_srcdir/examples" "$top_srcdir/include" "$1/"
    chmod -R u+w "$1"
    ln -s "$top_srcdir/data" "$top_srcdir/scripts" "$1/"
    for f in $2; do
        [ "$f" = - ] && continue
        cp "files/$f" "$1/" 2> /dev/null || return 1
    done
}

# The folder of block $n, or a failed check when it needs a file the test
# does not make.
prepare() {
    block_folder "b$n" "$needs" && return 0
    fail "$where: needs a file this test does not make (needs $needs)"
    return 1
}

# 1. Every block of README.md and docs/*.md, in order.
"$PYTHON" "$top_srcdir/tests/doc_blocks.py" extract blocks \
    "$top_srcdir/README.md" "$top_srcdir"/docs/*.md
tab=$(printf '\t')
# The list is read on descriptor 3: the blocks' commands (mpirun) read
# standard input.
exec 3< blocks/blocks.tsv
while IFS="$tab" read -r n kind info where needs prepend epochs note <&3; do
    body="$tmp/blocks/$n.body"
    [ "$epochs" = - ] && epochs=""
    if [ "$prepend" != - ]; then
        if ! cat "files/$prepend" "$body" > "$body.full" 2> /dev/null; then
            fail "$where: prepends a file this test does not make ($prepend)"
            continue
        fi
        body="$body.full"
    fi
    case $kind in
    text)
        ok "$where: text (an output sample or a layout)"
        ;;
    skip)
        # Not run, but a shell block must still be valid shell.
        if [ "$info" != sh ] || sh -n "$body" 2> syntax.out; then
            ok "$where: skipped: $note"
        else
            fail "$where: a skipped block that is not valid sh: $(cat syntax.out)"
        fi
        ;;
    error)
        fail "$where: $note"
        ;;
    sh)
        if [ "${DPT_HAVE_ONNX:-1}" = 0 ] && grep -q 'dptrain export' "$body"; then
            ok "$where: not run: dptrain was built without ONNX export"
            continue
        fi
        prepare || continue
        check "$where: sh block runs${epochs:+ (epochs $epochs)}" \
            sh -c 'cd "$1" && DOC_EPOCHS="$2" sh -e "$3"' sh "b$n" "$epochs" "$body"
        ;;
    console)
        prepare || continue
        if (cd "b$n" && DOC_EPOCHS="$epochs" sh -e "$body") > "b$n.stdout" 2> "b$n.stderr"; then
            check "$where: \$ $(cat "$body"): prints what the block shows" \
                "$PYTHON" "$top_srcdir/tests/doc_blocks.py" match \
                "blocks/$n.expect" "b$n.stdout"
        else
            fail "$where: \$ $(cat "$body") failed"
            dpt__show "b$n.stderr"
        fi
        ;;
    cfg)
        prepare || continue
        cp "$body" "b$n/examples/block.cfg"
        check "$where: model file trains${epochs:+ (epochs $epochs)}" \
            sh -c 'cd "$1" && DOC_EPOCHS="$2" dptrain train examples/block.cfg --out block.h5' \
            sh "b$n" "$epochs"
        ;;
    make)
        prepare || continue
        cp "$body" "b$n/Makefile"
        check "$where: make runs the Makefile" make -C "b$n"
        ;;
    usage)
        # Lines starting with "dptrain" (continuation lines indented): the
        # command's --help (dptrain --help for "dptrain --help | ...") must
        # exit 0 and name each --option of the line.
        awk '/^dptrain/ { if (l != "") print l; l = $0; next } { l = l " " $0 }
             END { if (l != "") print l }' "$body" > usage.lines
        bad=""
        while read -r line; do
            cmd=$(echo "$line" | awk '{ print $2 }')
            case $cmd in -*) cmd="" ;; esac
            # shellcheck disable=SC2086 # no command: dptrain --help
            if ! "$DPTRAIN" $cmd --help > help.out 2>&1; then
                bad="$bad; 'dptrain $cmd --help' fails"
                continue
            fi
            for opt in $(echo "$line" | grep -o -- '--[a-z][a-z0-9-]*' | sort -u); do
                grep -q -- "$opt\\b" help.out || bad="$bad; dptrain $cmd --help lacks $opt"
            done
        done < usage.lines
        if [ -z "$bad" ]; then
            ok "$where: usage: $(wc -l < usage.lines) commands and their options are in --help"
        else
            fail "$where: usage:${bad#;}"
        fi
        ;;
    *)
        fail "$where: unknown kind $kind"
        ;;
    esac
done
exec 3<&-

# 2. scripts/demo, README's first example, on the built tree: a copy of the
#    top of the tree in which scripts/deps (apt-get) is stubbed and build/
#    holds the built dptrain with a Makefile with nothing to do; the
#    training (mpirun -np 2, 40 epochs) and evaluation it prints run as
#    they stand.
mkdir -p demo/scripts demo/build/src
cp "$top_srcdir/scripts/demo" demo/scripts/
printf '#!/bin/sh\nexit 0\n' > demo/scripts/deps
chmod +x demo/scripts/deps
printf 'all:\n\t@:\n' > demo/build/Makefile
printf '#!/bin/sh\nexec "%s" "$@"\n' "$DPTRAIN" > demo/build/src/dptrain
chmod +x demo/build/src/dptrain
cp -R "$top_srcdir/examples" demo/
ln -s "$top_srcdir/data" demo/
check "scripts/demo trains and evaluates the bundled model" sh demo/scripts/demo < /dev/null
cp check.out demo.out
check "  ... and prints the test accuracy" grep accuracy demo.out
summary
