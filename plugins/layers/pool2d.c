/* Layers "max_pool2d" and "avg_pool2d": Keras' MaxPooling2D and
 * AveragePooling2D, [H, W, C] samples (channels last) to [OH, OW, C].
 *
 * Settings, the same for both:
 *   pool_size  the side of the square window (default 2)
 *   strides    the step between windows on both axes (default pool_size)
 *   padding    "valid" (default): windows lie inside the input, OH =
 *              floor((H - pool_size) / strides) + 1, and a pool larger than
 *              the input is refused; "same": TensorFlow's rule, OH =
 *              ceil(H / strides), and the rows the windows overhang are
 *              split with the smaller half on top (columns: on the left).
 * Keras also takes a pair for pool_size and strides; here one integer sets
 * both axes. Padded cells belong to no window: they never win a max, and an
 * average divides by the real cells of its window, as TensorFlow does (a
 * "same" window on the border averages fewer cells). Every "same" window
 * holds at least one real cell, so "same" accepts a pool larger than the
 * input, as Keras does.
 *
 * Max pooling: ties go to the first cell in row-major window order (the
 * top row first, left to right), and a NaN wins its window, as numpy's max
 * lets a NaN through, so that a NaN upstream reaches the loss. The training
 * forward keeps, for each output, the index of the input that won in the
 * workspace; backward sends each output's gradient to that input, adding
 * where overlapping windows (strides < pool_size) pick the same one. An
 * input in no window (a remainder under "valid", strides > pool_size) gets
 * a zero gradient.
 *
 * Guarantees: deterministic; forward and backward allocate nothing;
 * backward writes every element of dx (DPT_CAP_WRITES_DX). The innermost
 * loops run over the C channels of one cell, contiguous in channels-last
 * data, and are built for AVX2 and AVX-512 by DPT_VECTORIZE. Left out:
 * channels-first data and pairs.
 */
#include "config.h"

#include <dptrain/plugin.h>

#include "shape_text.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* No image side comes near this; it keeps every product of indices far
 * from overflowing int64. */
#define POOL_MAX_WINDOW 65536

enum pool_op { POOL_MAX, POOL_AVG };

struct pool {
    enum pool_op op;
    int64_t H, W, C;   /* the input sample [H, W, C] */
    int64_t OH, OW;    /* the output sample [OH, OW, C] */
    int64_t k, s;      /* window side and stride, on both axes */
    int64_t top, left; /* padding rows above row 0, columns left of column 0 */
};

/* TensorFlow's "same" padding for one axis of n cells with out windows:
 * the rows the last window overhangs, of which the smaller half goes
 * before the first cell. */
static int64_t same_padding_before(int64_t n, int64_t out, int64_t k, int64_t s)
{
    int64_t total = (out - 1) * s + k - n;
    return total > 0 ? total / 2 : 0;
}

/* Reads the settings, checks the input shape and fills *info; the instance
 * is freed by pool_destroy. Returns 0 or the negative value of host->error(). */
static int pool_create(void **state, const struct dpt_host *host, const struct dpt_shape *in,
                       struct dpt_layer_info *info, enum pool_op op)
{
    char shape[SHAPE_TEXT_LEN];
    if (in->rank != 3) {
        return host->error(host->ctx, "needs [H, W, C] inputs (channels last), got %s",
                           shape_text(shape, in));
    }
    int64_t k, s;
    int rc = host->get_int(host->ctx, "pool_size", 2, 1, POOL_MAX_WINDOW, &k);
    if (rc < 0) {
        return rc;
    }
    rc = host->get_int(host->ctx, "strides", k, 1, POOL_MAX_WINDOW, &s);
    if (rc < 0) {
        return rc;
    }
    static const char *const paddings[] = {"valid", "same", NULL};
    const char *padding;
    rc = host->get_string(host->ctx, "padding", paddings[0], paddings, &padding);
    if (rc < 0) {
        return rc;
    }
    int same = strcmp(padding, "same") == 0;
    uint64_t H = in->dims[0], W = in->dims[1], C = in->dims[2];
    /* The winners are kept as int32 indices into a sample (half the
     * workspace of size_t); the test is H * W * C <= INT32_MAX without
     * overflow. */
    if (H > INT32_MAX / W / C) {
        return host->error(host->ctx, "inputs of %s floats per sample are not supported "
                           "(at most 2^31 - 1)", shape_text(shape, in));
    }
    if (!same && ((uint64_t)k > H || (uint64_t)k > W)) {
        return host->error(host->ctx, "pool_size %lld does not fit input %s (padding \"valid\" "
                           "needs pool_size <= H and W)", (long long)k, shape_text(shape, in));
    }

