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
 * Both run in two passes per output row: down the rows of the windows, then
 * across their columns (see max_down); max pooling 2x2 stride 2 "valid"
 * runs in one (see POOL_FAST, and narrow_tables for fewer than 8
 * channels), with the same results. So an average sums each column of
 * its window top to bottom, then the column sums left to right, and divides
 * by the number of cells.
 *
 * Guarantees: deterministic; forward and backward allocate nothing (the
 * workspace holds the winners and rows of scratch); backward writes
 * every element of dx (DPT_CAP_WRITES_DX). The loops are built for AVX2 and
 * AVX-512 by DPT_VECTORIZE. Left out: channels-first data and pairs.
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
    struct narrow *narrow; /* narrow_tables, or NULL where that path does not apply */
};

/* The narrow path's tables (see narrow_tables): for each vector u of
 * POOL_LANES outputs of an output row (starting at output
 * vector_start(u, OW * C)), nf in all, the offset in the input row of the
 * first window's left cells and, per lane, the offset of its output's left
 * cell from there; for each vector v of POOL_LANES inputs of an input row
 * (starting at input vector_start(v, 2 * OW * C)), nb in all, the first
 * output read and, per lane, its output from there and its column in the
 * window (0 or 1). */
struct narrow {
    size_t nf, nb;
    int32_t *f_base, *f_idx;        /* nf, nf * POOL_LANES */
    int32_t *b_base, *b_idx, *b_dw; /* nb, nb * POOL_LANES twice */
};

/* TensorFlow's "same" padding for one axis of n cells with out windows:
 * the rows the last window overhangs, of which the smaller half goes
 * before the first cell. */
static int64_t same_padding_before(int64_t n, int64_t out, int64_t k, int64_t s)
{
    int64_t total = (out - 1) * s + k - n;
    return total > 0 ? total / 2 : 0;
}

static struct narrow *narrow_tables(const struct pool *p);
static void narrow_free(struct narrow *t);

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
        return host->error(host->ctx, "input %s has more than 2^31 - 1 floats per sample; "
                           "pooling takes at most that many", shape_text(shape, in));
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
    p->narrow = narrow_tables(p); /* NULL where the path does not apply (or no memory) */
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
    struct pool *p = state;
    if (p) {
        narrow_free(p->narrow);
    }
    free(p);
}

/* The real cells [lo, hi) along one axis of n cells of the window of
 * output o, for padding pad before cell 0. */
struct span {
    int64_t lo, hi;
};

static inline struct span span_at(const struct pool *p, int64_t o, int64_t pad, int64_t n)
{
    int64_t lo = o * p->s - pad, hi = lo + p->k;
    return (struct span){lo > 0 ? lo : 0, hi < n ? hi : n};
}

/* The workspace: the winners of max pooling (B * OH * OW * C int32,
 * written by a training forward only; none for average pooling), then one
 * row of partial results (W * C floats and W * C int32, each followed by
 * POOL_LANES more) that forward and backward use as scratch, then, for
 * max_across_narrow, one output row (OW * C + POOL_LANES floats and as
 * many int32). */
struct scratch {
    int32_t *arg;
    float *row;
    int32_t *row_arg;
    float *out;
    int32_t *out_arg;
};

/* The vector width max_across_narrow computes with, and the channels
 * below which it is used; its vectors (GCC's extension, which each clone
 * of DPT_VECTORIZE compiles to its own instructions). */
#define POOL_LANES 8
typedef float pool_v8f __attribute__((vector_size(POOL_LANES * sizeof(float))));
typedef int32_t pool_v8i __attribute__((vector_size(POOL_LANES * sizeof(int32_t))));

static size_t winners_bytes(const struct pool *p, size_t B)
{
    if (p->op != POOL_MAX) {
        return 0;
    }
    size_t bytes = B * (size_t)(p->OH * p->OW * p->C) * sizeof(int32_t);
    return (bytes + 63) / 64 * 64; /* the row starts 64-byte aligned */
}

static size_t pool_workspace_bytes(const void *state, size_t B)
{
    const struct pool *p = state;
    size_t row = (size_t)(p->W * p->C) + POOL_LANES, out = (size_t)(p->OW * p->C) + POOL_LANES;
    return winners_bytes(p, B) + (row + out) * (sizeof(float) + sizeof(int32_t));
}

