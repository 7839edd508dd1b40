/* The shape layers of a convolutional network: max_pool2d, avg_pool2d,
 * global_avg_pool2d, flatten and reshape (plugins/layers/pool2d.c,
 * global_avg_pool2d.c, flatten.c), through tests/layer_check.c.
 *
 * Forward values are computed by hand in the comments for small inputs;
 * gradients are checked against finite differences on several shapes
 * (strides other than pool_size, "same" padding with odd sizes, C > 1,
 * B = 1 and odd B), and the buffer contracts with lc_check_contracts. Max
 * pooling is piecewise linear: its finite differences use inputs far from
 * ties (max_pool_dx_error), and a separate case shows where the gradient
 * of a tie goes. The last suite checks the messages of refused shapes.
 */
#include "config.h"

#include "layer_check.h"
#include "util.h"

#include <CUnit/CUnit.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The 4x4x1 image of the hand-computed cases:
 *
 *     1 5 2 0
 *     3 4 8 6
 *     7 0 1 2
 *     9 3 4 5
 */
static const float image[16] = {1, 5, 2, 0, 3, 4, 8, 6, 7, 0, 1, 2, 9, 3, 4, 5};

/* Creates layer name with settings for input shape in, asserting success
 * and the output shape [o0, o1, o2] (trailing 0s unused). */
static void create_ok(struct lc *c, const char *name, const char *settings, struct dpt_shape in,
                      uint64_t o0, uint64_t o1, uint64_t o2)
{
    int rc = lc_create(c, name, settings, &in);
    if (rc < 0) {
        printf("\n    %s: %s\n", name, c->host.err.msg);
    }
    CU_ASSERT_EQUAL_FATAL(rc, 0);
    struct dpt_shape want = lc_shape(o0, o1, o2);
    CU_ASSERT_EQUAL(c->info.out.rank, want.rank);
    CU_ASSERT(memcmp(c->info.out.dims, want.dims, sizeof want.dims) == 0);
    CU_ASSERT_EQUAL(c->info.n_params + c->info.n_state, 0);
}

/* Runs one inference forward of one row and compares y with want (n). */
static void forward_is(struct lc *c, const float *x, const float *want, size_t n)
{
    CU_ASSERT_EQUAL_FATAL(c->n_out, n);
    float y[64];
    lc_forward(c, x, y, 1, 0);
    for (size_t i = 0; i < n; i++) {
        if (fabsf(y[i] - want[i]) > 1e-6f * fabsf(want[i])) {
            printf("\n    %s: y[%zu] = %.9g, want %.9g", c->p->base.name, i, y[i], want[i]);
            CU_FAIL("forward value");
        }
    }
}

/* Max pooling of the image: pool 2 (stride 2) takes the max of each 2x2
 * block: {1,5,3,4} 5, {2,0,8,6} 8, {7,0,9,3} 9, {1,2,4,5} 5. Pool 3,
 * stride 1: the 3x3 blocks at (0,0) 8, (0,1) 8, (1,0) 9, (1,1) 8. Pool 3,
 * stride 2, "same": out = ceil(4 / 2) = 2 per axis; the windows overhang
 * (2 - 1) * 2 + 3 - 4 = 1 row, all of it after the last, so they cover rows
 * [0, 3) and [2, 4): {rows 0-2, cols 0-2} 8, {rows 0-2, cols 2-3} 8,
 * {rows 2-3, cols 0-2} 9, {rows 2-3, cols 2-3} 5. */
static void test_max_forward_by_hand(void)
{
    struct lc c;
    create_ok(&c, "max_pool2d", "", lc_shape(4, 4, 1), 2, 2, 1);
    forward_is(&c, image, (const float[]){5, 8, 9, 5}, 4);
    lc_destroy(&c);
    create_ok(&c, "max_pool2d", "pool_size = 3; strides = 1;", lc_shape(4, 4, 1), 2, 2, 1);
    forward_is(&c, image, (const float[]){8, 8, 9, 8}, 4);
    lc_destroy(&c);
    create_ok(&c, "max_pool2d", "pool_size = 3; strides = 2; padding = \"same\";",
              lc_shape(4, 4, 1), 2, 2, 1);
    forward_is(&c, image, (const float[]){8, 8, 9, 5}, 4);
    lc_destroy(&c);
}

