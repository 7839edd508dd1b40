/* The data-file description of data/describe.h.
 *
 * Floats are read through HDF5 as doubles (it converts float16, float32 and
 * either byte order exactly); integers and enums are read in their native
 * width and converted here, because HDF5 converts no enum to a number and
 * a uint64 label must keep its value. Means and variances are sums of
 * (v - c) and (v - c)^2 in double, with c a column's first finite value,
 * which keeps the variance of values far from 0 (pixel values near 255,
 * years) from cancelling.
 */
#include "config.h"

#include "data/describe.h"
#include "util/h5.h"

#include <hdf5.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A block of rows is about 4 MB of doubles. */
#define BLOCK_VALUES ((uint64_t)1 << 19)
/* Sampled rows come in this many runs of consecutive rows. */
#define SAMPLE_RUNS 64

/* What a dataset's values are read as. */
struct reader {
    hid_t set, mtype;
    size_t isize; /* integers: bytes per value in memory; 0 for floats (doubles) */
    int is_signed;
};

/* Running sums of one dataset's columns. */
struct sums {
    double *shift, *sum, *sq;
};

static void describe_type(hid_t t, struct dpt_described_set *s)
{
    H5T_class_t cls = H5Tget_class(t);
    size_t bits = 8 * H5Tget_size(t);
    hid_t base = cls == H5T_ENUM ? H5Tget_super(t) : H5Tcopy(t);
    int is_signed = H5Tget_class(base) == H5T_INTEGER && H5Tget_sign(base) == H5T_SGN_2;
    const char *be = H5Tget_order(t) == H5T_ORDER_BE ? ", big-endian" : "";
    if (cls == H5T_FLOAT) {
        snprintf(s->dtype, sizeof s->dtype, "float%zu%s", bits, be);
        s->numeric = 1;
    } else if (cls == H5T_INTEGER || (cls == H5T_ENUM && H5Tget_class(base) == H5T_INTEGER)) {
        snprintf(s->dtype, sizeof s->dtype, "%s%sint%zu%s", cls == H5T_ENUM ? "enum on " : "",
                 is_signed ? "" : "u", bits, be);
        s->numeric = s->integer = 1;
    } else {
        static const char *const names[] = {
            [H5T_STRING] = "string",     [H5T_COMPOUND] = "compound",
            [H5T_OPAQUE] = "opaque",     [H5T_REFERENCE] = "reference",
            [H5T_VLEN] = "variable-length", [H5T_ARRAY] = "array",
            [H5T_BITFIELD] = "bitfield", [H5T_TIME] = "time",
        };
        const char *n = cls >= 0 && (size_t)cls < sizeof names / sizeof names[0] && names[cls]
                            ? names[cls] : "not a number";
        snprintf(s->dtype, sizeof s->dtype, "%s", n);
    }
    if (base >= 0) {
        H5Tclose(base);
    }
}

