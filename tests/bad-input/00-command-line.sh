# Cases of tests/bad_input_suite.sh: the command line itself (exit 2).
cfg="$top_srcdir/examples/breast_cancer.cfg"
refused unknown-command 2 "unknown command 'frobnicate'" dptrain frobnicate
refused unknown-option 2 "unknown option '--bogus'" dptrain train "$cfg" --bogus
refused threads-not-number 2 "--threads must be a number" dptrain train "$cfg" --threads zero
refused missing-model 1 "/nonexistent.cfg: cannot read the model file" dptrain train /nonexistent.cfg
accepted help dptrain --help
