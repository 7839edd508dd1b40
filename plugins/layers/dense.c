/* Layer "dense": a fully connected layer, y = x W^T + b.
 *
 * Settings: units (required, 1 .. 1048576), use_bias (default true) and
 * initializer ("glorot_uniform" (default), "he_normal" or "zeros"). The keys
 * "type" and "activation" belong to the host. The parameter slice is
 * W (n_out, n_in) row-major, then b (n_out) when use_bias is true.
 *
 * Guarantees: forward and backward allocate nothing and need no workspace;
 * backward writes dx (DPT_CAP_WRITES_DX) and adds into dparams; they call
 * cblas_sgemm, which the host keeps single-threaded, so the results are the
 * same bits on every run on the same machine. Left out: regularizers,
 * constraints, dropout and the other Keras initializers.
 */
#include "config.h"

#include <dptrain/plugin.h>

#include <assert.h>
#include <cblas.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define DENSE_MAX_UNITS 1048576

enum dense_init { DENSE_GLOROT_UNIFORM, DENSE_HE_NORMAL, DENSE_ZEROS };

struct dense {
    uint64_t n_in;  /* the input's last dimension */
    uint64_t n_out; /* units */
    uint64_t rows;  /* rows per sample: the product of the other input dimensions */
    int use_bias;
    enum dense_init init;
};

/* Reads the settings and fills *info; the instance is freed by
 * dense_destroy. Returns 0 or the negative value of host->error(). As
 * Keras' Dense, it acts on the last axis: [..., F] -> [..., units]. */
static int dense_create(void **state, const struct dpt_host *host, const struct dpt_shape *in,
                        struct dpt_layer_info *info)
{
    /* The default -1 marks a missing key; the range is checked here rather
     * than by the host so that the message can say the key is required. */
    int64_t units;
    int rc = host->get_int(host->ctx, "units", -1, INT64_MIN, INT64_MAX, &units);
    if (rc < 0) {
        return rc;
    }
    if (units == -1) {
        return host->error(host->ctx, "'units' is required (the number of outputs, "
                                      "e.g. units = 16)");
    }
    if (units < 1) {
        return host->error(host->ctx, "'units' must be in [1, %d], got %lld", DENSE_MAX_UNITS,
                           (long long)units);
    }
    if (units > DENSE_MAX_UNITS) {
        /* Say what the number would cost: a typo of a few digits is a
         * weight matrix of terabytes. */
        double bytes = (double)units * (double)in->dims[in->rank - 1] * sizeof(float);
        return host->error(host->ctx, "'units' must be in [1, %d], got %lld: its weights "
                           "alone would take %.3g bytes", DENSE_MAX_UNITS, (long long)units,
                           bytes);
    }
    int use_bias;
    rc = host->get_bool(host->ctx, "use_bias", 1, &use_bias);
    if (rc < 0) {
        return rc;
    }
    static const char *const inits[] = {"glorot_uniform", "he_normal", "zeros", NULL};
    const char *init;
    rc = host->get_string(host->ctx, "initializer", inits[0], inits, &init);
    if (rc < 0) {
        return rc;
    }
    uint64_t n_in = in->dims[in->rank - 1], rows = 1;
    for (uint32_t j = 0; j + 1 < in->rank; j++) {
        rows *= in->dims[j];
    }
    /* CBLAS takes int sizes; the leading dimension of x and W is n_in. */
    if (n_in < 1 || n_in > INT_MAX || rows > INT_MAX) {
        return host->error(host->ctx, "inputs of width %llu are not supported (1 .. %d)",
                           (unsigned long long)n_in, INT_MAX);
    }

    struct dense *d = malloc(sizeof *d);
    if (!d) {
        return host->error(host->ctx, "out of memory");
    }
    d->n_in = n_in;
    d->n_out = (uint64_t)units;
    d->rows = rows;
    d->use_bias = use_bias != 0;
    d->init = strcmp(init, "he_normal") == 0 ? DENSE_HE_NORMAL
              : strcmp(init, "zeros") == 0   ? DENSE_ZEROS
                                             : DENSE_GLOROT_UNIFORM;
    info->out = *in;
    info->out.dims[in->rank - 1] = d->n_out;
    info->n_params = d->n_out * d->n_in + (d->use_bias ? d->n_out : 0);
    info->n_state = 0;
    *state = d;
    return 0;
}

static void dense_destroy(void *state)
{
    free(state);
}

/* Tensor 0 is "weight" [n_out, n_in] at offset 0; tensor 1 is "bias"
 * [n_out] at offset n_out * n_in, present only with use_bias. */
static int dense_tensor(const void *state, uint32_t i, struct dpt_tensor *t)
{
    const struct dense *d = state;
    if (i == 0) {
        *t = (struct dpt_tensor){
            .name = "weight", .rank = 2, .shape = {d->n_out, d->n_in}, .offset = 0};
        return 0;
    }
    if (i == 1 && d->use_bias) {
        *t = (struct dpt_tensor){
            .name = "bias", .rank = 1, .shape = {d->n_out}, .offset = d->n_out * d->n_in};
        return 0;
    }
    return -1;
}

