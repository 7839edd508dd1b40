/* dptrain train: read the model file on rank 0, share it, train on every
 * rank, write the model on rank 0, evaluate the test file if there is one. */
#include "config.h"

#include "cli/cli.h"
#include "cli/log_every.h"
#include "cli/resume_out.h"
#include "cli/run_summary.h"
#include "dist/dist.h"
#include "dist/placement.h"
#include "dist/watchdog.h"
#include "io/checkpoint.h"
#include "io/model_file.h"
#include "io/output.h"
#include "model/spec.h"
#include "model/spec_text.h"
#include "train/eval.h"
#include "train/train.h"
#include "util/blas_core.h"
#include "util/util.h"

#include <cblas.h>
#include <errno.h>
#include <jansson.h>
#include <libgen.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

static const char train_usage[] =
    "usage: dptrain train MODEL.cfg [options]\n"
    "\n"
    "Trains the model MODEL.cfg describes on its data.train file and writes the\n"
    "trained model (weights + model description) to an HDF5 file.\n"
    "\n"
    "options:\n"
    "  --set SECTION.KEY=VALUE  override a single value of the model file (repeatable),\n"
    "                           e.g. --set train.epochs=5 --set data.train=other.h5;\n"
    "                           inside a group or list: --set model.optimizer.type=sgd,\n"
    "                           --set model.layers.[0].units=64\n"
    "  --out FILE.h5            where to write the model (default: MODEL.h5 in the\n"
    "                           current folder, named after the model file; with\n"
    "                           --resume alone, after the checkpoint's model); never\n"
    "                           over a checkpoint or its link\n"
    "  --threads T              OpenMP threads per rank (default: up to $OMP_NUM_THREADS\n"
    "                           or the cores, fewer when the model is too small to gain)\n"
    "  --check-sync K           every K steps, check that all ranks hold the same weights\n"
    "  --deterministic          exact gradient sums: the same weights for any number of\n"
    "                           ranks and threads (train.deterministic = true)\n"
    "  --checkpoint PATH        write checkpoints to PATH (train.checkpoint.path), a link\n"
    "                           to the newest numbered file beside it: STEM-STEP.h5 for\n"
    "                           PATH = STEM.h5, STEP the step in 12 digits\n"
    "                           (ck-000000000500.h5); every epoch and every 600 s of\n"
    "                           training unless train.checkpoint says otherwise\n"
    "  --resume CKPT            continue from a checkpoint; without MODEL.cfg the\n"
    "                           checkpoint's own model description is used (its paths\n"
    "                           stored absolute, its checkpoint settings kept), from\n"
    "                           any folder\n"
    "  --resume auto            continue from the newest checkpoint of the --checkpoint\n"
    "                           series (else OUT-ckpt.h5) that loads, or start afresh\n"
    "                           when there is none (what a requeued batch job wants)\n"
    "  --overwrite              let a fresh run replace the checkpoints and train.log\n"
    "                           of an earlier run (without it, it refuses to start)\n"
    "  --init WEIGHTS.h5        start from the weights of a model or checkpoint file\n"
    "  --time-limit TIME        HH:MM:SS or seconds from the start (train.time_limit): stop\n"
    "                           in time to write the checkpoint (without --checkpoint: the\n"
    "                           model), then exit with status 3\n"
    "  --stop-after-steps N     (for tests) stop as if signalled after N steps of this run\n"
    "  --format json            end with one JSON object on stdout (status, why it\n"
    "                           stopped, epochs, steps, metrics, test, files written);\n"
    "                           the other lines go to stderr\n"
    "  --summary FILE.json      write the same JSON object to FILE.json at the end of\n"
    "                           the run, whatever the end (written whole or not at all)\n"
    "  --timeout SECONDS        end the job when a rank waits longer than this for the\n"
    "                           others (a hung or stopped rank); 0: never (default:\n"
    "                           train.timeout, else 600)\n"
    "  --plugin-path DIRS       extra plugin folders or files, ':'-separated\n"
    "  --allow-unsafe-plugins   load plugins others could have written, with a warning\n"
    "  -q, --quiet              no per-epoch or per-checkpoint lines\n"
    "  -v, --verbose            also how the data is read, where each rank runs (CPUs),\n"
    "                           each plugin file's SHA-256, and with -q the line per\n"
    "                           checkpoint\n"
    "  --progress, --no-progress  a progress bar per epoch (default: on a terminal,\n"
    "                           not under mpirun)\n"
    "\n"
    "SIGTERM, SIGINT, SIGUSR1 and SIGUSR2 make every rank finish the current step,\n"
    "write a checkpoint (to PATH, or OUT-ckpt.h5 when none is configured) and exit\n"
    "with status 3, and print the command that resumes (--resume). A signal before\n"
    "the first step (reading the data, the statistics) ends the run within about a\n"
    "second with status 128 + the signal's number (130 SIGINT, 143 SIGTERM, 138\n"
    "SIGUSR1): nothing to save.\n"
    "\n"
    "Parallel: mpirun -np P dptrain train MODEL.cfg --threads T\n";

struct progress {
    int rank, ranks;
    int threads; /* per rank, as dpt_train chose */
    const char *what, *data, *how; /* for the first line */
    time_t started; /* when the command started, for the first line */
    /* ... and what it resumes from: ", resuming from FILE" for --resume
     * FILE; for --resume auto, what it found (on_resume). */
    char resume[PATH_MAX + 64];
    int resume_auto;
    int quiet;
    int verbose;
    FILE *log; /* train.log on rank 0, or NULL */
    const char *log_path;
    int log_errno; /* the first failed write to the log (0: none) */
    int tty;   /* stdout is a terminal: progress bars; else one line per epoch */
    int64_t batch;
    int jsonl; /* the log is JSON lines, else CSV */
    struct dpt_epoch_stats last;
    double timed_s, timed_samples; /* epochs after the first (warm-up) */
    /* --format json, on rank 0: what the summary reports besides. */
    int json;
    json_t *test;       /* the test set's result, or NULL */
    int out_written;    /* --out holds this run's model */
    size_t params;
    char ckpt[PATH_MAX]; /* the last checkpoint written ("": none) */
    uint64_t ckpt_step;
    struct cli_log_every every; /* which epoch lines are printed (train.log_every) */
    struct cli_best best;       /* the best metrics of this run's epochs */
    int64_t restored_epoch;     /* early stopping restored this epoch's weights (0: none) */
};

static void print_epoch_line(const struct progress *p, const struct dpt_epoch_stats *st);

/* Notes about a resume (train/train.h, on_note): on rank 0, to stderr,
 * whatever --quiet says (they say what the run does with its checkpoint). */
static void on_note(void *ctx, const char *msg)
{
    (void)ctx;
    fprintf(stderr, "dptrain: note: %s\n", msg);
}

/* A long pass before the first epoch (train/train.h, on_pass): on rank 0,
 * to stdout unless --quiet, at once. */
static void on_pass(void *ctx, const char *msg)
{
    const struct progress *p = ctx;
    if (!p->quiet) {
        printf("data: %s\n", msg);
        fflush(stdout);
    }
}

static void on_checkpoint(void *ctx, const char *path, uint64_t global_step, int stopping)
{
    struct progress *p = ctx;
    snprintf(p->ckpt, sizeof p->ckpt, "%s", path);
    p->ckpt_step = global_step;
    /* A stop's checkpoint comes after the last epoch the run finished,
     * whose line is printed however the run stops: before it, in the
     * order they happened. Other checkpoints bring no epoch line of their
     * own: train.log_every decides those alone. */
    struct dpt_epoch_stats held;
    if (p->rank == 0 && !p->quiet && stopping && cli_log_every_take_held(&p->every, &held)) {
        print_epoch_line(p, &held);
    }
    /* Each checkpoint has its line, whatever log_every says: a batch log
     * shows when one was written and what step it holds. */
    if (p->rank == 0 && (p->verbose || !p->quiet)) {
        printf("checkpoint %s (step %llu)\n", path, (unsigned long long)global_step);
        fflush(stdout);
    }
}

/* With --verbose and --version: OpenBLAS's kernel set; who chose it when dptrain set
 * OPENBLAS_CORETYPE (src/util/blas_core.h); and a note when the kernels are
 * older than the CPU: OPENBLAS_CORETYPE holding an AVX-512 CPU to AVX2
 * kernels (OpenBLAS 0.3.21 on AMD Zen 5 runs sgemm ~1.8x faster with its own
 * choice, Cooperlake), or OpenBLAS's fallback where dptrain could not set it. */