static struct scratch scratch_of(const struct pool *p, void *ws, size_t B)
{
    char *base = ws;
    size_t row_n = (size_t)(p->W * p->C) + POOL_LANES, out_n = (size_t)(p->OW * p->C) + POOL_LANES;
    float *row = (float *)(base + winners_bytes(p, B));
    int32_t *row_arg = (int32_t *)(row + row_n);
    float *out = (float *)(row_arg + row_n);
    return (struct scratch){(int32_t *)base, row, row_arg, out, (int32_t *)(out + out_n)};
}

/* Pooling runs in two passes per output row: first down the rows of its
 * windows, over whole rows of W * C contiguous floats (long loops that
 * vectorize whatever C is), then across the columns of each window, over
 * the C channels of a cell. Window by window, every cell of a window had
 * its own loop over C, too short to pay for itself when C is small: the
 * forward of LeNet's first pool (28x28x6, B = 64) ran 1.4-1.7x faster in
 * two passes (6.4 us per sample against 9-11 on the shared 2-core test
 * machine, measured back to back).
 *
 * Max pooling, first pass: row[j] = the max of x[h][j] (x one sample, rows
 * of R floats) over the rows h of the span, and row_arg[j] its index in x
 * when row_arg is not NULL. A cell replaces the max only when greater or
 * NaN, so the topmost of equal cells wins. The comparisons are selects so
 * that the loops vectorize. */
static inline void max_down(const float *restrict x, int32_t R, struct span rows,
                            float *restrict row, int32_t *restrict row_arg)
{
    int32_t first = (int32_t)(rows.lo * R);
    for (int32_t j = 0; j < R; j++) {
        row[j] = x[first + j];
    }
    if (row_arg) {
        for (int32_t j = 0; j < R; j++) {
            row_arg[j] = first + j;
        }
    }
    for (int64_t h = rows.lo + 1; h < rows.hi; h++) {
        int32_t at = (int32_t)(h * R);
        const float *restrict xh = x + at;
        if (row_arg) {
            for (int32_t j = 0; j < R; j++) {
                float v = xh[j], m = row[j];
                int take = (v > m) | (v != v);
                row[j] = take ? v : m;
                row_arg[j] = take ? at + j : row_arg[j];
            }
        } else {
            for (int32_t j = 0; j < R; j++) {
                float v = xh[j], m = row[j];
                row[j] = (v > m) | (v != v) ? v : m;
            }
        }
    }
}

/* Max pooling, second pass: yr[ow, c] = the max of row[w, c] over the
 * columns w of window ow, and ar[ow, c] its index when ar is not NULL. Of
 * equal cells the one with the smaller index wins: with the first pass,
 * the first of the window in row-major order. */
static inline void max_across(const struct pool *p, const float *restrict row,
                              const int32_t *restrict row_arg, float *restrict yr,
                              int32_t *restrict ar)
{
    const int32_t C = (int32_t)p->C;
    for (int64_t ow = 0; ow < p->OW; ow++) {
        struct span cols = span_at(p, ow, p->left, p->W);
        float *restrict yo = yr + ow * C;
        int32_t *restrict ao = ar ? ar + ow * C : NULL;
        for (int32_t c = 0; c < C; c++) {
            yo[c] = row[cols.lo * C + c];
        }
        if (ao) {
            for (int32_t c = 0; c < C; c++) {
                ao[c] = row_arg[cols.lo * C + c];
            }
        }
        for (int64_t w = cols.lo + 1; w < cols.hi; w++) {
            const float *restrict rw = row + w * C;
            if (ao) {
                const int32_t *restrict aw = row_arg + w * C;
                for (int32_t c = 0; c < C; c++) {
                    float v = rw[c], m = yo[c];
                    int take = (v > m) | (v != v) | ((v == m) & (aw[c] < ao[c]));
                    yo[c] = take ? v : m;
                    ao[c] = take ? aw[c] : ao[c];
                }
            } else {
                for (int32_t c = 0; c < C; c++) {
                    float v = rw[c], m = yo[c];
                    yo[c] = (v > m) | (v != v) ? v : m;
                }
            }
        }
    }
}

/* max_across for fewer than POOL_LANES channels, where its loops over C
 * are too short to vectorize (LeNet's first pool, C = 6):
 * the same comparisons on POOL_LANES lanes from cell (ow, 0) on, into the
 * output row out (and out_arg): lanes past C belong to the next window
 * and are overwritten by it, or fall in the POOL_LANES floats after the
 * row; then the row is copied to yr (and ar). row and row_arg are read up
 * to POOL_LANES past their W * C cells (pool_rows zeroes that tail). */
