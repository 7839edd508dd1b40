/* The block writer of data/h5_writer.h. Every entry point runs HDF5
 * quietly and quotes its reason; a failed write leaves the file to
 * dpt_h5out_abandon, which removes it. The file is created under an
 * unpredictable temporary name (util/tmpname.h) with H5F_ACC_EXCL. */
#include "config.h"

#include "data/h5_writer.h"
#include "util/h5.h"
#include "util/tmpname.h"
#include "util/util.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* H5Pset_file_locking arrived in 1.10.7 and 1.12.1, not in 1.12.0. */
#define HAVE_FILE_LOCKING                                                                   \
    ((H5_VERSION_GE(1, 10, 7) && !H5_VERSION_GE(1, 12, 0)) || H5_VERSION_GE(1, 12, 1))

#define MAX_SETS 4

struct dpt_h5out {
    char *path;
    hid_t file;
    int n;
    hid_t sets[MAX_SETS];
    int rank[MAX_SETS];
    uint64_t dims[MAX_SETS][4];
    char names[MAX_SETS][64];
};

/* H5Fcreate of path with H5F_ACC_EXCL, quietly; the file id, or -1 with
 * the cause in *e (errno, 0 when HDF5 set none) and why. */
static hid_t create_excl(const char *path, int *e, char *why, size_t len)
{
    struct dpt__h5_quiet quiet;
    dpt__h5_quiet_begin(&quiet);
    hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
#if HAVE_FILE_LOCKING
    if (fapl >= 0) {
        H5Pset_file_locking(fapl, 0, 1);
    }
#endif
    errno = 0;
    hid_t file = H5Fcreate(path, H5F_ACC_EXCL, H5P_DEFAULT, fapl >= 0 ? fapl : H5P_DEFAULT);
    *e = errno;
    dpt__h5_reason(why, len);
    if (fapl >= 0) {
        H5Pclose(fapl);
    }
    dpt__h5_quiet_end(&quiet);
    return file;
}

int dpt_h5out_create(struct dpt_h5out **out, const char *path, char *tmp, size_t len,
                     struct dpt_err *err)
{
    *out = NULL;
    struct dpt_h5out *w = calloc(1, sizeof *w);
    char *prefix = dpt__aprintf("%s" DPT__TMP_SEP, path);
    if (!w || !prefix) {
        free(w);
        free(prefix);
        return dpt_err_set(err, DPT_ENOMEM, "out of memory");
    }
    /* H5F_ACC_EXCL creates with O_EXCL, but HDF5 first opens an existing
     * name to compare it with the files it has open, through a symbolic
     * link too (and then refuses it): so a name found taken is skipped
     * before HDF5 sees it. Nobody can plant anything at a name in the
     * moment between, as nobody knows it (util/tmpname.h). */
    int e = EEXIST;
    char why[DPT__H5_REASON_LEN] = "every name tried was taken";
    w->file = -1;
    struct stat st;
    for (int i = 0; i < DPT__CREATE_TRIES; i++) {
        if (dpt__random_name(prefix, tmp, len) < 0) {
            e = errno;
            snprintf(why, sizeof why, "no random name");
            break;
        }
        if (lstat(tmp, &st) == 0) {
            continue; /* taken: another name */
        }
        w->file = create_excl(tmp, &e, why, sizeof why);
        break;
    }
    free(prefix);
    if (w->file < 0 || !(w->path = strdup(tmp))) {
        if (w->file >= 0) {
            H5Fclose(w->file);
            unlink(tmp);
            e = ENOMEM;
        }
        free(w);
        return dpt_err_set(err, DPT_EIO, "%s: cannot create a temporary file %s<random> next "
                           "to it (%s; HDF5: %s)", path, DPT__TMP_SEP,
                           e ? strerror(e) : "no details", why);
    }
    *out = w;
    return 0;
}