void cli_print_blas(void)
{
    const char *core = openblas_get_corename(), *forced = getenv("OPENBLAS_CORETYPE");
    const char *fallback = getenv(DPT_BLAS_FALLBACK_ENV);
    if (forced && fallback) {
        printf("blas: %s, kernels %s (OPENBLAS_CORETYPE=%s, set by dptrain: OpenBLAS chose %s "
               "for this CPU, kernels older than it runs)\n",
               openblas_get_config(), core, forced, fallback);
        return;
    }
    printf("blas: %s, kernels %s%s%s%s\n", openblas_get_config(), core,
           forced ? " (OPENBLAS_CORETYPE=" : "", forced ? forced : "", forced ? ")" : "");
    const char *better = dpt_blas_better_core_here(core);
    if (forced && dpt_blas_cpu_avx512() && !dpt_blas_core_avx512(core)) {
        printf("blas: note: this CPU has AVX-512 but OPENBLAS_CORETYPE holds OpenBLAS to %s "
               "kernels; unset it to let OpenBLAS choose (its AVX-512 sgemm is up to 1.9x "
               "faster)\n", core);
    } else if (!forced && better) {
        printf("blas: note: OpenBLAS chose its %s kernels, older than this CPU runs; "
               "export OPENBLAS_CORETYPE=%s (sgemm up to 4.5x faster)\n", core, better);
    }
}

/* The first lines: what is trained where; with --verbose also how the data
 * is read and the model summary (as `dptrain summary` prints it). */
static void on_start(void *ctx, const struct dpt_net *net, int threads, const char *data)
{
    struct progress *p = ctx;
    p->threads = threads;
    if (p->rank == 0 && !p->quiet) {
        char when[64];
        printf("dptrain %s, %s: training %s on %s, %d rank%s x %d thread%s%s%s\n",
               dpt_version(), cli_utc(when, sizeof when, p->started), p->what, p->data,
               p->ranks, p->ranks > 1 ? "s" : "", threads, threads > 1 ? "s" : "", p->how,
               p->resume);
    }
    if (p->rank == 0 && p->verbose) {
        printf("%s\n", data);
        cli_summary_print(stdout, p->what, net);
    }
    fflush(stdout);
}

/* Rank 0: flushes the log; on the first failure (a full disk), says so at
 * once, closes the log and remembers the cause: training goes on, and the
 * exit status will be 1. */
static int log_flush(struct progress *p)
{
    int failed = fflush(p->log) != 0 || ferror(p->log);
    int e = errno;
    if (!failed) {
        return 0;
    }
    p->log_errno = e ? e : EIO;
    char shown[8192];
    fprintf(stderr, "dptrain: error: train.log %s: writing failed: %s; training goes on without "
            "it, and dptrain will exit with status 1\n",
            dpt__path_shown(p->log_path, shown, sizeof shown), strerror(p->log_errno));
    fclose(p->log);
    p->log = NULL;
    return -1;
}

/* One row per epoch: CSV (header first) or JSON lines. A metric without a
 * value (accuracy of a loss that counts no hits, val_* without validation
 * data) is an empty field in CSV, whose columns are fixed, and left out of
 * a JSON line: never nan. */
static void write_log(struct progress *p, const struct dpt_epoch_stats *st)
{
    const char *names[] = {"loss", "accuracy", "val_loss", "val_accuracy", "lr_scale",
                           "samples_per_s", "seconds", "elapsed"};
    double v[] = {st->loss, st->accuracy, st->val_loss, st->val_accuracy, st->lr_scale,
                  (double)st->samples / st->seconds, st->seconds, st->elapsed};
    if (p->jsonl) {
        json_t *o = json_object();
        json_object_set_new(o, "epoch", json_integer(st->epoch));
        for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
            if (!isnan(v[i])) {
                json_object_set_new(o, names[i], json_real(v[i]));
            }
        }
        char *line = json_dumps(o, JSON_COMPACT | JSON_REAL_PRECISION(10));
        if (line) {
            fprintf(p->log, "%s\n", line);
            free(line);
        }
        json_decref(o);
    } else {
        if (ftell(p->log) == 0) {
            fprintf(p->log, "epoch");
            for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
                fprintf(p->log, ",%s", names[i]);
            }
            fprintf(p->log, "\n");
        }
        fprintf(p->log, "%lld", (long long)st->epoch);
        for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
            if (isnan(v[i])) {
                fprintf(p->log, ",");
            } else {
                fprintf(p->log, ",%.10g", v[i]);
            }
        }
        fprintf(p->log, "\n");
    }
    log_flush(p);
}

/* The epoch of a line of train.log (CSV: its first field; JSON lines: its
 * "epoch" member), or -1 for a line that is not a row (the CSV header). */
static long long row_epoch(const char *line, int jsonl)
{
    const char *s = line;
    if (jsonl) {
        s = strstr(line, "\"epoch\":");
        if (!s) {
            return -1;
        }
        s += strlen("\"epoch\":");
    }
    char *end;
    long long epoch = strtoll(s, &end, 10);
    return end == s ? -1 : epoch;
}

/* Rewrites the log at path without its rows of epochs after epochs_done
 * and without an unfinished last line (a run killed while writing it);
 * the header stays. Through a temporary file renamed over the log, so that
 * a failure leaves it as it was; untouched when there is nothing to drop. */
static int trim_log(const char *path, int jsonl, int64_t epochs_done, struct dpt_err *err)
{
    char shown[8192];
    /* Not through a symbolic link: one planted here after the log was
     * opened would have the rewrite copy another file into the folder. */
    FILE *f = dpt_output_open_read_nofollow(path);
    if (!f) {
        int e = errno;
        return dpt_err_set(err, DPT_EIO, "%s: cannot read it: %s",
                           dpt__path_shown(path, shown, sizeof shown),
                           e == ELOOP ? "is a symbolic link" : strerror(e));
    }
    char *kept = NULL, *line = NULL;
    size_t n_kept = 0, cap = 0;
    int dropped = 0, rc = 0;
    FILE *out = open_memstream(&kept, &n_kept);
    ssize_t len;
    while (out && (len = getline(&line, &cap, f)) > 0) {
        if (line[len - 1] != '\n' || row_epoch(line, jsonl) > epochs_done) {
            dropped = 1;
        } else {
            fputs(line, out);
        }
    }
    int read_failed = ferror(f);
    int e = errno;
    free(line);
    fclose(f);
    if (!out || fclose(out) != 0) {
        rc = dpt_err_set(err, DPT_ENOMEM, "out of memory");
    } else if (read_failed) {
        rc = dpt_err_set(err, DPT_EIO, "%s: reading failed: %s",
                         dpt__path_shown(path, shown, sizeof shown), strerror(e));
    } else if (dropped) {
        rc = dpt_output_write_atomically(path, kept, n_kept, err);
    }
    free(kept);
    return rc;
}

/* Rank 0, when a resume knows its checkpoint (train/train.h, on_resume):
 * the first line says what --resume auto found (tests/mpi/no_silent_overwrite.sh);
 * train.log loses the rows the interrupted run wrote after that checkpoint,
 * which the resumed run writes again, so that it ends as an uninterrupted
 * run's would (tests/resume_log_exact.sh). On failure the log is left as it
 * was and not written to: training goes on, and the exit status will be 1. */
static void on_resume(void *ctx, int64_t epochs_done, const char *from)
{
    struct progress *p = ctx;
    if (p->resume_auto && from) {
        snprintf(p->resume, sizeof p->resume, ", resuming from %s (--resume auto)", from);
    } else if (p->resume_auto) {
        snprintf(p->resume, sizeof p->resume, ", starting afresh (--resume auto: no "
                 "checkpoint yet)");
    }
    if (!p->log) {
        return;
    }
    fclose(p->log); /* nothing written yet; reopened on the new file */
    struct dpt_err err = {0};
    /* trim_log's messages start with the path, dpt_output_open_in_place's
     * with "train.log" and the path. */
    const char *what = "train.log ";
    if (trim_log(p->log_path, p->jsonl, epochs_done, &err) == 0) {
        what = "";
        dpt_output_open_in_place(&p->log, p->log_path, 1, "train.log", &err);
    }
    if (!p->log) {
        p->log_errno = EIO;
        fprintf(stderr, "dptrain: error: %s%s; training goes on without it, and "
                "dptrain will exit with status 1\n", what, err.msg);
    }
}

