/* The model-file key reference: see keys.h. The table below holds only
 * what the code cannot tell (meanings, and the type and default of the
 * keys read as lists or groups); every other figure is recorded from the
 * getters of src/model/spec.c while they read PROBE. */
#include "config.h"

#include "model/keys.h"
#include "model/spec.h"
#include "plugin/host.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* One key: its full name; for a key read as a setting or a group (not
 * through a typed getter) its type and default in words, else NULL; and
 * what it means. Add a row here when spec.c reads a new key. */
struct key_doc {
    const char *name, *type, *def, *meaning;
};

static const struct key_doc docs[] = {
    {"data", "group", "{}", "the training data and how it is read"},
    {"model", "group", "required", "the network, its loss and its optimizer"},
    {"train", "group", "{}", "how training runs"},
    {"data.train", "string or list of strings", "none",
     "the training data: an HDF5 file, a glob pattern (\"shards/part-*.h5\") or a list of "
     "them, one data set in that order; relative to the model file's folder"},
    {"data.test", "string or list of strings", "none",
     "file(s) evaluated after training, as data.train"},
    {"data.x", NULL, NULL, "the inputs' dataset name: [N, F], [N, H, W] or [N, H, W, C]"},
    {"data.y", NULL, NULL, "the targets' dataset name: [N] labels or [N, k] values"},
    {"data.shuffle", NULL, NULL, "a new seeded order of the rows every epoch; false keeps "
                                 "the file's order"},
    {"data.shuffle_by", NULL, NULL, "auto: blocks for a file whose rows take more than 64 MB "
                                    "as floats, else rows; rows: each epoch's order from the "
                                    "whole file; blocks: blocks of neighbouring rows in a new "
                                    "order, rows shuffled within pools of blocks (reads runs of "
                                    "the file, decompresses each chunk once an epoch)"},
    {"data.standardize", NULL, NULL, "inputs to zero mean and unit variance per feature "
                                     "(statistics stored in the model)"},
    {"data.standardize_y", NULL, NULL, "regression targets standardized too (predictions "
                                       "stay in the file's units)"},
    {"data.scale", NULL, NULL, "every input is multiplied by it first, e.g. 1/255; must be "
                               "above 0"},
    {"data.cache", NULL, NULL, "auto: keep the whole file in memory when its rows take at "
                               "most 64 MB as floats (unless window_rows is set); all: always; "
                               "none: read each rank's rows"},
    {"data.window_rows", NULL, NULL, "rows a rank reads at a time; 0: a whole epoch when "
                                     "two fit the budget, else windows that do; set, it turns "
                                     "cache = \"auto\" off"},
    {"data.validation", "string or list of strings", "none",
     "validation file(s), evaluated after every epoch, as data.train"},
    {"data.x_columns", "integer, string or list of them", "every column not in y_columns",
     "the feature columns of data.x's 2-D table: an index (negative from the end), a range "
     "\"a:b\" (b excluded) or a list of them"},
    {"data.y_columns", "integer, string or list of them", "none (y is its own dataset)",
     "the label column(s) of data.x's 2-D table, e.g. [-1], as data.x_columns"},
    {"data.validation_split", NULL, NULL, "or this fraction of data.train's rows held out "
                                          "for validation (seeded by train.seed)"},
    {"model.layers", "list of groups", "required", "the layers in order, each { type = "
                                                   "\"dense\"; ... } with its plugin's settings"},
    {"model.loss", "string or group", "required", "the loss plugin: \"mse\", \"bce\", \"cce\" "
                                                  "or { type = ...; settings }"},
    {"model.optimizer", "string or group", "required", "the optimizer plugin: \"sgd\", "
                                                       "\"adam\", ... or { type = ...; "
                                                       "learning_rate = ...; }"},
    {"model.metrics", "list of strings", "[]", "metrics to report; only \"accuracy\" (the "
                                               "others are always computed)"},
    {"train.batch", NULL, NULL, "rows per optimizer step, over all ranks and threads; above "
                                "the training rows, one step an epoch over all of them "
                                "(with a note)"},
    {"train.epochs", NULL, NULL, "passes over the training rows"},
    {"train.seed", NULL, NULL, "fixes the initial weights, the row order and dropout"},
    {"train.micro_batch", NULL, NULL, "rows per micro-shard; 0: batch / workers, at most 16 "
                                      "with convolutions, 32 with batch norm; when "
                                      "deterministic batch / 4, at most 64 (16 with "
                                      "convolutions)"},
    {"train.check_sync", NULL, NULL, "every K steps compare a hash of the weights across "
                                     "ranks; 0: never"},
    {"train.deterministic", NULL, NULL, "exact (fixed-point) sums: the same weights for any "
                                        "number of ranks and threads"},
    {"train.scale_lr_batch", NULL, NULL, "multiply the learning rate by batch / this (the "
                                         "large-batch rule); 0: off"},
    {"train.clip_norm", NULL, NULL, "clip the global gradient norm to this; 0: off"},
    {"train.clip_value", NULL, NULL, "clip each gradient element to [-v, v]; 0: off"},
    {"train.timeout", NULL, NULL, "seconds a rank may wait in one collective call before the "
                                  "job is ended; 0: never"},
    {"train.log", NULL, NULL, "a per-epoch metrics file, .csv or .jsonl (relative to the "
                              "model file's folder)"},
    {"train.log_every", NULL, NULL, "the per-epoch line off a terminal every N epochs, or a "
                                    "time (\"30s\", \"5min\", \"1h\", \"HH:MM:SS\"): at most "
                                    "one line per that much training; the first and last "
                                    "epochs are always shown, and each checkpoint has a "
                                    "line of its own"},
    {"train.time_limit", NULL, NULL, "seconds (a number) or \"HH:MM:SS\": stop in time to "
                                     "write a checkpoint, exit status 3"},
    {"train.checkpoint", "group", "{}", "when checkpoints are written and how many kept"},
    {"train.checkpoint.path", NULL, NULL, "the checkpoint link, relative to the model file's "
                                          "folder (or --checkpoint PATH)"},
    {"train.checkpoint.every_steps", NULL, NULL, "a checkpoint every N steps; 0: off"},
    {"train.checkpoint.every_epochs", NULL, NULL, "a checkpoint every N epochs; 0: off"},
    {"train.checkpoint.every_seconds", NULL, NULL, "a checkpoint when this many seconds of "
                                                   "training passed since the last; 0: off"},
    {"train.checkpoint.keep", NULL, NULL, "numbered checkpoint files kept on disk"},
    {"train.early_stopping", "group", "none (off)", "stop when the monitored metric stops "
                                                    "improving"},
    {"train.early_stopping.monitor", NULL, NULL, "the metric watched (val_* need validation "
                                                 "data)"},
    {"train.early_stopping.min_delta", NULL, NULL, "the least change that counts as an "
                                                   "improvement"},
    {"train.early_stopping.patience", NULL, NULL, "epochs without improvement before "
                                                  "stopping"},
    {"train.early_stopping.restore_best_weights", NULL, NULL, "end with the weights of the "
                                                              "best epoch (also when the "
                                                              "epochs run out first)"},
    {"train.lr_schedule", "group", "none (constant)", "the learning rate's factor by step"},
    {"train.lr_schedule.type", NULL, NULL, "the schedule's shape"},
    {"train.lr_schedule.decay_steps", NULL, NULL, "steps of one decay (step, exponential) or "
                                                  "of the whole cosine"},
    {"train.lr_schedule.decay_rate", NULL, NULL, "the factor per decay_steps (step, "
                                                 "exponential)"},
    {"train.lr_schedule.warmup_steps", NULL, NULL, "a linear warmup over the first steps"},
    {"train.lr_schedule.min_scale", NULL, NULL, "the factor never goes below this"},
    {"train.reduce_lr_on_plateau", "group", "none (off)", "lower the learning rate when the "
                                                          "monitored metric stalls"},
    {"train.reduce_lr_on_plateau.monitor", NULL, NULL, "the metric watched (val_* need "
                                                       "validation data)"},
    {"train.reduce_lr_on_plateau.factor", NULL, NULL, "the learning rate is multiplied by it"},
    {"train.reduce_lr_on_plateau.patience", NULL, NULL, "epochs without improvement before "
                                                        "reducing"},
    {"train.reduce_lr_on_plateau.min_delta", NULL, NULL, "the least change that counts as an "
                                                         "improvement"},
    {"train.reduce_lr_on_plateau.min_scale", NULL, NULL, "the factor never goes below this"},
};

