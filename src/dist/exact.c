/* Exact sums of float gradients in 128-bit fixed point. See exact.h for the
 * format, range and rounding.
 *
 * The three loops (float to fixed, fixed plus fixed, fixed to float) work on
 * a dpt_fix as two 64-bit words, with selects instead of branches, so that
 * `omp simd` vectorizes them at -O2. Each is compiled for the x86-64
 * baseline, AVX2 and AVX-512 (target_clones; glibc picks one at load time).
 *
 * Measured with GCC 12 -O2 on one core of an AMD EPYC (Zen 4, a shared VM,
 * so +-15%), n = 235,146 (the 784-256-128-10 MLP), gradient-like floats
 * (|x| from 1e-8 to 1e+2, a third zeros), values per second:
 *
 *                        AVX-512 clone   AVX2 clone   baseline
 *   dpt_fix_add              1.6e9         0.8e9        0.2e9
 *   dpt_fix_sum              2.2e9         2.1e9        1.0e9
 *   dpt_fix_to_float         2.4e9         0.76e9       0.33e9
 *   dpt_fixd_add_clear       3.7e9 (*)     3.7e9        0.9e9
 *
 * (*) fixd_avx2_pass, its AVX2 kernel, on both (2026-12-05, -O3, |x| below
 * 0.1 and a third zeros); the clones of its portable loop, fixd_pass, ran
 * at 2.9e9 (AVX-512) and 1.2e9 (AVX2).
 * dpt_fix_add is 0.15 ms per micro-shard on AVX-512, of which the range
 * check pass is about 10%; a plain float acc[i] += x[i] runs at 4-6e9/s.
 * to_float has two kernels: with AVX-512DQ (lzcnt and int64-to-float in
 * vectors) to_float_wide_kernel; without, to_float_kernel in double
 * arithmetic (AVX2 0.76e9/s, where the wide one stayed scalar at 0.3-0.4e9;
 * tests/test_exact_portable runs the tests on it on any CPU).
 * MPI_Allreduce on 2 ranks of one node (Open MPI 4.1.4, shared memory):
 * 235,146 dpt_fix with the user op 0.90 ms; 235,146 floats with MPI_SUM
 * 0.25 ms; 4 x 235,146 floats (the same bytes) with MPI_SUM 0.90 ms, so the
 * user op costs nothing beyond moving 4 times the bytes.
 */
#include "config.h"

#include "dist/exact.h"
#include "dist/watchdog.h"

#include <math.h>
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* GCC on x86-64 with glibc (for ifunc) builds each kernel three times. All
 * clones compute the same integers, so the choice never changes a result.
 * -DDPT_FIX_CLONES=0 builds one version, for the build's own -march (that is
 * how the baseline and AVX2 versions are tested on an AVX-512 machine), as
 * DPT_NO_CLONES does for every cloned function (the sanitizer builds). */
#ifndef DPT_FIX_CLONES
#if defined(__x86_64__) && defined(__GLIBC__) && !defined(__clang__) && __GNUC__ >= 11 && \
    !defined(DPT_NO_CLONES)
#define DPT_FIX_CLONES 1
#else
#define DPT_FIX_CLONES 0
#endif
#endif
#if DPT_FIX_CLONES
#define KERNEL __attribute__((target_clones("default", "avx2", "arch=x86-64-v4")))
#else
#define KERNEL
#endif

/* dpt_fixd_add_clear has a kernel written for AVX2 (fixd_avx2_pass), taken
 * on every CPU with AVX2: faster than the AVX-512 clone of fixd_pass too. */
#if defined(__x86_64__) && defined(__GNUC__) && (DPT_FIX_CLONES || defined(__AVX2__))
#define FIXD_AVX2 1
#include <immintrin.h>
static int fixd_avx2_is_fast(void)
{
#if DPT_FIX_CLONES
    return __builtin_cpu_supports("avx2");
#else
    return 1;
#endif
}
#else
#define FIXD_AVX2 0
#endif

/* The kernels see a dpt_fix as two 64-bit words: v = hi * 2^64 + lo, with hi
 * signed. may_alias makes reading an __int128 through them valid. */
typedef uint64_t __attribute__((may_alias)) word;
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
enum { LO = 0, HI = 1 };
#else
enum { LO = 1, HI = 0 };
#endif

/* The bits of |x| compare as unsigned integers in the order of |x|; from
 * 0x53000000 up (biased exponent 166) they are 2^39 and above, Inf and NaN. */
#define LIMIT_BITS 0x53000000u
_Static_assert((long long)DPT_FIX_MAX_ABS == 1LL << 39 && DPT_FIX_FRAC_BITS == 64,
               "LIMIT_BITS and the shifts in add_kernel assume 2^39 and 64");

static uint32_t abs_bits(float x)
{
    uint32_t u;
    memcpy(&u, &x, sizeof u);
    return u & 0x7fffffffu;
}

KERNEL static uint32_t max_abs_bits(const float *x, size_t n)
{
    uint32_t top = 0;
#pragma omp simd reduction(max : top)
    for (size_t i = 0; i < n; i++) {
        uint32_t u = abs_bits(x[i]);
        top = u > top ? u : top;
    }
    return top;
}

