/* Optimizer "adagrad": Adagrad (Duchi, Hazan and Singer, 2011), following
 * Keras 3's keras.optimizers.Adagrad.
 *
 * Settings: learning_rate (default 0.001, in (0, 1e6]),
 * initial_accumulator_value (0.1, in [0, 1e6]), epsilon (1e-7, in
 * (0, 1e6]) and weight_decay (0, in [0, 1e6]). The defaults are Keras';
 * PyTorch's are lr 0.01, initial_accumulator_value 0 and eps 1e-10.
 *
 * Per parameter, with a0 = initial_accumulator_value:
 *     g = grad + weight_decay * w          (L2 added to the gradient)
 *     s = s + g^2                          (s is the stored state)
 *     w -= lr * g / sqrt(a0 + s + epsilon)
 * The accumulator of the paper and of Keras is a = a0 + s. The host zeroes
 * optimizer state before step 1 and the ABI has no hook to set it, so the
 * state holds s = a - a0, the sum of squared gradients alone, and a0 is
 * added in each step. A checkpoint therefore holds s; resuming with another
 * initial_accumulator_value shifts every accumulator by the difference.
 * epsilon is inside the square root, as in Keras 3; PyTorch and the older
 * TensorFlow kernel use sqrt(a) + epsilon. weight_decay is L2 added to the
 * gradient, as in PyTorch and this project's sgd and adam. Left out:
 * PyTorch's lr_decay (use a schedule).
 *
 * State: s, one float per parameter. The update is elementwise and
 * allocates nothing.
 */
#include "config.h"

#include <dptrain/plugin.h>

#include <math.h>
#include <stdlib.h>

struct adagrad {
    double lr;
    double initial;
    double epsilon;
    double weight_decay;
};

/* Reads the settings; the instance is freed by adagrad_destroy. Returns 0
 * or the negative value the host gave. */
static int adagrad_create(void **state, const struct dpt_host *host)
{
    struct adagrad a;
    int rc = host->get_float(host->ctx, "learning_rate", 0.001, 0.0, 1e6, &a.lr);
    if (rc < 0) {
        return rc;
    }
    if (a.lr == 0.0) {
        return host->error(host->ctx, "'learning_rate' must be greater than 0");
    }
    rc = host->get_float(host->ctx, "initial_accumulator_value", 0.1, 0.0, 1e6, &a.initial);
    if (rc < 0) {
        return rc;
    }
    rc = host->get_float(host->ctx, "epsilon", 1e-7, 0.0, 1e6, &a.epsilon);
    if (rc < 0) {
        return rc;
    }
    if (a.epsilon == 0.0) {
        return host->error(host->ctx, "'epsilon' must be greater than 0");
    }
    rc = host->get_float(host->ctx, "weight_decay", 0.0, 0.0, 1e6, &a.weight_decay);
    if (rc < 0) {
        return rc;
    }
    struct adagrad *s = malloc(sizeof *s);
    if (!s) {
        return host->error(host->ctx, "out of memory");
    }
    *s = a;
    *state = s;
    return 0;
}

static void adagrad_destroy(void *state)
{
    free(state);
}

static uint32_t adagrad_state_floats(const void *state)
{
    (void)state;
    return 1;
}

/* Updates params[0, n) from grad[0, n), with s at ostate. t is not needed:
 * no bias correction. */
static void adagrad_step(const void *state, float *params, const float *grad, float *ostate,
                         size_t ld, size_t n, uint64_t t, float lr_scale)
{
    (void)ld, (void)t;
    const struct adagrad *a = state;
    float lr = (float)(a->lr * lr_scale);
    /* a0 and epsilon are constants: add them once, in double. */
    float a0_eps = (float)(a->initial + a->epsilon);
    float wd = (float)a->weight_decay;
    float *s = ostate;
    for (size_t i = 0; i < n; i++) {
        float g = grad[i] + wd * params[i];
        s[i] += g * g;
        params[i] -= lr * g / sqrtf(s[i] + a0_eps);
    }
}

static const struct dpt_optimizer_plugin adagrad = {
    .base = DPT_PLUGIN_HEADER(DPT_KIND_OPTIMIZER, "adagrad", "1.0.0",
                              "Adagrad as in Keras, with an initial accumulator"),
    .create = adagrad_create,
    .destroy = adagrad_destroy,
    .state_floats = adagrad_state_floats,
    .step = adagrad_step,
};

static const struct dpt_plugin *const all[] = {&adagrad.base, NULL};

DPT_PLUGIN_EXPORT const struct dpt_plugin *const *dpt_plugins(void)
{
    return all;
}
