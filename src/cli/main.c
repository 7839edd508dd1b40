/* dptrain: the command line. Dispatches to the subcommands; --help and
 * --version answer without starting MPI, so they are instant. */
#include "config.h"

#include "cli/cli.h"
#include "dist/watchdog.h"
#include "model/net.h"
#include "plugin/registry.h"
#include "util/blas_core.h"
#include "util/util.h"

#include <cblas.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <mpi.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static const char usage[] =
    "usage: dptrain COMMAND [ARGS...]\n"
    "\n"
    "Data-parallel neural-network training on HDF5 data, with MPI ranks and\n"
    "OpenMP threads; layers, activations, losses and optimizers are plugins.\n"
    "\n"
    "commands:\n"
    "  train MODEL.cfg [--set SECTION.KEY=VALUE]... [--out MODEL.h5]\n"
    "                       train the model a model file describes\n"
    "  eval MODEL.h5 DATA.h5 [--format json]\n"
    "                       loss and metrics of a trained model on a data file\n"
    "  predict MODEL.h5 DATA.h5 --out PRED [--format hdf5|json|csv|npy]\n"
    "                       write a trained model's outputs for a data file\n"
    "  plugins [--verbose]  list the plugins found and the files rejected;\n"
    "                       --verbose also prints the search path\n"
    "  inspect FILE.h5      check a model or checkpoint file (checksum) and describe it,\n"
    "                       or describe a data file (layout, statistics, labels)\n"
    "  summary MODEL.cfg [--format json] [--input-shape H,W,C]\n"
    "                       the layers a model file builds: output shapes and\n"
    "                       parameters per layer, totals (as Keras' model.summary())\n"
    "  check-plugin FILE.so [NAME] [--set KEY=VALUE]... [--shape D1,D2,...]\n"
    "                       check a plugin file: gradients, buffer contracts,\n"
    "                       determinism, shapes (PASS/FAIL per check)\n"
    "  keys [--format json|man]\n"
    "                       every model-file key: type, default, range, meaning\n"
    "  plan MODEL.cfg [-np P] [--threads T] [--format json]\n"
    "                       a job's rows per rank, steps, memory, file sizes,\n"
    "                       time and warnings, before it runs (no mpirun)\n"
    "  export MODEL.h5 OUT.onnx\n"
    "                       write a trained model as an ONNX graph (opset 13)\n"
    "  convert IN OUT.h5 [--label COLUMN] [--compress LEVEL] ...\n"
    "                       a CSV, .npy or .npz file as a data file dptrain reads\n"
    "\n"
    "options (each command's --help lists those it takes; it refuses the others):\n"
    "  --plugin-path DIRS   ':'-separated folders or files searched before\n"
    "                       $DPTRAIN_PLUGIN_PATH, the per-user folder\n"
    "                       ${XDG_DATA_HOME:-$HOME/.local/share}/dptrain/plugins\n"
    "                       and the built-in plugins (all commands but\n"
    "                       check-plugin, keys and convert)\n"
    "  --allow-unsafe-plugins\n"
    "                       load plugin files and folders that others could\n"
    "                       have written (writable by the group or everyone, or\n"
    "                       owned by another user), with a warning; refused\n"
    "                       otherwise (all commands but keys and convert)\n"
    "  --threads T          OpenMP threads per rank (train, eval, predict, plan)\n"
    "  -h, --help           help (also: dptrain COMMAND --help)\n"
    "  --version            print the version\n"
    "\n"
    "Run in parallel with: mpirun -np P dptrain train MODEL.cfg\n"
    "Exit status: 0 success, 1 the run failed, 2 bad command line,\n"
    "3 training stopped by a signal after writing a checkpoint, 128 + the signal's\n"
    "number (130 SIGINT, 143 SIGTERM, 138 SIGUSR1) stopped with nothing to save.\n";

int cli_env_rank(void)
{
    const char *r = getenv("OMPI_COMM_WORLD_RANK");
    if (!r) {
        r = getenv("PMI_RANK");
    }
    return r ? atoi(r) : 0;
}

