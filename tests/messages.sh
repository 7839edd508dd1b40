#!/bin/sh
# Messages and exit statuses. (1) Every error is printed once, with one
# prefix: failing runs of every command, on one rank and on two, print
# exactly one "dptrain: error:" line, with no "rank 0: rank 0:" (an error
# agreed on by the ranks and agreed on again) and no prefix inside the
# message. (2) A bad --set value is blamed on the --set as typed, not on a
# line of the model file. (3) Every bad command line of every command exits
# 2 (a --set without '=' included) and prints the usage hint.
. "${top_srcdir:?run me through make check}/tests/lib.sh"

data="$top_srcdir/data"
sed -e 's|"\.\./data/|"'"$data"'/|' -e 's/epochs = 100;/epochs = 2;/' \
    "$top_srcdir/examples/iris.cfg" > iris.cfg
must dptrain train iris.cfg --out ok.h5 -q
echo "not hdf5" > bad.h5
mkdir -p ro && echo x > afile

# once STATUS NP CMD...: CMD (on NP ranks when NP > 1) exits STATUS and
# prints one error line with one prefix.
once() {
    dpt__st=$1 dpt__np=$2
    shift 2
    if [ "$dpt__np" -gt 1 ]; then
        set -- "$MPIRUN" --oversubscribe --allow-run-as-root -np "$dpt__np" "$DPTRAIN" "$@"
    else
        set -- "$DPTRAIN" "$@"
    fi
    if "$@" > once.out 2> once.err; then dpt__got=0; else dpt__got=$?; fi
    dpt__n=$(grep -c '^dptrain: error:' once.err || true)
    if [ "$dpt__got" = "$dpt__st" ] && [ "$dpt__n" = 1 ] &&
        ! grep -q -E 'rank [0-9]+: rank [0-9]+:|dptrain: (error|warning): .*dptrain: |error: .*error: ' once.err; then
        ok "np $dpt__np: $(grep '^dptrain: error:' once.err)"
    else
        fail "np $dpt__np, exit $dpt__got (want $dpt__st), $dpt__n error lines: ${*#"$MPIRUN"}"
        dpt__show once.err 10
    fi
}

# 1. Failing runs of every command: bad data, bad model files, bad saved
#    models, a bad plugin, failed writes; on 1 and 2 ranks (the resume of a
#    file that is not a checkpoint printed "rank 0: rank 0: ..." before).
for np in 1 2; do
    once 1 $np train iris.cfg --out x.h5 --set data.train=bad.h5
    once 1 $np train iris.cfg --out x.h5 --set data.train=missing.h5
    once 1 $np train iris.cfg --out x.h5 --set data.test=bad.h5
    once 1 $np train iris.cfg --out x.h5 --set data.validation=bad.h5
    once 1 $np train iris.cfg --out x.h5 --init bad.h5
    once 1 $np train iris.cfg --out x.h5 --resume bad.h5
    once 1 $np train --resume bad.h5 --out x.h5
    once 1 $np train iris.cfg --out x.h5 --set model.layers.[0].type=nope
    once 1 $np train iris.cfg --out x.h5 --plugin-path bad.h5
    once 1 $np train iris.cfg --out /proc/x.h5
    once 1 $np train iris.cfg --out x.h5 --checkpoint afile/ck.h5
    once 1 $np train iris.cfg --out x.h5 --set train.log=/proc/x.csv
    once 1 $np train iris.cfg --out x.h5 --set model.loss=mse
    once 1 $np eval ok.h5 bad.h5
    once 1 $np eval bad.h5 "$data/iris-test.h5"
    once 1 $np predict ok.h5 bad.h5 --out p.h5
    once 1 $np predict bad.h5 "$data/iris-test.h5" --out p.h5
    once 1 $np predict ok.h5 "$data/iris-test.h5" --out /proc/p.h5
done
once 1 1 inspect bad.h5
once 1 1 summary iris.cfg --set data.train=bad.h5
once 2 1 check-plugin bad.h5

# 2. A bad --set value names the --set as typed, not iris.cfg's line.
expect_error "^dptrain: error: --set train.epochs=abc: train: 'epochs' must be an integer, found a string$" \
    dptrain train iris.cfg --set train.epochs=abc --out x.h5
expect_error "^dptrain: error: --set model.layers.\[0\].units=2.5: layer 1 (dense): 'units' must be an integer" \
    dptrain train iris.cfg --set model.layers.[0].units=2.5 --out x.h5
expect_error "^dptrain: error: --set data.standardize=maybe: data: 'standardize' must be" \
    dptrain summary iris.cfg --set data.standardize=maybe
expect_error "^dptrain: error: --set model.loss=mse: model.loss \"mse\" compares" \
    dptrain train iris.cfg --set model.loss=mse --out x.h5
check "the same value in the file is blamed on its line" sh -c \
    'sed "s/epochs = 2;/epochs = abc;/" iris.cfg > abc.cfg; "$DPTRAIN" train abc.cfg --out x.h5 2>&1 | grep -q "^dptrain: error: abc.cfg:[0-9]*: syntax error"'

# 3. Bad command lines exit 2, each with its message and the usage hint.
# usage PATTERN ARGS...: dptrain ARGS exits 2 with an error line matching
# PATTERN and "try 'dptrain ... --help'".
usage() {
    dpt__p=$1
    shift
    expect_exit 2 "^dptrain: error: .*$dpt__p" dptrain "$@"
    grep -q "^try 'dptrain .*--help'" "$tmp/.err" || fail "no usage hint: $*"
}
usage "--set 'train.epochs': no '='" train iris.cfg --set train.epochs
usage "--set '=3': no key" train iris.cfg --set =3
usage "--set 'train..epochs=3': an empty part" train iris.cfg --set train..epochs=3
usage "--set '.x=3': an empty part" train iris.cfg --set=.x=3
usage "--set 'x': no '='" summary iris.cfg --set x
usage "--set 'x': expected" check-plugin x.so --set x
usage "--check-sync needs a count" train iris.cfg --check-sync x
usage "--stop-after-steps needs a count" train iris.cfg --stop-after-steps 0
usage "--time-limit needs" train iris.cfg --time-limit soon
usage "--timeout needs" train iris.cfg --timeout -1
usage "--summary needs a value" train iris.cfg --summary
usage "--threads must be" train iris.cfg --threads 0
usage "--format must be" eval ok.h5 bad.h5 --format xml
usage "unknown option" train iris.cfg --bogus
usage "unknown option" eval ok.h5 bad.h5 --bogus
usage "unknown option" predict ok.h5 bad.h5 --out p.h5 --bogus
usage "unknown argument" plugins --bogus
usage "unexpected argument" inspect a.h5 b.h5
usage "unknown option" summary iris.cfg --bogus
usage "--input-shape takes" summary iris.cfg --input-shape 0
usage "--shape" check-plugin x.so --shape 0
usage "--out PRED.h5 is required" predict ok.h5 bad.h5
usage "no model file given" train
usage "unknown command" frobnicate
summary
