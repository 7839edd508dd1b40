/* Loss "bce": binary cross-entropy on sigmoid outputs, as Keras's
 * BinaryCrossentropy(from_logits=True).
 *
 * The model must end in activation "sigmoid"; the host skips it in training
 * and hands over the logits z, so the loss of an output with target t is
 * computed as max(z, 0) - z t + log1p(exp(-|z|)), which is exact and finite
 * for any z (no log(0) for a saturated sigmoid, no overflow in exp). The
 * loss of a row is the mean over its n_out outputs. Targets are n_out
 * columns in [0, 1]: labels 0/1, or probabilities.
 *
 * Accuracy: a row counts as right when every output is on the right side,
 * (z > 0) == (t > 0.5); for one output that is the usual binary accuracy.
 * Left out: label smoothing and class weights.
 */
#include "config.h"

#include <dptrain/plugin.h>

#include <math.h>
#include <stdio.h>

static int bce_check_shape(const void *state, uint64_t n_out, uint64_t y_cols, char *why,
                           size_t why_len)
{
    (void)state;
    if (y_cols == n_out) {
        return 0;
    }
    snprintf(why, why_len, "the targets have %llu columns; binary cross-entropy needs one "
             "target per sigmoid output, %llu", (unsigned long long)y_cols,
             (unsigned long long)n_out);
    return -1;
}

/* Every target must be in [0, 1]; NaN is not. */
static int64_t bce_check_rows(const void *state, const float *y, uint64_t rows, uint64_t n_out,
                              uint64_t y_cols, char *why, size_t why_len)
{
    (void)state, (void)n_out;
    for (uint64_t i = 0; i < rows; i++) {
        for (uint64_t j = 0; j < y_cols; j++) {
            float t = y[i * y_cols + j];
            if (!(t >= 0.0f && t <= 1.0f)) {
                if (y_cols > 1) {
                    snprintf(why, why_len, "column %llu: target %g is outside [0, 1] (binary "
                             "cross-entropy takes labels 0/1 or probabilities)",
                             (unsigned long long)j, t);
                } else {
                    snprintf(why, why_len, "target %g is outside [0, 1] (binary "
                             "cross-entropy takes labels 0/1 or probabilities; for class "
                             "labels 0..K-1 use a softmax output of K units and loss "
                             "\"cce\")", t);
                }
                return (int64_t)i;
            }
        }
    }
    return -1;
}

/* pred holds logits z (B, n_out), y targets (B, n_out). Returns the sum over
 * rows of the mean over outputs of the cross-entropy; adds
 * scale * (sigmoid(z) - t) / n_out into dpred. Computed in double. */
static double bce_forward_backward(const void *state, const float *pred, const float *y,
                                   float *dpred, size_t B, size_t n_out, size_t y_cols,
                                   float scale)
{
    (void)state, (void)y_cols;
    double g = (double)scale / (double)n_out;
    double total = 0;
    for (size_t i = 0; i < B; i++) {
        double row = 0;
        for (size_t j = 0; j < n_out; j++) {
            double z = pred[i * n_out + j], t = y[i * n_out + j];
            /* -[t log s + (1 - t) log(1 - s)] with s = sigmoid(z), rewritten
             * so that exp only sees -|z| <= 0. */
            double e = exp(-fabs(z));
            row += fmax(z, 0.0) - z * t + log1p(e);
            if (dpred) {
                double s = z >= 0 ? 1.0 / (1.0 + e) : e / (1.0 + e);
                dpred[i * n_out + j] += (float)(g * (s - t));
            }
        }
        total += row / (double)n_out;
    }
    return total;
}

static size_t bce_correct(const void *state, const float *pred, const float *y, size_t B,
                          size_t n_out, size_t y_cols)
{
    (void)state, (void)y_cols;
    size_t hits = 0;
    for (size_t i = 0; i < B; i++) {
        int right = 1;
        for (size_t j = 0; j < n_out && right; j++) {
            right = (pred[i * n_out + j] > 0.0f) == (y[i * n_out + j] > 0.5f);
        }
        hits += (size_t)right;
    }
    return hits;
}

static const struct dpt_loss_plugin bce = {
    .base = DPT_PLUGIN_HEADER(DPT_KIND_LOSS, "bce", "1.0.0",
                              "binary cross-entropy, fused with a final sigmoid"),
    .fused_activation = "sigmoid",
    .check_shape = bce_check_shape,
    .check_rows = bce_check_rows,
    .forward_backward = bce_forward_backward,
    .correct = bce_correct,
};

static const struct dpt_plugin *const all[] = {&bce.base, NULL};

DPT_PLUGIN_EXPORT const struct dpt_plugin *const *dpt_plugins(void)
{
    return all;
}
