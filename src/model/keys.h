/* The reference of every model-file key: `dptrain keys` and the KEYS
 * section of dptrain(1).
 *
 * It cannot drift from the reader, because the reader writes most of it:
 * dpt_keys_reference parses a small model file with every optional group
 * present while the host getters record what they are asked
 * (plugin/host.h, dpt_host_record), and takes each key's name, type,
 * default, range and choices from those calls, the very arguments
 * src/model/spec.c passes. Only what the code cannot say comes from the
 * table in keys.c: one row per key with its meaning (and, for a key read
 * as a list or a group rather than through a typed getter, its type and
 * default in words). A key the reader asks for without a row, or a row
 * for a key it does not ask for, or a row that states the type or default
 * of a key a typed getter reads, is an error (tests/keys.sh runs it).
 *
 * Adding a key to the model file is therefore: the getter call in spec.c,
 * and one row { "section.key", NULL, NULL, "meaning" } in keys.c.
 *
 * Left out: the settings of plugins (a layer's units, the optimizer's
 * learning_rate), which each plugin reads for itself; README.md lists the
 * built-in ones and `dptrain check-plugin` exercises them.
 */
#ifndef DPT_MODEL_KEYS_H
#define DPT_MODEL_KEYS_H

#include <dptrain/dptrain.h>
#include <stddef.h>

struct dpt_key_ref {
    char name[128];    /* "train.checkpoint.keep" */
    char type[32];     /* "integer", "number", "boolean", "string", "group", or the row's words */
    char def[160];     /* "2", "\"auto\"", "none", or the row's words */
    char range[256];   /* "at least 1", "[0, 0.99]", "auto, none, all"; empty: any */
    const char *meaning;
};

/* The reference in the reader's order (sections, then keys as spec.c asks
 * for them): *refs is malloc'ed (free it), *n its length. DPT_ECONFIG
 * when the table of meanings and the reader disagree, naming the key. */
int dpt_keys_reference(struct dpt_key_ref **refs, size_t *n, struct dpt_err *err);

#endif