/* A one-line progress bar on a terminal, redrawn in place. */
static void on_progress(void *ctx, int64_t epoch, uint64_t step, uint64_t steps, double loss,
                        double seconds)
{
    const struct progress *p = ctx;
    const int width = 30;
    int done = (int)((double)width * (double)step / (double)steps);
    double eta = seconds / (double)step * (double)(steps - step);
    printf("\repoch %lld [%.*s%*s] %llu/%llu  loss %.6f  %.0f samples/s  ETA %.0f s ",
           (long long)epoch, done, "==============================", width - done, "",
           (unsigned long long)step, (unsigned long long)steps, loss,
           (double)step * (double)p->batch / seconds, eta);
    fflush(stdout);
}

static void on_epoch(void *ctx, const struct dpt_epoch_stats *st)
{
    struct progress *p = ctx;
    p->last = *st;
    cli_best_update(&p->best, st);
    if (st->epoch > 1 || st->epochs == 1) {
        p->timed_s += st->seconds;
        p->timed_samples += (double)st->samples;
    }
    if (p->log) {
        write_log(p, st);
    }
    if (p->rank == 0 && !p->quiet && cli_log_every_due(&p->every, st)) {
        print_epoch_line(p, st);
    }
}

/* Rank 0: the line of epoch st on stdout, "epoch 3/40  loss ...". */
static void print_epoch_line(const struct progress *p, const struct dpt_epoch_stats *st)
{
    char extra[160] = "";
    size_t u = 0;
    if (!isnan(st->accuracy)) {
        u += (size_t)snprintf(extra + u, sizeof extra - u, "  accuracy %.4f", st->accuracy);
    }
    if (!isnan(st->val_loss)) {
        u += (size_t)snprintf(extra + u, sizeof extra - u, "  val_loss %.6f", st->val_loss);
    }
    if (!isnan(st->val_accuracy)) {
        u += (size_t)snprintf(extra + u, sizeof extra - u, "  val_accuracy %.4f",
                              st->val_accuracy);
    }
    if (st->lr_scale != 1.0) {
        snprintf(extra + u, sizeof extra - u, "  lr x%.4g", st->lr_scale);
    }
    if (p->tty) {
        printf("\r\033[K"); /* clear the progress bar */
    }
    int width = 1; /* the epoch numbers line up: as wide as the count */
    for (int64_t e = st->epochs; e >= 10; e /= 10) {
        width++;
    }
    printf("epoch %*lld/%lld  loss %.6f%s  %.0f samples/s  %.2f s%s\n", width,
           (long long)st->epoch,
           (long long)st->epochs, st->loss, extra, (double)st->samples / st->seconds, st->elapsed,
           st->stop_early ? "  (early stopping)" : "");
    fflush(stdout);
}

/* MODEL.cfg -> MODEL.h5 in the current folder. */
void cli_model_stem(char *buf, size_t len, const char *path)
{
    char copy[PATH_MAX];
    snprintf(copy, sizeof copy, "%s", path);
    char *base = basename(copy);
    char *dot = strrchr(base, '.');
    if (dot && dot != base) {
        *dot = '\0';
    }
    snprintf(buf, len, "%s", base);
}

void cli_default_out(char *buf, size_t len, const char *model)
{
    cli_model_stem(buf, len, model);
    size_t n = strlen(buf);
    snprintf(buf + n, len - n, ".h5");
}

/* Rank 0 reads the model file (or, with path NULL, the description stored
 * in the checkpoint ckpt); every rank gets the same spec. A model file's
 * own bytes are broadcast and every rank parses them and applies the --set
 * values itself (argv is the same on every rank), so that a message from
 * any rank quotes the user's file and lines; the text stored in a
 * checkpoint is named "CKPT:/config", as eval names it. */
static int load_spec(const struct dpt_dist *d, const char *path, const char *ckpt, char **sets,
                     size_t n_sets, struct dpt_spec *spec, struct dpt_err *err)
{
    char *text = NULL, name[PATH_MAX + 16];
    snprintf(name, sizeof name, "%s:/config", ckpt ? ckpt : "");
    int rc = 0;
    if (d->rank == 0 && path) {
        rc = dpt__spec_read_file(path, &text, err);
    } else if (d->rank == 0) {
        rc = dpt_model_read_config(ckpt, &text, err);
        if (rc == 0) {
            rc = dpt_spec_parse(spec, text, name, err);
        }
        for (size_t i = 0; rc == 0 && i < n_sets; i++) {
            rc = dpt_config_set(&spec->cfg, sets[i], err);
        }
        if (rc == 0 && n_sets) {
            /* Re-read the typed fields after the overrides. */
            free(text);
            text = dpt_spec_to_string(spec);
            dpt_spec_cleanup(spec);
            rc = text ? dpt_spec_parse(spec, text, name, err) : DPT_ENOMEM;
        }
    }
    rc = dpt_dist_agree(d, rc, err);
    if (rc == 0) {
        rc = dpt_dist_bcast_string(d, &text, 0, err);
    }
    if (rc == 0 && path) {
        rc = dpt_spec_load_text(spec, text, path, sets, n_sets, err);
    } else if (rc == 0 && d->rank != 0) {
        rc = dpt_spec_parse(spec, text, name, err);
    }
    free(text);
    return dpt_dist_agree(d, rc, err);
}

/* The command line of `dptrain train`. */
struct train_args {
    struct cli_common c;
    const char *model, *out, *resume, *init, *ckpt;
    const char *summary; /* --summary FILE.json, or NULL */
    long long check_sync, stop_after;
    double timeout;    /* --timeout; < 0: not given */
    double time_limit; /* --time-limit in seconds (0: not given) */
    double t_start;    /* dpt__now() when dptrain started */
    time_t started;    /* the same, as the wall clock's time */
    int deterministic, verbose, progress_bar, overwrite;
    int resume_auto; /* --resume auto */
    char **sets; /* the --set values, n_sets of them (argv's strings) */
    size_t n_sets;
    char out_buf[PATH_MAX], stop_path[PATH_MAX + 16];
    char name[PATH_MAX]; /* the model's name (cli/resume_out.h) */
};

/* A count option's value: 0 for an integer >= 1, else a usage error's
 * status (EXIT_USAGE). */
static int count_value(const char *opt, const char *v, long long *out)
{
    char *end;
    *out = strtoll(v, &end, 10);
    if (*end || *out < 1) {
        return cli_usage_error("train ", "%s needs a count >= 1, got '%s'", opt, v);
    }
    return 0;
}

/* Options that take a value: 1 if argv[*i] is one (its value taken), 0 if
 * not, or a usage error's status. */
static int value_option(int argc, char **argv, int *i, struct train_args *a)
{
    static const char *const names[] = {"--set", "--out", "--check-sync", "--resume", "--init",
                                        "--checkpoint", "--stop-after-steps", "--timeout",
                                        "--time-limit", "--summary", NULL};
    const char *opt = argv[*i];
    int k = 0;
    while (names[k] && strcmp(opt, names[k]) != 0) {
        k++;
    }
    if (!names[k]) {
        return 0;
    }
    if (*i + 1 >= argc) {
        return cli_usage_error("train ", "%s needs a value", opt);
    }
    const char *v = argv[++*i];
    switch (k) {
    case 0:
        if (cli_set_option("train ", v) != 0) {
            return EXIT_USAGE;
        }
        a->sets[a->n_sets++] = (char *)v;
        break;
    case 1: a->out = v; break;
    case 2: return count_value(opt, v, &a->check_sync) != 0 ? EXIT_USAGE : 1;
    case 3: a->resume = v; break;
    case 4: a->init = v; break;
    case 5: a->ckpt = v; break;
    case 6: return count_value(opt, v, &a->stop_after) != 0 ? EXIT_USAGE : 1;
    case 7: {
        char *end;
        a->timeout = strtod(v, &end);
        if (*end || end == v || !(a->timeout >= 0)) {
            return cli_usage_error("train ", "--timeout needs seconds >= 0 (0: never), got '%s'",
                                   v);
        }
        break;
    }
    case 9: a->summary = v; break;
    default:
        if (dpt__duration_parse(v, &a->time_limit) < 0 || a->time_limit <= 0) {
            return cli_usage_error("train ", "%s needs HH:MM:SS or seconds > 0, got '%s'", opt, v);
        }
        break;
    }
    return 1;
}

#define HELP_SHOWN (-1) /* parse_train_args printed --help: exit 0 */

/* OUT.h5 -> OUT-ckpt.h5, where a stop without a checkpoint series writes. */
static void set_stop_path(struct train_args *a)
{
    size_t len = strlen(a->out);
    int h5 = len > 3 && strcmp(a->out + len - 3, ".h5") == 0;
    snprintf(a->stop_path, sizeof a->stop_path, "%.*s-ckpt.h5", (int)(h5 ? len - 3 : len),
             a->out);
}

