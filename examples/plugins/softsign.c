/* softsign: an activation plugin built outside dptrain's tree, against the
 * installed header alone; the smallest template (docs/PLUGINS.md; a layer
 * is channel_scale.c, a loss huber.c). y = x / (1 + |x|), dy/dx =
 * 1 / (1 + |x|)^2. Stateless: no create, so state is NULL.
 *
 * Build:  make   (or: cc -O2 -fPIC -shared $(pkg-config --cflags dptrain)
 *                     softsign.c -o softsign.so -lm)
 * Use:    dptrain train softsign.cfg --plugin-path .   (activation = "softsign")
 */
#include <dptrain/plugin.h>
#include <math.h>

/* y = x / (1 + |x|), elementwise over (rows, cols). */
static void softsign_forward(const void *state, const float *x, float *y, size_t rows,
                             size_t cols)
{
    (void)state;
    for (size_t i = 0; i < rows * cols; i++) {
        y[i] = x[i] / (1.0f + fabsf(x[i]));
    }
}

/* dx += dy / (1 + |x|)^2 (accumulates, as the ABI asks). */
static void softsign_backward(const void *state, const float *x, const float *y,
                              const float *dy, float *dx, size_t rows, size_t cols)
{
    (void)state, (void)y;
    for (size_t i = 0; i < rows * cols; i++) {
        float d = 1.0f + fabsf(x[i]);
        dx[i] += dy[i] / (d * d);
    }
}

static const struct dpt_activation_plugin softsign = {
    .base = DPT_PLUGIN_HEADER(DPT_KIND_ACTIVATION, "softsign", "1.0.0",
                              "x / (1 + |x|) (example out-of-tree plugin)"),
    .forward = softsign_forward,
    .backward = softsign_backward,
};

static const struct dpt_plugin *const all[] = {&softsign.base, NULL};

DPT_PLUGIN_EXPORT const struct dpt_plugin *const *dpt_plugins(void)
{
    return all;
}
