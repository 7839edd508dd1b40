/* The training loop. See train.h for the shape of a step, shard.h for which
 * rows a rank and thread compute, DESIGN.md for why.
 *
 * All big buffers (epoch rows, per-thread gradients and work buffers,
 * optimizer state) are allocated before the first step; the step itself only
 * computes. Error agreement happens at the few places where one rank can
 * fail alone (opening and reading data, building the network); a NaN loss is
 * seen by all ranks at once because the loss is part of the allreduce.
 */
#include "config.h"

#include "train/train.h"
#include "data/dataset.h"
#include "data/shard.h"
#include "dist/exact.h"
#include "io/model_file.h"
#include "train/eval.h"
#include "util/util.h"

#include <cblas.h>
#include <errno.h>
#include <glob.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>

#define OPT_CHUNK 16384 /* parameters per optimizer call when threads share the update */
#define SUM_CHUNK 1024  /* parameters per piece when threads sum their gradients */
#define DET_MICRO 64    /* default micro-shard rows with --deterministic */
/* Training rows a rank holds by default (data.cache = "auto", no
 * data.window_rows). A file whose rows take at most CACHE_BYTES is read once
 * and kept: each epoch then only gathers its rows in memory (the tiny
 * benchmark spent more time reading and sorting its rows each epoch than
 * training on them). A larger one is read a window at a time, two windows
 * (the current one and the prefetched next) in WINDOW_BYTES: a whole epoch
 * of the rank's rows when that fits, else a few steps' worth. With direct
 * reads (dataset.c) windows cost ~1.5 us per row, in the reader thread.
 * A window's rows are scattered over the file, so reading one costs about
 * a pass over the file whatever its size: free while a core is idle for
 * the reader thread, ~7% of the workers' time when they use every core
 * (2 x 1 on 2 cores). Then, and for files read through HDF5 (chunked or
 * compressed X: a window's random rows touch nearly every chunk, so every
 * window would decompress the whole file; gzip, chunks of 64 rows: 7.4k
 * instead of 70k samples/s), whole-epoch windows are used up to
 * WINDOW_BYTES_BIG. */
#define CACHE_BYTES (64ull << 20)
#define WINDOW_BYTES (64ull << 20)
#define WINDOW_BYTES_BIG (512ull << 20)

/* Floats that ride at the end of the flat gradient in the step's allreduce. */
enum { X_LOSS, X_HITS, X_STOP, X_ERROR, N_EXTRA };

int dpt_train_threads(int t)
{
    return t > 0 ? t : omp_get_max_threads();
}

/* Threads per rank when none were asked for: up to max (at most the cores
 * the process may use shared among the node's ranks: 2 ranks x 2 threads
 * on 2 unbound cores ran 10x slower than 2 x 1), one per THREAD_FLOP of a
 * step's arithmetic (~6 flops per parameter and row).
 * Waking a thread and joining it costs ~10-20 us per step (futex, in a VM),
 * so a small model runs fastest on one: the tiny benchmark model (224
 * parameters, batch 32) trains at 8M samples/s on one thread and 1.3M on
 * two; the medium one (235k parameters, batch 128) gains 1.7x from two. */
#define THREAD_FLOP 4e6
static int auto_threads(int max, const struct dpt_net *net, uint64_t batch, int ranks)
{
    uint64_t rows = (batch + (uint64_t)ranks - 1) / (uint64_t)ranks;
    double t = 6.0 * (double)net->n_params * (double)rows / THREAD_FLOP;
    return t < 1 ? 1 : t > max ? max : (int)t;
}

/* Everything one run holds; released by run_cleanup. */
struct run {
    const struct dpt_spec *spec;
    const struct dpt_train_opts *o;
    const struct dpt_dist *d;
    struct dpt_net *net;
    const struct dpt_norm *norm;
    struct dpt_dataset *ds;
    struct dpt_shard *shard;
    struct dpt_work **work;
    float **tgrad; /* per thread; tgrad[0] ends up holding the sum, N_EXTRA floats longer */
    float *ostate;
    int threads;
    /* --deterministic: per-thread exact accumulators */
    dpt_fix **tfix;
    MPI_Datatype fix_type;
    MPI_Op fix_op;
    int have_fix_mpi;
    struct dpt_err thread_err; /* the first error a thread met in a step */
    struct dpt_train_state st;
    float lr_scale; /* the schedule's factor for the step being taken */
    int l2_done;    /* the L2 gradient was added before clipping */
    double plateau_scale, plateau_best; /* reduce_lr_on_plateau */
    int64_t plateau_wait;
    /* validation: rows of val_ds this rank evaluates (sorted) */
    struct dpt_dataset *val_ds; /* data.validation, or ds itself with a split */
    uint64_t *val_rows;
    size_t val_local;
    uint64_t val_n;
    struct dpt_perm base; /* with a split: train rows base(0..N_train), validation after */
    /* early stopping */
    double es_best;
    int64_t es_wait;
    float *best; /* parameters at es_best, with restore_best_weights */
    uint64_t steps_this_run;
    int64_t last_ckpt_step; /* global step of the last checkpoint written, or -1 */
};

static void run_cleanup(struct run *r)
{
    for (int t = 0; r->work && t < r->threads; t++) {
        dpt_work_destroy(r->work[t]);
    }
    for (int t = 0; r->tgrad && t < r->threads; t++) {
        free(r->tgrad[t]);
    }
    for (int t = 0; r->tfix && t < r->threads; t++) {
        free(r->tfix[t]);
    }
    if (r->have_fix_mpi) {
        dpt_fix_mpi_free(&r->fix_type, &r->fix_op);
    }
    free(r->work);
    free(r->tgrad);
    free(r->tfix);
    free(r->ostate);
    free(r->val_rows);
    free(r->best);
    dpt_shard_destroy(r->shard);
    if (r->val_ds != r->ds) {
        dpt_dataset_close(r->val_ds);
    }
    dpt_dataset_close(r->ds);
}

