/* Tests for src/data/dataset.c and norm.c: the shipped data files, dtype
 * conversion, row selection, image shapes, every open and read error (code
 * and message), the per-feature statistics, and the input scale with
 * constant pixels. Test files are written here with the HDF5 C API, in the
 * directory test_tmpdir() gives; the shipped files are found under
 * $top_srcdir/data (the current directory when top_srcdir is unset). The
 * values read from files written by h5py are compared with numpy's in
 * tests/image_shapes_read_like_numpy.sh. */
#include "config.h"

#include "data/dataset.h"
#include "data/norm.h"
#include "util.h"
#include "util/h5.h"

#include <CUnit/CUnit.h>
#include <fcntl.h>
#include <hdf5.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char *shipped(char *buf, size_t len, const char *name)
{
    const char *top = getenv("top_srcdir");
    snprintf(buf, len, "%s/data/%s", top && top[0] ? top : ".", name);
    return buf;
}

static hid_t new_file(char *path, size_t len, const char *name)
{
    test_path(path, len, name);
    hid_t f = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    CU_ASSERT_FATAL(f >= 0);
    return f;
}

/* Writes dataset name with on-disk type ftype and shape dims from buf, whose
 * values have type mtype (buf NULL: leave it unwritten). */
static void put(hid_t f, const char *name, hid_t ftype, hid_t mtype, int rank,
                const hsize_t *dims, const void *buf)
{
    hid_t space = H5Screate_simple(rank, dims, NULL);
    CU_ASSERT_FATAL(space >= 0);
    hid_t lcpl = H5Pcreate(H5P_LINK_CREATE);
    H5Pset_create_intermediate_group(lcpl, 1);
    hid_t d = H5Dcreate2(f, name, ftype, space, lcpl, H5P_DEFAULT, H5P_DEFAULT);
    CU_ASSERT_FATAL(d >= 0);
    if (buf) {
        CU_ASSERT_FATAL(H5Dwrite(d, mtype, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf) >= 0);
    }
    H5Dclose(d);
    H5Pclose(lcpl);
    H5Sclose(space);
}

/* A float32 X [n, f] with X[i][j] = 100 i + j, and float32 y [n, k] with
 * y[i][c] = -(10 i + c), in file `name`; returns its path in path. */
static void grid_file(char *path, size_t len, const char *name, hsize_t n, hsize_t f,
                      hsize_t k)
{
    float *x = malloc(n * f * sizeof *x), *y = malloc(n * k * sizeof *y);
    CU_ASSERT_FATAL(x && y);
    for (hsize_t i = 0; i < n; i++) {
        for (hsize_t j = 0; j < f; j++) {
            x[i * f + j] = (float)(100 * i + j);
        }
        for (hsize_t c = 0; c < k; c++) {
            y[i * k + c] = -(float)(10 * i + c);
        }
    }
    hid_t file = new_file(path, len, name);
    put(file, "X", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, 2, (hsize_t[]){n, f}, x);
    put(file, "y", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, 2, (hsize_t[]){n, k}, y);
    H5Fclose(file);
    free(x);
    free(y);
}

/* Asserts that opening path fails with code and a message holding path and
 * each of the given pieces. */
static void expect_open_error(const char *path, const char *x_name, const char *y_name,
                              int code, const char *piece1, const char *piece2)
{
    struct dpt_dataset *ds = (struct dpt_dataset *)1;
    struct dpt_err err = {0};
    int rc = dpt_dataset_open(&ds, path, x_name, y_name, &err);
    CU_ASSERT_EQUAL(rc, code);
    CU_ASSERT_EQUAL(err.code, code);
    CU_ASSERT_PTR_NULL(ds);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, path));
    CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, piece1));
    if (piece2) {
        CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, piece2));
    }
    if (rc != code || !strstr(err.msg, piece1) || (piece2 && !strstr(err.msg, piece2))) {
        printf("\n    got %d: %s\n", rc, err.msg);
    }
    if (rc == 0) {
        dpt_dataset_close(ds);
    }
}

static struct dpt_dataset *open_ok(const char *path, const char *x_name, const char *y_name)
{
    struct dpt_dataset *ds = NULL;
    struct dpt_err err = {0};
    int rc = dpt_dataset_open(&ds, path, x_name, y_name, &err);
    if (rc != 0) {
        printf("\n    open %s: %s\n", path, err.msg);
    }
    CU_ASSERT_EQUAL_FATAL(rc, 0);
    return ds;
}

static void test_breast_cancer(void)
{
    char path[4096];
    struct dpt_dataset *ds = open_ok(shipped(path, sizeof path, "breast_cancer-train.h5"),
                                     "X", "y");
    CU_ASSERT_EQUAL(dpt_dataset_rows(ds), 456);
    CU_ASSERT_EQUAL(dpt_dataset_features(ds), 30);
    CU_ASSERT_EQUAL(dpt_dataset_y_cols(ds), 1);
    CU_ASSERT_EQUAL(dpt_dataset_y_is_integer(ds), 0);
    CU_ASSERT_STRING_EQUAL(dpt_dataset_path(ds), path);

    /* Known values, read with h5py: X[0, :3], X[455, -2:], y[:5]. */
    float x[456 * 30], y[456];
    struct dpt_err err = {0};
    CU_ASSERT_EQUAL_FATAL(dpt_dataset_read_range(ds, 0, 456, x, y, &err), 0);
    CU_ASSERT_EQUAL(x[0], 15.53f);
    CU_ASSERT_EQUAL(x[1], 33.56f);
    CU_ASSERT_EQUAL(x[2], 103.7f);
    CU_ASSERT_EQUAL(x[455 * 30 + 28], 0.2834f);
    CU_ASSERT_EQUAL(x[455 * 30 + 29], 0.08234f);
    const float y5[5] = {0, 1, 1, 1, 0};
    for (int i = 0; i < 5; i++) {
        CU_ASSERT_EQUAL(y[i], y5[i]);
    }
    int ones = 0;
    for (int i = 0; i < 456; i++) {
        CU_ASSERT(y[i] == 0.0f || y[i] == 1.0f);
        ones += y[i] == 1.0f;
    }
    CU_ASSERT_EQUAL(ones, 286); /* benign, per data/README.md */
    CU_ASSERT_EQUAL(dpt_dataset_rows_read(ds), 456);
    dpt_dataset_close(ds);
}

static void test_iris(void)
{
    char path[4096];
    struct dpt_dataset *ds = open_ok(shipped(path, sizeof path, "iris-train.h5"), "X", "y");
    CU_ASSERT_EQUAL(dpt_dataset_rows(ds), 120);
    CU_ASSERT_EQUAL(dpt_dataset_features(ds), 4);
    CU_ASSERT_EQUAL(dpt_dataset_y_cols(ds), 1);
    CU_ASSERT_EQUAL(dpt_dataset_y_is_integer(ds), 1);

    float x[120 * 4], y[120];
    struct dpt_err err = {0};
    CU_ASSERT_EQUAL_FATAL(dpt_dataset_read_range(ds, 0, 120, x, y, &err), 0);
    CU_ASSERT_EQUAL(x[0], 6.4f);
    CU_ASSERT_EQUAL(x[1], 2.9f);
    CU_ASSERT_EQUAL(x[2], 4.3f);
    const float y5[5] = {1, 0, 2, 1, 0};
    for (int i = 0; i < 5; i++) {
        CU_ASSERT_EQUAL(y[i], y5[i]);
    }
    int count[3] = {0, 0, 0};
    for (int i = 0; i < 120; i++) {
        CU_ASSERT(y[i] == 0.0f || y[i] == 1.0f || y[i] == 2.0f);
        if (y[i] >= 0.0f && y[i] <= 2.0f && y[i] == floorf(y[i])) {
            count[(int)y[i]]++;
        }
    }
    CU_ASSERT(count[0] == 40 && count[1] == 40 && count[2] == 40);
    dpt_dataset_close(ds);

    /* Without y. */
    ds = open_ok(path, "X", NULL);
    CU_ASSERT_EQUAL(dpt_dataset_y_cols(ds), 0);
    CU_ASSERT_EQUAL(dpt_dataset_y_is_integer(ds), 0);
    CU_ASSERT_EQUAL(dpt_dataset_read_range(ds, 0, 1, x, NULL, &err), 0);
    CU_ASSERT_EQUAL(dpt_dataset_read_range(ds, 0, 1, x, y, &err), DPT_EINVAL);
    dpt_dataset_close(ds);
}

