/* The Winograd method of conv_common.h for 3 x 3 and 5 x 5 kernels,
 * stride 1 and dilation 1 ("valid" or "same" padding): Lavin and Gray,
 * "Fast Algorithms for Convolutional Neural Networks" (CVPR 2016), F(m x
 * m, r x r) with m output rows and columns per tile: F(WINO_M x WINO_M,
 * 3 x 3) and F(2 x 2, 5 x 5), both on tiles of N = m + r - 1 = 6 inputs
 * a side (the geometry's m and r, struct conv_wino).
 *
 * The output is cut into tiles of m x m positions; tile (ti, tj) of sample
 * b reads the N x N inputs from row ti * m - pad_top and column tj * m -
 * pad_left, zeros outside the image. For every channel c and filter f,
 * with the kernel g = kernel[:, :, c, f]:
 *
 *     U = G g G^T,  V = B^T d B  (per tile and channel),
 *     M[xi] = V[xi] (tiles x C) U[xi] (C x F)  for each of the N * N
 *             transformed positions xi: N * N matrix products,
 *     Y = A^T M A + bias  (per tile and filter), m x m outputs.
 *
 * The products do all the multiplies: N^2 / m^2 per output, channel and
 * filter instead of r^2 (36 / 16 = 2.25 instead of 9 for F(4 x 4, 3 x 3),
 * 36 / 4 = 9 instead of 25 for F(2 x 2, 5 x 5)). The same algebra read
 * backwards gives the gradients, Y being linear in U and V:
 *
 *     dM = A dY A^T,  dU[xi] += V[xi]^T dM[xi],  dkernel += G^T dU G,
 *     dV[xi] = dM[xi] U[xi]^T,  dx += B dV B^T  (tiles overlap by r - 1).
 *
 * The batch goes through in blocks of tiles (block: tiles of several
 * samples, or part of one), sized so that V and M of a block stay in the
 * L2 cache between the transforms and the products. The transforms work
 * on vectors of WINO_LANES channels or filters (channels last: contiguous
 * in x, y and the kernel); C and F need not be multiples of it: V, U and M
 * keep rows of Cp and Fp (rounded up) floats, whose extra lanes are zero
 * or never read. The products are cblas_sgemm, or register-blocked ones
 * for few channels (wino_mm).
 *
 * Accuracy (float32): the transforms multiply by up to 16 and divide by
 * up to 24, so the rounding error is larger than im2col's; the figures
 * and the choice of m are at WINO_M.
 *
 * Left out: other kernels, strides and dilations (conv_create refuses the
 * forced method for them), conv1d. */
#ifndef DPT_PLUGINS_CONV_WINOGRAD_H
#define DPT_PLUGINS_CONV_WINOGRAD_H

#include <dptrain/plugin.h>

#include <cblas.h>
#include <stddef.h>
#include <string.h>

/* The outputs per tile side: 4 (F(4 x 4, 3 x 3), 36 products for 16
 * outputs) or 2 (F(2 x 2, 3 x 3), 16 for 4). The worst difference from
 * im2col on the same inputs, relative to the largest value of each
 * result, x and dy in [-1, 1] and Glorot kernels (tests/test_conv.c,
 * "winograd against im2col", vggsmall's three shapes and small ones):
 * m = 4: y 2e-7 .. 4.2e-6, dx 2e-7 .. 3.3e-6, dparams 4e-8 .. 2.8e-6;
 * m = 2: y, dx and dparams 4e-8 .. 5.2e-7, about im2col's own rounding.
 * F(2 x 2, 5 x 5) (5 x 5 kernels, the same cases and LeNet's second
 * layer): y 1.4e-7 .. 2.4e-6, dx 7.8e-7 .. 3.2e-6, dparams 2.3e-7 ..
 * 1.4e-5 (the largest for one channel, 28 x 28: each kernel gradient sums
 * 196 tiles of transformed values up to 16 times the inputs).
 * All are far below what training notices. m = 4 is the faster by far
 * (scripts/conv-rate.c, B = 64, rate over sgemm's, m = 4 / m = 2): vgg2
 * 1.84 / 1.32, vgg3 1.93 / 1.30, vgg4 2.39 / 1.53: its products are
 * 44% fewer and its V a smaller multiple of the input (2.25 against 4).
 * -DWINO_M=2 builds the other for such measurements (its tiles are 4 x 4:
 * 5 x 5 kernels are then refused). */
#ifndef WINO_M
#define WINO_M 4
#endif
#define WINO_N (WINO_M + 2)
#define WINO_NN (WINO_N * WINO_N)
#define WINO_LANES 8

/* The V and M of a block of tiles, at most this many floats (512 KB, half
 * the L2 of a core of the EPYC measured on). 64K and 256K floats measured
 * the same within the noise of the shared machine (+-10%) on vgg2-4. */
#ifndef WINO_BLOCK_FLOATS
#define WINO_BLOCK_FLOATS ((size_t)131072)
#endif

/* The transforms' vectors. They are compiled for AVX2 with FMA where the
 * CPU has it and for baseline x86-64 otherwise; the results may differ in
 * the last bits between the two, as OpenBLAS's do. */
typedef float wino_v8 __attribute__((vector_size(WINO_LANES * sizeof(float))));
/* The same, at any float's address: loads and stores through it keep the
 * vectors they move in registers (a __builtin_memcpy from a local vector
 * may make GCC keep it in memory). */
typedef float wino_v8u
    __attribute__((vector_size(WINO_LANES * sizeof(float)), aligned(4), may_alias));
typedef int wino_i8 __attribute__((vector_size(WINO_LANES * sizeof(int))));
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && __GNUC__ >= 11 && \
    !defined(DPT_NO_CLONES)
#define WINO_CLONES __attribute__((target_clones("arch=x86-64-v3", "default")))
#else
#define WINO_CLONES DPT_VECTORIZE
#endif

/* What the Winograd method needs of a convolution: the sizes, the tile
 * grid, the block and the workspace layout (offsets in floats). */
