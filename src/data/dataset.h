/* HDF5 input data: X [N, F], [N, H, W] or [N, H, W, C] and optional targets
 * y ([N], [N, 1] or [N, k]).
 *
 * A sample is one row of X, whatever X's rank: its values flat, in the
 * file's own order (for [N, H, W, C] that is channels last), prod(sample
 * dims) floats. Its shape is kept apart (dpt_dataset_sample_shape): [F] for
 * a table, [H, W, 1] for grayscale images stored [N, H, W], [H, W, C] for
 * [N, H, W, C]. Any integer or float dtype on disk, uint8 images included,
 * is converted to float32 on read (class labels stay exact: integers below
 * 2^24); an enum on an integer type (numpy bool) reads as its integers. Reads take a sorted list of file rows, so a rank reads only the
 * rows its micro-shards need: with pread when the dataset's layout allows
 * it, else with one H5Dread per call (a union of hyperslabs; see
 * dataset.c). The file is opened read-only by every rank
 * independently; nothing here talks MPI. Every function leaves the caller's
 * HDF5 error printing as it found it and prints nothing.
 *
 * A data set may be several files (dpt_dataset_open_source): their rows
 * one after another, read through the same calls (data/set.c), and X and y
 * may be columns of one 2-D dataset (data/columns.h). Rows, row lists and
 * ranges below are the whole set's.
 */
#ifndef DPT_DATA_DATASET_H
#define DPT_DATA_DATASET_H

#include <dptrain/dptrain.h>
#include <dptrain/plugin.h> /* struct dpt_shape: a sample's shape, channels last */
#include <stdint.h>


struct dpt_dataset;
struct dpt_columns; /* data/columns.h */

/* Where a data set is and what of it to read (data.train, data.test and
 * data.validation of a model file; model/spec.h fills one for each).
 * files are names or glob patterns ("shards/part-*.h5", matched in byte
 * order of the names), in order: the files are one data set, their rows
 * one after another. A name that exists as written is taken as it is. */
struct dpt_data_source {
    const char *const *files;
    size_t n_files;
    const char *key;        /* "data.train", in messages; may be NULL */
    const char *x_name;     /* X's dataset, or the one columns are picked from */
    const char *y_name;     /* y's dataset (unless y_cols), or NULL */
    const struct dpt_columns *x_cols, *y_cols; /* NULL: X whole, y its own dataset */
    /* 1: the user names the datasets with eval's and predict's --x and --y,
     * so the hint for a missing one names those options rather than the
     * model file's data.x, data.y and data.y_columns. */
    int by_options;
};

/* Opens every file of src as one data set: rows 0 .. N1-1 are the first
 * file's, N1 .. N1+N2-1 the second's, and so on. with_y 0 opens no targets
 * (y_cols still leave X). Each file is checked as dpt_dataset_open checks
 * its one; beyond that, every file must have the first one's sample shape,
 * target columns and dtypes (the message names the odd file, both
 * descriptions and src->key), and a glob pattern must match a file (the
 * message names the pattern). */
int dpt_dataset_open_source(struct dpt_dataset **out, const struct dpt_data_source *src,
                            int with_y, struct dpt_err *err);

/* Opens path and checks X (rank 2, 3 or 4, no dimension of size 0) and, if
 * y_name is not NULL, y (rank 1, or rank 2 with any number of columns, and
 * the same N as X). Errors name the file and dataset: not an HDF5 file,
 * missing dataset, wrong rank (what was expected and found), N mismatch,
 * a dtype that is not integer, float or an integer enum, no rows, storage
 * HDF5 would read as fill values or zeros (never written, a virtual
 * dataset's missing source, a short external file), a filter this HDF5
 * lacks, a row too large for this rank's memory. */
int dpt_dataset_open(struct dpt_dataset **out, const char *path, const char *x_name,
                     const char *y_name, struct dpt_err *err);
void dpt_dataset_close(struct dpt_dataset *ds); /* NULL is fine */

uint64_t dpt_dataset_rows(const struct dpt_dataset *ds);     /* N */
uint64_t dpt_dataset_features(const struct dpt_dataset *ds); /* F = prod(sample dims) */
/* The shape of one sample: [F] for X [N, F], [H, W, 1] for [N, H, W],
 * [H, W, C] for [N, H, W, C]; the product of its dims is F. */
void dpt_dataset_sample_shape(const struct dpt_dataset *ds, struct dpt_shape *shape);
uint64_t dpt_dataset_y_cols(const struct dpt_dataset *ds);   /* 1 for [N], k for [N, k]; 0 without y */
int dpt_dataset_y_is_integer(const struct dpt_dataset *ds);  /* y stored with an integer dtype */
/* Names to check a file by: class names to number labels by (label k is
 * v[k]) or X's column names (feature j is v[j]); whose says where they
 * came from in messages ("the model", "the training data"). */