/* Writes W from the chosen initializer and b = 0 into params. */
static void dense_init(const void *state, float *params, const struct dpt_host *host,
                       struct dpt_rng *rng)
{
    const struct dense *d = state;
    size_t n_w = d->n_out * d->n_in;
    float *w = params;
    switch (d->init) {
    case DENSE_GLOROT_UNIFORM: {
        /* Glorot and Bengio (2010): U(-l, l) with l = sqrt(6 / (fan_in + fan_out)),
         * which gives the variance 2 / (fan_in + fan_out). */
        double limit = sqrt(6.0 / (double)(d->n_in + d->n_out));
        for (size_t i = 0; i < n_w; i++) {
            w[i] = (float)(limit * (2.0 * host->rng_uniform(rng) - 1.0));
        }
        break;
    }
    case DENSE_HE_NORMAL: {
        /* He et al. (2015): N(0, sqrt(2 / fan_in)), untruncated. Keras draws
         * from a normal truncated at two standard deviations (and widens it
         * so the variance is still 2 / fan_in); the variance is the same,
         * the rare draws beyond 2 sigma are not. */
        double stddev = sqrt(2.0 / (double)d->n_in);
        for (size_t i = 0; i < n_w; i++) {
            w[i] = (float)(stddev * host->rng_normal(rng));
        }
        break;
    }
    case DENSE_ZEROS:
        memset(w, 0, n_w * sizeof *w);
        break;
    }
    if (d->use_bias) {
        memset(params + n_w, 0, d->n_out * sizeof *params);
    }
}

/* x is (R, n_in) with R = b->B * rows, params = [W (n_out, n_in) | b
 * (n_out)], y is (R, n_out). Writes y = x W^T + b. */
static void dense_forward(const void *state, const float *params, const float *x, float *y,
                          const struct dpt_batch *bt)
{
    const struct dense *d = state;
    size_t B = bt->B * d->rows;
    if (B == 0) {
        return;
    }
    assert(B <= INT_MAX);
    int n_in = (int)d->n_in, n_out = (int)d->n_out;
    const float *w = params;
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)B, n_out, n_in, 1.0f, x, n_in,
                w, n_in, 0.0f, y, n_out);
    if (d->use_bias) {
        const float *b = params + d->n_out * d->n_in;
        for (size_t i = 0; i < B; i++) {
            float *row = y + i * d->n_out;
            for (size_t j = 0; j < d->n_out; j++) {
                row[j] += b[j];
            }
        }
    }
}

/* db += the column sums of dy (B, n); summed in double, as B terms of either
 * sign, a block of columns at a time so dy is read row by row. */
static void add_column_sums(const float *dy, size_t B, size_t n, float *db)
{
    enum { COLS = 64 };
    for (size_t j0 = 0; j0 < n; j0 += COLS) {
        size_t k = n - j0 < COLS ? n - j0 : COLS;
        double s[COLS] = {0};
        for (size_t i = 0; i < B; i++) {
            const float *row = dy + i * n + j0;
            for (size_t j = 0; j < k; j++) {
                s[j] += row[j];
            }
        }
        for (size_t j = 0; j < k; j++) {
            db[j0 + j] += (float)s[j];
        }
    }
}

/* Same shapes; dy is (B, n_out). Adds dW = dy^T x and db = the column sums
 * of dy into dparams, and writes dx = dy W unless dx is NULL. */
static void dense_backward(const void *state, const float *params, const float *x,
                           const float *y, const float *dy, float *dx, float *dparams,
                           const struct dpt_batch *bt)
{
    (void)y;
    const struct dense *d = state;
    size_t B = bt->B * d->rows;
    if (B == 0) {
        return;
    }
    assert(B <= INT_MAX);
    int n_in = (int)d->n_in, n_out = (int)d->n_out;
    const float *w = params;
    float *dw = dparams;
    /* beta = 1: dW accumulates over the micro-shards of a step. */
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, n_out, n_in, (int)B, 1.0f, dy, n_out,
                x, n_in, 1.0f, dw, n_in);
    if (d->use_bias) {
        add_column_sums(dy, B, d->n_out, dparams + d->n_out * d->n_in);
    }
    if (dx) { /* beta = 0: DPT_CAP_WRITES_DX */
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)B, n_in, n_out, 1.0f, dy,
                    n_out, w, n_in, 0.0f, dx, n_in);
    }
}

static const struct dpt_layer_plugin dense = {
    .base = DPT_PLUGIN_HEADER_CAPS(DPT_KIND_LAYER, "dense", "2.0.0",
                                   "fully connected layer, y = x W^T + b",
                                   DPT_CAP_DETERMINISTIC | DPT_CAP_WRITES_DX),
    .create = dense_create,
    .destroy = dense_destroy,
    .tensor = dense_tensor,
    .init = dense_init,
    .forward = dense_forward,
    .backward = dense_backward,
};

static const struct dpt_plugin *const all[] = {&dense.base, NULL};

DPT_PLUGIN_EXPORT const struct dpt_plugin *const *dpt_plugins(void)
{
    return all;
}