/* The words of fix(x), for x already checked to be below the limit.
 *
 * A normal float with sign s, biased exponent e and fraction f is
 * m * 2^(e - 150) with m = f + 2^23, so v = x * 2^64 = m * 2^(e - 86).
 * Put m high in a word, M = m * 2^39 < 2^63, then v = M * 2^t, t = e - 125:
 *   t >= 0 (|x| >= 1/4): v = M << t, at most 2^103 as e < 166. The high word
 *     M >> (64 - t) is written (M >> 1) >> (63 - t) to stay defined at t = 0.
 *   t < 0: v = M >> -t, rounded half up: ((M >> (-t - 1)) + 1) >> 1. This is
 *     exact while -t <= 39 (M's low 39 bits are zero), i.e. |x| >= 2^-41.
 *     Shifts are capped at 63, where M >> 63 = 0 gives the 0 that every
 *     |x| < 2^-65 must give; zero and subnormals (e = 0) land there too.
 * Then v is negated (two's complement of both words) when s is set;
 * add_kernel adds it with a carry from the low word into the high word. */
static inline void fix_words(const float *x, uint64_t *lo_out, uint64_t *hi_out)
{
    uint32_t u;
    memcpy(&u, x, sizeof u);
    int64_t t = (int64_t)((u >> 23) & 0xff) - 125;
    uint64_t M = (uint64_t)((u & 0x7fffffu) | 0x800000u) << 39;
    uint64_t up = (uint64_t)(t > 0 ? t : 0);
    int64_t k = -t - 1;
    uint64_t down = (uint64_t)(k < 0 ? 0 : k > 63 ? 63 : k);
    uint64_t lo = t >= 0 ? M << up : ((M >> down) + 1) >> 1;
    uint64_t hi = (M >> 1) >> (63 - up);
    uint64_t neg = -(uint64_t)(u >> 31); /* all ones when x < 0 */
    *hi_out = (hi ^ neg) + (neg & (uint64_t)(lo == 0));
    *lo_out = (lo ^ neg) - neg;
}

/* acc[i] += fix(*x), the carry from the low word into the high word. */
static inline void add_words(word *restrict acc, size_t i, const float *x)
{
    uint64_t lo, hi;
    fix_words(x, &lo, &hi);
    uint64_t sum = acc[2 * i + LO] + lo;
    acc[2 * i + HI] += hi + (uint64_t)(sum < lo);
    acc[2 * i + LO] = sum;
}

KERNEL static void add_kernel(word *restrict acc, const float *restrict x, size_t n)
{
#pragma omp simd
    for (size_t i = 0; i < n; i++) {
        add_words(acc, i, &x[i]);
    }
}

/* add_kernel, then x[i] = 0. */
KERNEL static void add_clear_kernel(word *restrict acc, float *restrict x, size_t n)
{
#pragma omp simd
    for (size_t i = 0; i < n; i++) {
        add_words(acc, i, &x[i]);
        x[i] = 0.0f;
    }
}

/* acc = fix(x): add_kernel onto zeros, without reading them. */
KERNEL static void set_kernel(word *restrict acc, const float *restrict x, size_t n)
{
#pragma omp simd
    for (size_t i = 0; i < n; i++) {
        fix_words(&x[i], &acc[2 * i + LO], &acc[2 * i + HI]);
    }
}

/* set_kernel, then x[i] = 0. */
KERNEL static void set_clear_kernel(word *restrict acc, float *restrict x, size_t n)
{
#pragma omp simd
    for (size_t i = 0; i < n; i++) {
        fix_words(&x[i], &acc[2 * i + LO], &acc[2 * i + HI]);
        x[i] = 0.0f;
    }
}

/* dpt_fixd_add_clear's pass; first (a constant after inlining) sets d. */
static inline __attribute__((always_inline)) size_t fixd_pass(double *restrict d,
                                                              float *restrict x, size_t n,
                                                              int first)
{
    size_t left = 0;
#pragma omp simd reduction(+ : left)
    for (size_t i = 0; i < n; i++) {
        double a = first ? 0.0 : d[i], b = (double)x[i];
        double s = a + b, bb = s - a;
        double err = (a - (s - bb)) + (b - bb); /* TwoSum: s + err = a + b */
        double m = fabs(b);
        int ok = (err == 0.0) & ((m >= 0x1p-41) | (m == 0.0)) & (m < DPT_FIX_MAX_ABS);
        d[i] = ok ? s : a;
        x[i] = ok ? 0.0f : x[i];
        left += (size_t)!ok;
    }
    return left;
}

KERNEL static size_t fixd_add_kernel(double *restrict d, float *restrict x, size_t n)
{
    return fixd_pass(d, x, n, 0);
}

KERNEL static size_t fixd_set_kernel(double *restrict d, float *restrict x, size_t n)
{
    return fixd_pass(d, x, n, 1);
}

#if FIXD_AVX2
/* fixd_pass in AVX2 for 8 values at a time, where nearly every 8 are taken:
 * the range is tested on the floats' bits in 8 lanes, the exactness in two
 * 4-double halves as (s - a == b) & (s - b == a) (the subtraction of the
 * larger operand is exact, so this holds iff s = a + b, as TwoSum's zero
 * error term), and one test of all 16 masks takes the 8 or sends them to
 * fixd_pass. GCC's AVX2 loop of fixd_pass moves each mask between the
 * float and the double lanes: 58 instructions for 8 values, against 43
 * here with the loads, stores and loop, at three times the speed (the
 * figures at the top). */
