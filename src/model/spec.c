/* The model file: parse with libconfig, apply --set overrides, check keys.
 *
 * Every problem is reported with the file and line of the setting at fault.
 * Plugin settings (one layer's group, the loss, the optimizer) are checked by
 * the plugins themselves through the host services, not here.
 */
#include "config.h"

#include "model/spec.h"
#include "util/util.h"

#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int at_line(struct dpt_err *err, const struct dpt_spec *spec, const config_setting_t *s,
                   const char *fmt, const char *a, const char *b)
{
    char body[1024];
    snprintf(body, sizeof body, fmt, a, b);
    int line = s ? config_setting_source_line(s) : 0;
    if (line > 0) {
        return dpt_err_set(err, DPT_ECONFIG, "%s:%d: %s", spec->file, line, body);
    }
    return dpt_err_set(err, DPT_ECONFIG, "%s: %s", spec->file, body);
}

/* Checks that a group has only the given keys. */
static int only_keys(const struct dpt_spec *spec, const config_setting_t *g, const char *section,
                     const char *const *keys, struct dpt_err *err)
{
    if (!g) {
        return 0;
    }
    if (!config_setting_is_group(g)) {
        return at_line(err, spec, g, "'%s' must be a group { ... }%s", section, "");
    }
    for (int i = 0; i < config_setting_length(g); i++) {
        const config_setting_t *s = config_setting_get_elem(g, (unsigned)i);
        int ok = 0;
        for (size_t k = 0; keys[k] && !ok; k++) {
            ok = strcmp(config_setting_name(s), keys[k]) == 0;
        }
        if (!ok) {
            return at_line(err, spec, s, "unknown key '%s' in section '%s'",
                           config_setting_name(s), section);
        }
    }
    return 0;
}

static int get_str(const struct dpt_spec *spec, const config_setting_t *g, const char *key,
                   const char *def, const char **out, struct dpt_err *err)
{
    const config_setting_t *s = g ? config_setting_get_member(g, key) : NULL;
    *out = def;
    if (!s) {
        return 0;
    }
    if (config_setting_type(s) != CONFIG_TYPE_STRING) {
        return at_line(err, spec, s, "'%s' must be a string in quotes%s", key, "");
    }
    *out = config_setting_get_string(s);
    return 0;
}

static int get_bool(const struct dpt_spec *spec, const config_setting_t *g, const char *key,
                    int def, int *out, struct dpt_err *err)
{
    const config_setting_t *s = g ? config_setting_get_member(g, key) : NULL;
    *out = def;
    if (!s) {
        return 0;
    }
    if (config_setting_type(s) != CONFIG_TYPE_BOOL) {
        return at_line(err, spec, s, "'%s' must be true or false%s", key, "");
    }
    *out = config_setting_get_bool(s);
    return 0;
}

static int get_int(const struct dpt_spec *spec, const config_setting_t *g, const char *key,
                   int64_t def, int64_t min, int64_t *out, struct dpt_err *err)
{
    const config_setting_t *s = g ? config_setting_get_member(g, key) : NULL;
    *out = def;
    if (!s) {
        return 0;
    }
    int t = config_setting_type(s);
    if (t != CONFIG_TYPE_INT && t != CONFIG_TYPE_INT64) {
        return at_line(err, spec, s, "'%s' must be an integer%s", key, "");
    }
    *out = config_setting_get_int64(s);
    if (*out < min) {
        char m[32];
        snprintf(m, sizeof m, "%lld", (long long)min);
        return at_line(err, spec, s, "'%s' must be at least %s", key, m);
    }
    return 0;
}

static int get_num(const struct dpt_spec *spec, const config_setting_t *g, const char *key,
                   double def, double min, double max, double *out, struct dpt_err *err)
{
    const config_setting_t *s = g ? config_setting_get_member(g, key) : NULL;
    *out = def;
    if (!s) {
        return 0;
    }
    int t = config_setting_type(s);
    if (t == CONFIG_TYPE_FLOAT) {
        *out = config_setting_get_float(s);
    } else if (t == CONFIG_TYPE_INT || t == CONFIG_TYPE_INT64) {
        *out = (double)config_setting_get_int64(s);
    } else {
        return at_line(err, spec, s, "'%s' must be a number%s", key, "");
    }
    if (!(*out >= min && *out <= max)) {
        char range[64];
        snprintf(range, sizeof range, "[%g, %g]", min, max);
        return at_line(err, spec, s, "'%s' must be in %s", key, range);
    }
    return 0;
}

