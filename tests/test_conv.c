/* The convolution layers conv2d and conv1d (plugins/layers/conv_common.h):
 * finite-difference gradients and the buffer contracts through
 * tests/layer_check.c over strides, "valid" and "same" padding (with the
 * asymmetric padding of even kernels and strides), dilation, 1 x 1 kernels
 * and use_bias = false; forward values computed by hand; a comparison with
 * a direct convolution in double on a batch large enough to be cut into
 * several blocks of rows; the shapes and settings that are refused. The
 * finite-difference and direct comparisons run with each method ("auto",
 * "im2col" and "direct" forced), so both paths see every shape. The
 * Winograd method (3 x 3 and 5 x 5 kernels, stride 1, dilation 1 only)
 * has cases of its own: its F(2 x 2, 5 x 5) transforms against a direct
 * correlation, finite differences and contracts, its results against
 * im2col's on the same inputs (tiles cut by the edges, B = 1 and odd, C
 * and F not multiples of 8, several blocks of tiles), and its refusal
 * when forced on other shapes.
 *
 * Both layers are linear in x and in their parameters, so a finite
 * difference has no truncation error and a large step h = 0.1 keeps the
 * float rounding of the outputs (|y| < 10, a few ulps, 1e-6 each) small
 * after the division by 2h: the errors are near 1e-6, the bound 1e-4.
 */
#include "config.h"

#include "layer_check.h"
#include "util.h"

/* The Winograd method's one-dimensional transforms, checked on their own
 * (test_winograd_transforms); its other functions are not used here. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-function"
#include "../plugins/layers/conv_winograd.h"
#pragma GCC diagnostic pop

#include <CUnit/CUnit.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FD_STEP 0.1
#define FD_BOUND 1e-4

/* A layer, its settings, an input shape and the output shape Keras gives. */
struct fd_case {
    const char *settings;
    uint64_t in[3], out[3];
};

/* The methods a case runs with: the one conv_create picks by shape, and
 * each forced, so that both paths see every shape. */
static const char *const methods[] = {"", "method = \"im2col\"; ", "method = \"direct\"; "};

/* Creates the layer with settings, checks the output shape and runs the
 * finite differences and contracts with B = 1 and B = 3. */
static void check_case_with(const char *layer, const char *settings, const struct fd_case *t,
                            uint64_t seed)
{
    struct lc c;
    struct dpt_shape in = lc_shape(t->in[0], t->in[1], t->in[2]);
    int rc = lc_create(&c, layer, settings, &in);
    if (rc < 0) {
        printf("\n    %s: %s", settings, c.host.err.msg);
    }
    CU_ASSERT_EQUAL_FATAL(rc, 0);
    struct dpt_shape want = lc_shape(t->out[0], t->out[1], t->out[2]);
    CU_ASSERT_EQUAL(c.info.out.rank, want.rank);
    for (uint32_t j = 0; j < want.rank; j++) {
        CU_ASSERT_EQUAL(c.info.out.dims[j], want.dims[j]);
    }
    printf("\n    %s:", settings);
    lc_check(&c, 1, seed, FD_STEP, FD_BOUND);
    lc_check(&c, 3, seed + 10, FD_STEP, FD_BOUND);
    lc_destroy(&c);
}

/* conv2d on each of n cases with one method forced ("direct",
 * "winograd"), seeds seed, seed + 20, ... */
static void check_cases_by(const char *method, const struct fd_case *cases, size_t n,
                           uint64_t seed)
{
    for (size_t i = 0; i < n; i++) {
        char settings[256];
        snprintf(settings, sizeof settings, "method = \"%s\"; %s", method, cases[i].settings);
        check_case_with("conv2d", settings, &cases[i], seed + 20 * i);
    }
}

/* The case with each method. */
static void check_case(const char *layer, const struct fd_case *t, uint64_t seed)
{
    for (size_t m = 0; m < sizeof methods / sizeof methods[0]; m++) {
        char settings[256];
        snprintf(settings, sizeof settings, "%s%s", methods[m], t->settings);
        check_case_with(layer, settings, t, seed);
    }
}

/* Output shapes from Keras' rules: "valid" floor((in - span) / s) + 1 with
 * span = (k - 1) * d + 1, "same" ceil(in / s). The padding each "same"
 * case gets (top/bottom, left/right) is in its comment. */
static void test_conv2d_gradients(void)
{
    static const struct fd_case cases[] = {
        {"filters = 3; kernel_size = 3;", {5, 5, 2}, {3, 3, 3}},
        /* rows 0/1, columns 1/1 */
        {"filters = 2; kernel_size = 3; strides = 2; padding = \"same\";", {6, 7, 2}, {3, 4, 2}},
        /* an even kernel: 0/1 and 0/1 */
        {"filters = 2; kernel_size = 2; padding = \"same\";", {4, 5, 1}, {4, 5, 2}},
        /* rows 1/2, columns 1/1 */
        {"filters = 2; kernel_size = 4; strides = 2; padding = \"same\";", {7, 6, 3}, {4, 3, 2}},
        {"filters = 3; kernel_size = 2; strides = 2;", {5, 5, 2}, {2, 2, 3}},
        /* row 7 and column 8 are under no window: their dx is 0 */
        {"filters = 2; kernel_size = 4; strides = 3;", {8, 9, 1}, {2, 2, 2}},
        {"filters = 2; kernel_size = 3; dilation = 2;", {7, 7, 2}, {3, 3, 2}},
        /* 2/2 and 2/2 */
        {"filters = 2; kernel_size = 3; dilation = 2; padding = \"same\";", {5, 6, 2}, {5, 6, 2}},
        /* 1 x 1, stride 1: im2col is the identity and is skipped */
        {"filters = 4; kernel_size = 1;", {3, 4, 5}, {3, 4, 4}},
        {"filters = 3; kernel_size = 1; strides = 2;", {5, 4, 2}, {3, 2, 3}},
        {"filters = 3; kernel_size = 3; padding = \"same\"; use_bias = false;", {4, 4, 3},
         {4, 4, 3}},
        /* two vectors of filters for the direct method (8 + 3), K = 18 */
        {"filters = 11; kernel_size = 3;", {6, 5, 2}, {4, 3, 11}},
        /* LeNet's first layer, smaller: one channel, 5 x 5 "same" (2/2);
         * K = 25, the direct kernel gradient goes by tiles of 5 taps */
        {"filters = 6; kernel_size = 5; padding = \"same\";", {9, 7, 1}, {9, 7, 6}},
        /* K = 49: tiles of 7 taps; K = 18 above: of 6; K = 27: of 8, overlapping */
        {"filters = 2; kernel_size = 7;", {8, 9, 1}, {2, 3, 2}},
        /* three vectors of filters (8 + 8 + 4): a pair, then one left over */
        {"filters = 20; kernel_size = 2;", {3, 4, 2}, {2, 3, 20}},
        /* two full vectors of filters, 5 x 5 on 6 channels as LeNet's
         * second layer, fewer positions than a tile (3 x 2) */
        {"filters = 16; kernel_size = 5;", {7, 6, 6}, {3, 2, 16}},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        check_case("conv2d", &cases[i], 100 + 20 * i);
    }
}

