/* Exact sums under mpirun: every rank adds its own share of a fixed global
 * set of terms (which rank gets which term is pseudo-random and depends on
 * P), sums two "thread" accumulators, allreduces with the user MPI_Op (and
 * to floats with dpt_fix_allreduce_float; and the ranks' double forms
 * with dpt_fixd_allreduce_float), and must get the bits this process gets
 * by adding the whole set alone. Rank 0
 * prints a hash of each result, the same for every P
 * (tests/mpi/exact_sums_any_ranks.sh compares them), then "N passed, M
 * failed".
 *
 *   mpirun -np P tests/mpi/test_exact_mpi
 */
#include "config.h"

#include "dist/exact.h"

#include <math.h>
#include "check.h"

#include <mpi.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

static int failures, checks;


static uint64_t mix(uint64_t z)
{
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
    return z ^ (z >> 31);
}

/* Term k of a set, n floats: each a pure function of (seed, k, j), so any
 * rank can make any term. Magnitudes 2^-70 to 2^30, both signs, a tenth
 * zeros, like gradients seen through a wide lens. */
static void make_term(float *x, uint64_t seed, uint64_t k, size_t n)
{
    for (size_t j = 0; j < n; j++) {
        uint64_t r = mix(seed * 0x9e3779b97f4a7c15u + mix(k * 0x100000001b3u + j));
        float m = 1.0f + (float)(r & 0x7fffff) * 0x1p-23f;
        float v = ldexpf(m, -70 + (int)((r >> 23) % 101));
        x[j] = (r >> 40) % 10 == 0 ? 0.0f : (r >> 63) ? -v : v;
    }
}

/* The rank that adds term k: pseudo-random, and a different split for
 * every P. */
static int owner(uint64_t k, int P)
{
    return (int)(mix(k + ((uint64_t)P << 40)) % (uint64_t)P);
}

static uint64_t hash_sums(const dpt_fix *acc, size_t n)
{
    float *f = malloc(n * sizeof *f);
    if (!f) {
        MPI_Abort(MPI_COMM_WORLD, 2);
    }
    dpt_fix_to_float(acc, f, n);
    uint64_t h = XXH3_64bits_withSeed(acc, n * sizeof *acc, XXH3_64bits(f, n * sizeof *f));
    free(f);
    return h;
}

/* Sums K terms of n values over all ranks; checks the result against the
 * whole set summed here alone, on every rank; rank 0 prints its hash. */
static void reduce_set(const char *name, uint64_t seed, uint64_t K, size_t n, MPI_Datatype type,
                       MPI_Op op)
{
    int rank, P;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &P);
    float *x = malloc(n * sizeof *x);
    dpt_fix *mine[2] = {calloc(n, sizeof(dpt_fix)), calloc(n, sizeof(dpt_fix))};
    dpt_fix *whole = calloc(n, sizeof *whole);
    if (!x || !mine[0] || !mine[1] || !whole) {
        MPI_Abort(MPI_COMM_WORLD, 2);
    }
    uint64_t shares = 0;
    for (uint64_t k = 0; k < K; k++) {
        make_term(x, seed, k, n);
        size_t bad;
        CHECK(dpt_fix_add(whole, x, n, &bad) == 0, "%s: term %llu refused", name,
              (unsigned long long)k);
        if (owner(k, P) == rank) {
            /* Two accumulators, as two threads would have. */
            CHECK(dpt_fix_add(mine[mix(k) & 1], x, n, &bad) == 0, "%s: term refused", name);
            shares++;
        }
    }
    dpt_fix_sum(mine[1], mine[0], n);

    /* The sums as floats on every rank, by a ring from 4096 values a rank
     * on (each rank converts its block), by an allreduce below: the floats
     * of the whole set's sums. */
    float *got = malloc(n * sizeof *got), *want = malloc(n * sizeof *want);
    if (!got || !want) {
        MPI_Abort(MPI_COMM_WORLD, 2);
    }
    memcpy(mine[0], mine[1], n * sizeof *mine[0]);
    CHECK(dpt_fix_allreduce_float(mine[0], got, n, type, op, MPI_COMM_WORLD) == 0,
          "%s: allreduce to floats", name);
    dpt_fix_to_float(whole, want, n);
    CHECK(memcmp(got, want, n * sizeof *got) == 0,
          "%s: rank %d of %d: the floats of the sums differ from the whole set's", name, rank, P);
    free(got);
    free(want);

    CHECK(dpt_fix_allreduce(mine[1], n, type, op, MPI_COMM_WORLD) == 0, "%s: allreduce", name);
    CHECK(memcmp(mine[1], whole, n * sizeof *whole) == 0,
          "%s: rank %d of %d (%llu of %llu terms): the allreduced sums differ from the "
          "whole set's", name, rank, P, (unsigned long long)shares, (unsigned long long)K);

    /* Every rank holds the same bits. */
    uint64_t h = hash_sums(mine[1], n), h0 = h;
    MPI_Bcast(&h0, 1, MPI_UINT64_T, 0, MPI_COMM_WORLD);
    CHECK(h == h0, "%s: rank %d's sums differ from rank 0's", name, rank);
    if (rank == 0) {
        printf("hash %s: %016llx\n", name, (unsigned long long)h);
    }
    free(x);
    free(mine[0]);
    free(mine[1]);
    free(whole);
}

