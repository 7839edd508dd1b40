/* Activation "tanh": y = tanh(x).
 *
 * Stateless; tanhf saturates to +-1 for large |x| without overflow.
 */
#include "config.h"

#include <dptrain/plugin.h>

#include <math.h>

/* y = tanh(x) over (rows, cols). */
static void tanh_forward(const void *state, const float *x, float *y, size_t rows, size_t cols)
{
    (void)state;
    for (size_t i = 0; i < rows * cols; i++) {
        y[i] = tanhf(x[i]);
    }
}

/* dx = dy * (1 - y^2), from the forward's output. */
static void tanh_backward(const void *state, const float *x, const float *y, const float *dy,
                          float *dx, size_t rows, size_t cols)
{
    (void)state, (void)x;
    for (size_t i = 0; i < rows * cols; i++) {
        dx[i] = dy[i] * (1.0f - y[i] * y[i]);
    }
}

static const struct dpt_activation_plugin tanh_act = {
    .base = DPT_PLUGIN_HEADER_CAPS(DPT_KIND_ACTIVATION, "tanh", "1.0.0", "hyperbolic tangent",
                                   DPT_CAP_DETERMINISTIC | DPT_CAP_WRITES_DX),
    .forward = tanh_forward,
    .backward = tanh_backward,
};

static const struct dpt_plugin *const all[] = {&tanh_act.base, NULL};

DPT_PLUGIN_EXPORT const struct dpt_plugin *const *dpt_plugins(void)
{
    return all;
}