static void test_dtypes(void)
{
    char path[4096];
    enum { N = 5, F = 3 };
    double xd[N * F];
    short xs[N * F];
    long long y64[N];
    unsigned char yu8[N];
    float y3[N * 3];
    for (int i = 0; i < N * F; i++) {
        xd[i] = i * 0.25 - 1.0;
        xs[i] = (short)(i * 1000 - 7000);
    }
    for (int i = 0; i < N; i++) {
        y64[i] = (long long)i * 3 - 4;
        yu8[i] = (unsigned char)(250 + i);
    }
    for (int i = 0; i < N * 3; i++) {
        y3[i] = (float)i / 8.0f;
    }
    hid_t f = new_file(path, sizeof path, "dtypes.h5");
    const hsize_t xdims[2] = {N, F};
    put(f, "x_f64", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, 2, xdims, xd);
    put(f, "x_f64be", H5T_IEEE_F64BE, H5T_NATIVE_DOUBLE, 2, xdims, xd);
    put(f, "x_i16", H5T_STD_I16LE, H5T_NATIVE_SHORT, 2, xdims, xs);
    put(f, "y_i64", H5T_STD_I64LE, H5T_NATIVE_LLONG, 1, (hsize_t[]){N}, y64);
    put(f, "y_u8", H5T_STD_U8LE, H5T_NATIVE_UCHAR, 1, (hsize_t[]){N}, yu8);
    put(f, "y_f32x3", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, 2, (hsize_t[]){N, 3}, y3);
    H5Fclose(f);

    float x[N * F], y[N * 3];
    struct dpt_err err = {0};
    const char *x_names[] = {"x_f64", "x_f64be", "x_i16"};
    for (int v = 0; v < 3; v++) {
        struct dpt_dataset *ds = open_ok(path, x_names[v], "y_i64");
        CU_ASSERT_EQUAL(dpt_dataset_features(ds), F);
        CU_ASSERT_EQUAL(dpt_dataset_y_is_integer(ds), 1);
        CU_ASSERT_EQUAL_FATAL(dpt_dataset_read_range(ds, 0, N, x, y, &err), 0);
        for (int i = 0; i < N * F; i++) {
            CU_ASSERT_EQUAL(x[i], v < 2 ? (float)xd[i] : (float)xs[i]);
        }
        for (int i = 0; i < N; i++) {
            CU_ASSERT_EQUAL(y[i], (float)y64[i]);
        }
        dpt_dataset_close(ds);
    }

    struct dpt_dataset *ds = open_ok(path, "x_f64", "y_u8");
    CU_ASSERT_EQUAL(dpt_dataset_y_cols(ds), 1);
    CU_ASSERT_EQUAL(dpt_dataset_y_is_integer(ds), 1);
    CU_ASSERT_EQUAL_FATAL(dpt_dataset_read(ds, (uint64_t[]){1, 4}, 2, x, y, &err), 0);
    CU_ASSERT_EQUAL(y[0], 251.0f);
    CU_ASSERT_EQUAL(y[1], 254.0f);
    dpt_dataset_close(ds);

    ds = open_ok(path, "x_i16", "y_f32x3");
    CU_ASSERT_EQUAL(dpt_dataset_y_cols(ds), 3);
    CU_ASSERT_EQUAL(dpt_dataset_y_is_integer(ds), 0);
    CU_ASSERT_EQUAL_FATAL(dpt_dataset_read(ds, (uint64_t[]){0, 3}, 2, x, y, &err), 0);
    for (int c = 0; c < 3; c++) {
        CU_ASSERT_EQUAL(y[c], y3[c]);
        CU_ASSERT_EQUAL(y[3 + c], y3[3 * 3 + c]);
        CU_ASSERT_EQUAL(x[F + c], (float)xs[3 * F + c]);
    }
    dpt_dataset_close(ds);
}

static void test_rows(void)
{
    char path[4096];
    grid_file(path, sizeof path, "grid.h5", 10, 4, 2);
    struct dpt_dataset *ds = open_ok(path, "X", "y");
    struct dpt_err err = {0};
    float x[10 * 4], y[10 * 2];

    const uint64_t rows[5] = {0, 2, 3, 4, 9};
    CU_ASSERT_EQUAL_FATAL(dpt_dataset_read(ds, rows, 5, x, y, &err), 0);
    for (int i = 0; i < 5; i++) {
        for (int j = 0; j < 4; j++) {
            CU_ASSERT_EQUAL(x[i * 4 + j], (float)(100 * rows[i] + j));
        }
        for (int c = 0; c < 2; c++) {
            CU_ASSERT_EQUAL(y[i * 2 + c], -(float)(10 * rows[i] + c));
        }
    }
    CU_ASSERT_EQUAL(dpt_dataset_rows_read(ds), 5);

    /* A range reads the same as the list of its rows. */
    float xr[3 * 4], yr[3 * 2];
    CU_ASSERT_EQUAL_FATAL(dpt_dataset_read_range(ds, 2, 3, xr, yr, &err), 0);
    CU_ASSERT_EQUAL(memcmp(xr, x + 4, sizeof xr), 0);
    CU_ASSERT_EQUAL(memcmp(yr, y + 2, sizeof yr), 0);
    CU_ASSERT_EQUAL(dpt_dataset_rows_read(ds), 8);

    /* X alone. */
    CU_ASSERT_EQUAL(dpt_dataset_read(ds, (uint64_t[]){9}, 1, x, NULL, &err), 0);
    CU_ASSERT_EQUAL(x[0], 900.0f);
    CU_ASSERT_EQUAL(dpt_dataset_rows_read(ds), 9);

    /* n == 0 does nothing. */
    CU_ASSERT_EQUAL(dpt_dataset_read(ds, NULL, 0, x, y, &err), 0);
    CU_ASSERT_EQUAL(dpt_dataset_read_range(ds, 0, 0, x, y, &err), 0);

    /* Unsorted, duplicate and out-of-range rows are refused and not counted. */
    CU_ASSERT_EQUAL(dpt_dataset_read(ds, (uint64_t[]){3, 1}, 2, x, y, &err), DPT_EINVAL);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, path));
    CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "increasing"));
    CU_ASSERT_EQUAL(dpt_dataset_read(ds, (uint64_t[]){2, 2}, 2, x, y, &err), DPT_EINVAL);
    CU_ASSERT_EQUAL(dpt_dataset_read(ds, (uint64_t[]){9, 10}, 2, x, y, &err), DPT_EINVAL);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "row 10"));
    CU_ASSERT_EQUAL(dpt_dataset_read_range(ds, 8, 3, x, y, &err), DPT_EINVAL);
    CU_ASSERT_EQUAL(dpt_dataset_read_range(ds, UINT64_MAX, 2, x, y, &err), DPT_EINVAL);
    CU_ASSERT_EQUAL(dpt_dataset_rows_read(ds), 9);
    dpt_dataset_close(ds);
}

/* Many scattered rows: the selection is built as a tree of unions. */
static void test_many_rows(void)
{
    char path[4096];
    enum { N = 5000, F = 7, K = 1 };
    grid_file(path, sizeof path, "many.h5", N, F, K);
    struct dpt_dataset *ds = open_ok(path, "X", "y");
    uint64_t *rows = malloc(N * sizeof *rows);
    float *x = malloc((size_t)N * F * sizeof *x), *y = malloc(N * sizeof *y);
    CU_ASSERT_FATAL(rows && x && y);
    /* About 40 % of the rows, in runs of 1 to 5 with gaps, from a fixed LCG. */
    size_t n = 0;
    uint64_t state = 12345;
    for (uint64_t r = 0; r < N; r++) {
        state = state * 6364136223846793005ull + 1442695040888963407ull;
        if ((state >> 33) % 5 < 2) {
            rows[n++] = r;
        }
    }
    struct dpt_err err = {0};
    CU_ASSERT_EQUAL_FATAL(dpt_dataset_read(ds, rows, n, x, y, &err), 0);
    int bad = 0;
    for (size_t i = 0; i < n; i++) {
        for (int j = 0; j < F; j++) {
            bad += x[i * F + j] != (float)(100 * rows[i] + (uint64_t)j);
        }
        bad += y[i] != -(float)(10 * rows[i]);
    }
    CU_ASSERT_EQUAL(bad, 0);
    CU_ASSERT_EQUAL(dpt_dataset_rows_read(ds), n);
    free(rows);
    free(x);
    free(y);
    dpt_dataset_close(ds);
}

/* Direct reads (pread + own conversion) give what H5Dread gives: X in every
 * native type, contiguous, against the same values chunked and compressed
 * (always read by HDF5), on scattered rows, runs and gaps wider than the
 * read-through limit; big-endian and chunked X go through HDF5. */