/* The kernel gradient by output columns (one channel, at most 8 filters,
 * stride and dilation 1, rows of 16 or more: conv_rowlanes_dk_sample),
 * forced with DPTRAIN_CONV_LANES=16 so that every CPU runs it: finite
 * differences and the contracts (dparams the same bits with dx and
 * without, += into dparams). LeNet's first layer on rows of 18 (the last
 * chunk of 16 half past the row: zeros); 4 filters (groups of 3: one
 * padded); a kernel 7 wide (passes of 5 and 2 taps), 8 filters, no bias;
 * one filter, an even kernel, rows of exactly 16. */
static void test_conv2d_rowlanes_gradients(void)
{
    static const struct fd_case cases[] = {
        {"filters = 6; kernel_size = 5; padding = \"same\";", {5, 18, 1}, {5, 18, 6}},
        {"filters = 4; kernel_size = 3;", {4, 19, 1}, {2, 17, 4}},
        {"filters = 8; kernel_size = 7; use_bias = false;", {8, 23, 1}, {2, 17, 8}},
        {"filters = 1; kernel_size = 2;", {3, 17, 1}, {2, 16, 1}},
    };
    setenv("DPTRAIN_CONV_LANES", "16", 1);
    check_cases_by("direct", cases, sizeof cases / sizeof cases[0], 900);
    unsetenv("DPTRAIN_CONV_LANES");
}

/* The Winograd method, forced, on the shapes it computes (3 x 3 and 5 x 5, stride 1,
 * dilation 1): outputs that are not whole tiles of 4 x 4 (3 x 3, 7 x 5,
 * 1 x 1, 6 x 2), "valid" and "same", C and F not multiples of 8. Its
 * rounding is a few times im2col's (see WINO_TOL) and still far below the
 * bound. */
static void test_conv2d_winograd_gradients(void)
{
    static const struct fd_case cases[] = {
        {"filters = 3; kernel_size = 3;", {5, 5, 2}, {3, 3, 3}},
        {"filters = 5; kernel_size = 3; padding = \"same\";", {7, 5, 3}, {7, 5, 5}},
        {"filters = 9; kernel_size = 3; padding = \"same\";", {1, 1, 10}, {1, 1, 9}},
        {"filters = 2; kernel_size = 3; use_bias = false;", {8, 4, 9}, {6, 2, 2}},
        {"filters = 11; kernel_size = 3; padding = \"same\";", {3, 3, 4}, {3, 3, 11}},
        /* F(2 x 2, 5 x 5): 5 x 3 and 3 x 3 outputs, "same" on 1 x 1 */
        {"filters = 3; kernel_size = 5;", {9, 7, 2}, {5, 3, 3}},
        {"filters = 16; kernel_size = 5;", {7, 7, 6}, {3, 3, 16}},
        {"filters = 5; kernel_size = 5; padding = \"same\";", {5, 3, 3}, {5, 3, 5}},
        {"filters = 9; kernel_size = 5; padding = \"same\";", {1, 1, 10}, {1, 1, 9}},
        {"filters = 2; kernel_size = 5; use_bias = false;", {8, 6, 9}, {4, 2, 2}},
    };
    check_cases_by("winograd", cases, sizeof cases / sizeof cases[0], 700);
}

static void test_conv1d_gradients(void)
{
    static const struct fd_case cases[] = {
        {"filters = 3; kernel_size = 3;", {9, 2}, {7, 3}},
        /* 1 before, 2 after */
        {"filters = 2; kernel_size = 4; strides = 2; padding = \"same\";", {9, 3}, {5, 2}},
        /* 2 before, 2 after */
        {"filters = 2; kernel_size = 3; dilation = 2; padding = \"same\";", {6, 2}, {6, 2}},
        {"filters = 2; kernel_size = 1; use_bias = false;", {5, 3}, {5, 2}},
        /* one channel (stored transposed), strided: 0 before, 1 after */
        {"filters = 2; kernel_size = 3; strides = 2; padding = \"same\";", {10, 1}, {5, 2}},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        check_case("conv1d", &cases[i], 500 + 20 * i);
    }
}

/* Runs an inference forward of one sample with the given parameters and
 * compares y with want (exact: every value is a small integer sum). */
static void check_forward_values(const char *layer, const char *settings,
                                 struct dpt_shape in, const float *params, size_t n_params,
                                 const float *x, const float *want, size_t n_out)
{
    struct lc c;
    CU_ASSERT_EQUAL_FATAL(lc_create(&c, layer, settings, &in), 0);
    CU_ASSERT_EQUAL_FATAL(c.info.n_params, n_params);
    CU_ASSERT_EQUAL_FATAL(c.n_out, n_out);
    memcpy(c.params, params, n_params * sizeof *params);
    float y[16];
    lc_forward(&c, x, y, 1, 0);
    for (size_t i = 0; i < n_out; i++) {
        if (y[i] != want[i]) {
            printf("\n    %s: y[%zu] = %g, expected %g", settings, i, y[i], want[i]);
        }
        CU_ASSERT_EQUAL(y[i], want[i]);
    }
    lc_destroy(&c);
}

/* A 3 x 3 image and two 2 x 2 filters, "valid":
 *
 *     x = 1 2 3    filter 0 = 1 2  bias 0.5    filter 1 = 0 0  bias -1
 *         4 5 6               3 4                         0 1
 *         7 8 9
 *
 * filter 0: 1*1 + 2*2 + 4*3 + 5*4 = 37, 2 + 6 + 15 + 24 = 47,
 *           4 + 10 + 21 + 32 = 67, 5 + 12 + 24 + 36 = 77, each + 0.5;
 * filter 1 picks the lower right tap: 5, 6, 8, 9, each - 1.
 * The kernel [2, 2, 1, 2] is stored tap by tap, the filters innermost. */
static void test_conv2d_by_hand_valid(void)
{
    const float x[9] = {1, 2, 3, 4, 5, 6, 7, 8, 9};
    const float params[10] = {1, 0, 2, 0, 3, 0, 4, 1, 0.5f, -1};
    const float want[8] = {37.5f, 4, 47.5f, 5, 67.5f, 7, 77.5f, 8};
    check_forward_values("conv2d", "filters = 2; kernel_size = 2;", lc_shape(3, 3, 1), params,
                         10, x, want, 8);
}

/* "same" with stride 2 on a 4 x 4 image x = 1 .. 16 (row-major), a 3 x 3
 * kernel of ones, no bias. Output ceil(4 / 2) = 2 per axis; total padding
 * (2 - 1) * 2 + 3 - 4 = 1, all of it at the bottom and the right (the
 * smaller half, 0, goes first), so window (oh, ow) covers rows 2 oh ..
 * 2 oh + 2 and columns 2 ow .. 2 ow + 2, row 4 and column 4 being zeros:
 *
 *     y[0, 0] = 1 + 2 + 3 + 5 + 6 + 7 + 9 + 10 + 11 = 54
 *     y[0, 1] = 3 + 4 + 7 + 8 + 11 + 12           = 45
 *     y[1, 0] = 9 + 10 + 11 + 13 + 14 + 15         = 72
 *     y[1, 1] = 11 + 12 + 15 + 16                  = 54
 *
 * (Padding one on each side first, as PyTorch's padding = 1 does, would
 * give y[0, 0] = 1 + 2 + 5 + 6 = 14.) */