/* Parses the command line into a; 0, HELP_SHOWN, or a usage error's
 * status. */
static int parse_train_args(int argc, char **argv, struct train_args *a)
{
    for (int i = 1; i < argc; i++) {
        const char *s = argv[i];
        if (strcmp(s, "--help") == 0 || strcmp(s, "-h") == 0) {
            fputs(train_usage, stdout);
            return HELP_SHOWN;
        }
        int r = cli_common_option("train", argc, argv, &i, &a->c);
        if (r == 0) {
            r = value_option(argc, argv, &i, a);
        }
        if (r < 0 || r > 1) {
            return r < 0 ? EXIT_USAGE : r;
        }
        if (r == 1) {
            continue;
        }
        if (strcmp(s, "--deterministic") == 0) {
            a->deterministic = 1;
        } else if (strcmp(s, "--progress") == 0 || strcmp(s, "--no-progress") == 0) {
            a->progress_bar = strcmp(s, "--progress") == 0;
        } else if (strcmp(s, "--overwrite") == 0) {
            a->overwrite = 1;
        } else if (strcmp(s, "--verbose") == 0 || strcmp(s, "-v") == 0) {
            a->verbose = 1;
        } else if (strncmp(s, "--set=", 6) == 0) {
            if (cli_set_option("train ", s + 6) != 0) {
                return EXIT_USAGE;
            }
            a->sets[a->n_sets++] = (char *)s + 6;
        } else if (s[0] == '-') {
            return cli_unknown_option("train ", s);
        } else if (a->model) {
            return cli_usage_error("train ", "one model file only (got '%s' and '%s')", a->model,
                                   s);
        } else {
            a->model = s;
        }
    }
    if (!a->model && !a->resume) {
        return cli_usage_error("train ", "no model file given");
    }
    a->resume_auto = a->resume && strcmp(a->resume, "auto") == 0;
    if (a->resume_auto && !a->model) {
        return cli_usage_error("train ", "--resume auto needs the model file (it may start "
                               "afresh): dptrain train MODEL.cfg --resume auto");
    }
    /* Without the model file the default --out is named after the model
     * the checkpoint holds, once rank 0 has read it (name_run). */
    if (!a->out && a->model) {
        cli_default_out(a->out_buf, sizeof a->out_buf, a->model);
        a->out = a->out_buf;
    }
    if (a->out) {
        set_stop_path(a);
    }
    return 0;
}

/* The model's name, and --out named after it when not given. Collective. */
static int name_run(const struct dpt_dist *d, struct train_args *a, struct dpt_spec *spec,
                    struct dpt_err *err)
{
    int rc = cli_run_name(d, a->model, a->resume, a->name, sizeof a->name, err);
    spec->name = a->name;
    if (rc == 0 && !a->out) {
        cli_default_out(a->out_buf, sizeof a->out_buf, a->name);
        a->out = a->out_buf;
        set_stop_path(a);
    }
    return rc;
}

/* Opens train.log on rank 0 (appending when resuming). */
static int open_log(const struct dpt_spec *spec, const struct train_args *a, struct progress *p,
                    struct dpt_err *err)
{
    if (p->rank != 0 || !spec->log) {
        return 0;
    }
    size_t len = strlen(spec->log);
    p->jsonl = len > 6 && strcmp(spec->log + len - 6, ".jsonl") == 0;
    p->log_path = spec->log;
    int rc = dpt_output_probe(spec->log, "train.log", err);
    if (rc < 0) {
        return rc;
    }
    /* Written in place (appended to on a resume), so a symbolic link here
     * is refused rather than followed: io/output.h. */
    return dpt_output_open_in_place(&p->log, spec->log, a->resume != NULL, "train.log", err);
}

/* Appends " arg" to buf (len bytes), in single quotes when the shell
 * would read it otherwise. */
static void add_arg(char *buf, size_t len, const char *arg)
{
    size_t u = strlen(buf);
    int plain = *arg != '\0';
    for (const char *c = arg; *c; c++) {
        plain &= strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
                        "_./=:,+-@%", *c) != NULL;
    }
    if (plain) {
        snprintf(buf + u, len - u, " %s", arg);
        return;
    }
    snprintf(buf + u, len - u, " '");
    for (const char *c = arg; *c && (u = strlen(buf)) + 6 < len; c++) {
        snprintf(buf + u, len - u, *c == '\'' ? "'\\''" : "%c", *c);
    }
    u = strlen(buf);
    snprintf(buf + u, len - u, "'");
}

/* After a stop with a checkpoint: the whole command that continues the run,
 * as typed (tests/resume_hint.sh). With a checkpoint series (--checkpoint
 * or train.checkpoint.path) and a model file it resumes with --resume auto,
 * else from the file the stop wrote. */
static void print_resume_hint(const struct dpt_dist *d, const struct train_args *a,
                              const char *ckpt)
{
    char cmd[16384] = "";
    if (d->size > 1) {
        snprintf(cmd, sizeof cmd, "mpirun -np %d ", d->size);
    }
    size_t u = strlen(cmd);
    snprintf(cmd + u, sizeof cmd - u, "dptrain train");
    if (a->model) {
        add_arg(cmd, sizeof cmd, a->model);
    }
    for (size_t i = 0; i < a->n_sets; i++) {
        add_arg(cmd, sizeof cmd, "--set");
        add_arg(cmd, sizeof cmd, a->sets[i]);
    }
    add_arg(cmd, sizeof cmd, "--out");
    add_arg(cmd, sizeof cmd, a->out);
    if (a->deterministic) {
        add_arg(cmd, sizeof cmd, "--deterministic");
    }
    if (a->c.threads > 0) {
        char t[32];
        snprintf(t, sizeof t, "%d", a->c.threads);
        add_arg(cmd, sizeof cmd, "--threads");
        add_arg(cmd, sizeof cmd, t);
    }
    if (a->c.plugin_path) {
        add_arg(cmd, sizeof cmd, "--plugin-path");
        add_arg(cmd, sizeof cmd, a->c.plugin_path);
    }
    if (a->c.allow_unsafe_plugins) {
        add_arg(cmd, sizeof cmd, "--allow-unsafe-plugins");
    }
    if (a->summary) {
        add_arg(cmd, sizeof cmd, "--summary");
        add_arg(cmd, sizeof cmd, a->summary);
    }
    if (ckpt) {
        add_arg(cmd, sizeof cmd, "--checkpoint");
        add_arg(cmd, sizeof cmd, ckpt);
    }
    add_arg(cmd, sizeof cmd, "--resume");
    add_arg(cmd, sizeof cmd, ckpt && a->model ? "auto" : ckpt ? ckpt : a->stop_path);
    fprintf(stderr, "resume with: %s\n", cmd);
}

/* Lists into buf what a fresh run would replace: the checkpoint series at
 * ckpt (its link and numbered files), a train.log that is not empty (a
 * run killed before its first epoch leaves an empty one) and, beside
 * those, an earlier --summary file. Rank 0. */
static int files_in_the_way(const char *ckpt, const char *log, const char *summary, char *buf,
                            size_t len, struct dpt_err *err)
{
    struct stat st;
    if (ckpt && lstat(ckpt, &st) == 0) {
        snprintf(buf, len, "%s", ckpt);
    }
    char *list = NULL;
    int rc = ckpt ? dpt_checkpoint_series(ckpt, &list, err) : 0;
    for (char *f = list, *nl; rc == 0 && f && (nl = strchr(f, '\n')); f = nl + 1) {
        *nl = '\0';
        size_t u = strlen(buf);
        snprintf(buf + u, len - u, "%s%s", u ? ", " : "", f);
    }
    free(list);
    if (log && stat(log, &st) == 0 && st.st_size > 0) {
        size_t u = strlen(buf);
        snprintf(buf + u, len - u, "%s%s (train.log)", u ? ", " : "", log);
    }
    /* A summary alone is no run to continue (the model file, --out, is
     * replaced too), but beside one it is that run's record: listed, and
     * kept when the run is refused. */
    if (buf[0] && summary && stat(summary, &st) == 0 && st.st_size > 0) {
        size_t u = strlen(buf);
        snprintf(buf + u, len - u, ", %s (--summary)", summary);
    }
    return rc;
}