struct conv_wino {
    size_t H, W, C, F, Ho, Wo, pad_t, pad_l;
    size_t m, r;          /* the outputs per tile side and the kernel side: F(m x m, r x r) */
    size_t th, tw, tiles; /* tile rows and columns of a sample, tiles of a sample */
    size_t Cp, Fp;        /* C and F rounded up to whole vectors */
    size_t block;         /* the most tiles of a block */
    size_t ws_u, ws_du, ws_ut, ws_v, ws_m, ws_dxp;
};

/* Whether the method computes this convolution: a 3 x 3 kernel, or a
 * 5 x 5 one where the tiles are 6 x 6 (F(2 x 2, 5 x 5) shares them), on
 * both axes, stride 1, dilation 1. */
static int wino_valid(size_t kh, size_t kw, size_t sh, size_t sw, size_t dh, size_t dw)
{
    int r_ok = (kh == 3 && kw == 3) || (WINO_N == 6 && kh == 5 && kw == 5);
    return r_ok && sh == 1 && sw == 1 && dh == 1 && dw == 1;
}

/* The outputs per tile side for an r x r kernel: WINO_M for 3 x 3, 2 for
 * 5 x 5 (N = m + r - 1 = 6 either way). */
static size_t wino_m_of(size_t r)
{
    return r == 5 ? 2 : WINO_M;
}

/* Fills *w for an input [H, W, C], an r x r kernel (wino_valid), F
 * filters, the output [Ho, Wo] and the padding before the first row and
 * column. */
static void wino_init(struct conv_wino *w, size_t H, size_t W, size_t C, size_t F, size_t r,
                      size_t Ho, size_t Wo, size_t pad_t, size_t pad_l)
{
    *w = (struct conv_wino){.H = H, .W = W, .C = C, .F = F, .Ho = Ho, .Wo = Wo,
                            .pad_t = pad_t, .pad_l = pad_l, .r = r, .m = wino_m_of(r)};
    w->th = (Ho + w->m - 1) / w->m;
    w->tw = (Wo + w->m - 1) / w->m;
    w->tiles = w->th * w->tw;
    w->Cp = (C + WINO_LANES - 1) / WINO_LANES * WINO_LANES;
    w->Fp = (F + WINO_LANES - 1) / WINO_LANES * WINO_LANES;
    w->block = WINO_BLOCK_FLOATS / (WINO_NN * (w->Cp + w->Fp));
    w->block = w->block > 0 ? w->block : 1;
}

/* The tiles of a block for a batch of B: the whole batch when it fits. */
static size_t wino_block(const struct conv_wino *w, size_t B)
{
    size_t n = B * w->tiles;
    return n < w->block ? n : w->block;
}

/* Whether the products of w are wino_mm and wino_mm_tn rather than
 * cblas_sgemm: up to 32 channels. scripts/conv-rate.c, B = 16, rate over
 * sgemm's, three alternating runs (cblas_sgemm for C > 16 / wino_mm for
 * C <= 32): vgg2 (C 32, F 32) 2.26, 2.06, 2.25 / 3.01, 3.01, 3.06; vgg3
 * (C 32, F 64) 2.01, 1.73, 1.89 / 2.55, 2.47, 2.65; but vgg4 (C 64, F 64)
 * 2.27, 2.30, 2.42 / 2.44, 2.29, 2.29, no better: it stays on sgemm. With
 * 16 channels (16 x 16, F 32, 3 x 3) 1.45, 1.39, 1.60 / 1.96, 2.11, 2.12. */
static int wino_uses_mm(const struct conv_wino *w)
{
    return w->C <= 4 * WINO_LANES;
}

/* Whether wino_backward accumulates dx in a copy whose pixels are Cp
 * floats apart, then copies it out: where C is not a whole number of
 * vectors and the products are wino_mm's. Adding C = 6 floats per pixel
 * one by one, or whole vectors that overlap the next pixel's (store
 * forwarding fails on them), took as long as all the products together
 * on lenet2. */
static int wino_pads_dx(const struct conv_wino *w)
{
    return w->C != w->Cp && wino_uses_mm(w);
}

/* The workspace for B samples: U and dU (N * N rows of C x Fp each), U^T
 * where wino_uses_mm (N * N x F x Cp), V (N * N x block x Cp), M (N * N x
 * block x Fp), then the padded dx where wino_pads_dx (B x H x W x Cp).
 * Sets the offsets, which depend on B only through the block (the same
 * for every B once the batch is a block or more), and returns the floats. */
static size_t wino_layout(struct conv_wino *w, size_t B)
{
    size_t nT = wino_block(w, B);
    w->ws_u = 0;
    w->ws_du = w->ws_u + WINO_NN * w->C * w->Fp;
    w->ws_ut = w->ws_du + WINO_NN * w->C * w->Fp;
    w->ws_v = w->ws_ut + (wino_uses_mm(w) ? WINO_NN * w->F * w->Cp : 0);
    w->ws_m = w->ws_v + WINO_NN * nT * w->Cp;
    w->ws_dxp = w->ws_m + WINO_NN * nT * w->Fp;
    return w->ws_dxp + (wino_pads_dx(w) ? B * w->H * w->W * w->Cp : 0);
}

/* Loads n <= WINO_LANES floats into *v, zeros in the other lanes. (The
 * vectors go by pointer: passed or returned by value they would change
 * the calling convention between the clones.) */
static inline __attribute__((always_inline)) void wino_load(wino_v8 *v, const float *p, size_t n)
{
    *v = (wino_v8){0};
    if (n == WINO_LANES) {
        *v = *(const wino_v8u *)p;
    } else {
        for (size_t k = 0; k < n; k++) {
            (*v)[k] = p[k];
        }
    }
}

/* Adds the first n lanes of *v into p. */
static inline __attribute__((always_inline)) void wino_add(float *p, const wino_v8 *v,
                                                           size_t n)
{
    if (n == WINO_LANES) {
        wino_v8 d;
        d = *(const wino_v8u *)(p);
        d += *v;
        *(wino_v8u *)(p) = d;
    } else {
        for (size_t k = 0; k < n; k++) {
            p[k] += (*v)[k];
        }
    }
}

