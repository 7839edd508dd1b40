#!/bin/sh
# Every --help is held to what its command does (issue 18):
#  1. each option a command's --help lists is accepted by the command, and
#     each option two or more other help texts list (or an unknown one)
#     is refused with exit status 2 naming it, so the list is complete
#     both ways;
#  2. each default a help text states ("default ...") has a check below
#     that compares the behaviour without the option with the documented
#     value, and the text of dptrain(1) for that option states the same
#     default. The table DEFAULTS names the check of each; a help text
#     stating a default the table lacks (a new one, or a changed wording
#     or value) fails the test, naming it.
# The model-file key reference (`dptrain keys`) is tests/keys.sh's.
. "${top_srcdir:?run me through make check}/tests/lib.sh"

COMMANDS="train eval predict plugins inspect summary check-plugin keys plan export convert"
dptrain --help > help-.txt
for cmd in $COMMANDS; do
    dptrain "$cmd" --help > "help-$cmd.txt"
done

# The help texts read by Python: the options a text lists (its usage
# lines, and the leading options of each indented line that starts with
# '-'), its default phrases per option, and a probe of one option.
cat > helpscan.py <<'PY'
import re, subprocess, sys
OPT = r"-{1,2}[a-zA-Z][a-zA-Z-]*"

def text(cmd):
    return open("help-%s.txt" % cmd).read()

def listed(cmd):
    """The options help-CMD.txt lists."""
    out = {"-h", "--help"}
    lines = text(cmd).splitlines()
    i = 0
    while i < len(lines) and lines[i].strip():    # the usage lines
        out |= set(re.findall(r"[ \[](" + OPT + ")", lines[i]))
        i += 1
    for line in lines[i:]:
        m = re.match(r"^ {1,4}(-.*?)(?:  |$)", line)
        if m:
            out |= set(re.findall(r"(?:^|, )(" + OPT + ")", m.group(1)))
    return out

def blocks(cmd):
    """(option, text) per option entry of help-CMD.txt: its first option
    and its lines, those indented deeper that follow included; the text
    outside the entries as option '-'."""
    out, cur = [], None
    for line in text(cmd).splitlines():
        m = re.match(r"^( {1,4})(" + OPT + ")", line)
        if m:
            cur = [m.group(2), line, len(m.group(1))]
            out.append(cur)
        elif cur and line.startswith(" " * (cur[2] + 2)):
            cur[1] += "\n" + line
        else:
            cur = None
            out.append(["-", line, 0])
    return [(o, " ".join(t.split())) for o, t, _ in out]

def defaults(cmd):
    """'CMD OPTION | PHRASE' for each default the help states: from the
    word to the closing parenthesis or the end of the entry."""
    for opt, t in blocks(cmd):
        for m in re.finditer(r"default[^)]*", t, re.I):
            print("%s %s | %s" % (cmd or "dptrain", opt, m.group(0).strip(" ;,.")))

# Values for the options that take one, for the probes (an option given a
# value it does not take, or denied one it needs, fails its probe).
VALUES = {
    "--set": "train.epochs=1", "check-plugin --set": "units=3", "--out": "o.h5",
    "--format": "json", "predict --format": "csv", "keys --format": "man",
    "--threads": "1", "--plugin-path": ".", "--x": "X", "--y": "y", "--sample": "5",
    "--input-shape": "6", "--shape": "7", "-np": "2", "--np": "2",
    "--ranks-per-node": "1", "--checkpoint": "ck.h5", "--time-steps": "0",
    "--check-sync": "2", "--resume": "ck.h5", "--init": "w.h5", "--time-limit": "60",
    "--stop-after-steps": "1", "--summary": "s.json", "--timeout": "30",
    "--chunk-rows": "10", "--classes": "a,b", "--compress": "1", "--delimiter": ";",
    "--fill-missing": "mean", "--from": "csv", "--label": "0", "--label-type": "int",
    "--y-file": "y.npy", "--drop": "0", "--fill-from": "train.h5",
}
FLAGS = {"-h", "--help", "--version", "--allow-unsafe-plugins", "--deterministic",
         "--overwrite", "--force", "--progress", "--no-progress", "-q", "--quiet",
         "-v", "--verbose", "--header", "--no-header", "--no-label", "--keep-index",
         "--decimal-comma", "--channels-first"}