static void test_conv2d_by_hand_same_stride2(void)
{
    float x[16], ones[9];
    for (int i = 0; i < 16; i++) {
        x[i] = (float)(i + 1);
    }
    for (int i = 0; i < 9; i++) {
        ones[i] = 1;
    }
    const float want[4] = {54, 45, 72, 54};
    check_forward_values("conv2d",
                         "filters = 1; kernel_size = 3; strides = 2; padding = \"same\"; "
                         "use_bias = false;",
                         lc_shape(4, 4, 1), ones, 9, x, want, 4);
}

/* conv1d, kernel (1, 10), dilation 2, "same" on x = 1 .. 5: the span is 3,
 * the padding 2, one on each side, so y[t] = x[t - 1] + 10 x[t + 1]:
 * 0 + 20, 1 + 30, 2 + 40, 3 + 50, 4 + 0; the bias 0.25 is added. */
static void test_conv1d_by_hand_dilated(void)
{
    const float x[5] = {1, 2, 3, 4, 5}, params[3] = {1, 10, 0.25f};
    const float want[5] = {20.25f, 31.25f, 42.25f, 53.25f, 4.25f};
    check_forward_values("conv1d", "filters = 1; kernel_size = 2; dilation = 2; "
                                   "padding = \"same\";",
                         lc_shape(5, 1, 0), params, 3, x, want, 5);
}

/* The geometry of a direct convolution, written out per case. */
struct geom {
    size_t H, W, C, kh, kw, F, sh, sw, dh, dw, pt, pl, Ho, Wo;
};

/* The input index under tap (i, j) of output (oh, ow) of sample b, or -1
 * in the padding. */
static long tap(const struct geom *g, size_t b, size_t oh, size_t ow, size_t i, size_t j)
{
    long h = (long)(oh * g->sh + i * g->dh) - (long)g->pt;
    long w = (long)(ow * g->sw + j * g->dw) - (long)g->pl;
    if (h < 0 || w < 0 || h >= (long)g->H || w >= (long)g->W) {
        return -1;
    }
    return (long)(((b * g->H + (size_t)h) * g->W + (size_t)w) * g->C);
}

/* Direct convolution in double over B samples, forward and backward at
 * once: y, and for the given dy the gradients dx, dkernel, dbias, each
 * with the sum of the absolute values of its terms (for the bound). */
struct ref {
    double *y, *dx, *dk, *db;
    double *y_abs, *dx_abs, *dk_abs, *db_abs;
};

static void ref_conv(const struct geom *g, size_t B, const float *x, const float *params,
                     const float *dy, struct ref *r)
{
    const float *k = params, *bias = params + g->kh * g->kw * g->C * g->F;
    for (size_t b = 0; b < B; b++) {
        for (size_t o = 0; o < g->Ho * g->Wo; o++) {
            for (size_t f = 0; f < g->F; f++) {
                size_t out = (b * g->Ho * g->Wo + o) * g->F + f;
                r->y[out] = bias[f], r->y_abs[out] = fabs(bias[f]);
                r->db[f] += dy[out], r->db_abs[f] += fabs(dy[out]);
                for (size_t t = 0; t < g->kh * g->kw * g->C; t++) {
                    size_t i = t / (g->kw * g->C), j = t / g->C % g->kw, ch = t % g->C;
                    long at = tap(g, b, o / g->Wo, o % g->Wo, i, j);
                    if (at < 0) {
                        continue;
                    }
                    double xv = x[at + (long)ch], kv = k[t * g->F + f];
                    r->y[out] += xv * kv, r->y_abs[out] += fabs(xv * kv);
                    r->dx[at + (long)ch] += dy[out] * kv;
                    r->dx_abs[at + (long)ch] += fabs(dy[out] * kv);
                    r->dk[t * g->F + f] += dy[out] * xv;
                    r->dk_abs[t * g->F + f] += fabs(dy[out] * xv);
                }
            }
        }
    }
}

/* Counts values of got off want by more than 1e-5 of the sum of the
 * absolute values of want's terms (float sums err by far less than that
 * in any order; a wrong or missing term by far more). */
static size_t count_off(const float *got, const double *want, const double *abs_sum, size_t n)
{
    size_t bad = 0;
    for (size_t i = 0; i < n; i++) {
        bad += !(fabs(got[i] - want[i]) <= 1e-5 * abs_sum[i] + 1e-30);
    }
    return bad;
}

/* One case against the direct convolution: forward, then backward into
 * dparams prefilled with 0 and dx with NaN (the layer writes dx). */
static void check_against_direct_with(const char *settings, const struct geom *g, size_t B,
                                      int want_blocks)
{
    struct lc c;
    struct dpt_shape in = lc_shape(g->H, g->W, g->C);
    CU_ASSERT_EQUAL_FATAL(lc_create(&c, "conv2d", settings, &in), 0);
    CU_ASSERT_FATAL(c.info.out.dims[0] == g->Ho && c.info.out.dims[1] == g->Wo);
    size_t nx = B * c.n_in, ny = B * c.n_out, np = c.info.n_params, nk = np - g->F;
    /* A workspace that stops growing with the batch means im2col cuts the
     * batch into blocks. The direct method (forced, or "auto" on these
     * cases: all have F <= 8 or C <= 8) works sample by sample, so its
     * workspace never grows with the batch. */
    size_t wsB = c.p->workspace_bytes(c.st, B), ws2B = c.p->workspace_bytes(c.st, 2 * B);
    CU_ASSERT_EQUAL(ws2B == wsB, strstr(settings, "im2col") ? want_blocks : 1);
    float *x = malloc(nx * sizeof *x), *y = malloc(ny * sizeof *y), *dy = malloc(ny * sizeof *dy);
    float *dx = malloc(nx * sizeof *dx), *dp = calloc(np, sizeof *dp);
    double *all = calloc(2 * (ny + nx + np), sizeof *all);
    CU_ASSERT_FATAL(x && y && dy && dx && dp && all);
    double *abs_sums = all + ny + nx + np;
    struct ref r = {.y = all, .dx = all + ny, .dk = all + ny + nx, .db = all + ny + nx + nk,
                    .y_abs = abs_sums, .dx_abs = abs_sums + ny, .dk_abs = abs_sums + ny + nx,
                    .db_abs = abs_sums + ny + nx + nk};
    uint64_t seed = 9;
    lc_fill(x, nx, &seed, -2, 2);
    lc_fill(dy, ny, &seed, -1, 1);
    lc_fill(c.params + nk, g->F, &seed, -1, 1); /* a bias that is not 0 */
    for (size_t i = 0; i < nx; i++) {
        dx[i] = NAN;
    }
    ref_conv(g, B, x, c.params, dy, &r);
    lc_forward(&c, x, y, B, 1);
    lc_backward(&c, x, y, dy, dx, dp, B);
    size_t bad_y = count_off(y, r.y, r.y_abs, ny), bad_dx = count_off(dx, r.dx, r.dx_abs, nx);
    size_t bad_dk = count_off(dp, r.dk, r.dk_abs, nk);
    size_t bad_db = count_off(dp + nk, r.db, r.db_abs, g->F);
    printf("\n    %s on [%zu, %zu, %zu], B = %zu: %zu y, %zu dx, %zu dkernel, %zu dbias off",
           settings, g->H, g->W, g->C, B, bad_y, bad_dx, bad_dk, bad_db);
    CU_ASSERT(bad_y == 0 && bad_dx == 0 && bad_dk == 0 && bad_db == 0);
    free(x), free(y), free(dy), free(dx), free(dp), free(all);
    lc_destroy(&c);
}

