/* HDF5 helpers for dptrain's own files: see h5file.h. */
#include "config.h"

#include "io/h5file.h"
#include "io/output.h"
#include "util/h5.h"
#include "util/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

hid_t dpt__h5_group_create(hid_t loc, const char *name)
{
    hid_t gcpl = H5Pcreate(H5P_GROUP_CREATE);
    if (gcpl >= 0) {
        H5Pset_obj_track_times(gcpl, 0);
    }
    hid_t g = H5Gcreate2(loc, name, H5P_DEFAULT, gcpl >= 0 ? gcpl : H5P_DEFAULT, H5P_DEFAULT);
    if (gcpl >= 0) {
        H5Pclose(gcpl);
    }
    return g;
}

hid_t dpt__h5_dataset_create(hid_t loc, const char *name, hid_t type, hid_t space)
{
    hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
    if (dcpl >= 0) {
        H5Pset_obj_track_times(dcpl, 0);
    }
    hid_t ds = H5Dcreate2(loc, name, type, space, H5P_DEFAULT, dcpl >= 0 ? dcpl : H5P_DEFAULT,
                          H5P_DEFAULT);
    if (dcpl >= 0) {
        H5Pclose(dcpl);
    }
    return ds;
}

int dpt__h5_write_string_attr(hid_t obj, const char *name, const char *value)
{
    hid_t t = H5Tcopy(H5T_C_S1);
    H5Tset_size(t, H5T_VARIABLE);
    H5Tset_cset(t, H5T_CSET_UTF8);
    hid_t sp = H5Screate(H5S_SCALAR);
    hid_t a = H5Acreate2(obj, name, t, sp, H5P_DEFAULT, H5P_DEFAULT);
    int rc = (a >= 0 && H5Awrite(a, t, &value) >= 0) ? 0 : -1;
    if (a >= 0) {
        H5Aclose(a);
    }
    H5Sclose(sp);
    H5Tclose(t);
    return rc;
}
int dpt__h5_write_int_attr(hid_t obj, const char *name, long long value)
{
    hid_t sp = H5Screate(H5S_SCALAR);
    hid_t a = H5Acreate2(obj, name, H5T_STD_I64LE, sp, H5P_DEFAULT, H5P_DEFAULT);
    int rc = (a >= 0 && H5Awrite(a, H5T_NATIVE_LLONG, &value) >= 0) ? 0 : -1;
    if (a >= 0) {
        H5Aclose(a);
    }
    H5Sclose(sp);
    return rc;
}
int dpt__h5_write_double_attr(hid_t obj, const char *name, double value)
{
    hid_t sp = H5Screate(H5S_SCALAR);
    hid_t a = H5Acreate2(obj, name, H5T_IEEE_F64LE, sp, H5P_DEFAULT, H5P_DEFAULT);
    int rc = (a >= 0 && H5Awrite(a, H5T_NATIVE_DOUBLE, &value) >= 0) ? 0 : -1;
    if (a >= 0) {
        H5Aclose(a);
    }
    H5Sclose(sp);
    return rc;
}
int dpt__h5_write_array(hid_t loc, const char *name, hid_t file_type, hid_t mem_type, int rank,
                       const hsize_t *dims, const void *data)
{
    hid_t sp = H5Screate_simple(rank, dims, NULL);
    hid_t ds = dpt__h5_dataset_create(loc, name, file_type, sp);
    int rc = (ds >= 0 && H5Dwrite(ds, mem_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, data) >= 0) ? 0
                                                                                          : -1;
    if (ds >= 0) {
        H5Dclose(ds);
    }
    H5Sclose(sp);
    return rc;
}
int dpt__h5_write_string_dataset(hid_t loc, const char *name, const char *text)
{
    hid_t t = H5Tcopy(H5T_C_S1);
    H5Tset_size(t, H5T_VARIABLE);
    H5Tset_cset(t, H5T_CSET_UTF8);
    hid_t sp = H5Screate(H5S_SCALAR);
    hid_t ds = dpt__h5_dataset_create(loc, name, t, sp);
    /* HDF5 converts a variable-length string through a buffer of 1 MiB
     * by default and a background buffer, both zeroed at each write: 2 MiB
     * of memset and page faults for one string, four strings a model file
     * (a run writing 25 checkpoints of a small model: 0.26 -> 0.16 s; 1.4
     * -> 0.4 s under AddressSanitizer). One value needs a few bytes. */
    hid_t xfer = H5Pcreate(H5P_DATASET_XFER);
    int rc = ds >= 0 && xfer >= 0 && H5Pset_buffer(xfer, 4096, NULL, NULL) >= 0 &&
                     H5Dwrite(ds, t, H5S_ALL, H5S_ALL, xfer, &text) >= 0
                 ? 0
                 : -1;
    if (xfer >= 0) {
        H5Pclose(xfer);
    }
    if (ds >= 0) {
        H5Dclose(ds);
    }
    H5Sclose(sp);
    H5Tclose(t);
    return rc;
}
/* Whether the dataspace sp holds exactly one value (scalar, or any shape
 * of one element). The readers below read one value into a buffer for
 * one; HDF5 would write every element of a larger attribute or dataset
 * there, past its end (inputs in tests/fuzz/regressions/saved_model/,
 * written by hand for the saved_model fuzzing harness). Closes sp. */
