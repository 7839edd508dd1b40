/* HDF5 input data: open X ([N, F], [N, H, W] or [N, H, W, C]) and y ([N]
 * or [N, k]), read sorted rows.
 *
 * A row of X is one sample: all its values in the file's own order (C
 * order, so channels last for [N, H, W, C]), as one flat run of floats.
 * Reading therefore never reorders anything, and both read paths below
 * treat a row of an image set exactly like a row of a table.
 *
 * Every rank opens the file on its own, read-only, with HDF5's default (sec2)
 * driver: no MPI-IO. Whatever the dtype on disk, HDF5 converts to float32
 * (double for the statistics) during H5Dread. Each read checks what it read
 * for NaN and Inf and names the dataset, file row and column of the first one
 * (rows and columns count from 0, as in h5py).
 *
 * Direct reads: HDF5 spends 3-5 us per row on a selection of scattered rows
 * (measured, 60000 x 784 float32 file, 10240 random rows of it), which is
 * what a rank reading its rows a window at a time asks for. A dataset is
 * therefore read with pread at the offset HDF5 reports (H5Dget_offset) and
 * converted here, one pread per run of rows, gaps up to GAP_BYTES read
 * through and dropped (1.6 us per row on the same test), but only where
 * the bytes are provably the dataset's (find_direct): contiguous layout
 * (not chunked, not virtual), no filters, no external raw storage, a
 * native integer or float type (or an enum on one), the offset defined and
 * offset + size within the file, read through a duplicate of the
 * descriptor HDF5 itself reads the dataset's file with (behind an external
 * link that is the target file, not ds->path). Opening also checks the
 * first and last rows both ways and falls back to HDF5 for good if they
 * differ. Chunks of whole rows in gzip, or shuffle + gzip, are inflated
 * here too (Chunk reads, below). Anything else goes through H5Dread.
 *
 * What HDF5 would read without a word but is not the file's data is
 * refused at open (check_storage, check_link): datasets never or only
 * partly written (fill values), virtual datasets with missing sources or
 * unmapped values, external raw files missing or short (zeros), external
 * links whose target is not beside the linking file (HDF5 would try the
 * working folder next). Names relative to a file resolve from its folder
 * (${ORIGIN}). Filters this HDF5 lacks and byte counts past 2^64 are
 * refused too, and a row that cannot fit in memory (data/memory.h). Enums
 * on integers (numpy bool) read as their integers.
 *
 * HDF5 prints its error stack to stderr by default; a library must not
 * print, so every entry point that calls HDF5 runs it quietly and restores
 * the caller's setting on the way out (util/h5.h), and failures become one
 * dpt_err message that quotes HDF5's innermost reason. HDF5 itself is not
 * thread-safe in the Debian build: use a handle from one thread at a time.
 */
#include "config.h"

#include "data/columns.h"
#include "data/file.h"
#include "data/memory.h"
#include "util/h5.h"
#include "util/util.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <hdf5.h>
#include <inttypes.h>
#include <libdeflate.h>
#include <libgen.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>
#ifdef __linux__
#include <linux/magic.h>
#include <sys/vfs.h>
#endif

/* A read of many scattered rows selects a union of hyperslabs, one per run
 * of consecutive rows. OR-ing them into one dataspace one by one costs
 * O(runs^2) in HDF5 1.10.8; merging them as a balanced tree of
 * H5Smodify_select(OR) calls, each leaf holding up to LEAF_ROWS rows, costs
 * O(runs log runs). Measured on a 60000 x 784 float32 file, 10^4 random
 * sorted rows (8306 runs), warm cache: one-by-one OR 0.9-1.3 s to build the
 * selection, H5Sselect_elements with one point per value (7.8M points)
 * 0.7-1.9 s, the tree 4-5 ms (leaves of 16 to 64 rows all alike); the
 * H5Dread itself takes 13-17 ms. */
#define LEAF_ROWS 32

/* Direct reads: a gap between wanted rows up to GAP_BYTES costs less to read
 * than another pread (~3 us in a VM, ~30 KB of copying); a staged run is at
 * most STAGE_BYTES (or one row). */
#define GAP_BYTES (32u << 10)
#define STAGE_BYTES (1u << 20)

/* Chunk reads take chunks of at most this many bytes, uncompressed. */
#define CHUNK_READ_BYTES (16u << 20)

/* HDF5's chunk cache per dataset (its default is 1 MB, 521 slots). */
#define CHUNK_CACHE_BYTES (16u << 20)
#define CHUNK_CACHE_SLOTS 12421

/* H5Smodify_select arrived in HDF5 1.10.6 (and 1.12.0). */
#define HAVE_MODIFY_SELECT H5_VERSION_GE(1, 10, 6)
/* H5Pset_file_locking arrived in 1.10.7 and 1.12.1, not in 1.12.0. */
#define HAVE_FILE_LOCKING                                                                   \
    ((H5_VERSION_GE(1, 10, 7) && !H5_VERSION_GE(1, 12, 0)) || H5_VERSION_GE(1, 12, 1))

/* File types a direct read converts itself (all native, so little-endian
 * here). RAW_NONE: read through HDF5. */
enum raw { RAW_NONE, RAW_F32, RAW_F64, RAW_I8, RAW_U8, RAW_I16, RAW_U16, RAW_I32, RAW_U32,
           RAW_I64, RAW_U64 };

/* The most dimensions a dataset may have: X [N, H, W, C]. */
#define MAX_DIMS 4

/* One of the two datasets: X, or y. */
struct array {
    char *name;   /* as the caller spelled it */
    hid_t dset;   /* H5I_INVALID_HID when not open */
    hid_t space;  /* its file dataspace; never selected on, only copied */
    int rank;     /* X: 2 to 4; y: 1 or 2 */
    hsize_t dims[MAX_DIMS]; /* the file's shape; dims[0] = N */
    uint64_t width; /* values per row in the file, the product of dims[1..rank) */
    uint64_t cols; /* values per row read: width, or the columns picked; F for X, k for y */
    uint64_t *pick; /* the file columns read, in order (cols of them); NULL: all */
    int shares_x;   /* y picked from X's dataset: read_rows reads the rows once */
    uint64_t values; /* dims[0] * width; times 8 (a double each) fits in 64 bits */
    int is_integer;  /* integer dtype, or an enum (numpy bool) read as its integers */
    hid_t enum_type; /* an enum: a native copy to read it with; else H5I_INVALID_HID */
    enum raw raw;   /* direct reads: the file type, or RAW_NONE */
    size_t elem;    /* its size in bytes */
    uint64_t offset; /* where the data starts in the file */
    uint64_t chunk_rows; /* rows per chunk of a chunked layout, else 0 */
    int fd;          /* direct reads: a duplicate of HDF5's own descriptor of the
                      * file that holds the data (not always ds->path: external
                      * links); -1 without */
    struct chunk_reader *chunks; /* chunk reads (see there), or NULL */
};

struct dpt__file {
    char *path;
    hid_t file;
    struct array x, y; /* y.dset is H5I_INVALID_HID without y */
    struct dpt_shape shape; /* of one row of X */
    uint64_t n;
    uint64_t rows_read;
    char *stage;       /* staging buffer of direct reads */
    size_t stage_bytes;
    int locking;       /* opened with file locking (see open_file) */
    int by_options;    /* its datasets were named by --x and --y (src->by_options) */
    char *wide;        /* whole rows of a dataset that columns are picked from */
    size_t wide_bytes;
    char **classes;    /* y's string attribute `classes` (dptrain convert's), or NULL */
    size_t n_classes;
    char **columns;    /* X's string attribute `columns` (dptrain convert's), or NULL */
    size_t n_columns;
};

static void close_id(hid_t id, herr_t (*close_fn)(hid_t))
{
    if (id >= 0) {
        close_fn(id);
    }
}

static const char *class_name(H5T_class_t c)
{
    switch (c) {
    case H5T_INTEGER:   return "integer";
    case H5T_FLOAT:     return "float";
    case H5T_TIME:      return "time";
    case H5T_STRING:    return "string";
    case H5T_BITFIELD:  return "bitfield";
    case H5T_OPAQUE:    return "opaque";
    case H5T_COMPOUND:  return "compound";
    case H5T_REFERENCE: return "reference";
    case H5T_ENUM:      return "enum";
    case H5T_VLEN:      return "variable-length";
    case H5T_ARRAY:     return "array";
    default:            return "unknown";
    }
}

/* Names at the root of the file, "a, b, c", for the missing-dataset message. */
struct name_list {
    char text[512];
    size_t used;
    int count;
};

static herr_t add_name(hid_t group, const char *name, const H5L_info_t *info, void *data)
{
    (void)group;
    (void)info;
    struct name_list *l = data;
    size_t room = sizeof l->text - l->used;
    int len = snprintf(l->text + l->used, room, "%s%s", l->count ? ", " : "", name);
    if (len < 0 || (size_t)len >= room) {
        /* Full: end with an ellipsis and stop iterating. */
        strcpy(l->text + sizeof l->text - 5, " ...");
        l->used = sizeof l->text - 1;
        return 1;
    }
    l->used += (size_t)len;
    l->count++;
    return 0;
}

/* Checks that path names a readable regular file; HDF5's own message for a
 * missing file is a page of stack. */
static int check_readable(const char *path, struct dpt_err *err)
{
    int fd = open(path, O_RDONLY | O_NONBLOCK); /* a FIFO must not block us */
    if (fd < 0) {
        int e = errno;
        char shown[8192];
        dpt__path_shown(path, shown, sizeof shown);
        if (e == ENOENT || e == ENOTDIR) {
            return dpt_err_set(err, DPT_EIO, "%s: no such file", shown);
        }
        if (e == EACCES) {
            return dpt_err_set(err, DPT_EIO, "%s: permission denied", shown);
        }
        return dpt_err_set(err, DPT_EIO, "%s: cannot open: %s", shown, strerror(e));
    }
    struct stat st;
    int rc = 0;
    if (fstat(fd, &st) != 0) {
        rc = dpt_err_set(err, DPT_EIO, "%s: cannot open: %s", path, strerror(errno));
    } else if (S_ISDIR(st.st_mode)) {
        rc = dpt_err_set(err, DPT_EIO, "%s: is a directory, not an HDF5 file", path);
    }
    close(fd);
    return rc;
}

/* The access list data files are opened with (the caller closes it), or
 * H5I_INVALID_HID: with or without file locking (see open_file). */
static hid_t data_fapl(int locking)
{
    hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
    /* HDF5's data sieving reads a 64 KiB buffer around every scattered piece
     * of a selection: for a few thousand random rows of a 60000 x 784 file
     * that is hundreds of MB per read (measured: 13 s instead of 0.8 s per
     * epoch when a rank reads its rows a few steps at a time). Runs of
     * adjacent rows larger than the buffer are read directly anyway. */
    if (fapl >= 0) {
        H5Pset_sieve_buf_size(fapl, 4096);
    }
#if HAVE_FILE_LOCKING
    /* ignore_when_disabled: a file system that says it has no locks at
     * all (ENOSYS) needs no second try. */
    if (fapl >= 0) {
        H5Pset_file_locking(fapl, locking != 0, 1);
    }
#else
    (void)locking;
#endif
    return fapl;
}

/* What a file that is not HDF5 looks like, for the refusal: numpy's
 * magic, a zip (.npz), or text (a CSV), each of which `dptrain convert`
 * turns into a data file, with the command for this file (its name with
 * .h5 for the output) into buf; "" for anything else. */
static const char *not_hdf5_hint(const char *path, char *buf, size_t len)
{
    unsigned char head[512];
    size_t n = 0;
    FILE *f = fopen(path, "rb");
    if (f) {
        n = fread(head, 1, sizeof head, f);
        fclose(f);
    }
    size_t text = 0;
    for (size_t i = 0; i < n; i++) {
        text += head[i] == '\n' || head[i] == '\r' || head[i] == '\t' ||
                (head[i] >= 0x20 && head[i] != 0x7f);
    }
    const char *what = n >= 6 && memcmp(head, "\x93NUMPY", 6) == 0   ? "a numpy .npy file"
                       : n >= 4 && memcmp(head, "PK\x03\x04", 4) == 0 ? "a zip file (numpy .npz?)"
                       : n > 0 && text == n                           ? "text (a CSV?)"
                                                                      : NULL;
    if (!what) {
        return "";
    }
    char out[PATH_MAX];
    snprintf(out, sizeof out, "%s", path);
    char *dot = strrchr(out, '.'), *slash = strrchr(out, '/');
    if (dot && (!slash || dot > slash)) {
        *dot = '\0';
    }
    int same = strcmp(path + strlen(out), ".h5") == 0; /* a CSV named .h5 */
    snprintf(buf, len, ": it is %s; convert it first: dptrain convert %s %s%s.h5 (dptrain "
             "convert --help)", what, path, out, same ? "-converted" : "");
    return buf;
}

