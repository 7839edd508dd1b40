/* The convolution shared by the layers "conv2d" and "conv1d": settings,
 * geometry, initialization and the forward/backward passes, as static
 * functions both plugin files include. A conv1d on [L, C] is a conv2d on
 * [1, L, C] with a 1 x k kernel, so one code path serves both.
 *
 * Geometry (Keras' Conv2D/Conv1D): the input is [H, W, C] channels-last,
 * the kernel [kh, kw, C, F] and the output [Ho, Wo, F]. "valid" padding
 * gives Ho = floor((H - ((kh - 1) * dh + 1)) / sh) + 1; "same" gives
 * Ho = ceil(H / sh) with a total padding of max((Ho - 1) * sh + (kh - 1) *
 * dh + 1 - H, 0), the smaller half at the top and the extra one at the
 * bottom, as TensorFlow pads; likewise for the columns.
 *
 * Method: im2col then one cblas_sgemm per block of output positions. Row
 * r = (b, oh, ow) of the im2col matrix cols (M, K), K = kh * kw * C, holds
 * the input under the kernel at that position in the kernel's own order
 * (tap (i, j), then channel), so Keras' kernel layout is already the (K, F)
 * matrix and y (M, F) = cols x kernel is the output in its channels-last
 * layout, rows of consecutive samples following each other. Backward:
 * dkernel += cols^T dy, dbias += the column sums of dy, and dx from
 * dcols = dy kernel^T scattered back (col2im). A 1 x 1 kernel with stride 1
 * and no padding has cols = x and skips both copies.
 *
 * Guarantees: forward and backward allocate nothing; their scratch is the
 * workspace, bounded (CONV_BLOCK_FLOATS) whatever the batch; backward
 * writes every element of dx (DPT_CAP_WRITES_DX) and adds into dparams;
 * same inputs and B give the same bits. Left out: groups, "causal"
 * padding, regularizers and constraints, strides > 1 together with
 * dilation > 1 (Keras refuses them too).
 */
#ifndef DPT_PLUGINS_CONV_COMMON_H
#define DPT_PLUGINS_CONV_COMMON_H

#include <dptrain/plugin.h>

#include <assert.h>
#include <cblas.h>
#include <limits.h>
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The im2col block: at most this many floats of cols (rows x K) at a time,
 * so the workspace stays bounded for any batch and image size. TODO: chosen
 * by measurement. */
#define CONV_BLOCK_FLOATS ((size_t)1 << 20)
/* Bounds of the integer settings: far beyond any real layer, small enough
 * that products of sizes stay well inside int (CBLAS) and size_t. */
#define CONV_MAX_FILTERS 65536
#define CONV_MAX_KERNEL 1024

enum conv_init { CONV_GLOROT_UNIFORM, CONV_HE_NORMAL, CONV_ZEROS };

/* One spatial axis: input length, kernel taps, stride, dilation, padding
 * before the first element, output length. */
struct conv_axis {
    size_t in, k, stride, dilation, pad, out;
};

struct conv {
    struct conv_axis h, w; /* rows (1 for conv1d) and columns */
    size_t C, F;           /* input channels, filters */
    size_t K;              /* kh * kw * C: the length of an im2col row */
    size_t P;              /* Ho * Wo: output positions per sample */
    size_t n_in;           /* H * W * C: floats per input sample */
    size_t block_rows;     /* the most im2col rows processed at once */
    int identity;          /* 1 x 1, stride 1, no padding: cols = x */
    int use_bias;
    enum conv_init init;
};

/* The settings a convolution reads, before any shape is known. */
struct conv_settings {
    int64_t filters, kernel_size, strides, dilation;
    int same, use_bias;
    enum conv_init init;
};

/* Reads filters, kernel_size (both required), strides, padding, dilation,
 * use_bias and initializer. Returns 0 or the negative value of host->error
 * (or of a getter, which has reported already). */
