/* Error messages: written once by the function that finds the problem. */
#include "config.h"

#include <dptrain/dptrain.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

int dpt_err_set(struct dpt_err *err, int code, const char *fmt, ...)
{
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err->msg, sizeof err->msg, fmt, ap);
        va_end(ap);
        err->code = code;
    }
    return code;
}

int dpt_err_prefix(struct dpt_err *err, const char *fmt, ...)
{
    if (!err) {
        return DPT_EINVAL;
    }
    char head[512], old[sizeof err->msg];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(head, sizeof head, fmt, ap);
    va_end(ap);
    memcpy(old, err->msg, sizeof old);
    snprintf(err->msg, sizeof err->msg, "%.511s: %.1530s", head, old);
    return err->code;
}

const char *dpt_version(void)
{
    return PACKAGE_VERSION;
}