static inline __attribute__((always_inline, target("avx2"))) size_t
fixd_avx2_pass(double *restrict d, float *restrict x, size_t n, int first)
{
    const __m256i abs_mask = _mm256_set1_epi32(0x7fffffff);
    const __m256i below = _mm256_set1_epi32(0x2b000000 - 1); /* the bits of 2^-41, less 1 */
    const __m256i limit = _mm256_set1_epi32((int)LIMIT_BITS);
    const __m256i zero = _mm256_setzero_si256();
    size_t left = 0, i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256 xv = _mm256_loadu_ps(x + i);
        __m256i u = _mm256_and_si256(_mm256_castps_si256(xv), abs_mask);
        __m256i in = _mm256_and_si256(_mm256_cmpgt_epi32(u, below), _mm256_cmpgt_epi32(limit, u));
        in = _mm256_or_si256(in, _mm256_cmpeq_epi32(u, zero));
        __m256d b0 = _mm256_cvtps_pd(_mm256_castps256_ps128(xv));
        __m256d b1 = _mm256_cvtps_pd(_mm256_extractf128_ps(xv, 1));
        __m256d s0 = b0, s1 = b1;
        if (!first) {
            __m256d a0 = _mm256_loadu_pd(d + i), a1 = _mm256_loadu_pd(d + i + 4);
            s0 = _mm256_add_pd(a0, b0), s1 = _mm256_add_pd(a1, b1);
            __m256d e0 = _mm256_and_pd(_mm256_cmp_pd(_mm256_sub_pd(s0, a0), b0, _CMP_EQ_OQ),
                                       _mm256_cmp_pd(_mm256_sub_pd(s0, b0), a0, _CMP_EQ_OQ));
            __m256d e1 = _mm256_and_pd(_mm256_cmp_pd(_mm256_sub_pd(s1, a1), b1, _CMP_EQ_OQ),
                                       _mm256_cmp_pd(_mm256_sub_pd(s1, b1), a1, _CMP_EQ_OQ));
            /* the low halves of the 8 exactness masks, in the order 0 1 4 5 2 3 6 7:
             * for "all of them" the order does not matter */
            __m256 e = _mm256_shuffle_ps(_mm256_castpd_ps(e0), _mm256_castpd_ps(e1),
                                         _MM_SHUFFLE(2, 0, 2, 0));
            in = _mm256_and_si256(in, _mm256_castps_si256(e));
        }
        if (_mm256_movemask_ps(_mm256_castsi256_ps(in)) != 0xff) {
            left += fixd_pass(d + i, x + i, 8, first);
            continue;
        }
        _mm256_storeu_pd(d + i, s0);
        _mm256_storeu_pd(d + i + 4, s1);
        _mm256_storeu_ps(x + i, _mm256_setzero_ps());
    }
    return left + fixd_pass(d + i, x + i, n - i, first);
}

__attribute__((target("avx2"))) static size_t fixd_add_avx2(double *restrict d,
                                                             float *restrict x, size_t n)
{
    return fixd_avx2_pass(d, x, n, 0);
}

__attribute__((target("avx2"))) static size_t fixd_set_avx2(double *restrict d,
                                                             float *restrict x, size_t n)
{
    return fixd_avx2_pass(d, x, n, 1);
}
#endif

size_t dpt_fixd_add_clear(double *d, float *x, size_t n, int first)
{
#if FIXD_AVX2
    if (fixd_avx2_is_fast()) {
        return first ? fixd_set_avx2(d, x, n) : fixd_add_avx2(d, x, n);
    }
#endif
    return first ? fixd_set_kernel(d, x, n) : fixd_add_kernel(d, x, n);
}

int dpt_fix_add_clear_nonzero(dpt_fix *acc, float *x, size_t n, size_t *bad)
{
    enum { BLOCK = 64 };
    for (size_t i0 = 0; i0 < n; i0 += BLOCK) {
        size_t m = n - i0 < BLOCK ? n - i0 : BLOCK;
        uint32_t any = 0;
        for (size_t j = 0; j < m; j++) {
            uint32_t u;
            memcpy(&u, &x[i0 + j], sizeof u);
            any |= u;
        }
        for (size_t j = 0; any && j < m; j++) {
            uint32_t u;
            memcpy(&u, &x[i0 + j], sizeof u);
            if (u && dpt_fix_add_clear(acc + i0 + j, x + i0 + j, 1, bad) < 0) {
                if (bad) {
                    *bad = i0 + j;
                }
                return -1;
            }
        }
    }
    return 0;
}

/* The words of fix(v) for v a multiple of 2^-64 with |v| < 2^63 (what
 * dpt_fixd_add_clear leaves in d). v = m * 2^(e - 1075) with m < 2^53, so
 * v * 2^64 = m * 2^t, t = e - 1011, an integer: t >= 0 shifts m up (the
 * high word (m >> 1) >> (63 - t) while t < 64, as fix_words), t < 0 down
 * with nothing lost. Zero (e = 0) gives m = 0. */
static inline void fixd_words(const double *v, uint64_t *lo_out, uint64_t *hi_out)
{
    uint64_t u;
    memcpy(&u, v, sizeof u);
    uint64_t e = (u >> 52) & 0x7ff;
    uint64_t m = e ? (u & ((1ull << 52) - 1)) | (1ull << 52) : 0;
    int64_t t = (int64_t)e - 1011;
    uint64_t up = (uint64_t)(t > 0 ? t : 0), down = (uint64_t)(t < 0 ? (-t > 63 ? 63 : -t) : 0);
    uint64_t lo = t < 0 ? m >> down : up < 64 ? m << up : 0;
    uint64_t hi = up < 64 ? (m >> 1) >> (63 - up) : m << (up - 64 < 63 ? up - 64 : 63);
    uint64_t neg = -(u >> 63);
    *hi_out = (hi ^ neg) + (neg & (uint64_t)(lo == 0));
    *lo_out = (lo ^ neg) - neg;
}

KERNEL static void fixd_to_fix_kernel(word *restrict acc, const double *restrict d, size_t n,
                                      int add)
{
    if (add) {
#pragma omp simd
        for (size_t i = 0; i < n; i++) {
            uint64_t lo, hi;
            fixd_words(&d[i], &lo, &hi);
            uint64_t sum = acc[2 * i + LO] + lo;
            acc[2 * i + HI] += hi + (uint64_t)(sum < lo);
            acc[2 * i + LO] = sum;
        }
    } else {
#pragma omp simd
        for (size_t i = 0; i < n; i++) {
            fixd_words(&d[i], &acc[2 * i + LO], &acc[2 * i + HI]);
        }
    }
}

