/* The model description a checkpoint stores: see spec_store.h. The spec's
 * own tree is left alone (its strings are pointed at by the spec's
 * fields): the text is written, read into a tree of its own, rewritten
 * there and written again. */
#include "config.h"

#include "model/spec_store.h"
#include "util/util.h"

#include <libconfig.h>
#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* The keys whose strings are paths: a file, a glob pattern, or a list of
 * them (model/spec_data.c reads the data keys, model/spec.c the others). */
static const char *const path_keys[] = {"data.train", "data.test", "data.validation",
                                        "train.log", "train.checkpoint.path"};

/* cwd with a backslash before each character glob(3) reads as special
 * (the characters *, ?, [ and the backslash), for the front of a
 * pattern: "/runs/a[1]" -> "/runs/a\[1]".
 * NULL when out of memory. */
static char *glob_escaped(const char *cwd)
{
    char *out = malloc(2 * strlen(cwd) + 1), *o = out;
    for (const char *c = cwd; out && *c; c++) {
        if (strchr("*?[\\", *c)) {
            *o++ = '\\';
        }
        *o++ = *c;
    }
    if (out) {
        *o = '\0';
    }
    return out;
}

/* Sets the string setting s to cwd/its value when that value is relative;
 * a leading "./" is dropped first, so the stored path reads as one. For a
 * data key whose value is a glob pattern, cwd's own glob characters are
 * escaped, so that only the value's part is a pattern (data/set.c expands
 * it). 0, or -1 when out of memory. */
static int make_absolute(config_setting_t *s, const char *cwd, int data_key)
{
    const char *v = config_setting_get_string(s);
    if (!v || v[0] == '/' || v[0] == '\0') {
        return 0;
    }
    while (v[0] == '.' && v[1] == '/') {
        v += 2;
    }
    char *front = data_key && strpbrk(v, "*?[") ? glob_escaped(cwd) : dpt__strdup(cwd);
    char *joined = front ? dpt__aprintf("%s%s%s", front, strcmp(cwd, "/") == 0 ? "" : "/", v)
                         : NULL;
    free(front);
    if (!joined) {
        return -1;
    }
    int ok = config_setting_set_string(s, joined);
    free(joined);
    return ok ? 0 : -1;
}

/* Every path of the tree's path keys made absolute against cwd. */
static int store_paths(config_t *c, const char *cwd)
{
    for (size_t i = 0; i < sizeof path_keys / sizeof path_keys[0]; i++) {
        config_setting_t *key = config_lookup(c, path_keys[i]);
        int is_list = key && (config_setting_is_array(key) || config_setting_is_list(key));
        int n = !key ? 0 : is_list ? config_setting_length(key) : 1;
        for (int j = 0; j < n; j++) {
            config_setting_t *s = is_list ? config_setting_get_elem(key, (unsigned)j) : key;
            if (config_setting_type(s) == CONFIG_TYPE_STRING &&
                make_absolute(s, cwd, strncmp(path_keys[i], "data.", 5) == 0) < 0) {
                return -1;
            }
        }
    }
    return 0;
}

/* Adds the integer member name = v to group g, as a 32-bit integer when it
 * fits (as a user would write it), else a 64-bit one. */
static int add_int(config_setting_t *g, const char *name, int64_t v)
{
    int wide = v > INT32_MAX || v < INT32_MIN;
    config_setting_t *s = config_setting_add(g, name, wide ? CONFIG_TYPE_INT64 : CONFIG_TYPE_INT);
    if (!s) {
        return -1;
    }
    return (wide ? config_setting_set_int64(s, v) : config_setting_set_int(s, (int)v)) ? 0 : -1;
}

/* The tree's train group, added when it has none; NULL when out of memory
 * or when train is not a group. */
static config_setting_t *train_group(config_t *c)
{
    config_setting_t *root = config_root_setting(c);
    config_setting_t *train = config_setting_get_member(root, "train");
    if (!train) {
        train = config_setting_add(root, "train", CONFIG_TYPE_GROUP);
    }
    return train && config_setting_is_group(train) ? train : NULL;
}

/* train.checkpoint as the run uses it: the series' path (absolute) and
 * every setting with the value read, defaults included, replacing what the
 * tree had. */
static int store_checkpoint(config_t *c, const struct dpt_spec *spec, const char *cwd)
{
    config_setting_t *train = train_group(c);
    if (!train) {
        return -1;
    }
    if (config_setting_get_member(train, "checkpoint")) {
        config_setting_remove(train, "checkpoint");
    }
    config_setting_t *g = config_setting_add(train, "checkpoint", CONFIG_TYPE_GROUP);
    config_setting_t *path = g ? config_setting_add(g, "path", CONFIG_TYPE_STRING) : NULL;
    if (!path || !config_setting_set_string(path, spec->ckpt_path) ||
        (cwd && make_absolute(path, cwd, 0) < 0) ||
        add_int(g, "every_steps", spec->ckpt_every_steps) < 0 ||
        add_int(g, "every_epochs", spec->ckpt_every_epochs) < 0) {
        return -1;
    }
    /* every_seconds is read as a number: whole seconds stay an integer. */
    double secs = spec->ckpt_every_seconds;
    if (secs == floor(secs) && fabs(secs) < 2e9) {
        if (add_int(g, "every_seconds", (int64_t)secs) < 0) {
            return -1;
        }
    } else {
        config_setting_t *s = config_setting_add(g, "every_seconds", CONFIG_TYPE_FLOAT);
        if (!s || !config_setting_set_float(s, secs)) {
            return -1;
        }
    }
    return add_int(g, "keep", spec->ckpt_keep);
}

/* train.deterministic = true, also when it came from the command line. */
static int store_deterministic(config_t *c)
{
    config_setting_t *train = train_group(c);
    config_setting_t *s = train ? config_setting_get_member(train, "deterministic") : NULL;
    if (train && !s) {
        s = config_setting_add(train, "deterministic", CONFIG_TYPE_BOOL);
    }
    return s && config_setting_set_bool(s, 1) ? 0 : -1;
}

char *dpt_spec_stored_text(const struct dpt_spec *spec)
{
    char *text = dpt_spec_to_string(spec);
    if (!text) {
        return NULL;
    }
    config_t c;
    config_init(&c);
    int ok = config_read_string(&c, text);
    free(text);
    text = NULL;
    char cwd_buf[PATH_MAX];
    const char *cwd = getcwd(cwd_buf, sizeof cwd_buf);
    if (ok && cwd) {
        ok = store_paths(&c, cwd) == 0;
    }
    if (ok && spec->ckpt_path) {
        ok = store_checkpoint(&c, spec, cwd) == 0;
    }
    if (ok && spec->deterministic) {
        ok = store_deterministic(&c) == 0;
    }
    char *buf = NULL;
    size_t len = 0;
    FILE *f = ok ? open_memstream(&buf, &len) : NULL;
    if (f) {
        config_write(&c, f);
        if (fclose(f) == 0) {
            text = buf;
        } else {
            free(buf);
        }
    }
    config_destroy(&c);
    return text;
}