/* Stores the first n lanes of *v at p. */
static inline __attribute__((always_inline)) void wino_store(float *p, const wino_v8 *v,
                                                             size_t n)
{
    if (n == WINO_LANES) {
        *(wino_v8u *)p = *v;
    } else {
        for (size_t k = 0; k < n; k++) {
            p[k] = (*v)[k];
        }
    }
}

/* The one-dimensional transforms, on vectors s apart (in) and t apart
 * (out): bt is B^T (N inputs to N), b its transpose B (the adjoint, for
 * dx); g is G (3 to N), gt its transpose (N to 3); at is A^T (N to m), a
 * its transpose (m to N). The two-dimensional ones apply them to the
 * columns, then the rows. Matrices of Lavin and Gray, written out so that
 * no multiply by 0 or 1 is left (GCC keeps x * 0 without -ffast-math). */
#if WINO_M == 4
static inline __attribute__((always_inline)) void wino_bt(const wino_v8 *d, size_t s,
                                                          wino_v8 *o, size_t t)
{
    wino_v8 d0 = d[0], d1 = d[s], d2 = d[2 * s], d3 = d[3 * s], d4 = d[4 * s], d5 = d[5 * s];
    wino_v8 p = d4 - 4 * d2, q = d3 - 4 * d1, r = d4 - d2, u = 2 * (d3 - d1);
    o[0] = 4 * d0 - 5 * d2 + d4;
    o[t] = p + q;
    o[2 * t] = p - q;
    o[3 * t] = r + u;
    o[4 * t] = r - u;
    o[5 * t] = 4 * d1 - 5 * d3 + d5;
}

static inline __attribute__((always_inline)) void wino_b(const wino_v8 *v, size_t s,
                                                         wino_v8 *o, size_t t)
{
    wino_v8 v0 = v[0], v1 = v[s], v2 = v[2 * s], v3 = v[3 * s], v4 = v[4 * s], v5 = v[5 * s];
    o[0] = 4 * v0;
    o[t] = 4 * (v2 - v1 + v5) + 2 * (v4 - v3);
    o[2 * t] = -5 * v0 - 4 * (v1 + v2) - v3 - v4;
    o[3 * t] = v1 - v2 + 2 * (v3 - v4) - 5 * v5;
    o[4 * t] = v0 + v1 + v2 + v3 + v4;
    o[5 * t] = v5;
}

static inline __attribute__((always_inline)) void wino_g(const wino_v8 *g, size_t s,
                                                         wino_v8 *o, size_t t)
{
    wino_v8 g0 = g[0], g1 = g[s], g2 = g[2 * s];
    wino_v8 e = g0 + g2, h = g0 / 24 + g2 / 6;
    o[0] = g0 / 4;
    o[t] = -(e + g1) / 6;
    o[2 * t] = -(e - g1) / 6;
    o[3 * t] = h + g1 / 12;
    o[4 * t] = h - g1 / 12;
    o[5 * t] = g2;
}

static inline __attribute__((always_inline)) void wino_gt(const wino_v8 *u, size_t s,
                                                          wino_v8 *o, size_t t)
{
    wino_v8 u0 = u[0], u1 = u[s], u2 = u[2 * s], u3 = u[3 * s], u4 = u[4 * s], u5 = u[5 * s];
    wino_v8 p = u1 + u2, q = u3 + u4;
    o[0] = u0 / 4 - p / 6 + q / 24;
    o[t] = (u2 - u1) / 6 + (u3 - u4) / 12;
    o[2 * t] = (q - p) / 6 + u5;
}

static inline __attribute__((always_inline)) void wino_at(const wino_v8 *m, size_t s,
                                                          wino_v8 *o, size_t t)
{
    wino_v8 m0 = m[0], m1 = m[s], m2 = m[2 * s], m3 = m[3 * s], m4 = m[4 * s], m5 = m[5 * s];
    wino_v8 p = m1 + m2, q = m1 - m2, r = m3 + m4, u = m3 - m4;
    o[0] = m0 + p + r;
    o[t] = q + 2 * u;
    o[2 * t] = p + 4 * r;
    o[3 * t] = q + 8 * u + m5;
}

static inline __attribute__((always_inline)) void wino_a(const wino_v8 *y, size_t s,
                                                         wino_v8 *o, size_t t)
{
    wino_v8 y0 = y[0], y1 = y[s], y2 = y[2 * s], y3 = y[3 * s];
    wino_v8 p = y0 + y2, q = y1 + y3, r = y0 + 4 * y2, u = 2 * y1 + 8 * y3;
    o[0] = y0;
    o[t] = p + q;
    o[2 * t] = p - q;
    o[3 * t] = r + u;
    o[4 * t] = r - u;
    o[5 * t] = y3;
}
#elif WINO_M == 2
static inline __attribute__((always_inline)) void wino_bt(const wino_v8 *d, size_t s,
                                                          wino_v8 *o, size_t t)
{
    wino_v8 d0 = d[0], d1 = d[s], d2 = d[2 * s], d3 = d[3 * s];
    o[0] = d0 - d2;
    o[t] = d1 + d2;
    o[2 * t] = d2 - d1;
    o[3 * t] = d1 - d3;
}

static inline __attribute__((always_inline)) void wino_b(const wino_v8 *v, size_t s,
                                                         wino_v8 *o, size_t t)
{
    wino_v8 v0 = v[0], v1 = v[s], v2 = v[2 * s], v3 = v[3 * s];
    o[0] = v0;
    o[t] = v1 - v2 + v3;
    o[2 * t] = v1 + v2 - v0;
    o[3 * t] = -v3;
}

static inline __attribute__((always_inline)) void wino_g(const wino_v8 *g, size_t s,
                                                         wino_v8 *o, size_t t)
{
    wino_v8 g0 = g[0], g1 = g[s], g2 = g[2 * s];
    o[0] = g0;
    o[t] = (g0 + g1 + g2) / 2;
    o[2 * t] = (g0 - g1 + g2) / 2;
    o[3 * t] = g2;
}