const char *dpt_spec_where(const struct dpt_spec *spec, const config_setting_t *s, char *buf,
                           size_t len)
{
    int line = s ? config_setting_source_line(s) : 0;
    if (line > 0) {
        snprintf(buf, len, "%s:%d", spec->file, line);
    } else {
        snprintf(buf, len, "%s", spec->file);
    }
    return buf;
}

const char *dpt_spec_type_of(const config_setting_t *s)
{
    if (!s) {
        return NULL;
    }
    if (config_setting_type(s) == CONFIG_TYPE_STRING) {
        return config_setting_get_string(s);
    }
    const char *type = NULL;
    if (config_setting_is_group(s) && config_setting_lookup_string(s, "type", &type)) {
        return type;
    }
    return NULL;
}

/* The index of name in the NULL-terminated list, or -1. */
static int pick(const char *name, const char *const *list)
{
    for (int i = 0; list[i]; i++) {
        if (strcmp(name, list[i]) == 0) {
            return i;
        }
    }
    return -1;
}

/* Fills the typed fields from the tree and checks them. */
static int extract(struct dpt_spec *spec, struct dpt_err *err)
{
    static const char *const top_keys[] = {"data", "model", "train", NULL};
    static const char *const data_keys[] = {"train", "test", "x", "y", "shuffle",
                                            "standardize", "standardize_y", "cache", "validation", "window_rows",
                                            "validation_split", NULL};
    static const char *const model_keys[] = {"layers", "loss", "optimizer", "metrics", NULL};
    static const char *const train_keys[] = {"batch", "epochs", "seed", "micro_batch",
                                             "check_sync", "deterministic", "checkpoint",
                                             "early_stopping", "lr_schedule", "scale_lr_batch",
                                             "clip_norm", "clip_value", "log",
                                             "reduce_lr_on_plateau", NULL};
    static const char *const rop_keys[] = {"monitor", "factor", "patience", "min_delta",
                                           "min_scale", NULL};
    static const char *const es_keys[] = {"monitor", "min_delta", "patience",
                                          "restore_best_weights", NULL};
    static const char *const lr_keys[] = {"type", "decay_steps", "decay_rate", "warmup_steps",
                                          "min_scale", NULL};
    static const char *const ckpt_keys[] = {"path", "every_steps", "every_epochs", "keep", NULL};
    config_setting_t *root = config_root_setting(&spec->cfg);
    if (only_keys(spec, root, "(top level)", top_keys, err) < 0) {
        return err->code;
    }
    const config_setting_t *data = config_setting_get_member(root, "data");
    const config_setting_t *model = config_setting_get_member(root, "model");
    const config_setting_t *train = config_setting_get_member(root, "train");
    if (!model) {
        return at_line(err, spec, NULL, "no 'model' section: say model = { layers = (...); "
                       "loss = \"...\"; optimizer = \"...\"; };%s%s", "", "");
    }
    if (only_keys(spec, data, "data", data_keys, err) < 0 ||
        only_keys(spec, model, "model", model_keys, err) < 0 ||
        only_keys(spec, train, "train", train_keys, err) < 0) {
        return err->code;
    }
    const char *cache = NULL;
    if (get_str(spec, data, "train", NULL, &spec->train, err) < 0 ||
        get_str(spec, data, "test", NULL, &spec->test, err) < 0 ||
        get_str(spec, data, "x", "X", &spec->x_name, err) < 0 ||
        get_str(spec, data, "y", "y", &spec->y_name, err) < 0 ||
        get_str(spec, data, "cache", "auto", &cache, err) < 0 ||
        get_bool(spec, data, "shuffle", 1, &spec->shuffle, err) < 0 ||
        get_bool(spec, data, "standardize", 0, &spec->standardize, err) < 0 ||
        get_bool(spec, data, "standardize_y", 0, &spec->standardize_y, err) < 0 ||
        get_int(spec, data, "window_rows", 0, 0, &spec->window_rows, err) < 0) {
        return err->code;
    }
    if (strcmp(cache, "auto") == 0) {
        spec->cache = DPT_CACHE_AUTO;
    } else if (strcmp(cache, "none") == 0) {
        spec->cache = DPT_CACHE_NONE;
    } else if (strcmp(cache, "all") == 0) {
        spec->cache = DPT_CACHE_ALL;
    } else {
        return at_line(err, spec, config_setting_get_member(data, "cache"),
                       "'cache' must be \"auto\", \"none\" or \"all\", got \"%s\"%s", cache,
                       "");
    }

    spec->layers = config_setting_get_member(model, "layers");
    if (!spec->layers || !config_setting_is_list(spec->layers) ||
        config_setting_length(spec->layers) == 0) {
        return at_line(err, spec, spec->layers ? spec->layers : model,
                       "model.layers must be a non-empty list: layers = ( { type = \"dense\"; "
                       "units = 8; }, ... );%s%s", "", "");
    }
    for (int i = 0; i < config_setting_length(spec->layers); i++) {
        const config_setting_t *l = config_setting_get_elem(spec->layers, (unsigned)i);
        if (!config_setting_is_group(l) || !dpt_spec_type_of(l)) {
            char idx[16];
            snprintf(idx, sizeof idx, "%d", i + 1);
            return at_line(err, spec, l,
                           "layer %s must be a group with a type: { type = \"dense\"; ... }%s",
                           idx, "");
        }
    }
    spec->loss = config_setting_get_member(model, "loss");
    spec->optimizer = config_setting_get_member(model, "optimizer");
    if (!dpt_spec_type_of(spec->loss)) {
        return at_line(err, spec, spec->loss ? spec->loss : model,
                       "model.loss must name a loss: loss = \"mse\"; or loss = { type = "
                       "\"cce\"; ... };%s%s", "", "");
    }
    if (!dpt_spec_type_of(spec->optimizer)) {
        return at_line(err, spec, spec->optimizer ? spec->optimizer : model,
                       "model.optimizer must name an optimizer: optimizer = \"sgd\"; or "
                       "optimizer = { type = \"adam\"; learning_rate = 0.001; };%s%s", "", "");
    }
    const config_setting_t *metrics = config_setting_get_member(model, "metrics");
    spec->metric_accuracy = 0;
    for (int i = 0; metrics && i < config_setting_length(metrics); i++) {
        const char *m = config_setting_get_string_elem(metrics, i);
        if (!m || strcmp(m, "accuracy") != 0) {
            return at_line(err, spec, metrics, "unknown metric '%s' (known: accuracy)%s",
                           m ? m : "(not a string)", "");
        }
        spec->metric_accuracy = 1;
    }

    if (get_int(spec, train, "batch", 32, 1, &spec->batch, err) < 0 ||
        get_int(spec, train, "epochs", 10, 0, &spec->epochs, err) < 0 ||
        get_int(spec, train, "seed", 0, 0, &spec->seed, err) < 0 ||
        get_int(spec, train, "micro_batch", 0, 0, &spec->micro_batch, err) < 0 ||
        get_int(spec, train, "check_sync", 0, 0, &spec->check_sync, err) < 0 ||
        get_bool(spec, train, "deterministic", 0, &spec->deterministic, err) < 0) {
        return err->code;
    }
    const config_setting_t *ck = train ? config_setting_get_member(train, "checkpoint") : NULL;
    if (only_keys(spec, ck, "train.checkpoint", ckpt_keys, err) < 0 ||
        get_str(spec, ck, "path", NULL, &spec->ckpt_path, err) < 0 ||
        get_int(spec, ck, "every_steps", 0, 0, &spec->ckpt_every_steps, err) < 0 ||
        get_int(spec, ck, "every_epochs", ck ? 1 : 0, 0, &spec->ckpt_every_epochs, err) < 0 ||
        get_int(spec, ck, "keep", 2, 1, &spec->ckpt_keep, err) < 0) {
        return err->code;
    }
    const char *es_monitor = NULL, *rop_monitor = NULL, *lr_schedule = NULL;
    const config_setting_t *es = train ? config_setting_get_member(train, "early_stopping") : NULL;
    const config_setting_t *lr = train ? config_setting_get_member(train, "lr_schedule") : NULL;
    if (only_keys(spec, es, "train.early_stopping", es_keys, err) < 0 ||
        get_str(spec, es, "monitor", es ? "val_loss" : NULL, &es_monitor, err) < 0 ||
        get_num(spec, es, "min_delta", 0.0, 0.0, 1e30, &spec->es_min_delta, err) < 0 ||
        get_int(spec, es, "patience", 5, 0, &spec->es_patience, err) < 0 ||
        get_bool(spec, es, "restore_best_weights", 0, &spec->es_restore, err) < 0 ||
        only_keys(spec, lr, "train.lr_schedule", lr_keys, err) < 0 ||
        get_str(spec, lr, "type", "constant", &lr_schedule, err) < 0 ||
        get_int(spec, lr, "decay_steps", 1000, 1, &spec->lr_decay_steps, err) < 0 ||
        get_num(spec, lr, "decay_rate", 0.5, 0.0, 1.0, &spec->lr_decay_rate, err) < 0 ||
        get_int(spec, lr, "warmup_steps", 0, 0, &spec->lr_warmup_steps, err) < 0 ||
        get_num(spec, lr, "min_scale", 0.0, 0.0, 1.0, &spec->lr_min_scale, err) < 0 ||
        get_int(spec, train, "scale_lr_batch", 0, 0, &spec->lr_base_batch, err) < 0 ||
        get_num(spec, train, "clip_norm", 0.0, 0.0, 1e30, &spec->clip_norm, err) < 0 ||
        get_num(spec, train, "clip_value", 0.0, 0.0, 1e30, &spec->clip_value, err) < 0 ||
        get_str(spec, train, "log", NULL, &spec->log, err) < 0 ||
        get_str(spec, data, "validation", NULL, &spec->validation, err) < 0 ||
        get_num(spec, data, "validation_split", 0.0, 0.0, 0.99, &spec->validation_split, err) < 0) {
        return err->code;
    }
    const config_setting_t *rop =
        train ? config_setting_get_member(train, "reduce_lr_on_plateau") : NULL;
    if (only_keys(spec, rop, "train.reduce_lr_on_plateau", rop_keys, err) < 0 ||
        get_str(spec, rop, "monitor", rop ? "val_loss" : NULL, &rop_monitor, err) < 0 ||
        get_num(spec, rop, "factor", 0.1, 0.0, 1.0, &spec->rop_factor, err) < 0 ||
        get_int(spec, rop, "patience", 10, 0, &spec->rop_patience, err) < 0 ||
        get_num(spec, rop, "min_delta", 1e-4, 0.0, 1e30, &spec->rop_min_delta, err) < 0 ||
        get_num(spec, rop, "min_scale", 0.0, 0.0, 1.0, &spec->rop_min_scale, err) < 0) {
        return err->code;
    }
    /* Names become enums here, once: the training loop never compares strings. */
    static const char *const monitors[] = {"loss", "accuracy", "val_loss", "val_accuracy", NULL};
    const char *const chosen[] = {es_monitor, rop_monitor};
    enum dpt_monitor *dest[] = {&spec->es_monitor, &spec->rop_monitor};
    const config_setting_t *groups[] = {es, rop};
    for (int c = 0; c < 2; c++) {
        int k = chosen[c] ? pick(chosen[c], monitors) : -1;
        if (chosen[c] && k < 0) {
            return at_line(err, spec, config_setting_get_member(groups[c], "monitor"),
                           "monitor must be loss, accuracy, val_loss or val_accuracy, got "
                           "\"%s\"%s", chosen[c], "");
        }
        *dest[c] = (enum dpt_monitor)(k + 1); /* -1 -> DPT_MONITOR_NONE */
    }
    static const char *const schedules[] = {"constant", "step", "exponential", "cosine", NULL};
    int k = pick(lr_schedule, schedules);
    if (k < 0) {
        return at_line(err, spec, config_setting_get_member(lr, "type"),
                       "lr_schedule.type must be constant, step, exponential or cosine, got "
                       "\"%s\"%s", lr_schedule, "");
    }
    spec->lr_schedule = (enum dpt_lr_schedule)k;
    if (spec->validation && spec->validation_split > 0) {
        return at_line(err, spec, config_setting_get_member(data, "validation"),
                       "give data.validation or data.validation_split, not both%s%s", "", "");
    }
    if (ck && !spec->ckpt_path) {
        return at_line(err, spec, ck, "train.checkpoint needs a path = \"FILE.h5\"%s%s", "", "");
    }
    return 0;
}

