/* Tests for src/dist/exact.c: float to 128-bit fixed point (exact where the
 * float is a multiple of 2^-64, rounded as documented below that), sums that
 * give the same bits in any order and grouping, the conversion back to the
 * nearest float, and the refusal of NaN, Inf and too large values.
 *
 * References are computed another way: a float's fixed-point value through
 * long double (64-bit mantissa, so x * 2^64 is exact), a fixed-point value's
 * float through the compiler's own __int128-to-float conversion. The MPI
 * side is tested under mpirun by tests/mpi/test_exact_mpi.c. The wide sums
 * of the --deterministic statistics are checked against __int128 sums of
 * values where those are exact. */
#include "config.h"

#include "dist/exact.h"
#include "util.h"

#include <CUnit/CUnit.h>
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

/* A small generator (splitmix64): the same numbers on every machine. */
static uint64_t next(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15u);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
    return z ^ (z >> 31);
}

/* A float with random sign and fraction and an exponent in [lo, hi]. */
static float random_float(uint64_t *s, int lo, int hi)
{
    uint64_t r = next(s);
    float m = 1.0f + (float)(r & 0x7fffff) * 0x1p-23f;
    int e = lo + (int)((r >> 23) % (uint64_t)(hi - lo + 1));
    float x = ldexpf(m, e);
    return (r >> 63) ? -x : x;
}

static float from_bits(uint32_t u)
{
    float x;
    memcpy(&x, &u, sizeof x);
    return x;
}

static int same_float(float a, float b)
{
    return memcmp(&a, &b, sizeof a) == 0;
}

/* fix(x) as documented: sign(x) * floor(|x| * 2^64 + 1/2), in long double. */
static dpt_fix ref_fix(float x)
{
    long double y = fabsl((long double)x) * 0x1p64L;
    if (y != floorl(y)) {
        y = floorl(y + 0.5L); /* only here is y < 2^23, so y + 1/2 is exact */
    }
    dpt_fix v = (dpt_fix)y;
    return x < 0 ? -v : v;
}

/* The nearest float to v * 2^-64, by the compiler's conversion. */
static float ref_float(dpt_fix v)
{
    return (float)v * 0x1p-64f;
}

static dpt_fix fix1(float x)
{
    dpt_fix acc = 0;
    CU_ASSERT_EQUAL(dpt_fix_add(&acc, &x, 1, NULL), 0);
    return acc;
}

static float to_float1(dpt_fix v)
{
    float f;
    dpt_fix_to_float(&v, &f, 1);
    return f;
}

static void test_values(void)
{
    const dpt_fix one = (dpt_fix)1 << 64;
    CU_ASSERT(fix1(0.0f) == 0);
    CU_ASSERT(fix1(-0.0f) == 0);
    CU_ASSERT(fix1(1.0f) == one);
    CU_ASSERT(fix1(-1.0f) == -one);
    CU_ASSERT(fix1(0.75f) == 3 * (one >> 2));
    CU_ASSERT(fix1(-3.0f) == -3 * one);
    CU_ASSERT(fix1(0x1p-41f) == (dpt_fix)1 << 23);
    CU_ASSERT(fix1(-0x1.000002p-41f) == -(((dpt_fix)1 << 23) + 1));
    float big = nextafterf(0x1p39f, 0); /* the largest value taken */
    CU_ASSERT(fix1(big) == ref_fix(big));
    CU_ASSERT(fix1(-big) == -ref_fix(big));
    CU_ASSERT(fix1(big) == ((dpt_fix)0xffffff << 79));
    CU_ASSERT(same_float(to_float1(fix1(big)), big));
    CU_ASSERT(same_float(to_float1(fix1(-big)), -big));
    CU_ASSERT(same_float(to_float1(0), 0.0f));
}

/* Every binade taken exactly, 2^-41 to 2^38: fix(x) is x * 2^64 and the
 * float of fix(x) is x again, bit for bit. */
static void test_round_trip(void)
{
    uint64_t s = 1;
    for (int e = -41; e <= 38; e++) {
        for (int k = 0; k < 300; k++) {
            float x = random_float(&s, e, e);
            dpt_fix v = fix1(x);
            CU_ASSERT(v == ref_fix(x));
            CU_ASSERT(v == (dpt_fix)((long double)x * 0x1p64L));
            CU_ASSERT(same_float(to_float1(v), x));
        }
    }
}