static inline __attribute__((always_inline)) void wino_gt(const wino_v8 *u, size_t s,
                                                          wino_v8 *o, size_t t)
{
    wino_v8 u0 = u[0], u1 = u[s], u2 = u[2 * s], u3 = u[3 * s];
    o[0] = u0 + (u1 + u2) / 2;
    o[t] = (u1 - u2) / 2;
    o[2 * t] = (u1 + u2) / 2 + u3;
}

static inline __attribute__((always_inline)) void wino_at(const wino_v8 *m, size_t s,
                                                          wino_v8 *o, size_t t)
{
    o[0] = m[0] + m[s] + m[2 * s];
    o[t] = m[s] - m[2 * s] - m[3 * s];
}

static inline __attribute__((always_inline)) void wino_a(const wino_v8 *y, size_t s,
                                                         wino_v8 *o, size_t t)
{
    o[0] = y[0];
    o[t] = y[0] + y[s];
    o[2 * t] = y[0] - y[s];
    o[3 * t] = -y[s];
}
#else
#error "WINO_M must be 2 or 4"
#endif

/* F(2 x 2, 5 x 5) on the same 6 x 6 tiles, for 5 x 5 kernels. Toom-Cook
 * on the points 0, 1, -1, 2, -2 and infinity, as F(4 x 4, 3 x 3) above:
 * A^T is the 2 x 6 Vandermonde matrix of the points (row k: p^k, the
 * point at infinity contributing to the last row only), G the 6 x 5 one
 * with each row scaled by 1 / prod_{q != p} (p - q) (1/4, -1/6, -1/6,
 * 1/24, 1/24, 1, the scales of F(4 x 4, 3 x 3)'s G), and B^T, which
 * depends on the points and their scales only, is F(4 x 4, 3 x 3)'s:
 * wino_bt and wino_b serve both. The matrices, rows top to bottom:
 *
 *     A^T = [1 1  1 1  1 0;  0 1 -1 2 -2 1]
 *     G   = [1/4 0 0 0 0;  -1/6 -1/6 -1/6 -1/6 -1/6;  -1/6 1/6 -1/6 1/6 -1/6;
 *            1/24 1/12 1/6 1/3 2/3;  1/24 -1/12 1/6 -1/3 2/3;  0 0 0 0 1]
 *
 * tests/test_conv.c checks them against a direct correlation in 1-D (6
 * inputs, 5 taps, 2 outputs), then through the layer in 2-D. */
static inline __attribute__((always_inline)) void wino_g5(const wino_v8 *g, size_t s,
                                                          wino_v8 *o, size_t t)
{
    wino_v8 g0 = g[0], g1 = g[s], g2 = g[2 * s], g3 = g[3 * s], g4 = g[4 * s];
    wino_v8 e = g0 + g2 + g4, od = g1 + g3;
    wino_v8 h = g0 / 24 + g2 / 6 + g4 * (2.0f / 3), k = g1 / 12 + g3 / 3;
    o[0] = g0 / 4;
    o[t] = -(e + od) / 6;
    o[2 * t] = -(e - od) / 6;
    o[3 * t] = h + k;
    o[4 * t] = h - k;
    o[5 * t] = g4;
}

static inline __attribute__((always_inline)) void wino_gt5(const wino_v8 *u, size_t s,
                                                           wino_v8 *o, size_t t)
{
    wino_v8 u0 = u[0], u1 = u[s], u2 = u[2 * s], u3 = u[3 * s], u4 = u[4 * s], u5 = u[5 * s];
    wino_v8 p = u1 + u2, q = u3 + u4, dp = (u2 - u1) / 6, dq = u3 - u4;
    o[0] = u0 / 4 - p / 6 + q / 24;
    o[t] = dp + dq / 12;
    o[2 * t] = (q - p) / 6;
    o[3 * t] = dp + dq / 3;
    o[4 * t] = q * (2.0f / 3) - p / 6 + u5;
}

static inline __attribute__((always_inline)) void wino_at5(const wino_v8 *m, size_t s,
                                                           wino_v8 *o, size_t t)
{
    wino_v8 m0 = m[0], m1 = m[s], m2 = m[2 * s], m3 = m[3 * s], m4 = m[4 * s], m5 = m[5 * s];
    o[0] = m0 + (m1 + m2) + (m3 + m4);
    o[t] = (m1 - m2) + 2 * (m3 - m4) + m5;
}

static inline __attribute__((always_inline)) void wino_a5(const wino_v8 *y, size_t s,
                                                          wino_v8 *o, size_t t)
{
    wino_v8 y0 = y[0], y1 = y[s];
    o[0] = y0;
    o[t] = y0 + y1;
    o[2 * t] = y0 - y1;
    o[3 * t] = y0 + 2 * y1;
    o[4 * t] = y0 - 2 * y1;
    o[5 * t] = y1;
}

/* The kernel-side and output-side transforms of F(m x m, R x R), R a
 * constant where these are inlined, so each variant compiles to its own
 * straight-line code. */
#define WINO_G(R, ...) ((R) == 5 ? wino_g5(__VA_ARGS__) : wino_g(__VA_ARGS__))
#define WINO_GT(R, ...) ((R) == 5 ? wino_gt5(__VA_ARGS__) : wino_gt(__VA_ARGS__))
#define WINO_AT(R, ...) ((R) == 5 ? wino_at5(__VA_ARGS__) : wino_at(__VA_ARGS__))
#define WINO_A(R, ...) ((R) == 5 ? wino_a5(__VA_ARGS__) : wino_a(__VA_ARGS__))
#define WINO_MOF(R) ((R) == 5 ? (size_t)2 : (size_t)WINO_M)

/* Calls body(R, args) with R = w->r as a constant: 5 where the tiles
 * allow it, 3 otherwise. */
