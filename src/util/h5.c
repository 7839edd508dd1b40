/* HDF5 error handling shared inside libdptrain: running HDF5 quietly and
 * quoting its innermost reason (see h5.h). */
#include "config.h"

#include "util/h5.h"

#include <dptrain/dptrain.h>
#include <stdint.h>
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
