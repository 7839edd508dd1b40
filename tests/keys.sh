#!/bin/sh
# `dptrain keys`, the reference of every model-file key, cannot drift from
# the reader: its types, defaults and ranges are recorded from the getter
# calls of src/model/spec.c (src/model/keys.h), and this test checks them
# three more ways: against the source text of those calls, against what the
# reader refuses and accepts at the edges of each range, and against the
# MODEL-FILE KEYS section of dptrain(1), which must be what
# `dptrain keys --format man` prints (scripts/man-keys rewrites it).
. "${top_srcdir:?run me through make check}/tests/lib.sh"

# 1. The command runs without MPI or files and its reference is whole (a
#    key read without a row in keys.c, or a row the reader does not read,
#    makes it exit 1 naming the key).
must dptrain keys
cp log keys.txt
must dptrain keys --format json
cp log keys.json
check "text and JSON list the same keys, at least 50" "$PYTHON" - keys.txt keys.json <<'PY'
import json, sys
text = [l.split()[0] for l in open(sys.argv[1]) if l.strip() and not l.startswith(" ")]
keys = [k["key"] for k in json.load(open(sys.argv[2]))["keys"]]
assert text == keys, (text, keys)
assert len(keys) >= 50 and len(set(keys)) == len(keys), keys
for k in json.load(open(sys.argv[2]))["keys"]:
    assert k["type"] and k["default"] and k["meaning"], k
print(len(keys), "keys")
PY

# 2. Every getter call in src/model/spec.c, read from the source text,
#    is in the reference under its section with the default it passes.
check "every getter of spec.c is listed with its default" "$PYTHON" - keys.json \
    "$top_srcdir/src/model/spec.c" "$top_srcdir/src/model/spec.h" <<'PY'
import json, re, sys
ref = {k["key"]: k for k in json.load(open(sys.argv[1]))["keys"]}
src = open(sys.argv[2]).read()
defines = dict(re.findall(r"#define (\w+) ([0-9.e+-]+)", open(sys.argv[3]).read()))
# The section each reader function fills (the text between its name and
# the next function's).
sections = {"read_data": "data", "read_train": "train", "read_time_limit": "train",
            "read_log_every": "train",
            "read_checkpoint": "train.checkpoint", "read_early_stopping": "train.early_stopping",
            "read_lr_schedule": "train.lr_schedule", "read_reduce_lr": "train.reduce_lr_on_plateau"}
parts = re.split(r"\nstatic int (\w+)\(", src)
seen = 0
for name, body in zip(parts[1::2], parts[2::2]):
    if name not in sections:
        continue
    for kind, key, default in re.findall(
            r'get_(int|float|bool|string)\(h->ctx, "(\w+)", ([^,]+),', body):
        full = sections[name] + "." + key
        assert full in ref, f"{full}: read by {name} but not in dptrain keys"
        got = ref[full]["default"]
        if (ref[full]["type"] == "string") != (kind == "string"):
            # A number or a string, listed as one of them: train.time_limit
            # (as the string), train.log_every (as the integer).
            continue
        default = defines.get(default.strip(), default.strip())
        if kind in ("int", "float"):
            assert float(got) == float(default), (full, got, default)
        elif kind == "bool":
            assert got == ("true" if default == "1" else "false"), (full, got, default)
        else:
            assert got == ("none" if default == "NULL" else default), (full, got, default)
        seen += 1
# data.train, data.test, data.validation and the columns are read as
# settings (src/model/spec_data.c), not through these getters: part 1
# covers them (a key read without a row fails `dptrain keys`).
assert seen >= 38, seen
print(seen, "getter calls match")
PY

# 3. The ranges and choices are the reader's: for each typed key, a value
#    just outside its range (or not among its choices, or not a boolean)
#    is refused naming the key, and the edge of the range (each choice) is
#    accepted. `dptrain summary --input-shape` reads the whole model file
#    and no data.
cat > base.cfg <<'EOF'
model = { layers = ( { type = "dense"; units = 1; } ); loss = "mse"; optimizer = "sgd"; };
EOF
"$PYTHON" - keys.json > cases.txt <<'PY'
import json, re, sys
for k in json.load(open(sys.argv[1]))["keys"]:
    name, t, r = k["key"], k["type"], k["range"]
    if t == "boolean":
        print(name, 3, "bad"); print(name, "true", "good")
    elif r.startswith("one of "):
        print(name, "bogus", "bad")
        for c in r[len("one of "):].split(", "):
            print(name, c, "good")
    elif t in ("integer", "number"):
        m = re.fullmatch(r"at least (\S+)", r)
        if m:
            lo = float(m.group(1))
            step = 1 if t == "integer" else 0.5
            print(name, int(lo - 1) if t == "integer" else lo - step, "bad")
            print(name, int(lo) if t == "integer" else lo, "good")
        m = re.fullmatch(r"\[(\S+), (\S+)\]", r)
        if m:
            hi = float(m.group(2))
            print(name, int(hi + 1) if t == "integer" else hi + 0.5, "bad")
            print(name, int(hi) if t == "integer" else hi, "good")
PY
bad=0 good=0 wrong=""
while read -r key value want; do
    if dptrain summary base.cfg --input-shape 4 --set "$key=$value" > out.txt 2>&1; then
        got=good
    else
        got=bad
        # The refusal names the key it is about.
        grep -q "'${key##*.}'" out.txt || got="bad-unnamed"
    fi
    if [ "$got" = "$want" ]; then
        eval "$want=\$((\$$want + 1))"
    else
        wrong="$wrong $key=$value($got)"
    fi
done < cases.txt
check "out-of-range values refused naming the key ($bad), edges accepted ($good)" \
    sh -c "[ -z '$wrong' ] && [ $bad -ge 20 ] && [ $good -ge 20 ] || { echo 'wrong:$wrong'; false; }"

# 4. dptrain(1)'s MODEL-FILE KEYS entries are what --format man prints.
must dptrain keys --format man
cp log keys.man
sed -n '/^\.\\" keys: begin/,/^\.\\" keys: end/p' "$top_srcdir/man/dptrain.1" \
    | sed '1d;$d' > page.man
check "dptrain.1 lists every key as 'dptrain keys --format man' (else run scripts/man-keys)" \
    diff page.man keys.man

# 5. A bad command line exits 2.
expect_exit 2 "format must be" dptrain keys --format yaml
expect_exit 2 "unknown argument" dptrain keys extra

summary
