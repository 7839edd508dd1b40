/* Host services for plugins: parameters from the model file with defaults
 * and range checks, error reporting, and a counter-based random stream. The
 * model file's own sections (data, model, train and train's groups) are read
 * through the same getters, so every setting gets the same kind of message.
 *
 * Messages name the model file, the line of the offending setting, the
 * plugin instance or section and the key, what was expected and what was
 * found: "model.cfg:14: layer 2 (dense): 'units' must be in [1, 1048576],
 * got 0", "model.cfg:9: train: 'batch' must be at least 1, got 0".
 */
#include "config.h"

#include "plugin/host.h"
#include "plugin/set_blame.h"

#include <Random123/philox.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* Writes "FILE:LINE: WHAT: body" into err, LINE being that of s (of the
 * group when s is NULL); a setting without a line (added by --set) gives
 * "--set PATH=VALUE: WHAT: body", so that the message blames the setting
 * the user typed, not the model file (plugin/set_blame.h). Returns
 * DPT_ECONFIG. */
static int set_at(struct dpt_err *err, const struct dpt_host_ctx *c, const config_setting_t *s,
                  const char *body)
{
    const config_setting_t *at = s ? s : c->group;
    int line = at ? config_setting_source_line(at) : 0;
    if (line > 0) {
        return dpt_err_set(err, DPT_ECONFIG, "%s:%d: %s: %s", c->file, line, c->what, body);
    }
    char blame[1024];
    if (dpt__set_blame(s, blame, sizeof blame)) {
        return dpt_err_set(err, DPT_ECONFIG, "%s: %s: %s", blame, c->what, body);
    }
    return dpt_err_set(err, DPT_ECONFIG, "%s: %s: %s", c->file, c->what, body);
}

static int vfail(struct dpt_host_ctx *c, const config_setting_t *s, const char *fmt, va_list ap)
{
    char body[1024];
    vsnprintf(body, sizeof body, fmt, ap);
    if (c->err.code == 0) { /* the first problem is the one to fix first */
        set_at(&c->err, c, s, body);
    }
    return DPT_ECONFIG;
}