/* Terms whose sums stay exact in doubles: magnitudes 2^-10 to 2^10, both
 * signs, a tenth zeros. */
static void make_narrow(float *x, uint64_t seed, uint64_t k, size_t n)
{
    make_term(x, seed, k, n);
    for (size_t j = 0; j < n; j++) {
        int e;
        float m = frexpf(x[j], &e);
        x[j] = x[j] == 0.0f ? 0.0f : ldexpf(m, (e % 21 + 21) % 21 - 10);
    }
}

/* Term 0 2^30 and term 1 2^-29 (1 + 2^-23) in every value: each exact in
 * doubles alone, their sum not (84 bits). */
static void make_far(float *x, uint64_t seed, uint64_t k, size_t n)
{
    (void)seed;
    for (size_t j = 0; j < n; j++) {
        x[j] = k == 0 ? 0x1p30f : 0x1.000002p-29f;
    }
}

/* The ranks' sum of their double forms (dpt_fixd_allreduce_float): each
 * rank adds its terms as a thread of the exact path does, in doubles where
 * exact and the rest into fixed point, and the floats on every rank must be
 * those of the whole set's fixed-point sums: from the ring of doubles when
 * it takes them (want 1) or, when it declines (0: a rank has terms in fixed
 * point, or an addition across ranks rounded, or one rank, or too few
 * values), from the fixed-point path fed with the same doubles. Term k
 * goes to owner(k, P), or to rank k % P with by_index. */
static void reduce_doubles(const char *name, void (*term)(float *, uint64_t, uint64_t, size_t),
                           uint64_t seed, uint64_t K, size_t n, int by_index, int want,
                           MPI_Datatype type, MPI_Op op)
{
    int rank, P;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &P);
    float *x = malloc(n * sizeof *x), *got = malloc(n * sizeof *got);
    float *sums = malloc(n * sizeof *sums);
    double *d = calloc(n, sizeof *d), *d0 = malloc(n * sizeof *d0);
    double *ring = malloc(dpt_fixd_ring_doubles(n, P) * sizeof *ring);
    dpt_fix *acc = calloc(n, sizeof *acc), *whole = calloc(n, sizeof *whole);
    if (!x || !got || !sums || !d || !d0 || !ring || !acc || !whole) {
        MPI_Abort(MPI_COMM_WORLD, 2);
    }
    int first = 1, live = 0;
    for (uint64_t k = 0; k < K; k++) {
        term(x, seed, k, n);
        size_t bad;
        CHECK(dpt_fix_add(whole, x, n, &bad) == 0, "%s: term %llu refused", name,
              (unsigned long long)k);
        if ((by_index ? (int)(k % (uint64_t)P) : owner(k, P)) == rank) {
            if (dpt_fixd_add_clear(d, x, n, first) > 0) {
                live = 1;
                CHECK(dpt_fix_add_clear_nonzero(acc, x, n, &bad) == 0, "%s: term refused", name);
            }
            first = 0;
        }
    }
    memcpy(d0, d, n * sizeof *d);
    int rc = dpt_fixd_allreduce_float(d, got, n, !live, ring, MPI_COMM_WORLD);
    CHECK(rc == want, "%s: rank %d of %d: the ring of doubles returned %d, not %d", name, rank,
          P, rc, want);
    CHECK(memcmp(d, d0, n * sizeof *d) == 0, "%s: the doubles were written", name);
    if (rc == 0) {
        dpt_fixd_to_fix(acc, d, n, live);
        CHECK(dpt_fix_allreduce_float(acc, got, n, type, op, MPI_COMM_WORLD) == 0,
              "%s: the fixed-point path", name);
    }
    dpt_fix_to_float(whole, sums, n);
    CHECK(memcmp(got, sums, n * sizeof *got) == 0,
          "%s: rank %d of %d: the floats differ from the whole set's sums", name, rank, P);
    free(x);
    free(got);
    free(sums);
    free(d);
    free(d0);
    free(ring);
    free(acc);
    free(whole);
}

