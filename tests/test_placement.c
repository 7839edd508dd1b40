/* The CPUs a rank has to itself (src/dist/placement.c, dpt__cpu_share),
 * which bounds the threads dptrain chooses: masks as mpirun leaves them,
 * bound to cores of their own, unbound, and mixed. Each expected figure is
 * counted by hand from the masks written next to it. */
#include "config.h"

#include "dist/placement.h"
#include "util.h"

#include <CUnit/CUnit.h>
#include <string.h>

/* A mask of the CPUs lo..hi. */
static cpu_set_t cpus(int lo, int hi)
{
    cpu_set_t s;
    CPU_ZERO(&s);
    for (int c = lo; c <= hi; c++) {
        CPU_SET(c, &s);
    }
    return s;
}

/* --map-by ppr:2:node:PE=4 on 8 cores: 0-3 and 4-7, four each. */
static void test_bound(void)
{
    cpu_set_t all[2] = {cpus(0, 3), cpus(4, 7)};
    CU_ASSERT_EQUAL(dpt__cpu_share(&all[0], all, 2), 4);
    CU_ASSERT_EQUAL(dpt__cpu_share(&all[1], all, 2), 4);
}

/* --bind-to none: every rank holds all 8; 2 ranks get 4, 3 ranks 2 (8/3),
 * 16 ranks 1 (never 0). */
static void test_unbound(void)
{
    cpu_set_t all[16];
    for (int i = 0; i < 16; i++) {
        all[i] = cpus(0, 7);
    }
    CU_ASSERT_EQUAL(dpt__cpu_share(&all[0], all, 2), 4);
    CU_ASSERT_EQUAL(dpt__cpu_share(&all[0], all, 3), 2);
    CU_ASSERT_EQUAL(dpt__cpu_share(&all[0], all, 16), 1);
}

/* A single rank: its whole mask. Three ranks on one CPU each of 0-2 and a
 * fourth holding 0-2 too: the first three have 1/2 each (1 at least), the
 * fourth 3 x 1/2 = 1.5, so 1. Ranks holding 0-5 and 3-8: 3 + 3/2 = 4.5,
 * so 4 each. */
static void test_single_and_mixed(void)
{
    cpu_set_t one = cpus(2, 5);
    CU_ASSERT_EQUAL(dpt__cpu_share(&one, &one, 1), 4);
    cpu_set_t mix[4] = {cpus(0, 0), cpus(1, 1), cpus(2, 2), cpus(0, 2)};
    CU_ASSERT_EQUAL(dpt__cpu_share(&mix[0], mix, 4), 1);
    CU_ASSERT_EQUAL(dpt__cpu_share(&mix[3], mix, 4), 1);
    cpu_set_t over[2] = {cpus(0, 5), cpus(3, 8)};
    CU_ASSERT_EQUAL(dpt__cpu_share(&over[0], over, 2), 4);
    CU_ASSERT_EQUAL(dpt__cpu_share(&over[1], over, 2), 4);
}

/* Thirds must add up to whole CPUs: 3 ranks on 0-2 have 1 each, 3 ranks
 * on 0-5 have 2 each. */
static void test_fractions_add_up(void)
{
    cpu_set_t three[3] = {cpus(0, 2), cpus(0, 2), cpus(0, 2)};
    CU_ASSERT_EQUAL(dpt__cpu_share(&three[0], three, 3), 1);
    cpu_set_t six[3] = {cpus(0, 5), cpus(0, 5), cpus(0, 5)};
    CU_ASSERT_EQUAL(dpt__cpu_share(&six[2], six, 3), 2);
}

/* The ranks a note names: "0 and 1", "0, 1 and 2", then a count. */
static void test_rank_list(void)
{
    int r[] = {0, 1, 2, 3, 4};
    char buf[96];
    dpt__rank_list(buf, sizeof buf, r, 2, 2);
    CU_ASSERT_STRING_EQUAL(buf, "0 and 1");
    dpt__rank_list(buf, sizeof buf, r, 3, 3);
    CU_ASSERT_STRING_EQUAL(buf, "0, 1 and 2");
    dpt__rank_list(buf, sizeof buf, r, 5, 5);
    CU_ASSERT_STRING_EQUAL(buf, "0, 1, 2, 3 and 4");
    dpt__rank_list(buf, sizeof buf, r, 4, 9);
    CU_ASSERT_STRING_EQUAL(buf, "0, 1, 2, 3 and 5 more");
    dpt__rank_list(buf, 8, r, 4, 9); /* cut short, still a string */
    CU_ASSERT_EQUAL(strlen(buf), 7);
}

int main(void)
{
    if (CU_initialize_registry() != CUE_SUCCESS) {
        return 2;
    }
    CU_pSuite s = CU_add_suite("placement", NULL, NULL);
    CU_add_test(s, "ranks bound to cores of their own keep all of them", test_bound);
    CU_add_test(s, "unbound ranks share the node's CPUs, at least 1 each", test_unbound);
    CU_add_test(s, "one rank, and ranks whose masks overlap in part", test_single_and_mixed);
    CU_add_test(s, "shares of a CPU add up to whole CPUs", test_fractions_add_up);
    CU_add_test(s, "the ranks a note names", test_rank_list);
    return test_run_all();
}
