/* What `dptrain inspect DATA.h5` shows about a data file: every dataset in
 * it (through groups and links), with its dtype, shape, layout (contiguous,
 * chunked with the chunk's shape, compact, virtual; its filters; external
 * raw storage) and bytes stored, and for numeric datasets statistics per
 * column (a column is one value of a row: a feature, or a pixel of an
 * image): how many values are finite, NaN and Inf, and the finite values'
 * min, max, mean and population std (ddof = 0, as standardization uses).
 * Integer datasets of shape [N] or [N, 1] also get their distinct values
 * counted (labels), up to DPT_DESCRIBE_LABELS_MAX of them, with the names
 * of their attribute `classes` (label k is named classes[k]) when it has one.
 *
 * The rows are streamed in blocks of a few MB, so memory does not grow with
 * N; with sample_rows > 0 only about that many rows are read, in 64 runs of
 * consecutive rows spread evenly over the file (runs rather than single
 * rows, so that a chunked file is read a chunk at a time, not all of it).
 * Nothing here refuses NaN or Inf: counting them is the point. Errors
 * (not an HDF5 file, a filter this HDF5 lacks, a failed read) name the file
 * and dataset. Nothing here prints.
 */
#ifndef DPT_DATA_DESCRIBE_H
#define DPT_DATA_DESCRIBE_H

#include <dptrain/dptrain.h>
#include <stddef.h>
#include <stdint.h>

#define DPT_DESCRIBE_LABELS_MAX 1000
#define DPT_DESCRIBE_MAX_RANK 32

struct dpt_column_stats {
    uint64_t finite, nan, inf;
    double min, max, mean, std; /* of the finite values; 0 when there are none */
};

struct dpt_label_count {
    int64_t value;
    uint64_t count;
};

struct dpt_described_set {
    char *name;         /* "/X", "/group/y" */
    char dtype[48];     /* "float32", "uint8", "int64", "enum on int8", "string", ... */
    int numeric;        /* integer, float or enum on an integer: has statistics */
    int integer;        /* integer or enum */
    int rank;
    uint64_t dims[DPT_DESCRIBE_MAX_RANK];
    char layout[16]; /* "contiguous", "chunked", "compact", "virtual" */
    int chunk_rank;
    uint64_t chunk[DPT_DESCRIBE_MAX_RANK];
    char filters[160]; /* "deflate level 4, shuffle", or "" */
    char filter_missing[320]; /* why a filter cannot be decoded here (no statistics), or "" */
    int external;      /* raw data in external files */
    uint64_t stored_bytes;
    uint64_t rows_read; /* rows the statistics cover (all, or the sample) */
    uint64_t cols;      /* values per row */
    struct dpt_column_stats *stats; /* cols entries, or NULL */
    struct dpt_label_count *labels; /* n_labels, ascending; NULL when not counted */
    size_t n_labels;
    int labels_overflow; /* more distinct values than DPT_DESCRIBE_LABELS_MAX */
    char **classes;      /* the set's string attribute `classes` (class names of
                          * labels 0, 1, ..., as dptrain convert writes), or NULL */
    size_t n_classes;
    char **columns;      /* the set's string attribute `columns` (the CSV header's
                          * feature names, as dptrain convert writes), or NULL */
    size_t n_columns;
};

struct dpt_data_description {
    size_t n;
    struct dpt_described_set *sets;
};

/* Describes every dataset of the HDF5 file path into *d (zeroed first),
 * reading all rows, or about sample_rows of them when that is > 0 and
 * fewer than a dataset holds. Free with dpt_data_description_cleanup, also
 * after an error. */
int dpt_data_describe(const char *path, uint64_t sample_rows, struct dpt_data_description *d,
                      struct dpt_err *err);
void dpt_data_description_cleanup(struct dpt_data_description *d);

#endif
