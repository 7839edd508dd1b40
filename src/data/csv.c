/* The streaming CSV reader of data/csv.h: a small state machine over
 * getc_unlocked (stdio's buffer does the reading in blocks), which keeps
 * one record's bytes at a time. Limits (1 MiB a field, 64 MiB a record)
 * keep a file without line breaks, or with a quote never closed, from
 * growing the record until memory runs out. */
#include "config.h"

#include "data/csv.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define FIELD_MAX ((size_t)1 << 20)
#define RECORD_MAX ((size_t)64 << 20)

struct dpt_csv {
    FILE *f;
    char *path;
    char delim;
    uint64_t size, offset;
    uint64_t line;        /* the line the reader is on now */
    uint64_t record_line; /* the line the last record started on */
    char *bytes;          /* the record's fields, each NUL-terminated */
    size_t n_bytes, cap_bytes;
    size_t *starts; /* offset of each field in bytes */
    char **fields;
    size_t n_fields, cap_fields;
};

int dpt_csv_open(struct dpt_csv **out, const char *path, char delim, struct dpt_err *err)
{
    *out = NULL;
    struct dpt_csv *c = calloc(1, sizeof *c);
    if (!c || !(c->path = strdup(path))) {
        free(c);
        return dpt_err_set(err, DPT_ENOMEM, "out of memory");
    }
    c->delim = delim;
    c->line = 1;
    c->f = fopen(path, "rb");
    struct stat st;
    if (!c->f || fstat(fileno(c->f), &st) != 0) {
        int e = errno;
        dpt_csv_close(c);
        return dpt_err_set(err, DPT_EIO, "%s: %s", path, strerror(e));
    }
    if (S_ISDIR(st.st_mode)) {
        dpt_csv_close(c);
        return dpt_err_set(err, DPT_EIO, "%s: a folder, not a CSV file", path);
    }
    c->size = (uint64_t)st.st_size;
    *out = c;
    return 0;
}

void dpt_csv_close(struct dpt_csv *c)
{
    if (!c) {
        return;
    }
    if (c->f) {
        fclose(c->f);
    }
    free(c->path);
    free(c->bytes);
    free(c->starts);
    free(c->fields);
    free(c);
}

uint64_t dpt_csv_line(const struct dpt_csv *c)
{
    return c->record_line;
}

uint64_t dpt_csv_offset(const struct dpt_csv *c)
{
    return c->offset;
}

uint64_t dpt_csv_size(const struct dpt_csv *c)
{
    return c->size;
}

int dpt_csv_rewind(struct dpt_csv *c, struct dpt_err *err)
{
    if (fseeko(c->f, 0, SEEK_SET) != 0) {
        return dpt_err_set(err, DPT_EIO, "%s: cannot go back to the start: %s", c->path,
                           strerror(errno));
    }
    c->offset = 0;
    c->line = 1;
    c->record_line = 0;
    return 0;
}

static int put_byte(struct dpt_csv *c, char b, size_t field_start, struct dpt_err *err)
{
    if (c->n_bytes - field_start >= FIELD_MAX || c->n_bytes >= RECORD_MAX) {
        return dpt_err_set(err, DPT_EFORMAT, "%s: line %llu: a field longer than %zu bytes "
                           "(a quote never closed, or not a CSV file?)", c->path,
                           (unsigned long long)c->record_line, FIELD_MAX);
    }
    if (c->n_bytes == c->cap_bytes) {
        size_t cap = c->cap_bytes ? 2 * c->cap_bytes : 4096;
        char *b2 = realloc(c->bytes, cap);
        if (!b2) {
            return dpt_err_set(err, DPT_ENOMEM, "out of memory");
        }
        c->bytes = b2;
        c->cap_bytes = cap;
    }
    c->bytes[c->n_bytes++] = b;
    return 0;
}

/* Ends the current field (a NUL after its bytes) and starts the next. */
static int end_field(struct dpt_csv *c, size_t *field_start, struct dpt_err *err)
{
    int rc = put_byte(c, '\0', *field_start, err);
    if (rc < 0) {
        return rc;
    }
    if (c->n_fields == c->cap_fields) {
        size_t cap = c->cap_fields ? 2 * c->cap_fields : 64;
        size_t *s2 = realloc(c->starts, cap * sizeof *s2);
        if (!s2) {
            return dpt_err_set(err, DPT_ENOMEM, "out of memory");
        }
        c->starts = s2;
        char **f2 = realloc(c->fields, cap * sizeof *f2);
        if (!f2) {
            return dpt_err_set(err, DPT_ENOMEM, "out of memory");
        }
        c->fields = f2;
        c->cap_fields = cap;
    }
    c->starts[c->n_fields++] = *field_start;
    *field_start = c->n_bytes;
    return 0;
}

static int next_char(struct dpt_csv *c)
{
    int ch = getc_unlocked(c->f);
    if (ch != EOF) {
        c->offset++;
        if (ch == '\n') {
            c->line++;
        }
    }
    return ch;
}

/* The state machine: outside quotes a delimiter ends a field and a line
 * break the record; inside quotes everything is data but a quote, which
 * either doubles ("") or closes the quotes. A CR before LF is dropped. */
