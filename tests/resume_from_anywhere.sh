#!/bin/sh
# A requeued job resumes from its checkpoint alone, from any folder: the
# checkpoint stores the model description with every path absolute and the
# checkpoint series written out (src/model/spec_store.h), so `dptrain train
# --resume A/ck.h5` run in another folder reads A's data, appends to A's
# train.log, goes on checkpointing into A as the original run did, and ends
# with bitwise the weights of a run never stopped. Its default --out is
# named after the model (m.cfg -> m.h5, the name the checkpoint stored),
# never after the checkpoint, and no run writes its model over a
# checkpoint or the link to one (src/cli/resume_out.h).
. "${top_srcdir:?run me through make check}/tests/lib.sh"

# The project folder A: the model file beside its data in A/data. 400 rows
# in batches of 40 are 10 steps an epoch, 40 in 4 epochs; a checkpoint every
# 7 steps and at every epoch's end, the newest 3 kept.
mkdir -p A/data B
dpt_test data A/data/train.h5 --rows 400 --features 6 --seed 2 --noise 0.3
cat > A/m.cfg <<'CFG'
data = { train = "data/train.h5"; standardize = true; };
model = {
  layers = ( { type = "dense"; units = 8; activation = "relu"; },
             { type = "dense"; units = 1; activation = "sigmoid"; } );
  loss = "bce";
  optimizer = { type = "adam"; learning_rate = 0.01; };
};
train = { batch = 40; epochs = 4; seed = 5; log = "run.csv";
          checkpoint = { path = "ck.h5"; every_steps = 7; keep = 3; }; };
CFG
rows=400 batch=40 epochs=4 every=7 keep=3
steps_per_epoch=$((rows / batch))
last=$((steps_per_epoch * epochs))

# 1. The runs never stopped, 4 and 6 epochs (their own checkpoints and
#    logs, out of the way of the series under test).
cd A
must dptrain train m.cfg --deterministic -q --out straight4.h5 --checkpoint s4.h5 --set train.log=s4.csv
must dptrain train m.cfg --deterministic -q --out straight6.h5 --checkpoint s6.h5 --set train.log=s6.csv \
    --set train.epochs=6
ok "straight runs of 4 and 6 epochs"

# 2. The original run, started in A, stops after 15 steps (step 5 of epoch
#    2) at a checkpoint, as a preempted job does.
expect_exit 3 "stopped on request after step 5 of epoch 2" \
    dptrain train m.cfg --deterministic -q --stop-after-steps 15
check "ck.h5 links to the checkpoint of step 15" [ "$(readlink ck.h5)" = ck-000000000015.h5 ]
cd ..

# 3. The requeued job starts in B with the checkpoint alone, on 2 ranks.
cd B
check "--resume ../A/ck.h5 from folder B, no model file, 2 ranks" \
    mpirun_np 2 "$DPTRAIN" train --resume ../A/ck.h5 --deterministic -q
check "the model is B/m.h5 (named after m.cfg, not the checkpoint)" [ -f m.h5 ]
files=$(ls | grep -v -x -e check.out -e log | tr '\n' ' ')
check "B holds nothing else (no log, no checkpoint): $files" [ "$files" = "m.h5 " ]
check "stopped in A + resumed from B == 4 epochs straight (bitwise)" \
    dpt_test compare ../A/straight4.h5 m.h5
cd ../A

# 4. It went on checkpointing into A as the original did: the numbered
#    files kept are the newest $keep of the steps that are multiples of
#    $every or ends of epochs, and ck.h5 links to the last step's.
want=$(i=1; while [ $i -le $last ]; do
           if [ $((i % every)) = 0 ] || [ $((i % steps_per_epoch)) = 0 ]; then
               printf 'ck-%012d.h5\n' $i
           fi
           i=$((i + 1))
       done | tail -n $keep | tr '\n' ' ')
got=$(ls ck-0*.h5 | tr '\n' ' ')
check "checkpoints kept in A: $got (every_steps, every_epochs and keep as the original)" \
    [ "$got" = "$want" ]
check "ck.h5 links to the last step's checkpoint" [ "$(readlink ck.h5)" = "$(printf 'ck-%012d.h5' $last)" ]