/* The case with each method. */
static void check_against_direct(const char *settings, const struct geom *g, size_t B,
                                 int want_blocks)
{
    for (size_t m = 0; m < sizeof methods / sizeof methods[0]; m++) {
        char with[256];
        snprintf(with, sizeof with, "%s%s", methods[m], settings);
        check_against_direct_with(with, g, B, want_blocks);
    }
}

/* The direct convolution knows nothing of im2col or blocks. The cases
 * are large enough to be cut into several blocks of rows by the bound on
 * the workspace (checked), blocks that end inside a sample:
 *   - 24 x 24 x 32, 3 x 3 "same" (padding 1/1): the common case;
 *   - 28 x 28 x 1, LeNet's first layer, 5 x 5 "same" (padding 2/2): one
 *     channel, whose columns are stored transposed;
 *   - 33 x 33 x 8, 3 x 3, stride 2, "same": output ceil(33 / 2) = 17, total
 *     padding 16 * 2 + 3 - 33 = 2, so 1/1; dx through col2im across blocks;
 * and a small one with the asymmetric padding of an even kernel: 9 x 8 x 3,
 * 4 x 4, stride 2, "same": output 5 x 4, padding (4 * 2 + 4 - 9 = 3) 1/2
 * for the rows and (3 * 2 + 4 - 8 = 2) 1/1 for the columns. */
static void test_conv2d_against_direct(void)
{
    const struct geom big = {.H = 24, .W = 24, .C = 32, .kh = 3, .kw = 3, .F = 8, .sh = 1,
                             .sw = 1, .dh = 1, .dw = 1, .pt = 1, .pl = 1, .Ho = 24, .Wo = 24};
    check_against_direct("filters = 8; kernel_size = 3; padding = \"same\";", &big, 3, 1);
    const struct geom lenet = {.H = 28, .W = 28, .C = 1, .kh = 5, .kw = 5, .F = 6, .sh = 1,
                               .sw = 1, .dh = 1, .dw = 1, .pt = 2, .pl = 2, .Ho = 28, .Wo = 28};
    check_against_direct("filters = 6; kernel_size = 5; padding = \"same\";", &lenet, 5, 1);
    const struct geom strided = {.H = 33, .W = 33, .C = 8, .kh = 3, .kw = 3, .F = 4, .sh = 2,
                                 .sw = 2, .dh = 1, .dw = 1, .pt = 1, .pl = 1, .Ho = 17,
                                 .Wo = 17};
    check_against_direct("filters = 4; kernel_size = 3; strides = 2; padding = \"same\";",
                         &strided, 5, 1);
    const struct geom odd = {.H = 9, .W = 8, .C = 3, .kh = 4, .kw = 4, .F = 5, .sh = 2,
                             .sw = 2, .dh = 1, .dw = 1, .pt = 1, .pl = 1, .Ho = 5, .Wo = 4};
    check_against_direct("filters = 5; kernel_size = 4; strides = 2; padding = \"same\";", &odd,
                         1, 0);
    /* Two vectors of filters, the second part full (12 = 8 + 4), 3 x 3
     * "valid" with dilation 2 on [13, 11, 2]: 9 x 7 positions, and the
     * direct method's last tiles of positions and of taps (K = 18) overlap
     * the ones before. */
    const struct geom wide = {.H = 13, .W = 11, .C = 2, .kh = 3, .kw = 3, .F = 12, .sh = 1,
                              .sw = 1, .dh = 2, .dw = 2, .pt = 0, .pl = 0, .Ho = 9, .Wo = 7};
    check_against_direct("filters = 12; kernel_size = 3; dilation = 2;", &wide, 3, 0);
    check_against_direct("filters = 12; kernel_size = 3; dilation = 2;", &wide, 1, 0);
    /* More than one vector of filters, the direct method's build with FMA
     * where the CPU has it (CONV_FMA_CLONES): LeNet's second layer, 14 x
     * 14 x 6, 5 x 5 "valid", F = 16 (10 x 10 positions); 11 x 9 x 5, 5 x
     * 5 "same" (2/2 and 2/2), F = 9; 7 x 10 x 8, 3 x 3 "valid", F = 24
     * (three vectors: a pair and one left over); 6 x 5 x 2, 5 x 5 "same"
     * (2/2, 2/2), F = 17, fewer positions than a kernel row's taps; 9 x 11
     * x 3, 3 x 3, stride 2, "same" (rows (5 - 1) * 2 + 3 - 9 = 2: 1/1;
     * columns (6 - 1) * 2 + 3 - 11 = 2: 1/1), F = 16. */
    const struct geom lenet2 = {.H = 14, .W = 14, .C = 6, .kh = 5, .kw = 5, .F = 16, .sh = 1,
                                .sw = 1, .dh = 1, .dw = 1, .pt = 0, .pl = 0, .Ho = 10,
                                .Wo = 10};
    check_against_direct("filters = 16; kernel_size = 5;", &lenet2, 3, 1);
    check_against_direct("filters = 16; kernel_size = 5;", &lenet2, 1, 0);
    const struct geom f9 = {.H = 11, .W = 9, .C = 5, .kh = 5, .kw = 5, .F = 9, .sh = 1,
                            .sw = 1, .dh = 1, .dw = 1, .pt = 2, .pl = 2, .Ho = 11, .Wo = 9};
    check_against_direct("filters = 9; kernel_size = 5; padding = \"same\";", &f9, 3, 1);
    const struct geom f24 = {.H = 7, .W = 10, .C = 8, .kh = 3, .kw = 3, .F = 24, .sh = 1,
                             .sw = 1, .dh = 1, .dw = 1, .pt = 0, .pl = 0, .Ho = 5, .Wo = 8};
    check_against_direct("filters = 24; kernel_size = 3;", &f24, 1, 0);
    check_against_direct("filters = 24; kernel_size = 3;", &f24, 3, 0);
    const struct geom f17 = {.H = 6, .W = 5, .C = 2, .kh = 5, .kw = 5, .F = 17, .sh = 1,
                             .sw = 1, .dh = 1, .dw = 1, .pt = 2, .pl = 2, .Ho = 6, .Wo = 5};
    check_against_direct("filters = 17; kernel_size = 5; padding = \"same\";", &f17, 3, 0);
    const struct geom s2 = {.H = 9, .W = 11, .C = 3, .kh = 3, .kw = 3, .F = 16, .sh = 2,
                            .sw = 2, .dh = 1, .dw = 1, .pt = 1, .pl = 1, .Ho = 5, .Wo = 6};
    check_against_direct("filters = 16; kernel_size = 3; strides = 2; padding = \"same\";",
                         &s2, 3, 0);
    /* One channel and one vector of filters, the direct method's tiles
     * along output rows: the rest of a row after its whole tiles of 8 is
     * 5 (11 x 13, 3 x 3 "same", F = 3: a whole tile overlapping), 2 (14 x
     * 14, 5 x 5 "valid": 10 positions, F = 1: a half tile overlapping), 1
     * (12 x 11, 3 x 3 "valid", F = 8) or 1 with a kernel 4 wide, which
     * goes through the tiles' general case (12 x 12, 4 x 4 "valid", F =
     * 7). */
    const struct geom r5 = {.H = 11, .W = 13, .C = 1, .kh = 3, .kw = 3, .F = 3, .sh = 1,
                            .sw = 1, .dh = 1, .dw = 1, .pt = 1, .pl = 1, .Ho = 11, .Wo = 13};
    check_against_direct("filters = 3; kernel_size = 3; padding = \"same\";", &r5, 3, 0);
    const struct geom r2 = {.H = 14, .W = 14, .C = 1, .kh = 5, .kw = 5, .F = 1, .sh = 1,
                            .sw = 1, .dh = 1, .dw = 1, .pt = 0, .pl = 0, .Ho = 10, .Wo = 10};
    check_against_direct("filters = 1; kernel_size = 5;", &r2, 3, 0);
    check_against_direct("filters = 1; kernel_size = 5;", &r2, 1, 0);
    const struct geom r1 = {.H = 12, .W = 11, .C = 1, .kh = 3, .kw = 3, .F = 8, .sh = 1,
                            .sw = 1, .dh = 1, .dw = 1, .pt = 0, .pl = 0, .Ho = 10, .Wo = 9};
    check_against_direct("filters = 8; kernel_size = 3;", &r1, 3, 0);
    const struct geom k4 = {.H = 12, .W = 12, .C = 1, .kh = 4, .kw = 4, .F = 7, .sh = 1,
                            .sw = 1, .dh = 1, .dw = 1, .pt = 0, .pl = 0, .Ho = 9, .Wo = 9};
    check_against_direct("filters = 7; kernel_size = 4;", &k4, 3, 0);
}

