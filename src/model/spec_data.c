/* The model file's data sets: data.train, data.test and data.validation
 * (each one file, a glob pattern, or a list of them: one data set, the
 * files in order) and data.x_columns / data.y_columns (features and labels
 * as columns of one 2-D dataset, data/columns.h), read into the
 * struct dpt_data_source of each (data/dataset.h). Globs are matched when
 * the data is opened, not here: a model file's copy inside a trained model
 * is read where the training files may be gone.
 */
#include "config.h"

#include "data/columns.h"
#include "model/spec_data.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

/* The files of key: a string, or a non-empty list or array of strings,
 * none empty. files is malloc'ed (the strings point into the tree). */
static int read_files(struct dpt_host_ctx *c, const char *key, const char ***files, size_t *n)
{
    const config_setting_t *s;
    *files = NULL;
    *n = 0;
    if (dpt_host_setting(c, key, &s) < 0) {
        return -1;
    }
    if (!s) {
        return 0;
    }
    int is_list = config_setting_is_array(s) || config_setting_is_list(s);
    size_t count = is_list ? (size_t)config_setting_length(s) : 1;
    if (!is_list && config_setting_type(s) != CONFIG_TYPE_STRING) {
        return dpt_host_fail(c, s, "'%s' must be a file name, a glob pattern or a list of them, "
                             "e.g. \"train.h5\", \"shards/part-*.h5\" or [\"a.h5\", \"b.h5\"]",
                             key);
    }
    if (count == 0) {
        return dpt_host_fail(c, s, "'%s' is an empty list; name at least one file", key);
    }
    *files = calloc(count, sizeof **files);
    if (!*files) {
        return dpt_host_fail(c, s, "out of memory");
    }
    for (size_t i = 0; i < count; i++) {
        const config_setting_t *e = is_list ? config_setting_get_elem(s, (unsigned)i) : s;
        const char *v = config_setting_get_string(e);
        if (!v) {
            return dpt_host_fail(c, e, "'%s': item %zu is not a string; expected file names "
                                 "or glob patterns", key, i + 1);
        }
        if (!is_list && !v[0]) {
            return dpt_host_fail(c, e, "'%s' must not be empty", key);
        }
        if (!is_list && strlen(v) >= PATH_MAX) {
            return dpt_host_fail(c, e, "'%s' is %zu characters long; a file or dataset name "
                                 "has at most %d", key, strlen(v), PATH_MAX - 1);
        }
        if (!v[0] || strlen(v) >= PATH_MAX) {
            return dpt_host_fail(c, e, "'%s': item %zu %s", key, i + 1,
                                 v[0] ? "is longer than a path can be" : "is empty");
        }
        (*files)[(*n)++] = v;
    }
    return 0;
}

/* key's column selection, or NULL when absent. */
static int read_columns(struct dpt_spec *spec, struct dpt_host_ctx *c, const char *key,
                        struct dpt_columns **out)
{
    const config_setting_t *s;
    char where[4200], name[64];
    *out = NULL;
    if (dpt_host_setting(c, key, &s) < 0) {
        return -1;
    }
    if (!s) {
        return 0;
    }
    snprintf(name, sizeof name, "data.%s", key);
    struct dpt_err e = {0};
    if (dpt_columns_parse(out, s, name, dpt_spec_where(spec, s, where, sizeof where), &e) < 0) {
        if (c->err.code == 0) {
            c->err = e;
        }
        return -1;
    }
    return 0;
}

int dpt__spec_read_data_files(struct dpt_spec *spec, struct dpt_host_ctx *c, const char *key)
{
    static const char *const keys[] = {"train", "test", "validation"};
    struct dpt_data_source *src[] = {&spec->train_src, &spec->test_src, &spec->validation_src};
    const char **first[] = {&spec->train, &spec->test, &spec->validation};
    /* No key in data.test's messages: train.c says "data.test" before them. */
    static const char *const shown[] = {"data.train", NULL, "data.validation"};
    size_t i = 0;
    while (strcmp(key, keys[i]) != 0) {
        i++;
    }
    const char **files;
    size_t n;
    if (read_files(c, key, &files, &n) < 0) {
        free(files);
        return -1;
    }
    *src[i] = (struct dpt_data_source){.files = files, .n_files = n, .key = shown[i]};
    *first[i] = n ? files[0] : NULL;
    return 0;
}

int dpt__spec_read_data_columns(struct dpt_spec *spec, struct dpt_host_ctx *c)
{
    return read_columns(spec, c, "x_columns", &spec->x_columns) < 0 ||
                   read_columns(spec, c, "y_columns", &spec->y_columns) < 0
               ? -1
               : 0;
}

int dpt__spec_check_data_sources(struct dpt_spec *spec, struct dpt_host_ctx *c)
{
    /* y_columns takes the labels from data.x's dataset: a data.y beside it
     * would be ignored without a word. */
    const config_setting_t *y = c->group ? config_setting_get_member(c->group, "y") : NULL;
    if (spec->y_columns && y) {
        return dpt_host_fail(c, y, "give 'y' (the dataset of the targets) or 'y_columns' "
                             "(target columns of the dataset 'x' names), not both");
    }
    struct dpt_data_source *src[] = {&spec->train_src, &spec->test_src, &spec->validation_src};
    for (size_t i = 0; i < 3; i++) {
        src[i]->x_name = spec->x_name;
        src[i]->y_name = spec->y_name;
        src[i]->x_cols = spec->x_columns;
        src[i]->y_cols = spec->y_columns;
    }
    return 0;
}

void dpt__spec_free_data_sources(struct dpt_spec *spec)
{
    free((void *)spec->train_src.files);
    free((void *)spec->test_src.files);
    free((void *)spec->validation_src.files);
    dpt_columns_destroy(spec->x_columns);
    dpt_columns_destroy(spec->y_columns);
}
