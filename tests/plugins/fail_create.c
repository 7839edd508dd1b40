/* Test plugin: a layer whose create() always fails with a message. */
#include <dptrain/plugin.h>

static int create(void **state, const struct dpt_host *host, uint64_t n_in,
                  struct dpt_layer_shape *shape)
{
    (void)state, (void)shape;
    return host->error(host->ctx, "refusing inputs of width %llu on purpose",
                       (unsigned long long)n_in);
}

static void destroy(void *state)
{
    (void)state;
}

static void init(const void *st, float *params, const struct dpt_host *host, struct dpt_rng *rng)
{
    (void)st, (void)params, (void)host, (void)rng;
}

static void fwd(const void *st, const float *params, const float *x, float *y, size_t B, void *ws)
{
    (void)st, (void)params, (void)x, (void)y, (void)B, (void)ws;
}

static void bwd(const void *st, const float *params, const float *x, const float *y,
                const float *dy, float *dx, float *dparams, size_t B, void *ws)
{
    (void)st, (void)params, (void)x, (void)y, (void)dy, (void)dx, (void)dparams, (void)B,
        (void)ws;
}

static const struct dpt_layer_plugin failing = {
    .base = DPT_PLUGIN_HEADER(DPT_KIND_LAYER, "failing", "1.0.0", "create() always fails"),
    .create = create,
    .destroy = destroy,
    .init = init,
    .forward = fwd,
    .backward = bwd,
};
static const struct dpt_plugin *const all[] = {&failing.base, NULL};
DPT_PLUGIN_EXPORT const struct dpt_plugin *const *dpt_plugins(void)
{
    return all;
}
