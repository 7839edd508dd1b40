/* HDF5 helpers for the files dptrain writes and reads back (model files,
 * checkpoints, predictions): scalar attributes, small arrays and strings,
 * and the protocol that makes a written file appear whole or not at all.
 * Internal to io/; the caller keeps HDF5's automatic error printing off.
 */
#ifndef DPT_IO_H5FILE_H
#define DPT_IO_H5FILE_H

#include <dptrain/dptrain.h>
#include <hdf5.h>
#include <stddef.h>
#include <stdint.h>

/* Creates a group or a dataset without modification times, so that the
 * same contents give the same bytes (a model file trained twice, or on
 * other ranks with --deterministic, compares equal with cmp). */
hid_t dpt__h5_group_create(hid_t loc, const char *name);
hid_t dpt__h5_dataset_create(hid_t loc, const char *name, hid_t type, hid_t space);

/* Writers: 0, or -1 when HDF5 failed. Strings are variable-length UTF-8;
 * integers are stored as int64, doubles as float64. */
int dpt__h5_write_string_attr(hid_t obj, const char *name, const char *value);
int dpt__h5_write_int_attr(hid_t obj, const char *name, long long value);
int dpt__h5_write_double_attr(hid_t obj, const char *name, double value);
/* n int64 values as a 1-D attribute. */
int dpt__h5_write_ints_attr(hid_t obj, const char *name, const long long *v, size_t n);
int dpt__h5_write_array(hid_t loc, const char *name, hid_t file_type, hid_t mem_type, int rank,
                        const hsize_t *dims, const void *data);
int dpt__h5_write_string_dataset(hid_t loc, const char *name, const char *text);

/* Readers of one value: 0, or -1 when missing, of another type, or not
 * exactly one value (an array attribute is refused, never read past the
 * buffer). */
char *dpt__h5_read_string_dataset(hid_t f, const char *name); /* malloc'ed, or NULL */
int dpt__h5_read_string_attr(hid_t obj, const char *name, char *buf, size_t len);
int dpt__h5_read_ll_attr(hid_t obj, const char *name, long long *v);
int dpt__h5_read_double_attr(hid_t obj, const char *name, double *v);
/* A 1-D integer attribute of at most max values into v; *n gets its size. */
int dpt__h5_read_ints_attr(hid_t obj, const char *name, long long *v, size_t max, size_t *n);
/* Reads dataset name (n float64 values) of file path into dst; 0 or an
 * error naming the file and the dataset. */
int dpt__h5_read_doubles(hid_t f, const char *path, const char *name, double *dst, size_t n,
                         struct dpt_err *err);
/* Number of values of a dataset, or 0 when missing. */
size_t dpt__h5_extent(hid_t f, const char *name);

/* Creates path: fill(f, ctx) fills a file HDF5 holds in memory, whose
 * bytes then go to disk through a temporary file in the same folder (write,
 * fsync, rename over path, fsync of the folder: io/output.h). A reader sees
 * the old file or the new one, whole; a failed write names the file and
 * the cause and leaves the old file as it was. expect is about the bytes
 * fill writes as data (the tensors): the file in memory grows by about
 * that much at a time. */
int dpt__h5_save_atomically(const char *path, int (*fill)(hid_t f, const void *ctx),
                            const void *ctx, size_t expect, struct dpt_err *err);

/* The size in bytes of the file dpt__h5_save_atomically would write at
 * path, built in memory the same way and not written (`dptrain plan`). */
int dpt__h5_image_bytes(const char *path, int (*fill)(hid_t f, const void *ctx),
                        const void *ctx, size_t expect, uint64_t *bytes, struct dpt_err *err);

#endif
