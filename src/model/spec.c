/* The model file: parse with libconfig, apply --set overrides, check keys.
 *
 * Each section (data, model, train, and train's groups checkpoint,
 * early_stopping, lr_schedule, reduce_lr_on_plateau) is read through the
 * host services plugins use (plugin/host.h): the same getters with defaults,
 * ranges and choices, the same check for unknown keys. So every problem is
 * reported as "FILE:LINE: SECTION: 'key' ..." with what was expected and what
 * was found. Plugin settings (one layer's group, the loss, the optimizer) are
 * checked by the plugins themselves when the network is built, not here.
 */
#include "config.h"

#include "model/spec.h"
#include "model/spec_data.h"
#include "model/spec_text.h"
#include "plugin/host.h"
#include "plugin/set_blame.h"
#include "util/util.h"

#include <assert.h>
#include <libgen.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *dpt_spec_where(const struct dpt_spec *spec, const config_setting_t *s, char *buf,
                           size_t len)
{
    int line = s ? config_setting_source_line(s) : 0;
    if (line > 0) {
        snprintf(buf, len, "%s:%d", spec->file, line);
    } else if (dpt__set_blame(s, buf, len)) {
        /* A value given with --set: blamed on it, not on the file. */
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

/* The choices of the string settings that become enums, in enum order: the
 * names are checked by the getter and turned into enums here, once, so the
 * training loop never compares strings. */
static const char *const caches[] = {"auto", "none", "all", NULL};
static const char *const shuffle_bys[] = {"auto", "rows", "blocks", NULL};
static const char *const schedules[] = {"constant", "step", "exponential", "cosine", NULL};
static const char *const monitors[] = {"loss", "accuracy", "val_loss", "val_accuracy", NULL};

/* The index of name in the NULL-terminated list; name is one of them (the
 * getter that read it was given the list as its choices). */
static int pick(const char *name, const char *const *list)
{
    int i = 0;
    while (strcmp(name, list[i]) != 0) {
        i++;
        assert(list[i]);
    }
    return i;
}

/* Copies the first error a section recorded into err; returns its code. */
static int failed(const struct dpt_host_ctx *section, struct dpt_err *err)
{
    *err = section->err;
    return err->code;
}

/* Sets up `section` for the group `key` of parent, named `what` in
 * messages. An absent group gives a section in which every key has its
 * default; a key that is there but not a group is an error. */
static int open_section(struct dpt_host_ctx *parent, const char *key, const char *what,
                        struct dpt_host_ctx *section, struct dpt_err *err)
{
    const config_setting_t *group;
    if (dpt_host_group(parent, key, &group) < 0) {
        return failed(parent, err);
    }
    dpt_host_init(section, group, parent->file, what);
    return 0;
}

/* A file or dataset name read from key of section c: refused when empty
 * (it would name the folder, or no dataset, in a later and less clear
 * message) or longer than a path can be. NULL (not given) is fine. */
static int check_name(struct dpt_host_ctx *c, const char *key, const char *value)
{
    if (!value) {
        return 0;
    }
    const config_setting_t *s = c->group ? config_setting_get_member(c->group, key) : NULL;
    if (!value[0]) {
        return dpt_host_fail(c, s, "'%s' must not be empty", key);
    }
    if (strlen(value) >= PATH_MAX) {
        return dpt_host_fail(c, s, "'%s' is %zu characters long; a file or dataset name has "
                             "at most %d", key, strlen(value), PATH_MAX - 1);
    }
    return 0;
}

/* data = { train; test; x; y; shuffle; shuffle_by; standardize; standardize_y; scale;
 *          cache; window_rows; validation; validation_split; x_columns;
 *          y_columns; } (train, test, validation and the columns: spec_data.c) */
static int read_data(struct dpt_spec *spec, struct dpt_host_ctx *c, struct dpt_err *err)
{
    const struct dpt_host *h = &c->host;
    const char *cache = NULL, *shuffle_by = NULL;
    if (dpt__spec_read_data_files(spec, c, "train") < 0 ||
        dpt__spec_read_data_files(spec, c, "test") < 0 ||
        h->get_string(h->ctx, "x", "X", NULL, &spec->x_name) < 0 ||
        h->get_string(h->ctx, "y", "y", NULL, &spec->y_name) < 0 ||
        h->get_bool(h->ctx, "shuffle", 1, &spec->shuffle) < 0 ||
        h->get_string(h->ctx, "shuffle_by", "auto", shuffle_bys, &shuffle_by) < 0 ||
        h->get_bool(h->ctx, "standardize", 0, &spec->standardize) < 0 ||
        h->get_bool(h->ctx, "standardize_y", 0, &spec->standardize_y) < 0 ||
        h->get_float(h->ctx, "scale", 1.0, -HUGE_VAL, HUGE_VAL, &spec->scale) < 0 ||
        h->get_string(h->ctx, "cache", "auto", caches, &cache) < 0 ||
        h->get_int(h->ctx, "window_rows", 0, 0, INT64_MAX, &spec->window_rows) < 0 ||
        dpt__spec_read_data_files(spec, c, "validation") < 0 ||
        h->get_float(h->ctx, "validation_split", 0.0, 0.0, 0.99, &spec->validation_split) < 0 ||
        dpt__spec_read_data_columns(spec, c) < 0) {
        return failed(c, err);
    }
    if (dpt_host_check_unused(c, NULL, err) < 0) {
        return err->code;
    }
    if (check_name(c, "x", spec->x_name) < 0 || check_name(c, "y", spec->y_name) < 0 ||
        dpt__spec_check_data_sources(spec, c) < 0) {
        return failed(c, err);
    }
    spec->cache = (enum dpt_cache)pick(cache, caches);
    spec->shuffle_by = (enum dpt_shuffle_by)pick(shuffle_by, shuffle_bys);
    /* The getter's range is closed; 0 would erase every input. */
    if (!(spec->scale > 0)) {
        dpt_host_fail(c, config_setting_get_member(c->group, "scale"),
                      "'scale' must be above 0 (e.g. 0.00392156862745098 for 1/255), got %g",
                      spec->scale);
        return failed(c, err);
    }
    if (spec->validation && spec->validation_split > 0) {
        dpt_host_fail(c, config_setting_get_member(c->group, "validation"),
                      "give 'validation' (a file) or 'validation_split' (a fraction), not both");
        return failed(c, err);
    }
    return 0;
}

/* model.layers: a non-empty list of groups, each with a type. What else a
 * layer takes is checked by its plugin when the network is built (net.c). */
static int check_layers(struct dpt_host_ctx *c, const config_setting_t *layers)
{
    if (!layers || !config_setting_is_list(layers) || config_setting_length(layers) == 0) {
        return dpt_host_fail(c, layers, "'layers' must be a non-empty list: layers = ( { type = "
                             "\"dense\"; units = 8; }, ... );");
    }
    for (int i = 0; i < config_setting_length(layers); i++) {
        const config_setting_t *l = config_setting_get_elem(layers, (unsigned)i);
        if (!config_setting_is_group(l) || !dpt_spec_type_of(l)) {
            return dpt_host_fail(c, l, "layer %d must be a group with a type: { type = "
                                 "\"dense\"; ... }", i + 1);
        }
    }
    return 0;
}

/* model.metrics = [ "accuracy" ]: the only metric that can be asked for;
 * the others are computed whatever the file says. */
static int read_metrics(struct dpt_host_ctx *c, const config_setting_t *metrics, int *accuracy)
{
    *accuracy = 0;
    if (metrics && !config_setting_is_array(metrics) && !config_setting_is_list(metrics)) {
        return dpt_host_fail(c, metrics, "'metrics' must be a list: metrics = [ \"accuracy\" ];");
    }
    for (int i = 0; metrics && i < config_setting_length(metrics); i++) {
        const char *m = config_setting_get_string_elem(metrics, i);
        if (!m || strcmp(m, "accuracy") != 0) {
            return dpt_host_fail(c, config_setting_get_elem(metrics, (unsigned)i),
                                 "unknown metric '%s' (known: accuracy)",
                                 m ? m : "(not a string)");
        }
        *accuracy = 1;
    }
    return 0;
}

/* model = { layers; loss; optimizer; metrics; }: the loss and the optimizer
 * are a plugin's name, or a group with its type and settings. */
static int read_model(struct dpt_spec *spec, struct dpt_host_ctx *c, struct dpt_err *err)
{
    const config_setting_t *metrics;
    if (dpt_host_setting(c, "layers", &spec->layers) < 0 ||
        dpt_host_setting(c, "loss", &spec->loss) < 0 ||
        dpt_host_setting(c, "optimizer", &spec->optimizer) < 0 ||
        dpt_host_setting(c, "metrics", &metrics) < 0) {
        return failed(c, err);
    }
    if (dpt_host_check_unused(c, NULL, err) < 0) {
        return err->code;
    }
    if (check_layers(c, spec->layers) < 0) {
        return failed(c, err);
    }
    if (!dpt_spec_type_of(spec->loss)) {
        dpt_host_fail(c, spec->loss, "'loss' must name a loss: loss = \"mse\"; or loss = { "
                      "type = \"cce\"; ... };");
        return failed(c, err);
    }
    if (!dpt_spec_type_of(spec->optimizer)) {
        dpt_host_fail(c, spec->optimizer, "'optimizer' must name an optimizer: optimizer = "
                      "\"sgd\"; or optimizer = { type = \"adam\"; learning_rate = 0.001; };");
        return failed(c, err);
    }
    if (read_metrics(c, metrics, &spec->metric_accuracy) < 0) {
        return failed(c, err);
    }
    return 0;
}

/* train.checkpoint = { path; every_steps; every_epochs; every_seconds; keep; }.
 * The defaults hold with or without the group, so that `--checkpoint PATH`
 * alone checkpoints every epoch and at least every 10 minutes of training:
 * a batch job killed without warning (node failure, OOM) loses at most that
 * much (tests/checkpoint_defaults.sh). */
static int read_checkpoint(struct dpt_spec *spec, struct dpt_host_ctx *train,
                           struct dpt_err *err)
{
    struct dpt_host_ctx c;
    if (open_section(train, "checkpoint", "train.checkpoint", &c, err) < 0) {
        return err->code;
    }
    const struct dpt_host *h = &c.host;
    if (h->get_string(h->ctx, "path", NULL, NULL, &spec->ckpt_path) < 0 ||
        h->get_int(h->ctx, "every_steps", 0, 0, INT64_MAX, &spec->ckpt_every_steps) < 0 ||
        h->get_int(h->ctx, "every_epochs", 1, 0, INT64_MAX, &spec->ckpt_every_epochs) < 0 ||
        h->get_float(h->ctx, "every_seconds", 600.0, 0.0, INFINITY,
                     &spec->ckpt_every_seconds) < 0 ||
        h->get_int(h->ctx, "keep", 2, 1, INT64_MAX, &spec->ckpt_keep) < 0) {
        return failed(&c, err);
    }
    if (dpt_host_check_unused(&c, NULL, err) < 0) {
        return err->code;
    }
    if (check_name(&c, "path", spec->ckpt_path) < 0) {
        return failed(&c, err);
    }
    /* A group without a path sets how often `--checkpoint PATH` writes; the
     * CLI refuses it when no --checkpoint comes either. */
    spec->ckpt_group = c.group != NULL;
    return 0;
}

/* A callback group's 'monitor': val_loss when the group is there, and
 * DPT_MONITOR_NONE (the callback is off) when it is not. */
static int get_monitor(struct dpt_host_ctx *c, enum dpt_monitor *out)
{
    const char *name = NULL;
    const struct dpt_host *h = &c->host;
    if (h->get_string(h->ctx, "monitor", c->group ? "val_loss" : NULL, monitors, &name) < 0) {
        return DPT_ECONFIG;
    }
    *out = name ? (enum dpt_monitor)(pick(name, monitors) + 1) : DPT_MONITOR_NONE;
    return 0;
}

/* train.early_stopping = { monitor; min_delta; patience; restore_best_weights; } */
static int read_early_stopping(struct dpt_spec *spec, struct dpt_host_ctx *train,
                               struct dpt_err *err)
{
    struct dpt_host_ctx c;
    if (open_section(train, "early_stopping", "train.early_stopping", &c, err) < 0) {
        return err->code;
    }
    const struct dpt_host *h = &c.host;
    if (get_monitor(&c, &spec->es_monitor) < 0 ||
        h->get_float(h->ctx, "min_delta", 0.0, 0.0, INFINITY, &spec->es_min_delta) < 0 ||
        h->get_int(h->ctx, "patience", 5, 0, INT64_MAX, &spec->es_patience) < 0 ||
        h->get_bool(h->ctx, "restore_best_weights", 0, &spec->es_restore) < 0) {
        return failed(&c, err);
    }
    return dpt_host_check_unused(&c, NULL, err);
}

/* train.lr_schedule = { type; decay_steps; decay_rate; warmup_steps; min_scale; } */
static int read_lr_schedule(struct dpt_spec *spec, struct dpt_host_ctx *train,
                            struct dpt_err *err)
{
    struct dpt_host_ctx c;
    if (open_section(train, "lr_schedule", "train.lr_schedule", &c, err) < 0) {
        return err->code;
    }
    const struct dpt_host *h = &c.host;
    const char *type = NULL;
    if (h->get_string(h->ctx, "type", "constant", schedules, &type) < 0 ||
        h->get_int(h->ctx, "decay_steps", 1000, 1, INT64_MAX, &spec->lr_decay_steps) < 0 ||
        h->get_float(h->ctx, "decay_rate", 0.5, 0.0, 1.0, &spec->lr_decay_rate) < 0 ||
        h->get_int(h->ctx, "warmup_steps", 0, 0, INT64_MAX, &spec->lr_warmup_steps) < 0 ||
        h->get_float(h->ctx, "min_scale", 0.0, 0.0, 1.0, &spec->lr_min_scale) < 0) {
        return failed(&c, err);
    }
    spec->lr_schedule = (enum dpt_lr_schedule)pick(type, schedules);
    return dpt_host_check_unused(&c, NULL, err);
}

/* train.reduce_lr_on_plateau = { monitor; factor; patience; min_delta; min_scale; } */
static int read_reduce_lr(struct dpt_spec *spec, struct dpt_host_ctx *train,
                          struct dpt_err *err)
{
    struct dpt_host_ctx c;
    if (open_section(train, "reduce_lr_on_plateau", "train.reduce_lr_on_plateau", &c, err) < 0) {
        return err->code;
    }
    const struct dpt_host *h = &c.host;
    if (get_monitor(&c, &spec->rop_monitor) < 0 ||
        h->get_float(h->ctx, "factor", 0.1, 0.0, 1.0, &spec->rop_factor) < 0 ||
        h->get_int(h->ctx, "patience", 10, 0, INT64_MAX, &spec->rop_patience) < 0 ||
        h->get_float(h->ctx, "min_delta", 1e-4, 0.0, INFINITY, &spec->rop_min_delta) < 0 ||
        h->get_float(h->ctx, "min_scale", 0.0, 0.0, 1.0, &spec->rop_min_scale) < 0) {
        return failed(&c, err);
    }
    return dpt_host_check_unused(&c, NULL, err);
}

/* train.time_limit: seconds (a number), or a string "HH:MM:SS", "MM:SS",
 * "SECONDS" or "DAYS-HH:MM:SS" as Slurm writes them. */
static int read_time_limit(struct dpt_spec *spec, struct dpt_host_ctx *c, struct dpt_err *err)
{
    const struct dpt_host *h = &c->host;
    const config_setting_t *s = c->group ? config_setting_get_member(c->group, "time_limit")
                                         : NULL;
    if (s && config_setting_type(s) != CONFIG_TYPE_STRING) {
        return h->get_float(h->ctx, "time_limit", 0.0, 0.0, INFINITY, &spec->time_limit) < 0
                   ? failed(c, err)
                   : 0;
    }
    const char *text = NULL;
    if (h->get_string(h->ctx, "time_limit", NULL, NULL, &text) < 0) {
        return failed(c, err);
    }
    if (text && dpt__duration_parse(text, &spec->time_limit) < 0) {
        dpt_host_fail(c, s, "'time_limit': expected seconds or \"HH:MM:SS\", found \"%s\"",
                      text);
        return failed(c, err);
    }
    return 0;
}

/* train.log_every: how often a batch log gets an epoch line. An integer N
 * is every N epochs; a string is a time, "30s", "5min", "1h" (a decimal
 * number and its unit) or "HH:MM:SS": at most one line per that much
 * training time. Default 1: every epoch. */
static int read_log_every(struct dpt_spec *spec, struct dpt_host_ctx *c, struct dpt_err *err)
{
    const struct dpt_host *h = &c->host;
    const config_setting_t *s = c->group ? config_setting_get_member(c->group, "log_every")
                                         : NULL;
    spec->log_every_epochs = 1;
    if (!s || config_setting_type(s) != CONFIG_TYPE_STRING) {
        return h->get_int(h->ctx, "log_every", 1, 1, INT64_MAX, &spec->log_every_epochs) < 0
                   ? failed(c, err)
                   : 0;
    }
    const char *text = NULL;
    if (h->get_string(h->ctx, "log_every", NULL, NULL, &text) < 0) {
        return failed(c, err);
    }
    static const struct {
        const char *unit;
        double seconds;
    } units[] = {{"s", 1.0}, {"min", 60.0}, {"h", 3600.0}};
    char *end;
    double v = strtod(text, &end);
    int ok = 0;
    for (size_t i = 0; end != text && i < sizeof units / sizeof units[0]; i++) {
        if (strcmp(end, units[i].unit) == 0) {
            v *= units[i].seconds;
            ok = 1;
        }
    }
    if (!ok && strchr(text, ':')) {
        ok = dpt__duration_parse(text, &v) == 0;
    }
    if (!ok || !(v > 0) || !isfinite(v)) {
        dpt_host_fail(c, s, "'log_every': expected a number of epochs (log_every = 100;) or "
                      "a time above 0 (\"30s\", \"5min\", \"1h\", \"HH:MM:SS\"), found \"%s\"",
                      text);
        return failed(c, err);
    }
    spec->log_every_epochs = 0;
    spec->log_every_s = v;
    return 0;
}

/* train = { batch; epochs; seed; micro_batch; check_sync; deterministic;
 *           scale_lr_batch; clip_norm; clip_value; timeout; log; time_limit; log_every;
 *           and the groups
 *           checkpoint, early_stopping, lr_schedule, reduce_lr_on_plateau; } */
static int read_train(struct dpt_spec *spec, struct dpt_host_ctx *c, struct dpt_err *err)
{
    const struct dpt_host *h = &c->host;
    if (h->get_int(h->ctx, "batch", 32, 1, INT64_MAX, &spec->batch) < 0 ||
        h->get_int(h->ctx, "epochs", 10, 0, INT64_MAX, &spec->epochs) < 0 ||
        h->get_int(h->ctx, "seed", 0, 0, INT64_MAX, &spec->seed) < 0 ||
        h->get_int(h->ctx, "micro_batch", 0, 0, INT64_MAX, &spec->micro_batch) < 0 ||
        h->get_int(h->ctx, "check_sync", 0, 0, INT64_MAX, &spec->check_sync) < 0 ||
        h->get_bool(h->ctx, "deterministic", 0, &spec->deterministic) < 0 ||
        h->get_int(h->ctx, "scale_lr_batch", 0, 0, INT64_MAX, &spec->lr_base_batch) < 0 ||
        h->get_float(h->ctx, "clip_norm", 0.0, 0.0, INFINITY, &spec->clip_norm) < 0 ||
        h->get_float(h->ctx, "clip_value", 0.0, 0.0, INFINITY, &spec->clip_value) < 0 ||
        h->get_float(h->ctx, "timeout", DPT_DEFAULT_TIMEOUT, 0.0, INFINITY, &spec->timeout) < 0 ||
        h->get_string(h->ctx, "log", NULL, NULL, &spec->log) < 0) {
        return failed(c, err);
    }
    if (check_name(c, "log", spec->log) < 0) {
        return failed(c, err);
    }
    if (read_time_limit(spec, c, err) < 0 || read_log_every(spec, c, err) < 0 ||
        read_checkpoint(spec, c, err) < 0 ||
        read_early_stopping(spec, c, err) < 0 ||
        read_lr_schedule(spec, c, err) < 0 || read_reduce_lr(spec, c, err) < 0) {
        return err->code;
    }
    return dpt_host_check_unused(c, NULL, err);
}

/* Fills the typed fields from the tree and checks them: the top level, then
 * each section. Every section is read through the host services plugins
 * use (plugin/host.h), so its messages read like theirs. */
static int extract(struct dpt_spec *spec, struct dpt_err *err)
{
    struct dpt_host_ctx top, data, model, train;
    dpt_host_init(&top, config_root_setting(&spec->cfg), spec->file, "top level");
    if (open_section(&top, "data", "data", &data, err) < 0 ||
        open_section(&top, "model", "model", &model, err) < 0 ||
        open_section(&top, "train", "train", &train, err) < 0 ||
        dpt_host_check_unused(&top, NULL, err) < 0) {
        return err->code;
    }
    if (!model.group) {
        dpt_host_fail(&top, NULL, "no 'model' section: say model = { layers = (...); loss = "
                      "\"...\"; optimizer = \"...\"; };");
        return failed(&top, err);
    }
    if (read_data(spec, &data, err) < 0 || read_model(spec, &model, err) < 0 ||
        read_train(spec, &train, err) < 0) {
        return err->code;
    }
    return 0;
}

/* Makes every relative path written in the model file relative to the
 * file's folder: the data it reads (data.train, test, validation) and the
 * files it writes (train.log, train.checkpoint.path). Called before the
 * --set values are applied, so that a path given on the command line stays
 * relative to the working directory, as every command-line path does. */
static int resolve_paths(struct dpt_spec *spec, const char *path, struct dpt_err *err)
{
    char dir_buf[PATH_MAX];
    snprintf(dir_buf, sizeof dir_buf, "%s", path);
    const char *dir = dirname(dir_buf);
    static const char *const keys[] = {"data.train", "data.test", "data.validation",
                                       "train.log", "train.checkpoint.path"};
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
        config_setting_t *key = config_lookup(&spec->cfg, keys[i]);
        /* A list of files (or glob patterns): each of its strings. */
        int is_list = key && (config_setting_is_array(key) || config_setting_is_list(key));
        int n = !key ? 0 : is_list ? config_setting_length(key) : 1;
        for (int j = 0; j < n; j++) {
            config_setting_t *s = is_list ? config_setting_get_elem(key, (unsigned)j) : key;
            if (config_setting_type(s) != CONFIG_TYPE_STRING) {
                continue;
            }
            const char *v = config_setting_get_string(s);
            if (v[0] == '/' || v[0] == '\0' || strcmp(dir, ".") == 0) {
                continue;
            }
            char *joined = dpt__aprintf("%s/%s", dir, v);
            if (!joined) {
                return dpt_err_set(err, DPT_ENOMEM, "out of memory");
            }
            config_setting_set_string(s, joined);
            free(joined);
        }
    }
    return 0;
}

static int parse_error(struct dpt_spec *spec, struct dpt_err *err)
{
    const char *f = config_error_file(&spec->cfg);
    if (config_error_type(&spec->cfg) == CONFIG_ERR_FILE_IO) {
        char shown[8192];
        return dpt_err_set(err, DPT_EIO, "%s: cannot read the model file",
                           dpt__path_shown(spec->file, shown, sizeof shown));
    }
    return dpt_err_set(err, DPT_ECONFIG, "%s:%d: %s", f ? f : spec->file,
                       config_error_line(&spec->cfg), config_error_text(&spec->cfg));
}

/* Parses text (a model file's bytes, or a copy of one) into spec->cfg,
 * after widening its integers (spec_text.h); messages name spec->file. */
static int parse_text(struct dpt_spec *spec, const char *text, struct dpt_err *err)
{
    char *wide = NULL;
    int rc = dpt__config_widen_ints(text, spec->file, &wide, err);
    if (rc == 0 && !config_read_string(&spec->cfg, wide)) {
        rc = parse_error(spec, err);
    }
    free(wide);
    return rc;
}

/* A spec with nothing in it yet but its file name (a copy of name). */
static int spec_init(struct dpt_spec *spec, const char *name, struct dpt_err *err)
{
    memset(spec, 0, sizeof *spec);
    config_init(&spec->cfg);
    spec->file = dpt__strdup(name);
    return spec->file ? 0 : dpt_err_set(err, DPT_ENOMEM, "out of memory");
}

int dpt_spec_load(struct dpt_spec *spec, const char *path, char *const *sets, size_t n_sets,
                  struct dpt_err *err)
{
    char *text = NULL;
    int rc = dpt__spec_read_file(path, &text, err);
    if (rc == 0) {
        rc = dpt_spec_load_text(spec, text, path, sets, n_sets, err);
    } else if (spec_init(spec, path, err) < 0) {
        rc = err->code;
    }
    free(text);
    return rc;
}

int dpt_spec_load_text(struct dpt_spec *spec, const char *text, const char *path,
                       char *const *sets, size_t n_sets, struct dpt_err *err)
{
    int rc = spec_init(spec, path, err);
    if (rc == 0) {
        rc = parse_text(spec, text, err);
    }
    if (rc == 0) {
        rc = resolve_paths(spec, path, err);
    }
    for (size_t i = 0; rc == 0 && i < n_sets; i++) {
        rc = dpt_config_set(&spec->cfg, sets[i], err);
    }
    return rc == 0 ? extract(spec, err) : rc;
}

int dpt_spec_parse(struct dpt_spec *spec, const char *text, const char *name,
                   struct dpt_err *err)
{
    int rc = spec_init(spec, name, err);
    if (rc == 0) {
        rc = parse_text(spec, text, err);
    }
    return rc == 0 ? extract(spec, err) : rc;
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
    dpt__spec_free_data_sources(spec);
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

/* Parses a --set value into member "v" of the empty config *tmp as libconfig
 * would (number, bool, "string"), integers beyond 32 bits included; a bare
 * word such as other.h5 is taken as a string. 0, or an error in err (out
 * of memory, an integer beyond 64 bits). */
static int parse_value(config_t *tmp, const char *value, const char *assignment,
                       struct dpt_err *err)
{
    char *text = dpt__aprintf("v = %s;", value), *wide = NULL;
    if (!text) {
        return dpt_err_set(err, DPT_ENOMEM, "out of memory");
    }
    int rc = dpt__config_widen_ints(text, "--set", &wide, err);
    free(text);
    if (rc < 0) {
        return rc == DPT_ENOMEM ? rc : dpt_err_set(err, DPT_EINVAL, "--set '%s': the integer "
                                                   "does not fit in 64 bits", assignment);
    }
    int parsed = config_read_string(tmp, wide);
    free(wide);
    config_setting_t *v = parsed ? config_lookup(tmp, "v") : NULL;
    if (!v || config_setting_is_aggregate(v)) {
        config_destroy(tmp);
        config_init(tmp);
        v = config_setting_add(config_root_setting(tmp), "v", CONFIG_TYPE_STRING);
        config_setting_set_string(v, value);
    }
    return 0;
}

/* One step of a --set path below g: "[N]" is entry N (from 0, as libconfig
 * counts) of the list g, anything else a member of the group g, made when
 * missing. *walked is the path so far, for messages. */
static config_setting_t *set_step(config_setting_t *g, const char *part, const char *walked,
                                  const char *assignment, struct dpt_err *err)
{
    if (part[0] == '[') {
        char *end;
        long i = strtol(part + 1, &end, 10);
        int n = config_setting_length(g);
        if (!config_setting_is_list(g) && !config_setting_is_array(g)) {
            dpt_err_set(err, DPT_EINVAL, "--set '%s': '%s' is not a list, so it has no "
                        "entry %s", assignment, walked, part);
            return NULL;
        }
        if (end == part + 1 || strcmp(end, "]") != 0 || i < 0 || i >= n) {
            dpt_err_set(err, DPT_EINVAL, "--set '%s': '%s' has %d entries, [0] to [%d]; "
                        "there is no entry %s", assignment, walked, n, n - 1, part);
            return NULL;
        }
        return config_setting_get_elem(g, (unsigned)i);
    }
    if (!config_setting_is_group(g)) {
        dpt_err_set(err, DPT_EINVAL, "--set '%s': '%s' is not a group, so it has no key '%s'%s",
                    assignment, walked, part, config_setting_is_list(g)
                    ? " (name a list's entry as [N], e.g. model.layers.[0].units)" : "");
        return NULL;
    }
    config_setting_t *m = config_setting_get_member(g, part);
    if (!m) {
        m = config_setting_add(g, part, CONFIG_TYPE_GROUP);
    }
    if (!m) {
        dpt_err_set(err, DPT_EINVAL, "--set '%s': bad key '%s'%s", assignment, part,
                    strchr(part, '[') ? " (a list's entry is a part of its own: "
                                        "model.layers.[0].units)" : "");
    }
    return m;
}

/* --set replaces single values only: a group or list m (member key of the
 * group at walked) is refused with the form that reaches inside it, made
 * from its own contents (tests/help_texts_true.sh). */
static int refuse_aggregate(const config_setting_t *m, const char *walked, const char *key,
                            const char *assignment, struct dpt_err *err)
{
    const char *value = strchr(assignment, '=') + 1;
    char path[512];
    snprintf(path, sizeof path, "%s%s%s", walked, walked[0] ? "." : "", key);
    if (config_setting_is_group(m)) {
        const config_setting_t *first = config_setting_get_elem(m, 0);
        const char *inner = config_setting_get_member(m, "type") ? "type"
                            : first ? config_setting_name(first) : "KEY";
        return dpt_err_set(err, DPT_EINVAL, "--set '%s': '%s' is a group; --set replaces "
                           "single values, not groups: set one of its keys, e.g. --set "
                           "%s.%s=%s", assignment, path, path, inner, value);
    }
    return dpt_err_set(err, DPT_EINVAL, "--set '%s': '%s' is a list; --set replaces single "
                       "values, not lists: set a key of one of its entries, e.g. --set "
                       "%s.[0].KEY=%s", assignment, path, path, value);
}

/* Replaces or adds member `key` of g by a copy of the scalar v. */
static int set_last(config_setting_t *g, const char *key, const char *walked,
                    const config_setting_t *v, const char *assignment, struct dpt_err *err)
{
    if (key[0] == '[') {
        return dpt_err_set(err, DPT_EINVAL, "--set '%s': only a key of a group can be set; "
                           "%s is an entry of the list %s", assignment, key, walked);
    }
    if (!config_setting_is_group(g)) {
        set_step(g, key, walked, assignment, err); /* writes why g has no key */
        return err->code;
    }
    config_setting_t *m = config_setting_get_member(g, key);
    if (m && config_setting_is_aggregate(m)) {
        return refuse_aggregate(m, walked, key, assignment, err);
    }
    if (m) {
        config_setting_remove(g, key);
    }
    if (add_scalar(g, key, v) < 0) {
        return dpt_err_set(err, DPT_EINVAL, "--set '%s': cannot set '%s'", assignment, key);
    }
    return 0;
}

int dpt_config_set(config_t *cfg, const char *assignment, struct dpt_err *err)
{
    const char *eq = strchr(assignment, '=');
    if (!eq || eq == assignment) {
        return dpt_err_set(err, DPT_EINVAL,
                           "--set '%s': expected section.key=value, e.g. data.train=other.h5",
                           assignment);
    }
    char path[256], walked[256] = "";
    size_t plen = (size_t)(eq - assignment);
    if (plen >= sizeof path) {
        return dpt_err_set(err, DPT_EINVAL, "--set '%s': key too long", assignment);
    }
    memcpy(path, assignment, plen);
    path[plen] = '\0';
    config_t tmp;
    config_init(&tmp);
    if (parse_value(&tmp, eq + 1, assignment, err) < 0) {
        config_destroy(&tmp);
        return err->code;
    }

    /* Walk (and make) the groups and list entries of the path, then
     * replace the last key. */
    config_setting_t *g = config_root_setting(cfg);
    char *save = NULL;
    int rc = 0;
    char *part = strtok_r(path, ".", &save);
    while (part && rc == 0) {
        char *next = strtok_r(NULL, ".", &save);
        if (!next) {
            rc = set_last(g, part, walked, config_lookup(&tmp, "v"), assignment, err);
            break;
        }
        g = set_step(g, part, walked, assignment, err);
        rc = g ? 0 : err->code;
        size_t w = strlen(walked);
        snprintf(walked + w, sizeof walked - w, "%s%s", w ? "." : "", part);
        part = next;
    }
    config_destroy(&tmp);
    return rc;
}