static inline void max_across_narrow(const struct pool *p, const float *restrict row,
                                     const int32_t *restrict row_arg, float *restrict yr,
                                     int32_t *restrict ar, float *restrict out,
                                     int32_t *restrict out_arg)
{
    const int32_t C = (int32_t)p->C;
    for (int64_t ow = 0; ow < p->OW; ow++) {
        struct span cols = span_at(p, ow, p->left, p->W);
        pool_v8f m, v;
        pool_v8i a = {0}, av = {0};
        memcpy(&m, row + cols.lo * C, sizeof m);
        if (ar) {
            memcpy(&a, row_arg + cols.lo * C, sizeof a);
        }
        for (int64_t w = cols.lo + 1; w < cols.hi; w++) {
            memcpy(&v, row + w * C, sizeof v);
            if (ar) {
                memcpy(&av, row_arg + w * C, sizeof av);
            }
            /* masks of all ones where true, as the scalar rule of max_across */
            pool_v8i take = (v > m) | (v != v) | ((v == m) & (av < a));
            m = (pool_v8f)((take & (pool_v8i)v) | (~take & (pool_v8i)m));
            a = (take & av) | (~take & a);
        }
        memcpy(out + ow * C, &m, sizeof m);
        memcpy(out_arg + ow * C, &a, sizeof a);
    }
    memcpy(yr, out, (size_t)(p->OW * C) * sizeof *yr);
    if (ar) {
        memcpy(ar, out_arg, (size_t)(p->OW * C) * sizeof *ar);
    }
}

/* Average pooling, first pass: row[j] = the sum of x[h][j] over the rows
 * of the span. */
static inline void sum_down(const float *restrict x, int32_t R, struct span rows,
                            float *restrict row)
{
    const float *restrict x0 = x + rows.lo * R;
    for (int32_t j = 0; j < R; j++) {
        row[j] = x0[j];
    }
    for (int64_t h = rows.lo + 1; h < rows.hi; h++) {
        const float *restrict xh = x + h * R;
        for (int32_t j = 0; j < R; j++) {
            row[j] += xh[j];
        }
    }
}

/* Average pooling, second pass: yr[ow, c] = the sum of row[w, c] over the
 * columns of window ow, divided by its real cells (n_rows of them per
 * column). */
static inline void mean_across(const struct pool *p, const float *restrict row, int64_t n_rows,
                               float *restrict yr)
{
    const int32_t C = (int32_t)p->C;
    for (int64_t ow = 0; ow < p->OW; ow++) {
        struct span cols = span_at(p, ow, p->left, p->W);
        float *restrict yo = yr + ow * C;
        for (int32_t c = 0; c < C; c++) {
            yo[c] = row[cols.lo * C + c];
        }
        for (int64_t w = cols.lo + 1; w < cols.hi; w++) {
            const float *restrict rw = row + w * C;
            for (int32_t c = 0; c < C; c++) {
                yo[c] += rw[c];
            }
        }
        float n = (float)(n_rows * (cols.hi - cols.lo));
        for (int32_t c = 0; c < C; c++) {
            yo[c] /= n;
        }
    }
}

/* Pool 2 stride 2 "valid" with at least POOL_LANES channels (LeNet's
 * second pool, 10x10x16), in one pass: for each window the four cells'
 * channel vectors are compared directly, with no row buffer, and the
 * winner is kept as a code (an int32 per output in the winners' place),
 * 2 * dh + dw for the cell (dh, dw) of the window, so that backward writes
 * dx whole (each input cell is in at most one window) instead of zeroing
 * it and scattering. The comparisons are those of max_down then
 * max_across, in the same order, so every value, winner and tie (NaN
 * included) is the one the general path gives: down each column (the
 * lower cell replaces the upper when greater or NaN), then across (the
 * right column replaces the left when greater, NaN, or equal with the
 * smaller code, i.e. its winner comes first in row-major order).
 *
 * Measured on the shared 2-core machine, B = 16, forward (training) +
 * backward per call: 10x10x16 7.0 us against 16-19 us in two passes
 * (2.3-2.7x). Below POOL_LANES channels the same loads, 8 lanes from each
 * cell with the lanes past C spilling into the next window, were no
 * faster on 28x28x6 per call and slower inside LeNet (the pooling's share
 * of a step 6.8% against 5.0%); those channels take permuted loads
 * instead (narrow_tables). Codes of one byte cost more than they saved
 * (GCC packs int32 lanes to bytes one by one). */
