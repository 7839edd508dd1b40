#!/bin/sh
# `train --verbose` says where each rank runs (src/dist/placement.c): one
# line per rank with the CPUs its affinity mask holds, as the kernel shows
# them to the rank itself (/proc/self/status), and how many it has to
# itself; a note when ranks of a node may run on the same CPUs. Run bound
# (--bind-to core: a core each, no note) and unbound (--bind-to none: both
# hold every CPU, each has half, and the note says how to bind); 17 ranks
# show 16 lines and a count of the rest.
. "${top_srcdir:?run me through make check}/tests/lib.sh"

small_model m.cfg
# nproc counts the CPUs of its mask, unless OMP_NUM_THREADS says otherwise.
n=$(env -u OMP_NUM_THREADS -u OMP_THREAD_LIMIT nproc)
run() {
    OMP_NUM_THREADS=1 timeout 120 "$MPIRUN" --oversubscribe --allow-run-as-root --bind-to "$1" \
        -np 2 sh -c 'sed -n "s/^Cpus_allowed_list:[[:space:]]*//p" /proc/self/status \
                        > "cpus.$OMPI_COMM_WORLD_RANK"
                     exec "$0" train m.cfg --verbose --set train.epochs=1' \
        "$DPTRAIN" > "out.$1" 2>&1
}

# 1. Bound to a core each: the lines name each rank's own mask, 1 CPU to itself.
if [ "$n" -ge 2 ]; then
    must run core
    for r in 0 1; do
        want="placement: rank $r on [^:]*: cpus $(cat cpus.$r) (1), 1 to itself"
        check "bound: rank $r's line names its mask $(cat cpus.$r)" grep -q "^$want\$" out.core
    done
    check "bound: no note about shared CPUs" ! grep -q 'placement: note' out.core
else
    fail "this test needs 2 CPUs or more, the machine has $n"
fi

# 2. Unbound: both hold every CPU, each has half of them, and the note
# says how to bind.
must run none
half=$((n / 2))
for r in 0 1; do
    want="placement: rank $r on [^:]*: cpus $(cat cpus.$r) ($n), $half to itself"
    check "unbound: rank $r holds all $n CPUs and has $half to itself" grep -q "^$want\$" out.none
done
check "unbound: the note names both ranks and how to bind" \
    grep -q 'placement: note: ranks 0 and 1 on .* may both run on cpus .*--map-by ppr:RANKS:node:PE=THREADS' out.none
check "OpenMP's binding settings are shown" grep -q '^placement: threads: OMP_PROC_BIND=' out.none

# 3. More than 16 ranks (docs/HPC.md): the first 16 get a line each, then
#    one line counts the others and gives the fewest CPUs any rank has.
OMP_NUM_THREADS=1 timeout 120 "$MPIRUN" --oversubscribe --allow-run-as-root -np 17 \
    "$DPTRAIN" train m.cfg --verbose --set train.epochs=1 > out.17 2>&1 || true
check "17 ranks: lines for ranks 0 to 15 only" \
    sh -c 'grep -c "^placement: rank [0-9]* on " out.17 | grep -qx 16 && grep -q "^placement: rank 15 on " out.17'
check "17 ranks: then 'and 1 more rank' with the fewest CPUs to itself" \
    grep -q '^placement: and 1 more rank; every rank has at least [1-9][0-9]* cpus\{0,1\} to itself$' out.17
# 3b. More ranks than the node's CPUs, unbound: binding cannot help, so
#     the note says how many ranks fit instead of naming a pair.
more=$((n + 1))
OMP_NUM_THREADS=1 timeout 120 "$MPIRUN" --oversubscribe --allow-run-as-root --bind-to none \
    -np "$more" "$DPTRAIN" train m.cfg --verbose --set train.epochs=1 > out.over 2>&1 || true
check "$more ranks on $n CPUs: the note says they share $n and how many fit" \
    grep -q "^placement: note: the $more ranks on [^ ]* share $n cpus\{0,1\} ([^)]*): each gets less than one; run at most $n ranks\{0,1\} there" out.over
check "  ... and only that note" sh -c 'test "$(grep -c "^placement: note" out.over)" = 1'

# 4. All ranks on one node (mpirun's, or a singleton): dptrain asks Open MPI
#    for its shared-memory PML ob1, so MPI_Init skips the cm PML's network
#    probes (src/cli/main.c, one_node_pml; docs/HPC.md), and says so; a PML
#    or MTL the user names is kept.
check "one node, mpirun: --verbose says dptrain chose ob1" \
    grep -q "^mpi: all ranks on one node: Open MPI's shared-memory PML ob1 (OMPI_MCA_pml=ob1, set by dptrain" out.core