struct dpt_names {
    const char *const *v;
    size_t n; /* 0: no names, nothing to check */
    const char *whose;
};
/* The names of ds's classes (y's string attribute `classes`, as `dptrain
 * convert` writes it): the longest list of the set's files (opening checks
 * that each file's list begins it); n 0 when no file names its classes. */
struct dpt_names dpt_dataset_classes(const struct dpt_dataset *ds);
/* Checks that every file of ds that names its classes numbers them as
 * names does (its list is the first classes of names): 0, or DPT_EFORMAT
 * saying what a label means in each and how to convert the file so that
 * they agree. Nothing to check when names is NULL or names no class. */
int dpt_dataset_check_classes(const struct dpt_dataset *ds, const struct dpt_names *names,
                              struct dpt_err *err);
/* The names of ds's columns (X's string attribute `columns`, as `dptrain
 * convert` writes it, one per feature): the first list of the set's files
 * (opening checks that the others name the same); n 0 when no file names
 * its columns or columns are picked (data.x_columns, y_columns). */
struct dpt_names dpt_dataset_columns(const struct dpt_dataset *ds);
/* Checks that every file of ds that names its columns names the same ones
 * in the same order as names: 0, or DPT_EFORMAT saying which column
 * differs and in what order to put the CSV's columns. Nothing to check
 * when names is NULL or names no column. */
int dpt_dataset_check_columns(const struct dpt_dataset *ds, const struct dpt_names *names,
                              struct dpt_err *err);
/* The file, or "FIRST ... LAST (K files)" for several, for messages. */
const char *dpt_dataset_path(const struct dpt_dataset *ds);
/* The number of files and file i's name. */
size_t dpt_dataset_files(const struct dpt_dataset *ds);
const char *dpt_dataset_file(const struct dpt_dataset *ds, size_t i);
/* Which file holds row `row` of the data set, and its row in that file. */
size_t dpt_dataset_locate(const struct dpt_dataset *ds, uint64_t row, uint64_t *file_row);
/* "X [N, F] float32, y [N] int64": the arrays' names, shapes and dtypes as
 * stored (integer or float, and bits), into buf. */
void dpt_dataset_describe(const struct dpt_dataset *ds, char *buf, size_t len);

/* Reads file rows rows[0..n) (strictly increasing) into x (n, F) and, if y is
 * not NULL, y (n, y_cols), in that order; each row of x is one sample, flat
 * in the file's order. A NaN or Inf anywhere in those rows of X or y is an
 * error naming the file, the dataset, the file row and the place in it. */
int dpt_dataset_read(struct dpt_dataset *ds, const uint64_t *rows, size_t n, float *x,
                     float *y, struct dpt_err *err);
/* The same for the contiguous rows [first, first + n). */
int dpt_dataset_read_range(struct dpt_dataset *ds, uint64_t first, size_t n, float *x,
                           float *y, struct dpt_err *err);

/* Whether X is read straight from the file with pread (contiguous,
 * unfiltered, native type: see dataset.c) rather than through H5Dread. */
int dpt_dataset_direct(const struct dpt_dataset *ds);
/* Whether X's chunks are read and inflated by dptrain itself (chunks of
 * whole rows, deflate or shuffle + deflate: see dataset.c), in every file. */
int dpt_dataset_chunk_reads(const struct dpt_dataset *ds);
/* Rows per chunk of X when it is chunked (the first file's), else 0. */
uint64_t dpt_dataset_chunk_rows(const struct dpt_dataset *ds);
/* How many of X's chunks the chunk reads have inflated since opening (a
 * chunk read twice counts twice). */
uint64_t dpt_dataset_chunks_inflated(const struct dpt_dataset *ds);
/* From now on X's chunks, once inflated by the chunk reads, are kept in an
 * unlinked file (gone with the process) in the folder DPTRAIN_SCRATCH
 * names, else $TMPDIR, else /tmp, and read back from there instead of being
 * inflated again: for a streamed file read more than once. Not in a folder
 * of a file system in memory (tmpfs) unless DPTRAIN_SCRATCH names it, nor
 * where less than twice the inflated chunks' bytes are free; never with
 * DPTRAIN_SCRATCH=none. A chunk the disk has no room for is inflated each
 * time. Returns the folder (a file of the set keeps its chunks there), or
 * NULL; dpt_dataset_kept_in returns it again (the data set holds it: valid
 * until dpt_dataset_close). */
