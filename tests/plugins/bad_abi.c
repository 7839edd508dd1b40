/* Test plugin: claims a plugin ABI major version this dptrain does not speak. */
#include <dptrain/plugin.h>

static void fwd(const void *st, const float *x, float *y, size_t rows, size_t cols)
{
    (void)st;
    for (size_t i = 0; i < rows * cols; i++) {
        y[i] = x[i];
    }
}

static void bwd(const void *st, const float *x, const float *y, const float *dy, float *dx,
                size_t rows, size_t cols)
{
    (void)st, (void)x, (void)y;
    for (size_t i = 0; i < rows * cols; i++) {
        dx[i] += dy[i];
    }
}

static const struct dpt_activation_plugin future = {
    .base = {.abi_major = DPT_ABI_MAJOR + 1, .abi_minor = 0, .kind = DPT_KIND_ACTIVATION,
             .name = "future", .version = "9.0.0", .summary = "from a newer dptrain"},
    .forward = fwd,
    .backward = bwd,
};
static const struct dpt_plugin *const all[] = {&future.base, NULL};
DPT_PLUGIN_EXPORT const struct dpt_plugin *const *dpt_plugins(void)
{
    return all;
}