/* Opens ds->path read-only into ds->file, after checking that it is a
 * readable HDF5 file, with the default (sec2) driver. */
static int open_file(struct dpt__file *ds, struct dpt_err *err)
{
    int rc = check_readable(ds->path, err);
    if (rc < 0) {
        return rc;
    }
#if H5_VERSION_GE(1, 12, 0)
    htri_t is_hdf5 = H5Fis_accessible(ds->path, H5P_DEFAULT);
#else
    htri_t is_hdf5 = H5Fis_hdf5(ds->path);
#endif
    if (is_hdf5 <= 0) {
        char hint[2 * PATH_MAX + 128];
        return dpt_err_set(err, DPT_EFORMAT, "%s: not an HDF5 file%s", ds->path,
                           not_hdf5_hint(ds->path, hint, sizeof hint));
    }
    /* File locking first, as every other opener in this process has it
     * by default (HDF5 refuses to open one file twice with different
     * locking), then without: dptrain only reads its data, and on a file
     * system without working flock (some Lustre and NFS mounts) the lock
     * fails the open with "unable to lock file"; so does a lock another
     * program holds. HDF5_USE_FILE_LOCKING, when set, decides both tries. */
    char why[DPT__H5_REASON_LEN] = "";
    for (int locking = 1; ds->file < 0 && locking >= 0; locking--) {
        hid_t fapl = data_fapl(locking);
        ds->file = H5Fopen(ds->path, H5F_ACC_RDONLY, fapl >= 0 ? fapl : H5P_DEFAULT);
        ds->locking = locking;
        if (ds->file < 0) {
            dpt__h5_reason(why, sizeof why); /* now: closing fapl clears the stack */
        }
        close_id(fapl, H5Pclose); /* the file keeps its own copy */
        if (ds->file < 0 && !(HAVE_FILE_LOCKING && strstr(why, "lock"))) {
            break; /* not the lock: trying again cannot help */
        }
    }
    if (ds->file < 0) {
        rc = dpt_err_set(err, DPT_EIO, "%s: cannot open as HDF5 (HDF5: %s)", ds->path, why);
    }
    return rc;
}

/* Writes a's shape as h5py prints it, "[4, 8, 0]", into buf. */
static const char *shape_text(char *buf, size_t len, const struct array *a)
{
    size_t used = 0;
    buf[0] = '\0';
    for (int d = 0; d < a->rank && used < len; d++) {
        int w = snprintf(buf + used, len - used, "%s%" PRIu64 "%s", d ? ", " : "[",
                         (uint64_t)a->dims[d], d + 1 == a->rank ? "]" : "");
        used += w > 0 ? (size_t)w : 0;
    }
    return buf;
}

/* ---- Where a dataset's values are (see the top of the file) ---- */

/* Opens dataset name of file with relative names of external raw files and
 * of virtual datasets' source files resolved from the folder of the file
 * that holds the dataset ("${ORIGIN}"), as h5py users expect, rather than
 * from the working folder (HDF5's default). HDF5_EXTFILE_PREFIX and
 * HDF5_VDS_PREFIX, when set, still come first. */
static hid_t open_dataset(hid_t file, const char *name)
{
    hid_t dapl = H5Pcreate(H5P_DATASET_ACCESS);
    if (dapl >= 0) {
        H5Pset_efile_prefix(dapl, "${ORIGIN}");
        H5Pset_virtual_prefix(dapl, "${ORIGIN}");
        /* Chunks decompressed once per pass over a block of rows: the
         * cache holds a few chunks of X (and most y datasets whole), not
         * HDF5's default 1 MB. */
        H5Pset_chunk_cache(dapl, CHUNK_CACHE_SLOTS, CHUNK_CACHE_BYTES, H5D_CHUNK_CACHE_W0_DEFAULT);
    }
    hid_t dset = H5Dopen2(file, name, dapl >= 0 ? dapl : H5P_DEFAULT);
    close_id(dapl, H5Pclose);
    return dset;
}

/* name resolved as HDF5 resolves it with "${ORIGIN}": as it is when
 * absolute, else in the folder of the file `from`, into buf. */
static const char *resolve_name(const char *from, const char *name, char *buf, size_t len)
{
    char copy[PATH_MAX];
    int w = snprintf(copy, sizeof copy, "%s", from);
    if (w >= 0 && (size_t)w < sizeof copy) {
        w = name[0] == '/' ? snprintf(buf, len, "%s", name)
                           : snprintf(buf, len, "%s/%s", dirname(copy), name);
    }
    if (w < 0 || (size_t)w >= len) {
        snprintf(buf, len, "(a name too long)"); /* which no file has */
    }
    return buf;
}

/* The name of the file that holds a's values (the target of an external
 * link, or ds->path), as HDF5 opened it, into buf. */
static const char *holder_name(const struct dpt__file *ds, const struct array *a, char *buf,
                               size_t len)
{
    hid_t file = H5Iget_file_id(a->dset);
    if (file < 0 || H5Fget_name(file, buf, len) < 0) {
        snprintf(buf, len, "%s", ds->path);
    }
    close_id(file, H5Fclose);
    return buf;
}

/* When name is an external link, checks that its target file exists in the
 * linking file's folder (or at its absolute name): HDF5 would otherwise go
 * on to look for a file of that name in the working folder, and read
 * whatever it finds there. */
static int check_link(const struct dpt__file *ds, const char *name, struct dpt_err *err)
{
    H5L_info_t info;
    if (H5Lget_info(ds->file, name, &info, H5P_DEFAULT) < 0 || info.type != H5L_TYPE_EXTERNAL) {
        return 0;
    }
    char val[PATH_MAX + 256], where[PATH_MAX];
    const char *file = NULL, *object = NULL;
    unsigned flags;
    if (info.u.val_size > sizeof val || H5Lget_val(ds->file, name, val, sizeof val,
                                                   H5P_DEFAULT) < 0 ||
        H5Lunpack_elink_val(val, info.u.val_size, &flags, &file, &object) < 0) {
        return dpt_err_set(err, DPT_EFORMAT, "%s: '%s' is an external link that cannot be "
                           "read", ds->path, name);
    }
    resolve_name(ds->path, file, where, sizeof where);
    if (access(where, R_OK) != 0) {
        return dpt_err_set(err, DPT_EIO, "%s: '%s' is an external link to '%s' in %s, which "
                           "cannot be read: %s", ds->path, name, object, where,
                           strerror(errno));
    }
    return 0;
}

/* Every filter of a chunked dataset must be one this HDF5 can decode, from
 * the filter plugins installed for any HDF5 flavour (util/h5.h). */
static int check_filters(const struct dpt__file *ds, const struct array *a, hid_t dcpl,
                         struct dpt_err *err)
{
    dpt__h5_find_filters();
    int n = H5Pget_nfilters(dcpl);
    for (int i = 0; i < n; i++) {
        unsigned flags, cd[16], config;
        size_t n_cd = sizeof cd / sizeof cd[0];
        char fname[64] = "";
        H5Z_filter_t id = H5Pget_filter2(dcpl, (unsigned)i, &flags, &n_cd, cd, sizeof fname,
                                         fname, &config);
        if (id < 0) {
            char why[DPT__H5_REASON_LEN];
            return dpt_err_set(err, DPT_EFORMAT, "%s: dataset '%s': cannot read its filter "
                               "%d of %d (HDF5: %s)", ds->path, a->name, i + 1, n,
                               dpt__h5_reason(why, sizeof why));
        }
        if (H5Zfilter_avail(id) <= 0) {
            char why[256];
            return dpt_err_set(err, DPT_EFORMAT, "%s: dataset '%s' is compressed with HDF5 "
                               "filter %s (id %d), which cannot be decoded here: %s", ds->path,
                               a->name, dpt__h5_filter_name(id, fname), (int)id,
                               dpt__h5_filter_missing(why, sizeof why, id));
        }
    }
    return 0;
}

/* A chunked dataset must have every chunk stored: a chunk never written
 * reads as the fill value. (H5Dget_space_status cannot tell: it compares
 * bytes stored, which compression makes smaller, with bytes claimed.) */
static int check_chunks(const struct dpt__file *ds, struct array *a, hid_t dcpl,
                        struct dpt_err *err)
{
    hsize_t chunk[MAX_DIMS], stored = 0;
    uint64_t want = 1;
    if (H5Pget_chunk(dcpl, a->rank, chunk) != a->rank ||
        H5Dget_num_chunks(a->dset, a->space, &stored) < 0) {
        char why[DPT__H5_REASON_LEN];
        return dpt_err_set(err, DPT_EFORMAT, "%s: dataset '%s': cannot count its chunks "
                           "(HDF5: %s)", ds->path, a->name, dpt__h5_reason(why, sizeof why));
    }
    for (int d = 0; d < a->rank; d++) {
        want *= (a->dims[d] + chunk[d] - 1) / chunk[d]; /* at most values: no overflow */
    }
    a->chunk_rows = chunk[0];
    if (stored < want) {
        char shape[128];
        shape_text(shape, sizeof shape, a);
        if (stored == 0) {
            return dpt_err_set(err, DPT_EFORMAT, "%s: dataset '%s' (shape %s) was never "
                               "written: no chunk of it is stored, and every value would read "
                               "as the fill value", ds->path, a->name, shape);
        }
        return dpt_err_set(err, DPT_EFORMAT, "%s: dataset '%s' (shape %s) was only partly "
                           "written: %" PRIu64 " of its %" PRIu64 " chunks are stored, and the "
                           "others would read as the fill value", ds->path, a->name, shape,
                           (uint64_t)stored, want);
    }
    return 0;
}

/* A virtual dataset: every source file must exist beside it (or at its
 * absolute name) and hold its source dataset, and the mappings must cover
 * every value: HDF5 reads missing sources and unmapped values as the fill
 * value without a word. */
static int check_virtual(const struct dpt__file *ds, const struct array *a, hid_t dcpl,
                         struct dpt_err *err)
{
    size_t count = 0;
    char holder[PATH_MAX], src[PATH_MAX], where[PATH_MAX], dname[1024];
    holder_name(ds, a, holder, sizeof holder);
    H5Pget_virtual_count(dcpl, &count);
    /* Sources open as our own file did (with or without file locking: one
     * file opened twice both ways is refused, and a source may be it). */
    hid_t fapl = data_fapl(ds->locking);
    uint64_t mapped = 0;
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < count; i++) {
        hid_t vspace = H5Pget_virtual_vspace(dcpl, i);
        hssize_t points = vspace >= 0 ? H5Sget_select_npoints(vspace) : -1;
        mapped += points > 0 ? (uint64_t)points : 0;
        close_id(vspace, H5Sclose);
        if (H5Pget_virtual_filename(dcpl, i, src, sizeof src) < 0 ||
            H5Pget_virtual_dsetname(dcpl, i, dname, sizeof dname) < 0) {
            rc = dpt_err_set(err, DPT_EFORMAT, "%s: dataset '%s': cannot read mapping %zu of "
                             "the virtual dataset", ds->path, a->name, i);
            break;
        }
        hid_t file = H5I_INVALID_HID, dset = H5I_INVALID_HID;
        if (strcmp(src, ".") == 0) {
            snprintf(where, sizeof where, "%s", holder);
        } else {
            resolve_name(holder, src, where, sizeof where);
        }
        if (access(where, R_OK) != 0) {
            rc = dpt_err_set(err, DPT_EIO, "%s: dataset '%s' is a virtual dataset whose source "
                             "file '%s' (%s) cannot be read: %s", ds->path, a->name, src, where,
                             strerror(errno));
        } else if ((file = H5Fopen(where, H5F_ACC_RDONLY, fapl >= 0 ? fapl : H5P_DEFAULT)) < 0) {
            rc = dpt_err_set(err, DPT_EFORMAT, "%s: dataset '%s' is a virtual dataset whose "
                             "source file '%s' (%s) cannot be opened as HDF5", ds->path,
                             a->name, src, where);
        } else if ((dset = H5Dopen2(file, dname, H5P_DEFAULT)) < 0) {
            rc = dpt_err_set(err, DPT_EFORMAT, "%s: dataset '%s' is a virtual dataset whose "
                             "source %s has no dataset '%s'", ds->path, a->name, where, dname);
        }
        close_id(dset, H5Dclose);
        close_id(file, H5Fclose);
    }
    close_id(fapl, H5Pclose);
    /* Overlapping mappings would count twice; h5py writes none, and a gap
     * with an overlap as large is far-fetched. */
    if (rc == 0 && mapped < a->values) {
        char shape[128];
        rc = dpt_err_set(err, DPT_EFORMAT, "%s: dataset '%s' (shape %s) is a virtual dataset "
                         "that maps only %" PRIu64 " of its %" PRIu64 " values to a source; the "
                         "others would read as the fill value", ds->path, a->name,
                         shape_text(shape, sizeof shape, a), mapped, a->values);
    }
    return rc;
}