    struct pool *p = malloc(sizeof *p);
    if (!p) {
        return host->error(host->ctx, "out of memory");
    }
    *p = (struct pool){.op = op, .H = (int64_t)H, .W = (int64_t)W, .C = (int64_t)C,
                       .k = k, .s = s};
    if (same) {
        p->OH = (p->H + s - 1) / s;
        p->OW = (p->W + s - 1) / s;
        p->top = same_padding_before(p->H, p->OH, k, s);
        p->left = same_padding_before(p->W, p->OW, k, s);
    } else {
        p->OH = (p->H - k) / s + 1;
        p->OW = (p->W - k) / s + 1;
    }
    *info = (struct dpt_layer_info){
        .out = {.rank = 3, .dims = {(uint64_t)p->OH, (uint64_t)p->OW, C}}};
    *state = p;
    return 0;
}

static int max_create(void **state, const struct dpt_host *host, const struct dpt_shape *in,
                      struct dpt_layer_info *info)
{
    return pool_create(state, host, in, info, POOL_MAX);
}

static int avg_create(void **state, const struct dpt_host *host, const struct dpt_shape *in,
                      struct dpt_layer_info *info)
{
    return pool_create(state, host, in, info, POOL_AVG);
}

static void pool_destroy(void *state)
{
    free(state);
}

/* The real cells [h0, h1) x [w0, w1) of output (oh, ow)'s window. */
struct window {
    int64_t h0, h1, w0, w1;
};

static inline struct window window_at(const struct pool *p, int64_t oh, int64_t ow)
{
    int64_t h0 = oh * p->s - p->top, w0 = ow * p->s - p->left;
    int64_t h1 = h0 + p->k, w1 = w0 + p->k;
    return (struct window){h0 > 0 ? h0 : 0, h1 < p->H ? h1 : p->H, w0 > 0 ? w0 : 0,
                           w1 < p->W ? w1 : p->W};
}

/* For each channel c: yo[c] = the max over the window of x[h, w, c] (x is
 * one sample), and arg[c] (when arg is not NULL) the index of that cell in
 * x. Cells come in row-major order and a cell replaces the max only when it
 * is greater or NaN, so ties go to the first cell. The comparisons are
 * written as selects so that the loops over c vectorize. */
static inline void max_window(const struct pool *p, const float *x, struct window win,
                              float *yo, int32_t *arg)
{
    const int32_t C = (int32_t)p->C;
    int32_t first = (int32_t)((win.h0 * p->W + win.w0) * C);
    for (int32_t c = 0; c < C; c++) {
        yo[c] = x[first + c];
    }
    if (arg) {
        for (int32_t c = 0; c < C; c++) {
            arg[c] = first + c;
        }
    }
    for (int64_t h = win.h0; h < win.h1; h++) {
        for (int64_t w = h == win.h0 ? win.w0 + 1 : win.w0; w < win.w1; w++) {
            int32_t at = (int32_t)((h * p->W + w) * C);
            const float *xc = x + at;
            if (arg) {
                for (int32_t c = 0; c < C; c++) {
                    float v = xc[c], m = yo[c];
                    int take = (v > m) | (v != v);
                    yo[c] = take ? v : m;
                    arg[c] = take ? at + c : arg[c];
                }
            } else {
                for (int32_t c = 0; c < C; c++) {
                    float v = xc[c], m = yo[c];
                    yo[c] = (v > m) | (v != v) ? v : m;
                }
            }
        }
    }
}

/* For each channel c: yo[c] = the mean over the window's real cells of
 * x[h, w, c], summed in row-major order. */
static inline void avg_window(const struct pool *p, const float *x, struct window win,
                              float *yo)
{
    const int64_t C = p->C;
    for (int64_t c = 0; c < C; c++) {
        yo[c] = 0.0f;
    }
    for (int64_t h = win.h0; h < win.h1; h++) {
        for (int64_t w = win.w0; w < win.w1; w++) {
            const float *xc = x + (h * p->W + w) * C;
            for (int64_t c = 0; c < C; c++) {
                yo[c] += xc[c];
            }
        }
    }
    float n = (float)((win.h1 - win.h0) * (win.w1 - win.w0));
    for (int64_t c = 0; c < C; c++) {
        yo[c] /= n;
    }
}

/* x is (B, H * W * C), y is (B, OH * OW * C): writes y, and with arg (B,
 * OH * OW * C) not NULL the winners of max pooling. */
DPT_VECTORIZE
static void pool_rows(const struct pool *p, const float *x, float *y, int32_t *arg, size_t B)
{
    size_t n_in = (size_t)(p->H * p->W * p->C), n_out = (size_t)(p->OH * p->OW * p->C);
    for (size_t i = 0; i < B; i++) {
        for (int64_t oh = 0; oh < p->OH; oh++) {
            for (int64_t ow = 0; ow < p->OW; ow++) {
                struct window win = window_at(p, oh, ow);
                size_t o = i * n_out + (size_t)((oh * p->OW + ow) * p->C);
                if (p->op == POOL_AVG) {
                    avg_window(p, x + i * n_in, win, y + o);
                } else {
                    max_window(p, x + i * n_in, win, y + o, arg ? arg + o : NULL);
                }
            }
        }
    }
}