/* A model file with every optional group present (empty), so that each
 * group's keys are asked for with the defaults they have when the group
 * is given (a callback's monitor is val_loss then). */
static const char PROBE[] =
    "model = { layers = ( { type = \"dense\"; units = 1; } ); loss = \"mse\"; "
    "optimizer = \"sgd\"; };\n"
    "train = { checkpoint = { }; early_stopping = { }; lr_schedule = { }; "
    "reduce_lr_on_plateau = { }; };\n";

static const char *type_word(enum dpt_key_type t)
{
    switch (t) {
    case DPT_KEY_INT:
        return "integer";
    case DPT_KEY_FLOAT:
        return "number";
    case DPT_KEY_BOOL:
        return "boolean";
    case DPT_KEY_STRING:
        return "string";
    case DPT_KEY_GROUP:
        return "group";
    default:
        return "setting";
    }
}

/* The range of an integer key in words: a bound at the end of the type
 * is no bound. */
static void int_range(const struct dpt_key_use *u, char *buf, size_t len)
{
    if (u->imin == INT64_MIN && u->imax == INT64_MAX) {
        buf[0] = '\0';
    } else if (u->imax == INT64_MAX) {
        snprintf(buf, len, "at least %" PRId64, u->imin);
    } else if (u->imin == INT64_MIN) {
        snprintf(buf, len, "at most %" PRId64, u->imax);
    } else {
        snprintf(buf, len, "[%" PRId64 ", %" PRId64 "]", u->imin, u->imax);
    }
}

