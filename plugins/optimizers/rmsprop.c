/* Optimizer "rmsprop": RMSprop (Hinton, Coursera lecture 6e, 2012), with
 * optional plain momentum, the centered variant (Graves, 2013) and L2
 * weight decay, following Keras 3's keras.optimizers.RMSprop.
 *
 * Settings: learning_rate (default 0.001, in (0, 1e6]), rho (0.9, in
 * [0, 1)), momentum (0, in [0, 1)), epsilon (1e-7, in (0, 1e6]), centered
 * (false) and weight_decay (0, in [0, 1e6]). The defaults are Keras'.
 *
 * Per parameter:
 *     g = grad + weight_decay * w          (L2 added to the gradient)
 *     v = rho v + (1 - rho) g^2
 *     d = v                                (centered: mg = rho mg + (1 - rho) g,
 *                                           d = max(v - mg^2, 0))
 *     u = lr * g / sqrt(d + epsilon)
 *     w -= u                               (momentum > 0: m = momentum m + u, w -= m)
 * Conventions, where the frameworks differ:
 *   - epsilon is inside the square root, as in Keras (and TensorFlow's
 *     ApplyRMSProp); PyTorch's RMSprop adds it outside, sqrt(d) + epsilon,
 *     with default 1e-8. With epsilon 1e-7 the two steps differ by more
 *     than 1% while v < 5e-6, i.e. for gradients below about 2e-3.
 *   - The momentum buffer holds steps with the learning rate already
 *     applied, as in Keras; PyTorch keeps g / sqrt(d) and multiplies by the
 *     current rate. For a constant rate they agree; under a schedule
 *     (lr_scale) a new rate here applies only to new increments.
 *   - weight_decay is L2 added to the gradient, as in PyTorch and this
 *     project's sgd and adam. (Keras 3's weight_decay is decoupled, as in
 *     AdamW.)
 *   - d is clamped at 0: v - mg^2 >= 0 in exact arithmetic (mg^2 is at most
 *     (1 - rho^t) v by Cauchy-Schwarz), but for a steady gradient rounding
 *     can make it slightly negative, by more than epsilon when g^2 is large,
 *     and Keras would then take the root of a negative number (NaN).
 *
 * State, in this order: v, then m if momentum > 0, then mg if centered; 1 to
 * 3 arrays of ld floats. The update is elementwise and allocates nothing.
 */
#include "config.h"

#include <dptrain/plugin.h>

#include <math.h>
#include <stdlib.h>

struct rmsprop {
    double lr;
    double rho;
    double momentum;
    double epsilon;
    double weight_decay;
    int centered;
};

/* Reads the settings; the instance is freed by rmsprop_destroy. Returns 0
 * or the negative value the host gave. */
static int rmsprop_create(void **state, const struct dpt_host *host)
{
    struct rmsprop r;
    int rc = host->get_float(host->ctx, "learning_rate", 0.001, 0.0, 1e6, &r.lr);
    if (rc < 0) {
        return rc;
    }
    if (r.lr == 0.0) {
        return host->error(host->ctx, "'learning_rate' must be greater than 0");
    }
    rc = host->get_float(host->ctx, "rho", 0.9, 0.0, 1.0, &r.rho);
    if (rc < 0) {
        return rc;
    }
    if (r.rho == 1.0) {
        return host->error(host->ctx, "'rho' must be less than 1, got 1");
    }
    rc = host->get_float(host->ctx, "momentum", 0.0, 0.0, 1.0, &r.momentum);
    if (rc < 0) {
        return rc;
    }
    if (r.momentum == 1.0) {
        return host->error(host->ctx, "'momentum' must be less than 1, got 1");
    }
    rc = host->get_float(host->ctx, "epsilon", 1e-7, 0.0, 1e6, &r.epsilon);
    if (rc < 0) {
        return rc;
    }
    if (r.epsilon == 0.0) {
        return host->error(host->ctx, "'epsilon' must be greater than 0");
    }
    rc = host->get_bool(host->ctx, "centered", 0, &r.centered);
    if (rc < 0) {
        return rc;
    }
    rc = host->get_float(host->ctx, "weight_decay", 0.0, 0.0, 1e6, &r.weight_decay);
    if (rc < 0) {
        return rc;
    }
    struct rmsprop *s = malloc(sizeof *s);
    if (!s) {
        return host->error(host->ctx, "out of memory");
    }
    *s = r;
    s->centered = r.centered != 0;
    *state = s;
    return 0;
}

static void rmsprop_destroy(void *state)
{
    free(state);
}

static uint32_t rmsprop_state_floats(const void *state)
{
    const struct rmsprop *r = state;
    return 1 + (r->momentum > 0.0 ? 1 : 0) + (r->centered ? 1 : 0);
}

/* Updates params[0, n) from grad[0, n), with v at ostate, then m and mg (if
 * kept) at the next multiples of ld. t is not needed: no bias correction. */
static void rmsprop_step(const void *state, float *params, const float *grad, float *ostate,
                         size_t ld, size_t n, uint64_t t, float lr_scale)
{
    (void)t;
    const struct rmsprop *r = state;
    float lr = (float)(r->lr * lr_scale);
    float rho = (float)r->rho, mu = (float)r->momentum;
    float eps = (float)r->epsilon, wd = (float)r->weight_decay;
    float *v = ostate;
    float *m = r->momentum > 0.0 ? ostate + ld : NULL;
    float *mg = r->centered ? ostate + (m ? 2 : 1) * ld : NULL;
    for (size_t i = 0; i < n; i++) {
        float g = grad[i] + wd * params[i];
        v[i] = rho * v[i] + (1.0f - rho) * g * g;
        float d = v[i];
        if (mg) {
            mg[i] = rho * mg[i] + (1.0f - rho) * g;
            d = fmaxf(v[i] - mg[i] * mg[i], 0.0f);
        }
        float u = lr * g / sqrtf(d + eps);
        if (m) {
            m[i] = mu * m[i] + u;
            u = m[i];
        }
        params[i] -= u;
    }
}

static const struct dpt_optimizer_plugin rmsprop = {
    .base = DPT_PLUGIN_HEADER(DPT_KIND_OPTIMIZER, "rmsprop", "1.0.0",
                              "RMSprop as in Keras: momentum, centered, L2 decay"),
    .create = rmsprop_create,
    .destroy = rmsprop_destroy,
    .state_floats = rmsprop_state_floats,
    .step = rmsprop_step,
};

static const struct dpt_plugin *const all[] = {&rmsprop.base, NULL};

DPT_PLUGIN_EXPORT const struct dpt_plugin *const *dpt_plugins(void)
{
    return all;
}