static int fail(struct dpt_host_ctx *c, const config_setting_t *s, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int fail(struct dpt_host_ctx *c, const config_setting_t *s, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = vfail(c, s, fmt, ap);
    va_end(ap);
    return rc;
}

/* Records key as asked for (once) and finds its setting, NULL when absent.
 * The record is what dpt_host_check_unused compares the group with, so a
 * key that does not fit is an error rather than a later false "unknown key". */
static int lookup(struct dpt_host_ctx *c, const char *key, const config_setting_t **out)
{
    size_t k = 0;
    while (k < c->n_asked && strcmp(c->asked[k], key) != 0) {
        k++;
    }
    if (k == c->n_asked) {
        if (c->n_asked == DPT_HOST_MAX_KEYS) {
            *out = NULL;
            return fail(c, NULL, "'%s': more than %d different keys asked for; the host keeps "
                        "track of %d", key, DPT_HOST_MAX_KEYS, DPT_HOST_MAX_KEYS);
        }
        c->asked[c->n_asked++] = key;
    }
    *out = c->group ? config_setting_get_member(c->group, key) : NULL;
    return 0;
}

/* The log this thread's getters record into (dpt_host_record), or NULL.
 * Thread-local and set only by the commands that describe settings (keys,
 * plan) around one parse: the training run never sets it. */
static _Thread_local struct dpt_key_log *recording;

struct dpt_key_log *dpt_host_record(struct dpt_key_log *log)
{
    struct dpt_key_log *before = recording;
    recording = log;
    return before;
}

/* The record of (c->what, key) in the log being recorded, made on first
 * use; NULL when nothing is being recorded or the log is full. */
static struct dpt_key_use *record(const struct dpt_host_ctx *c, const char *key,
                                  enum dpt_key_type type, const config_setting_t *s)
{
    struct dpt_key_log *log = recording;
    if (!log) {
        return NULL;
    }
    for (size_t i = 0; i < log->n; i++) {
        if (strcmp(log->use[i].what, c->what) == 0 && strcmp(log->use[i].key, key) == 0) {
            return &log->use[i];
        }
    }
    if (log->n == DPT_KEY_LOG_MAX) {
        log->overflow = 1;
        return NULL;
    }
    struct dpt_key_use *u = &log->use[log->n++];
    memset(u, 0, sizeof *u);
    snprintf(u->what, sizeof u->what, "%s", c->what);
    snprintf(u->key, sizeof u->key, "%s", key);
    u->type = type;
    u->given = s != NULL;
    u->value = NAN;
    return u;
}

static const char *type_name(int type)
{
    switch (type) {
    case CONFIG_TYPE_INT:
    case CONFIG_TYPE_INT64:
        return "an integer";
    case CONFIG_TYPE_FLOAT:
        return "a number";
    case CONFIG_TYPE_STRING:
        return "a string";
    case CONFIG_TYPE_BOOL:
        return "true or false";
    case CONFIG_TYPE_GROUP:
        return "a group";
    default:
        return "a list";
    }
}

static int get_int(void *ctx, const char *key, int64_t def, int64_t min, int64_t max,
                   int64_t *out)
{
    struct dpt_host_ctx *c = ctx;
    const config_setting_t *s;
    if (lookup(c, key, &s) < 0) {
        return DPT_ECONFIG;
    }
    struct dpt_key_use *u = record(c, key, DPT_KEY_INT, s);
    if (u) {
        u->idef = def;
        u->imin = min;
        u->imax = max;
    }
    int64_t v = def;
    if (s) {
        int t = config_setting_type(s);
        if (t != CONFIG_TYPE_INT && t != CONFIG_TYPE_INT64) {
            return fail(c, s, "'%s' must be an integer, found %s", key, type_name(t));
        }
        v = config_setting_get_int64(s);
    }
    /* A bound at the end of the type is no bound: say only the other one. */
    if (v < min && max == INT64_MAX) {
        return fail(c, s, "'%s' must be at least %" PRId64 ", got %" PRId64, key, min, v);
    }
    if (v > max && min == INT64_MIN) {
        return fail(c, s, "'%s' must be at most %" PRId64 ", got %" PRId64, key, max, v);
    }
    if (v < min || v > max) {
        return fail(c, s, "'%s' must be in [%" PRId64 ", %" PRId64 "], got %" PRId64, key, min,
                    max, v);
    }
    if (u) {
        u->value = (double)v;
    }
    *out = v;
    return 0;
}

static int get_float(void *ctx, const char *key, double def, double min, double max,
                     double *out)
{
    struct dpt_host_ctx *c = ctx;
    const config_setting_t *s;
    if (lookup(c, key, &s) < 0) {
        return DPT_ECONFIG;
    }
    struct dpt_key_use *u = record(c, key, DPT_KEY_FLOAT, s);
    if (u) {
        u->fdef = def;
        u->fmin = min;
        u->fmax = max;
    }
    double v = def;
    if (s) {
        int t = config_setting_type(s);
        if (t == CONFIG_TYPE_FLOAT) {
            v = config_setting_get_float(s);
        } else if (t == CONFIG_TYPE_INT || t == CONFIG_TYPE_INT64) {
            v = (double)config_setting_get_int64(s);
        } else {
            return fail(c, s, "'%s' must be a number, found %s", key, type_name(t));
        }
    }
    /* libconfig reads 1e999 as inf; no setting means "infinite" by it (the
     * open ends use 0 or leave the key out), and NaN compares false. */
    if (!isfinite(v)) {
        return fail(c, s, "'%s' must be a finite number, got %g", key, v);
    }
    if (!(v >= min && v <= max)) {
        if (isinf(max) && !isinf(min)) {
            return fail(c, s, "'%s' must be at least %g, got %g", key, min, v);
        }
        if (isinf(min) && !isinf(max)) {
            return fail(c, s, "'%s' must be at most %g, got %g", key, max, v);
        }
        return fail(c, s, "'%s' must be in [%g, %g], got %g", key, min, max, v);
    }
    if (u) {
        u->value = v;
    }
    *out = v;
    return 0;
}

static int get_bool(void *ctx, const char *key, int def, int *out)
{
    struct dpt_host_ctx *c = ctx;
    const config_setting_t *s;
    if (lookup(c, key, &s) < 0) {
        return DPT_ECONFIG;
    }
    struct dpt_key_use *u = record(c, key, DPT_KEY_BOOL, s);
    if (u) {
        u->idef = def;
        u->value = s && config_setting_type(s) == CONFIG_TYPE_BOOL ? config_setting_get_bool(s)
                                                                    : def;
    }
    if (!s) {
        *out = def;
        return 0;
    }
    if (config_setting_type(s) != CONFIG_TYPE_BOOL) {
        return fail(c, s, "'%s' must be true or false, found %s", key,
                    type_name(config_setting_type(s)));
    }
    *out = config_setting_get_bool(s);
    return 0;
}

/* Writes the choices as "\"a\", \"b\" or \"c\"" into list. */
static void list_choices(char *list, size_t len, const char *const *choices)
{
    list[0] = '\0';
    for (size_t i = 0; choices[i]; i++) {
        const char *sep = i == 0 ? "" : choices[i + 1] ? ", " : " or ";
        size_t used = strlen(list);
        snprintf(list + used, len - used, "%s\"%s\"", sep, choices[i]);
    }
}

static int get_string(void *ctx, const char *key, const char *def, const char *const *choices,
                      const char **out)
{
    struct dpt_host_ctx *c = ctx;
    const config_setting_t *s;
    if (lookup(c, key, &s) < 0) {
        return DPT_ECONFIG;
    }
    struct dpt_key_use *u = record(c, key, DPT_KEY_STRING, s);
    if (u) {
        u->has_sdef = def != NULL;
        snprintf(u->sdef, sizeof u->sdef, "%s", def ? def : "");
        for (size_t i = 0; choices && choices[i]; i++) {
            size_t used = strlen(u->choices);
            snprintf(u->choices + used, sizeof u->choices - used, "%s%s", i ? ", " : "",
                     choices[i]);
        }
    }
    const char *v = def;
    if (s) {
        if (config_setting_type(s) != CONFIG_TYPE_STRING) {
            return fail(c, s, "'%s' must be a string, found %s", key,
                        type_name(config_setting_type(s)));
        }
        v = config_setting_get_string(s);
    }
    if (choices && v) {
        size_t i = 0;
        while (choices[i] && strcmp(v, choices[i]) != 0) {
            i++;
        }
        if (!choices[i]) {
            char list[512];
            list_choices(list, sizeof list, choices);
            return fail(c, s, "'%s' must be %s, got \"%s\"", key, list, v);
        }
    }
    *out = v;
    return 0;
}

static int report(void *ctx, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = vfail(ctx, NULL, fmt, ap);
    va_end(ap);
    return rc;
}

void dpt_host_init(struct dpt_host_ctx *ctx, const config_setting_t *group, const char *file,
                   const char *what)
{
    memset(ctx, 0, sizeof *ctx);
    ctx->host = (struct dpt_host){
        .abi_major = DPT_ABI_MAJOR,
        .abi_minor = DPT_ABI_MINOR,
        .ctx = ctx,
        .get_int = get_int,
        .get_float = get_float,
        .get_bool = get_bool,
        .get_string = get_string,
        .error = report,
        .rng_uniform = dpt_rng_uniform,
        .rng_normal = dpt_rng_normal,
    };
    ctx->group = group;
    ctx->file = file ? file : "(model)";
    snprintf(ctx->what, sizeof ctx->what, "%s", what);
}

int dpt_host_setting(struct dpt_host_ctx *ctx, const char *key, const config_setting_t **out)
{
    int rc = lookup(ctx, key, out);
    if (rc == 0) {
        record(ctx, key, DPT_KEY_SETTING, *out);
    }
    return rc;
}

int dpt_host_group(struct dpt_host_ctx *ctx, const char *key, const config_setting_t **out)
{
    const config_setting_t *s;
    *out = NULL;
    if (lookup(ctx, key, &s) < 0) {
        return DPT_ECONFIG;
    }
    record(ctx, key, DPT_KEY_GROUP, s);
    if (s && !config_setting_is_group(s)) {
        return fail(ctx, s, "'%s' must be a group { ... }, found %s", key,
                    type_name(config_setting_type(s)));
    }
    *out = s;
    return 0;
}

int dpt_host_fail(struct dpt_host_ctx *ctx, const config_setting_t *s, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = vfail(ctx, s, fmt, ap);
    va_end(ap);
    return rc;
}

/* Edits (insert, delete, replace, swap two neighbours) that turn a into b,
 * counted up to 3: the optimal string alignment distance, enough to tell a
 * typo ('unit', 'trian', 'standardise') from another word. */
static int edits(const char *a, const char *b)
{
    size_t n = strlen(a), m = strlen(b);
    if (n > 62 || m > 62 || (n > m ? n - m : m - n) > 2) {
        return 3;
    }
    int d[64][64];
    for (size_t i = 0; i <= n; i++) {
        for (size_t j = 0; j <= m; j++) {
            if (i == 0 || j == 0) {
                d[i][j] = (int)(i + j);
                continue;
            }
            int best = d[i - 1][j - 1] + (a[i - 1] != b[j - 1]);
            best = d[i - 1][j] + 1 < best ? d[i - 1][j] + 1 : best;
            best = d[i][j - 1] + 1 < best ? d[i][j - 1] + 1 : best;
            if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] &&
                d[i - 2][j - 2] + 1 < best) {
                best = d[i - 2][j - 2] + 1;
            }
            d[i][j] = best;
        }
    }
    return d[n][m] < 3 ? d[n][m] : 3;
}