/* Below 2^-41 the low bits fall under 2^-64: round half away from zero. */
static void test_tiny(void)
{
    CU_ASSERT(fix1(0x1p-64f) == 1);
    CU_ASSERT(fix1(0x1p-65f) == 1);   /* half: away from zero */
    CU_ASSERT(fix1(-0x1p-65f) == -1);
    CU_ASSERT(fix1(0x1.fffffep-66f) == 0); /* just under half */
    CU_ASSERT(fix1(0x1p-66f) == 0);
    CU_ASSERT(fix1(0x1.8p-66f) == 0);
    CU_ASSERT(fix1(0x1.8p-65f) == 1); /* 0.75 */
    CU_ASSERT(fix1(0x1.8p-64f) == 2); /* 1.5: away, which is also even */
    CU_ASSERT(fix1(0x1.4p-63f) == 3); /* 2.5: away from zero, not to even */
    CU_ASSERT(fix1(-0x1.4p-63f) == -3);
    CU_ASSERT(fix1(0x1.000002p-42f) == ((dpt_fix)1 << 22) + 1); /* 2^22 + 1/2 */
    CU_ASSERT(fix1(0x1.000006p-42f) == ((dpt_fix)1 << 22) + 2); /* 2^22 + 3/2 */
    CU_ASSERT(fix1(FLT_MIN) == 0);
    CU_ASSERT(fix1(-FLT_MIN) == 0);
    CU_ASSERT(fix1(from_bits(0x00000001)) == 0); /* subnormals */
    CU_ASSERT(fix1(from_bits(0x807fffff)) == 0);
    uint64_t s = 2;
    for (int k = 0; k < 20000; k++) {
        float x = random_float(&s, -90, -42);
        CU_ASSERT(fix1(x) == ref_fix(x));
    }
}

static void check_refused(float *x, size_t n, size_t want)
{
    dpt_fix *acc = calloc(n, sizeof *acc), *before = calloc(n, sizeof *acc);
    CU_ASSERT_FATAL(acc && before);
    for (size_t i = 0; i < n; i++) {
        acc[i] = before[i] = (dpt_fix)i * 12345 - 99;
    }
    size_t bad = n + 1;
    CU_ASSERT_EQUAL(dpt_fix_add(acc, x, n, &bad), -1);
    CU_ASSERT_EQUAL(bad, want);
    CU_ASSERT(memcmp(acc, before, n * sizeof *acc) == 0); /* left as it was */
    CU_ASSERT_EQUAL(dpt_fix_add(acc, x, n, NULL), -1);
    CU_ASSERT(memcmp(acc, before, n * sizeof *acc) == 0);
    free(acc);
    free(before);
}

static void test_errors(void)
{
    enum { N = 1001 };
    float x[N];
    for (size_t i = 0; i < N; i++) {
        x[i] = (float)i - 500.0f;
    }
    x[7] = NAN;
    check_refused(x, N, 7);
    x[3] = -INFINITY; /* the first bad value is reported */
    check_refused(x, N, 3);
    x[3] = from_bits(0xffc00001); /* NaN with sign and payload */
    check_refused(x, N, 3);
    x[3] = 0x1p39f; /* the limit itself */
    check_refused(x, N, 3);
    x[3] = -0x1p39f;
    check_refused(x, N, 3);
    x[3] = 1;
    x[7] = 1;
    x[N - 1] = INFINITY; /* in the vector loop's remainder */
    check_refused(x, N, N - 1);
    x[N - 1] = 1e12f;
    check_refused(x, N, N - 1);
    x[N - 1] = FLT_MAX;
    check_refused(x, N, N - 1);

    x[N - 1] = nextafterf(-0x1p39f, 0); /* all taken again */
    dpt_fix *acc = calloc(N, sizeof *acc);
    CU_ASSERT_FATAL(acc != NULL);
    size_t bad = 12345;
    CU_ASSERT_EQUAL(dpt_fix_add(acc, x, N, &bad), 0);
    CU_ASSERT_EQUAL(bad, 12345); /* written only on error */
    CU_ASSERT(acc[N - 1] == ref_fix(x[N - 1]));
    CU_ASSERT_EQUAL(dpt_fix_add(acc, x, 0, &bad), 0);
    free(acc);
}

/* K vectors of n values (10^5 in all), mixed magnitudes 2^-70 to 2^30, both
 * signs, a tenth zeros: the terms of one reduction, e.g. K micro-shards. */
enum { K = 1000, NV = 100 };

static float *mixed_terms(uint64_t seed)
{
    float *x = malloc((size_t)K * NV * sizeof *x);
    CU_ASSERT_FATAL(x != NULL);
    for (size_t i = 0; i < (size_t)K * NV; i++) {
        x[i] = next(&seed) % 10 == 0 ? 0.0f : random_float(&seed, -70, 30);
    }
    return x;
}

static void shuffle(size_t *p, size_t n, uint64_t *s)
{
    for (size_t i = 0; i < n; i++) {
        p[i] = i;
    }
    for (size_t i = n - 1; i > 0; i--) {
        size_t j = (size_t)(next(s) % (i + 1)), t = p[i];
        p[i] = p[j];
        p[j] = t;
    }
}

