/* What a resume must keep and what it may change: see resume.h. */
#include "config.h"

#include "train/resume.h"
#include "model/spec_store.h"

#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#define FP_ROWS 8 /* rows hashed at the start, the middle and the end of the data */

int dpt_resume_fingerprint(struct dpt_dataset *ds, char *buf, size_t len, struct dpt_err *err)
{
    uint64_t n = dpt_dataset_rows(ds), f = dpt_dataset_features(ds);
    uint64_t yc = dpt_dataset_y_cols(ds);
    size_t k = n < FP_ROWS ? (size_t)n : FP_ROWS;
    float *x = malloc((k * f + 1) * sizeof *x), *y = malloc((k * yc + 1) * sizeof *y);
    int rc = x && y ? 0 : dpt_err_set(err, DPT_ENOMEM, "out of memory");
    XXH3_state_t *h = rc == 0 ? XXH3_createState() : NULL;
    rc = rc == 0 && !h ? dpt_err_set(err, DPT_ENOMEM, "out of memory") : rc;
    if (h) {
        XXH3_64bits_reset(h);
    }
    const uint64_t first[3] = {0, (n - k) / 2, n - k};
    for (int i = 0; rc == 0 && i < 3; i++) {
        rc = dpt_dataset_read_range(ds, first[i], k, x, yc ? y : NULL, err);
        if (rc == 0) {
            XXH3_64bits_update(h, x, k * f * sizeof *x);
            XXH3_64bits_update(h, y, k * yc * sizeof *y);
        }
    }
    if (rc == 0) {
        struct dpt_shape s;
        dpt_dataset_sample_shape(ds, &s);
        int u = snprintf(buf, len, "X [%" PRIu64, n);
        for (uint32_t j = 0; j < s.rank && u > 0 && (size_t)u < len; j++) {
            u += snprintf(buf + u, len - (size_t)u, ", %" PRIu64, (uint64_t)s.dims[j]);
        }
        if (u > 0 && (size_t)u < len) {
            snprintf(buf + u, len - (size_t)u, "], y [%" PRIu64 ", %" PRIu64 "] %s; rows "
                     "%" PRIu64 ", %" PRIu64 ", %" PRIu64 " (%zu each): xxh3-64 %016llx",
                     n, yc, dpt_dataset_y_is_integer(ds) ? "integer" : "float", first[0],
                     first[1], first[2], k, (unsigned long long)XXH3_64bits_digest(h));
        }
    }
    XXH3_freeState(h);
    free(x);
    free(y);
    return rc;
}

/* ---- The settings of a model description, flattened ---- */

/* One setting: "train.epochs" and its value as text. */
struct flat {
    char *key, *value;
};

struct flat_list {
    struct flat *v;
    size_t n, cap;
};

static void flat_free(struct flat_list *l)
{
    for (size_t i = 0; i < l->n; i++) {
        free(l->v[i].key);
        free(l->v[i].value);
    }
    free(l->v);
}

/* The value of a scalar setting as text; numbers alike whether written as
 * integers or floats (learning_rate = 1 and 1.0 are one value). */
static void scalar_text(const config_setting_t *s, char *buf, size_t len)
{
    switch (config_setting_type(s)) {
    case CONFIG_TYPE_INT:
    case CONFIG_TYPE_INT64:
        snprintf(buf, len, "%.17g", (double)config_setting_get_int64(s));
        break;
    case CONFIG_TYPE_FLOAT:
        snprintf(buf, len, "%.17g", config_setting_get_float(s));
        break;
    case CONFIG_TYPE_BOOL:
        snprintf(buf, len, "%s", config_setting_get_bool(s) ? "true" : "false");
        break;
    case CONFIG_TYPE_STRING:
        snprintf(buf, len, "\"%s\"", config_setting_get_string(s));
        break;
    default:
        snprintf(buf, len, "?");
    }
}

