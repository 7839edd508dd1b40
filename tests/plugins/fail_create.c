/* Test plugin: a layer whose create() always fails with a message. It
 * sets *state before failing, and its destroy() aborts: the host never
 * destroys an instance whose create failed (docs/PLUGINS.md, "The life
 * cycle of an instance"), and the tests that build a network with it
 * (tests/test_loader.c, "a failing create() reports its message") or check
 * it with check-plugin (tests/plugin_path_entries.sh) would crash if it did. */
#include <dptrain/plugin.h>

#include <stdlib.h>

static int create(void **state, const struct dpt_host *host, const struct dpt_shape *in,
                  struct dpt_layer_info *info)
{
    (void)info;
    *state = (void *)host; /* not an instance: nothing the host may destroy */
    return host->error(host->ctx, "refusing inputs of width %llu on purpose",
                       (unsigned long long)in->dims[in->rank - 1]);
}

static void destroy(void *state)
{
    (void)state;
    abort();
}

static void fwd(const void *st, const float *params, const float *x, float *y,
                const struct dpt_batch *b)
{
    (void)st, (void)params, (void)x, (void)y, (void)b;
}

static void bwd(const void *st, const float *params, const float *x, const float *y,
                const float *dy, float *dx, float *dparams, const struct dpt_batch *b)
{
    (void)st, (void)params, (void)x, (void)y, (void)dy, (void)dx, (void)dparams, (void)b;
}

static const struct dpt_layer_plugin failing = {
    .base = DPT_PLUGIN_HEADER(DPT_KIND_LAYER, "failing", "1.0.0", "create() always fails"),
    .create = create,
    .destroy = destroy,
    .forward = fwd,
    .backward = bwd,
};
static const struct dpt_plugin *const all[] = {&failing.base, NULL};
DPT_PLUGIN_EXPORT const struct dpt_plugin *const *dpt_plugins(void)
{
    return all;
}