void cli_error(const char *fmt, ...)
{
    if (cli_env_rank() != 0) {
        return;
    }
    va_list ap;
    va_start(ap, fmt);
    fputs("dptrain: error: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

void cli_warn(void *ctx, const char *msg)
{
    (void)ctx;
    if (cli_env_rank() == 0) {
        fprintf(stderr, "dptrain: warning: %s\n", msg);
    }
}

void cli_plugin_warnings(const struct dpt_registry *reg)
{
    char line[8192];
    for (size_t i = 0; i < dpt_registry_rejected_count(reg); i++) {
        snprintf(line, sizeof line, "plugin file skipped: %s", dpt_registry_rejected(reg, i));
        cli_warn(NULL, line);
    }
    for (size_t i = 0; i < dpt_registry_shadowed_count(reg); i++) {
        cli_warn(NULL, dpt_registry_shadowed(reg, i));
    }
}

int cli_usage_error(const char *cmd, const char *fmt, ...)
{
    if (cli_env_rank() == 0) {
        va_list ap;
        va_start(ap, fmt);
        fputs("dptrain: error: ", stderr);
        vfprintf(stderr, fmt, ap);
        fprintf(stderr, "\ntry 'dptrain %s--help'\n", cmd ? cmd : "");
        va_end(ap);
    }
    return EXIT_USAGE;
}

int cli_unknown_option(const char *cmd, const char *opt)
{
    /* mpirun's own options given to dptrain: the ranks are mpirun's to start. */
    if (strcmp(opt, "-np") == 0 || strcmp(opt, "--np") == 0 || strcmp(opt, "-n") == 0 ||
        strncmp(opt, "-np=", 4) == 0) {
        return cli_usage_error(cmd, "unknown option '%s': mpirun starts the ranks: "
                               "mpirun -np P dptrain %sARGS...", opt, cmd ? cmd : "");
    }
    return cli_usage_error(cmd, "unknown option '%s'", opt);
}

int cli_common_option(const char *cmd, int argc, char **argv, int *i, struct cli_common *c)
{
    const char *a = argv[*i];
    char help[64];
    snprintf(help, sizeof help, "%s ", cmd);
    /* Options this command does not list fall through to its own
     * "unknown option" (see struct cli_common). */
    if ((strcmp(a, "--threads") == 0 && !(c->takes & CLI_TAKES_THREADS)) ||
        (strcmp(a, "--format") == 0 && !(c->takes & CLI_TAKES_FORMAT)) ||
        ((strcmp(a, "--quiet") == 0 || strcmp(a, "-q") == 0) && !(c->takes & CLI_TAKES_QUIET))) {
        return 0;
    }
    if (strcmp(a, "--plugin-path") == 0 || strcmp(a, "--threads") == 0 ||
        strcmp(a, "--format") == 0) {
        if (*i + 1 >= argc) {
            cli_usage_error(help, "%s needs a value", a);
            return -1;
        }
        const char *v = argv[++*i];
        if (strcmp(a, "--plugin-path") == 0) {
            c->plugin_path = v;
        } else if (strcmp(a, "--threads") == 0) {
            char *end;
            long t = strtol(v, &end, 10);
            if (*end || t < 1 || t > 1024) {
                cli_usage_error(help, "--threads must be a number from 1 to 1024, got '%s'", v);
                return -1;
            }
            c->threads = (int)t;
        } else if (strcmp(v, "json") == 0 || strcmp(v, "text") == 0) {
            c->json = strcmp(v, "json") == 0;
        } else {
            cli_usage_error(help, "--format must be 'text' or 'json', got '%s'", v);
            return -1;
        }
        return 1;
    }
    if (strcmp(a, "--quiet") == 0 || strcmp(a, "-q") == 0) {
        c->quiet = 1;
        return 1;
    }
    if (strcmp(a, "--allow-unsafe-plugins") == 0) {
        c->allow_unsafe_plugins = 1;
        return 1;
    }
    return 0;
}

/* Whether this process is a rank that mpirun started (Open MPI sets
 * OMPI_COMM_WORLD_SIZE): its stdout is then a pseudo-terminal of mpirun's
 * own, shared with no shell. Set before the handlers are. */
static volatile sig_atomic_t under_mpirun;

/* When mpirun is told to stop (SIGTERM, SIGINT: a batch system's time
 * limit, Ctrl-C) it forwards SIGTERM to the ranks and stops reading their
 * output: a rank that prints an epoch line then blocks in write() once the
 * pipe or mpirun's pseudo-terminal is full, until mpirun kills it, before
 * its checkpoint and summary are written. So a stop makes stdout and
 * stderr non-blocking when they are pipes or sockets, or mpirun's
 * terminal (never a user's terminal, whose open file the shell shares): a
 * line nobody reads is dropped and the stop goes on
 * (tests/mpi/mpirun_exit_status.sh). fstat and fcntl are
 * async-signal-safe. */
static void stop_blocking_on_pipes(void)
{
    int saved = errno;
    for (int fd = 1; fd <= 2; fd++) {
        struct stat st;
        int fl;
        if (fstat(fd, &st) == 0 &&
            (S_ISFIFO(st.st_mode) || S_ISSOCK(st.st_mode) ||
             (S_ISCHR(st.st_mode) && under_mpirun)) &&
            (fl = fcntl(fd, F_GETFL)) >= 0) {
            fcntl(fd, F_SETFL, fl | O_NONBLOCK);
        }
    }
    errno = saved;
}

static void on_stop_signal(int sig)
{
    dpt_stop_request(sig);
    stop_blocking_on_pipes();
}

void cli_catch_stop_signals(void)
{
    under_mpirun = getenv("OMPI_COMM_WORLD_SIZE") != NULL;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_stop_signal;
    sigemptyset(&sa.sa_mask);
    /* SA_RESTART: a read or write the signal interrupts goes on; the stop
     * is noticed where the loops poll dpt_stop_requested. */
    sa.sa_flags = SA_RESTART;
    static const int sigs[] = {SIGTERM, SIGINT, SIGUSR1, SIGUSR2};
    for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++) {
        sigaction(sigs[i], &sa, NULL);
    }
}

/* Damaged files: libhdf5 1.10.8 itself crashes or loops forever on some
 * (docs/RELIABILITY.md, Fuzzing). While the library reads a file
 * (dpt_reading_file), a crash signal prints one line naming the file and
 * exits 1, and a read that makes no progress for DPTRAIN_READ_TIMEOUT
 * seconds (default 600, 0 = never) does the same, so that a batch job
 * ends with the reason instead of a core dump or at its time limit. At any
 * other time the handler that was there before (Open MPI's report, or
 * the default) handles the crash: it is put back and the faulting
 * instruction, run again, raises the signal again; first, when the thread
 * was in a plugin's function during training (dpt__running), one line
 * names the layer, the plugin, its file and the function. Under
 * AddressSanitizer its own report is worth more, so the crash part is
 * left out there. */
#if defined(__SANITIZE_ADDRESS__)
#define CLI_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define CLI_ASAN 1
#endif
#endif
#ifndef CLI_ASAN
#define CLI_ASAN 0
#endif
#if !CLI_ASAN
static const int crash_sigs[] = {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT};
static struct sigaction crash_old[sizeof crash_sigs / sizeof crash_sigs[0]];

static char crash_rank[32]; /* "rank 1: " under mpirun with several ranks */

static void put(const char *s)
{
    ssize_t n = write(STDERR_FILENO, s, strlen(s));
    (void)n;
}

static void on_crash(int sig)
{
    size_t i = 0;
    while (i + 1 < sizeof crash_sigs / sizeof crash_sigs[0] && crash_sigs[i] != sig) {
        i++;
    }
    const char *path = dpt_reading_file(NULL);
    if (!path) {
        /* In plugin code during training: the line that names it, then the
         * handler before (Open MPI's report, a core file), as without. */
        const struct dpt_site *site = dpt__running.site;
        if (site) {
            put("dptrain: error: ");
            put(crash_rank);
            put(site->who);
            put(" crashed with ");
            put(dpt__signal_name(sig));
            put(" in its ");
            put(dpt__running.fn);
            put("() (plugin '");
            put(site->name);
            put("', ");
            put(site->file);
            put("); `dptrain check-plugin ");
            put(site->file);
            put("` checks the plugin's functions\n");
        }
        sigaction(sig, &crash_old[i], NULL);
        return;
    }
    put("dptrain: error: ");
    put(path);
    put(": the HDF5 library crashed (");
    put(dpt__signal_name(sig));
    put(") reading this file: it is damaged\n");
    _exit(EXIT_RUN);
}
#endif

static double read_timeout_s(void)
{
    const char *v = getenv("DPTRAIN_READ_TIMEOUT");
    char *end = NULL;
    double t = v && *v ? strtod(v, &end) : 600.0;
    if (v && *v && (*end || !(t >= 0.0))) {
        fprintf(stderr, "dptrain: warning: DPTRAIN_READ_TIMEOUT='%s' is not a number of "
                "seconds; using 600\n", v);
        t = 600.0;
    }
    return t;
}

static void *watch_reads(void *arg)
{
    const double limit = *(const double *)arg;
    for (;;) {
        struct timespec half = {0, 500000000};
        nanosleep(&half, NULL);
        double stalled = 0.0;
        const char *path = dpt_reading_file(&stalled);
        if (path && stalled > limit) {
            fprintf(stderr, "dptrain: error: %s: reading this file made no progress for %g s "
                    "(the HDF5 library stuck on a damaged file, or a stalled file system; "
                    "DPTRAIN_READ_TIMEOUT sets the limit)\n", path, limit);
            fflush(stderr);
            _exit(EXIT_RUN);
        }
    }
    return NULL;
}

void cli_guard_reads(void)
{
#if !CLI_ASAN
    const char *size = getenv("OMPI_COMM_WORLD_SIZE"), *rank = getenv("OMPI_COMM_WORLD_RANK");
    if (size && rank && atoi(size) > 1) {
        snprintf(crash_rank, sizeof crash_rank, "rank %d: ", atoi(rank));
    }
    for (size_t i = 0; i < sizeof crash_sigs / sizeof crash_sigs[0]; i++) {
        struct sigaction cur, sa;
        if (sigaction(crash_sigs[i], NULL, &cur) == 0 && cur.sa_handler == on_crash) {
            continue; /* ours already, with the handler before it saved */
        }
        memset(&sa, 0, sizeof sa);
        sa.sa_handler = on_crash;
        sigemptyset(&sa.sa_mask);
        sa.sa_flags = SA_NODEFER;
        sigaction(crash_sigs[i], &sa, &crash_old[i]);
    }
#endif
    static double limit;
    static int started;
    if (!started) {
        started = 1;
        limit = read_timeout_s();
        pthread_t t;
        if (limit > 0 && pthread_create(&t, NULL, watch_reads, &limit) == 0) {
            pthread_detach(t);
        }
    }
}

int cli_stop_status(const struct dpt_dist *d)
{
    /* The highest signal number any rank got: one status for all ranks. */
    int sig = -dpt_dist_min_int(d, -dpt_stop_requested());
    return sig > 0 ? 128 + sig : EXIT_STOPPED;
}

/* The watchdog's report (on its own thread): print, give the other live
 * ranks a moment to print theirs (their watchdogs fire within a quarter
 * of a second of this one), end the job. alarm() is the way out should
 * MPI_Abort itself not return control to the launcher. */
static void on_hang(void *ctx, const char *msg)
{
    (void)ctx;
    fprintf(stderr, "dptrain: error: %s\n", msg);
    fflush(stderr);
    sleep(1);
    alarm(10);
    MPI_Abort(MPI_COMM_WORLD, EXIT_RUN);
    _exit(EXIT_RUN);
}

/* Open MPI 4.1's MPI_Init opens its cm PML, whose MTLs probe for Omni-Path
 * (psm, psm2) and libfabric (ofi) networks: about 200 ms of every start on
 * a machine without them (2 ranks: MPI_Init and MPI_Finalize 350 ms, 150
 * ms with ob1; a singleton 325 and 125), and then it takes ob1, the
 * shared-memory path, anyway. A job whose ranks are all on one node has no
 * network to probe, so there dptrain asks for ob1 itself, unless the
 * environment or an MCA parameter file (the site's, the user's) names a PML
 * or MTL to use, or lists other parameter files. One
 * node: a singleton (no launcher's variables) or mpirun's
 * OMPI_MCA_orte_num_nodes=1; other launchers (srun) are left alone. */
static int pml_chosen;

/* Whether a line of the MCA parameter file at path sets one of keys
 * ("key = value"); with `choice`, only a value that is not an exclusion
 * ("^ofi", as Debian's own /etc/openmpi/openmpi-mca-params.conf has)
 * counts. */
static int file_sets(const char *path, const char *const *keys, int choice)
{
    FILE *f = path ? fopen(path, "r") : NULL;
    if (!f) {
        return 0;
    }
    char line[512];
    int named = 0;
    while (!named && fgets(line, sizeof line, f)) {
        const char *p = line + strspn(line, " \t");
        size_t k = 0;
        while (keys[k] && strncmp(p, keys[k], strlen(keys[k])) != 0) {
            k++;
        }
        if (!keys[k]) {
            continue;
        }
        p += strlen(keys[k]);
        p += strspn(p, " \t");
        if (*p++ != '=') {
            continue;
        }
        p += strspn(p, " \t");
        named = (!choice || *p != '^') && *p != '\n' && *p != '\0' && *p != '#';
    }
    fclose(f);
    return named;
}

/* Whether the site's or the user's MCA parameter file sets one of keys. */
static int files_set(const char *const *keys, int choice)
{
    const char *home = getenv("HOME");
    char user[PATH_MAX];
    snprintf(user, sizeof user, "%s/.openmpi/mca-params.conf", home ? home : "");
    return file_sets("/etc/openmpi/openmpi-mca-params.conf", keys, choice) ||
           (home && file_sets(user, keys, choice));
}

/* Sets the MCA parameter keys[0] to value (as OMPI_MCA_<key> in the
 * environment) unless the user chose: the environment sets one of keys or
 * names other parameter files (OMPI_MCA_mca_base_param_files), or the
 * site's or the user's parameter file sets one of them (with `choice`, to
 * a value that is not an exclusion: see file_sets). Whether it set it. */
static int mca_default(const char *const *keys, int choice, const char *value)
{
    char var[128];
    for (size_t k = 0; keys[k]; k++) {
        snprintf(var, sizeof var, "OMPI_MCA_%s", keys[k]);
        if (getenv(var)) {
            return 0;
        }
    }
    if (getenv("OMPI_MCA_mca_base_param_files") || files_set(keys, choice)) {
        return 0;
    }
    snprintf(var, sizeof var, "OMPI_MCA_%s", keys[0]);
    return setenv(var, value, 1) == 0;
}

/* Whether this process was started without a launcher (no mpirun's, PMIx's
 * or PMI's variables): MPI_Init will make it a singleton. */
static int singleton(void)
{
    return !getenv("OMPI_COMM_WORLD_SIZE") && !getenv("PMIX_RANK") && !getenv("PMI_RANK");
}

static void one_node_pml(void)
{
    static const char *const keys[] = {"pml", "mtl", NULL};
    const char *nodes = getenv("OMPI_MCA_orte_num_nodes");
    if (singleton() || (nodes && strcmp(nodes, "1") == 0)) {
        pml_chosen = mca_default(keys, 1, "ob1");
    }
}

/* Open MPI's shared-memory transport (the vader BTL) moves a large message
 * between two ranks of a node by a single copy: the receiver reads the
 * sender's buffer through the kernel (CMA, process_vm_readv). What dptrain
 * sends are its gradient sums, which the sender writes again right after
 * (the next step's accumulators): the cache lines the other core read must
 * then come back. Copied through Open MPI's shared segment instead (two
 * copies, each by the core that owns the data), the medium MLP trained
 * with --deterministic 12% faster on 2 x 1 (115.9-120.9k against
 * 103.0-108.3k samples/s, 3 alternating pairs; the pass that writes the
 * accumulators went from 12% of the samples to 4%), the default path 2.5%
 * (154.7-162.3k against 150.9-158.0k) and LeNet 2-5% (docs/PERFORMANCE.md).
 * So dptrain asks for it (mechanism "none") unless the environment or a
 * parameter file sets the mechanism or names other parameter files. It
 * only concerns ranks on one node, so it holds on any number of them. */
static int copy_chosen;

static void shm_copies(void)
{
    static const char *const keys[] = {"btl_vader_single_copy_mechanism",
                                       "btl_sm_single_copy_mechanism", NULL};
    copy_chosen = mca_default(keys, 0, "none");
}

/* Started without mpirun, Open MPI 4.1's MPI_Init forks and executes an
 * orted of its own, for the dynamic processes of MPI_Comm_spawn and
 * MPI_Comm_connect, which dptrain never uses: 250-300 ms of every such
 * start (`dptrain train` without mpirun, eval, predict, a refused file:
 * 0.48-0.51 s against 0.22-0.23 s on a busy 2-vCPU machine). An isolated
 * singleton starts none, so dptrain asks for one unless the environment or
 * a parameter file sets the parameter or names other parameter files. */
static int isolated_chosen;

static void isolated_singleton(void)
{
    static const char *const keys[] = {"ess_singleton_isolated", NULL};
    if (singleton()) {
        isolated_chosen = mca_default(keys, 0, "1");
    }
}

/* Every isolated singleton names itself [[0,1],0], so all of them on a
 * node share one session folder, TMPDIR/ompi.HOST.UID/jf.0/1/0, which
 * each makes at MPI_Init and removes at MPI_Finalize: one dptrain that
 * ends while another starts can remove jf.0 between two of the other's
 * mkdir calls, and the other's MPI_Init fails ("orte_session_dir failed";
 * seen once in CI, where tests start several at once). So an isolated
 * singleton gets a session folder of its own (orte_top_session_dir, in
 * place of ompi.HOST.UID): a fresh folder where Open MPI would have made
 * its own (TMPDIR, TEMP, TMP, else /tmp), removed as soon as MPI_Init
 * returns. Nothing is written in it (strace: only the empty folders), so
 * nothing is left behind however the process ends; an MPI_Init that fails
 * (and exits inside) removes it itself, as it removes its top session
 * folder. Unless the user chose a base or a session folder. */
static char session_dir[PATH_MAX];

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st, (void)flag, (void)ftw;
    remove(path);
    return 0;
}

