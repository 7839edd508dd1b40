#!/bin/sh
# Every relative path written in a model file is relative to the model
# file's folder: the data it reads and the files it writes (train.log,
# train.checkpoint.path), whatever the working directory; a path given on
# the command line (--out, --checkpoint, --summary, a --set value) stays
# relative to the working directory.
. "${top_srcdir:?run me through make check}/tests/lib.sh"

mkdir -p proj/cfg proj/data work
dpt_test data proj/data/train.h5 --rows 200 --features 4 --seed 3 --noise 0.3
cat > proj/cfg/m.cfg <<'CFG'
data = { train = "../data/train.h5"; };
model = { layers = ( { type = "dense"; units = 4; activation = "relu"; },
                     { type = "dense"; units = 1; activation = "sigmoid"; } );
          loss = "bce"; optimizer = "adam"; };
train = { batch = 50; epochs = 3; seed = 1; log = "logs/run.csv";
          checkpoint = { path = "ck/c.h5"; }; };
CFG

# 1. From another folder: the log and the checkpoints go beside the model
#    file; --out is the working directory's.
cd work
must dptrain train ../proj/cfg/m.cfg --out m.h5
cd ..
check "train.log is proj/cfg/logs/run.csv (3 rows)" [ "$(wc -l < proj/cfg/logs/run.csv)" = 4 ]
check "the checkpoint link is proj/cfg/ck/c.h5" [ -L proj/cfg/ck/c.h5 ]
check "--out is work/m.h5" [ -f work/m.h5 ]
check "nothing was written relative to work/ but --out (and must's log)" \
    [ "$(ls work | grep -v '^log$')" = m.h5 ]

# 2. --resume auto from a third folder finds the series beside the model
#    file, and appends to the same log.
mkdir -p elsewhere && cd elsewhere
must dptrain train ../proj/cfg/m.cfg --out m.h5 --resume auto --set train.epochs=5
cd ..
check "resumed: the log beside the model file has 5 rows" [ "$(wc -l < proj/cfg/logs/run.csv)" = 6 ]
check "resumed: from the checkpoint of case 1" grep -q "resum" elsewhere/log

# 3. Paths on the command line are the working directory's: --set
#    train.log, --checkpoint, --summary.
cd work
must dptrain train ../proj/cfg/m.cfg --out m3.h5 --set train.log=mine.csv --checkpoint myck/c.h5 \
    --summary s.json
cd ..
check "--set train.log=mine.csv is work/mine.csv" [ -f work/mine.csv ]
check "--checkpoint myck/c.h5 is work/myck/c.h5" [ -L work/myck/c.h5 ]
check "--summary s.json is work/s.json, listing those files" "$PYTHON" -c '
import json; f = json.load(open("work/s.json"))["files"]
assert f["log"] == "mine.csv" and f["checkpoint"] == "myck/c.h5" and f["model"] == "m3.h5", f'

# 4. An absolute path in the model file is taken as it is.
sed "s|\"logs/run.csv\"|\"$tmp/abs.csv\"|; s|\"ck/c.h5\"|\"$tmp/absck/c.h5\"|" proj/cfg/m.cfg > proj/cfg/abs.cfg
cd work
must dptrain train ../proj/cfg/abs.cfg --out m4.h5
cd ..
check "absolute paths: $tmp/abs.csv and $tmp/absck/c.h5" sh -c "[ -f '$tmp/abs.csv' ] && [ -L '$tmp/absck/c.h5' ]"

# 5. A file error names the path as the model file wrote it, resolved.
sed 's|"logs/run.csv"|"afile/run.csv"|' proj/cfg/m.cfg > proj/cfg/bad.cfg
echo x > proj/cfg/afile
cd work
expect_error "train.log ../proj/cfg/afile/run.csv (resolved as $tmp/proj/cfg/afile/run.csv)" \
    dptrain train ../proj/cfg/bad.cfg --out m5.h5 --overwrite
cd ..
summary