/* One reduction, four ways; the bits of the sums and of their floats agree,
 * and agree with the sum of reference conversions. Plain float sums in two
 * of those orders differ, which is the point. */
static void test_orders(void)
{
    float *x = mixed_terms(3);
    dpt_fix a[NV] = {0}, b[NV] = {0}, c[NV] = {0}, d[NV] = {0}, ref[NV] = {0};
    dpt_fix part[3][NV] = {{0}};
    uint64_t s = 4;

    /* a: in order, one call per vector. */
    for (size_t k = 0; k < K; k++) {
        CU_ASSERT_EQUAL(dpt_fix_add(a, x + k * NV, NV, NULL), 0);
    }
    /* b: backwards, each vector cut into pieces at random places. */
    for (size_t k = K; k-- > 0;) {
        for (size_t lo = 0, hi; lo < NV; lo = hi) {
            hi = lo + 1 + (size_t)(next(&s) % 17);
            hi = hi < NV ? hi : NV;
            CU_ASSERT_EQUAL(dpt_fix_add(b + lo, x + k * NV + lo, hi - lo, NULL), 0);
        }
    }
    /* c: vectors shuffled and dealt to three accumulators ("threads"),
     * then summed 2, 0, 1. */
    size_t perm[K];
    shuffle(perm, K, &s);
    for (size_t k = 0; k < K; k++) {
        CU_ASSERT_EQUAL(dpt_fix_add(part[k % 3], x + perm[k] * NV, NV, NULL), 0);
    }
    dpt_fix_sum(c, part[2], NV);
    dpt_fix_sum(c, part[0], NV);
    dpt_fix_sum(c, part[1], NV);
    /* d: all 10^5 values shuffled, one at a time. */
    size_t *all = malloc((size_t)K * NV * sizeof *all);
    CU_ASSERT_FATAL(all != NULL);
    shuffle(all, (size_t)K * NV, &s);
    for (size_t i = 0; i < (size_t)K * NV; i++) {
        size_t j = all[i] % NV;
        CU_ASSERT_EQUAL(dpt_fix_add(&d[j], &x[all[i]], 1, NULL), 0);
    }
    for (size_t i = 0; i < (size_t)K * NV; i++) {
        ref[i % NV] += ref_fix(x[i]);
    }
    CU_ASSERT(memcmp(a, b, sizeof a) == 0);
    CU_ASSERT(memcmp(a, c, sizeof a) == 0);
    CU_ASSERT(memcmp(a, d, sizeof a) == 0);
    CU_ASSERT(memcmp(a, ref, sizeof a) == 0);

    float fa[NV], fd[NV], plain_fwd[NV] = {0}, plain_shuffled[NV] = {0};
    dpt_fix_to_float(a, fa, NV);
    dpt_fix_to_float(d, fd, NV);
    CU_ASSERT(memcmp(fa, fd, sizeof fa) == 0);
    int plain_differs = 0;
    for (size_t j = 0; j < NV; j++) {
        CU_ASSERT(same_float(fa[j], ref_float(ref[j])));
        for (size_t k = 0; k < K; k++) {
            plain_fwd[j] += x[k * NV + j];
            plain_shuffled[j] += x[perm[k] * NV + j];
        }
        plain_differs += !same_float(plain_fwd[j], plain_shuffled[j]);
    }
    CU_ASSERT(plain_differs > 0);
    free(all);
    free(x);
}

/* Multiples of 2^-10 below 2^14: their double sums are exact, so the fixed
 * sum must be that double times 2^64 and its float the double rounded. */
static void test_double_reference(void)
{
    uint64_t s = 5;
    float *x = malloc((size_t)K * NV * sizeof *x);
    CU_ASSERT_FATAL(x != NULL);
    double dsum[NV] = {0};
    dpt_fix acc[NV] = {0};
    for (size_t k = 0; k < K; k++) {
        for (size_t j = 0; j < NV; j++) {
            int64_t m = (int64_t)(next(&s) % (1u << 24)) - (1 << 23);
            x[k * NV + j] = (float)m * 0x1p-10f;
            dsum[j] += (double)m * 0x1p-10;
        }
        CU_ASSERT_EQUAL(dpt_fix_add(acc, x + k * NV, NV, NULL), 0);
    }
    float out[NV];
    dpt_fix_to_float(acc, out, NV);
    for (size_t j = 0; j < NV; j++) {
        dpt_fix want = (dpt_fix)(int64_t)(dsum[j] * 0x1p10) * ((dpt_fix)1 << 54);
        CU_ASSERT(acc[j] == want);
        CU_ASSERT(same_float(out[j], (float)dsum[j]));
    }
    free(x);
}

