/* A small correct layer, "scale" (y = w * x + b per feature, any input
 * shape, params [w (n) | b (n)], a workspace of B * n floats), and the
 * mistakes of plugin authors that `dptrain check-plugin` must catch, one
 * per including file: each file defines BROKEN_NAME and one BROKEN_* macro
 * and includes this header (tests/check_plugin_catches_mistakes.sh). */
#include <dptrain/plugin.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

#ifndef BROKEN_CAPS
#define BROKEN_CAPS DPT_CAP_DETERMINISTIC
#endif

struct scale {
    size_t n;
};

static int scale_create(void **state, const struct dpt_host *host, const struct dpt_shape *in,
                        struct dpt_layer_info *info)
{
    struct scale *s = malloc(sizeof *s);
    if (!s) {
        return host->error(host->ctx, "out of memory");
    }
    s->n = 1;
    for (uint32_t j = 0; j < in->rank; j++) {
        s->n *= in->dims[j];
    }
    *info = (struct dpt_layer_info){.out = *in, .n_params = 2 * s->n};
    *state = s;
    return 0;
}

static void scale_destroy(void *state)
{
    free(state);
}

static int scale_tensor(const void *state, uint32_t i, struct dpt_tensor *t)
{
    const struct scale *s = state;
    if (i > 1) {
        return -1;
    }
    *t = (struct dpt_tensor){.name = i ? "bias" : "weight", .rank = 1, .shape = {s->n},
                             .offset = i ? s->n : 0};
#ifdef BROKEN_TENSORS
    /* The bias is said to start one float early: the tensors overlap. */
    t->offset = i ? s->n - 1 : 0;
#endif
    return 0;
}

static void scale_init(const void *state, float *params, const struct dpt_host *host,
                       struct dpt_rng *rng)
{
    const struct scale *s = state;
    for (size_t i = 0; i < s->n; i++) {
        params[i] = (float)host->rng_uniform(rng) + 0.5f;
        params[s->n + i] = 0.0f;
    }
}

static size_t scale_workspace_bytes(const void *state, size_t B)
{
    const struct scale *s = state;
    return B * s->n * sizeof(float);
}

#ifdef BROKEN_GLOBAL
static const float *last_x; /* the mistake: state shared by every instance */
#endif

static void scale_forward(const void *state, const float *params, const float *x, float *y,
                          const struct dpt_batch *b)
{
    const struct scale *s = state;
    float *ws = b->ws;
    size_t count = b->B * s->n;
#ifdef BROKEN_UNWRITTEN
    /* Inference skips the last output. */
    count -= !b->training;
#endif
    for (size_t i = 0; i < count; i++) {
        size_t j = i % s->n;
        ws[i] = params[j] * x[i];
        y[i] = ws[i] + params[s->n + j];
    }
#ifdef BROKEN_PAST_OUTPUT
    y[b->B * s->n] = 0.0f;
#endif
#ifdef BROKEN_PAST_WORKSPACE
    ws[b->B * s->n] = 0.0f;
#endif
#ifdef BROKEN_GLOBAL
    last_x = x;
#endif
}

static void scale_backward(const void *state, const float *params, const float *x,
                           const float *y, const float *dy, float *dx, float *dparams,
                           const struct dpt_batch *b)
{
    (void)y;
    const struct scale *s = state;
#ifdef BROKEN_GLOBAL
    x = last_x;
#endif
#ifdef BROKEN_ZERO_DPARAMS
    memset(dparams, 0, 2 * s->n * sizeof *dparams);
#endif
    for (size_t i = 0; i < b->B * s->n; i++) {
        size_t j = i % s->n;
        if (dx) {
#if defined(BROKEN_SIGN)
            dx[i] -= params[j] * dy[i];
#else
            dx[i] += params[j] * dy[i];
#endif
        }
    }
    for (size_t j = 0; j < s->n; j++) {
        float dw = 0.0f, db = 0.0f;
        for (size_t r = 0; r < b->B; r++) {
            dw += x[r * s->n + j] * dy[r * s->n + j];
            db += dy[r * s->n + j];
        }
#ifdef BROKEN_ASSIGN_DPARAMS
        dparams[j] = dw;
        dparams[s->n + j] = db;
#else
        dparams[j] += dw;
        dparams[s->n + j] += db;
#endif
    }
#ifdef BROKEN_NAN
    dparams[0] += sqrtf(-1.0f - fabsf(dy[0])); /* NaN from finite inputs */
#endif
}

static const struct dpt_layer_plugin broken = {
    .base = DPT_PLUGIN_HEADER_CAPS(DPT_KIND_LAYER, BROKEN_NAME, "1.0.0",
                                   "a layer with one deliberate mistake", BROKEN_CAPS),
    .create = scale_create,
    .destroy = scale_destroy,
    .tensor = scale_tensor,
    .init = scale_init,
    .workspace_bytes = scale_workspace_bytes,
    .forward = scale_forward,
    .backward = scale_backward,
};

static const struct dpt_plugin *const all[] = {&broken.base, NULL};
DPT_PLUGIN_EXPORT const struct dpt_plugin *const *dpt_plugins(void)
{
    return all;
}
