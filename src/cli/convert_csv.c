/* `dptrain convert` from CSV, in two passes over the file so that memory
 * stays bounded whatever its size and the output can be contiguous (its
 * shape is known before the first value is written):
 *
 *   1. reading: every record is parsed and checked (field counts, numbers,
 *      missing values, the label's type); rows are counted and, for
 *      --fill-missing mean, each feature's values summed. Any refusal comes
 *      here, before an output file exists.
 *   2. writing: the file again, each row into a block of X (float32 [N, F])
 *      and y (int64 [N] for integer labels, float32 [N] otherwise), written
 *      when full.
 *
 * Features are stored as float32 because that is what dptrain computes
 * with; numbers are parsed with strtod (correctly rounded), then rounded to
 * float32 once, as numpy's astype(float32) does.
 */
#include "config.h"

#include "cli/convert.h"
#include "data/csv.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct scan {
    struct dpt_csv *csv;
    size_t ncols, label, F; /* label == ncols: none */
    char **names;           /* the header's names, or NULL */
    uint64_t header_line, first_line, rows;
    int int_labels; /* every label written as an integer */
    double *sum;    /* per feature: sum and count of its values (mean fill) */
    uint64_t *cnt;
    float *fill; /* per feature: the value of a missing one */
};

/* "column 'age' (index 2)" or "column index 2". */
static const char *col_name(const struct scan *s, size_t j, char *buf, size_t len)
{
    if (s->names) {
        snprintf(buf, len, "column '%s' (index %zu)", s->names[j], j);
    } else {
        snprintf(buf, len, "column index %zu", j);
    }
    return buf;
}

/* The --label column: a header name, else an index from 0 (negative from
 * the end); by default the last column. */
static int find_label(struct cli_convert_run *r, struct scan *s, struct dpt_err *err)
{
    const char *in = r->o.in, *l = r->o.label;
    s->label = r->o.no_label ? s->ncols : s->ncols - 1;
    if (!l || r->o.no_label) {
        return 0;
    }
    for (size_t j = 0; s->names && j < s->ncols; j++) {
        if (strcmp(s->names[j], l) == 0) {
            s->label = j;
            return 0;
        }
    }
    char *end;
    long v = strtol(l, &end, 10);
    if (*end != '\0' || end == l) {
        if (!s->names) {
            return dpt_err_set(err, DPT_EFORMAT, "%s: --label '%s': the file has no header to "
                               "find that name in; give the column's index", in, l);
        }
        char list[1024] = "";
        for (size_t j = 0; j < s->ncols && strlen(list) < sizeof list - 64; j++) {
            snprintf(list + strlen(list), sizeof list - strlen(list), "%s%s", j ? ", " : "",
                     s->names[j]);
        }
        return dpt_err_set(err, DPT_EFORMAT, "%s: --label '%s': no such column (the header "
                           "has: %s)", in, l, list);
    }
    long n = (long)s->ncols;
    if (v < -n || v >= n) {
        return dpt_err_set(err, DPT_EFORMAT, "%s: --label %ld: the file has %ld columns "
                           "(indices 0 to %ld, or -%ld to -1)", in, v, n, n - 1, n);
    }
    s->label = (size_t)(v < 0 ? v + n : v);
    return 0;
}

/* The first record: its field count is every row's; it is the header when
 * --header says so or, by default, when any field is text (neither a
 * number nor a missing value). */
static int first_record(struct cli_convert_run *r, struct scan *s, struct dpt_err *err)
{
    char **f;
    size_t n;
    int rc = dpt_csv_next(s->csv, &f, &n, err);
    if (rc == 0) {
        return dpt_err_set(err, DPT_EFORMAT, "%s: no records (an empty file)", r->o.in);
    }
    if (rc < 0) {
        return rc;
    }
    s->ncols = n;
    s->first_line = dpt_csv_line(s->csv);
    int header = r->o.header;
    for (size_t j = 0; header < 0 && j < n; j++) {
        if (dpt_csv_value(f[j], NULL, NULL, NULL) == DPT_CSV_TEXT) {
            header = 1;
        }
    }
    if (header == 1) {
        s->header_line = s->first_line;
        s->names = calloc(n, sizeof *s->names);
        for (size_t j = 0; s->names && j < n; j++) {
            if (!(s->names[j] = strdup(f[j]))) {
                return dpt_err_set(err, DPT_ENOMEM, "out of memory");
            }
        }
        if (!s->names) {
            return dpt_err_set(err, DPT_ENOMEM, "out of memory");
        }
    }
    if ((rc = find_label(r, s, err)) < 0) {
        return rc;
    }
    s->F = n - (s->label < n ? 1 : 0);
    if (s->F == 0) {
        return dpt_err_set(err, DPT_EFORMAT, "%s: one column, the label: no features left",
                           r->o.in);
    }
    s->sum = calloc(s->F, sizeof *s->sum);
    s->cnt = calloc(s->F, sizeof *s->cnt);
    s->fill = calloc(s->F, sizeof *s->fill);
    if (!s->sum || !s->cnt || !s->fill) {
        return dpt_err_set(err, DPT_ENOMEM, "out of memory");
    }
    s->int_labels = 1;
    return header == 1 ? 0 : 1; /* 1: the record is data */
}

