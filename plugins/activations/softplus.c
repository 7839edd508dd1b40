/* Activation "softplus": y = log(1 + exp(x)).
 *
 * Stateless and stable for any x: computed as max(x, 0) + log1p(exp(-|x|)),
 * so exp never overflows (its argument is <= 0) and log1p keeps the small
 * term's digits: y = x exactly for large x and y = exp(x) > 0 (down to
 * float underflow) for very negative x, where the naive form gives inf or
 * 0. The derivative is sigmoid(x), taken the same stable way. Left out:
 * PyTorch's beta and threshold settings (Keras has neither).
 */
#include "config.h"

#include <dptrain/plugin.h>

#include <math.h>

/* y = max(x, 0) + log1p(exp(-|x|)) over (rows, cols). */
static void softplus_forward(const void *state, const float *x, float *y, size_t rows,
                             size_t cols)
{
    (void)state;
    for (size_t i = 0; i < rows * cols; i++) {
        y[i] = fmaxf(x[i], 0.0f) + log1pf(expf(-fabsf(x[i])));
    }
}

/* dx = dy * sigmoid(x). The output cannot give sigmoid(x) precisely
 * (1 - exp(-y) cancels for very negative x), so it is taken from x. */
static void softplus_backward(const void *state, const float *x, const float *y,
                              const float *dy, float *dx, size_t rows, size_t cols)
{
    (void)state, (void)y;
    for (size_t i = 0; i < rows * cols; i++) {
        float e = expf(-fabsf(x[i]));
        float s = x[i] >= 0.0f ? 1.0f / (1.0f + e) : e / (1.0f + e);
        dx[i] = dy[i] * s;
    }
}

static const struct dpt_activation_plugin softplus = {
    .base = DPT_PLUGIN_HEADER_CAPS(DPT_KIND_ACTIVATION, "softplus", "1.0.0",
                                   "smooth rectifier, y = log(1 + exp(x))",
                                   DPT_CAP_DETERMINISTIC | DPT_CAP_WRITES_DX),
    .forward = softplus_forward,
    .backward = softplus_backward,
};

static const struct dpt_plugin *const all[] = {&softplus.base, NULL};

DPT_PLUGIN_EXPORT const struct dpt_plugin *const *dpt_plugins(void)
{
    return all;
}
