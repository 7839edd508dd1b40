/* `dptrain convert` from CSV, in two passes over the file so that memory
 * stays bounded whatever its size and the output can be contiguous (its
 * shape is known before the first value is written):
 *
 *   1. reading: every record is parsed and checked (field counts, numbers,
 *      missing values, the label's type); rows are counted and, for
 *      --fill-missing mean, each feature's values summed. Any refusal comes
 *      here, before an output file exists.
 *   2. writing: the file again, each row into a block of X (float32 [N, F])
 *      and y (int64 [N] for integer labels or class names, float32 [N]
 *      otherwise), written when full.
 *
 * A bad value (not a number, infinite, or missing without --fill-missing)
 * does not stop pass 1: the first BAD_SHOWN are listed in one message with
 * the count of all, so that a user fixes the file in one go; a column of
 * words (a city) is refused as one column instead, with --drop and one-hot
 * encoding as the ways out, not as a bad value per row. Text labels
 * are class names: y holds each one's index in the sorted list of names
 * (byte order, so that a train and a test file give the same numbers), or
 * in --classes' list, and y's attribute `classes` holds the names; X's
 * attribute `columns` holds the header's names of the features, in order,
 * so that a file whose columns come in another order is refused by what
 * reads it against a model rather than scored by position. A first
 * column with no name in the header is the index pandas' to_csv writes by
 * default, and is dropped unless --keep-index.
 *
 * Features are stored as float32 because that is what dptrain computes
 * with; numbers are parsed with strtod (correctly rounded), then rounded to
 * float32 once, as numpy's astype(float32) does.
 */
#include "config.h"

#include "cli/convert.h"
#include "data/csv.h"
#include "util/h5.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Bad values listed in the one message that refuses them. */
#define BAD_SHOWN 10
/* Distinct text labels beyond this are a column of names or ids, not
 * classes: refused (and the sorted insertion stays cheap). */
#define CLASSES_MAX 10000

struct bad_field {
    uint64_t line;
    size_t col;
    enum dpt_csv_kind kind;
    char text[64];
};

/* Per feature: its text values (neither numbers nor missing) and bad
 * values of any kind, and where text first appears. A column with more
 * text than numbers, and text at least twice, holds words (a city, a
 * colour), not mistyped numbers: it is refused as a whole (text_error)
 * rather than cell by cell. One text value alone (a one-row file) says
 * nothing of the column and stays a bad value. */
struct text_col {
    uint64_t text, bad, line;
    char first[64];
};

struct class_name {
    char *name;
    int64_t id; /* the value in y */
};

struct scan {
    struct dpt_csv *csv;
    size_t ncols, label, F; /* label == ncols: none */
    size_t skip;            /* pandas' index column, dropped; ncols: none */
    unsigned char *dropped; /* per column: 1 for skip and the columns of --drop */
    size_t n_dropped;
    char hint;              /* a delimiter inside a one-column file's first record, or 0 */
    char other;             /* ';', tab or '|' in the first record (any width), or 0 */
    char **names;           /* the header's names, or NULL */
    uint64_t header_line, first_line, rows;
    int int_labels; /* every label written as an integer */
    double *sum;    /* per feature: sum and count of its values (mean fill) */
    uint64_t *cnt;
    uint64_t *filled; /* per feature: missing values filled */
    float *fill;      /* per feature: the value of a missing one */
    struct text_col *text_cols; /* per feature */
    struct bad_field bad[BAD_SHOWN];
    uint64_t n_bad;
    /* Class names, sorted by name; fixed by --classes, else collected. */
    struct class_name *classes;
    size_t n_classes;
    int fixed_classes;
    uint64_t text_line, number_line; /* the first text label and number label */
    char text_label[64], number_label[64];
};

/* "; use --delimiter ';'" when a one-column file looks split by another
 * delimiter, else "". */
static const char *delim_hint(const struct scan *s, char *buf, size_t len)
{
    if (!s->hint) {
        return "";
    }
    if (s->hint == '\t') {
        snprintf(buf, len, "; use --delimiter tab");
    } else {
        snprintf(buf, len, "; use --delimiter '%c'", s->hint);
    }
    return buf;
}

/* "; line 1 holds ';': if that separates the fields, use --delimiter ';'
 * ..." when the first record of a ','-separated reading holds another
 * delimiter (a European file: ';' between fields, decimal commas), else
 * "". */
static const char *other_hint(const struct scan *s, char *buf, size_t len)
{
    if (!s->other) {
        return "";
    }
    snprintf(buf, len, "; line %llu holds '%s': if that separates the fields, use "
             "--delimiter %s%s", (unsigned long long)s->first_line,
             s->other == '\t' ? "\\t" : s->other == ';' ? ";" : "|",
             s->other == '\t' ? "tab" : s->other == ';' ? "';'" : "'|'",
             s->other == ';' ? " (and --decimal-comma for numbers like 6,705)" : "");
    return buf;
}

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

