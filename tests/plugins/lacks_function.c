/* Test plugin: two layers that each lack a required function, for the
 * messages that name it (tests/lacks_function_named.sh). Built twice:
 * with -DLACK_BACKWARD the descriptor has no backward (the loader refuses
 * the file); without it the layer has a parameter but no init (refused
 * when the model is built). */
#include <dptrain/plugin.h>

#include <stdlib.h>

static int lack_create(void **state, const struct dpt_host *host, const struct dpt_shape *in,
                       struct dpt_layer_info *info)
{
    (void)host;
    *info = (struct dpt_layer_info){.out = *in, .n_params = 1};
    *state = malloc(1);
    return 0;
}

static void lack_destroy(void *state)
{
    free(state);
}

static void lack_forward(const void *st, const float *params, const float *x, float *y,
                         const struct dpt_batch *b)
{
    (void)st, (void)params, (void)x, (void)y, (void)b;
}

#if !LACK_BACKWARD
static void lack_backward(const void *st, const float *params, const float *x, const float *y,
                          const float *dy, float *dx, float *dparams, const struct dpt_batch *b)
{
    (void)st, (void)params, (void)x, (void)y, (void)dy, (void)dx, (void)dparams, (void)b;
}
#endif

static const struct dpt_layer_plugin lacking = {
#if LACK_BACKWARD
    .base = DPT_PLUGIN_HEADER(DPT_KIND_LAYER, "lacks_backward", "1.0.0", "has no backward"),
#else
    .base = DPT_PLUGIN_HEADER(DPT_KIND_LAYER, "lacks_init", "1.0.0", "parameters, no init"),
    .backward = lack_backward,
#endif
    .create = lack_create,
    .destroy = lack_destroy,
    .forward = lack_forward,
};
static const struct dpt_plugin *const all[] = {&lacking.base, NULL};
DPT_PLUGIN_EXPORT const struct dpt_plugin *const *dpt_plugins(void)
{
    return all;
}
