/* sgemm-rate: single-thread OpenBLAS cblas_sgemm GFLOP/s for one GEMM shape,
 * the yardstick for dptrain's training FLOP rate in scripts/bench.
 *
 *   cc -O2 sgemm-rate.c -o sgemm-rate $(pkg-config --cflags --libs openblas)
 *   ./sgemm-rate M N K      ->  "sgemm M=128 N=256 K=784 GFLOP/s 71.3"
 */
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static double seconds(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: sgemm-rate M N K\n");
        return 2;
    }
    int M = atoi(argv[1]), N = atoi(argv[2]), K = atoi(argv[3]);
    openblas_set_num_threads(1);
    float *a = malloc(sizeof(float) * (size_t)M * K), *b = malloc(sizeof(float) * (size_t)K * N);
    float *c = malloc(sizeof(float) * (size_t)M * N);
    for (size_t i = 0; i < (size_t)M * K; i++) {
        a[i] = (float)(i % 13) * 0.01f;
    }
    for (size_t i = 0; i < (size_t)K * N; i++) {
        b[i] = (float)(i % 7) * 0.01f;
    }
    /* y = x W^T, as a dense layer's forward: (M, K) x (N, K)^T. */
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, M, N, K, 1, a, K, b, K, 0, c, N);
    int reps = 0;
    double t0 = seconds(), t;
    do {
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, M, N, K, 1, a, K, b, K, 0, c, N);
        reps++;
    } while ((t = seconds() - t0) < 0.5);
    printf("sgemm M=%d N=%d K=%d GFLOP/s %.1f\n", M, N, K, 2.0 * M * N * K * reps / t * 1e-9);
    free(a);
    free(b);
    free(c);
    return 0;
}
