/* What the libFuzzer harnesses of tests/fuzz/ share.
 *
 * Each harness (spec.c, dataset.c, saved_model.c) defines
 * LLVMFuzzerTestOneInput and LLVMFuzzerInitialize and is linked twice:
 * with -fsanitize=fuzzer in the --enable-fuzz build (scripts/fuzz runs it),
 * and with replay.c, a plain main() that feeds it files, in the normal
 * build (tests/fuzz_replay.sh replays the seeds and the regression inputs
 * under `make check`, and so under scripts/check --sanitize).
 *
 * The harnesses call the library as dptrain does and turn what must never
 * happen into a crash the fuzzer records: an error code without a message,
 * an HDF5 object left open after an input (a handle leak, which also makes
 * the next open of the same path find the stale file), or a crash caught by
 * the plugin guard (which would otherwise become an error message).
 */
#ifndef DPT_TESTS_FUZZ_H
#define DPT_TESTS_FUZZ_H

#include <dptrain/dptrain.h>
#include <stddef.h>
#include <stdint.h>

struct dpt_registry;

/* The path of a file named name in this process's scratch folder (made on
 * first use under $TMPDIR or /tmp, removed at exit). Returns a static
 * buffer per name slot: call it once per name, at initialization. */
const char *fuzz_scratch(const char *name);

/* Writes size bytes to path, replacing it; aborts when it cannot. */
void fuzz_write(const char *path, const void *data, size_t size);

/* Aborts with a message unless rc is 0, or negative with err naming the
 * problem (a non-empty message). what names the call. With FUZZ_VERBOSE
 * set in the environment, prints every call's outcome (for triage). */
void fuzz_check_result(const char *what, int rc, const struct dpt_err *err);

/* Aborts when any HDF5 object is still open, or when a plugin crashed in
 * a guarded call. Called at the end of every input. */
void fuzz_check_clean(void);

/* The plugin registry, built once: the build tree's plugins (or
 * $DPTRAIN_PLUGIN_PATH), never the user's own. */
const struct dpt_registry *fuzz_registry(void);

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#endif