/* Average pooling of the same windows: pool 2: 13/4, 16/4, 19/4, 12/4.
 * Pool 3, stride 1: sums 31, 28, 39, 33 over 9 cells. Pool 3, stride 2,
 * "same": the padded row and column are not counted, as in TensorFlow:
 * 31/9, {2,0,8,6,1,2} 19/6, {7,0,1,9,3,4} 24/6, {1,2,4,5} 12/4. */
static void test_avg_forward_by_hand(void)
{
    struct lc c;
    create_ok(&c, "avg_pool2d", "", lc_shape(4, 4, 1), 2, 2, 1);
    forward_is(&c, image, (const float[]){3.25f, 4, 4.75f, 3}, 4);
    lc_destroy(&c);
    create_ok(&c, "avg_pool2d", "pool_size = 3; strides = 1;", lc_shape(4, 4, 1), 2, 2, 1);
    forward_is(&c, image, (const float[]){31.0f / 9, 28.0f / 9, 39.0f / 9, 33.0f / 9}, 4);
    lc_destroy(&c);
    create_ok(&c, "avg_pool2d", "pool_size = 3; strides = 2; padding = \"same\";",
              lc_shape(4, 4, 1), 2, 2, 1);
    forward_is(&c, image, (const float[]){31.0f / 9, 19.0f / 6, 4, 3}, 4);
    lc_destroy(&c);
}

/* TensorFlow's "same" puts the smaller half of the padding first. A
 * column [1, 2, 3, 4, 5] ([5, 1, 1]), pool 4, stride 1: 5 outputs, the
 * windows overhang 4 * 1 + 4 - 5 = 3 rows, 1 above and 2 below, so window
 * o covers rows [o - 1, o + 3) of the input: {1,2,3} {1,2,3,4} {2,3,4,5}
 * {3,4,5} {4,5}, means 2, 2.5, 3.5, 4, 4.5 and maxima 3, 4, 5, 5, 5. The
 * width 1 is smaller than the pool: "same" takes it, as Keras does. Pool 2,
 * stride 2 on 5x5 gives 3x3: the last window of each axis holds one real
 * row or column. */
static void test_same_padding_split(void)
{
    const float column[5] = {1, 2, 3, 4, 5};
    struct lc c;
    create_ok(&c, "avg_pool2d", "pool_size = 4; strides = 1; padding = \"same\";",
              lc_shape(5, 1, 1), 5, 1, 1);
    forward_is(&c, column, (const float[]){2, 2.5f, 3.5f, 4, 4.5f}, 5);
    lc_destroy(&c);
    create_ok(&c, "max_pool2d", "pool_size = 4; strides = 1; padding = \"same\";",
              lc_shape(5, 1, 1), 5, 1, 1);
    forward_is(&c, column, (const float[]){3, 4, 5, 5, 5}, 5);
    lc_destroy(&c);

    /* x[h][w] = 5h + w: windows {0,1,5,6} ... {24}. */
    float x[25];
    for (int i = 0; i < 25; i++) {
        x[i] = (float)i;
    }
    create_ok(&c, "avg_pool2d", "padding = \"same\";", lc_shape(5, 5, 1), 3, 3, 1);
    forward_is(&c, x, (const float[]){3, 5, 6.5f, 13, 15, 16.5f, 20.5f, 22.5f, 24}, 9);
    lc_destroy(&c);
    create_ok(&c, "max_pool2d", "padding = \"same\";", lc_shape(5, 5, 1), 3, 3, 1);
    forward_is(&c, x, (const float[]){6, 8, 9, 16, 18, 19, 21, 23, 24}, 9);
    lc_destroy(&c);
}

/* n inputs 0.25 apart in a seeded random order: in every window the max
 * leads the other cells by at least 0.25, so a step of 0.1 never changes
 * the winner, and max pooling is linear around these inputs. The values
 * (multiples of 0.25 below 2^10) are exact in float. */
static void distinct_inputs(float *x, size_t n, uint64_t seed)
{
    for (size_t i = 0; i < n; i++) {
        x[i] = 0.25f * ((float)i - (float)(n / 2));
    }
    for (size_t i = n - 1; i > 0; i--) { /* Fisher-Yates */
        seed = seed * 6364136223846793005ull + 1442695040888963407ull;
        size_t j = (size_t)((seed >> 33) % (i + 1));
        float t = x[i];
        x[i] = x[j];
        x[j] = t;
    }
}