/* Whether the checkpoint series behind path has a file to resume from. */
static int series_has_files(const char *path)
{
    struct stat st;
    if (!path) {
        return 0;
    }
    if (lstat(path, &st) == 0) {
        return 1;
    }
    char *list = NULL;
    struct dpt_err ignored = {0};
    int has = dpt_checkpoint_series(path, &list, &ignored) == 0 && list && list[0];
    free(list);
    return has;
}

/* Renames a non-empty file out of a fresh run's way, to PATH.1 (or the
 * first free PATH.N), saying so on stderr: 1 when it did, 0 when there was
 * nothing to keep, or an error. Never replaces a file: link() fails on an
 * existing name. */
static int keep_aside(const char *path, const char *what, struct dpt_err *err)
{
    struct stat st;
    if (!path || stat(path, &st) != 0 || st.st_size == 0) {
        return 0;
    }
    char kept[PATH_MAX + 16];
    for (int n = 1; n < 1000; n++) {
        snprintf(kept, sizeof kept, "%s.%d", path, n);
        if (link(path, kept) == 0) {
            if (unlink(path) != 0) {
                break;
            }
            fprintf(stderr, "dptrain: note: --resume auto starts afresh: the earlier run's %s "
                    "%s is kept as %s\n", what, path, kept);
            return 1;
        }
        if (errno != EEXIST) {
            break;
        }
    }
    return dpt_err_set(err, DPT_EIO, "--resume auto starts afresh, and the earlier run's %s %s "
                       "could not be kept as %s: %s; move it away, or replace it with "
                       "--overwrite", what, path, kept, strerror(errno));
}

/* A fresh run (no --resume, no --overwrite) refuses to start over the files
 * of an earlier run, naming them and the ways out (tests/mpi/no_silent_overwrite.sh);
 * *refused tells rank 0 that it did, so that the refusal's own summary does
 * not replace the earlier run's. --resume auto with no checkpoint to
 * resume from starts afresh too, so that a requeued batch job killed
 * before its first checkpoint still runs: the earlier run's train.log (and
 * the summary beside it) are kept aside instead of replaced. Rank 0 looks;
 * the outcome is agreed. */
static int refuse_overwrite(const struct dpt_dist *d, const struct train_args *a,
                            const char *ckpt, const struct dpt_spec *spec, int *refused,
                            struct dpt_err *err)
{
    int rc = 0;
    int resumable = d->rank == 0 && series_has_files(ckpt ? ckpt : a->stop_path);
    if (d->rank == 0 && a->resume_auto && !a->overwrite && !resumable) {
        rc = keep_aside(spec->log, "train.log", err);
        if (rc == 1) { /* the summary beside that log is the same run's record */
            rc = keep_aside(a->summary, "--summary", err);
        }
        rc = rc < 0 ? rc : 0;
    } else if (d->rank == 0 && !a->resume && !a->overwrite) {
        char files[4096] = "";
        rc = files_in_the_way(ckpt, spec->log, a->summary, files, sizeof files, err);
        *refused = rc == 0 && files[0];
        if (*refused) {
            rc = dpt_err_set(err, DPT_EIO, "this fresh run would replace the files of an "
                             "earlier run: %s; %sreplace them with --overwrite, or write to "
                             "another path (--checkpoint PATH, --set train.log=FILE)", files,
                             resumable ? "continue that run with --resume auto, " : "");
        }
    }
    return dpt_dist_agree(d, rc, err);
}

/* The most files run_inputs lists beside data.train's. */
#define MORE_INPUTS 5

/* Every file the run reads (data.train's files or patterns first), for
 * dpt_output_not_input; with_resume 0 leaves out --resume (the checkpoint
 * series a resumed run goes on writing). in has room for
 * spec->train_src.n_files + MORE_INPUTS; returns the count. */
static size_t run_inputs(const struct train_args *a, const struct dpt_spec *spec,
                         int with_resume, struct dpt_input *in)
{
    size_t n = 0;
    for (size_t i = 0; i < spec->train_src.n_files; i++) {
        in[n++] = (struct dpt_input){spec->train_src.files[i], "data.train's"};
    }
    const struct dpt_data_source *more[] = {&spec->test_src, &spec->validation_src};
    const char *whose[] = {"data.test's file", "data.validation's file"};
    for (size_t k = 0; k < 2; k++) {
        in[n++] = (struct dpt_input){more[k]->n_files ? more[k]->files[0] : NULL, whose[k]};
    }
    in[n++] = (struct dpt_input){a->model, "the model file"};
    in[n++] = (struct dpt_input){a->init, "--init's file"};
    int resume_file = with_resume && a->resume && !a->resume_auto;
    in[n++] = (struct dpt_input){resume_file ? a->resume : NULL, "--resume's file"};
    return n;
}

/* Whether --summary would replace one of the run's inputs (data files only
 * when spec was loaded): then it is refused and never written, not even
 * with the error. Collective. */
static int summary_not_input(const struct dpt_dist *d, struct train_args *a,
                             const struct dpt_spec *spec, struct dpt_err *err)
{
    static const struct dpt_spec none = {0};
    size_t cap = (spec ? spec->train_src.n_files : 0) + MORE_INPUTS;
    struct dpt_input *in = a->summary && d->rank == 0 ? calloc(cap, sizeof *in) : NULL;
    int rc = a->summary && d->rank == 0 && !in ? dpt_err_set(err, DPT_ENOMEM, "out of memory")
                                                : 0;
    if (rc == 0 && in) {
        rc = dpt_output_not_input(a->summary, "--summary", in,
                                  run_inputs(a, spec ? spec : &none, 1, in), err);
    }
    free(in);
    rc = dpt_dist_agree(d, rc, err);
    if (rc < 0) {
        a->summary = NULL;
    }
    return rc;
}

/* Refuses an output of the run that is one of its inputs (data, the model
 * file, --init's weights): rank 0. */
static int outputs_not_inputs(const struct train_args *a, const struct dpt_spec *spec,
                              const char *ckpt, struct dpt_err *err)
{
    size_t cap = spec->train_src.n_files + MORE_INPUTS;
    struct dpt_input *in = calloc(cap, sizeof *in);
    if (!in) {
        return dpt_err_set(err, DPT_ENOMEM, "out of memory");
    }
    /* --out over --resume's checkpoint has its own message
     * (cli_out_not_checkpoint); --checkpoint may name it (the series goes on). */
    size_t n = run_inputs(a, spec, 0, in);
    int rc = dpt_output_not_input(a->out, "--out", in, n, err);
    if (rc == 0) {
        rc = dpt_output_not_input(ckpt, "--checkpoint", in, n, err);
    }
    if (rc == 0) {
        rc = dpt_output_not_input(spec->log, "train.log", in, run_inputs(a, spec, 1, in), err);
    }
    free(in);
    return rc;
}

/* Rank 0, before anything is read: every file the run will write can be
 * written (folders made, a probe file written and removed), so that a job
 * that cannot write its result fails within seconds, not after training.
 * train.log is probed when it is opened, --summary first of all
 * (check_summary). Collective. */
static int check_outputs(const struct dpt_dist *d, const struct train_args *a,
                         const char *ckpt, struct dpt_err *err)
{
    int rc = 0;
    if (d->rank == 0) {
        rc = dpt_output_probe(a->out, "--out", err);
    }
    if (rc == 0 && d->rank == 0) {
        rc = cli_out_not_checkpoint(a->out, ckpt, err);
    }
    if (rc == 0 && d->rank == 0 && ckpt) {
        struct stat st;
        char shown[8192];
        rc = dpt_output_probe(ckpt, "--checkpoint", err);
        /* PATH is the link dptrain points at the newest PATH-STEP file. */
        if (rc == 0 && lstat(ckpt, &st) == 0 && !S_ISLNK(st.st_mode)) {
            rc = dpt_err_set(err, DPT_EIO, "--checkpoint %s: is a regular file, not the link to "
                             "the newest checkpoint that dptrain keeps there; give another "
                             "path, or move the file away",
                             dpt__path_shown(ckpt, shown, sizeof shown));
        }
    }
    return dpt_dist_agree(d, rc, err);
}