/* Max pooling keeps its winners: one int32 per output element. */
static size_t max_workspace_bytes(const void *state, size_t B)
{
    const struct pool *p = state;
    return B * (size_t)(p->OH * p->OW * p->C) * sizeof(int32_t);
}

/* Writes y; a training call also writes the winners into b->ws. */
static void pool_forward(const void *state, const float *params, const float *x, float *y,
                         const struct dpt_batch *b)
{
    (void)params;
    const struct pool *p = state;
    int32_t *arg = p->op == POOL_MAX && b->training ? b->ws : NULL;
    pool_rows(p, x, y, arg, b->B);
}

/* dx = 0, then dx[winner] += dy for each output, in output order: the
 * winners of the training forward on these rows (b->ws). */
static void max_backward(const void *state, const float *params, const float *x,
                         const float *y, const float *dy, float *dx, float *dparams,
                         const struct dpt_batch *b)
{
    (void)params, (void)x, (void)y, (void)dparams;
    const struct pool *p = state;
    if (!dx) {
        return;
    }
    const int32_t *arg = b->ws;
    size_t n_in = (size_t)(p->H * p->W * p->C), n_out = (size_t)(p->OH * p->OW * p->C);
    for (size_t i = 0; i < b->B; i++) {
        float *dxi = dx + i * n_in;
        const float *dyi = dy + i * n_out;
        const int32_t *ai = arg + i * n_out;
        memset(dxi, 0, n_in * sizeof *dxi);
        for (size_t o = 0; o < n_out; o++) {
            dxi[ai[o]] += dyi[o];
        }
    }
}

/* dx = 0, then each output's dy / (its window's real cells) is added to
 * every cell of its window. */
DPT_VECTORIZE
static void avg_backward_rows(const struct pool *p, const float *dy, float *dx, size_t B)
{
    size_t n_in = (size_t)(p->H * p->W * p->C), n_out = (size_t)(p->OH * p->OW * p->C);
    const int64_t C = p->C;
    for (size_t i = 0; i < B; i++) {
        float *dxi = dx + i * n_in;
        memset(dxi, 0, n_in * sizeof *dxi);
        for (int64_t oh = 0; oh < p->OH; oh++) {
            for (int64_t ow = 0; ow < p->OW; ow++) {
                struct window win = window_at(p, oh, ow);
                const float *g = dy + i * n_out + (oh * p->OW + ow) * C;
                float n = (float)((win.h1 - win.h0) * (win.w1 - win.w0));
                for (int64_t h = win.h0; h < win.h1; h++) {
                    for (int64_t w = win.w0; w < win.w1; w++) {
                        float *dxc = dxi + (h * p->W + w) * C;
                        for (int64_t c = 0; c < C; c++) {
                            dxc[c] += g[c] / n;
                        }
                    }
                }
            }
        }
    }
}

static void avg_backward(const void *state, const float *params, const float *x,
                         const float *y, const float *dy, float *dx, float *dparams,
                         const struct dpt_batch *b)
{
    (void)params, (void)x, (void)y, (void)dparams;
    if (dx) {
        avg_backward_rows(state, dy, dx, b->B);
    }
}

static const struct dpt_layer_plugin max_pool2d = {
    .base = DPT_PLUGIN_HEADER_CAPS(DPT_KIND_LAYER, "max_pool2d", "1.0.0",
                                   "max over pool_size x pool_size windows of [H, W, C] "
                                   "(Keras MaxPooling2D)",
                                   DPT_CAP_DETERMINISTIC | DPT_CAP_WRITES_DX),
    .create = max_create,
    .destroy = pool_destroy,
    .workspace_bytes = max_workspace_bytes,
    .forward = pool_forward,
    .backward = max_backward,
};

static const struct dpt_layer_plugin avg_pool2d = {
    .base = DPT_PLUGIN_HEADER_CAPS(DPT_KIND_LAYER, "avg_pool2d", "1.0.0",
                                   "mean over pool_size x pool_size windows of [H, W, C] "
                                   "(Keras AveragePooling2D)",
                                   DPT_CAP_DETERMINISTIC | DPT_CAP_WRITES_DX),
    .create = avg_create,
    .destroy = pool_destroy,
    .forward = pool_forward,
    .backward = avg_backward,
};

static const struct dpt_plugin *const all[] = {&max_pool2d.base, &avg_pool2d.base, NULL};

DPT_PLUGIN_EXPORT const struct dpt_plugin *const *dpt_plugins(void)
{
    return all;
}