/* External raw storage: every file must exist beside the file that names
 * it (or at its absolute name) and be long enough, as HDF5 reads the part
 * of a short one that is missing as zeros. */
static int check_external(const struct dpt__file *ds, const struct array *a, hid_t dcpl,
                          hid_t type, struct dpt_err *err)
{
    char holder[PATH_MAX], name[PATH_MAX], where[PATH_MAX];
    holder_name(ds, a, holder, sizeof holder);
    uint64_t need = a->values * H5Tget_size(type);
    int n = H5Pget_external_count(dcpl);
    for (int i = 0; i < n && need > 0; i++) {
        off_t off = 0;
        hsize_t size = 0;
        if (H5Pget_external(dcpl, (unsigned)i, sizeof name, name, &off, &size) < 0) {
            return dpt_err_set(err, DPT_EFORMAT, "%s: dataset '%s': cannot read the name of "
                               "external file %d", ds->path, a->name, i);
        }
        uint64_t take = size == H5F_UNLIMITED || size > need ? need : (uint64_t)size;
        resolve_name(holder, name, where, sizeof where);
        struct stat st;
        if (stat(where, &st) != 0) {
            return dpt_err_set(err, DPT_EIO, "%s: dataset '%s' keeps its values in the external "
                               "file '%s' (%s), which cannot be read: %s", ds->path, a->name,
                               name, where, strerror(errno));
        }
        if ((uint64_t)st.st_size < (uint64_t)off + take) {
            return dpt_err_set(err, DPT_EFORMAT, "%s: dataset '%s' keeps its values in the "
                               "external file '%s' (%s), which is %" PRIu64 " bytes long; the "
                               "dataset needs its bytes up to %" PRIu64, ds->path, a->name,
                               name, where, (uint64_t)st.st_size, (uint64_t)off + take);
        }
        need -= take;
    }
    return 0;
}

/* Checks that a's values can be read and are the file's: a filter this HDF5
 * has, storage that was written, virtual sources and external files that
 * exist. */
static int check_storage(const struct dpt__file *ds, struct array *a, hid_t type,
                         struct dpt_err *err)
{
    if (a->values == 0) {
        return 0; /* nothing to read; the caller refuses an empty X */
    }
    hid_t dcpl = H5Dget_create_plist(a->dset);
    if (dcpl < 0) {
        char why[DPT__H5_REASON_LEN];
        return dpt_err_set(err, DPT_EFORMAT, "%s: dataset '%s': cannot read how it is stored "
                           "(HDF5: %s)", ds->path, a->name, dpt__h5_reason(why, sizeof why));
    }
    int rc = 0;
    H5D_layout_t layout = H5Pget_layout(dcpl);
    H5D_space_status_t status = H5D_SPACE_STATUS_ERROR;
    if (layout == H5D_VIRTUAL) {
        rc = check_virtual(ds, a, dcpl, err);
    } else if (H5Pget_external_count(dcpl) > 0) {
        rc = check_external(ds, a, dcpl, type, err);
    } else if (layout == H5D_CHUNKED) {
        rc = check_filters(ds, a, dcpl, err);
        rc = rc == 0 ? check_chunks(ds, a, dcpl, err) : rc;
    } else if (H5Dget_space_status(a->dset, &status) < 0 ||
               status != H5D_SPACE_STATUS_ALLOCATED) {
        char shape[128];
        rc = dpt_err_set(err, DPT_EFORMAT, "%s: dataset '%s' (shape %s) was never written: "
                         "HDF5 allocated no storage for it, and every value would read as the "
                         "fill value", ds->path, a->name, shape_text(shape, sizeof shape, a));
    } else if (H5Dget_storage_size(a->dset) < a->values * H5Tget_size(type)) {
        /* A damaged header: HDF5 1.10.8 reads a compact dataset's shape's
         * worth of bytes from a smaller buffer (found by fuzzing). */
        char shape[128];
        rc = dpt_err_set(err, DPT_EFORMAT, "%s: dataset '%s' (shape %s) stores %llu bytes, "
                         "fewer than its shape and dtype need (%llu): the file is damaged",
                         ds->path, a->name, shape_text(shape, sizeof shape, a),
                         (unsigned long long)H5Dget_storage_size(a->dset),
                         (unsigned long long)(a->values * H5Tget_size(type)));
    }
    H5Pclose(dcpl);
    return rc;
}

/* The string attribute attr of object obj into buf ("" when absent or not
 * a fixed-length string, as PyTables writes them). */
static const char *string_attr(hid_t file, const char *obj, const char *attr, char *buf,
                               size_t len)
{
    buf[0] = '\0';
    if (H5Aexists_by_name(file, obj, attr, H5P_DEFAULT) <= 0) {
        return buf;
    }
    hid_t a = H5Aopen_by_name(file, obj, attr, H5P_DEFAULT, H5P_DEFAULT);
    hid_t type = a >= 0 ? H5Aget_type(a) : H5I_INVALID_HID;
    size_t size = type >= 0 ? H5Tget_size(type) : 0;
    if (type >= 0 && H5Tget_class(type) == H5T_STRING && H5Tis_variable_str(type) == 0 &&
        size > 0 && size < len) {
        /* Read as stored (HDF5 converts no character set into another): the
         * bytes, which for pandas' ASCII names are the text. */
        if (H5Aread(a, type, buf) < 0) {
            size = 0;
        }
        buf[size] = '\0';
    }
    close_id(type, H5Tclose);
    close_id(a, H5Aclose);
    return buf;
}

/* How to write or read a group that pandas (PyTables) wrote, into buf, or
 * "" when name is not one. */
static const char *pandas_hint(const struct dpt__file *ds, const char *name, char *buf,
                               size_t len)
{
    char kind[64];
    string_attr(ds->file, name, "pandas_type", kind, sizeof kind);
    buf[0] = '\0';
    if (strcmp(kind, "frame_table") == 0) {
        snprintf(buf, len, "; '%.200s' is a pandas DataFrame stored with format=\"table\" (rows of "
                 "a compound type), which dptrain does not read: write it as arrays with h5py "
                 "(f[\"X\"] = df[features].to_numpy(); f[\"y\"] = df[label].to_numpy()), or "
                 "with df.to_hdf(path, key=\"%.200s\") (the fixed format), or as CSV for "
                 "`dptrain convert IN.csv OUT.h5`", name, name);
    } else if (strcmp(kind, "frame") == 0) {
        char blocks[256];
        snprintf(blocks, sizeof blocks, "%.200s/block1_values", name);
        if (H5Lexists(ds->file, blocks, H5P_DEFAULT) > 0) {
            snprintf(buf, len, "; '%.200s' is a pandas DataFrame whose columns pandas stored in "
                     "several arrays by dtype, which dptrain does not join: store one dtype "
                     "(df.astype(\"float64\").to_hdf(path, key=\"%.200s\")), or write the arrays "
                     "with h5py, or as CSV for `dptrain convert IN.csv OUT.h5`", name, name);
        } else if (ds->by_options) {
            snprintf(buf, len, "; '%.200s' is a pandas DataFrame (fixed format): its values are "
                     "the dataset '%s/block0_values', so give --x %.200s/block0_values (its "
                     "label columns are read as the model's data.y_columns says)", name, name,
                     name);
        } else {
            snprintf(buf, len, "; '%.200s' is a pandas DataFrame (fixed format): its values are "
                     "the dataset '%s/block0_values', so set data.x = \"%.200s/block0_values\" "
                     "and name the label column(s) with data.y_columns (e.g. [-1])", name,
                     name, name);
        }
    }
    return buf;
}

static herr_t find_pandas(hid_t group, const char *name, const H5L_info_t *info, void *data)
{
    (void)group;
    (void)info;
    struct {
        const struct dpt__file *ds;
        char *buf;
        size_t len;
    } *p = data;
    return pandas_hint(p->ds, name, p->buf, p->len)[0] ? 1 : 0;
}

/* What to do about a missing X or y, into buf: the pandas group at the
 * root, if there is one; else the setting that names the dataset and, for
 * training, how to take features and labels from the columns of one
 * dataset. eval and predict name the datasets with their own --x and --y
 * (model file keys would be refused there), and take label columns only as
 * the model's data.y_columns does. */
static const char *missing_hint(const struct dpt__file *ds, int is_y, char *buf, size_t len)
{
    struct {
        const struct dpt__file *ds;
        char *buf;
        size_t len;
    } p = {ds, buf, len};
    buf[0] = '\0';
    H5Literate(ds->file, H5_INDEX_NAME, H5_ITER_INC, NULL, find_pandas, &p);
    if (buf[0]) {
        return buf;
    }
    if (ds->by_options) {
        snprintf(buf, len, is_y ? "; name the dataset of the targets with --y NAME (or use "
                                  "`dptrain predict` for outputs without targets)"
                                : "; name the dataset of the features with --x NAME");
        return buf;
    }
    snprintf(buf, len, is_y ? "; set data.y to the dataset of the targets, or data.y_columns "
                              "to take them from columns of '%s' (e.g. [-1])"
                            : "; set data.x to the dataset of the features; for one 2-D "
                              "dataset holding features and labels, set data.x to its name "
                              "and data.y_columns to the label column(s) (e.g. [-1])",
             ds->x.name);
    return buf;
}

/* Opens dataset name into a, checks its dtype, and reads its shape into
 * a->dims. rank_ok tells which ranks are allowed (bit r for rank r, r up to
 * MAX_DIMS); expected is the shape the message should ask for. */
static int open_array(struct dpt__file *ds, struct array *a, const char *name,
                      unsigned rank_ok, const char *expected, struct dpt_err *err)
{
    int rc = 0;
    hid_t type = H5I_INVALID_HID;
    char why[DPT__H5_REASON_LEN];

    a->name = strdup(name);
    if (!a->name) {
        return dpt_err_set(err, DPT_ENOMEM, "%s: out of memory", ds->path);
    }
    htri_t exists = H5Lexists(ds->file, name, H5P_DEFAULT);
    if (exists <= 0) {
        struct name_list l = {.used = 0, .count = 0};
        l.text[0] = '\0';
        H5Literate(ds->file, H5_INDEX_NAME, H5_ITER_INC, NULL, add_name, &l);
        char hint[1024];
        rc = dpt_err_set(err, DPT_EFORMAT, "%s: no dataset '%s' (found: %s)%s", ds->path, name,
                         l.count ? l.text : "nothing at the root",
                         missing_hint(ds, a == &ds->y, hint, sizeof hint));
        goto done;
    }
    rc = check_link(ds, name, err);
    if (rc < 0) {
        goto done;
    }
    a->dset = open_dataset(ds->file, name);
    if (a->dset < 0) {
        dpt__h5_reason(why, sizeof why);
        hid_t group = H5Gopen2(ds->file, name, H5P_DEFAULT);
        if (group >= 0) {
            H5Gclose(group);
            rc = dpt_err_set(err, DPT_EFORMAT, "%s: '%s' is a group, not a dataset", ds->path,
                             name);
        } else {
            rc = dpt_err_set(err, DPT_EFORMAT, "%s: cannot open dataset '%s' (HDF5: %s)",
                             ds->path, name, why);
        }
        goto done;
    }
    type = H5Dget_type(a->dset);
    H5T_class_t cls = type < 0 ? H5T_NO_CLASS : H5Tget_class(type);
    if (cls != H5T_INTEGER && cls != H5T_FLOAT && cls != H5T_ENUM) {
        /* A pandas table's rows are a compound type: say how to write it. */
        char parent[PATH_MAX], hint[1024] = "";
        snprintf(parent, sizeof parent, "%s", name);
        char *slash = strrchr(parent, '/');
        if (cls == H5T_COMPOUND && slash && slash != parent) {
            *slash = '\0';
            pandas_hint(ds, parent, hint, sizeof hint);
        }
        rc = dpt_err_set(err, DPT_EFORMAT,
                         "%s: dataset '%s' has dtype %s; expected an integer or float type "
                         "(or an enum such as numpy bool)%s", ds->path, name, class_name(cls),
                         hint);
        goto done;
    }
    /* An enum (h5py's numpy bool: FALSE = 0, TRUE = 1 on int8) reads as
     * the integers it stores; HDF5 converts enums only to enums, so reads
     * go through a native copy of it (read_hdf5). */
    if (cls == H5T_ENUM) {
        a->enum_type = H5Tget_native_type(type, H5T_DIR_ASCEND);
        if (a->enum_type < 0) {
            rc = dpt_err_set(err, DPT_EFORMAT, "%s: dataset '%s': cannot read its enum dtype "
                             "(HDF5: %s)", ds->path, name, dpt__h5_reason(why, sizeof why));
            goto done;
        }
    }
    a->is_integer = cls == H5T_INTEGER || cls == H5T_ENUM;

    a->space = H5Dget_space(a->dset);
    int rank = a->space < 0 ? -1 : H5Sget_simple_extent_ndims(a->space);
    if (rank < 0) {
        rc = dpt_err_set(err, DPT_EFORMAT, "%s: dataset '%s': cannot read its shape (HDF5: %s)",
                         ds->path, name, dpt__h5_reason(why, sizeof why));
        goto done;
    }
    if (rank > MAX_DIMS || !(rank_ok & (1u << rank))) {
        rc = dpt_err_set(err, DPT_EFORMAT, "%s: dataset '%s': expected %s, found %d dimension%s",
                         ds->path, name, expected, rank, rank == 1 ? "" : "s");
        goto done;
    }
    H5Sget_simple_extent_dims(a->space, a->dims, NULL);
    a->rank = rank;
    /* Values per row; a row of doubles (the statistics read rows as
     * doubles) must have a size that size_t can hold. */
    a->cols = 1;
    for (int d = 1; d < rank; d++) {
        if (a->dims[d] != 0 && a->cols > SIZE_MAX / sizeof(double) / a->dims[d]) {
            char shape[128];
            rc = dpt_err_set(err, DPT_EFORMAT, "%s: dataset '%s' has shape %s: too many "
                             "values per row", ds->path, name,
                             shape_text(shape, sizeof shape, a));
            goto done;
        }
        a->cols *= (uint64_t)a->dims[d];
    }
    /* Every count of bytes below is rows x values per row x at most 8: it
     * must not wrap around in 64 bits, whatever shape a file claims. */
    if (a->cols != 0 && a->dims[0] > UINT64_MAX / sizeof(double) / a->cols) {
        char shape[128];
        rc = dpt_err_set(err, DPT_EFORMAT, "%s: dataset '%s' has shape %s: more values than "
                         "64-bit byte counts can hold", ds->path, name,
                         shape_text(shape, sizeof shape, a));
        goto done;
    }
    a->width = a->cols;
    a->values = (uint64_t)a->dims[0] * a->cols;
    rc = check_storage(ds, a, type, err);
done:
    close_id(type, H5Tclose);
    return rc;
}

