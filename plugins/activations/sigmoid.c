/* Activation "sigmoid": y = 1 / (1 + exp(-x)).
 *
 * Stateless and stable for any x: exp is only taken of -|x|, so it never
 * overflows, and y saturates to exactly 0 or 1 for large |x| without NaN.
 * With loss "bce" the host skips this activation in training and the loss
 * works on the logits (see plugins/losses/bce.c).
 */
#include "config.h"

#include <dptrain/plugin.h>

#include <math.h>

/* y = sigmoid(x) over (rows, cols). */
static void sigmoid_forward(const void *state, const float *x, float *y, size_t rows,
                            size_t cols)
{
    (void)state;
    for (size_t i = 0; i < rows * cols; i++) {
        /* e = exp(-|x|) is in (0, 1]: 1 / (1 + e) for x >= 0, e / (1 + e) below. */
        float e = expf(-fabsf(x[i]));
        y[i] = x[i] >= 0.0f ? 1.0f / (1.0f + e) : e / (1.0f + e);
    }
}

/* dx = dy * y * (1 - y), from the forward's output. */
static void sigmoid_backward(const void *state, const float *x, const float *y,
                             const float *dy, float *dx, size_t rows, size_t cols)
{
    (void)state, (void)x;
    for (size_t i = 0; i < rows * cols; i++) {
        dx[i] = dy[i] * y[i] * (1.0f - y[i]);
    }
}

static const struct dpt_activation_plugin sigmoid = {
    .base = DPT_PLUGIN_HEADER_CAPS(DPT_KIND_ACTIVATION, "sigmoid", "1.0.0",
                                   "logistic function, y = 1 / (1 + exp(-x))",
                                   DPT_CAP_DETERMINISTIC | DPT_CAP_WRITES_DX),
    .forward = sigmoid_forward,
    .backward = sigmoid_backward,
};

static const struct dpt_plugin *const all[] = {&sigmoid.base, NULL};

DPT_PLUGIN_EXPORT const struct dpt_plugin *const *dpt_plugins(void)
{
    return all;
}