/* dpt_fix_sum is 128-bit addition: carries between the words, signs. */
static void test_sum(void)
{
    const dpt_fix one = (dpt_fix)1 << 64;
    dpt_fix acc[6] = {one - 1, -1, -one, one + 5, 0, ((dpt_fix)1 << 126) - 1};
    dpt_fix b[6] = {1, 1, -1, -(one + 5), -7, 1};
    dpt_fix want[6] = {one, 0, -one - 1, 0, -7, (dpt_fix)1 << 126};
    dpt_fix_sum(acc, b, 6);
    CU_ASSERT(memcmp(acc, want, sizeof acc) == 0);

    uint64_t s = 6;
    enum { M = 1003 };
    dpt_fix *x = malloc(M * sizeof *x), *y = malloc(M * sizeof *y);
    CU_ASSERT_FATAL(x && y);
    for (size_t i = 0; i < M; i++) {
        /* Random 120-bit values of both signs. */
        x[i] = (dpt_fix)(((unsigned __int128)next(&s) << 64 | next(&s)) >> 8);
        y[i] = (dpt_fix)(((unsigned __int128)next(&s) << 64 | next(&s)) >> 8);
        x[i] = (next(&s) & 1) ? -x[i] : x[i];
    }
    dpt_fix *z = malloc(M * sizeof *z);
    CU_ASSERT_FATAL(z != NULL);
    memcpy(z, x, M * sizeof *z);
    dpt_fix_sum(z + 1, y + 1, M - 1); /* an odd start and length */
    CU_ASSERT(z[0] == x[0]);
    for (size_t i = 1; i < M; i++) {
        CU_ASSERT(z[i] == x[i] + y[i]);
    }
    free(x);
    free(y);
    free(z);
}

/* Nearest float, ties to even, from both words; negative values; extremes. */
static void test_to_float(void)
{
    const dpt_fix one = (dpt_fix)1 << 64, t24 = (dpt_fix)1 << 24;
    struct {
        dpt_fix v;
        float want;
    } cases[] = {
        {1, 0x1p-64f},
        {-1, -0x1p-64f},
        {t24 + 1, 0x1p-40f},                            /* tie: to even, down */
        {t24 + 3, 0x1.000004p-40f},                     /* tie: to even, up */
        {(t24 + 1) << 60, 0x1p20f},                     /* tie across the words */
        {((t24 + 1) << 60) + 1, 0x1.000002p20f},        /* just above: the sticky bit */
        {-(((t24 + 1) << 60) + 1), -0x1.000002p20f},
        {((t24 + 1) << 90) + 1, 0x1.000002p50f},        /* the one 90 bits down counts */
        {((t24 + 1) << 90) - 1, 0x1p50f},
        {one - 1, 1.0f},
        {-one + 1, -1.0f},
        {(dpt_fix)((((unsigned __int128)1) << 127) - 1), 0x1p63f}, /* the largest */
        {(dpt_fix)(((unsigned __int128)1) << 127), -0x1p63f},      /* the smallest */
        {(dpt_fix)1 << 63, 0x1p-1f},
        {((dpt_fix)1 << 63) + 1, 0x1p-1f},
        {-((dpt_fix)1 << 63), -0x1p-1f},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        float got = to_float1(cases[i].v);
        CU_ASSERT(same_float(got, cases[i].want));
        CU_ASSERT(same_float(got, ref_float(cases[i].v)));
    }

    /* Around where the conversion changes method (exact.c, to_float_kernel:
     * magnitudes of 2^41, 2^64 and 2^92 units), the top bit b from 38 to
     * 95: a tie (to even, down), a tie on an odd float (up), and a tie
     * plus a one in the lowest bit, or in the word below (the sticky bits
     * decide: up), both signs. */
    for (int b = 38; b <= 95; b++) {
        dpt_fix tie = ((dpt_fix)1 << b) + ((dpt_fix)1 << (b - 24));
        dpt_fix odd = tie + ((dpt_fix)1 << (b - 23));
        dpt_fix vs[] = {tie, odd, tie + 1, tie + ((dpt_fix)1 << 38), tie + ((dpt_fix)1 << 15),
                        tie - 1, ((dpt_fix)1 << (b + 1)) - 1};
        for (size_t k = 0; k < sizeof vs / sizeof vs[0]; k++) {
            for (int sign = -1; sign <= 1; sign += 2) {
                dpt_fix v = sign * vs[k];
                CU_ASSERT(same_float(to_float1(v), ref_float(v)));
            }
        }
        CU_ASSERT(same_float(to_float1(tie), ldexpf(1.0f, b - 64)));
        CU_ASSERT(same_float(to_float1(tie + 1), ldexpf(1.0f + 0x1p-23f, b - 64)));
    }

    /* Random values of every length, in one call of an odd length. */
    enum { M = 12345 };
    dpt_fix *v = malloc(M * sizeof *v);
    float *out = malloc(M * sizeof *out);
    CU_ASSERT_FATAL(v && out);
    uint64_t s = 7;
    for (size_t i = 0; i < M; i++) {
        unsigned __int128 r = (unsigned __int128)next(&s) << 64 | next(&s);
        v[i] = (dpt_fix)(r >> (next(&s) % 128));
        v[i] = (next(&s) & 1) ? -v[i] : v[i];
    }
    dpt_fix_to_float(v, out, M);
    size_t wrong = 0;
    for (size_t i = 0; i < M; i++) {
        wrong += !same_float(out[i], ref_float(v[i]));
    }
    CU_ASSERT_EQUAL(wrong, 0);
    free(v);
    free(out);
}

