/* The batch_norm layer (plugins/layers/batch_norm.c): its tensors and
 * settings; forward at inference and in training against values computed
 * by hand and against a plain double-precision reference; the gradient of
 * the training forward against finite differences (tests/layer_check.c) on
 * [F], [L, C] and [H, W, C] inputs; and the state contract: backward adds
 * scale * B times the micro-shard's mean and variance into the state part
 * of dparams, so that the micro-shards of a step sum to the average of
 * their statistics, and update_state applies Keras' momentum formula. */
#include "config.h"

#include "layer_check.h"
#include "util.h"

#include <CUnit/CUnit.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A workspace for the direct calls below (64-byte aligned, as the host's). */
static void *workspace(const struct lc *c, size_t B)
{
    size_t bytes = (c->p->workspace_bytes(c->st, B) + 63) / 64 * 64;
    void *ws = aligned_alloc(64, bytes ? bytes : 64);
    CU_ASSERT_PTR_NOT_NULL_FATAL(ws);
    return ws;
}

/* One training forward and backward of B rows in which each row weighs
 * `scale` in the step (layer_check's calls fix scale = 1 / B). dx may be
 * NULL; dparams is added to. */
static void train_call(const struct lc *c, const float *x, float *y, const float *dy, float *dx,
                       float *dparams, size_t B, float scale)
{
    void *ws = workspace(c, B);
    struct dpt_batch b = {.B = B, .ws = ws, .training = 1, .scale = scale, .key = 9};
    c->p->forward(c->st, c->params, x, y, &b);
    c->p->backward(c->st, c->params, x, y, dy, dx, dparams, &b);
    free(ws);
}

static void infer_call(const struct lc *c, const float *x, float *y, size_t B)
{
    void *ws = workspace(c, B);
    struct dpt_batch b = {.B = B, .ws = ws, .scale = 1.0f};
    c->p->forward(c->st, c->params, x, y, &b);
    free(ws);
}

/* Where the layer's tensors are in its slice, for the tests' own reading. */
struct parts {
    float *gamma, *beta, *mean, *var; /* gamma, beta NULL when absent */
    size_t C;
};

static struct parts parts_of(struct lc *c)
{
    struct parts p = {.C = c->info.n_state / 2};
    struct dpt_tensor t;
    for (uint32_t i = 0; c->p->tensor(c->st, i, &t) == 0; i++) {
        float *at = c->params + t.offset;
        if (strcmp(t.name, "gamma") == 0) {
            p.gamma = at;
        } else if (strcmp(t.name, "beta") == 0) {
            p.beta = at;
        } else if (strcmp(t.name, "moving_mean") == 0) {
            p.mean = at;
        } else if (strcmp(t.name, "moving_variance") == 0) {
            p.var = at;
        }
    }
    return p;
}

/* Random gamma in [0.5, 1.5], beta in [-1, 1], moving mean in [-1, 1] and
 * moving variance in [0.5, 2]: away from the initial 1, 0, 0, 1, so that a
 * missing factor shows. */
static void randomize(struct lc *c, uint64_t seed)
{
    struct parts p = parts_of(c);
    if (p.gamma) {
        lc_fill(p.gamma, p.C, &seed, 0.5, 1.5);
    }
    if (p.beta) {
        lc_fill(p.beta, p.C, &seed, -1, 1);
    }
    lc_fill(p.mean, p.C, &seed, -1, 1);
    lc_fill(p.var, p.C, &seed, 0.5, 2);
}

static int create(struct lc *c, const char *settings, uint64_t d0, uint64_t d1, uint64_t d2)
{
    struct dpt_shape in = lc_shape(d0, d1, d2);
    return lc_create(c, "batch_norm", settings, &in);
}

/* The slice: gamma and beta with scale and center, then the state; the
 * output has the input's shape; Keras' initial values. */