static double objective(struct lc *c, const float *x, float *y, const float *r, size_t B)
{
    lc_forward(c, x, y, B, 1);
    double L = 0;
    for (size_t i = 0; i < B * c->n_out; i++) {
        L += (double)r[i] * y[i];
    }
    return L;
}

/* The worst error |analytic - numeric| / max(1, |analytic|, |numeric|) of
 * max pooling's dx against central differences of L = sum(r * y), step
 * 0.1, over B rows of distinct_inputs. y copies inputs exactly and L sums
 * float products exactly representable in double, so what is left is L's
 * rounding in double and, where windows overlap, dx's sums of gradients in
 * float (1e-7 relative): below 1e-6. */
static double max_pool_dx_error(struct lc *c, size_t B, uint64_t seed)
{
    size_t nx = B * c->n_in, ny = B * c->n_out;
    float *x = malloc(nx * sizeof *x), *dx = malloc(nx * sizeof *dx);
    float *y = malloc(ny * sizeof *y), *r = malloc(ny * sizeof *r);
    CU_ASSERT_FATAL(x && dx && y && r);
    distinct_inputs(x, nx, seed);
    lc_fill(r, ny, &seed, -1, 1);
    lc_forward(c, x, y, B, 1);
    lc_backward(c, x, y, r, dx, NULL, B);
    double worst = 0;
    for (size_t i = 0; i < nx; i++) {
        float keep = x[i], up = keep + 0.1f, down = keep - 0.1f;
        x[i] = up;
        double f_up = objective(c, x, y, r, B);
        x[i] = down;
        double f_down = objective(c, x, y, r, B);
        x[i] = keep;
        double num = (f_up - f_down) / ((double)up - (double)down);
        worst = fmax(worst, fabs(dx[i] - num) / fmax(1.0, fmax(fabs(dx[i]), fabs(num))));
    }
    free(x), free(dx), free(y), free(r);
    return worst;
}

struct pool_case {
    const char *settings;
    uint64_t H, W, C, OH, OW;
    size_t B;
};

/* Shapes both pooling layers are checked on: strides equal to, less than
 * (overlapping windows) and greater than (skipped cells) the pool, "same"
 * with odd sizes, C > 1, C below and above 8, B = 1 and odd B. */
static const struct pool_case cases[] = {
    {"", 4, 4, 1, 2, 2, 1},
    {"", 6, 4, 3, 3, 2, 3},
    {"pool_size = 3; strides = 2;", 7, 6, 2, 3, 2, 5},
    {"pool_size = 2; strides = 3;", 7, 8, 3, 2, 3, 3},
    {"padding = \"same\";", 5, 5, 2, 3, 3, 1},
    {"padding = \"same\";", 5, 7, 3, 3, 4, 5},
    {"pool_size = 3; strides = 1; padding = \"same\";", 5, 4, 2, 5, 4, 3},
    {"pool_size = 3; strides = 2; padding = \"same\";", 7, 5, 4, 4, 3, 1},
    /* C >= 8: max pooling's loops over the channels of a cell; below 8 it
     * computes 8 lanes from each cell on (max_across_narrow) */
    {"", 4, 6, 9, 2, 3, 3},
    {"pool_size = 3; strides = 2; padding = \"same\";", 5, 5, 8, 3, 3, 1},
    /* LeNet's pools, 28 x 28 x 6 and 10 x 10 x 16, and odd sides for the
     * path of pool 2 stride 2 "valid" (a row and a column in no window) */
    {"", 28, 28, 6, 14, 14, 3},
    {"", 10, 10, 16, 5, 5, 1},
    {"", 7, 5, 17, 3, 2, 3},
};

/* Bound 1e-6: see max_pool_dx_error. */
static void test_max_gradients(void)
{
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        const struct pool_case *t = &cases[k];
        struct lc c;
        create_ok(&c, "max_pool2d", t->settings, lc_shape(t->H, t->W, t->C), t->OH, t->OW, t->C);
        double err = max_pool_dx_error(&c, t->B, 10 + k);
        printf("\n    max_pool2d %llux%llux%llu {%s}, B = %zu: finite differences: dx %.2g",
               (unsigned long long)t->H, (unsigned long long)t->W, (unsigned long long)t->C,
               t->settings, t->B, err);
        CU_ASSERT(err < 1e-6);
        lc_check_contracts(&c, t->B, 20 + k);
        lc_destroy(&c);
    }
}

/* Inputs full of ties and NaN: small integers, a NaN in about one cell
 * of 16. */
