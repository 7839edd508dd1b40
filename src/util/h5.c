/* HDF5 error handling shared inside libdptrain: running HDF5 quietly and
 * quoting its innermost reason (see h5.h). */
#include "config.h"

#include "util/h5.h"

#include <dptrain/dptrain.h>
#include <stdint.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

/* The file being read (dpt__h5_reading): written by the one thread that
 * calls HDF5, read by a host's signal handler or watchdog thread. The
 * path is copied, so it outlives the caller's string; `active` is set
 * after the copy and cleared before the next one (release/acquire). */
static char reading_path[4096];
static int reading_depth;
static int reading_active;
static int64_t reading_since; /* ns, CLOCK_MONOTONIC */

static int64_t now_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
}

void dpt__h5_reading(struct dpt__h5_quiet *q, const char *path)
{
    q->reading = 1;
    if (reading_depth++ == 0) {
        snprintf(reading_path, sizeof reading_path, "%s", path);
        __atomic_store_n(&reading_since, now_ns(), __ATOMIC_RELAXED);
        __atomic_store_n(&reading_active, 1, __ATOMIC_RELEASE);
    }
}

void dpt__h5_progress(void)
{
    __atomic_store_n(&reading_since, now_ns(), __ATOMIC_RELAXED);
}

const char *dpt_reading_file(double *stalled_s)
{
    if (!__atomic_load_n(&reading_active, __ATOMIC_ACQUIRE)) {
        return NULL;
    }
    if (stalled_s) {
        *stalled_s = 1e-9 * (double)(now_ns() - __atomic_load_n(&reading_since, __ATOMIC_RELAXED));
    }
    return reading_path;
}

void dpt__h5_quiet_begin(struct dpt__h5_quiet *q)
{
    /* If the setting cannot be read, restoring "off" is the safe guess: it
     * never prints, and it never calls a handler that may be gone. */
    if (H5Eget_auto2(H5E_DEFAULT, &q->func, &q->data) < 0) {
        q->func = NULL;
        q->data = NULL;
    }
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    q->reading = 0;
}

void dpt__h5_quiet_end(const struct dpt__h5_quiet *q)
{
    H5Eset_auto2(H5E_DEFAULT, q->func, q->data);
    if (q->reading && --reading_depth == 0) {
        __atomic_store_n(&reading_active, 0, __ATOMIC_RELEASE);
    }
}

struct reason {
    char *buf;
    size_t len;
};

/* H5Ewalk2 callback: walking upward, entry 0 is the innermost error. */
static herr_t innermost(unsigned n, const H5E_error2_t *e, void *data)
{
    const struct reason *r = data;
    if (n == 0 && e->desc && e->desc[0]) {
        snprintf(r->buf, r->len, "%s", e->desc);
    }
    return 0;
}

const char *dpt__h5_reason(char *buf, size_t len)
{
    struct reason r = {buf, len};
    snprintf(buf, len, "no details");
    H5Ewalk2(H5E_DEFAULT, H5E_WALK_UPWARD, innermost, &r);
    return buf;
}

int dpt__h5_read_strings_attr(hid_t obj, const char *name, char ***v, size_t *n)
{
    *v = NULL, *n = 0;
    if (H5Aexists(obj, name) <= 0) {
        return 0;
    }
    hid_t a = H5Aopen(obj, name, H5P_DEFAULT);
    hid_t ft = a >= 0 ? H5Aget_type(a) : -1, sp = a >= 0 ? H5Aget_space(a) : -1;
    hssize_t k = sp >= 0 ? H5Sget_simple_extent_npoints(sp) : -1;
    int ok = ft >= 0 && H5Tget_class(ft) == H5T_STRING && sp >= 0 &&
             H5Sget_simple_extent_ndims(sp) == 1 && k > 0 && k <= (1 << 20);
    int vlen = ok && H5Tis_variable_str(ft) > 0;
    size_t width = ok && !vlen ? H5Tget_size(ft) : 0;
    hid_t mt = ok ? H5Tcopy(H5T_C_S1) : -1;
    ok = mt >= 0 && H5Tset_size(mt, vlen ? H5T_VARIABLE : width + 1) >= 0 &&
         H5Tset_cset(mt, H5Tget_cset(ft)) >= 0;
    char **s = ok ? calloc((size_t)k, sizeof *s) : NULL;
    char *fixed = ok && !vlen ? calloc((size_t)k, width + 1) : NULL;
    ok = s && (vlen || fixed) && H5Aread(a, mt, vlen ? (void *)s : (void *)fixed) >= 0;
    for (hssize_t i = 0; ok && i < k; i++) {
        char *copy = strdup(vlen ? (s[i] ? s[i] : "") : fixed + (size_t)i * (width + 1));
        if (vlen) {
            H5free_memory(s[i]);
        }
        s[i] = copy;
    }
    for (hssize_t i = 0; ok && i < k; i++) {
        ok = s[i] != NULL;
    }
    free(fixed);
    if (mt >= 0) {
        H5Tclose(mt);
    }
    if (ft >= 0) {
        H5Tclose(ft);
    }
    if (sp >= 0) {
        H5Sclose(sp);
    }
    if (a >= 0) {
        H5Aclose(a);
    }
    if (!ok) {
        dpt__h5_free_strings(s, s ? (size_t)k : 0);
        return -1;
    }
    *v = s, *n = (size_t)k;
    return 1;
}

int dpt__h5_write_strings_attr(hid_t obj, const char *name, const char *const *v, size_t n)
{
    hsize_t dim = n;
    hid_t type = H5Tcopy(H5T_C_S1);
    int ok = type >= 0 && H5Tset_size(type, H5T_VARIABLE) >= 0 &&
             H5Tset_cset(type, H5T_CSET_UTF8) >= 0;
    hid_t space = ok ? H5Screate_simple(1, &dim, NULL) : -1;
    hid_t attr = space >= 0 ? H5Acreate2(obj, name, type, space, H5P_DEFAULT, H5P_DEFAULT) : -1;
    ok = attr >= 0 && H5Awrite(attr, type, v) >= 0;
    if (attr >= 0) {
        H5Aclose(attr);
    }
    if (space >= 0) {
        H5Sclose(space);
    }
    if (type >= 0) {
        H5Tclose(type);
    }
    return ok ? 0 : -1;
}

void dpt__h5_free_strings(char **v, size_t n)
{
    for (size_t i = 0; v && i < n; i++) {
        free(v[i]);
    }
    free(v);
}
