# Cases of tests/bad_input_suite.sh: the command line itself (exit 2).
cfg="$top_srcdir/examples/breast_cancer.cfg"
refused unknown-command 2 "unknown command 'frobnicate'" dptrain frobnicate
refused unknown-option 2 "unknown option '--bogus'" dptrain train "$cfg" --bogus
refused threads-not-number 2 "--threads must be a number" dptrain train "$cfg" --threads zero
refused missing-model 1 "/nonexistent.cfg: cannot read the model file" dptrain train /nonexistent.cfg
accepted help dptrain --help
# mpirun's -np given to dptrain: the message says how to start ranks.
refused np-to-train 2 "unknown option '-np': mpirun starts the ranks: mpirun -np P dptrain train ARGS" dptrain train "$cfg" -np 2
refused np-to-predict 2 "unknown option '-np': mpirun starts the ranks: mpirun -np P dptrain predict ARGS" dptrain predict m.h5 d.h5 -np 2
# A list entry written as in Python: the message shows libconfig's path.
refused set-python-index 1 "--set 'model.layers\[0\].units=64': bad key 'layers\[0\]' \(a list's entry is a part of its own: model.layers.\[0\].units\)" dptrain train "$cfg" --set "model.layers[0].units=64"