void dpt_fixd_to_fix(dpt_fix *acc, const double *d, size_t n, int add)
{
    fixd_to_fix_kernel((word *)acc, d, n, add);
}

KERNEL static void sum_kernel(word *restrict acc, const word *restrict b, size_t n)
{
#pragma omp simd
    for (size_t i = 0; i < n; i++) {
        uint64_t lo = b[2 * i + LO];
        uint64_t sum = acc[2 * i + LO] + lo;
        acc[2 * i + HI] += b[2 * i + HI] + (uint64_t)(sum < lo);
        acc[2 * i + LO] = sum;
    }
}

/* out = float(v * 2^-64), any v. Take the magnitude mh * 2^64 + ml. If
 * mh = 0, ml converts directly. Otherwise shift the magnitude left by
 * c = clz(mh) so its top 64 bits w start with a one, and fold the bits that
 * fall off into w's lowest bit (a sticky bit). w keeps 40 bits below the
 * float's 24, so the sticky bit only tells "exactly half an ulp" from "a
 * little more", and the hardware's unsigned-to-float conversion rounds w
 * exactly as it would round the whole magnitude. Scaling by 2^-c (or 2^-64)
 * is exact, then the sign is put back. Needs lzcnt and 64-bit integer to
 * float in vectors (AVX-512) to be fast; to_float_kernel below uses it only
 * for magnitudes of 2^27 and more. */
static inline float to_float_wide(uint64_t lo, uint64_t hi)
{
    uint64_t neg = (uint64_t)((int64_t)hi >> 63);
    uint64_t mh = (hi ^ neg) + (neg & (uint64_t)(lo == 0));
    uint64_t ml = (lo ^ neg) - neg;
    uint64_t c = mh ? (uint64_t)__builtin_clzll(mh) : 64, cs = c & 63;
    uint64_t w = c == 64 ? ml : (mh << cs) | ((ml >> 1) >> (63 - cs));
    uint64_t lost = c == 64 ? 0 : ml << cs;
    w |= (uint64_t)(lost != 0);
    uint32_t scale_bits = (uint32_t)(127 - c) << 23, f_bits;
    float scale, f = (float)w;
    memcpy(&scale, &scale_bits, sizeof scale);
    f *= scale;
    memcpy(&f_bits, &f, sizeof f_bits);
    f_bits |= (uint32_t)neg & 0x80000000u;
    memcpy(&f, &f_bits, sizeof f);
    return f;
}

/* The same for magnitudes below 2^27 * 2^64 (every gradient sum in
 * practice), in double arithmetic that AVX2 has in vectors. The magnitude
 * M = mh * 2^64 + ml has its top bit at b <= 90; the float keeps bits
 * b .. b-23 and rounds on bit b-24 and the sticky bits below. Shift M
 * right by s and fold the bits shifted out into the lowest bit kept (OR:
 * "some bit below is set"), with
 *   s = 0  when M < 2^41 (b <= 40: nothing to fold),
 *   s = 16 when 2^41 <= M < 2^64 (41 <= b <= 63),
 *   s = 39 when M >= 2^64 (64 <= b <= 90).
 * Each s lies below the rounding bit (s <= b - 25), so the folded W rounds
 * as M does, and W < 2^52 (b - s <= 51) converts to a double exactly (in
 * the fraction of 2^52). Then exact scaling by 2^(s - 64) and one rounding,
 * double to float. Values of magnitude 2^27 and more (mh >= 2^27) are
 * redone with to_float_wide; returns whether any was. */
KERNEL static int to_float_kernel(const word *restrict acc, float *restrict out, size_t n)
{
    int wide = 0;
#pragma omp simd reduction(| : wide)
    for (size_t i = 0; i < n; i++) {
        uint64_t lo = acc[2 * i + LO], hi = acc[2 * i + HI];
        uint64_t neg = (uint64_t)((int64_t)hi >> 63);
        uint64_t mh = (hi ^ neg) + (neg & (uint64_t)(lo == 0));
        uint64_t ml = (lo ^ neg) - neg;
        uint64_t s = mh ? 39 : ml >> 41 ? 16 : 0;
        uint64_t below = mh ? (1ull << 39) - 1 : ml >> 41 ? (1ull << 16) - 1 : 0; /* 2^s - 1 */
        uint64_t W = (ml >> s) | (uint64_t)((ml & below) != 0) | (mh << 25);
        uint64_t d_bits = 0x4330000000000000u | (W & ((1ull << 52) - 1));
        uint64_t scale_bits = (1023 - 64 + s) << 52;
        double d, scale;
        memcpy(&d, &d_bits, sizeof d);
        memcpy(&scale, &scale_bits, sizeof scale);
        float f = (float)((d - 0x1p52) * scale);
        uint32_t f_bits;
        memcpy(&f_bits, &f, sizeof f_bits);
        f_bits |= (uint32_t)neg & 0x80000000u;
        memcpy(&out[i], &f_bits, sizeof f_bits);
        wide |= mh >> 27 != 0;
    }
    return wide;
}

/* 0 when every x[i] is below the limit, else -1 with *bad the first that is
 * not: checked first, so that a refused call leaves acc as it was. */
static int check_range(const float *x, size_t n, size_t *bad)
{
    if (max_abs_bits(x, n) < LIMIT_BITS) {
        return 0;
    }
    size_t i = 0;
    while (abs_bits(x[i]) < LIMIT_BITS) {
        i++;
    }
    if (bad) {
        *bad = i;
    }
    return -1;
}