/* The worst difference between got and want over n values, relative to
 * the largest |want|: the Winograd method's rounding errors come from its
 * transforms of whole tiles, so they scale with the tile's values rather
 * than with each output's own terms. */
static double normwise_err(const float *got, const float *want, size_t n)
{
    double worst = 0, scale = 0;
    for (size_t i = 0; i < n; i++) {
        worst = fmax(worst, fabs((double)got[i] - want[i]));
        if (!(got[i] == got[i])) {
            worst = INFINITY;
        }
        scale = fmax(scale, fabs(want[i]));
    }
    return worst / fmax(scale, 1e-30);
}

/* Runs forward and backward with settings on B samples [H, W, C] of x in
 * [-1, 1], dy in [-1, 1] and the layer's own initial kernel with a bias in
 * [-1, 1]; y, dx (filled with NaN first, or NULL) and dparams (from 0)
 * are written. Returns the layer's params count. */
static size_t run_step(const char *settings, size_t H, size_t W, size_t C, size_t F, size_t B,
                       float *y, float *dx, float *dp)
{
    struct lc c;
    struct dpt_shape in = lc_shape(H, W, C);
    int rc = lc_create(&c, "conv2d", settings, &in);
    if (rc < 0) {
        printf("\n    %s: %s", settings, c.host.err.msg);
    }
    CU_ASSERT_EQUAL_FATAL(rc, 0);
    size_t nx = B * c.n_in, ny = B * c.n_out, np = c.info.n_params;
    float *x = malloc(nx * sizeof *x), *dy = malloc(ny * sizeof *dy);
    CU_ASSERT_FATAL(x && dy);
    uint64_t seed = 77;
    lc_fill(x, nx, &seed, -1, 1);
    lc_fill(dy, ny, &seed, -1, 1);
    if (!strstr(settings, "use_bias = false")) { /* a bias that is not 0 */
        lc_fill(c.params + np - F, F, &seed, -1, 1);
    }
    for (size_t i = 0; dx && i < nx; i++) {
        dx[i] = NAN;
    }
    for (size_t i = 0; i < np; i++) {
        dp[i] = 0.0f;
    }
    lc_forward(&c, x, y, B, 1);
    lc_backward(&c, x, y, dy, dx, dp, B);
    free(x), free(dy);
    lc_destroy(&c);
    return np;
}

/* The backward pass's F(2 x 2, 5 x 5) transforms are the adjoints of the
 * forward's: <T a, b> = <a, T' b> on lane 0, a and b taken from d and g. */
static void check_winograd_adjoints(const wino_v8 *d, const wino_v8 *g)
{
    wino_v8 o[6], tmp[6];
    double lhs[3] = {0}, rhs[3] = {0}, mag[3] = {0};
    wino_bt(d, 1, o, 1); /* B^T d against v = d[6..11] */
    wino_b(d + 6, 1, tmp, 1);
    for (size_t i = 0; i < 6; i++) {
        lhs[0] += (double)o[i][0] * d[6 + i][0], rhs[0] += (double)d[i][0] * tmp[i][0];
        mag[0] += fabs((double)o[i][0] * d[6 + i][0]);
    }
    wino_at5(d, 1, o, 1); /* A^T m against y = g[0..1] */
    wino_a5(g, 1, tmp, 1);
    for (size_t i = 0; i < 6; i++) {
        lhs[1] += i < 2 ? (double)o[i][0] * g[i][0] : 0;
        rhs[1] += (double)d[i][0] * tmp[i][0];
        mag[1] += fabs((double)d[i][0] * tmp[i][0]);
    }
    wino_g5(g, 1, o, 1); /* G g against u = d[0..5] */
    wino_gt5(d, 1, tmp, 1);
    for (size_t i = 0; i < 6; i++) {
        lhs[2] += (double)o[i][0] * d[i][0];
        rhs[2] += i < 5 ? (double)g[i][0] * tmp[i][0] : 0;
        mag[2] += fabs((double)o[i][0] * d[i][0]);
    }
    for (int k = 0; k < 3; k++) {
        printf(", adjoint %d: %.1e", k, fabs(lhs[k] - rhs[k]) / fmax(mag[k], 1));
        CU_ASSERT(fabs(lhs[k] - rhs[k]) < 1e-5 * fmax(mag[k], 1));
    }
}

/* F(2 x 2, 5 x 5)'s transforms (conv_winograd.h) on their own, on small
 * integers in each of the 8 lanes: in 1-D, A^T ((G g) . (B^T d)) must be
 * the correlation y_i = sum_k g_k d_(i + k) of 6 inputs with 5 taps; in
 * 2-D, A^T ((G g G^T) . (B^T d B)) A the 2 x 2 correlation of 6 x 6 inputs
 * with 5 x 5 taps; and the backward pass's transforms must be the
 * adjoints, <B^T d, v> = <d, B v>, <A^T m, y> = <m, A y>, <G g, u> =
 * <g, G^T u>. The products of the interpolation (by 1/4, 1/6, 1/24) round,
 * so the bound is relative: 1e-5 of the terms' magnitudes (the worst
 * measured is under 1e-6). */
