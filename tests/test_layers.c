/* Layers of ABI 2.0 through tests/layer_check.c: finite-difference
 * gradients and the buffer contracts, for the built-in layers that need no
 * file of their own (dense on shaped inputs, dropout on any shape). */
#include "config.h"

#include "layer_check.h"
#include "util.h"

#include <CUnit/CUnit.h>

/* Dense acts on the last axis, as Keras' Dense: [5] -> [3], [4, 5] -> [4, 3]. */
static void test_dense(void)
{
    struct lc c;
    struct dpt_shape flat = lc_shape(5, 0, 0), seq = lc_shape(4, 5, 0);
    CU_ASSERT_EQUAL_FATAL(lc_create(&c, "dense", "units = 3;", &flat), 0);
    CU_ASSERT(c.info.out.rank == 1 && c.info.out.dims[0] == 3 && c.info.n_params == 18);
    lc_check(&c, 1, 1, 0.1, 1e-4);
    lc_check(&c, 7, 2, 0.1, 1e-4);
    lc_destroy(&c);
    CU_ASSERT_EQUAL_FATAL(lc_create(&c, "dense", "units = 3; use_bias = false;", &seq), 0);
    CU_ASSERT(c.info.out.rank == 2 && c.info.out.dims[0] == 4 && c.info.out.dims[1] == 3);
    CU_ASSERT_EQUAL(c.info.n_params, 15);
    lc_check(&c, 3, 3, 0.1, 1e-4);
    lc_destroy(&c);
}

/* Dropout keeps any shape; its training masks are fixed by the call's key,
 * so finite differences see a linear function. */
static void test_dropout(void)
{
    struct lc c;
    struct dpt_shape img = lc_shape(3, 4, 2);
    CU_ASSERT_EQUAL_FATAL(lc_create(&c, "dropout", "rate = 0.4;", &img), 0);
    CU_ASSERT(c.info.out.rank == 3 && c.info.out.dims[2] == 2 && c.info.n_params == 0);
    lc_check(&c, 5, 4, 0.1, 1e-4);
    lc_destroy(&c);
}

int main(void)
{
    if (CU_initialize_registry() != CUE_SUCCESS) {
        return 2;
    }
    CU_pSuite s = CU_add_suite("layers through layer_check", NULL, NULL);
    CU_add_test(s, "dense on [F] and on [L, F]", test_dense);
    CU_add_test(s, "dropout on [H, W, C]", test_dropout);
    return test_run_all();
}