static void remove_session_dir(void)
{
    if (session_dir[0]) {
        nftw(session_dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
        session_dir[0] = '\0';
    }
}

static void own_session_dir(void)
{
    static const char *const keys[] = {"orte_top_session_dir", "orte_tmpdir_base",
                                       "orte_jobfam_session_dir", NULL};
    const char *tmp = getenv("TMPDIR");
    tmp = tmp && *tmp ? tmp : getenv("TEMP");
    tmp = tmp && *tmp ? tmp : getenv("TMP");
    tmp = tmp && *tmp ? tmp : "/tmp";
    int n = snprintf(session_dir, sizeof session_dir, "%s/dptrain-mpi.XXXXXX", tmp);
    if (!isolated_chosen || n < 0 || (size_t)n >= sizeof session_dir ||
        !mkdtemp(session_dir)) {
        session_dir[0] = '\0'; /* Open MPI's own folder, as before */
        return;
    }
    if (!mca_default(keys, 0, session_dir)) {
        rmdir(session_dir);
        session_dir[0] = '\0';
    }
}

int cli_mpi_isolated_chosen(void)
{
    return isolated_chosen;
}

int cli_mpi_copy_chosen(void)
{
    return copy_chosen;
}

int cli_mpi_pml_chosen(void)
{
    return pml_chosen;
}

int cli_mpi_init(int *argc, char ***argv, struct dpt_dist *d, double timeout_s)
{
    struct dpt_err err = {0};
    one_node_pml();
    shm_copies();
    isolated_singleton();
    own_session_dir();
    int started = dpt_dist_start(argc, argv, d, &err);
    remove_session_dir();
    if (started < 0) {
        fprintf(stderr, "dptrain: error: %s\n", err.msg);
        return -1;
    }
    cli_catch_stop_signals(); /* whatever MPI_Init installed, ours again */
    cli_guard_reads();        /* ahead of Open MPI's crash report, which it keeps */
    if (d->size > 1 && dpt_watch_start(d->rank, timeout_s, on_hang, NULL, &err) < 0) {
        fprintf(stderr, "dptrain: error: %s\n", err.msg);
        dpt_dist_finish();
        return -1;
    }
    return 0;
}

void cli_mpi_timeout(double timeout_s)
{
    dpt_watch_timeout(timeout_s);
}

static const char *utc(char *buf, size_t len, time_t t, const char *format)
{
    struct tm tm;
    if (!gmtime_r(&t, &tm) || strftime(buf, len, format, &tm) == 0) {
        snprintf(buf, len, "(no time)");
    }
    return buf;
}

const char *cli_utc(char *buf, size_t len, time_t t)
{
    return utc(buf, len, t, "%Y-%m-%d %H:%M:%S UTC");
}

const char *cli_iso_utc(char *buf, size_t len, time_t t)
{
    return utc(buf, len, t, "%Y-%m-%dT%H:%M:%SZ");
}

void cli_mpi_finalize(void)
{
    dpt_watch_stop();
    dpt_dist_finish();
}

/* `plugins --verbose`: the search path the registry walked, in order, with
 * where each folder or file came from and what was there. */
static void print_search_path(const struct dpt_registry *reg)
{
    static const char *const status[] = {
        [DPT_PLACE_FOLDER] = "folder",
        [DPT_PLACE_FILE] = "file",
        [DPT_PLACE_MISSING] = "does not exist",
        [DPT_PLACE_REPEATED] = "folder, already scanned above",
    };
    printf("search path, in order:\n");
    for (size_t i = 0; i < dpt_registry_place_count(reg); i++) {
        const struct dpt_registry_place *pl = dpt_registry_place(reg, i);
        printf("  %-30s %s (%s)\n", pl->origin, pl->path, status[pl->status]);
    }
    printf("\n");
}

int cmd_plugins(int argc, char **argv)
{
    struct cli_common c = {0}; /* --plugin-path, --allow-unsafe-plugins */
    int verbose = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            printf("usage: dptrain plugins [--plugin-path DIRS] [--verbose]\n"
                   "                       [--allow-unsafe-plugins]\n\n"
                   "Lists every plugin found (kind, name, version, file, summary) and every\n"
                   "file that was rejected, with the reason. Plugins are searched in\n"
                   "--plugin-path, then $DPTRAIN_PLUGIN_PATH, then the per-user folder\n"
                   "${XDG_DATA_HOME:-$HOME/.local/share}/dptrain/plugins, then the built-in\n"
                   "folder.\n\n"
                   "options:\n"
                   "  --plugin-path DIRS   ':'-separated folders or files searched first\n"
                   "  -v, --verbose        also print the search path: each folder or file,\n"
                   "                       where it came from and whether it exists, and\n"
                   "                       each loaded file's real path and SHA-256\n"
                   "  --allow-unsafe-plugins  load plugins others could have written, with\n"
                   "                       a warning\n");
            return 0;
        }
        if (strcmp(argv[i], "--verbose") == 0 || strcmp(argv[i], "-v") == 0) {
            verbose = 1;
            continue;
        }
        int r = cli_common_option("plugins", argc, argv, &i, &c);
        if (r < 0) {
            return EXIT_USAGE;
        }
        if (r == 0) {
            return cli_usage_error("plugins ", "unknown argument '%s'", argv[i]);
        }
    }
    struct dpt_err err = {0};
    struct dpt_registry *reg;
    if (cli_registry_create(&reg, &c, &err) < 0) {
        cli_error("%s", err.msg);
        return EXIT_RUN;
    }
    if (verbose) {
        print_search_path(reg);
        cli_plugin_files_print(stdout, reg);
        printf("\n");
    }
    /* Columns as wide as their longest entry, so that they line up. */
    int w_name = 4, w_version = 7, w_file = 4;
    for (size_t i = 0; i < dpt_registry_count(reg); i++) {
        const struct dpt_registry_entry *e = dpt_registry_entry(reg, i);
        const char *v = e->plugin->version ? e->plugin->version : "?";
        w_name = (int)strlen(e->plugin->name) > w_name ? (int)strlen(e->plugin->name) : w_name;
        w_version = (int)strlen(v) > w_version ? (int)strlen(v) : w_version;
        w_file = (int)strlen(e->file) > w_file ? (int)strlen(e->file) : w_file;
    }
    printf("%-10s %-*s %-*s %-*s %s\n", "KIND", w_name, "NAME", w_version, "VERSION", w_file,
           "FILE", "SUMMARY");
    for (uint32_t kind = DPT_KIND_LAYER; kind <= DPT_KIND_OPTIMIZER; kind++) {
        for (size_t i = 0; i < dpt_registry_count(reg); i++) {
            const struct dpt_registry_entry *e = dpt_registry_entry(reg, i);
            if (e->plugin->kind == kind) {
                printf("%-10s %-*s %-*s %-*s %s\n", dpt_kind_name(kind), w_name, e->plugin->name,
                       w_version, e->plugin->version ? e->plugin->version : "?", w_file,
                       e->file, e->plugin->summary ? e->plugin->summary : "");
            }
        }
    }
    for (size_t i = 0; i < dpt_registry_rejected_count(reg); i++) {
        printf("rejected: %s\n", dpt_registry_rejected(reg, i));
    }
    for (size_t i = 0; i < dpt_registry_shadowed_count(reg); i++) {
        printf("shadowed: %s\n", dpt_registry_shadowed(reg, i));
    }
    dpt_registry_destroy(reg);
    return 0;
}

