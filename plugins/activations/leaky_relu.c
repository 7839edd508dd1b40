/* Activation "leaky_relu": y = x for x > 0, alpha * x otherwise.
 *
 * Setting: alpha, the slope for x <= 0 (default 0.01, in [0, 1]). The
 * default is PyTorch's nn.LeakyReLU and the slope of Maas et al. (2013);
 * Keras' LeakyReLU layer defaults to 0.3 and tf.nn.leaky_relu to 0.2, so a
 * model ported from Keras should set alpha explicitly. alpha = 0 is relu.
 *
 * The derivative at x = 0 is taken as alpha (as PyTorch does); a NaN input
 * stays NaN. The instance holds alpha and is read-only after create.
 */
#include "config.h"

#include <dptrain/plugin.h>

#include <stdlib.h>

struct leaky_relu {
    float alpha;
};

/* Reads alpha; the instance is freed by leaky_relu_destroy. Returns 0 or
 * the negative value the host gave. */
static int leaky_relu_create(void **state, const struct dpt_host *host)
{
    double alpha;
    int rc = host->get_float(host->ctx, "alpha", 0.01, 0.0, 1.0, &alpha);
    if (rc < 0) {
        return rc;
    }
    struct leaky_relu *s = malloc(sizeof *s);
    if (!s) {
        return host->error(host->ctx, "out of memory");
    }
    s->alpha = (float)alpha;
    *state = s;
    return 0;
}

static void leaky_relu_destroy(void *state)
{
    free(state);
}

/* y = x > 0 ? x : alpha * x over (rows, cols). */
static void leaky_relu_forward(const void *state, const float *x, float *y, size_t rows,
                               size_t cols)
{
    const struct leaky_relu *s = state;
    for (size_t i = 0; i < rows * cols; i++) {
        y[i] = x[i] > 0.0f ? x[i] : s->alpha * x[i];
    }
}

/* dx = dy where x > 0, alpha * dy elsewhere. */
static void leaky_relu_backward(const void *state, const float *x, const float *y,
                                const float *dy, float *dx, size_t rows, size_t cols)
{
    (void)y;
    const struct leaky_relu *s = state;
    for (size_t i = 0; i < rows * cols; i++) {
        dx[i] = x[i] > 0.0f ? dy[i] : s->alpha * dy[i];
    }
}

static const struct dpt_activation_plugin leaky_relu = {
    .base = DPT_PLUGIN_HEADER_CAPS(DPT_KIND_ACTIVATION, "leaky_relu", "1.0.0",
                                   "leaky rectifier, y = x > 0 ? x : alpha * x",
                                   DPT_CAP_DETERMINISTIC | DPT_CAP_WRITES_DX),
    .create = leaky_relu_create,
    .destroy = leaky_relu_destroy,
    .forward = leaky_relu_forward,
    .backward = leaky_relu_backward,
};

static const struct dpt_plugin *const all[] = {&leaky_relu.base, NULL};

DPT_PLUGIN_EXPORT const struct dpt_plugin *const *dpt_plugins(void)
{
    return all;
}