static void test_direct(void)
{
    char path[4096];
    enum { N = 3000, F = 5 };
    static const struct {
        const char *name;
        hid_t *ftype; /* file type, little-endian */
    } types[] = {{"f32", &H5T_IEEE_F32LE_g}, {"f64", &H5T_IEEE_F64LE_g}, {"i8", &H5T_STD_I8LE_g},
                 {"u8", &H5T_STD_U8LE_g},    {"i16", &H5T_STD_I16LE_g}, {"u16", &H5T_STD_U16LE_g},
                 {"i32", &H5T_STD_I32LE_g},  {"u32", &H5T_STD_U32LE_g}, {"i64", &H5T_STD_I64LE_g},
                 {"u64", &H5T_STD_U64LE_g}};
    H5open();
    double *v = malloc((size_t)N * F * sizeof *v);
    int *y = malloc(N * sizeof *y);
    CU_ASSERT_FATAL(v && y);
    for (size_t i = 0; i < (size_t)N * F; i++) {
        v[i] = (double)((i * 7919) % 128); /* fits every type */
    }
    for (int i = 0; i < N; i++) {
        y[i] = i % 3;
    }
    hid_t f = new_file(path, sizeof path, "direct.h5");
    const hsize_t dims[2] = {N, F};
    for (size_t t = 0; t < sizeof types / sizeof types[0]; t++) {
        char name[32];
        snprintf(name, sizeof name, "x_%s", types[t].name);
        put(f, name, *types[t].ftype, H5T_NATIVE_DOUBLE, 2, dims, v);
    }
    put(f, "x_f32be", H5T_IEEE_F32BE, H5T_NATIVE_DOUBLE, 2, dims, v);
    put(f, "y", H5T_STD_I32LE, H5T_NATIVE_INT, 1, (hsize_t[]){N}, y);
    hid_t space = H5Screate_simple(2, dims, NULL), dcpl = H5Pcreate(H5P_DATASET_CREATE);
    H5Pset_chunk(dcpl, 2, (hsize_t[]){64, F});
    H5Pset_deflate(dcpl, 4);
    hid_t d = H5Dcreate2(f, "x_chunked", H5T_IEEE_F32LE, space, H5P_DEFAULT, dcpl, H5P_DEFAULT);
    CU_ASSERT_FATAL(d >= 0);
    CU_ASSERT_FATAL(H5Dwrite(d, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, v) >= 0);
    H5Dclose(d);
    H5Pclose(dcpl);
    H5Sclose(space);
    H5Fclose(f);

    /* Rows: a run of 40, single rows with small gaps, then gaps of ~2000
     * rows (wider than GAP_BYTES even for 8-byte types), the last row. */
    uint64_t rows[200];
    size_t n = 0;
    for (uint64_t r = 10; r < 50; r++) {
        rows[n++] = r;
    }
    for (uint64_t r = 60; r < 600; r += 1 + (r % 4)) {
        rows[n++] = r;
    }
    rows[n++] = 1000, rows[n++] = 2999;
    CU_ASSERT_FATAL(n <= 200);

    struct dpt_err err = {0};
    float want[200 * F], got[200 * F], wy[200], gy[200];
    struct dpt_dataset *ds = open_ok(path, "x_chunked", "y");
    CU_ASSERT_FALSE(dpt_dataset_direct(ds));
    CU_ASSERT_EQUAL_FATAL(dpt_dataset_read(ds, rows, n, want, wy, &err), 0);
    dpt_dataset_close(ds);
    for (size_t i = 0; i < n; i++) {
        CU_ASSERT_EQUAL(want[i * F + 2], (float)v[rows[i] * F + 2]);
        CU_ASSERT_EQUAL(wy[i], (float)y[rows[i]]);
    }
    for (size_t t = 0; t <= sizeof types / sizeof types[0]; t++) {
        char name[32];
        int be = t == sizeof types / sizeof types[0];
        snprintf(name, sizeof name, "x_%s", be ? "f32be" : types[t].name);
        ds = open_ok(path, name, "y");
        CU_ASSERT_EQUAL(dpt_dataset_direct(ds), !be);
        memset(got, 0, sizeof got);
        CU_ASSERT_EQUAL_FATAL(dpt_dataset_read(ds, rows, n, got, gy, &err), 0);
        CU_ASSERT_EQUAL(memcmp(got, want, n * F * sizeof *got), 0);
        CU_ASSERT_EQUAL(memcmp(gy, wy, n * sizeof *gy), 0);
        CU_ASSERT_EQUAL_FATAL(dpt_dataset_read_range(ds, 10, 40, got, gy, &err), 0);
        CU_ASSERT_EQUAL(memcmp(got, want, 40 * F * sizeof *got), 0);
        dpt_dataset_close(ds);
    }
    free(v);
    free(y);
}

static void test_file_errors(void)
{
    char path[4096];
    test_path(path, sizeof path, "does-not-exist.h5");
    expect_open_error(path, "X", "y", DPT_EIO, "no such file", NULL);

    test_path(path, sizeof path, "notes.txt");
    CU_ASSERT_EQUAL_FATAL(test_write_file(path, "X,y\n1,2\n"), 0);
    expect_open_error(path, "X", "y", DPT_EFORMAT, "not an HDF5 file", NULL);

    test_path(path, sizeof path, "empty.h5");
    CU_ASSERT_EQUAL_FATAL(test_write_file(path, ""), 0);
    expect_open_error(path, "X", "y", DPT_EFORMAT, "not an HDF5 file", NULL);

    expect_open_error(test_tmpdir(), "X", "y", DPT_EIO, "directory", NULL);
}

static void test_missing_datasets(void)
{
    char path[4096];
    float v[6] = {1, 2, 3, 4, 5, 6};
    hid_t f = new_file(path, sizeof path, "missing.h5");
    put(f, "features", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, 2, (hsize_t[]){3, 2}, v);
    put(f, "labels", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, 1, (hsize_t[]){3}, v);
    put(f, "grp/X", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, 2, (hsize_t[]){3, 2}, v);
    H5Fclose(f);
    expect_open_error(path, "X", "labels", DPT_EFORMAT, "no dataset 'X'",
                      "(found: features, grp, labels)");
    expect_open_error(path, "features", "y", DPT_EFORMAT, "no dataset 'y'", "labels");
    expect_open_error(path, "nope/X", "labels", DPT_EFORMAT, "no dataset 'nope/X'", NULL);
    expect_open_error(path, "grp", "labels", DPT_EFORMAT, "'grp' is a group, not a dataset", NULL);

    /* A path inside the file works. */
    struct dpt_dataset *ds = open_ok(path, "grp/X", "labels");
    CU_ASSERT_EQUAL(dpt_dataset_rows(ds), 3);
    dpt_dataset_close(ds);
}

static void test_shape_errors(void)
{
    char path[4096];
    float v[2 * 3 * 4] = {0};
    hid_t f = new_file(path, sizeof path, "shapes.h5");
    put(f, "x1", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, 1, (hsize_t[]){4}, v);
    put(f, "x2", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, 2, (hsize_t[]){4, 3}, v);
    put(f, "x3", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, 3, (hsize_t[]){2, 3, 4}, v);
    put(f, "x5", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, 5, (hsize_t[]){2, 3, 2, 2, 1}, v);
    put(f, "x0rows", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, 2, (hsize_t[]){0, 3}, NULL);
    put(f, "x0cols", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, 2, (hsize_t[]){4, 0}, NULL);
    put(f, "x0chan", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, 4, (hsize_t[]){4, 3, 2, 0}, NULL);
    put(f, "y3", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, 3, (hsize_t[]){4, 1, 1}, v);
    put(f, "y5", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, 1, (hsize_t[]){5}, v);
    put(f, "y4", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, 1, (hsize_t[]){4}, v);
    H5Fclose(f);
    expect_open_error(path, "x1", NULL, DPT_EFORMAT,
                      "dataset 'x1': expected 2 to 4 dimensions [N, features], [N, H, W] or "
                      "[N, H, W, C], found 1 dimension", NULL);
    expect_open_error(path, "x5", NULL, DPT_EFORMAT,
                      "dataset 'x5': expected 2 to 4 dimensions [N, features], [N, H, W] or "
                      "[N, H, W, C], found 5 dimensions", NULL);
    /* Rank 3 is an image set now: its rows are what y must match. */
    expect_open_error(path, "x3", "y4", DPT_EFORMAT, "dataset 'y4' has 4 rows but 'x3' has 2",
                      NULL);
    expect_open_error(path, "x2", "y3", DPT_EFORMAT,
                      "dataset 'y3': expected [N] or [N, k], found 3 dimensions", NULL);
    expect_open_error(path, "x2", "y5", DPT_EFORMAT, "dataset 'y5' has 5 rows but 'x2' has 4",
                      NULL);
    expect_open_error(path, "x0rows", NULL, DPT_EFORMAT, "dataset 'x0rows' has no rows", NULL);
    expect_open_error(path, "x0cols", NULL, DPT_EFORMAT, "dataset 'x0cols' has no features",
                      NULL);
    expect_open_error(path, "x0chan", NULL, DPT_EFORMAT,
                      "dataset 'x0chan' has no features (shape [4, 3, 2, 0])", NULL);
}

