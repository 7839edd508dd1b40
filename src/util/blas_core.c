/* Which OpenBLAS kernels this CPU should run: see blas_core.h. */
#include "util/blas_core.h"

#include <stddef.h>
#include <strings.h>

/* OpenBLAS's kernel sets (openblas_get_corename()) that use AVX2 and FMA or
 * better, or that OpenBLAS picked for a CPU it knows by name. */
static const char *const modern[] = {"Haswell",    "Zen",           "SkylakeX",
                                     "Cooperlake", "SapphireRapids", "Excavator"};

const char *dpt_blas_better_core(const char *chosen, int avx2_fma, int avx512)
{
    if (chosen == NULL) {
        return NULL;
    }
    for (size_t i = 0; i < sizeof modern / sizeof modern[0]; i++) {
        if (strcasecmp(chosen, modern[i]) == 0) {
            return NULL;
        }
    }
    if (avx512 && avx2_fma) {
        return "SkylakeX";
    }
    return avx2_fma ? "Haswell" : NULL;
}

const char *dpt_blas_better_core_here(const char *chosen)
{
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
    __builtin_cpu_init(); /* libgcc checks that the OS saves the vector registers too */
    int avx2_fma = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    int avx512 = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
                 __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl");
    return dpt_blas_better_core(chosen, avx2_fma, avx512);
#else
    (void)chosen;
    return NULL;
#endif
}