#if WINO_N == 6
#define WINO_DISPATCH(w, body, ...)                                                           \
    do {                                                                                      \
        if ((w)->r == 5) {                                                                    \
            body(5, __VA_ARGS__);                                                             \
        } else {                                                                              \
            body(3, __VA_ARGS__);                                                             \
        }                                                                                     \
    } while (0)
#else
#define WINO_DISPATCH(w, body, ...) body(3, __VA_ARGS__)
#endif

/* The first input row and column of tile t of a block (numbered over the
 * whole batch from 0), and its sample. Signed: the first tiles of a
 * padded input start before it. */
struct wino_tile {
    size_t b;
    ptrdiff_t h0, w0;   /* the input under the tile's first position */
    size_t oh0, ow0;    /* its first output */
};

static inline __attribute__((always_inline)) struct wino_tile wino_tile_of(
    const struct conv_wino *w, size_t t)
{
    size_t r = t % w->tiles, oh0 = r / w->tw * w->m, ow0 = r % w->tw * w->m;
    return (struct wino_tile){t / w->tiles, (ptrdiff_t)oh0 - (ptrdiff_t)w->pad_t,
                              (ptrdiff_t)ow0 - (ptrdiff_t)w->pad_l, oh0, ow0};
}

/* U[xi] (C rows of Fp) = G g G^T for every channel and filter, g the R x R
 * taps of kernel[:, :, c, f] in params ([R, R, C, F]). Lanes past F are 0. */
static inline __attribute__((always_inline)) void wino_kernel_transform_r(
    const size_t R, const struct conv_wino *w, const float *params, float *u)
{
    const size_t C = w->C, F = w->F, Fp = w->Fp;
    for (size_t c = 0; c < C; c++) {
        for (size_t f = 0; f < F; f += WINO_LANES) {
            size_t nf = F - f < WINO_LANES ? F - f : WINO_LANES;
            wino_v8 g[25], tmp[WINO_N * 5], o[WINO_NN];
            for (size_t k = 0; k < R * R; k++) {
                wino_load(&g[k], params + (k * C + c) * F + f, nf);
            }
            for (size_t j = 0; j < R; j++) {
                WINO_G(R, g + j, R, tmp + j, R);
            }
            for (size_t i = 0; i < WINO_N; i++) {
                WINO_G(R, tmp + i * R, 1, o + i * WINO_N, 1);
            }
            for (size_t xi = 0; xi < WINO_NN; xi++) {
                *(wino_v8u *)(u + (xi * C + c) * Fp + f) = o[xi];
            }
        }
    }
}

WINO_CLONES
static void wino_kernel_transform(const struct conv_wino *w, const float *params, float *u)
{
    WINO_DISPATCH(w, wino_kernel_transform_r, w, params, u);
}

/* dparams[kernel] += G^T dU G for every channel and filter. */
static inline __attribute__((always_inline)) void wino_kernel_gradient_r(
    const size_t R, const struct conv_wino *w, const float *du, float *dparams)
{
    const size_t C = w->C, F = w->F, Fp = w->Fp;
    for (size_t c = 0; c < C; c++) {
        for (size_t f = 0; f < F; f += WINO_LANES) {
            size_t nf = F - f < WINO_LANES ? F - f : WINO_LANES;
            wino_v8 d[WINO_NN], tmp[5 * WINO_N], o[25];
            for (size_t xi = 0; xi < WINO_NN; xi++) {
                d[xi] = *(const wino_v8u *)(du + (xi * C + c) * Fp + f);
            }
            for (size_t j = 0; j < WINO_N; j++) {
                WINO_GT(R, d + j, WINO_N, tmp + j, WINO_N);
            }
            for (size_t i = 0; i < R; i++) {
                WINO_GT(R, tmp + i * WINO_N, 1, o + i * R, 1);
            }
            for (size_t k = 0; k < R * R; k++) {
                wino_add(dparams + (k * C + c) * F + f, &o[k], nf);
            }
        }
    }
}

WINO_CLONES
static void wino_kernel_gradient(const struct conv_wino *w, const float *du, float *dparams)
{
    WINO_DISPATCH(w, wino_kernel_gradient_r, w, du, dparams);
}

/* The input tiles of a block: V[xi][t][c] = (B^T d B)[xi] for tiles
 * [t0, t0 + n) of the batch x, into v (rows of Cp, the block's tiles nT
 * apart per xi). The lanes past C hold the transform of whatever follows
 * in x (the next pixel's first channels, 0 past the sample's end): the
 * products read C columns of V only. Loading whole vectors there rather
 * than nc floats one by one made this transform 2x faster with C = 6. */
WINO_CLONES
static void wino_input_transform(const struct conv_wino *w, const float *x, size_t t0, size_t n,
                                 size_t nT, float *v)
{
    const size_t C = w->C, Cp = w->Cp, n_x = w->H * w->W * C;
    for (size_t q = 0; q < n; q++) {
        struct wino_tile tl = wino_tile_of(w, t0 + q);
        const float *xs = x + tl.b * n_x;
        int inside[WINO_NN];
        for (size_t i = 0; i < WINO_N; i++) {
            for (size_t j = 0; j < WINO_N; j++) {
                ptrdiff_t h = tl.h0 + (ptrdiff_t)i, ww = tl.w0 + (ptrdiff_t)j;
                inside[i * WINO_N + j] = h >= 0 && h < (ptrdiff_t)w->H && ww >= 0 &&
                                         ww < (ptrdiff_t)w->W;
            }
        }
        for (size_t c = 0; c < C; c += WINO_LANES) {
            size_t nc = C - c < WINO_LANES ? C - c : WINO_LANES;
            wino_v8 d[WINO_NN], tmp[WINO_NN], o[WINO_NN];
            for (size_t i = 0; i < WINO_N; i++) {
                for (size_t j = 0; j < WINO_N; j++) {
                    size_t k = i * WINO_N + j;
                    size_t at = ((size_t)(tl.h0 + (ptrdiff_t)i) * w->W +
                                 (size_t)(tl.w0 + (ptrdiff_t)j)) * C + c;
                    d[k] = (wino_v8){0};
                    if (inside[k] && at + WINO_LANES <= n_x) {
                        d[k] = *(const wino_v8u *)(xs + at); /* lanes past C: the next pixel */
                    } else if (inside[k]) {
                        wino_load(&d[k], xs + at, nc);
                    }
                }
            }
            for (size_t j = 0; j < WINO_N; j++) {
                wino_bt(d + j, WINO_N, tmp + j, WINO_N);
            }
            for (size_t i = 0; i < WINO_N; i++) {
                wino_bt(tmp + i * WINO_N, 1, o + i * WINO_N, 1);
            }
            for (size_t xi = 0; xi < WINO_NN; xi++) {
                *(wino_v8u *)(v + (xi * nT + q) * Cp + c) = o[xi];
            }
        }
    }
}