static void test_dtype_errors(void)
{
    char path[4096];
    char text[4 * 2 * 3] = "abcdefghijklmnopqrstuvw";
    float v[4] = {0};
    hid_t str = H5Tcopy(H5T_C_S1);
    H5Tset_size(str, 3);
    hid_t f = new_file(path, sizeof path, "strings.h5");
    put(f, "X", str, str, 2, (hsize_t[]){4, 2}, text);
    put(f, "x_ok", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, 2, (hsize_t[]){4, 1}, v);
    put(f, "y", str, str, 1, (hsize_t[]){4}, text);
    H5Fclose(f);
    H5Tclose(str);
    expect_open_error(path, "X", NULL, DPT_EFORMAT,
                      "dataset 'X' has dtype string; expected an integer or float type", NULL);
    expect_open_error(path, "x_ok", "y", DPT_EFORMAT, "dataset 'y' has dtype string", NULL);
}

/* HDF5 prints nothing on stderr while we fail, and the caller's own error
 * printing setting survives. */
static void test_quiet(void)
{
    char path[4096], log[4096];
    test_path(log, sizeof log, "stderr.log");
    H5E_auto2_t func_before;
    void *data_before;
    H5Eget_auto2(H5E_DEFAULT, &func_before, &data_before);

    fflush(stderr);
    int saved = dup(2);
    int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    CU_ASSERT_FATAL(saved >= 0 && fd >= 0);
    dup2(fd, 2);
    close(fd);
    test_path(path, sizeof path, "notes.txt");
    test_write_file(path, "not hdf5\n");
    expect_open_error(path, "X", NULL, DPT_EFORMAT, "not an HDF5 file", NULL);
    char shapes[4096];
    test_path(shapes, sizeof shapes, "quiet.h5");
    hid_t f = H5Fcreate(shapes, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    float v[4] = {0};
    put(f, "x1", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, 1, (hsize_t[]){4}, v);
    H5Fclose(f);
    expect_open_error(shapes, "nope/X", NULL, DPT_EFORMAT, "no dataset", NULL);
    expect_open_error(shapes, "x1", NULL, DPT_EFORMAT, "expected 2 to 4 dimensions", NULL);
    fflush(stderr);
    dup2(saved, 2);
    close(saved);

    struct stat st;
    CU_ASSERT_EQUAL(stat(log, &st), 0);
    CU_ASSERT_EQUAL(st.st_size, 0);
    H5E_auto2_t func_after;
    void *data_after;
    H5Eget_auto2(H5E_DEFAULT, &func_after, &data_after);
    CU_ASSERT(func_after == func_before && data_after == data_before);
}

/* A caller's own HDF5 error handler: counts the times HDF5 calls it. */
static herr_t count_errors(hid_t stack, void *data)
{
    (void)stack;
    (*(int *)data)++;
    return 0;
}

/* Asserts that the caller's handler is in place again and was not called:
 * every entry point silences HDF5 and restores the caller's setting. */
static void expect_handler(int *calls, const char *after)
{
    H5E_auto2_t func = NULL;
    void *data = NULL;
    H5Eget_auto2(H5E_DEFAULT, &func, &data);
    CU_ASSERT(func == count_errors && data == calls);
    CU_ASSERT_EQUAL(*calls, 0);
    if (func != count_errors || data != calls || *calls != 0) {
        printf("\n    after %s: handler %s, called %d times\n", after,
               func == count_errors && data == calls ? "kept" : "lost", *calls);
    }
    *calls = 0;
}

/* Asserts that a read failed inside HDF5 and that the message quotes its
 * reason. */
static void expect_hdf5_reason(int rc, const struct dpt_err *err, const char *path)
{
    CU_ASSERT_EQUAL(rc, DPT_EIO);
    CU_ASSERT_PTR_NOT_NULL(strstr(err->msg, path));
    CU_ASSERT_PTR_NOT_NULL(strstr(err->msg, "failed (HDF5: "));
    CU_ASSERT_PTR_NULL(strstr(err->msg, "no details"));
    if (rc != DPT_EIO || !strstr(err->msg, "failed (HDF5: ")) {
        printf("\n    got %d: %s\n", rc, err->msg);
    }
}

/* A file with something for every error path of dataset.c that goes
 * through HDF5: X [N, 3] and y [N] that are fine, a deflated X whose
 * second chunk is garbage, a group, a dangling link, a rank-1 x1, a string
 * dataset, a y of 5 rows, and an external link to X in other.h5. */
static void handler_file(char *path, size_t len, char *other, size_t other_len)
{
    enum { N = 40, F = 3 };
    float x[N * F];
    int y[N];
    for (int i = 0; i < N * F; i++) {
        x[i] = (float)i;
    }
    for (int i = 0; i < N; i++) {
        y[i] = i % 2;
    }
    /* other.h5's X lies where this file's X does, with other values. */
    float x_other[N * F];
    for (int i = 0; i < N * F; i++) {
        x_other[i] = 1000.0f + (float)i;
    }
    hid_t f = new_file(other, other_len, "handler-other.h5");
    put(f, "X", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, 2, (hsize_t[]){N, F}, x_other);
    H5Fclose(f);

    f = new_file(path, len, "handler.h5");
    put(f, "X", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, 2, (hsize_t[]){N, F}, x);
    put(f, "y", H5T_STD_I32LE, H5T_NATIVE_INT, 1, (hsize_t[]){N}, y);
    put(f, "grp/X", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, 2, (hsize_t[]){N, F}, x);
    put(f, "x1", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, 1, (hsize_t[]){N}, x);
    put(f, "y5", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, 1, (hsize_t[]){5}, x);
    hid_t str = H5Tcopy(H5T_C_S1);
    H5Tset_size(str, 4);
    put(f, "s", str, str, 2, (hsize_t[]){N, 1}, NULL);
    H5Tclose(str);
    CU_ASSERT_FATAL(H5Lcreate_soft("/nowhere", f, "dangling", H5P_DEFAULT, H5P_DEFAULT) >= 0);
    CU_ASSERT_FATAL(H5Lcreate_external(other, "X", f, "ext", H5P_DEFAULT, H5P_DEFAULT) >= 0);

    /* Rows 16..31 of column 0 are a chunk that does not inflate: written
     * raw, as if compressed, so every read of them fails inside HDF5's
     * filter (chunks of one column: dptrain's own chunk reads take chunks
     * of whole rows only). x_bad_rows: the same with chunks of whole rows,
     * which dptrain inflates itself. */
    hid_t space = H5Screate_simple(2, (hsize_t[]){N, F}, NULL);
    for (int whole = 0; whole < 2; whole++) {
        hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
        H5Pset_chunk(dcpl, 2, (hsize_t[]){16, whole ? F : 1});
        H5Pset_deflate(dcpl, 4);
        hid_t d = H5Dcreate2(f, whole ? "x_bad_rows" : "x_bad", H5T_IEEE_F32LE, space,
                             H5P_DEFAULT, dcpl, H5P_DEFAULT);
        CU_ASSERT_FATAL(d >= 0);
        CU_ASSERT_FATAL(H5Dwrite(d, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, x) >= 0);
        char garbage[64];
        memset(garbage, 0x5a, sizeof garbage);
        CU_ASSERT_FATAL(H5Dwrite_chunk(d, H5P_DEFAULT, 0, (hsize_t[]){16, 0}, sizeof garbage,
                                       garbage) >= 0);
        H5Dclose(d);
        H5Pclose(dcpl);
    }
    H5Sclose(space);
    H5Fclose(f);
}

/* A caller's own HDF5 error handler stays in place, uncalled, across every
 * entry point, on success and on every error path that goes through HDF5;
 * the messages of failures inside HDF5 quote its reason. */
static void test_handler_restored(void)
{
    char path[4096], other[4096], notes[4096];
    handler_file(path, sizeof path, other, sizeof other);
    test_path(notes, sizeof notes, "handler-notes.txt");
    CU_ASSERT_EQUAL_FATAL(test_write_file(notes, "not hdf5\n"), 0);

    H5E_auto2_t saved_func;
    void *saved_data;
    H5Eget_auto2(H5E_DEFAULT, &saved_func, &saved_data);
    int calls = 0;
    H5Eset_auto2(H5E_DEFAULT, count_errors, &calls);

    expect_open_error(notes, "X", NULL, DPT_EFORMAT, "not an HDF5 file", NULL);
    expect_handler(&calls, "open of a text file");
    expect_open_error(path, "nope/X", NULL, DPT_EFORMAT, "no dataset 'nope/X'", NULL);
    expect_handler(&calls, "open of a missing dataset");
    expect_open_error(path, "grp", NULL, DPT_EFORMAT, "'grp' is a group", NULL);
    expect_handler(&calls, "open of a group");
    expect_open_error(path, "dangling", NULL, DPT_EFORMAT, "cannot open dataset 'dangling' "
                      "(HDF5: ", NULL);
    expect_handler(&calls, "open of a dangling link");
    expect_open_error(path, "x1", NULL, DPT_EFORMAT, "found 1 dimension", NULL);
    expect_handler(&calls, "open of a rank-1 X");
    expect_open_error(path, "s", NULL, DPT_EFORMAT, "has dtype string", NULL);
    expect_handler(&calls, "open of a string X");
    expect_open_error(path, "X", "y5", DPT_EFORMAT, "has 5 rows but 'X' has 40", NULL);
    expect_handler(&calls, "open of a short y");

    struct dpt_dataset *ds = open_ok(path, "X", "y");
    expect_handler(&calls, "open");
    float x[40 * 3], y[40];
    struct dpt_err err = {0};
    CU_ASSERT_EQUAL(dpt_dataset_read(ds, (uint64_t[]){1, 7, 8}, 3, x, y, &err), 0);
    expect_handler(&calls, "dpt_dataset_read");
    CU_ASSERT_EQUAL(dpt_dataset_read_range(ds, 3, 30, x, y, &err), 0);
    expect_handler(&calls, "dpt_dataset_read_range");
    double sum[3], sq[3], lo[3], hi[3];
    CU_ASSERT_EQUAL(dpt_dataset_moments(ds, DPT_ARRAY_X, 0, 40, NULL, sum, sq, lo, hi, &err), 0);
    expect_handler(&calls, "dpt_dataset_moments");
    dpt_dataset_close(ds);
    expect_handler(&calls, "dpt_dataset_close");

    /* X behind an external link: at the other file's offset, this file
     * holds its own X. Direct reads go to the file HDF5 holds the dataset
     * in (the link's target), so they read the target's values. */
    ds = open_ok(path, "ext", NULL);
    expect_handler(&calls, "open of an external link");
    CU_ASSERT_TRUE(dpt_dataset_direct(ds));
    CU_ASSERT_EQUAL(dpt_dataset_read_range(ds, 0, 40, x, NULL, &err), 0);
    for (int i = 0; i < 40 * 3; i++) {
        CU_ASSERT_EQUAL(x[i], 1000.0f + (float)i);
    }
    dpt_dataset_close(ds);
    expect_handler(&calls, "reading through an external link");

    ds = open_ok(path, "x_bad", NULL);
    expect_handler(&calls, "open of a damaged chunked X");
    CU_ASSERT_EQUAL(dpt_dataset_read_range(ds, 0, 16, x, NULL, &err), 0);
    CU_ASSERT_EQUAL(x[16 * 3 - 1], 16 * 3 - 1);
    expect_handler(&calls, "dpt_dataset_read_range of good chunk");
    expect_hdf5_reason(dpt_dataset_read_range(ds, 10, 10, x, NULL, &err), &err, path);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "reading 10 rows from row 10 failed"));
    expect_handler(&calls, "dpt_dataset_read_range of a damaged chunk");
    expect_hdf5_reason(dpt_dataset_read(ds, (uint64_t[]){2, 20}, 2, x, NULL, &err), &err, path);
    expect_handler(&calls, "dpt_dataset_read of a damaged chunk");
    expect_hdf5_reason(dpt_dataset_moments(ds, DPT_ARRAY_X, 0, 40, NULL, sum, sq, lo, hi, &err),
                       &err, path);
    expect_handler(&calls, "dpt_dataset_moments of a damaged chunk");
    CU_ASSERT_EQUAL(dpt_dataset_rows_read(ds), 16);
    dpt_dataset_close(ds);
    expect_handler(&calls, "closing");

    /* The same damage where dptrain inflates the chunks itself: the good
     * chunks read, the bad one is named by its rows. */
    ds = open_ok(path, "x_bad_rows", NULL);
    CU_ASSERT_TRUE(dpt_dataset_chunk_reads(ds));
    CU_ASSERT_EQUAL(dpt_dataset_read(ds, (uint64_t[]){2, 33, 39}, 3, x, NULL, &err), 0);
    CU_ASSERT_EQUAL(x[3 * 3 - 1], 39 * 3 + 2);
    CU_ASSERT_EQUAL(dpt_dataset_read_range(ds, 10, 10, x, NULL, &err), DPT_EFORMAT);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "dataset 'x_bad_rows': the chunk of rows 16 to 31 "
                                           "is damaged"));
    CU_ASSERT_EQUAL(dpt_dataset_read(ds, (uint64_t[]){2, 20}, 2, x, NULL, &err), DPT_EFORMAT);
    dpt_dataset_close(ds);
    expect_handler(&calls, "chunk reads of a damaged chunk");

    /* The handler is live: an HDF5 error of our own reaches it. */
    CU_ASSERT(H5Dopen2(H5I_INVALID_HID, "X", H5P_DEFAULT) < 0);
    CU_ASSERT_EQUAL(calls, 1);
    H5Eset_auto2(H5E_DEFAULT, saved_func, saved_data);
}

