/* Layer "batch_norm": Keras' BatchNormalization over the last axis (the
 * channels of [H, W, C] and [L, C] samples, the features of [F] samples).
 *
 * Settings: momentum (default 0.99, in [0, 1]), epsilon (default 0.001,
 * > 0), center (default true: a shift beta), scale (default true: a factor
 * gamma), axis (only -1, the last, is accepted, so that Keras' files read).
 * The slice holds the trainable "gamma" [C] (with scale), "beta" [C] (with
 * center), then the state "moving_mean" [C] (starts at 0) and
 * "moving_variance" [C] (starts at 1). gamma starts at 1, beta at 0.
 *
 * Training forward: per channel c, the mean m and the biased variance v of
 * this call's B * prod(other dims) values of c; y = gamma (x - m) /
 * sqrt(v + epsilon) + beta. The workspace keeps m and v for backward, which
 * takes the exact gradient of that function: dx through the batch
 * statistics, dgamma and dbeta added (+=) into dparams. Inference forward:
 * the same with moving_mean and moving_variance in place of m and v.
 *
 * Data parallelism. The batch statistics come from each micro-shard
 * ("ghost batch norm"): a micro-shard's size is fixed by train.micro_batch
 * and does not depend on the number of ranks and threads, so the trained
 * weights and the running statistics do not either (up to float rounding;
 * bitwise with --deterministic, where micro-shards are 64 rows by
 * default). Beware: without train.micro_batch and without --deterministic
 * the host makes a micro-shard ceil(batch / (ranks * threads)) rows, which
 * does depend on them; set train.micro_batch in models with batch_norm.
 * The running statistics: in backward, this micro-shard's mean and variance
 * per channel are added into dparams[n_params ...] (the means, then the
 * variances), weighted by its share of the step, b->scale * b->B (the
 * weights of all micro-shards of a step sum to 1), so that after the
 * allreduce the state gradient holds the step's average of micro-shard
 * statistics; update_state then does moving = momentum * moving +
 * (1 - momentum) * stats, as Keras does per step. As Keras 3, the running
 * variance averages the biased variances (no n / (n - 1) factor).
 *
 * A call with one value per channel (B = 1 on [F] inputs, or a short last
 * micro-shard of one row) has variance 0: its output is beta and its dx is
 * 0, as in Keras with a batch of one.
 *
 * Guarantees: no allocation in forward and backward; the workspace does not
 * grow with B. Channel statistics are summed in double in a fixed order, so
 * the same inputs give the same bits on one machine; the elementwise loops
 * are built with DPT_VECTORIZE, whose wide clones may fuse a * b + c (the
 * last bit can differ between CPU kinds). Left out: other axes, renorm,
 * virtual_batch_size (the micro-shard is the ghost batch), regularizers,
 * constraints and other initializers.
 */
#include "config.h"

#include <dptrain/plugin.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* The elementwise loops run over blocks of whole rows at least this many
 * floats wide, so that a block spans several full vectors however few
 * channels there are (a row of C = 6 floats is less than one AVX vector).
 * Measured at B = 64 on [28, 28, 6] inputs, one thread, forward + backward
 * per sample: 5 us with the AVX2 clones, 13 us for SSE2, 34 us scalar; a
 * dense layer [4704] -> [6] takes 7 us, [4704] -> [120] 43 us. */
#define BN_MIN_WIDTH 64

struct bn {
    uint64_t C;      /* channels: the input's last dimension */
    uint64_t rows;   /* values of a channel per sample: the other dimensions' product */
    uint64_t W;      /* floats per block of the elementwise loops, a multiple of C */
    int center, scale;
    float momentum;  /* of the running statistics ... */
    float rest;      /* ... and 1 - momentum, rounded once from double as Keras does */
    double epsilon;
    uint64_t n_params;
};

/* The workspace, carved from the host's block (see bn_layout): what the
 * training forward leaves for backward (mean and var), the channel sums of
 * backward, block accumulators and per-block copies of per-channel values
 * ("patterns": p[j] is channel j % C's value, so that a loop over a block
 * of W floats runs over whole vectors whatever C is). */
