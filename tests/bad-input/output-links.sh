# Cases of tests/bad_input_suite.sh: a symbolic link where dptrain writes a
# file in place (train.log, appended to on a resume) is refused before the
# first step, naming the option and the file: someone who can write the
# folder may have planted it (issue 17; tests/output_symlinks.sh checks the
# files the link points to and the files written whole, which replace it).
mkdir -p links && cd links
small_model lk.cfg
printf 'keep me\n' > target
ln -s target log-link.csv
ln -s no-such-target dangling.csv
printf 'a,y\n1,0\n2,1\n' > in.csv
ln -s nowhere out.h5
refused log-is-link 1 "train.log log-link.csv.*: is a symbolic link; dptrain does not write through links in case someone else planted it; remove it or give another path" \
    dptrain train lk.cfg -q --overwrite --set train.log=log-link.csv
refused log-is-dangling-link 1 "train.log dangling.csv.*: is a symbolic link" \
    dptrain train lk.cfg -q --overwrite --set train.log=dangling.csv
refused convert-out-is-dangling-link 1 "out.h5 exists; --overwrite replaces it" \
    dptrain convert in.csv out.h5
