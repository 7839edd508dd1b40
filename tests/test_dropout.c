/* The dropout layer: identity at inference; in training the kept fraction,
 * the scaling, masks that depend on the sample position only (so splitting a
 * batch differently gives the same masks), new masks per epoch, and a
 * backward pass that uses the forward's mask and accumulates. Loaded through
 * the real registry and host services. */
#include "config.h"

#include "plugin/host.h"
#include "plugin/registry.h"
#include "util.h"
#include "util/util.h"

#include <CUnit/CUnit.h>
#include <libconfig.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define ROWS 200
#define N 500

static struct dpt_registry *reg;
static const struct dpt_layer_plugin *dropout;
static config_t cfg;
static struct dpt_host_ctx host;
static void *state;

static int setup(void)
{
    struct dpt_err err = {0};
    if (dpt_registry_create(&reg, NULL, &err) < 0) {
        return -1;
    }
    dropout = (const struct dpt_layer_plugin *)dpt_registry_find(reg, DPT_KIND_LAYER, "dropout",
                                                                 &err);
    config_init(&cfg);
    if (!dropout || !config_read_string(&cfg, "rate = 0.3;")) {
        return -1;
    }
    dpt_host_init(&host, config_root_setting(&cfg), "test.cfg", "layer 1 (dropout)");
    /* Any shape: [4, N / 4] comes out as it went in. */
    struct dpt_shape in = {.rank = 2, .dims = {4, N / 4}};
    struct dpt_layer_info shape;
    if (dropout->create(&state, &host.host, &in, &shape) < 0 || shape.out.rank != 2 ||
        shape.out.dims[0] != 4 || shape.out.dims[1] != N / 4 || shape.n_params != 0 ||
        shape.n_state != 0) {
        return -1;
    }
    return 0;
}

static int teardown(void)
{
    if (state) {
        dropout->destroy(state);
    }
    config_destroy(&cfg);
    dpt_registry_destroy(reg);
    return 0;
}

static float *filled(float v)
{
    float *p = malloc(ROWS * N * sizeof *p);
    for (size_t i = 0; i < ROWS * N; i++) {
        p[i] = v + (float)(i % 7);
    }
    return p;
}

static void test_inference_is_identity(void)
{
    float *x = filled(1), *y = filled(0);
    dropout->forward(state, NULL, x, y, &(struct dpt_batch){.B = ROWS});
    CU_ASSERT_EQUAL(memcmp(x, y, ROWS * N * sizeof *x), 0);
    free(x);
    free(y);
}

static void test_train_mask(void)
{
    CU_ASSERT_EQUAL(dropout->workspace_bytes(state, ROWS), ROWS * N * sizeof(float));
    float *x = filled(1), *y = filled(0), *ws = malloc(ROWS * N * sizeof(float));
    struct dpt_batch info = {.B = ROWS, .ws = ws, .training = 1, .key = 42, .first_sample = 1000,
                             .epoch = 0, .step = 3};
    dropout->forward(state, NULL, x, y, &info);
    size_t kept = 0, right = 0;
    for (size_t i = 0; i < ROWS * N; i++) {
        kept += y[i] != 0;
        /* kept values are x / (1 - rate), dropped ones 0, and ws holds the factor */
        right += (y[i] == 0 && ws[i] == 0) ||
                 (fabsf(y[i] - x[i] / 0.7f) <= 1e-6f * y[i] && ws[i] == 1.0f / 0.7f);
    }
    /* 10^5 Bernoulli(0.7) draws: the fraction's std is 0.0014; 0.01 is 7 of them. */
    double frac = (double)kept / (ROWS * N);
    CU_ASSERT(fabs(frac - 0.7) < 0.01);
    CU_ASSERT_EQUAL(right, ROWS * N);

    /* Splitting the rows differently gives the same masks. */
    float *y2 = filled(0), *ws2 = malloc(ROWS * N * sizeof(float));
    struct dpt_batch first = info, second = info;
    first.B = second.B = ROWS / 2;
    first.ws = ws2;
    second.ws = ws2 + ROWS / 2 * N;
    second.first_sample = info.first_sample + ROWS / 2;
    dropout->forward(state, NULL, x, y2, &first);
    dropout->forward(state, NULL, x + ROWS / 2 * N, y2 + ROWS / 2 * N, &second);
    CU_ASSERT_EQUAL(memcmp(y, y2, ROWS * N * sizeof *y), 0);

    /* Another key (epoch or layer) draws other masks. */
    struct dpt_batch other = info;
    other.key = 43;
    other.ws = ws2;
    dropout->forward(state, NULL, x, y2, &other);
    size_t same = 0;
    for (size_t i = 0; i < ROWS * N; i++) {
        same += (y[i] == 0) == (y2[i] == 0);
    }
    CU_ASSERT(same < ROWS * N * 0.7); /* independent masks agree on ~58% of elements */

    /* Backward writes dx = dy * mask (DPT_CAP_WRITES_DX: what dx held does
     * not matter), with the mask of the forward just run. */
    CU_ASSERT(dropout->base.caps & DPT_CAP_WRITES_DX);
    dropout->forward(state, NULL, x, y, &info);
    float *dy = filled(2), *dx = filled(0);
    for (size_t i = 0; i < ROWS * N; i++) {
        dx[i] = NAN;
    }
    dropout->backward(state, NULL, x, y, dy, dx, NULL, &info);
    size_t ok = 0;
    for (size_t i = 0; i < ROWS * N; i++) {
        ok += dx[i] == dy[i] * ws[i];
    }
    CU_ASSERT_EQUAL(ok, ROWS * N);
    dropout->backward(state, NULL, x, y, dy, NULL, NULL, &info); /* first layer: no dx */
    free(x);
    free(y);
    free(y2);
    free(ws);
    free(ws2);
    free(dy);
    free(dx);
}

static void test_rate_range(void)
{
    config_t bad;
    config_init(&bad);
    CU_ASSERT_FATAL(config_read_string(&bad, "rate = 1.0;"));
    struct dpt_host_ctx h;
    dpt_host_init(&h, config_root_setting(&bad), "bad.cfg", "layer 2 (dropout)");
    void *st = NULL;
    struct dpt_layer_info shape;
    CU_ASSERT(dropout->create(&st, &h.host, &(struct dpt_shape){.rank = 1, .dims = {10}},
                              &shape) < 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(h.err.msg, "'rate' must be in [0, 0.999], got 1"));
    config_destroy(&bad);
}

int main(void)
{
    if (CU_initialize_registry() != CUE_SUCCESS) {
        return 2;
    }
    CU_pSuite s = CU_add_suite("dropout", setup, teardown);
    CU_add_test(s, "inference is the identity", test_inference_is_identity);
    CU_add_test(s, "training masks: fraction, scale, position-only, backward", test_train_mask);
    CU_add_test(s, "rate out of range is refused", test_rate_range);
    return test_run_all();
}