/* Appends every scalar under s to l, keyed by its path from the root
 * ("model.layers.[0].units"). -1 when out of memory. */
static int flatten(const config_setting_t *s, const char *path, struct flat_list *l)
{
    int n = config_setting_length(s);
    if (config_setting_is_aggregate(s)) {
        for (int i = 0; i < n; i++) {
            const config_setting_t *e = config_setting_get_elem(s, (unsigned)i);
            const char *name = config_setting_name(e);
            char sub[512];
            if (name) {
                snprintf(sub, sizeof sub, "%s%s%s", path, *path ? "." : "", name);
            } else {
                snprintf(sub, sizeof sub, "%s.[%d]", path, i);
            }
            if (flatten(e, sub, l) < 0) {
                return -1;
            }
        }
        return 0;
    }
    if (l->n == l->cap) {
        size_t cap = l->cap ? 2 * l->cap : 32;
        struct flat *v = realloc(l->v, cap * sizeof *v);
        if (!v) {
            return -1;
        }
        l->v = v;
        l->cap = cap;
    }
    char value[1024];
    scalar_text(s, value, sizeof value);
    l->v[l->n].key = strdup(path);
    l->v[l->n].value = strdup(value);
    l->n++;
    return l->v[l->n - 1].key && l->v[l->n - 1].value ? 0 : -1;
}

static const char *lookup(const struct flat_list *l, const char *key)
{
    for (size_t i = 0; i < l->n; i++) {
        if (strcmp(l->v[i].key, key) == 0) {
            return l->v[i].value;
        }
    }
    return NULL;
}

/* Settings a resume must keep: the model's layers and loss (their values as
 * written), and what fixes the data and its order (compared as read, with
 * their defaults: field_changes). */
static int breaks_resume(const char *key)
{
    static const char *const kept[] = {"model.layers", "model.loss", NULL};
    for (int i = 0; kept[i]; i++) {
        size_t n = strlen(kept[i]);
        if (strncmp(key, kept[i], n) == 0 && (key[n] == '\0' || key[n] == '.')) {
            return 1;
        }
    }
    return 0;
}

/* Settings that change nothing a resume depends on and fill the note for
 * nothing: the data file's path (the fingerprint compares its contents) and
 * the settings field_changes compares as read. */
static int not_noted(const char *key)
{
    static const char *const skip[] = {"data.train", "data.x", "data.y", "data.shuffle",
                                       "data.shuffle_by",
                                       "data.standardize", "data.standardize_y", "data.scale",
                                       "data.validation_split", "train.batch", "train.seed",
                                       NULL};
    for (int i = 0; skip[i]; i++) {
        if (strcmp(key, skip[i]) == 0) {
            return 1;
        }
    }
    return 0;
}

/* Appends "key a -> b" to buf (a list separated by ", "). */
static void add_change(char *buf, size_t len, const char *key, const char *a, const char *b)
{
    size_t u = strlen(buf);
    snprintf(buf + u, len - u, "%s%s %s -> %s", u ? ", " : "", key, a ? a : "(not set)",
             b ? b : "(not set)");
}

/* The differences between the two descriptions' settings: those that break
 * a resume into broken, the others into applied. */
static int setting_changes(const config_t *was, const config_t *now, char *broken,
                           char *applied, size_t len)
{
    struct flat_list a = {0}, b = {0};
    int rc = flatten(config_root_setting(was), "", &a) < 0 ||
                     flatten(config_root_setting(now), "", &b) < 0
                 ? -1
                 : 0;
    for (size_t i = 0; rc == 0 && i < a.n + b.n; i++) {
        const struct flat *f = i < a.n ? &a.v[i] : &b.v[i - a.n];
        const char *va = lookup(&a, f->key), *vb = lookup(&b, f->key);
        if ((i >= a.n && va) || (va && vb && strcmp(va, vb) == 0) || not_noted(f->key)) {
            continue; /* listed already, unchanged, or compared as read */
        }
        add_change(breaks_resume(f->key) ? broken : applied, len, f->key, va, vb);
    }
    flat_free(&a);
    flat_free(&b);
    return rc;
}