static void test_tensors(void)
{
    struct lc c;
    CU_ASSERT_EQUAL_FATAL(create(&c, "", 3, 4, 2), 0);
    CU_ASSERT(c.info.out.rank == 3 && c.info.out.dims[0] == 3 && c.info.out.dims[1] == 4 &&
              c.info.out.dims[2] == 2);
    CU_ASSERT_EQUAL(c.info.n_params, 4);
    CU_ASSERT_EQUAL(c.info.n_state, 4);
    const char *names[] = {"gamma", "beta", "moving_mean", "moving_variance"};
    const float init[] = {1, 0, 0, 1};
    struct dpt_tensor t;
    for (uint32_t i = 0; i < 4; i++) {
        CU_ASSERT_EQUAL_FATAL(c.p->tensor(c.st, i, &t), 0);
        CU_ASSERT_STRING_EQUAL(t.name, names[i]);
        CU_ASSERT(t.rank == 1 && t.shape[0] == 2 && t.offset == 2 * i);
        CU_ASSERT(c.params[2 * i] == init[i] && c.params[2 * i + 1] == init[i]);
    }
    CU_ASSERT_EQUAL(c.p->tensor(c.st, 4, &t), -1);
    lc_destroy(&c);

    const char *settings[] = {"center = false;", "scale = false;", "center = false; "
                              "scale = false;"};
    const char *first[] = {"gamma", "beta", "moving_mean"};
    for (int k = 0; k < 3; k++) {
        CU_ASSERT_EQUAL_FATAL(create(&c, settings[k], 5, 0, 0), 0);
        CU_ASSERT_EQUAL(c.info.n_params, k == 2 ? 0 : 5);
        CU_ASSERT_EQUAL(c.info.n_state, 10);
        CU_ASSERT(c.p->tensor(c.st, 0, &t) == 0 && strcmp(t.name, first[k]) == 0);
        struct parts p = parts_of(&c);
        CU_ASSERT(p.mean == c.params + c.info.n_params && p.var == p.mean + 5);
        CU_ASSERT(p.mean[4] == 0 && p.var[4] == 1);
        lc_destroy(&c);
    }
}

/* Settings out of range are refused with messages that say what is
 * allowed. */