static void test_winograd_transforms(void)
{
    uint64_t seed = 5;
    wino_v8 d[36], g[25], v[36], u[36], tmp[36], m[36], y[4];
    float r[36 * 8];
    lc_fill(r, 36 * 8, &seed, -4, 4);
    for (size_t i = 0; i < 36; i++) {
        for (size_t l = 0; l < 8; l++) {
            d[i][l] = roundf(r[i * 8 + l]);
            g[i % 25][l] = roundf(r[(35 - i) * 8 + l]);
        }
    }
    /* 1-D: d[0..5], g[0..4] */
    wino_bt(d, 1, v, 1);
    wino_g5(g, 1, u, 1);
    for (size_t i = 0; i < 6; i++) {
        m[i] = u[i] * v[i];
    }
    wino_at5(m, 1, y, 1);
    double worst = 0;
    for (size_t l = 0; l < 8; l++) {
        for (size_t i = 0; i < 2; i++) {
            double want = 0, mag = 0;
            for (size_t k = 0; k < 5; k++) {
                want += (double)g[k][l] * d[i + k][l];
                mag += fabs((double)g[k][l] * d[i + k][l]);
            }
            worst = fmax(worst, fabs(y[i][l] - want) / fmax(mag, 1));
        }
    }
    printf("\n    F(2, 5) 1-D: %.1e", worst);
    CU_ASSERT(worst < 1e-5);
    /* 2-D: columns, then rows, as the layer applies them */
    for (size_t j = 0; j < 6; j++) {
        wino_bt(d + j, 6, tmp + j, 6);
    }
    for (size_t i = 0; i < 6; i++) {
        wino_bt(tmp + i * 6, 1, v + i * 6, 1);
    }
    for (size_t j = 0; j < 5; j++) {
        wino_g5(g + j, 5, tmp + j, 5);
    }
    for (size_t i = 0; i < 6; i++) {
        wino_g5(tmp + i * 5, 1, u + i * 6, 1);
    }
    for (size_t i = 0; i < 36; i++) {
        m[i] = u[i] * v[i];
    }
    for (size_t j = 0; j < 6; j++) {
        wino_at5(m + j, 6, tmp + j, 6);
    }
    for (size_t i = 0; i < 2; i++) {
        wino_at5(tmp + i * 6, 1, y + i * 2, 1);
    }
    worst = 0;
    for (size_t l = 0; l < 8; l++) {
        for (size_t oi = 0; oi < 2; oi++) {
            for (size_t oj = 0; oj < 2; oj++) {
                double want = 0, mag = 0;
                for (size_t ki = 0; ki < 5; ki++) {
                    for (size_t kj = 0; kj < 5; kj++) {
                        double t = (double)g[ki * 5 + kj][l] * d[(oi + ki) * 6 + oj + kj][l];
                        want += t, mag += fabs(t);
                    }
                }
                worst = fmax(worst, fabs(y[oi * 2 + oj][l] - want) / fmax(mag, 1));
            }
        }
    }
    printf(", 2-D: %.1e", worst);
    CU_ASSERT(worst < 1e-5);
    check_winograd_adjoints(d, g);
}

/* The Winograd method against im2col on the same inputs and parameters:
 * y, dx and dparams (kernel and bias) within WINO_TOL of the largest
 * value, relative. F(4 x 4, 3 x 3) in float32 measured 2e-7 .. 4.2e-6 on
 * these cases (y, dx and dparams, x and dy in [-1, 1], Glorot kernels;
 * F(2 x 2, 3 x 3) at most 5.2e-7: see WINO_M in conv_winograd.h), growing
 * slowly with C and F. The bound leaves 20 times that for other CPUs and
 * BLAS kernels, while a missing or wrong term (a tap, a tile's edge)
 * changes a value by about its own size. F(2 x 2, 5 x 5), whose G and A
 * multiply by up to 16, measured y 1.4e-7 .. 2.4e-6, dx 7.8e-7 .. 3.2e-6
 * and dparams 2.3e-7 .. 1.4e-5, the last on one channel of 28 x 28 (196
 * tiles summed per kernel gradient): still 7 times under the bound,
 * which a missing tap of a 5 x 5 kernel (a 25th of a value or more)
 * exceeds. */
#define WINO_TOL 1e-4

static void check_winograd(const char *settings, size_t k, size_t H, size_t W, size_t C,
                           size_t F, size_t B, int with_dx)
{
    char wino[256], im2col[256];
    snprintf(wino, sizeof wino, "method = \"winograd\"; filters = %zu; kernel_size = %zu; %s",
             F, k, settings);
    snprintf(im2col, sizeof im2col, "method = \"im2col\"; filters = %zu; kernel_size = %zu; %s",
             F, k, settings);
    size_t nx = B * H * W * C, ny = B * H * W * F, np = k * k * C * F + F;
    float *y[2], *dx[2], *dp[2];
    for (int k = 0; k < 2; k++) {
        y[k] = malloc(ny * sizeof *y[k]), dx[k] = malloc(nx * sizeof *dx[k]);
        dp[k] = malloc(np * sizeof *dp[k]);
        CU_ASSERT_FATAL(y[k] && dx[k] && dp[k]);
    }
    size_t n = run_step(wino, H, W, C, F, B, y[0], with_dx ? dx[0] : NULL, dp[0]);
    run_step(im2col, H, W, C, F, B, y[1], with_dx ? dx[1] : NULL, dp[1]);
    size_t Ho = H, Wo = W;
    if (!strstr(settings, "same")) {
        Ho = H - k + 1, Wo = W - k + 1;
    }
    ny = B * Ho * Wo * F;
    double ey = normwise_err(y[0], y[1], ny), edp = normwise_err(dp[0], dp[1], n);
    double edx = with_dx ? normwise_err(dx[0], dx[1], nx) : 0;
    printf("\n    winograd %zu x %zu %s[%zu, %zu, %zu] F = %zu, B = %zu: y %.1e, dx %.1e, "
           "dparams %.1e", k, k, settings, H, W, C, F, B, ey, edx, edp);
    CU_ASSERT(ey < WINO_TOL && edx < WINO_TOL && edp < WINO_TOL);
    for (int k = 0; k < 2; k++) {
        free(y[k]), free(dx[k]), free(dp[k]);
    }
}

/* Shapes whose output is not a whole number of tiles (7 x 5, 3 x 3, 1 x 1,
 * "valid" 9 x 6 -> 7 x 4), C and F not multiples of 8, B = 1 and odd, and
 * vggsmall's layers with a batch cut into several blocks of tiles. */
static void test_winograd_against_im2col(void)
{
    check_winograd("padding = \"same\";", 3, 8, 8, 8, 8, 1, 1);
    check_winograd("padding = \"same\";", 3, 7, 5, 3, 5, 3, 1);
    check_winograd("padding = \"same\";", 3, 3, 3, 11, 13, 1, 1);
    check_winograd("padding = \"same\";", 3, 1, 1, 9, 17, 5, 1);
    check_winograd("", 3, 9, 6, 10, 12, 3, 1);
    check_winograd("", 3, 3, 3, 4, 2, 2, 1);
    check_winograd("use_bias = false; padding = \"same\";", 3, 6, 10, 16, 8, 2, 1);
    check_winograd("padding = \"same\";", 3, 32, 32, 32, 32, 5, 1);
    check_winograd("padding = \"same\";", 3, 16, 16, 32, 64, 7, 0);
    check_winograd("padding = \"same\";", 3, 16, 16, 64, 64, 9, 1);
    /* F(2 x 2, 5 x 5): LeNet's second layer at the host's micro-shard of
     * 16 and at B = 1, outputs of odd sides (5 x 3, 7 x 7, 1 x 1), C and F
     * not multiples of 8, "same" with padding wider than a tile. */
    check_winograd("", 5, 14, 14, 6, 16, 16, 1);
    check_winograd("", 5, 14, 14, 6, 16, 1, 1);
    check_winograd("", 5, 9, 7, 3, 5, 3, 1);
    check_winograd("padding = \"same\";", 5, 7, 7, 11, 13, 1, 1);
    check_winograd("padding = \"same\";", 5, 1, 1, 9, 17, 5, 1);
    check_winograd("use_bias = false; padding = \"same\";", 5, 6, 10, 16, 8, 2, 1);
    check_winograd("padding = \"same\";", 5, 28, 28, 1, 6, 3, 0);
    check_winograd("padding = \"same\";", 5, 16, 16, 32, 64, 7, 1);
}

