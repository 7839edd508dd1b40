/* A data set of one or more HDF5 files (data/dataset.h): the files' rows
 * one after another, read through data/file.h one file at a time.
 *
 * Everything above this file (sharding, shuffling, the statistics, the
 * validation split, evaluation) sees rows 0 .. N-1 of the whole set, so a
 * rank still reads only its own rows, shuffling and standardization span
 * every file, and a set split into k files reads the same values in the
 * same order as the one file. A read of rows that cross files is cut into
 * one read per file; a set of one file passes every call straight through,
 * so the single-file path costs what it did.
 *
 * The statistics (dpt_dataset_moments) are summed here, in blocks of rows
 * of the whole set: a block may span two files, and its sums are the ones
 * the single file gives, to the bit.
 *
 * Left out: files with different datasets or column picks (one source
 * describes every file), and re-expanding a glob while training runs.
 */
#include "config.h"

#include "data/dataset.h"
#include "data/file.h"
#include "util/util.h"

#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* dpt_dataset_moments reads blocks of at most this many rows and values
 * (the sums' rounding: see dpt_dataset_moments). */
#define STATS_BLOCK_ROWS 4096
#define STATS_BLOCK_VALUES ((size_t)1 << 20)

struct dpt_dataset {
    struct dpt__file **files;
    size_t n_files;
    uint64_t *start; /* n_files + 1 entries: the set's row where file i begins */
    uint64_t n;
    char *shown;     /* dpt_dataset_path */
    uint64_t *local; /* file rows of one read (several files only) */
    size_t local_cap;
    const char *kept_in; /* dpt_dataset_keep_inflated's folder (scratch), or NULL */
    char scratch[PATH_MAX]; /* scratch_dir's */
    char not_kept[PATH_MAX + 256]; /* or why not, when it tried */
};

/* ---- The files: names and glob patterns ---- */

struct names {
    char **v;
    size_t n, cap;
};

static int add_name(struct names *l, const char *name)
{
    if (l->n == l->cap) {
        size_t cap = l->cap ? 2 * l->cap : 8;
        char **grown = realloc(l->v, cap * sizeof *grown);
        if (!grown) {
            return -1;
        }
        l->v = grown;
        l->cap = cap;
    }
    l->v[l->n] = dpt__strdup(name);
    if (!l->v[l->n]) {
        return -1;
    }
    l->n++;
    return 0;
}

static void free_names(struct names *l)
{
    for (size_t i = 0; i < l->n; i++) {
        free(l->v[i]);
    }
    free(l->v);
}

static int by_bytes(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Adds the files pattern names to l: the name itself when it exists or
 * has no glob character, else its matches sorted by the bytes of their
 * names (strcmp, whatever the locale, so every rank gets one order). */
static int expand(struct names *l, const char *pattern, const char *key, struct dpt_err *err)
{
    if (!strpbrk(pattern, "*?[") || access(pattern, F_OK) == 0) {
        return add_name(l, pattern) < 0 ? dpt_err_set(err, DPT_ENOMEM, "out of memory") : 0;
    }
    glob_t g;
    int r = glob(pattern, GLOB_NOSORT, NULL, &g);
    if (r == GLOB_NOMATCH) {
        globfree(&g);
        return dpt_err_set(err, DPT_EIO, "%s%sno file matches the pattern '%s'", key ? key : "",
                           key ? ": " : "", pattern);
    }
    if (r != 0) {
        globfree(&g);
        return dpt_err_set(err, DPT_EIO, "%s%scannot list the files of the pattern '%s': %s",
                           key ? key : "", key ? ": " : "", pattern,
                           r == GLOB_NOSPACE ? "out of memory" : "a folder cannot be read");
    }
    qsort(g.gl_pathv, g.gl_pathc, sizeof *g.gl_pathv, by_bytes);
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < g.gl_pathc; i++) {
        if (add_name(l, g.gl_pathv[i]) < 0) {
            rc = dpt_err_set(err, DPT_ENOMEM, "out of memory");
        }
    }
    globfree(&g);
    return rc;
}

/* ---- Opening ---- */

/* Checks that file i has the first file's shapes (but for N), dtypes and
 * columns. */
static int same_as_first(const struct dpt_dataset *ds, size_t i, const char *key,
                         struct dpt_err *err)
{
    char first[512], this[512];
    dpt__file_describe(ds->files[0], 0, first, sizeof first);
    dpt__file_describe(ds->files[i], 0, this, sizeof this);
    if (strcmp(first, this) == 0) {
        return 0;
    }
    return dpt_err_set(err, DPT_EFORMAT, "%s%s%s holds %s, but the data set's first file %s "
                       "holds %s: every file of a data set needs the same shapes (but for "
                       "the rows) and dtypes", key ? key : "", key ? ": " : "",
                       dpt__file_path(ds->files[i]), this, dpt__file_path(ds->files[0]),
                       first);
}

/* The file of ds with the longest list of class names, or -1 when none
 * has one. */
static long classes_file(const struct dpt_dataset *ds)
{
    long best = -1;
    size_t most = 0, n;
    for (size_t i = 0; i < ds->n_files; i++) {
        if (dpt__file_classes(ds->files[i], &n) && n > most) {
            best = (long)i, most = n;
        }
    }
    return best;
}

struct dpt_names dpt_dataset_classes(const struct dpt_dataset *ds)
{
    struct dpt_names c = {NULL, 0, "the training data"};
    long i = classes_file(ds);
    if (i >= 0) {
        c.v = dpt__file_classes(ds->files[i], &c.n);
    }
    return c;
}

/* names[0..n) joined by sep into buf (len bytes, cut with "..." to fit). */
static const char *join(char *buf, size_t len, const char *const *names, size_t n,
                        const char *sep)
{
    size_t u = 0;
    buf[0] = 0;
    for (size_t k = 0; k < n && u < len; k++) {
        u += (size_t)snprintf(buf + u, len - u, "%s%s", k ? sep : "", names[k]);
    }
    if (u >= len && len > 4) {
        strcpy(buf + len - 4, "...");
    }
    return buf;
}

/* How many names a[0..m) and b[0..n) share at their start, in order. */
static size_t agreeing(const char *const *a, size_t m, const char *const *b, size_t n)
{
    size_t k = 0;
    while (k < m && k < n && strcmp(a[k], b[k]) == 0) {
        k++;
    }
    return k;
}

int dpt_dataset_check_classes(const struct dpt_dataset *ds, const struct dpt_names *names,
                              struct dpt_err *err)
{
    size_t n = names ? names->n : 0;
    for (size_t i = 0; n && i < ds->n_files; i++) {
        size_t m;
        const char *const *mine = dpt__file_classes(ds->files[i], &m);
        size_t k = agreeing(mine, m, names->v, n);
        if (k == m) {
            continue;
        }
        char have[1024], want[1024], list[1024], what[1200];
        if (k < n) {
            snprintf(what, sizeof what, "label %zu means '%s' here and '%s' to %s", k, mine[k],
                     names->v[k], names->whose);
        } else {
            snprintf(what, sizeof what, "label %zu ('%s') is not a class of %s", k, mine[k],
                     names->whose);
        }
        return dpt_err_set(err, DPT_EFORMAT, "%s: y names the classes (%s), %s names (%s): %s; "
                           "convert the file again with --classes %s so that every label "
                           "means the same class", dpt__file_path(ds->files[i]),
                           join(have, sizeof have, mine, m, ", "), names->whose,
                           join(want, sizeof want, names->v, n, ", "), what,
                           join(list, sizeof list, names->v, n, ","));
    }
    return 0;
}

/* The first file of ds that names its columns, or -1 when none does. */
static long columns_file(const struct dpt_dataset *ds)
{
    size_t n;
    for (size_t i = 0; i < ds->n_files; i++) {
        if (dpt__file_columns(ds->files[i], &n)) {
            return (long)i;
        }
    }
    return -1;
}

struct dpt_names dpt_dataset_columns(const struct dpt_dataset *ds)
{
    struct dpt_names c = {NULL, 0, "the training data"};
    long i = columns_file(ds);
    if (i >= 0) {
        c.v = dpt__file_columns(ds->files[i], &c.n);
    }
    return c;
}

static int by_name(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* 1 when a[0..n) and b[0..n) hold the same names in some order. */
static int same_names(const char *const *a, const char *const *b, size_t n)
{
    const char **sa = malloc((n ? n : 1) * sizeof *sa), **sb = malloc((n ? n : 1) * sizeof *sb);
    int same = sa && sb;
    if (same) {
        memcpy(sa, a, n * sizeof *sa);
        memcpy(sb, b, n * sizeof *sb);
        qsort(sa, n, sizeof *sa, by_name);
        qsort(sb, n, sizeof *sb, by_name);
        for (size_t k = 0; same && k < n; k++) {
            same = strcmp(sa[k], sb[k]) == 0;
        }
    }
    free(sa);
    free(sb);
    return same;
}

int dpt_dataset_check_columns(const struct dpt_dataset *ds, const struct dpt_names *names,
                              struct dpt_err *err)
{
    size_t n = names ? names->n : 0;
    for (size_t i = 0; n && i < ds->n_files; i++) {
        size_t m;
        const char *const *mine = dpt__file_columns(ds->files[i], &m);
        size_t k = agreeing(mine, m, names->v, n);
        if (!mine || (k == m && k == n)) {
            continue;
        }
        /* Sized so that the order to convert in fits the message whole for
         * a few dozen columns, and is cut with "..." for hundreds. */
        char have[320], want[320], list[800], what[600];
        if (k < m && k < n) {
            snprintf(what, sizeof what, "column %zu is '%s' here and '%s' to %s", k, mine[k],
                     names->v[k], names->whose);
        } else if (k < m) {
            snprintf(what, sizeof what, "column %zu ('%s') is not a column of %s", k, mine[k],
                     names->whose);
        } else {
            snprintf(what, sizeof what, "column %zu of %s ('%s') is missing here", k,
                     names->whose, names->v[k]);
        }
        int reorder = m == n && same_names(mine, names->v, n);
        return dpt_err_set(err, DPT_EFORMAT, "%s: X names the columns (%s), %s names (%s): %s; "
                           "%s %s and convert it again", dpt__file_path(ds->files[i]),
                           join(have, sizeof have, mine, m, ", "), names->whose,
                           join(want, sizeof want, names->v, n, ", "), what,
                           reorder ? "put the CSV's feature columns in the order"
                                   : "make the CSV's feature columns",
                           join(list, sizeof list, names->v, n, ","));
    }
    return 0;
}

/* ds->shown: the one file, or "FIRST ... LAST (K files)". */
static int set_shown(struct dpt_dataset *ds)
{
    const char *first = dpt__file_path(ds->files[0]);
    if (ds->n_files == 1) {
        ds->shown = dpt__strdup(first);
    } else {
        ds->shown = dpt__aprintf("%s ... %s (%zu files)", first,
                                 dpt__file_path(ds->files[ds->n_files - 1]), ds->n_files);
    }
    return ds->shown ? 0 : -1;
}

int dpt_dataset_open_source(struct dpt_dataset **out, const struct dpt_data_source *src,
                            int with_y, struct dpt_err *err)
{
    *out = NULL;
    struct names l = {0};
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < src->n_files; i++) {
        rc = expand(&l, src->files[i], src->key, err);
    }
    struct dpt_dataset *ds = rc == 0 ? calloc(1, sizeof *ds) : NULL;
    if (rc == 0 && (!ds || !(ds->files = calloc(l.n ? l.n : 1, sizeof *ds->files)) ||
                    !(ds->start = calloc(l.n + 1, sizeof *ds->start)))) {
        rc = dpt_err_set(err, DPT_ENOMEM, "out of memory");
    }
    if (rc == 0 && l.n == 0) {
        rc = dpt_err_set(err, DPT_ECONFIG, "%s: the list of files is empty",
                         src->key ? src->key : "data");
    }
    for (size_t i = 0; rc == 0 && i < l.n; i++) {
        rc = dpt__file_open(&ds->files[i], l.v[i], src, with_y, err);
        ds->n_files += rc == 0;
        if (rc == 0 && i > 0) {
            rc = same_as_first(ds, i, src->key, err);
        }
        if (rc == 0) {
            uint64_t n = dpt__file_rows(ds->files[i]);
            if (ds->n > UINT64_MAX - n) {
                rc = dpt_err_set(err, DPT_EFORMAT, "%s: more rows than 64 bits can count",
                                 l.v[i]);
            }
            ds->n += n;
            ds->start[i + 1] = ds->n;
        }
    }
    long named = rc == 0 ? classes_file(ds) : -1;
    if (named >= 0) {
        struct dpt_names names = dpt_dataset_classes(ds);
        names.whose = dpt__file_path(ds->files[named]);
        rc = dpt_dataset_check_classes(ds, &names, err);
    }
    named = rc == 0 ? columns_file(ds) : -1;
    if (named >= 0) {
        struct dpt_names names = dpt_dataset_columns(ds);
        names.whose = dpt__file_path(ds->files[named]);
        rc = dpt_dataset_check_columns(ds, &names, err);
    }
    if (rc == 0 && set_shown(ds) < 0) {
        rc = dpt_err_set(err, DPT_ENOMEM, "out of memory");
    }
    free_names(&l);
    if (rc < 0) {
        dpt_dataset_close(ds);
        return rc;
    }
    *out = ds;
    return 0;
}

int dpt_dataset_open(struct dpt_dataset **out, const char *path, const char *x_name,
                     const char *y_name, struct dpt_err *err)
{
    const struct dpt_data_source src = {.files = &path, .n_files = 1, .x_name = x_name,
                                        .y_name = y_name};
    return dpt_dataset_open_source(out, &src, y_name != NULL, err);
}

void dpt_dataset_close(struct dpt_dataset *ds)
{
    if (!ds) {
        return;
    }
    for (size_t i = 0; i < ds->n_files; i++) {
        dpt__file_close(ds->files[i]);
    }
    free(ds->local);
    free(ds->shown);
    free(ds->start);
    free(ds->files);
    free(ds);
}

/* ---- What the set is ---- */

uint64_t dpt_dataset_rows(const struct dpt_dataset *ds)
{
    return ds->n;
}

uint64_t dpt_dataset_features(const struct dpt_dataset *ds)
{
    return dpt__file_features(ds->files[0]);
}

void dpt_dataset_sample_shape(const struct dpt_dataset *ds, struct dpt_shape *shape)
{
    dpt__file_sample_shape(ds->files[0], shape);
}

uint64_t dpt_dataset_y_cols(const struct dpt_dataset *ds)
{
    return dpt__file_y_cols(ds->files[0]);
}

int dpt_dataset_y_is_integer(const struct dpt_dataset *ds)
{
    return dpt__file_y_is_integer(ds->files[0]);
}

const char *dpt_dataset_path(const struct dpt_dataset *ds)
{
    return ds->shown;
}

size_t dpt_dataset_files(const struct dpt_dataset *ds)
{
    return ds->n_files;
}

const char *dpt_dataset_file(const struct dpt_dataset *ds, size_t i)
{
    return dpt__file_path(ds->files[i]);
}

size_t dpt_dataset_locate(const struct dpt_dataset *ds, uint64_t row, uint64_t *file_row)
{
    size_t lo = 0, hi = ds->n_files - 1;
    while (lo < hi) { /* the last file whose start is <= row */
        size_t mid = lo + (hi - lo + 1) / 2;
        if (ds->start[mid] <= row) {
            lo = mid;
        } else {
            hi = mid - 1;
        }
    }
    *file_row = row - ds->start[lo];
    return lo;
}

void dpt_dataset_describe(const struct dpt_dataset *ds, char *buf, size_t len)
{
    if (ds->n_files == 1) {
        dpt__file_describe(ds->files[0], 1, buf, len);
        return;
    }
    dpt__file_describe(ds->files[0], 0, buf, len);
    size_t u = strlen(buf);
    snprintf(buf + u, u < len ? len - u : 0, "; N = %" PRIu64 " in %zu files", ds->n,
             ds->n_files);
}

uint64_t dpt_dataset_chunk_rows(const struct dpt_dataset *ds)
{
    return dpt__file_chunk_rows(ds->files[0]);
}

int dpt_dataset_direct(const struct dpt_dataset *ds)
{
    int all = 1;
    for (size_t i = 0; i < ds->n_files; i++) {
        all &= dpt__file_direct(ds->files[i]) != 0;
    }
    return all;
}

int dpt_dataset_chunk_reads(const struct dpt_dataset *ds)
{
    int all = 1;
    for (size_t i = 0; i < ds->n_files; i++) {
        all &= dpt__file_chunk_reads(ds->files[i]);
    }
    return all;
}

uint64_t dpt_dataset_chunks_inflated(const struct dpt_dataset *ds)
{
    uint64_t n = 0;
    for (size_t i = 0; i < ds->n_files; i++) {
        n += dpt__file_chunks_inflated(ds->files[i]);
    }
    return n;
}

/* The folder for kept chunks: DPTRAIN_SCRATCH (*chosen set), else
 * $TMPDIR, else /tmp; a relative one as a full path, for the logs (they
 * outlive the folder the job started in). */
static const char *scratch_dir(struct dpt_dataset *ds, int *chosen)
{
    const char *named = getenv("DPTRAIN_SCRATCH"), *tmp = getenv("TMPDIR");
    *chosen = named && *named;
    const char *dir = *chosen ? named : tmp && *tmp ? tmp : "/tmp";
    char cwd[PATH_MAX];
    if (dir[0] == '/' || strcmp(dir, "none") == 0 || !getcwd(cwd, sizeof cwd) ||
        snprintf(ds->scratch, sizeof ds->scratch, "%s/%s", cwd, dir) >= (int)sizeof ds->scratch) {
        snprintf(ds->scratch, sizeof ds->scratch, "%s", dir);
    }
    return ds->scratch;
}

const char *dpt_dataset_keep_inflated(struct dpt_dataset *ds)
{
    int chosen;
    const char *dir = scratch_dir(ds, &chosen);
    if (strcmp(dir, "none") == 0) {
        return NULL;
    }
    for (size_t i = 0; i < ds->n_files; i++) {
        if (dpt__file_keep_inflated(ds->files[i], dir, chosen, ds->not_kept,
                                    sizeof ds->not_kept)) {
            ds->kept_in = dir;
        }
    }
    return ds->kept_in;
}

void dpt_dataset_keep_files(const struct dpt_dataset *ds, struct dpt_kept_file *kf)
{
    for (size_t i = 0; i < ds->n_files; i++) {
        struct stat st;
        int fd = dpt__file_keep_fd(ds->files[i]);
        kf[i] = (struct dpt_kept_file){.fd = -1};
        if (fd >= 0 && fstat(fd, &st) == 0) {
            kf[i] = (struct dpt_kept_file){.fd = fd, .dev = st.st_dev, .ino = st.st_ino};
        }
    }
}

int dpt_dataset_keep_peer(struct dpt_dataset *ds, int64_t pid, const struct dpt_kept_file *kf,
                          int *why)
{
    int ok = 1;
    *why = 0;
    for (size_t i = 0; i < ds->n_files; i++) {
        char path[64];
        struct stat st;
        snprintf(path, sizeof path, "/proc/%" PRId64 "/fd/%" PRId64, pid, kf[i].fd);
        int fd = kf[i].fd < 0 ? -1 : open(path, O_RDWR | O_CLOEXEC);
        if (kf[i].fd >= 0 && fd < 0) {
            *why = errno;
        }
        /* The same file, not one of another process that has that id in
         * this process's namespace (a container per rank, say). */
        int same = fd >= 0 && fstat(fd, &st) == 0 && (uint64_t)st.st_dev == kf[i].dev &&
                   (uint64_t)st.st_ino == kf[i].ino;
        if (same && dpt__file_keep_shared(ds->files[i], fd) < 0) {
            *why = ENOMEM; /* for its map */
            same = 0;
        }
        if (fd >= 0 && !same) {
            close(fd);
            fd = -1;
        }
        ok &= kf[i].fd < 0 || fd >= 0;
    }
    int chosen;
    ds->kept_in = scratch_dir(ds, &chosen);
    return ok ? 0 : -1;
}

uint8_t *dpt_dataset_kept_map(struct dpt_dataset *ds, size_t i, uint64_t *n)
{
    return dpt__file_kept_map(ds->files[i], n);
}

const char *dpt_dataset_not_kept(const struct dpt_dataset *ds)
{
    return ds->not_kept[0] ? ds->not_kept : NULL;
}

int dpt_dataset_kept_in_memory(const struct dpt_dataset *ds)
{
    int in = 0;
    for (size_t i = 0; i < ds->n_files; i++) {
        in |= dpt__file_keep_in_memory(ds->files[i]);
    }
    return in;
}

int dpt_dataset_keep_errno(const struct dpt_dataset *ds)
{
    int e = 0;
    for (size_t i = 0; i < ds->n_files && !e; i++) {
        e = dpt__file_keep_errno(ds->files[i]);
    }
    return e;
}

const char *dpt_dataset_kept_in(const struct dpt_dataset *ds)
{
    return ds->kept_in;
}

uint64_t dpt_dataset_inflated_bytes(const struct dpt_dataset *ds)
{
    uint64_t n = 0;
    for (size_t i = 0; i < ds->n_files; i++) {
        n += dpt__file_inflated_bytes(ds->files[i]);
    }
    return n;
}

uint64_t dpt_dataset_reader_bytes(const struct dpt_dataset *ds)
{
    uint64_t n = 0;
    for (size_t i = 0; i < ds->n_files; i++) {
        n += dpt__file_reader_bytes(ds->files[i]);
    }
    return n;
}

void dpt_dataset_no_direct(struct dpt_dataset *ds)
{
    for (size_t i = 0; i < ds->n_files; i++) {
        dpt__file_no_direct(ds->files[i]);
    }
}

int dpt_dataset_check_memory(const struct dpt_dataset *ds, uint64_t need, const char *what,
                             struct dpt_err *err)
{
    return dpt__file_check_memory(ds->files[0], need, what, err);
}

uint64_t dpt_dataset_rows_read(const struct dpt_dataset *ds)
{
    uint64_t n = 0;
    for (size_t i = 0; i < ds->n_files; i++) {
        n += dpt__file_rows_read(ds->files[i]);
    }
    return n;
}

/* ---- Reading ---- */

int dpt_dataset_read(struct dpt_dataset *ds, const uint64_t *rows, size_t n, float *x,
                     float *y, struct dpt_err *err)
{
    if (ds->n_files == 1 || n == 0) {
        return dpt__file_read(ds->files[0], rows, n, x, y, err);
    }
    /* The cut into files below relies on sorted rows, the caller's promise
     * (the shard sorts them), checked as one file checks it. */
    for (size_t i = 1; i < n; i++) {
        if (rows[i] <= rows[i - 1]) {
            return dpt_err_set(err, DPT_EINVAL, "%s: rows to read must be strictly increasing: "
                               "rows[%zu] = %" PRIu64 " follows rows[%zu] = %" PRIu64,
                               ds->shown, i, rows[i], i - 1, rows[i - 1]);
        }
    }
    if (rows[n - 1] >= ds->n) {
        return dpt_err_set(err, DPT_EINVAL, "%s: row %" PRIu64 " is out of range: the data set "
                           "has %" PRIu64 " rows", ds->shown, rows[n - 1], ds->n);
    }
    if (n > ds->local_cap) {
        uint64_t *grown = realloc(ds->local, n * sizeof *grown);
        if (!grown) {
            return dpt_err_set(err, DPT_ENOMEM, "%s: out of memory", ds->shown);
        }
        ds->local = grown;
        ds->local_cap = n;
    }
    uint64_t F = dpt_dataset_features(ds), yc = dpt_dataset_y_cols(ds);
    for (size_t i = 0, j; i < n; i = j) {
        uint64_t first;
        size_t k = dpt_dataset_locate(ds, rows[i], &first);
        for (j = i; j < n && rows[j] < ds->start[k + 1]; j++) {
            ds->local[j - i] = rows[j] - ds->start[k];
        }
        int rc = dpt__file_read(ds->files[k], ds->local, j - i, x + i * F,
                                y ? y + i * yc : NULL, err);
        if (rc < 0) {
            return rc;
        }
    }
    return 0;
}

/* What one file reads of a range of the set's rows: a range of its own. */
typedef int (*range_fn)(struct dpt__file *f, int which, uint64_t first, size_t n, void *a,
                        void *b, struct dpt_err *err);

/* Runs fn over [first, first + n) of the set, cut at the files' borders;
 * a and b advance by a_row and b_row bytes per row. */
static int over_files(struct dpt_dataset *ds, uint64_t first, size_t n, range_fn fn, int which,
                      char *a, size_t a_row, char *b, size_t b_row, struct dpt_err *err)
{
    if (first >= ds->n || n > ds->n - first) {
        return dpt_err_set(err, DPT_EINVAL, "%s: rows [%" PRIu64 ", %" PRIu64 ") are out of "
                           "range: the data set has %" PRIu64 " rows", ds->shown, first,
                           first + n, ds->n);
    }
    for (size_t done = 0; done < n;) {
        uint64_t local;
        size_t k = dpt_dataset_locate(ds, first + done, &local);
        uint64_t left = ds->start[k + 1] - (first + done);
        size_t m = left < n - done ? (size_t)left : n - done;
        int rc = fn(ds->files[k], which, local, m, a + done * a_row, b ? b + done * b_row : NULL,
                    err);
        if (rc < 0) {
            return rc;
        }
        done += m;
    }
    return 0;
}

static int range_rows(struct dpt__file *f, int which, uint64_t first, size_t n, void *x, void *y,
                      struct dpt_err *err)
{
    (void)which;
    return dpt__file_read_range(f, first, n, x, y, err);
}

static int range_array(struct dpt__file *f, int which, uint64_t first, size_t n, void *v,
                       void *unused, struct dpt_err *err)
{
    (void)unused;
    return dpt__file_read_array(f, (enum dpt_array)which, first, n, v, err);
}

static int range_doubles(struct dpt__file *f, int which, uint64_t first, size_t n, void *v,
                         void *unused, struct dpt_err *err)
{
    (void)unused;
    return dpt__file_read_doubles(f, (enum dpt_array)which, first, n, v, err);
}

int dpt_dataset_read_range(struct dpt_dataset *ds, uint64_t first, size_t n, float *x,
                           float *y, struct dpt_err *err)
{
    if (ds->n_files == 1 || n == 0) {
        return dpt__file_read_range(ds->files[0], first, n, x, y, err);
    }
    return over_files(ds, first, n, range_rows, 0, (char *)x,
                      dpt_dataset_features(ds) * sizeof *x, (char *)y,
                      dpt_dataset_y_cols(ds) * sizeof *y, err);
}

/* Values per row of X or y. */
static size_t columns_of(const struct dpt_dataset *ds, enum dpt_array which)
{
    return which == DPT_ARRAY_Y ? dpt_dataset_y_cols(ds) : dpt_dataset_features(ds);
}

int dpt_dataset_read_array(struct dpt_dataset *ds, enum dpt_array which, uint64_t first,
                           size_t n, float *v, struct dpt_err *err)
{
    if (ds->n_files == 1 || n == 0) {
        return dpt__file_read_array(ds->files[0], which, first, n, v, err);
    }
    return over_files(ds, first, n, range_array, (int)which, (char *)v,
                      columns_of(ds, which) * sizeof *v, NULL, 0, err);
}

/* One pass over rows [first, first + n) of X or y in blocks, in double.
 * Each block is summed on its own before joining the total, which keeps the
 * rounding error near (block + N / block) ulps instead of N. The blocks
 * are the set's, not a file's, so that a set split into files sums as the
 * one file does. These reads do not count in rows_read. */
int dpt_dataset_moments(struct dpt_dataset *ds, enum dpt_array which, uint64_t first,
                        uint64_t n, const double *center, double *sum, double *sq, double *lo,
                        double *hi, struct dpt_err *err)
{
    int rc = 0;
    const size_t F = columns_of(ds, which);
    size_t block = STATS_BLOCK_VALUES / F;
    block = block < 1 ? 1 : block > STATS_BLOCK_ROWS ? STATS_BLOCK_ROWS : block;
    double *buf = malloc(block * F * sizeof *buf);
    double *part = malloc(2 * F * sizeof *part);
    if (!buf || !part) {
        rc = dpt_err_set(err, DPT_ENOMEM, "%s: out of memory for the statistics", ds->shown);
        goto done;
    }
    double *part2 = part + F;
    for (size_t j = 0; j < F; j++) {
        lo[j] = INFINITY;
        hi[j] = -INFINITY;
        sum[j] = sq[j] = 0.0;
    }
    for (uint64_t b = first; b < first + n; b += block) {
        size_t k = first + n - b < block ? (size_t)(first + n - b) : block;
        rc = ds->n_files == 1
                 ? dpt__file_read_doubles(ds->files[0], which, b, k, buf, err)
                 : over_files(ds, b, k, range_doubles, (int)which, (char *)buf,
                              F * sizeof *buf, NULL, 0, err);
        if (rc < 0) {
            goto done;
        }
        memset(part, 0, 2 * F * sizeof *part);
        for (size_t i = 0; i < k; i++) {
            const double *row = buf + i * F;
            for (size_t j = 0; j < F; j++) {
                if (!isfinite(row[j])) {
                    uint64_t local;
                    size_t f = dpt_dataset_locate(ds, b + i, &local);
                    rc = dpt__file_bad_value(ds->files[f], which, local, j, row[j], err);
                    goto done;
                }
                double d = row[j] - (center ? center[j] : 0.0);
                part[j] += d;
                part2[j] += d * d;
                lo[j] = row[j] < lo[j] ? row[j] : lo[j];
                hi[j] = row[j] > hi[j] ? row[j] : hi[j];
            }
        }
        for (size_t j = 0; j < F; j++) {
            sum[j] += part[j];
            sq[j] += part2[j];
        }
    }
done:
    free(part);
    free(buf);
    return rc;
}