int dpt_h5out_dataset(struct dpt_h5out *w, const char *name, hid_t file_type, int rank,
                      const uint64_t *dims, uint64_t chunk_rows, int level,
                      struct dpt_err *err)
{
    if (w->n == MAX_SETS || rank < 1 || rank > 4 || strlen(name) >= sizeof w->names[0]) {
        return dpt_err_set(err, DPT_EINVAL, "%s: dataset '%s': too many datasets or "
                           "dimensions", w->path, name);
    }
    hsize_t hd[4], chunk[4];
    for (int i = 0; i < rank; i++) {
        hd[i] = dims[i];
        chunk[i] = i == 0 ? (chunk_rows < dims[0] ? chunk_rows : dims[0]) : dims[i];
        w->dims[w->n][i] = dims[i];
    }
    struct dpt__h5_quiet quiet;
    dpt__h5_quiet_begin(&quiet);
    hid_t space = H5Screate_simple(rank, hd, NULL);
    hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
    herr_t ok = space >= 0 && dcpl >= 0 ? 0 : -1;
    /* Fill values would be written and then overwritten: every value is
     * ours. */
    if (ok >= 0) {
        ok = H5Pset_fill_time(dcpl, H5D_FILL_TIME_NEVER);
    }
    if (ok >= 0 && chunk_rows > 0 && chunk[0] > 0) {
        ok = H5Pset_chunk(dcpl, rank, chunk);
        if (ok >= 0 && level > 0) {
            ok = H5Pset_deflate(dcpl, (unsigned)level);
        }
    }
    hid_t set = ok >= 0 ? H5Dcreate2(w->file, name, file_type, space, H5P_DEFAULT, dcpl,
                                     H5P_DEFAULT)
                        : -1;
    char why[DPT__H5_REASON_LEN];
    dpt__h5_reason(why, sizeof why);
    if (dcpl >= 0) {
        H5Pclose(dcpl);
    }
    if (space >= 0) {
        H5Sclose(space);
    }
    dpt__h5_quiet_end(&quiet);
    if (set < 0) {
        return dpt_err_set(err, DPT_EIO, "%s: cannot create dataset '%s' (HDF5: %s)", w->path,
                           name, why);
    }
    w->sets[w->n] = set;
    w->rank[w->n] = rank;
    snprintf(w->names[w->n], sizeof w->names[0], "%s", name);
    return w->n++;
}

int dpt_h5out_write(struct dpt_h5out *w, int which, uint64_t first, uint64_t rows,
                    hid_t mem_type, const void *buf, struct dpt_err *err)
{
    int rank = w->rank[which];
    hsize_t start[4] = {first, 0, 0, 0}, count[4];
    for (int i = 0; i < rank; i++) {
        count[i] = i == 0 ? rows : w->dims[which][i];
    }
    struct dpt__h5_quiet quiet;
    dpt__h5_quiet_begin(&quiet);
    hid_t fs = H5Dget_space(w->sets[which]);
    hid_t ms = H5Screate_simple(rank, count, NULL);
    errno = 0;
    herr_t ok = fs >= 0 && ms >= 0 &&
                        H5Sselect_hyperslab(fs, H5S_SELECT_SET, start, NULL, count, NULL) >= 0
                    ? H5Dwrite(w->sets[which], mem_type, ms, fs, H5P_DEFAULT, buf)
                    : -1;
    int e = errno;
    char why[DPT__H5_REASON_LEN];
    dpt__h5_reason(why, sizeof why);
    if (ms >= 0) {
        H5Sclose(ms);
    }
    if (fs >= 0) {
        H5Sclose(fs);
    }
    dpt__h5_quiet_end(&quiet);
    if (ok < 0) {
        return dpt_err_set(err, DPT_EIO, "%s: writing rows %llu to %llu of '%s' failed (%s; "
                           "HDF5: %s)", w->path, (unsigned long long)first,
                           (unsigned long long)(first + rows - 1), w->names[which],
                           e ? strerror(e) : "no details", why);
    }
    return 0;
}