static void tied_inputs(float *x, size_t n, uint64_t seed)
{
    for (size_t i = 0; i < n; i++) {
        seed = seed * 6364136223846793005ull + 1442695040888963407ull;
        unsigned r = (unsigned)(seed >> 40);
        x[i] = r % 16 == 0 ? NAN : (float)(r % 3);
    }
}

/* The training forward and backward of max pooling, pool 2 stride 2
 * "valid", by the rules of the header of pool2d.c written out window by
 * window: down each column (the lower cell wins if greater or NaN), then
 * across (the right column wins if greater, NaN, or equal with a winner
 * earlier in row-major order). y[B * OH * OW * C], dx[B * H * W * C]. */
static void max2x2_reference(const float *x, const float *dy, float *y, float *dx, size_t B,
                             size_t H, size_t W, size_t C)
{
    size_t OH = H / 2, OW = W / 2;
    memset(dx, 0, B * H * W * C * sizeof *dx);
    for (size_t i = 0; i < B; i++) {
        for (size_t oh = 0; oh < OH; oh++) {
            for (size_t ow = 0; ow < OW; ow++) {
                for (size_t c = 0; c < C; c++) {
                    size_t at[4], win[2];
                    for (size_t k = 0; k < 4; k++) {
                        at[k] = ((i * H + 2 * oh + k / 2) * W + 2 * ow + k % 2) * C + c;
                    }
                    for (size_t col = 0; col < 2; col++) {
                        float top = x[at[col]], low = x[at[2 + col]];
                        win[col] = low > top || isnan(low) ? at[2 + col] : at[col];
                    }
                    float m0 = x[win[0]], m1 = x[win[1]];
                    size_t w = m1 > m0 || isnan(m1) || (m1 == m0 && win[1] < win[0]) ? win[1]
                                                                                     : win[0];
                    size_t o = ((i * OH + oh) * OW + ow) * C + c;
                    y[o] = x[w];
                    dx[w] = dy[o];
                }
            }
        }
    }
}

/* Pool 2 stride 2 "valid" has paths of its own (max2x2_rows: C >= 8, and
 * the permuted loads of narrow_tables below 8 channels); they must
 * give bit for bit the values, winners (NaN and ties included) and dx of
 * the general rules, on odd and even sides, C below, at and above 8 and
 * not a multiple of it, B = 1 and 3. dx is checked after filling it with
 * garbage, as it must be written whole. Where H and W are even, "same"
 * padding has the same windows: compared too. */
static void test_max_2x2_fast_path(void)
{
    static const uint64_t sides[][2] = {{7, 5}, {4, 4}, {28, 28}, {10, 10}, {2, 3}, {5, 2}};
    static const uint64_t channels[] = {1, 3, 4, 6, 7, 8, 16, 17};
    static const size_t batches[] = {1, 3};
    uint64_t seed = 77;
    for (size_t a = 0; a < sizeof sides / sizeof sides[0]; a++) {
        for (size_t b = 0; b < sizeof channels / sizeof channels[0]; b++) {
            for (size_t k = 0; k < 2; k++) {
                size_t H = sides[a][0], W = sides[a][1], C = channels[b], B = batches[k];
                size_t nx = B * H * W * C, ny = B * (H / 2) * (W / 2) * C;
                float *x = malloc(nx * sizeof *x), *dx = malloc(nx * sizeof *dx);
                float *dx_ref = malloc(nx * sizeof *dx), *y = malloc(ny * sizeof *y);
                float *y_ref = malloc(ny * sizeof *y), *dy = malloc(ny * sizeof *dy);
                CU_ASSERT_FATAL(x && dx && dx_ref && y && y_ref && dy);
                tied_inputs(x, nx, seed++);
                lc_fill(dy, ny, &seed, -1, 1);
                max2x2_reference(x, dy, y_ref, dx_ref, B, H, W, C);
                int even = H % 2 == 0 && W % 2 == 0;
                for (int same = 0; same <= even; same++) {
                    struct lc c;
                    create_ok(&c, "max_pool2d", same ? "padding = \"same\";" : "",
                              lc_shape(H, W, C), H / 2, W / 2, C);
                    for (size_t j = 0; j < nx; j++) {
                        dx[j] = 1e30f;
                    }
                    lc_forward(&c, x, y, B, 1);
                    lc_backward(&c, x, y, dy, dx, NULL, B);
                    int y_ok = memcmp(y, y_ref, ny * sizeof *y) == 0;
                    int dx_ok = memcmp(dx, dx_ref, nx * sizeof *dx) == 0;
                    if (!y_ok || !dx_ok) {
                        printf("\n    %zux%zux%zu B = %zu %s: %s%s differ", H, W, C, B,
                               same ? "same" : "valid", y_ok ? "" : "y ", dx_ok ? "" : "dx");
                    }
                    CU_ASSERT(y_ok && dx_ok);
                    lc_forward(&c, x, y, B, 0); /* inference: no winners kept */
                    CU_ASSERT(memcmp(y, y_ref, ny * sizeof *y) == 0);
                    lc_destroy(&c);
                }
                free(x), free(dx), free(dx_ref), free(y), free(y_ref), free(dy);
            }
        }
    }
}

