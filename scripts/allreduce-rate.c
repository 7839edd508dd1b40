/* allreduce-rate: how long MPI_Allreduce of a float sum takes here, by size.
 *
 * For each size from MIN to MAX bytes (doubling), in place, as dptrain sums
 * its gradient (src/dist/dist.c): a few warm-up calls, then REPS timed
 * repetitions of k calls each (k chosen once per size so that a repetition
 * takes about 2 ms, at most 1000 calls). A repetition starts after a
 * barrier; its time per call is the slowest rank's. Rank 0 prints one line
 * per size: bytes, the median and the smallest time per call over the
 * repetitions, in microseconds. scripts/bench-allreduce compiles it, runs it
 * on 2, 3 and 4 ranks and fits the latency and time per byte.
 *
 *   mpicc -O2 scripts/allreduce-rate.c -o allreduce-rate
 *   mpirun -np 2 ./allreduce-rate [MIN_BYTES MAX_BYTES REPS]   (default 4 4194304 11)
 *   output: "P 2 bytes 1024 median_us 1.93 min_us 1.85 calls 1000"
 */
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>

#define TARGET_S 2e-3   /* length of one timed repetition */
#define MAX_CALLS 1000

static int by_value(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Seconds per call of k in-place float sums of n floats: the slowest rank's. */
static double timed(float *buf, int n, int k)
{
    MPI_Barrier(MPI_COMM_WORLD);
    double t0 = MPI_Wtime();
    for (int i = 0; i < k; i++) {
        MPI_Allreduce(MPI_IN_PLACE, buf, n, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);
    }
    double t = (MPI_Wtime() - t0) / k, slowest;
    MPI_Allreduce(&t, &slowest, 1, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);
    return slowest;
}

int main(int argc, char **argv)
{
    MPI_Init(&argc, &argv);
    int rank, P;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &P);
    long lo = argc > 1 ? atol(argv[1]) : 4, hi = argc > 2 ? atol(argv[2]) : 4194304;
    int reps = argc > 3 ? atoi(argv[3]) : 11;
    if (lo < 4 || hi < lo || hi > (1L << 30) || reps < 1) {
        if (rank == 0) {
            fprintf(stderr, "allreduce-rate: want 4 <= MIN_BYTES <= MAX_BYTES <= 2^30 and "
                            "REPS >= 1, got %s %s %s\n", argc > 1 ? argv[1] : "-",
                    argc > 2 ? argv[2] : "-", argc > 3 ? argv[3] : "-");
        }
        MPI_Finalize();
        return 2;
    }
    float *buf = malloc((size_t)hi);
    double *t = malloc((size_t)reps * sizeof *t);
    if (!buf || !t) {
        fprintf(stderr, "allreduce-rate: out of memory for %ld bytes\n", hi);
        MPI_Abort(MPI_COMM_WORLD, 1);
    }
    /* Small values: sums of many calls stay finite and the same on every rank. */
    for (long i = 0; i < hi / 4; i++) {
        buf[i] = 1e-30f;
    }
    for (long bytes = lo; bytes <= hi; bytes *= 2) {
        int n = (int)(bytes / 4);
        timed(buf, n, 3);
        /* Rank 0 decides k, so that every rank makes the same calls. */
        int k = (int)(TARGET_S / timed(buf, n, 1));
        k = k < 1 ? 1 : k > MAX_CALLS ? MAX_CALLS : k;
        MPI_Bcast(&k, 1, MPI_INT, 0, MPI_COMM_WORLD);
        for (int r = 0; r < reps; r++) {
            t[r] = timed(buf, n, k);
        }
        qsort(t, (size_t)reps, sizeof *t, by_value);
        if (rank == 0) {
            printf("P %d bytes %ld median_us %.3f min_us %.3f calls %d\n", P, bytes,
                   1e6 * t[reps / 2], 1e6 * t[0], k);
            fflush(stdout);
        }
    }
    free(buf);
    free(t);
    MPI_Finalize();
    return 0;
}