/* Makes relative paths of data.train/test relative to the model file's folder. */
static int resolve_paths(struct dpt_spec *spec, const char *path, struct dpt_err *err)
{
    char dir_buf[PATH_MAX];
    snprintf(dir_buf, sizeof dir_buf, "%s", path);
    const char *dir = dirname(dir_buf);
    config_setting_t *data = config_lookup(&spec->cfg, "data");
    static const char *const keys[] = {"train", "test", "validation"};
    for (size_t i = 0; data && i < 3; i++) {
        config_setting_t *s = config_setting_get_member(data, keys[i]);
        if (!s || config_setting_type(s) != CONFIG_TYPE_STRING) {
            continue;
        }
        const char *v = config_setting_get_string(s);
        if (v[0] == '/' || strcmp(dir, ".") == 0) {
            continue;
        }
        char *joined = dpt__aprintf("%s/%s", dir, v);
        if (!joined) {
            return dpt_err_set(err, DPT_ENOMEM, "out of memory");
        }
        config_setting_set_string(s, joined);
        free(joined);
    }
    return 0;
}

static int parse_error(struct dpt_spec *spec, struct dpt_err *err)
{
    const char *f = config_error_file(&spec->cfg);
    if (config_error_type(&spec->cfg) == CONFIG_ERR_FILE_IO) {
        return dpt_err_set(err, DPT_EIO, "%s: cannot read the model file", spec->file);
    }
    return dpt_err_set(err, DPT_ECONFIG, "%s:%d: %s", f ? f : spec->file,
                       config_error_line(&spec->cfg), config_error_text(&spec->cfg));
}