struct bn_ws {
    double *mean, *var;   /* [C]: the training forward's statistics */
    double *s_dy, *s_dyx; /* [C]: backward's sums of dy and dy * xhat */
    double *acc0, *acc1;  /* [W]: block accumulators */
    double *mean_w;       /* [W]: the mean as a double pattern */
    float *p[5];          /* [W] each: float patterns */
};

/* The block width W: a multiple of C (every block starts at channel 0)
 * and of 16 floats (every block starts on a 64-byte boundary), at least
 * BN_MIN_WIDTH; C itself when C is that wide already. */
static uint64_t bn_width(uint64_t C)
{
    if (C >= BN_MIN_WIDTH) {
        return C;
    }
    uint64_t a = C, b = 16;
    while (b) {
        uint64_t t = a % b;
        a = b, b = t;
    }
    uint64_t lcm = C / a * 16;
    return (BN_MIN_WIDTH + lcm - 1) / lcm * lcm;
}

/* Reserves bytes at *off, rounded up to 64 (vector loads stay aligned). */
static size_t take(size_t *off, size_t bytes)
{
    size_t at = *off;
    *off += (bytes + 63) / 64 * 64;
    return at;
}

/* Fills *w with pointers into base (when base is not NULL) and returns the
 * bytes the workspace needs. */
static size_t bn_layout(const struct bn *d, char *base, struct bn_ws *w)
{
    size_t off = 0, C = d->C, W = d->W;
    size_t at[12], k = 0;
    at[k++] = take(&off, C * sizeof(double));
    at[k++] = take(&off, C * sizeof(double));
    at[k++] = take(&off, C * sizeof(double));
    at[k++] = take(&off, C * sizeof(double));
    at[k++] = take(&off, W * sizeof(double));
    at[k++] = take(&off, W * sizeof(double));
    at[k++] = take(&off, W * sizeof(double));
    for (int i = 0; i < 5; i++) {
        at[k++] = take(&off, W * sizeof(float));
    }
    if (base) {
        *w = (struct bn_ws){
            .mean = (double *)(base + at[0]), .var = (double *)(base + at[1]),
            .s_dy = (double *)(base + at[2]), .s_dyx = (double *)(base + at[3]),
            .acc0 = (double *)(base + at[4]), .acc1 = (double *)(base + at[5]),
            .mean_w = (double *)(base + at[6])};
        for (int i = 0; i < 5; i++) {
            w->p[i] = (float *)(base + at[7 + i]);
        }
    }
    return off;
}

/* Reads the settings and fills *info; the instance is freed by bn_destroy.
 * Returns 0 or the negative value of host->error(). */
static int bn_create(void **state, const struct dpt_host *host, const struct dpt_shape *in,
                     struct dpt_layer_info *info)
{
    double momentum, epsilon;
    int center, scale;
    int64_t axis;
    int rc = host->get_float(host->ctx, "momentum", 0.99, 0.0, 1.0, &momentum);
    if (rc == 0) {
        rc = host->get_float(host->ctx, "epsilon", 1e-3, 0.0, 1e6, &epsilon);
    }
    if (rc == 0) {
        rc = host->get_bool(host->ctx, "center", 1, &center);
    }
    if (rc == 0) {
        rc = host->get_bool(host->ctx, "scale", 1, &scale);
    }
    if (rc == 0) {
        rc = host->get_int(host->ctx, "axis", -1, INT64_MIN, INT64_MAX, &axis);
    }
    if (rc < 0) {
        return rc;
    }
    if (axis != -1) {
        return host->error(host->ctx, "'axis' must be -1 (the last axis, channels), got %lld",
                           (long long)axis);
    }
    /* epsilon keeps 1 / sqrt(var + epsilon) finite for a constant channel. */
    if (!(epsilon > 0)) {
        return host->error(host->ctx, "'epsilon' must be greater than 0, got %g", epsilon);
    }
    struct bn *d = malloc(sizeof *d);
    if (!d) {
        return host->error(host->ctx, "out of memory");
    }
    d->C = in->dims[in->rank - 1];
    d->rows = 1;
    for (uint32_t j = 0; j + 1 < in->rank; j++) {
        d->rows *= in->dims[j];
    }
    d->W = bn_width(d->C);
    d->center = center != 0;
    d->scale = scale != 0;
    d->momentum = (float)momentum;
    d->rest = (float)(1.0 - momentum);
    d->epsilon = epsilon;
    d->n_params = d->C * (uint64_t)(d->center + d->scale);
    *info = (struct dpt_layer_info){.out = *in, .n_params = d->n_params, .n_state = 2 * d->C};
    *state = d;
    return 0;
}