/* Layout, chunk, filters, external storage and bytes stored. */
static void describe_layout(hid_t set, struct dpt_described_set *s, int *readable)
{
    hid_t dcpl = H5Dget_create_plist(set);
    H5D_layout_t lay = H5Pget_layout(dcpl);
    snprintf(s->layout, sizeof s->layout, "%s",
             lay == H5D_CHUNKED ? "chunked" : lay == H5D_COMPACT ? "compact"
             : lay == H5D_VIRTUAL ? "virtual" : "contiguous");
    if (lay == H5D_CHUNKED) {
        hsize_t c[DPT_DESCRIBE_MAX_RANK];
        s->chunk_rank = H5Pget_chunk(dcpl, DPT_DESCRIBE_MAX_RANK, c);
        for (int i = 0; i < s->chunk_rank; i++) {
            s->chunk[i] = c[i];
        }
    }
    dpt__h5_find_filters();
    int nf = H5Pget_nfilters(dcpl);
    for (int i = 0; i < nf; i++) {
        unsigned flags, cd[8];
        size_t ncd = 8;
        char name[64] = "", one[96];
        H5Z_filter_t id = H5Pget_filter2(dcpl, (unsigned)i, &flags, &ncd, cd, sizeof name,
                                         name, NULL);
        if (id == H5Z_FILTER_DEFLATE) {
            snprintf(one, sizeof one, "deflate level %u", ncd ? cd[0] : 0);
        } else if (id == H5Z_FILTER_SHUFFLE || id == H5Z_FILTER_FLETCHER32 ||
                   id == H5Z_FILTER_SZIP || id == H5Z_FILTER_NBIT ||
                   id == H5Z_FILTER_SCALEOFFSET) {
            snprintf(one, sizeof one, "%s", name[0] ? name : "filter");
        } else {
            snprintf(one, sizeof one, "filter %d (%s)", (int)id, dpt__h5_filter_name(id, name));
        }
        if (H5Zfilter_avail(id) <= 0) {
            strncat(one, ", not available here", sizeof one - strlen(one) - 1);
            if (*readable) {
                char why[256];
                snprintf(s->filter_missing, sizeof s->filter_missing, "HDF5 filter %s (id %d) "
                         "cannot be decoded here: %s", dpt__h5_filter_name(id, name), (int)id,
                         dpt__h5_filter_missing(why, sizeof why, id));
            }
            *readable = 0;
        }
        size_t used = strlen(s->filters);
        snprintf(s->filters + used, sizeof s->filters - used, "%s%s", used ? ", " : "", one);
    }
    s->external = H5Pget_external_count(dcpl) > 0;
    H5Pclose(dcpl);
    s->stored_bytes = H5Dget_storage_size(set);
}

/* Adds value v of label l to s's counts (kept sorted), until too many. */
static void count_label(struct dpt_described_set *s, int64_t l)
{
    size_t lo = 0, hi = s->n_labels;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (s->labels[mid].value < l) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    if (lo < s->n_labels && s->labels[lo].value == l) {
        s->labels[lo].count++;
    } else if (s->n_labels == DPT_DESCRIBE_LABELS_MAX) {
        s->labels_overflow = 1;
    } else {
        memmove(s->labels + lo + 1, s->labels + lo, (s->n_labels - lo) * sizeof *s->labels);
        s->labels[lo].value = l;
        s->labels[lo].count = 1;
        s->n_labels++;
    }
}

/* Value k of an integer block in memory. */
static int64_t int_at(const struct reader *r, const unsigned char *p, double *d)
{
    int64_t v;
    switch (r->isize) {
    case 1:
        v = r->is_signed ? (int64_t) * (const int8_t *)p : (int64_t) * (const uint8_t *)p;
        break;
    case 2:
        v = r->is_signed ? (int64_t) * (const int16_t *)p : (int64_t) * (const uint16_t *)p;
        break;
    case 4:
        v = r->is_signed ? (int64_t) * (const int32_t *)p : (int64_t) * (const uint32_t *)p;
        break;
    default:
        if (r->is_signed) {
            v = *(const int64_t *)p;
        } else {
            uint64_t u = *(const uint64_t *)p;
            *d = (double)u;
            return u > INT64_MAX ? INT64_MAX : (int64_t)u;
        }
    }
    *d = (double)v;
    return v;
}

/* Adds n rows of a block (doubles, or integers of r->isize bytes) to the
 * sums, statistics and label counts of s. */