#define POOL_FAST(p) ((p)->k == 2 && (p)->s == 2 && (p)->top == 0 && (p)->left == 0 && \
                      (p)->OH == (p)->H / 2 && (p)->OW == (p)->W / 2 && (p)->C >= POOL_LANES)

/* The helpers of the DPT_VECTORIZE clones below must be inlined into each
 * clone: left out of line (as GCC chose for max2x2_row), they are built
 * for the baseline x86-64 only, and their 8-lane vectors run 8x slower. */
#define POOL_INLINE static inline __attribute__((always_inline))

/* *m = the max of the window whose cells (row-major) are a, b, d, e on
 * POOL_LANES channels, *code the winner's code. (Vectors pass by pointer:
 * by value they would change the ABI between the clones.) */
POOL_INLINE void max4(const pool_v8f *ap, const pool_v8f *bp, const pool_v8f *dp,
                      const pool_v8f *ep, pool_v8f *m, pool_v8i *code)
{
    pool_v8f a = *ap, b = *bp, d = *dp, e = *ep;
    const pool_v8i zero = {0}, one = zero + 1, two = zero + 2, three = zero + 3;
    pool_v8i t0 = (d > a) | (d != d), t1 = (e > b) | (e != e);
    pool_v8f m0 = (pool_v8f)((t0 & (pool_v8i)d) | (~t0 & (pool_v8i)a));
    pool_v8f m1 = (pool_v8f)((t1 & (pool_v8i)e) | (~t1 & (pool_v8i)b));
    pool_v8i i0 = t0 & two, i1 = (t1 & three) | (~t1 & one);
    pool_v8i take = (m1 > m0) | (m1 != m1) | ((m1 == m0) & (i1 < i0));
    *code = (take & i1) | (~take & i0);
    *m = (pool_v8f)((take & (pool_v8i)m1) | (~take & (pool_v8i)m0));
}

/* One output row of the fast path: input rows r0 and r1, output row yr
 * and, if code is not NULL, the winners' codes. The channels go in chunks
 * of POOL_LANES, the last one overlapping the one before when POOL_LANES
 * does not divide C (it computes the same values again). */
POOL_INLINE void max2x2_row(const struct pool *p, const float *restrict r0,
                            const float *restrict r1, float *restrict yr, int32_t *restrict code)
{
    const int32_t C = (int32_t)p->C;
    for (int64_t ow = 0; ow < p->OW; ow++) {
        for (int32_t c = 0; c < C; c += POOL_LANES) {
            int32_t cc = c + POOL_LANES <= C ? c : C - POOL_LANES;
            int64_t left = 2 * ow * C + cc, right = left + C;
            pool_v8f a, b, d, e, m;
            pool_v8i k;
            memcpy(&a, r0 + left, sizeof a);
            memcpy(&b, r0 + right, sizeof b);
            memcpy(&d, r1 + left, sizeof d);
            memcpy(&e, r1 + right, sizeof e);
            max4(&a, &b, &d, &e, &m, &k);
            memcpy(yr + ow * C + cc, &m, sizeof m);
            if (code) {
                memcpy(code + ow * C + cc, &k, sizeof k);
            }
        }
    }
}

/* Pool 2 stride 2 "valid" with fewer than POOL_LANES channels (LeNet's
 * first pool, 28x28x6) in one pass as well, with the same codes: a vector
 * of POOL_LANES outputs of a row takes the left cells of their windows
 * from 2 * POOL_LANES consecutive floats of the input row by a two-source
 * permute, and the right cells from C floats further on (the same
 * permute), so that max4 compares them as above; backward permutes a
 * vector of dy and of the codes into each vector of an input row and
 * keeps a lane where its code names its cell. The permutes are fixed by
 * C and W: narrow_tables computes them once, and the path is taken where
 * each vector's left cells lie within 2 * POOL_LANES floats and its
 * outputs within POOL_LANES (C = 1, 2, 4, 6, 7; 3 and 5 for the narrowest
 * rows only) and the rows are long enough
 * for the loads to stay inside them (W * C >= C + 16, OW * C >= 8).
 * In LeNet (B = 16, one thread) both pools' share of a step went from
 * 7.8% to 6.3% (perf) and the step 4% faster (5 alternating runs). GCC
 * only (__builtin_shuffle). */