/* The known key closest to name, when it is a likely typo of it (one edit,
 * or two in a name of five letters or more), else NULL. */
static const char *closest(const struct dpt_host_ctx *ctx, const char *const *host_keys,
                           const char *name)
{
    const char *best = NULL;
    int best_d = strlen(name) >= 5 ? 3 : 2;
    for (size_t k = 0; host_keys && host_keys[k]; k++) {
        int d = edits(name, host_keys[k]);
        if (d < best_d) {
            best = host_keys[k], best_d = d;
        }
    }
    for (size_t k = 0; k < ctx->n_asked; k++) {
        int d = edits(name, ctx->asked[k]);
        if (d < best_d) {
            best = ctx->asked[k], best_d = d;
        }
    }
    return best;
}

/* The first key of the group neither in host_keys nor asked for, and when
 * only_typos, only one close to a known key: its setting, or NULL. The
 * key it is close to goes to *near (NULL when none). */
static const config_setting_t *find_unknown(const struct dpt_host_ctx *ctx,
                                            const char *const *host_keys, int only_typos,
                                            const char **near)
{
    *near = NULL;
    if (!ctx->group || !config_setting_is_group(ctx->group)) {
        return NULL;
    }
    for (int i = 0; i < config_setting_length(ctx->group); i++) {
        const config_setting_t *s = config_setting_get_elem(ctx->group, (unsigned)i);
        const char *name = config_setting_name(s);
        int known = 0;
        for (size_t k = 0; host_keys && host_keys[k] && !known; k++) {
            known = strcmp(name, host_keys[k]) == 0;
        }
        for (size_t k = 0; k < ctx->n_asked && !known; k++) {
            known = strcmp(name, ctx->asked[k]) == 0;
        }
        if (!known) {
            *near = closest(ctx, host_keys, name);
        }
        if (!known && (*near || !only_typos)) {
            return s;
        }
    }
    return NULL;
}

