/* Test plugin: a layer y = w * x (one parameter w, initially 1) whose
 * backward produces a NaN from finite inputs once training reaches a given
 * step, for the test of the message that names the layer
 * (tests/nan_gradient_names_layer.sh).
 *
 * Settings: "epoch" and "step" (0-based, default 0 and 2): the first training
 * step whose backward is broken; every later one is broken too, so that the
 * host's diagnosis pass, which re-runs the step, sees the same NaN.
 * "where" is "dparams" (the gradient of w), "dx" (the gradient passed to
 * the layer below) or "y" (forward's output, which makes the loss NaN). "from_sample" (default 0): only micro-shards whose first
 * row is at least this far into the epoch's order are broken, so that a test
 * on several ranks can break only one rank's rows. */
#include <dptrain/plugin.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

struct nan_at_step {
    int64_t epoch, step, from_sample;
    int in_dx; /* 1: the NaN goes into dx; 0: into dparams */
    int in_y;  /* 1: into forward's y instead */
    size_t n;  /* floats per sample */
};

static int nan_create(void **state, const struct dpt_host *host, const struct dpt_shape *in,
                      struct dpt_layer_info *info)
{
    struct nan_at_step *s = calloc(1, sizeof *s);
    static const char *const wheres[] = {"dparams", "dx", "y", NULL};
    const char *where = NULL;
    if (!s) {
        return host->error(host->ctx, "out of memory");
    }
    int rc = host->get_int(host->ctx, "epoch", 0, 0, 1000000, &s->epoch);
    if (rc >= 0) {
        rc = host->get_int(host->ctx, "step", 2, 0, 1000000000, &s->step);
    }
    if (rc >= 0) {
        rc = host->get_int(host->ctx, "from_sample", 0, 0, INT64_MAX, &s->from_sample);
    }
    if (rc >= 0) {
        rc = host->get_string(host->ctx, "where", "dparams", wheres, &where);
    }
    if (rc < 0) {
        free(s);
        return rc;
    }
    s->in_dx = strcmp(where, "dx") == 0;
    s->in_y = strcmp(where, "y") == 0;
    s->n = 1;
    for (uint32_t i = 0; i < in->rank; i++) {
        s->n *= in->dims[i];
    }
    *info = (struct dpt_layer_info){.out = *in, .n_params = 1};
    *state = s;
    return 0;
}

static void nan_destroy(void *state)
{
    free(state);
}

static void nan_init(const void *st, float *params, const struct dpt_host *host,
                     struct dpt_rng *rng)
{
    (void)st, (void)host, (void)rng;
    params[0] = 1.0f;
}

static int nan_broken(const struct nan_at_step *s, const struct dpt_batch *b)
{
    int broken = b->epoch > (uint64_t)s->epoch ||
                 (b->epoch == (uint64_t)s->epoch && b->step >= (uint64_t)s->step);
    return broken && b->first_sample >= (uint64_t)s->from_sample;
}

static void nan_forward(const void *st, const float *params, const float *x, float *y,
                        const struct dpt_batch *b)
{
    const struct nan_at_step *s = st;
    for (size_t i = 0; i < b->B * s->n; i++) {
        y[i] = params[0] * x[i];
    }
    if (s->in_y && b->training && nan_broken(s, b)) {
        y[0] = nanf("");
    }
}

static void nan_backward(const void *st, const float *params, const float *x, const float *y,
                         const float *dy, float *dx, float *dparams, const struct dpt_batch *b)
{
    const struct nan_at_step *s = st;
    (void)y;
    float dw = 0;
    for (size_t i = 0; i < b->B * s->n; i++) {
        dw += dy[i] * x[i];
        if (dx) {
            dx[i] += params[0] * dy[i];
        }
    }
    int broken = !s->in_y && nan_broken(s, b);
    if (broken && s->in_dx && dx) {
        /* Every element: a relu below passes none of dy where its input
         * was negative, and would hide a single NaN. */
        for (size_t i = 0; i < b->B * s->n; i++) {
            dx[i] = nanf("");
        }
    } else if (broken && !s->in_dx) {
        dw = nanf("");
    }
    dparams[0] += dw;
}

static const struct dpt_layer_plugin nan_at_step = {
    .base = DPT_PLUGIN_HEADER(DPT_KIND_LAYER, "nan_at_step", "1.0.0",
                              "y = w * x; backward makes a NaN from a given step on"),
    .create = nan_create,
    .destroy = nan_destroy,
    .init = nan_init,
    .forward = nan_forward,
    .backward = nan_backward,
};
static const struct dpt_plugin *const all[] = {&nan_at_step.base, NULL};
DPT_PLUGIN_EXPORT const struct dpt_plugin *const *dpt_plugins(void)
{
    return all;
}