/* The column that `name` (a header name, else an index from 0, negative
 * from the end) gives for option opt ("--label"), into *col. A name that
 * several columns of the header have is refused: which one was meant? */
static int find_column(const struct cli_convert_run *r, const struct scan *s, const char *opt,
                       const char *name, size_t *col, struct dpt_err *err)
{
    const char *in = r->o.in;
    size_t found = 0;
    char same[256] = "";
    for (size_t j = 0; s->names && j < s->ncols; j++) {
        if (strcmp(s->names[j], name) == 0) {
            *col = j;
            snprintf(same + strlen(same), sizeof same - strlen(same), "%s%zu",
                     found++ ? ", " : "", j);
        }
    }
    if (found > 1) {
        return dpt_err_set(err, DPT_EFORMAT, "%s: %s '%s': %zu columns of the header have that "
                           "name (indices %s); give the index of the one you mean", in, opt,
                           name, found, same);
    }
    if (found == 1) {
        return 0;
    }
    char *end;
    long v = strtol(name, &end, 10);
    if (*end != '\0' || end == name) {
        if (!s->names) {
            return dpt_err_set(err, DPT_EFORMAT, "%s: %s '%s': the file has no header to "
                               "find that name in; give the column's index", in, opt, name);
        }
        char list[1024] = "";
        for (size_t j = 0; j < s->ncols && strlen(list) < sizeof list - 64; j++) {
            snprintf(list + strlen(list), sizeof list - strlen(list), "%s'%s'", j ? ", " : "",
                     s->names[j]);
        }
        char h[32];
        return dpt_err_set(err, DPT_EFORMAT, "%s: %s '%s': no such column (the header has: "
                           "%s)%s", in, opt, name, list, delim_hint(s, h, sizeof h));
    }
    long n = (long)s->ncols;
    if (v < -n || v >= n) {
        char h[32];
        return dpt_err_set(err, DPT_EFORMAT, "%s: %s %ld: the file has %ld columns "
                           "(indices 0 to %ld, or -%ld to -1)%s", in, opt, v, n, n - 1, n,
                           delim_hint(s, h, sizeof h));
    }
    *col = (size_t)(v < 0 ? v + n : v);
    return 0;
}

/* The --label column (by default the last one), then the columns --drop
 * leaves out (s->dropped, with pandas' index). */
static int find_label(struct cli_convert_run *r, struct scan *s, struct dpt_err *err)
{
    const char *in = r->o.in, *l = r->o.label;
    s->label = r->o.no_label ? s->ncols : s->ncols - 1;
    if (l && !r->o.no_label) {
        int rc = find_column(r, s, "--label", l, &s->label, err);
        if (rc < 0) {
            return rc;
        }
        if (s->label == s->skip) {
            return dpt_err_set(err, DPT_EFORMAT, "%s: --label %s: the column with no name, "
                               "pandas' index, which convert drops; --keep-index keeps it", in,
                               l);
        }
    }
    s->dropped = calloc(s->ncols, 1);
    if (!s->dropped) {
        return dpt_err_set(err, DPT_ENOMEM, "out of memory");
    }
    if (s->skip < s->ncols) {
        s->dropped[s->skip] = 1;
    }
    char *list = r->o.drop ? strdup(r->o.drop) : NULL, *save = NULL;
    if (r->o.drop && !list) {
        return dpt_err_set(err, DPT_ENOMEM, "out of memory");
    }
    int rc = 0;
    char shown[512] = "";
    for (char *name = list ? strtok_r(list, ",", &save) : NULL; rc == 0 && name;
         name = strtok_r(NULL, ",", &save)) {
        size_t j = 0;
        rc = find_column(r, s, "--drop", name, &j, err);
        if (rc == 0 && j == s->label) {
            rc = dpt_err_set(err, DPT_EFORMAT, "%s: --drop %s: that is the label column; "
                             "--no-label writes no labels", in, name);
        }
        if (rc == 0 && !s->dropped[j]) {
            char cn[300];
            s->dropped[j] = 1;
            s->n_dropped++;
            snprintf(shown + strlen(shown), sizeof shown - strlen(shown), "%s%s",
                     s->n_dropped > 1 ? ", " : "", col_name(s, j, cn, sizeof cn));
        }
    }
    free(list);
    if (rc == 0 && s->n_dropped) {
        cli_convert_note(r, "%s: left out (--drop): %s", in, shown);
    }
    return rc;
}

/* With --decimal-comma: the field's decimal comma made a point, in place
 * (the field is the parser's copy), so that it reads as a number. */
