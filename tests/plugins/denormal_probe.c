/* Test plugin: a layer y = x that makes every output NaN when the thread
 * running it keeps subnormal floats, for tests/denormals_flushed.sh. dptrain
 * flushes them (src/util/util.c, dpt__flush_denormals) in every thread that
 * runs a plugin, unless DPTRAIN_KEEP_DENORMALS is set. Two probes: the
 * product of two small normal floats, subnormal unless results are flushed
 * (FTZ), and a subnormal times one, itself unless inputs read as zero (DAZ).
 * Both through volatiles, so that the compiler cannot fold them. */
#include <dptrain/plugin.h>

#include <math.h>
#include <stdlib.h>

static volatile float small = 1e-20f, subnormal = 1e-40f, one = 1.0f;

static int kept(void)
{
    float a = small * small, b = subnormal * one;
    return a != 0.0f || b != 0.0f;
}

static int probe_create(void **state, const struct dpt_host *host, const struct dpt_shape *in,
                        struct dpt_layer_info *info)
{
    size_t *n = malloc(sizeof *n);
    if (!n) {
        return host->error(host->ctx, "out of memory");
    }
    *n = 1;
    for (uint32_t i = 0; i < in->rank; i++) {
        *n *= in->dims[i];
    }
    *info = (struct dpt_layer_info){.out = *in, .n_params = 0};
    *state = n;
    return 0;
}

static void probe_destroy(void *state)
{
    free(state);
}

static void probe_forward(const void *st, const float *params, const float *x, float *y,
                          const struct dpt_batch *b)
{
    const size_t n = *(const size_t *)st * b->B;
    const float bad = kept() ? nanf("") : 0.0f;
    (void)params;
    for (size_t i = 0; i < n; i++) {
        y[i] = x[i] + bad;
    }
}

static void probe_backward(const void *st, const float *params, const float *x, const float *y,
                           const float *dy, float *dx, float *dparams, const struct dpt_batch *b)
{
    const size_t n = *(const size_t *)st * b->B;
    const float bad = kept() ? nanf("") : 0.0f;
    (void)params, (void)x, (void)y, (void)dparams;
    for (size_t i = 0; dx && i < n; i++) {
        dx[i] += dy[i] + bad;
    }
}

static const struct dpt_layer_plugin probe = {
    .base = DPT_PLUGIN_HEADER(DPT_KIND_LAYER, "denormal_probe", "1.0.0",
                              "y = x; NaN when subnormal floats are not flushed"),
    .create = probe_create,
    .destroy = probe_destroy,
    .forward = probe_forward,
    .backward = probe_backward,
};
static const struct dpt_plugin *const all[] = {&probe.base, NULL};
DPT_PLUGIN_EXPORT const struct dpt_plugin *const *dpt_plugins(void)
{
    return all;
}