static int alloc_buffers(struct run *r, size_t m, struct dpt_err *err)
{
    const struct dpt_net *net = r->net;
    size_t n = net->n_params + N_EXTRA;
    r->work = calloc((size_t)r->threads, sizeof *r->work);
    r->tgrad = calloc((size_t)r->threads, sizeof *r->tgrad);
    r->tfix = calloc((size_t)r->threads, sizeof *r->tfix);
    r->ostate = dpt__zalloc_aligned(net->opt_floats * net->n_params * sizeof(float));
    if (!r->work || !r->tgrad || !r->tfix || !r->ostate) {
        return dpt_err_set(err, DPT_ENOMEM, "out of memory");
    }
    for (int t = 0; t < r->threads; t++) {
        r->tgrad[t] = dpt__zalloc_aligned(n * sizeof(float));
        if (r->spec->deterministic) {
            r->tfix[t] = dpt__zalloc_aligned(n * sizeof(dpt_fix));
        }
        if (!r->tgrad[t] || (r->spec->deterministic && !r->tfix[t])) {
            return dpt_err_set(err, DPT_ENOMEM, "out of memory for gradients");
        }
        if (dpt_work_create(&r->work[t], net, m, err) < 0) {
            return err->code;
        }
    }
    if (r->spec->deterministic) {
        if (dpt_fix_mpi_create(&r->fix_type, &r->fix_op) != 0) {
            return dpt_err_set(err, DPT_EINVAL, "cannot create the MPI type for exact sums");
        }
        r->have_fix_mpi = 1;
    }
    return 0;
}

/* The optimizer update of parameters [off, off + k) at step t; then zeroes
 * that piece of the gradient while it is in cache (the next step
 * accumulates into it). */
/* g += d/dw of the layers' L2 penalties (2 * l2 * w) on [off, off + k). */
static void add_l2(const struct dpt_net *net, float *g, size_t off, size_t k)
{
    for (size_t i = 0; i < net->n_nodes; i++) {
        const struct dpt_node *nd = &net->nodes[i];
        if (nd->l2 <= 0) {
            continue;
        }
        size_t lo = nd->l2_off > off ? nd->l2_off : off;
        size_t hi = nd->l2_off + nd->l2_len < off + k ? nd->l2_off + nd->l2_len : off + k;
        float c = (float)(2.0 * nd->l2);
        for (size_t j = lo; j < hi; j++) {
            g[j] += c * net->params[j];
        }
    }
}

static void update_piece(struct run *r, size_t off, size_t k, uint64_t t)
{
    const struct dpt_net *net = r->net;
    if (!r->l2_done) {
        add_l2(net, r->tgrad[0], off, k);
    }
    net->opt->step(net->opt_state, net->params + off, r->tgrad[0] + off, r->ostate + off,
                   net->n_params, k, t, r->lr_scale);
    memset(r->tgrad[0] + off, 0, k * sizeof(float));
}

/* One optimizer update of all parameters, split over the threads. */
static void optimizer_step(struct run *r)
{
    size_t n = r->net->n_params;
    size_t chunks = (n + OPT_CHUNK - 1) / OPT_CHUNK;
    if (r->threads == 1 || chunks == 1) {
        update_piece(r, 0, n, r->st.global_step);
        return;
    }
#pragma omp parallel for schedule(static) num_threads(r->threads)
    for (size_t c = 0; c < chunks; c++) {
        size_t off = c * OPT_CHUNK;
        update_piece(r, off, n - off < OPT_CHUNK ? n - off : OPT_CHUNK, r->st.global_step);
    }
}

/* Thread t of T: the micro-shards t, t + T, ... of step s, accumulated into
 * the thread's gradient; adds to *loss and *hits. */
static void run_micros(struct run *r, uint64_t s, float scale, int t, int T, double *loss,
                       size_t *hits)
{
    const struct dpt_shard *sh = r->shard;
    size_t f = sh->f, yc = sh->y_cols;
    uint64_t local = dpt_shard_local_micros(sh, s);
    for (uint64_t i = (uint64_t)t; i < local; i += (uint64_t)T) {
        uint64_t first, rows = dpt_shard_micro(sh, s, i, &first);
        struct dpt_micro_info mi = {r->st.seed, (uint64_t)r->st.epoch, s,
                                    dpt_shard_micro_pos(sh, s, i)};
        *loss += dpt_net_train_micro(r->net, r->work[t], sh->x + first * f, sh->y + first * yc,
                                     yc, rows, scale, r->tgrad[t], hits, &mi);
    }
}

/* Gradient floats [c, end): the T thread buffers summed into tgrad[0] (and
 * zeroed), then updated by the optimizer at step update_t unless it is 0. */
static void sum_piece(struct run *r, size_t c, size_t end, int T, uint64_t update_t)
{
    float *g0 = r->tgrad[0];
    for (int u = 1; u < T; u++) {
        float *gu = r->tgrad[u];
        for (size_t j = c; j < end; j++) {
            g0[j] += gu[j];
            gu[j] = 0;
        }
    }
    if (update_t) {
        update_piece(r, c, end - c, update_t);
    }
}