/* Average pooling is linear: lc_check's random inputs, step 0.1. A step
 * changes only the outputs of the windows holding the input, each by a few
 * float roundings of values below 2 (~1e-6 over the step of 0.2): bound
 * 1e-4, as for dense. */
static void test_avg_gradients(void)
{
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        const struct pool_case *t = &cases[k];
        struct lc c;
        create_ok(&c, "avg_pool2d", t->settings, lc_shape(t->H, t->W, t->C), t->OH, t->OW, t->C);
        lc_check(&c, t->B, 30 + k, 0.1, 1e-4);
        lc_destroy(&c);
    }
}

/* Runs a training forward and backward of one row and compares dx with
 * want (n floats). */
static void backward_is(struct lc *c, const float *x, const float *dy, const float *want,
                        size_t n)
{
    CU_ASSERT_EQUAL_FATAL(c->n_in, n);
    float y[64], dx[64];
    lc_forward(c, x, y, 1, 1);
    lc_backward(c, x, y, dy, dx, NULL, 1);
    for (size_t i = 0; i < n; i++) {
        if (dx[i] != want[i]) {
            printf("\n    %s: dx[%zu] = %g, want %g", c->p->base.name, i, dx[i], want[i]);
            CU_FAIL("backward value");
        }
    }
}

/* Ties go to the first cell in row-major window order. On
 *
 *     1 1 0
 *     1 1 0
 *     0 2 2
 *
 * pool 2, stride 1: window (0,0) is all 1s and picks (0,0); window (0,1)
 * {1,0,1,0} picks (0,1), the first 1; windows (1,0) {1,1,0,2} and (1,1)
 * {1,0,2,2} both pick (2,1), the first 2, which gets the sum of their
 * gradients. With dy = [1, 10, 100, 1000]: dx(0,0) = 1, dx(0,1) = 10,
 * dx(2,1) = 1100, zero elsewhere. Channels are separate: on [2, 2, 2] with
 * channel 0 = {1,4,3,2} and channel 1 = {8,5,6,7}, the max is 4 at (0,1)
 * and 8 at (0,0). On [[0, 5], [5, 0]] the 5 at (0,1) comes first in
 * row-major order: the 5 at (1,0), first in column-major order, must not
 * win (the layer takes the max down the columns first). A NaN wins its
 * window whatever its place. */
static void test_max_ties_by_hand(void)
{
    struct lc c;
    create_ok(&c, "max_pool2d", "strides = 1;", lc_shape(3, 3, 1), 2, 2, 1);
    const float x[9] = {1, 1, 0, 1, 1, 0, 0, 2, 2};
    forward_is(&c, x, (const float[]){1, 1, 2, 2}, 4);
    backward_is(&c, x, (const float[]){1, 10, 100, 1000},
                (const float[]){1, 10, 0, 0, 0, 0, 0, 1100, 0}, 9);
    lc_destroy(&c);

    create_ok(&c, "max_pool2d", "", lc_shape(2, 2, 2), 1, 1, 2);
    const float xc[8] = {1, 8, 4, 5, 3, 6, 2, 7};
    forward_is(&c, xc, (const float[]){4, 8}, 2);
    backward_is(&c, xc, (const float[]){1, 2}, (const float[]){0, 2, 1, 0, 0, 0, 0, 0}, 8);

    lc_destroy(&c);

    create_ok(&c, "max_pool2d", "", lc_shape(2, 2, 1), 1, 1, 1);
    const float diagonal[4] = {0, 5, 5, 0};
    backward_is(&c, diagonal, (const float[]){1}, (const float[]){0, 1, 0, 0}, 4);
    lc_destroy(&c);

    create_ok(&c, "max_pool2d", "", lc_shape(2, 2, 2), 1, 1, 2);
    float y[2];
    for (int at = 0; at < 4; at++) {
        float xn[8] = {1, 8, 4, 5, 3, 6, 2, 7};
        xn[2 * at] = NAN;
        lc_forward(&c, xn, y, 1, 0);
        CU_ASSERT(isnan(y[0]) && y[1] == 8);
    }
    lc_destroy(&c);
}

