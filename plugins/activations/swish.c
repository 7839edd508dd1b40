/* Activation "swish": y = x * sigmoid(x), also called SiLU (Ramachandran,
 * Zoph and Le, 2017; Elfwing, Uchibe and Doya, 2018).
 *
 * Stateless and stable for any finite x: the sigmoid takes exp only of
 * -|x|, so y = x exactly for large x and y = -0 far left, without NaN. The
 * derivative s + x s (1 - s), s = sigmoid(x), takes s and 1 - s each from
 * exp(-|x|), so neither is a difference of nearly equal numbers. Left out:
 * a trainable or fixed beta in sigmoid(beta x) (Keras' swish has none).
 */
#include "config.h"

#include <dptrain/plugin.h>

#include <math.h>

/* y = x * sigmoid(x) over (rows, cols). */
static void swish_forward(const void *state, const float *x, float *y, size_t rows,
                          size_t cols)
{
    (void)state;
    for (size_t i = 0; i < rows * cols; i++) {
        float e = expf(-fabsf(x[i]));
        float s = x[i] >= 0.0f ? 1.0f / (1.0f + e) : e / (1.0f + e);
        y[i] = x[i] * s;
    }
}

/* dx = dy * (s + x s (1 - s)), with s = sigmoid(x) and sc = 1 - s. */
static void swish_backward(const void *state, const float *x, const float *y, const float *dy,
                           float *dx, size_t rows, size_t cols)
{
    (void)state, (void)y;
    for (size_t i = 0; i < rows * cols; i++) {
        float e = expf(-fabsf(x[i]));
        float big = 1.0f / (1.0f + e), small = e / (1.0f + e);
        float s = x[i] >= 0.0f ? big : small, sc = x[i] >= 0.0f ? small : big;
        dx[i] = dy[i] * (s + x[i] * s * sc);
    }
}

static const struct dpt_activation_plugin swish = {
    .base = DPT_PLUGIN_HEADER_CAPS(DPT_KIND_ACTIVATION, "swish", "1.0.0",
                                   "x * sigmoid(x), also called SiLU",
                                   DPT_CAP_DETERMINISTIC | DPT_CAP_WRITES_DX),
    .forward = swish_forward,
    .backward = swish_backward,
};

static const struct dpt_plugin *const all[] = {&swish.base, NULL};

DPT_PLUGIN_EXPORT const struct dpt_plugin *const *dpt_plugins(void)
{
    return all;
}