static int conv_read_settings(const struct dpt_host *host, struct conv_settings *s)
{
    /* -1 marks a missing key: the message can then say it is required. */
    int rc = host->get_int(host->ctx, "filters", -1, -1, CONV_MAX_FILTERS, &s->filters);
    if (rc < 0) {
        return rc;
    }
    if (s->filters < 1) {
        return host->error(host->ctx, "'filters' is required (the number of output channels, "
                                      "1 .. %d, e.g. filters = 32)", CONV_MAX_FILTERS);
    }
    rc = host->get_int(host->ctx, "kernel_size", -1, -1, CONV_MAX_KERNEL, &s->kernel_size);
    if (rc < 0) {
        return rc;
    }
    if (s->kernel_size < 1) {
        return host->error(host->ctx, "'kernel_size' is required (taps per axis, 1 .. %d, "
                                      "e.g. kernel_size = 3)", CONV_MAX_KERNEL);
    }
    if ((rc = host->get_int(host->ctx, "strides", 1, 1, CONV_MAX_KERNEL, &s->strides)) < 0 ||
        (rc = host->get_int(host->ctx, "dilation", 1, 1, CONV_MAX_KERNEL, &s->dilation)) < 0) {
        return rc;
    }
    if (s->strides > 1 && s->dilation > 1) {
        return host->error(host->ctx, "strides %lld with dilation %lld: strides > 1 together "
                           "with dilation > 1 is not supported (Keras refuses it too)",
                           (long long)s->strides, (long long)s->dilation);
    }
    static const char *const paddings[] = {"valid", "same", NULL};
    const char *padding;
    if ((rc = host->get_string(host->ctx, "padding", "valid", paddings, &padding)) < 0 ||
        (rc = host->get_bool(host->ctx, "use_bias", 1, &s->use_bias)) < 0) {
        return rc;
    }
    s->same = strcmp(padding, "same") == 0;
    static const char *const inits[] = {"glorot_uniform", "he_normal", "zeros", NULL};
    const char *init;
    if ((rc = host->get_string(host->ctx, "initializer", inits[0], inits, &init)) < 0) {
        return rc;
    }
    s->init = strcmp(init, "he_normal") == 0 ? CONV_HE_NORMAL
              : strcmp(init, "zeros") == 0   ? CONV_ZEROS
                                             : CONV_GLOROT_UNIFORM;
    return 0;
}

/* Writes the dims of a shape as "[3, 3, 1]" into buf (for messages). */
static const char *conv_shape_str(char *buf, size_t len, const uint64_t *dims, uint32_t rank)
{
    size_t at = 0;
    buf[0] = '\0';
    for (uint32_t j = 0; j < rank && at < len; j++) {
        int k = snprintf(buf + at, len - at, "%s%llu%s", j ? ", " : "[",
                         (unsigned long long)dims[j], j + 1 == rank ? "]" : "");
        at += k > 0 ? (size_t)k : 0;
    }
    return buf;
}

/* Fills the axis from its input length and the settings; returns 0, or -1
 * when the kernel does not fit the input ("valid" padding only: "same"
 * pads enough for any kernel). */
static int conv_axis_init(struct conv_axis *a, size_t in, size_t k, const struct conv_settings *s)
{
    a->in = in;
    a->k = k;
    a->stride = (size_t)s->strides;
    a->dilation = (size_t)s->dilation;
    size_t span = (k - 1) * a->dilation + 1; /* the input a dilated kernel covers */
    if (s->same) {
        a->out = (in + a->stride - 1) / a->stride;
        size_t need = (a->out - 1) * a->stride + span;
        a->pad = need > in ? (need - in) / 2 : 0; /* the extra one goes after */
        return 0;
    }
    if (span > in) {
        return -1;
    }
    a->out = (in - span) / a->stride + 1;
    a->pad = 0;
    return 0;
}

/* Builds the instance *out (freed by conv_destroy) for an input [H, W, C]
 * and a k x k kernel, or for conv1d (one_d) an input [1, W, C] and a 1 x k
 * kernel. kernel and input name the shapes for messages, e.g. "[5, 5]".
 * Returns 0 or the negative value of host->error. */
