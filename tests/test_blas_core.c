/* When dptrain replaces OpenBLAS's choice of kernels (src/util/blas_core.c):
 * only a fallback older than the CPU runs, with the kernels the CPU's
 * features allow, and never a choice OpenBLAS made for a CPU it knows. */
#include "config.h"

#include "util.h"
#include "util/blas_core.h"

#include <CUnit/CUnit.h>
#include <cblas.h>
#include <dirent.h>
#include <string.h>

/* Threads of this process (the test itself runs one). */
static int threads_here(void)
{
    DIR *d = opendir("/proc/self/task");
    int n = 0;
    for (struct dirent *e; d && (e = readdir(d));) {
        n += e->d_name[0] != '.';
    }
    if (d) {
        closedir(d);
    }
    return n;
}

/* OpenBLAS's pool stopped: make check runs with OPENBLAS_NUM_THREADS=1, so
 * the test starts a pool of 3 workers itself first. Afterwards the process
 * has its one thread, OpenBLAS says 1, a product is right and starts no
 * thread, and a second call changes nothing. */
static void test_one_thread(void)
{
    openblas_set_num_threads(4);
    int before = threads_here();
    CU_ASSERT_EQUAL(before, 4);
    dpt_blas_one_thread();
    CU_ASSERT_EQUAL(openblas_get_num_threads(), 1);
    CU_ASSERT_EQUAL(threads_here(), 1);
    float a[64 * 64], b[64 * 64], c[64 * 64];
    for (int i = 0; i < 64 * 64; i++) {
        a[i] = (float)(i % 7);
        b[i] = i / 64 == i % 64; /* the identity */
    }
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, 64, 64, 64, 1.0f, a, 64, b, 64, 0.0f,
                c, 64);
    CU_ASSERT(memcmp(a, c, sizeof a) == 0);
    dpt_blas_one_thread();
    CU_ASSERT_EQUAL(threads_here(), 1);
}

static void assert_core(const char *got, const char *want)
{
    if (want == NULL) {
        CU_ASSERT_PTR_NULL(got);
    } else {
        CU_ASSERT_PTR_NOT_NULL_FATAL(got);
        CU_ASSERT_STRING_EQUAL(got, want);
    }
}

/* OpenBLAS's fallback on an unknown Intel model, and other pre-AVX2 sets:
 * replaced by what the CPU runs. */
static void test_fallback_replaced(void)
{
    assert_core(dpt_blas_better_core("Prescott", 1, 1), "SkylakeX");
    assert_core(dpt_blas_better_core("Prescott", 1, 0), "Haswell");
    assert_core(dpt_blas_better_core("Nehalem", 1, 0), "Haswell");
    assert_core(dpt_blas_better_core("Sandybridge", 1, 1), "SkylakeX");
    assert_core(dpt_blas_better_core("Barcelona", 1, 0), "Haswell");
    assert_core(dpt_blas_better_core("Unknown", 1, 1), "SkylakeX");
}

/* A CPU without AVX2 and FMA keeps whatever OpenBLAS chose; AVX-512 alone
 * (no AVX2 reported) is not enough for the SkylakeX kernels either. */
static void test_old_cpu_kept(void)
{
    assert_core(dpt_blas_better_core("Prescott", 0, 0), NULL);
    assert_core(dpt_blas_better_core("Sandybridge", 0, 0), NULL);
    assert_core(dpt_blas_better_core("Prescott", 0, 1), NULL);
}

/* OpenBLAS's own AVX2 or AVX-512 choices stay, in any spelling: Zen on an
 * AVX-512 Zen 4 is OpenBLAS's call, as is Haswell on a CPU it knows. */
static void test_modern_choice_kept(void)
{
    static const char *const kept[] = {"Haswell",    "Zen",            "SkylakeX", "skylakex",
                                       "Cooperlake", "SapphireRapids", "Excavator"};
    for (size_t i = 0; i < sizeof kept / sizeof kept[0]; i++) {
        assert_core(dpt_blas_better_core(kept[i], 1, 1), NULL);
        assert_core(dpt_blas_better_core(kept[i], 1, 0), NULL);
    }
    assert_core(dpt_blas_better_core(NULL, 1, 1), NULL);
}

/* This machine: whatever OpenBLAS chose, the kernels the command would run
 * use AVX2 when the CPU has it (the choice replaced is one of the modern). */
static void test_here(void)
{
    const char *better = dpt_blas_better_core_here("Prescott");
    if (better != NULL) {
        CU_ASSERT_PTR_NULL(dpt_blas_better_core_here(better));
    }
    CU_ASSERT_PTR_NULL(dpt_blas_better_core_here("Haswell"));
}

int main(void)
{
    if (CU_initialize_registry() != CUE_SUCCESS) {
        return 2;
    }
    CU_pSuite s = CU_add_suite("blas_core", NULL, NULL);
    CU_add_test(s, "OpenBLAS's fallback kernels are replaced by what the CPU runs",
                test_fallback_replaced);
    CU_add_test(s, "a CPU without AVX2 and FMA keeps OpenBLAS's choice", test_old_cpu_kept);
    CU_add_test(s, "OpenBLAS's AVX2 and AVX-512 choices are kept", test_modern_choice_kept);
    CU_add_test(s, "this CPU: a replacement is never replaced again", test_here);
    CU_add_test(s, "OpenBLAS's thread pool is stopped, products still right", test_one_thread);
    return test_run_all();
}
