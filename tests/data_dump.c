/* Opens a data file with dpt_dataset_open and prints what dptrain reads from
 * it, for tests that compare it with numpy (tests/image_shapes_read_like_numpy.sh):
 *
 *     data_dump FILE X Y ROWS [hdf5]
 *
 * ROWS is a comma-separated list of strictly increasing file rows, read with
 * dpt_dataset_read, or FIRST+N for the range [FIRST, FIRST + N), read with
 * dpt_dataset_read_range. Y may be "-" for none. With "hdf5", every read
 * goes through H5Dread (dpt_dataset_no_direct), so that tests can compare
 * both read paths on the same file.
 *
 * Output: a line "shape R d0 d1 d2 features F rows N direct D chunks C" (the
 * sample shape of dpt_dataset_sample_shape, dims past its rank printed as 0,
 * whether X is read with pread and whether X's chunks are inflated by
 * dptrain), then one line per row read, "x v0 v1 ..."
 * and, with Y, "y v0 ...", floats printed with 9 significant digits (exact
 * for float32). An error is printed as "data_dump: MESSAGE" on stderr, with
 * exit status 1.
 */
#include "config.h"

#include "data/dataset.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int fail(const char *msg)
{
    fprintf(stderr, "data_dump: %s\n", msg);
    return 1;
}

static void print_row(const char *name, const float *v, uint64_t n)
{
    printf("%s", name);
    for (uint64_t i = 0; i < n; i++) {
        printf(" %.9g", v[i]);
    }
    printf("\n");
}

/* Parses ROWS into rows[] (a list) or *first (a range); returns the count,
 * with *is_range set, or 0 when ROWS is malformed. */
static size_t parse_rows(const char *text, uint64_t *rows, size_t max, uint64_t *first,
                         int *is_range)
{
    char *end;
    const char *plus = strchr(text, '+');
    *is_range = plus != NULL;
    if (plus) {
        *first = strtoull(text, &end, 10);
        unsigned long long n = strtoull(plus + 1, &end, 10);
        return end != plus + 1 && *end == '\0' ? (size_t)n : 0;
    }
    size_t n = 0;
    for (const char *p = text; *p; p = *end ? end + 1 : end) {
        if (n == max) {
            return 0;
        }
        rows[n++] = strtoull(p, &end, 10);
        if (end == p || (*end && *end != ',')) {
            return 0;
        }
    }
    return n;
}

int main(int argc, char **argv)
{
    if ((argc != 5 && argc != 6) || (argc == 6 && strcmp(argv[5], "hdf5") != 0)) {
        return fail("usage: data_dump FILE X Y|- ROWS (a,b,c or FIRST+N) [hdf5]");
    }
    enum { MAX_LIST = 4096 };
    static uint64_t rows[MAX_LIST];
    uint64_t first = 0;
    int is_range = 0;
    size_t n = parse_rows(argv[4], rows, MAX_LIST, &first, &is_range);
    if (n == 0) {
        return fail("ROWS must be a list a,b,c or a range FIRST+N");
    }
    struct dpt_err err = {0};
    struct dpt_dataset *ds = NULL;
    const char *y_name = strcmp(argv[3], "-") == 0 ? NULL : argv[3];
    if (dpt_dataset_open(&ds, argv[1], argv[2], y_name, &err) < 0) {
        return fail(err.msg);
    }
    if (argc == 6) {
        dpt_dataset_no_direct(ds);
    }
    struct dpt_shape shape;
    dpt_dataset_sample_shape(ds, &shape);
    uint64_t f = dpt_dataset_features(ds), k = dpt_dataset_y_cols(ds);
    printf("shape %" PRIu32 " %" PRIu64 " %" PRIu64 " %" PRIu64 " features %" PRIu64
           " rows %" PRIu64 " direct %d chunks %d\n", shape.rank, shape.dims[0], shape.dims[1],
           shape.dims[2], f, dpt_dataset_rows(ds), dpt_dataset_direct(ds),
           dpt_dataset_chunk_reads(ds));
    float *x = malloc(n * f * sizeof *x), *y = malloc(n * (k ? k : 1) * sizeof *y);
    int rc = x && y ? 0 : fail("out of memory");
    if (rc == 0) {
        int got = is_range ? dpt_dataset_read_range(ds, first, n, x, k ? y : NULL, &err)
                           : dpt_dataset_read(ds, rows, n, x, k ? y : NULL, &err);
        rc = got < 0 ? fail(err.msg) : 0;
    }
    for (size_t i = 0; rc == 0 && i < n; i++) {
        print_row("x", x + i * f, f);
        if (k) {
            print_row("y", y + i * k, k);
        }
    }
    free(x);
    free(y);
    dpt_dataset_close(ds);
    return rc;
}