static int conv_create(struct conv **out, const struct dpt_host *host,
                       const struct conv_settings *s, int one_d, size_t H, size_t W, size_t C,
                       const char *kernel, const char *input)
{
    struct conv c = {.C = C, .F = (size_t)s->filters, .use_bias = s->use_bias, .init = s->init};
    size_t k = (size_t)s->kernel_size, kh = one_d ? 1 : k, kw = k;
    struct conv_settings rows = *s;
    if (one_d) { /* the single row is neither strided, dilated nor padded */
        rows.kernel_size = rows.strides = rows.dilation = 1;
    }
    if (conv_axis_init(&c.h, H, kh, &rows) < 0 || conv_axis_init(&c.w, W, kw, s) < 0) {
        char dilated[48] = "";
        if (s->dilation > 1) {
            snprintf(dilated, sizeof dilated, " (dilation %lld)", (long long)s->dilation);
        }
        return host->error(host->ctx, "kernel %s%s does not fit input %s with padding "
                           "\"valid\"; use a smaller kernel_size or padding = \"same\"",
                           kernel, dilated, input);
    }
    c.K = kh * kw * C;
    c.P = c.h.out * c.w.out;
    c.n_in = H * W * C;
    /* CBLAS takes int sizes: K is one; the rows of a block are bounded. */
    if (C > INT_MAX / (kh * kw)) {
        return host->error(host->ctx, "input %s with kernel %s: more than %d floats under "
                           "the kernel", input, kernel, INT_MAX);
    }
    c.identity = kh == 1 && kw == 1 && c.h.stride == 1 && c.w.stride == 1 && c.h.pad == 0 &&
                 c.w.pad == 0;
    c.block_rows = CONV_BLOCK_FLOATS / c.K > 0 ? CONV_BLOCK_FLOATS / c.K : 1;
    *out = malloc(sizeof **out);
    if (!*out) {
        return host->error(host->ctx, "out of memory");
    }
    **out = c;
    return 0;
}

static size_t conv_n_params(const struct conv *c)
{
    return c->K * c->F + (c->use_bias ? c->F : 0);
}

/* Writes the kernel from the chosen initializer and a zero bias. Fans as
 * Keras computes them for convolutions: fan_in = kh * kw * C, fan_out =
 * kh * kw * F. */
static void conv_init_params(const void *state, float *params, const struct dpt_host *host,
                             struct dpt_rng *rng)
{
    const struct conv *c = state;
    size_t n = c->K * c->F;
    double fan_in = (double)c->K, fan_out = (double)(c->h.k * c->w.k * c->F);
    switch (c->init) {
    case CONV_GLOROT_UNIFORM: {
        /* Glorot and Bengio (2010): U(-l, l), l = sqrt(6 / (fan_in + fan_out)). */
        double limit = sqrt(6.0 / (fan_in + fan_out));
        for (size_t i = 0; i < n; i++) {
            params[i] = (float)(limit * (2.0 * host->rng_uniform(rng) - 1.0));
        }
        break;
    }
    case CONV_HE_NORMAL: {
        /* He et al. (2015): N(0, sqrt(2 / fan_in)), untruncated (see dense.c). */
        double stddev = sqrt(2.0 / fan_in);
        for (size_t i = 0; i < n; i++) {
            params[i] = (float)(stddev * host->rng_normal(rng));
        }
        break;
    }
    case CONV_ZEROS:
        memset(params, 0, n * sizeof *params);
        break;
    }
    if (c->use_bias) {
        memset(params + n, 0, c->F * sizeof *params);
    }
}

/* The rows of one block for a batch of B samples: all M = B * P rows when
 * they fit the bound, else block_rows. */
static size_t conv_rows_per_block(const struct conv *c, size_t B)
{
    size_t M = B * c->P;
    return M < c->block_rows ? M : c->block_rows;
}

/* The workspace holds one block of cols (and of dcols, in its place). */
static size_t conv_workspace_bytes(const void *state, size_t B)
{
    const struct conv *c = state;
    return c->identity ? 0 : conv_rows_per_block(c, B) * c->K * sizeof(float);
}

/* The position of im2col row r: sample b, output row oh, column ow. */
struct conv_pos {
    size_t b, oh, ow;
};

static struct conv_pos conv_pos_of(const struct conv *c, size_t r)
{
    size_t p = r % c->P;
    return (struct conv_pos){r / c->P, p / c->w.out, p % c->w.out};
}

static void conv_pos_next(const struct conv *c, struct conv_pos *q)
{
    if (++q->ow == c->w.out) {
        q->ow = 0;
        if (++q->oh == c->h.out) {
            q->oh = 0;
            q->b++;
        }
    }
}