/* Fast path of one step on this rank: each thread accumulates its
 * micro-shards into its own float buffer; the buffers are summed in thread
 * order, split by parameter ranges. The buffers start the step zeroed: the
 * sum zeroes what it has read, update_piece zeroes tgrad[0] after use (no
 * separate pass over memory). With update_t > 0 (one rank, so no allreduce
 * comes between), each piece is also updated by the optimizer at step
 * update_t right after it is summed, while it is in cache. One thread runs
 * without an OpenMP region: even a team of one pays a futex call per
 * barrier (7% of a step of the tiny model). */
static void compute_fast(struct run *r, uint64_t s, float scale, uint64_t update_t)
{
    size_t n = r->net->n_params;
    int T = r->threads;
    double loss[T];
    size_t hits[T];
    if (T == 1) {
        loss[0] = 0, hits[0] = 0;
        run_micros(r, s, scale, 0, 1, &loss[0], &hits[0]);
        for (size_t c = 0; update_t && c < n; c += SUM_CHUNK) {
            sum_piece(r, c, c + SUM_CHUNK < n ? c + SUM_CHUNK : n, 1, update_t);
        }
    } else {
#pragma omp parallel num_threads(T)
        {
            int t = omp_get_thread_num();
            loss[t] = 0, hits[t] = 0;
            run_micros(r, s, scale, t, T, &loss[t], &hits[t]);
#pragma omp barrier
#pragma omp for schedule(static)
            for (size_t c = 0; c < n; c += SUM_CHUNK) {
                sum_piece(r, c, c + SUM_CHUNK < n ? c + SUM_CHUNK : n, T, update_t);
            }
        }
    }
    double l = 0;
    size_t h = 0;
    for (int t = 0; t < T; t++) {
        l += loss[t];
        h += hits[t];
    }
    r->tgrad[0][n + X_LOSS] = (float)l;
    r->tgrad[0][n + X_HITS] = (float)h;
}

/* Exact path: every micro-shard's gradient is computed alone into a zeroed
 * float buffer and added to the thread's fixed-point accumulator, together
 * with its loss and hit count; integer sums do not depend on the order, so
 * neither does anything below. Returns 0 or -1 (thread_err set). */
static int compute_exact(struct run *r, uint64_t s, float scale)
{
    const struct dpt_net *net = r->net;
    const struct dpt_shard *sh = r->shard;
    size_t n = net->n_params, f = sh->f, yc = sh->y_cols, nx = n + N_EXTRA;
    uint64_t local = dpt_shard_local_micros(sh, s);
    int T = r->threads, failed = 0;
#pragma omp parallel num_threads(T) if (T > 1)
    {
        int t = omp_get_thread_num();
        float *g = r->tgrad[t];
        dpt_fix *acc = r->tfix[t];
        memset(acc, 0, nx * sizeof *acc);
        for (uint64_t i = (uint64_t)t; i < local; i += (uint64_t)T) {
            uint64_t first, rows = dpt_shard_micro(sh, s, i, &first);
            size_t h = 0;
            memset(g, 0, n * sizeof(float));
            struct dpt_micro_info mi = {r->st.seed, (uint64_t)r->st.epoch, s,
                                        dpt_shard_micro_pos(sh, s, i)};
            double l = dpt_net_train_micro(net, r->work[t], sh->x + first * f, sh->y + first * yc,
                                           yc, rows, scale, g, &h, &mi);
            g[n + X_LOSS] = (float)l;
            g[n + X_HITS] = (float)h;
            g[n + X_STOP] = g[n + X_ERROR] = 0;
            size_t bad;
            if (dpt_fix_add(acc, g, n + 2, &bad) < 0) {
#pragma omp critical(dpt_thread_err)
                if (!failed) {
                    failed = 1;
                    dpt_err_set(&r->thread_err, DPT_ENUMERIC,
                                "--deterministic: a gradient value (%g at parameter %zu, step "
                                "%llu) is outside the range of exact sums (|x| < %g)",
                                (double)g[bad], bad, (unsigned long long)s + 1,
                                (double)DPT_FIX_MAX_ABS);
                }
                break;
            }
        }
#pragma omp barrier
#pragma omp for schedule(static)
        for (size_t c = 0; c < nx; c += SUM_CHUNK) {
            size_t k = nx - c < SUM_CHUNK ? nx - c : SUM_CHUNK;
            for (int u = 1; u < T; u++) {
                dpt_fix_sum(r->tfix[0] + c, r->tfix[u] + c, k);
            }
        }
    }
    return failed ? -1 : 0;
}

/* The learning-rate factor at step t (1, 2, ...): the schedule, times a
 * linear warmup over the first warmup_steps, times batch / scale_lr_batch.
 * A function of t alone, so a resumed run gets the same values. */
static float lr_factor(const struct dpt_spec *sp, uint64_t t)
{
    double k = (double)(t - 1), d = (double)sp->lr_decay_steps, f = 1.0;
    if (sp->lr_schedule == DPT_LR_STEP) {
        f = pow(sp->lr_decay_rate, floor(k / d));
    } else if (sp->lr_schedule == DPT_LR_EXPONENTIAL) {
        f = pow(sp->lr_decay_rate, k / d);
    } else if (sp->lr_schedule == DPT_LR_COSINE) {
        double x = k < d ? k / d : 1.0;
        f = sp->lr_min_scale + (1.0 - sp->lr_min_scale) * 0.5 * (1.0 + cos(M_PI * x));
    }
    if (sp->lr_warmup_steps > 0 && t <= (uint64_t)sp->lr_warmup_steps) {
        f *= (double)t / (double)sp->lr_warmup_steps;
    }
    if (sp->lr_base_batch > 0) {
        f *= (double)sp->batch / (double)sp->lr_base_batch; /* the large-batch rule */
    }
    return (float)f;
}