static int one_value(hid_t sp)
{
    int one = sp >= 0 && H5Sget_simple_extent_npoints(sp) == 1;
    if (sp >= 0) {
        H5Sclose(sp);
    }
    return one;
}

/* The longest /config text read: a model file of 64 MiB is far beyond any
 * real one, and a damaged file may claim a fixed-length string of 4 GiB. */
#define MAX_TEXT_BYTES ((size_t)64 << 20)

char *dpt__h5_read_string_dataset(hid_t f, const char *name)
{
    hid_t ds = H5Dopen2(f, name, H5P_DEFAULT);
    if (ds < 0) {
        return NULL;
    }
    hid_t ft = H5Dget_type(ds);
    char *out = NULL;
    if (H5Tget_class(ft) == H5T_STRING && one_value(H5Dget_space(ds))) {
        if (H5Tis_variable_str(ft) > 0) {
            hid_t t = H5Tcopy(H5T_C_S1);
            H5Tset_size(t, H5T_VARIABLE);
            H5Tset_cset(t, H5Tget_cset(ft));
            char *s = NULL;
            if (H5Dread(ds, t, H5S_ALL, H5S_ALL, H5P_DEFAULT, &s) >= 0 && s) {
                out = dpt__strdup(s);
                H5free_memory(s);
            }
            H5Tclose(t);
        } else {
            size_t n = H5Tget_size(ft);
            out = n > 0 && n <= MAX_TEXT_BYTES ? calloc(n + 1, 1) : NULL;
            if (out && H5Dread(ds, ft, H5S_ALL, H5S_ALL, H5P_DEFAULT, out) < 0) {
                free(out);
                out = NULL;
            }
        }
    }
    H5Tclose(ft);
    H5Dclose(ds);
    return out;
}
int dpt__h5_read_string_attr(hid_t obj, const char *name, char *buf, size_t len)
{
    if (H5Aexists(obj, name) <= 0) {
        return -1;
    }
    hid_t a = H5Aopen(obj, name, H5P_DEFAULT);
    hid_t ft = H5Aget_type(a);
    int rc = -1;
    if (H5Tget_class(ft) == H5T_STRING && H5Tis_variable_str(ft) > 0 &&
        one_value(H5Aget_space(a))) {
        hid_t t = H5Tcopy(H5T_C_S1);
        H5Tset_size(t, H5T_VARIABLE);
        H5Tset_cset(t, H5Tget_cset(ft));
        char *s = NULL;
        if (H5Aread(a, t, &s) >= 0 && s) {
            snprintf(buf, len, "%s", s);
            H5free_memory(s);
            rc = 0;
        }
        H5Tclose(t);
    }
    H5Tclose(ft);
    H5Aclose(a);
    return rc;
}
int dpt__h5_read_ll_attr(hid_t obj, const char *name, long long *v)
{
    if (H5Aexists(obj, name) <= 0) {
        return -1;
    }
    hid_t a = H5Aopen(obj, name, H5P_DEFAULT);
    int rc = one_value(H5Aget_space(a)) && H5Aread(a, H5T_NATIVE_LLONG, v) >= 0 ? 0 : -1;
    H5Aclose(a);
    return rc;
}
int dpt__h5_read_double_attr(hid_t obj, const char *name, double *v)
{
    if (H5Aexists(obj, name) <= 0) {
        return -1;
    }
    hid_t a = H5Aopen(obj, name, H5P_DEFAULT);
    int rc = one_value(H5Aget_space(a)) && H5Aread(a, H5T_NATIVE_DOUBLE, v) >= 0 ? 0 : -1;
    H5Aclose(a);
    return rc;
}
int dpt__h5_read_doubles(hid_t f, const char *path, const char *name, double *dst, size_t n,
                        struct dpt_err *err)
{
    hid_t ds = H5Dopen2(f, name, H5P_DEFAULT);
    hid_t sp = ds >= 0 ? H5Dget_space(ds) : -1;
    int ok = sp >= 0 && H5Sget_simple_extent_npoints(sp) == (hssize_t)n &&
             H5Dread(ds, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, dst) >= 0;
    if (sp >= 0) {
        H5Sclose(sp);
    }
    if (ds >= 0) {
        H5Dclose(ds);
    }
    return ok ? 0 : dpt_err_set(err, DPT_EFORMAT, "%s: /%s must be float64 [%zu]", path, name, n);
}
size_t dpt__h5_extent(hid_t f, const char *name)
{
    hid_t ds = H5Dopen2(f, name, H5P_DEFAULT);
    hid_t sp = ds >= 0 ? H5Dget_space(ds) : -1;
    hssize_t n = sp >= 0 ? H5Sget_simple_extent_npoints(sp) : 0;
    if (sp >= 0) {
        H5Sclose(sp);
    }
    if (ds >= 0) {
        H5Dclose(ds);
    }
    return n > 0 ? (size_t)n : 0;
}
/* HDF5 builds the file in memory (the core driver without a backing
 * store) and dpt_output_write_atomically puts the bytes on disk. So HDF5
 * never sees a failing disk: when H5Fclose failed on a full disk, the file
 * stayed half open in HDF5's tables and its library crashed at exit
 * (H5F__close_cb, or "infinite loop closing library"), and the message
 * could not say why the write failed. The price is a copy of the file in
 * memory while it is written. The image has the same bytes the sec2 driver
 * writes. */