#if defined(__GNUC__) && !defined(__clang__)
#define POOL_NARROW_BUILT 1
#else
#define POOL_NARROW_BUILT 0
#endif
/* The one-pass paths' clones: x86-64-v4 has AVX-512VL, whose two-source
 * permute (vpermt2ps) of 8 lanes is one instruction; plain "avx512f" made
 * it two permutes, a blend and a trip through the stack. */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && __GNUC__ >= 11 && \
    !defined(DPT_NO_CLONES)
#define POOL_ONE_PASS_CLONES                                                              \
    __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define POOL_ONE_PASS_CLONES DPT_VECTORIZE
#endif

/* The first of the POOL_LANES cells of vector u of a row of n >= POOL_LANES
 * cells: the last vector overlaps the one before when POOL_LANES does not
 * divide n. */
static inline int64_t vector_start(size_t u, int64_t n)
{
    int64_t first = (int64_t)u * POOL_LANES;
    return first < n - POOL_LANES ? first : n - POOL_LANES;
}

static void narrow_free(struct narrow *t)
{
    if (t) {
        free(t->f_base), free(t->f_idx);
        free(t->b_base), free(t->b_idx), free(t->b_dw);
        free(t);
    }
}

static struct narrow *narrow_tables(const struct pool *p)
{
    const int64_t C = p->C, R = p->W * p->C, OWC = p->OW * p->C, P = 2 * OWC, L = POOL_LANES;
    if (!POOL_NARROW_BUILT || p->op != POOL_MAX || p->k != 2 || p->s != 2 || p->top != 0 ||
        p->left != 0 || p->OH != p->H / 2 || p->OW != p->W / 2 || C >= L || OWC < L ||
        R < C + 2 * L) {
        return NULL;
    }
    struct narrow *t = calloc(1, sizeof *t);
    if (!t) {
        return NULL;
    }
    t->nf = (size_t)((OWC + L - 1) / L);
    t->nb = (size_t)((P + L - 1) / L);
    t->f_base = malloc(t->nf * sizeof *t->f_base);
    t->f_idx = malloc(t->nf * L * sizeof *t->f_idx);
    t->b_base = malloc(t->nb * sizeof *t->b_base);
    t->b_idx = malloc(t->nb * L * sizeof *t->b_idx);
    t->b_dw = malloc(t->nb * L * sizeof *t->b_dw);
    if (!t->f_base || !t->f_idx || !t->b_base || !t->b_idx || !t->b_dw) {
        narrow_free(t);
        return NULL;
    }
    /* Output o of a row has its window's top-left cell at left(o) in the
     * input row; a base is pulled back so that its loads (two vectors from
     * base, two from base + C) end inside the input row. */
    for (size_t u = 0; u < t->nf; u++) {
        int64_t o0 = vector_start(u, OWC);
        int64_t left0 = o0 + C * (o0 / C), base = left0 < R - C - 2 * L ? left0 : R - C - 2 * L;
        t->f_base[u] = (int32_t)base;
        for (int64_t j = 0; j < L; j++) {
            int64_t o = o0 + j, at = o + C * (o / C) - base;
            if (at >= 2 * L) {
                narrow_free(t);
                return NULL;
            }
            t->f_idx[u * L + (size_t)j] = (int32_t)at;
        }
    }
    /* Input q of a row (q < P) is in the window of output out(q), in its
     * column (q / C) % 2; both columns of a window have the same outputs,
     * so the lowest output of a vector need not be its first lane's. The
     * vector of outputs read ends inside the row. */
    for (size_t v = 0; v < t->nb; v++) {
        int64_t p0 = vector_start(v, P), base = OWC - L;
        for (int64_t q = p0; q < p0 + L; q++) {
            int64_t out = q / (2 * C) * C + q % C;
            base = out < base ? out : base;
        }
        t->b_base[v] = (int32_t)base;
        for (int64_t j = 0; j < L; j++) {
            int64_t q = p0 + j, at = q / (2 * C) * C + q % C - base;
            if (at < 0 || at >= L) {
                narrow_free(t);
                return NULL;
            }
            t->b_idx[v * L + (size_t)j] = (int32_t)at;
            t->b_dw[v * L + (size_t)j] = (int32_t)(q / C % 2);
        }
    }
    return t;
}

