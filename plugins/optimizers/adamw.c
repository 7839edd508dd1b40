/* Optimizer "adamw": Adam with decoupled weight decay (Loshchilov and
 * Hutter, "Decoupled Weight Decay Regularization", ICLR 2019), as PyTorch's
 * torch.optim.AdamW and Keras' keras.optimizers.AdamW.
 *
 * Settings: learning_rate (default 0.001, in (0, 1e6]), beta1 (0.9, in
 * [0, 1)), beta2 (0.999, in [0, 1)), epsilon (1e-7, in (0, 1e6]) and
 * weight_decay (0.004, in [0, 1e6]). The defaults are Keras'; PyTorch's
 * AdamW has weight_decay 0.01 and eps 1e-8.
 *
 * Per parameter, at step t = 1, 2, ..., with lr = learning_rate * lr_scale:
 *     m = beta1 m + (1 - beta1) grad
 *     v = beta2 v + (1 - beta2) grad^2
 *     w -= lr * ((m / (1 - beta1^t)) / (sqrt(v / (1 - beta2^t)) + epsilon)
 *                + weight_decay * w)
 * The decay never enters m and v, so unlike adam's weight_decay (L2 added
 * to the gradient) it is not divided by sqrt(v): every weight shrinks by the
 * factor 1 - lr * weight_decay per step, however large its gradients. Both
 * frameworks scale the decay by the learning rate, and so does lr_scale
 * here; the paper's schedule multiplier scales it too, but the paper does
 * not multiply it by the base rate. Both frameworks decay w before the Adam
 * step, which is the same update since the Adam term does not depend on w.
 * The bias correction is the paper's and PyTorch's, as in adam.c (Keras
 * puts epsilon on the uncorrected sqrt(v); see there). Every parameter is
 * decayed, biases included, as both frameworks do by default: the host
 * hands the optimizer one flat buffer.
 *
 * State: m at ostate[0, n), v at ostate[ld, ld + n). The update is
 * elementwise and allocates nothing. Left out: AMSGrad.
 */
#include "config.h"

#include <dptrain/plugin.h>

#include "adam_settings.h"

#include <assert.h>
#include <math.h>

/* Reads the settings (adam_settings.h), weight_decay defaulting to 0.004. */
static int adamw_create(void **state, const struct dpt_host *host)
{
    return adam_settings_create(state, host, 0.004);
}

/* Updates params[0, n) from grad[0, n) at step t >= 1, with m at ostate and
 * v at ostate + ld. */
DPT_VECTORIZE
static void adamw_step(const void *state, float *params, const float *grad, float *ostate,
                       size_t ld, size_t n, uint64_t t, float lr_scale)
{
    assert(t >= 1);
    const struct adam_step_consts c = adam_step_consts(state, t, lr_scale);
    const float inv_c1 = c.inv_c1, inv_c2 = c.inv_c2, lr = c.lr, b1 = c.b1, b2 = c.b2;
    const float eps = c.eps, wd = c.wd;
    float *m = ostate, *v = ostate + ld;
    for (size_t i = 0; i < n; i++) {
        float g = grad[i];
        m[i] = b1 * m[i] + (1.0f - b1) * g;
        v[i] = b2 * v[i] + (1.0f - b2) * g * g;
        float m_hat = m[i] * inv_c1;
        float v_hat = v[i] * inv_c2;
        params[i] -= lr * (m_hat / (sqrtf(v_hat) + eps) + wd * params[i]);
    }
}

static const struct dpt_optimizer_plugin adamw = {
    .base = DPT_PLUGIN_HEADER(DPT_KIND_OPTIMIZER, "adamw", "1.0.0",
                              "Adam with decoupled weight decay (AdamW)"),
    .create = adamw_create,
    .destroy = adam_settings_destroy,
    .state_floats = adam_settings_state_floats,
    .step = adamw_step,
};

static const struct dpt_plugin *const all[] = {&adamw.base, NULL};

DPT_PLUGIN_EXPORT const struct dpt_plugin *const *dpt_plugins(void)
{
    return all;
}
