/* Exact, order-independent sums of float gradients: the --deterministic
 * reduction of DESIGN.md ("Parallel model").
 *
 * Format. A dpt_fix is a signed 128-bit two's-complement integer v read as a
 * fixed-point number with DPT_FIX_FRAC_BITS = 64 fractional bits: its value
 * is v * 2^-64. Range [-2^63, 2^63), resolution 2^-64 (about 5.4e-20).
 *
 * Float to fixed (dpt_fix_add). A finite float x is m * 2^k with an integer
 * m < 2^24. When k >= -64, x * 2^64 is an integer and the conversion is
 * exact: that is every |x| >= 2^-41 (about 4.5e-13), and zero. Smaller x are
 * rounded to the nearest multiple of 2^-64, halfway cases away from zero:
 * fix(x) = sign(x) * floor(|x| * 2^64 + 1/2); subnormal floats become 0. The
 * conversion is integer arithmetic on the float's bits, so it gives the same
 * bits on every machine, instruction set and floating-point rounding mode.
 *
 * Range. |x| must be below DPT_FIX_MAX_ABS = 2^39 (about 5.5e11); NaN, Inf
 * and larger values are refused, never clamped. Then a sum of up to
 * DPT_FIX_MAX_TERMS = 2^24 converted values stays below 2^63 in magnitude
 * and cannot overflow. Why 64 fractional bits: a micro-shard's gradient is
 * already scaled by 1/B, and gradients range over about 1e-8 to 1e+2.
 * Everything from 4.5e-13 up converts exactly (14 binades below the smallest
 * typical gradient), and the limit leaves 32 binades of headroom above 1e+2
 * for spikes. A step adds one term per micro-shard, so 2^24 terms allow
 * steps of 16 million micro-shards.
 *
 * Why the sum does not depend on order. Integer addition is associative and
 * commutative. The same multiset of terms, split over any number of threads
 * and ranks and combined by MPI in any order, gives the same bits. Sums are
 * taken modulo 2^128, so even a partial sum that went out of range would
 * leave the final sum right, provided the final sum is in range.
 *
 * Fixed to float (dpt_fix_to_float). out = the float nearest to v * 2^-64,
 * ties to even: the hardware's integer-to-float conversion does the rounding
 * (under the default rounding mode, which dptrain never changes), then an
 * exact scaling by a power of two. Nonzero results are at least 2^-64, so
 * never subnormal.
 *
 * Speed. The kernels are compiled for the x86-64 baseline, AVX2 and AVX-512
 * (x86-64-v4) and the best one is chosen when the library loads. All of them
 * compute the same integers, so the choice never changes a result.
 *
 * One step of one rank, with T threads; acc[t] holds n dpt_fix (16-byte
 * aligned, as malloc and dpt__zalloc_aligned give) and g[t] n floats:
 *
 *     zero g[t];                                        // thread t
 *     for each micro-shard of thread t:
 *         backward into g[t];
 *         the first: dpt_fix_set_clear(acc[t], g[t], n, &bad) (no zeroing
 *         of acc first), the others: dpt_fix_add_clear(...); both leave
 *         g[t] zero for the next; < 0: g[t][bad] is bad
 *     for (t = 1; t < T; t++)                           // any order
 *         dpt_fix_sum(acc[0], acc[t], n);
 *     dpt_fix_allreduce_float(acc[0], grad, n, type, op, comm);
 *                                  // type, op made once by dpt_fix_mpi_create
 *
 * Every function works on any sub-range, so threads may share one call's
 * work by splitting [0, n).
 */
#ifndef DPT_DIST_EXACT_H
#define DPT_DIST_EXACT_H

#include <mpi.h>
#include <stddef.h>

typedef __int128 dpt_fix;

#define DPT_FIX_FRAC_BITS 64
/* Floats added must have |x| < DPT_FIX_MAX_ABS = 2^39. */
#define DPT_FIX_MAX_ABS 0x1p39
/* Sums of at most this many added floats cannot overflow. */
#define DPT_FIX_MAX_TERMS (1L << 24)

/* acc[i] += fix(x[i]) for i < n. Returns 0, or -1 when some x[i] is NaN or
 * infinite or |x[i]| >= DPT_FIX_MAX_ABS: then *bad (if bad is not NULL) is
 * the first such i and acc is unchanged. The caller writes the message, as
 * it knows what the values are (which parameter, epoch and step). */
int dpt_fix_add(dpt_fix *acc, const float *x, size_t n, size_t *bad);

