/* Writing a data file dptrain trains on (X and y, docs/DESIGN.md "Files"),
 * block by block, for `dptrain convert`: the datasets are created with their
 * final shape (the caller knows N from a first pass or a header), so that
 * the default layout is contiguous, which dptrain reads with pread; chunked
 * and deflate-compressed on request. Unlike dptrain's model files (built in
 * memory, io/output.h), a data file may be larger than memory, so HDF5
 * writes it straight to disk, under a temporary name the caller renames
 * when everything is written (dpt_h5out_close fsyncs first).
 * Nothing here prints. One writer belongs to one thread.
 */
#ifndef DPT_DATA_H5_WRITER_H
#define DPT_DATA_H5_WRITER_H

#include <dptrain/dptrain.h>
#include <hdf5.h>
#include <stdint.h>

struct dpt_h5out;

/* Creates a new HDF5 file next to path, under the temporary name
 * PATH.tmp-<random> written to tmp (len bytes, at least strlen(path) + 32):
 * unpredictable, created with H5F_ACC_EXCL (O_EXCL: nothing already there,
 * a symbolic link included, is followed or replaced; util/tmpname.h), mode
 * 0666 less the umask, and without file locking (the name is ours alone,
 * and some parallel file systems refuse locks). The caller renames tmp to
 * path when the file is complete. The error names path and the cause. */
int dpt_h5out_create(struct dpt_h5out **out, const char *path, char *tmp, size_t len,
                     struct dpt_err *err);

/* Adds dataset `name` of type file_type (borrowed) and shape dims[rank]
 * (rank 1 to 4, dims[0] the rows): contiguous when chunk_rows is 0, else
 * chunked by chunk_rows rows (whole samples) and, when level is 1 to 9,
 * compressed with deflate (gzip) at that level. Returns its index for
 * dpt_h5out_write (>= 0) or an error. */
int dpt_h5out_dataset(struct dpt_h5out *w, const char *name, hid_t file_type, int rank,
                      const uint64_t *dims, uint64_t chunk_rows, int level,
                      struct dpt_err *err);

/* Writes rows [first, first + rows) of dataset `which` from buf, whose
 * values have type mem_type (HDF5 converts: byte order, size). */
int dpt_h5out_write(struct dpt_h5out *w, int which, uint64_t first, uint64_t rows,
                    hid_t mem_type, const void *buf, struct dpt_err *err);

/* Attaches to dataset `which` the attribute `name`: n variable-length
 * UTF-8 strings v[0..n) (h5py reads them as str), e.g. y's class names. */
int dpt_h5out_strings_attr(struct dpt_h5out *w, int which, const char *name,
                           const char *const *v, size_t n, struct dpt_err *err);

/* Attaches to dataset `which` the attribute `name`: n float32 values v[0..n),
 * e.g. the values X's missing values were filled with. */
int dpt_h5out_floats_attr(struct dpt_h5out *w, int which, const char *name, const float *v,
                          size_t n, struct dpt_err *err);

/* Closes the file and fsyncs it; the error names the file and the cause.
 * The writer is freed either way. */
int dpt_h5out_close(struct dpt_h5out *w, struct dpt_err *err);

/* Closes what is open and removes the file (after an error). NULL is fine. */
void dpt_h5out_abandon(struct dpt_h5out *w);

#endif