static void bn_destroy(void *state)
{
    free(state);
}

/* Tensors in slice order: gamma (with scale), beta (with center),
 * moving_mean, moving_variance; each [C]. */
static int bn_tensor(const void *state, uint32_t i, struct dpt_tensor *t)
{
    const struct bn *d = state;
    const char *names[4];
    uint32_t n = 0;
    if (d->scale) {
        names[n++] = "gamma";
    }
    if (d->center) {
        names[n++] = "beta";
    }
    names[n++] = "moving_mean";
    names[n++] = "moving_variance";
    if (i >= n) {
        return -1;
    }
    *t = (struct dpt_tensor){.name = names[i], .rank = 1, .shape = {d->C}, .offset = i * d->C};
    return 0;
}

/* gamma = 1, beta = 0, moving_mean = 0, moving_variance = 1 (Keras'). */
static void bn_init(const void *state, float *params, const struct dpt_host *host,
                    struct dpt_rng *rng)
{
    (void)host, (void)rng;
    const struct bn *d = state;
    float *p = params;
    for (uint64_t c = 0; c < d->C; c++) {
        if (d->scale) {
            p[c] = 1.0f;
        }
        if (d->center) {
            p[(uint64_t)d->scale * d->C + c] = 0.0f;
        }
        p[d->n_params + c] = 0.0f;
        p[d->n_params + d->C + c] = 1.0f;
    }
}

static size_t bn_workspace_bytes(const void *state, size_t B)
{
    (void)B; /* the statistics are per channel, whatever B is */
    return bn_layout(state, NULL, NULL);
}

/* The elementwise kernels. Each runs over n floats (a multiple of C) in
 * blocks of W (the last one may be shorter, still a multiple of C), so that
 * element j of a block belongs to channel j % C and the patterns line up. */

/* acc[j] += x[j] of every block. */
DPT_VECTORIZE
static void sum_blocks(const float *restrict x, size_t n, size_t W, double *restrict acc)
{
    for (size_t i0 = 0; i0 < n; i0 += W) {
        size_t w = n - i0 < W ? n - i0 : W;
        const float *xb = x + i0;
        for (size_t j = 0; j < w; j++) {
            acc[j] += xb[j];
        }
    }
}

/* acc[j] += (x[j] - mean_w[j])^2 of every block. */
DPT_VECTORIZE
static void sum_sq_dev_blocks(const float *restrict x, size_t n, size_t W,
                              const double *restrict mean_w, double *restrict acc)
{
    for (size_t i0 = 0; i0 < n; i0 += W) {
        size_t w = n - i0 < W ? n - i0 : W;
        const float *xb = x + i0;
        for (size_t j = 0; j < w; j++) {
            double e = xb[j] - mean_w[j];
            acc[j] += e * e;
        }
    }
}

/* y = (x - m) * a + b over every block. */
DPT_VECTORIZE
static void affine_blocks(const float *restrict x, float *restrict y, size_t n, size_t W,
                          const float *restrict m, const float *restrict a,
                          const float *restrict b)
{
    for (size_t i0 = 0; i0 < n; i0 += W) {
        size_t w = n - i0 < W ? n - i0 : W;
        const float *xb = x + i0;
        float *yb = y + i0;
        for (size_t j = 0; j < w; j++) {
            yb[j] = (xb[j] - m[j]) * a[j] + b[j];
        }
    }
}

/* acc0[j] += dy[j] and acc1[j] += dy[j] * xhat[j] of every block, xhat =
 * (x - m) * r. */