/* Clipping of the summed gradient g (n floats), as every rank holds it
 * after the allreduce: by value, then by global L2 norm. */
static void clip(const struct dpt_spec *sp, float *g, size_t n)
{
    if (sp->clip_value > 0) {
        float v = (float)sp->clip_value;
        for (size_t i = 0; i < n; i++) {
            g[i] = g[i] > v ? v : g[i] < -v ? -v : g[i];
        }
    }
    if (sp->clip_norm > 0) {
        double ss = 0;
        for (size_t i = 0; i < n; i++) {
            ss += (double)g[i] * g[i];
        }
        double norm = sqrt(ss);
        if (norm > sp->clip_norm) {
            float c = (float)(sp->clip_norm / norm);
            for (size_t i = 0; i < n; i++) {
                g[i] *= c;
            }
        }
    }
}

/* One step on all ranks: gradient, allreduce (with the extras), checks.
 * Returns 0, or an agreed error; sets *stop when any rank asked to stop. */
static int step(struct run *r, uint64_t s, int *stop, struct dpt_err *err)
{
    const struct dpt_net *net = r->net;
    size_t n = net->n_params;
    float scale = 1.0f / (float)dpt_shard_step_rows(r->shard, s);
    int asked = (r->o->stop && *r->o->stop) ||
                (r->o->stop_after_steps > 0 &&
                 r->steps_this_run + 1 >= (uint64_t)r->o->stop_after_steps);
    float *g = r->tgrad[0];
    int failed = 0, updated = 0;
    int clipping = r->spec->clip_norm > 0 || r->spec->clip_value > 0;
    r->lr_scale = lr_factor(r->spec, r->st.global_step + 1) * (float)r->plateau_scale;
    if (r->spec->deterministic) {
        failed = compute_exact(r, s, scale) < 0;
        float flags[2] = {(float)asked, (float)failed};
        size_t bad;
        dpt_fix_add(r->tfix[0] + n + X_STOP, flags, 2, &bad);
        dpt_fix_allreduce(r->tfix[0], n + N_EXTRA, r->fix_type, r->fix_op, r->d->comm);
        dpt_fix_to_float(r->tfix[0], g, n + N_EXTRA);
    } else {
        /* One rank: nothing to agree on, so the update joins the sum. A NaN
         * loss still stops training below; the weights it spoilt are not
         * saved. */
        updated = r->d->size == 1 && !clipping;
        compute_fast(r, s, scale, updated ? r->st.global_step + 1 : 0);
        g[n + X_STOP] = (float)asked;
        g[n + X_ERROR] = 0;
        dpt_dist_sum_floats(r->d, g, n + N_EXTRA);
    }
    if (g[n + X_ERROR] > 0) {
        /* Some rank failed inside the step: let it tell everyone why. */
        *err = r->thread_err;
        return dpt_dist_agree(r->d, failed ? err->code : 0, err);
    }
    float step_loss = g[n + X_LOSS];
    if (!isfinite(step_loss)) {
        return dpt_err_set(err, DPT_ENUMERIC,
                           "the loss became %s at epoch %lld, step %llu (lower the learning "
                           "rate, or standardize the inputs)",
                           isnan(step_loss) ? "NaN" : "infinite", (long long)r->st.epoch + 1,
                           (unsigned long long)s + 1);
    }
    r->st.loss_sum += step_loss;
    r->st.hit_sum += g[n + X_HITS];
    r->st.global_step++;
    r->st.step = s + 1;
    r->steps_this_run++;
    if (clipping) {
        add_l2(net, g, 0, n); /* the penalty's gradient is part of what is clipped */
        r->l2_done = 1;
        clip(r->spec, g, n);
    }
    if (!updated) {
        optimizer_step(r);
    }
    *stop = g[n + X_STOP] > 0;
    return 0;
}

static uint64_t params_hash(const struct dpt_net *net)
{
    return XXH3_64bits(net->params, net->n_params * sizeof(float));
}

/* "dir/ckpt.h5" -> "dir/ckpt" + ".h5" split for numbered files. */
static void split_ext(const char *path, char *stem, size_t len, const char **ext)
{
    const char *dot = strrchr(path, '.'), *slash = strrchr(path, '/');
    if (dot && (!slash || dot > slash + 1)) {
        snprintf(stem, len, "%.*s", (int)(dot - path), path);
        *ext = dot;
    } else {
        snprintf(stem, len, "%s", path);
        *ext = ".h5";
    }
}

struct aged {
    char *path;
    struct timespec mtime;
};

static int newer_first(const void *a, const void *b)
{
    const struct timespec *x = &((const struct aged *)a)->mtime;
    const struct timespec *y = &((const struct aged *)b)->mtime;
    if (x->tv_sec != y->tv_sec) {
        return x->tv_sec < y->tv_sec ? 1 : -1;
    }
    return (x->tv_nsec < y->tv_nsec) - (x->tv_nsec > y->tv_nsec);
}

/* Keeps the `keep` most recently written numbered checkpoints of stem (the
 * one just written, `current`, always among them) and deletes the rest, and
 * temporary files a killed writer left behind. */