/* After training: the model file, the RESULT line and the test set. */
static int finish(const struct dpt_dist *d, const struct train_args *a,
                  const struct dpt_spec *spec, const struct dpt_net *net,
                  const struct dpt_norm *norm, struct progress *prog, double train_s,
                  struct dpt_err *err)
{
    dpt_watch_phase("writing the model (the others wait for rank 0)");
    int rc = d->rank == 0 ? dpt_model_save(a->out, net, spec, norm, err) : 0;
    rc = dpt_dist_agree(d, rc, err);
    if (rc < 0) {
        return rc;
    }
    if (d->rank == 0) {
        /* The count `dptrain summary` and `inspect` show: no alignment padding. */
        size_t params = prog->params = dpt_net_count(net, -1, NULL, NULL);
        prog->out_written = 1;
        char restored[96] = "";
        if (prog->restored_epoch > 0) {
            snprintf(restored, sizeof restored, " (the weights of epoch %lld, restored by early "
                     "stopping)", (long long)prog->restored_epoch);
        }
        char when[64];
        printf("trained %zu parameters in %.2f s; wrote %s%s; %s\n", params, train_s, a->out,
               restored, cli_utc(when, sizeof when, time(NULL)));
        /* One line for scripts: throughput over the epochs after the first.
         * What this run did not measure is left out, never printed as 0 or
         * nan: accuracy= when the loss counts no hits (regression), and
         * all four figures when no epoch was left to run (a resume of a
         * finished run), samples_per_s= also when only a first epoch ran. */
        char figures[160] = "";
        if (prog->last.epoch > 0) {
            char rate[48] = "", acc[48] = "";
            if (prog->timed_s > 0) {
                snprintf(rate, sizeof rate, "samples_per_s=%.1f ",
                         prog->timed_samples / prog->timed_s);
            }
            if (!isnan(prog->last.accuracy)) {
                snprintf(acc, sizeof acc, " accuracy=%.4f", prog->last.accuracy);
            }
            snprintf(figures, sizeof figures, "%sepoch_s=%.4f final_loss=%.6f%s ", rate,
                     prog->timed_s > 0 && prog->last.epoch > 1
                         ? prog->timed_s / (double)(prog->last.epoch - 1)
                         : prog->last.seconds,
                     prog->last.loss, acc);
        }
        printf("RESULT %sranks=%d threads=%d params=%zu blas_core=%s\n", figures, d->size,
               prog->threads, params, openblas_get_corename());
    }
    if (!spec->test) {
        return 0;
    }
    struct dpt_eval_result res;
    dpt_watch_phase("evaluating the test data");
    rc = dpt_evaluate(net, &spec->test_src, 1, norm, d, prog->threads, 0, &res, err);
    if (rc == 0 && d->rank == 0) {
        printf("test %s: %llu samples  loss %.6f%s", spec->test, (unsigned long long)res.n,
               res.loss, cli_loss_units(norm));
        if (!isnan(res.accuracy)) {
            printf("  accuracy %.4f", res.accuracy);
        }
        if (res.task == DPT_TASK_REGRESSION) {
            printf("  mae %.6g  rmse %.6g", res.mae, res.rmse);
            if (!isnan(res.r2)) {
                printf("  r2 %.4f", res.r2);
            }
        }
        printf("\n");
        if (prog->json || a->summary) {
            prog->test = json_object();
            json_object_set_new(prog->test, "data", json_string(spec->test));
            json_object_set_new(prog->test, "samples", json_integer((json_int_t)res.n));
            json_object_set_new(prog->test, "loss", json_real(res.loss));
            cli_metrics_json(prog->test, &res);
            cli_classes_json(prog->test, norm);
        }
    }
    free(res.confusion);
    return rc;
}

/* Rank 0: closes train.log; a requested output that could not be written
 * fails a run that would otherwise exit 0. Returns the exit status. */
static int close_log(struct progress *p, int status)
{
    if (p->log && fclose(p->log) != 0 && !p->log_errno) {
        p->log_errno = errno; /* the last rows' write */
    }
    p->log = NULL;
    if (p->log_errno && status == 0) {
        char shown[8192];
        fprintf(stderr, "dptrain: error: train.log %s: incomplete: %s\n",
                dpt__path_shown(p->log_path, shown, sizeof shown), strerror(p->log_errno));
        status = EXIT_RUN;
    }
    return status;
}

/* The time limit stopped a run without --checkpoint: the model so far goes
 * to --out instead (it continues with --init, not exactly with --resume).
 * Collective; 0 or an error. */
static int save_at_time_limit(const struct dpt_dist *d, const struct train_args *a,
                              const struct dpt_spec *spec, const struct dpt_net *net,
                              const struct dpt_norm *norm, struct progress *prog,
                              struct dpt_err *err)
{
    char msg[sizeof err->msg];
    snprintf(msg, sizeof msg, "%s", err->msg);
    int rc = d->rank == 0 ? dpt_model_save(a->out, net, spec, norm, err) : 0;
    rc = dpt_dist_agree(d, rc, err);
    if (rc == 0 && d->rank == 0) {
        prog->out_written = 1;
        prog->params = dpt_net_count(net, -1, NULL, NULL);
        fprintf(stderr, "dptrain: %s; no --checkpoint, so the model so far was written to %s "
                "(continue from it with --init; --checkpoint makes a resumable stop)\n", msg,
                a->out);
    }
    return rc;
}

/* First of all, on rank 0: --summary FILE.json is written however the run
 * ends, a typo in the model file included, so its folder is made and
 * probed (as check_outputs does for every output) before anything else can
 * fail. When it cannot be written, that is the run's one error line, and
 * no summary is attempted at the end. Collective; the outcome is agreed. */
static int check_summary(const struct dpt_dist *d, struct train_args *a, struct dpt_err *err)
{
    int rc = d->rank == 0 && a->summary ? dpt_output_probe(a->summary, "--summary", err) : 0;
    rc = dpt_dist_agree(d, rc, err);
    if (rc < 0) {
        a->summary = NULL;
    }
    return rc;
}

/* The start of a run, on every rank: the plugins, the model description
 * (and the watchdog's timeout from it unless --timeout was given), the
 * checkpoint series into *ckpt (--checkpoint, else train.checkpoint.path;
 * NULL: none), and the refusal to replace an earlier run's files.
 * Collective; the outcome is agreed. spec is initialized by the caller. */
static int start_run(const struct dpt_dist *d, const struct train_args *a,
                     struct dpt_registry **reg, struct dpt_spec *spec, const char **ckpt,
                     int *refused, struct dpt_err *err)
{
    int rc = cli_registry_create(reg, &a->c, err);
    if (rc == 0 && d->rank == 0) {
        cli_plugin_warnings(*reg);
    }
    rc = dpt_dist_agree(d, rc, err);
    if (rc == 0) {
        config_destroy(&spec->cfg);
        dpt_watch_phase("start-up (the model file from rank 0)");
        rc = load_spec(d, a->model, a->resume, a->sets, a->n_sets, spec, err);
    }
    if (rc == 0 && a->timeout < 0) {
        cli_mpi_timeout(spec->timeout); /* the command line's --timeout wins */
    }
    spec->deterministic |= rc == 0 && a->deterministic;
    *ckpt = a->ckpt ? a->ckpt : spec->ckpt_path;
    spec->ckpt_path = *ckpt; /* stored in checkpoints as the series (model/spec_store.h) */
    if (rc == 0 && spec->ckpt_group && !*ckpt) {
        rc = dpt_err_set(err, DPT_ECONFIG, "%s: train.checkpoint has no path: set path = "
                         "\"FILE.h5\"; there, or give --checkpoint PATH", spec->file);
    }
    if (rc == 0) {
        rc = dpt_dist_agree(d, d->rank == 0 ? outputs_not_inputs(a, spec, *ckpt, err) : 0, err);
    }
    if (rc == 0) {
        rc = refuse_overwrite(d, a, *ckpt, spec, refused, err);
    }
    return rc;
}

/* What dpt_train's outcome rc means for the run, on every rank: after a
 * stop, the model so far (time limit without a checkpoint) or the resume
 * hint; after success, the model file and the test set (finish); then the
 * messages. Returns the exit status (before train.log's is added). */