/* The settings that fix the data and its order, as read (defaults
 * included, so that writing a default out is no change). data.scale is
 * not among them: the trainer compares it with the statistics the
 * checkpoint brings, and says so in its own words (train.c, standardize);
 * nor is data.shuffle_by, which order_changes compares with the order the
 * checkpoint records. */
static void field_changes(const struct dpt_spec *a, const struct dpt_spec *b, char *broken,
                          size_t len)
{
    char x[64], y[64];
#define INT_FIELD(field, key)                                                                  \
    if (a->field != b->field) {                                                                \
        snprintf(x, sizeof x, "%lld", (long long)a->field);                                    \
        snprintf(y, sizeof y, "%lld", (long long)b->field);                                    \
        add_change(broken, len, key, x, y);                                                    \
    }
#define STR_FIELD(field, key)                                                                  \
    if (strcmp(a->field ? a->field : "", b->field ? b->field : "") != 0) {                     \
        add_change(broken, len, key, a->field, b->field);                                      \
    }
    INT_FIELD(batch, "train.batch");
    INT_FIELD(seed, "train.seed");
    INT_FIELD(shuffle, "data.shuffle");
    INT_FIELD(standardize, "data.standardize");
    INT_FIELD(standardize_y, "data.standardize_y");
    STR_FIELD(x_name, "data.x");
    STR_FIELD(y_name, "data.y");
#undef INT_FIELD
#undef STR_FIELD
    if (a->validation_split != b->validation_split) {
        snprintf(x, sizeof x, "%.17g", a->validation_split);
        snprintf(y, sizeof y, "%.17g", b->validation_split);
        add_change(broken, len, "data.validation_split", x, y);
    }
}

/* "rows" or "blocks of B rows, pools of P" for the order of a run record
 * into buf (len bytes). */
static void order_text(const struct dpt_run_record *run, char *buf, size_t len)
{
    if (run->block == 0) {
        snprintf(buf, len, "\"rows\"");
    } else {
        snprintf(buf, len, "\"blocks\" (blocks of %" PRIu64 " rows, pools of %" PRIu64 ")",
                 run->block, run->pool);
    }
}

/* The order of the epochs' rows: the run continues in the order the
 * checkpoint records (was; rows order for a checkpoint from before it was
 * recorded), whatever data.shuffle_by picks now. A setting that names the
 * other order breaks the resume. */
static void order_changes(const struct dpt_run_record *was, const struct dpt_spec *spec,
                          char *broken, size_t len)
{
    int was_blocks = was->block > 0;
    if (spec->shuffle_by != DPT_SHUFFLE_BY_AUTO &&
        was_blocks != (spec->shuffle_by == DPT_SHUFFLE_BY_BLOCKS)) {
        char a[160];
        order_text(was, a, sizeof a);
        snprintf(a + strlen(a), sizeof a - strlen(a), " (the order the checkpoint's run used)");
        add_change(broken, len, "data.shuffle_by", a, was_blocks ? "\"rows\"" : "\"blocks\"");
    }
}

/* The note when the checkpoint's order (was) is not the one this run's
 * data.shuffle_by picks (now): "auto" resolving otherwise today, or blocks
 * of other sizes. */
static void note_order(const struct dpt_run_record *was, const struct dpt_spec *spec,
                       const struct dpt_run_record *now, dpt_note_fn note, void *ctx)
{
    if (!note || (was->block == now->block && was->pool == now->pool)) {
        return;
    }
    char a[96], b[96], line[512];
    order_text(was, a, sizeof a);
    order_text(now, b, sizeof b);
    snprintf(line, sizeof line, "resuming in the checkpoint's order of the rows, %s, not %s "
             "as data.shuffle_by = \"%s\" picks for this run, so that it goes on as the "
             "uninterrupted run would%s", a, b,
             spec->shuffle_by == DPT_SHUFFLE_BY_AUTO ? "auto" : "blocks",
             was->block ? "" : " (a checkpoint that records no order was written in rows "
                               "order, as by every build before data.shuffle_by)");
    note(ctx, line);
}