const char *dpt_dataset_keep_inflated(struct dpt_dataset *ds);
const char *dpt_dataset_kept_in(const struct dpt_dataset *ds);
/* One kept file per file of the set for the ranks of a node: the rank that
 * made them (dpt_dataset_keep_inflated) describes them (keep_files: one
 * entry per file of the set, fd -1 where it keeps nothing); each peer opens
 * the same files through /proc/PID/fd of that rank's process, checking
 * device and inode (keep_peer), and keeps what it inflates there too, chunk
 * c at the same place. keep_peer: 0, or -1 where a file could not be
 * opened (this rank then keeps nothing of it), with *why the open's errno
 * (ENOMEM: no memory for its map), or 0 where the path led to another file
 * (another PID namespace, say). */
struct dpt_kept_file {
    int64_t fd;        /* in the process that made it; -1: none */
    uint64_t dev, ino; /* what fstat says of it there */
};
void dpt_dataset_keep_files(const struct dpt_dataset *ds, struct dpt_kept_file *kf);
int dpt_dataset_keep_peer(struct dpt_dataset *ds, int64_t pid, const struct dpt_kept_file *kf,
                          int *why);
/* File i's map of kept chunks (n of them; NULL: it keeps none): 1 where
 * its kept file holds the chunk, as far as this rank knows; a caller may
 * set entries that another rank of a shared file kept. */
uint8_t *dpt_dataset_kept_map(struct dpt_dataset *ds, size_t i, uint64_t *n);
/* Why a file's chunks were not kept (the folder cannot hold a file, is in
 * memory, lacks the room), or NULL. */
const char *dpt_dataset_not_kept(const struct dpt_dataset *ds);
/* Whether the kept chunks are on a file system in memory (a tmpfs that
 * DPTRAIN_SCRATCH named): what they take is then memory, not disk. */
int dpt_dataset_kept_in_memory(const struct dpt_dataset *ds);
/* The errno of a write that stopped the keeping during the run (a full
 * disk, a file-size limit: the chunks not yet kept are inflated each time
 * they are read), or 0. */
int dpt_dataset_keep_errno(const struct dpt_dataset *ds);
/* The bytes of X inflated, for the files of the set whose chunks dptrain
 * inflates (what keeping all their chunks takes on disk). */
uint64_t dpt_dataset_inflated_bytes(const struct dpt_dataset *ds);
/* The bytes the chunk reads' buffers hold, in all files (X's and y's
 * inflated and compressed chunks; see dataset.c): part of a rank's data
 * memory (shard.c, shard_memory). */
uint64_t dpt_dataset_reader_bytes(const struct dpt_dataset *ds);

/* Reads everything through H5Dread from now on (tests compare the paths). */
void dpt_dataset_no_direct(struct dpt_dataset *ds);

/* 0 when `need` bytes fit in what this rank can still allocate
 * (data/memory.h), else DPT_ENOMEM with one message naming the file, X and
 * its shape, `what` needs them ("this rank's windows of rows"), the bytes
 * needed and the bytes available. Callers check before they allocate
 * anything that grows with N or F. */
int dpt_dataset_check_memory(const struct dpt_dataset *ds, uint64_t need, const char *what,
                             struct dpt_err *err);

/* Rows read so far by this handle (the sharding tests count them). */
uint64_t dpt_dataset_rows_read(const struct dpt_dataset *ds);

/* Which array of a data set. */
enum dpt_array { DPT_ARRAY_X, DPT_ARRAY_Y };

/* Per column of X or y (a column of X is one value of the flat sample,
 * e.g. one pixel), over rows [first, first + n): sum[j] and sq[j] of
 * (v - center[j]) and of its square (center NULL: 0), and the smallest and
 * largest value, computed in double. Sums, minima and maxima of several
 * blocks combine by adding, min and max (data/norm.c does, over ranks). A
 * NaN or Inf is an error naming the file, dataset, row and column. */
int dpt_dataset_moments(struct dpt_dataset *ds, enum dpt_array which, uint64_t first,
                        uint64_t n, const double *center, double *sum, double *sq, double *lo,
                        double *hi, struct dpt_err *err);

/* Rows [first, first + n) of X or y as floats, as training reads them, into
 * v (n, columns); a NaN or Inf is an error naming the file, dataset, row and
 * column (the --deterministic statistics read their blocks with it). */
int dpt_dataset_read_array(struct dpt_dataset *ds, enum dpt_array which, uint64_t first,
                           size_t n, float *v, struct dpt_err *err);

#endif