static void add_block(const struct reader *r, struct dpt_described_set *s, struct sums *u,
                      const void *buf, uint64_t n)
{
    const uint64_t cols = s->cols;
    for (uint64_t i = 0; i < n; i++) {
        for (uint64_t j = 0; j < cols; j++) {
            uint64_t k = i * cols + j;
            double v;
            if (r->isize) {
                int64_t l = int_at(r, (const unsigned char *)buf + k * r->isize, &v);
                if (s->labels) {
                    count_label(s, l);
                }
            } else {
                v = ((const double *)buf)[k];
            }
            struct dpt_column_stats *c = &s->stats[j];
            if (isnan(v)) {
                c->nan++;
                continue;
            }
            if (isinf(v)) {
                c->inf++;
                continue;
            }
            if (c->finite++ == 0) {
                u->shift[j] = c->min = c->max = v;
            }
            c->min = v < c->min ? v : c->min;
            c->max = v > c->max ? v : c->max;
            double e = v - u->shift[j];
            u->sum[j] += e;
            u->sq[j] += e * e;
        }
    }
}

/* Reads rows [first, first + n) of the dataset into the sums, a block at a
 * time. */
static int read_run(const char *path, const struct reader *r, struct dpt_described_set *s,
                    struct sums *u, void *buf, uint64_t first, uint64_t n, struct dpt_err *err)
{
    uint64_t B = s->cols < BLOCK_VALUES ? BLOCK_VALUES / s->cols : 1;
    hid_t fs = H5Dget_space(r->set);
    int rc = fs >= 0 ? 0 : dpt_err_set(err, DPT_EIO, "%s: dataset '%s': no dataspace", path,
                                       s->name);
    for (uint64_t row = first; rc == 0 && row < first + n; row += B) {
        hsize_t start[DPT_DESCRIBE_MAX_RANK] = {row}, count[DPT_DESCRIBE_MAX_RANK];
        uint64_t m = first + n - row < B ? first + n - row : B;
        for (int i = 0; i < s->rank; i++) {
            count[i] = i == 0 ? m : s->dims[i];
        }
        hid_t ms = H5Screate_simple(s->rank, count, NULL);
        if (H5Sselect_hyperslab(fs, H5S_SELECT_SET, start, NULL, count, NULL) < 0 || ms < 0 ||
            H5Dread(r->set, r->mtype, ms, fs, H5P_DEFAULT, buf) < 0) {
            char why[DPT__H5_REASON_LEN];
            rc = dpt_err_set(err, DPT_EIO, "%s: dataset '%s': reading rows %llu to %llu failed "
                             "(HDF5: %s)", path, s->name, (unsigned long long)row,
                             (unsigned long long)(row + m - 1), dpt__h5_reason(why, sizeof why));
        }
        if (ms >= 0) {
            H5Sclose(ms);
        }
        if (rc == 0) {
            add_block(r, s, u, buf, m);
            s->rows_read += m;
            dpt__h5_progress();
            int sig = dpt_stop_requested();
            rc = sig ? dpt_err_set(err, DPT_ESIGNAL, "stopped by a signal (%d)", sig) : 0;
        }
    }
    if (fs >= 0) {
        H5Sclose(fs);
    }
    return rc;
}