/* Opens X, which must be [N, F], [N, H, W] or [N, H, W, C] with no
 * dimension 0; sets ds->n and ds->shape: [F], [H, W, 1] or [H, W, C]. */
static int open_x(struct dpt__file *ds, const char *x_name, struct dpt_err *err)
{
    struct array *x = &ds->x;
    int rc = open_array(ds, x, x_name, (1u << 2) | (1u << 3) | (1u << 4),
                        "2 to 4 dimensions [N, features], [N, H, W] or [N, H, W, C]", err);
    if (rc < 0) {
        return rc;
    }
    ds->n = x->dims[0];
    if (ds->n == 0) {
        return dpt_err_set(err, DPT_EFORMAT, "%s: dataset '%s' has no rows", ds->path, x_name);
    }
    if (x->cols == 0) {
        char shape[128];
        return dpt_err_set(err, DPT_EFORMAT, "%s: dataset '%s' has no features (shape %s)",
                           ds->path, x_name, shape_text(shape, sizeof shape, x));
    }
    /* A grayscale [N, H, W] set is read as one channel: the same values in
     * the same order as [N, H, W, 1]. */
    ds->shape = (struct dpt_shape){.rank = x->rank == 2 ? 1 : 3};
    for (int d = 1; d < x->rank; d++) {
        ds->shape.dims[d - 1] = (uint64_t)x->dims[d];
    }
    if (x->rank == 3) {
        ds->shape.dims[2] = 1;
    }
    return 0;
}

/* Opens y, which must be [N] or [N, k] with X's N and k above 0. */
static int open_y(struct dpt__file *ds, const char *y_name, struct dpt_err *err)
{
    int rc = open_array(ds, &ds->y, y_name, (1u << 1) | (1u << 2), "[N] or [N, k]", err);
    if (rc < 0) {
        return rc;
    }
    if (ds->y.dims[0] != ds->n) {
        return dpt_err_set(err, DPT_EFORMAT, "%s: dataset '%s' has %" PRIu64 " rows but '%s' "
                           "has %" PRIu64, ds->path, y_name, (uint64_t)ds->y.dims[0],
                           ds->x.name, ds->n);
    }
    if (ds->y.cols == 0) {
        return dpt_err_set(err, DPT_EFORMAT, "%s: dataset '%s' has no columns (shape [%" PRIu64
                           ", 0])", ds->path, y_name, ds->n);
    }
    return 0;
}

/* The columns src picks of X's dataset (see columns.h): with y_columns, y
 * is those columns of it and X the columns of x_columns, or else all the
 * others; with x_columns alone, X is those and y its own dataset. Sets the
 * picks, X's sample shape [F], and the buffer whole rows are read into. */
static int open_columns(struct dpt__file *ds, const struct dpt_data_source *src, int with_y,
                        struct dpt_err *err)
{
    struct array *x = &ds->x;
    const struct dpt_columns *first = src->y_cols ? src->y_cols : src->x_cols;
    uint64_t *xpick = NULL, *ypick = NULL;
    size_t nx = 0, ny = 0;
    int rc = 0;
    if (x->rank != 2) {
        char shape[128];
        return dpt_err_set(err, DPT_ECONFIG, "%s: %s: dataset '%s' of %s has shape %s; "
                           "columns are taken from a 2-D dataset [N, columns]", first->where,
                           first->key, x->name, ds->path, shape_text(shape, sizeof shape, x));
    }
    if (src->y_cols) {
        rc = dpt_columns_resolve(src->y_cols, x->width, ds->path, x->name, &ypick, &ny, err);
    }
    if (rc == 0 && src->x_cols) {
        rc = dpt_columns_resolve(src->x_cols, x->width, ds->path, x->name, &xpick, &nx, err);
        for (size_t i = 0; rc == 0 && i < nx; i++) {
            for (size_t j = 0; j < ny; j++) {
                if (xpick[i] == ypick[j]) {
                    rc = dpt_err_set(err, DPT_ECONFIG, "%s: %s: column %" PRIu64 " of dataset "
                                     "'%s' is a label column too (%s, %s): a model that sees "
                                     "its label learns nothing", src->x_cols->where,
                                     src->x_cols->key, xpick[i], x->name,
                                     src->y_cols->key, src->y_cols->where);
                    break;
                }
            }
        }
    } else if (rc == 0) {
        /* Features: every column that is not a label, in the file's order. */
        xpick = malloc((x->width - ny ? x->width - ny : 1) * sizeof *xpick);
        for (uint64_t c = 0; xpick && c < x->width; c++) {
            int label = 0;
            for (size_t j = 0; j < ny; j++) {
                label |= ypick[j] == c;
            }
            if (!label) {
                xpick[nx++] = c;
            }
        }
        if (!xpick) {
            rc = dpt_err_set(err, DPT_ENOMEM, "%s: out of memory", ds->path);
        } else if (nx == 0) {
            rc = dpt_err_set(err, DPT_ECONFIG, "%s: %s: takes every column of dataset '%s' of "
                             "%s (%" PRIu64 " columns); none is left for the features",
                             src->y_cols->where, src->y_cols->key, x->name, ds->path, x->width);
        }
    }
    if (rc == 0 && with_y && ypick) {
        rc = open_array(ds, &ds->y, x->name, 1u << 2, "[N, columns]", err);
        if (rc == 0) {
            ds->y.pick = ypick;
            ds->y.cols = ny;
            ds->y.shares_x = 1;
            ypick = NULL;
        }
    }
    if (rc == 0) {
        x->pick = xpick;
        x->cols = nx;
        xpick = NULL;
        ds->shape = (struct dpt_shape){.rank = 1, .dims = {nx}};
        ds->wide_bytes = x->width * sizeof(double) > STAGE_BYTES ? x->width * sizeof(double)
                                                                 : STAGE_BYTES;
        ds->wide = malloc(ds->wide_bytes);
        if (!ds->wide) {
            rc = dpt_err_set(err, DPT_ENOMEM, "%s: out of memory", ds->path);
        }
    }
    free(xpick);
    free(ypick);
    return rc;
}

static int setup_direct(struct dpt__file *ds, struct dpt_err *err); /* with the direct reads */
static void chunk_reader_free(struct chunk_reader *cr);             /* with the chunk reads */

int dpt__file_open(struct dpt__file **out, const char *path,
                   const struct dpt_data_source *src, int with_y, struct dpt_err *err)
{
    struct dpt__h5_quiet quiet;
    dpt__h5_quiet_begin(&quiet);
    dpt__h5_reading(&quiet, path);
    int rc = 0;
    struct dpt__file *ds = calloc(1, sizeof *ds);
    if (!ds) {
        rc = dpt_err_set(err, DPT_ENOMEM, "%s: out of memory", path);
        goto fail;
    }
    ds->file = ds->x.dset = ds->x.space = ds->y.dset = ds->y.space = H5I_INVALID_HID;
    ds->x.enum_type = ds->y.enum_type = H5I_INVALID_HID;
    ds->x.fd = ds->y.fd = -1;
    ds->by_options = src->by_options;
    ds->path = strdup(path);
    if (!ds->path) {
        rc = dpt_err_set(err, DPT_ENOMEM, "%s: out of memory", path);
        goto fail;
    }
    rc = open_file(ds, err);
    if (rc == 0) {
        rc = open_x(ds, src->x_name, err);
    }
    if (rc == 0 && (src->x_cols || src->y_cols)) {
        rc = open_columns(ds, src, with_y, err);
    }
    if (rc == 0 && with_y && src->y_name && !src->y_cols) {
        rc = open_y(ds, src->y_name, err);
    }
    /* Class names: only a list of strings is one (an attribute of numbers,
     * or one HDF5 cannot read, names nothing). */
    if (rc == 0 && ds->y.dset >= 0 &&
        dpt__h5_read_strings_attr(ds->y.dset, "classes", &ds->classes, &ds->n_classes) < 0) {
        ds->classes = NULL, ds->n_classes = 0;
    }
    /* Column names: those of X as a whole, so none when data.x_columns or
     * y_columns pick columns; a list that does not name every feature
     * names nothing. */
    if (rc == 0 && !src->x_cols && !src->y_cols &&
        (dpt__h5_read_strings_attr(ds->x.dset, "columns", &ds->columns, &ds->n_columns) < 0 ||
         ds->n_columns != ds->x.cols)) {
        dpt__h5_free_strings(ds->columns, ds->n_columns);
        ds->columns = NULL, ds->n_columns = 0;
    }
    /* Whoever reads this file holds at least one row of X as floats and,
     * for the statistics, as doubles. */
    if (rc == 0) {
        rc = dpt__file_check_memory(ds, ds->x.width * (sizeof(float) + sizeof(double)),
                                      "one row of it as floats and as doubles", err);
    }
    if (rc == 0) {
        rc = setup_direct(ds, err);
    }
    if (rc < 0) {
        goto fail;
    }
    dpt__h5_quiet_end(&quiet);
    *out = ds;
    return 0;
fail:
    dpt__file_close(ds);
    dpt__h5_quiet_end(&quiet);
    *out = NULL;
    return rc;
}

void dpt__file_close(struct dpt__file *ds)
{
    if (!ds) {
        return;
    }
    struct dpt__h5_quiet quiet;
    dpt__h5_quiet_begin(&quiet);
    struct array *arrays[] = {&ds->y, &ds->x};
    for (size_t i = 0; i < 2; i++) {
        close_id(arrays[i]->enum_type, H5Tclose);
        close_id(arrays[i]->space, H5Sclose);
        close_id(arrays[i]->dset, H5Dclose);
        if (arrays[i]->fd >= 0) {
            close(arrays[i]->fd);
        }
        chunk_reader_free(arrays[i]->chunks);
    }
    close_id(ds->file, H5Fclose);
    dpt__h5_quiet_end(&quiet);
    free(ds->stage);
    free(ds->wide);
    free(ds->y.pick);
    free(ds->x.pick);
    free(ds->y.name);
    free(ds->x.name);
    dpt__h5_free_strings(ds->classes, ds->n_classes);
    dpt__h5_free_strings(ds->columns, ds->n_columns);
    free(ds->path);
    free(ds);
}

uint64_t dpt__file_rows(const struct dpt__file *ds)
{
    return ds->n;
}

uint64_t dpt__file_features(const struct dpt__file *ds)
{
    return ds->x.cols;
}

