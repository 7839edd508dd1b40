/* Loss "cce": categorical cross-entropy on softmax outputs, as Keras's
 * SparseCategoricalCrossentropy / CategoricalCrossentropy(from_logits=True).
 *
 * The model must end in activation "softmax" with n_out >= 2 outputs; the
 * host skips it in training and hands over the logits z. Targets are either
 * one column of class labels 0 .. n_out-1, or n_out columns of one-hot rows
 * or probabilities t. The loss of a row is sum_j t_j (logsumexp(z) - z_j),
 * for a label k simply logsumexp(z) - z_k, with logsumexp taken after
 * subtracting the row maximum: finite for logits of any size. The gradient
 * is (sum_j t_j) softmax(z) - t, that is softmax(z) - t for targets that sum
 * to 1.
 *
 * Accuracy: argmax(z) == the label (or argmax(t)); ties go to the lowest
 * index. Left out: label smoothing and class weights.
 */
#include "config.h"

#include <dptrain/plugin.h>

#include <math.h>
#include <stdio.h>

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

/* Index of the largest of v[0 .. n), the first one on ties. */
static size_t argmax(const float *v, size_t n)
{
    size_t k = 0;
    for (size_t j = 1; j < n; j++) {
        if (v[j] > v[k]) {
            k = j;
        }
    }
    return k;
}

static int cce_check_shape(const void *state, uint64_t n_out, uint64_t y_cols, char *why,
                           size_t why_len)
{
    (void)state;
    if (n_out < 2) {
        snprintf(why, why_len, "categorical cross-entropy needs at least 2 outputs, the model "
                 "has %llu (for two classes use one sigmoid output and loss \"bce\")",
                 (unsigned long long)n_out);
        return -1;
    }
    if (y_cols != 1 && y_cols != n_out) {
        snprintf(why, why_len, "the targets have %llu columns; categorical cross-entropy needs "
                 "1 (class labels) or %llu (one-hot rows or probabilities)",
                 (unsigned long long)y_cols, (unsigned long long)n_out);
        return -1;
    }
    return 0;
}

/* Labels must be integers in [0, n_out); one-hot or probability targets must
 * be in [0, 1]. */
static int64_t cce_check_rows(const void *state, const float *y, uint64_t rows, uint64_t n_out,
                              uint64_t y_cols, char *why, size_t why_len)
{
    (void)state;
    for (uint64_t i = 0; i < rows; i++) {
        if (y_cols == 1) {
            float v = y[i];
            /* What to write instead: a float target is a regression's, a
             * label past the outputs needs one softmax output per class. */
            if (!is_integer(v)) {
                snprintf(why, why_len, "label %g is not an integer (categorical cross-entropy "
                         "takes class labels 0..%llu; for regression targets use loss \"mse\" "
                         "with a linear output)", v, (unsigned long long)n_out - 1);
                return (int64_t)i;
            }
            if (label_index(v, n_out) == n_out) {
                snprintf(why, why_len, "label %g is out of range [0, %llu] for %llu outputs "
                         "(one softmax output per class; for regression targets use loss "
                         "\"mse\" with a linear output)", v, (unsigned long long)n_out - 1,
                         (unsigned long long)n_out);
                return (int64_t)i;
            }
            continue;
        }
        for (uint64_t j = 0; j < y_cols; j++) {
            float t = y[i * y_cols + j];
            if (!(t >= 0.0f && t <= 1.0f)) {
                snprintf(why, why_len, "column %llu: target %g is outside [0, 1] (one-hot rows "
                         "or probabilities)", (unsigned long long)j, t);
                return (int64_t)i;
            }
        }
    }
    return -1;
}

/* pred holds logits z (B, n_out); y is (B, 1) labels or (B, n_out) targets.
 * Returns the sum over rows of the cross-entropy; adds
 * scale * ((sum t) softmax(z) - t) into dpred. Computed in double. A label
 * that check_rows would reject makes the sum NaN, which stops training,
 * rather than be read as some class. */
static double cce_forward_backward(const void *state, const float *pred, const float *y,
                                   float *dpred, size_t B, size_t n_out, size_t y_cols,
                                   float scale)
{
    (void)state;
    double total = 0;
    for (size_t i = 0; i < B; i++) {
        const float *z = pred + i * n_out;
        double max = z[argmax(z, n_out)];
        double sum = 0;
        for (size_t j = 0; j < n_out; j++) {
            sum += exp(z[j] - max); /* <= 1, and 1 for the maximum: sum >= 1 */
        }
        double lse = max + log(sum);
        float *dz = dpred ? dpred + i * n_out : NULL;
        if (y_cols == 1) {
            size_t k = label_index(y[i], n_out);
            if (k == n_out) {
                total += NAN;
                continue;
            }
            total += lse - z[k];
            for (size_t j = 0; dz && j < n_out; j++) {
                double p = exp(z[j] - lse);
                dz[j] += (float)(scale * (p - (j == k ? 1.0 : 0.0)));
            }
            continue;
        }
        const float *t = y + i * n_out;
        double t_sum = 0, row = 0;
        for (size_t j = 0; j < n_out; j++) {
            t_sum += t[j];
            row += t[j] * (lse - z[j]); /* each term >= 0 */
        }
        total += row;
        for (size_t j = 0; dz && j < n_out; j++) {
            double p = exp(z[j] - lse);
            dz[j] += (float)(scale * (t_sum * p - t[j]));
        }
    }
    return total;
}

static size_t cce_correct(const void *state, const float *pred, const float *y, size_t B,
                          size_t n_out, size_t y_cols)
{
    (void)state;
    size_t hits = 0;
    for (size_t i = 0; i < B; i++) {
        size_t guess = argmax(pred + i * n_out, n_out);
        size_t truth = y_cols == 1 ? label_index(y[i], n_out) : argmax(y + i * n_out, n_out);
        hits += guess == truth;
    }
    return hits;
}

static const struct dpt_loss_plugin cce = {
    .base = DPT_PLUGIN_HEADER(DPT_KIND_LOSS, "cce", "1.0.0",
                              "categorical cross-entropy, fused with a final softmax"),
    .fused_activation = "softmax",
    .check_shape = cce_check_shape,
    .check_rows = cce_check_rows,
    .forward_backward = cce_forward_backward,
    .correct = cce_correct,
};

static const struct dpt_plugin *const all[] = {&cce.base, NULL};

DPT_PLUGIN_EXPORT const struct dpt_plugin *const *dpt_plugins(void)
{
    return all;
}