/* Statistics of a numeric dataset: all rows, or sample rows in runs. */
static int compute_stats(const char *path, hid_t set, hid_t ftype,
                         struct dpt_described_set *s, uint64_t sample, struct dpt_err *err)
{
    struct reader r = {.set = set};
    if (s->integer) {
        r.mtype = H5Tget_native_type(ftype, H5T_DIR_ASCEND);
        hid_t base = H5Tget_class(ftype) == H5T_ENUM ? H5Tget_super(ftype) : H5Tcopy(ftype);
        r.is_signed = H5Tget_sign(base) == H5T_SGN_2;
        H5Tclose(base);
        r.isize = H5Tget_size(r.mtype);
    } else {
        r.mtype = H5Tcopy(H5T_NATIVE_DOUBLE);
    }
    uint64_t N = s->dims[0], B = s->cols < BLOCK_VALUES ? BLOCK_VALUES / s->cols : 1;
    struct sums u = {calloc(s->cols, sizeof(double)), calloc(s->cols, sizeof(double)),
                     calloc(s->cols, sizeof(double))};
    void *buf = malloc(B * s->cols * 8);
    s->stats = calloc(s->cols, sizeof *s->stats);
    if (s->integer && s->cols == 1) {
        s->labels = calloc(DPT_DESCRIBE_LABELS_MAX, sizeof *s->labels);
    }
    int rc = u.shift && u.sum && u.sq && buf && s->stats && (s->labels || !s->integer ||
                                                             s->cols != 1)
                 ? 0 : dpt_err_set(err, DPT_ENOMEM, "out of memory for %llu columns of '%s'",
                                   (unsigned long long)s->cols, s->name);
    uint64_t runs = sample > 0 && sample < N ? (sample < SAMPLE_RUNS ? sample : SAMPLE_RUNS) : 1;
    uint64_t take = runs > 1 ? sample : N;
    for (uint64_t k = 0; rc == 0 && k < runs; k++) {
        uint64_t first = (uint64_t)((double)k * (double)N / (double)runs);
        uint64_t n = take / runs + (k < take % runs ? 1 : 0);
        rc = read_run(path, &r, s, &u, buf, first, n < N - first ? n : N - first, err);
    }
    for (uint64_t j = 0; rc == 0 && j < s->cols; j++) {
        struct dpt_column_stats *c = &s->stats[j];
        if (c->finite) {
            double m = u.sum[j] / (double)c->finite;
            c->mean = u.shift[j] + m;
            double var = u.sq[j] / (double)c->finite - m * m;
            c->std = sqrt(var > 0 ? var : 0);
        }
    }
    if (s->labels_overflow) {
        free(s->labels);
        s->labels = NULL;
        s->n_labels = 0;
    }
    H5Tclose(r.mtype);
    free(u.shift);
    free(u.sum);
    free(u.sq);
    free(buf);
    return rc;
}

/* The string attribute `classes` of a label set, if any. A missing or
 * unreadable one is no error (the labels are still counted), just no
 * names. */
static void read_classes(hid_t set, struct dpt_described_set *s)
{
    if (dpt__h5_read_strings_attr(set, "classes", &s->classes, &s->n_classes) <= 0) {
        s->classes = NULL, s->n_classes = 0;
    }
}

/* The string attribute `columns` (the features' names), if any; kept only
 * when it names each of the set's columns. */
static void read_columns(hid_t set, struct dpt_described_set *s)
{
    if (dpt__h5_read_strings_attr(set, "columns", &s->columns, &s->n_columns) <= 0) {
        s->columns = NULL, s->n_columns = 0;
    } else if (s->n_columns != s->cols) {
        for (size_t c = 0; c < s->n_columns; c++) {
            free(s->columns[c]);
        }
        free(s->columns);
        s->columns = NULL, s->n_columns = 0;
    }
}

/* One dataset: what it is and, when it is numeric and readable, its
 * statistics. */
static int describe_set(const char *path, hid_t file, struct dpt_described_set *s,
                        uint64_t sample, struct dpt_err *err)
{
    /* Names inside the file (external links, external raw data, virtual
     * sources) resolve from the file's folder, as dataset.c resolves them. */
    hid_t dapl = H5Pcreate(H5P_DATASET_ACCESS);
    H5Pset_efile_prefix(dapl, "${ORIGIN}");
    H5Pset_virtual_prefix(dapl, "${ORIGIN}");
    hid_t set = H5Dopen2(file, s->name, dapl);
    H5Pclose(dapl);
    if (set < 0) {
        char why[DPT__H5_REASON_LEN];
        return dpt_err_set(err, DPT_EIO, "%s: dataset '%s': cannot open (HDF5: %s)", path,
                           s->name, dpt__h5_reason(why, sizeof why));
    }
    hid_t ftype = H5Dget_type(set), space = H5Dget_space(set);
    hsize_t d[DPT_DESCRIBE_MAX_RANK];
    s->rank = H5Sget_simple_extent_dims(space, d, NULL);
    s->cols = 1;
    for (int i = 0; i < s->rank; i++) {
        s->dims[i] = d[i];
        s->cols *= i > 0 ? d[i] : 1;
    }
    H5Sclose(space);
    describe_type(ftype, s);
    int readable = 1;
    describe_layout(set, s, &readable);
    int written = s->stored_bytes > 0 || strcmp(s->layout, "virtual") == 0;
    int rc = 0;
    if (s->numeric && readable && written && s->rank > 0 && s->dims[0] > 0 && s->cols > 0) {
        rc = compute_stats(path, set, ftype, s, sample, err);
    }
    if (rc == 0 && s->labels) {
        read_classes(set, s);
    }
    if (rc == 0 && s->stats) {
        read_columns(set, s);
    }
    H5Tclose(ftype);
    H5Dclose(set);
    return rc;
}

