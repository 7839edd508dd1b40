/* fma-check: does this machine give two cores' worth of FMA throughput now?
 *
 * Runs a register-only AVX2 FMA loop on 1 thread, then on 2 threads at once,
 * and prints GFLOP/s for both and their ratio. On the shared 2-vCPU machines
 * the two vCPUs are sometimes one physical core's worth; benchmarks of
 * 2-worker layouts only count when the ratio is >= 1.8.
 *
 *   cc -O2 -mavx2 -mfma -fopenmp scripts/fma-check.c -o fma-check && ./fma-check
 *   output: "fma 1x 52.1 2x 103.4 ratio 1.98"
 */
#include <immintrin.h>
#include <omp.h>
#include <stdio.h>
#include <time.h>

#define ITERS 1000000000L

static double seconds(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* Ten independent accumulators cover the FMA latency on two ports. */
static float fma_loop(long iters)
{
    __m256 m = _mm256_set1_ps(0.9999f), c = _mm256_set1_ps(1e-6f);
    __m256 a[10];
    for (int k = 0; k < 10; k++) {
        a[k] = _mm256_set1_ps((float)k);
    }
    for (long i = 0; i < iters; i++) {
        for (int k = 0; k < 10; k++) {
            a[k] = _mm256_fmadd_ps(a[k], m, c);
        }
    }
    __m256 s = a[0];
    for (int k = 1; k < 10; k++) {
        s = _mm256_add_ps(s, a[k]);
    }
    return _mm256_cvtss_f32(s);
}

/* GFLOP/s summed over `threads` threads running the loop at once. */
static double rate(int threads)
{
    long iters = ITERS / 10;
    volatile float sink = 0;
    double t0 = seconds();
#pragma omp parallel num_threads(threads)
    {
        float r = fma_loop(iters);
#pragma omp atomic
        sink += r;
    }
    double dt = seconds() - t0;
    return (double)threads * (double)iters * 10 * 8 * 2 / dt * 1e-9;
}

int main(void)
{
    double one = rate(1), two = rate(2);
    printf("fma 1x %.1f 2x %.1f ratio %.2f\n", one, two, two / one);
    return 0;
}
