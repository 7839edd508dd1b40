/* Activation "relu": y = max(x, 0).
 *
 * Stateless. The derivative at x = 0 is taken as 0 (as Keras and PyTorch
 * do); a NaN input gives y = 0 and no gradient. Left out: leaky and
 * clipped variants. DPT_CAP_IS_RELU: a layer before it that can apply
 * relu itself (conv2d, conv1d) does so, and this node is skipped.
 */
#include "config.h"

#include <dptrain/plugin.h>

/* y = max(x, 0) over (rows, cols). */
DPT_VECTORIZE
static void relu_forward(const void *state, const float *x, float *y, size_t rows, size_t cols)
{
    (void)state;
    for (size_t i = 0; i < rows * cols; i++) {
        y[i] = x[i] > 0.0f ? x[i] : 0.0f;
    }
}

/* dx = dy where x > 0. */
DPT_VECTORIZE
static void relu_backward(const void *state, const float *x, const float *y, const float *dy,
                          float *dx, size_t rows, size_t cols)
{
    (void)state, (void)y;
    for (size_t i = 0; i < rows * cols; i++) {
        float g = dy[i]; /* loaded whatever x is, so the loop vectorizes */
        dx[i] = x[i] > 0.0f ? g : 0.0f;
    }
}

static const struct dpt_activation_plugin relu = {
    .base = DPT_PLUGIN_HEADER_CAPS(DPT_KIND_ACTIVATION, "relu", "1.0.0",
                                   "rectified linear unit, y = max(x, 0)",
                                   DPT_CAP_DETERMINISTIC | DPT_CAP_WRITES_DX |
                                       DPT_CAP_IS_RELU),
    .forward = relu_forward,
    .backward = relu_backward,
};

static const struct dpt_plugin *const all[] = {&relu.base, NULL};

DPT_PLUGIN_EXPORT const struct dpt_plugin *const *dpt_plugins(void)
{
    return all;
}
