/* The model file as text, before libconfig parses it (spec_text.c): read
 * with clear errors, and with every integer that needs 64 bits marked so
 * that libconfig 1.5 does not cut it to 32.
 */
#ifndef DPT_MODEL_SPEC_TEXT_H
#define DPT_MODEL_SPEC_TEXT_H

#include <dptrain/dptrain.h>

/* The largest model file read: far above any real one (the examples are
 * under 2 KB), low enough that a data file or /dev/zero given by mistake
 * is refused at once rather than read whole. */
#define DPT_SPEC_MAX_BYTES (1 << 20)

/* The whole file at path, NUL-terminated, in *text (malloc'ed; the caller
 * frees it). Refuses, naming the file and the reason: a file that cannot
 * be opened or read (errno's text), a folder, more than DPT_SPEC_MAX_BYTES
 * bytes, a NUL byte (with its line). */
int dpt__spec_read_file(const char *path, char **text, struct dpt_err *err);

/* A copy of libconfig text with the suffix L added to every integer
 * literal outside the 32-bit range, in *out (malloc'ed; the caller frees
 * it); an integer outside the 64-bit range is an error naming name and
 * its line. Strings, comments, names and floats are copied unchanged, and
 * so are the lines. */
int dpt__config_widen_ints(const char *text, const char *name, char **out,
                           struct dpt_err *err);

#endif