void dpt__file_sample_shape(const struct dpt__file *ds, struct dpt_shape *shape)
{
    *shape = ds->shape;
}

uint64_t dpt__file_y_cols(const struct dpt__file *ds)
{
    return ds->y.dset >= 0 ? ds->y.cols : 0;
}

int dpt__file_y_is_integer(const struct dpt__file *ds)
{
    return ds->y.dset >= 0 && ds->y.is_integer;
}

const char *const *dpt__file_classes(const struct dpt__file *ds, size_t *n)
{
    *n = ds->n_classes;
    return (const char *const *)ds->classes;
}

const char *const *dpt__file_columns(const struct dpt__file *ds, size_t *n)
{
    *n = ds->n_columns;
    return (const char *const *)ds->columns;
}

/* "X [150, 4] float32" for one array into buf at u; picked columns as
 * "data[:, 0:4] [150, 4] float64"; with_n 0 writes N for the rows ("X [N,
 * 4] float32", what every file of a data set must agree on). */
static size_t describe_array(const struct array *a, int with_n, char *buf, size_t len, size_t u)
{
    char picked[256] = "";
    if (a->pick) {
        snprintf(picked, sizeof picked, "[:, %s]",
                 dpt_columns_text(a->pick, a->cols, picked + 64, sizeof picked - 64));
    }
    u += (size_t)snprintf(buf + u, u < len ? len - u : 0, "%s%s [", a->name, picked);
    if (with_n) {
        u += (size_t)snprintf(buf + u, u < len ? len - u : 0, "%llu",
                              (unsigned long long)a->dims[0]);
    } else {
        u += (size_t)snprintf(buf + u, u < len ? len - u : 0, "N");
    }
    for (int j = 1; j < a->rank; j++) {
        unsigned long long d = a->pick ? a->cols : (unsigned long long)a->dims[j];
        u += (size_t)snprintf(buf + u, u < len ? len - u : 0, ", %llu", d);
    }
    hid_t type = H5Dget_type(a->dset);
    size_t bits = type >= 0 ? 8 * H5Tget_size(type) : 0;
    close_id(type, H5Tclose);
    return u + (size_t)snprintf(buf + u, u < len ? len - u : 0, "] %s%zu",
                                a->enum_type >= 0 ? "enum" : a->is_integer ? "int" : "float",
                                bits);
}

void dpt__file_describe(const struct dpt__file *ds, int with_n, char *buf, size_t len)
{
    size_t u = describe_array(&ds->x, with_n, buf, len, 0);
    if (ds->y.dset >= 0) {
        u += (size_t)snprintf(buf + u, u < len ? len - u : 0, ", ");
        describe_array(&ds->y, with_n, buf, len, u);
    }
}

const char *dpt__file_path(const struct dpt__file *ds)
{
    return ds->path;
}

uint64_t dpt__file_chunk_rows(const struct dpt__file *ds)
{
    return ds->x.chunk_rows;
}

int dpt__file_direct(const struct dpt__file *ds)
{
    return ds->x.raw != RAW_NONE;
}

int dpt__file_chunk_reads(const struct dpt__file *ds)
{
    return ds->x.chunks != NULL;
}


void dpt__file_no_direct(struct dpt__file *ds)
{
    ds->x.raw = ds->y.raw = RAW_NONE;
    chunk_reader_free(ds->x.chunks);
    chunk_reader_free(ds->y.chunks);
    ds->x.chunks = ds->y.chunks = NULL;
}

int dpt__file_check_memory(const struct dpt__file *ds, uint64_t need, const char *what,
                             struct dpt_err *err)
{
    uint64_t avail = dpt__mem_available();
    if (need <= avail) {
        return 0;
    }
    char shape[128], need_text[64], avail_text[64];
    return dpt_err_set(err, DPT_ENOMEM, "%s: dataset '%s' (shape %s) is too large for this "
                       "rank: %s needs %s, and %s can be allocated (MemAvailable, cgroup and "
                       "ulimit)", ds->path, ds->x.name, shape_text(shape, sizeof shape, &ds->x),
                       what, dpt__bytes_text(need_text, sizeof need_text, need),
                       dpt__bytes_text(avail_text, sizeof avail_text, avail));
}

uint64_t dpt__file_rows_read(const struct dpt__file *ds)
{
    return ds->rows_read;
}

/* Adds rows [first, first + count) of a to the selection on space: the
 * block that starts at row first and spans every other dimension whole. */
static herr_t select_block(hid_t space, const struct array *a, H5S_seloper_t op,
                           uint64_t first, uint64_t count)
{
    hsize_t start[MAX_DIMS] = {first, 0, 0, 0};
    hsize_t block[MAX_DIMS] = {count};
    for (int d = 1; d < a->rank; d++) {
        block[d] = a->dims[d];
    }
    return H5Sselect_hyperslab(space, op, start, NULL, block, NULL);
}

/* Selects rows[lo..hi) on space, one hyperslab per run of consecutive rows. */
static herr_t select_runs(hid_t space, const struct array *a, const uint64_t *rows, size_t lo,
                          size_t hi)
{
    H5S_seloper_t op = H5S_SELECT_SET;
    size_t i = lo;
    while (i < hi) {
        size_t j = i + 1;
        while (j < hi && rows[j] == rows[j - 1] + 1) {
            j++;
        }
        if (select_block(space, a, op, rows[i], j - i) < 0) {
            return -1;
        }
        op = H5S_SELECT_OR;
        i = j;
    }
    return 0;
}

/* Returns a new copy of a's file space selecting rows[lo..hi) (hi > lo), or
 * H5I_INVALID_HID. Halves are built apart and OR-ed together (see LEAF_ROWS
 * for why); a run cut in two by a split comes back whole in the union. */
static hid_t select_rows(const struct array *a, const uint64_t *rows, size_t lo, size_t hi)
{
    hid_t left = H5I_INVALID_HID, right = H5I_INVALID_HID;
#if HAVE_MODIFY_SELECT
    if (hi - lo > LEAF_ROWS) {
        size_t mid = lo + (hi - lo) / 2;
        left = select_rows(a, rows, lo, mid);
        if (left < 0) {
            goto fail;
        }
        right = select_rows(a, rows, mid, hi);
        if (right < 0 || H5Smodify_select(left, H5S_SELECT_OR, right) < 0) {
            goto fail;
        }
        H5Sclose(right);
        return left;
    }
#endif
    left = H5Scopy(a->space);
    if (left < 0 || select_runs(left, a, rows, lo, hi) < 0) {
        goto fail;
    }
    return left;
fail:
    close_id(right, H5Sclose);
    close_id(left, H5Sclose);
    return H5I_INVALID_HID;
}

/* File row of the i-th row read: rows[i], or first + i for a range. */
static uint64_t file_row(const uint64_t *rows, uint64_t first, size_t i)
{
    return rows ? rows[i] : first + i;
}

/* Returns a new copy of a's file space selecting rows [first, first + n),
 * or H5I_INVALID_HID. */
static hid_t select_range(const struct array *a, uint64_t first, size_t n)
{
    hid_t space = H5Scopy(a->space);
    if (space >= 0 && select_block(space, a, H5S_SELECT_SET, first, n) < 0) {
        H5Sclose(space);
        return H5I_INVALID_HID;
    }
    return space;
}

/* Reads the selection of enum a as `count` values of mem_type (a float
 * type) into buf: as the enum's native integers first (HDF5 converts an
 * enum only to an enum), then converted in place, or through a copy when
 * the integers are wider than mem_type. */
static herr_t read_enum(const struct array *a, hid_t mem_type, hid_t mem, hid_t file_sel,
                        size_t count, void *buf)
{
    hid_t base = H5Tget_super(a->enum_type);
    size_t in = H5Tget_size(a->enum_type), out = H5Tget_size(mem_type);
    void *tmp = in > out ? malloc(count * in) : buf;
    herr_t rc = base >= 0 && tmp ? 0 : -1;
    if (rc == 0) {
        rc = H5Dread(a->dset, a->enum_type, mem, file_sel, H5P_DEFAULT, tmp);
    }
    if (rc == 0) {
        rc = H5Tconvert(base, mem_type, count, tmp, NULL, H5P_DEFAULT);
    }
    if (rc == 0 && tmp != buf) {
        memcpy(buf, tmp, count * out);
    }
    if (tmp != buf) {
        free(tmp);
    }
    close_id(base, H5Tclose);
    return rc;
}

/* Reads rows[0..n) (or [first, first + n) when rows is NULL) of a into buf,
 * n rows of a->cols values of mem_type, with one H5Dread. The memory space
 * is [n, cols] whatever the file's rank: HDF5 pairs the selected elements
 * in C order of their file coordinates, which is the file's own order, so
 * each row comes out flat. */
static int read_hdf5(const struct dpt__file *ds, const struct array *a, const uint64_t *rows,
                     uint64_t first, size_t n, hid_t mem_type, void *buf, struct dpt_err *err)
{
    int rc = 0;
    hid_t mem = H5I_INVALID_HID;
    char why[DPT__H5_REASON_LEN];
    hid_t file_sel = rows ? select_rows(a, rows, 0, n) : select_range(a, first, n);
    if (file_sel < 0) {
        rc = dpt_err_set(err, DPT_EIO, "%s: dataset '%s': cannot select %zu rows (HDF5: %s)",
                         ds->path, a->name, n, dpt__h5_reason(why, sizeof why));
        goto done;
    }
    hsize_t dims[2] = {n, a->width};
    mem = H5Screate_simple(2, dims, NULL);
    if (mem < 0 || (a->enum_type >= 0
                        ? read_enum(a, mem_type, mem, file_sel, n * a->width, buf)
                        : H5Dread(a->dset, mem_type, mem, file_sel, H5P_DEFAULT, buf)) < 0) {
        rc = dpt_err_set(err, DPT_EIO, "%s: dataset '%s': reading %zu rows from row %" PRIu64
                         " failed (HDF5: %s)", ds->path, a->name, n, file_row(rows, first, 0),
                         dpt__h5_reason(why, sizeof why));
        goto done;
    }
done:
    close_id(mem, H5Sclose);
    close_id(file_sel, H5Sclose);
    return rc;
}

/* Through HDF5, a selection of scattered rows costs per element (HDF5 walks
 * it and finds each element's chunk: 3x the time of decompressing gzip
 * chunks of 64 rows), a range per chunk. So strictly increasing rows that
 * lie close together (block order, dpt_perm_blocks) are read as the ranges
 * that cover them, gaps of up to GAP_BYTES read through the stage. */

/* The row after the range of rows that starts at rows[i]: gaps of at most
 * GAP_BYTES, the range within the stage; 0 if rows are not increasing. */
static size_t run_end(const struct dpt__file *ds, const uint64_t *rows, size_t i, size_t n,
                      size_t row_bytes)
{
    size_t j = i + 1;
    for (; j < n; j++) {
        if (rows[j] <= rows[j - 1]) {
            return 0;
        }
        if ((rows[j] - rows[j - 1] - 1) * row_bytes > GAP_BYTES ||
            (rows[j] - rows[i] + 1) * row_bytes > ds->stage_bytes) {
            break;
        }
    }
    return j;
}

/* Whether rows (sorted) fall into ranges of 4 or more rows on average. */
static int few_runs(const struct dpt__file *ds, const struct array *a, const uint64_t *rows,
                    size_t n, size_t size)
{
    size_t row_bytes = a->width * size, runs = 0;
    if (!ds->stage || row_bytes > ds->stage_bytes) {
        return 0;
    }
    for (size_t i = 0, j; i < n; i = j, runs++) {
        if ((j = run_end(ds, rows, i, n, row_bytes)) == 0) {
            return 0;
        }
    }
    return runs * 4 <= n;
}

static int read_runs(const struct dpt__file *ds, const struct array *a, const uint64_t *rows,
                     size_t n, hid_t mem_type, void *buf, struct dpt_err *err)
{
    size_t row_bytes = a->width * H5Tget_size(mem_type);
    for (size_t i = 0, j; i < n; i = j) {
        j = run_end(ds, rows, i, n, row_bytes);
        uint64_t span = rows[j - 1] - rows[i] + 1;
        char *out = (char *)buf + i * row_bytes;
        int whole = span == j - i; /* no gaps: straight into buf */
        int rc = read_hdf5(ds, a, NULL, rows[i], span, mem_type, whole ? out : ds->stage, err);
        if (rc < 0) {
            return rc;
        }
        for (size_t k = i; !whole && k < j; k++) {
            memcpy(out + (k - i) * row_bytes, ds->stage + (rows[k] - rows[i]) * row_bytes,
                   row_bytes);
        }
    }
    return 0;
}

/* ---- Direct reads (see the top of the file) ---- */

