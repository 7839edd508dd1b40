#!/bin/sh
# No silent loss of another run's files (README, "Checkpoints"): a fresh
# run refuses to start over an existing checkpoint series or a non-empty
# metrics log, naming the files and the ways out (exit 1, on every rank);
# --overwrite replaces them; --resume auto takes the newest checkpoint of
# the series that loads, skipping a damaged one, or starts afresh when the
# series is empty, and says which, keeping an earlier log and summary as
# FILE.N (case 6b). On 1 and 2 ranks (the decision is rank
# 0's and every rank follows it).
. "${top_srcdir:?run me through make check}/tests/lib.sh"

small_model m.cfg 'log = "run.csv";'
# 10 steps per epoch.

for np in 1 2; do
    rm -rf r$np && mkdir r$np && cp m.cfg train.h5 r$np/ && cd r$np
    run() { mpirun_np $np "$DPTRAIN" train m.cfg --quiet "$@"; }

    # 1. The first run writes its series (keep = 2: steps 30, 40), log and
    #    summary.
    must run --checkpoint ck.h5 --out a.h5 --summary s.json
    lines=$(wc -l < run.csv)
    cp s.json s-first.json

    # 2. A second fresh run refuses, naming the link, the numbered files and
    #    the log, and the three ways out; nothing is touched.
    expect_error "replace the files of an earlier run: ck.h5, ck-000000000040.h5, ck-000000000030.h5, run.csv (train.log); continue that run with --resume auto, replace them with --overwrite, or write to another path" \
        run --checkpoint ck.h5 --out b.h5
    check "np=$np: the log is untouched ($lines lines)" test "$(wc -l < run.csv)" = "$lines"
    check "np=$np: the checkpoints are untouched" test -f ck-000000000030.h5 -a -f ck-000000000040.h5

    # 2b. Its summary is that run's record: listed, and kept as it was (the
    #     refused run's own summary replaced it before).
    expect_error "earlier run: .*run.csv (train.log), s.json (--summary); continue" \
        run --checkpoint ck.h5 --out b.h5 --summary s.json
    check "np=$np: the first run's summary is kept" cmp s.json s-first.json

    # 3. The log alone is in the way too; an empty one (a run killed before
    #    its first epoch) is not.
    expect_error "earlier run: run.csv (train.log); replace them with --overwrite" \
        run --checkpoint other.h5 --out b.h5
    check "np=$np: with no checkpoint to continue from, --resume auto is not offered" \
        ! grep -q -- "--resume auto" "$tmp/.err"
    : > empty.csv
    check "np=$np: an empty log is no earlier run's" run --set train.log=empty.csv --out e.h5

    # 4. --resume auto from the end of training: the newest checkpoint,
    #    said so, in the note and in the first line (without --quiet); with
    #    more epochs it goes on and appends to the log.
    expect_exit 0 "note: --resume auto: resuming from ck-000000000040.h5" \
        mpirun_np $np "$DPTRAIN" train m.cfg --checkpoint ck.h5 --resume auto \
        --set train.epochs=6 --out c.h5
    check "np=$np: the first line names the checkpoint" \
        grep -q "^dptrain .*: training m.cfg on train.h5, .*thread, resuming from ck-000000000040.h5 (--resume auto)$" "$tmp/.out"
    check "np=$np: the log goes on (6 epochs: $(wc -l < run.csv) lines)" test "$(wc -l < run.csv)" = 7

    # 5. A damaged newest checkpoint is skipped, named, and the one before
    #    taken; when none loads it is an error, not a fresh start.
    newest=ck-000000000060.h5
    head -c 2000 ck-000000000050.h5 > cut.h5 && mv cut.h5 $newest && touch $newest
    expect_exit 0 "skipping $newest: .*$newest: not an HDF5 file" \
        run --checkpoint ck.h5 --resume auto --set train.epochs=6 --out d.h5
    check "np=$np: the one before is taken" grep "resuming from ck-000000000050.h5" "$tmp/.err"
    for f in ck-0*.h5; do head -c 2000 "$f" > cut.h5 && mv cut.h5 "$f"; done
    expect_error "none of the 2 checkpoint files of ck.h5 loads" \
        run --checkpoint ck.h5 --resume auto --set train.epochs=6 --out d.h5

    # 6. An empty series: --resume auto starts afresh and says so, in the
    #    note and in the first line, which does not claim a resume; its
    #    weights are a fresh run's.
    expect_exit 0 "no checkpoint of new.h5 yet: starting afresh" \
        mpirun_np $np "$DPTRAIN" train m.cfg --checkpoint new.h5 --resume auto \
        --set train.log=new.csv --out f.h5
    check "np=$np: the first line says it starts afresh" \
        grep -q "^dptrain .*: training m.cfg on train.h5, .*thread, starting afresh (--resume auto: no checkpoint yet)$" "$tmp/.out"
    check "np=$np: and no line says it resumes" ! grep -q "resuming" "$tmp/.out" "$tmp/.err"
    check "np=$np: --resume auto on nothing == a fresh run" dpt_test compare a.h5 f.h5

    # 6b. --resume auto with no checkpoint but an earlier run's log and
    #     summary: it starts afresh (a requeued job must run) and keeps
    #     them as FILE.1, FILE.2, ..., saying so; nothing is lost.
    cp run.csv run-before.csv
    cp s.json s-before.json
    : > run.csv.1
    expect_exit 0 "the earlier run's train.log run.csv is kept as run.csv.2" \
        run --checkpoint none.h5 --resume auto --set train.epochs=1 --out h.h5 --summary s.json
    check "np=$np: the earlier log is kept whole" cmp run.csv.2 run-before.csv
    check "np=$np: so is the summary beside it" cmp s.json.1 s-before.json
    check "np=$np: run.csv.1 was not replaced" test ! -s run.csv.1
    check "np=$np: the new log is the new run's (1 epoch)" test "$(wc -l < run.csv)" = 2
    rm -f run.csv.1 run.csv.2 s.json.1

    # 7. --overwrite: the fresh run replaces the log and, at its first
    #    checkpoint, every numbered file of the earlier series.
    check "np=$np: --overwrite" run --checkpoint ck.h5 --overwrite --set train.epochs=2 --out g.h5
    check "np=$np: the log is the new run's (2 epochs)" test "$(wc -l < run.csv)" = 3
    check "np=$np: only the new run's checkpoints: $(ls ck-0*.h5 | tr '\n' ' ')" \
        test "$(ls ck-0*.h5 | tr '\n' ' ')" = "ck-000000000010.h5 ck-000000000020.h5 "
    cd ..
done

summary