/* The standardization statistics of X through data/norm.c, on one rank
 * (a one-rank dist makes no MPI calls). */
static int x_stats(struct dpt_dataset *ds, double *mean, double *std, struct dpt_err *err)
{
    struct dpt_dist one = {MPI_COMM_SELF, 0, 1};
    struct dpt_norm n = {0};
    int rc = dpt_norm_compute(&n, ds, &one, 1, 0, 0, err);
    if (rc == 0) {
        memcpy(mean, n.mean, n.f * sizeof *mean);
        memcpy(std, n.std, n.f * sizeof *std);
    }
    dpt_norm_cleanup(&n);
    return rc;
}

/* The shipped digits files: uint8 images [N, 8, 8], read as samples of
 * shape [8, 8, 1] with 64 features, straight from the file, pixels 0..16
 * and every digit 0..9 in both files (stratified split, 1797 images). */
static void test_digits(void)
{
    static const struct {
        const char *name;
        uint64_t rows;
    } files[] = {{"digits-train.h5", 1438}, {"digits-test.h5", 359}};
    for (size_t k = 0; k < 2; k++) {
        char path[4096];
        struct dpt_dataset *ds = open_ok(shipped(path, sizeof path, files[k].name), "X", "y");
        const uint64_t n = dpt_dataset_rows(ds);
        CU_ASSERT_EQUAL(n, files[k].rows);
        CU_ASSERT_EQUAL(dpt_dataset_features(ds), 64);
        struct dpt_shape shape;
        dpt_dataset_sample_shape(ds, &shape);
        CU_ASSERT_EQUAL(shape.rank, 3);
        CU_ASSERT(shape.dims[0] == 8 && shape.dims[1] == 8 && shape.dims[2] == 1);
        CU_ASSERT_EQUAL(dpt_dataset_y_cols(ds), 1);
        CU_ASSERT_EQUAL(dpt_dataset_y_is_integer(ds), 1);
        CU_ASSERT_EQUAL(dpt_dataset_direct(ds), 1); /* contiguous uint8: pread */

        float *x = malloc(n * 64 * sizeof *x), *y = malloc(n * sizeof *y);
        CU_ASSERT_FATAL(x && y);
        struct dpt_err err = {0};
        CU_ASSERT_EQUAL_FATAL(dpt_dataset_read_range(ds, 0, n, x, y, &err), 0);
        float lo = x[0], hi = x[0];
        int whole = 1, count[10] = {0}, bad_label = 0;
        for (uint64_t i = 0; i < n * 64; i++) {
            lo = x[i] < lo ? x[i] : lo;
            hi = x[i] > hi ? x[i] : hi;
            whole &= x[i] == floorf(x[i]);
        }
        for (uint64_t i = 0; i < n; i++) {
            if (y[i] >= 0 && y[i] <= 9 && y[i] == floorf(y[i])) {
                count[(int)y[i]]++;
            } else {
                bad_label++;
            }
        }
        CU_ASSERT(lo == 0.0f && hi == 16.0f && whole);
        CU_ASSERT_EQUAL(bad_label, 0);
        for (int c = 0; c < 10; c++) {
            CU_ASSERT(count[c] >= (int)n / 20); /* about n / 10 each */
        }
        free(x);
        free(y);
        dpt_dataset_close(ds);
    }
}