static enum raw raw_kind(hid_t type, size_t *elem)
{
    static const enum raw kinds[] = {RAW_F32, RAW_F64, RAW_I8,  RAW_U8,  RAW_I16,
                                     RAW_U16, RAW_I32, RAW_U32, RAW_I64, RAW_U64};
    const hid_t natives[] = {H5T_NATIVE_FLOAT, H5T_NATIVE_DOUBLE, H5T_NATIVE_INT8,
                             H5T_NATIVE_UINT8, H5T_NATIVE_INT16,  H5T_NATIVE_UINT16,
                             H5T_NATIVE_INT32, H5T_NATIVE_UINT32, H5T_NATIVE_INT64,
                             H5T_NATIVE_UINT64};
    for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++) {
        if (H5Tequal(type, natives[i]) > 0) {
            *elem = H5Tget_size(type);
            return kinds[i];
        }
    }
    return RAW_NONE;
}

/* A duplicate of the descriptor HDF5 reads the file that holds a with, or
 * -1 when that file is not open with the sec2 driver. Reading through it
 * proves that the bytes come from the file HDF5 has the dataset in, which
 * for an external link is not ds->path. */
static int holder_fd(const struct array *a)
{
    int fd = -1;
    void *handle = NULL;
    hid_t file = H5Iget_file_id(a->dset);
    hid_t fapl = file >= 0 ? H5Fget_access_plist(file) : H5I_INVALID_HID;
    if (fapl >= 0 && H5Pget_driver(fapl) == H5FD_SEC2 &&
        H5Fget_vfd_handle(file, fapl, &handle) >= 0 && handle) {
        fd = fcntl(*(int *)handle, F_DUPFD_CLOEXEC, 0);
    }
    close_id(fapl, H5Pclose);
    close_id(file, H5Fclose);
    return fd;
}

/* Whether a's values can be read with pread, and if so sets a->raw,
 * a->elem, a->offset and a->fd. They can when they sit, as the file's
 * bytes, in one block of the file HDF5 holds the dataset in: contiguous
 * layout (not chunked, not virtual), no filters, no external raw storage,
 * a native integer or float type (or an enum on one), and an offset such
 * that all of it lies within the file. */
static void find_direct(struct array *a)
{
    a->raw = RAW_NONE;
    hid_t type = H5Dget_type(a->dset), dcpl = H5Dget_create_plist(a->dset);
    hid_t base = type >= 0 && H5Tget_class(type) == H5T_ENUM ? H5Tget_super(type)
                                                              : H5I_INVALID_HID;
    haddr_t offset = H5Dget_offset(a->dset);
    size_t elem = 0;
    enum raw raw = RAW_NONE;
    if (type >= 0 && dcpl >= 0 && offset != HADDR_UNDEF &&
        H5Pget_layout(dcpl) == H5D_CONTIGUOUS && H5Pget_nfilters(dcpl) == 0 &&
        H5Pget_external_count(dcpl) == 0) {
        raw = raw_kind(base >= 0 ? base : type, &elem);
    }
    int fd = raw != RAW_NONE ? holder_fd(a) : -1;
    /* Every row must lie inside the file that holds it: a damaged file may
     * claim a block far larger than itself (tests/fuzz/: a 2 KB file whose
     * rows claimed 2^60 bytes once sized the staging buffer). */
    struct stat st;
    uint64_t bytes = a->values * elem; /* no overflow: see open_array */
    if (fd >= 0 && fstat(fd, &st) == 0 && (uint64_t)offset <= (uint64_t)st.st_size &&
        bytes <= (uint64_t)st.st_size - (uint64_t)offset) {
        a->raw = raw;
        a->elem = elem;
        a->offset = (uint64_t)offset;
        a->fd = fd;
    } else if (fd >= 0) {
        close(fd);
    }
    close_id(base, H5Tclose);
    close_id(dcpl, H5Pclose);
    close_id(type, H5Tclose);
}

/* Reads len bytes at off, whatever pread returns at a time. */
static int pread_all(const struct dpt__file *ds, const struct array *a, void *buf, size_t len,
                     uint64_t off, struct dpt_err *err)
{
    char *p = buf;
    while (len > 0) {
        ssize_t got = pread(a->fd, p, len, (off_t)off);
        if (got < 0 && errno == EINTR) {
            continue;
        }
        if (got <= 0) {
            return dpt_err_set(err, DPT_EIO, "%s: dataset '%s': reading %zu bytes at offset %"
                               PRIu64 " failed: %s", ds->path, a->name, len, off,
                               got < 0 ? strerror(errno) : "end of file (truncated file?)");
        }
        p += got, len -= (size_t)got, off += (uint64_t)got;
    }
    return 0;
}

#define CONVERT(type_)                                                                      \
    do {                                                                                    \
        const type_ *s = src;                                                               \
        for (size_t i = 0; i < n; i++) {                                                    \
            dst[i] = (float)s[i];                                                           \
        }                                                                                   \
    } while (0)

/* n values of file type raw at src (aligned for it) to floats. */
static void to_float(enum raw raw, const void *src, float *dst, size_t n)
{
    switch (raw) {
    case RAW_F32: memcpy(dst, src, n * sizeof *dst); break;
    case RAW_F64: CONVERT(double); break;
    case RAW_I8: CONVERT(int8_t); break;
    case RAW_U8: CONVERT(uint8_t); break;
    case RAW_I16: CONVERT(int16_t); break;
    case RAW_U16: CONVERT(uint16_t); break;
    case RAW_I32: CONVERT(int32_t); break;
    case RAW_U32: CONVERT(uint32_t); break;
    case RAW_I64: CONVERT(int64_t); break;
    case RAW_U64: CONVERT(uint64_t); break;
    case RAW_NONE: assert(0); break;
    }
}
#undef CONVERT

/* Rows (strictly increasing; or first, first + 1, ... when rows is NULL) of
 * a, as floats into out (n rows). Adjacent float32 rows go straight into
 * out; other runs through the stage, gaps of up to GAP_BYTES included. */
static int read_direct(const struct dpt__file *ds, const struct array *a, const uint64_t *rows,
                       uint64_t first, size_t n, float *out, struct dpt_err *err)
{
    size_t row_bytes = a->width * a->elem;
    for (size_t i = 0, j; i < n; i = j) {
        uint64_t r0 = file_row(rows, first, i);
        for (j = i + 1; a->raw == RAW_F32 && j < n && file_row(rows, first, j) == r0 + (j - i);) {
            j++;
        }
        if (j - i > 1) {
            int rc = pread_all(ds, a, out + i * a->width, (j - i) * row_bytes,
                               a->offset + r0 * row_bytes, err);
            if (rc < 0) {
                return rc;
            }
            continue;
        }
        for (j = i + 1; j < n; j++) {
            uint64_t r = file_row(rows, first, j), gap = r - file_row(rows, first, j - 1) - 1;
            if (gap * row_bytes > GAP_BYTES || (r - r0 + 1) * row_bytes > ds->stage_bytes) {
                break;
            }
        }
        uint64_t span = file_row(rows, first, j - 1) - r0 + 1;
        int rc = pread_all(ds, a, ds->stage, span * row_bytes, a->offset + r0 * row_bytes, err);
        if (rc < 0) {
            return rc;
        }
        for (size_t k = i; k < j; k++) {
            to_float(a->raw, ds->stage + (file_row(rows, first, k) - r0) * row_bytes,
                     out + k * a->width, a->width);
        }
    }
    return 0;
}

/* ---- Chunk reads: deflate-compressed chunks of whole rows ----
 *
 * Through H5Dread, a file of gzip chunks trains at half the speed of the
 * same file uncompressed: zlib's inflate and HDF5's filter pipeline (a
 * malloc and free per chunk and filter) were 27% and 15% of a profile, in
 * the one reader thread. A dataset whose chunks hold whole rows and whose
 * filters are deflate, or shuffle then deflate, is therefore read here:
 * each chunk as stored (H5Dread_chunk), inflated by libdeflate (about
 * twice zlib's speed), unshuffled, and kept while the sorted rows asked
 * for lie in it, so that a read decompresses each chunk it touches once.
 * Opening checks the first and last rows both ways (setup_direct). */

struct chunk_reader {
    struct libdeflate_decompressor *inflater;
    enum raw raw;        /* the file type */
    size_t elem;         /* its size in bytes */
    uint64_t rows;       /* rows per chunk */
    size_t bytes;        /* bytes of a chunk, uncompressed */
    int shuffled;        /* the shuffle filter comes before deflate */
    unsigned deflate_bit; /* deflate's bit in a chunk's filter mask */
    char *packed;        /* a chunk as stored */
    size_t packed_bytes;
    char *plain;         /* the chunk that starts at row `at`, as values */
    char *spread;        /* a shuffled chunk, before unshuffling */
    uint64_t at;         /* UINT64_MAX: plain holds no chunk */
    uint64_t inflated;   /* chunks inflated so far */
    /* Inflated chunks kept on local disk (dpt__file_keep_inflated): chunk
     * c at byte c * bytes of keep_fd, a sparse file that the ranks of a
     * node may share (dpt__file_keep_shared), each writing what it inflates. */
    int keep_fd;         /* an unlinked file, or -1 */
    uint8_t *kept;       /* per chunk: 1 where keep_fd holds it, as far as this rank knows */
    uint64_t n_chunks;
    int keep_errno;      /* a write failed (why): no more chunks are kept */
};

uint64_t dpt__file_chunks_inflated(const struct dpt__file *ds)
{
    return ds->x.chunks ? ds->x.chunks->inflated : 0;
}

/* The bytes a chunk reader holds: the inflated chunk, the shuffle filter's
 * copy of it, and the compressed chunk (grown to the largest one read;
 * counted at the inflated size, which deflate exceeds by a few bytes at
 * most). */
static uint64_t reader_bytes(const struct chunk_reader *cr)
{
    return cr ? (uint64_t)cr->bytes * (cr->shuffled ? 3 : 2) : 0;
}

uint64_t dpt__file_reader_bytes(const struct dpt__file *ds)
{
    return reader_bytes(ds->x.chunks) + reader_bytes(ds->y.chunks);
}

static void chunk_reader_free(struct chunk_reader *cr)
{
    if (cr) {
        if (cr->keep_fd >= 0) {
            close(cr->keep_fd);
        }
        free(cr->kept);
        libdeflate_free_decompressor(cr->inflater);
        free(cr->packed);
        free(cr->plain);
        free(cr->spread);
        free(cr);
    }
}

/* A chunk reader for a when its chunks hold whole rows of a native type,
 * filtered by deflate or by shuffle then deflate, else NULL. */
static struct chunk_reader *find_chunked(const struct array *a)
{
    struct chunk_reader *cr = NULL;
    hid_t type = H5Dget_type(a->dset), dcpl = H5Dget_create_plist(a->dset);
    hid_t base = type >= 0 && H5Tget_class(type) == H5T_ENUM ? H5Tget_super(type)
                                                              : H5I_INVALID_HID;
    hsize_t chunk[MAX_DIMS];
    size_t elem = 0;
    enum raw raw = type >= 0 ? raw_kind(base >= 0 ? base : type, &elem) : RAW_NONE;
    int n_filters = dcpl >= 0 ? H5Pget_nfilters(dcpl) : -1, ok = 0;
    if (raw != RAW_NONE && H5Pget_layout(dcpl) == H5D_CHUNKED &&
        H5Pget_chunk(dcpl, a->rank, chunk) == a->rank && (n_filters == 1 || n_filters == 2)) {
        uint64_t bytes = chunk[0] * elem;
        ok = 1;
        for (int d = 1; d < a->rank; d++) {
            ok &= chunk[d] == a->dims[d];
            bytes *= chunk[d];
        }
        ok &= bytes <= CHUNK_READ_BYTES;
        for (int i = 0; ok && i < n_filters; i++) {
            unsigned flags, cd[8];
            size_t n_cd = sizeof cd / sizeof cd[0];
            H5Z_filter_t id = H5Pget_filter2(dcpl, (unsigned)i, &flags, &n_cd, cd, 0, NULL, NULL);
            ok = id == (i == n_filters - 1 ? H5Z_FILTER_DEFLATE : H5Z_FILTER_SHUFFLE);
        }
        cr = ok ? calloc(1, sizeof *cr) : NULL;
        if (cr) {
            *cr = (struct chunk_reader){.raw = raw, .elem = elem, .rows = chunk[0],
                                        .bytes = (size_t)bytes, .shuffled = n_filters == 2,
                                        .deflate_bit = 1u << (n_filters - 1),
                                        .at = UINT64_MAX, .keep_fd = -1};
            cr->inflater = libdeflate_alloc_decompressor();
            cr->plain = aligned_alloc(64, (cr->bytes + 63) / 64 * 64);
            cr->spread = cr->shuffled ? malloc(cr->bytes) : NULL;
            if (!cr->inflater || !cr->plain || (cr->shuffled && !cr->spread)) {
                chunk_reader_free(cr);
                cr = NULL;
            }
        }
    }
    close_id(base, H5Tclose);
    close_id(dcpl, H5Pclose);
    close_id(type, H5Tclose);
    return cr;
}

