/* dptrain train: read the model file on rank 0, share it, train on every
 * rank, write the model on rank 0, evaluate the test file if there is one. */
#include "config.h"

#include "cli/cli.h"
#include "dist/dist.h"
#include "io/model_file.h"
#include "model/spec.h"
#include "train/eval.h"
#include "train/train.h"
#include "util/util.h"

#include <cblas.h>
#include <errno.h>
#include <jansson.h>
#include <libgen.h>
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

static const char train_usage[] =
    "usage: dptrain train MODEL.cfg [options]\n"
    "\n"
    "Trains the model MODEL.cfg describes on its data.train file and writes the\n"
    "trained model (weights + model description) to an HDF5 file.\n"
    "\n"
    "options:\n"
    "  --set SECTION.KEY=VALUE  override a setting of the model file (repeatable),\n"
    "                           e.g. --set train.epochs=5 --set data.train=other.h5\n"
    "  --out FILE.h5            where to write the model (default: MODEL.h5 in the\n"
    "                           current folder, named after the model file)\n"
    "  --threads T              OpenMP threads per rank (default: up to $OMP_NUM_THREADS\n"
    "                           or the cores, fewer when the model is too small to gain)\n"
    "  --check-sync K           every K steps, check that all ranks hold the same weights\n"
    "  --deterministic          exact gradient sums: the same weights for any number of\n"
    "                           ranks and threads (train.deterministic = true)\n"
    "  --checkpoint PATH        write checkpoints to PATH (train.checkpoint.path), a link\n"
    "                           to the newest PATH-STEP file\n"
    "  --resume CKPT            continue from a checkpoint; without MODEL.cfg the\n"
    "                           checkpoint's own model description is used\n"
    "  --init WEIGHTS.h5        start from the weights of a model or checkpoint file\n"
    "  --stop-after-steps N     (for tests) stop as if signalled after N steps of this run\n"
    "  --plugin-path DIRS       extra plugin folders or files, ':'-separated\n"
    "  -q, --quiet              no per-epoch lines\n"
    "  -v, --verbose            also how the data is read and a line per checkpoint\n"
    "  --progress, --no-progress  a progress bar per epoch (default: on a terminal,\n"
    "                           not under mpirun)\n"
    "\n"
    "SIGTERM, SIGINT, SIGUSR1 and SIGUSR2 make every rank finish the current step,\n"
    "write a checkpoint (to PATH, or OUT-ckpt.h5 when none is configured) and exit\n"
    "with status 3. Resume with --resume.\n"
    "\n"
    "Parallel: mpirun -np P dptrain train MODEL.cfg --threads T\n";

#define EXIT_STOPPED 3

static volatile sig_atomic_t stop_requested;

static void on_signal(int sig)
{
    (void)sig;
    stop_requested = 1;
}

static void catch_stop_signals(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    static const int sigs[] = {SIGTERM, SIGINT, SIGUSR1, SIGUSR2};
    for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++) {
        sigaction(sigs[i], &sa, NULL);
    }
}



struct progress {
    int rank, ranks;
    int threads; /* per rank, as dpt_train chose */
    const char *what, *data, *how; /* for the first line */
    int quiet;
    int verbose;
    FILE *log; /* train.log on rank 0, or NULL */
    int tty;   /* stdout is a terminal: progress bars; else one line per epoch */
    int64_t batch;
    int jsonl; /* the log is JSON lines, else CSV */
    struct dpt_epoch_stats last;
    double timed_s, timed_samples; /* epochs after the first (warm-up) */
};

static void on_checkpoint(void *ctx, const char *path, uint64_t global_step)
{
    const struct progress *p = ctx;
    if (p->rank == 0 && p->verbose) {
        printf("checkpoint %s (step %llu)\n", path, (unsigned long long)global_step);
        fflush(stdout);
    }
}

/* With --verbose: OpenBLAS's kernel set, and a note when OPENBLAS_CORETYPE
 * holds this CPU to AVX2 kernels although it has AVX-512 (OpenBLAS 0.3.21
 * on AMD Zen 5 runs sgemm ~1.8x faster with its own choice, Cooperlake). */