int dpt_fix_add(dpt_fix *acc, const float *x, size_t n, size_t *bad)
{
    if (check_range(x, n, bad) < 0) {
        return -1;
    }
    add_kernel((word *)acc, x, n);
    return 0;
}

int dpt_fix_set(dpt_fix *acc, const float *x, size_t n, size_t *bad)
{
    if (check_range(x, n, bad) < 0) {
        return -1;
    }
    set_kernel((word *)acc, x, n);
    return 0;
}

int dpt_fix_add_clear(dpt_fix *acc, float *x, size_t n, size_t *bad)
{
    if (check_range(x, n, bad) < 0) {
        return -1;
    }
    add_clear_kernel((word *)acc, x, n);
    return 0;
}

int dpt_fix_set_clear(dpt_fix *acc, float *x, size_t n, size_t *bad)
{
    if (check_range(x, n, bad) < 0) {
        return -1;
    }
    set_clear_kernel((word *)acc, x, n);
    return 0;
}

void dpt_fix_sum(dpt_fix *acc, const dpt_fix *b, size_t n)
{
    sum_kernel((word *)acc, (const word *)b, n);
}

KERNEL static void to_float_wide_kernel(const word *restrict acc, float *restrict out, size_t n)
{
#pragma omp simd
    for (size_t i = 0; i < n; i++) {
        out[i] = to_float_wide(acc[2 * i + LO], acc[2 * i + HI]);
    }
}

/* Whether the CPU converts 64-bit integers to floats in vectors (AVX-512DQ):
 * then to_float_wide_kernel is the faster (2.4e9 against 1.8e9 values per
 * second); without, to_float_kernel (0.75e9 against 0.4e9 with AVX2). */
static int wide_is_fast(void)
{
#if DPT_FIX_CLONES
    return __builtin_cpu_supports("avx512dq");
#elif defined(__AVX512DQ__)
    return 1;
#else
    return 0;
#endif
}

void dpt_fix_to_float(const dpt_fix *acc, float *out, size_t n)
{
    const word *w = (const word *)acc;
    if (wide_is_fast()) {
        to_float_wide_kernel(w, out, n);
    } else if (to_float_kernel(w, out, n)) {
        for (size_t i = 0; i < n; i++) {
            uint64_t lo = w[2 * i + LO], hi = w[2 * i + HI];
            uint64_t neg = (uint64_t)((int64_t)hi >> 63);
            if (((hi ^ neg) + (neg & (uint64_t)(lo == 0))) >> 27) {
                out[i] = to_float_wide(lo, hi);
            }
        }
    }
}

/* The MPI_User_function: inout[i] += in[i]. MPI hands over whole elements of
 * the type made below, so len counts dpt_fix. */
static void sum_op(void *in, void *inout, int *len, MPI_Datatype *type)
{
    (void)type;
    sum_kernel((word *)inout, (const word *)in, (size_t)*len);
}

int dpt_fix_mpi_create(MPI_Datatype *type, MPI_Op *op)
{
    *type = MPI_DATATYPE_NULL;
    *op = MPI_OP_NULL;
    int rc = MPI_Type_contiguous((int)sizeof(dpt_fix), MPI_BYTE, type);
    if (rc == MPI_SUCCESS) {
        rc = MPI_Type_commit(type);
    }
    if (rc == MPI_SUCCESS) {
        rc = MPI_Op_create(sum_op, 1, op);
    }
    if (rc != MPI_SUCCESS) {
        dpt_fix_mpi_free(type, op);
        return -1;
    }
    return 0;
}

void dpt_fix_mpi_free(MPI_Datatype *type, MPI_Op *op)
{
    if (*op != MPI_OP_NULL) {
        MPI_Op_free(op);
    }
    if (*type != MPI_DATATYPE_NULL) {
        MPI_Type_free(type);
    }
    *type = MPI_DATATYPE_NULL;
    *op = MPI_OP_NULL;
}

int dpt_fix_allreduce(dpt_fix *buf, size_t n, MPI_Datatype type, MPI_Op op, MPI_Comm comm)
{
    int size;
    MPI_Comm_size(comm, &size);
    if (size == 1) {
        return 0;
    }
    /* Counts are int. Pieces of under 2^27 values also keep byte counts
     * below INT_MAX, for MPI layers that count bytes in an int. */
    const size_t piece = (size_t)INT_MAX / sizeof(dpt_fix);
    for (size_t off = 0; off < n; off += piece) {
        size_t k = n - off < piece ? n - off : piece;
        dpt__watch_enter();
        int rc = MPI_Allreduce(MPI_IN_PLACE, buf + off, (int)k, type, op, comm);
        dpt__watch_leave();
        if (rc != MPI_SUCCESS) {
            return -1;
        }
    }
    return 0;
}

/* dpt_fix_allreduce_float moves the sums by an MPI_Allreduce below this
 * many values per rank (Open MPI's algorithms for short messages take
 * log2 P steps) and by a ring from here on. Open MPI's own
 * MPI_Reduce_scatter took 1.3x its allreduce's time on 235,151 values and
 * 2 ranks (0.88 against 0.65 ms), the ring below 0.53 ms with the
 * allgather of the floats (a throwaway program, 300 calls each). */
#define RING_MIN_PER_RANK 4096
#define RING_TAG 7305

/* Block r of n values over P ranks: [n r / P, n (r + 1) / P). */
static size_t block_lo(size_t n, int r, int size)
{
    return (size_t)((unsigned __int128)n * (unsigned)r / (unsigned)size);
}