/* One step (y, dx, dparams) of the direct method on a shape, with
 * DPTRAIN_CONV_LANES=lanes[0] and then lanes[1]: y and dx must be the same
 * bits, dparams too unless dp_tol > 0 (then within dp_tol normwise). */
struct lanes_case {
    const char *settings;
    size_t H, W, C, F, B;
};

static void check_lanes_same(const struct lanes_case *k, const char *const lanes[2],
                             double dp_tol)
{
    char settings[256];
    snprintf(settings, sizeof settings, "method = \"direct\"; %s", k->settings);
    size_t nx = k->B * k->H * k->W * k->C, ny = k->B * k->H * k->W * k->F;
    size_t np = (9 * 9 * k->C + 1) * k->F; /* at least the params of any kernel used */
    float *out[2][3];
    for (int w = 0; w < 2; w++) {
        out[w][0] = calloc(ny, sizeof(float));
        out[w][1] = calloc(nx, sizeof(float));
        out[w][2] = calloc(np, sizeof(float));
        CU_ASSERT_FATAL(out[w][0] && out[w][1] && out[w][2]);
        setenv("DPTRAIN_CONV_LANES", lanes[w], 1);
        np = run_step(settings, k->H, k->W, k->C, k->F, k->B, out[w][0], out[w][1], out[w][2]);
    }
    unsetenv("DPTRAIN_CONV_LANES");
    printf("\n    %s B = %zu (%s, %s)", settings, k->B, lanes[0], lanes[1]);
    CU_ASSERT(memcmp(out[0][0], out[1][0], ny * sizeof(float)) == 0);
    CU_ASSERT(memcmp(out[0][1], out[1][1], nx * sizeof(float)) == 0);
    if (dp_tol > 0) {
        double e = normwise_err(out[1][2], out[0][2], np);
        printf(": dparams %.1e", e);
        CU_ASSERT(e < dp_tol);
    } else {
        CU_ASSERT(memcmp(out[0][2], out[1][2], np * sizeof(float)) == 0);
    }
    for (int w = 0; w < 2; w++) {
        free(out[w][0]), free(out[w][1]), free(out[w][2]);
    }
}

/* The one-channel shapes (F <= 8) whose forward goes by output columns
 * (conv_rowlanes_chunk): LeNet's first layer; rows of 18 (the last chunk
 * overlaps); F = 8 with a 7-wide kernel and no bias; F = 1 with an even
 * kernel and rows of exactly 16. */
static const struct lanes_case rowlanes_cases[] = {
    {"filters = 6; kernel_size = 5; padding = \"same\";", 28, 28, 1, 6, 2},
    {"filters = 3; kernel_size = 3;", 9, 20, 1, 3, 2},
    {"filters = 8; kernel_size = 7; use_bias = false;", 8, 23, 1, 8, 1},
    {"filters = 1; kernel_size = 2;", 5, 17, 1, 1, 2},
};

/* The direct method's wide tiles (16 filters, or 16 floats of a dx run,
 * per vector; picked on CPUs with AVX-512 for F a multiple of 16) against
 * its 8-lane tiles, forced by DPTRAIN_CONV_LANES, which conv_create reads:
 * y, dx and dparams must be the same bits (but the one-channel layers'
 * dparams, whose kernel gradient by output columns sums in another order:
 * within float rounding; test_conv2d_rowlanes_gradients checks it). Where the CPU has no AVX-512 the
 * wide tiles run as pairs of narrower instructions, so their indexing and
 * order are checked on every machine. Shapes: LeNet's second layer;
 * vggsmall's first, smaller; three vectors of filters, stride 2, "same";
 * dilation 2 (K = 18: kernel-gradient tiles of 6); fewer positions than a
 * forward tile (2 x 3), K = 49; dx runs of 24 floats (one wide vector and
 * an 8-lane one) and of 40 (two wide and an 8-lane one); no bias; and the
 * one-channel shapes whose forward goes by output columns. */
static void test_conv2d_wide_same_bits(void)
{
    static const struct lanes_case cases[] = {
        {"filters = 16; kernel_size = 5;", 14, 14, 6, 16, 3},
        {"filters = 16; kernel_size = 5;", 14, 14, 6, 16, 1},
        {"filters = 32; kernel_size = 3; padding = \"same\";", 9, 10, 3, 32, 2},
        {"filters = 48; kernel_size = 3; strides = 2; padding = \"same\";", 9, 11, 2, 48, 3},
        {"filters = 16; kernel_size = 3; dilation = 2;", 13, 11, 2, 16, 3},
        {"filters = 32; kernel_size = 7;", 8, 9, 1, 32, 2},
        {"filters = 16; kernel_size = 3; padding = \"same\";", 6, 7, 8, 16, 2},
        {"filters = 16; kernel_size = 5;", 9, 8, 8, 16, 2},
        {"filters = 16; kernel_size = 3; use_bias = false;", 7, 7, 6, 16, 2},
    };
    static const char *const lanes[2] = {"8", "16"};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        check_lanes_same(&cases[i], lanes, 0);
    }
    for (size_t i = 0; i < sizeof rowlanes_cases / sizeof rowlanes_cases[0]; i++) {
        check_lanes_same(&rowlanes_cases[i], lanes, 1e-6);
    }
}

/* The row-lanes kernels in their version for CPUs with AVX-512 (F
 * unrolled) against their version for any F and CPU
 * (DPTRAIN_CONV_LANES=16-portable): y, dx and dparams the same bits. On
 * CPUs without AVX-512 both runs take the portable version. */
static void test_conv2d_rowlanes_portable_same_bits(void)
{
    static const char *const lanes[2] = {"16", "16-portable"};
    for (size_t i = 0; i < sizeof rowlanes_cases / sizeof rowlanes_cases[0]; i++) {
        check_lanes_same(&rowlanes_cases[i], lanes, 0);
    }
}

/* create() must fail with a message containing each of the strings. */
static void check_refused(const char *layer, const char *settings, struct dpt_shape in,
                          const char *want1, const char *want2)
{
    struct lc c;
    int rc = lc_create(&c, layer, settings, &in);
    CU_ASSERT(rc < 0);
    printf("\n    refused: %s", c.host.err.msg);
    CU_ASSERT_PTR_NOT_NULL(strstr(c.host.err.msg, want1));
    CU_ASSERT_PTR_NOT_NULL(strstr(c.host.err.msg, want2));
    lc_destroy(&c);
}

