/* Tests for the order of an epoch's rows (src/data/shard.c, struct
 * dpt_perm): rows from anywhere (the Feistel permutation every earlier
 * release used, pinned by golden values) and block order, which must be a
 * permutation too, keep each pool's rows within a few blocks of the file,
 * move the blocks around from one epoch to the next, and not depend on
 * anything but (n, seed, epoch, block, pool). */
#include "config.h"

#include "data/shard.h"
#include "util.h"

#include <CUnit/CUnit.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* Whether positions 0..n-1 of p hit every row of [0, n) once. */
static int is_permutation(const struct dpt_perm *p, uint64_t n)
{
    unsigned char *seen = calloc(n ? n : 1, 1);
    int ok = seen != NULL;
    for (uint64_t i = 0; ok && i < n; i++) {
        uint64_t r = dpt_perm_at(p, i);
        ok = r < n && !seen[r];
        if (ok) {
            seen[r] = 1;
        }
    }
    free(seen);
    return ok;
}

static void test_rows_golden(void)
{
    /* Rows from anywhere: what the releases before block order gave. */
    struct dpt_perm p;
    dpt_perm_init(&p, 1000, 42, 0, 1);
    static const uint64_t want[8] = {751, 840, 202, 549, 615, 14, 63, 242};
    for (uint64_t i = 0; i < 8; i++) {
        CU_ASSERT_EQUAL(dpt_perm_at(&p, i), want[i]);
    }
    CU_ASSERT(is_permutation(&p, 1000));
    dpt_perm_blocks(&p, 0, 0); /* no blocks: unchanged */
    CU_ASSERT_EQUAL(dpt_perm_at(&p, 0), want[0]);
}

static void test_blocks_permutation(void)
{
    /* n a multiple of block and pool or not, fewer rows than a block, a pool
     * smaller than a block, one row. */
    static const uint64_t cases[][3] = {
        {1000, 10, 100}, {1000, 64, 128}, {1003, 10, 100}, {1000, 7, 96},
        {50, 64, 128},   {1000, 64, 32},  {1, 64, 128},    {100000, 64, 10752},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        for (uint64_t epoch = 0; epoch < 3; epoch++) {
            struct dpt_perm p;
            dpt_perm_init(&p, cases[c][0], 7, epoch, 1);
            dpt_perm_blocks(&p, cases[c][1], cases[c][2]);
            CU_ASSERT(is_permutation(&p, cases[c][0]));
        }
    }
    /* shuffle = false stays the file's order. */
    struct dpt_perm id;
    dpt_perm_init(&id, 1000, 7, 3, 0);
    dpt_perm_blocks(&id, 64, 128);
    for (uint64_t i = 0; i < 1000; i++) {
        CU_ASSERT_EQUAL_FATAL(dpt_perm_at(&id, i), i);
    }
}

/* The blocks of the file a pool's rows come from: at most a pool's worth
 * plus the two it may share with its neighbours. */
static void test_blocks_locality(void)
{
    const uint64_t n = 100000, block = 64, pool = 4096;
    struct dpt_perm p;
    dpt_perm_init(&p, n, 11, 2, 1);
    dpt_perm_blocks(&p, block, pool);
    unsigned char *used = malloc(n / block + 1);
    CU_ASSERT_FATAL(used != NULL);
    uint64_t most = 0, rows_in_place = 0;
    for (uint64_t start = 0; start < n; start += pool) {
        memset(used, 0, n / block + 1);
        uint64_t blocks = 0;
        for (uint64_t i = start; i < start + pool && i < n; i++) {
            uint64_t b = dpt_perm_at(&p, i) / block;
            blocks += !used[b];
            used[b] = 1;
            rows_in_place += dpt_perm_at(&p, i) == i;
        }
        most = blocks > most ? blocks : most;
    }
    free(used);
    CU_ASSERT(most <= pool / block + 2);
    CU_ASSERT(rows_in_place < n / 100); /* shuffled, not the file's order */
    /* Within a pool the rows are shuffled: neighbours in the order are
     * rarely neighbours in the file. */
    uint64_t adjacent = 0;
    for (uint64_t i = 1; i < pool; i++) {
        uint64_t a = dpt_perm_at(&p, i - 1), b = dpt_perm_at(&p, i);
        adjacent += a + 1 == b || b + 1 == a;
    }
    CU_ASSERT(adjacent < pool / 20);
}

/* Epochs differ in the order of the blocks, not only within pools: the
 * first pool of two epochs draws from different blocks. */
static void test_blocks_epochs(void)
{
    const uint64_t n = 100000, block = 64, pool = 4096;
    struct dpt_perm a, b, a2;
    dpt_perm_init(&a, n, 5, 0, 1);
    dpt_perm_blocks(&a, block, pool);
    dpt_perm_init(&b, n, 5, 1, 1);
    dpt_perm_blocks(&b, block, pool);
    dpt_perm_init(&a2, n, 5, 0, 1);
    dpt_perm_blocks(&a2, block, pool);
    unsigned char *in_a = calloc(n / block + 1, 1);
    CU_ASSERT_FATAL(in_a != NULL);
    for (uint64_t i = 0; i < pool; i++) {
        in_a[dpt_perm_at(&a, i) / block] = 1;
        CU_ASSERT_EQUAL_FATAL(dpt_perm_at(&a, i), dpt_perm_at(&a2, i));
    }
    uint64_t shared = 0;
    for (uint64_t i = 0; i < pool; i++) {
        shared += in_a[dpt_perm_at(&b, i) / block];
    }
    free(in_a);
    CU_ASSERT(shared < pool / 4);
}

int main(void)
{
    if (CU_initialize_registry() != CUE_SUCCESS) {
        return 2;
    }
    CU_pSuite s = CU_add_suite("epoch order", NULL, NULL);
    CU_add_test(s, "rows from anywhere: golden values", test_rows_golden);
    CU_add_test(s, "block order is a permutation", test_blocks_permutation);
    CU_add_test(s, "block order reads few blocks per pool", test_blocks_locality);
    CU_add_test(s, "block order changes with the epoch", test_blocks_epochs);
    return test_run_all();
}