def value(cmd, opt):
    v = VALUES.get(cmd + " " + opt, VALUES.get(opt))
    return [v] if v else []

def probe(dptrain, cmd, opts):
    """OPT [VALUE]... --help: (exit status, help printed, stderr). A parser
    that takes each OPT reaches --help and prints the usage; one that does
    not stops at the first it does not take."""
    args = [a for o in opts for a in [o] + value(cmd, o)]
    r = subprocess.run([dptrain, cmd, *args, "--help"], capture_output=True, text=True)
    return r.returncode, r.stdout.startswith("usage: dptrain " + cmd), r.stderr.strip()

def options(dptrain, cmd, commands):
    """The options CMD's help lists are taken (all in one command line,
    then one by one to name the culprit); those two or more other help
    texts list (the options parsing code shared by commands takes), and
    an unknown one, are refused, one by one (each run costs a process)."""
    bad = []
    mine = listed(cmd)
    unknown = sorted(o for o in mine if o not in FLAGS and not value(cmd, o))
    if unknown:
        bad.append("no probe value for %s: add it to VALUES or FLAGS" % unknown)
    texts = [listed(c) for c in commands + [""]]
    shared = {o for o in set().union(*texts) if sum(o in t for t in texts) >= 2}
    others = (shared | {"--no-such-option", "--version"}) - mine
    st, helped, err = probe(dptrain, cmd, sorted(mine - {"-h", "--help"}))
    for opt in sorted(mine) if st != 0 or not helped else []:
        st, helped, err = probe(dptrain, cmd, [opt])
        if st != 0 or not helped:
            bad.append("listed but refused: %s (status %d: %s)" % (opt, st, err[:200]))
    for opt in sorted(others):
        st, helped, err = probe(dptrain, cmd, [opt])
        if st != 2 or opt not in err:
            bad.append("accepted but not listed: %s (status %d)" % (opt, st))
    print("%d options listed, %d others refused" % (len(mine), len(others)))
    for b in bad:
        print(b)
    return not bad

if __name__ == "__main__":
    what = sys.argv[1]
    if what == "options":
        sys.exit(0 if options(sys.argv[2], sys.argv[3], sys.argv[4].split()) else 1)
    if what == "defaults":
        for c in [""] + sys.argv[2].split():
            defaults(c)
PY

# 1. Options, both ways. The global help's own options are dptrain's
#    (--help, --version) or a command's, and each command's synopsis in
#    it lists options that command's help lists.
for cmd in $COMMANDS; do
    check "dptrain $cmd: accepts the options its --help lists, refuses the others" \
        "$PYTHON" helpscan.py options "$DPTRAIN" "$cmd" "$COMMANDS"
done
check "dptrain --help: its options are dptrain's or listed by a command" \
    "$PYTHON" - "$DPTRAIN" "$COMMANDS" <<'PY'
import re, subprocess, sys
from helpscan import listed, text
dptrain, commands = sys.argv[1], sys.argv[2].split()
for opt in sorted(listed("")):
    if opt in ("-h", "--help", "--version"):
        r = subprocess.run([dptrain, opt], capture_output=True, text=True)
        assert r.returncode == 0 and r.stdout, opt
    else:
        assert any(opt in listed(c) for c in commands), opt
entries = text("").split("commands:\n")[1].split("\n\n")[0]
for cmd, synopsis in re.findall(r"^  ([a-z-]+)(.*)$", entries, re.M):
    for opt in re.findall(r"[ \[](-{1,2}[a-z][a-z-]*)", synopsis):
        assert opt in listed(cmd), (cmd, opt)