static void test_refused(void)
{
    check_refused("conv2d", "filters = 2; kernel_size = 5;", lc_shape(3, 4, 1), "[5, 5]",
                  "[3, 4, 1]");
    check_refused("conv2d", "filters = 2; kernel_size = 3; dilation = 2;", lc_shape(4, 9, 2),
                  "[3, 3] (dilation 2)", "[4, 9, 2]");
    check_refused("conv2d", "filters = 2; kernel_size = 3;", lc_shape(10, 0, 0),
                  "needs [H, W, C]", "got [10]");
    check_refused("conv2d", "filters = 2; kernel_size = 3;", lc_shape(10, 3, 0),
                  "needs [H, W, C]", "got [10, 3]");
    check_refused("conv1d", "filters = 2; kernel_size = 4;", lc_shape(3, 2, 0), "[4]",
                  "[3, 2]");
    check_refused("conv1d", "filters = 2; kernel_size = 3;", lc_shape(8, 8, 3),
                  "needs [L, C]", "got [8, 8, 3]");
    check_refused("conv2d", "kernel_size = 3;", lc_shape(8, 8, 3), "'filters' is required",
                  "e.g. filters = 32");
    check_refused("conv2d", "filters = 4;", lc_shape(8, 8, 3), "'kernel_size' is required",
                  "e.g. kernel_size = 3");
    check_refused("conv2d", "filters = 4; kernel_size = 3; strides = 2; dilation = 2;",
                  lc_shape(8, 8, 3), "strides 2 with dilation 2", "Keras refuses");
    /* The Winograd method computes 3 x 3 and 5 x 5 kernels with stride 1 and
     * dilation 1 on conv2d only; forced on others, it is refused. */
    check_refused("conv2d", "filters = 4; kernel_size = 4; method = \"winograd\";",
                  lc_shape(8, 8, 3), "method \"winograd\" needs", "kernel [4, 4]");
    check_refused("conv2d", "filters = 4; kernel_size = 5; strides = 2; method = \"winograd\";",
                  lc_shape(8, 8, 3), "method \"winograd\" needs", "strides 2");
    check_refused("conv2d", "filters = 4; kernel_size = 5; dilation = 2; method = \"winograd\";",
                  lc_shape(12, 12, 3), "method \"winograd\" needs", "dilation 2");
    check_refused("conv2d", "filters = 4; kernel_size = 3; strides = 2; method = \"winograd\";",
                  lc_shape(8, 8, 3), "method \"winograd\" needs", "strides 2");
    check_refused("conv2d", "filters = 4; kernel_size = 3; dilation = 2; method = \"winograd\";",
                  lc_shape(8, 8, 3), "method \"winograd\" needs", "dilation 2");
    check_refused("conv1d", "filters = 4; kernel_size = 3; method = \"winograd\";",
                  lc_shape(8, 3, 0), "method \"winograd\" needs", "on a conv1d");
    check_refused("conv2d", "filters = 4; kernel_size = 3; padding = \"full\";",
                  lc_shape(8, 8, 3), "padding", "full");
}

/* Tensors in Keras' layout; the initializers' ranges with Keras' fans
 * (fan_in = 3 * 3 * 16 = 144, fan_out = 3 * 3 * 32 = 288: Glorot's limit
 * sqrt(6 / 432) = 0.118); a zero bias. */
static void test_tensors_and_init(void)
{
    struct lc c;
    struct dpt_shape img = lc_shape(8, 8, 16), seq = lc_shape(20, 16, 0);
    CU_ASSERT_EQUAL_FATAL(lc_create(&c, "conv2d", "filters = 32; kernel_size = 3;", &img), 0);
    struct dpt_tensor t;
    CU_ASSERT_EQUAL(c.p->tensor(c.st, 0, &t), 0);
    CU_ASSERT(strcmp(t.name, "kernel") == 0 && t.rank == 4 && t.shape[0] == 3 &&
              t.shape[1] == 3 && t.shape[2] == 16 && t.shape[3] == 32 && t.offset == 0);
    CU_ASSERT_EQUAL(c.p->tensor(c.st, 1, &t), 0);
    CU_ASSERT(strcmp(t.name, "bias") == 0 && t.rank == 1 && t.shape[0] == 32 &&
              t.offset == 4608);
    CU_ASSERT_EQUAL(c.p->tensor(c.st, 2, &t), -1);
    CU_ASSERT_EQUAL(c.info.n_params, 4608 + 32);
    double limit = sqrt(6.0 / 432), most = 0;
    for (size_t i = 0; i < 4608; i++) {
        most = fmax(most, fabs(c.params[i]));
    }
    CU_ASSERT(most <= limit && most > 0.99 * limit);
    for (size_t i = 4608; i < 4640; i++) {
        CU_ASSERT_EQUAL(c.params[i], 0.0f);
    }
    lc_destroy(&c);
    /* He: the sample deviation of 4608 draws within 5% of sqrt(2 / 144). */
    CU_ASSERT_EQUAL_FATAL(lc_create(&c, "conv2d", "filters = 32; kernel_size = 3; "
                                    "initializer = \"he_normal\"; use_bias = false;", &img), 0);
    CU_ASSERT_EQUAL(c.info.n_params, 4608);
    CU_ASSERT_EQUAL(c.p->tensor(c.st, 1, &t), -1);
    double ss = 0;
    for (size_t i = 0; i < 4608; i++) {
        ss += (double)c.params[i] * c.params[i];
    }
    CU_ASSERT(fabs(sqrt(ss / 4608) / sqrt(2.0 / 144) - 1) < 0.05);
    lc_destroy(&c);
    CU_ASSERT_EQUAL_FATAL(lc_create(&c, "conv1d", "filters = 8; kernel_size = 5; "
                                    "initializer = \"zeros\";", &seq), 0);
    CU_ASSERT_EQUAL(c.p->tensor(c.st, 0, &t), 0);
    CU_ASSERT(strcmp(t.name, "kernel") == 0 && t.rank == 3 && t.shape[0] == 5 &&
              t.shape[1] == 16 && t.shape[2] == 8);
    CU_ASSERT(c.info.out.rank == 2 && c.info.out.dims[0] == 16 && c.info.out.dims[1] == 8);
    size_t nonzero = 0;
    for (size_t i = 0; i < c.info.n_params; i++) {
        nonzero += c.params[i] != 0.0f;
    }
    CU_ASSERT_EQUAL(nonzero, 0);
    lc_destroy(&c);
}

int main(void)
{
    if (CU_initialize_registry() != CUE_SUCCESS) {
        return 2;
    }
    CU_pSuite s = CU_add_suite("conv2d and conv1d", NULL, NULL);
    CU_add_test(s, "conv2d finite differences: strides, padding, dilation, 1x1",
                test_conv2d_gradients);
    CU_add_test(s, "conv2d finite differences, winograd", test_conv2d_winograd_gradients);
    CU_add_test(s, "conv2d finite differences, kernel gradient by output columns",
                test_conv2d_rowlanes_gradients);
    CU_add_test(s, "conv1d finite differences", test_conv1d_gradients);
    CU_add_test(s, "conv2d by hand: 3x3 input, 2x2 kernel", test_conv2d_by_hand_valid);
    CU_add_test(s, "conv2d by hand: same, stride 2", test_conv2d_by_hand_same_stride2);
    CU_add_test(s, "conv1d by hand: dilated, same", test_conv1d_by_hand_dilated);
    CU_add_test(s, "conv2d against a direct convolution, in blocks",
                test_conv2d_against_direct);
    CU_add_test(s, "conv2d direct: wide tiles give the 8-lane tiles' bits",
                test_conv2d_wide_same_bits);
    CU_add_test(s, "conv2d direct: row lanes' AVX-512 version gives the portable one's bits",
                test_conv2d_rowlanes_portable_same_bits);
    CU_add_test(s, "winograd F(2x2, 5x5) transforms", test_winograd_transforms);
    CU_add_test(s, "winograd against im2col", test_winograd_against_im2col);
    CU_add_test(s, "refused shapes and settings name what they found", test_refused);
    CU_add_test(s, "tensors and initializers", test_tensors_and_init);
    return test_run_all();
}
