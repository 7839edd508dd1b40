/* The CUnit face of the layer checks in src/check/harness.h, for the tests
 * of every layer (tests/test_layers.c, test_conv.c, test_pool.c,
 * test_batch_norm.c): create with settings and an input shape, then
 * forward/backward over B rows against central finite differences, and
 * the buffer contracts of include/dptrain/plugin.h, asserted. The harness
 * itself (guarded buffers, the finite-difference loop, the contracts) is
 * the one `dptrain check-plugin` runs, so the two cannot drift apart.
 *
 * The objective is L = sum(r * y) for a fixed random r, accumulated in
 * double from the layer's float outputs; its derivative by x or a
 * parameter v is (L(v + h) - L(v - h)) / (the step actually taken after
 * rounding to float). For layers linear in x and in their parameters
 * (convolutions, pooling away from ties) the truncation error is zero and a
 * large h (0.1) keeps the float rounding small; nonlinear layers (batch
 * norm) need a smaller h (1e-2). Errors are |analytic - numeric| /
 * max(1, |analytic|, |numeric|). The tests choose inputs away from kinks,
 * so the finite differences here are not kink-aware.
 */
#ifndef DPT_TESTS_LAYER_CHECK_H
#define DPT_TESTS_LAYER_CHECK_H

#include "check/harness.h"
#include "plugin/host.h"

#include <dptrain/plugin.h>
#include <libconfig.h>
#include <stddef.h>
#include <stdint.h>

struct lc {
    const struct dpt_layer_plugin *p;
    void *st;
    config_t cfg;
    struct dpt_host_ctx host;
    struct dpt_shape in;
    struct dpt_layer_info info;
    size_t n_in, n_out; /* floats per sample */
    size_t n_slice;     /* n_params + n_state */
    float *params;      /* initialized by the plugin's init from a fixed seed */
    struct dpt_check_layer l; /* the harness's instance; the members above alias it */
};

/* The shape [d0], [d0, d1] or [d0, d1, d2] (unused trailing 0s). */
struct dpt_shape lc_shape(uint64_t d0, uint64_t d1, uint64_t d2);

/* Creates layer plugin `name` (found on DPTRAIN_PLUGIN_PATH, as make check
 * sets it) with the libconfig settings text (e.g. "filters = 4;
 * kernel_size = 3;") for inputs of shape *in, and initializes its slice.
 * Returns 0, or a negative value with the plugin's message in c->host.err
 * (for tests of refused settings); lc_destroy is safe either way. */
int lc_create(struct lc *c, const char *name, const char *settings, const struct dpt_shape *in);
void lc_destroy(struct lc *c);

/* Forward over B rows of x into y (training: a training call with a fixed
 * key, scale 1 / B; its workspace is kept for lc_backward). */
void lc_forward(struct lc *c, const float *x, float *y, size_t B, int training);
/* Backward of the last training forward (same x, B). */
void lc_backward(struct lc *c, const float *x, const float *y, const float *dy, float *dx,
                 float *dparams, size_t B);

/* The worst finite-difference errors of dx and of the trainable parameters
 * for B rows of inputs drawn uniformly from [lo, hi] (seeded), training
 * forward; written to *dx_err and *dp_err. */
void lc_gradient_errors(struct lc *c, size_t B, uint64_t seed, double lo, double hi, double h,
                        double *dx_err, double *dp_err);

/* The contracts of dpt_check_layer_contracts, asserted with CUnit: forward
 * writes every output (y filled with NaN first) at inference and in
 * training; backward adds into prefilled dparams; dx is added into, or
 * fully written under DPT_CAP_WRITES_DX (filled with NaN first); dx NULL
 * gives the same dparams; the same inputs give the same bits twice;
 * nothing is written before or past any buffer or the workspace; inputs
 * unchanged; finite outputs. */
void lc_check_contracts(struct lc *c, size_t B, uint64_t seed);

/* lc_gradient_errors asserted below tol (printing both errors), then
 * lc_check_contracts: what a new layer's test calls for each case. */
void lc_check(struct lc *c, size_t B, uint64_t seed, double h, double tol);

/* Uniform floats in [lo, hi] from a small seeded generator. */
void lc_fill(float *v, size_t n, uint64_t *seed, double lo, double hi);

#endif