print("ok")
PY
# inspect has a second parser for data files, which --help does not reach.
dpt_test data d6.h5 --rows 50 --features 6 --seed 1
expect_exit 2 "unexpected argument '--no-such-option'" dptrain inspect d6.h5 --no-such-option
expect_exit 2 "unexpected argument 'd6.h5'" dptrain inspect d6.h5 d6.h5

# 2. The defaults. Each row: the help's 'CMD OPTION | PHRASE', then the
#    function below that checks it.
cat > table.txt <<'EOF'
train --out | default: MODEL.h5 in the current folder, named after the model file; with --resume alone, after the checkpoint's model | d_train_out
train --threads | default: up to $OMP_NUM_THREADS or the cores, fewer when the model is too small to gain | d_threads
train --timeout | default: train.timeout, else 600 | d_timeout
train --progress | default: on a terminal, not under mpirun | d_progress
eval --x | default: those of the model file | d_eval_xy
predict --x | default: that of the model file | d_predict_x
predict --format | default, but csv or npy for an --out that ends in .csv or .npy | d_predict_format
check-plugin --shape | default: 7, 6,3 and 5,4,3 | d_shape
dptrain - | default, range, meaning | d_keys_ref
keys - | default, its range or choices, and what it | d_keys_ref
keys - | Defaults and ranges are those the model-file reader applies | d_keys_ref
keys --format | default | d_keys_format
plan -np | default 1 | d_plan_np
plan --threads | default: what train chooses | d_threads
plan --ranks-per-node | default: all P | d_plan_rpn
plan --out | default MODEL.h5 | d_plan_out
plan --time-steps | default 5; 0: no timing | d_plan_steps
convert --from | default: .npy and .npz by their first bytes, anything else is read as CSV | d_from
convert --delimiter | default ','; 'tab' for a tab | d_delimiter
convert --header | default: a header when any of its fields is not a number | d_header
convert --label | default: the last column | d_label
convert --label-type | default: int64 when every label is written as an integer | d_label_type
convert --keep-index | default: drop it | d_keep_index
convert --fill-missing | default: refuse them, naming the line and column | d_fill
convert --x | default: X, x or arr_0; y, Y or arr_1 when the archive has one | d_npz_names
convert --chunk-rows | default: contiguous | d_chunk_rows
convert --overwrite | default: refuse | d_overwrite
EOF
"$PYTHON" helpscan.py defaults "$COMMANDS" > stated.txt
sed 's/ | [a-z_]*$//' table.txt > checked.txt
check "every default the help texts state has a check ($(wc -l < stated.txt) stated)" \
    sh -c 'grep -v -x -F -f checked.txt stated.txt | sed "s/^/no check for: /"; \
           ! grep -q -v -x -F -f checked.txt stated.txt'
check "and every check's default is still stated" \
    sh -c 'grep -v -x -F -f stated.txt checked.txt | sed "s/^/not in the help: /"; \
           ! grep -q -v -x -F -f stated.txt checked.txt'

# dptrain(1) states each default too: the option's entry in the command's
# subsection (or COMMON OPTIONS) says "default" and every number of the
# help's phrase.
sed 's/\\-/-/g; s/\\(aq/'"'"'/g; s/\\f[BIRP]//g' "$top_srcdir/man/dptrain.1" > man1.txt
check "dptrain(1) states the defaults the help texts state" "$PYTHON" - <<'PY'
import re
man = open("man1.txt").read()
sections = {m.group(1): m.group(2) for m in re.finditer(
    r'^\.SS "?dptrain ([a-z-]+)[^\n]*\n(.*?)(?=^\.S[SH] )', man, re.S | re.M)}