/* [2, 2, 3] with cells (1,2,3), (4,5,6), (7,8,9), (10,11,12): the means
 * are 22/4, 26/4, 30/4; dy = (4, 8, -4) gives every cell dx = (1, 2, -1). */
static void test_global_avg_by_hand(void)
{
    struct lc c;
    create_ok(&c, "global_avg_pool2d", "", lc_shape(2, 2, 3), 3, 0, 0);
    float x[12];
    for (int i = 0; i < 12; i++) {
        x[i] = (float)(i + 1);
    }
    forward_is(&c, x, (const float[]){5.5f, 6.5f, 7.5f}, 3);
    backward_is(&c, x, (const float[]){4, 8, -4},
                (const float[]){1, 2, -1, 1, 2, -1, 1, 2, -1, 1, 2, -1}, 12);
    lc_destroy(&c);
}

/* Linear, as average pooling: bound 1e-4 with step 0.1. */
static void test_global_avg_gradients(void)
{
    struct lc c;
    create_ok(&c, "global_avg_pool2d", "", lc_shape(5, 3, 4), 4, 0, 0);
    lc_check(&c, 1, 40, 0.1, 1e-4);
    lc_check(&c, 7, 41, 0.1, 1e-4);
    lc_destroy(&c);
    create_ok(&c, "global_avg_pool2d", "", lc_shape(7, 7, 1), 1, 0, 0);
    lc_check(&c, 3, 42, 0.1, 1e-4);
    lc_destroy(&c);
}

/* y == x and dx == dy bit for bit over B rows of n floats. */
static void copies(struct lc *c, size_t B)
{
    size_t n = B * c->n_in;
    CU_ASSERT_EQUAL_FATAL(c->n_out, c->n_in);
    float *x = malloc(n * sizeof *x), *y = malloc(n * sizeof *y);
    float *dy = malloc(n * sizeof *dy), *dx = malloc(n * sizeof *dx);
    CU_ASSERT_FATAL(x && y && dy && dx);
    uint64_t seed = 50;
    lc_fill(x, n, &seed, -2, 2);
    lc_fill(dy, n, &seed, -1, 1);
    lc_forward(c, x, y, B, 1);
    lc_backward(c, x, y, dy, dx, NULL, B);
    CU_ASSERT(memcmp(x, y, n * sizeof *x) == 0 && memcmp(dy, dx, n * sizeof *x) == 0);
    free(x), free(y), free(dy), free(dx);
}

/* Flatten: [2, 3, 4] -> [24]; reshape back to [2, 3, 4], with a -1
 * inferred ([-1, 4] -> [6, 4]), from a pasted Keras tuple "(24,)"; the
 * floats never move. */
static void test_flatten_reshape(void)
{
    struct lc c;
    create_ok(&c, "flatten", "", lc_shape(2, 3, 4), 24, 0, 0);
    copies(&c, 1);
    lc_check(&c, 3, 60, 0.1, 1e-6);
    lc_destroy(&c);
    create_ok(&c, "flatten", "", lc_shape(5, 0, 0), 5, 0, 0);
    copies(&c, 2);
    lc_destroy(&c);

    create_ok(&c, "reshape", "target_shape = \"2, 3, 4\";", lc_shape(24, 0, 0), 2, 3, 4);
    copies(&c, 5);
    lc_check(&c, 1, 61, 0.1, 1e-6);
    lc_destroy(&c);
    create_ok(&c, "reshape", "target_shape = \"[-1, 4]\";", lc_shape(2, 3, 4), 6, 4, 0);
    copies(&c, 3);
    lc_destroy(&c);
    create_ok(&c, "reshape", "target_shape = \" (24,) \";", lc_shape(2, 3, 4), 24, 0, 0);
    lc_destroy(&c);
    create_ok(&c, "reshape", "target_shape = \"7,-1,16\";", lc_shape(784, 0, 0), 7, 7, 16);
    lc_destroy(&c);
}

