/* Which OpenBLAS kernels this CPU should run: see blas_core.h. */
#include "util/blas_core.h"

#include <cblas.h>
#include <dlfcn.h>
#include <stddef.h>
#include <strings.h>

/* OpenBLAS's kernel sets (openblas_get_corename()) that use AVX2 and FMA or
 * better, or that OpenBLAS picked for a CPU it knows by name; the first
 * N_AVX512 of them use AVX-512. */
enum { N_AVX512 = 3 };
static const char *const modern[] = {"SkylakeX", "Cooperlake", "SapphireRapids",
                                     "Haswell",  "Zen",        "Excavator"};

static int listed(const char *core, size_t n)
{
    for (size_t i = 0; core && i < n; i++) {
        if (strcasecmp(core, modern[i]) == 0) {
            return 1;
        }
    }
    return 0;
}

int dpt_blas_core_avx512(const char *core)
{
    return listed(core, N_AVX512);
}

const char *dpt_blas_better_core(const char *chosen, int avx2_fma, int avx512)
{
    if (chosen == NULL || listed(chosen, sizeof modern / sizeof modern[0])) {
        return NULL;
    }
    if (avx512 && avx2_fma) {
        return "SkylakeX";
    }
    return avx2_fma ? "Haswell" : NULL;
}

/* libgcc checks that the OS saves the vector registers too. */
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
int dpt_blas_cpu_avx512(void)
{
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
           __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl");
}

const char *dpt_blas_better_core_here(const char *chosen)
{
    __builtin_cpu_init();
    int avx2_fma = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    return dpt_blas_better_core(chosen, avx2_fma, dpt_blas_cpu_avx512());
}
#else
int dpt_blas_cpu_avx512(void)
{
    return 0;
}

const char *dpt_blas_better_core_here(const char *chosen)
{
    (void)chosen;
    return NULL;
}
#endif

void dpt_blas_one_thread(void)
{
    if (openblas_get_num_threads() == 1) {
        return;
    }
    openblas_set_num_threads(1);
    int (*shutdown)(void) = (int (*)(void))dlsym(RTLD_DEFAULT, "blas_thread_shutdown_");
    if (shutdown) {
        shutdown();
    }
}
