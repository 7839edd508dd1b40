/* `dptrain convert` from numpy files: X from a .npy (labels from a second
 * .npy given with --y-file) or X and y from members of a .npz. Arrays are
 * copied a block of rows at a time, in their own dtype (uint8 images stay
 * uint8, which dptrain reads as they are); HDF5 converts the byte order to
 * little-endian. Two dtypes HDF5 files rarely hold become common ones:
 * numpy bools are written as uint8 (0 and 1) and float16 as float32
 * (exactly: every half is a float). Values are copied as they are; NaN and
 * Inf too (`dptrain inspect` counts them, training refuses them by row).
 * Images are channels last, [N, H, W, C]; --channels-first transposes an X
 * of [N, C, H, W] (PyTorch's layout) row by row, and an X that looks like
 * one without it gets a note, since it would train as H x C images of W
 * channels, at chance, without any error.
 */
#include "config.h"

#include "cli/convert.h"
#include "data/npy.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The HDF5 type of the values as the file stores them (a copy: close it). */
static hid_t mem_type(const struct dpt_npy_info *in)
{
    int be = in->big_endian;
    hid_t base;
    switch (in->kind) {
    case 'f':
        base = in->size == 8 ? (be ? H5T_IEEE_F64BE : H5T_IEEE_F64LE)
                             : (be ? H5T_IEEE_F32BE : H5T_IEEE_F32LE);
        break;
    case 'i':
        base = in->size == 1   ? H5T_STD_I8LE
               : in->size == 2 ? (be ? H5T_STD_I16BE : H5T_STD_I16LE)
               : in->size == 4 ? (be ? H5T_STD_I32BE : H5T_STD_I32LE)
                               : (be ? H5T_STD_I64BE : H5T_STD_I64LE);
        break;
    default: /* 'u' and 'b' */
        base = in->size == 1   ? H5T_STD_U8LE
               : in->size == 2 ? (be ? H5T_STD_U16BE : H5T_STD_U16LE)
               : in->size == 4 ? (be ? H5T_STD_U32BE : H5T_STD_U32LE)
                               : (be ? H5T_STD_U64BE : H5T_STD_U64LE);
        break;
    }
    hid_t t = H5Tcopy(base);
    if (in->kind == 'f' && in->size == 2 && t >= 0) {
        /* IEEE half: sign bit 15, exponent 10..14 (bias 15), mantissa 0..9;
         * the recipe h5py uses for numpy's float16. */
        H5Tset_fields(t, 15, 10, 5, 0, 10);
        H5Tset_size(t, 2);
        H5Tset_ebias(t, 15);
    }
    return t;
}

/* The type written: the same, little-endian; bool as uint8, half as float. */
static hid_t file_type(const struct dpt_npy_info *in, const char **name)
{
    static char buf[16];
    if (in->kind == 'f') {
        *name = in->size == 8 ? "float64" : "float32";
        return in->size == 8 ? H5T_IEEE_F64LE : H5T_IEEE_F32LE;
    }
    int u = in->kind != 'i';
    snprintf(buf, sizeof buf, "%sint%d", u ? "u" : "", 8 * in->size);
    *name = buf;
    switch (in->size) {
    case 1:
        return u ? H5T_STD_U8LE : H5T_STD_I8LE;
    case 2:
        return u ? H5T_STD_U16LE : H5T_STD_I16LE;
    case 4:
        return u ? H5T_STD_U32LE : H5T_STD_I32LE;
    default:
        return u ? H5T_STD_U64LE : H5T_STD_I64LE;
    }
}

/* Each of the n rows of src, [C, H, W] elements of `size` bytes, into dst
 * as [H, W, C]. */
static void to_channels_last(const struct dpt_npy_info *in, uint64_t n, const char *src,
                             char *dst)
{
    size_t C = in->dims[1], H = in->dims[2], W = in->dims[3], z = (size_t)in->size;
    for (uint64_t i = 0; i < n; i++, src += C * H * W * z, dst += C * H * W * z) {
        for (size_t c = 0; c < C; c++) {
            for (size_t hw = 0; hw < H * W; hw++) {
                memcpy(dst + (hw * C + c) * z, src + (c * H * W + hw) * z, z);
            }
        }
    }
}

/* Copies the whole array a into dataset `set`, a block of rows at a time;
 * transposed to channels last when `transpose` (X with --channels-first). */
