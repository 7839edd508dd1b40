/* One HDF5 file of a data set (private to src/data: dataset.c implements
 * it, set.c joins files into the data set of data/dataset.h).
 *
 * Each function is the one-file form of the dpt_dataset_* function of the
 * same name (see dataset.h for what it promises); rows here are the file's
 * own, counted from 0. src says which datasets and columns to open; with_y
 * 0 opens X only (its columns still leave out the label columns).
 */
#ifndef DPT_DATA_FILE_H
#define DPT_DATA_FILE_H

#include "data/dataset.h"

struct dpt__file;

int dpt__file_open(struct dpt__file **out, const char *path,
                   const struct dpt_data_source *src, int with_y, struct dpt_err *err);
void dpt__file_close(struct dpt__file *f);
uint64_t dpt__file_rows(const struct dpt__file *f);
uint64_t dpt__file_features(const struct dpt__file *f);
void dpt__file_sample_shape(const struct dpt__file *f, struct dpt_shape *shape);
uint64_t dpt__file_y_cols(const struct dpt__file *f);
int dpt__file_y_is_integer(const struct dpt__file *f);
/* y's class names (its string attribute `classes`), or NULL with *n 0. */
const char *const *dpt__file_classes(const struct dpt__file *f, size_t *n);
/* X's column names (its string attribute `columns`, one per feature), or
 * NULL with *n 0; never read when data.x_columns or y_columns pick columns. */
const char *const *dpt__file_columns(const struct dpt__file *f, size_t *n);
/* with_n 0: without the number of rows, what every file of a set shares. */
void dpt__file_describe(const struct dpt__file *f, int with_n, char *buf, size_t len);
const char *dpt__file_path(const struct dpt__file *f);
int dpt__file_direct(const struct dpt__file *f);
int dpt__file_chunk_reads(const struct dpt__file *f);
uint64_t dpt__file_chunk_rows(const struct dpt__file *f);
uint64_t dpt__file_chunks_inflated(const struct dpt__file *f);
/* dpt_dataset_keep_inflated for one file; chosen: the folder was named by
 * the user (tmpfs allowed). Returns dir, or NULL when nothing is kept (with
 * the reason in why, unless X has no chunks to keep). */
const char *dpt__file_keep_inflated(struct dpt__file *f, const char *dir, int chosen,
                                    char *why, size_t len);
/* The file f's kept chunks are in (dpt__file_keep_inflated), or -1. */
int dpt__file_keep_fd(const struct dpt__file *f);
/* Keeps f's chunks in fd, a node peer's file (opened through /proc), which
 * f then owns: 0, or -1 (f has no chunks to keep, or out of memory). */
int dpt__file_keep_shared(struct dpt__file *f, int fd);
/* Per chunk of X, 1 where the kept file holds it, as far as this process
 * knows (n: the chunks; NULL when nothing is kept). */
uint8_t *dpt__file_kept_map(struct dpt__file *f, uint64_t *n);
/* Whether f's chunks are kept on a file system in memory (tmpfs, ramfs). */
int dpt__file_keep_in_memory(const struct dpt__file *f);
/* The errno of the write that stopped the keeping of f's chunks, or 0. */
int dpt__file_keep_errno(const struct dpt__file *f);
uint64_t dpt__file_inflated_bytes(const struct dpt__file *f);
uint64_t dpt__file_reader_bytes(const struct dpt__file *f);
void dpt__file_no_direct(struct dpt__file *f);
int dpt__file_check_memory(const struct dpt__file *f, uint64_t need, const char *what,
                           struct dpt_err *err);
uint64_t dpt__file_rows_read(const struct dpt__file *f);
int dpt__file_read(struct dpt__file *f, const uint64_t *rows, size_t n, float *x, float *y,
                   struct dpt_err *err);
int dpt__file_read_range(struct dpt__file *f, uint64_t first, size_t n, float *x, float *y,
                         struct dpt_err *err);
int dpt__file_read_array(struct dpt__file *f, enum dpt_array which, uint64_t first, size_t n,
                         float *v, struct dpt_err *err);
/* Rows [first, first + n) of X or y as doubles into v, unchecked (the
 * statistics check them: dpt__file_bad_value names a NaN or Inf found at
 * file row row, column col of what was read). */
int dpt__file_read_doubles(struct dpt__file *f, enum dpt_array which, uint64_t first, size_t n,
                           double *v, struct dpt_err *err);
int dpt__file_bad_value(const struct dpt__file *f, enum dpt_array which, uint64_t row,
                        uint64_t col, double v, struct dpt_err *err);

#endif