/* y of tiles [t0, t0 + n) = A^T M A + bias (NULL: none), the outputs
 * inside [Ho, Wo] only. */
static inline __attribute__((always_inline)) void wino_output_transform_r(
    const size_t R, const struct conv_wino *w, const float *m, const float *bias, size_t t0,
    size_t n, size_t nT, float *y)
{
    const size_t F = w->F, Fp = w->Fp, M = WINO_MOF(R);
    for (size_t q = 0; q < n; q++) {
        struct wino_tile tl = wino_tile_of(w, t0 + q);
        float *ys = y + tl.b * w->Ho * w->Wo * F;
        size_t rows = w->Ho - tl.oh0 < M ? w->Ho - tl.oh0 : M;
        size_t cols = w->Wo - tl.ow0 < M ? w->Wo - tl.ow0 : M;
        for (size_t f = 0; f < F; f += WINO_LANES) {
            size_t nf = F - f < WINO_LANES ? F - f : WINO_LANES;
            wino_v8 d[WINO_NN], tmp[WINO_M * WINO_N], o[WINO_M * WINO_M];
            for (size_t xi = 0; xi < WINO_NN; xi++) {
                d[xi] = *(const wino_v8u *)(m + (xi * nT + q) * Fp + f);
            }
            for (size_t j = 0; j < WINO_N; j++) {
                WINO_AT(R, d + j, WINO_N, tmp + j, WINO_N);
            }
            for (size_t i = 0; i < M; i++) {
                WINO_AT(R, tmp + i * WINO_N, 1, o + i * M, 1);
            }
            wino_v8 bv = {0};
            if (bias) {
                wino_load(&bv, bias + f, nf);
            }
            for (size_t i = 0; i < rows; i++) {
                for (size_t j = 0; j < cols; j++) {
                    wino_v8 yv = o[i * M + j] + bv;
                    wino_store(ys + ((tl.oh0 + i) * w->Wo + tl.ow0 + j) * F + f, &yv, nf);
                }
            }
        }
    }
}

WINO_CLONES
static void wino_output_transform(const struct conv_wino *w, const float *m, const float *bias,
                                  size_t t0, size_t n, size_t nT, float *y)
{
    WINO_DISPATCH(w, wino_output_transform_r, w, m, bias, t0, n, nT, y);
}

/* dM[xi][t][f] = (A dY A^T)[xi] for tiles [t0, t0 + n) of dy, dY's
 * positions past [Ho, Wo] taken as 0, and those where mask <= 0 too
 * unless mask is NULL. Lanes past F are 0. */
static inline __attribute__((always_inline)) void wino_dy_transform_r(
    const size_t R, const struct conv_wino *w, const float *dy, const float *mask, size_t t0,
    size_t n, size_t nT, float *dm)
{
    const size_t F = w->F, Fp = w->Fp, M = WINO_MOF(R);
    for (size_t q = 0; q < n; q++) {
        struct wino_tile tl = wino_tile_of(w, t0 + q);
        const float *ds = dy + tl.b * w->Ho * w->Wo * F;
        const float *ms = mask ? mask + tl.b * w->Ho * w->Wo * F : NULL;
        size_t rows = w->Ho - tl.oh0 < M ? w->Ho - tl.oh0 : M;
        size_t cols = w->Wo - tl.ow0 < M ? w->Wo - tl.ow0 : M;
        for (size_t f = 0; f < F; f += WINO_LANES) {
            size_t nf = F - f < WINO_LANES ? F - f : WINO_LANES;
            wino_v8 d[WINO_M * WINO_M], tmp[WINO_N * WINO_M], o[WINO_NN];
            for (size_t i = 0; i < M; i++) {
                for (size_t j = 0; j < M; j++) {
                    d[i * M + j] = (wino_v8){0};
                    size_t at = ((tl.oh0 + i) * w->Wo + tl.ow0 + j) * F + f;
                    if (i < rows && j < cols) {
                        wino_load(&d[i * M + j], ds + at, nf);
                    }
                    if (i < rows && j < cols && ms) { /* a relu applied: 0 where y <= 0 */
                        wino_v8 y;
                        wino_load(&y, ms + at, nf);
                        d[i * M + j] = (wino_v8)((wino_i8)d[i * M + j] & (y > 0.0f));
                    }
                }
            }
            for (size_t j = 0; j < M; j++) {
                WINO_A(R, d + j, M, tmp + j, M);
            }
            for (size_t i = 0; i < WINO_N; i++) {
                WINO_A(R, tmp + i * M, 1, o + i * WINO_N, 1);
            }
            for (size_t xi = 0; xi < WINO_NN; xi++) {
                *(wino_v8u *)(dm + (xi * nT + q) * Fp + f) = o[xi];
            }
        }
    }
}

WINO_CLONES
static void wino_dy_transform(const struct conv_wino *w, const float *dy, const float *mask,
                              size_t t0, size_t n, size_t nT, float *dm)
{
    WINO_DISPATCH(w, wino_dy_transform_r, w, dy, mask, t0, n, nT, dm);
}

/* dx += B dV B^T of tiles [t0, t0 + n), at the inputs inside the image
 * (neighbouring tiles overlap by N - m rows and columns: all add); dx's
 * pixels are ldc floats apart: C, or Cp for the padded accumulator of
 * wino_backward, where whole vectors are added (the lanes past C are
 * never read). */