common = man.split(".SH COMMON OPTIONS")[1].split(".SH ")[0]
bad = []
for line in open("checked.txt"):
    where, phrase = line.rstrip("\n").split(" | ")
    cmd, opt = where.split()
    if opt == "-":
        continue
    entries = [e for e in re.split(r"^\.TP\n", sections.get(cmd, "") + "\n.TP\n" + common, flags=re.M)
               if re.match(r"^\.[A-Z]*\s+(\S+ )*\"?" + re.escape(opt) + r"\b", e)]
    if not entries:
        bad.append("%s %s: no entry in dptrain(1)" % (cmd, opt))
        continue
    e = " ".join(entries[0].split())
    numbers = re.findall(r"\d[\d,]*\d|\d", phrase)
    if "default" not in e.lower() or any(n not in e for n in numbers):
        bad.append("%s %s: dptrain(1) says: %s (help: %s)" % (cmd, opt, e[:300], phrase))
print("\n".join(bad) or "all stated")
assert not bad
PY

# The data and model the checks share: 400 rows whose datasets are named
# feat and lab (not X and y, so that "those of the model file" shows).
small_model m.cfg
"$PYTHON" - <<'PY'
import h5py
with h5py.File("train.h5", "a") as f:
    f.move("X", "feat")
    f.move("y", "lab")
PY
sed -i 's/standardize = true;/standardize = true; x = "feat"; y = "lab";/' m.cfg
mkdir -p run
(cd run && OMP_NUM_THREADS=2 dptrain train ../m.cfg --format json > ../train.json 2> ../train.err) ||
    { cat train.err; fail "training the shared model failed"; summary; }
json() { # json FILE KEY.KEY...
    "$PYTHON" -c 'import json, sys
v = json.load(open(sys.argv[1]))
for k in sys.argv[2].split("."):
    v = v[k]
print(v)' "$1" "$2"
}
# same_h5 A B: the same datasets (names, dtypes, shapes, values, layouts).
same_h5() {
    "$PYTHON" - "$1" "$2" <<'PY'
import sys, h5py, numpy as np
def sets(p):
    out = {}
    with h5py.File(p) as f:
        f.visititems(lambda n, o: out.__setitem__(n, (o.dtype.str, o.shape, o.chunks,
                     o.compression, o[()].tobytes())) if isinstance(o, h5py.Dataset) else None)
    return out
a, b = sets(sys.argv[1]), sets(sys.argv[2])
assert a == b, ({k: v[:4] for k, v in a.items()}, {k: v[:4] for k, v in b.items()})
print(sys.argv[1], "=", sys.argv[2], sorted(a))
PY
}
# The number of the phrase ($1), or its first number.
number_in() {
    echo "$1" | grep -o '[0-9][0-9]*' | head -n 1
}

d_train_out() {
    out=$(json train.json files.model)
    check "train --out: MODEL.h5 in the current folder (run/$out), named after m.cfg" \
        sh -c "[ -f run/m.h5 ] && [ ! -e m.h5 ] && [ '$out' = m.h5 ]"
    st=0
    dptrain train m.cfg -q --out unused.h5 --checkpoint ck/ck.h5 --stop-after-steps 3 \
        > stop.log 2>&1 || st=$?
    [ "$st" = 3 ] || { cat stop.log; fail "the run to resume stopped with status $st, not 3"; }
    mkdir -p elsewhere
    (cd elsewhere && dptrain train --resume ../ck/ck.h5 -q > ../resume.log 2>&1) || true
    check "train --resume alone: the model named after the checkpoint's (elsewhere/m.h5)" \
        sh -c '[ -f elsewhere/m.h5 ] || { cat resume.log; false; }'
}

