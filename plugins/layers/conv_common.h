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
 * layout, rows of consecutive samples following each other. With a bias,
 * cols gets a last column of ones and the parameter slice [kernel; bias]
 * is the (K + 1, F) matrix it multiplies: the bias costs no pass of its
 * own, and backward's dparams += cols^T dy gives dkernel and dbias in one
 * product. dx comes from dcols = dy kernel^T, scattered back (col2im). A
 * one-channel input stores cols transposed, (K, M), so that its copies are
 * rows of the image rather than runs of kw floats; a 1 x 1 kernel with
 * stride 1 and no padding has cols = x and dcols = dx and copies nothing.
 * With few filters or few input channels (F <= 8 or C <= 8, e.g. LeNet's
 * layers and vggsmall's first) a direct method replaces im2col and sgemm
 * for all three passes (conv_direct_forward, _dkernel, _dx); on CPUs with
 * AVX-512 a one-channel layer's forward goes by 16 output columns per
 * vector instead (conv_rowlanes_chunk: LeNet's first layer). 3 x 3
 * and 5 x 5 kernels with stride 1 and dilation 1 and more channels and
 * filters (vggsmall's layers 2-4) go through Winograd's minimal filtering
 * (conv_winograd.h), which does 4 (3 x 3) or 2.8 (5 x 5) times fewer
 * multiplies. The setting method = "im2col", "direct" or "winograd"
 * forces one (winograd only on the shapes it computes: forced on others
 * it is refused); the default
 * "auto" picks by shape (conv_wino_pays, conv_direct_pays).
 *
 * Guarantees: forward and backward allocate nothing; their scratch is the
 * workspace, bounded (CONV_BLOCK_FLOATS) whatever the batch; backward
 * writes every element of dx (DPT_CAP_WRITES_DX) and adds into dparams;
 * same inputs and B give the same bits. A relu that follows the layer
 * runs inside it (DPT_CAP_APPLIES_RELU, dpt_batch.relu): forward applies
 * it to y, backward masks dy where y <= 0 (the direct method per sample,
 * Winograd as it gathers dy's tiles, im2col per block), with the bits of
 * the relu node run apart. Left out: groups, "causal"
 * padding, regularizers and constraints, strides > 1 together with
 * dilation > 1 (Keras refuses them too).
 */
#ifndef DPT_PLUGINS_CONV_COMMON_H
#define DPT_PLUGINS_CONV_COMMON_H

#include <dptrain/plugin.h>

#include <cblas.h>
#include <limits.h>
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* y = relu(y) over n floats, as the relu plugin computes it: inlined into
 * the direct method's loop over samples (a sample's output is still in L1
 * there) and cloned for the other methods' whole outputs. */
static inline __attribute__((always_inline)) void conv_relu(float *y, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        y[i] = y[i] > 0.0f ? y[i] : 0.0f;
    }
}

DPT_VECTORIZE
static void conv_relu_all(float *y, size_t n)
{
    conv_relu(y, n);
}

/* dym = dy where y > 0, else 0, over n floats: the relu's backward. */
DPT_VECTORIZE
static void conv_relu_mask(const float *dy, const float *y, size_t n, float *dym)
{
    for (size_t i = 0; i < n; i++) {
        float g = dy[i]; /* loaded whatever y is, so the loop vectorizes */
        dym[i] = y[i] > 0.0f ? g : 0.0f;
    }
}

/* The workspace: at most this many floats of cols and dcols for a block
 * of rows (256 KB, half the L2 cache of a core of the EPYC we measured
 * on), whatever the batch and image size. With B = 64 on LeNet's and
 * vggsmall's layers (scripts/conv-rate.c), budgets from 64K to 1M floats
 * gave the same rates within the noise of a shared machine (+-10%); 4M
 * floats (16 MB) were 10-45% slower on vggsmall's layers (the columns of
 * a block no longer stay in the caches between im2col and the product).
 * -DCONV_BLOCK_FLOATS=... overrides it for such measurements. */
#ifndef CONV_BLOCK_FLOATS
#define CONV_BLOCK_FLOATS ((size_t)65536)
#endif
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

/* What im2col needs to know of a convolution: its axes, the channels it
 * reads, K = kh * kw * C, P = Ho * Wo positions and n_in = H * W * C
 * floats per sample. */
struct conv_geom {
    struct conv_axis h, w; /* rows (1 for conv1d) and columns */
    size_t C, K, P, n_in;
    /* Output columns [ow_lo, ow_hi) read one contiguous run of kw * C
     * floats per tap row: no padding under them, no dilation. */
    size_t ow_lo, ow_hi;
};

#include "conv_winograd.h"

struct conv {
    struct conv_geom g;  /* the geometry of y from x */
    size_t F;            /* filters */
    size_t ld;           /* the length of a cols row: K, + 1 (a column of ones) with a bias */
    size_t block_rows;   /* the most rows of cols processed at once */
    int identity;        /* 1 x 1, stride 1, no padding: cols = x */
    int k_major;         /* one channel: cols is stored transposed, see conv_im2col_k_major */
    int use_bias;
    enum conv_init init;
    /* The direct method (conv_direct_forward): no im2col, no sgemm. */
    int direct;
    int wide;           /* its tiles of 16 lanes (conv_wide_tile and after) */
    int rowlanes;       /* one channel, F <= 8: forward and kernel gradient by output columns */
    int rowlanes_v4;    /* their version for CPUs with AVX-512, F unrolled (CONV_RL_V4) */
    size_t Fp;          /* F rounded up to whole vectors of CONV_LANES filters */
    size_t Hp, Wp;      /* the padded sample: the rows and columns the kernel reads */
    size_t Lv;          /* a kernel row's run in dx (conv_direct_dx), in whole vectors */
    size_t ws_xp, ws_k, ws_tile, ws_dy, ws_dxp, ws_wt, ws_end; /* workspace offsets in floats */
    size_t Wo16, Fg;    /* rowlanes: output rows rounded up to 16, F up to CONV_RL_GROUP */
    size_t ws_dyt, ws_dkv; /* rowlanes: dy transposed, the kernel gradient by lanes */
    size_t *off;        /* K offsets of the taps (i, j, c) in the padded sample */
    /* The Winograd method (conv_winograd.h), 3 x 3 and 5 x 5 kernels only. */
    int wino;
    struct conv_wino wn;
};

/* The method: "auto" picks by shape (conv_create), the others force one,
 * for tests and measurements. */
enum conv_method { CONV_AUTO, CONV_IM2COL, CONV_DIRECT, CONV_WINOGRAD };

/* The settings a convolution reads, before any shape is known. */
struct conv_settings {
    int64_t filters, kernel_size, strides, dilation;
    int same, use_bias;
    enum conv_init init;
    enum conv_method method;
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
    static const char *const methods[] = {"auto", "im2col", "direct", "winograd", NULL};
    const char *method;
    if ((rc = host->get_string(host->ctx, "method", methods[0], methods, &method)) < 0) {
        return rc;
    }
    s->method = strcmp(method, "im2col") == 0     ? CONV_IM2COL
                : strcmp(method, "direct") == 0   ? CONV_DIRECT
                : strcmp(method, "winograd") == 0 ? CONV_WINOGRAD
                                                  : CONV_AUTO;
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

/* The columns ow whose taps are all inside the input, when they form
 * one contiguous run (dilation 1): w0 = ow * sw - pl >= 0 and w0 + kw <= W. */
static void conv_interior(struct conv_geom *g)
{
    const struct conv_axis *w = &g->w;
    g->ow_lo = g->ow_hi = 0;
    if (w->dilation == 1 && w->in + w->pad >= w->k) {
        g->ow_lo = (w->pad + w->stride - 1) / w->stride;
        g->ow_hi = (w->in + w->pad - w->k) / w->stride + 1;
        g->ow_hi = g->ow_hi < w->out ? g->ow_hi : w->out;
        g->ow_lo = g->ow_lo < g->ow_hi ? g->ow_lo : g->ow_hi;
    }
}

/* Vectors of CONV_LANES floats for the direct method: GCC's vector
 * extension, which each clone (CONV_FMA_CLONES below) compiles to its own
 * instructions (two SSE halves in the baseline one). */
#define CONV_LANES 8
typedef float conv_v8 __attribute__((vector_size(CONV_LANES * sizeof(float))));

/* The build of the direct method's passes: AVX2 with FMA where the CPU
 * has it, as the Winograd method's transforms (WINO_CLONES), baseline
 * x86-64 otherwise. Their tiles broadcast an input from memory for every
 * one or two products; with a separate multiply and add per product (what
 * DPT_VECTORIZE's avx2 clone does) the loop of 6 positions by 16 filters
 * ran at 50-58 GFLOP/s on the Zen 3 we measured on, with FMA at 78-79
 * (one thread, the same session), while register operands alone ran near
 * 77 either way; LeNet's first layer (one vector of filters) went from
 * 31-38 to 38-43 GFLOP/s (scripts/conv-rate.c, B = 16, alternating). The
 * price: results differ in the last bits between CPUs with FMA and
 * without, as OpenBLAS's do (same CPU, same inputs and B: same bits). */
#define CONV_FMA_CLONES WINO_CLONES

/* The wide tiles: vectors of 16 floats, which CPUs with AVX-512 (the
 * x86-64-v4 clone of CONV_WIDE_CLONES) hold in one register, twice the products per
 * instruction of the 8-lane tiles; their 32 registers also make room for
 * forward tiles of 10 positions (12 needed more pointers than the 16
 * general registers, whose spills went through the FMA ports, and LeNet's
 * second layer has 100 positions a sample: 10 tiles exactly where 12 made
 * 9 with 8 positions twice; forward + backward 117.2 -> 120.2 GFLOP/s,
 * scripts/conv-rate.c, medians of 8 alternating runs, Intel Xeon with
 * AVX-512; vggsmall's first layer unchanged). conv_create picks them (c->wide) for
 * layers whose filters are whole vectors of 16 (F % 16 == 0, so dy's rows
 * are read in place with no lanes past F: LeNet's second layer, vggsmall's
 * first) on CPUs that have them; DPTRAIN_CONV_LANES=8 or 16 in the
 * environment forces either, for tests and measurements (on other CPUs GCC
 * builds a 16-lane operation from narrower ones). Every output is the same
 * sum in the same order as in the 8-lane tiles: the same bits
 * (tests/test_conv.c). */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && __GNUC__ >= 11 && \
    !defined(DPT_NO_CLONES)
#define CONV_WIDE_CLONES                                                                  \
    __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define CONV_WIDE_CLONES DPT_VECTORIZE
#endif
/* The row-lanes kernels (c->rowlanes: one channel, at most 8 filters, by
 * output columns) permute 16-lane vectors, one permute per instruction
 * with AVX-512. There they come in a version per filter count (the
 * permutes unrolled, F a constant); elsewhere, where only
 * DPTRAIN_CONV_LANES=16 runs them (tests and measurements), in one version
 * for any F: GCC builds each of those permutes there from narrower
 * operations, and the per-F versions in the x86-64-v3 and baseline clones
 * were 1 MB of code and 4 minutes of every build of conv1d.c and conv2d.c.
 * Same products, sums and permutes either way: the same bits
 * (DPTRAIN_CONV_LANES=16-portable forces the version for any F on any CPU:
 * tests/test_conv.c compares the two). */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && __GNUC__ >= 12 && \
    !defined(DPT_NO_CLONES)
#define CONV_RL_V4 1
#define CONV_RL_V4_TARGET __attribute__((target("arch=x86-64-v4")))
#define CONV_RL_ANY_CLONES __attribute__((target_clones("arch=x86-64-v3", "default")))
#else
#define CONV_RL_V4 0
#define CONV_RL_ANY_CLONES CONV_WIDE_CLONES
#endif
#define CONV_WIDE 16
#define CONV_WIDE_POS 10    /* positions of a wide forward tile */
#define CONV_WIDE_DK_TAPS 8 /* taps of a wide kernel-gradient tile (their offsets in registers) */
typedef float conv_v16 __attribute__((vector_size(CONV_WIDE * sizeof(float))));

static int conv_cpu_wide(void)
{
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && __GNUC__ >= 12
    return __builtin_cpu_supports("x86-64-v4");
#elif defined(__x86_64__) && defined(__GNUC__)
    return __builtin_cpu_supports("avx512f");
#else
    return 0;
#endif
}

/* Whether the 16-lane kernels are used where a shape allows them: on CPUs
 * with AVX-512, or as DPTRAIN_CONV_LANES=16 (or 16-portable) or 8 forces. */
static int conv_lanes16(void)
{
    const char *env = getenv("DPTRAIN_CONV_LANES");
    return env && *env ? strncmp(env, "16", 2) == 0 : conv_cpu_wide();
}

/* Whether the row-lanes kernels take their version for CPUs with AVX-512
 * (CONV_RL_V4): on such CPUs unless DPTRAIN_CONV_LANES=16-portable. */
static int conv_rowlanes_v4(void)
{
#if CONV_RL_V4
    const char *env = getenv("DPTRAIN_CONV_LANES");
    return __builtin_cpu_supports("x86-64-v4") && !(env && strcmp(env, "16-portable") == 0);
#else
    return 0;
#endif
}

/* Whether a direct layer of F filters takes the wide tiles. */
static int conv_wide_pays(size_t F)
{
    return F % CONV_WIDE == 0 && conv_lanes16();
}

/* Whether a direct layer's forward and kernel gradient take 16 output
 * columns per vector (conv_rowlanes_chunk, conv_rowlanes_dk_sample): one
 * input channel, stride and dilation 1, one
 * vector of filters, rows of at least 16 positions, on CPUs with AVX-512
 * (DPTRAIN_CONV_LANES=16 or 8 forces it on or off, as for the wide tiles). */
static int conv_rowlanes_pays(const struct conv *c)
{
    const struct conv_geom *g = &c->g;
    return !c->wide && g->C == 1 && c->F <= CONV_LANES && g->w.out >= CONV_WIDE &&
           g->h.stride == 1 && g->w.stride == 1 && g->h.dilation == 1 && g->w.dilation == 1 &&
           conv_lanes16();
}

/* Filters per vector of the packed kernel and its gradient. */
static size_t conv_lanes(const struct conv *c)
{
    return c->wide ? CONV_WIDE : CONV_LANES;
}

/* Whether the direct method beats im2col and sgemm on this shape: few
 * filters, where sgemm's N = F is too narrow for its kernels (LeNet's
 * first layer, F = 6, ran at 11% of sgemm's peak), or few input channels,
 * where im2col's runs of kw * C floats are short and the copies cost as
 * much as the product. scripts/conv-rate.c, B = 64, the rate of the
 * layer over sgemm's on the same shape, two runs each on the shared
 * machine (im2col / direct): lenet1 (C 1, F 6) 0.93, 0.69 / 1.40, 1.22;
 * lenet2 (C 6, F 16) 0.74, 0.85 / 0.91, 1.02; vgg1 (C 3, F 32) 0.89,
 * 0.91 / 1.03, 1.18; but vgg2 (C 32, F 32) 1.19, 1.10 / 0.87, 1.08, vgg3
 * (C 32, F 64) 1.02, 1.04 / 0.93, 0.90 and vgg4 (C 64, F 64) 1.15, 1.04 /
 * 0.96, 0.86. */
static int conv_direct_pays(const struct conv_geom *g, size_t F)
{
    return F <= CONV_LANES || g->C <= CONV_LANES;
}

/* Whether the Winograd method beats the others on a shape it computes
 * (conv_winograd.h): where the direct method does not pay, and the output
 * has at least a tile's WINO_M rows and columns (below that a tile's
 * products cost as many multiplies as im2col's, for fewer outputs).
 * scripts/conv-rate.c, B = 64, one thread, the rate over sgemm's on the
 * same shape in the same run (im2col / winograd): vgg2 (32 x 32, C 32,
 * F 32) 1.09 / 2.16, vgg3 (16 x 16, C 32, F 64) 1.09 / 1.94, vgg4 (16 x
 * 16, C 64, F 64) 1.07 / 2.44; but with 8 channels or filters the direct
 * method is as fast or faster (direct / winograd, two runs each): 16 x 16,
 * C 8, F 16 1.06, 1.05 / 1.04, 1.06; 32 x 32, C 8, F 8 1.37, 1.33 / 1.10,
 * 1.05; 16 x 16, C 16, F 8 1.85, 1.57 / 1.80, 2.02.
 *
 * 5 x 5 kernels (F(2 x 2, 5 x 5), tiles of 2 x 2) follow the same rule.
 * LeNet's second layer (14 x 14, C 6, F 16, B = 16) stays on the direct
 * method: direct / winograd over sgemm's rate, three alternating runs,
 * 1.43, 1.42, 1.40 / 1.25, 1.23, 1.28 (medians of 5; 36 products of
 * tiles x 6 by 6 x 16 and the transforms of 6 x 6 tiles for 2 x 2 outputs
 * cost more than the direct method's FMAs save). Where the direct method
 * does not pay, F(2 x 2, 5 x 5) beats im2col (direct-equivalent GFLOP/s,
 * B = 16, winograd / im2col): 16 x 16, C 32, F 64 "same" 96 / 66; 14 x
 * 14, C 16, F 32 "valid" 73 / 56; 14 x 14, C 12, F 16 71 / 34. */
static int conv_wino_pays(const struct conv_geom *g, size_t F)
{
    size_t m = wino_m_of(g->h.k);
    return !conv_direct_pays(g, F) && g->h.out >= m && g->w.out >= m;
}

/* Rounds n floats up to a whole number of 64-byte lines. */
static size_t conv_round16(size_t n)
{
    return (n + 15) / 16 * 16;
}

/* The padded sample and the workspace of the direct method: the padded
 * sample xp [Hp, Wp, C]; the kernel packed by vectors of filters, or its
 * gradient, (K + 1) * Fp (the last vector the bias); a tile of CONV_LANES
 * output rows of Fp floats; dy of a sample with rows of Fp; then for dx
 * (conv_direct_dx) the padded sample's gradient dxp, as xp and a vector
 * longer, and the kernel transposed, F * kh runs of Lv floats. */
static void conv_direct_layout(struct conv *c)
{
    const struct conv_geom *g = &c->g;
    c->Fp = (c->F + CONV_LANES - 1) / CONV_LANES * CONV_LANES;
    c->Hp = (g->h.out - 1) * g->h.stride + (g->h.k - 1) * g->h.dilation + 1;
    c->Wp = (g->w.out - 1) * g->w.stride + (g->w.k - 1) * g->w.dilation + 1;
    c->ws_xp = 0;
    /* xp: a vector of zeros after it, which the row-lanes kernel gradient
     * reads (conv_rowlanes_dk_pass). */
    c->ws_k = c->ws_xp + conv_round16(c->Hp * c->Wp * g->C + CONV_WIDE);
    c->ws_tile = c->ws_k + conv_round16((g->K + 1) * c->Fp);
    c->ws_dy = c->ws_tile + conv_round16(CONV_LANES * c->Fp);
    c->Lv = ((g->w.k - 1) * g->w.dilation * g->C + g->C + CONV_LANES - 1) / CONV_LANES *
            CONV_LANES;
    c->ws_dxp = c->ws_dy + conv_round16(g->P * c->Fp + CONV_LANES);
    c->ws_wt = c->ws_dxp + conv_round16(c->Hp * c->Wp * g->C + CONV_LANES);
    c->ws_end = c->ws_wt + c->F * g->h.k * c->Lv;
}

/* Filters and taps of a pass of the row-lanes kernel gradient
 * (conv_rowlanes_dk_pass): 24 accumulators, the 6 filters' dy and an input
 * in AVX-512's 32 registers, so that an input loaded serves all of LeNet's
 * 6 filters (3 filters by 5 taps: the layer at 0.81 of the rate,
 * scripts/conv-rate.c). 7 or 8 filters take two passes, the second with
 * zeros for 4 or 5 of its filters. */
#define CONV_RL_GROUP 6
#define CONV_RL_TAPS 4

/* The row-lanes kernel gradient's workspace after the direct method's: dy
 * of a sample transposed, Fg rows of filters by Ho rows of Wo16 floats
 * (zero past F and Wo), and the gradient by lanes, Fg * (K + 1) vectors. */
static void conv_rowlanes_layout(struct conv *c)
{
    const struct conv_geom *g = &c->g;
    c->Wo16 = (g->w.out + CONV_WIDE - 1) / CONV_WIDE * CONV_WIDE;
    c->Fg = (c->F + CONV_RL_GROUP - 1) / CONV_RL_GROUP * CONV_RL_GROUP;
    c->ws_dyt = conv_round16(c->ws_end);
    c->ws_dkv = c->ws_dyt + c->Fg * g->h.out * c->Wo16;
    c->ws_end = c->ws_dkv + c->Fg * (g->K + 1) * CONV_WIDE;
}

/* Builds the instance *out (freed by conv_destroy) for an input [H, W, C]
 * and a k x k kernel, or for conv1d (one_d) an input [1, W, C] and a 1 x k
 * kernel. kernel and input name the shapes for messages, e.g. "[5, 5]".
 * Returns 0 or the negative value of host->error. */
static int conv_create(struct conv **out, const struct dpt_host *host,
                       const struct conv_settings *s, int one_d, size_t H, size_t W, size_t C,
                       const char *kernel, const char *input)
{
    struct conv c = {.F = (size_t)s->filters, .use_bias = s->use_bias, .init = s->init};
    size_t k = (size_t)s->kernel_size, kh = one_d ? 1 : k, kw = k;
    struct conv_settings rows = *s;
    if (one_d) { /* the single row is neither strided, dilated nor padded */
        rows.kernel_size = rows.strides = rows.dilation = 1;
    }
    if (conv_axis_init(&c.g.h, H, kh, &rows) < 0 || conv_axis_init(&c.g.w, W, kw, s) < 0) {
        char dilated[48] = "";
        if (s->dilation > 1) {
            snprintf(dilated, sizeof dilated, " (dilation %lld)", (long long)s->dilation);
        }
        return host->error(host->ctx, "kernel %s%s does not fit input %s with padding "
                           "\"valid\"; use a smaller kernel_size or padding = \"same\"",
                           kernel, dilated, input);
    }
    /* CBLAS takes int sizes: K + 1 is one; the rows of a block are bounded. */
    if (C > (INT_MAX - 1) / (kh * kw)) {
        return host->error(host->ctx, "input %s with kernel %s: more than %d floats under "
                           "the kernel", input, kernel, INT_MAX);
    }
    c.g.C = C;
    c.g.K = kh * kw * C;
    c.g.P = c.g.h.out * c.g.w.out;
    c.g.n_in = H * W * C;
    conv_interior(&c.g);
    c.identity = kh == 1 && kw == 1 && c.g.h.stride == 1 && c.g.w.stride == 1 &&
                 c.g.h.pad == 0 && c.g.w.pad == 0;
    c.k_major = !c.identity && C == 1;
    c.ld = c.g.K + (c.use_bias && !c.identity);
    int wino_ok = !one_d && wino_valid(kh, kw, c.g.h.stride, c.g.w.stride, c.g.h.dilation,
                                       c.g.w.dilation);
    if (s->method == CONV_WINOGRAD && !wino_ok) {
        return host->error(host->ctx, "method \"winograd\" needs a conv2d with kernel_size 3 "
                           "or 5, strides 1 and dilation 1; got kernel %s, strides %lld, dilation "
                           "%lld%s", kernel, (long long)s->strides, (long long)s->dilation,
                           one_d ? " on a conv1d" : "");
    }
    c.wino = wino_ok && (s->method == CONV_WINOGRAD ||
                         (s->method == CONV_AUTO && conv_wino_pays(&c.g, c.F)));
    if (c.wino) {
        wino_init(&c.wn, H, W, C, c.F, kh, c.g.h.out, c.g.w.out, c.g.h.pad, c.g.w.pad);
    }
    c.direct = !c.identity && !c.wino &&
               (s->method == CONV_DIRECT ||
                (s->method == CONV_AUTO && conv_direct_pays(&c.g, c.F)));
    c.block_rows = CONV_BLOCK_FLOATS / (c.ld + c.g.K + c.F); /* im2col only */
    c.block_rows = c.block_rows > 0 ? c.block_rows : 1;
    if (c.direct) {
        c.wide = conv_wide_pays(c.F);
        conv_direct_layout(&c);
        c.rowlanes = conv_rowlanes_pays(&c);
        if (c.rowlanes) {
            conv_rowlanes_layout(&c);
            c.rowlanes_v4 = conv_rowlanes_v4();
        }
    }
    /* The tap offsets of the direct method follow the instance. */
    *out = malloc(sizeof **out + (c.direct ? c.g.K * sizeof *c.off : 0));
    if (!*out) {
        return host->error(host->ctx, "out of memory");
    }
    **out = c;
    if (c.direct) {
        (*out)->off = (size_t *)(*out + 1);
        for (size_t t = 0; t < c.g.K; t++) {
            size_t i = t / (kw * C), j = t / C % kw, ch = t % C;
            (*out)->off[t] = (i * c.g.h.dilation * c.Wp + j * c.g.w.dilation) * C + ch;
        }
    }
    return 0;
}

static size_t conv_n_params(const struct conv *c)
{
    return c->g.K * c->F + (c->use_bias ? c->F : 0);
}

/* Writes the kernel from the chosen initializer and a zero bias. Fans as
 * Keras computes them for convolutions: fan_in = kh * kw * C, fan_out =
 * kh * kw * F. */
static void conv_init_params(const void *state, float *params, const struct dpt_host *host,
                             struct dpt_rng *rng)
{
    const struct conv *c = state;
    size_t n = c->g.K * c->F;
    double fan_in = (double)c->g.K, fan_out = (double)(c->g.h.k * c->g.w.k * c->F);
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

/* The rows of a block: all M when they fit the bound cap, else cap. */
static size_t conv_block(size_t M, size_t cap)
{
    return M < cap ? M : cap;
}

/* The workspace: Winograd's (wino_layout) or the direct method's
 * (conv_direct_layout); for im2col one block of cols (rows, ld), then one
 * of dcols (rows, K) for backward (neither for a 1 x 1 convolution), then
 * dy of the block masked by a relu applied (rows, F). */
static size_t conv_workspace_bytes(const void *state, size_t B)
{
    const struct conv *c = state;
    if (c->wino) {
        struct conv_wino w = c->wn;
        return wino_layout(&w, B) * sizeof(float);
    }
    if (c->direct) {
        return c->ws_end * sizeof(float);
    }
    size_t rows = conv_block(B * c->g.P, c->block_rows);
    return rows * ((c->identity ? 0 : c->ld + c->g.K) + c->F) * sizeof(float);
}

/* The position of im2col row r: sample b, output row oh, column ow. */
struct conv_pos {
    size_t b, oh, ow;
};

static struct conv_pos conv_pos_of(const struct conv_geom *g, size_t r)
{
    size_t p = r % g->P;
    return (struct conv_pos){r / g->P, p / g->w.out, p % g->w.out};
}

static void conv_pos_next(const struct conv_geom *g, struct conv_pos *q)
{
    if (++q->ow == g->w.out) {
        q->ow = 0;
        if (++q->oh == g->h.out) {
            q->oh = 0;
            q->b++;
        }
    }
}

/* Copies n floats. Runs under a kernel are short when there are few
 * channels (5 floats for a 5 x 5 kernel on one channel), where a call of
 * memcpy costs more than the copy: 8 or 4 floats at a time, inline, the
 * last chunk overlapping the one before instead of a loop over the rest. */
static inline __attribute__((always_inline)) void conv_copy(float *dst, const float *src,
                                                            size_t n)
{
    if (n >= 8) {
        size_t t = 0;
        for (; t + 8 <= n; t += 8) {
            __builtin_memcpy(dst + t, src + t, 8 * sizeof *dst);
        }
        if (t < n) {
            __builtin_memcpy(dst + n - 8, src + n - 8, 8 * sizeof *dst);
        }
    } else if (n >= 4) {
        __builtin_memcpy(dst, src, 4 * sizeof *dst);
        __builtin_memcpy(dst + n - 4, src + n - 4, 4 * sizeof *dst);
    } else {
        for (size_t t = 0; t < n; t++) {
            dst[t] = src[t];
        }
    }
}

/* Zeroes n floats, as conv_copy copies them. */
static inline __attribute__((always_inline)) void conv_zero(float *dst, size_t n)
{
    if (n >= 8) {
        size_t t = 0;
        for (; t + 8 <= n; t += 8) {
            __builtin_memset(dst + t, 0, 8 * sizeof *dst);
        }
        if (t < n) {
            __builtin_memset(dst + n - 8, 0, 8 * sizeof *dst);
        }
    } else if (n >= 4) {
        __builtin_memset(dst, 0, 4 * sizeof *dst);
        __builtin_memset(dst + n - 4, 0, 4 * sizeof *dst);
    } else if (n > 0) { /* written out: GCC would make a loop a call of memset */
        dst[0] = 0.0f;
        if (n > 1) {
            dst[1] = 0.0f;
        }
        if (n > 2) {
            dst[2] = 0.0f;
        }
    }
}

/* Copies count runs of n floats, from src every step floats to dst every
 * ld floats: the interior positions of a segment, whose runs are
 * contiguous. The size class of n is chosen once for all of them. */
static inline __attribute__((always_inline)) void
conv_copy_runs(float *dst, size_t ld, const float *src, size_t step, size_t count, size_t n)
{
    if (n >= 8) {
        for (size_t r = 0; r < count; r++) {
            conv_copy(dst + r * ld, src + r * step, n);
        }
    } else if (n >= 4) {
        for (size_t r = 0; r < count; r++) {
            __builtin_memcpy(dst + r * ld, src + r * step, 4 * sizeof *dst);
            __builtin_memcpy(dst + r * ld + n - 4, src + r * step + n - 4, 4 * sizeof *dst);
        }
    } else {
        for (size_t r = 0; r < count; r++) {
            conv_copy(dst + r * ld, src + r * step, n);
        }
    }
}

/* The im2col row part of tap row i for a column ow with taps in the
 * padding (or dilated): tap by tap. */
static inline __attribute__((always_inline)) void
conv_copy_taps(const struct conv_geom *g, float *dst, const float *src, size_t ow)
{
    const size_t C = g->C, W = g->w.in;
    ptrdiff_t w0 = (ptrdiff_t)(ow * g->w.stride) - (ptrdiff_t)g->w.pad;
    for (size_t j = 0; j < g->w.k; j++) {
        ptrdiff_t w = w0 + (ptrdiff_t)(j * g->w.dilation);
        if (w < 0 || w >= (ptrdiff_t)W) {
            conv_zero(dst + j * C, C);
        } else {
            conv_copy(dst + j * C, src + (size_t)w * C, C);
        }
    }
}

/* Writes the im2col rows of positions (oh, ow), ow in [a, e), of the
 * sample xs at cols (one row every ld floats): for each tap (i, j) the C
 * channels of xs[oh * sh - pt + i * dh, ow * sw - pl + j * dw, :], zeros
 * where that is padding. Tap row by tap row, so that what depends only on
 * the input row is worked out once for all positions of the segment, and
 * the interior columns are one loop of contiguous copies. */
static inline __attribute__((always_inline)) void
conv_im2col_segment(const struct conv_geom *g, const float *xs, size_t oh, size_t a, size_t e,
                    float *cols, size_t ld)
{
    const size_t C = g->C, run = g->w.k * C;
    size_t lo = g->ow_lo > a ? g->ow_lo : a, hi = g->ow_hi < e ? g->ow_hi : e;
    lo = lo < hi ? lo : e, hi = lo < hi ? hi : e; /* [lo, hi) empty: all border */
    for (size_t i = 0; i < g->h.k; i++) {
        /* Signed: the first taps of a padded position fall before the input. */
        ptrdiff_t h = (ptrdiff_t)(oh * g->h.stride + i * g->h.dilation) - (ptrdiff_t)g->h.pad;
        float *dst = cols + i * run - a * ld; /* the row of column ow is dst + ow * ld */
        if (h < 0 || h >= (ptrdiff_t)g->h.in) {
            for (size_t ow = a; ow < e; ow++) {
                conv_zero(dst + ow * ld, run);
            }
            continue;
        }
        const float *src = xs + (size_t)h * g->w.in * C;
        for (size_t ow = a; ow < lo; ow++) {
            conv_copy_taps(g, dst + ow * ld, src, ow);
        }
        conv_copy_runs(dst + lo * ld, ld, src + (lo * g->w.stride - g->w.pad) * C,
                       g->w.stride * C, hi - lo, run);
        for (size_t ow = hi; ow < e; ow++) {
            conv_copy_taps(g, dst + ow * ld, src, ow);
        }
    }
}

/* Writes rows [r0, r0 + n) of the im2col matrix of x into cols (n, ld):
 * row (b, oh, ow) holds what conv_im2col_segment puts there, then, when
 * ld > K, a 1 (that multiplies the bias). */
DPT_VECTORIZE
static void conv_im2col(const struct conv_geom *g, const float *x, size_t r0, size_t n,
                        float *cols, size_t ld)
{
    struct conv_pos q = conv_pos_of(g, r0);
    for (size_t r = 0; r < n;) {
        size_t e = q.ow + (n - r) < g->w.out ? q.ow + (n - r) : g->w.out;
        conv_im2col_segment(g, x + q.b * g->n_in, q.oh, q.ow, e, cols + r * ld, ld);
        for (size_t k = r; ld > g->K && k < r + (e - q.ow); k++) {
            cols[k * ld + g->K] = 1.0f;
        }
        r += e - q.ow;
        q.ow = e - 1; /* the segment's last position, then on to the next */
        conv_pos_next(g, &q);
    }
}

/* The im2col matrix of a one-channel input, transposed: cols (ld, n) has
 * one row per tap (i, j), holding x[b, oh * sh - pt + i * dh, ow * sw - pl
 * + j * dw] for the n positions r0 .. r0 + n - 1, and with a bias a row
 * of ones. In the row-major layout a tap of one channel is a run of kw
 * floats (5 for LeNet's first layer), too short to copy fast; here it is
 * a run of up to Wo floats. */
DPT_VECTORIZE
static void conv_im2col_k_major(const struct conv_geom *g, const float *x, size_t r0, size_t n,
                                float *cols, size_t ld)
{
    const ptrdiff_t W = (ptrdiff_t)g->w.in, sw = (ptrdiff_t)g->w.stride;
    struct conv_pos q = conv_pos_of(g, r0);
    for (size_t r = 0; r < n;) {
        size_t a = q.ow, e = q.ow + (n - r) < g->w.out ? q.ow + (n - r) : g->w.out;
        for (size_t i = 0; i < g->h.k; i++) {
            ptrdiff_t h = (ptrdiff_t)(q.oh * g->h.stride + i * g->h.dilation) -
                          (ptrdiff_t)g->h.pad;
            int row_inside = h >= 0 && h < (ptrdiff_t)g->h.in;
            const float *src = x + q.b * g->n_in + (row_inside ? (size_t)h * g->w.in : 0);
            for (size_t j = 0; j < g->w.k; j++) {
                float *dst = cols + (i * g->w.k + j) * n + r - a; /* dst[ow] */
                /* Column ow reads w = ow * sw + off: inside for ow in [lo, hi). */
                ptrdiff_t off = (ptrdiff_t)(j * g->w.dilation) - (ptrdiff_t)g->w.pad;
                size_t lo = 0, hi = 0;
                if (off < 0) { /* no division for stride 1: it took 14% of this function */
                    lo = sw == 1 ? (size_t)-off : (size_t)((-off + sw - 1) / sw);
                }
                if (W - 1 - off >= 0) {
                    hi = sw == 1 ? (size_t)(W - off) : (size_t)((W - 1 - off) / sw + 1);
                }
                if (!row_inside) { /* all padding: [a, e) zeroed below */
                    lo = hi = e;
                }
                lo = lo < a ? a : lo > e ? e : lo;
                hi = hi < lo ? lo : hi > e ? e : hi;
                conv_zero(dst + a, lo - a);
                if (sw == 1) {
                    conv_copy(dst + lo, src + (ptrdiff_t)lo + off, hi - lo);
                } else {
                    for (size_t ow = lo; ow < hi; ow++) {
                        dst[ow] = src[(ptrdiff_t)ow * sw + off];
                    }
                }
                conv_zero(dst + hi, e - hi);
            }
        }
        for (size_t k = 0; ld > g->K && k < e - a; k++) {
            cols[g->K * n + r + k] = 1.0f;
        }
        r += e - a;
        q.ow = e - 1; /* the segment's last position, then on to the next */
        conv_pos_next(g, &q);
    }
}

/* dst[t] += src[t] for t < n. */
static inline __attribute__((always_inline)) void conv_add(float *dst, const float *src,
                                                           size_t n)
{
    for (size_t t = 0; t < n; t++) {
        dst[t] += src[t];
    }
}

/* The adjoint of conv_im2col_segment: adds the dcols rows of positions
 * (oh, ow), ow in [a, e), at dcols (one row every K floats) into the
 * sample's dx at the places im2col read them from (padding taps are
 * dropped), and zeroes those rows for the next block's product (see
 * conv_backward). */
static inline __attribute__((always_inline)) void
conv_col2im_segment(const struct conv_geom *g, float *dcols, size_t oh, size_t a, size_t e,
                    float *dxs)
{
    const size_t C = g->C, W = g->w.in, K = g->K, run = g->w.k * C;
    size_t lo = g->ow_lo > a ? g->ow_lo : a, hi = g->ow_hi < e ? g->ow_hi : e;
    lo = lo < hi ? lo : e, hi = lo < hi ? hi : e; /* [lo, hi) empty: all border */
    for (size_t i = 0; i < g->h.k; i++) {
        ptrdiff_t h = (ptrdiff_t)(oh * g->h.stride + i * g->h.dilation) - (ptrdiff_t)g->h.pad;
        float *src = dcols + i * run - a * K; /* the row of column ow is src + ow * K */
        float *dst = dxs + (h >= 0 ? (size_t)h : 0) * W * C;
        for (size_t ow = a; ow < e; ow++) {
            ptrdiff_t w0 = (ptrdiff_t)(ow * g->w.stride) - (ptrdiff_t)g->w.pad;
            if (h < 0 || h >= (ptrdiff_t)g->h.in) {
                /* a tap row in the padding: nothing to add */
            } else if (ow >= lo && ow < hi) { /* one contiguous run */
                conv_add(dst + (size_t)w0 * C, src + ow * K, run);
            } else {
                for (size_t j = 0; j < g->w.k; j++) {
                    ptrdiff_t w = w0 + (ptrdiff_t)(j * g->w.dilation);
                    if (w >= 0 && w < (ptrdiff_t)W) {
                        conv_add(dst + (size_t)w * C, src + ow * K + j * C, C);
                    }
                }
            }
            conv_zero(src + ow * K, run);
        }
    }
}

/* The adjoint of conv_im2col: adds rows [r0, r0 + n) of dcols (n, K) into
 * dx and zeroes them. dx of a sample is zeroed here before its first row
 * is added, so dx is written in full (DPT_CAP_WRITES_DX) once all blocks
 * are done, in order. */
DPT_VECTORIZE
static void conv_col2im(const struct conv_geom *g, float *dcols, size_t r0, size_t n,
                        float *dx)
{
    struct conv_pos q = conv_pos_of(g, r0);
    for (size_t r = 0; r < n;) {
        size_t e = q.ow + (n - r) < g->w.out ? q.ow + (n - r) : g->w.out;
        float *dxs = dx + q.b * g->n_in;
        if (q.oh == 0 && q.ow == 0) {
            memset(dxs, 0, g->n_in * sizeof *dxs);
        }
        conv_col2im_segment(g, dcols + r * g->K, q.oh, q.ow, e, dxs);
        r += e - q.ow;
        q.ow = e - 1; /* the segment's last position, then on to the next */
        conv_pos_next(g, &q);
    }
}

/* The direct method, for convolutions with few filters (conv_direct_pays).
 * im2col and sgemm there spend more time copying and packing than
 * multiplying: LeNet's first layer (F = 6, K = 25) ran at 8-12 GFLOP/s.
 * Here each output is computed where it is needed: the sample is copied
 * once into a zero-padded buffer xp (so no tap needs a bounds test), and a
 * tile of output positions by CONV_LANES filters is a set of vector
 * accumulators kept in registers while the K taps go by, each tap one
 * vector of kernel weights times one broadcast input value per position
 * (conv_direct_row_tile: 8 positions along an output row when there is
 * one vector of filters; conv_direct_tile2: 6 positions by two vectors).
 * The kernel's gradient is the same loop turned around: taps by
 * CONV_LANES filters accumulate over the positions of a sample. dx adds,
 * for each position and kernel row, dy's row times the kernel row's
 * transposed weights into a padded copy of dx (conv_direct_dx).
 *
 * Order of the float operations: an output is its bias, then plus the
 * product of each tap in the kernel's order (i, j, c); a weight's or the
 * bias's gradient is summed over the positions of a sample in order, then
 * over the samples in order, then added into dparams; dx's order is
 * conv_direct_dx's. Nothing depends on B's blocks. On a CPU with FMA
 * each product and its addition are one fused operation, rounded once
 * (CONV_FMA_CLONES); the order is the same. */

/* Copies the sample xs into the interior of the padded sample xp, whose
 * border the caller zeroed once (it is never written). Rows and columns
 * past the last one the kernel reads are left out. */
static void conv_direct_pad(const struct conv *c, const float *xs, float *xp)
{
    const struct conv_geom *g = &c->g;
    const size_t C = g->C, pt = g->h.pad, pl = g->w.pad;
    size_t wn = g->w.in < c->Wp - pl ? g->w.in : c->Wp - pl;
    for (size_t h = 0; h < g->h.in && h + pt < c->Hp; h++) {
        memcpy(xp + ((h + pt) * c->Wp + pl) * C, xs + h * g->w.in * C, wn * C * sizeof *xp);
    }
}

/* The kernel packed by vectors of filters: kp[(v * (K + 1) + t) * L + l]
 * = the weight of tap t for filter v * L + l, L the filters of a vector
 * (conv_lanes); 0 past F; t = K is the bias (0 without one). By whole
 * vectors, as conv_direct_unpack_add: a division per weight was 12% of
 * LeNet's second layer's forward (perf). */
static void conv_direct_pack(const struct conv *c, const float *params, float *kp)
{
    const size_t K = c->g.K, F = c->F, L = conv_lanes(c);
    memset(kp, 0, (K + 1) * c->Fp * sizeof *kp);
    for (size_t t = 0; t < K + c->use_bias; t++) {
        for (size_t f0 = 0; f0 < F; f0 += L) {
            float *d = kp + (f0 / L * (K + 1) + t) * L;
            for (size_t l = 0; l < L && f0 + l < F; l++) {
                d[l] = params[t * F + f0 + l];
            }
        }
    }
}

/* dparams += the gradient dk packed as conv_direct_pack packs the kernel;
 * by whole vectors, without a division per element (5% of a step of
 * LeNet's second layer). */
static void conv_direct_unpack_add(const struct conv *c, const float *dk, float *dparams)
{
    const size_t K = c->g.K, F = c->F, L = conv_lanes(c);
    for (size_t t = 0; t < K + c->use_bias; t++) {
        for (size_t f0 = 0; f0 < F; f0 += L) {
            const float *d = dk + (f0 / L * (K + 1) + t) * L;
            for (size_t l = 0; l < L && f0 + l < F; l++) {
                dparams[t * F + f0 + l] += d[l];
            }
        }
    }
}

/* One tile of the forward: n positions (the padded input of position q
 * starts at xb[q]) by the CONV_LANES filters whose packed weights are kv;
 * row q of the result goes to out + q * ld. n is CONV_LANES except for
 * samples of fewer positions: the constant lets GCC keep acc in registers. */
static inline __attribute__((always_inline)) void
conv_direct_tile(const float *const *xb, size_t n, const float *kv, const size_t *off,
                 size_t K, float *out, size_t ld)
{
    conv_v8 acc[CONV_LANES], w;
    memcpy(&w, kv + K * CONV_LANES, sizeof w);
#pragma GCC unroll 8
    for (size_t q = 0; q < CONV_LANES; q++) { /* all: GCC cannot tell n <= CONV_LANES */
        acc[q] = w;
    }
    for (size_t t = 0; t < K; t++) {
        memcpy(&w, kv + t * CONV_LANES, sizeof w);
        const size_t o = off[t];
#pragma GCC unroll 8
        for (size_t q = 0; q < CONV_LANES && q < n; q++) {
            acc[q] += xb[q][o] * w;
        }
    }
#pragma GCC unroll 8
    for (size_t q = 0; q < CONV_LANES && q < n; q++) {
        memcpy(out + q * ld, &acc[q], sizeof acc[q]);
    }
}

/* The forward tile of 6 positions by two vectors of filters (16): 12
 * accumulators, and two weight vectors and a broadcast, fill the 16
 * registers of AVX2; a broadcast input serves 16 filters instead of 8. */
#define CONV_PAIR_POS 6

static inline __attribute__((always_inline)) void
conv_direct_tile2(const float *const *xb, size_t n, const float *kv, size_t kstride,
                  const size_t *off, size_t K, float *out, size_t ld)
{
    conv_v8 a0[CONV_PAIR_POS], a1[CONV_PAIR_POS], w0, w1;
    memcpy(&w0, kv + K * CONV_LANES, sizeof w0);
    memcpy(&w1, kv + kstride + K * CONV_LANES, sizeof w1);
#pragma GCC unroll 8
    for (size_t q = 0; q < CONV_PAIR_POS; q++) { /* all: GCC cannot tell n <= CONV_PAIR_POS */
        a0[q] = w0, a1[q] = w1;
    }
    for (size_t t = 0; t < K; t++) {
        memcpy(&w0, kv + t * CONV_LANES, sizeof w0);
        memcpy(&w1, kv + kstride + t * CONV_LANES, sizeof w1);
        const size_t o = off[t];
#pragma GCC unroll 8
        for (size_t q = 0; q < CONV_PAIR_POS && q < n; q++) {
            float xq = xb[q][o];
            a0[q] += xq * w0;
            a1[q] += xq * w1;
        }
    }
#pragma GCC unroll 8
    for (size_t q = 0; q < CONV_PAIR_POS && q < n; q++) {
        memcpy(out + q * ld, &a0[q], sizeof a0[q]);
        memcpy(out + q * ld + CONV_LANES, &a1[q], sizeof a1[q]);
    }
}

/* The tiles of one group of n positions (T of them but for samples of
 * fewer): vectors of filters by pairs when T is CONV_PAIR_POS, else one by
 * one, into the tile rows (Fp floats each). */
static inline __attribute__((always_inline)) void
conv_direct_tiles(const struct conv *c, const float *const *xb, size_t n, size_t T,
                  const float *kp, float *tile)
{
    const size_t K = c->g.K, nv = c->Fp / CONV_LANES, ks = (K + 1) * CONV_LANES;
    size_t v = 0;
    if (T == CONV_PAIR_POS) {
        for (; v + 2 <= nv; v += 2) {
            if (n == CONV_PAIR_POS) {
                conv_direct_tile2(xb, CONV_PAIR_POS, kp + v * ks, ks, c->off, K,
                                  tile + v * CONV_LANES, c->Fp);
            } else {
                conv_direct_tile2(xb, n, kp + v * ks, ks, c->off, K, tile + v * CONV_LANES,
                                  c->Fp);
            }
        }
    }
    for (; v < nv; v++) { /* one vector left over from the pairs, or the only one */
        if (n == CONV_LANES) {
            conv_direct_tile(xb, CONV_LANES, kp + v * ks, c->off, K, tile + v * CONV_LANES,
                             c->Fp);
        } else if (n == CONV_PAIR_POS) {
            conv_direct_tile(xb, CONV_PAIR_POS, kp + v * ks, c->off, K, tile + v * CONV_LANES,
                             c->Fp);
        } else {
            conv_direct_tile(xb, n, kp + v * ks, c->off, K, tile + v * CONV_LANES, c->Fp);
        }
    }
}

/* A tile of the forward for one vector of filters (F <= CONV_LANES): the
 * NP (CONV_LANES, or half as many for the end of a row) consecutive
 * positions of an output row whose padded input
 * starts at xb, written to out (rows of F floats). A row is stored as a
 * whole vector when that stays inside the tile's NP rows, its lanes past
 * F running into the rows after it, which are stored after it; the last
 * rows (all but the first NP - 8 / F) are stored exactly, so that nothing
 * is written past the tile (past y's end for the last one). Positions go
 * sw * C floats apart in xp. With one channel, stride 1, no dilation and
 * kw = KW (a constant: 3 or 5; 0 for the general case), the inputs of a
 * kernel row are the 8 + KW - 1 floats at xr, each loaded once for the
 * KW taps that read it, and the row's KW weight vectors stay in
 * registers: 12 broadcasts and 5 weights for 40 products (KW = 5),
 * where one broadcast per product made the tile wait on loads. */
static inline __attribute__((always_inline)) void
conv_direct_row_tile(const struct conv *c, const float *xb, const float *kp, float *out,
                     size_t KW, size_t NP)
{
    const struct conv_geom *g = &c->g;
    const size_t K = g->K, F = c->F, sC = g->w.stride * g->C;
    conv_v8 acc[CONV_LANES], w;
    memcpy(&w, kp + K * CONV_LANES, sizeof w);
#pragma GCC unroll 8
    for (size_t r = 0; r < NP; r++) {
        acc[r] = w;
    }
    if (KW) {
        for (size_t i = 0; i < g->h.k; i++) {
            const float *xr = xb + i * g->h.dilation * c->Wp;
            conv_v8 wr[5];
#pragma GCC unroll 5
            for (size_t j = 0; j < KW; j++) {
                memcpy(&wr[j], kp + (i * KW + j) * CONV_LANES, sizeof wr[j]);
            }
#pragma GCC unroll 8
            for (size_t r = 0; r < NP; r++) {
#pragma GCC unroll 5
                for (size_t j = 0; j < KW; j++) {
                    acc[r] += xr[r + j] * wr[j];
                }
            }
        }
    } else {
        for (size_t t = 0; t < K; t++) {
            const float *xt = xb + c->off[t];
            memcpy(&w, kp + t * CONV_LANES, sizeof w);
#pragma GCC unroll 8
            for (size_t r = 0; r < NP; r++) {
                acc[r] += xt[r * sC] * w;
            }
        }
    }
#pragma GCC unroll 8
    for (size_t r = 0; r < NP; r++) {
        if (r * F + CONV_LANES <= NP * F) {
            memcpy(out + r * F, &acc[r], sizeof acc[r]);
        } else {
            float last[CONV_LANES];
            memcpy(last, &acc[r], sizeof last);
            for (size_t f = 0; f < F && f < CONV_LANES; f++) {
                out[r * F + f] = last[f];
            }
        }
    }
}

/* The forward for one vector of filters and rows of at least CONV_LANES
 * positions: tiles of conv_direct_row_tile along each output row. The
 * rest of a row is a tile of CONV_LANES / 2 positions if it fits one,
 * else a whole tile; either overlaps the one before (its positions
 * computed twice, to the same bits). With whole tiles only, LeNet's 28
 * positions a row cost 32 positions' products. */
static inline __attribute__((always_inline)) void
conv_direct_rows(const struct conv *c, const float *xp, const float *kp, float *ys, size_t KW)
{
    const struct conv_geom *g = &c->g;
    const size_t Wo = g->w.out, F = c->F, C = g->C;
    for (size_t oh = 0; oh < g->h.out; oh++) {
        const float *xrow = xp + oh * g->h.stride * c->Wp * C;
        size_t ow = 0;
        for (; ow + CONV_LANES <= Wo; ow += CONV_LANES) {
            conv_direct_row_tile(c, xrow + ow * g->w.stride * C, kp, ys + (oh * Wo + ow) * F,
                                 KW, CONV_LANES);
        }
        if (ow < Wo) { /* the rest: a half tile if it will do, else a whole one */
            size_t np = Wo - ow <= CONV_LANES / 2 ? CONV_LANES / 2 : CONV_LANES;
            ow = Wo - np;
            float *yt = ys + (oh * Wo + ow) * F;
            if (np == CONV_LANES) {
                conv_direct_row_tile(c, xrow + ow * g->w.stride * C, kp, yt, KW, CONV_LANES);
            } else {
                conv_direct_row_tile(c, xrow + ow * g->w.stride * C, kp, yt, KW,
                                     CONV_LANES / 2);
            }
        }
    }
}

/* The wide forward tile: n <= CONV_WIDE_POS positions (the padded input of
 * position q starts at xb[q]) by the 16 filters whose packed weights are
 * kv, into out (rows ld apart). Each output is its bias plus the taps'
 * products in tap order, as in conv_direct_tile2. */
static inline __attribute__((always_inline)) void
conv_wide_tile(const float *const *xb, size_t n, const float *kv, const size_t *off, size_t K,
               size_t R, float *out, size_t ld)
{
    conv_v16 acc[CONV_WIDE_POS], w;
    memcpy(&w, kv + K * CONV_WIDE, sizeof w);
#pragma GCC unroll 12
    for (size_t q = 0; q < CONV_WIDE_POS; q++) {
        acc[q] = w;
    }
    if (R) { /* the taps of a kernel row are R contiguous inputs */
        for (size_t t0 = 0; t0 < K; t0 += R) {
            const size_t o0 = off[t0];
            const float *wr = kv + t0 * CONV_WIDE;
            for (size_t k = 0; k < R; k++) {
                memcpy(&w, wr + k * CONV_WIDE, sizeof w);
#pragma GCC unroll 12
                for (size_t q = 0; q < CONV_WIDE_POS && q < n; q++) {
                    acc[q] += xb[q][o0 + k] * w;
                }
            }
        }
    } else {
        for (size_t t = 0; t < K; t++) {
            memcpy(&w, kv + t * CONV_WIDE, sizeof w);
            const size_t o = off[t];
#pragma GCC unroll 12
            for (size_t q = 0; q < CONV_WIDE_POS && q < n; q++) {
                acc[q] += xb[q][o] * w;
            }
        }
    }
#pragma GCC unroll 12
    for (size_t q = 0; q < CONV_WIDE_POS && q < n; q++) {
        memcpy(out + q * ld, &acc[q], sizeof acc[q]);
    }
}

/* The wide forward of one sample (padded input xp) into ys: tiles of
 * CONV_WIDE_POS positions, the last overlapping the one before, written
 * in place (F is whole vectors). */
static inline __attribute__((always_inline)) void
conv_wide_forward(const struct conv *c, const float *xp, const float *kp, float *ys)
{
    const struct conv_geom *g = &c->g;
    const size_t F = c->F, K = g->K, P = g->P, Wo = g->w.out, T = CONV_WIDE_POS;
    const size_t R = g->w.dilation == 1 ? g->w.k * g->C : 0;
    for (size_t p0 = 0; p0 < P; p0 += T) {
        size_t n = P - p0 < T ? P - p0 : T;
        if (n < T && P >= T) {
            p0 = P - T, n = T;
        }
        const float *xb[CONV_WIDE_POS];
        for (size_t q = 0; q < n; q++) {
            size_t oh = (p0 + q) / Wo, ow = (p0 + q) % Wo;
            xb[q] = xp + (oh * g->h.stride * c->Wp + ow * g->w.stride) * g->C;
        }
        for (size_t v = 0; v < F / CONV_WIDE; v++) {
            const float *kv = kp + v * (K + 1) * CONV_WIDE;
            float *out = ys + p0 * F + v * CONV_WIDE;
            if (n == T) {
                conv_wide_tile(xb, T, kv, c->off, K, R, out, F);
            } else {
                conv_wide_tile(xb, n, kv, c->off, K, R, out, F);
            }
        }
    }
}

/* y = the convolution of x, by tiles of T positions of a sample (T =
 * CONV_LANES for one vector of filters, CONV_PAIR_POS for more; the wide
 * tiles' CONV_WIDE_POS). The last
 * tile of a sample overlaps the one before instead of being short: its
 * positions are computed twice, to the same bits. */
static inline __attribute__((always_inline)) void
conv_direct_forward_with(const struct conv *c, const float *params, const float *x, float *y,
                         size_t B, float *ws, int relu, int wide)
{
    const struct conv_geom *g = &c->g;
    const size_t F = c->F, Fp = c->Fp, C = g->C, P = g->P, Wo = g->w.out;
    const size_t T = Fp > CONV_LANES ? CONV_PAIR_POS : CONV_LANES;
    float *xp = ws + c->ws_xp, *kp = ws + c->ws_k, *tile = ws + c->ws_tile;
    conv_direct_pack(c, params, kp);
    memset(xp, 0, c->Hp * c->Wp * C * sizeof *xp);
    /* One channel, stride 1, no dilation along the rows, kernels 3 or 5
     * wide: conv_direct_row_tile's special case. */
    const size_t KW = C == 1 && g->w.stride == 1 && g->w.dilation == 1 &&
                              (g->w.k == 3 || g->w.k == 5) ? g->w.k : 0;
    for (size_t b = 0; b < B; b++) {
        conv_direct_pad(c, x + b * g->n_in, xp);
        float *ys = y + b * P * F;
        if (wide) {
            conv_wide_forward(c, xp, kp, ys);
            conv_relu(ys, relu ? P * F : 0);
            continue;
        }
        if (Fp == CONV_LANES && Wo >= CONV_LANES) {
            if (KW == 5) {
                conv_direct_rows(c, xp, kp, ys, 5);
            } else if (KW == 3) {
                conv_direct_rows(c, xp, kp, ys, 3);
            } else {
                conv_direct_rows(c, xp, kp, ys, 0);
            }
            conv_relu(ys, relu ? P * F : 0);
            continue;
        }
        for (size_t p0 = 0; p0 < P; p0 += T) {
            size_t n = P - p0 < T ? P - p0 : T;
            if (n < T && P >= T) {
                p0 = P - T, n = T;
            }
            const float *xb[CONV_LANES];
            for (size_t q = 0; q < n; q++) {
                size_t oh = (p0 + q) / Wo, ow = (p0 + q) % Wo;
                xb[q] = xp + (oh * g->h.stride * c->Wp + ow * g->w.stride) * C;
            }
            if (T == CONV_LANES) {
                conv_direct_tiles(c, xb, n, CONV_LANES, kp, tile);
            } else {
                conv_direct_tiles(c, xb, n, CONV_PAIR_POS, kp, tile);
            }
            for (size_t q = 0; q < n; q++) {
                conv_copy(ys + (p0 + q) * F, tile + q * Fp, F);
            }
        }
        conv_relu(ys, relu ? P * F : 0);
    }
}

/* The forward of the 8-lane tiles, and of the wide ones (c->wide), each
 * built for the CPUs it pays on: the x86-64-v4 build of the 8-lane tiles
 * ran LeNet's first layer 6% slower than the x86-64-v3 one (conv-rate,
 * alternating, on an AVX-512 Zen). */
CONV_FMA_CLONES
static void conv_direct_forward(const struct conv *c, const float *params, const float *x,
                                float *y, size_t B, float *ws, int relu)
{
    conv_direct_forward_with(c, params, x, y, B, ws, relu, 0);
}

CONV_WIDE_CLONES
static void conv_wide_forward_all(const struct conv *c, const float *params, const float *x,
                                  float *y, size_t B, float *ws, int relu)
{
    conv_direct_forward_with(c, params, x, y, B, ws, relu, 1);
}

typedef int32_t conv_i16 __attribute__((vector_size(CONV_WIDE * sizeof(int32_t))));

/* *out = a chain of two-source permutes over the NF vectors v: v[0] and
 * v[1] through idx[1], then what it gathered and v[k] through idx[k] for
 * k >= 2 (NF - 1 permutes; with NF = 1, v[0]). Both transposes of the
 * one-channel layers are such chains: conv_rowlanes_chunk's (filters to
 * channels last, conv_rowlanes_index) and conv_rowlanes_transpose's (back,
 * conv_rowlanes_dy_index). (The vector goes out by pointer: returned by
 * value it would change the ABI between the clones.) */
static inline __attribute__((always_inline)) void
conv_permute_chain(const conv_v16 *v, size_t NF, const conv_i16 idx[CONV_LANES], conv_v16 *out)
{
    conv_v16 r = v[0];
    if (NF > 1) {
        r = __builtin_shuffle(v[0], v[1], idx[1]);
    }
    for (size_t k = 2; k < NF; k++) {
        r = __builtin_shuffle(r, v[k], idx[k]);
    }
    *out = r;
}

/* The permutes of conv_rowlanes_chunk for NF filters: tidx[o][f] (f >= 1)
 * takes into lane m of out's vector o, e = 16 o + m, the column e / NF of
 * filter f when e % NF = f, and keeps what the lane holds when e % NF < f
 * (for f = 1, the lanes of filter 0 come from its vector). */
static void conv_rowlanes_index(size_t NF, conv_i16 tidx[CONV_LANES][CONV_LANES])
{
    for (size_t o = 0; o < NF; o++) {
        for (size_t f = 1; f < NF; f++) {
            for (size_t m = 0; m < CONV_WIDE; m++) {
                size_t e = o * CONV_WIDE + m, q = e / NF, ef = e % NF;
                int32_t keep = f == 1 ? (int32_t)q : (int32_t)m;
                tidx[o][f][m] = ef == f ? (int32_t)(CONV_WIDE + q) : ef < f ? keep : 0;
            }
        }
    }
}

/* 16 consecutive output columns [ow0, ow0 + 16) of output row oh, all NF
 * filters, of a one-channel layer: a lane per column, so no lane idles
 * (the 8-lane tiles hold LeNet's 6 filters in 8), and one load of a padded
 * input row serves every filter. Each output is the sum the 8-lane tiles
 * make, in their order (the bias, then the taps row by row), so the same
 * bits (tests/test_conv.c). xr points at padded row oh, column ow0; the
 * outputs go to out (channels last) through relu when asked. */
static inline __attribute__((always_inline)) void
conv_rowlanes_chunk(const struct conv *c, const float *xr, const float *kp, float *out, int relu,
                    size_t NF, const conv_i16 tidx[CONV_LANES][CONV_LANES])
{
    const size_t kh = c->g.h.k, kw = c->g.w.k, Wp = c->Wp, K = c->g.K;
    conv_v16 acc[CONV_LANES];
    for (size_t f = 0; f < NF; f++) {
        acc[f] = (conv_v16){0} + kp[K * CONV_LANES + f];
    }
    for (size_t i = 0; i < kh; i++) {
        for (size_t j = 0; j < kw; j++) {
            conv_v16 xv;
            memcpy(&xv, xr + i * Wp + j, sizeof xv);
            const float *w = kp + (i * kw + j) * CONV_LANES;
            for (size_t f = 0; f < NF; f++) {
                acc[f] += xv * w[f];
            }
        }
    }
    /* Channels last: out's vector o holds columns and filters e = 16 o + m
     * as (e / NF, e % NF); each is gathered from the filters' vectors by
     * NF - 1 two-source permutes (tidx, conv_rowlanes_index). */
    for (size_t o = 0; o < NF; o++) {
        conv_v16 r;
        conv_permute_chain(acc, NF, tidx[o], &r);
        if (relu) { /* r > 0 ? r : +0, as conv_relu (NaN and -0 too) */
            r = (conv_v16)((conv_i16)r & (r > 0.0f));
        }
        memcpy(out + o * CONV_WIDE, &r, sizeof r);
    }
}

/* The forward of a sample (padded input xp) by conv_rowlanes_chunk: each
 * output row in chunks of 16 columns, the last one overlapping the one
 * before (its columns computed twice, to the same bits). */
static inline __attribute__((always_inline)) void
conv_rowlanes_sample(const struct conv *c, const float *xp, const float *kp, float *ys, int relu,
                     size_t NF, const conv_i16 tidx[CONV_LANES][CONV_LANES])
{
    const size_t Wo = c->g.w.out;
    for (size_t oh = 0; oh < c->g.h.out; oh++) {
        for (size_t ow = 0; ow < Wo; ow += CONV_WIDE) {
            size_t o = ow + CONV_WIDE <= Wo ? ow : Wo - CONV_WIDE;
            conv_rowlanes_chunk(c, xp + oh * c->Wp + o, kp, ys + (oh * Wo + o) * NF, relu, NF,
                                tidx);
        }
    }
}

/* The row-lanes forward; F a constant in each call of the sample's
 * kernel (unrolled) or one call for any F. */
static inline __attribute__((always_inline)) void
conv_rowlanes_forward_with(const struct conv *c, const float *params, const float *x, float *y,
                           size_t B, float *ws, int relu, int unrolled)
{
    const struct conv_geom *g = &c->g;
    float *xp = ws + c->ws_xp, *kp = ws + c->ws_k;
    conv_i16 tidx[CONV_LANES][CONV_LANES];
    conv_rowlanes_index(c->F, tidx);
    conv_direct_pack(c, params, kp);
    memset(xp, 0, c->Hp * c->Wp * sizeof *xp);
    for (size_t b = 0; b < B; b++) {
        conv_direct_pad(c, x + b * g->n_in, xp);
        float *ys = y + b * g->P * c->F;
        if (!unrolled) {
            conv_rowlanes_sample(c, xp, kp, ys, relu, c->F, tidx);
            continue;
        }
        switch (c->F) { /* the filters as a constant: their loops unrolled */
        case 1: conv_rowlanes_sample(c, xp, kp, ys, relu, 1, tidx); break;
        case 2: conv_rowlanes_sample(c, xp, kp, ys, relu, 2, tidx); break;
        case 3: conv_rowlanes_sample(c, xp, kp, ys, relu, 3, tidx); break;
        case 4: conv_rowlanes_sample(c, xp, kp, ys, relu, 4, tidx); break;
        case 5: conv_rowlanes_sample(c, xp, kp, ys, relu, 5, tidx); break;
        case 6: conv_rowlanes_sample(c, xp, kp, ys, relu, 6, tidx); break;
        case 7: conv_rowlanes_sample(c, xp, kp, ys, relu, 7, tidx); break;
        default: conv_rowlanes_sample(c, xp, kp, ys, relu, 8, tidx); break;
        }
    }
}

#if CONV_RL_V4
CONV_RL_V4_TARGET
static void conv_rowlanes_forward_v4(const struct conv *c, const float *params, const float *x,
                                     float *y, size_t B, float *ws, int relu)
{
    conv_rowlanes_forward_with(c, params, x, y, B, ws, relu, 1);
}
#endif

CONV_RL_ANY_CLONES
static void conv_rowlanes_forward_any(const struct conv *c, const float *params, const float *x,
                                      float *y, size_t B, float *ws, int relu)
{
    conv_rowlanes_forward_with(c, params, x, y, B, ws, relu, 0);
}

static void conv_rowlanes_forward(const struct conv *c, const float *params, const float *x,
                                  float *y, size_t B, float *ws, int relu)
{
#if CONV_RL_V4
    if (c->rowlanes_v4) {
        conv_rowlanes_forward_v4(c, params, x, y, B, ws, relu);
        return;
    }
#endif
    conv_rowlanes_forward_any(c, params, x, y, B, ws, relu);
}

/* The most taps of a tile of the kernel's gradient (conv_direct_dk_one):
 * as many vector accumulators, with dy's vector and a broadcast input
 * within AVX2's 16 registers. */
#define CONV_DK_TAPS 12

/* One tile of the kernel's gradient for a sample: n <= CONV_DK_TAPS taps
 * (offsets off) by the CONV_LANES filters of dy whose rows (one per
 * position, lds apart)
 * start at dyv, summed over the sample's positions, then added into dk
 * (rows of CONV_LANES floats, one per tap) from tap skip on: the taps
 * before were done by the tile before (see conv_direct_dk_pair). The
 * sum of dy's rows, the bias's gradient, goes along in one more chain and
 * is added into db unless NULL: as a loop of its own, a single chain of
 * additions 3 cycles apart, it took 13% of LeNet's first layer. */
static inline __attribute__((always_inline)) void
conv_direct_dk_tile(const struct conv *c, const float *xp, const float *dyv, size_t lds,
                    const size_t *off, size_t n, size_t skip, float *dk, float *db)
{
    const struct conv_geom *g = &c->g;
    const size_t C = g->C;
    conv_v8 acc[CONV_DK_TAPS], accb = {0}, d;
    size_t o[CONV_DK_TAPS];
#pragma GCC unroll 12
    for (size_t q = 0; q < CONV_DK_TAPS; q++) { /* all: GCC cannot tell n <= CONV_DK_TAPS */
        acc[q] = (conv_v8){0};
        o[q] = q < n ? off[q] : 0;
    }
    for (size_t oh = 0; oh < g->h.out; oh++) {
        const float *row = xp + oh * g->h.stride * c->Wp * C;
        for (size_t ow = 0; ow < g->w.out; ow++, dyv += lds) {
            const float *bp = row + ow * g->w.stride * C;
            memcpy(&d, dyv, sizeof d);
            accb += d;
#pragma GCC unroll 12
            for (size_t q = 0; q < n; q++) {
                acc[q] += bp[o[q]] * d;
            }
        }
    }
    for (size_t q = skip; q < n; q++) {
        memcpy(&d, dk + q * CONV_LANES, sizeof d);
        d += acc[q];
        memcpy(dk + q * CONV_LANES, &d, sizeof d);
    }
    if (db) {
        memcpy(&d, db, sizeof d);
        d += accb;
        memcpy(db, &d, sizeof d);
    }
}

/* The bias's gradient of a sample for the nv vectors of filters at dyv
 * (rows lds apart): the sum of the rows, into db (the vector of filters
 * v at db + v * ks), up to 4 vectors at a time so that as many chains of
 * additions run together. */
static inline __attribute__((always_inline)) void
conv_direct_db(const struct conv *c, const float *dyv, size_t lds, size_t nv, float *db,
               size_t ks)
{
    for (size_t v0 = 0; v0 < nv; v0 += 4) {
        conv_v8 acc[4] = {{0}}, d;
        size_t n = nv - v0 < 4 ? nv - v0 : 4;
        for (size_t p = 0; p < c->g.P; p++) {
#pragma GCC unroll 4
            for (size_t v = 0; v < 4; v++) {
                if (v < n) {
                    memcpy(&d, dyv + p * lds + (v0 + v) * CONV_LANES, sizeof d);
                    acc[v] += d;
                }
            }
        }
        for (size_t v = 0; v < 4 && v0 + v < nv; v++) {
            memcpy(&d, db + (v0 + v) * ks, sizeof d);
            d += acc[v];
            memcpy(db + (v0 + v) * ks, &d, sizeof d);
        }
    }
}

/* conv_direct_dk_tile with 16 filters (wide) and skip = 0: each tap's sum
 * over the positions in order, as there, and the bias's as in
 * conv_direct_db. */
static inline __attribute__((always_inline)) void
conv_wide_dk_tile(const struct conv *c, const float *xp, const float *dyv, size_t lds,
                  const size_t *off, size_t n, float *dk, float *db)
{
    const struct conv_geom *g = &c->g;
    const size_t C = g->C;
    conv_v16 acc[CONV_DK_TAPS], accb = {0}, d;
    size_t o[CONV_DK_TAPS];
#pragma GCC unroll 12
    for (size_t q = 0; q < CONV_DK_TAPS; q++) {
        acc[q] = (conv_v16){0};
        o[q] = q < n ? off[q] : 0;
    }
    for (size_t oh = 0; oh < g->h.out; oh++) {
        const float *row = xp + oh * g->h.stride * c->Wp * C;
        for (size_t ow = 0; ow < g->w.out; ow++, dyv += lds) {
            const float *bp = row + ow * g->w.stride * C;
            memcpy(&d, dyv, sizeof d);
            accb += d;
#pragma GCC unroll 12
            for (size_t q = 0; q < CONV_DK_TAPS && q < n; q++) {
                acc[q] += bp[o[q]] * d;
            }
        }
    }
    for (size_t q = 0; q < n; q++) {
        memcpy(&d, dk + q * CONV_WIDE, sizeof d);
        d += acc[q];
        memcpy(dk + q * CONV_WIDE, &d, sizeof d);
    }
    if (db) {
        memcpy(&d, db, sizeof d);
        d += accb;
        memcpy(db, &d, sizeof d);
    }
}

/* conv_wide_dk_tile for n taps whose inputs are contiguous in the padded
 * sample (tap q at offset o0 + q: a kernel row's taps and channels when
 * the row is not dilated): one pointer and constant displacements
 * address every input, where the offsets of a general tile did not fit
 * the registers (LeNet's second layer: 6 of 8 reloaded from the stack at
 * every position, 15 loads for 9 vector operations). The same sums. */
static inline __attribute__((always_inline)) void
conv_wide_dk_run(const struct conv *c, const float *xp, const float *dyv, size_t lds, size_t o0,
                 size_t n, float *dk, float *db)
{
    const struct conv_geom *g = &c->g;
    const size_t C = g->C;
    conv_v16 acc[CONV_DK_TAPS], accb = {0}, d;
#pragma GCC unroll 12
    for (size_t q = 0; q < CONV_DK_TAPS; q++) {
        acc[q] = (conv_v16){0};
    }
    for (size_t oh = 0; oh < g->h.out; oh++) {
        const float *row = xp + oh * g->h.stride * c->Wp * C + o0;
        for (size_t ow = 0; ow < g->w.out; ow++, dyv += lds) {
            const float *bp = row + ow * g->w.stride * C;
            memcpy(&d, dyv, sizeof d);
            accb += d;
#pragma GCC unroll 12
            for (size_t q = 0; q < CONV_DK_TAPS && q < n; q++) {
                acc[q] += bp[q] * d;
            }
        }
    }
    for (size_t q = 0; q < n; q++) {
        memcpy(&d, dk + q * CONV_WIDE, sizeof d);
        d += acc[q];
        memcpy(dk + q * CONV_WIDE, &d, sizeof d);
    }
    if (db) {
        memcpy(&d, db, sizeof d);
        d += accb;
        memcpy(db, &d, sizeof d);
    }
}

/* The wide kernel gradient of a sample when a kernel row's R = kw * C
 * taps are contiguous (no dilation along the row) and R >= 6: each row by
 * the fewest tiles of at most CONV_DK_TAPS, of sizes that differ by at
 * most one (LeNet's second layer: R = 30, 3 tiles of 10). The bias with
 * the first tile. Returns 0 when the rows are not such runs. */
static inline __attribute__((always_inline)) int
conv_wide_dk_rows(const struct conv *c, const float *xp, const float *dyv, size_t lds,
                  float *dkv)
{
    const struct conv_geom *g = &c->g;
    const size_t R = g->w.k * g->C;
    if (g->w.dilation != 1 || R < 6) {
        return 0;
    }
    const size_t tiles = (R + CONV_DK_TAPS - 1) / CONV_DK_TAPS;
    const size_t base = R / tiles, extra = R % tiles;
    for (size_t i = 0; i < g->h.k; i++) {
        for (size_t k = 0, t0 = i * R; k < tiles; k++) {
            size_t n = base + (k < extra);
            float *db = t0 == 0 ? dkv + g->K * CONV_WIDE : NULL;
            const size_t o0 = c->off[t0];
            float *dk = dkv + t0 * CONV_WIDE;
            switch (n) {
            case 12: conv_wide_dk_run(c, xp, dyv, lds, o0, 12, dk, db); break;
            case 11: conv_wide_dk_run(c, xp, dyv, lds, o0, 11, dk, db); break;
            case 10: conv_wide_dk_run(c, xp, dyv, lds, o0, 10, dk, db); break;
            case 9: conv_wide_dk_run(c, xp, dyv, lds, o0, 9, dk, db); break;
            case 8: conv_wide_dk_run(c, xp, dyv, lds, o0, 8, dk, db); break;
            case 7: conv_wide_dk_run(c, xp, dyv, lds, o0, 7, dk, db); break;
            default: conv_wide_dk_run(c, xp, dyv, lds, o0, n, dk, db); break;
            }
            t0 += n;
        }
    }
    return 1;
}

/* One tile of n taps from t0 on (n a constant after inlining), the bias
 * with the first tile; 16 filters when wide (a constant too), else 8. */
static inline __attribute__((always_inline)) void
conv_direct_dk_at(const struct conv *c, const float *xp, const float *dyv, size_t lds,
                  float *dkv, size_t t0, size_t n, int wide)
{
    const size_t L = wide ? CONV_WIDE : CONV_LANES;
    float *db = t0 == 0 ? dkv + c->g.K * L : NULL;
    if (wide) {
        conv_wide_dk_tile(c, xp, dyv, lds, c->off + t0, n, dkv + t0 * L, db);
    } else {
        conv_direct_dk_tile(c, xp, dyv, lds, c->off + t0, n, 0, dkv + t0 * L, db);
    }
}

/* The kernel's gradient of a sample for one vector of filters: dy's
 * lanes at dyv (rows lds apart), into dkv (K + 1 rows of CONV_LANES).
 * The K taps go by the fewest tiles of at most CONV_DK_TAPS, of sizes
 * that differ by at most one (K = 25, a 5 x 5 kernel on one channel:
 * 9, 8 and 8), so that no tap is computed twice (overlapping tiles of 9
 * computed 27). Each tap of a tile is a chain of vector additions, one
 * per position, 3 cycles apart on the Zen 3 we measured on: 6 or more
 * chains keep its two adders busy (tiles of 5 taps, K = 25, left them
 * idle 1 cycle in 6), which tiles of 6 to 12 give from K = 13 on. */
static inline __attribute__((always_inline)) void
conv_direct_dk_one(const struct conv *c, const float *xp, const float *dyv, size_t lds,
                   float *dkv, int wide)
{
    if (wide && conv_wide_dk_rows(c, xp, dyv, lds, dkv)) {
        return;
    }
    const size_t cap = wide ? CONV_WIDE_DK_TAPS : CONV_DK_TAPS;
    const size_t K = c->g.K, tiles = (K + cap - 1) / cap;
    const size_t base = K / tiles, extra = K % tiles;
    for (size_t i = 0, t0 = 0; i < tiles; i++) {
        size_t n = base + (i < extra);
        switch (n) {
        case 12: conv_direct_dk_at(c, xp, dyv, lds, dkv, t0, 12, wide); break;
        case 11: conv_direct_dk_at(c, xp, dyv, lds, dkv, t0, 11, wide); break;
        case 10: conv_direct_dk_at(c, xp, dyv, lds, dkv, t0, 10, wide); break;
        case 9: conv_direct_dk_at(c, xp, dyv, lds, dkv, t0, 9, wide); break;
        case 8: conv_direct_dk_at(c, xp, dyv, lds, dkv, t0, 8, wide); break;
        case 7: conv_direct_dk_at(c, xp, dyv, lds, dkv, t0, 7, wide); break;
        case 6: conv_direct_dk_at(c, xp, dyv, lds, dkv, t0, 6, wide); break;
        default: conv_direct_dk_at(c, xp, dyv, lds, dkv, t0, n, wide); break;
        }
        t0 += n;
    }
}

/* As conv_direct_dk_tile for two vectors of filters (dyv and dyv +
 * CONV_LANES, into dk and dk + (K + 1) * CONV_LANES) and n <=
 * CONV_PAIR_POS taps: a broadcast input serves 16 filters. */
static inline __attribute__((always_inline)) void
conv_direct_dk_tile2(const struct conv *c, const float *xp, const float *dyv, size_t lds,
                     const size_t *off, size_t n, size_t skip, float *dk)
{
    const struct conv_geom *g = &c->g;
    const size_t C = g->C, ks = (g->K + 1) * CONV_LANES;
    conv_v8 a0[CONV_PAIR_POS], a1[CONV_PAIR_POS], d0, d1;
    size_t o[CONV_PAIR_POS];
#pragma GCC unroll 8
    for (size_t q = 0; q < CONV_PAIR_POS; q++) { /* all: GCC cannot tell n <= CONV_PAIR_POS */
        a0[q] = a1[q] = (conv_v8){0};
        o[q] = q < n ? off[q] : 0;
    }
    for (size_t oh = 0; oh < g->h.out; oh++) {
        const float *row = xp + oh * g->h.stride * c->Wp * C;
        for (size_t ow = 0; ow < g->w.out; ow++, dyv += lds) {
            const float *bp = row + ow * g->w.stride * C;
            memcpy(&d0, dyv, sizeof d0);
            memcpy(&d1, dyv + CONV_LANES, sizeof d1);
#pragma GCC unroll 8
            for (size_t q = 0; q < CONV_PAIR_POS && q < n; q++) {
                float xq = bp[o[q]];
                a0[q] += xq * d0;
                a1[q] += xq * d1;
            }
        }
    }
    for (size_t q = skip; q < CONV_PAIR_POS && q < n; q++) {
        memcpy(&d0, dk + q * CONV_LANES, sizeof d0);
        memcpy(&d1, dk + ks + q * CONV_LANES, sizeof d1);
        d0 += a0[q], d1 += a1[q];
        memcpy(dk + q * CONV_LANES, &d0, sizeof d0);
        memcpy(dk + ks + q * CONV_LANES, &d1, sizeof d1);
    }
}

/* conv_direct_dk_one for the two vectors of filters at dyv, into dkv and
 * the next vector's rows, by tiles of CONV_PAIR_POS taps; but the bias,
 * which conv_direct_dkernel sums for all pairs at once (its 12 registers
 * of accumulators leave no room for 2 more). */
static inline __attribute__((always_inline)) void
conv_direct_dk_pair(const struct conv *c, const float *xp, const float *dyv, size_t lds,
                    float *dkv)
{
    const size_t K = c->g.K, T = CONV_PAIR_POS;
    for (size_t t0 = 0; t0 < K; t0 += T) {
        size_t n = K - t0 < T ? K - t0 : T, skip = 0;
        if (n < T && K >= T) {
            skip = t0 - (K - T), t0 = K - T, n = T;
        }
        if (n == T) {
            conv_direct_dk_tile2(c, xp, dyv, lds, c->off + t0, T, skip, dkv + t0 * CONV_LANES);
        } else {
            conv_direct_dk_tile2(c, xp, dyv, lds, c->off + t0, n, skip, dkv + t0 * CONV_LANES);
        }
    }
}

/* dy of sample b as the tiles read it, into *lds its row length. The
 * tiles read dy's rows of F floats in place, a vector of CONV_LANES at a
 * time: lanes past F read the next position's (their sums are never added
 * into dparams), which past the last sample's end would be outside dy, so
 * that sample alone goes through a copy with rows of Fp floats, zero past
 * F. (The copy of every sample took 20-30% of the kernel's gradient of
 * LeNet's first layer, F = 6; perf.) With a relu applied (relu), every
 * sample's dy is masked where y <= 0 into dym, rows of F and a vector of
 * zeros after the last: one vectorized pass over a sample that the tiles
 * then read from L1, where relu's own node made a pass over the whole
 * micro-shard and a buffer of it. */
static inline __attribute__((always_inline)) const float *
conv_direct_dy_of(const struct conv *c, const float *dy, const float *y, size_t b, size_t B,
                  int relu, float *dym, size_t *lds)
{
    const size_t F = c->F, Fp = c->Fp, P = c->g.P;
    const float *dys = dy + b * P * F;
    *lds = F;
    if (relu) {
        conv_relu_mask(dys, y + b * P * F, P * F, dym);
        return dym;
    }
    if (b == B - 1 && F < Fp) {
        memset(dym, 0, P * Fp * sizeof *dym);
        for (size_t p = 0; p < P; p++) {
            conv_copy(dym + p * Fp, dys + p * F, F);
        }
        *lds = Fp;
        return dym;
    }
    return dys;
}

/* dparams += the kernel's (and bias's) gradient of one sample (its padded
 * input xp, its dy dys with rows lds apart), summed in the packed layout of
 * conv_direct_pack in dk, by pairs of vectors of filters when there are
 * more than one. */
static inline __attribute__((always_inline)) void
conv_direct_dkernel(const struct conv *c, const float *xp, const float *dys, size_t lds,
                    float *dk, int wide)
{
    const size_t K = c->g.K, Fp = c->Fp;
    size_t v = 0;
    if (wide) {
        for (; v < Fp / CONV_WIDE; v++) {
            conv_direct_dk_one(c, xp, dys + v * CONV_WIDE, lds, dk + v * (K + 1) * CONV_WIDE, 1);
        }
        return;
    }
    if (Fp > CONV_LANES) {
        size_t pairs = Fp / CONV_LANES / 2;
        conv_direct_db(c, dys, lds, 2 * pairs, dk + K * CONV_LANES, (K + 1) * CONV_LANES);
        for (; v + 2 <= Fp / CONV_LANES; v += 2) {
            conv_direct_dk_pair(c, xp, dys + v * CONV_LANES, lds, dk + v * (K + 1) * CONV_LANES);
        }
    }
    for (; v < Fp / CONV_LANES; v++) {
        conv_direct_dk_one(c, xp, dys + v * CONV_LANES, lds, dk + v * (K + 1) * CONV_LANES, 0);
    }
}

/* dx of the direct method, without dcols and col2im (which took half of
 * the step of LeNet's second layer, perf): the gradient of position p
 * for kernel row i is sum_f dy[p][f] times the kernel's row i for filter
 * f, a run of ((kw - 1) * dw + 1) * C floats (the kernel row's taps and
 * channels, with zeros between dilated taps) that is contiguous in the
 * padded sample's gradient dxp, at the place the forward read the row
 * from. wt holds these runs, transposed from the kernel: wt[(f * kh + i)
 * * Lv + l], zero from the run's end to Lv. */
static void conv_direct_dx_pack(const struct conv *c, const float *params, float *wt)
{
    const struct conv_geom *g = &c->g;
    const size_t F = c->F, C = g->C, kh = g->h.k, kw = g->w.k;
    memset(wt, 0, F * kh * c->Lv * sizeof *wt);
    for (size_t f = 0; f < F; f++) {
        for (size_t i = 0; i < kh; i++) {
            for (size_t j = 0; j < kw; j++) {
                for (size_t ch = 0; ch < C; ch++) {
                    wt[(f * kh + i) * c->Lv + j * g->w.dilation * C + ch] =
                        params[((i * kw + j) * C + ch) * F + f];
                }
            }
        }
    }
}

/* One tile of dx: nr <= R positions of a column (their dy rows ldy
 * floats apart from dy0; their runs in dxp starting at xb[r]) by NV
 * vectors of the runs (from wt), R * NV <= 12 accumulators and NV weight
 * vectors: for each kernel row, the sums over the filters, then added
 * into dxp in the order of the positions. nr is R (a constant) but for a
 * column's last tile, so that GCC unrolls the full tiles without tests.
 * The vectors past a run's end add 0 (wt is 0 there) to the floats after
 * it, which dxp's last vector of room keeps inside the workspace. */
static inline __attribute__((always_inline)) void
conv_direct_dx_tile(const struct conv *c, const float *dy0, size_t ldy, size_t nr,
                    float *const *xb, const float *wt, size_t R, size_t NV)
{
    const struct conv_geom *g = &c->g;
    const size_t F = c->F, kh = g->h.k, step = g->h.dilation * c->Wp * g->C;
    for (size_t i = 0; i < kh; i++) {
        conv_v8 acc[12], w[2], d;
#pragma GCC unroll 12
        for (size_t q = 0; q < R * NV; q++) {
            acc[q] = (conv_v8){0};
        }
        for (size_t f = 0; f < F; f++) {
            const float *wf = wt + (f * kh + i) * c->Lv;
#pragma GCC unroll 2
            for (size_t v = 0; v < NV; v++) {
                memcpy(&w[v], wf + v * CONV_LANES, sizeof w[v]);
            }
#pragma GCC unroll 12
            for (size_t r = 0; r < R; r++) {
                if (r < nr) {
                    float dr = dy0[r * ldy + f];
#pragma GCC unroll 2
                    for (size_t v = 0; v < NV; v++) {
                        acc[r * NV + v] += dr * w[v];
                    }
                }
            }
        }
#pragma GCC unroll 12
        for (size_t r = 0; r < R; r++) {
            if (r < nr) {
                float *o = xb[r] + i * step;
#pragma GCC unroll 2
                for (size_t v = 0; v < NV; v++) {
                    memcpy(&d, o + v * CONV_LANES, sizeof d);
                    d += acc[r * NV + v];
                    memcpy(o + v * CONV_LANES, &d, sizeof d);
                }
            }
        }
    }
}

/* The sums of conv_wide_dx_tile for the nk kernel rows from i on: nk * R
 * accumulators, each dy broadcast once for all nk rows; added into dxp row
 * by row of the kernel, so each float of dxp gets its terms in the same
 * order as from one kernel row at a time. */
static inline __attribute__((always_inline)) void
conv_wide_dx_krows(const struct conv *c, const float *dy0, size_t ldy, size_t nr,
                   float *const *xb, const float *wt, size_t R, size_t i, size_t nk)
{
    const struct conv_geom *g = &c->g;
    const size_t F = c->F, kh = g->h.k, step = g->h.dilation * c->Wp * g->C;
    conv_v16 acc[2][6], w[2], d;
#pragma GCC unroll 2
    for (size_t k = 0; k < nk; k++) {
#pragma GCC unroll 6
        for (size_t r = 0; r < R; r++) {
            acc[k][r] = (conv_v16){0};
        }
    }
    for (size_t f = 0; f < F; f++) {
#pragma GCC unroll 2
        for (size_t k = 0; k < nk; k++) {
            memcpy(&w[k], wt + (f * kh + i + k) * c->Lv, sizeof w[k]);
        }
#pragma GCC unroll 6
        for (size_t r = 0; r < R; r++) {
            if (r < nr) {
                float s = dy0[r * ldy + f];
#pragma GCC unroll 2
                for (size_t k = 0; k < nk; k++) {
                    acc[k][r] += s * w[k];
                }
            }
        }
    }
#pragma GCC unroll 2
    for (size_t k = 0; k < nk; k++) {
#pragma GCC unroll 6
        for (size_t r = 0; r < R; r++) {
            if (r < nr) {
                float *o = xb[r] + (i + k) * step;
                memcpy(&d, o, sizeof d);
                d += acc[k][r];
                memcpy(o, &d, sizeof d);
            }
        }
    }
}

/* conv_direct_dx_tile with one vector of 16 floats of the runs for the
 * 8-lane tiles' two (R = 6, NV = 2): the same sums, added in the same
 * order. Tiles of two wide vectors (12 accumulators) would change that
 * order: runs of neighbouring positions overlap, so a float of dxp gets
 * its terms from several offsets in the runs, and conv_direct_backward
 * adds them by the runs' pieces of 16 floats. Two kernel rows at a time
 * give the 12 accumulators instead (6 of them wait on the FMAs' latency;
 * LeNet's second layer: its dx 1.3x faster). */
static inline __attribute__((always_inline)) void
conv_wide_dx_tile(const struct conv *c, const float *dy0, size_t ldy, size_t nr,
                  float *const *xb, const float *wt, size_t R)
{
    const size_t kh = c->g.h.k;
    size_t i = 0;
    for (; i + 2 <= kh; i += 2) {
        conv_wide_dx_krows(c, dy0, ldy, nr, xb, wt, R, i, 2);
    }
    if (i < kh) {
        conv_wide_dx_krows(c, dy0, ldy, nr, xb, wt, R, i, 1);
    }
}

/* The positions of a sample by tiles of R down a column, for the NV
 * vectors of the runs from float f0 on (one of 16 floats when wide, with
 * R = 6; else NV of 8). The positions of a tile add into
 * different rows of dxp: along a row, the runs of neighbours overlap,
 * and adding one right after the other made each load wait for the
 * store before it (a store the load only partly overlaps cannot be
 * forwarded: a third of conv_direct_dx's time, perf). R = 6 by NV = 2
 * (or 12 by 1) fills AVX2's 16 registers with 12 accumulators, the
 * weights and a broadcast: 8 loads for 12 products; 3 by 4 needed one
 * register more than there are (GCC kept 3 accumulators on the stack). */
static inline __attribute__((always_inline)) void
conv_direct_dx_runs(const struct conv *c, const float *dys, size_t lds, float *dxp,
                    const float *wt, size_t f0, size_t R, size_t NV, int wide)
{
    const struct conv_geom *g = &c->g;
    const size_t Ho = g->h.out, Wo = g->w.out, C = g->C;
    for (size_t ow = 0; ow < Wo; ow++) {
        for (size_t oh0 = 0; oh0 < Ho; oh0 += R) {
            size_t nr = Ho - oh0 < R ? Ho - oh0 : R;
            float *xb[12];
            for (size_t r = 0; r < nr; r++) {
                xb[r] = dxp + ((oh0 + r) * g->h.stride * c->Wp + ow * g->w.stride) * C + f0;
            }
            const float *dy0 = dys + (oh0 * Wo + ow) * lds;
            if (wide && nr == R) {
                conv_wide_dx_tile(c, dy0, Wo * lds, R, xb, wt + f0, 6);
            } else if (wide) {
                conv_wide_dx_tile(c, dy0, Wo * lds, nr, xb, wt + f0, 6);
            } else if (nr == R) {
                conv_direct_dx_tile(c, dy0, Wo * lds, R, xb, wt + f0, R, NV);
            } else {
                conv_direct_dx_tile(c, dy0, Wo * lds, nr, xb, wt + f0, R, NV);
            }
        }
    }
}

/* Copies the interior of the padded sample's gradient dxp to the
 * sample's dx, all of it written (0 for the rows and columns no kernel
 * reads), and zeroes dxp for the next sample. */
static void conv_direct_unpad(const struct conv *c, float *dxp, float *dxs)
{
    const struct conv_geom *g = &c->g;
    const size_t C = g->C, W = g->w.in, pt = g->h.pad, pl = g->w.pad;
    size_t wn = W < c->Wp - pl ? W : c->Wp - pl;
    for (size_t h = 0; h < g->h.in; h++) {
        float *row = dxs + h * W * C;
        size_t n = 0;
        if (h + pt < c->Hp) {
            memcpy(row, dxp + ((h + pt) * c->Wp + pl) * C, wn * C * sizeof *row);
            n = wn * C;
        }
        memset(row + n, 0, (W * C - n) * sizeof *row);
    }
    memset(dxp, 0, c->Hp * c->Wp * C * sizeof *dxp);
}

/* The row-lanes kernel gradient (c->rowlanes: one channel, at most 8
 * filters, stride and dilation 1, rows of 16 or more, on CPUs with
 * AVX-512), by output columns as the forward (conv_rowlanes_chunk): for
 * filter f and tap (i, j), dk[i][j][f] = the sum over positions of
 * xp[oh + i][ow + j] * dy[oh][ow][f], with a lane per output column of a
 * chunk of 16, so every lane works (the 8-lane tiles hold LeNet's 6
 * filters in 8, and load a broadcast input per product), and one load of a
 * padded input row serves 6 filters. Lane l sums the columns ow = l mod
 * 16 of every row, sample after sample, in dkv; the 16 lanes are added
 * once, after the micro-shard (conv_hsum16). So the order of the sums is
 * not the 8-lane tiles': the bits of dparams differ from theirs in the
 * last places (tests/test_conv.c: within float tolerance, dparams the same
 * with dx and without, the gradient by central differences). */

/* One pass: filters f0 .. f0 + 5 (their rows of dyt; those past F are
 * zeros) by the NJ <= 4 taps j0 .. of kernel row i, over every output row and chunk of a sample, added
 * into dkv. Columns past Wo read dyt's zeros, and xp's next row or the
 * vector of zeros after it: they add nothing. */
static inline __attribute__((always_inline)) void
conv_rowlanes_dk_pass(const struct conv *c, const float *xp, const float *dyt, size_t f0,
                      size_t i, size_t j0, float *dkv, size_t NJ)
{
    const size_t Ho = c->g.h.out, Wo16 = c->Wo16, Wp = c->Wp, K = c->g.K, kw = c->g.w.k;
    const size_t fs = Ho * Wo16; /* from a filter's rows to the next filter's */
    conv_v16 acc[CONV_RL_GROUP][CONV_RL_TAPS], d[CONV_RL_GROUP], xv;
#pragma GCC unroll 6
    for (size_t k = 0; k < CONV_RL_GROUP; k++) {
#pragma GCC unroll 4
        for (size_t j = 0; j < NJ; j++) {
            acc[k][j] = (conv_v16){0};
        }
    }
    for (size_t oh = 0; oh < Ho; oh++) {
        const float *xr = xp + (oh + i) * Wp + j0, *dr = dyt + f0 * fs + oh * Wo16;
        for (size_t ow = 0; ow < Wo16; ow += CONV_WIDE) {
#pragma GCC unroll 6
            for (size_t k = 0; k < CONV_RL_GROUP; k++) {
                memcpy(&d[k], dr + k * fs + ow, sizeof d[k]);
            }
#pragma GCC unroll 4
            for (size_t j = 0; j < NJ; j++) {
                memcpy(&xv, xr + ow + j, sizeof xv);
#pragma GCC unroll 6
                for (size_t k = 0; k < CONV_RL_GROUP; k++) {
                    acc[k][j] += xv * d[k];
                }
            }
        }
    }
#pragma GCC unroll 6
    for (size_t k = 0; k < CONV_RL_GROUP; k++) {
#pragma GCC unroll 4
        for (size_t j = 0; j < NJ; j++) {
            float *o = dkv + ((f0 + k) * (K + 1) + i * kw + j0 + j) * CONV_WIDE;
            memcpy(&xv, o, sizeof xv);
            xv += acc[k][j];
            memcpy(o, &xv, sizeof xv);
        }
    }
}

/* The permutes of conv_rowlanes_transpose for NF filters, the inverse of
 * conv_rowlanes_index: lane m of filter f's vector takes element e = m NF
 * + f of the NF vectors of 16 columns by NF filters, that is lane e % 16
 * of vector e / 16. tidx[f][1] gathers from vectors 0 and 1, tidx[f][k]
 * (k >= 2) keeps the lanes gathered (index m) and takes vector k's. */
static void conv_rowlanes_dy_index(size_t NF, conv_i16 tidx[CONV_LANES][CONV_LANES])
{
    for (size_t f = 0; f < NF; f++) {
        for (size_t k = 1; k < NF; k++) {
            for (size_t m = 0; m < CONV_WIDE; m++) {
                size_t e = m * NF + f, v = e / CONV_WIDE, l = e % CONV_WIDE;
                int32_t keep = k == 1 ? (v == 0 ? (int32_t)l : 0) : (int32_t)m;
                tidx[f][k][m] = v == k ? (int32_t)(CONV_WIDE + l) : keep;
            }
        }
    }
}

/* dy of a sample, rows of F = NF floats per position (src), into dyt[f][oh]
 * [ow] (rows of Wo16 floats): each chunk of 16 columns is NF vectors,
 * permuted into one vector per filter (NF - 1 two-source permutes each).
 * A row's last chunk, shorter than 16 columns, reads the next row's first
 * columns, and its lanes past Wo are cleared (dyt stays 0 past Wo); the
 * sample's last such chunk is copied first into a buffer of zeros, which
 * keeps the reads inside dy. */
static inline __attribute__((always_inline)) void
conv_rowlanes_transpose(const struct conv *c, const float *src, float *dyt, size_t NF,
                        const conv_i16 tidx[CONV_LANES][CONV_LANES])
{
    const size_t Ho = c->g.h.out, Wo = c->g.w.out, Wo16 = c->Wo16;
    const size_t last = Wo16 - CONV_WIDE; /* the column of a row's last chunk */
    conv_i16 keep;
    for (size_t m = 0; m < CONV_WIDE; m++) {
        keep[m] = last + m < Wo ? -1 : 0;
    }
    float tail[CONV_LANES * CONV_WIDE] = {0};
    for (size_t oh = 0; oh < Ho; oh++) {
        for (size_t ow = 0; ow < Wo; ow += CONV_WIDE) {
            const float *s = src + (oh * Wo + ow) * NF;
            if (ow == last && oh + 1 == Ho && last + CONV_WIDE > Wo) {
                memcpy(tail, s, (Wo - ow) * NF * sizeof *tail);
                s = tail;
            }
            conv_v16 in[CONV_LANES];
            for (size_t k = 0; k < NF; k++) {
                memcpy(&in[k], s + k * CONV_WIDE, sizeof in[k]);
            }
            for (size_t f = 0; f < NF; f++) {
                conv_v16 r;
                conv_permute_chain(in, NF, tidx[f], &r);
                if (ow == last) {
                    r = (conv_v16)((conv_i16)r & keep);
                }
                memcpy(dyt + (f * Ho + oh) * Wo16 + ow, &r, sizeof r);
            }
        }
    }
}

/* The kernel's and the bias's gradient of sample b (its padded input xp)
 * into dkv: dy masked where y <= 0 with a relu applied (into dym, as
 * conv_direct_dy_of), transposed into dyt (F a constant in the transpose
 * when unrolled), the bias's by lanes, then the passes. */
static inline __attribute__((always_inline)) void
conv_rowlanes_dk_sample(const struct conv *c, const float *xp, const float *dy, const float *y,
                        size_t b, int relu, float *dym, float *dyt, float *dkv,
                        const conv_i16 tidx[CONV_LANES][CONV_LANES], int unrolled)
{
    const struct conv_geom *g = &c->g;
    const size_t F = c->F, Ho = g->h.out, Wo16 = c->Wo16, K = g->K, PF = g->P * F;
    const size_t kh = g->h.k, kw = g->w.k;
    const float *src = dy + b * PF;
    if (relu) {
        conv_relu_mask(src, y + b * PF, PF, dym);
        src = dym;
    }
    if (!unrolled) {
        conv_rowlanes_transpose(c, src, dyt, F, tidx);
    } else {
        switch (F) { /* the filters as a constant: the permutes unrolled */
        case 1: conv_rowlanes_transpose(c, src, dyt, 1, tidx); break;
        case 2: conv_rowlanes_transpose(c, src, dyt, 2, tidx); break;
        case 3: conv_rowlanes_transpose(c, src, dyt, 3, tidx); break;
        case 4: conv_rowlanes_transpose(c, src, dyt, 4, tidx); break;
        case 5: conv_rowlanes_transpose(c, src, dyt, 5, tidx); break;
        case 6: conv_rowlanes_transpose(c, src, dyt, 6, tidx); break;
        case 7: conv_rowlanes_transpose(c, src, dyt, 7, tidx); break;
        default: conv_rowlanes_transpose(c, src, dyt, 8, tidx); break;
        }
    }
    for (size_t f = 0; f < F && c->use_bias; f++) {
        conv_v16 acc = {0}, d;
        for (size_t r = 0; r < Ho * Wo16; r += CONV_WIDE) {
            memcpy(&d, dyt + f * Ho * Wo16 + r, sizeof d);
            acc += d;
        }
        float *o = dkv + (f * (K + 1) + K) * CONV_WIDE;
        memcpy(&d, o, sizeof d);
        d += acc;
        memcpy(o, &d, sizeof d);
    }
    for (size_t f0 = 0; f0 < F; f0 += CONV_RL_GROUP) {
        for (size_t i = 0; i < kh; i++) {
            for (size_t j0 = 0; j0 < kw; j0 += CONV_RL_TAPS) {
                switch (kw - j0 < CONV_RL_TAPS ? kw - j0 : CONV_RL_TAPS) {
                case 1: conv_rowlanes_dk_pass(c, xp, dyt, f0, i, j0, dkv, 1); break;
                case 2: conv_rowlanes_dk_pass(c, xp, dyt, f0, i, j0, dkv, 2); break;
                case 3: conv_rowlanes_dk_pass(c, xp, dyt, f0, i, j0, dkv, 3); break;
                default: conv_rowlanes_dk_pass(c, xp, dyt, f0, i, j0, dkv, 4); break;
                }
            }
        }
    }
}

/* The 16 lanes of v added in a fixed order (halves, then quarters...). */
static float conv_hsum16(const float *v)
{
    float s[8];
    for (size_t k = 0; k < 8; k++) {
        s[k] = v[k] + v[k + 8];
    }
    for (size_t k = 0; k < 4; k++) {
        s[k] += s[k + 4];
    }
    return (s[0] + s[2]) + (s[1] + s[3]);
}

/* dparams += the gradient by lanes dkv, each float the sum of its lanes. */
static void conv_rowlanes_dk_add(const struct conv *c, const float *dkv, float *dparams)
{
    const size_t K = c->g.K, F = c->F;
    for (size_t t = 0; t < K + c->use_bias; t++) {
        for (size_t f = 0; f < F; f++) {
            dparams[t * F + f] += conv_hsum16(dkv + (f * (K + 1) + t) * CONV_WIDE);
        }
    }
}

/* The direct method's backward, sample by sample: the kernel's gradient
 * (conv_direct_dkernel) and dx unless NULL (see conv_direct_dx_pack), both
 * from the sample's dy while it is in the caches (with a relu, the masked
 * copy conv_direct_dy_of makes). The kernel's gradient is summed over the
 * samples in order; a float of dx is the sum of its positions' products
 * (each a sum over the filters in order), added in the order of
 * conv_direct_dx_runs' loops (the runs' vectors by pairs, the output
 * columns, the tiles down a column, the kernel rows, the positions of a
 * tile); nothing depends on B. wide: the 16-lane tiles; cols: the
 * kernel's gradient by output columns (c->rowlanes), F a constant in it
 * when unrolled. */
static inline __attribute__((always_inline)) void
conv_direct_backward_with(const struct conv *c, const float *params, const float *x,
                          const float *y, const float *dy, float *dx, float *dparams, size_t B,
                          float *ws, int relu, int wide, int cols, int unrolled)
{
    const struct conv_geom *g = &c->g;
    const size_t K = g->K, F = c->F, nv = c->Lv / CONV_LANES;
    float *xp = ws + c->ws_xp, *dk = ws + c->ws_k, *dym = ws + c->ws_dy;
    float *dxp = ws + c->ws_dxp, *wt = ws + c->ws_wt;
    float *dyt = cols ? ws + c->ws_dyt : NULL, *dkv = cols ? ws + c->ws_dkv : NULL;
    conv_i16 tidx[CONV_LANES][CONV_LANES];
    if (cols) {
        conv_rowlanes_dy_index(F, tidx);
        /* the rows of the filters past F: the transpose writes the others */
        memset(dyt + F * g->h.out * c->Wo16, 0, (c->Fg - F) * g->h.out * c->Wo16 * sizeof *dyt);
        memset(dkv, 0, c->Fg * (K + 1) * CONV_WIDE * sizeof *dkv);
    } else {
        memset(dk, 0, (K + 1) * c->Fp * sizeof *dk);
    }
    memset(xp, 0, (c->Hp * c->Wp * g->C + CONV_WIDE) * sizeof *xp);
    memset(dym + g->P * F, 0, CONV_LANES * sizeof *dym); /* read past the masked rows */
    if (dx) {
        conv_direct_dx_pack(c, params, wt);
        memset(dxp, 0, (c->Hp * c->Wp * g->C + CONV_LANES) * sizeof *dxp);
    }
    for (size_t b = 0; b < B; b++) {
        conv_direct_pad(c, x + b * g->n_in, xp);
        if (cols) {
            conv_rowlanes_dk_sample(c, xp, dy, y, b, relu, dym, dyt, dkv, tidx, unrolled);
        }
        if (cols && !dx) {
            continue;
        }
        size_t lds = F;
        const float *dys = cols && relu ? dym /* masked by conv_rowlanes_dk_sample */
                                        : conv_direct_dy_of(c, dy, y, b, B, relu, dym, &lds);
        if (!cols) {
            conv_direct_dkernel(c, xp, dys, lds, dk, wide);
        }
        if (!dx) {
            continue;
        }
        size_t v0 = 0;
        for (; wide && nv - v0 >= 2; v0 += 2) {
            conv_direct_dx_runs(c, dys, lds, dxp, wt, v0 * CONV_LANES, 6, 1, 1);
        }
        for (; v0 < nv; v0 += 2) {
            if (nv - v0 >= 2) {
                conv_direct_dx_runs(c, dys, lds, dxp, wt, v0 * CONV_LANES, 6, 2, 0);
            } else {
                conv_direct_dx_runs(c, dys, lds, dxp, wt, v0 * CONV_LANES, 12, 1, 0);
            }
        }
        conv_direct_unpad(c, dxp, dx + b * g->n_in);
    }
    if (cols) {
        conv_rowlanes_dk_add(c, dkv, dparams);
    } else {
        conv_direct_unpack_add(c, dk, dparams);
    }
}

/* The backward of the 8-lane tiles and of the wide ones, as the forward. */
CONV_FMA_CLONES
static void conv_direct_backward(const struct conv *c, const float *params, const float *x,
                                 const float *y, const float *dy, float *dx, float *dparams,
                                 size_t B, float *ws, int relu)
{
    conv_direct_backward_with(c, params, x, y, dy, dx, dparams, B, ws, relu, 0, 0, 0);
}

CONV_WIDE_CLONES
static void conv_wide_backward_all(const struct conv *c, const float *params, const float *x,
                                   const float *y, const float *dy, float *dx, float *dparams,
                                   size_t B, float *ws, int relu)
{
    conv_direct_backward_with(c, params, x, y, dy, dx, dparams, B, ws, relu, 1, 0, 0);
}

/* The backward of a layer whose forward goes by output columns: its
 * kernel gradient by output columns too (conv_rowlanes_dk_sample), dx by
 * the 8-lane runs; F unrolled on CPUs with AVX-512 (CONV_RL_V4). */
#if CONV_RL_V4
CONV_RL_V4_TARGET
static void conv_rowlanes_backward_v4(const struct conv *c, const float *params, const float *x,
                                      const float *y, const float *dy, float *dx,
                                      float *dparams, size_t B, float *ws, int relu)
{
    conv_direct_backward_with(c, params, x, y, dy, dx, dparams, B, ws, relu, 0, 1, 1);
}
#endif

CONV_RL_ANY_CLONES
static void conv_rowlanes_backward_any(const struct conv *c, const float *params, const float *x,
                                       const float *y, const float *dy, float *dx,
                                       float *dparams, size_t B, float *ws, int relu)
{
    conv_direct_backward_with(c, params, x, y, dy, dx, dparams, B, ws, relu, 0, 1, 0);
}

static void conv_rowlanes_backward(const struct conv *c, const float *params, const float *x,
                                   const float *y, const float *dy, float *dx, float *dparams,
                                   size_t B, float *ws, int relu)
{
#if CONV_RL_V4
    if (c->rowlanes_v4) {
        conv_rowlanes_backward_v4(c, params, x, y, dy, dx, dparams, B, ws, relu);
        return;
    }
#endif
    conv_rowlanes_backward_any(c, params, x, y, dy, dx, dparams, B, ws, relu);
}

/* y (B * P, F) = cols x params, a block of rows at a time. With a bias,
 * params is the (K + 1, F) matrix [kernel; bias] and cols ends in a column
 * of ones. A 1 x 1 convolution reads x itself as cols and starts y as the
 * bias (beta = 1): one pass over y instead of a zeroing pass and an add. */
static void conv_forward(const void *state, const float *params, const float *x, float *y,
                         const struct dpt_batch *bt)
{
    const struct conv *c = state;
    if (c->wino) {
        wino_forward(&c->wn, params, c->use_bias ? params + c->g.K * c->F : NULL, x, y, bt->B,
                     bt->ws);
        conv_relu_all(y, bt->relu ? bt->B * c->g.P * c->F : 0);
        return;
    }
    if (c->direct && c->wide) {
        conv_wide_forward_all(c, params, x, y, bt->B, bt->ws, (int)bt->relu);
        return;
    }
    if (c->direct && c->rowlanes) {
        conv_rowlanes_forward(c, params, x, y, bt->B, bt->ws, (int)bt->relu);
        return;
    }
    if (c->direct) {
        conv_direct_forward(c, params, x, y, bt->B, bt->ws, (int)bt->relu);
        return;
    }
    size_t M = bt->B * c->g.P, rows = conv_block(M, c->block_rows);
    const int ld = (int)c->ld, F = (int)c->F;
    for (size_t r0 = 0; r0 < M; r0 += rows) {
        size_t n = M - r0 < rows ? M - r0 : rows;
        float *yb = y + r0 * c->F;
        float beta = 0.0f;
        const float *cols = bt->ws;
        if (c->identity) {
            cols = x + r0 * c->g.C;
            if (c->use_bias) {
                for (size_t i = 0; i < n; i++) {
                    memcpy(yb + i * c->F, params + c->g.K * c->F, c->F * sizeof *yb);
                }
                beta = 1.0f;
            }
        } else if (c->k_major) {
            conv_im2col_k_major(&c->g, x, r0, n, bt->ws, c->ld);
        } else {
            conv_im2col(&c->g, x, r0, n, bt->ws, c->ld);
        }
        cblas_sgemm(CblasRowMajor, c->k_major ? CblasTrans : CblasNoTrans, CblasNoTrans, (int)n,
                    F, ld, 1.0f, cols, c->k_major ? (int)n : ld, params, F, beta, yb, F);
        conv_relu_all(yb, bt->relu ? n * c->F : 0);
    }
}

typedef int32_t conv_i8 __attribute__((vector_size(CONV_LANES * sizeof(int32_t))));
typedef double conv_d8 __attribute__((vector_size(CONV_LANES * sizeof(double))));

/* conv_add_column_sums' sums of NQ vectors of 8 columns from row's
 * column 0 on (NQ a constant when inlined, so that they stay in
 * registers): each column's terms in row order, in double. */
static inline __attribute__((always_inline)) void
conv_column_sums_v(const float *dy, const float *y, size_t M, size_t F, size_t NQ, conv_d8 *s)
{
    for (size_t q = 0; q < NQ; q++) {
        s[q] = (conv_d8){0};
    }
    for (size_t i = 0; i < M; i++) {
        for (size_t q = 0; q < NQ; q++) {
            conv_v8 d;
            memcpy(&d, dy + i * F + q * CONV_LANES, sizeof d);
            if (y) { /* y > 0 ? dy : +0 */
                conv_v8 m;
                memcpy(&m, y + i * F + q * CONV_LANES, sizeof m);
                d = (conv_v8)((conv_i8)d & (m > 0.0f));
            }
            s[q] += __builtin_convertvector(d, conv_d8);
        }
    }
}

/* db += the column sums of dy (M, F), in double (M terms of either sign);
 * with y (a relu applied), the terms where y <= 0 are 0. For 1 x 1
 * convolutions, whose cols (x itself) has no column of ones, and for
 * Winograd's. By vectors of 8 columns, up to 64 at a time so that dy is
 * read row by row, the rest one column at a time: the scalar loop it
 * replaces (a compare, a branch and a double addition through memory per
 * term) was 12.7% of vggsmall's step (perf). The same sums. */
DPT_VECTORIZE
static void conv_add_column_sums(const float *dy, const float *y, size_t M, size_t F,
                                 float *db)
{
    enum { QMAX = 8 };
    conv_d8 s[QMAX];
    size_t j0 = 0;
    while (F - j0 >= CONV_LANES) {
        size_t nq = (F - j0) / CONV_LANES < QMAX ? (F - j0) / CONV_LANES : QMAX;
        const float *yj = y ? y + j0 : NULL;
        switch (nq) { /* the vectors as a constant: in registers */
        case 8: conv_column_sums_v(dy + j0, yj, M, F, 8, s); break;
        case 4: conv_column_sums_v(dy + j0, yj, M, F, 4, s); break;
        case 2: conv_column_sums_v(dy + j0, yj, M, F, 2, s); break;
        case 1: conv_column_sums_v(dy + j0, yj, M, F, 1, s); break;
        default: conv_column_sums_v(dy + j0, yj, M, F, nq, s); break;
        }
        for (size_t q = 0; q < nq; q++) {
            for (size_t l = 0; l < CONV_LANES; l++) {
                db[j0 + q * CONV_LANES + l] += (float)s[q][l];
            }
        }
        j0 += nq * CONV_LANES;
    }
    for (; j0 < F; j0++) {
        double t = 0;
        for (size_t i = 0; i < M; i++) {
            t += !y || y[i * F + j0] > 0.0f ? dy[i * F + j0] : 0.0f;
        }
        db[j0] += (float)t;
    }
}

/* dparams += cols^T dy: the kernel's gradient and, through the column of
 * ones, the bias's (dparams is [dkernel; dbias], (ld, F)). dx, unless
 * NULL: dcols = dy kernel^T scattered by col2im. When the whole batch was
 * one block, the training forward's cols are still in the workspace.
 *
 * dcols is zeroed once here and kept zero by col2im after it reads each
 * row, so the product adds to it (beta = 1): with beta = 0 OpenBLAS first
 * zeroes its output in a pass of its own, 8.5% of the step of vggsmall's
 * second layer (perf), where zeroing the rows col2im has just read adds
 * 3.5%. */
static void conv_backward(const void *state, const float *params, const float *x,
                          const float *y, const float *dy, float *dx, float *dparams,
                          const struct dpt_batch *bt)
{
    const struct conv *c = state;
    const float *mask = bt->relu ? y : NULL;
    if (c->wino) {
        wino_backward(&c->wn, params, x, mask, dy, dx, dparams, bt->B, bt->ws);
        if (c->use_bias) {
            conv_add_column_sums(dy, mask, bt->B * c->g.P, c->F, dparams + c->g.K * c->F);
        }
        return;
    }
    if (c->direct && c->wide) {
        conv_wide_backward_all(c, params, x, y, dy, dx, dparams, bt->B, bt->ws, (int)bt->relu);
        return;
    }
    if (c->direct && c->rowlanes) {
        conv_rowlanes_backward(c, params, x, y, dy, dx, dparams, bt->B, bt->ws, (int)bt->relu);
        return;
    }
    if (c->direct) {
        conv_direct_backward(c, params, x, y, dy, dx, dparams, bt->B, bt->ws, (int)bt->relu);
        return;
    }
    size_t M = bt->B * c->g.P, rows = conv_block(M, c->block_rows);
    const int ld = (int)c->ld, K = (int)c->g.K, F = (int)c->F;
    float *ws = bt->ws, *dcols = c->identity ? NULL : ws + rows * c->ld;
    if (dx && dcols) {
        memset(dcols, 0, rows * c->g.K * sizeof *dcols);
    }
    float *dym = ws + rows * (c->identity ? 0 : c->ld + c->g.K);
    for (size_t r0 = 0; r0 < M; r0 += rows) {
        size_t n = M - r0 < rows ? M - r0 : rows;
        const float *cols = c->identity ? x + r0 * c->g.C : ws, *dyb = dy + r0 * c->F;
        if (mask) {
            conv_relu_mask(dyb, mask + r0 * c->F, n * c->F, dym);
            dyb = dym;
        }
        if (!c->identity && rows < M) {
            if (c->k_major) {
                conv_im2col_k_major(&c->g, x, r0, n, ws, c->ld);
            } else {
                conv_im2col(&c->g, x, r0, n, ws, c->ld);
            }
        }
        /* beta = 1: dparams accumulates over the micro-shards of a step. */
        cblas_sgemm(CblasRowMajor, c->k_major ? CblasNoTrans : CblasTrans, CblasNoTrans, ld, F,
                    (int)n, 1.0f, cols, c->k_major ? (int)n : ld, dyb, F, 1.0f, dparams, F);
        if (!dx) {
            continue;
        }
        if (c->identity) { /* dcols is dx itself, written (beta = 0) */
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)n, K, F, 1.0f, dyb, F,
                        params, F, 0.0f, dx + r0 * c->g.C, K);
            continue;
        }
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)n, K, F, 1.0f, dyb, F, params,
                    F, 1.0f, dcols, K);
        conv_col2im(&c->g, dcols, r0, n, dx);
    }
    if (c->identity && c->use_bias) {
        conv_add_column_sums(dy, mask, M, c->F, dparams + c->g.K * c->F);
    }
}

static void conv_destroy(void *state)
{
    free(state);
}

#endif