static void prune(const char *stem, const char *ext, int64_t keep, const char *current)
{
    char pattern[PATH_MAX + 32];
    glob_t g;
    snprintf(pattern, sizeof pattern, "%s-[0-9]*[0-9]%s", stem, ext);
    if (glob(pattern, 0, NULL, &g) == 0) {
        struct aged *files = calloc(g.gl_pathc, sizeof *files);
        size_t n = 0;
        for (size_t i = 0; files && i < g.gl_pathc; i++) {
            struct stat st;
            if (strcmp(g.gl_pathv[i], current) != 0 && stat(g.gl_pathv[i], &st) == 0) {
                files[n++] = (struct aged){g.gl_pathv[i], st.st_mtim};
            }
        }
        if (files) {
            qsort(files, n, sizeof *files, newer_first);
            for (size_t i = (size_t)keep - 1; i < n; i++) {
                unlink(files[i].path);
            }
        }
        free(files);
        globfree(&g);
    }
    snprintf(pattern, sizeof pattern, "%s-[0-9]*[0-9]%s.tmp-*", stem, ext);
    if (glob(pattern, 0, NULL, &g) == 0) {
        for (size_t i = 0; i < g.gl_pathc; i++) {
            unlink(g.gl_pathv[i]);
        }
        globfree(&g);
    }
}

/* Rank 0 writes STEM-<global step>EXT and points the symlink `path` at it
 * (atomically: a new link renamed over the old one); the others wait and
 * share its outcome. */
static int checkpoint(struct run *r, const char *path, struct dpt_err *err)
{
    int rc = 0;
    char file[PATH_MAX];
    dpt_shard_prefetch_wait(r->shard); /* HDF5 is not thread-safe: one user at a time */
    if (r->d->rank == 0) {
        char stem[PATH_MAX - 32], link_tmp[PATH_MAX + 16];
        const char *ext;
        split_ext(path, stem, sizeof stem, &ext);
        snprintf(file, sizeof file, "%s-%012llu%s", stem, (unsigned long long)r->st.global_step,
                 ext);
        rc = dpt_checkpoint_save(file, r->net, r->ostate, r->spec, r->norm, &r->st, err);
        if (rc == 0) {
            const char *slash = strrchr(file, '/');
            snprintf(link_tmp, sizeof link_tmp, "%s.link-%ld", path, (long)getpid());
            unlink(link_tmp);
            if (symlink(slash ? slash + 1 : file, link_tmp) < 0 || rename(link_tmp, path) < 0) {
                rc = dpt_err_set(err, DPT_EIO, "%s: cannot point the checkpoint link at %s: %s "
                                 "(is %s a regular file?)", path, file, strerror(errno), path);
                unlink(link_tmp);
            }
        }
        if (rc == 0) {
            prune(stem, ext, r->spec->ckpt_keep > 0 ? r->spec->ckpt_keep : 1, file);
        }
    }
    rc = dpt_dist_agree(r->d, rc, err);
    if (rc == 0) {
        r->last_ckpt_step = (int64_t)r->st.global_step;
        if (r->o->on_checkpoint) {
            r->o->on_checkpoint(r->o->ctx, path, r->st.global_step);
        }
    }
    return rc;
}

/* The value of a monitored metric in es. */
static double monitored(enum dpt_monitor m, const struct dpt_epoch_stats *es)
{
    return m == DPT_MONITOR_LOSS       ? es->loss
           : m == DPT_MONITOR_ACCURACY ? es->accuracy
           : m == DPT_MONITOR_VAL_LOSS ? es->val_loss
                                       : es->val_accuracy;
}

/* Did v improve on *best by more than min_delta (losses down, accuracies
 * up)? *wait < 0 means no best yet. Updates *best and *wait. */
static int improved(enum dpt_monitor m, double v, double min_delta, double *best, int64_t *wait)
{
    int maximize = m == DPT_MONITOR_ACCURACY || m == DPT_MONITOR_VAL_ACCURACY;
    if (*wait < 0 || (maximize ? v > *best + min_delta : v < *best - min_delta)) {
        *best = v;
        *wait = 0;
        return 1;
    }
    ++*wait;
    return 0;
}

/* Early stopping and reduce-on-plateau, after each epoch. All ranks see the
 * same reduced metrics, so all decide alike. Returns 1 to stop training. */
static int callbacks(struct run *r, const struct dpt_epoch_stats *es)
{
    const struct dpt_spec *sp = r->spec;
    if (sp->rop_monitor && !isnan(monitored(sp->rop_monitor, es)) &&
        !improved(sp->rop_monitor, monitored(sp->rop_monitor, es), sp->rop_min_delta,
                  &r->plateau_best, &r->plateau_wait) &&
        r->plateau_wait >= sp->rop_patience) {
        double next = r->plateau_scale * sp->rop_factor;
        r->plateau_scale = next > sp->rop_min_scale ? next : sp->rop_min_scale;
        r->plateau_wait = 0;
    }
    if (!sp->es_monitor || isnan(monitored(sp->es_monitor, es))) {
        return 0; /* nothing to monitor (no validation data, or no accuracy) */
    }
    if (improved(sp->es_monitor, monitored(sp->es_monitor, es), sp->es_min_delta, &r->es_best,
                 &r->es_wait)) {
        if (r->best) {
            memcpy(r->best, r->net->params, r->net->n_params * sizeof(float));
        }
        return 0;
    }
    return r->es_wait >= sp->es_patience;
}

/* Makes the window holding step s of the epoch of perm current (agreed on
 * by all ranks) and starts reading the window after it: the rest of this
 * epoch, or the next epoch's first. In the first epoch of a run it checks
 * the targets: every row is in exactly one rank's share of an epoch. */