WINO_CLONES
static void wino_dx_transform(const struct conv_wino *w, const float *dv, size_t t0, size_t n,
                              size_t nT, float *dx, size_t ldc)
{
    const size_t C = w->C, Cp = w->Cp;
    for (size_t q = 0; q < n; q++) {
        struct wino_tile tl = wino_tile_of(w, t0 + q);
        float *xs = dx + tl.b * w->H * w->W * ldc;
        for (size_t c = 0; c < C; c += WINO_LANES) {
            size_t nc = ldc == Cp || C - c >= WINO_LANES ? WINO_LANES : C - c;
            wino_v8 d[WINO_NN], tmp[WINO_NN], o[WINO_NN];
            for (size_t xi = 0; xi < WINO_NN; xi++) {
                d[xi] = *(const wino_v8u *)(dv + (xi * nT + q) * Cp + c);
            }
            for (size_t j = 0; j < WINO_N; j++) {
                wino_b(d + j, WINO_N, tmp + j, WINO_N);
            }
            for (size_t i = 0; i < WINO_N; i++) {
                wino_b(tmp + i * WINO_N, 1, o + i * WINO_N, 1);
            }
            for (size_t i = 0; i < WINO_N; i++) {
                ptrdiff_t h = tl.h0 + (ptrdiff_t)i;
                if (h < 0 || h >= (ptrdiff_t)w->H) {
                    continue;
                }
                for (size_t j = 0; j < WINO_N; j++) {
                    ptrdiff_t ww = tl.w0 + (ptrdiff_t)j;
                    if (ww >= 0 && ww < (ptrdiff_t)w->W) {
                        wino_add(xs + ((size_t)h * w->W + (size_t)ww) * ldc + c,
                                 &o[i * WINO_N + j], nc);
                    }
                }
            }
        }
    }
}

/* The products of narrow layers. With few channels (LeNet's second layer:
 * C = 6, F = 16, 400 tiles per micro-shard of 16) each of the N * N
 * products is tiny (tiles x 6 by 6 x 16), and cblas_sgemm spends most of
 * its time packing and in its kernel's edges: F(2 x 2, 5 x 5) on lenet2
 * ran at 0.46 of sgemm's rate with it, a third of the direct method's
 * (scripts/conv-rate.c, B = 16). These two register-blocked products keep
 * up to WINO_MM_ROWS rows by two vectors of the result in registers (12
 * of the 16 vector registers of AVX2) and read their operands once per
 * block. wino_uses_mm says which layers take them. */
#define WINO_MM_ROWS 6

/* out[r][0, 8 VB) (=, or += with add) sum_k a(r, k) b[k][0, 8 VB) for RB
 * rows r, where a(r, k) = a[r * ar + k * ak] (RB, VB and the strides
 * constants after inlining: the accumulators stay in registers). */
static inline __attribute__((always_inline)) void
wino_mm_block(const size_t RB, const size_t VB, const float *a, size_t ar, size_t ak,
              const float *b, size_t ldb, size_t K, float *out, size_t ldo, int add)
{
    wino_v8 acc[WINO_MM_ROWS][2];
    for (size_t r = 0; r < RB; r++) {
        for (size_t v = 0; v < VB; v++) {
            acc[r][v] = (wino_v8){0};
        }
    }
    for (size_t k = 0; k < K; k++) {
        wino_v8 bv[2];
        for (size_t v = 0; v < VB; v++) {
            bv[v] = *(const wino_v8u *)(b + k * ldb + v * WINO_LANES);
        }
        for (size_t r = 0; r < RB; r++) {
            float s = a[r * ar + k * ak];
            wino_v8 av = {s, s, s, s, s, s, s, s};
            for (size_t v = 0; v < VB; v++) {
                acc[r][v] += av * bv[v];
            }
        }
    }
    for (size_t r = 0; r < RB; r++) {
        for (size_t v = 0; v < VB; v++) {
            wino_v8u *o = (wino_v8u *)(out + r * ldo + v * WINO_LANES);
            if (add) {
                *o += acc[r][v];
            } else {
                *o = acc[r][v];
            }
        }
    }
}

/* out (R x N, rows ldo apart) (=, or += with add) the product of a (R x
 * K, a(r, k) = a[r * ar + k * ak]) and b (K x N), N a multiple of
 * WINO_LANES, by blocks of WINO_MM_ROWS rows by two vectors. */
static inline __attribute__((always_inline)) void
wino_mm_rows(size_t R, size_t K, size_t N, const float *a, size_t ar, size_t ak, const float *b,
             size_t ldb, float *out, size_t ldo, int add)
{
    for (size_t f = 0; f < N; f += 2 * WINO_LANES) {
        const float *bf = b + f;
        float *of = out + f;
        int two = N - f >= 2 * WINO_LANES;
        size_t r = 0;
        for (; r + WINO_MM_ROWS <= R; r += WINO_MM_ROWS) {
            if (two) {
                wino_mm_block(WINO_MM_ROWS, 2, a + r * ar, ar, ak, bf, ldb, K, of + r * ldo, ldo,
                              add);
            } else {
                wino_mm_block(WINO_MM_ROWS, 1, a + r * ar, ar, ak, bf, ldb, K, of + r * ldo, ldo,
                              add);
            }
        }
        for (; r < R; r++) {
            if (two) {
                wino_mm_block(1, 2, a + r * ar, ar, ak, bf, ldb, K, of + r * ldo, ldo, add);
            } else {
                wino_mm_block(1, 1, a + r * ar, ar, ak, bf, ldb, K, of + r * ldo, ldo, add);
            }
        }
    }
}

/* out (n x N, rows ldo apart) = a (n x K) b (K x N), N a multiple of
 * WINO_LANES: the forward product (V U) and dx's (dM U^T, with U^T stored
 * as such: wino_kernel_transpose). */