/* When OpenBLAS fell back to kernels older than this CPU runs (blas_core.h),
 * execute this program again with OPENBLAS_CORETYPE naming the right ones.
 * Before MPI_Init and before any thread, so nothing is lost; the variable
 * set by the user (or by this, in the program executed again) is kept. If
 * exec fails, the run goes on with OpenBLAS's choice and train --verbose
 * says so. */
static void cli_blas_reexec(char **argv)
{
    if (getenv("OPENBLAS_CORETYPE") != NULL) {
        return;
    }
    const char *chosen = openblas_get_corename();
    const char *better = dpt_blas_better_core_here(chosen);
    if (better == NULL || setenv(DPT_BLAS_FALLBACK_ENV, chosen, 1) != 0 ||
        setenv("OPENBLAS_CORETYPE", better, 1) != 0) {
        return;
    }
    /* By its own path, not /proc/self/exe: the process keeps its name in
     * ps, top and pkill (exec names it after the file it runs). */
    char self[PATH_MAX];
    ssize_t len = readlink("/proc/self/exe", self, sizeof self - 1);
    if (len > 0) {
        self[len] = '\0';
        execv(self, argv);
    }
    unsetenv("OPENBLAS_CORETYPE");
    unsetenv(DPT_BLAS_FALLBACK_ENV);
}

