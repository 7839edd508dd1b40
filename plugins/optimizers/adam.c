/* Optimizer "adam": Adam (Kingma and Ba, 2015, Algorithm 1).
 *
 * Settings: learning_rate (default 0.001, in (0, 1e6]), beta1 (0.9, in
 * [0, 1)), beta2 (0.999, in [0, 1)), epsilon (1e-7, the Keras default, in
 * (0, 1e6]) and weight_decay (0, in [0, 1e6]).
 *
 * Per parameter, at step t = 1, 2, ...:
 *     g = grad + weight_decay * w          (L2 added to the gradient, not AdamW)
 *     m = beta1 m + (1 - beta1) g
 *     v = beta2 v + (1 - beta2) g^2
 *     w -= lr * (m / (1 - beta1^t)) / (sqrt(v / (1 - beta2^t)) + epsilon)
 * This is the paper's form and PyTorch's. Keras folds the bias correction
 * into the step size, lr * sqrt(1 - beta2^t) / (1 - beta1^t) * m /
 * (sqrt(v) + epsilon), which puts epsilon on the uncorrected sqrt(v): the
 * two agree except while sqrt(v) is comparable to epsilon.
 *
 * State: m at ostate[0, n), v at ostate[ld, ld + n). The update is
 * elementwise and allocates nothing. Left out: AMSGrad, AdamW.
 */
#include "config.h"

#include <dptrain/plugin.h>

#include "adam_settings.h"

#include <assert.h>
#include <math.h>

/* Reads the settings (adam_settings.h), weight_decay defaulting to 0.0. */
static int adam_create(void **state, const struct dpt_host *host)
{
    return adam_settings_create(state, host, 0.0);
}

/* Updates params[0, n) from grad[0, n) at step t >= 1, with m at ostate and
 * v at ostate + ld. */
DPT_VECTORIZE
static void adam_step(const void *state, float *params, const float *grad, float *ostate,
                      size_t ld, size_t n, uint64_t t, float lr_scale)
{
    assert(t >= 1);
    const struct adam_step_consts c = adam_step_consts(state, t, lr_scale);
    const float inv_c1 = c.inv_c1, inv_c2 = c.inv_c2, lr = c.lr, b1 = c.b1, b2 = c.b2;
    const float eps = c.eps, wd = c.wd;
    float *m = ostate, *v = ostate + ld;
    for (size_t i = 0; i < n; i++) {
        float g = grad[i] + wd * params[i];
        m[i] = b1 * m[i] + (1.0f - b1) * g;
        v[i] = b2 * v[i] + (1.0f - b2) * g * g;
        float m_hat = m[i] * inv_c1;
        float v_hat = v[i] * inv_c2;
        params[i] -= lr * m_hat / (sqrtf(v_hat) + eps);
    }
}

static const struct dpt_optimizer_plugin adam = {
    .base = DPT_PLUGIN_HEADER(DPT_KIND_OPTIMIZER, "adam", "1.0.0",
                              "Adam with bias correction and optional L2 decay"),
    .create = adam_create,
    .destroy = adam_settings_destroy,
    .state_floats = adam_settings_state_floats,
    .step = adam_step,
};

static const struct dpt_plugin *const all[] = {&adam.base, NULL};

DPT_PLUGIN_EXPORT const struct dpt_plugin *const *dpt_plugins(void)
{
    return all;
}
