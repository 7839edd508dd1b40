/* Optimizer "sgd": stochastic gradient descent with optional momentum,
 * Nesterov momentum and L2 weight decay.
 *
 * Settings: learning_rate (default 0.01, in (0, 1e6]), momentum (0, in
 * [0, 1)), nesterov (false), weight_decay (0, in [0, 1e6]).
 *
 * The update follows PyTorch's torch.optim.SGD (dampening 0), per parameter:
 *     g = grad + weight_decay * w          (L2 added to the gradient)
 *     v = momentum * v + g                 (only when momentum > 0)
 *     w -= lr * (nesterov ? g + momentum * v : v)   (g when momentum == 0)
 * Keras keeps v' = momentum * v' - lr * g and adds it to w; for a constant
 * learning rate that is the same trajectory (v' = -lr * v), with a schedule
 * the two differ slightly: here a new lr applies to the whole velocity.
 * nesterov without momentum is plain SGD, as in Keras (PyTorch refuses it).
 *
 * State: v, one float per parameter, only when momentum > 0. The update is
 * elementwise and allocates nothing.
 */
#include "config.h"

#include <dptrain/plugin.h>

#include <stdlib.h>

struct sgd {
    double lr;
    double momentum;
    double weight_decay;
    int nesterov;
};

/* Reads the settings; the instance is freed by sgd_destroy. Returns 0 or
 * the negative value the host gave. */
static int sgd_create(void **state, const struct dpt_host *host)
{
    double lr, momentum, weight_decay;
    int nesterov;
    int rc = host->get_float(host->ctx, "learning_rate", 0.01, 0.0, 1e6, &lr);
    if (rc < 0) {
        return rc;
    }
    if (lr == 0.0) {
        return host->error(host->ctx, "'learning_rate' must be greater than 0");
    }
    rc = host->get_float(host->ctx, "momentum", 0.0, 0.0, 1.0, &momentum);
    if (rc < 0) {
        return rc;
    }
    if (momentum == 1.0) {
        return host->error(host->ctx, "'momentum' must be less than 1, got 1");
    }
    rc = host->get_bool(host->ctx, "nesterov", 0, &nesterov);
    if (rc < 0) {
        return rc;
    }
    rc = host->get_float(host->ctx, "weight_decay", 0.0, 0.0, 1e6, &weight_decay);
    if (rc < 0) {
        return rc;
    }
    struct sgd *s = malloc(sizeof *s);
    if (!s) {
        return host->error(host->ctx, "out of memory");
    }
    *s = (struct sgd){
        .lr = lr, .momentum = momentum, .weight_decay = weight_decay, .nesterov = nesterov != 0};
    *state = s;
    return 0;
}

static void sgd_destroy(void *state)
{
    free(state);
}

static uint32_t sgd_state_floats(const void *state)
{
    const struct sgd *s = state;
    return s->momentum > 0.0 ? 1 : 0;
}

/* Updates params[0, n) from grad[0, n); the velocity, if any, is ostate[0, n).
 * t is not needed: SGD has no bias correction. */
DPT_VECTORIZE
static void sgd_step(const void *state, float *params, const float *grad, float *ostate,
                     size_t ld, size_t n, uint64_t t, float lr_scale)
{
    (void)ld, (void)t;
    const struct sgd *s = state;
    float lr = (float)(s->lr * lr_scale);
    float wd = (float)s->weight_decay;
    float mu = (float)s->momentum;
    if (s->momentum == 0.0) {
        for (size_t i = 0; i < n; i++) {
            params[i] -= lr * (grad[i] + wd * params[i]);
        }
        return;
    }
    for (size_t i = 0; i < n; i++) {
        float g = grad[i] + wd * params[i];
        float v = mu * ostate[i] + g;
        ostate[i] = v;
        params[i] -= lr * (s->nesterov ? g + mu * v : v);
    }
}

static const struct dpt_optimizer_plugin sgd = {
    .base = DPT_PLUGIN_HEADER(DPT_KIND_OPTIMIZER, "sgd", "1.0.0",
                              "stochastic gradient descent, momentum, Nesterov, L2 decay"),
    .create = sgd_create,
    .destroy = sgd_destroy,
    .state_floats = sgd_state_floats,
    .step = sgd_step,
};

static const struct dpt_plugin *const all[] = {&sgd.base, NULL};

DPT_PLUGIN_EXPORT const struct dpt_plugin *const *dpt_plugins(void)
{
    return all;
}
