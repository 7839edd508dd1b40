/* Test plugin: a second activation named "relu", clashing with the built-in. */
#include <dptrain/plugin.h>

static void fwd(const void *st, const float *x, float *y, size_t rows, size_t cols)
{
    (void)st;
    for (size_t i = 0; i < rows * cols; i++) {
        y[i] = x[i] > 0 ? x[i] : 0;
    }
}

static void bwd(const void *st, const float *x, const float *y, const float *dy, float *dx,
                size_t rows, size_t cols)
{
    (void)st, (void)y;
    for (size_t i = 0; i < rows * cols; i++) {
        dx[i] += x[i] > 0 ? dy[i] : 0;
    }
}

static const struct dpt_activation_plugin relu = {
    .base = DPT_PLUGIN_HEADER(DPT_KIND_ACTIVATION, "relu", "0.0.1", "a clashing relu"),
    .forward = fwd,
    .backward = bwd,
};
static const struct dpt_plugin *const all[] = {&relu.base, NULL};
DPT_PLUGIN_EXPORT const struct dpt_plugin *const *dpt_plugins(void)
{
    return all;
}