# 5. train.log is A's run.csv, a row per epoch, 1 to 4, as if never stopped.
check "A/run.csv has the rows of epochs 1 to $epochs" \
    [ "$(cut -d, -f1 run.csv | tr '\n' ' ')" = "epoch $(seq -s ' ' 1 $epochs) " ]

# 6. From the checkpoint's own folder: the model goes to m.h5, ck.h5 stays
#    the link to a checkpoint, and the next --resume goes on to 6 epochs,
#    equal to 6 straight. (Before, the model was named after the checkpoint
#    and replaced the ck.h5 link.)
rm -f m.h5
check "--resume ck.h5 in A, to 5 epochs" dptrain train --resume ck.h5 --set train.epochs=5 -q \
    --deterministic
check "the model is A/m.h5" [ -f m.h5 ]
check "ck.h5 is still a link to a checkpoint" [ -L ck.h5 ]
check "--resume ck.h5 again, to 6 epochs" dptrain train --resume ck.h5 --set train.epochs=6 -q \
    --deterministic
check "4 + 1 + 1 epochs resumed == 6 straight (bitwise)" dpt_test compare straight6.h5 m.h5

# 7. A model is never written over a checkpoint: --out the run's link, the
#    link of another series, or a numbered checkpoint is refused before
#    training, naming both files; the checkpoints stay whole.
numbered=$(readlink ck.h5)
expect_error "--out ck.h5 .* is this run's checkpoint link .*ck.h5" \
    dptrain train --resume ck.h5 --set train.epochs=7 --out ck.h5
expect_error "--out s4.h5 .* is a checkpoint (the link to s4-0*40.h5)" \
    dptrain train --resume ck.h5 --set train.epochs=7 --out s4.h5
expect_error "--out $numbered .* is a checkpoint: the trained model would replace it" \
    dptrain train --resume ck.h5 --set train.epochs=7 --out "$numbered"
check "ck.h5 still links to $numbered, which loads" \
    sh -c "[ \"\$(readlink ck.h5)\" = $numbered ] && \"\$DPTRAIN\" inspect ck.h5"
check "s4.h5 still loads as a checkpoint" dptrain inspect s4.h5

# 8. --deterministic given on the command line only is stored with the
#    checkpoint (train.deterministic = true): the requeued job resumes
#    without the flag, on 2 ranks, and still ends bitwise on the straight
#    run. (Before, it summed in floating point and ended near it.)
expect_exit 3 "stopped on request after step 5 of epoch 2" \
    dptrain train m.cfg --deterministic -q --stop-after-steps 15 --checkpoint det/ck.h5 \
    --set train.log=det.csv
cd ../B
rm -f m.h5
check "--resume ../A/det/ck.h5 without --deterministic, 2 ranks" \
    mpirun_np 2 "$DPTRAIN" train --resume ../A/det/ck.h5 -q
check "== 4 epochs straight (bitwise): the run was deterministic" \
    dpt_test compare ../A/straight4.h5 m.h5
cd ..

# 9. A project folder whose name has glob characters ("G[1]"), with the
#    data as a pattern (shards/*.h5): the stored absolute pattern escapes
#    the folder's part, so the resume from elsewhere reads the same shards.
#    (Before, "G[1]" read as a pattern matched only a folder "G1".)
mkdir -p "G[1]/shards"
dpt_test data "G[1]/shards/a.h5" --rows 200 --features 6 --seed 2 --noise 0.3
dpt_test data "G[1]/shards/b.h5" --rows 200 --features 6 --seed 3 --noise 0.3
sed 's|"data/train.h5"|"shards/*.h5"|' A/m.cfg > "G[1]/m.cfg"
cd "G[1]"
must dptrain train m.cfg --deterministic -q --out straight.h5 --checkpoint s.h5 --set train.log=s.csv
expect_exit 3 "stopped on request after step 5 of epoch 2" \
    dptrain train m.cfg --deterministic -q --stop-after-steps 15
cd ../B
rm -f m.h5
check "--resume '../G[1]/ck.h5' from B, data shards/*.h5" dptrain train --resume "../G[1]/ck.h5" -q
check "== the straight run in G[1] (bitwise)" dpt_test compare "../G[1]/straight.h5" m.h5
cd ..

summary