int dpt_csv_next(struct dpt_csv *c, char ***fields, size_t *n, struct dpt_err *err)
{
    int rc = 0;
    /* A UTF-8 byte order mark (Excel writes one) is not part of the first
     * field: pandas drops it too. */
    if (c->offset == 0) {
        unsigned char bom[3];
        size_t got = fread(bom, 1, 3, c->f);
        if (got == 3 && bom[0] == 0xEF && bom[1] == 0xBB && bom[2] == 0xBF) {
            c->offset = 3;
        } else if (fseeko(c->f, 0, SEEK_SET) != 0) {
            return dpt_err_set(err, DPT_EIO, "%s: %s", c->path, strerror(errno));
        }
    }
    for (;;) {
        c->n_bytes = 0;
        c->n_fields = 0;
        c->record_line = c->line;
        size_t start = 0;
        int quoted = 0, any = 0, ch;
        while ((ch = next_char(c)) != EOF) {
            any = 1;
            if (quoted) {
                if (ch != '"') {
                    rc = put_byte(c, (char)ch, start, err);
                } else if ((ch = getc_unlocked(c->f)) == '"') {
                    c->offset++;
                    rc = put_byte(c, '"', start, err);
                } else {
                    if (ch != EOF) {
                        ungetc(ch, c->f);
                    }
                    quoted = 0;
                }
            } else if (ch == '"') {
                quoted = 1;
            } else if (ch == c->delim) {
                rc = end_field(c, &start, err);
            } else if (ch == '\n') {
                break;
            } else if (ch != '\r') {
                rc = put_byte(c, (char)ch, start, err);
            }
            if (rc < 0) {
                return rc;
            }
        }
        if (ferror(c->f)) {
            return dpt_err_set(err, DPT_EIO, "%s: line %llu: %s", c->path,
                               (unsigned long long)c->line, strerror(errno));
        }
        if (quoted) {
            return dpt_err_set(err, DPT_EFORMAT, "%s: line %llu: a quoted field is not closed "
                               "by the end of the file", c->path,
                               (unsigned long long)c->record_line);
        }
        if (!any) {
            return 0;
        }
        if ((rc = end_field(c, &start, err)) < 0) {
            return rc;
        }
        /* A blank line (one empty field) is no record. */
        if (c->n_fields == 1 && c->bytes[0] == '\0') {
            if (ch == EOF) {
                return 0;
            }
            continue;
        }
        for (size_t i = 0; i < c->n_fields; i++) {
            c->fields[i] = c->bytes + c->starts[i];
        }
        *fields = c->fields;
        *n = c->n_fields;
        return 1;
    }
}

/* pandas' default missing-value markers (read_csv's na_values). */
static const char *const missing_markers[] = {
    "",      "#N/A", "#N/A N/A", "#NA", "-1.#IND", "-1.#QNAN", "-NaN", "-nan", "1.#IND",
    "1.#QNAN", "<NA>", "N/A",    "NA",  "NULL",    "NaN",      "None", "n/a",  "nan",
    "null",
};

enum dpt_csv_kind dpt_csv_value(const char *s, double *v, int *is_integer, int64_t *i)
{
    while (*s == ' ' || *s == '\t') {
        s++;
    }
    size_t len = strlen(s);
    while (len > 0 && (s[len - 1] == ' ' || s[len - 1] == '\t')) {
        len--;
    }
    char text[64];
    if (len >= sizeof text) {
        return DPT_CSV_TEXT; /* no number is written with 64 characters */
    }
    memcpy(text, s, len);
    text[len] = '\0';
    for (size_t k = 0; k < sizeof missing_markers / sizeof missing_markers[0]; k++) {
        if (strcmp(text, missing_markers[k]) == 0) {
            return DPT_CSV_MISSING;
        }
    }
    /* strtod also takes hexadecimal numbers and "nan(...)", which no CSV
     * writer means as numbers: only digits, signs, '.', 'e' and the words
     * of infinity pass. */
    int digits_only = len > 0;
    for (size_t k = 0; k < len; k++) {
        char ch = text[k];
        if (!(isdigit((unsigned char)ch) || ((ch == '+' || ch == '-') && k == 0))) {
            digits_only = 0;
        }
        if (ch == 'x' || ch == 'X' || ch == '(' || ch == 'p' || ch == 'P') {
            return DPT_CSV_TEXT;
        }
    }
    char *end;
    errno = 0;
    double d = strtod(text, &end);
    if (len == 0 || *end != '\0' || end == text || isnan(d)) {
        return DPT_CSV_TEXT;
    }
    if (isinf(d)) {
        return DPT_CSV_INFINITE;
    }
    if (v) {
        *v = d;
    }
    if (is_integer) {
        *is_integer = 0;
        if (digits_only && (text[0] != '+' && text[0] != '-' ? len > 0 : len > 1)) {
            errno = 0;
            long long ll = strtoll(text, &end, 10);
            if (errno == 0 && *end == '\0') {
                *is_integer = 1;
                if (i) {
                    *i = (int64_t)ll;
                }
            }
        }
    }
    return DPT_CSV_NUMBER;
}