static void float_range(const struct dpt_key_use *u, char *buf, size_t len)
{
    if (isinf(u->fmin) && isinf(u->fmax)) {
        buf[0] = '\0';
    } else if (isinf(u->fmax)) {
        snprintf(buf, len, "at least %g", u->fmin);
    } else if (isinf(u->fmin)) {
        snprintf(buf, len, "at most %g", u->fmax);
    } else {
        snprintf(buf, len, "[%g, %g]", u->fmin, u->fmax);
    }
}

/* The type, default and range the getter was given, into r. */
static void from_getter(const struct dpt_key_use *u, struct dpt_key_ref *r)
{
    snprintf(r->type, sizeof r->type, "%s", type_word(u->type));
    switch (u->type) {
    case DPT_KEY_INT:
        snprintf(r->def, sizeof r->def, "%" PRId64, u->idef);
        int_range(u, r->range, sizeof r->range);
        break;
    case DPT_KEY_FLOAT:
        snprintf(r->def, sizeof r->def, "%g", u->fdef);
        float_range(u, r->range, sizeof r->range);
        break;
    case DPT_KEY_BOOL:
        snprintf(r->def, sizeof r->def, "%s", u->idef ? "true" : "false");
        break;
    default:
        if (u->has_sdef) {
            snprintf(r->def, sizeof r->def, "\"%s\"", u->sdef);
        } else {
            snprintf(r->def, sizeof r->def, "none");
        }
        if (u->choices[0]) {
            snprintf(r->range, sizeof r->range, "one of %s", u->choices);
        }
        break;
    }
}

/* "train.checkpoint.keep" from the section the getter served and its key. */
static void full_name(const struct dpt_key_use *u, char *buf, size_t len)
{
    if (strcmp(u->what, "top level") == 0) {
        snprintf(buf, len, "%s", u->key);
    } else {
        snprintf(buf, len, "%s.%s", u->what, u->key);
    }
}