int main(int argc, char **argv)
{
    cli_blas_reexec(argv);
    dpt_blas_one_thread(); /* before MPI_Init: its threads would wait as ours start */
    dpt__flush_denormals(); /* before any thread of ours starts: they inherit it */
    if (argc < 2) {
        fputs(usage, stderr);
        return EXIT_USAGE;
    }
    const char *cmd = argv[1];
    /* A write past the file-size limit (ulimit -f, a batch system's
     * RLIMIT_FSIZE) would kill the process with SIGXFSZ and no word;
     * ignored, the write fails with EFBIG instead: the kept chunks stop
     * being kept (src/data/dataset.c), a model, checkpoint or log that
     * cannot be written is an error that names it
     * (tests/mpi/block_order_same_bits.sh, tests/outputs_fail_fast.sh). */
    signal(SIGXFSZ, SIG_IGN);
    /* Likewise a write to a pipe whose reader is gone (mpirun stopping,
     * `dptrain ... | head`): ignored, the write fails with EPIPE and the
     * run goes on to its checkpoint and summary instead of dying of
     * SIGPIPE without a word. */
    signal(SIGPIPE, SIG_IGN);
    cli_guard_reads();
    if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0 || strcmp(cmd, "help") == 0) {
        fputs(usage, stdout);
        return 0;
    }
    if (strcmp(cmd, "--version") == 0 || strcmp(cmd, "version") == 0) {
        printf("dptrain %s (plugin ABI %d.%d)\n", dpt_version(), DPT_ABI_MAJOR, DPT_ABI_MINOR);
        cli_print_blas();
        return 0;
    }
    static const struct {
        const char *name;
        int (*run)(int, char **);
        int serial; /* one process's work: refused under mpirun -np N > 1 */
    } cmds[] = {
        {"train", cmd_train, 0},
        {"eval", cmd_eval, 0},
        {"predict", cmd_predict, 0},
        {"plugins", cmd_plugins, 1},
        {"inspect", cmd_inspect, 1},
        {"summary", cmd_summary, 1},
        {"check-plugin", cmd_check_plugin, 1},
        {"keys", cmd_keys, 1},
        {"plan", cmd_plan, 0}, /* refuses it itself, naming its -np */
        {"export", cmd_export, 1},
        {"convert", cmd_convert, 1},
    };
    for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++) {
        if (strcmp(cmd, cmds[i].name) != 0) {
            continue;
        }
        /* Every rank would do the same work, and write the same files. */
        const char *size = getenv("OMPI_COMM_WORLD_SIZE");
        size = size ? size : getenv("PMI_SIZE");
        if (cmds[i].serial && size && atoi(size) > 1) {
            char who[32];
            snprintf(who, sizeof who, "%s ", cmd);
            return cli_usage_error(who, "dptrain %s runs as one process: run it without "
                                   "mpirun (under mpirun -np %d every rank would do the same "
                                   "work)", cmd, atoi(size));
        }
        return cmds[i].run(argc - 1, argv + 1);
    }
    return cli_usage_error(NULL, "unknown command '%s' (commands: train, eval, predict, "
                           "plugins, inspect, summary, check-plugin, keys, plan, export, convert)", cmd);
}