#if POOL_NARROW_BUILT
/* *out = lane idx[l] of the 2 * POOL_LANES floats from src, for each lane
 * l (two loads of a vector each: one load of both went through the
 * stack). */
POOL_INLINE void take2(const float *src, const pool_v8i *idx, pool_v8f *out)
{
    pool_v8f lo, hi;
    memcpy(&lo, src, sizeof lo);
    memcpy(&hi, src + POOL_LANES, sizeof hi);
    *out = __builtin_shuffle(lo, hi, *idx);
}

/* One output row of the narrow path: as max2x2_row. */
POOL_INLINE void narrow_row(const struct pool *p, const struct narrow *t,
                            const float *restrict r0, const float *restrict r1,
                            float *restrict yr, int32_t *restrict code)
{
    const int64_t C = p->C, OWC = p->OW * p->C;
    for (size_t u = 0; u < t->nf; u++) {
        pool_v8i idx, k;
        pool_v8f a, b, d, e, m;
        memcpy(&idx, t->f_idx + u * POOL_LANES, sizeof idx);
        const int64_t at = t->f_base[u];
        take2(r0 + at, &idx, &a);
        take2(r0 + at + C, &idx, &b);
        take2(r1 + at, &idx, &d);
        take2(r1 + at + C, &idx, &e);
        max4(&a, &b, &d, &e, &m, &k);
        const int64_t o0 = vector_start(u, OWC);
        memcpy(yr + o0, &m, sizeof m);
        if (code) {
            memcpy(code + o0, &k, sizeof k);
        }
    }
}

/* Backward of one output row of the narrow path: as max2x2_row_backward. */
POOL_INLINE void narrow_row_backward(const struct pool *p, const struct narrow *t,
                                     const float *restrict dyr, const int32_t *restrict code,
                                     float *restrict d0, float *restrict d1)
{
    const pool_v8i two = {2, 2, 2, 2, 2, 2, 2, 2};
    const int64_t P = 2 * p->OW * p->C;
    for (size_t v = 0; v < t->nb; v++) {
        pool_v8i idx, dw, k;
        pool_v8f g;
        memcpy(&idx, t->b_idx + v * POOL_LANES, sizeof idx);
        memcpy(&dw, t->b_dw + v * POOL_LANES, sizeof dw);
        memcpy(&g, dyr + t->b_base[v], sizeof g);
        memcpy(&k, code + t->b_base[v], sizeof k);
        pool_v8i gi = (pool_v8i)__builtin_shuffle(g, idx);
        k = __builtin_shuffle(k, idx);
        pool_v8i v0 = (k == dw) & gi, v1 = (k == dw + two) & gi;
        const int64_t p0 = vector_start(v, P);
        memcpy(d0 + p0, &v0, sizeof v0);
        memcpy(d1 + p0, &v1, sizeof v1);
    }
    for (int64_t j = P; j < p->W * p->C; j++) {
        d0[j] = 0.0f;
        d1[j] = 0.0f;
    }
}
#endif

/* The one-pass forward (POOL_FAST, or the narrow path where p->narrow is
 * set) over B samples; codes (B * OH * OW * C int32) may be NULL
 * (inference). */
POOL_ONE_PASS_CLONES
static void max2x2_rows(const struct pool *p, const float *x, float *y, int32_t *codes,
                        size_t B)
{
    const int32_t R = (int32_t)(p->W * p->C);
    const size_t n_in = (size_t)(p->H * R), n_out = (size_t)(p->OH * p->OW * p->C);
    for (size_t i = 0; i < B; i++) {
        for (int64_t oh = 0; oh < p->OH; oh++) {
            const float *r0 = x + i * n_in + (size_t)(2 * oh * R);
            size_t o = i * n_out + (size_t)(oh * p->OW * p->C);
#if POOL_NARROW_BUILT
            if (p->narrow) {
                narrow_row(p, p->narrow, r0, r0 + R, y + o, codes ? codes + o : NULL);
                continue;
            }
#endif
            max2x2_row(p, r0, r0 + R, y + o, codes ? codes + o : NULL);
        }
    }
}

/* Backward of one output row: writes the two input rows d0 and d1 whole,
 * each cell of a window its output's gradient if it won and 0 if not, and
 * 0 in a column left over by an odd W. The chunks are those of
 * max2x2_row. */
