/* huber: a loss plugin with a setting, written as the template to copy for
 * a loss of your own (docs/PLUGINS.md; the contract is the loss table in
 * include/dptrain/plugin.h).
 *
 * What it computes: Keras' Huber loss for regression. With e = pred - t
 * for each of a row's n_out outputs,
 *
 *     h(e) = e^2 / 2                      when |e| <= delta
 *            delta * (|e| - delta / 2)    otherwise
 *
 * the row's loss is the mean of h over its outputs. It is quadratic near
 * the target and linear far from it, so a few outliers pull less on the
 * model than with mean squared error. h'(e) = e clipped to [-delta, delta].
 *
 * Setting: delta (default 1.0, > 0), e.g. loss = { type = "huber"; delta =
 * 0.5; }; loss = "huber" takes the default. With data.standardize_y the
 * targets are standardized, so delta is in standard deviations.
 *
 * Build, check and use as channel_scale.c says (make; dptrain check-plugin
 * ./huber.so; --plugin-path .). Left out: accuracy (correct is NULL: a hit
 * count means nothing for regression) and class-label targets.
 */
#include <dptrain/plugin.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

/* The instance, read-only after create (the threads share it). */
struct huber {
    double delta;
};

/* Reads delta through the host's getter: a wrong type or a value outside
 * [0, 1e30] is reported by the getter itself, naming the model file, line
 * and key. delta = 0 passes the range but would make the loss 0 everywhere,
 * so it is refused here through host->error. create is optional for a loss
 * (NULL: no settings, state NULL); one with settings needs it and destroy. */
static int huber_create(void **state, const struct dpt_host *host)
{
    double delta;
    int rc = host->get_float(host->ctx, "delta", 1.0, 0.0, 1e30, &delta);
    if (rc < 0) {
        return rc;
    }
    if (!(delta > 0)) {
        return host->error(host->ctx, "'delta' must be greater than 0, got %g", delta);
    }
    struct huber *h = malloc(sizeof *h);
    if (!h) {
        return host->error(host->ctx, "out of memory");
    }
    h->delta = delta;
    *state = h;
    return 0;
}

static void huber_destroy(void *state)
{
    free(state);
}

/* Called once, before training, with the model's output count and the
 * targets' column count: the place to refuse data the loss cannot use,
 * with a reason the host prints after the data file's name. */
static int huber_check_shape(const void *state, uint64_t n_out, uint64_t y_cols, char *why,
                             size_t why_len)
{
    (void)state;
    if (y_cols == n_out) {
        return 0;
    }
    snprintf(why, why_len, "the targets have %llu columns; the Huber loss needs %llu (one per "
             "output)", (unsigned long long)y_cols, (unsigned long long)n_out);
    return -1;
}

/* Called on the target rows as they are read: returns the first bad row
 * (the reason in why) or -1. A NaN target would make every step's loss NaN;
 * saying which row holds it is kinder. */
static int64_t huber_check_rows(const void *state, const float *y, uint64_t rows,
                                uint64_t n_out, uint64_t y_cols, char *why, size_t why_len)
{
    (void)state, (void)n_out;
    for (uint64_t i = 0; i < rows * y_cols; i++) {
        if (!isfinite(y[i])) {
            snprintf(why, why_len, "column %llu: target %g is not a finite number",
                     (unsigned long long)(i % y_cols), y[i]);
            return (int64_t)(i / y_cols);
        }
    }
    return -1;
}

/* pred is (B, n_out), y is (B, y_cols) with y_cols == n_out. Returns the sum
 * over the B rows of each row's loss, in double; the host divides by the
 * rows of the step. When dpred is not NULL (training) it also ADDS, for
 * every element, scale * d(row loss)/dpred: scale is the weight of one row
 * in the step's mean (1 / rows of the step, over all ranks), so the host
 * can sum micro-shards' gradients as they come. At evaluation dpred is
 * NULL: compute only the sum. */
static double huber_forward_backward(const void *state, const float *pred, const float *y,
                                     float *dpred, size_t B, size_t n_out, size_t y_cols,
                                     float scale)
{
    (void)y_cols; /* == n_out, as check_shape made sure */
    const struct huber *h = state;
    double delta = h->delta;
    /* d(row loss)/de = h'(e) / n_out, times the row weight. */
    double g = (double)scale / (double)n_out;
    double total = 0.0;
    for (size_t i = 0; i < B; i++) {
        double row = 0.0;
        for (size_t j = 0; j < n_out; j++) {
            double e = (double)pred[i * n_out + j] - (double)y[i * n_out + j];
            double a = fabs(e);
            row += a <= delta ? 0.5 * e * e : delta * (a - 0.5 * delta);
            if (dpred) {
                double slope = a <= delta ? e : copysign(delta, e);
                dpred[i * n_out + j] += (float)(g * slope);
            }
        }
        total += row / (double)n_out;
    }
    return total;
}

/* fused_activation NULL: pred is the model's output as it is. (A loss
 * that needs a final activation for stability, as cross-entropy needs
 * softmax, names it there, and the host hands it the logits instead.) */
static const struct dpt_loss_plugin huber = {
    .base = DPT_PLUGIN_HEADER(DPT_KIND_LOSS, "huber", "1.0.0",
                              "Huber loss with a delta setting (example out-of-tree loss)"),
    .fused_activation = NULL,
    .create = huber_create,
    .destroy = huber_destroy,
    .check_shape = huber_check_shape,
    .check_rows = huber_check_rows,
    .forward_backward = huber_forward_backward,
    .correct = NULL,
};

static const struct dpt_plugin *const all[] = {&huber.base, NULL};

DPT_PLUGIN_EXPORT const struct dpt_plugin *const *dpt_plugins(void)
{
    return all;
}