/* One label: checked in pass 1 (y NULL), stored in pass 2. */
static int put_label(struct cli_convert_run *r, struct scan *s, const char *text, void *y,
                     uint64_t at, struct dpt_err *err)
{
    char where[512], cn[300];
    snprintf(where, sizeof where, "%s: line %llu, label %s", r->o.in,
             (unsigned long long)dpt_csv_line(s->csv), col_name(s, s->label, cn, sizeof cn));
    double v = 0;
    int is_int = 0;
    int64_t i = 0;
    switch (dpt_csv_value(text, &v, &is_int, &i)) {
    case DPT_CSV_MISSING:
        return dpt_err_set(err, DPT_EFORMAT, "%s: missing label ('%s'); labels are never "
                           "filled: remove the row", where, text);
    case DPT_CSV_TEXT:
        return dpt_err_set(err, DPT_EFORMAT, "%s: '%.60s' is not a number", where, text);
    case DPT_CSV_INFINITE:
        return dpt_err_set(err, DPT_EFORMAT, "%s: '%.60s' is not a finite number", where, text);
    case DPT_CSV_NUMBER:
        break;
    }
    if (!y) {
        s->int_labels &= is_int;
        if (r->o.label_type == 'i' && !is_int && (v != floor(v) || fabs(v) >= 0x1p63)) {
            return dpt_err_set(err, DPT_EFORMAT, "%s: '%.60s' is not an integer (--label-type "
                               "int)", where, text);
        }
    } else if (r->o.label_type == 'i' || (r->o.label_type == 0 && s->int_labels)) {
        ((int64_t *)y)[at] = is_int ? i : (int64_t)v;
    } else {
        ((float *)y)[at] = (float)v;
    }
    return 0;
}

/* One record: pass 1 (x NULL) checks it and sums its features; pass 2
 * puts its features in x (F floats) and its label at y[at]. */
static int parse_row(struct cli_convert_run *r, struct scan *s, char **f, size_t n, float *x,
                     void *y, uint64_t at, struct dpt_err *err)
{
    unsigned long long line = (unsigned long long)dpt_csv_line(s->csv);
    if (n != s->ncols) {
        return dpt_err_set(err, DPT_EFORMAT, "%s: line %llu: %zu fields, expected %zu (as on "
                           "line %llu)", r->o.in, line, n, s->ncols,
                           (unsigned long long)s->first_line);
    }
    for (size_t j = 0, k = 0; j < n; j++) {
        if (j == s->label) {
            int rc = put_label(r, s, f[j], y, at, err);
            if (rc < 0) {
                return rc;
            }
            continue;
        }
        double v = 0;
        char cn[300];
        switch (dpt_csv_value(f[j], &v, NULL, NULL)) {
        case DPT_CSV_NUMBER:
            if (x) {
                x[k] = (float)v;
            } else {
                s->sum[k] += v;
                s->cnt[k]++;
            }
            break;
        case DPT_CSV_MISSING:
            if (r->o.fill == FILL_REFUSE) {
                return dpt_err_set(err, DPT_EFORMAT, "%s: line %llu, %s: missing value ('%s'); "
                                   "--fill-missing VALUE or --fill-missing mean fills it",
                                   r->o.in, line, col_name(s, j, cn, sizeof cn), f[j]);
            }
            if (x) {
                x[k] = s->fill[k];
            }
            break;
        case DPT_CSV_INFINITE:
            return dpt_err_set(err, DPT_EFORMAT, "%s: line %llu, %s: '%.60s' is not a finite "
                               "number", r->o.in, line, col_name(s, j, cn, sizeof cn), f[j]);
        case DPT_CSV_TEXT:
            return dpt_err_set(err, DPT_EFORMAT, "%s: line %llu, %s: '%.60s' is not a number",
                               r->o.in, line, col_name(s, j, cn, sizeof cn), f[j]);
        }
        k++;
    }
    return 0;
}

static int stopped(struct dpt_err *err)
{
    int sig = dpt_stop_requested();
    return sig ? dpt_err_set(err, DPT_ESIGNAL, "stopped by a signal (%d)", sig) : 0;
}

