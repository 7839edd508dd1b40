#!/bin/sh
# Texts that said something false (issue 18), each held to what the code
# does: the checkpoint file names train --help gives are the names written;
# docs/DESIGN.md's list of model-file keys is the list `dptrain keys`
# derives from the reader; the HDF5 layouts DESIGN.md gives for model and
# checkpoint files name everything a written file holds; and --set, which
# replaces single values, refuses a group or list with the form that
# reaches inside it, which then works.
. "${top_srcdir:?run me through make check}/tests/lib.sh"

design="$top_srcdir/docs/DESIGN.md"
small_model m.cfg
steps=$((400 / 40 * 4)) # rows / batch * epochs

# 1. train --help: PATH is a link to the newest STEM-STEP.h5, STEP the
#    step in 12 digits. A run with --checkpoint run/ck.h5 and a checkpoint
#    every 3 steps writes exactly such files (the newest 2 kept), and the
#    link names the last step's.
dptrain train --help > help.txt
check "train --help names the files STEM-STEP.h5 for PATH = STEM.h5, 12 digits" \
    grep -q "STEM-STEP.h5 for$" help.txt
grep -q "PATH = STEM.h5, STEP the step in 12 digits" help.txt || fail "the help's naming changed"
must dptrain train m.cfg -q --out m.h5 --checkpoint run/ck.h5 --set train.checkpoint.every_steps=3
files=$(cd run && ls | tr '\n' ' ')
want="$(printf 'ck-%012d.h5 ' $((steps / 3 * 3)) $steps)ck.h5 "
check "the files written are the help's: $files" [ "$files" = "$want" ]
check "run/ck.h5 links to the last step's file" [ "$(readlink run/ck.h5)" = "$(printf 'ck-%012d.h5' $steps)" ]
check "and the help does not say PATH-STEP any more" sh -c '! grep -q "PATH-STEP" help.txt'

# 2. DESIGN.md's key list ("Sections `data` (train, test, ...), `model`
#    (...) and `train` (...)") is the keys of each section that `dptrain
#    keys` lists, no more, no less.
must dptrain keys --format json
cp log keys.json
check "DESIGN.md lists every key of data, model and train, and no other" \
    "$PYTHON" - "$design" keys.json <<'PY'
import json, re, sys
text = " ".join(open(sys.argv[1]).read().split("### Model-file syntax")[1].split("###")[0].split())
listed = {s: set(k.strip() for k in body.split(","))
          for s, body in re.findall(r"`(data|model|train)` \(([^)]*)\)", text)}
keys = [k["key"] for k in json.load(open(sys.argv[2]))["keys"]]
known = {s: {k.split(".")[1] for k in keys if k.count(".") == 1 and k.startswith(s + ".")}
         for s in ("data", "model", "train")}
for s in known:
    assert listed.get(s) == known[s], (s, "missing:", known[s] - listed.get(s, set()),
                                       "not keys:", listed.get(s, set()) - known[s])
print({s: len(v) for s, v in known.items()})
PY

# 3. DESIGN.md's layouts of model and checkpoint files name every
#    attribute, group and dataset at the top of a written file (a name
#    missing there is a thing the code stores without saying so).
check "DESIGN.md names what a model and a checkpoint hold at their top" \
    "$PYTHON" - "$design" m.h5 run/ck.h5 <<'PY'
import sys, h5py
doc = open(sys.argv[1]).read()
model = doc.split("### Model files (as built)")[1].split("```")[1]
ckpt = model + doc.split("### Checkpoints (as built)")[1].split("```")[1]
for path, block in ((sys.argv[2], model), (sys.argv[3], ckpt)):
    with h5py.File(path) as f:
        names = list(f.attrs) + list(f)
    missing = [n for n in names if n not in block]
    assert not missing, (path, missing)
    print(path, len(names), "names, all documented")
PY

# 4. --set replaces single values. A group or a list given a value is
#    refused (exit 1) with the form that reaches inside it; that form works.
expect_error "--set 'model.optimizer=sgd': 'model.optimizer' is a group; .* e.g. --set model.optimizer.type=sgd" \
    dptrain train m.cfg --set model.optimizer=sgd --out x.h5
expect_error "--set 'model.layers=3': 'model.layers' is a list; .* e.g. --set model.layers.\[0\].KEY=3" \
    dptrain train m.cfg --set model.layers=3 --out x.h5
expect_error "'train.checkpoint' is a group; .* e.g. --set train.checkpoint.path=c.h5" \
    dptrain train m.cfg --set train.checkpoint.path=a.h5 --set train.checkpoint=c.h5 --out x.h5
must dptrain train m.cfg -q --set model.optimizer.type=sgd --set model.layers.[0].units=3 --out sgd.h5
check "the suggested form works: sgd, 3 units" "$PYTHON" -c "
import h5py; f = h5py.File('sgd.h5'); c = f['config'][()].decode()
assert 'type = \"sgd\"' in c and f['layers/00_dense/weight'].shape == (3, 6), c"

summary