/* dpt_fix_set is dpt_fix_add onto zeros, whatever acc held; a refused set
 * leaves acc as it was. */
static void test_set(void)
{
    float *x = mixed_terms(11);
    dpt_fix added[NV] = {0}, set[NV];
    for (size_t j = 0; j < NV; j++) {
        set[j] = (dpt_fix)0x5a5a5a5a5a5a5a5a * (dpt_fix)(j + 1); /* garbage to overwrite */
    }
    for (size_t k = 0; k < 3; k++) {
        CU_ASSERT_EQUAL(dpt_fix_add(added, x + k * NV, NV, NULL), 0);
    }
    CU_ASSERT_EQUAL(dpt_fix_set(set, x, NV, NULL), 0);
    for (size_t k = 1; k < 3; k++) {
        CU_ASSERT_EQUAL(dpt_fix_add(set, x + k * NV, NV, NULL), 0);
    }
    CU_ASSERT(memcmp(added, set, sizeof set) == 0);
    float bad[3] = {1.0f, INFINITY, 2.0f};
    size_t at = 0;
    CU_ASSERT_EQUAL(dpt_fix_set(set, bad, 3, &at), -1);
    CU_ASSERT_EQUAL(at, 1);
    CU_ASSERT(memcmp(added, set, sizeof set) == 0);
    free(x);
}

/* dpt_fix_set_clear and dpt_fix_add_clear give the sums of dpt_fix_set and
 * dpt_fix_add and leave x all +0; a refused call changes neither acc nor x. */
static void test_clear(void)
{
    float *x = mixed_terms(12);
    dpt_fix plain[NV], cleared[NV];
    CU_ASSERT_EQUAL(dpt_fix_set(plain, x, NV, NULL), 0);
    CU_ASSERT_EQUAL(dpt_fix_set_clear(cleared, x, NV, NULL), 0);
    for (size_t k = 1; k < 3; k++) {
        CU_ASSERT_EQUAL(dpt_fix_add(plain, x + k * NV, NV, NULL), 0);
        CU_ASSERT_EQUAL(dpt_fix_add_clear(cleared, x + k * NV, NV, NULL), 0);
    }
    CU_ASSERT(memcmp(plain, cleared, sizeof plain) == 0);
    size_t nonzero = 0;
    for (size_t j = 0; j < 3 * NV; j++) {
        nonzero += !same_float(x[j], 0.0f);
    }
    CU_ASSERT_EQUAL(nonzero, 0);
    float bad[3] = {1.0f, NAN, 2.0f}, kept[3];
    memcpy(kept, bad, sizeof kept);
    size_t at = 0;
    CU_ASSERT_EQUAL(dpt_fix_add_clear(cleared, bad, 3, &at), -1);
    CU_ASSERT_EQUAL(at, 1);
    CU_ASSERT_EQUAL(dpt_fix_set_clear(cleared, bad, 3, &at), -1);
    CU_ASSERT(memcmp(bad, kept, sizeof kept) == 0);
    CU_ASSERT(memcmp(plain, cleared, sizeof plain) == 0);
    free(x);
}

/* The double form (dpt_fixd_add_clear, the leftovers through
 * dpt_fix_add_clear, then dpt_fixd_to_fix) against dpt_fix_add of every
 * term: the same integers, in three mixes. Terms of close magnitudes (the
 * usual gradient) all go to the doubles and their float is the double's;
 * terms from 2^-70 to 2^30 (tiny ones that dpt_fix rounds, and sums whose
 * bits span more than a double holds) leave some for the fixed path; and
 * NaN or too large must be left and then refused there, as without the
 * doubles. */