static void test_refused_settings(void)
{
    const char *bad[][2] = {
        {"axis = 1;", "'axis' must be -1 (the last axis, channels), got 1"},
        {"epsilon = 0.0;", "'epsilon' must be greater than 0, got 0"},
        {"momentum = 1.5;", "'momentum' must be in [0, 1], got 1.5"},
        {"center = 3;", "'center'"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct lc c;
        CU_ASSERT(create(&c, bad[i][0], 4, 3, 0) < 0);
        if (!strstr(c.host.err.msg, bad[i][1])) {
            printf("\n    %s: got \"%s\"", bad[i][0], c.host.err.msg);
        }
        CU_ASSERT_PTR_NOT_NULL(strstr(c.host.err.msg, bad[i][1]));
        lc_destroy(&c);
    }
    struct lc c;
    CU_ASSERT_EQUAL(create(&c, "axis = -1; momentum = 0.9; epsilon = 1e-5;", 4, 3, 0), 0);
    lc_destroy(&c);
}

/* Inference uses the moving statistics. With epsilon = 0.25, moving mean
 * [1, -2], moving variance [3.75, 0], gamma [2, 3] and beta [0.5, -1], the
 * denominators are sqrt(4) = 2 and sqrt(0.25) = 0.5:
 *   x = [5, -1.5]: y = [2 (5 - 1) / 2 + 0.5, 3 (-1.5 + 2) / 0.5 - 1] = [4.5, 2]
 *   x = [1, -2]:   y = [0.5, -1] (x at the mean gives beta)
 *   x = [-3, 0]:   y = [2 (-4) / 2 + 0.5, 3 (2) / 0.5 - 1] = [-3.5, 11]
 * Every value is a float, so the results are exact but for the rounding of
 * a few operations. */
static void test_inference_by_hand(void)
{
    struct lc c;
    CU_ASSERT_EQUAL_FATAL(create(&c, "epsilon = 0.25;", 2, 0, 0), 0);
    struct parts p = parts_of(&c);
    p.gamma[0] = 2, p.gamma[1] = 3, p.beta[0] = 0.5f, p.beta[1] = -1;
    p.mean[0] = 1, p.mean[1] = -2, p.var[0] = 3.75f, p.var[1] = 0;
    const float x[] = {5, -1.5f, 1, -2, -3, 0};
    const float want[] = {4.5f, 2, 0.5f, -1, -3.5f, 11};
    float y[6];
    infer_call(&c, x, y, 3);
    for (int i = 0; i < 6; i++) {
        CU_ASSERT_DOUBLE_EQUAL(y[i], want[i], 1e-6 * fmax(1, fabs(want[i])));
    }
    lc_destroy(&c);
}

/* Training uses this call's statistics, over the batch and the other axes.
 * Input [2, 2] (L = 2 positions, C = 2 channels), B = 2, the four values of
 * channel 0 are 1, 3, 1, 3 (mean 2, biased variance 1) and those of channel
 * 1 are -1, 5, 5, -1 (mean 2, variance 9). With epsilon = 0.001, gamma =
 * [2, 3], beta = [0.5, -1]:
 *   channel 0: y = 2 (x - 2) / sqrt(1.001) + 0.5 = 0.5 -+ 2 / sqrt(1.001)
 *   channel 1: y = 3 (x - 2) / sqrt(9.001) - 1   = -1 -+ 9 / sqrt(9.001)
 * The moving statistics play no part. */
static void test_training_by_hand(void)
{
    struct lc c;
    CU_ASSERT_EQUAL_FATAL(create(&c, "", 2, 2, 0), 0);
    struct parts p = parts_of(&c);
    p.gamma[0] = 2, p.gamma[1] = 3, p.beta[0] = 0.5f, p.beta[1] = -1;
    p.mean[0] = 100, p.mean[1] = -100, p.var[0] = 50, p.var[1] = 7;
    const float x[] = {1, -1, 3, 5, /* sample 2 */ 1, 5, 3, -1};
    double a = 2 / sqrt(1.001), b = 9 / sqrt(9.001);
    const double want[] = {0.5 - a, -1 - b, 0.5 + a, -1 + b, 0.5 - a, -1 + b, 0.5 + a, -1 - b};
    float y[8], dy[8] = {0}, dparams[8] = {0};
    train_call(&c, x, y, dy, NULL, dparams, 2, 0.5f);
    for (int i = 0; i < 8; i++) {
        CU_ASSERT_DOUBLE_EQUAL(y[i], want[i], 1e-6 * fmax(1, fabs(want[i])));
    }
    /* With B * scale = 1, the state part of dparams is the mean and the
     * variance themselves; dy = 0 gives no parameter gradient. */
    const float stats[] = {2, 2, 1, 9};
    for (int i = 0; i < 4; i++) {
        CU_ASSERT_EQUAL(dparams[i], 0);
        CU_ASSERT_DOUBLE_EQUAL(dparams[4 + i], stats[i], 1e-6 * stats[i]);
    }
    lc_destroy(&c);
}

/* One value per channel (B = 1 on [F] inputs, as the last micro-shard of a
 * step can be): the variance is 0, so xhat = 0, y = beta whatever x is,
 * and the gradient by x is 0 (x - mean is 0 whatever x is). */
static void test_one_value_per_channel(void)
{
    struct lc c;
    CU_ASSERT_EQUAL_FATAL(create(&c, "", 4, 0, 0), 0);
    randomize(&c, 5);
    struct parts p = parts_of(&c);
    const float x[] = {3, -7, 0.25f, 1e4f}, dy[] = {1, -2, 3, 0.5f};
    float y[4], dx[4], dparams[16] = {0};
    train_call(&c, x, y, dy, dx, dparams, 1, 0.1f);
    for (int i = 0; i < 4; i++) {
        CU_ASSERT_EQUAL(y[i], p.beta[i]);
        CU_ASSERT_EQUAL(dx[i], 0);
        CU_ASSERT_EQUAL(dparams[i], 0);          /* dgamma = sum(dy * xhat) = 0 */
        CU_ASSERT_EQUAL(dparams[4 + i], dy[i]);  /* dbeta = sum(dy) */
        CU_ASSERT_DOUBLE_EQUAL(dparams[8 + i], 0.1 * x[i], 1e-6 * fabs(x[i]));
        CU_ASSERT_EQUAL(dparams[12 + i], 0);
    }
    lc_destroy(&c);
}

/* The training forward in double, written plainly: per channel the mean
 * and the biased variance of its B * rows values, then y = gamma (x -
 * mean) / sqrt(var + eps) + beta. With training 0, the moving statistics. */
static void reference(struct lc *c, const float *x, size_t B, int training, double eps,
                      double *y)
{
    struct parts p = parts_of(c);
    size_t C = p.C, N = B * c->n_in / C;
    for (size_t ch = 0; ch < C; ch++) {
        double mean = p.mean[ch], var = p.var[ch];
        if (training) {
            double s = 0, ss = 0;
            for (size_t i = 0; i < N; i++) {
                s += x[i * C + ch];
            }
            mean = s / (double)N;
            for (size_t i = 0; i < N; i++) {
                ss += (x[i * C + ch] - mean) * (x[i * C + ch] - mean);
            }
            var = ss / (double)N;
        }
        double g = p.gamma ? p.gamma[ch] : 1, b = p.beta ? p.beta[ch] : 0;
        for (size_t i = 0; i < N; i++) {
            y[i * C + ch] = g * (x[i * C + ch] - mean) / sqrt(var + eps) + b;
        }
    }
}

/* The largest |y - ref| / max(1, |ref|) over B rows of inputs in [lo, hi]. */
static double worst_vs_reference(struct lc *c, size_t B, int training, double lo, double hi,
                                 uint64_t seed)
{
    size_t n = B * c->n_in;
    float *x = malloc(n * sizeof *x), *y = malloc(n * sizeof *y);
    double *ref = malloc(n * sizeof *ref);
    CU_ASSERT_FATAL(x && y && ref);
    lc_fill(x, n, &seed, lo, hi);
    if (training) {
        float *dy = calloc(n, sizeof *dy), *dp = calloc(c->n_slice, sizeof *dp);
        train_call(c, x, y, dy, NULL, dp, B, 1.0f / (float)B);
        free(dy), free(dp);
    } else {
        infer_call(c, x, y, B);
    }
    reference(c, x, B, training, 1e-3, ref);
    double worst = 0;
    for (size_t i = 0; i < n; i++) {
        worst = fmax(worst, fabs(y[i] - ref[i]) / fmax(1, fabs(ref[i])));
    }
    free(x), free(y), free(ref);
    return worst;
}

/* Shapes whose channel count makes the kernels' blocks differ: C = 1 (a
 * block is 64 rows), C = 6 (96 floats, 16 rows, and a short last block),
 * C = 70 (one row per block); B up to 64, at inference and in training.
 * Float against double: a few roundings of values of order 1, so 1e-5.
 * Inputs in [999, 1001] check that the variance comes from deviations:
 * E[x^2] - E[x]^2 would cancel about 6 of float's 7 digits there. What is
 * left is the rounding of the mean to float (up to 3e-5 at 1000) against a
 * spread of 0.58, times gamma (up to 1.5): ~1e-4, under the bound 1e-3. */
static void test_against_reference(void)
{
    const uint64_t shapes[][3] = {{9, 1, 0}, {5, 7, 6}, {70, 0, 0}, {28, 28, 6}};
    const size_t Bs[] = {1, 3, 64};
    for (size_t s = 0; s < 4; s++) {
        struct lc c;
        CU_ASSERT_EQUAL_FATAL(create(&c, "", shapes[s][0], shapes[s][1], shapes[s][2]), 0);
        randomize(&c, 100 + s);
        for (size_t k = 0; k < 3; k++) {
            for (int training = 0; training <= 1; training++) {
                double e = worst_vs_reference(&c, Bs[k], training, -3, 3, 7 * s + k);
                if (!(e < 1e-5)) {
                    printf("\n    shape %zu, B = %zu, training %d: error %.3g", s, Bs[k],
                           training, e);
                }
                CU_ASSERT(e < 1e-5);
            }
        }
        /* B = 1 on [70] has one value per channel: no spread to standardize. */
        if (shapes[s][1] > 0) {
            double e = worst_vs_reference(&c, 3, 1, 999, 1001, 99);
            printf("\n    inputs in [999, 1001]: error %.2g (bound 1e-3)", e);
            CU_ASSERT(e < 1e-3);
        }
        lc_destroy(&c);
    }
}

/* Finite differences of the training forward, through the batch
 * statistics (layer_check: L = sum(r * y), inputs in [-2, 2], random
 * gamma and beta). How far the central difference is from the derivative:
 *  - Truncation, h^2 / 6 times the third derivative of L. The layer's
 *    scale in x is a channel's spread s (xhat = (x - mean) / s), so that
 *    derivative is ~ 1 / s^3 and the error ~ (h / s)^2 / 6. With 4 or
 *    more values per channel s is near the uniform's 1.15, and h = 1e-2
 *    leaves ~1e-5. With 3 values (the [F], B = 3 case) two can be close
 *    and s small (s = 0.1 gives 2e-3 at h = 1e-2; seen: 6e-3), so that
 *    case takes h = 1e-3.
 *  - Rounding: L sums n_out float outputs of order 1, each off by up to
 *    6e-8; divided by the step 2h that is ~3e-6 sqrt(n_out) at h = 1e-2
 *    (seen: 7.6e-5 for the 630 outputs of [5, 7, 6] x 3) and ~1e-4 for
 *    the 15 outputs at h = 1e-3 (seen: 5e-5).
 * The bound 1e-3 is over ten times the worst seen (7.6e-5), and far below
 * what a wrong term gives: without dx's mean term the errors were 0.06 to
 * 1.1, without its variance term 0.019 to 1.6 (tried on every case). */
static void check(const char *settings, uint64_t d0, uint64_t d1, uint64_t d2, size_t B,
                  double h, uint64_t seed)
{
    struct lc c;
    CU_ASSERT_EQUAL_FATAL(create(&c, settings, d0, d1, d2), 0);
    randomize(&c, seed);
    if (settings[0]) {
        printf("\n    (%s)", settings);
    }
    lc_check(&c, B, seed, h, 1e-3);
    lc_destroy(&c);
}

static void test_gradients(void)
{
    check("", 5, 0, 0, 3, 1e-3, 1); /* [F]: B values per channel, here 3 */
    check("", 5, 0, 0, 7, 1e-2, 2);
    check("", 4, 3, 0, 1, 1e-2, 3); /* [L, C], B = 1: the 4 positions give the statistics */
    check("", 4, 3, 0, 3, 1e-2, 4);
    check("", 3, 4, 2, 1, 1e-2, 5); /* [H, W, C], B = 1: 12 values per channel */
    check("", 3, 4, 2, 5, 1e-2, 6);
    check("", 5, 7, 6, 3, 1e-2, 7);  /* C = 6: full and short blocks */
    check("", 2, 70, 0, 3, 1e-2, 8); /* C = 70: one row per block */
    check("center = false;", 3, 4, 2, 3, 1e-2, 9);
    check("scale = false;", 3, 4, 2, 3, 1e-2, 10);
    check("center = false; scale = false;", 3, 4, 2, 3, 1e-2, 11);
    check("epsilon = 0.5; momentum = 0.5;", 4, 3, 0, 3, 1e-2, 12);
}

/* The mean and the biased variance of channel ch over rows [r0, r0 + B) of
 * x ([rows, C] per sample), in double. */
static void stats_of(const float *x, size_t r0, size_t B, size_t per, size_t C, size_t ch,
                     double *mean, double *var)
{
    double s = 0, ss = 0;
    size_t N = B * per;
    for (size_t i = 0; i < N; i++) {
        s += x[(r0 * per + i) * C + ch];
    }
    *mean = s / (double)N;
    for (size_t i = 0; i < N; i++) {
        double e = x[(r0 * per + i) * C + ch] - *mean;
        ss += e * e;
    }
    *var = ss / (double)N;
}

/* The state part of dparams after backward: += scale * B * mean and scale *
 * B * var per channel (here scale = 0.01, B = 4: a micro-shard of 4 rows of
 * a step of 100), on top of what the buffer held. */
static void test_state_contract(void)
{
    struct lc c;
    CU_ASSERT_EQUAL_FATAL(create(&c, "", 3, 2, 0), 0); /* [L = 3, C = 2] */
    randomize(&c, 21);
    uint64_t seed = 22;
    float x[24], y[24], dy[24], dparams[8];
    lc_fill(x, 24, &seed, -1, 4);
    lc_fill(dy, 24, &seed, -1, 1);
    for (int i = 0; i < 8; i++) {
        dparams[i] = 5.0f;
    }
    train_call(&c, x, y, dy, NULL, dparams, 4, 0.01f);
    for (size_t ch = 0; ch < 2; ch++) {
        double mean, var;
        stats_of(x, 0, 4, 3, 2, ch, &mean, &var);
        CU_ASSERT_DOUBLE_EQUAL(dparams[4 + ch], 5 + 0.04 * mean, 1e-6);
        CU_ASSERT_DOUBLE_EQUAL(dparams[6 + ch], 5 + 0.04 * var, 1e-6);
    }
    lc_destroy(&c);
}

/* update_state: moving = momentum * moving + (1 - momentum) * stats.
 * momentum 0.9: mean [1, -2] with stats [3, 4] gives [0.9 + 0.3, -1.8 +
 * 0.4] = [1.2, -1.4]; variance [1, 2] with stats [0.5, 12] gives [0.95,
 * 3]. The default momentum 0.99: mean 0 with stats 10 gives 0.1, variance 1
 * with stats 3 gives 1.02. gamma and beta are left alone. */
static void test_update_state(void)
{
    struct lc c;
    CU_ASSERT_EQUAL_FATAL(create(&c, "momentum = 0.9;", 2, 0, 0), 0);
    struct parts p = parts_of(&c);
    p.gamma[0] = 7, p.beta[1] = 8;
    p.mean[0] = 1, p.mean[1] = -2, p.var[0] = 1, p.var[1] = 2;
    const float stats[] = {3, 4, 0.5f, 12};
    c.p->update_state(c.st, c.params, stats);
    const float want[] = {1.2f, -1.4f, 0.95f, 3};
    for (int i = 0; i < 4; i++) {
        CU_ASSERT_DOUBLE_EQUAL(c.params[4 + i], want[i], 1e-6 * fabs(want[i]));
    }
    CU_ASSERT(p.gamma[0] == 7 && p.gamma[1] == 1 && p.beta[0] == 0 && p.beta[1] == 8);
    lc_destroy(&c);

    CU_ASSERT_EQUAL_FATAL(create(&c, "center = false;", 1, 0, 0), 0);
    const float stats1[] = {10, 3};
    c.p->update_state(c.st, c.params, stats1);
    CU_ASSERT_DOUBLE_EQUAL(c.params[1], 0.1, 1e-7);
    CU_ASSERT_DOUBLE_EQUAL(c.params[2], 1.02, 1e-6);
    CU_ASSERT_EQUAL(c.params[0], 1);
    lc_destroy(&c);
}

/* A step of 8 rows cut into micro-shards of 3 and 5 rows (scale 1 / 8
 * each, summed into one buffer as a thread does): the state part holds 3/8
 * of the first's statistics plus 5/8 of the second's, their average
 * weighted by rows; for halves of 4 and 4 the plain average. Ghost batch
 * norm: not the statistics of all 8 rows (the variance differs: the
 * spread between the micro-shards' means is not in it). */
static void test_micro_shards_average(void)
{
    struct lc c;
    CU_ASSERT_EQUAL_FATAL(create(&c, "", 2, 2, 3), 0); /* [2, 2, 3]: 4 values per row and channel */
    randomize(&c, 31);
    enum { PER = 4, C = 3, N = 8 * PER * C };
    uint64_t seed = 32;
    float x[N], y[N], dy[N];
    lc_fill(x, N, &seed, -2, 2);
    lc_fill(dy, N, &seed, -1, 1);
    for (int i = 0; i < N / 2; i++) {
        x[i] += 1.5f; /* the first half's means differ from the second's */
    }
    const size_t cuts[][2] = {{3, 5}, {4, 4}};
    for (int k = 0; k < 2; k++) {
        size_t b1 = cuts[k][0], b2 = cuts[k][1];
        float dparams[4 * C] = {0};
        train_call(&c, x, y, dy, NULL, dparams, b1, 1.0f / 8);
        train_call(&c, x + b1 * PER * C, y, dy, NULL, dparams, b2, 1.0f / 8);
        for (size_t ch = 0; ch < C; ch++) {
            double m1, v1, m2, v2, m_all, v_all;
            stats_of(x, 0, b1, PER, C, ch, &m1, &v1);
            stats_of(x, b1, b2, PER, C, ch, &m2, &v2);
            stats_of(x, 0, 8, PER, C, ch, &m_all, &v_all);
            double mean = (b1 * m1 + b2 * m2) / 8, var = (b1 * v1 + b2 * v2) / 8;
            CU_ASSERT_DOUBLE_EQUAL(dparams[2 * C + ch], mean, 1e-6);
            CU_ASSERT_DOUBLE_EQUAL(dparams[3 * C + ch], var, 1e-6);
            CU_ASSERT_DOUBLE_EQUAL(mean, m_all, 1e-6); /* the means' average is the mean */
            CU_ASSERT(v_all - var > 0.1);              /* the variances' is not the variance */
        }
    }
    lc_destroy(&c);
}

int main(void)
{
    if (CU_initialize_registry() != CUE_SUCCESS) {
        return 2;
    }
    CU_pSuite s = CU_add_suite("batch_norm", NULL, NULL);
    CU_add_test(s, "tensors, shapes and initial values", test_tensors);
    CU_add_test(s, "settings out of range are refused", test_refused_settings);
    CU_add_test(s, "inference: the moving statistics, by hand", test_inference_by_hand);
    CU_add_test(s, "training: the batch statistics, by hand", test_training_by_hand);
    CU_add_test(s, "one value per channel: y = beta, dx = 0", test_one_value_per_channel);
    CU_add_test(s, "forward against a double reference", test_against_reference);
    CU_add_test(s, "finite differences on [F], [L, C], [H, W, C]", test_gradients);
    CU_add_test(s, "backward adds scale * B * (mean, var) to the state", test_state_contract);
    CU_add_test(s, "update_state: Keras' momentum formula, by hand", test_update_state);
    CU_add_test(s, "micro-shards sum to the average of their statistics",
                test_micro_shards_average);
    return test_run_all();
}