int dpt_spec_load(struct dpt_spec *spec, const char *path, char *const *sets, size_t n_sets,
                  struct dpt_err *err)
{
    memset(spec, 0, sizeof *spec);
    config_init(&spec->cfg);
    spec->file = dpt__strdup(path);
    if (!spec->file) {
        return dpt_err_set(err, DPT_ENOMEM, "out of memory");
    }
    if (!config_read_file(&spec->cfg, path)) {
        return parse_error(spec, err);
    }
    if (resolve_paths(spec, path, err) < 0) {
        return err->code;
    }
    for (size_t i = 0; i < n_sets; i++) {
        if (dpt_config_set(&spec->cfg, sets[i], err) < 0) {
            return err->code;
        }
    }
    return extract(spec, err);
}

int dpt_spec_parse(struct dpt_spec *spec, const char *text, const char *name,
                   struct dpt_err *err)
{
    memset(spec, 0, sizeof *spec);
    config_init(&spec->cfg);
    spec->file = dpt__strdup(name);
    if (!spec->file) {
        return dpt_err_set(err, DPT_ENOMEM, "out of memory");
    }
    if (!config_read_string(&spec->cfg, text)) {
        return parse_error(spec, err);
    }
    return extract(spec, err);
}

char *dpt_spec_to_string(const struct dpt_spec *spec)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (!f) {
        return NULL;
    }
    config_write(&spec->cfg, f);
    if (fclose(f) != 0) {
        free(buf);
        return NULL;
    }
    return buf;
}

