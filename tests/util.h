/* Helpers shared by the CUnit test programs. */
#ifndef DPT_TESTS_UTIL_H
#define DPT_TESTS_UTIL_H

#include <CUnit/CUnit.h>
#include <stddef.h>

/* Runs every registered suite verbosely; returns the process exit status
 * (non-zero when any assertion failed or CUnit itself failed). */
int test_run_all(void);

/* A fresh temporary directory for this test program (created on first use,
 * left behind under /tmp for inspection). */
const char *test_tmpdir(void);

/* Writes "dir/name" into buf and returns buf. */
char *test_path(char *buf, size_t len, const char *name);

/* Writes text to the file at path; returns 0 or -1. */
int test_write_file(const char *path, const char *text);

#endif
