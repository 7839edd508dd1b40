/* Fuzzing harness: the HDF5 data loader (src/data/dataset.c).
 *
 * Feeds: the input's bytes, written to a scratch file (the loader's direct
 * path preads the file's descriptor, so it must be a real file), to
 * dpt_dataset_open with X = "X" and y = "y", as `dptrain train` opens
 * data.train, and when that is refused, with no y, as `dptrain predict`
 * does. An opened data set is then used as training uses it: its shape,
 * described (dpt_dataset_describe, the fingerprint a checkpoint records);
 * a range of rows and three scattered rows read (first, middle and last:
 * the direct and the HDF5 paths both start at the first and end at the
 * last row); and the per-column moments of X and y (the standardization
 * statistics) over the first rows.
 *
 * What is read is capped (ROWS rows, FEATURES values a row) so that one
 * input takes milliseconds: files that claim huge shapes are refused by
 * the open checks or read in part here, and what dptrain does with a
 * whole huge file is the bad-input suite's to test (tests/bad-input/).
 */
#include "config.h"

#include "data/dataset.h"
#include "fuzz.h"
#include "model/net.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ROWS 16
#define FEATURES ((uint64_t)1 << 16)

static const char *data_path;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    data_path = fuzz_scratch("data.h5");
    return 0;
}

/* The moments of one array over rows [0, n), with and without a center. */
static void moments(struct dpt_dataset *ds, enum dpt_array which, uint64_t cols, uint64_t n)
{
    double *v = calloc(5 * cols, sizeof *v);
    if (!v) {
        return;
    }
    double *center = v, *sum = v + cols, *sq = v + 2 * cols, *lo = v + 3 * cols,
           *hi = v + 4 * cols;
    struct dpt_err err = {0};
    int rc = dpt_dataset_moments(ds, which, 0, n, NULL, sum, sq, lo, hi, &err);
    fuzz_check_result("dpt_dataset_moments", rc, &err);
    if (rc == 0) {
        for (uint64_t j = 0; j < cols; j++) {
            center[j] = sum[j] / (double)n;
        }
        rc = dpt_dataset_moments(ds, which, 0, n, center, sum, sq, lo, hi, &err);
        fuzz_check_result("dpt_dataset_moments", rc, &err);
    }
    free(v);
}

/* Reads rows [0, k) and the first, middle and last rows into buffers of
 * exactly their size (so that AddressSanitizer sees a read past them). */
static void read_rows(struct dpt_dataset *ds, uint64_t n, uint64_t f, uint64_t yc)
{
    size_t k = n < ROWS ? (size_t)n : ROWS;
    float *x = malloc(k * f * sizeof *x), *y = yc ? malloc(k * yc * sizeof *y) : NULL;
    struct dpt_err err = {0};
    if (x && (y || !yc)) {
        int rc = dpt_dataset_read_range(ds, 0, k, x, y, &err);
        fuzz_check_result("dpt_dataset_read_range", rc, &err);
        uint64_t rows[3] = {0, n / 2, n - 1};
        size_t m = 0;
        for (size_t i = 0; i < 3; i++) {
            if (m == 0 || rows[i] > rows[m - 1]) {
                rows[m++] = rows[i];
            }
        }
        if (m <= k) {
            rc = dpt_dataset_read(ds, rows, m, x, y, &err);
            fuzz_check_result("dpt_dataset_read", rc, &err);
        }
    }
    free(x);
    free(y);
}

static void use_dataset(struct dpt_dataset *ds)
{
    uint64_t n = dpt_dataset_rows(ds), f = dpt_dataset_features(ds);
    uint64_t yc = dpt_dataset_y_cols(ds);
    struct dpt_shape shape;
    dpt_dataset_sample_shape(ds, &shape);
    if (n == 0 || f == 0 || dpt_shape_size(&shape) != f) {
        fprintf(stderr, "fuzz: opened with N = %llu, F = %llu and a sample shape of %llu values\n",
                (unsigned long long)n, (unsigned long long)f,
                (unsigned long long)dpt_shape_size(&shape));
        abort();
    }
    char text[512];
    dpt_dataset_describe(ds, text, sizeof text);
    if (f > FEATURES || yc > FEATURES) {
        return;
    }
    read_rows(ds, n, f, yc);
    uint64_t m = n < 4 * ROWS ? n : 4 * ROWS;
    moments(ds, DPT_ARRAY_X, f, m);
    if (yc) {
        moments(ds, DPT_ARRAY_Y, yc, m);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_write(data_path, data, size);
    struct dpt_dataset *ds = NULL;
    struct dpt_err err = {0};
    int rc = dpt_dataset_open(&ds, data_path, "X", "y", &err);
    fuzz_check_result("dpt_dataset_open", rc, &err);
    if (rc < 0) {
        rc = dpt_dataset_open(&ds, data_path, "X", NULL, &err);
        fuzz_check_result("dpt_dataset_open", rc, &err);
    }
    if (rc == 0) {
        use_dataset(ds);
    }
    dpt_dataset_close(ds);
    fuzz_check_clean();
    return 0;
}