/* The shuffle filter's inverse: value i's byte j is at src[j * count + i]. */
static void unshuffle(const char *src, char *dst, size_t bytes, size_t elem)
{
    size_t count = bytes / elem;
    if (elem == 4) {
        const uint8_t *b0 = (const uint8_t *)src, *b1 = b0 + count, *b2 = b1 + count,
                      *b3 = b2 + count;
        uint8_t *d = (uint8_t *)dst;
        for (size_t i = 0; i < count; i++) {
            d[4 * i] = b0[i], d[4 * i + 1] = b1[i], d[4 * i + 2] = b2[i], d[4 * i + 3] = b3[i];
        }
    } else {
        for (size_t j = 0; j < elem; j++) {
            for (size_t i = 0; i < count; i++) {
                dst[i * elem + j] = src[j * count + i];
            }
        }
    }
    memcpy(dst + count * elem, src + count * elem, bytes - count * elem);
}

/* Whether len bytes at off of fd were read into buf, or written from it. */
static int pread_whole(int fd, void *buf, size_t len, uint64_t off)
{
    for (char *p = buf; len > 0;) {
        ssize_t got = pread(fd, p, len, (off_t)off);
        if (got <= 0 && !(got < 0 && errno == EINTR)) {
            return 0;
        }
        got = got < 0 ? 0 : got;
        p += got, len -= (size_t)got, off += (uint64_t)got;
    }
    return 1;
}

static int pwrite_whole(int fd, const void *buf, size_t len, uint64_t off)
{
    for (const char *p = buf; len > 0;) {
        ssize_t put = pwrite(fd, p, len, (off_t)off);
        if (put <= 0 && !(put < 0 && errno == EINTR)) {
            errno = put < 0 ? errno : ENOSPC;
            return 0;
        }
        put = put < 0 ? 0 : put;
        p += put, len -= (size_t)put, off += (uint64_t)put;
    }
    return 1;
}

/* Makes cr->plain hold the chunk that starts at row r0: the kept copy if
 * there is one, else the chunk inflated from the file (and kept). */
static int load_chunk(const struct dpt__file *ds, const struct array *a, uint64_t r0,
                      struct dpt_err *err)
{
    struct chunk_reader *cr = a->chunks;
    if (cr->at == r0) {
        return 0;
    }
    cr->at = UINT64_MAX;
    uint64_t c = r0 / cr->rows;
    if (cr->kept && cr->kept[c]) {
        if (pread_whole(cr->keep_fd, cr->plain, cr->bytes, c * cr->bytes)) {
            cr->at = r0;
            return 0;
        }
        cr->kept[c] = 0; /* unreadable after all: inflated again below */
    }
    hsize_t off[MAX_DIMS] = {r0, 0, 0, 0}, stored = 0;
    uint32_t mask = 0;
    char why[DPT__H5_REASON_LEN];
    if (H5Dget_chunk_storage_size(a->dset, off, &stored) < 0 || stored == 0) {
        return dpt_err_set(err, DPT_EIO, "%s: dataset '%s': cannot find the chunk of row %"
                           PRIu64 " (HDF5: %s)", ds->path, a->name, r0,
                           dpt__h5_reason(why, sizeof why));
    }
    if (stored > cr->packed_bytes) {
        char *p = realloc(cr->packed, stored);
        if (!p) {
            return dpt_err_set(err, DPT_ENOMEM, "%s: out of memory", ds->path);
        }
        cr->packed = p, cr->packed_bytes = stored;
    }
    if (H5Dread_chunk(a->dset, H5P_DEFAULT, off, &mask, cr->packed) < 0) {
        return dpt_err_set(err, DPT_EIO, "%s: dataset '%s': reading the chunk of row %" PRIu64
                           " failed (HDF5: %s)", ds->path, a->name, r0,
                           dpt__h5_reason(why, sizeof why));
    }
    int spread = cr->shuffled && !(mask & 1u); /* bit 0: shuffle skipped */
    char *dst = spread ? cr->spread : cr->plain;
    size_t got = stored;
    if (mask & cr->deflate_bit) { /* stored as it is (an optional filter skipped) */
        if (stored == cr->bytes) {
            memcpy(dst, cr->packed, cr->bytes);
        }
    } else if (libdeflate_zlib_decompress(cr->inflater, cr->packed, stored, dst, cr->bytes,
                                          &got) != LIBDEFLATE_SUCCESS) {
        got = 0;
    }
    if (got != cr->bytes) {
        return dpt_err_set(err, DPT_EFORMAT, "%s: dataset '%s': the chunk of rows %" PRIu64
                           " to %" PRIu64 " is damaged: its %" PRIu64 " stored bytes do not "
                           "inflate to the chunk's %zu", ds->path, a->name, r0,
                           r0 + cr->rows - 1, (uint64_t)stored, cr->bytes);
    }
    if (spread) {
        unshuffle(cr->spread, cr->plain, cr->bytes, cr->elem);
    }
    cr->at = r0;
    cr->inflated++;
    if (cr->kept && !cr->keep_errno) {
        if (pwrite_whole(cr->keep_fd, cr->plain, cr->bytes, c * cr->bytes)) {
            cr->kept[c] = 1;
        } else { /* the disk is full, say: the rest is inflated each time */
            cr->keep_errno = errno;
        }
    }
    return 0;
}

/* An unlinked file in dir for a chunk reader's inflated chunks, or -1: it
 * disappears with the process, however that ends. */
static int scratch_file(const char *dir)
{
#ifdef O_TMPFILE
    int fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
    if (fd >= 0 || (errno != EOPNOTSUPP && errno != EISDIR && errno != EINVAL)) {
        return fd;
    }
#endif
    char path[PATH_MAX];
    if (snprintf(path, sizeof path, "%s/dptrain-chunks-XXXXXX", dir) >= (int)sizeof path) {
        return -1;
    }
    int fd2 = mkstemp(path);
    if (fd2 >= 0) {
        unlink(path);
        (void)fcntl(fd2, F_SETFD, FD_CLOEXEC);
    }
    return fd2;
}

/* Whether fd is on a file system in memory (tmpfs, ramfs): a copy kept
 * there would be the memory streaming saves. */
static int in_memory_fs(int fd)
{
#ifdef __linux__
    struct statfs fs;
    return fstatfs(fd, &fs) == 0 &&
           (fs.f_type == TMPFS_MAGIC || fs.f_type == RAMFS_MAGIC);
#else
    (void)fd;
    return 0;
#endif
}

/* X's chunks (X has a chunk reader). */
static uint64_t chunk_count(const struct dpt__file *ds)
{
    return (ds->n + ds->x.chunks->rows - 1) / ds->x.chunks->rows;
}

/* Keeps X's chunks in fd from now on: an empty map; 0, or -1 (memory). */
static int keep_in(struct dpt__file *ds, int fd)
{
    struct chunk_reader *cr = ds->x.chunks;
    cr->n_chunks = chunk_count(ds);
    if (!(cr->kept = calloc(cr->n_chunks, sizeof *cr->kept))) {
        return -1;
    }
    cr->keep_fd = fd;
    return 0;
}

uint64_t dpt__file_inflated_bytes(const struct dpt__file *ds)
{
    return ds->x.chunks ? chunk_count(ds) * ds->x.chunks->bytes : 0;
}

int dpt__file_keep_in_memory(const struct dpt__file *ds)
{
    return ds->x.chunks && ds->x.chunks->keep_fd >= 0 && in_memory_fs(ds->x.chunks->keep_fd);
}

int dpt__file_keep_errno(const struct dpt__file *ds)
{
    return ds->x.chunks ? ds->x.chunks->keep_errno : 0;
}

const char *dpt__file_keep_inflated(struct dpt__file *ds, const char *dir, int chosen,
                                    char *why, size_t len)
{
    struct chunk_reader *cr = ds->x.chunks;
    if (!cr || cr->kept || ds->n == 0) {
        return cr && cr->kept ? dir : NULL;
    }
    int fd = scratch_file(dir);
    struct statvfs vfs;
    struct rlimit fsize;
    uint64_t need = dpt__file_inflated_bytes(ds), free_bytes = 0;
    char b1[64], b2[64];
    if (fd < 0) {
        snprintf(why, len, "cannot make a file in %s: %s", dir, strerror(errno));
    } else if (!chosen && in_memory_fs(fd)) {
        snprintf(why, len, "%s is a file system in memory (tmpfs): set DPTRAIN_SCRATCH to a "
                 "folder on a local disk, or to %s to keep them there all the same", dir, dir);
    } else if (fstatvfs(fd, &vfs) != 0 ||
               (free_bytes = (uint64_t)vfs.f_bavail * vfs.f_frsize) / 2 < need) {
        snprintf(why, len, "%s has %s free, and keeping %s's X inflated takes up to %s: twice "
                 "that must be free", dir, dpt__bytes_text(b1, sizeof b1, free_bytes), ds->path,
                 dpt__bytes_text(b2, sizeof b2, need));
    } else if (getrlimit(RLIMIT_FSIZE, &fsize) == 0 && fsize.rlim_cur != RLIM_INFINITY &&
               (uint64_t)fsize.rlim_cur < need) {
        snprintf(why, len, "the file-size limit (ulimit -f) is %s, and keeping %s's X inflated "
                 "takes a file of %s", dpt__bytes_text(b1, sizeof b1, fsize.rlim_cur), ds->path,
                 dpt__bytes_text(b2, sizeof b2, need));
    } else if (keep_in(ds, fd) < 0) {
        snprintf(why, len, "out of memory");
    }
    if (!cr->kept) {
        if (fd >= 0) {
            close(fd);
        }
        return NULL;
    }
    return dir;
}

int dpt__file_keep_fd(const struct dpt__file *ds)
{
    return ds->x.chunks ? ds->x.chunks->keep_fd : -1;
}

int dpt__file_keep_shared(struct dpt__file *ds, int fd)
{
    struct chunk_reader *cr = ds->x.chunks;
    return !cr || cr->kept || ds->n == 0 ? -1 : keep_in(ds, fd);
}

uint8_t *dpt__file_kept_map(struct dpt__file *ds, uint64_t *n)
{
    struct chunk_reader *cr = ds->x.chunks;
    *n = cr && cr->kept ? cr->n_chunks : 0;
    return *n ? cr->kept : NULL;
}

/* Whether rows[0..n) never decrease (NULL: a range, so yes). */
static int ascending(const uint64_t *rows, size_t n)
{
    for (size_t i = 1; rows && i < n; i++) {
        if (rows[i] < rows[i - 1]) {
            return 0;
        }
    }
    return 1;
}

/* Rows (ascending; or first, first + 1, ... when rows is NULL) of a, as
 * floats into out (n rows), from the chunks that hold them. */
static int read_chunked(const struct dpt__file *ds, const struct array *a, const uint64_t *rows,
                        uint64_t first, size_t n, float *out, struct dpt_err *err)
{
    const struct chunk_reader *cr = a->chunks;
    size_t row_bytes = a->width * cr->elem;
    for (size_t i = 0; i < n; i++) {
        uint64_t r = file_row(rows, first, i), r0 = r - r % cr->rows;
        int rc = load_chunk(ds, a, r0, err);
        if (rc < 0) {
            return rc;
        }
        to_float(cr->raw, cr->plain + (r - r0) * row_bytes, out + i * a->width, a->width);
    }
    return 0;
}

/* Whether rows 0 and N - 1 of a read the same by a's own reads (direct or
 * chunk reads) as through H5Dread. */
static int same_both_ways(const struct dpt__file *ds, const struct array *a)
{
    float *own = malloc(2 * a->width * sizeof *own);
    float *via_hdf5 = malloc(2 * a->width * sizeof *via_hdf5);
    uint64_t ends[2] = {0, ds->n - 1};
    int same = own && via_hdf5;
    for (size_t e = 0; same && e < 2; e++) {
        struct dpt_err ignored;
        float *mine = own + e * a->width, *theirs = via_hdf5 + e * a->width;
        same = (a->raw ? read_direct(ds, a, NULL, ends[e], 1, mine, &ignored)
                       : read_chunked(ds, a, NULL, ends[e], 1, mine, &ignored)) == 0 &&
               read_hdf5(ds, a, NULL, ends[e], 1, H5T_NATIVE_FLOAT, theirs, &ignored) == 0 &&
               memcmp(mine, theirs, a->width * sizeof *own) == 0;
    }
    free(own);
    free(via_hdf5);
    return same;
}