/* Creating name with settings on input in fails with a message containing
 * every string of want (NULL-terminated). */
static void refused(const char *name, const char *settings, struct dpt_shape in,
                    const char *const *want)
{
    struct lc c;
    CU_ASSERT(lc_create(&c, name, settings, &in) < 0);
    for (size_t i = 0; want[i]; i++) {
        if (!strstr(c.host.err.msg, want[i])) {
            printf("\n    %s {%s}: message \"%s\" lacks \"%s\"", name, settings,
                   c.host.err.msg, want[i]);
            CU_FAIL("message");
        }
    }
    lc_destroy(&c);
}

#define WANT(...) ((const char *const[]){__VA_ARGS__, NULL})

static void test_refused(void)
{
    refused("max_pool2d", "pool_size = 3;", lc_shape(2, 2, 8),
            WANT("pool_size 3 does not fit input [2, 2, 8]"));
    refused("avg_pool2d", "pool_size = 5;", lc_shape(9, 4, 1),
            WANT("pool_size 5 does not fit input [9, 4, 1]"));
    refused("max_pool2d", "", lc_shape(16, 0, 0), WANT("needs [H, W, C] inputs", "got [16]"));
    refused("avg_pool2d", "", lc_shape(4, 4, 0), WANT("needs [H, W, C] inputs", "got [4, 4]"));
    refused("global_avg_pool2d", "", lc_shape(16, 0, 0), WANT("got [16]"));
    refused("max_pool2d", "padding = \"full\";", lc_shape(4, 4, 1),
            WANT("'padding' must be \"valid\" or \"same\""));
    refused("max_pool2d", "pool_size = 0;", lc_shape(4, 4, 1), WANT("'pool_size'"));
    refused("reshape", "target_shape = \"7, 7, 15\";", lc_shape(28, 28, 1),
            WANT("target_shape [7, 7, 15] holds 735 floats, but input [28, 28, 1] holds 784"));
    refused("reshape", "target_shape = \"-1, 5\";", lc_shape(28, 28, 1),
            WANT("[-1, 5] does not fit input [28, 28, 1]"));
    refused("reshape", "target_shape = \"-1, -1\";", lc_shape(16, 0, 0), WANT("one -1"));
    refused("reshape", "target_shape = \"4, 0, 4\";", lc_shape(16, 0, 0), WANT("at least 1"));
    refused("reshape", "target_shape = \"1, 2, 2, 4\";", lc_shape(16, 0, 0),
            WANT("1 to 3 integers", "got \"1, 2, 2, 4\""));
    refused("reshape", "target_shape = \"4 x 4\";", lc_shape(16, 0, 0), WANT("got \"4 x 4\""));
    refused("reshape", "target_shape = \"[4, 4\";", lc_shape(16, 0, 0), WANT("got \"[4, 4\""));
    refused("reshape", "", lc_shape(16, 0, 0), WANT("'target_shape' is required"));
    refused("reshape", "target_shape = [4, 4];", lc_shape(16, 0, 0),
            WANT("'target_shape' must be a string"));
}

int main(void)
{
    if (CU_initialize_registry() != CUE_SUCCESS) {
        return 2;
    }
    CU_pSuite s = CU_add_suite("pooling", NULL, NULL);
    CU_add_test(s, "max of a 4x4 image by hand", test_max_forward_by_hand);
    CU_add_test(s, "average of a 4x4 image by hand", test_avg_forward_by_hand);
    CU_add_test(s, "\"same\" puts the smaller half first", test_same_padding_split);
    CU_add_test(s, "max pooling gradients away from ties", test_max_gradients);
    CU_add_test(s, "ties, channels and NaN of max pooling by hand", test_max_ties_by_hand);
    CU_add_test(s, "max pooling 2x2 stride 2 against the general rules", test_max_2x2_fast_path);
    CU_add_test(s, "average pooling gradients", test_avg_gradients);
    CU_add_test(s, "global average pooling by hand", test_global_avg_by_hand);
    CU_add_test(s, "global average pooling gradients", test_global_avg_gradients);
    CU_pSuite r = CU_add_suite("flatten and reshape", NULL, NULL);
    CU_add_test(r, "copies, -1 inferred, Keras tuples", test_flatten_reshape);
    CU_pSuite e = CU_add_suite("refused shapes and settings", NULL, NULL);
    CU_add_test(e, "messages name the shapes", test_refused);
    return test_run_all();
}