struct names {
    char **v;
    size_t n;
    hid_t file;
};

/* H5Lvisit callback: keeps the names of the links that open as datasets. */
static herr_t keep_dataset(hid_t g, const char *name, const H5L_info_t *info, void *ctx)
{
    (void)info;
    struct names *nm = ctx;
    hid_t set = H5Dopen2(g, name, H5P_DEFAULT);
    if (set < 0) {
        return 0;
    }
    H5Dclose(set);
    char **v2 = realloc(nm->v, (nm->n + 1) * sizeof *v2);
    if (!v2) {
        return -1;
    }
    nm->v = v2;
    size_t len = strlen(name) + 2;
    if (!(nm->v[nm->n] = malloc(len))) {
        return -1;
    }
    snprintf(nm->v[nm->n++], len, "/%s", name);
    return 0;
}

int dpt_data_describe(const char *path, uint64_t sample_rows, struct dpt_data_description *d,
                      struct dpt_err *err)
{
    memset(d, 0, sizeof *d);
    struct dpt__h5_quiet quiet;
    dpt__h5_quiet_begin(&quiet);
    dpt__h5_reading(&quiet, path);
    struct names nm = {0};
    int rc = 0;
    hid_t file = H5Fis_hdf5(path) > 0 ? H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT) : -1;
    if (file < 0) {
        rc = dpt_err_set(err, DPT_EFORMAT, "%s: not an HDF5 file (or a truncated one)", path);
    } else if (H5Lvisit(file, H5_INDEX_NAME, H5_ITER_INC, keep_dataset, &nm) < 0) {
        rc = dpt_err_set(err, DPT_ENOMEM, "%s: listing its datasets failed", path);
    }
    if (rc == 0 && nm.n > 0 && !(d->sets = calloc(nm.n, sizeof *d->sets))) {
        rc = dpt_err_set(err, DPT_ENOMEM, "out of memory");
    }
    for (size_t i = 0; i < nm.n; i++) {
        if (rc == 0) {
            d->sets[i].name = nm.v[i];
            d->n = i + 1;
            rc = describe_set(path, file, &d->sets[i], sample_rows, err);
        } else if (!d->sets || d->sets[i].name != nm.v[i]) {
            free(nm.v[i]);
        }
    }
    free(nm.v);
    if (file >= 0) {
        H5Fclose(file);
    }
    dpt__h5_quiet_end(&quiet);
    return rc;
}

void dpt_data_description_cleanup(struct dpt_data_description *d)
{
    for (size_t i = 0; i < d->n; i++) {
        free(d->sets[i].name);
        free(d->sets[i].stats);
        free(d->sets[i].labels);
        for (size_t c = 0; c < d->sets[i].n_classes; c++) {
            free(d->sets[i].classes[c]);
        }
        free(d->sets[i].classes);
        for (size_t c = 0; c < d->sets[i].n_columns; c++) {
            free(d->sets[i].columns[c]);
        }
        free(d->sets[i].columns);
    }
    free(d->sets);
    memset(d, 0, sizeof *d);
}
