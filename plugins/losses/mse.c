/* Loss "mse": mean squared error, as Keras's MeanSquaredError.
 *
 * The loss of a row is the mean over its n_out outputs of (pred - target)^2,
 * and the batch loss is the mean over the rows. Targets are n_out columns of
 * numbers, or, for a model with n_out > 1 outputs, one column of class
 * labels 0 .. n_out-1 that stand for one-hot rows. No fused activation: pred
 * is the model's output, whatever its last activation.
 *
 * Left out on purpose: accuracy (correct is NULL). The host asks for it
 * through one pointer whatever the targets, and a hit count means nothing for
 * the regression targets this loss is mostly used with; for classification
 * use "cce", which counts hits.
 */
#include "config.h"

#include <dptrain/plugin.h>

#include <math.h>
#include <stdio.h>

/* Whether y holds one class label per row rather than one target per output. */
static int has_labels(uint64_t n_out, uint64_t y_cols)
{
    return y_cols == 1 && n_out > 1;
}

/* Whether v is a whole number; NaN and infinities are not. Floats of
 * magnitude 2^23 and more have no fraction bits. */
static int is_integer(float v)
{
    return (v > -0x1p23f && v < 0x1p23f) ? v == (float)(int32_t)v : isfinite(v);
}

/* The class a label names, or n_out when it names none (it is not an
 * integer in [0, n_out)). */
static size_t label_index(float v, size_t n_out)
{
    if (!is_integer(v) || !(v >= 0.0f && v < (float)n_out)) {
        return n_out;
    }
    return (size_t)v;
}

static int mse_check_shape(const void *state, uint64_t n_out, uint64_t y_cols, char *why,
                           size_t why_len)
{
    (void)state;
    if (y_cols == n_out || has_labels(n_out, y_cols)) {
        return 0;
    }
    snprintf(why, why_len, "the targets have %llu columns; mean squared error needs %llu "
             "(one per output) or 1 (class labels, one-hot encoded)",
             (unsigned long long)y_cols, (unsigned long long)n_out);
    return -1;
}

/* Labels must be integers in [0, n_out); other targets must be finite. */
static int64_t mse_check_rows(const void *state, const float *y, uint64_t rows, uint64_t n_out,
                              uint64_t y_cols, char *why, size_t why_len)
{
    (void)state;
    for (uint64_t i = 0; i < rows; i++) {
        if (has_labels(n_out, y_cols)) {
            float v = y[i];
            if (!is_integer(v)) {
                snprintf(why, why_len, "label %g is not an integer", v);
                return (int64_t)i;
            }
            if (label_index(v, n_out) == n_out) {
                snprintf(why, why_len, "label %g is out of range [0, %llu] for %llu outputs", v,
                         (unsigned long long)n_out - 1, (unsigned long long)n_out);
                return (int64_t)i;
            }
            continue;
        }
        for (uint64_t j = 0; j < y_cols; j++) {
            if (!isfinite(y[i * y_cols + j])) {
                snprintf(why, why_len, "column %llu: target %g is not a finite number",
                         (unsigned long long)j, y[i * y_cols + j]);
                return (int64_t)i;
            }
        }
    }
    return -1;
}

/* pred is (B, n_out), y is (B, y_cols). Returns the sum over rows of
 * mean_j (pred - t)^2; adds scale * 2 (pred - t) / n_out into dpred. A label
 * that check_rows would reject makes the sum NaN, which stops training,
 * rather than be read as some class. */
static double mse_forward_backward(const void *state, const float *pred, const float *y,
                                   float *dpred, size_t B, size_t n_out, size_t y_cols,
                                   float scale)
{
    (void)state;
    int labels = has_labels(n_out, y_cols);
    float g = (float)(2.0 * scale / (double)n_out);
    double total = 0;
    for (size_t i = 0; i < B; i++) {
        const float *p = pred + i * n_out;
        size_t label = labels ? label_index(y[i], n_out) : 0;
        if (labels && label == n_out) {
            total += NAN;
            continue;
        }
        double row = 0;
        for (size_t j = 0; j < n_out; j++) {
            float t = labels ? (j == label ? 1.0f : 0.0f) : y[i * y_cols + j];
            float diff = p[j] - t;
            row += (double)diff * diff;
            if (dpred) {
                dpred[i * n_out + j] += g * diff;
            }
        }
        total += row / (double)n_out;
    }
    return total;
}

static const struct dpt_loss_plugin mse = {
    .base = DPT_PLUGIN_HEADER(DPT_KIND_LOSS, "mse", "1.0.0",
                              "mean squared error (targets, one column per output)"),
    .fused_activation = NULL,
    .check_shape = mse_check_shape,
    .check_rows = mse_check_rows,
    .forward_backward = mse_forward_backward,
    .correct = NULL,
};

static const struct dpt_plugin *const all[] = {&mse.base, NULL};

DPT_PLUGIN_EXPORT const struct dpt_plugin *const *dpt_plugins(void)
{
    return all;
}
