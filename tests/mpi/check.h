/* CHECK for the plain MPI test programs (no CUnit under mpirun): counts
 * checks and failures, prints each failure with its place. Each program
 * defines `static int failures, checks;` and sums them over ranks. */
#ifndef DPT_TESTS_MPI_CHECK_H
#define DPT_TESTS_MPI_CHECK_H

#include <stdio.h>

#define CHECK(cond, ...)                                                                     \
    do {                                                                                     \
        checks++;                                                                            \
        if (!(cond)) {                                                                       \
            failures++;                                                                      \
            fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__);                             \
            fprintf(stderr, __VA_ARGS__);                                                    \
            fputc('\n', stderr);                                                             \
        }                                                                                    \
    } while (0)

#endif