/* The op itself, through MPI_Reduce_local: 128-bit sums with carries. */
static void check_op(MPI_Datatype type, MPI_Op op)
{
    const dpt_fix one = (dpt_fix)1 << 64;
    dpt_fix in[5] = {1, -1, one - 1, -(one + 3), 7};
    dpt_fix inout[5] = {one - 1, 1, 1, one + 3, -((dpt_fix)1 << 100)};
    dpt_fix want[5] = {one, 0, one, 0, 7 - ((dpt_fix)1 << 100)};
    MPI_Reduce_local(in, inout, 5, type, op);
    CHECK(memcmp(inout, want, sizeof want) == 0, "MPI_Reduce_local with the sum op");
}

int main(int argc, char **argv)
{
    MPI_Init(&argc, &argv);
    int rank, P;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &P);

    MPI_Datatype type;
    MPI_Op op;
    CHECK(dpt_fix_mpi_create(&type, &op) == 0, "dpt_fix_mpi_create");
    int size;
    MPI_Type_size(type, &size);
    CHECK(size == (int)sizeof(dpt_fix), "the type has %d bytes", size);
    check_op(type, op);

    /* 10^5 values: 1000 terms ("micro-shards") of 100. */
    reduce_set("1000x100", 1, 1000, 100, type, op);
    /* The medium MLP's gradient and the step's 5 extras, 8 micro-shards:
     * large enough for MPI to cut the buffer into segments and reduce them
     * piecewise; for the ring, blocks of two sizes (P = 3 and 4), some
     * sent in one message and some in two. */
    reduce_set("8x235151", 2, 8, 235151, type, op);
    /* 4096 values a rank and more for up to 3 ranks (the ring, blocks of
     * unequal sizes), fewer for 4. */
    reduce_set("5x12289", 4, 5, 12289, type, op);
    /* More ranks than terms: some ranks add nothing. */
    reduce_set("3x1001", 3, 3, 1001, type, op);

    /* The ranks' doubles: taken from 4096 values a rank on, with more
     * than one rank and every addition exact (blocks of unequal sizes for
     * P = 3); declined with terms below 2^-41 (into fixed point), with an
     * addition across ranks that rounds, and with too few values. */
    int many = P > 1;
    reduce_doubles("doubles 8x20003", make_narrow, 5, 8, 20003, 0, many, type, op);
    reduce_doubles("doubles, wide terms", make_term, 6, 8, 20003, 0, 0, type, op);
    reduce_doubles("doubles, far apart", make_far, 0, 2, 20003, 1, 0, type, op);
    reduce_doubles("doubles, few values", make_narrow, 7, 4, 4000, 0, 0, type, op);

    dpt_fix_mpi_free(&type, &op);
    CHECK(type == MPI_DATATYPE_NULL && op == MPI_OP_NULL, "dpt_fix_mpi_free clears handles");
    dpt_fix_mpi_free(&type, &op); /* safe on null handles */

    int totals[2] = {failures, checks}, all[2];
    MPI_Allreduce(totals, all, 2, MPI_INT, MPI_SUM, MPI_COMM_WORLD);
    if (rank == 0) {
        printf("P=%d: %d passed, %d failed\n", P, all[1] - all[0], all[0]);
    }
    MPI_Finalize();
    return all[0] ? 1 : 0;
}