DPT_VECTORIZE
static void sum_dy_blocks(const float *restrict x, const float *restrict dy, size_t n, size_t W,
                          const float *restrict m, const float *restrict r,
                          double *restrict acc0, double *restrict acc1)
{
    for (size_t i0 = 0; i0 < n; i0 += W) {
        size_t w = n - i0 < W ? n - i0 : W;
        const float *xb = x + i0, *gb = dy + i0;
        for (size_t j = 0; j < w; j++) {
            float xhat = (xb[j] - m[j]) * r[j];
            acc0[j] += gb[j];
            acc1[j] += (double)gb[j] * xhat;
        }
    }
}

/* dx = k * (dy - mdy - xhat * mdyx), xhat = (x - m) * r, over every block. */
DPT_VECTORIZE
static void dx_blocks(const float *restrict x, const float *restrict dy, float *restrict dx,
                      size_t n, size_t W, float *const p[5])
{
    const float *restrict m = p[0], *restrict r = p[1], *restrict k = p[2];
    const float *restrict mdy = p[3], *restrict mdyx = p[4];
    for (size_t i0 = 0; i0 < n; i0 += W) {
        size_t w = n - i0 < W ? n - i0 : W;
        const float *xb = x + i0, *gb = dy + i0;
        float *db = dx + i0;
        for (size_t j = 0; j < w; j++) {
            float xhat = (xb[j] - m[j]) * r[j];
            db[j] = k[j] * (gb[j] - mdy[j] - xhat * mdyx[j]);
        }
    }
}

/* out[c] = the sum of channel c's slots acc[c + C * i], in slot order. */
static void fold(const double *acc, size_t C, size_t W, double *out)
{
    for (size_t c = 0; c < C; c++) {
        out[c] = 0;
    }
    for (size_t j = 0; j < W; j++) {
        out[j % C] += acc[j];
    }
}

/* gamma[c] and beta[c], 1 and 0 when the layer has none. */
static double gamma_of(const struct bn *d, const float *params, size_t c)
{
    return d->scale ? params[c] : 1.0;
}

static double beta_of(const struct bn *d, const float *params, size_t c)
{
    return d->center ? params[(size_t)d->scale * d->C + c] : 0.0;
}

/* The training statistics of x (n = B * rows * C floats) into w->mean and
 * w->var: two passes (mean, then squared deviations from it), summed in
 * double, which stays accurate when the mean is large against the spread. */
static void batch_stats(const struct bn *d, const float *x, size_t n, struct bn_ws *w)
{
    size_t C = d->C, W = d->W;
    double N = (double)(n / C);
    memset(w->acc0, 0, W * sizeof *w->acc0); /* the host does not zero workspaces */
    sum_blocks(x, n, W, w->acc0);
    fold(w->acc0, C, W, w->mean);
    for (size_t c = 0; c < C; c++) {
        w->mean[c] /= N;
    }
    for (size_t j = 0; j < W; j++) {
        w->mean_w[j] = w->mean[j % C];
    }
    memset(w->acc0, 0, W * sizeof *w->acc0);
    sum_sq_dev_blocks(x, n, W, w->mean_w, w->acc0);
    fold(w->acc0, C, W, w->var);
    for (size_t c = 0; c < C; c++) {
        w->var[c] /= N;
    }
}

/* x and y are (B, rows * C). Writes y = gamma (x - mean) / sqrt(var +
 * epsilon) + beta per channel: in training with this call's statistics
 * (kept in the workspace for backward), at inference with the moving ones. */
static void bn_forward(const void *state, const float *params, const float *x, float *y,
                       const struct dpt_batch *b)
{
    const struct bn *d = state;
    size_t C = d->C, W = d->W, n = b->B * d->rows * C;
    struct bn_ws w;
    bn_layout(d, b->ws, &w);
    if (n == 0) {
        return;
    }
    if (b->training) {
        batch_stats(d, x, n, &w);
    }
    /* Per channel: a = gamma / sqrt(var + epsilon), in double, rounded once. */
    const float *moving = params + d->n_params;
    for (size_t j = 0; j < W; j++) {
        size_t c = j % C;
        double mean = b->training ? w.mean[c] : moving[c];
        double var = b->training ? w.var[c] : moving[C + c];
        w.p[0][j] = (float)mean;
        w.p[1][j] = (float)(gamma_of(d, params, c) / sqrt(var + d->epsilon));
        w.p[2][j] = (float)beta_of(d, params, c);
    }
    affine_blocks(x, y, n, W, w.p[0], w.p[1], w.p[2]);
}