/* Rank 3 and 4 X, contiguous (read with pread) and chunked (read by
 * HDF5): the sample shape, rows as flat runs in the file's order, the
 * per-pixel statistics, and a NaN named by its place in the image. */
static void test_image_shapes(void)
{
    char path[4096];
    enum { N = 40, H = 3, W = 4, C = 2 };
    float *v = malloc((size_t)N * H * W * C * sizeof *v);
    CU_ASSERT_FATAL(v != NULL);
    for (size_t i = 0; i < (size_t)N * H * W * C; i++) {
        v[i] = (float)i; /* value = flat index: a row is [i * F, (i + 1) * F) */
    }
    hid_t f = new_file(path, sizeof path, "images.h5");
    put(f, "x3", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, 3, (hsize_t[]){N, H, W * C}, v);
    put(f, "x4", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, 4, (hsize_t[]){N, H, W, C}, v);
    hid_t space = H5Screate_simple(4, (hsize_t[]){N, H, W, C}, NULL);
    hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
    H5Pset_chunk(dcpl, 4, (hsize_t[]){7, H, 2, C}); /* chunks that cut rows and images */
    H5Pset_deflate(dcpl, 1);
    hid_t d = H5Dcreate2(f, "x4_chunked", H5T_IEEE_F32LE, space, H5P_DEFAULT, dcpl, H5P_DEFAULT);
    CU_ASSERT_FATAL(d >= 0);
    CU_ASSERT_FATAL(H5Dwrite(d, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, v) >= 0);
    H5Dclose(d);
    H5Pclose(dcpl);
    H5Sclose(space);
    v[(size_t)7 * H * W * C + (2 * W + 3) * C + 1] = NAN; /* X[7, 2, 3, 1] */
    put(f, "x4_nan", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, 4, (hsize_t[]){N, H, W, C}, v);
    put(f, "x3_nan", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, 3, (hsize_t[]){N, H, W * C}, v);
    H5Fclose(f);
    free(v);

    static const struct {
        const char *name;
        uint32_t rank;
        uint64_t dims[3];
        int direct;
    } cases[] = {{"x3", 3, {H, W * C, 1}, 1},
                 {"x4", 3, {H, W, C}, 1},
                 {"x4_chunked", 3, {H, W, C}, 0}};
    enum { F = H * W * C };
    const uint64_t rows[] = {0, 1, 2, 9, 20, 21, 39};
    const size_t n = sizeof rows / sizeof rows[0];
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        struct dpt_dataset *ds = open_ok(path, cases[k].name, NULL);
        struct dpt_shape shape;
        dpt_dataset_sample_shape(ds, &shape);
        CU_ASSERT_EQUAL(shape.rank, cases[k].rank);
        CU_ASSERT_EQUAL(memcmp(shape.dims, cases[k].dims, sizeof shape.dims), 0);
        CU_ASSERT_EQUAL(dpt_dataset_features(ds), F);
        CU_ASSERT_EQUAL(dpt_dataset_direct(ds), cases[k].direct);
        float x[sizeof rows / sizeof rows[0] * F];
        struct dpt_err err = {0};
        CU_ASSERT_EQUAL_FATAL(dpt_dataset_read(ds, rows, n, x, NULL, &err), 0);
        int bad = 0;
        for (size_t i = 0; i < n; i++) {
            for (size_t j = 0; j < F; j++) {
                bad += x[i * F + j] != (float)(rows[i] * F + j);
            }
        }
        CU_ASSERT_EQUAL(bad, 0);
        CU_ASSERT_EQUAL_FATAL(dpt_dataset_read_range(ds, 5, 3, x, NULL, &err), 0);
        CU_ASSERT(x[0] == (float)(5 * F) && x[3 * F - 1] == (float)(8 * F - 1));
        /* Pixel j's mean over rows 0..N-1 is F (N - 1) / 2 + j. */
        double mean[F], std[F];
        CU_ASSERT_EQUAL_FATAL(x_stats(ds, mean, std, &err), 0);
        CU_ASSERT_DOUBLE_EQUAL(mean[0], F * (N - 1) / 2.0, 1e-9);
        CU_ASSERT_DOUBLE_EQUAL(mean[F - 1], F * (N - 1) / 2.0 + F - 1, 1e-9);
        dpt_dataset_close(ds);
    }

    struct dpt_err err = {0};
    float x[2 * F];
    struct dpt_dataset *ds = open_ok(path, "x4_nan", NULL);
    CU_ASSERT_EQUAL(dpt_dataset_read(ds, (uint64_t[]){3, 7}, 2, x, NULL, &err), DPT_EDATA);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "dataset 'x4_nan': row 7, index [2, 3, 1] is NaN"));
    dpt_dataset_close(ds);
    ds = open_ok(path, "x3_nan", NULL);
    CU_ASSERT_EQUAL(dpt_dataset_read_range(ds, 6, 2, x, NULL, &err), DPT_EDATA);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "dataset 'x3_nan': row 7, index [2, 7] is NaN"));
    dpt_dataset_close(ds);
}

static void test_nonfinite(void)
{
    char path[4096];
    enum { N = 10, F = 4 };
    float x[N * F], y[N];
    for (int i = 0; i < N * F; i++) {
        x[i] = (float)i;
    }
    for (int i = 0; i < N; i++) {
        y[i] = (float)i;
    }
    x[7 * F + 2] = NAN;
    y[4] = INFINITY;
    hid_t f = new_file(path, sizeof path, "nonfinite.h5");
    put(f, "X", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, 2, (hsize_t[]){N, F}, x);
    put(f, "y", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, 1, (hsize_t[]){N}, y);
    H5Fclose(f);

    struct dpt_dataset *ds = open_ok(path, "X", "y");
    float bx[N * F], by[N];
    struct dpt_err err = {0};

    /* Row 7 is the file row, not its place (1) in the list. */
    CU_ASSERT_EQUAL(dpt_dataset_read(ds, (uint64_t[]){5, 7}, 2, bx, by, &err), DPT_EDATA);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, path));
    CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "dataset 'X': row 7, column 2 is NaN"));
    CU_ASSERT_EQUAL(dpt_dataset_read_range(ds, 6, 3, bx, NULL, &err), DPT_EDATA);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "dataset 'X': row 7, column 2 is NaN"));

    /* y's Inf, in rows whose X is fine. */
    CU_ASSERT_EQUAL(dpt_dataset_read(ds, (uint64_t[]){0, 3, 4}, 3, bx, by, &err), DPT_EDATA);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, path));
    CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "dataset 'y': row 4 is Inf"));
    CU_ASSERT_EQUAL(dpt_dataset_read_range(ds, 0, 4, bx, by, &err), 0);

    /* The statistics see the NaN too. */
    double mean[F], std[F];
    CU_ASSERT_EQUAL(x_stats(ds, mean, std, &err), DPT_EDATA);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "dataset 'X': row 7, column 2 is NaN"));
    dpt_dataset_close(ds);
}

/* A float64 file, so that the constant column's sum is not exact. */
static void test_stats_small(void)
{
    char path[4096];
    enum { N = 7, F = 4 };
    double x[N * F];
    for (int i = 0; i < N; i++) {
        x[i * F + 0] = i * 1.5 - 2.0;
        x[i * F + 1] = 0.1;                     /* constant: mean exactly 0.1, std 1 */
        x[i * F + 2] = 1e4 + (i % 3) * 0.25;    /* large mean, small spread */
        x[i * F + 3] = (double)(i * i);
    }
    hid_t f = new_file(path, sizeof path, "stats.h5");
    put(f, "X", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, 2, (hsize_t[]){N, F}, x);
    H5Fclose(f);

    double want_mean[F], want_std[F];
    for (int j = 0; j < F; j++) {
        double s = 0.0;
        for (int i = 0; i < N; i++) {
            s += x[i * F + j];
        }
        want_mean[j] = s / N;
        double s2 = 0.0;
        for (int i = 0; i < N; i++) {
            s2 += (x[i * F + j] - want_mean[j]) * (x[i * F + j] - want_mean[j]);
        }
        want_std[j] = sqrt(s2 / N);
    }

    struct dpt_dataset *ds = open_ok(path, "X", NULL);
    double mean[F], std[F];
    struct dpt_err err = {0};
    CU_ASSERT_EQUAL_FATAL(x_stats(ds, mean, std, &err), 0);
    for (int j = 0; j < F; j++) {
        CU_ASSERT_DOUBLE_EQUAL(mean[j], want_mean[j], 1e-12 * fabs(want_mean[j]) + 1e-15);
        if (j != 1) {
            CU_ASSERT_DOUBLE_EQUAL(std[j], want_std[j], 1e-9 * want_std[j]);
        }
    }
    CU_ASSERT_EQUAL(mean[1], 0.1);
    CU_ASSERT_EQUAL(std[1], 1.0);
    CU_ASSERT_EQUAL(dpt_dataset_rows_read(ds), 0); /* statistics do not count */
    dpt_dataset_close(ds);
}