# The threads train chooses and those plan says it will: a wide model (49k
# parameters, which pay for 2 threads) with OMP_NUM_THREADS=1 (up to it)
# and =8 (no more than the cores), the small model with 2 (too small).
cores=$("$PYTHON" -c 'import os; print(len(os.sched_getaffinity(0)))')
d_threads() {
    [ ! -f threads.done ] || return 0
    touch threads.done
    plan_small=$(OMP_NUM_THREADS=2 dptrain plan m.cfg --time-steps 0 --format json | tee plan-small.json |
                 "$PYTHON" -c 'import json, sys; print(json.load(sys.stdin)["threads"])')
    check "the small model: 1 thread of OMP_NUM_THREADS=2 in train and plan" \
        [ "$(json train.json threads) $plan_small" = "1 1" ]
    sed 's/units = 8;/units = 6000;/; s/epochs = 4;/epochs = 1;/' m.cfg > wide.cfg
    for omp in 1 8; do
        want=$(( omp < cores ? omp : cores ))
        OMP_NUM_THREADS=$omp dptrain train wide.cfg -q --out wide.h5 --format json > wide.json 2> wide.err ||
            cat wide.err
        OMP_NUM_THREADS=$omp dptrain plan wide.cfg --time-steps 0 --format json > wide-plan.json
        check "the wide model, OMP_NUM_THREADS=$omp, $cores cores: train and plan choose $want" \
            [ "$(json wide.json threads) $(json wide-plan.json threads)" = "$want $want" ]
    done
}

# A rank stopped (SIGSTOP) with train.timeout = 2 and no --timeout: the
# others give up after 2 s; and the default of train.timeout is the help's.
d_timeout() {
    check "train.timeout's default is the help's $(number_in "$1") s" \
        [ "$(dptrain keys | sed -n 's/^train\.timeout .*default \([0-9]*\).*/\1/p')" = "$(number_in "$1")" ]
    dpt_test data big.h5 --rows 2000 --features 6 --seed 1
    sed 's/"feat"/"X"/; s/"lab"/"y"/; s/train.h5/big.h5/; s/epochs = 4;/epochs = 100000; timeout = 2;/' m.cfg > hang.cfg
    "$MPIRUN" --oversubscribe --allow-run-as-root -np 2 sh -c \
        'echo $$ > pid.$OMPI_COMM_WORLD_RANK; exec "$0" train hang.cfg --out hang.h5 -q' \
        "$DPTRAIN" > hang.out 2>&1 &
    job=$!
    n=0
    while [ ! -f pid.1 ] && [ $n -lt 100 ]; do sleep 0.1; n=$((n + 1)); done
    sleep 1.5
    kill -STOP "$(cat pid.1 2>/dev/null)" 2>/dev/null || true
    # Should the watchdog not end the job, the job is ended after 30 s.
    (sleep 30 && kill "$job" 2>/dev/null) &
    guard=$!
    st=0
    wait $job || st=$?
    kill "$guard" 2>/dev/null || true
    kill -KILL "$(cat pid.1)" 2>/dev/null || true
    kill -CONT "$(cat pid.1)" 2>/dev/null || true
    check "without --timeout, the watchdog waits train.timeout (2 s)" \
        sh -c '[ '"$st"' != 0 ] && grep "no answer from the other ranks for 2 s" hang.out || { cat hang.out; false; }'
}

# --progress: bars (\033[K) on a terminal, none in a pipe or under mpirun,
# and on a terminal the same as --progress.
d_progress() {
    bars() {
        if dpt_test pty "$@" 2>/dev/null | grep -q "$(printf '\033')\[K"; then echo bars; else echo none; fi
    }
    got="$(bars "$DPTRAIN" train m.cfg --out t1.h5) $(bars "$DPTRAIN" train m.cfg --out t2.h5 --progress)"
    check "on a terminal: bars, as with --progress ($got)" [ "$got" = "bars bars" ]
    check "in a pipe: no bars" sh -c '! grep -q "$(printf "\033")\[K" train.err'
    got=$(bars "$MPIRUN" --oversubscribe --allow-run-as-root -np 1 "$DPTRAIN" train m.cfg --out t3.h5)
    check "under mpirun, on a terminal: no bars ($got)" [ "$got" = none ]
}

