/* Activation "elu": y = x for x > 0, alpha * (exp(x) - 1) otherwise
 * (Clevert, Unterthiner and Hochreiter, 2016).
 *
 * Setting: alpha (default 1.0, as Keras and PyTorch, in [0, 1e6]); alpha = 0
 * is relu. expm1f keeps full relative precision for x near 0, where
 * exp(x) - 1 would cancel, and saturates to -alpha for very negative x
 * without overflow (exp is only taken of x <= 0). The derivative at x = 0 is
 * taken as alpha, as in PyTorch. The instance holds alpha and is read-only
 * after create. Left out: SELU's fixed scale and alpha.
 */
#include "config.h"

#include <dptrain/plugin.h>

#include <math.h>
#include <stdlib.h>

struct elu {
    float alpha;
};

/* Reads alpha; the instance is freed by elu_destroy. Returns 0 or the
 * negative value the host gave. */
static int elu_create(void **state, const struct dpt_host *host)
{
    double alpha;
    int rc = host->get_float(host->ctx, "alpha", 1.0, 0.0, 1e6, &alpha);
    if (rc < 0) {
        return rc;
    }
    struct elu *s = malloc(sizeof *s);
    if (!s) {
        return host->error(host->ctx, "out of memory");
    }
    s->alpha = (float)alpha;
    *state = s;
    return 0;
}

static void elu_destroy(void *state)
{
    free(state);
}

/* y = x > 0 ? x : alpha * expm1(x) over (rows, cols). */
static void elu_forward(const void *state, const float *x, float *y, size_t rows, size_t cols)
{
    const struct elu *s = state;
    for (size_t i = 0; i < rows * cols; i++) {
        y[i] = x[i] > 0.0f ? x[i] : s->alpha * expm1f(x[i]);
    }
}

/* dx = dy where x > 0, dy * alpha * exp(x) elsewhere. alpha * exp(x) is
 * also y + alpha, but that sum loses the small derivative's digits for very
 * negative x, so it is taken from x. */
static void elu_backward(const void *state, const float *x, const float *y, const float *dy,
                         float *dx, size_t rows, size_t cols)
{
    (void)y;
    const struct elu *s = state;
    for (size_t i = 0; i < rows * cols; i++) {
        dx[i] = x[i] > 0.0f ? dy[i] : dy[i] * s->alpha * expf(x[i]);
    }
}

static const struct dpt_activation_plugin elu = {
    .base = DPT_PLUGIN_HEADER_CAPS(DPT_KIND_ACTIVATION, "elu", "1.0.0",
                                   "exponential linear unit, y = x > 0 ? x : alpha * (exp(x) - 1)",
                                   DPT_CAP_DETERMINISTIC | DPT_CAP_WRITES_DX),
    .create = elu_create,
    .destroy = elu_destroy,
    .forward = elu_forward,
    .backward = elu_backward,
};

static const struct dpt_plugin *const all[] = {&elu.base, NULL};

DPT_PLUGIN_EXPORT const struct dpt_plugin *const *dpt_plugins(void)
{
    return all;
}