static void decimal_point(const struct cli_convert_run *r, char *field)
{
    char *c = r->o.decimal_comma ? strchr(field, ',') : NULL;
    if (c && !strchr(c + 1, ',')) {
        *c = '.';
    }
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
    s->ncols = s->skip = n;
    s->first_line = dpt_csv_line(s->csv);
    const char *other = n == 1 ? strpbrk(f[0], ";\t|") : NULL;
    s->hint = other ? *other : 0;
    for (size_t j = 0; r->o.delim == ',' && !s->other && j < n; j++) {
        const char *c = strpbrk(f[j], ";\t|");
        s->other = c ? *c : 0;
    }
    int header = r->o.header;
    for (size_t j = 0; header < 0 && j < n; j++) {
        char field[128];
        snprintf(field, sizeof field, "%s", f[j]);
        decimal_point(r, field);
        if (dpt_csv_value(field, NULL, NULL, NULL) == DPT_CSV_TEXT) {
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
        if (n > 1 && s->names[0][0] == '\0' && !r->o.keep_index) {
            s->skip = 0;
            cli_convert_note(r, "%s: the first column has no name in the header: the index "
                             "pandas' to_csv writes, dropped (--keep-index keeps it as a "
                             "feature)", r->o.in);
        }
    }
    if ((rc = find_label(r, s, err)) < 0) {
        return rc;
    }
    s->F = n - (s->label < n ? 1 : 0) - (s->skip < n ? 1 : 0) - s->n_dropped;
    if (s->F == 0) {
        char h[32];
        return dpt_err_set(err, DPT_EFORMAT, "%s: %s: no features left%s", r->o.in,
                           s->n_dropped ? "every column but the label is left out"
                           : n == 1     ? "one column, the label"
                                        : "two columns, pandas' index and the label",
                           delim_hint(s, h, sizeof h));
    }
    s->sum = calloc(s->F, sizeof *s->sum);
    s->cnt = calloc(s->F, sizeof *s->cnt);
    s->filled = calloc(s->F, sizeof *s->filled);
    s->fill = calloc(s->F, sizeof *s->fill);
    s->text_cols = calloc(s->F, sizeof *s->text_cols);
    if (!s->sum || !s->cnt || !s->filled || !s->fill || !s->text_cols) {
        return dpt_err_set(err, DPT_ENOMEM, "out of memory");
    }
    s->int_labels = 1;
    return header == 1 ? 0 : 1; /* 1: the record is data */
}

static int class_cmp(const void *a, const void *b)
{
    return strcmp(((const struct class_name *)a)->name, ((const struct class_name *)b)->name);
}

/* The class named `name`, or NULL. */
static struct class_name *find_class(const struct scan *s, const char *name)
{
    struct class_name key = {(char *)name, 0};
    return s->n_classes ? bsearch(&key, s->classes, s->n_classes, sizeof key, class_cmp)
                        : NULL;
}

/* Adds `name` (copied) in its sorted place, with the given id. */
static int add_class(struct scan *s, const char *name, int64_t id,
                     const char *where, struct dpt_err *err)
{
    if (s->n_classes == CLASSES_MAX) {
        return dpt_err_set(err, DPT_EFORMAT, "%s: more than %d distinct text labels: a "
                           "column of names or ids rather than classes? (--label COLUMN "
                           "names the label column)", where, CLASSES_MAX);
    }
    if (!s->classes && !(s->classes = calloc(CLASSES_MAX, sizeof *s->classes))) {
        return dpt_err_set(err, DPT_ENOMEM, "out of memory");
    }
    size_t lo = 0, hi = s->n_classes;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (strcmp(s->classes[mid].name, name) < 0) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    char *copy = strdup(name);
    if (!copy) {
        return dpt_err_set(err, DPT_ENOMEM, "out of memory");
    }
    memmove(s->classes + lo + 1, s->classes + lo, (s->n_classes - lo) * sizeof *s->classes);
    s->classes[lo] = (struct class_name){copy, id};
    s->n_classes++;
    return 0;
}

/* --classes A,B,C: the names in that order are 0, 1, 2. */
static int fixed_classes(struct cli_convert_run *r, struct scan *s, struct dpt_err *err)
{
    char *list = strdup(r->o.classes), *save = NULL;
    int rc = list ? 0 : dpt_err_set(err, DPT_ENOMEM, "out of memory");
    int64_t id = 0;
    for (char *c = list ? strtok_r(list, ",", &save) : NULL; rc == 0 && c;
         c = strtok_r(NULL, ",", &save)) {
        if (find_class(s, c)) {
            rc = dpt_err_set(err, DPT_EINVAL, "--classes: '%s' is listed twice", c);
        } else {
            rc = add_class(s, c, id++, "--classes", err);
        }
    }
    free(list);
    s->fixed_classes = 1;
    return rc;
}

/* The offset of the first byte of text that does not belong to well-formed
 * UTF-8 (overlong forms, surrogates and code points past U+10FFFF
 * included), or -1 when it is all UTF-8. */
static long utf8_bad_at(const char *text)
{
    const unsigned char *p = (const unsigned char *)text;
    for (long i = 0; p[i];) {
        unsigned c = p[i], n = c < 0x80 ? 0 : c >= 0xC2 && c <= 0xDF ? 1
                             : c >= 0xE0 && c <= 0xEF ? 2 : c >= 0xF0 && c <= 0xF4 ? 3 : 9;
        if (n == 9) {
            return i;
        }
        unsigned lo = c == 0xE0 ? 0xA0 : c == 0xF0 ? 0x90 : 0x80;
        unsigned hi = c == 0xED ? 0x9F : c == 0xF4 ? 0x8F : 0xBF;
        for (unsigned k = 1; k <= n; k++) {
            unsigned b = p[i + k];
            if (b < (k == 1 ? lo : 0x80) || b > (k == 1 ? hi : 0xBF)) {
                return i;
            }
        }
        i += 1 + (long)n;
    }
    return -1;
}

/* A label that is a class name: checked (and collected) in pass 1, its
 * class's id stored in pass 2. Class names are stored as UTF-8 text (y's
 * attribute classes): another encoding is refused. */
static int class_label(struct cli_convert_run *r, struct scan *s, const char *text, void *y,
                       uint64_t at, const char *where, struct dpt_err *err)
{
    struct class_name *c = find_class(s, text);
    if (y) {
        ((int64_t *)y)[at] = c->id; /* pass 1 saw every label */
        return 0;
    }
    if (!c && s->fixed_classes) {
        return dpt_err_set(err, DPT_EFORMAT, "%s: '%.60s' is not one of --classes (%.200s)",
                           where, text, r->o.classes);
    }
    long bad = c ? -1 : utf8_bad_at(text);
    if (bad >= 0) {
        return dpt_err_set(err, DPT_EFORMAT, "%s: the label is not UTF-8 text (byte 0x%02x at "
                           "offset %ld of it): save the file as UTF-8 (e.g. iconv -f latin1 "
                           "-t utf-8)", where, (unsigned char)text[bad], bad);
    }
    if (!s->text_line) {
        s->text_line = dpt_csv_line(s->csv);
        snprintf(s->text_label, sizeof s->text_label, "%.60s", text);
    }
    return c ? 0 : add_class(s, text, 0, where, err);
}

/* One label: checked in pass 1 (y NULL), stored in pass 2. Text makes it
 * a class name (also a number, with --classes); a missing label is
 * refused, never filled. */
static int put_label(struct cli_convert_run *r, struct scan *s, const char *text, void *y,
                     uint64_t at, struct dpt_err *err)
{
    char where[512], cn[300];
    snprintf(where, sizeof where, "%s: line %llu, label %s", r->o.in,
             (unsigned long long)dpt_csv_line(s->csv), col_name(s, s->label, cn, sizeof cn));
    double v = 0;
    int is_int = 0;
    int64_t i = 0;
    enum dpt_csv_kind kind = dpt_csv_value(text, &v, &is_int, &i);
    if (kind == DPT_CSV_MISSING) {
        return dpt_err_set(err, DPT_EFORMAT, "%s: missing label ('%s'); labels are never "
                           "filled: remove the row", where, text);
    }
    if (s->fixed_classes || (kind == DPT_CSV_TEXT && !r->o.label_type)) {
        return class_label(r, s, text, y, at, where, err);
    }
    if (kind == DPT_CSV_TEXT) {
        return dpt_err_set(err, DPT_EFORMAT, "%s: '%.60s' is not a number (--label-type; "
                           "without it, text labels are class names)", where, text);
    }
    if (kind == DPT_CSV_INFINITE) {
        return dpt_err_set(err, DPT_EFORMAT, "%s: '%.60s' is not a finite number", where, text);
    }
    if (!y) {
        s->int_labels &= is_int;
        if (!s->number_line) {
            s->number_line = dpt_csv_line(s->csv);
            snprintf(s->number_label, sizeof s->number_label, "%.60s", text);
        }
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

/* A bad value of feature k (column j), kept for the message of bad_error. */
static void keep_bad(struct scan *s, size_t k, size_t j, enum dpt_csv_kind kind,
                     const char *text)
{
    struct text_col *t = &s->text_cols[k];
    t->bad++;
    if (kind == DPT_CSV_TEXT && t->text++ == 0) {
        t->line = dpt_csv_line(s->csv);
        snprintf(t->first, sizeof t->first, "%.60s", text);
    }
    if (s->n_bad < BAD_SHOWN) {
        struct bad_field *b = &s->bad[s->n_bad];
        b->line = dpt_csv_line(s->csv);
        b->col = j;
        b->kind = kind;
        snprintf(b->text, sizeof b->text, "%.60s", text);
    }
    s->n_bad++;
}

/* One record: pass 1 (x NULL) checks it, sums its features and keeps its
 * bad values; pass 2 puts its features in x (F floats) and its label at
 * y[at]. */
static int parse_row(struct cli_convert_run *r, struct scan *s, char **f, size_t n, float *x,
                     void *y, uint64_t at, struct dpt_err *err)
{
    if (n != s->ncols) {
        char hint[160];
        return dpt_err_set(err, DPT_EFORMAT, "%s: line %llu: %zu fields, expected %zu (as on "
                           "line %llu)%s", r->o.in, (unsigned long long)dpt_csv_line(s->csv), n,
                           s->ncols, (unsigned long long)s->first_line,
                           other_hint(s, hint, sizeof hint));
    }
    for (size_t j = 0, k = 0; j < n; j++) {
        if (s->dropped[j]) {
            continue;
        }
        decimal_point(r, f[j]);
        if (j == s->label) {
            int rc = put_label(r, s, f[j], y, at, err);
            if (rc < 0) {
                return rc;
            }
            continue;
        }
        double v = 0;
        enum dpt_csv_kind kind = dpt_csv_value(f[j], &v, NULL, NULL);
        if (kind == DPT_CSV_NUMBER) {
            if (x) {
                x[k] = (float)v;
            } else {
                s->sum[k] += v;
                s->cnt[k]++;
            }
        } else if (kind == DPT_CSV_MISSING && r->o.fill != FILL_REFUSE) {
            if (x) {
                x[k] = s->fill[k];
            } else {
                s->filled[k]++;
            }
        } else if (!x) {
            keep_bad(s, k, j, kind, f[j]);
        }
        k++;
    }
    return 0;
}

/* What is wrong with bad value b: "line 3, column 'b' (index 1): '4x' is
 * not a number". */
static void bad_text(const struct scan *s, const struct bad_field *b, char *buf, size_t len)
{
    char cn[300];
    snprintf(buf, len, b->kind == DPT_CSV_MISSING ? "line %llu, %s: missing value ('%s')"
                       : b->kind == DPT_CSV_INFINITE ? "line %llu, %s: '%s' is not a finite number"
                                                     : "line %llu, %s: '%s' is not a number",
             (unsigned long long)b->line, col_name(s, b->col, cn, sizeof cn), b->text);
}

/* How --drop and pandas name column j: its header name when that is
 * plain and no other column has it, else its index. */
static void drop_name(const struct scan *s, size_t j, char *drop, size_t dlen, char *py,
                      size_t plen)
{
    const char *n = s->names ? s->names[j] : "";
    int plain = n[0] != '\0' && strspn(n, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                            "0123456789_.-") == strlen(n);
    for (size_t i = 0; plain && i < s->ncols; i++) {
        plain = i == j || strcmp(s->names[i], n) != 0;
    }
    if (plain) {
        snprintf(drop, dlen, "%s", n);
        snprintf(py, plen, "'%s'", n);
    } else {
        snprintf(drop, dlen, "%zu", j);
        snprintf(py, plen, s->names ? "df.columns[%zu]" : "%zu", j);
    }
}

/* The refusal of the columns that hold text (more text values than
 * numbers), when there are any: one message for all of them, with where
 * each one's text starts and the two ways out (--drop, or one-hot
 * encoding before converting); 0 when no column does. */
static int text_error(const struct cli_convert_run *r, const struct scan *s,
                      struct dpt_err *err)
{
    char list[900] = "", drop[400] = "", py[400] = "";
    size_t n = 0;
    uint64_t in_them = 0;
    for (size_t k = 0, j = 0; k < s->F; k++, j++) {
        while (j == s->label || s->dropped[j]) {
            j++;
        }
        const struct text_col *t = &s->text_cols[k];
        if (t->text < 2 || t->text <= s->cnt[k]) {
            continue;
        }
        char cn[300], d[300], p[300];
        size_t kl = strlen(list);
        if (n++ < BAD_SHOWN && kl + 400 < sizeof list) {
            snprintf(list + kl, sizeof list - kl, "\n  %s holds text: '%s' on line %llu (%llu "
                     "of its %llu values)", col_name(s, j, cn, sizeof cn),
                     t->first, (unsigned long long)t->line, (unsigned long long)t->text,
                     (unsigned long long)(s->cnt[k] + s->filled[k] + t->bad));
        }
        drop_name(s, j, d, sizeof d, p, sizeof p);
        if (strlen(drop) + strlen(d) + 8 < sizeof drop && strlen(py) + strlen(p) + 8 < sizeof py) {
            snprintf(drop + strlen(drop), sizeof drop - strlen(drop), "%s%s", n > 1 ? "," : "", d);
            snprintf(py + strlen(py), sizeof py - strlen(py), "%s%s", n > 1 ? ", " : "", p);
        }
        in_them += t->bad;
    }
    if (n == 0) {
        return 0;
    }
    char others[160] = "";
    if (s->n_bad > in_them) {
        snprintf(others, sizeof others, "; other columns hold %llu more bad value%s, listed "
                 "once %s out", (unsigned long long)(s->n_bad - in_them),
                 s->n_bad - in_them > 1 ? "s" : "", n > 1 ? "these are left" : "it is left");
    }
    char label[sizeof drop + 64] = "", hint[160];
    if (n == 1 && !r->o.label && !r->o.no_label) {
        snprintf(label, sizeof label, "; if it is the label (class names), --label %s", drop);
    }
    /* One column: one line; more: one indented line each, as bad values. */
    const char *them = n > 1 ? "them" : "it";
    return dpt_err_set(err, DPT_EFORMAT, "%s: %s%s%s%sconvert writes numbers only: leave %s "
                       "out with --drop %s, or one-hot encode %s before converting (pandas: "
                       "df = pd.get_dummies(df, columns=[%s], dtype=float))%s%s%s", r->o.in,
                       n > 1 ? "columns hold text, not numbers:" : "", n > 1 ? list : list + 3,
                       n > BAD_SHOWN ? "\n  ..." : "", n > 1 ? "\n  " : "; ", them, drop, them,
                       py, label, others,
                       other_hint(s, hint, sizeof hint));
}

/* The refusal of every bad value of pass 1: the first on the error line
 * (with how to fill, when missing), the next ones indented below it, and
 * the count of all. Columns of text are refused as such (text_error). */
static int bad_error(const struct cli_convert_run *r, const struct scan *s,
                     struct dpt_err *err)
{
    int rc = text_error(r, s, err);
    if (rc < 0) {
        return rc;
    }
    int missing = 0;
    for (uint64_t b = 0; b < s->n_bad && b < BAD_SHOWN; b++) {
        missing |= s->bad[b].kind == DPT_CSV_MISSING;
    }
    char first[512], more[1400] = "";
    bad_text(s, &s->bad[0], first, sizeof first);
    if (s->n_bad == 1 && missing) {
        snprintf(more, sizeof more, "; --fill-missing VALUE or --fill-missing mean fills it");
    } else if (s->n_bad > 1) {
        snprintf(more, sizeof more, "; %llu bad values in all%s:", (unsigned long long)s->n_bad,
                 missing ? " (--fill-missing VALUE or --fill-missing mean fills the missing "
                           "ones)" : "");
    }
    for (uint64_t b = 1; b < s->n_bad && b < BAD_SHOWN; b++) {
        char line[512];
        bad_text(s, &s->bad[b], line, sizeof line);
        size_t k = strlen(more);
        if (k + strlen(line) + 64 < sizeof more) {
            snprintf(more + k, sizeof more - k, "\n  %s", line);
        }
    }
    if (s->n_bad > BAD_SHOWN) {
        size_t k = strlen(more);
        snprintf(more + k, sizeof more - k, "\n  ... and %llu more",
                 (unsigned long long)(s->n_bad - BAD_SHOWN));
    }
    char hint[160];
    return dpt_err_set(err, DPT_EFORMAT, "%s: %s%s%s", r->o.in, first,
                       other_hint(s, hint, sizeof hint), more);
}

/* The notes on filled values: how many per column and with what (every
 * column filled, however many), and after a mean fill how to fill a test
 * file with the same values: a test file filled with its own means would
 * hold other values than its training file for the same gap. */
static int fill_notes(struct cli_convert_run *r, const struct scan *s, struct dpt_err *err)
{
    uint64_t filled = 0;
    char *list = NULL, cn[300];
    size_t len = 0;
    FILE *m = open_memstream(&list, &len);
    if (!m) {
        return dpt_err_set(err, DPT_ENOMEM, "out of memory");
    }
    for (size_t k = 0, j = 0; k < s->F; k++, j++) {
        while (j == s->label || s->dropped[j]) {
            j++;
        }
        if (s->filled[k]) {
            fprintf(m, "%s%s: %llu with %g", filled ? ", " : "", col_name(s, j, cn, sizeof cn),
                    (unsigned long long)s->filled[k], (double)s->fill[k]);
        }
        filled += s->filled[k];
    }
    fclose(m);
    if (filled) {
        cli_convert_note(r, "%s: filled %llu missing values (%s%s): %s", r->o.in,
                         (unsigned long long)filled,
                         r->o.fill == FILL_MEAN   ? "each column's mean"
                         : r->o.fill == FILL_FROM ? "the values of "
                                                  : "--fill-missing",
                         r->o.fill == FILL_FROM ? r->o.fill_from : "", list);
    }
    if (r->o.fill == FILL_MEAN) {
        cli_convert_note(r, "%s: each column's mean is kept in %s (X's attribute fill_values); "
                         "fill a test file with the same values: dptrain convert TEST.csv "
                         "TEST.h5 --fill-from %s", r->o.in, r->o.out, r->o.out);
    }
    free(list);
    return 0;
}

/* After pass 1: labels that are all numbers or all class names (ids in
 * byte order of the names unless --classes), and the notes on classes
 * and filled values. */
static int finish_scan(struct cli_convert_run *r, struct scan *s, struct dpt_err *err)
{
    char cn[300];
    if (s->text_line && s->number_line && !s->fixed_classes) {
        return dpt_err_set(err, DPT_EFORMAT, "%s: label %s holds numbers (line %llu: '%s') "
                           "and text (line %llu: '%s'); fix the rows, or give --classes with "
                           "every label's name to read each one as a class name", r->o.in,
                           col_name(s, s->label, cn, sizeof cn),
                           (unsigned long long)s->number_line, s->number_label,
                           (unsigned long long)s->text_line, s->text_label);
    }
    for (size_t c = 0; c < s->n_classes && !s->fixed_classes; c++) {
        s->classes[c].id = (int64_t)c;
    }
    if (s->n_classes > 0) {
        char list[1024] = "";
        for (int64_t id = 0; id < (int64_t)s->n_classes && strlen(list) < 600; id++) {
            for (size_t c = 0; c < s->n_classes; c++) {
                if (s->classes[c].id == id) {
                    snprintf(list + strlen(list), sizeof list - strlen(list), "%s%lld %.60s",
                             id ? ", " : "", (long long)id, s->classes[c].name);
                }
            }
        }
        cli_convert_note(r, "%s: label %s: %zu classes, y = %s%s", r->o.in,
                         col_name(s, s->label, cn, sizeof cn), s->n_classes, list,
                         strlen(list) >= 600 ? ", ... (dptrain inspect lists them)" : "");
    }
    return fill_notes(r, s, err);
}

/* The fill values of --fill-from's file: its X's attribute fill_values
 * (float32, one per feature column, as written below) into *v (malloc'ed)
 * and its X's attribute columns, when there, into *names; *n values. */
static int read_fill_values(const char *path, float **v, size_t *n, char ***names,
                            size_t *n_names, struct dpt_err *err)
{
    struct dpt__h5_quiet quiet;
    dpt__h5_quiet_begin(&quiet);
    dpt__h5_reading(&quiet, path);
    hid_t f = H5Fis_hdf5(path) > 0 ? H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT) : -1;
    hid_t x = f >= 0 && H5Lexists(f, "X", H5P_DEFAULT) > 0 ? H5Dopen2(f, "X", H5P_DEFAULT) : -1;
    hid_t a = x >= 0 && H5Aexists(x, "fill_values") > 0 ? H5Aopen(x, "fill_values", H5P_DEFAULT)
                                                         : -1;
    hid_t sp = a >= 0 ? H5Aget_space(a) : -1;
    hssize_t k = sp >= 0 ? H5Sget_simple_extent_npoints(sp) : -1;
    *v = k > 0 ? malloc((size_t)k * sizeof **v) : NULL;
    int rc = 0;
    if (f < 0) {
        rc = dpt_err_set(err, DPT_EIO, "--fill-from %s: cannot read it as an HDF5 file (no such "
                         "file, or not HDF5)", path);
    } else if (!*v || H5Aread(a, H5T_NATIVE_FLOAT, *v) < 0) {
        rc = dpt_err_set(err, DPT_EFORMAT, "--fill-from %s: its X holds no fill values (the "
                         "attribute fill_values that dptrain convert --fill-missing writes): "
                         "convert the training file with --fill-missing mean", path);
    } else if (dpt__h5_read_strings_attr(x, "columns", names, n_names) < 0) {
        rc = dpt_err_set(err, DPT_EFORMAT, "--fill-from %s: X's attribute columns is "
                         "unreadable", path);
    }
    *n = rc == 0 ? (size_t)k : 0;
    if (sp >= 0) {
        H5Sclose(sp);
    }
    if (a >= 0) {
        H5Aclose(a);
    }
    if (x >= 0) {
        H5Dclose(x);
    }
    if (f >= 0) {
        H5Fclose(f);
    }
    dpt__h5_quiet_end(&quiet);
    return rc;
}

/* --fill-from TRAIN.h5: each feature's fill value is the one TRAIN.h5's X
 * was filled with, found by the header's name when both files have names
 * (a test file whose columns come in another order still gets each
 * column's own value), else by position. */
static int fill_from(struct cli_convert_run *r, struct scan *s, struct dpt_err *err)
{
    const char *path = r->o.fill_from;
    float *v = NULL;
    char **names = NULL;
    size_t n = 0, n_names = 0;
    int rc = read_fill_values(path, &v, &n, &names, &n_names, err);
    int by_name = rc == 0 && s->names && names && n_names == n;
    if (rc == 0 && !by_name && n != s->F) {
        rc = dpt_err_set(err, DPT_EFORMAT, "%s: --fill-from %s: it holds %zu fill values, one "
                         "per feature column, and %s has %zu feature columns", r->o.in, path, n,
                         r->o.in, s->F);
    }
    for (size_t k = 0, j = 0; rc == 0 && k < s->F; k++, j++) {
        while (j == s->label || s->dropped[j]) {
            j++;
        }
        size_t i = by_name ? 0 : k;
        while (by_name && i < n && strcmp(names[i], s->names[j]) != 0) {
            i++;
        }
        if (i == n) {
            char cn[300];
            rc = dpt_err_set(err, DPT_EFORMAT, "%s: %s is not among the columns of --fill-from "
                             "%s, so it has no fill value there (X's attribute columns lists "
                             "them; --drop leaves a column out)", r->o.in,
                             col_name(s, j, cn, sizeof cn), path);
        } else {
            s->fill[k] = v[i];
        }
    }
    dpt__h5_free_strings(names, n_names);
    free(v);
    return rc;
}

static int stopped(struct dpt_err *err)
{
    int sig = dpt_stop_requested();
    return sig ? dpt_err_set(err, DPT_ESIGNAL, "stopped by a signal (%d)", sig) : 0;
}

/* Pass 1: every record checked, rows counted, the fill values set. */
static int scan_pass(struct cli_convert_run *r, struct scan *s, struct dpt_err *err)
{
    int rc = r->o.classes ? fixed_classes(r, s, err) : 0;
    if (rc == 0) {
        rc = first_record(r, s, err);
    }
    int data = rc == 1;
    if (rc >= 0 && r->o.fill == FILL_FROM) {
        rc = fill_from(r, s, err);
    }
    if (rc < 0) {
        return rc;
    }
    if (data) {
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
    if (s->n_bad > 0) {
        return bad_error(r, s, err);
    }
    if (s->rows == 0) {
        return dpt_err_set(err, DPT_EFORMAT, "%s: a header and no rows of data", r->o.in);
    }
    for (size_t k = 0, j = 0; k < s->F; k++, j++) {
        while (j == s->label || s->dropped[j]) {
            j++;
        }
        if (r->o.fill == FILL_MEAN && s->cnt[k] == 0) {
            char cn[300];
            return dpt_err_set(err, DPT_EFORMAT, "%s: %s: every value is missing: no mean to "
                               "fill with", r->o.in, col_name(s, j, cn, sizeof cn));
        }
        if (r->o.fill != FILL_FROM) {
            s->fill[k] = (float)(r->o.fill == FILL_MEAN ? s->sum[k] / (double)s->cnt[k]
                                                        : r->o.fill_value);
        }
    }
    return finish_scan(r, s, err);
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

/* y's attribute `classes`: the class names, in the order of their ids. */
static int write_classes(struct cli_convert_run *r, const struct scan *s, int yi,
                         struct dpt_err *err)
{
    const char **v = malloc(s->n_classes * sizeof *v);
    if (!v) {
        return dpt_err_set(err, DPT_ENOMEM, "out of memory");
    }
    for (size_t c = 0; c < s->n_classes; c++) {
        v[s->classes[c].id] = s->classes[c].name;
    }
    int rc = dpt_h5out_strings_attr(r->w, yi, "classes", v, s->n_classes, err);
    free(v);
    return rc;
}

/* X's attribute `columns`: the header's names of the columns kept as
 * features, in their order (with a header only). A guessed header (no
 * --header) with a number among the features' names is more likely a row
 * that a text label made look like a header: no names then, so that two
 * such files are not refused for first rows that differ. */
static int write_columns(struct cli_convert_run *r, const struct scan *s, int xi,
                         struct dpt_err *err)
{
    const char **v = malloc((s->F ? s->F : 1) * sizeof *v);
    if (!v) {
        return dpt_err_set(err, DPT_ENOMEM, "out of memory");
    }
    int named = 1;
    for (size_t k = 0, j = 0; k < s->F; k++, j++) {
        while (j == s->label || s->dropped[j]) {
            j++;
        }
        v[k] = s->names[j];
        enum dpt_csv_kind kind = dpt_csv_value(v[k], NULL, NULL, NULL);
        named = named && (r->o.header == 1 ||
                          (kind != DPT_CSV_NUMBER && kind != DPT_CSV_INFINITE));
    }
    int rc = named ? dpt_h5out_strings_attr(r->w, xi, "columns", v, s->F, err) : 0;
    free(v);
    return rc;
}

/* Pass 2: the rows again, written a block at a time. */
static int write_pass(struct cli_convert_run *r, struct scan *s, struct dpt_err *err)
{
    int int_y = r->o.label_type == 'i' || (r->o.label_type == 0 && s->int_labels) ||
                s->n_classes > 0;
    int xi = -1, yi = -1;
    int rc = create_sets(r, s, &xi, &yi, int_y, err);
    if (rc == 0 && yi >= 0 && s->n_classes > 0) {
        rc = write_classes(r, s, yi, err);
    }
    if (rc == 0 && s->names && s->F > 0) {
        rc = write_columns(r, s, xi, err);
    }
    if (rc == 0 && r->o.fill != FILL_REFUSE) {
        /* What --fill-from reads back, for a test file. */
        rc = dpt_h5out_floats_attr(r->w, xi, "fill_values", s->fill, s->F, err);
    }
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
    for (size_t c = 0; c < s.n_classes; c++) {
        free(s.classes[c].name);
    }
    free(s.classes);
    free(s.filled);
    free(s.dropped);
    free(s.sum);
    free(s.cnt);
    free(s.fill);
    free(s.text_cols);
    dpt_csv_close(s.csv);
    return rc;
}