/* Every rank's block of n values: displs[r] and counts[r]. */
static void block_counts(size_t n, int size, int *counts, int *displs)
{
    for (int r = 0; r < size; r++) {
        displs[r] = (int)block_lo(n, r, size);
        counts[r] = (int)block_lo(n, r + 1, size) - displs[r];
    }
}

/* Step s of a ring over n values: rank `rank` sends its block r - s - 1
 * ([s_lo, s_lo + s_n)) and receives block r - s - 2 ([r_lo, r_lo + r_n)),
 * both mod P. */
struct ring_turn {
    size_t s_lo, s_n, r_lo, r_n;
};

static struct ring_turn ring_turn(size_t n, int rank, int size, int s)
{
    int sb = ((rank - s - 1) % size + size) % size, rb = ((rank - s - 2) % size + size) % size;
    size_t s_lo = block_lo(n, sb, size), r_lo = block_lo(n, rb, size);
    return (struct ring_turn){s_lo, block_lo(n, sb + 1, size) - s_lo, r_lo,
                              block_lo(n, rb + 1, size) - r_lo};
}

/* Reduce-scatter of buf's n values (n < 2^27) by a ring: in step s = 0 ..
 * P - 2 rank r sends its partial sums of block r - s - 1 to rank r + 1 and
 * adds rank r - 1's of block r - s - 2 (mod P) into its own, so that after
 * P - 1 steps it holds the whole sum of block r. What arrives goes through
 * scratch, m values at a time (m the same on every rank): a block goes in
 * ceil(size / m) messages, and where the block sent and the block received
 * need different numbers (their sizes differ by one), the extra turns send
 * or receive nothing (MPI_PROC_NULL), so every message meets its receive. */
static int ring_reduce_scatter(dpt_fix *buf, size_t n, dpt_fix *scratch, size_t m,
                               MPI_Datatype type, MPI_Comm comm, int rank, int size)
{
    int right = (rank + 1) % size, left = (rank + size - 1) % size;
    for (int s = 0; s < size - 1; s++) {
        struct ring_turn u = ring_turn(n, rank, size, s);
        size_t s_lo = u.s_lo, s_n = u.s_n, r_lo = u.r_lo, r_n = u.r_n;
        for (size_t off = 0; off < s_n || off < r_n; off += m) {
            size_t ks = s_n > off ? s_n - off : 0, kr = r_n > off ? r_n - off : 0;
            ks = ks < m ? ks : m;
            kr = kr < m ? kr : m;
            if (MPI_Sendrecv(buf + s_lo + off, (int)ks, type, off < s_n ? right : MPI_PROC_NULL,
                             RING_TAG, scratch, (int)kr, type, off < r_n ? left : MPI_PROC_NULL,
                             RING_TAG, comm, MPI_STATUS_IGNORE) != MPI_SUCCESS) {
                return -1;
            }
            dpt_fix_sum(buf + r_lo + off, scratch, kr);
        }
    }
    return 0;
}

/* One piece of dpt_fix_allreduce_float (n < 2^27 values), into out[0, n),
 * whose `room` floats from out on hold what the ring receives until the
 * floats are written: as many dpt_fix as fit after out rounded up to
 * their alignment, counted for the worst rounding (12 bytes), so that
 * every rank counts the same. counts and displs have P ints each. */
static int piece_to_float(dpt_fix *buf, float *out, size_t room, size_t n, MPI_Datatype type,
                          MPI_Op op, MPI_Comm comm, int rank, int size, int *counts, int *displs)
{
    if (n < (size_t)size * RING_MIN_PER_RANK) {
        if (dpt_fix_allreduce(buf, n, type, op, comm) < 0) {
            return -1;
        }
        dpt_fix_to_float(buf, out, n);
        return 0;
    }
    uintptr_t at = ((uintptr_t)out + sizeof(dpt_fix) - 1) / sizeof(dpt_fix) * sizeof(dpt_fix);
    size_t m = (room * sizeof *out - (sizeof(dpt_fix) - sizeof *out)) / sizeof(dpt_fix);
    block_counts(n, size, counts, displs);
    dpt__watch_enter();
    int rc = ring_reduce_scatter(buf, n, (dpt_fix *)at, m, type, comm, rank, size);
    if (rc == 0) {
        dpt_fix_to_float(buf + displs[rank], out + displs[rank], (size_t)counts[rank]);
        rc = MPI_Allgatherv(MPI_IN_PLACE, 0, MPI_DATATYPE_NULL, out, counts, displs, MPI_FLOAT,
                            comm) == MPI_SUCCESS ? 0 : -1;
    }
    dpt__watch_leave();
    return rc;
}

int dpt_fix_allreduce_float(dpt_fix *buf, float *out, size_t n, MPI_Datatype type, MPI_Op op,
                            MPI_Comm comm)
{
    int size, rank;
    MPI_Comm_size(comm, &size);
    MPI_Comm_rank(comm, &rank);
    if (size == 1) {
        dpt_fix_to_float(buf, out, n);
        return 0;
    }
    int *counts = malloc(2 * (size_t)size * sizeof *counts);
    if (!counts) {
        return -1;
    }
    /* Pieces of under 2^27 values, as dpt_fix_allreduce's. */
    const size_t piece = (size_t)INT_MAX / sizeof(dpt_fix);
    int rc = 0;
    for (size_t off = 0; rc == 0 && off < n; off += piece) {
        size_t k = n - off < piece ? n - off : piece;
        rc = piece_to_float(buf + off, out + off, n - off, k, type, op, comm, rank, size, counts,
                            counts + size);
    }
    free(counts);
    return rc;
}

/* The ranks' sum of their double forms (dpt_fixd_allreduce_float). */

/* s[i] += a[i]; returns how many of these additions rounded (TwoSum's
 * error term not 0). */