/* Writes rows [r0, r0 + n) of the im2col matrix of x into cols (n, K):
 * row (b, oh, ow) holds for each tap (i, j) the C channels of x[b, oh * sh
 * - pt + i * dh, ow * sw - pl + j * dw, :], zeros where that is padding. */
DPT_VECTORIZE
static void conv_im2col(const struct conv *c, const float *x, size_t r0, size_t n, float *cols)
{
    const size_t C = c->C, W = c->w.in, run = c->w.k * C;
    struct conv_pos q = conv_pos_of(c, r0);
    for (size_t r = 0; r < n; r++, conv_pos_next(c, &q)) {
        const float *xs = x + q.b * c->n_in;
        float *row = cols + r * c->K;
        /* Signed: the first taps of a padded position fall before the input. */
        ptrdiff_t h0 = (ptrdiff_t)(q.oh * c->h.stride) - (ptrdiff_t)c->h.pad;
        ptrdiff_t w0 = (ptrdiff_t)(q.ow * c->w.stride) - (ptrdiff_t)c->w.pad;
        ptrdiff_t w_last = w0 + (ptrdiff_t)((c->w.k - 1) * c->w.dilation);
        for (size_t i = 0; i < c->h.k; i++) {
            ptrdiff_t h = h0 + (ptrdiff_t)(i * c->h.dilation);
            float *dst = row + i * run;
            if (h < 0 || h >= (ptrdiff_t)c->h.in) {
                memset(dst, 0, run * sizeof *dst);
                continue;
            }
            const float *src = xs + (size_t)h * W * C;
            if (c->w.dilation == 1 && w0 >= 0 && w_last < (ptrdiff_t)W) {
                memcpy(dst, src + (size_t)w0 * C, run * sizeof *dst); /* one contiguous run */
                continue;
            }
            for (size_t j = 0; j < c->w.k; j++) {
                ptrdiff_t w = w0 + (ptrdiff_t)(j * c->w.dilation);
                if (w < 0 || w >= (ptrdiff_t)W) {
                    memset(dst + j * C, 0, C * sizeof *dst);
                } else {
                    memcpy(dst + j * C, src + (size_t)w * C, C * sizeof *dst);
                }
            }
        }
    }
}

/* The adjoint of conv_im2col: adds rows [r0, r0 + n) of dcols (n, K) into
 * dx at the places im2col read them from; padding taps are dropped. dx of
 * a sample is zeroed here before its first row is added, so dx is written
 * in full (DPT_CAP_WRITES_DX) once all blocks are done, in order. */
DPT_VECTORIZE
static void conv_col2im(const struct conv *c, const float *dcols, size_t r0, size_t n, float *dx)
{
    const size_t C = c->C, W = c->w.in, run = c->w.k * C;
    struct conv_pos q = conv_pos_of(c, r0);
    for (size_t r = 0; r < n; r++, conv_pos_next(c, &q)) {
        float *dxs = dx + q.b * c->n_in;
        if (q.oh == 0 && q.ow == 0) {
            memset(dxs, 0, c->n_in * sizeof *dxs);
        }
        const float *row = dcols + r * c->K;
        ptrdiff_t h0 = (ptrdiff_t)(q.oh * c->h.stride) - (ptrdiff_t)c->h.pad;
        ptrdiff_t w0 = (ptrdiff_t)(q.ow * c->w.stride) - (ptrdiff_t)c->w.pad;
        ptrdiff_t w_last = w0 + (ptrdiff_t)((c->w.k - 1) * c->w.dilation);
        for (size_t i = 0; i < c->h.k; i++) {
            ptrdiff_t h = h0 + (ptrdiff_t)(i * c->h.dilation);
            if (h < 0 || h >= (ptrdiff_t)c->h.in) {
                continue;
            }
            const float *src = row + i * run;
            float *dst = dxs + (size_t)h * W * C;
            if (c->w.dilation == 1 && w0 >= 0 && w_last < (ptrdiff_t)W) {
                dst += (size_t)w0 * C;
                for (size_t t = 0; t < run; t++) {
                    dst[t] += src[t];
                }
                continue;
            }
            for (size_t j = 0; j < c->w.k; j++) {
                ptrdiff_t w = w0 + (ptrdiff_t)(j * c->w.dilation);
                if (w >= 0 && w < (ptrdiff_t)W) {
                    for (size_t t = 0; t < C; t++) {
                        dst[(size_t)w * C + t] += src[j * C + t];
                    }
                }
            }
        }
    }
}