/* Against the X_mean / X_std attributes numpy wrote into the shipped file. */
static void test_stats_shipped(void)
{
    char path[4096];
    struct dpt_dataset *ds = open_ok(shipped(path, sizeof path, "breast_cancer-train.h5"),
                                     "X", "y");
    CU_ASSERT_EQUAL_FATAL(dpt_dataset_features(ds), 30);
    double want_mean[30], want_std[30];
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    CU_ASSERT_FATAL(f >= 0);
    hid_t a = H5Aopen(f, "X_mean", H5P_DEFAULT);
    CU_ASSERT(H5Aread(a, H5T_NATIVE_DOUBLE, want_mean) >= 0);
    H5Aclose(a);
    a = H5Aopen(f, "X_std", H5P_DEFAULT);
    CU_ASSERT(H5Aread(a, H5T_NATIVE_DOUBLE, want_std) >= 0);
    H5Aclose(a);
    H5Fclose(f);

    double mean[30], std[30];
    struct dpt_err err = {0};
    CU_ASSERT_EQUAL_FATAL(x_stats(ds, mean, std, &err), 0);
    for (int j = 0; j < 30; j++) {
        CU_ASSERT_DOUBLE_EQUAL(mean[j], want_mean[j], 1e-6 * fabs(want_mean[j]));
        CU_ASSERT_DOUBLE_EQUAL(std[j], want_std[j], 1e-6 * want_std[j]);
    }
    CU_ASSERT_EQUAL(dpt_dataset_rows_read(ds), 0);
    dpt_dataset_close(ds);
}

/* More rows than one statistics block, so blocks are joined. */
static void test_stats_blocks(void)
{
    char path[4096];
    enum { N = 10000, F = 2 };
    float *x = malloc((size_t)N * F * sizeof *x);
    CU_ASSERT_FATAL(x != NULL);
    double s[F] = {0, 0};
    for (int i = 0; i < N; i++) {
        x[i * F + 0] = (float)(i % 97) * 0.5f + 1000.0f;
        x[i * F + 1] = (float)((i * 7919) % 1013) - 500.0f;
        s[0] += x[i * F + 0];
        s[1] += x[i * F + 1];
    }
    double want_mean[F] = {s[0] / N, s[1] / N}, want_std[F];
    for (int j = 0; j < F; j++) {
        double s2 = 0.0;
        for (int i = 0; i < N; i++) {
            double d = x[i * F + j] - want_mean[j];
            s2 += d * d;
        }
        want_std[j] = sqrt(s2 / N);
    }
    hid_t f = new_file(path, sizeof path, "stats-blocks.h5");
    put(f, "X", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, 2, (hsize_t[]){N, F}, x);
    H5Fclose(f);
    free(x);

    struct dpt_dataset *ds = open_ok(path, "X", NULL);
    double mean[F], std[F];
    struct dpt_err err = {0};
    CU_ASSERT_EQUAL_FATAL(x_stats(ds, mean, std, &err), 0);
    for (int j = 0; j < F; j++) {
        CU_ASSERT_DOUBLE_EQUAL(mean[j], want_mean[j], 1e-12 * fabs(want_mean[j]));
        CU_ASSERT_DOUBLE_EQUAL(std[j], want_std[j], 1e-9 * want_std[j]);
    }
    dpt_dataset_close(ds);
}

/* y's statistics come from the same two-pass algorithm as X's: a constant
 * column gets its value and std 1, a column with a large mean and a small
 * spread keeps its spread; applying and unapplying round-trips. */
static void test_stats_y(void)
{
    char path[4096];
    enum { N = 9, F = 2, K = 2 };
    double x[N * F], y[N * K];
    for (int i = 0; i < N; i++) {
        x[i * F + 0] = i;
        x[i * F + 1] = -i;
        y[i * K + 0] = 1e3 + (i % 4) * 0.125; /* a large mean, a small spread */
        y[i * K + 1] = 0.3;                   /* constant */
    }
    hid_t f = new_file(path, sizeof path, "stats-y.h5");
    put(f, "X", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, 2, (hsize_t[]){N, F}, x);
    put(f, "y", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, 2, (hsize_t[]){N, K}, y);
    H5Fclose(f);
    double s = 0, s2 = 0;
    for (int i = 0; i < N; i++) {
        s += y[i * K];
    }
    double want_mean = s / N;
    for (int i = 0; i < N; i++) {
        s2 += (y[i * K] - want_mean) * (y[i * K] - want_mean);
    }
    double want_std = sqrt(s2 / N);

    struct dpt_dataset *ds = open_ok(path, "X", "y");
    struct dpt_dist one = {MPI_COMM_SELF, 0, 1};
    struct dpt_norm n = {0};
    struct dpt_err err = {0};
    CU_ASSERT_EQUAL_FATAL(dpt_norm_compute(&n, ds, &one, 0, 1, 0, &err), 0);
    CU_ASSERT_EQUAL(n.f, 0);
    CU_ASSERT_EQUAL_FATAL(n.yc, K);
    CU_ASSERT_DOUBLE_EQUAL(n.y_mean[0], want_mean, 1e-12 * want_mean);
    CU_ASSERT_DOUBLE_EQUAL(n.y_std[0], want_std, 1e-9 * want_std);
    CU_ASSERT_EQUAL(n.y_mean[1], 0.3);
    CU_ASSERT_EQUAL(n.y_std[1], 1.0);

    float row[K] = {(float)y[K], 0.3f}, st[K], back[K];
    dpt_norm_y(&n, row, st, 1, K);
    CU_ASSERT_DOUBLE_EQUAL(st[0], (y[K] - want_mean) / want_std, 1e-3);
    CU_ASSERT_DOUBLE_EQUAL(st[1], 0.0, 1e-6);
    memcpy(back, st, sizeof st);
    dpt_norm_unapply_y(&n, back, 1, K);
    CU_ASSERT_DOUBLE_EQUAL(back[0], row[0], 1e-3);
    CU_ASSERT_DOUBLE_EQUAL(back[1], row[1], 1e-6);
    /* Targets of another width are left alone. */
    float other[3] = {1, 2, 3}, copy[3];
    dpt_norm_y(&n, other, copy, 1, 3);
    CU_ASSERT_EQUAL(memcmp(other, copy, sizeof other), 0);
    dpt_norm_cleanup(&n);
    dpt_dataset_close(ds);
}

/* data.scale with standardization on uint8 images [N, H, W] whose border
 * pixels are constant: the statistics are those of the scaled pixels, a
 * constant pixel gets std 1 and its scaled value as its mean, and comes out
 * of dpt_norm_x as exactly 0; the others as (x s - mean) / std. */