POOL_INLINE void max2x2_row_backward(const struct pool *p, const float *restrict dyr,
                                     const int32_t *restrict code, float *restrict d0,
                                     float *restrict d1)
{
    const int32_t C = (int32_t)p->C, R = (int32_t)(p->W * p->C);
    const pool_v8i zero = {0};
    for (int64_t ow = 0; ow < p->OW; ow++) {
        for (int32_t c = 0; c < C; c += POOL_LANES) {
            int32_t cc = c + POOL_LANES <= C ? c : C - POOL_LANES;
            int64_t left = 2 * ow * C + cc, right = left + C;
            pool_v8f g;
            pool_v8i k;
            memcpy(&g, dyr + ow * C + cc, sizeof g);
            memcpy(&k, code + ow * C + cc, sizeof k);
            pool_v8i gi = (pool_v8i)g;
            pool_v8i v0 = (k == zero) & gi, v1 = (k == zero + 1) & gi;
            pool_v8i v2 = (k == zero + 2) & gi, v3 = (k == zero + 3) & gi;
            memcpy(d0 + left, &v0, sizeof v0);
            memcpy(d0 + right, &v1, sizeof v1);
            memcpy(d1 + left, &v2, sizeof v2);
            memcpy(d1 + right, &v3, sizeof v3);
        }
    }
    for (int32_t j = (int32_t)(2 * p->OW * C); j < R; j++) {
        d0[j] = 0.0f;
        d1[j] = 0.0f;
    }
}

/* The fast path's backward over B samples, from the codes of the
 * training forward; a row left over by an odd H gets 0. */
POOL_ONE_PASS_CLONES
static void max2x2_backward_rows(const struct pool *p, const float *dy, const int32_t *codes,
                                 float *dx, size_t B)
{
    const int32_t R = (int32_t)(p->W * p->C);
    const size_t n_in = (size_t)(p->H * R), n_out = (size_t)(p->OH * p->OW * p->C);
    for (size_t i = 0; i < B; i++) {
        float *dxi = dx + i * n_in;
        for (int64_t oh = 0; oh < p->OH; oh++) {
            size_t o = i * n_out + (size_t)(oh * p->OW * p->C);
            float *d0 = dxi + (size_t)(2 * oh * R);
#if POOL_NARROW_BUILT
            if (p->narrow) {
                narrow_row_backward(p, p->narrow, dy + o, codes + o, d0, d0 + R);
                continue;
            }
#endif
            max2x2_row_backward(p, dy + o, codes + o, d0, d0 + R);
        }
        if (p->H % 2) {
            memset(dxi + (size_t)((p->H - 1) * R), 0, (size_t)R * sizeof *dxi);
        }
    }
}

/* x is (B, H * W * C), y is (B, OH * OW * C). Writes y and, for max
 * pooling with `winners`, the index in its sample of each output's winner
 * into s.arg. */
DPT_VECTORIZE
static void pool_rows(const struct pool *p, const float *x, float *y, struct scratch s,
                      int winners, size_t B)
{
    const int32_t R = (int32_t)(p->W * p->C);
    const size_t n_in = (size_t)(p->H * R), n_out = (size_t)(p->OH * p->OW * p->C);
    for (int32_t l = 0; l < POOL_LANES; l++) { /* read by max_across_narrow, never used */
        s.row[R + l] = 0.0f;
        s.row_arg[R + l] = 0;
    }
    for (size_t i = 0; i < B; i++) {
        for (int64_t oh = 0; oh < p->OH; oh++) {
            struct span rows = span_at(p, oh, p->top, p->H);
            size_t o = i * n_out + (size_t)(oh * p->OW * p->C);
            if (p->op == POOL_AVG) {
                sum_down(x + i * n_in, R, rows, s.row);
                mean_across(p, s.row, rows.hi - rows.lo, y + o);
            } else {
                max_down(x + i * n_in, R, rows, s.row, winners ? s.row_arg : NULL);
                if (p->C < POOL_LANES) {
                    max_across_narrow(p, s.row, s.row_arg, y + o, winners ? s.arg + o : NULL,
                                      s.out, s.out_arg);
                } else {
                    max_across(p, s.row, s.row_arg, y + o, winners ? s.arg + o : NULL);
                }
            }
        }
    }
}

