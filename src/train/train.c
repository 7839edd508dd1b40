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
#include "train/metrics.h"
#include "util/util.h"

#include <cblas.h>
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#define OPT_CHUNK 16384 /* parameters per optimizer call when threads share the update */

int dpt_norm_alloc(struct dpt_norm *n, size_t f)
{
    memset(n, 0, sizeof *n);
    n->mean = calloc(f, sizeof *n->mean);
    n->std = calloc(f, sizeof *n->std);
    n->mean_f = calloc(f, sizeof *n->mean_f);
    n->inv_std_f = calloc(f, sizeof *n->inv_std_f);
    if (!n->mean || !n->std || !n->mean_f || !n->inv_std_f) {
        dpt_norm_cleanup(n);
        return DPT_ENOMEM;
    }
    n->f = f;
    return 0;
}

void dpt_norm_finish(struct dpt_norm *n)
{
    for (size_t j = 0; j < n->f; j++) {
        n->mean_f[j] = (float)n->mean[j];
        n->inv_std_f[j] = (float)(1.0 / n->std[j]);
    }
}

void dpt_norm_cleanup(struct dpt_norm *n)
{
    free(n->mean);
    free(n->std);
    free(n->mean_f);
    free(n->inv_std_f);
    memset(n, 0, sizeof *n);
}

int dpt_train_threads(int t)
{
    return t > 0 ? t : omp_get_max_threads();
}

/* Everything one run holds; released by run_cleanup. */
struct run {
    struct dpt_dataset *ds;
    struct dpt_shard *shard;
    struct dpt_work **work;
    float **tgrad; /* tgrad[0] is the summed gradient, with 2 extra floats */
    float *ostate;
    int threads;
};

static void run_cleanup(struct run *r)
{
    for (int t = 0; r->work && t < r->threads; t++) {
        dpt_work_destroy(r->work[t]);
    }
    for (int t = 0; r->tgrad && t < r->threads; t++) {
        free(r->tgrad[t]);
    }
    free(r->work);
    free(r->tgrad);
    free(r->ostate);
    dpt_shard_destroy(r->shard);
    dpt_dataset_close(r->ds);
}

/* Standardization statistics in two passes over the data, each rank over
 * its own contiguous block of rows, combined with allreduces: no rank reads
 * more than about N/P rows. */
static int make_norm(struct dpt_dataset *ds, const struct dpt_dist *d, struct dpt_norm *norm,
                     struct dpt_err *err)
{
    size_t f = dpt_dataset_features(ds);
    uint64_t n = dpt_dataset_rows(ds);
    uint64_t lo_row = n * (uint64_t)d->rank / (uint64_t)d->size;
    uint64_t hi_row = n * (uint64_t)(d->rank + 1) / (uint64_t)d->size;
    double *acc = malloc(4 * f * sizeof *acc);
    int rc = (!acc || dpt_norm_alloc(norm, f) < 0) ? dpt_err_set(err, DPT_ENOMEM, "out of memory")
                                                   : 0;
    double *sum = acc, *sq = acc + f, *lo = acc + 2 * f, *hi = acc + 3 * f;
    for (int pass = 0; pass < 2; pass++) {
        if (rc == 0) {
            rc = dpt_dataset_moments(ds, lo_row, hi_row - lo_row, pass ? norm->mean : NULL, sum,
                                     sq, lo, hi, err);
        }
        rc = dpt_dist_agree(d, rc, err);
        if (rc < 0) {
            break;
        }
        if (d->size > 1) {
            MPI_Allreduce(MPI_IN_PLACE, sum, (int)(2 * f), MPI_DOUBLE, MPI_SUM, d->comm);
            MPI_Allreduce(MPI_IN_PLACE, lo, (int)f, MPI_DOUBLE, MPI_MIN, d->comm);
            MPI_Allreduce(MPI_IN_PLACE, hi, (int)f, MPI_DOUBLE, MPI_MAX, d->comm);
        }
        if (pass == 0) {
            dpt_stats_mean(f, n, sum, lo, hi, norm->mean);
        } else {
            dpt_stats_std(f, n, sum, sq, lo, hi, norm->std);
        }
    }
    free(acc);
    if (rc == 0) {
        dpt_norm_finish(norm);
    }
    return rc;
}