static int end_run(const struct dpt_dist *d, const struct train_args *a, const char *ckpt,
                   int rc, int time_up, const struct dpt_spec *spec, const struct dpt_net *net,
                   const struct dpt_norm *norm, struct progress *prog, double train_s,
                   struct dpt_err *err)
{
    int status = 0;
    if (rc == DPT_ESIGNAL && net && time_up && !ckpt) {
        rc = save_at_time_limit(d, a, spec, net, norm, prog, err);
        status = EXIT_STOPPED;
    } else if (rc == DPT_ESIGNAL && net) {
        if (d->rank == 0) {
            fprintf(stderr, "dptrain: %s\n", err->msg);
            print_resume_hint(d, a, ckpt);
        }
        status = EXIT_STOPPED;
    }
    if (rc == 0 && status == 0) {
        rc = finish(d, a, spec, net, norm, prog, train_s, err);
    }
    /* A stop request before the first step, or while the test data was
     * evaluated (the model is written by then): nothing to save. */
    if (rc == DPT_ESIGNAL && status != EXIT_STOPPED) {
        status = cli_stop_status(d);
        if (d->rank == 0) {
            fprintf(stderr, "dptrain: %s; %s (exit %d)\n", err->msg,
                    net ? "the model was written before" : "no step taken, nothing to save",
                    status);
        }
    }
    if (rc < 0 && rc != DPT_ESIGNAL) {
        if (d->rank == 0) {
            fprintf(stderr, "dptrain: error: %s\n", err->msg);
            /* A batch log should say where the work done so far is: only
             * when a checkpoint is there (not some other file at the path). */
            enum dpt_file_kind kind = DPT_FILE_NEITHER;
            struct dpt_err ignored = {0};
            if (ckpt && access(ckpt, F_OK) == 0 &&
                dpt_model_file_kind(ckpt, &kind, &ignored) == 0 && kind == DPT_FILE_CHECKPOINT) {
                fprintf(stderr, "dptrain: the checkpoints at %s are kept; once the cause is "
                        "fixed, ", ckpt);
                print_resume_hint(d, a, ckpt);
            }
        }
        status = EXIT_RUN;
    }
    return status;
}

/* --format json on rank 0: stdout is kept for the summary alone, as a
 * FILE of its own; what the run prints on stdout (the epoch lines, RESULT,
 * the test line, --verbose) goes to stderr instead, so that a batch script
 * can read stdout as one JSON object. NULL when that fails (the summary
 * then shares stdout). */
static FILE *set_stdout_aside(void)
{
    fflush(stdout);
    int fd = dup(STDOUT_FILENO);
    FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;
    if (!f || dup2(STDERR_FILENO, STDOUT_FILENO) < 0) {
        if (f) {
            fclose(f);
        } else if (fd >= 0) {
            close(fd);
        }
        return NULL;
    }
    return f;
}

/* How a run ended, for its JSON summary: dpt_train's or end_run's rc, the
 * exit status. */
struct run_end {
    int rc, status, time_up;
    double train_s;
    const struct dpt_train_outcome *oc;
};

/* Why the run stopped: the words of the summary's "stopped_by". */
static const char *stopped_by(const struct run_end *e)
{
    if (e->rc == DPT_ESIGNAL) {
        return e->time_up ? "time_limit" : "signal";
    }
    if (e->rc == DPT_ENUMERIC) {
        return "nan"; /* training diverged: a loss or gradient not finite */
    }
    if (e->rc < 0) {
        return "error";
    }
    return e->oc->early_stopped ? "early_stopping" : "epochs";
}

/* Rank 0: the end of the run as one JSON object (README "train --format
 * json" lists the members; the best and final metrics come from
 * run_summary.c). A metric without a value is left out, as in eval --format
 * json; so are the model file and the checkpoint when none was written. */
static json_t *summary_object(const struct dpt_dist *d, const struct train_args *a,
                              const struct dpt_spec *spec, struct progress *p,
                              const struct run_end *e, const struct dpt_err *err)
{
    json_t *o = json_object();
    const char *status = e->status == 0 ? "finished" : e->status == EXIT_RUN ? "error"
                                                                             : "stopped";
    json_object_set_new(o, "status", json_string(status));
    json_object_set_new(o, "stopped_by", json_string(stopped_by(e)));
    int sig = dpt_stop_requested();
    if (e->rc == DPT_ESIGNAL && !e->time_up && sig) {
        json_object_set_new(o, "signal", json_string(dpt__signal_name(sig)));
    }
    json_object_set_new(o, "exit_status", json_integer(e->status));
    if (e->status == EXIT_RUN) {
        /* The error line's message; else the run failed on train.log. */
        char log_error[PATH_MAX + 128];
        snprintf(log_error, sizeof log_error, "train.log %s: incomplete: %s", p->log_path,
                 strerror(p->log_errno));
        int failed = err->code < 0 && err->code != DPT_ESIGNAL;
        json_object_set_new(o, "error", json_string(failed ? err->msg : log_error));
    }
    json_object_set_new(o, "model", json_string(a->model ? a->model : a->resume));
    json_object_set_new(o, "epochs", json_integer(e->oc->epochs));
    json_object_set_new(o, "epochs_planned", json_integer(spec->epochs));
    json_object_set_new(o, "steps", json_integer((json_int_t)e->oc->global_step));
    json_object_set_new(o, "steps_this_run", json_integer((json_int_t)e->oc->steps_this_run));
    if (e->oc->best_epoch > 0 && (e->oc->early_stopped || e->oc->restored_epoch > 0)) {
        json_object_set_new(o, "best_epoch", json_integer(e->oc->best_epoch));
    }
    if (e->oc->restored_epoch > 0) { /* the weights written are that epoch's */
        json_object_set_new(o, "restored_epoch", json_integer(e->oc->restored_epoch));
    }
    if (p->timed_s > 0) {
        json_object_set_new(o, "samples_per_s", json_real(p->timed_samples / p->timed_s));
    }
    json_object_set_new(o, "seconds", json_real(e->train_s));
    json_object_set_new(o, "wall_seconds", json_real(dpt__now() - a->t_start));
    char when[64];
    json_object_set_new(o, "started", json_string(cli_iso_utc(when, sizeof when, a->started)));
    json_object_set_new(o, "ended", json_string(cli_iso_utc(when, sizeof when, time(NULL))));
    if (p->last.epoch > 0) { /* the last epoch this run finished */
        json_object_set_new(o, "loss", json_real(p->last.loss));
        if (!isnan(p->last.accuracy)) {
            json_object_set_new(o, "accuracy", json_real(p->last.accuracy));
        }
        if (!isnan(p->last.val_loss)) {
            json_t *v = json_object();
            json_object_set_new(v, "loss", json_real(p->last.val_loss));
            if (!isnan(p->last.val_accuracy)) {
                json_object_set_new(v, "accuracy", json_real(p->last.val_accuracy));
            }
            json_object_set_new(o, "validation", v);
        }
    }
    if (p->test) {
        json_object_set_new(o, "test", json_incref(p->test));
    }
    if (p->out_written) {
        json_object_set_new(o, "out", json_string(a->out));
        json_object_set_new(o, "params", json_integer((json_int_t)p->params));
    }
    if (p->ckpt[0]) {
        json_object_set_new(o, "checkpoint", json_string(p->ckpt));
        json_object_set_new(o, "checkpoint_step", json_integer((json_int_t)p->ckpt_step));
    }
    json_object_set_new(o, "ranks", json_integer(d->size));
    if (p->threads > 0) { /* 0: the run ended before choosing */
        json_object_set_new(o, "threads", json_integer(p->threads));
    }
    json_object_set_new(o, "deterministic", json_boolean(spec->deterministic));
    cli_summary_add_metrics(o, &p->best, p->last.epoch > 0 ? &p->last : NULL, p->test);
    json_t *files = json_object();
    if (p->out_written) {
        json_object_set_new(files, "model", json_string(a->out));
    }
    if (p->ckpt[0]) {
        json_object_set_new(files, "checkpoint", json_string(p->ckpt));
    }
    if (p->log_path && p->last.epoch > 0) {
        json_object_set_new(files, "log", json_string(p->log_path));
    }
    if (a->summary) {
        json_object_set_new(files, "summary", json_string(a->summary));
    }
    json_object_set_new(o, "files", files);
    return o;
}

/* Rank 0, with --summary or --format json: the summary written to the
 * --summary file and printed to out (set_stdout_aside's, which it closes;
 * NULL: stdout) when json; p->test released. A failed --summary write
 * fails a run that would otherwise exit 0 (the printed object says so).
 * Returns the exit status. */
static int report_summary(FILE *out, const struct dpt_dist *d, const struct train_args *a,
                          const struct dpt_spec *spec, struct progress *p,
                          const struct run_end *e, const struct dpt_err *err)
{
    int status = e->status;
    json_t *o = summary_object(d, a, spec, p, e, err);
    struct dpt_err werr = {0};
    if (a->summary && cli_summary_write(a->summary, o, &werr) < 0) {
        fprintf(stderr, "dptrain: error: %s\n", werr.msg);
        if (status == 0) {
            status = EXIT_RUN;
            json_object_set_new(o, "status", json_string("error"));
            json_object_set_new(o, "exit_status", json_integer(status));
            json_object_set_new(o, "error", json_string(werr.msg));
        }
    }
    char *line = p->json ? json_dumps(o, JSON_COMPACT | JSON_REAL_PRECISION(10)) : NULL;
    if (line) {
        fprintf(out ? out : stdout, "%s\n", line);
        free(line);
    }
    fflush(out ? out : stdout);
    if (out) {
        fclose(out);
    }
    json_decref(o);
    json_decref(p->test);
    p->test = NULL;
    return status;
}