/* acc[i] = fix(x[i]) for i < n: dpt_fix_add onto zeros, without reading
 * them (the first term of a sum). Returns as dpt_fix_add. */
int dpt_fix_set(dpt_fix *acc, const float *x, size_t n, size_t *bad);

/* dpt_fix_add and dpt_fix_set, which then set x[i] = 0 for i < n (in the
 * same pass, while x is in cache; a refused call changes neither). */
int dpt_fix_add_clear(dpt_fix *acc, float *x, size_t n, size_t *bad);
int dpt_fix_set_clear(dpt_fix *acc, float *x, size_t n, size_t *bad);

/* The double form of a thread's sum: the cheap way to add a thread's
 * micro-shards, while every addition is exact.
 *
 * A double holds a sum of floats exactly while the sum's bits span at most
 * 53. dpt_fixd_add_clear adds x[i] into d[i] (or sets d[i] = x[i] when
 * first) only when the float is one that dpt_fix_add converts exactly (0,
 * or 2^-41 <= |x| < DPT_FIX_MAX_ABS: a multiple of 2^-64) and the double
 * addition has no rounding error (TwoSum's error term is 0); then it
 * clears x[i]. Every other x[i] (tiny, too large, NaN, Inf, or a sum that
 * would round) is left in x, d[i] unchanged, and counted: the caller adds
 * those with dpt_fix_add_clear into a fixed-point accumulator. Each d[i] is
 * then the exact sum of the terms it took, a multiple of 2^-64 below 2^63,
 * and dpt_fixd_to_fix gives its dpt_fix exactly: acc + fix(d) is the
 * integer that dpt_fix_add of every term would have made, the same bits
 * (the left terms go by dpt_fix_add_clear_nonzero).
 * About 2 times as fast per term as dpt_fix_add_clear with AVX-512 and 4
 * times with AVX2 only (235,146 values on a Zen 4: 64 us against 123 us
 * and 259 us; its AVX2 kernel runs on both), so the exact path takes it
 * when a thread adds enough micro-shards in a step (exact_micros in
 * src/train/step.c).
 *
 * Returns how many x[i] were left. */
size_t dpt_fixd_add_clear(double *d, float *x, size_t n, int first);

/* dpt_fix_add_clear of the x[i] that are not +0 (the ones
 * dpt_fixd_add_clear left), at the cost of a scan where they are few. */
int dpt_fix_add_clear_nonzero(dpt_fix *acc, float *x, size_t n, size_t *bad);

/* acc[i] = fix(d[i]) (add: acc[i] += fix(d[i])) for d of
 * dpt_fixd_add_clear. */
void dpt_fixd_to_fix(dpt_fix *acc, const double *d, size_t n, int add);

/* acc[i] += b[i] for i < n (modulo 2^128; see DPT_FIX_MAX_TERMS). */
void dpt_fix_sum(dpt_fix *acc, const dpt_fix *b, size_t n);

/* out[i] = the float nearest to acc[i] * 2^-64, ties to even. */
void dpt_fix_to_float(const dpt_fix *acc, float *out, size_t n);

/* Local, not collective. Creates the MPI datatype of one dpt_fix (16
 * contiguous bytes, committed) and a commutative MPI_Op that sums them.
 * Returns 0, or -1 with both handles null. Release both with
 * dpt_fix_mpi_free before MPI_Finalize. */
int dpt_fix_mpi_create(MPI_Datatype *type, MPI_Op *op);

/* Frees the handles made by dpt_fix_mpi_create and sets them to
 * MPI_DATATYPE_NULL and MPI_OP_NULL; safe on null handles. */
void dpt_fix_mpi_free(MPI_Datatype *type, MPI_Op *op);

/* Collective. buf[i] = the sum over all ranks of buf[i], for i < n, in
 * place, with the type and op of dpt_fix_mpi_create; the same bits on every
 * rank. A no-op for one rank; n may exceed INT_MAX (sent in pieces).
 * Returns 0, or -1 if MPI reported an error (only when the communicator's
 * error handler returns errors; the default aborts). */
int dpt_fix_allreduce(dpt_fix *buf, size_t n, MPI_Datatype type, MPI_Op op, MPI_Comm comm);

