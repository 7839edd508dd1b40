# Cases of tests/bad_input_suite.sh: dptrain plan (src/cli/plan_cmd.c).
# A bad command line exits 2; a model file that training could not start
# from exits 1 naming the file; what training would refuse later is a
# warning, not an error (tests/plan.sh).
cfg="$top_srcdir/examples/breast_cancer.cfg"
refused plan-no-model 2 "no model file given" dptrain plan
refused plan-np-zero 2 "-np must be a number from 1 to" dptrain plan "$cfg" -np 0
refused plan-np-word 2 "-np must be a number" dptrain plan "$cfg" -np four
refused plan-np-missing 2 "-np must be a number" dptrain plan "$cfg" -np
refused plan-time-steps-negative 2 "--time-steps must be a number" \
    dptrain plan "$cfg" --time-steps -1
refused plan-ranks-per-node 2 "--ranks-per-node 4 is more than the 2 ranks" \
    dptrain plan "$cfg" -np 2 --ranks-per-node 4
refused plan-unknown-option 2 "unknown argument '--bogus'" dptrain plan "$cfg" --bogus
refused plan-two-models 2 "unknown argument" dptrain plan "$cfg" "$cfg"
refused plan-format 2 "--format must be" dptrain plan "$cfg" --format yaml
refused plan-missing-model 1 "/nonexistent.cfg: cannot read the model file" \
    dptrain plan /nonexistent.cfg
refused plan-empty-train-data 1 "'train' must not be empty" \
    dptrain plan "$cfg" --set data.train= --time-steps 0
refused plan-missing-data 1 "no-such.h5" \
    dptrain plan "$cfg" --set data.train=no-such.h5 --time-steps 0
refused plan-bad-key 1 "unknown key 'epoch'" dptrain plan "$cfg" --set train.epoch=3
refused plan-under-mpirun 2 "runs as one process" mpirun_np 2 "$DPTRAIN" plan "$cfg"
for c in export convert; do  # one code path for all such commands (src/cli/main.c)
    refused "$c-under-mpirun" 2 "dptrain $c runs as one process: run it without mpirun" \
        mpirun_np 2 "$DPTRAIN" $c --help
done
accepted plan-help dptrain plan --help
accepted plan-example dptrain plan "$cfg" -np 2 --time-steps 1