/* Same shapes; dy is (B, rows * C). With N = B * rows values per channel,
 * xhat = (x - mean) / sqrt(var + epsilon) and the sums over a channel's N
 * values S = sum(dy), T = sum(dy * xhat):
 *   dbeta += S, dgamma += T,
 *   dx = gamma / sqrt(var + epsilon) * (dy - S / N - xhat * T / N)
 * (the derivative through the mean and the variance; Ioffe and Szegedy
 * 2015, section 3, simplified). dx is written (DPT_CAP_WRITES_DX); the
 * statistics are added to the state's place in dparams (see the top). */
static void bn_backward(const void *state, const float *params, const float *x, const float *y,
                        const float *dy, float *dx, float *dparams, const struct dpt_batch *b)
{
    (void)y;
    const struct bn *d = state;
    size_t C = d->C, W = d->W, n = b->B * d->rows * C;
    struct bn_ws w;
    bn_layout(d, b->ws, &w);
    if (n == 0) {
        return;
    }
    double N = (double)(n / C);
    for (size_t j = 0; j < W; j++) {
        size_t c = j % C;
        w.p[0][j] = (float)w.mean[c];
        w.p[1][j] = (float)(1.0 / sqrt(w.var[c] + d->epsilon));
    }
    memset(w.acc0, 0, W * sizeof *w.acc0);
    memset(w.acc1, 0, W * sizeof *w.acc1);
    sum_dy_blocks(x, dy, n, W, w.p[0], w.p[1], w.acc0, w.acc1);
    fold(w.acc0, C, W, w.s_dy);
    fold(w.acc1, C, W, w.s_dyx);

    double share = (double)b->scale * (double)b->B; /* this micro-shard's weight in the step */
    for (size_t c = 0; c < C; c++) {
        if (d->scale) {
            dparams[c] += (float)w.s_dyx[c];
        }
        if (d->center) {
            dparams[(size_t)d->scale * C + c] += (float)w.s_dy[c];
        }
        dparams[d->n_params + c] += (float)(share * w.mean[c]);
        dparams[d->n_params + C + c] += (float)(share * w.var[c]);
    }
    if (!dx) {
        return;
    }
    for (size_t j = 0; j < W; j++) {
        size_t c = j % C;
        w.p[2][j] = (float)(gamma_of(d, params, c) / sqrt(w.var[c] + d->epsilon));
        w.p[3][j] = (float)(w.s_dy[c] / N);
        w.p[4][j] = (float)(w.s_dyx[c] / N);
    }
    dx_blocks(x, dy, dx, n, W, w.p);
}

/* moving = momentum * moving + (1 - momentum) * stats, for the means and
 * the variances; stats is the step's average of micro-shard statistics. */
static void bn_update_state(const void *state, float *params, const float *stats)
{
    const struct bn *d = state;
    float *moving = params + d->n_params;
    for (uint64_t i = 0; i < 2 * d->C; i++) {
        moving[i] = moving[i] * d->momentum + stats[i] * d->rest;
    }
}

static const struct dpt_layer_plugin batch_norm = {
    .base = DPT_PLUGIN_HEADER_CAPS(DPT_KIND_LAYER, "batch_norm", "1.0.0",
                                   "batch normalization over the last axis (per micro-shard)",
                                   DPT_CAP_DETERMINISTIC | DPT_CAP_WRITES_DX),
    .create = bn_create,
    .destroy = bn_destroy,
    .tensor = bn_tensor,
    .init = bn_init,
    .workspace_bytes = bn_workspace_bytes,
    .forward = bn_forward,
    .backward = bn_backward,
    .update_state = bn_update_state,
};

static const struct dpt_plugin *const all[] = {&batch_norm.base, NULL};

DPT_PLUGIN_EXPORT const struct dpt_plugin *const *dpt_plugins(void)
{
    return all;
}
