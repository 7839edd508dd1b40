/* HDF5 error handling shared inside libdptrain (not exported).
 *
 * HDF5 prints its whole error stack to stderr by default, and a library must
 * not print. Every libdptrain entry point that calls HDF5 therefore runs it
 * quietly between dpt__h5_quiet_begin and dpt__h5_quiet_end, which restore
 * the caller's own setting (default printing, a handler of their own, or
 * none) on the way out. The reason HDF5 gives for a failure is quoted in our
 * message instead, with dpt__h5_reason. Like HDF5 in the Debian build, none
 * of this is thread-safe: the setting belongs to the whole process.
 *
 *     struct dpt__h5_quiet quiet;
 *     dpt__h5_quiet_begin(&quiet);
 *     hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
 *     if (f < 0) {
 *         char why[DPT__H5_REASON_LEN];
 *         rc = dpt_err_set(err, DPT_EIO, "%s: cannot open (HDF5: %s)", path,
 *                          dpt__h5_reason(why, sizeof why));
 *     }
 *     ...
 *     dpt__h5_quiet_end(&quiet);
 */
#ifndef DPT_UTIL_H5_H
#define DPT_UTIL_H5_H

#include <hdf5.h>
#include <stddef.h>

/* The caller's automatic HDF5 error printing, saved while we run quietly. */
struct dpt__h5_quiet {
    H5E_auto2_t func;
    void *data;
    int reading; /* dpt__h5_reading was called with it */
};

/* Saves the current automatic error printing of the default error stack in
 * q and turns it off. Every path out of the function that called it MUST
 * pass through dpt__h5_quiet_end(q). Pairs nest: an inner pair saves and
 * restores "off". */
void dpt__h5_quiet_begin(struct dpt__h5_quiet *q);

/* Restores the setting q saved, and ends what dpt__h5_reading(q, ...)
 * began. */
void dpt__h5_quiet_end(const struct dpt__h5_quiet *q);

/* Damaged files can crash or hang libhdf5 itself (fuzzing found both in
 * 1.10.8, docs/RELIABILITY.md): dptrain cannot fix the library, but it can
 * say which file did it. Right after dpt__h5_quiet_begin(q), an entry
 * point that reads a file calls dpt__h5_reading(q, path); until
 * dpt__h5_quiet_end(q), dpt_reading_file() (dptrain.h) names the file and
 * how long the current read has gone without progress, for the host's
 * crash handler and watchdog. Pairs nest (the outermost path is kept).
 * dpt__h5_progress marks progress within a long call: one bounded block
 * of rows read. The library installs no handler itself. */
void dpt__h5_reading(struct dpt__h5_quiet *q, const char *path);
void dpt__h5_progress(void);

/* A buffer size that holds a typical HDF5 reason whole. */
#define DPT__H5_REASON_LEN 256

/* Writes the innermost message of HDF5's error stack (the most specific
 * one, e.g. "unable to open file") into buf (len bytes, truncated to fit),
 * or "no details" when the stack is empty, and returns buf, for "(HDF5:
 * ...)" in our messages. Call it right after the failing HDF5 call: the
 * next HDF5 API call clears the stack. */
const char *dpt__h5_reason(char *buf, size_t len);

/* A 1-D attribute of strings (variable- or fixed-length), such as the
 * `classes` of a label set that `dptrain convert` writes: 1 with *v (n
 * malloc'ed strings in a malloc'ed array, dpt__h5_free_strings) and *n
 * set; 0 when obj has no such attribute; -1 when it is there but not 1 to
 * 2^20 strings or unreadable (*v NULL). The caller runs HDF5 quietly. */
int dpt__h5_read_strings_attr(hid_t obj, const char *name, char ***v, size_t *n);
/* Writes n strings as a 1-D attribute of variable-length UTF-8 strings: 0,
 * or -1 when HDF5 failed. */
int dpt__h5_write_strings_attr(hid_t obj, const char *name, const char *const *v, size_t n);
void dpt__h5_free_strings(char **v, size_t n);

/* HDF5 filter plugins (h5_filters.c). Debian installs each filter plugin in
 * LIBDIR/hdf5/<flavour>/plugins for the HDF5 flavour it was built for
 * (serial, openmpi, mpich), and HDF5 searches only its own flavour's folder,
 * or only HDF5_PLUGIN_PATH when that is set. dpt__h5_find_filters appends,
 * once per process and after whatever HDF5 searches already: this flavour's
 * folder, then serial's, then any other flavour's, each when it exists and
 * only root or we can write to it. HDF5_PLUGIN_PATH's folders keep coming
 * first and HDF5_PLUGIN_PRELOAD=:: still turns plugins off. Call it before
 * asking H5Zfilter_avail about a dataset's filters. */
void dpt__h5_find_filters(void);

/* The name of filter id: the registered one for filters dptrain knows,
 * else the name stored in the file, else "unnamed". */
const char *dpt__h5_filter_name(H5Z_filter_t id, const char *stored);

/* Why filter id cannot be decoded here, for the end of a one-line message:
 * which Debian package to install, or that Debian has none and a plugin
 * for this filter id is needed, or that HDF5_PLUGIN_PRELOAD=:: turns
 * plugins off. Returns buf. */
const char *dpt__h5_filter_missing(char *buf, size_t len, H5Z_filter_t id);

#endif