/* Pass 1: every record checked, rows counted, the fill values set. */
static int scan_pass(struct cli_convert_run *r, struct scan *s, struct dpt_err *err)
{
    int rc = first_record(r, s, err);
    if (rc < 0) {
        return rc;
    }
    if (rc == 1) {
        /* The first record is data: check it like the others. */
        dpt_csv_rewind(s->csv, err);
    }
    char **f;
    size_t n;
    while ((rc = dpt_csv_next(s->csv, &f, &n, err)) == 1) {
        if ((rc = parse_row(r, s, f, n, NULL, NULL, 0, err)) < 0) {
            return rc;
        }
        if (++s->rows % 65536 == 0) {
            cli_convert_progress(r, "reading", dpt_csv_offset(s->csv), 2 * dpt_csv_size(s->csv));
            if ((rc = stopped(err)) < 0) {
                return rc;
            }
        }
    }
    if (rc < 0) {
        return rc;
    }
    if (s->rows == 0) {
        return dpt_err_set(err, DPT_EFORMAT, "%s: a header and no rows of data", r->o.in);
    }
    for (size_t k = 0, j = 0; k < s->F; k++, j++) {
        j += j == s->label;
        if (r->o.fill == FILL_MEAN && s->cnt[k] == 0) {
            char cn[300];
            return dpt_err_set(err, DPT_EFORMAT, "%s: %s: every value is missing: no mean to "
                               "fill with", r->o.in, col_name(s, j, cn, sizeof cn));
        }
        s->fill[k] = (float)(r->o.fill == FILL_MEAN ? s->sum[k] / (double)s->cnt[k]
                                                    : r->o.fill_value);
    }
    return 0;
}

/* Creates X and y in the temporary file; their indices in the writer. */
static int create_sets(struct cli_convert_run *r, const struct scan *s, int *xi, int *yi,
                       int int_y, struct dpt_err *err)
{
    int rc = cli_convert_create(r, err);
    uint64_t xd[2] = {s->rows, s->F};
    if (rc == 0) {
        rc = *xi = dpt_h5out_dataset(r->w, "X", H5T_IEEE_F32LE, 2, xd,
                                     cli_convert_chunk_rows(r, s->F * 4, s->rows), r->o.level, err);
    }
    if (rc >= 0 && s->label < s->ncols) {
        rc = *yi = dpt_h5out_dataset(r->w, "y", int_y ? H5T_STD_I64LE : H5T_IEEE_F32LE, 1,
                                     xd, cli_convert_chunk_rows(r, s->F * 4, s->rows), r->o.level,
                                     err);
    }
    snprintf(r->summary, sizeof r->summary, "X [%llu, %zu] float32", (unsigned long long)s->rows,
             s->F);
    if (s->label < s->ncols) {
        snprintf(r->summary + strlen(r->summary), sizeof r->summary - strlen(r->summary),
                 ", y [%llu] %s", (unsigned long long)s->rows, int_y ? "int64" : "float32");
    }
    return rc < 0 ? rc : 0;
}

/* Pass 2: the rows again, written a block at a time. */
static int write_pass(struct cli_convert_run *r, struct scan *s, struct dpt_err *err)
{
    int int_y = r->o.label_type == 'i' || (r->o.label_type == 0 && s->int_labels);
    int xi = -1, yi = -1;
    int rc = create_sets(r, s, &xi, &yi, int_y, err);
    uint64_t B = cli_convert_block_rows(r, s->F * 4, s->rows);
    float *x = rc == 0 ? malloc(B * s->F * sizeof *x) : NULL;
    void *y = rc == 0 ? malloc(B * 8) : NULL;
    if (rc == 0 && (!x || !y)) {
        rc = dpt_err_set(err, DPT_ENOMEM, "out of memory for a block of %llu rows",
                         (unsigned long long)B);
    }
    if (rc == 0) {
        rc = dpt_csv_rewind(s->csv, err);
    }
    char **f;
    size_t n;
    if (rc == 0 && s->header_line) {
        rc = dpt_csv_next(s->csv, &f, &n, err) < 0 ? -1 : 0;
    }
    for (uint64_t row = 0, at = 0; rc == 0 && row < s->rows; row += at, at = 0) {
        while (at < B && row + at < s->rows && (rc = dpt_csv_next(s->csv, &f, &n, err)) == 1) {
            rc = parse_row(r, s, f, n, x + at * s->F, y, at, err);
            if (rc < 0) {
                break;
            }
            at++;
        }
        if (rc == 0 && at == 0) {
            rc = dpt_err_set(err, DPT_EIO, "%s: the file became shorter while it was read",
                             r->o.in);
        }
        if (rc >= 0) {
            rc = dpt_h5out_write(r->w, xi, row, at, H5T_NATIVE_FLOAT, x, err);
        }
        if (rc == 0 && yi >= 0) {
            rc = dpt_h5out_write(r->w, yi, row, at, int_y ? H5T_NATIVE_INT64 : H5T_NATIVE_FLOAT,
                                 y, err);
        }
        if (rc == 0) {
            rc = stopped(err);
        }
        cli_convert_progress(r, "writing", dpt_csv_size(s->csv) + dpt_csv_offset(s->csv),
                         2 * dpt_csv_size(s->csv));
    }
    free(x);
    free(y);
    return rc;
}

int cli_convert_csv(struct cli_convert_run *r, struct dpt_err *err)
{
    struct scan s = {0};
    int rc = dpt_csv_open(&s.csv, r->o.in, r->o.delim, err);
    if (rc == 0) {
        rc = scan_pass(r, &s, err);
    }
    if (rc == 0) {
        rc = write_pass(r, &s, err);
    }
    for (size_t j = 0; s.names && j < s.ncols; j++) {
        free(s.names[j]);
    }
    free(s.names);
    free(s.sum);
    free(s.cnt);
    free(s.fill);
    dpt_csv_close(s.csv);
    return rc;
}