int dpt_h5out_strings_attr(struct dpt_h5out *w, int which, const char *name,
                           const char *const *v, size_t n, struct dpt_err *err)
{
    struct dpt__h5_quiet quiet;
    dpt__h5_quiet_begin(&quiet);
    int rc = dpt__h5_write_strings_attr(w->sets[which], name, v, n);
    char why[DPT__H5_REASON_LEN];
    dpt__h5_reason(why, sizeof why);
    dpt__h5_quiet_end(&quiet);
    if (rc < 0) {
        return dpt_err_set(err, DPT_EIO, "%s: cannot write attribute '%s' of '%s' (HDF5: %s)",
                           w->path, name, w->names[which], why);
    }
    return 0;
}

int dpt_h5out_floats_attr(struct dpt_h5out *w, int which, const char *name, const float *v,
                          size_t n, struct dpt_err *err)
{
    struct dpt__h5_quiet quiet;
    dpt__h5_quiet_begin(&quiet);
    hsize_t dims[1] = {n};
    hid_t sp = H5Screate_simple(1, dims, NULL);
    hid_t a = sp >= 0 ? H5Acreate2(w->sets[which], name, H5T_IEEE_F32LE, sp, H5P_DEFAULT,
                                   H5P_DEFAULT) : -1;
    int rc = a >= 0 && H5Awrite(a, H5T_NATIVE_FLOAT, v) >= 0 ? 0 : -1;
    char why[DPT__H5_REASON_LEN];
    dpt__h5_reason(why, sizeof why);
    if (a >= 0) {
        H5Aclose(a);
    }
    if (sp >= 0) {
        H5Sclose(sp);
    }
    dpt__h5_quiet_end(&quiet);
    if (rc < 0) {
        return dpt_err_set(err, DPT_EIO, "%s: cannot write attribute '%s' of '%s' (HDF5: %s)",
                           w->path, name, w->names[which], why);
    }
    return 0;
}

/* Closes every HDF5 object; 0 or the HDF5 reason in why. */
static int close_all(struct dpt_h5out *w, char *why, size_t len)
{
    int rc = 0;
    struct dpt__h5_quiet quiet;
    dpt__h5_quiet_begin(&quiet);
    for (int i = 0; i < w->n; i++) {
        if (H5Dclose(w->sets[i]) < 0 && rc == 0) {
            dpt__h5_reason(why, len);
            rc = -1;
        }
    }
    /* H5Fclose writes the metadata kept in HDF5's cache: a full disk
     * shows here. */
    if (w->file >= 0 && H5Fclose(w->file) < 0 && rc == 0) {
        dpt__h5_reason(why, len);
        rc = -1;
    }
    dpt__h5_quiet_end(&quiet);
    return rc;
}

int dpt_h5out_close(struct dpt_h5out *w, struct dpt_err *err)
{
    char why[DPT__H5_REASON_LEN] = "";
    int rc = 0;
    errno = 0;
    if (close_all(w, why, sizeof why) < 0) {
        int e = errno;
        rc = dpt_err_set(err, DPT_EIO, "%s: closing the file failed (%s; HDF5: %s)", w->path,
                         e ? strerror(e) : "no details", why);
    }
    /* Reopened by name to fsync; a symbolic link or a FIFO someone swapped
     * in for the file meanwhile is refused rather than followed or waited on. */
    int fd = rc == 0 ? open(w->path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC) : -1;
    if (rc == 0 && (fd < 0 || fsync(fd) != 0)) {
        rc = dpt_err_set(err, DPT_EIO, "%s: fsync: %s", w->path, strerror(errno));
    }
    if (fd >= 0) {
        close(fd);
    }
    free(w->path);
    free(w);
    return rc;
}

void dpt_h5out_abandon(struct dpt_h5out *w)
{
    if (!w) {
        return;
    }
    char why[DPT__H5_REASON_LEN];
    close_all(w, why, sizeof why);
    unlink(w->path);
    free(w->path);
    free(w);
}