/* The message about the unknown key s; near is the key it is a typo of
 * (the hint comes last, after the list of keys other messages share). */
static int report_unknown(const struct dpt_host_ctx *ctx, const config_setting_t *s,
                          const char *near, struct dpt_err *err)
{
    char list[768] = "";
    for (size_t k = 0; k < ctx->n_asked; k++) {
        size_t used = strlen(list);
        snprintf(list + used, sizeof list - used, "%s%s", k ? ", " : "", ctx->asked[k]);
    }
    char hint[128] = "";
    if (near) {
        snprintf(hint, sizeof hint, "; did you mean '%s'?", near);
    }
    char body[1024];
    snprintf(body, sizeof body, "unknown key '%s' (it takes: %s)%s", config_setting_name(s),
             ctx->n_asked ? list : "no keys", hint);
    return set_at(err, ctx, s, body);
}

int dpt_host_check_unused(struct dpt_host_ctx *ctx, const char *const *host_keys,
                          struct dpt_err *err)
{
    const char *near;
    const config_setting_t *s = find_unknown(ctx, host_keys, 0, &near);
    return s ? report_unknown(ctx, s, near, err) : 0;
}

int dpt_host_check_typos(struct dpt_host_ctx *ctx, const char *const *host_keys,
                         struct dpt_err *err)
{
    const char *near;
    const config_setting_t *s = find_unknown(ctx, host_keys, 1, &near);
    return s ? report_unknown(ctx, s, near, err) : 0;
}

void dpt_rng_block(uint64_t key, uint64_t counter, uint32_t out[4])
{
    philox4x32_key_t k = {{(uint32_t)key, (uint32_t)(key >> 32)}};
    philox4x32_ctr_t c = {{(uint32_t)counter, (uint32_t)(counter >> 32), 0x64707472u, 0}};
    philox4x32_ctr_t r = philox4x32(c, k);
    memcpy(out, r.v, sizeof r.v);
}

double dpt_rng_uniform(struct dpt_rng *rng)
{
    uint32_t w[4];
    dpt_rng_block(rng->key, rng->counter++, w);
    uint64_t bits = ((uint64_t)w[0] << 21) ^ (uint64_t)(w[1] >> 11); /* 53 bits */
    return (double)(bits & ((1ull << 53) - 1)) * 0x1p-53;
}

double dpt_rng_normal(struct dpt_rng *rng)
{
    /* Box-Muller on two 32-bit uniforms of one block; u1 in (0, 1]. */
    uint32_t w[4];
    dpt_rng_block(rng->key, rng->counter++, w);
    double u1 = ((double)w[0] + 1.0) * 0x1p-32;
    double u2 = (double)w[1] * 0x1p-32;
    return sqrt(-2.0 * log(u1)) * cos(2.0 * M_PI * u2);
}