static int copy_rows(struct cli_convert_run *r, struct dpt_npy *a, int set, int transpose,
                     const char *phase, struct dpt_err *err)
{
    const struct dpt_npy_info *in = dpt_npy_info(a);
    uint64_t row_bytes = (uint64_t)in->size, N = in->dims[0];
    for (int i = 1; i < in->rank; i++) {
        row_bytes *= in->dims[i];
    }
    uint64_t B = cli_convert_block_rows(r, row_bytes, N);
    void *buf = malloc(B * row_bytes > 0 ? B * row_bytes : 1);
    void *t = transpose ? malloc(B * row_bytes > 0 ? B * row_bytes : 1) : NULL;
    hid_t mt = mem_type(in);
    int rc = buf && (t || !transpose) && mt >= 0 ? 0 : dpt_err_set(err, DPT_ENOMEM,
                                                                   "out of memory");
    for (uint64_t row = 0; rc == 0 && row < N; row += B) {
        uint64_t n = N - row < B ? N - row : B;
        rc = dpt_npy_read(a, buf, n * row_bytes, err);
        if (rc == 0 && transpose) {
            to_channels_last(in, n, buf, t);
        }
        if (rc == 0) {
            rc = dpt_h5out_write(r->w, set, row, n, mt, transpose ? t : buf, err);
        }
        int sig = dpt_stop_requested();
        if (rc == 0 && sig) {
            rc = dpt_err_set(err, DPT_ESIGNAL, "stopped by a signal (%d)", sig);
        }
        cli_convert_progress(r, phase, dpt_npy_offset(a), dpt_npy_file_size(a));
    }
    if (mt >= 0) {
        H5Tclose(mt);
    }
    free(buf);
    free(t);
    return rc;
}

/* "[60000, 28, 28]" into buf. */
static const char *shape_text(const struct dpt_npy_info *in, char *buf, size_t len)
{
    size_t k = (size_t)snprintf(buf, len, "[");
    for (int i = 0; i < in->rank && k < len; i++) {
        k += (size_t)snprintf(buf + k, len - k, "%s%llu", i ? ", " : "",
                              (unsigned long long)in->dims[i]);
    }
    if (k < len) {
        snprintf(buf + k, len - k, "]");
    }
    return buf;
}

/* The .npz member to use: the one asked for, else the first of the
 * defaults that the archive holds; NULL when none is (y is optional). */
static const char *pick(char **names, size_t n, const char *asked, const char *const *defaults)
{
    if (asked) {
        return asked;
    }
    for (const char *const *d = defaults; *d; d++) {
        for (size_t i = 0; i < n; i++) {
            if (strcmp(names[i], *d) == 0) {
                return *d;
            }
        }
    }
    return NULL;
}

/* Opens X and, when there is one, y: from the .npz's members or the
 * .npy files. */
static int open_arrays(struct cli_convert_run *r, struct dpt_npy **x, struct dpt_npy **y,
                       struct dpt_err *err)
{
    static const char *const xs[] = {"X", "x", "arr_0", NULL};
    static const char *const ys[] = {"y", "Y", "arr_1", NULL};
    if (strcmp(r->o.format, "npy") == 0) {
        int rc = dpt_npy_open(x, r->o.in, NULL, err);
        if (rc == 0 && r->o.y_file && !r->o.no_label) {
            rc = dpt_npy_open(y, r->o.y_file, NULL, err);
        }
        return rc;
    }
    char **names = NULL;
    size_t n = 0;
    int rc = dpt_npz_members(r->o.in, &names, &n, err);
    const char *xm = rc == 0 ? pick(names, n, r->o.x_member, xs) : NULL;
    const char *ym = rc == 0 && !r->o.no_label ? pick(names, n, r->o.y_member, ys) : NULL;
    if (rc == 0 && !xm) {
        char list[512] = "";
        for (size_t i = 0; i < n && strlen(list) < sizeof list - 64; i++) {
            snprintf(list + strlen(list), sizeof list - strlen(list), "%s%s", i ? ", " : "",
                     names[i]);
        }
        rc = dpt_err_set(err, DPT_EFORMAT, "%s: no array X, x or arr_0 (found: %s); name the "
                         "features with --x NAME", r->o.in, n ? list : "none");
    }
    if (rc == 0) {
        rc = dpt_npy_open(x, r->o.in, xm, err);
    }
    if (rc == 0 && ym) {
        rc = dpt_npy_open(y, r->o.in, ym, err);
    }
    for (size_t i = 0; i < n; i++) {
        free(names[i]);
    }
    free(names);
    return rc;
}

/* 1, 3 or 4: a count of channels (grey, RGB, RGBA). */
static int channels(uint64_t d)
{
    return d == 1 || d == 3 || d == 4;
}

