/* Activation "softmax": each row of x becomes a probability distribution,
 * y[j] = exp(x[j]) / sum_k exp(x[k]).
 *
 * Stateless and stable: the row maximum is subtracted before exp, so no
 * exp overflows and the largest term is exactly 1, which keeps the sum at
 * least 1 (no division by 0). Rows sum to 1 up to rounding. With loss "cce" the host skips this
 * activation in training and the loss works on the logits (see
 * plugins/losses/cce.c); this backward serves other losses.
 */
#include "config.h"

#include <dptrain/plugin.h>

#include <math.h>

/* y = softmax(x) row by row; x and y are (rows, cols). */
static void softmax_forward(const void *state, const float *x, float *y, size_t rows,
                            size_t cols)
{
    (void)state;
    if (cols == 0) {
        return;
    }
    for (size_t i = 0; i < rows; i++) {
        const float *xr = x + i * cols;
        float *yr = y + i * cols;
        float max = xr[0];
        for (size_t j = 1; j < cols; j++) {
            max = xr[j] > max ? xr[j] : max;
        }
        double sum = 0;
        for (size_t j = 0; j < cols; j++) {
            yr[j] = expf(xr[j] - max);
            sum += yr[j];
        }
        float inv = (float)(1.0 / sum);
        for (size_t j = 0; j < cols; j++) {
            yr[j] *= inv;
        }
    }
}

/* The Jacobian of a row is diag(y) - y y^T, so
 * dx[j] = y[j] * (dy[j] - sum_k dy[k] y[k]). */
static void softmax_backward(const void *state, const float *x, const float *y,
                             const float *dy, float *dx, size_t rows, size_t cols)
{
    (void)state, (void)x;
    for (size_t i = 0; i < rows; i++) {
        const float *yr = y + i * cols, *dyr = dy + i * cols;
        float *dxr = dx + i * cols;
        double dot = 0;
        for (size_t j = 0; j < cols; j++) {
            dot += (double)dyr[j] * yr[j];
        }
        for (size_t j = 0; j < cols; j++) {
            dxr[j] = yr[j] * (dyr[j] - (float)dot);
        }
    }
}

static const struct dpt_activation_plugin softmax = {
    .base = DPT_PLUGIN_HEADER_CAPS(DPT_KIND_ACTIVATION, "softmax", "1.0.0",
                                   "row-wise softmax, exp(x) / sum(exp(x))",
                                   DPT_CAP_DETERMINISTIC | DPT_CAP_WRITES_DX),
    .forward = softmax_forward,
    .backward = softmax_backward,
};

static const struct dpt_plugin *const all[] = {&softmax.base, NULL};

DPT_PLUGIN_EXPORT const struct dpt_plugin *const *dpt_plugins(void)
{
    return all;
}