# eval and predict without --x/--y read the model file's (feat, lab): the
# results equal those of the names given.
d_eval_xy() {
    must dptrain eval run/m.h5 train.h5 --format json
    cp log eval1.json
    must dptrain eval run/m.h5 train.h5 --format json --x feat --y lab
    check "eval without --x/--y = with --x feat --y lab (the model file's)" cmp eval1.json log
}
d_predict_x() {
    must dptrain predict run/m.h5 train.h5 --out p1.h5
    must dptrain predict run/m.h5 train.h5 --out p2.h5 --x feat --format hdf5
    check "predict without --x (and --format) = with --x feat (the model file's) --format hdf5" same_h5 p1.h5 p2.h5
}
d_predict_format() {
    [ -f p1.h5 ] || d_predict_x
    must dptrain predict run/m.h5 train.h5 --out p.csv
    must dptrain predict run/m.h5 train.h5 --out p.npy
    check "predict --out p.csv writes CSV, --out p.npy numpy, their values those of p1.h5" \
        "$PYTHON" - <<'PY'
import h5py, numpy as np
pred, label = (h5py.File("p1.h5")[k][()] for k in ("pred", "label"))
head, *rows = open("p.csv").read().splitlines()
assert head == "pred_0,label", head
csv = np.array([[float(v) for v in r.split(",")] for r in rows])
assert np.allclose(csv[:, 0], pred[:, 0], atol=1e-6) and (csv[:, 1] == label).all()
assert (np.load("p.npy") == pred).all() and (np.load("p.label.npy") == label).all()
print(len(rows), "rows")
PY
}

d_shape() {
    shapes=$(echo "$1" | sed 's/^default: //; s/ and /, /; s/, / --shape /g')
    so="$top_builddir/plugins/.libs/layer_dense.so"
    dptrain check-plugin "$so" --set units=3 --format json > shape1.json || true
    dptrain check-plugin "$so" --set units=3 --format json --shape $shapes > shape2.json || true
    check "check-plugin without --shape = with --shape $shapes" \
        sh -c 'cmp shape1.json shape2.json && grep -c "shape \[" shape1.json'
}

d_keys_ref() {
    check "the key reference's defaults: tests/keys.sh holds them to the reader" \
        grep -q "tests/keys.sh" "$top_srcdir/Makefile.am"
}
d_keys_format() {
    dptrain keys > keys1.txt
    dptrain keys --format text > keys2.txt
    check "keys = keys --format text" cmp keys1.txt keys2.txt
}

d_plan_np() {
    n=$(number_in "$1")
    dptrain plan m.cfg --time-steps 0 --format json > np1.json
    dptrain plan m.cfg --time-steps 0 --format json -np "$n" > np2.json
    check "plan without -np = with -np $n" cmp np1.json np2.json
}
d_plan_rpn() {
    dptrain plan m.cfg --time-steps 0 --format json -np 2 > rpn1.json
    dptrain plan m.cfg --time-steps 0 --format json -np 2 --ranks-per-node 2 > rpn2.json
    check "plan -np 2 without --ranks-per-node = with --ranks-per-node 2" cmp rpn1.json rpn2.json
}
d_plan_out() {
    (cd run && dptrain plan ../m.cfg --time-steps 0 --format json > ../out1.json)
    check "plan's model file without --out: m.h5 (as train's)" [ "$(json out1.json files.model)" = m.h5 ]
}
d_plan_steps() {
    n=$(number_in "$1")
    dptrain plan m.cfg --format json > steps.json
    check "plan times $n steps without --time-steps, none with 0" \
        [ "$(json steps.json time.steps_timed) $(json np1.json time.steps_timed)" = "$n 0" ]
}

# convert: each default against the option given its documented value.
"$PYTHON" - <<'PY'
import numpy as np
rows = [[1.5, 2, 0], [3, 4.25, 1], [5, 6, 2], [7, 8.5, 1]]
with open("h.csv", "w") as f:
    f.write("a,b,label\n" + "".join("%g,%g,%g\n" % tuple(r) for r in rows))