/* X is [N, F], [N, H, W] or [N, H, W, C] with N > 0 ([N, C, H, W] with
 * --channels-first); y [N] or [N, k]. An X of [N, C, H, W] with C of 1, 3
 * or 4, H and W of 8 or more, and a last dimension that is no count of
 * channels is most likely channels first: a note says so. */
static int check_shapes(struct cli_convert_run *r, struct dpt_npy *x, struct dpt_npy *y,
                        struct dpt_err *err)
{
    const struct dpt_npy_info *xi = dpt_npy_info(x);
    char s[128];
    if (xi->rank < 2 || xi->rank > 4 || xi->dims[0] == 0) {
        return dpt_err_set(err, DPT_EFORMAT, "%s: X has shape %s; expected [N, features], "
                           "[N, H, W] or [N, H, W, C] with N > 0 (one feature: "
                           "a.reshape(-1, 1))", r->o.in, shape_text(xi, s, sizeof s));
    }
    if (r->o.channels_first && xi->rank != 4) {
        return dpt_err_set(err, DPT_EFORMAT, "%s: X has shape %s; --channels-first takes "
                           "images [N, C, H, W]", r->o.in, shape_text(xi, s, sizeof s));
    }
    if (!r->o.channels_first && xi->rank == 4 && channels(xi->dims[1]) && xi->dims[2] >= 8 &&
        xi->dims[3] >= 8 && !channels(xi->dims[3])) {
        cli_convert_note(r, "%s: X has shape %s, which looks channels-first ([N, C, H, W], "
                         "PyTorch's layout); dptrain takes images as [N, H, W, C] and reads "
                         "these as %llu x %llu images of %llu channels: --channels-first "
                         "transposes them while converting", r->o.in,
                         shape_text(xi, s, sizeof s), (unsigned long long)xi->dims[1],
                         (unsigned long long)xi->dims[2], (unsigned long long)xi->dims[3]);
    }
    if (!y) {
        return 0;
    }
    const struct dpt_npy_info *yi = dpt_npy_info(y);
    const char *yname = r->o.y_file ? r->o.y_file : r->o.in;
    if (yi->rank > 2 || yi->dims[0] != xi->dims[0]) {
        char s2[128];
        return dpt_err_set(err, DPT_EFORMAT, "%s: y has shape %s; expected [%llu] or [%llu, k] "
                           "(X has shape %s)", yname, shape_text(yi, s, sizeof s),
                           (unsigned long long)xi->dims[0], (unsigned long long)xi->dims[0],
                           shape_text(xi, s2, sizeof s2));
    }
    return 0;
}

/* Creates a dataset shaped like the array a, or like a transposed from
 * [N, C, H, W] to [N, H, W, C] when `transpose`. */
static int create_like(struct cli_convert_run *r, const char *name, struct dpt_npy *a,
                       int transpose, struct dpt_err *err)
{
    struct dpt_npy_info t = *dpt_npy_info(a);
    const struct dpt_npy_info *in = &t;
    if (transpose) {
        uint64_t C = t.dims[1];
        t.dims[1] = t.dims[2];
        t.dims[2] = t.dims[3];
        t.dims[3] = C;
    }
    uint64_t row_bytes = (uint64_t)in->size;
    for (int i = 1; i < in->rank; i++) {
        row_bytes *= in->dims[i];
    }
    const char *tname;
    hid_t ft = file_type(in, &tname);
    char s[128];
    size_t k = strlen(r->summary);
    snprintf(r->summary + k, sizeof r->summary - k, "%s%s %s %s", k ? ", " : "", name,
             shape_text(in, s, sizeof s), tname);
    return dpt_h5out_dataset(r->w, name, ft, in->rank, in->dims,
                             cli_convert_chunk_rows(r, row_bytes, in->dims[0]), r->o.level, err);
}

int cli_convert_npy(struct cli_convert_run *r, struct dpt_err *err)
{
    struct dpt_npy *x = NULL, *y = NULL;
    int xs = -1, ys = -1;
    int rc = open_arrays(r, &x, &y, err);
    if (rc == 0) {
        rc = check_shapes(r, x, y, err);
    }
    if (rc == 0) {
        rc = cli_convert_create(r, err);
    }
    if (rc == 0) {
        rc = xs = create_like(r, "X", x, r->o.channels_first, err);
    }
    if (rc >= 0 && y) {
        rc = ys = create_like(r, "y", y, 0, err);
    }
    if (rc >= 0) {
        rc = copy_rows(r, x, xs, r->o.channels_first, "writing X", err);
    }
    if (rc == 0 && y) {
        rc = copy_rows(r, y, ys, 0, "writing y", err);
    }
    dpt_npy_close(x);
    dpt_npy_close(y);
    return rc < 0 ? rc : 0;
}