/* Writes y; a training call of max pooling also keeps the winners. */
static void pool_forward(const void *state, const float *params, const float *x, float *y,
                         const struct dpt_batch *b)
{
    (void)params;
    const struct pool *p = state;
    struct scratch s = scratch_of(p, b->ws, b->B);
    int winners = p->op == POOL_MAX && b->training;
    if (p->op == POOL_MAX && (POOL_FAST(p) || p->narrow)) {
        max2x2_rows(p, x, y, winners ? s.arg : NULL, b->B);
    } else {
        pool_rows(p, x, y, s, winners, b->B);
    }
}

/* dx = 0, then dx[winner] += dy for each output, in output order: the
 * winners of the training forward on these rows. */
static void max_backward(const void *state, const float *params, const float *x,
                         const float *y, const float *dy, float *dx, float *dparams,
                         const struct dpt_batch *b)
{
    (void)params, (void)x, (void)y, (void)dparams;
    const struct pool *p = state;
    if (!dx) {
        return;
    }
    const int32_t *arg = scratch_of(p, b->ws, b->B).arg;
    if (POOL_FAST(p) || p->narrow) {
        max2x2_backward_rows(p, dy, arg, dx, b->B);
        return;
    }
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

/* The two passes of the forward, reversed, for one output row: row[w, c]
 * = the sum of dy[ow, c] / (window ow's real cells) over the windows ow
 * whose columns hold w; then every row of the windows gets row added. */
static inline void avg_row_backward(const struct pool *p, const float *restrict dyr,
                                    struct span rows, float *restrict row,
                                    float *restrict dxi)
{
    const int32_t C = (int32_t)p->C, R = (int32_t)(p->W * p->C);
    for (int32_t j = 0; j < R; j++) {
        row[j] = 0.0f;
    }
    for (int64_t ow = 0; ow < p->OW; ow++) {
        struct span cols = span_at(p, ow, p->left, p->W);
        const float *restrict g = dyr + ow * C;
        float n = (float)((rows.hi - rows.lo) * (cols.hi - cols.lo));
        for (int64_t w = cols.lo; w < cols.hi; w++) {
            float *restrict rw = row + w * C;
            for (int32_t c = 0; c < C; c++) {
                rw[c] += g[c] / n;
            }
        }
    }
    for (int64_t h = rows.lo; h < rows.hi; h++) {
        float *restrict dxh = dxi + h * R;
        for (int32_t j = 0; j < R; j++) {
            dxh[j] += row[j];
        }
    }
}

/* dx = 0, then each output's dy / (its window's real cells) is added to
 * every cell of its window. */
DPT_VECTORIZE
static void avg_backward_rows(const struct pool *p, const float *dy, float *dx, float *row,
                              size_t B)
{
    size_t n_in = (size_t)(p->H * p->W * p->C), n_out = (size_t)(p->OH * p->OW * p->C);
    for (size_t i = 0; i < B; i++) {
        float *dxi = dx + i * n_in;
        memset(dxi, 0, n_in * sizeof *dxi);
        for (int64_t oh = 0; oh < p->OH; oh++) {
            struct span rows = span_at(p, oh, p->top, p->H);
            const float *dyr = dy + i * n_out + (size_t)(oh * p->OW * p->C);
            avg_row_backward(p, dyr, rows, row, dxi);
        }
    }
}

static void avg_backward(const void *state, const float *params, const float *x,
                         const float *y, const float *dy, float *dx, float *dparams,
                         const struct dpt_batch *b)
{
    (void)params, (void)x, (void)y, (void)dparams;
    const struct pool *p = state;
    if (dx) {
        avg_backward_rows(p, dy, dx, scratch_of(p, b->ws, b->B).row, b->B);
    }
}

static const struct dpt_layer_plugin max_pool2d = {
    .base = DPT_PLUGIN_HEADER_CAPS(DPT_KIND_LAYER, "max_pool2d", "1.0.0",
                                   "max over pool_size x pool_size windows of [H, W, C] "
                                   "(Keras MaxPooling2D)",
                                   DPT_CAP_DETERMINISTIC | DPT_CAP_WRITES_DX),
    .create = max_create,
    .destroy = pool_destroy,
    .workspace_bytes = pool_workspace_bytes,
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
    .workspace_bytes = pool_workspace_bytes,
    .forward = pool_forward,
    .backward = avg_backward,
};

static const struct dpt_plugin *const all[] = {&max_pool2d.base, &avg_pool2d.base, NULL};

DPT_PLUGIN_EXPORT const struct dpt_plugin *const *dpt_plugins(void)
{
    return all;
}