static const struct key_doc *find_doc(const char *name)
{
    for (size_t i = 0; i < sizeof docs / sizeof docs[0]; i++) {
        if (strcmp(docs[i].name, name) == 0) {
            return &docs[i];
        }
    }
    return NULL;
}

/* One reference entry per recorded key, checked against its row. */
static int merge(const struct dpt_key_log *log, struct dpt_key_ref *refs,
                 struct dpt_err *err)
{
    for (size_t i = 0; i < log->n; i++) {
        const struct dpt_key_use *u = &log->use[i];
        struct dpt_key_ref *r = &refs[i];
        full_name(u, r->name, sizeof r->name);
        const struct key_doc *d = find_doc(r->name);
        if (!d) {
            return dpt_err_set(err, DPT_ECONFIG, "the model-file reader (src/model/spec.c) "
                               "reads '%s', which has no row in src/model/keys.c: add { \"%s\", "
                               "NULL, NULL, \"what it means\" }", r->name, r->name);
        }
        int typed = u->type != DPT_KEY_SETTING && u->type != DPT_KEY_GROUP;
        if (typed && (d->type || d->def)) {
            return dpt_err_set(err, DPT_ECONFIG, "src/model/keys.c states the type or default "
                               "of '%s', which the reader's getter gives: leave them NULL",
                               r->name);
        }
        if (!typed && (!d->type || !d->def)) {
            return dpt_err_set(err, DPT_ECONFIG, "src/model/keys.c must state the type and "
                               "default of '%s' (read as a %s, not through a typed getter)",
                               r->name, type_word(u->type));
        }
        if (typed) {
            from_getter(u, r);
        } else {
            snprintf(r->type, sizeof r->type, "%s", d->type);
            snprintf(r->def, sizeof r->def, "%s", d->def);
        }
        r->meaning = d->meaning;
    }
    return 0;
}

/* A row of the table whose key the reader never asked for. */
static int check_rows_read(const struct dpt_key_ref *refs, size_t n, struct dpt_err *err)
{
    for (size_t i = 0; i < sizeof docs / sizeof docs[0]; i++) {
        size_t k = 0;
        while (k < n && strcmp(refs[k].name, docs[i].name) != 0) {
            k++;
        }
        if (k == n) {
            return dpt_err_set(err, DPT_ECONFIG, "src/model/keys.c documents '%s', which the "
                               "model-file reader (src/model/spec.c) does not read",
                               docs[i].name);
        }
    }
    return 0;
}

int dpt_keys_reference(struct dpt_key_ref **refs, size_t *n, struct dpt_err *err)
{
    *refs = NULL;
    *n = 0;
    struct dpt_key_log *log = calloc(1, sizeof *log);
    if (!log) {
        return dpt_err_set(err, DPT_ENOMEM, "out of memory");
    }
    struct dpt_spec spec;
    struct dpt_key_log *before = dpt_host_record(log);
    int rc = dpt_spec_parse(&spec, PROBE, "(the key reference's probe)", err);
    dpt_host_record(before);
    dpt_spec_cleanup(&spec);
    if (rc == 0 && log->overflow) {
        rc = dpt_err_set(err, DPT_ECONFIG, "more than %d model-file keys: raise "
                         "DPT_KEY_LOG_MAX in src/plugin/host.h", DPT_KEY_LOG_MAX);
    }
    struct dpt_key_ref *out = rc == 0 ? calloc(log->n ? log->n : 1, sizeof *out) : NULL;
    if (rc == 0 && !out) {
        rc = dpt_err_set(err, DPT_ENOMEM, "out of memory");
    }
    if (rc == 0) {
        rc = merge(log, out, err);
    }
    if (rc == 0) {
        rc = check_rows_read(out, log->n, err);
    }
    if (rc == 0) {
        *refs = out;
        *n = log->n;
        out = NULL;
    }
    free(out);
    free(log);
    return rc;
}
