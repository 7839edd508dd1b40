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
 *   dpt_fix_to_float         2.0e9         0.23e9       0.21e9
 *
 * dpt_fix_add is 0.15 ms per micro-shard on AVX-512, of which the range
 * check pass is about 10%; a plain float acc[i] += x[i] runs at 4-6e9/s.
 * Without AVX-512 (lzcnt and int64-to-float in vectors) to_float stays
 * scalar; it runs once per step and callers may split it over threads.
 * MPI_Allreduce on 2 ranks of one node (Open MPI 4.1.4, shared memory):
 * 235,146 dpt_fix with the user op 0.90 ms; 235,146 floats with MPI_SUM
 * 0.25 ms; 4 x 235,146 floats (the same bytes) with MPI_SUM 0.90 ms, so the
 * user op costs nothing beyond moving 4 times the bytes.
 */
#include "config.h"

#include "dist/exact.h"
#include "dist/watchdog.h"

#include <limits.h>
#include <stdint.h>
#include <string.h>

/* GCC on x86-64 with glibc (for ifunc) builds each kernel three times. All
 * clones compute the same integers, so the choice never changes a result.
 * -DDPT_FIX_CLONES=0 builds one version, for the build's own -march (that is
 * how the baseline and AVX2 versions are tested on an AVX-512 machine). */
#ifndef DPT_FIX_CLONES
#if defined(__x86_64__) && defined(__GLIBC__) && !defined(__clang__) && __GNUC__ >= 11
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

/* acc += fix(x), for x already checked to be below the limit.
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
 * Then v is negated (two's complement of both words) when s is set and
 * added with a carry from the low word into the high word. */
KERNEL static void add_kernel(word *restrict acc, const float *restrict x, size_t n)
{
#pragma omp simd
    for (size_t i = 0; i < n; i++) {
        uint32_t u;
        memcpy(&u, &x[i], sizeof u);
        int64_t t = (int64_t)((u >> 23) & 0xff) - 125;
        uint64_t M = (uint64_t)((u & 0x7fffffu) | 0x800000u) << 39;
        uint64_t up = (uint64_t)(t > 0 ? t : 0);
        int64_t k = -t - 1;
        uint64_t down = (uint64_t)(k < 0 ? 0 : k > 63 ? 63 : k);
        uint64_t lo = t >= 0 ? M << up : ((M >> down) + 1) >> 1;
        uint64_t hi = (M >> 1) >> (63 - up);
        uint64_t neg = -(uint64_t)(u >> 31); /* all ones when x < 0 */
        hi = (hi ^ neg) + (neg & (uint64_t)(lo == 0));
        lo = (lo ^ neg) - neg;
        uint64_t sum = acc[2 * i + LO] + lo;
        acc[2 * i + HI] += hi + (uint64_t)(sum < lo);
        acc[2 * i + LO] = sum;
    }
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

/* out = float(v * 2^-64). Take the magnitude mh * 2^64 + ml. If mh = 0, ml
 * converts directly. Otherwise shift the magnitude left by c = clz(mh) so its
 * top 64 bits w start with a one, and fold the bits that fall off into w's
 * lowest bit (a sticky bit). w keeps 40 bits below the float's 24, so the
 * sticky bit only tells "exactly half an ulp" from "a little more", and the
 * hardware's unsigned-to-float conversion rounds w exactly as it would round
 * the whole magnitude. Scaling by 2^-c (or 2^-64) is exact, then the sign is
 * put back. */
KERNEL static void to_float_kernel(const word *restrict acc, float *restrict out, size_t n)
{
#pragma omp simd
    for (size_t i = 0; i < n; i++) {
        uint64_t lo = acc[2 * i + LO], hi = acc[2 * i + HI];
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
        memcpy(&out[i], &f_bits, sizeof f_bits);
    }
}

int dpt_fix_add(dpt_fix *acc, const float *x, size_t n, size_t *bad)
{
    /* Check everything first, so that a refused call leaves acc as it was. */
    if (max_abs_bits(x, n) >= LIMIT_BITS) {
        size_t i = 0;
        while (abs_bits(x[i]) < LIMIT_BITS) {
            i++;
        }
        if (bad) {
            *bad = i;
        }
        return -1;
    }
    add_kernel((word *)acc, x, n);
    return 0;
}

void dpt_fix_sum(dpt_fix *acc, const dpt_fix *b, size_t n)
{
    sum_kernel((word *)acc, (const word *)b, n);
}

void dpt_fix_to_float(const dpt_fix *acc, float *out, size_t n)
{
    to_float_kernel((const word *)acc, out, n);
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
