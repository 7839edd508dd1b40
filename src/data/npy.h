/* numpy's array files for `dptrain convert`: a .npy file (np.save), or one
 * array of a .npz archive (np.savez stores its members, np.savez_compressed
 * deflates them), read as a stream of raw bytes in the array's own dtype
 * and byte order, so that an array larger than memory converts in blocks.
 *
 * The format is numpy's NEP 1 (numpy.lib.format): a magic string, a version,
 * a header that is a Python dict literal with 'descr', 'fortran_order' and
 * 'shape', then the values in C order. A .npz is a zip archive (zip64 when
 * large) of such files named NAME.npy. Accepted dtypes: booleans, integers
 * and floats of 1 to 8 bytes ('|b1', '<i4', '>f8', '<f2', ...), either byte
 * order. Refused, naming the file (and the member) and what was found:
 * Fortran order, structured and object dtypes, a rank-0 array, a truncated
 * file or member, zip members that are encrypted or compressed other than
 * by deflate. Nothing here prints or knows HDF5.
 */
#ifndef DPT_DATA_NPY_H
#define DPT_DATA_NPY_H

#include <dptrain/dptrain.h>
#include <stddef.h>
#include <stdint.h>

#define DPT_NPY_MAX_RANK 8

struct dpt_npy;

/* What the header says. kind is 'b' (bool), 'i', 'u' or 'f'; size in bytes. */
struct dpt_npy_info {
    char kind;
    int size;
    int big_endian;
    int rank;
    uint64_t dims[DPT_NPY_MAX_RANK];
    char descr[16]; /* as written, e.g. "<f4", for messages */
};

/* Opens the array in path: a .npy file when member is NULL, else the member
 * named member (with or without ".npy") of the .npz archive path. The error
 * names the file and member; a missing member lists those there are. */
int dpt_npy_open(struct dpt_npy **out, const char *path, const char *member,
                 struct dpt_err *err);
void dpt_npy_close(struct dpt_npy *a); /* NULL is fine */

const struct dpt_npy_info *dpt_npy_info(const struct dpt_npy *a);

/* The next n bytes of the array's values, as stored (C order, the file's
 * byte order), into buf. Too few left is an error naming the file. */
int dpt_npy_read(struct dpt_npy *a, void *buf, size_t n, struct dpt_err *err);

/* Bytes of the file read so far and in all (for progress). */
uint64_t dpt_npy_offset(const struct dpt_npy *a);
uint64_t dpt_npy_file_size(const struct dpt_npy *a);

/* Whether path starts as a zip archive does (a .npz), or as a .npy file. */
int dpt_npy_is_npz(const char *path);
int dpt_npy_is_npy(const char *path);

/* The member names of the .npz archive path (".npy" removed), in archive
 * order, as one malloc'ed array *names of *n malloc'ed strings: free each,
 * then the array. */
int dpt_npz_members(const char *path, char ***names, size_t *n, struct dpt_err *err);

#endif
