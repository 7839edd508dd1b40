/* A correct layer with kinks, "leaky" (y = leaky_relu(x W + b) on the last
 * axis, alpha = 0.1; "units" outputs, 16 by default; params [W (F, units) |
 * b (units)]; backward keeps dz in a workspace of B * positions * units
 * floats that forward does not touch), and mistakes of plugin authors that
 * `dptrain check-plugin` must catch on it, one per including file: each
 * file defines BROKEN_NAME and at most one LEAKY_* macro and includes this
 * header (tests/check_plugin_catches_mistakes.sh). Its bias feeds every
 * position of every row, so with inputs of shape [8, 8, 3] a step of 1e-2
 * in a bias crosses a kink of some output most of the time: the finite
 * differences must tell a kink from a wrong gradient. */
#include <dptrain/plugin.h>

#include <math.h>
#include <stdlib.h>

#define LEAKY_ALPHA 0.1f

struct leaky {
    size_t F, units, positions;
};

static int leaky_create(void **state, const struct dpt_host *host, const struct dpt_shape *in,
                        struct dpt_layer_info *info)
{
    int64_t units;
    int rc = host->get_int(host->ctx, "units", 16, 1, 1 << 16, &units);
    if (rc < 0) {
        return rc;
    }
    struct leaky *s = malloc(sizeof *s);
    if (!s) {
        return host->error(host->ctx, "out of memory");
    }
    s->F = in->dims[in->rank - 1];
    s->units = (size_t)units;
    s->positions = 1;
    for (uint32_t j = 0; j + 1 < in->rank; j++) {
        s->positions *= in->dims[j];
    }
    info->out = *in;
    info->out.dims[in->rank - 1] = s->units;
    info->n_params = s->F * s->units + s->units;
    info->n_state = 0;
    *state = s;
    return 0;
}

static void leaky_destroy(void *state)
{
    free(state);
}

static int leaky_tensor(const void *state, uint32_t i, struct dpt_tensor *t)
{
    const struct leaky *s = state;
    if (i == 0) {
        *t = (struct dpt_tensor){.name = "weight", .rank = 2, .shape = {s->F, s->units}};
        return 0;
    }
    if (i == 1) {
        *t = (struct dpt_tensor){.name = "bias", .rank = 1, .shape = {s->units},
                                 .offset = s->F * s->units};
        return 0;
    }
    return -1;
}

#ifndef LEAKY_NO_INIT
/* Glorot uniform weights, zero bias. */
static void leaky_init(const void *state, float *params, const struct dpt_host *host,
                       struct dpt_rng *rng)
{
    const struct leaky *s = state;
    double lim = sqrt(6.0 / (double)(s->F + s->units));
    for (size_t k = 0; k < s->F * s->units; k++) {
        params[k] = (float)((2.0 * host->rng_uniform(rng) - 1.0) * lim);
    }
    for (size_t j = 0; j < s->units; j++) {
        params[s->F * s->units + j] = 0.0f;
    }
}
#endif

static size_t leaky_workspace_bytes(const void *state, size_t B)
{
    const struct leaky *s = state;
#if defined(LEAKY_WS_SHORT)
    /* One float short: backward writes the last dz past the workspace. */
    return B * s->positions * s->units * sizeof(float) - sizeof(float);
#elif defined(LEAKY_WS_NONE_AT_1)
    /* Nothing for B = 1: backward then writes through a NULL workspace. */
    return (B - 1) * s->positions * s->units * sizeof(float);
#else
    return B * s->positions * s->units * sizeof(float);
#endif
}

static void leaky_forward(const void *state, const float *params, const float *x, float *y,
                          const struct dpt_batch *b)
{
    const struct leaky *s = state;
    const float *W = params, *bias = params + s->F * s->units;
    size_t G = b->B * s->positions, F = s->F, U = s->units;
    for (size_t g = 0; g < G; g++) {
        for (size_t j = 0; j < U; j++) {
            float z = bias[j];
            for (size_t i = 0; i < F; i++) {
                z += x[g * F + i] * W[i * U + j];
            }
            y[g * U + j] = z > 0 ? z : LEAKY_ALPHA * z;
        }
    }
}

static void leaky_backward(const void *state, const float *params, const float *x,
                           const float *y, const float *dy, float *dx, float *dparams,
                           const struct dpt_batch *b)
{
    const struct leaky *s = state;
    const float *W = params;
    size_t G = b->B * s->positions, F = s->F, U = s->units;
    float *dz = b->ws;
    for (size_t k = 0; k < G * U; k++) {
#ifdef LEAKY_NO_SLOPE
        (void)y;
        dz[k] = dy[k]; /* the slope alpha below the kink forgotten */
#else
        dz[k] = y[k] > 0 ? dy[k] : LEAKY_ALPHA * dy[k];
#endif
    }
    float *dW = dparams, *db = dparams + F * U;
    for (size_t i = 0; i < F; i++) {
        for (size_t j = 0; j < U; j++) {
            double acc = 0;
            for (size_t g = 0; g < G; g++) {
                acc += (double)x[g * F + i] * dz[g * U + j];
            }
#ifdef LEAKY_ASSIGN
            dW[i * U + j] = (float)acc;
#else
            dW[i * U + j] += (float)acc;
#endif
        }
    }
    for (size_t j = 0; j < U; j++) {
        double acc = 0;
        for (size_t g = 0; g < G; g++) {
            acc += dz[g * U + j];
        }
#ifdef LEAKY_BIAS_SIGN
        db[j] -= (float)acc;
#else
        db[j] += (float)acc;
#endif
    }
    for (size_t g = 0; dx && g < G; g++) {
        for (size_t i = 0; i < F; i++) {
            float acc = 0;
            for (size_t j = 0; j < U; j++) {
                acc += W[i * U + j] * dz[g * U + j];
            }
            dx[g * F + i] += acc;
        }
    }
}

static const struct dpt_layer_plugin leaky = {
    .base = DPT_PLUGIN_HEADER(DPT_KIND_LAYER, BROKEN_NAME, "1.0.0",
                              "leaky_relu(x W + b) on the last axis"),
    .create = leaky_create,
    .destroy = leaky_destroy,
    .tensor = leaky_tensor,
#ifndef LEAKY_NO_INIT
    .init = leaky_init,
#endif
    .workspace_bytes = leaky_workspace_bytes,
    .forward = leaky_forward,
    .backward = leaky_backward,
};

static const struct dpt_plugin *const all[] = {&leaky.base, NULL};
DPT_PLUGIN_EXPORT const struct dpt_plugin *const *dpt_plugins(void)
{
    return all;
}
