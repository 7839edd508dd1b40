/* A streaming CSV reader for `dptrain convert`: one record at a time from a
 * file, in memory bounded by the longest record, never by the file.
 *
 * Records follow RFC 4180 with a delimiter of the caller's choice: a field
 * may be quoted ("..."), a quoted field may hold the delimiter, line breaks
 * and doubled quotes (""), and lines end with LF or CRLF. Blank lines are
 * skipped, as pandas skips them. Each record knows the line it started on,
 * for messages. dpt_csv_value classifies one field as a number, a missing
 * value (the markers pandas reads as NaN) or text, so that convert can say
 * which row and column hold what. Nothing here prints or knows about HDF5.
 */
#ifndef DPT_DATA_CSV_H
#define DPT_DATA_CSV_H

#include <dptrain/dptrain.h>
#include <stddef.h>
#include <stdint.h>

struct dpt_csv;

/* Opens path for reading records split at delim (',' usually). The error
 * names the file and quotes strerror. */
int dpt_csv_open(struct dpt_csv **out, const char *path, char delim, struct dpt_err *err);
void dpt_csv_close(struct dpt_csv *c); /* NULL is fine */

/* Reads the next record: 1 with *fields (n NUL-terminated strings, quotes
 * removed) and *n set, 0 at the end of the file, or an error (a quote left
 * open at the end of the file, a field over 1 MiB, a read error), naming
 * the file and line. The strings are borrowed: they live until the next
 * call of dpt_csv_next, dpt_csv_rewind or dpt_csv_close. */
int dpt_csv_next(struct dpt_csv *c, char ***fields, size_t *n, struct dpt_err *err);

/* The line (from 1) the last record returned started on. */
uint64_t dpt_csv_line(const struct dpt_csv *c);
/* Bytes of the file consumed so far, and its size (for progress). */
uint64_t dpt_csv_offset(const struct dpt_csv *c);
uint64_t dpt_csv_size(const struct dpt_csv *c);
/* Back to the start of the file, for a second pass. */
int dpt_csv_rewind(struct dpt_csv *c, struct dpt_err *err);

/* What one field holds. */
enum dpt_csv_kind {
    DPT_CSV_NUMBER,   /* a finite decimal number; *v is its value */
    DPT_CSV_MISSING,  /* empty, or a marker pandas reads as missing: NA, NaN, null, ... */
    DPT_CSV_INFINITE, /* inf, -Infinity, or a number beyond the range of a double */
    DPT_CSV_TEXT,     /* anything else */
};

/* Classifies s (surrounding blanks ignored) and, for a number, sets *v
 * and *is_integer (1 when written as an integer: optional sign, digits
 * only; then *i holds its value when it fits in 64 bits, else *is_integer
 * is 0). Any of v, is_integer and i may be NULL. */
enum dpt_csv_kind dpt_csv_value(const char *s, double *v, int *is_integer, int64_t *i);

#endif