/* The in-memory file grows by this many bytes at a time, each new piece
 * zeroed by HDF5: the bytes the caller expects the data to take, plus room
 * for the metadata. A fixed 4 MiB made every file of a small model cost a
 * 4 MiB memset and its page faults (about 1 ms a file here, 25 KB
 * checkpoints); a guess too small only means another piece. */
static size_t core_increment(size_t expect)
{
    size_t piece = (size_t)64 << 10;
    size_t want = expect + expect / 8 + piece;
    return want / piece * piece;
}

/* The bytes of the file fill(f, ctx) makes, built in memory as
 * dpt__h5_save_atomically builds it: *image (malloc'ed) and its length *n.
 * 0, or an error naming path. */
static int build_image(const char *path, int (*fill)(hid_t f, const void *ctx),
                       const void *ctx, size_t expect, void **image_out, size_t *n_out,
                       struct dpt_err *err)
{
    struct dpt__h5_quiet quiet;
    dpt__h5_quiet_begin(&quiet);
    hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
    hid_t f = fapl >= 0 && H5Pset_fapl_core(fapl, core_increment(expect), 0) >= 0
                  ? H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, fapl)
                  : -1;
    void *image = NULL;
    ssize_t n = -1;
    int filled = f >= 0 && fill(f, ctx) >= 0 && H5Fflush(f, H5F_SCOPE_GLOBAL) >= 0;
    if (filled && (n = H5Fget_file_image(f, NULL, 0)) > 0 && (image = malloc((size_t)n))) {
        n = H5Fget_file_image(f, image, (size_t)n);
    }
    char why[DPT__H5_REASON_LEN] = "";
    if (!image || n <= 0) {
        dpt__h5_reason(why, sizeof why);
    }
    if (f >= 0) {
        H5Fclose(f);
    }
    if (fapl >= 0) {
        H5Pclose(fapl);
    }
    dpt__h5_quiet_end(&quiet);
    int rc;
    if (!image || n <= 0) {
        char shown[8192];
        rc = dpt_err_set(err, filled && !image ? DPT_ENOMEM : DPT_EIO, "%s: cannot build the "
                         "file in memory (%s)", dpt__path_shown(path, shown, sizeof shown),
                         filled && !image ? "out of memory" : why);
        free(image);
        return rc;
    }
    *image_out = image;
    *n_out = (size_t)n;
    return 0;
}

int dpt__h5_save_atomically(const char *path, int (*fill)(hid_t f, const void *ctx),
                            const void *ctx, size_t expect, struct dpt_err *err)
{
    void *image = NULL;
    size_t n = 0;
    int rc = build_image(path, fill, ctx, expect, &image, &n, err);
    if (rc == 0) {
        rc = dpt_output_write_atomically(path, image, n, err);
    }
    free(image);
    return rc;
}

int dpt__h5_image_bytes(const char *path, int (*fill)(hid_t f, const void *ctx),
                        const void *ctx, size_t expect, uint64_t *bytes, struct dpt_err *err)
{
    void *image = NULL;
    size_t n = 0;
    int rc = build_image(path, fill, ctx, expect, &image, &n, err);
    free(image);
    *bytes = rc == 0 ? n : 0;
    return rc;
}

int dpt__h5_write_ints_attr(hid_t obj, const char *name, const long long *v, size_t n)
{
    hsize_t dims[1] = {n};
    hid_t sp = H5Screate_simple(1, dims, NULL);
    hid_t a = H5Acreate2(obj, name, H5T_STD_I64LE, sp, H5P_DEFAULT, H5P_DEFAULT);
    int rc = (a >= 0 && H5Awrite(a, H5T_NATIVE_LLONG, v) >= 0) ? 0 : -1;
    if (a >= 0) {
        H5Aclose(a);
    }
    H5Sclose(sp);
    return rc;
}

int dpt__h5_read_ints_attr(hid_t obj, const char *name, long long *v, size_t max, size_t *n)
{
    if (H5Aexists(obj, name) <= 0) {
        return -1;
    }
    hid_t a = H5Aopen(obj, name, H5P_DEFAULT);
    hid_t sp = a >= 0 ? H5Aget_space(a) : -1;
    hssize_t k = sp >= 0 ? H5Sget_simple_extent_npoints(sp) : -1;
    int rc = k >= 0 && (size_t)k <= max && H5Aread(a, H5T_NATIVE_LLONG, v) >= 0 ? 0 : -1;
    *n = rc == 0 ? (size_t)k : 0;
    if (sp >= 0) {
        H5Sclose(sp);
    }
    if (a >= 0) {
        H5Aclose(a);
    }
    return rc;
}