/* Sets up direct reads, or else chunk reads, for the arrays that allow
 * them, keeping them only where row 0 and the last row read the same both
 * ways. */
static int setup_direct(struct dpt__file *ds, struct dpt_err *err)
{
    struct array *arrays[] = {&ds->x, ds->y.dset >= 0 ? &ds->y : NULL};
    size_t widest = 0;
    for (size_t i = 0; i < 2; i++) {
        if (arrays[i]) {
            find_direct(arrays[i]);
            size_t row_bytes = arrays[i]->width * (arrays[i]->raw ? arrays[i]->elem : 0);
            widest = row_bytes > widest ? row_bytes : widest;
        }
    }
    ds->stage_bytes = widest > STAGE_BYTES ? widest : STAGE_BYTES; /* read_runs too */
    ds->stage = aligned_alloc(64, (ds->stage_bytes + 63) / 64 * 64);
    if (!ds->stage) {
        return dpt_err_set(err, DPT_ENOMEM, "%s: out of memory", ds->path);
    }
    for (size_t i = 0; i < 2; i++) {
        struct array *a = arrays[i];
        if (a && !a->raw && ds->n > 0 && !getenv("DPTRAIN_NO_CHUNK_READS")) {
            a->chunks = find_chunked(a);
        }
        if (a && (a->raw || a->chunks) && !same_both_ways(ds, a)) {
            a->raw = RAW_NONE;
            chunk_reader_free(a->chunks);
            a->chunks = NULL;
        }
    }
    return 0;
}

/* Reads rows[0..n) (or [first, first + n) when rows is NULL) of a into buf
 * as n rows of a->cols values of mem_type: directly when a allows it and
 * floats are wanted, else through HDF5. Every read of data goes through
 * here, a block of at most a few MB at a time, so this is where a stop
 * request (dpt_stop_requested) ends the statistics, the reading of
 * windows, evaluation and prediction within a fraction of a second. */
static int read_whole(const struct dpt__file *ds, const struct array *a, const uint64_t *rows,
                      uint64_t first, size_t n, hid_t mem_type, void *buf, struct dpt_err *err)
{
    dpt__h5_progress(); /* each call reads a bounded block */
    int sig = dpt_stop_requested();
    if (sig) {
        return dpt_err_set(err, DPT_ESIGNAL, "stopped by %s while reading %s",
                           dpt__signal_name(sig), ds->path);
    }
    if (a->raw && H5Tequal(mem_type, H5T_NATIVE_FLOAT) > 0) {
        return read_direct(ds, a, rows, first, n, buf, err);
    }
    if (a->chunks && H5Tequal(mem_type, H5T_NATIVE_FLOAT) > 0 && ascending(rows, n)) {
        return read_chunked(ds, a, rows, first, n, buf, err);
    }
    if (rows && a->enum_type < 0 && few_runs(ds, a, rows, n, H5Tget_size(mem_type))) {
        return read_runs(ds, a, rows, n, mem_type, buf, err);
    }
    return read_hdf5(ds, a, rows, first, n, mem_type, buf, err);
}

/* Copies a's picked columns of k whole rows (a->width values of size
 * bytes each) at wide into out (k rows of a->cols values). */
static void gather(const struct array *a, const char *wide, size_t k, size_t size, char *out)
{
    for (size_t r = 0; r < k; r++) {
        const char *row = wide + r * a->width * size;
        for (size_t j = 0; j < a->cols; j++) {
            memcpy(out + (r * a->cols + j) * size, row + a->pick[j] * size, size);
        }
    }
}

/* Rows of a dataset that columns are picked from: whole rows a block at a
 * time into ds->wide (at least one row; see apply_columns), then a's
 * columns into buf and, when b is not NULL (y picked from the same
 * dataset), b's into buf_b: the rows are read once for both. */
static int read_picked(const struct dpt__file *ds, const struct array *a, const uint64_t *rows,
                       uint64_t first, size_t n, hid_t mem_type, void *buf,
                       const struct array *b, void *buf_b, struct dpt_err *err)
{
    size_t size = H5Tget_size(mem_type), row_bytes = a->width * size;
    size_t block = ds->wide_bytes / row_bytes;
    for (size_t i = 0, k; i < n; i += k) {
        k = n - i < block ? n - i : block;
        int rc = read_whole(ds, a, rows ? rows + i : NULL, first + i, k, mem_type, ds->wide,
                            err);
        if (rc < 0) {
            return rc;
        }
        gather(a, ds->wide, k, size, (char *)buf + i * a->cols * size);
        if (b) {
            gather(b, ds->wide, k, size, (char *)buf_b + i * b->cols * size);
        }
    }
    return 0;
}

/* Reads rows of a into buf as a->cols values of mem_type each: whole rows,
 * or the columns picked from them. */
static int read_array(const struct dpt__file *ds, const struct array *a, const uint64_t *rows,
                      uint64_t first, size_t n, hid_t mem_type, void *buf, struct dpt_err *err)
{
    if (a->pick) {
        return read_picked(ds, a, rows, first, n, mem_type, buf, NULL, NULL, err);
    }
    return read_whole(ds, a, rows, first, n, mem_type, buf, err);
}

/* The message for a NaN or Inf at value index i of a block read from a:
 * the row, and the column of a table or the index within an image as h5py
 * would write it (X[row, h, w] or X[row, h, w, c]). */
static int bad_value(const struct dpt__file *ds, const struct array *a, const uint64_t *rows,
                     uint64_t first, size_t i, double v, struct dpt_err *err)
{
    uint64_t row = file_row(rows, first, i / a->cols);
    const char *what = isnan(v) ? "NaN" : v > 0 ? "Inf" : "-Inf";
    if (a->rank == 1) {
        return dpt_err_set(err, DPT_EDATA, "%s: dataset '%s': row %" PRIu64 " is %s", ds->path,
                           a->name, row, what);
    }
    if (a->rank == 2) {
        uint64_t col = i % a->cols;
        return dpt_err_set(err, DPT_EDATA, "%s: dataset '%s': row %" PRIu64 ", column %" PRIu64
                           " is %s", ds->path, a->name, row, a->pick ? a->pick[col] : col, what);
    }
    uint64_t at[MAX_DIMS], rest = i % a->cols;
    for (int d = a->rank - 1; d >= 1; d--) {
        at[d] = rest % a->dims[d];
        rest /= a->dims[d];
    }
    char index[96];
    int len = snprintf(index, sizeof index, "%" PRIu64 ", %" PRIu64, at[1], at[2]);
    if (a->rank == 4 && len > 0 && (size_t)len < sizeof index) {
        snprintf(index + len, sizeof index - (size_t)len, ", %" PRIu64, at[3]);
    }
    return dpt_err_set(err, DPT_EDATA, "%s: dataset '%s': row %" PRIu64 ", index [%s] is %s",
                       ds->path, a->name, row, index, what);
}

/* Checks n rows of a, read as floats into v, for NaN and Inf. */
static int check_finite(const struct dpt__file *ds, const struct array *a, const float *v,
                        const uint64_t *rows, uint64_t first, size_t n, struct dpt_err *err)
{
    if (a->is_integer) {
        return 0; /* integers convert to finite floats */
    }
    /* A block at a time with a branch-free test (exponent bits all set),
     * which vectorizes; the slow search only once a block has a bad one. */
    size_t total = n * a->cols;
    for (size_t lo = 0; lo < total; lo += 4096) {
        size_t hi = total - lo < 4096 ? total : lo + 4096;
        uint32_t bad = 0;
        for (size_t i = lo; i < hi; i++) {
            uint32_t bits;
            memcpy(&bits, &v[i], sizeof bits);
            bad |= (bits & 0x7f800000u) == 0x7f800000u;
        }
        for (size_t i = lo; bad && i < hi; i++) {
            if (!isfinite(v[i])) {
                return bad_value(ds, a, rows, first, i, v[i], err);
            }
        }
    }
    return 0;
}

/* Reads and checks X and, if y is not NULL, y; counts the rows. */
static int read_rows(struct dpt__file *ds, const uint64_t *rows, uint64_t first, size_t n,
                     float *x, float *y, struct dpt_err *err)
{
    if (!x) {
        return dpt_err_set(err, DPT_EINVAL, "%s: reading rows needs a buffer for '%s'", ds->path,
                           ds->x.name);
    }
    if (y && ds->y.dset < 0) {
        return dpt_err_set(err, DPT_EINVAL, "%s: targets requested, but the file was opened "
                           "without a y dataset", ds->path);
    }
    struct dpt__h5_quiet quiet;
    dpt__h5_quiet_begin(&quiet);
    dpt__h5_reading(&quiet, ds->path);
    int rc = 0;
    if (y && ds->y.shares_x) {
        rc = read_picked(ds, &ds->x, rows, first, n, H5T_NATIVE_FLOAT, x, &ds->y, y, err);
        y = NULL; /* read */
    } else {
        rc = read_array(ds, &ds->x, rows, first, n, H5T_NATIVE_FLOAT, x, err);
    }
    if (rc == 0 && y) {
        rc = read_array(ds, &ds->y, rows, first, n, H5T_NATIVE_FLOAT, y, err);
    }
    dpt__h5_quiet_end(&quiet);
    if (rc < 0) {
        return rc;
    }
    ds->rows_read += n; /* read from the file, whatever the check below finds */
    rc = check_finite(ds, &ds->x, x, rows, first, n, err);
    if (rc == 0 && y) {
        rc = check_finite(ds, &ds->y, y, rows, first, n, err);
    }
    return rc;
}

int dpt__file_read(struct dpt__file *ds, const uint64_t *rows, size_t n, float *x,
                     float *y, struct dpt_err *err)
{
    if (n == 0) {
        return 0;
    }
    /* Sorted, distinct rows are the caller's promise (the shard sorts them);
     * checking costs n comparisons and keeps a bug from reading wrong rows. */
    for (size_t i = 1; i < n; i++) {
        if (rows[i] <= rows[i - 1]) {
            return dpt_err_set(err, DPT_EINVAL, "%s: rows to read must be strictly increasing: "
                               "rows[%zu] = %" PRIu64 " follows rows[%zu] = %" PRIu64,
                               ds->path, i, rows[i], i - 1, rows[i - 1]);
        }
    }
    if (rows[n - 1] >= ds->n) {
        return dpt_err_set(err, DPT_EINVAL, "%s: row %" PRIu64 " is out of range: dataset '%s' "
                           "has %" PRIu64 " rows", ds->path, rows[n - 1], ds->x.name, ds->n);
    }
    return read_rows(ds, rows, 0, n, x, y, err);
}

int dpt__file_read_range(struct dpt__file *ds, uint64_t first, size_t n, float *x,
                           float *y, struct dpt_err *err)
{
    if (n == 0) {
        return 0;
    }
    if (first >= ds->n || n > ds->n - first) {
        return dpt_err_set(err, DPT_EINVAL, "%s: rows [%" PRIu64 ", %" PRIu64 ") are out of "
                           "range: dataset '%s' has %" PRIu64 " rows", ds->path, first,
                           first + n, ds->x.name, ds->n);
    }
    return read_rows(ds, NULL, first, n, x, y, err);
}

int dpt__file_read_doubles(struct dpt__file *ds, enum dpt_array which, uint64_t first,
                           size_t n, double *v, struct dpt_err *err)
{
    struct dpt__h5_quiet quiet;
    dpt__h5_quiet_begin(&quiet);
    dpt__h5_reading(&quiet, ds->path);
    const struct array *a = which == DPT_ARRAY_Y ? &ds->y : &ds->x;
    int rc = read_array(ds, a, NULL, first, n, H5T_NATIVE_DOUBLE, v, err);
    dpt__h5_quiet_end(&quiet);
    return rc;
}

int dpt__file_bad_value(const struct dpt__file *ds, enum dpt_array which, uint64_t row,
                        uint64_t col, double v, struct dpt_err *err)
{
    const struct array *a = which == DPT_ARRAY_Y ? &ds->y : &ds->x;
    return bad_value(ds, a, NULL, row, col, v, err);
}

int dpt__file_read_array(struct dpt__file *ds, enum dpt_array which, uint64_t first,
                           size_t n, float *v, struct dpt_err *err)
{
    struct dpt__h5_quiet quiet;
    dpt__h5_quiet_begin(&quiet);
    dpt__h5_reading(&quiet, ds->path);
    const struct array *a = which == DPT_ARRAY_Y ? &ds->y : &ds->x;
    int rc = read_array(ds, a, NULL, first, n, H5T_NATIVE_FLOAT, v, err);
    if (rc == 0) {
        rc = check_finite(ds, a, v, NULL, first, n, err);
    }
    dpt__h5_quiet_end(&quiet);
    return rc;
}