static int alloc_buffers(struct run *r, const struct dpt_net *net, size_t m, struct dpt_err *err)
{
    r->work = calloc((size_t)r->threads, sizeof *r->work);
    r->tgrad = calloc((size_t)r->threads, sizeof *r->tgrad);
    r->ostate = dpt__zalloc_aligned(net->opt_floats * net->n_params * sizeof(float));
    if (!r->work || !r->tgrad || !r->ostate) {
        return dpt_err_set(err, DPT_ENOMEM, "out of memory");
    }
    for (int t = 0; t < r->threads; t++) {
        r->tgrad[t] = dpt__zalloc_aligned((net->n_params + 2) * sizeof(float));
        if (!r->tgrad[t]) {
            return dpt_err_set(err, DPT_ENOMEM, "out of memory for gradients");
        }
        if (dpt_work_create(&r->work[t], net, m, err) < 0) {
            return err->code;
        }
    }
    return 0;
}

/* One optimizer update of all parameters, split over the threads. */
static void optimizer_step(const struct dpt_net *net, struct run *r, uint64_t t)
{
    size_t n = net->n_params;
    size_t chunks = (n + OPT_CHUNK - 1) / OPT_CHUNK;
#pragma omp parallel for schedule(static) num_threads(r->threads) if (r->threads > 1 && chunks > 1)
    for (size_t c = 0; c < chunks; c++) {
        size_t off = c * OPT_CHUNK, k = n - off < OPT_CHUNK ? n - off : OPT_CHUNK;
        net->opt->step(net->opt_state, net->params + off, r->tgrad[0] + off, r->ostate + off, n,
                       k, t, 1.0f);
    }
}

/* Forward/backward of this rank's micro-shards of step s; leaves the summed
 * gradient in tgrad[0][0, n) and the loss sum and hit count after it. */
static void compute_step(const struct dpt_net *net, struct run *r, uint64_t s)
{
    const struct dpt_shard *sh = r->shard;
    size_t n = net->n_params, f = sh->f, yc = sh->y_cols;
    float scale = 1.0f / (float)dpt_shard_step_rows(sh, s);
    uint64_t local = dpt_shard_local_micros(sh, s);
    int T = r->threads;
    double loss[T];
    size_t hits[T];
#pragma omp parallel num_threads(T) if (T > 1)
    {
        int t = omp_get_thread_num();
        float *g = r->tgrad[t];
        memset(g, 0, n * sizeof(float));
        double l = 0;
        size_t h = 0;
        for (uint64_t i = (uint64_t)t; i < local; i += (uint64_t)T) {
            uint64_t first, rows = dpt_shard_micro(sh, s, i, &first);
            l += dpt_net_train_micro(net, r->work[t], sh->x + first * f, sh->y + first * yc, yc,
                                     rows, scale, g, &h);
        }
        loss[t] = l;
        hits[t] = h;
        if (T > 1) {
            /* Sum the thread gradients in thread order, split by parameter. */
#pragma omp barrier
#pragma omp for schedule(static)
            for (size_t c = 0; c < n; c += 1024) {
                size_t end = c + 1024 < n ? c + 1024 : n;
                for (int u = 1; u < T; u++) {
                    const float *gu = r->tgrad[u];
                    for (size_t j = c; j < end; j++) {
                        r->tgrad[0][j] += gu[j];
                    }
                }
            }
        }
    }
    double l = 0;
    size_t h = 0;
    for (int t = 0; t < T; t++) {
        l += loss[t];
        h += hits[t];
    }
    r->tgrad[0][n] = (float)l;
    r->tgrad[0][n + 1] = (float)h;
}

static uint64_t params_hash(const struct dpt_net *net)
{
    return XXH3_64bits(net->params, net->n_params * sizeof(float));
}