static void print_blas(void)
{
    const char *core = openblas_get_corename(), *forced = getenv("OPENBLAS_CORETYPE");
    printf("blas: %s, kernels %s%s%s%s\n", openblas_get_config(), core,
           forced ? " (OPENBLAS_CORETYPE=" : "", forced ? forced : "", forced ? ")" : "");
    __builtin_cpu_init();
    int avx512 = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
                 __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl");
    if (forced && avx512 && strcasecmp(core, "SkylakeX") != 0 &&
        strcasecmp(core, "Cooperlake") != 0 && strcasecmp(core, "SapphireRapids") != 0) {
        printf("blas: note: this CPU has AVX-512 but OPENBLAS_CORETYPE holds OpenBLAS to %s "
               "kernels; unset it to let OpenBLAS choose (its AVX-512 sgemm is up to 1.9x "
               "faster)\n", core);
    }
}

static void on_start(void *ctx, int threads, const char *data)
{
    struct progress *p = ctx;
    p->threads = threads;
    if (p->rank == 0 && !p->quiet) {
        printf("dptrain %s: training %s on %s, %d rank%s x %d thread%s%s\n", dpt_version(),
               p->what, p->data, p->ranks, p->ranks > 1 ? "s" : "", threads,
               threads > 1 ? "s" : "", p->how);
    }
    if (p->rank == 0 && p->verbose) {
        printf("%s\n", data);
    }
    fflush(stdout);
}

/* One row per epoch: CSV (header first) or JSON lines; NaN becomes empty / null. */
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
            json_object_set_new(o, names[i], isnan(v[i]) ? json_null() : json_real(v[i]));
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
    fflush(p->log);
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
    if (st->epoch > 1 || st->epochs == 1) {
        p->timed_s += st->seconds;
        p->timed_samples += (double)st->samples;
    }
    if (p->log) {
        write_log(p, st);
    }
    if (p->rank != 0 || p->quiet) {
        return;
    }
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
    printf("epoch %*lld/%lld  loss %.6f%s  %.0f samples/s  %.2f s%s\n",
           st->epochs >= 100 ? 3 : st->epochs >= 10 ? 2 : 1, (long long)st->epoch,
           (long long)st->epochs, st->loss, extra, (double)st->samples / st->seconds, st->elapsed,
           st->stop_early ? "  (early stopping)" : "");
    fflush(stdout);
}

/* MODEL.cfg -> MODEL.h5 in the current folder. */
static void default_out(char *buf, size_t len, const char *model)
{
    char copy[PATH_MAX];
    snprintf(copy, sizeof copy, "%s", model);
    char *base = basename(copy);
    char *dot = strrchr(base, '.');
    if (dot && dot != base) {
        *dot = '\0';
    }
    snprintf(buf, len, "%s.h5", base);
}

/* Rank 0 reads the model file (or, with path NULL, the description stored
 * in the checkpoint ckpt); every rank gets the same spec. */
static int load_spec(const struct dpt_dist *d, const char *path, const char *ckpt, char **sets,
                     size_t n_sets, struct dpt_spec *spec, struct dpt_err *err)
{
    char *text = NULL;
    int rc = 0;
    if (d->rank == 0 && path) {
        rc = dpt_spec_load(spec, path, sets, n_sets, err);
        if (rc == 0 && !(text = dpt_spec_to_string(spec))) {
            rc = dpt_err_set(err, DPT_ENOMEM, "out of memory");
        }
    } else if (d->rank == 0) {
        rc = dpt_model_read_config(ckpt, &text, err);
        if (rc == 0) {
            rc = dpt_spec_parse(spec, text, ckpt, err);
        }
        for (size_t i = 0; rc == 0 && i < n_sets; i++) {
            rc = dpt_config_set(&spec->cfg, sets[i], err);
        }
        if (rc == 0 && n_sets) {
            /* Re-read the typed fields after the overrides. */
            free(text);
            text = dpt_spec_to_string(spec);
            dpt_spec_cleanup(spec);
            rc = text ? dpt_spec_parse(spec, text, ckpt, err) : DPT_ENOMEM;
        }
    }
    rc = dpt_dist_agree(d, rc, err);
    if (rc == 0) {
        rc = dpt_dist_bcast_string(d, &text, 0, err);
    }
    if (rc == 0 && d->rank != 0) {
        rc = dpt_spec_parse(spec, text, path ? path : ckpt, err);
    }
    free(text);
    return dpt_dist_agree(d, rc, err);
}