void dpt_spec_cleanup(struct dpt_spec *spec)
{
    config_destroy(&spec->cfg);
    free(spec->file);
    memset(spec, 0, sizeof *spec);
}

/* Copies the scalar value of src into a new member `name` of group g. */
static int add_scalar(config_setting_t *g, const char *name, const config_setting_t *src)
{
    int type = config_setting_type(src);
    config_setting_t *s = config_setting_add(g, name, type);
    if (!s) {
        return -1;
    }
    switch (type) {
    case CONFIG_TYPE_INT:
        return config_setting_set_int(s, config_setting_get_int(src)) ? 0 : -1;
    case CONFIG_TYPE_INT64:
        return config_setting_set_int64(s, config_setting_get_int64(src)) ? 0 : -1;
    case CONFIG_TYPE_FLOAT:
        return config_setting_set_float(s, config_setting_get_float(src)) ? 0 : -1;
    case CONFIG_TYPE_BOOL:
        return config_setting_set_bool(s, config_setting_get_bool(src)) ? 0 : -1;
    case CONFIG_TYPE_STRING:
        return config_setting_set_string(s, config_setting_get_string(src)) ? 0 : -1;
    default:
        return -1;
    }
}

int dpt_config_set(config_t *cfg, const char *assignment, struct dpt_err *err)
{
    const char *eq = strchr(assignment, '=');
    if (!eq || eq == assignment) {
        return dpt_err_set(err, DPT_EINVAL,
                           "--set '%s': expected section.key=value, e.g. data.train=other.h5",
                           assignment);
    }
    char path[256];
    size_t plen = (size_t)(eq - assignment);
    if (plen >= sizeof path) {
        return dpt_err_set(err, DPT_EINVAL, "--set '%s': key too long", assignment);
    }
    memcpy(path, assignment, plen);
    path[plen] = '\0';
    const char *value = eq + 1;

    /* Parse the value as libconfig would (number, bool, "string"); a bare
     * word such as other.h5 is taken as a string. */
    config_t tmp;
    config_init(&tmp);
    char *text = dpt__aprintf("v = %s;", value);
    if (!text) {
        config_destroy(&tmp);
        return dpt_err_set(err, DPT_ENOMEM, "out of memory");
    }
    int parsed = config_read_string(&tmp, text);
    free(text);
    config_setting_t *v = parsed ? config_lookup(&tmp, "v") : NULL;
    if (!v || config_setting_is_aggregate(v)) {
        config_destroy(&tmp);
        config_init(&tmp);
        v = config_setting_add(config_root_setting(&tmp), "v", CONFIG_TYPE_STRING);
        config_setting_set_string(v, value);
    }

    /* Walk/create the groups of the path, then replace the last key. */
    config_setting_t *g = config_root_setting(cfg);
    char *save = NULL;
    int rc = 0;
    char *part = strtok_r(path, ".", &save);
    while (part) {
        char *next = strtok_r(NULL, ".", &save);
        config_setting_t *m = config_setting_get_member(g, part);
        if (!next) {
            if (m && config_setting_is_aggregate(m)) {
                rc = dpt_err_set(err, DPT_EINVAL,
                                 "--set '%s': '%s' is a group or list; only single values can "
                                 "be set", assignment, part);
            } else {
                if (m) {
                    config_setting_remove(g, part);
                }
                if (add_scalar(g, part, v) < 0) {
                    rc = dpt_err_set(err, DPT_EINVAL, "--set '%s': cannot set '%s'",
                                     assignment, part);
                }
            }
            break;
        }
        if (!m) {
            m = config_setting_add(g, part, CONFIG_TYPE_GROUP);
        } else if (!config_setting_is_group(m)) {
            rc = dpt_err_set(err, DPT_EINVAL, "--set '%s': '%s' is not a group", assignment,
                             part);
            break;
        }
        if (!m) {
            rc = dpt_err_set(err, DPT_EINVAL, "--set '%s': bad key '%s'", assignment, part);
            break;
        }
        g = m;
        part = next;
    }
    config_destroy(&tmp);
    return rc;
}