with open("n.csv", "w") as f:
    f.write("".join("%g,%g,%g\n" % tuple(r) for r in rows))
with open("semi.csv", "w") as f:
    f.write("a;b;label\n" + "".join("%g;%g;%g\n" % tuple(r) for r in rows))
with open("float.csv", "w") as f:
    f.write("a,b,label\n" + "".join("%g,%g,%g.5\n" % tuple(r) for r in rows))
with open("index.csv", "w") as f:
    f.write(",a,b,label\n" + "".join("%d,%g,%g,%g\n" % ((i,) + tuple(r)) for i, r in enumerate(rows)))
with open("missing.csv", "w") as f:
    f.write("a,b,label\n1,2,0\n3,,1\n")
X = np.array(rows, dtype=np.float32)[:, :2]
y = np.array([0, 1, 2, 1])
np.save("x.npy.bin", X)  # numpy adds .npy: renamed below
np.savez("pos.npz", X, y)
np.savez("lower.npz", x=X, Y=y)
PY
mv x.npy.bin.npy x.bin
conv() {
    out=$1
    shift
    rm -f "$out"
    dptrain convert "$@" "$out" -q > conv.log 2>&1 || { cat conv.log; return 1; }
}
conv_same() { # conv_same MSG IN 'DEFAULT-ARGS' 'EXPLICIT-ARGS'
    if conv c1.h5 $3 "$2" && conv c2.h5 $4 "$2"; then
        check "$1" same_h5 c1.h5 c2.h5
    else
        fail "$1: a conversion failed"
    fi
}
d_from() {
    conv_same "convert: a .npy file named x.bin is read as numpy (--from npy)" x.bin "" "--from npy"
    conv_same "convert: anything else as CSV (--from csv)" h.csv "" "--from csv"
}
d_delimiter() {
    conv_same "convert: the delimiter is ',' (--delimiter ,)" h.csv "" "--delimiter ,"
}
d_header() {
    conv_same "convert: a header when a field is not a number (--header)" h.csv "" "--header"
    conv_same "convert: none when all are numbers (--no-header)" n.csv "" "--no-header"
}
d_label() {
    conv_same "convert: the label is the last column (--label -1)" h.csv "" "--label -1"
}
d_label_type() {
    conv_same "convert: integer labels as int64 (--label-type int)" h.csv "" "--label-type int"
    conv_same "convert: others as float32 (--label-type float)" float.csv "" "--label-type float"
}
d_keep_index() {
    conv c1.h5 index.csv
    conv c2.h5 h.csv
    check "convert: the empty-named first column is dropped (= the file without it)" same_h5 c1.h5 c2.h5
}
d_fill() {
    expect_error "missing.csv: line 3, column 'b' (index 1): missing value" dptrain convert missing.csv miss.h5 -q
}
d_npz_names() {
    conv_same "convert: .npz arrays arr_0 and arr_1 (--x arr_0 --y arr_1)" pos.npz "" "--x arr_0 --y arr_1"
    conv_same "convert: .npz arrays x and Y (--x x --y Y)" lower.npz "" "--x x --y Y"
}
d_chunk_rows() {
    conv c1.h5 h.csv
    check "convert: contiguous without --chunk-rows" "$PYTHON" -c "
import h5py; f = h5py.File('c1.h5'); assert f['X'].chunks is None and f['y'].chunks is None"
}
d_overwrite() {
    conv c1.h5 h.csv
    expect_error "c1.h5.*exists" dptrain convert h.csv c1.h5 -q
    check "convert --overwrite replaces it" dptrain convert h.csv c1.h5 -q --overwrite
}

# (The table on descriptor 3: mpirun and the commands may read stdin.)
while IFS='|' read -r where phrase fn <&3; do
    phrase=$(echo "$phrase" | sed 's/^ //; s/ $//')
    echo "# $where| $phrase"
    $fn "$phrase" < /dev/null
done 3< table.txt

summary