/* y (B * P, F) = cols x kernel + bias, a block of rows at a time. */
static void conv_forward(const void *state, const float *params, const float *x, float *y,
                         const struct dpt_batch *bt)
{
    const struct conv *c = state;
    size_t M = bt->B * c->P, rows = conv_rows_per_block(c, bt->B);
    const int K = (int)c->K, F = (int)c->F;
    const float *kernel = params, *bias = params + c->K * c->F;
    for (size_t r0 = 0; r0 < M; r0 += rows) {
        size_t n = M - r0 < rows ? M - r0 : rows;
        const float *cols = x + r0 * c->C;
        if (!c->identity) {
            conv_im2col(c, x, r0, n, bt->ws);
            cols = bt->ws;
        }
        float *yb = y + r0 * c->F;
        /* With a bias, y starts as the bias and the product adds to it
         * (beta = 1): one pass over y instead of a zeroing pass and an add. */
        if (c->use_bias) {
            for (size_t i = 0; i < n; i++) {
                memcpy(yb + i * c->F, bias, c->F * sizeof *yb);
            }
        }
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)n, F, K, 1.0f, cols, K,
                    kernel, F, c->use_bias ? 1.0f : 0.0f, yb, F);
    }
}

/* db += the column sums of dy (M, F), in double (M terms of either sign),
 * 64 columns at a time so dy is read row by row. */
static void conv_add_column_sums(const float *dy, size_t M, size_t F, float *db)
{
    enum { COLS = 64 };
    for (size_t j0 = 0; j0 < F; j0 += COLS) {
        size_t k = F - j0 < COLS ? F - j0 : COLS;
        double s[COLS] = {0};
        for (size_t i = 0; i < M; i++) {
            const float *row = dy + i * F + j0;
            for (size_t j = 0; j < k; j++) {
                s[j] += row[j];
            }
        }
        for (size_t j = 0; j < k; j++) {
            db[j0 + j] += (float)s[j];
        }
    }
}

/* dkernel += cols^T dy and dbias += the column sums of dy (into dparams);
 * dx = col2im(dy kernel^T) unless dx is NULL. When the whole batch was one
 * block, the training forward's cols are still in the workspace. */
static void conv_backward(const void *state, const float *params, const float *x,
                          const float *y, const float *dy, float *dx, float *dparams,
                          const struct dpt_batch *bt)
{
    (void)y;
    const struct conv *c = state;
    size_t M = bt->B * c->P, rows = conv_rows_per_block(c, bt->B);
    const int K = (int)c->K, F = (int)c->F;
    const float *kernel = params;
    float *dkernel = dparams, *ws = bt->ws;
    for (size_t r0 = 0; r0 < M; r0 += rows) {
        size_t n = M - r0 < rows ? M - r0 : rows;
        const float *cols = x + r0 * c->C, *dyb = dy + r0 * c->F;
        if (!c->identity) {
            if (rows < M) {
                conv_im2col(c, x, r0, n, ws);
            }
            cols = ws;
        }
        /* beta = 1: dkernel accumulates over the micro-shards of a step. */
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, K, F, (int)n, 1.0f, cols, K, dyb,
                    F, 1.0f, dkernel, F);
        if (!dx) {
            continue;
        }
        if (c->identity) { /* dcols is dx itself: beta = 0 writes it */
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)n, K, F, 1.0f, dyb, F,
                        kernel, F, 0.0f, dx + r0 * c->C, K);
            continue;
        }
        /* cols is no longer needed: dcols takes its place. */
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)n, K, F, 1.0f, dyb, F, kernel,
                    F, 0.0f, ws, K);
        conv_col2im(c, ws, r0, n, dx);
    }
    if (c->use_bias) {
        conv_add_column_sums(dy, M, c->F, dparams + c->K * c->F);
    }
}

static void conv_destroy(void *state)
{
    free(state);
}

#endif
