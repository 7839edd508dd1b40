/* Activation "linear": the identity, y = x.
 *
 * Useful as an explicit "no activation" (regression outputs). Stateless;
 * forward copies, backward adds dy into dx unchanged.
 */
#include "config.h"

#include <dptrain/plugin.h>

/* y = x over (rows, cols). */
static void linear_forward(const void *state, const float *x, float *y, size_t rows,
                           size_t cols)
{
    (void)state;
    for (size_t i = 0; i < rows * cols; i++) {
        y[i] = x[i];
    }
}

/* dx = dy: the derivative is 1 everywhere. */
static void linear_backward(const void *state, const float *x, const float *y,
                            const float *dy, float *dx, size_t rows, size_t cols)
{
    (void)state, (void)x, (void)y;
    for (size_t i = 0; i < rows * cols; i++) {
        dx[i] = dy[i];
    }
}

static const struct dpt_activation_plugin linear = {
    .base = DPT_PLUGIN_HEADER_CAPS(DPT_KIND_ACTIVATION, "linear", "1.0.0", "identity, y = x",
                                   DPT_CAP_DETERMINISTIC | DPT_CAP_WRITES_DX),
    .forward = linear_forward,
    .backward = linear_backward,
};

static const struct dpt_plugin *const all[] = {&linear.base, NULL};

DPT_PLUGIN_EXPORT const struct dpt_plugin *const *dpt_plugins(void)
{
    return all;
}