OMPI_MCA_pml_base_verbose=10 "$DPTRAIN" train m.cfg --verbose --set train.epochs=1 > out.single 2>&1
check "a singleton: --verbose says so too" grep -q "^mpi: all ranks on one node" out.single
check "  ... and Open MPI never opens the cm PML (its probes are what this skips)" \
    sh -c 'grep -q "selected ob1" out.single && ! grep -q "found loaded component cm" out.single'
OMPI_MCA_pml=ob1 "$DPTRAIN" train m.cfg --verbose --set train.epochs=1 > out.user 2>&1
check "the user's OMPI_MCA_pml: kept, no line" ! grep -q "^mpi: all ranks on one node" out.user
OMPI_MCA_mtl=ofi OMPI_MCA_pml_base_verbose=10 "$DPTRAIN" train m.cfg --verbose --set train.epochs=1 > out.mtl 2>&1 || true
check "the user's OMPI_MCA_mtl: no PML chosen, cm is opened as Open MPI decides" \
    sh -c '! grep -q "^mpi: all ranks on one node" out.mtl && grep -q "found loaded component cm" out.mtl'
mkdir -p home/.openmpi
echo "pml = ob1" > home/.openmpi/mca-params.conf
HOME=$PWD/home "$DPTRAIN" train m.cfg --verbose --set train.epochs=1 > out.file 2>&1
check "a PML named in ~/.openmpi/mca-params.conf: kept, no line" ! grep -q "^mpi: all ranks on one node" out.file
printf '# ours\n  mtl = ^psm2\n' > home/.openmpi/mca-params.conf
HOME=$PWD/home "$DPTRAIN" train m.cfg --verbose --set train.epochs=1 > out.excl 2>&1
check "an MTL only excluded there (as Debian's own file does): ob1 chosen" grep -q "^mpi: all ranks on one node" out.excl

# 5. Large messages between the ranks of a node are copied through Open
#    MPI's shared memory, not read from the sender's buffer through the
#    kernel (CMA): dptrain sets OMPI_MCA_btl_vader_single_copy_mechanism=none
#    (src/cli/main.c, shm_copies; docs/HPC.md) and says so; the user's
#    choice is kept. Counted with strace: process_vm_readv is CMA's call.
dpt_test data wide.h5 --rows 256 --features 400 --seed 3
cat > w.cfg <<CFG
data = { train = "wide.h5"; };
model = { layers = ( { type = "dense"; units = 64; activation = "relu"; },
                     { type = "dense"; units = 1; } );
          loss = "mse"; optimizer = { type = "sgd"; }; };
train = { batch = 64; epochs = 1; seed = 1; };
CFG
cma_reads() { # $1: the output file; the rest: environment for the run
    out=$1
    shift
    env "$@" OMP_NUM_THREADS=1 timeout 120 strace -f -qq -c -e trace=process_vm_readv -o "$out.st" \
        "$MPIRUN" --oversubscribe --allow-run-as-root -np 2 "$DPTRAIN" train w.cfg --verbose \
        > "$out" 2>&1 || { cat "$out"; fail "strace mpirun -np 2 failed"; }
    awk '$NF == "process_vm_readv" { n = $4 } END { print n + 0 }' "$out.st"
}
n_ours=$(cma_reads out.copy)
n_cma=$(cma_reads out.cma OMPI_MCA_btl_vader_single_copy_mechanism=cma)
check "2 ranks: --verbose says dptrain chose copies through shared memory" \
    grep -q "^mpi: large messages between ranks of a node copied through Open MPI's shared memory (OMPI_MCA_btl_vader_single_copy_mechanism=none, set by dptrain" out.copy
check "  ... and no rank reads another's memory through CMA ($n_ours process_vm_readv)" \
    test "$n_ours" -eq 0
check "the user's OMPI_MCA_btl_vader_single_copy_mechanism=cma: kept, no line" \
    ! grep -q "^mpi: large messages" out.cma
check "  ... and the same job then reads through CMA ($n_cma process_vm_readv)" \
    test "$n_cma" -gt 0
echo "btl_vader_single_copy_mechanism = cma" > home/.openmpi/mca-params.conf
n_file=$(cma_reads out.cfile HOME="$PWD/home")
check "a mechanism set in ~/.openmpi/mca-params.conf: kept, no line" \
    ! grep -q "^mpi: large messages" out.cfile
check "  ... and Open MPI took it ($n_file process_vm_readv)" test "$n_file" -gt 0

