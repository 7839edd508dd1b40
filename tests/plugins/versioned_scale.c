/* Test plugin: one layer, "vscale" (y = w * x per feature, plus a bias b in
 * some builds), compiled several times with another version string, for
 * tests/plugin_version_recorded.sh: a model written with one build and
 * loaded with another shows what dptrain does when a layer's plugin
 * changed version.
 *
 * Build macros (Makefile.am, ### Tests):
 *   VSCALE_VERSION  the descriptor's version string, e.g. "1.0.0"
 *   VSCALE_BIAS     1: params [w (n) | b (n)]; 0: params [w (n)] only
 *   VSCALE_ROW      1: w is stored as a [1, n] tensor instead of [n] (the
 *                   same parameter count in another shape)
 * Every build draws w the same way, so builds of the same layout train
 * the same weights from the same seed.
 */
#include <dptrain/plugin.h>

#include <stdlib.h>

#ifndef VSCALE_VERSION
#error "define VSCALE_VERSION, the plugin's version string"
#endif
#ifndef VSCALE_BIAS
#define VSCALE_BIAS 0
#endif
#ifndef VSCALE_ROW
#define VSCALE_ROW 0
#endif

struct vscale {
    size_t n; /* floats per sample */
};

static int vscale_create(void **state, const struct dpt_host *host, const struct dpt_shape *in,
                         struct dpt_layer_info *info)
{
    struct vscale *s = malloc(sizeof *s);
    if (!s) {
        return host->error(host->ctx, "out of memory");
    }
    s->n = 1;
    for (uint32_t j = 0; j < in->rank; j++) {
        s->n *= in->dims[j];
    }
    *info = (struct dpt_layer_info){.out = *in, .n_params = (1 + VSCALE_BIAS) * s->n};
    *state = s;
    return 0;
}

static void vscale_destroy(void *state)
{
    free(state);
}

static int vscale_tensor(const void *state, uint32_t i, struct dpt_tensor *t)
{
    const struct vscale *s = state;
    if (i == 0 && VSCALE_ROW) {
        *t = (struct dpt_tensor){.name = "weight", .rank = 2, .shape = {1, s->n}, .offset = 0};
    } else if (i == 0) {
        *t = (struct dpt_tensor){.name = "weight", .rank = 1, .shape = {s->n}, .offset = 0};
    } else if (i == 1 && VSCALE_BIAS) {
        *t = (struct dpt_tensor){.name = "bias", .rank = 1, .shape = {s->n}, .offset = s->n};
    } else {
        return -1;
    }
    return 0;
}

static void vscale_init(const void *state, float *params, const struct dpt_host *host,
                        struct dpt_rng *rng)
{
    const struct vscale *s = state;
    for (size_t j = 0; j < s->n; j++) {
        params[j] = (float)host->rng_uniform(rng) + 0.5f;
    }
    for (size_t j = 0; VSCALE_BIAS && j < s->n; j++) {
        params[s->n + j] = 0.0f;
    }
}

// x and y are (B, n); params = [w (n) | b (n), with VSCALE_BIAS].
static void vscale_forward(const void *state, const float *params, const float *x, float *y,
                           const struct dpt_batch *b)
{
    const struct vscale *s = state;
    for (size_t i = 0; i < b->B * s->n; i++) {
        size_t j = i % s->n;
        y[i] = params[j] * x[i] + (VSCALE_BIAS ? params[s->n + j] : 0.0f);
    }
}

// Same shapes; adds into dx and dparams.
static void vscale_backward(const void *state, const float *params, const float *x,
                            const float *y, const float *dy, float *dx, float *dparams,
                            const struct dpt_batch *b)
{
    const struct vscale *s = state;
    (void)y;
    for (size_t i = 0; dx && i < b->B * s->n; i++) {
        dx[i] += params[i % s->n] * dy[i];
    }
    for (size_t j = 0; j < s->n; j++) {
        float dw = 0.0f, db = 0.0f;
        for (size_t r = 0; r < b->B; r++) {
            dw += x[r * s->n + j] * dy[r * s->n + j];
            db += dy[r * s->n + j];
        }
        dparams[j] += dw;
        if (VSCALE_BIAS) {
            dparams[s->n + j] += db;
        }
    }
}

static const struct dpt_layer_plugin vscale = {
    .base = DPT_PLUGIN_HEADER(DPT_KIND_LAYER, "vscale", VSCALE_VERSION,
                              "y = w * x per feature; built in several versions"),
    .create = vscale_create,
    .destroy = vscale_destroy,
    .tensor = vscale_tensor,
    .init = vscale_init,
    .forward = vscale_forward,
    .backward = vscale_backward,
};
static const struct dpt_plugin *const all[] = {&vscale.base, NULL};
DPT_PLUGIN_EXPORT const struct dpt_plugin *const *dpt_plugins(void)
{
    return all;
}