KERNEL static size_t dsum_kernel(double *restrict s, const double *restrict a, size_t n)
{
    size_t inexact = 0;
#pragma omp simd reduction(+ : inexact)
    for (size_t i = 0; i < n; i++) {
        double x = a[i], y = s[i], r = x + y, yy = r - x;
        double err = (x - (r - yy)) + (y - yy);
        s[i] = r;
        inexact += (size_t)(err != 0.0);
    }
    return inexact;
}

KERNEL static void dfloat_kernel(const double *restrict d, float *restrict out, size_t n)
{
#pragma omp simd
    for (size_t i = 0; i < n; i++) {
        out[i] = (float)d[i];
    }
}

size_t dpt_fixd_ring_doubles(size_t n, int size)
{
    return 2 * (n / (size_t)size + 1);
}

/* The ring of ring_reduce_scatter over doubles, out of place: in step s
 * rank r sends its partial sums of block r - s - 1 (its own d at s = 0,
 * then what it summed the step before) and adds d's block r - s - 2 into
 * what it receives, in one of the two halves of ring by turns, so that d is
 * never written. Returns the number of additions that rounded, with *sum
 * the whole block r, or (size_t)-1 on an MPI error. */
static size_t dring(const double *d, size_t n, double *ring, const double **sum, MPI_Comm comm,
                    int rank, int size)
{
    int right = (rank + 1) % size, left = (rank + size - 1) % size;
    size_t half = n / (size_t)size + 1, inexact = 0;
    const double *send = NULL;
    for (int s = 0; s < size - 1; s++) {
        struct ring_turn u = ring_turn(n, rank, size, s);
        double *recv = ring + (size_t)(s % 2) * half;
        if (MPI_Sendrecv(s == 0 ? d + u.s_lo : send, (int)u.s_n, MPI_DOUBLE, right, RING_TAG,
                         recv, (int)u.r_n, MPI_DOUBLE, left, RING_TAG, comm,
                         MPI_STATUS_IGNORE) != MPI_SUCCESS) {
            return (size_t)-1;
        }
        inexact += dsum_kernel(recv, d + u.r_lo, u.r_n);
        send = recv;
    }
    *sum = send;
    return inexact;
}

int dpt_fixd_allreduce_float(const double *d, float *out, size_t n, int exact, double *ring,
                             MPI_Comm comm)
{
    int size, rank;
    MPI_Comm_size(comm, &size);
    MPI_Comm_rank(comm, &rank);
    /* The same answer on every rank, from n and P alone: where the fixed
     * path's allreduce is used, or a block would not fit an int count. */
    if (size == 1 || n < (size_t)size * RING_MIN_PER_RANK ||
        n / (size_t)size + 1 > (size_t)INT_MAX) {
        return 0;
    }
    int *counts = malloc(2 * (size_t)size * sizeof *counts);
    if (!counts) {
        return -1;
    }
    int *displs = counts + size;
    block_counts(n, size, counts, displs);
    dpt__watch_enter();
    const double *sum = NULL;
    size_t inexact = dring(d, n, ring, &sum, comm, rank, size);
    int rc = inexact == (size_t)-1 ? -1 : 0, all = 0;
    if (rc == 0) {
        int mine = exact && inexact == 0;
        rc = MPI_Allreduce(&mine, &all, 1, MPI_INT, MPI_MIN, comm) == MPI_SUCCESS ? 0 : -1;
    }
    if (rc == 0 && all) {
        dfloat_kernel(sum, out + displs[rank], (size_t)counts[rank]);
        rc = MPI_Allgatherv(MPI_IN_PLACE, 0, MPI_DATATYPE_NULL, out, counts, displs, MPI_FLOAT,
                            comm) == MPI_SUCCESS ? 1 : -1;
    }
    dpt__watch_leave();
    free(counts);
    return rc;
}

/* Wide sums (the --deterministic statistics): see exact.h. These run once
 * per column and value of the training data, not per step, so they are
 * plain scalar code. */

/* s += (neg ? -1 : 1) * m * 2^e, for m < 2^64 and e >= DPT_WIDE_LOW: m
 * shifted into place spans at most three limbs, each of which gets less
 * than 2^32. */
static void wide_add_bits(struct dpt_wide *s, uint64_t m, int e, int neg)
{
    int off = e - DPT_WIDE_LOW;
    int i = off / 32;
    unsigned __int128 v = (unsigned __int128)m << (off % 32);
    int64_t part[3] = {(int64_t)(uint32_t)v, (int64_t)(uint32_t)(v >> 32),
                       (int64_t)(uint32_t)(v >> 64)};
    for (int k = 0; k < 3 && i + k < DPT_WIDE_LIMBS; k++) {
        s->w[i + k] += neg ? -part[k] : part[k];
    }
}

/* x = (-1)^neg * m * 2^e with an integer m < 2^24, e >= -149. */
static void float_parts(float x, uint64_t *m, int *e, int *neg)
{
    uint32_t u;
    memcpy(&u, &x, sizeof u);
    uint32_t biased = (u >> 23) & 0xff, frac = u & 0x7fffff;
    *neg = (int)(u >> 31);
    *m = biased ? frac | 0x800000u : frac;
    *e = biased ? (int)biased - 150 : -149;
}

void dpt_wide_add(struct dpt_wide *s, float x)
{
    uint64_t m;
    int e, neg;
    float_parts(x, &m, &e, &neg);
    wide_add_bits(s, m, e, neg);
}

void dpt_wide_add_square(struct dpt_wide *s, float x)
{
    uint64_t m;
    int e, neg;
    float_parts(x, &m, &e, &neg);
    wide_add_bits(s, m * m, 2 * e, 0);
}