static void check_fixd(const float *terms, size_t k_terms, size_t *left_out)
{
    dpt_fix want[NV], acc[NV];
    double d[NV];
    float x[NV], f_want[NV];
    memset(want, 0, sizeof want);
    memset(acc, 0, sizeof acc);
    size_t left = 0;
    for (size_t k = 0; k < k_terms; k++) {
        CU_ASSERT_EQUAL(dpt_fix_add(want, terms + k * NV, NV, NULL), 0);
        memcpy(x, terms + k * NV, sizeof x);
        size_t l = dpt_fixd_add_clear(d, x, NV, k == 0);
        left += l;
        if (l) {
            CU_ASSERT_EQUAL(dpt_fix_add_clear_nonzero(acc, x, NV, NULL), 0);
        }
        for (size_t j = 0; j < NV; j++) {
            CU_ASSERT(same_float(x[j], 0.0f));
        }
    }
    dpt_fixd_to_fix(acc, d, NV, 1);
    CU_ASSERT(memcmp(acc, want, sizeof acc) == 0);
    dpt_fix set[NV];
    dpt_fixd_to_fix(set, d, NV, 0);
    dpt_fix_to_float(want, f_want, NV);
    if (left == 0) { /* all in the doubles: set is the sum, and (float)d its float */
        CU_ASSERT(memcmp(set, want, sizeof set) == 0);
        for (size_t j = 0; j < NV; j++) {
            CU_ASSERT(same_float((float)d[j], f_want[j]));
        }
    }
    *left_out = left;
}

static void test_fixd(void)
{
    uint64_t seed = 21;
    float *close = malloc((size_t)K * NV * sizeof *close);
    CU_ASSERT_FATAL(close != NULL);
    for (size_t i = 0; i < (size_t)K * NV; i++) {
        close[i] = next(&seed) % 10 == 0 ? 0.0f : random_float(&seed, -20, -2);
    }
    size_t left;
    check_fixd(close, 64, &left);
    CU_ASSERT_EQUAL(left, 0);
    float *mixed = mixed_terms(22);
    check_fixd(mixed, 64, &left);
    CU_ASSERT(left > 0);
    /* exact in the doubles up to the last bit: 2^38 + 2^-14 needs 53 bits */
    float edge[2 * NV] = {0};
    edge[0] = 0x1p38f, edge[NV] = 0x1p-14f;
    edge[1] = 0x1p38f, edge[NV + 1] = 0x1p-15f;            /* 54 bits: left */
    edge[2] = 0x1p-41f, edge[4] = -0.0f; /* taken */
    edge[3] = 0x1.8p-42f;                 /* below 2^-41: left */
    check_fixd(edge, 2, &left);
    CU_ASSERT_EQUAL(left, 2);
    /* NaN, Inf and too large stay in x for the fixed path to refuse */
    float bad[NV] = {0};
    bad[3] = NAN, bad[5] = INFINITY, bad[7] = 0x1p39f;
    double d[NV];
    CU_ASSERT_EQUAL(dpt_fixd_add_clear(d, bad, NV, 1), 3);
    CU_ASSERT(isnan(bad[3]) && isinf(bad[5]) && bad[7] == 0x1p39f);
    dpt_fix acc[NV] = {0};
    size_t at = 0;
    CU_ASSERT_EQUAL(dpt_fix_add_clear_nonzero(acc, bad, NV, &at), -1);
    CU_ASSERT_EQUAL(at, 3);
    free(close);
    free(mixed);
}

/* Terms that cancel give exactly +0, whatever the order. */
static void test_cancel(void)
{
    float *x = mixed_terms(8);
    dpt_fix acc[NV] = {0};
    for (size_t k = 0; k < K; k++) {
        CU_ASSERT_EQUAL(dpt_fix_add(acc, x + k * NV, NV, NULL), 0);
    }
    for (size_t i = 0; i < (size_t)K * NV; i++) {
        x[i] = -x[i];
    }
    for (size_t k = K; k-- > 0;) {
        CU_ASSERT_EQUAL(dpt_fix_add(acc, x + k * NV, NV, NULL), 0);
    }
    float out[NV];
    dpt_fix_to_float(acc, out, NV);
    for (size_t j = 0; j < NV; j++) {
        CU_ASSERT(acc[j] == 0);
        CU_ASSERT(same_float(out[j], 0.0f));
    }
    /* 0.1f + 0.2f - 0.3f is not 0 in floats; here it is their exact sum. */
    float y[3] = {0.1f, 0.2f, -0.3f};
    dpt_fix one = 0;
    for (int i = 0; i < 3; i++) {
        CU_ASSERT_EQUAL(dpt_fix_add(&one, &y[i], 1, NULL), 0);
    }
    CU_ASSERT(one == ref_fix(0.1f) + ref_fix(0.2f) + ref_fix(-0.3f));
    free(x);
}

/* The same sums on every machine, compiler and instruction set: a hash of
 * a fixed reduction (its sums and their floats as little-endian bytes). */