# 6. Started without mpirun, dptrain asks Open MPI for an isolated
#    singleton, which starts no orted of its own (src/cli/main.c,
#    isolated_singleton; docs/HPC.md), and says so; the user's choice is
#    kept. Counted with strace: the orted Open MPI would start.
orteds() { # $1: the output file; the rest: environment for the run
    out=$1
    shift
    env "$@" OMP_NUM_THREADS=1 timeout 120 strace -f -qq -e trace=execve -o "$out.st" \
        "$DPTRAIN" train m.cfg --verbose --set train.epochs=1 > "$out" 2>&1 ||
        { cat "$out"; fail "strace dptrain train failed"; }
    grep -c 'execve("[^"]*/orted"' "$out.st" || true
}
rm -f home/.openmpi/mca-params.conf
n_alone=$(orteds out.alone)
check "a singleton: --verbose says dptrain chose an isolated one" \
    grep -q "^mpi: started without mpirun: no orted of its own (OMPI_MCA_ess_singleton_isolated=1, set by dptrain" out.alone
check "  ... and no orted is started ($n_alone)" test "$n_alone" -eq 0
n_orted=$(orteds out.orted OMPI_MCA_ess_singleton_isolated=0)
check "the user's OMPI_MCA_ess_singleton_isolated=0: kept, no line" \
    ! grep -q "^mpi: started without mpirun" out.orted
check "  ... and Open MPI then starts its orted ($n_orted)" test "$n_orted" -eq 1
echo "ess_singleton_isolated = 0" > home/.openmpi/mca-params.conf
n_sfile=$(orteds out.sfile HOME="$PWD/home")
check "the parameter set in ~/.openmpi/mca-params.conf: kept, no line" \
    ! grep -q "^mpi: started without mpirun" out.sfile
check "  ... and Open MPI took it ($n_sfile orted)" test "$n_sfile" -eq 1
n_np1=$(env OMP_NUM_THREADS=1 timeout 120 "$MPIRUN" --oversubscribe --allow-run-as-root -np 1 \
    "$DPTRAIN" train m.cfg --verbose --set train.epochs=1 2>&1 | grep -c "^mpi: started without mpirun" || true)
check "under mpirun: no such line" test "$n_np1" -eq 0

# 7. Every isolated singleton is [[0,1],0]: in Open MPI's own session
#    folder, TMPDIR/ompi.HOST.UID/jf.0/1/0, one that ends can remove jf.0
#    while another makes it (an orte_init failure in CI). So each gets a
#    folder of its own, removed once MPI_Init is done (src/cli/main.c,
#    own_session_dir). The shared folder made unusable (jf.0 a file):
#    still a clean run; 12 at once all succeed; nothing left in TMPDIR;
#    the user's orte_tmpdir_base is kept.
must "$DPTRAIN" train m.cfg --out m.h5 --set train.epochs=1 > /dev/null 2>&1
rm -rf tmp && mkdir -p "tmp/ompi.$(hostname -s).$(id -u)" && : > "tmp/ompi.$(hostname -s).$(id -u)/jf.0"
TMPDIR=$PWD/tmp "$DPTRAIN" eval m.h5 train.h5 > out.shared 2>&1
check "Open MPI's shared session folder unusable: a singleton still runs" \
    sh -c 'grep -q "samples  loss" out.shared && ! grep -q orte out.shared' ||
    cat out.shared
i=0
while [ $i -lt 12 ]; do
    (TMPDIR=$PWD/tmp "$DPTRAIN" eval m.h5 train.h5 > "out.many$i" 2>&1; echo $? > "rc.many$i") &
    i=$((i + 1))
done
wait
check "12 singletons at once: all exit 0" test "$(cat rc.many* | grep -cx 0)" -eq 12 ||
    cat out.many*
OMPI_MCA_pml=nonexistent TMPDIR=$PWD/tmp "$DPTRAIN" eval m.h5 train.h5 > out.noinit 2>&1 || true
check "an MPI_Init that fails (a PML that is not there) ends the process" grep -q "MPI_Init" out.noinit
check "  ... and none of these leaves a folder of its own in TMPDIR" \
    test "$(ls tmp)" = "ompi.$(hostname -s).$(id -u)"
mkdir -p mine
OMPI_MCA_orte_tmpdir_base=$PWD/mine TMPDIR=$PWD/tmp strace -f -qq -e trace=mkdir -o out.mine.st \
    "$DPTRAIN" eval m.h5 train.h5 > out.mine 2>&1
check "the user's OMPI_MCA_orte_tmpdir_base: Open MPI's session folder is made there" \
    grep -q "mkdir(\"$PWD/mine/ompi\\." out.mine.st
summary