void dpt_wide_normalize(struct dpt_wide *s)
{
    for (int i = 0; i + 1 < DPT_WIDE_LIMBS; i++) {
        int64_t low = (int64_t)((uint64_t)s->w[i] & 0xffffffffu);
        /* An exact division: w - low is a multiple of 2^32 (no shift of a
         * negative number, whose meaning C leaves to the compiler). */
        s->w[i + 1] += (s->w[i] - low) / ((int64_t)1 << 32);
        s->w[i] = low;
    }
}

/* The magnitude of a normalized s as DPT_WIDE_LIMBS 32-bit limbs, lowest
 * first; returns whether s is negative. */
static int wide_magnitude(const struct dpt_wide *s, uint32_t *mag)
{
    struct dpt_wide t = *s;
    int neg = t.w[DPT_WIDE_LIMBS - 1] < 0;
    if (neg) {
        for (int i = 0; i < DPT_WIDE_LIMBS; i++) {
            t.w[i] = -t.w[i];
        }
        dpt_wide_normalize(&t);
    }
    for (int i = 0; i < DPT_WIDE_LIMBS; i++) {
        mag[i] = (uint32_t)t.w[i]; /* the top limb is 0: sums stay below 2^384 */
    }
    return neg;
}

/* The double nearest to mag * 2^exp2 (n limbs, lowest first), ties to even:
 * the 64 bits from the highest set bit down, with a sticky bit for all
 * below, convert with one rounding. */
static double magnitude_to_double(const uint32_t *mag, int n, int exp2)
{
    int t = n - 1;
    while (t >= 0 && mag[t] == 0) {
        t--;
    }
    if (t < 0) {
        return 0.0;
    }
    unsigned __int128 win = (unsigned __int128)mag[t] << 64;
    win |= t >= 1 ? (unsigned __int128)mag[t - 1] << 32 : 0;
    win |= t >= 2 ? mag[t - 2] : 0;
    int sticky = 0;
    for (int j = 0; j < t - 2; j++) {
        sticky |= mag[j] != 0;
    }
    int high = 95 - __builtin_clz(mag[t]); /* the highest set bit of win */
    int drop = high - 63;                  /* 1 to 32 */
    uint64_t top = (uint64_t)(win >> drop);
    sticky |= (win & (((unsigned __int128)1 << drop) - 1)) != 0;
    return ldexp((double)(top | (uint64_t)sticky), drop + 32 * (t - 2) + exp2);
}

double dpt_wide_to_double(const struct dpt_wide *s)
{
    uint32_t mag[DPT_WIDE_LIMBS];
    int neg = wide_magnitude(s, mag);
    double v = magnitude_to_double(mag, DPT_WIDE_LIMBS, DPT_WIDE_LOW);
    return neg ? -v : v;
}

/* r (na + nb limbs) = a (na limbs) * b (nb limbs): schoolbook, 32-bit
 * limbs and 64-bit products. */
static void magnitude_mul(const uint32_t *a, int na, const uint32_t *b, int nb, uint32_t *r)
{
    memset(r, 0, (size_t)(na + nb) * sizeof *r);
    for (int i = 0; i < na; i++) {
        uint64_t carry = 0;
        for (int j = 0; j < nb; j++) {
            uint64_t t = (uint64_t)a[i] * b[j] + r[i + j] + carry;
            r[i + j] = (uint32_t)t;
            carry = t >> 32;
        }
        r[i + nb] = (uint32_t)carry;
    }
}

double dpt_wide_variance(const struct dpt_wide *sum, const struct dpt_wide *sq, uint64_t n)
{
    enum { K = DPT_WIDE_LIMBS, SHIFT = -DPT_WIDE_LOW / 32, N = 2 * K + 2 };
    /* sum^2 has the scale 2^(2 LOW), n * sq the scale 2^LOW: n * sq moves
     * up by -LOW bits (SHIFT limbs) to be subtracted from it. */
    uint32_t a[K], b[K], sum2[N] = {0}, nsq[N] = {0};
    wide_magnitude(sum, a);
    wide_magnitude(sq, b);
    uint32_t nl[2] = {(uint32_t)n, (uint32_t)(n >> 32)};
    magnitude_mul(a, K, a, K, sum2);
    magnitude_mul(b, K, nl, 2, nsq + SHIFT);
    int64_t borrow = 0;
    for (int i = 0; i < N; i++) {
        int64_t d = (int64_t)nsq[i] - sum2[i] - borrow;
        borrow = d < 0;
        nsq[i] = (uint32_t)(d + (borrow ? ((int64_t)1 << 32) : 0));
    }
    if (borrow) {
        return 0.0; /* n * sq >= sum^2 (Cauchy-Schwarz): not reached */
    }
    return magnitude_to_double(nsq, N, 2 * DPT_WIDE_LOW) / ((double)n * (double)n);
}

int dpt_wide_allreduce(struct dpt_wide *s, size_t n, MPI_Comm comm)
{
    int size;
    MPI_Comm_size(comm, &size);
    const size_t piece = (size_t)INT_MAX / sizeof *s;
    for (size_t off = 0; size > 1 && off < n; off += piece) {
        size_t k = n - off < piece ? n - off : piece;
        dpt__watch_enter();
        int rc = MPI_Allreduce(MPI_IN_PLACE, s + off, (int)(k * DPT_WIDE_LIMBS), MPI_INT64_T,
                               MPI_SUM, comm);
        dpt__watch_leave();
        if (rc != MPI_SUCCESS) {
            return -1;
        }
    }
    for (size_t i = 0; i < n; i++) {
        dpt_wide_normalize(&s[i]);
    }
    return 0;
}