static void test_golden(void)
{
    float *x = mixed_terms(9);
    dpt_fix acc[NV] = {0};
    for (size_t k = 0; k < K; k++) {
        CU_ASSERT_EQUAL(dpt_fix_add(acc, x + k * NV, NV, NULL), 0);
    }
    float out[NV];
    dpt_fix_to_float(acc, out, NV);
    unsigned char sums[NV * 16], floats[NV * 4];
    for (size_t j = 0; j < NV; j++) {
        for (int b = 0; b < 16; b++) {
            sums[16 * j + (size_t)b] = (unsigned char)((unsigned __int128)acc[j] >> (8 * b));
        }
        uint32_t u;
        memcpy(&u, &out[j], sizeof u);
        for (int b = 0; b < 4; b++) {
            floats[4 * j + (size_t)b] = (unsigned char)(u >> (8 * b));
        }
    }
    uint64_t h = XXH3_64bits_withSeed(sums, sizeof sums, XXH3_64bits(floats, sizeof floats));
    if (h != UINT64_C(0x10b11d5ed7b3a667)) {
        printf("\n    hash %016llx, expected 10b11d5ed7b3a667 ", (unsigned long long)h);
    }
    CU_ASSERT_EQUAL(h, UINT64_C(0x10b11d5ed7b3a667));
    free(x);
}

/* Wide sums (struct dpt_wide): exact whatever the magnitudes. Terms that a
 * double sum would lose beside a large one survive its cancelling, down to
 * the smallest subnormal float, and so do the largest squares. */
static void test_wide_exact(void)
{
    struct dpt_wide s = {{0}};
    dpt_wide_add(&s, 0x1p100f);
    dpt_wide_add(&s, 1.0f);
    dpt_wide_add(&s, 0x1p-149f);
    dpt_wide_add(&s, -0x1p100f);
    dpt_wide_normalize(&s);
    CU_ASSERT_EQUAL(dpt_wide_to_double(&s), 1.0 + 0x1p-149);
    struct dpt_wide q = {{0}};
    for (int i = 0; i < 1000; i++) {
        dpt_wide_add_square(&q, FLT_MAX);
        dpt_wide_add_square(&q, -0x1p-149f);
    }
    dpt_wide_normalize(&q);
    /* 1000 FLT_MAX^2 (2^256 (1 - 2^-24)^2 each) and 1000 2^-298: the
     * double nearest is 1000 FLT_MAX^2 rounded once. */
    CU_ASSERT_EQUAL(dpt_wide_to_double(&q), 1000.0 * ((double)FLT_MAX * FLT_MAX));
    struct dpt_wide neg = {{0}};
    dpt_wide_add(&neg, -3.5f);
    dpt_wide_add(&neg, 0x1p-140f);
    dpt_wide_normalize(&neg);
    CU_ASSERT_EQUAL(dpt_wide_to_double(&neg), -3.5 + 0x1p-140);
}

/* The conversion to double rounds once, to nearest, ties to even: 2^53 + 1
 * is a tie (to 2^53), and the smallest term beyond it breaks the tie up. */
static void test_wide_rounding(void)
{
    struct dpt_wide s = {{0}};
    dpt_wide_add(&s, 0x1p53f);
    dpt_wide_add(&s, 1.0f);
    dpt_wide_normalize(&s);
    CU_ASSERT_EQUAL(dpt_wide_to_double(&s), 0x1p53);
    dpt_wide_add(&s, 0x1p-149f);
    dpt_wide_normalize(&s);
    CU_ASSERT_EQUAL(dpt_wide_to_double(&s), 0x1p53 + 2.0);
    /* Random sums against the compiler's correctly rounded __int128 to
     * double: terms in [2^-41, 2^39) are exact in 64 fractional bits. */
    uint64_t seed = 7;
    for (int t = 0; t < 200; t++) {
        struct dpt_wide w = {{0}};
        __int128 ref = 0;
        for (int i = 0; i < 50; i++) {
            float x = random_float(&seed, -41, 20);
            dpt_wide_add(&w, x);
            ref += (__int128)((long double)x * 0x1p64L);
        }
        dpt_wide_normalize(&w);
        CU_ASSERT_EQUAL(dpt_wide_to_double(&w), ldexp((double)ref, -64));
    }
}

/* Same bits in any order and grouping: one accumulator forwards, another
 * backwards in three parts summed as the ranks' are. */
static void test_wide_orders(void)
{
    enum { N = 3000 };
    uint64_t seed = 11;
    float x[N];
    for (int i = 0; i < N; i++) {
        x[i] = random_float(&seed, -149, 127);
    }
    struct dpt_wide a[2] = {{{0}}}, b[3][2];
    memset(b, 0, sizeof b);
    for (int i = 0; i < N; i++) {
        dpt_wide_add(&a[0], x[i]);
        dpt_wide_add_square(&a[1], x[i]);
        dpt_wide_add(&b[i % 3][0], x[N - 1 - i]);
        dpt_wide_add_square(&b[i % 3][1], x[N - 1 - i]);
    }
    for (int k = 0; k < 2; k++) {
        dpt_wide_normalize(&a[k]);
        for (int p = 1; p < 3; p++) {
            for (int l = 0; l < DPT_WIDE_LIMBS; l++) {
                b[0][k].w[l] += b[p][k].w[l];
            }
        }
        dpt_wide_normalize(&b[0][k]);
        CU_ASSERT_EQUAL(memcmp(&a[k], &b[0][k], sizeof a[k]), 0);
    }
}