WINO_CLONES
static void wino_mm(size_t n, size_t K, size_t N, const float *a, size_t lda, const float *b,
                    size_t ldb, float *out, size_t ldo)
{
    wino_mm_rows(n, K, N, a, lda, 1, b, ldb, out, ldo, 0);
}

/* out (K x N) += a^T b, a (n x K) and b (n x N), N a multiple of
 * WINO_LANES: the kernel gradient's product (V^T dM). */
WINO_CLONES
static void wino_mm_tn(size_t n, size_t K, size_t N, const float *a, size_t lda, const float *b,
                       size_t ldb, float *out, size_t ldo)
{
    wino_mm_rows(K, n, N, a, 1, lda, b, ldb, out, ldo, 1);
}

/* UT[xi] (F rows of Cp) = U[xi]^T, zeros past C: the right operand of dx's
 * product for wino_mm. */
static void wino_kernel_transpose(const struct conv_wino *w, const float *u, float *ut)
{
    const size_t C = w->C, F = w->F, Cp = w->Cp, Fp = w->Fp;
    memset(ut, 0, WINO_NN * F * Cp * sizeof *ut);
    for (size_t xi = 0; xi < WINO_NN; xi++) {
        for (size_t c = 0; c < C; c++) {
            for (size_t f = 0; f < F; f++) {
                ut[(xi * F + f) * Cp + c] = u[(xi * C + c) * Fp + f];
            }
        }
    }
}

/* y (B, Ho, Wo, F) from x (B, H, W, C) and params [kernel; bias] (bias
 * NULL without one), block by block; ws is the workspace of wino_layout. */
static void wino_forward(const struct conv_wino *wl, const float *params, const float *bias,
                         const float *x, float *y, size_t B, float *ws)
{
    struct conv_wino w = *wl;
    wino_layout(&w, B);
    size_t nT = wino_block(&w, B), T = B * w.tiles;
    float *u = ws + w.ws_u, *v = ws + w.ws_v, *m = ws + w.ws_m;
    const int C = (int)w.C, F = (int)w.F, Cp = (int)w.Cp, Fp = (int)w.Fp, mm = wino_uses_mm(&w);
    wino_kernel_transform(&w, params, u);
    if (w.F != w.Fp) { /* the lanes past F, never written by the products */
        memset(m, 0, WINO_NN * nT * w.Fp * sizeof *m);
    }
    for (size_t t0 = 0; t0 < T; t0 += nT) {
        size_t n = T - t0 < nT ? T - t0 : nT;
        wino_input_transform(&w, x, t0, n, nT, v);
        for (size_t xi = 0; xi < WINO_NN; xi++) {
            float *vx = v + xi * nT * w.Cp, *ux = u + xi * w.C * w.Fp, *mx = m + xi * nT * w.Fp;
            if (mm) {
                wino_mm(n, w.C, w.Fp, vx, w.Cp, ux, w.Fp, mx, w.Fp);
            } else {
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)n, F, C, 1.0f, vx,
                            Cp, ux, Fp, 0.0f, mx, Fp);
            }
        }
        wino_output_transform(&w, m, bias, t0, n, nT, y);
    }
}

/* dparams[kernel] += the kernel's gradient; dx (unless NULL) = the
 * input's gradient, written whole. With mask (a relu applied: its output),
 * dy counts as 0 where mask <= 0. The bias's gradient is the caller's. */
static void wino_backward(const struct conv_wino *wl, const float *params, const float *x,
                          const float *mask, const float *dy, float *dx, float *dparams,
                          size_t B, float *ws)
{
    struct conv_wino w = *wl;
    wino_layout(&w, B);
    size_t nT = wino_block(&w, B), T = B * w.tiles;
    float *u = ws + w.ws_u, *du = ws + w.ws_du, *ut = ws + w.ws_ut, *v = ws + w.ws_v;
    float *m = ws + w.ws_m, *dxp = wino_pads_dx(&w) ? ws + w.ws_dxp : dx;
    const int C = (int)w.C, F = (int)w.F, Cp = (int)w.Cp, Fp = (int)w.Fp, mm = wino_uses_mm(&w);
    const size_t ldc = wino_pads_dx(&w) ? w.Cp : w.C;
    if (dx) {
        wino_kernel_transform(&w, params, u);
        if (mm) {
            wino_kernel_transpose(&w, u, ut);
        }
        memset(dxp, 0, B * w.H * w.W * ldc * sizeof *dxp);
    }
    memset(du, 0, WINO_NN * w.C * w.Fp * sizeof *du);
    for (size_t t0 = 0; t0 < T; t0 += nT) {
        size_t n = T - t0 < nT ? T - t0 : nT;
        wino_input_transform(&w, x, t0, n, nT, v);
        wino_dy_transform(&w, dy, mask, t0, n, nT, m);
        for (size_t xi = 0; xi < WINO_NN; xi++) {
            float *vx = v + xi * nT * w.Cp, *mx = m + xi * nT * w.Fp;
            if (mm) {
                wino_mm_tn(n, w.C, w.Fp, vx, w.Cp, mx, w.Fp, du + xi * w.C * w.Fp, w.Fp);
            } else {
                cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, C, F, (int)n, 1.0f, vx, Cp,
                            mx, Fp, 1.0f, du + xi * w.C * w.Fp, Fp);
            }
            if (dx && mm) { /* dV overwrites V, read just above */
                wino_mm(n, w.F, w.Cp, mx, w.Fp, ut + xi * w.F * w.Cp, w.Cp, vx, w.Cp);
            } else if (dx) {
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)n, C, F, 1.0f, mx, Fp,
                            u + xi * w.C * w.Fp, Fp, 0.0f, vx, Cp);
            }
        }
        if (dx) {
            wino_dx_transform(&w, v, t0, n, nT, dxp, ldc);
        }
    }
    for (size_t p = 0; dx && dxp != dx && p < B * w.H * w.W; p++) {
        memcpy(dx + p * w.C, dxp + p * w.Cp, w.C * sizeof *dx);
    }
    wino_kernel_gradient(&w, du, dparams);
}

#endif