/* Collective. out[i] = the float of the sum over all ranks of buf[i]
 * (dpt_fix_to_float of what dpt_fix_allreduce gives), for i < n, on every
 * rank: the same bits as the two calls, with less to move. From 4096
 * values a rank on, the sums go by a ring reduce-scatter, so that each
 * rank sums and converts its own block, then the floats by an allgather:
 * about 16 + 4 bytes a value cross between ranks instead of an
 * allreduce's 2 x 16; below, by dpt_fix_allreduce. buf is scratch
 * afterwards, and out holds what the ring receives until the floats are
 * written. The same returns as dpt_fix_allreduce, and -1 when out of
 * memory (2 P ints). */
int dpt_fix_allreduce_float(dpt_fix *buf, float *out, size_t n, MPI_Datatype type, MPI_Op op,
                            MPI_Comm comm);

/* The sum over the ranks of each rank's d (n values of dpt_fixd_add_clear,
 * the extras included), as floats into out[0, n) on every rank, when every
 * rank says its d is exact (exact: the terms it left went nowhere else)
 * and every addition of the doubles is exact too: a ring reduce-scatter of
 * the doubles (8 bytes a value), each rank's block to floats, an allgather
 * of the floats. Those floats are the ones dpt_fix_allreduce_float of the
 * fixed-point sums gives (the exact sum, rounded once; no -0: a d made by
 * dpt_fixd_add_clear is never -0, nor is a sum of two that are not).
 * Collective; d is not written. ring holds dpt_fixd_ring_doubles(n, P)
 * doubles of scratch. Returns 1 when out holds the sums; 0 when it does
 * not (a rank not exact, an addition that rounded, or one rank, or n below
 * what the ring takes: the same answer on every rank), and the caller
 * takes the fixed-point path with each d (dpt_fixd_to_fix); -1 on an MPI
 * error or out of memory (2 P ints). */
int dpt_fixd_allreduce_float(const double *d, float *out, size_t n, int exact, double *ring,
                             MPI_Comm comm);
size_t dpt_fixd_ring_doubles(size_t n, int size);


/* Wide exact sums of floats and of their squares: the --deterministic
 * standardization statistics (data/norm.c).
 *
 * A struct dpt_wide holds the integer v = sum_i w[i] * 2^(32 i) read as
 * v * 2^DPT_WIDE_LOW, DPT_WIDE_LOW = -320. Every float (m * 2^e, m < 2^24,
 * e >= -149) and every square of a float (m^2 * 2^2e, exact in double) is
 * an integer multiple of 2^-298, so it is added exactly, with no rounding at
 * all; 22 limbs reach 2^384, above the largest sum of squares of 2^64 floats
 * (2^320). Unlike dpt_fix there is no range to check: every finite float
 * fits. A statistic computed from these sums therefore does not depend on
 * how the rows were split among ranks and threads, nor on their order.
 *
 * Each limb takes less than 2^32 per addition; dpt_wide_normalize moves the
 * carries up so that limbs 0 .. DPT_WIDE_LIMBS - 2 are in [0, 2^32) and the
 * top one holds the sign. Call it at most every 2^30 additions (the int64
 * limbs then cannot overflow) and before dpt_wide_allreduce. The cost is
 * about three limb additions per value: one pass over the data, against the
 * two passes of the floating-point statistics.
 */
#include <stdint.h>

#define DPT_WIDE_LIMBS 22
#define DPT_WIDE_LOW (-320)

struct dpt_wide {
    int64_t w[DPT_WIDE_LIMBS];
};

/* s += x, exactly; x finite (not checked: callers refuse NaN and Inf). */
void dpt_wide_add(struct dpt_wide *s, float x);
/* s += x * x, exactly; x finite. */
void dpt_wide_add_square(struct dpt_wide *s, float x);
/* Moves the carries up; the value is unchanged. */
void dpt_wide_normalize(struct dpt_wide *s);
/* The double nearest to s (ties to even); s normalized. */
double dpt_wide_to_double(const struct dpt_wide *s);
/* The population variance of n values (n > 0) whose exact sum is sum and
 * exact sum of squares is sq (both normalized): (n * sq - sum^2) / n^2, with
 * the numerator computed exactly in integers and rounded once to double,
 * so no cancellation loses digits. Never negative. */
double dpt_wide_variance(const struct dpt_wide *sum, const struct dpt_wide *sq, uint64_t n);

/* Collective. Sums n normalized accumulators over the ranks of comm, in
 * place, and normalizes them: integer sums (MPI_INT64_T, MPI_SUM), so the
 * same bits on every rank whatever the order. Returns 0, or -1 if MPI
 * reported an error. */
int dpt_wide_allreduce(struct dpt_wide *s, size_t n, MPI_Comm comm);

#endif
