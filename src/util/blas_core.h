/* Which OpenBLAS kernels this CPU should run (internal to libdptrain).
 *
 * OpenBLAS (0.3.21, Debian 12) picks its kernel set from the CPU's vendor,
 * family and model numbers. On a CPU it does not know (a model newer than
 * the library, or a virtual machine that hides the model) it falls back to
 * its oldest x86-64 kernels, Prescott (SSE3): measured on an AVX-512 Xeon
 * VM, single-thread sgemm at 31 GFLOP/s against 140 with its SkylakeX
 * kernels. OpenBLAS reads OPENBLAS_CORETYPE once, when it is loaded, so the
 * command sets that variable and executes itself again (cli_blas_reexec in
 * src/cli/main.c) before MPI or any thread starts. A variable the user set
 * is never changed. tests/test_blas_core.c and tests/doc_claims.sh. */
#ifndef DPT_UTIL_BLAS_CORE_H
#define DPT_UTIL_BLAS_CORE_H

/* The kernel set to force when OpenBLAS chose `chosen` on a CPU with the
 * given features (usable by the OS: AVX2 and FMA; AVX-512 F, BW, DQ, VL),
 * or NULL to keep OpenBLAS's choice. Only a choice older than what the CPU
 * runs is replaced: "SkylakeX" with AVX-512, "Haswell" with AVX2 and FMA. */
const char *dpt_blas_better_core(const char *chosen, int avx2_fma, int avx512);

/* The same for this process: the CPU's features read with cpuid. */
const char *dpt_blas_better_core_here(const char *chosen);

/* Whether this CPU has AVX-512 F, BW, DQ and VL usable (SkylakeX's kernels). */
int dpt_blas_cpu_avx512(void);

/* Whether OpenBLAS's kernel set `core` uses AVX-512 (SkylakeX, Cooperlake,
 * SapphireRapids; any case). */
int dpt_blas_core_avx512(const char *core);

/* Makes OpenBLAS run single-threaded in this process, and stops the
 * worker threads its pthreads build started when it was loaded (one per
 * core but one, unless OPENBLAS_NUM_THREADS or OMP_NUM_THREADS said 1).
 * dptrain's own threads each run their own sgemm, so OpenBLAS's pool only
 * ever waits; but a new worker busy-waits (sched_yield) about 0.1 s before
 * it sleeps, on every rank: on 2 cores with 2 ranks that took the core of
 * the other rank while it started (digits28's MLP to 0.97: 1.09 -> 1.04 s),
 * on a 64-core node it would be 63 spinning threads per rank. Stopping the
 * pool uses OpenBLAS's blas_thread_shutdown_ (what its own fork handler
 * calls), looked up with dlsym: a BLAS without it keeps its threads. Once
 * OpenBLAS has one thread it is not called again (openblas_set_num_threads
 * would start the pool anew). tests/test_blas_core.c. */
void dpt_blas_one_thread(void);

/* Set in the environment of the process executed again: the kernel set
 * OpenBLAS had chosen by itself, for train --verbose to report. */
#define DPT_BLAS_FALLBACK_ENV "DPTRAIN_OPENBLAS_CHOSE"

#endif