/* The variance against integers: for integer-valued floats (n * S2 - S1^2)
 * is exact in __int128, rounded once to double and divided by n^2, which
 * is what dpt_wide_variance promises. Values near 2^24 with a spread of a
 * few thousand: the naive S2 / n - mean^2 in double loses every digit.
 * Scaled by 2^-40 (exact) the variance is the same times 2^-80. */
static void test_wide_variance(void)
{
    enum { N = 5000 };
    uint64_t seed = 3;
    struct dpt_wide s = {{0}}, q = {{0}}, s2 = {{0}}, q2 = {{0}};
    __int128 s1 = 0, sq = 0;
    for (int i = 0; i < N; i++) {
        float x = (float)(16777216 - (int)(next(&seed) % 4096));
        dpt_wide_add(&s, x);
        dpt_wide_add_square(&q, x);
        dpt_wide_add(&s2, x * 0x1p-40f);
        dpt_wide_add_square(&q2, x * 0x1p-40f);
        s1 += (__int128)x;
        sq += (__int128)x * (__int128)x;
    }
    dpt_wide_normalize(&s);
    dpt_wide_normalize(&q);
    dpt_wide_normalize(&s2);
    dpt_wide_normalize(&q2);
    double want = (double)((__int128)N * sq - s1 * s1) / ((double)N * N);
    double got = dpt_wide_variance(&s, &q, N);
    if (got != want) {
        printf("\n    variance %.17g, expected %.17g ", got, want);
    }
    CU_ASSERT_EQUAL(got, want);
    CU_ASSERT(want > 1e6 && want < 2e6); /* uniform on 4096 values: 4096^2 / 12 */
    CU_ASSERT_EQUAL(dpt_wide_variance(&s2, &q2, N), want * 0x1p-80);
    struct dpt_wide c = {{0}}, c2 = {{0}};
    for (int i = 0; i < 7; i++) {
        dpt_wide_add(&c, 0.1f);
        dpt_wide_add_square(&c2, 0.1f);
    }
    dpt_wide_normalize(&c);
    dpt_wide_normalize(&c2);
    CU_ASSERT_EQUAL(dpt_wide_variance(&c, &c2, 7), 0.0); /* a constant: exactly 0 */
}

int main(void)
{
#if defined(__AVX2__) && defined(DPT_FIX_CLONES)
    /* tests/test_exact_avx2 (exact.c built for AVX2): not for a CPU without */
    if (!__builtin_cpu_supports("avx2")) {
        printf("skipped: this CPU has no AVX2\n");
        return 77;
    }
#endif
    if (CU_initialize_registry() != CUE_SUCCESS) {
        return 2;
    }
    CU_pSuite in = CU_add_suite("float to fixed", NULL, NULL);
    CU_add_test(in, "exact values", test_values);
    CU_add_test(in, "round trip, 2^-41 to 2^39", test_round_trip);
    CU_add_test(in, "below 2^-41: half away from zero", test_tiny);
    CU_add_test(in, "NaN, Inf, too large", test_errors);
    CU_pSuite sums = CU_add_suite("sums", NULL, NULL);
    CU_add_test(sums, "any order, any grouping", test_orders);
    CU_add_test(sums, "exact double sums", test_double_reference);
    CU_add_test(sums, "dpt_fix_sum", test_sum);
    CU_add_test(sums, "dpt_fix_set", test_set);
    CU_add_test(sums, "clearing the terms as they are added", test_clear);
    CU_add_test(sums, "cancelling terms", test_cancel);
    CU_add_test(sums, "the double form: the same integers", test_fixd);
    CU_add_test(sums, "golden hash", test_golden);
    CU_pSuite out = CU_add_suite("fixed to float", NULL, NULL);
    CU_add_test(out, "nearest, ties to even", test_to_float);
    CU_pSuite wide = CU_add_suite("wide sums (statistics)", NULL, NULL);
    CU_add_test(wide, "exact at any magnitude", test_wide_exact);
    CU_add_test(wide, "to double: nearest, ties to even", test_wide_rounding);
    CU_add_test(wide, "any order, any grouping", test_wide_orders);
    CU_add_test(wide, "variance with an exact numerator", test_wide_variance);
    return test_run_all();
}
