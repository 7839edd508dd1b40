/* HDF5 error handling shared inside libdptrain: running HDF5 quietly and
 * quoting its innermost reason (see h5.h). */
#include "config.h"

#include "util/h5.h"

#include <stdio.h>

void dpt__h5_quiet_begin(struct dpt__h5_quiet *q)
{
    /* If the setting cannot be read, restoring "off" is the safe guess: it
     * never prints, and it never calls a handler that may be gone. */
    if (H5Eget_auto2(H5E_DEFAULT, &q->func, &q->data) < 0) {
        q->func = NULL;
        q->data = NULL;
    }
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
}

void dpt__h5_quiet_end(const struct dpt__h5_quiet *q)
{
    H5Eset_auto2(H5E_DEFAULT, q->func, q->data);
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
