/* dptrain library API: error reporting shared by every part of libdptrain.
 *
 * Fallible functions return 0 or a negative DPT_E* code and take a
 * `struct dpt_err *err` last; the function that detects a problem writes the
 * whole story once (file, dataset or line, what was expected, what was found)
 * and callers may prefix context with dpt_err_prefix().
 *
 *     struct dpt_err err = {0};
 *     if (dpt_something(..., &err) < 0)
 *         fprintf(stderr, "dptrain: error: %s\n", err.msg);
 */
#ifndef DPTRAIN_DPTRAIN_H
#define DPTRAIN_DPTRAIN_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* What libdptrain exports: it is built with -fvisibility=hidden, so only
 * the functions declared with DPT_API in these headers are visible. */
#if defined(__GNUC__)
#define DPT_API __attribute__((visibility("default")))
#else
#define DPT_API
#endif

enum dpt_status {
    DPT_OK = 0,
    DPT_EINVAL = -1,   /* bad argument or option */
    DPT_ENOMEM = -2,   /* out of memory */
    DPT_EIO = -3,      /* a file could not be read or written */
    DPT_EFORMAT = -4,  /* a file's contents are not what was expected */
    DPT_EPLUGIN = -5,  /* a plugin could not be loaded or failed */
    DPT_ECONFIG = -6,  /* the model file is wrong */
    DPT_EDATA = -7,    /* bad data: NaN, label out of range, shapes */
    DPT_ENUMERIC = -8, /* training diverged: NaN/Inf loss */
    DPT_ESIGNAL = -9,  /* interrupted */
    DPT_ECRASH = -10,  /* a plugin crashed (SIGSEGV...) loading or in create(): report, exit */
};

struct dpt_err {
    int code;
    char msg[2048];
};

/* Sets err (if not NULL) and returns code. */
DPT_API int dpt_err_set(struct dpt_err *err, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Puts "prefix: " in front of the message already in err; returns err->code. */
DPT_API int dpt_err_prefix(struct dpt_err *err, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Stop requests. A host asks the library to stop by calling
 * dpt_stop_request(sig) (async-signal-safe: call it from a SIGINT, SIGTERM
 * or SIGUSR1 handler); every long loop of the library (reading data, the
 * standardization statistics, evaluation, prediction, the training steps)
 * polls dpt_stop_requested() and returns DPT_ESIGNAL within about a second.
 * Training first finishes its step and writes a checkpoint. The first
 * request's signal number is kept (sig <= 0 counts as SIGTERM); the flag
 * is never cleared. dpt_stop_requested() returns it, or 0. */
DPT_API void dpt_stop_request(int sig);
DPT_API int dpt_stop_requested(void);

/* The file the library is reading now, or NULL; *stalled_s (unless NULL)
 * gets the seconds since that read last made progress. For a host's crash
 * handler and watchdog: libhdf5 itself can crash or loop on a damaged
 * file, and the host can then name the file instead of dumping core or
 * sitting until a batch job's time limit. Async-signal-safe; the string
 * stays valid until the next read begins. */
DPT_API const char *dpt_reading_file(double *stalled_s);

/* The library's version string, e.g. "0.1.0". */
DPT_API const char *dpt_version(void);

#ifdef __cplusplus
}
#endif
#endif /* DPTRAIN_DPTRAIN_H */