static int train_epochs(const struct dpt_spec *spec, const struct dpt_net *net, struct run *r,
                        const struct dpt_dist *d, const struct dpt_train_opts *o,
                        struct dpt_err *err)
{
    struct dpt_shard *sh = r->shard;
    size_t n = net->n_params;
    uint64_t step = 0;
    double start = dpt__now();
    for (int64_t e = 0; e < spec->epochs; e++) {
        double t0 = dpt__now();
        struct dpt_perm perm;
        dpt_perm_init(&perm, sh->n, (uint64_t)spec->seed, (uint64_t)e, spec->shuffle);
        int rc = dpt_shard_load(sh, &perm, err);
        if (rc == 0 && e == 0) {
            /* Every row is in exactly one rank's share of an epoch: one pass
             * over the first epoch checks all targets. */
            rc = dpt_check_target_rows(net, spec->train, spec->y_name, sh->y, sh->rows,
                                       sh->y_cols, sh->file_row, 0, err);
        }
        rc = dpt_dist_agree(d, rc, err);
        if (rc < 0) {
            return rc;
        }
        double loss_sum = 0, hit_sum = 0;
        for (uint64_t s = 0; s < sh->steps; s++) {
            compute_step(net, r, s);
            dpt_dist_sum_floats(d, r->tgrad[0], n + 2);
            float step_loss = r->tgrad[0][n];
            if (!isfinite(step_loss)) {
                return dpt_err_set(err, DPT_ENUMERIC,
                                   "the loss became %s at epoch %lld, step %llu (lower the "
                                   "learning rate, or standardize the inputs)",
                                   isnan(step_loss) ? "NaN" : "infinite", (long long)e + 1,
                                   (unsigned long long)s + 1);
            }
            loss_sum += step_loss;
            hit_sum += r->tgrad[0][n + 1];
            optimizer_step(net, r, ++step);
            if (o->check_sync > 0 && step % (uint64_t)o->check_sync == 0) {
                int bad = dpt_dist_same_u64(d, params_hash(net));
                if (bad) {
                    return dpt_err_set(err, DPT_ENUMERIC,
                                       "--check-sync: the weights of rank %d differ from rank "
                                       "0's after step %llu",
                                       bad - 1, (unsigned long long)step);
                }
            }
        }
        double now = dpt__now();
        struct dpt_epoch_stats st = {
            .epoch = e + 1,
            .epochs = spec->epochs,
            .samples = sh->n,
            .loss = loss_sum / (double)sh->n,
            .accuracy = net->loss->correct ? hit_sum / (double)sh->n : NAN,
            .seconds = now - t0,
            .elapsed = now - start,
        };
        if (o->on_epoch) {
            o->on_epoch(o->ctx, &st);
        }
    }
    return 0;
}

int dpt_train(const struct dpt_spec *spec, const struct dpt_registry *reg,
              const struct dpt_dist *d, const struct dpt_train_opts *o, struct dpt_net **net_out,
              struct dpt_norm *norm, struct dpt_err *err)
{
    *net_out = NULL;
    memset(norm, 0, sizeof *norm);
    struct run r = {.threads = dpt_train_threads(o->threads)};
    struct dpt_net *net = NULL;
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
        rc = dpt_net_create(&net, spec, reg, dpt_dataset_features(r.ds), err);
    }
    if (rc == 0) {
        rc = dpt_net_check_targets(net, dpt_dataset_y_cols(r.ds), spec->train, err);
    }
    rc = dpt_dist_agree(d, rc, err);
    if (rc == 0) {
        dpt_net_init_params(net, (uint64_t)spec->seed);
        int bad = dpt_dist_same_u64(d, params_hash(net));
        if (bad) {
            rc = dpt_err_set(err, DPT_ENUMERIC, "initial weights of rank %d differ from rank "
                             "0's (plugins must initialize from the host's random stream only)",
                             bad - 1);
        }
    }
    if (rc == 0 && spec->standardize) {
        rc = make_norm(r.ds, d, norm, err);
    }
    if (rc == 0) {
        uint64_t workers = (uint64_t)d->size * (uint64_t)r.threads;
        uint64_t B = (uint64_t)spec->batch;
        uint64_t m = spec->micro_batch > 0 ? (uint64_t)spec->micro_batch : (B + workers - 1) / workers;
        struct dpt_shard_opts so = {
            .batch = B,
            .micro = m < B ? m : B,
            .ranks = d->size,
            .rank = d->rank,
            .threads = r.threads,
            .cache_all = spec->cache_all,
            .mean = norm->f ? norm->mean_f : NULL,
            .inv_std = norm->f ? norm->inv_std_f : NULL,
        };
        rc = dpt_shard_create(&r.shard, r.ds, &so, err);
        if (rc == 0) {
            rc = alloc_buffers(&r, net, so.micro, err);
        }
        rc = dpt_dist_agree(d, rc, err);
    }
    if (rc == 0) {
        rc = train_epochs(spec, net, &r, d, o, err);
    }
    run_cleanup(&r);
    if (rc < 0) {
        dpt_net_destroy(net);
        dpt_norm_cleanup(norm);
        return rc;
    }
    *net_out = net;
    return 0;
}