/* Trains on every rank once MPI runs; returns the exit status. A run's
 * steps in the order they happen: check_summary, start_run, the options
 * dpt_train takes, the outputs' checks, training, end_run, train.log's
 * close. */
static int run_train(const struct dpt_dist *d, struct train_args *a)
{
    struct dpt_err err = {0};
    struct dpt_registry *reg = NULL;
    struct dpt_spec spec;
    memset(&spec, 0, sizeof spec);
    config_init(&spec.cfg);
    struct dpt_net *net = NULL;
    struct dpt_norm norm = {0};
    const char *ckpt = NULL;
    FILE *json_out = a->c.json && d->rank == 0 ? set_stdout_aside() : NULL;
    int refused = 0;
    int rc = check_summary(d, a, &err);
    if (rc == 0) {
        rc = start_run(d, a, &reg, &spec, &ckpt, &refused, &err);
    }
    if (rc == 0) {
        rc = name_run(d, a, &spec, &err);
    }
    if (rc == 0) {
        rc = summary_not_input(d, a, &spec, &err);
    } else {
        struct dpt_err ignored = {0}; /* the first error is the one to tell */
        summary_not_input(d, a, NULL, &ignored);
    }
    if (refused) {
        a->summary = NULL; /* the earlier run's summary is one of the files kept */
    }
    struct progress prog = {.rank = d->rank, .ranks = d->size, .quiet = a->c.quiet,
                            .verbose = a->verbose, .what = a->model ? a->model : a->resume,
                            .data = spec.train ? spec.train : "(no data)",
                            .how = spec.deterministic ? ", deterministic" : "",
                            .started = a->started,
                            .resume_auto = a->resume_auto,
                            .tty = a->progress_bar > 0 && !a->c.quiet && !a->c.json,
                            .batch = spec.batch, .json = a->c.json && d->rank == 0};
    if (a->resume && !a->resume_auto) {
        snprintf(prog.resume, sizeof prog.resume, ", resuming from %s", a->resume);
    }
    cli_log_every_init(&prog.every, spec.log_every_epochs, spec.log_every_s, !prog.tty);
    struct dpt_train_outcome outcome = {0};
    int time_up = 0;
    double limit = a->time_limit > 0 ? a->time_limit : spec.time_limit;
    struct dpt_train_opts opts = {
        .threads = a->c.threads, /* 0: dpt_train chooses (on_start tells) */
        .check_sync = a->check_sync ? a->check_sync : spec.check_sync,
        .resume = a->resume_auto ? (ckpt ? ckpt : a->stop_path) : a->resume,
        .resume_auto = a->resume_auto,
        .overwrite = a->overwrite,
        .init = a->init,
        .ckpt_path = ckpt,
        .stop_path = a->stop_path,
        .stop = NULL, /* the CLI's signal handlers call dpt_stop_request */
        .stop_after_steps = a->stop_after,
        .out = a->out,
        .limit = limit,
        .deadline = limit > 0 ? a->t_start + limit : 0,
        .time_up = &time_up,
        .on_epoch = on_epoch,
        .on_progress = prog.tty ? on_progress : NULL,
        .on_start = on_start,
        .on_checkpoint = on_checkpoint,
        .on_warning = cli_warn,
        .on_note = on_note,
        .on_pass = on_pass,
        .on_resume = on_resume,
        .ctx = &prog,
        .outcome = &outcome,
    };
    /* rc is the same on every rank here: an error agreed on already is not
     * agreed on again (that would print it as "rank 0: rank 1: ..."). */
    if (rc == 0) {
        rc = check_outputs(d, a, opts.ckpt_path, &err);
    }
    if (rc == 0) {
        rc = open_log(&spec, a, &prog, &err);
        rc = dpt_dist_agree(d, rc, &err);
    }
    if (rc == 0 && a->verbose) {
        if (d->rank == 0) {
            cli_print_blas();
            cli_plugin_files_print(stdout, reg);
        }
        dpt_dist_describe_placement(d, stdout);
        if (d->rank == 0 && cli_mpi_pml_chosen()) {
            printf("mpi: all ranks on one node: Open MPI's shared-memory PML ob1 "
                   "(OMPI_MCA_pml=ob1, set by dptrain: no network probes at start; "
                   "set OMPI_MCA_pml to choose)\n");
        }
        if (cli_mpi_isolated_chosen()) {
            printf("mpi: started without mpirun: no orted of its own "
                   "(OMPI_MCA_ess_singleton_isolated=1, set by dptrain: about 0.3 s less at "
                   "start; set it to choose)\n");
        }
        if (d->rank == 0 && d->size > 1 && cli_mpi_copy_chosen()) {
            printf("mpi: large messages between ranks of a node copied through Open MPI's "
                   "shared memory (OMPI_MCA_btl_vader_single_copy_mechanism=none, set by "
                   "dptrain: the sender's buffers stay in its cache; set it to choose)\n");
        }
    }
    double t0 = dpt__now();
    if (rc == 0) {
        rc = dpt_train(&spec, reg, d, &opts, &net, &norm, &err);
    }
    double train_s = dpt__now() - t0;
    prog.restored_epoch = outcome.restored_epoch;
    /* However training ended, its last finished epoch is in the log. */
    struct dpt_epoch_stats held;
    if (d->rank == 0 && !prog.quiet && cli_log_every_take_held(&prog.every, &held)) {
        print_epoch_line(&prog, &held);
    }
    if (rc == 0 && a->verbose && d->rank == 0 && outcome.chunks_inflated) {
        printf("data: X's %llu chunks were inflated %llu times in all on the %d rank%s\n",
               (unsigned long long)outcome.chunks, (unsigned long long)outcome.chunks_inflated,
               d->size, d->size > 1 ? "s" : "");
        if (outcome.own_rows_epoch) {
            printf("data: from epoch %lld on, each rank read its own rows from the chunks kept "
                   "once for its node (no rows exchanged)\n", (long long)outcome.own_rows_epoch);
        }
    }
    int status = end_run(d, a, ckpt, rc, time_up, &spec, net, &norm, &prog, train_s, &err);
    int end_rc = err.code; /* end_run's outcome: the run's error, or the model's write */
    status = close_log(&prog, status);
    fflush(stdout);
    if (prog.json || (a->summary && d->rank == 0)) {
        struct run_end e = {.rc = rc < 0 ? rc : end_rc, .status = status, .time_up = time_up,
                            .train_s = train_s, .oc = &outcome};
        status = report_summary(json_out, d, a, &spec, &prog, &e, &err);
    }
    dpt_net_destroy(net);
    dpt_norm_cleanup(&norm);
    dpt_spec_cleanup(&spec);
    dpt_registry_destroy(reg);
    return status;
}

int cmd_train(int argc, char **argv)
{
    /* Progress bars on a terminal. Under mpirun the ranks' stdout is a pseudo
     * terminal even when mpirun's own output goes to a file, so there the
     * default is one line per epoch; --progress asks for the bars. */
    cli_catch_stop_signals(); /* before anything slow: see cli.h */
    struct train_args a = {
        .c.takes = CLI_TAKES_THREADS | CLI_TAKES_FORMAT | CLI_TAKES_QUIET,
        .timeout = -1,
        .t_start = dpt__now(), /* the time limit counts from here */
        .started = time(NULL),
        .progress_bar = isatty(STDOUT_FILENO) && !getenv("OMPI_COMM_WORLD_SIZE") &&
                        !getenv("PMI_SIZE"),
        .sets = calloc((size_t)argc, sizeof *a.sets),
    };
    if (!a.sets) {
        cli_error("out of memory");
        return EXIT_RUN;
    }
    int status = parse_train_args(argc, argv, &a);
    struct dpt_dist d;
    double timeout = a.timeout >= 0 ? a.timeout : DPT_DEFAULT_TIMEOUT;
    if (status == 0 && cli_mpi_init(&argc, &argv, &d, timeout) < 0) {
        status = EXIT_RUN;
    } else if (status == 0) {
        status = run_train(&d, &a);
        cli_mpi_finalize();
    }
    free(a.sets);
    return status == HELP_SHOWN ? 0 : status;
}
