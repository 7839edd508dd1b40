/* Activation "gelu": Gaussian error linear unit, y = x * Phi(x), Phi the
 * standard normal distribution function (Hendrycks and Gimpel, 2016).
 *
 * Setting: approximate, "none" (default: the exact erf form) or "tanh"
 * (the approximation 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))), as
 * PyTorch's nn.GELU(approximate=...); Keras' gelu(approximate=False/True)
 * computes the same two forms. The derivative is the exact derivative of
 * the chosen form, not of the other one.
 *
 * Stability: Phi(x) = erfc(-x / sqrt(2)) / 2 keeps its relative precision in
 * the left tail, where 1 + erf(x / sqrt(2)) would cancel to 0; the tanh form
 * is computed as x * sigmoid(2u), with exp only of -|2u|. Both give y = 0
 * far left and y = x far right for any finite x, without NaN. The instance
 * holds the choice and is read-only after create.
 */
#include "config.h"

#include <dptrain/plugin.h>

#include <math.h>
#include <stdlib.h>

struct gelu {
    int tanh_form; /* 0: exact erf form, 1: tanh approximation */
};

/* 1 / sqrt(2), sqrt(2 / pi), 1 / sqrt(2 pi), and the tanh form's cubic
 * coefficient. */
#define INV_SQRT_2 0.7071067811865476f
#define SQRT_2_OVER_PI 0.7978845608028654f
#define INV_SQRT_2PI 0.3989422804014327f
#define CUBIC 0.044715f

/* Reads approximate; the instance is freed by gelu_destroy. Returns 0 or
 * the negative value the host gave. */
static int gelu_create(void **state, const struct dpt_host *host)
{
    static const char *const choices[] = {"none", "tanh", NULL};
    const char *approximate;
    int rc = host->get_string(host->ctx, "approximate", "none", choices, &approximate);
    if (rc < 0) {
        return rc;
    }
    struct gelu *s = malloc(sizeof *s);
    if (!s) {
        return host->error(host->ctx, "out of memory");
    }
    s->tanh_form = approximate[0] == 't'; /* the host allowed only the choices */
    *state = s;
    return 0;
}

static void gelu_destroy(void *state)
{
    free(state);
}

/* sigmoid(z) in *s and 1 - sigmoid(z) in *sc, each to full relative
 * precision: e = exp(-|z|) is in (0, 1] and never overflows. */
static void sigmoid_pair(float z, float *s, float *sc)
{
    float e = expf(-fabsf(z));
    float big = 1.0f / (1.0f + e), small = e / (1.0f + e);
    *s = z >= 0.0f ? big : small;
    *sc = z >= 0.0f ? small : big;
}

/* The argument 2u of the tanh form's sigmoid, with its derivative in *du.
 * x is clamped to [-20, 20] for the polynomial: beyond |x| = 10.7 the
 * sigmoid is already exactly 0 or 1 in float, and the clamp keeps x^3 and
 * x^2 finite, so no inf * 0 = NaN reaches the derivative. */
static float tanh_form_arg(float x, float *du)
{
    float xc = fminf(fmaxf(x, -20.0f), 20.0f);
    *du = 2.0f * SQRT_2_OVER_PI * (1.0f + 3.0f * CUBIC * xc * xc);
    return 2.0f * SQRT_2_OVER_PI * (xc + CUBIC * xc * xc * xc);
}

/* y = x * Phi(x), or its tanh approximation, over (rows, cols). */
static void gelu_forward(const void *state, const float *x, float *y, size_t rows, size_t cols)
{
    const struct gelu *g = state;
    for (size_t i = 0; i < rows * cols; i++) {
        if (g->tanh_form) {
            float du, s, sc;
            sigmoid_pair(tanh_form_arg(x[i], &du), &s, &sc);
            y[i] = x[i] * s;
        } else {
            y[i] = 0.5f * x[i] * erfcf(-x[i] * INV_SQRT_2);
        }
    }
}

/* dx = dy * (Phi(x) + x phi(x)), phi the normal density; for the tanh form
 * dx += dy * (s + x s (1 - s) d(2u)/dx), s = sigmoid(2u). */
static void gelu_backward(const void *state, const float *x, const float *y, const float *dy,
                          float *dx, size_t rows, size_t cols)
{
    (void)y;
    const struct gelu *g = state;
    for (size_t i = 0; i < rows * cols; i++) {
        float d;
        if (g->tanh_form) {
            float du, s, sc;
            sigmoid_pair(tanh_form_arg(x[i], &du), &s, &sc);
            d = s + x[i] * s * sc * du;
        } else {
            float cdf = 0.5f * erfcf(-x[i] * INV_SQRT_2);
            float pdf = INV_SQRT_2PI * expf(-0.5f * x[i] * x[i]);
            d = cdf + x[i] * pdf;
        }
        dx[i] = dy[i] * d;
    }
}

static const struct dpt_activation_plugin gelu = {
    .base = DPT_PLUGIN_HEADER_CAPS(DPT_KIND_ACTIVATION, "gelu", "1.0.0",
                                   "Gaussian error linear unit, exact or tanh approximation",
                                   DPT_CAP_DETERMINISTIC | DPT_CAP_WRITES_DX),
    .create = gelu_create,
    .destroy = gelu_destroy,
    .forward = gelu_forward,
    .backward = gelu_backward,
};

static const struct dpt_plugin *const all[] = {&gelu.base, NULL};

DPT_PLUGIN_EXPORT const struct dpt_plugin *const *dpt_plugins(void)
{
    return all;
}