static void test_scale_constant_pixels(void)
{
    char path[4096];
    enum { N = 50, H = 6, W = 5, F = H * W, BORDER = 7 };
    const double s = 1.0 / 255;
    unsigned char *img = malloc((size_t)N * F);
    CU_ASSERT_FATAL(img != NULL);
    for (int i = 0; i < N; i++) {
        for (int h = 0; h < H; h++) {
            for (int w = 0; w < W; w++) {
                int border = h == 0 || h == H - 1 || w == 0 || w == W - 1;
                img[(i * H + h) * W + w] =
                    (unsigned char)(border ? BORDER : (i * 31 + h * 7 + w * 3) % 256);
            }
        }
    }
    hid_t f = new_file(path, sizeof path, "scale.h5");
    put(f, "X", H5T_STD_U8LE, H5T_NATIVE_UCHAR, 3, (hsize_t[]){N, H, W}, img);
    H5Fclose(f);

    /* The statistics of the scaled pixels, independently, in double; which
     * pixels are constant, from the picture. */
    double want_mean[F], want_std[F];
    int is_border[F];
    for (int j = 0; j < F; j++) {
        is_border[j] = j / W == 0 || j / W == H - 1 || j % W == 0 || j % W == W - 1;
        double sum = 0, sq = 0;
        for (int i = 0; i < N; i++) {
            sum += img[i * F + j] * s;
        }
        want_mean[j] = sum / N;
        for (int i = 0; i < N; i++) {
            sq += (img[i * F + j] * s - want_mean[j]) * (img[i * F + j] * s - want_mean[j]);
        }
        want_std[j] = sqrt(sq / N);
    }

    struct dpt_dataset *ds = open_ok(path, "X", NULL);
    struct dpt_dist one = {MPI_COMM_SELF, 0, 1};
    struct dpt_norm n = {0};
    struct dpt_err err = {0};
    CU_ASSERT_FALSE(dpt_norm_has_x(&n)); /* a zeroed struct changes nothing */
    CU_ASSERT_EQUAL_FATAL(dpt_norm_set_scale(&n, s, F, &err), 0);
    CU_ASSERT(dpt_norm_has_x(&n) && dpt_norm_scales(&n));
    CU_ASSERT_EQUAL_FATAL(dpt_norm_compute(&n, ds, &one, 1, 0, 0, &err), 0);
    CU_ASSERT_EQUAL_FATAL(n.f, F);
    int constant = 0;
    for (int j = 0; j < F; j++) {
        if (is_border[j]) {
            constant++;
            CU_ASSERT_EQUAL(n.std[j], 1.0);
            CU_ASSERT_EQUAL(n.mean[j], BORDER * s);
        } else {
            CU_ASSERT_DOUBLE_EQUAL(n.mean[j], want_mean[j], 1e-12 * want_mean[j]);
            CU_ASSERT_DOUBLE_EQUAL(n.std[j], want_std[j], 1e-9 * want_std[j]);
        }
    }

    float x[N * F], out[N * F];
    CU_ASSERT_EQUAL_FATAL(dpt_dataset_read_range(ds, 0, N, x, NULL, &err), 0);
    dpt_norm_x(&n, x, out, N);
    int not_zero = 0, off = 0;
    for (int i = 0; i < N * F; i++) {
        int j = i % F;
        if (is_border[j]) {
            not_zero += out[i] != 0.0f;
        } else {
            off += fabs(out[i] - (img[i] * s - want_mean[j]) / want_std[j]) > 1e-5;
        }
    }
    CU_ASSERT_EQUAL(not_zero, 0);
    CU_ASSERT_EQUAL(off, 0);

    /* Statistics brought by a checkpoint must have been computed with the
     * same scale. */
    CU_ASSERT_EQUAL(dpt_norm_set_scale(&n, s, F, &err), 0);
    CU_ASSERT_EQUAL(dpt_norm_set_scale(&n, 1.0, F, &err), DPT_ECONFIG);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "scaled by 0.003921568627"));
    CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "data.scale is now 1"));
    dpt_norm_cleanup(&n);

    /* Scale 1 is no scale: the same statistics, bit for bit, as without. */
    struct dpt_norm plain = {0}, one_scale = {0};
    CU_ASSERT_EQUAL_FATAL(dpt_norm_set_scale(&one_scale, 1.0, F, &err), 0);
    CU_ASSERT_FALSE(dpt_norm_has_x(&one_scale));
    CU_ASSERT_EQUAL_FATAL(dpt_norm_compute(&plain, ds, &one, 1, 0, 0, &err), 0);
    CU_ASSERT_EQUAL_FATAL(dpt_norm_compute(&one_scale, ds, &one, 1, 0, 0, &err), 0);
    CU_ASSERT_EQUAL(memcmp(plain.mean, one_scale.mean, F * sizeof(double)), 0);
    CU_ASSERT_EQUAL(memcmp(plain.std, one_scale.std, F * sizeof(double)), 0);
    dpt_norm_cleanup(&plain);
    dpt_norm_cleanup(&one_scale);
    dpt_dataset_close(ds);
    free(img);

    /* A scale alone: x * s, the float nearest to it, for every 8-bit value
     * the same as a float32 division by 255 (what numpy gives for
     * X.astype(np.float32) / 255). */
    struct dpt_norm alone = {0};
    CU_ASSERT_EQUAL_FATAL(dpt_norm_set_scale(&alone, s, 256, &err), 0);
    float v[256], scaled[256];
    for (int i = 0; i < 256; i++) {
        v[i] = (float)i;
    }
    dpt_norm_x(&alone, v, scaled, 1);
    int differ = 0;
    for (int i = 0; i < 256; i++) {
        differ += scaled[i] != v[i] / 255.0f;
    }
    CU_ASSERT_EQUAL(differ, 0);
    dpt_norm_cleanup(&alone);
}

/* The advice for a filter that cannot be decoded (util/h5_filters.c): the
 * Debian package for each filter Debian ships a plugin of, none for the
 * rest, and HDF5's own switch when it turned plugins off. The whole message
 * through train, eval and inspect is tests/h5_filters_read.sh's. */
static void test_filter_advice(void)
{
    const char *saved = getenv("HDF5_PLUGIN_PRELOAD");
    char keep[64] = "", why[256];
    snprintf(keep, sizeof keep, "%s", saved ? saved : "");
    unsetenv("HDF5_PLUGIN_PRELOAD");
    const struct {
        H5Z_filter_t id;
        const char *name, *advice;
    } cases[] = {
        {32000, "lzf", "install the Debian packages hdf5-plugin-lzf and liblzf1"},
        {32004, "lz4", "install the Debian package hdf5-filter-plugin"},
        {307, "bzip2", "install the Debian package hdf5-filter-plugin"},
        {32001, "blosc", "install the Debian package hdf5-filter-plugin-blosc-serial"},
        {32008, "bitshuffle", "Debian ships none: an HDF5 filter plugin for filter id 32008"},
        {300, "stored", "Debian ships none: an HDF5 filter plugin for filter id 300"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        CU_ASSERT_STRING_EQUAL(dpt__h5_filter_name(cases[i].id, "stored"), cases[i].name);
        dpt__h5_filter_missing(why, sizeof why, cases[i].id);
        CU_ASSERT_PTR_NOT_NULL(strstr(why, cases[i].advice));
        if (!strstr(why, cases[i].advice)) {
            printf("\nfilter %d: %s\n", (int)cases[i].id, why);
        }
    }
    CU_ASSERT_STRING_EQUAL(dpt__h5_filter_name(300, ""), "unnamed");
    setenv("HDF5_PLUGIN_PRELOAD", "::", 1);
    CU_ASSERT_PTR_NOT_NULL(strstr(dpt__h5_filter_missing(why, sizeof why, 32000),
                                  "HDF5_PLUGIN_PRELOAD=:: turns"));
    if (saved) {
        setenv("HDF5_PLUGIN_PRELOAD", keep, 1);
    } else {
        unsetenv("HDF5_PLUGIN_PRELOAD");
    }
}

int main(void)
{
    if (CU_initialize_registry() != CUE_SUCCESS) {
        return 2;
    }
    CU_pSuite files = CU_add_suite("shipped files", NULL, NULL);
    CU_add_test(files, "breast_cancer-train.h5", test_breast_cancer);
    CU_add_test(files, "iris-train.h5", test_iris);
    CU_add_test(files, "digits-train.h5 and digits-test.h5: 8x8 images", test_digits);
    CU_pSuite reads = CU_add_suite("reading", NULL, NULL);
    CU_add_test(reads, "dtypes convert to float", test_dtypes);
    CU_add_test(reads, "row selection and counting", test_rows);
    CU_add_test(reads, "many scattered rows", test_many_rows);
    CU_add_test(reads, "direct reads equal HDF5's, every native type", test_direct);
    CU_add_test(reads, "images [N, H, W] and [N, H, W, C], both read paths", test_image_shapes);
    CU_pSuite errors = CU_add_suite("errors", NULL, NULL);
    CU_add_test(errors, "missing and non-HDF5 files", test_file_errors);
    CU_add_test(errors, "missing datasets", test_missing_datasets);
    CU_add_test(errors, "wrong shapes", test_shape_errors);
    CU_add_test(errors, "wrong dtypes", test_dtype_errors);
    CU_add_test(errors, "HDF5 stays quiet", test_quiet);
    CU_add_test(errors, "a caller's HDF5 handler survives every call", test_handler_restored);
    CU_add_test(errors, "NaN and Inf", test_nonfinite);
    CU_add_test(errors, "what to install for a missing HDF5 filter", test_filter_advice);
    CU_pSuite stats = CU_add_suite("statistics", NULL, NULL);
    CU_add_test(stats, "small file by hand", test_stats_small);
    CU_add_test(stats, "shipped X_mean and X_std", test_stats_shipped);
    CU_add_test(stats, "several blocks", test_stats_blocks);
    CU_add_test(stats, "targets: the same algorithm, apply and unapply", test_stats_y);
    CU_add_test(stats, "data.scale, with constant pixels", test_scale_constant_pixels);
    return test_run_all();
}