int cmd_train(int argc, char **argv)
{
    struct cli_common c = {0};
    const char *model = NULL, *out = NULL, *resume = NULL, *init = NULL, *ckpt = NULL;
    long long check_sync = 0, stop_after = 0;
    int deterministic = 0, verbose = 0;
    /* Progress bars on a terminal. Under mpirun the ranks' stdout is a pseudo
     * terminal even when mpirun's own output goes to a file, so there the
     * default is one line per epoch; --progress asks for the bars. */
    int progress_bar = isatty(STDOUT_FILENO) && !getenv("OMPI_COMM_WORLD_SIZE") &&
                       !getenv("PMI_SIZE");
    char **sets = calloc((size_t)argc, sizeof *sets);
    size_t n_sets = 0;
    if (!sets) {
        cli_error("out of memory");
        return EXIT_RUN;
    }
    int status = 0;
    for (int i = 1; i < argc && status == 0; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            fputs(train_usage, stdout);
            free(sets);
            return 0;
        }
        int r = cli_common_option("train", argc, argv, &i, &c);
        if (r < 0) {
            status = EXIT_USAGE;
        } else if (r > 0) {
            continue;
        } else if ((strcmp(a, "--set") == 0 || strcmp(a, "--out") == 0 ||
                    strcmp(a, "--check-sync") == 0 || strcmp(a, "--resume") == 0 ||
                    strcmp(a, "--init") == 0 || strcmp(a, "--checkpoint") == 0 ||
                    strcmp(a, "--stop-after-steps") == 0) && i + 1 >= argc) {
            status = cli_usage_error("train ", "%s needs a value", a);
        } else if (strcmp(a, "--resume") == 0) {
            resume = argv[++i];
        } else if (strcmp(a, "--init") == 0) {
            init = argv[++i];
        } else if (strcmp(a, "--checkpoint") == 0) {
            ckpt = argv[++i];
        } else if (strcmp(a, "--deterministic") == 0) {
            deterministic = 1;
        } else if (strcmp(a, "--progress") == 0 || strcmp(a, "--no-progress") == 0) {
            progress_bar = strcmp(a, "--progress") == 0;
        } else if (strcmp(a, "--verbose") == 0 || strcmp(a, "-v") == 0) {
            verbose = 1;
        } else if (strcmp(a, "--stop-after-steps") == 0) {
            char *end;
            stop_after = strtoll(argv[++i], &end, 10);
            if (*end || stop_after < 1) {
                status = cli_usage_error("train ", "--stop-after-steps needs a count >= 1, got "
                                         "'%s'", argv[i]);
            }
        } else if (strcmp(a, "--set") == 0) {
            sets[n_sets++] = argv[++i];
        } else if (strncmp(a, "--set=", 6) == 0) {
            sets[n_sets++] = (char *)a + 6;
        } else if (strcmp(a, "--out") == 0) {
            out = argv[++i];
        } else if (strcmp(a, "--check-sync") == 0) {
            char *end;
            check_sync = strtoll(argv[++i], &end, 10);
            if (*end || check_sync < 1) {
                status = cli_usage_error("train ", "--check-sync needs a step count >= 1, got "
                                         "'%s'", argv[i]);
            }
        } else if (a[0] == '-') {
            status = cli_usage_error("train ", "unknown option '%s'", a);
        } else if (model) {
            status = cli_usage_error("train ", "one model file only (got '%s' and '%s')", model,
                                     a);
        } else {
            model = a;
        }
    }
    if (status == 0 && !model && !resume) {
        status = cli_usage_error("train ", "no model file given");
    }
    if (status != 0) {
        free(sets);
        return status;
    }
    char out_buf[PATH_MAX], stop_path[PATH_MAX + 16];
    if (!out) {
        default_out(out_buf, sizeof out_buf, model ? model : resume);
        out = out_buf;
    }
    snprintf(stop_path, sizeof stop_path, "%.*s-ckpt.h5",
             (int)(strlen(out) > 3 && strcmp(out + strlen(out) - 3, ".h5") == 0 ? strlen(out) - 3
                                                                                 : strlen(out)),
             out);

    if (cli_mpi_init(&argc, &argv) < 0) {
        free(sets);
        return EXIT_RUN;
    }
    catch_stop_signals();
    struct dpt_dist d;
    dpt_dist_init(&d, MPI_COMM_WORLD);
    struct dpt_err err = {0};
    struct dpt_registry *reg = NULL;
    struct dpt_spec spec;
    memset(&spec, 0, sizeof spec);
    config_init(&spec.cfg);
    struct dpt_net *net = NULL;
    struct dpt_norm norm = {0};
    int rc = dpt_registry_create(&reg, c.plugin_path, &err);
    rc = dpt_dist_agree(&d, rc, &err);
    if (rc == 0) {
        config_destroy(&spec.cfg);
        rc = load_spec(&d, model, resume, sets, n_sets, &spec, &err);
    }
    if (rc == 0 && deterministic) {
        spec.deterministic = 1;
    }
    char how[PATH_MAX + 64];
    snprintf(how, sizeof how, "%s%s%s", spec.deterministic ? ", deterministic" : "",
             resume ? ", resuming from " : "", resume ? resume : "");
    struct progress prog = {.rank = d.rank, .ranks = d.size, .quiet = c.quiet, .verbose = verbose,
                            .what = model ? model : resume,
                            .data = spec.train ? spec.train : "(no data)", .how = how,
                            .tty = progress_bar > 0 && !c.quiet, .batch = spec.batch};
    struct dpt_train_opts opts = {
        .threads = c.threads, /* 0: dpt_train chooses (on_start tells) */
        .check_sync = check_sync ? check_sync : spec.check_sync,
        .resume = resume,
        .init = init,
        .ckpt_path = ckpt ? ckpt : spec.ckpt_path,
        .stop_path = stop_path,
        .stop = &stop_requested,
        .stop_after_steps = stop_after,
        .on_epoch = on_epoch,
        .on_progress = prog.tty ? on_progress : NULL,
        .on_start = on_start,
        .on_checkpoint = on_checkpoint,
        .ctx = &prog,
    };
    if (rc == 0 && d.rank == 0 && spec.log) {
        size_t len = strlen(spec.log);
        prog.jsonl = len > 6 && strcmp(spec.log + len - 6, ".jsonl") == 0;
        prog.log = fopen(spec.log, resume ? "a" : "w");
        if (!prog.log) {
            rc = dpt_err_set(&err, DPT_EIO, "train.log %s: %s", spec.log, strerror(errno));
        }
    }
    rc = dpt_dist_agree(&d, rc, &err);
    if (rc == 0 && d.rank == 0 && verbose) {
        print_blas();
    }
    double t0 = dpt__now();
    if (rc == 0) {
        rc = dpt_train(&spec, reg, &d, &opts, &net, &norm, &err);
    }
    if (prog.log) {
        fclose(prog.log);
    }
    double train_s = dpt__now() - t0;
    if (rc == DPT_ESIGNAL) {
        if (d.rank == 0) {
            fprintf(stderr, "dptrain: %s\nresume with: dptrain train %s --resume %s\n", err.msg,
                    model ? model : "", opts.ckpt_path ? opts.ckpt_path : stop_path);
        }
        status = EXIT_STOPPED;
    }
    if (rc == 0) {
        if (d.rank == 0) {
            rc = dpt_model_save(out, net, &spec, &norm, &err);
        }
        rc = dpt_dist_agree(&d, rc, &err);
    }
    if (rc == 0 && d.rank == 0) {
        printf("trained %zu parameters in %.2f s; wrote %s\n", net->n_params, train_s, out);
        /* One line for scripts: throughput over the epochs after the first. */
        printf("RESULT samples_per_s=%.1f epoch_s=%.4f final_loss=%.6f accuracy=%.4f "
               "ranks=%d threads=%d params=%zu blas_core=%s\n",
               prog.timed_s > 0 ? prog.timed_samples / prog.timed_s : 0.0,
               prog.timed_s > 0 && prog.last.epoch > 1 ? prog.timed_s / (double)(prog.last.epoch - 1)
                                                       : prog.last.seconds,
               prog.last.loss, prog.last.accuracy, d.size, prog.threads, net->n_params,
               openblas_get_corename());
    }
    if (rc == 0 && spec.test) {
        struct dpt_eval_result res;
        rc = dpt_evaluate(net, spec.test, spec.x_name, spec.y_name, &norm, &d, prog.threads, 0, &res,
                          &err);
        if (rc == 0 && d.rank == 0) {
            printf("test %s: %llu samples  loss %.6f", spec.test, (unsigned long long)res.n,
                   res.loss);
            if (!isnan(res.accuracy)) {
                printf("  accuracy %.4f", res.accuracy);
            }
            if (res.task == DPT_TASK_REGRESSION) {
                printf("  rmse %.6g  r2 %.4f", res.rmse, res.r2);
            }
            printf("\n");
        }
        free(res.confusion);
    }
    if (rc < 0 && rc != DPT_ESIGNAL) {
        if (d.rank == 0) {
            fprintf(stderr, "dptrain: error: %s\n", err.msg);
        }
        status = EXIT_RUN;
    }
    fflush(stdout);
    dpt_net_destroy(net);
    dpt_norm_cleanup(&norm);
    dpt_spec_cleanup(&spec);
    dpt_registry_destroy(reg);
    free(sets);
    cli_mpi_finalize();
    return status;
}