static int load_window(struct run *r, const struct dpt_perm *perm, uint64_t s, int first_epoch,
                       struct dpt_err *err)
{
    const struct dpt_spec *spec = r->spec;
    struct dpt_shard *sh = r->shard;
    int rc = dpt_shard_next(sh, perm, dpt_shard_window_of(sh, s), err);
    if (rc == 0 && sh->win_hi < sh->steps) {
        dpt_shard_prefetch(sh, perm, sh->win_hi);
    } else if (rc == 0 && r->st.epoch + 1 < spec->epochs) {
        struct dpt_perm next;
        dpt_perm_init(&next, sh->n, r->st.seed, (uint64_t)r->st.epoch + 1, spec->shuffle);
        dpt_shard_prefetch(sh, &next, 0);
    }
    if (rc == 0 && first_epoch) {
        rc = dpt_check_target_rows(r->net, spec->train, spec->y_name, sh->y, sh->rows,
                                   sh->y_cols, sh->file_row, 0, err);
    }
    return dpt_dist_agree(r->d, rc, err);
}

static int train_epochs(struct run *r, struct dpt_err *err)
{
    const struct dpt_spec *spec = r->spec;
    const struct dpt_train_opts *o = r->o;
    struct dpt_shard *sh = r->shard;
    double start = dpt__now();
    int64_t every_steps = o->ckpt_path ? spec->ckpt_every_steps : 0;
    int64_t every_epochs = o->ckpt_path ? spec->ckpt_every_epochs : 0;
    for (; r->st.epoch < spec->epochs; r->st.epoch++, r->st.step = 0) {
        int64_t e = r->st.epoch;
        double t0 = dpt__now();
        struct dpt_perm perm;
        dpt_perm_init(&perm, sh->n, r->st.seed, (uint64_t)e, spec->shuffle);
        int first_epoch = r->steps_this_run == 0;
        if (r->st.step == 0) {
            r->st.loss_sum = r->st.hit_sum = 0;
        }
        double last_progress = t0;
        int rc;
        uint64_t s0 = r->st.step; /* step() advances r->st.step */
        for (uint64_t s = s0; s < sh->steps; s++) {
            if (s == s0 || s >= sh->win_hi) {
                rc = load_window(r, &perm, s, first_epoch, err);
                if (rc < 0) {
                    return rc;
                }
            }
            int stop = 0;
            rc = step(r, s, &stop, err);
            if (rc < 0) {
                return rc;
            }
            if (o->check_sync > 0 && r->st.global_step % (uint64_t)o->check_sync == 0) {
                int bad = dpt_dist_same_u64(r->d, params_hash(r->net));
                if (bad) {
                    return dpt_err_set(err, DPT_ENUMERIC,
                                       "--check-sync: the weights of rank %d differ from rank "
                                       "0's after step %llu",
                                       bad - 1, (unsigned long long)r->st.global_step);
                }
            }
            if (stop) {
                const char *path = o->ckpt_path ? o->ckpt_path : o->stop_path;
                rc = path ? checkpoint(r, path, err) : 0;
                if (rc < 0) {
                    return rc;
                }
                return dpt_err_set(err, DPT_ESIGNAL, "stopped on request after step %llu of "
                                   "epoch %lld%s%s", (unsigned long long)s + 1, (long long)e + 1,
                                   path ? "; checkpoint " : "", path ? path : "");
            }
            if (o->on_progress && r->d->rank == 0 && dpt__now() - last_progress > 0.2) {
                last_progress = dpt__now();
                o->on_progress(o->ctx, e + 1, s + 1, sh->steps,
                               r->st.loss_sum / (double)((s + 1) * spec->batch), last_progress - t0);
            }
            if (every_steps > 0 && r->st.global_step % (uint64_t)every_steps == 0) {
                if ((rc = checkpoint(r, o->ckpt_path, err)) < 0) {
                    return rc;
                }
            }
        }
        struct dpt_epoch_stats es = {
            .epoch = e + 1,
            .epochs = spec->epochs,
            .samples = sh->n,
            .loss = r->st.loss_sum / (double)sh->n,
            .accuracy = r->net->loss->correct ? r->st.hit_sum / (double)sh->n : NAN,
            .val_loss = NAN,
            .val_accuracy = NAN,
            .lr_scale = r->lr_scale,
        };
        if (r->val_ds) {
            struct dpt_eval_result v;
            dpt_shard_prefetch_wait(sh); /* HDF5: one user at a time */
            rc = dpt_evaluate_rows(r->net, r->val_ds, r->spec->y_name, r->val_rows, r->val_local,
                                   r->val_n, r->norm, r->d, r->threads, &v, err);
            if (rc < 0) {
                return rc;
            }
            es.val_loss = v.loss;
            es.val_accuracy = v.accuracy;
        }
        es.stop_early = callbacks(r, &es);
        double now = dpt__now();
        es.seconds = now - t0;
        es.elapsed = now - start;
        if (o->on_epoch) {
            o->on_epoch(o->ctx, &es);
        }
        if (es.stop_early) {
            if (r->best) {
                memcpy(r->net->params, r->best, r->net->n_params * sizeof(float));
            }
            r->st.epoch++;
            break;
        }
        if (every_epochs > 0 && (e + 1) % every_epochs == 0) {
            r->st.epoch++;
            r->st.step = 0;
            r->st.loss_sum = r->st.hit_sum = 0;
            rc = checkpoint(r, o->ckpt_path, err);
            r->st.epoch--;
            if (rc < 0) {
                return rc;
            }
        }
    }
    /* The end of training is a checkpoint too: a later run may go further. */
    if (o->ckpt_path && r->last_ckpt_step != (int64_t)r->st.global_step) {
        r->st.step = 0;
        r->st.loss_sum = r->st.hit_sum = 0;
        return checkpoint(r, o->ckpt_path, err);
    }
    return 0;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

/* Validation rows: a file (data.validation), each rank a contiguous share;
 * or a held-out part of data.train (data.validation_split): the rows
 * base(N_train .. N-1) of a permutation keyed by the seed, so the split
 * depends on the seed only; the training rows are base(0 .. N_train-1). */
static int setup_validation(struct run *r, uint64_t *n_train, struct dpt_err *err)
{
    const struct dpt_spec *sp = r->spec;
    uint64_t n = 0, N = dpt_dataset_rows(r->ds);
    *n_train = N;
    if (sp->validation) {
        int rc = dpt_dataset_open(&r->val_ds, sp->validation, sp->x_name, sp->y_name, err);
        if (rc == 0 && dpt_dataset_features(r->val_ds) != r->net->n_in) {
            rc = dpt_err_set(err, DPT_EDATA, "%s: dataset '%s' has %llu features; the model "
                             "takes %zu", sp->validation, sp->x_name,
                             (unsigned long long)dpt_dataset_features(r->val_ds), r->net->n_in);
        }
        if (rc == 0) {
            rc = dpt_net_check_targets(r->net, dpt_dataset_y_cols(r->val_ds), sp->validation, err);
        }
        if (rc < 0) {
            return rc;
        }
        n = dpt_dataset_rows(r->val_ds);
    } else if (sp->validation_split > 0) {
        n = (uint64_t)llround((double)N * sp->validation_split);
        n = n < 1 ? 1 : n;
        if (n >= N) {
            return dpt_err_set(err, DPT_ECONFIG, "%s: data.validation_split = %g leaves no "
                               "training rows of %llu", sp->file, sp->validation_split,
                               (unsigned long long)N);
        }
        dpt_perm_init(&r->base, N, (uint64_t)sp->seed, UINT64_MAX, 1);
        r->val_ds = r->ds;
        *n_train = N - n;
    } else {
        return 0;
    }
    uint64_t lo = n * (uint64_t)r->d->rank / (uint64_t)r->d->size;
    uint64_t hi = n * (uint64_t)(r->d->rank + 1) / (uint64_t)r->d->size;
    r->val_n = n;
    r->val_local = hi - lo;
    r->val_rows = malloc((r->val_local ? r->val_local : 1) * sizeof *r->val_rows);
    if (!r->val_rows) {
        return dpt_err_set(err, DPT_ENOMEM, "out of memory");
    }
    for (uint64_t k = lo; k < hi; k++) {
        r->val_rows[k - lo] = sp->validation ? k : dpt_perm_at(&r->base, *n_train + k);
    }
    qsort(r->val_rows, r->val_local, sizeof *r->val_rows, cmp_u64);
    return 0;
}

/* Bytes one training row takes in memory (X and y as floats). */
static uint64_t row_bytes(const struct dpt_dataset *ds)
{
    uint64_t yc = dpt_dataset_y_cols(ds);
    return (dpt_dataset_features(ds) + (yc ? yc : 1)) * sizeof(float);
}

/* Whether every rank keeps the whole training file in memory. */
static int cache_all(const struct dpt_spec *spec, const struct dpt_dataset *ds)
{
    if (spec->cache != DPT_CACHE_AUTO) {
        return spec->cache == DPT_CACHE_ALL;
    }
    return spec->window_rows == 0 && dpt_dataset_rows(ds) * row_bytes(ds) <= CACHE_BYTES;
}

/* Whether some rank wants the big window budget: its node's workers (ranks
 * x threads) leave no core for the reader thread (cores as the process may
 * use them: binding counts), or it reads X through HDF5. The same answer on
 * every rank, so all choose the same windows. Collective. */
static int big_windows(const struct dpt_dist *d, int node_ranks, const struct dpt_dataset *ds,
                       int threads)
{
    return dpt_dist_any(d, node_ranks * threads >= omp_get_num_procs() ||
                               !dpt_dataset_direct(ds));
}

/* Rows per data window (0: a whole epoch): data.window_rows, else a whole
 * epoch when two epochs' worth of this rank's rows fit in the budget
 * (WINDOW_BYTES, or WINDOW_BYTES_BIG when the cores are busy or the file is
 * read through HDF5) or the file is cached, else what fits. Collective. */
static uint64_t window_rows(const struct dpt_spec *spec, const struct dpt_dist *d,
                            int node_ranks, const struct dpt_dataset *ds, uint64_t n_train,
                            int threads)
{
    if (spec->window_rows > 0) {
        return (uint64_t)spec->window_rows;
    }
    uint64_t bytes = row_bytes(ds), per_rank = n_train / (uint64_t)d->size + 1;
    uint64_t budget = big_windows(d, node_ranks, ds, threads) ? WINDOW_BYTES_BIG : WINDOW_BYTES;
    if (cache_all(spec, ds) || 2 * per_rank * bytes <= budget) {
        return 0;
    }
    return budget / (2 * bytes);
}

/* Tells o->on_start the threads and how the training rows are held and read. */
static void report_start(const struct run *r, uint64_t n_train)
{
    const struct dpt_shard *sh = r->shard;
    double mb = (double)row_bytes(r->ds) / (1 << 20);
    char line[256];
    if (sh->all_x) {
        snprintf(line, sizeof line, "data: %" PRIu64 " rows x %" PRIu64 " features kept in "
                 "memory (%.1f MB per rank)", n_train, sh->f,
                 mb * (double)dpt_dataset_rows(r->ds));
    } else {
        uint64_t rows = sh->step_off[sh->window_steps < sh->steps ? sh->window_steps
                                                                  : sh->steps];
        snprintf(line, sizeof line, "data: %" PRIu64 " rows x %" PRIu64 " features read %s, "
                 "%s (2 x %.1f MB per rank)", n_train, sh->f,
                 sh->window_steps < sh->steps ? "a window of steps at a time" : "an epoch at a time",
                 dpt_dataset_direct(r->ds) ? "straight from the file" : "through HDF5",
                 mb * (double)rows);
    }
    r->o->on_start(r->o->ctx, r->threads, line);
}

static int init_weights(struct run *r, struct dpt_norm *norm, struct dpt_err *err)
{
    const struct dpt_train_opts *o = r->o;
    dpt_net_init_params(r->net, (uint64_t)r->spec->seed);
    r->st.seed = (uint64_t)r->spec->seed;
    int rc = 0;
    if (o->init) {
        rc = dpt_weights_load(o->init, r->net, err);
    }
    if (rc == 0 && o->resume) {
        rc = dpt_checkpoint_load(o->resume, r->net, r->ostate, norm, &r->st, err);
        if (rc == 0 && r->st.epoch > r->spec->epochs) {
            rc = dpt_err_set(err, DPT_ECONFIG, "%s: the checkpoint is at epoch %lld; "
                             "train.epochs = %lld is smaller", o->resume,
                             (long long)r->st.epoch, (long long)r->spec->epochs);
        }
    }
    rc = dpt_dist_agree(r->d, rc, err);
    if (rc == 0) {
        int bad = dpt_dist_same_u64(r->d, params_hash(r->net));
        if (bad) {
            rc = dpt_err_set(err, DPT_ENUMERIC, "initial weights of rank %d differ from rank "
                             "0's (plugins must initialize from the host's random stream only)",
                             bad - 1);
        }
    }
    return rc;
}

int dpt_train(const struct dpt_spec *spec, const struct dpt_registry *reg,
              const struct dpt_dist *d, const struct dpt_train_opts *o, struct dpt_net **net_out,
              struct dpt_norm *norm, struct dpt_err *err)
{
    *net_out = NULL;
    memset(norm, 0, sizeof *norm);
    struct run r = {.spec = spec, .o = o, .d = d, .norm = norm, .last_ckpt_step = -1,
                    .es_wait = -1, .lr_scale = 1.0f, .plateau_scale = 1.0, .plateau_wait = -1, .threads = dpt_train_threads(o->threads)};
    uint64_t n_train = 0;
    openblas_set_num_threads(1); /* each worker thread runs its own sgemm */

    int rc = 0;
    if (!spec->train) {
        rc = dpt_err_set(err, DPT_ECONFIG, "%s: no training data: set data.train = \"FILE.h5\" "
                         "(or --set data.train=FILE.h5)", spec->file);
    }
    if (rc == 0) {
        rc = dpt_dataset_open(&r.ds, spec->train, spec->x_name, spec->y_name, err);
    }
    if (rc == 0) {
        rc = dpt_net_create(&r.net, spec, reg, dpt_dataset_features(r.ds), err);
    }
    if (rc == 0) {
        rc = dpt_net_check_targets(r.net, dpt_dataset_y_cols(r.ds), spec->train, err);
    }
    int node = dpt_dist_node_ranks(d);
    if (o->threads == 0) { /* the same count on every rank: micro-shards depend on it */
        int share = omp_get_num_procs() / node, max = r.threads < share ? r.threads : share;
        int t = rc == 0 ? auto_threads(max < 1 ? 1 : max, r.net, (uint64_t)spec->batch, d->size)
                        : INT_MAX;
        t = dpt_dist_min_int(d, t);
        r.threads = t == INT_MAX ? r.threads : t;
    }
    if (rc == 0) {
        rc = setup_validation(&r, &n_train, err);
    }
    if (rc == 0 && spec->es_monitor && spec->es_restore) {
        r.best = malloc(r.net->n_params * sizeof(float));
        rc = r.best ? 0 : dpt_err_set(err, DPT_ENOMEM, "out of memory");
    }
    uint64_t B = (uint64_t)spec->batch, m = B;
    if (rc == 0) {
        uint64_t workers = (uint64_t)d->size * (uint64_t)r.threads;
        if (spec->micro_batch > 0) {
            m = (uint64_t)spec->micro_batch;
        } else if (spec->deterministic) {
            m = DET_MICRO; /* fixed: what a micro-shard holds must not depend on P or T */
        } else {
            m = (B + workers - 1) / workers;
        }
        m = m < B ? m : B;
        rc = alloc_buffers(&r, m, err);
    }
    rc = dpt_dist_agree(d, rc, err);
    if (rc == 0) {
        rc = init_weights(&r, norm, err);
    }
    if (rc == 0 && ((spec->standardize && !norm->f) || (spec->standardize_y && !norm->yc))) {
        rc = dpt_norm_compute(norm, r.ds, d, spec->standardize && !norm->f,
                              spec->standardize_y && !norm->yc, err);
    }
    if (rc == 0) {
        struct dpt_shard_opts so = {
            .batch = B,
            .micro = m,
            .ranks = d->size,
            .rank = d->rank,
            .threads = r.threads,
            .cache_all = cache_all(spec, r.ds),
            .norm = norm,
            .base = spec->validation_split > 0 ? &r.base : NULL,
            .n_rows = n_train,
            .window_rows = window_rows(spec, d, node, r.ds, n_train, r.threads),
        };
        rc = dpt_shard_create(&r.shard, r.ds, &so, err);
        rc = dpt_dist_agree(d, rc, err);
    }
    if (rc == 0 && o->on_start) {
        report_start(&r, n_train);
    }
    if (rc == 0) {
        rc = train_epochs(&r, err);
    }
    run_cleanup(&r);
    if (rc < 0 && rc != DPT_ESIGNAL) {
        dpt_net_destroy(r.net);
        dpt_norm_cleanup(norm);
        return rc;
    }
    *net_out = r.net;
    return rc;
}