/* The note about another number of ranks or threads. */
static void note_ranks(const struct dpt_run_record *was, const struct dpt_spec *spec,
                       const struct dpt_run_record *now, dpt_note_fn note, void *ctx)
{
    if (!note || spec->deterministic || was->ranks <= 0 ||
        (was->ranks == now->ranks && was->threads == now->threads)) {
        return;
    }
    char line[512];
    snprintf(line, sizeof line, "the checkpoint was written by %lld rank%s x %lld thread%s; "
             "this run has %lld x %lld: without --deterministic the sums of the gradients "
             "are taken in another order, so the result is close to, not bitwise equal to, "
             "an uninterrupted run's (exact with --deterministic, or the same ranks and "
             "threads)", (long long)was->ranks, was->ranks > 1 ? "s" : "",
             (long long)was->threads, was->threads > 1 ? "s" : "", (long long)now->ranks,
             (long long)now->threads);
    note(ctx, line);
}

int dpt_resume_compare(const char *ckpt, const char *ckpt_text,
                       const struct dpt_run_record *was, const struct dpt_spec *spec,
                       const struct dpt_run_record *now, dpt_note_fn note, void *ctx,
                       struct dpt_err *err)
{
    struct dpt_spec old, stored;
    memset(&old, 0, sizeof old);
    memset(&stored, 0, sizeof stored);
    /* Named as eval and train name a checkpoint's stored model text. */
    char name[PATH_MAX + 16];
    snprintf(name, sizeof name, "%s:/config", ckpt);
    int rc = dpt_spec_parse(&old, ckpt_text, name, err);
    /* This run's settings as its own checkpoints will store them (paths
     * absolute, the checkpoint series written out), so that only what
     * really changed is noted. */
    char *now_text = rc == 0 ? dpt_spec_stored_text(spec) : NULL;
    if (rc == 0) {
        rc = now_text ? dpt_spec_parse(&stored, now_text, spec->file, err)
                      : dpt_err_set(err, DPT_ENOMEM, "out of memory");
    }
    free(now_text);
    size_t len = 4096;
    char *broken = calloc(1, len), *applied = calloc(1, len);
    if (rc == 0 && (!broken || !applied)) {
        rc = dpt_err_set(err, DPT_ENOMEM, "out of memory");
    }
    if (rc == 0 && setting_changes(&old.cfg, &stored.cfg, broken, applied, len) < 0) {
        rc = dpt_err_set(err, DPT_ENOMEM, "out of memory");
    }
    if (rc == 0) {
        field_changes(&old, spec, broken, len);
        if (was->data[0] && strcmp(was->data, now->data) != 0) {
            add_change(broken, len, "the data of data.train", was->data, now->data);
        }
    }
    if (rc == 0) {
        order_changes(was, spec, broken, len);
    }
    if (rc == 0 && broken[0]) {
        rc = dpt_err_set(err, DPT_ECONFIG, "%s: cannot resume: the run changes what the "
                         "checkpoint depends on: %s (resume with the checkpoint's settings and "
                         "data, or start afresh with --overwrite or another --checkpoint path)",
                         ckpt, broken);
    }
    if (rc == 0 && applied[0] && note) {
        char line[4200];
        snprintf(line, sizeof line, "resuming %s with changed settings, applied from here "
                 "on: %s", ckpt, applied);
        note(ctx, line);
    }
    if (rc == 0) {
        note_order(was, spec, now, note, ctx);
        note_ranks(was, spec, now, note, ctx);
    }
    free(broken);
    free(applied);
    dpt_spec_cleanup(&old);
    dpt_spec_cleanup(&stored);
    return rc;
}
