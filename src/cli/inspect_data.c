/* dptrain inspect DATA.h5: the description of a data file (data/describe.h)
 * as text or JSON. A model or checkpoint (format "dptrain-model" or
 * "dptrain-checkpoint", or a model's /config and /layers whatever its
 * format) goes to the model inspection of eval_cmd.c, as does a file that
 * is not HDF5 at all (which that path names as such); every other HDF5
 * file, prediction files included, is described here. */
#include "config.h"

#include "cli/cli.h"
#include "data/describe.h"
#include "io/h5file.h"
#include "util/h5.h"

#include <hdf5.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Text output lists each column up to this many; wider rows (images) get
 * one line over all their values, and --format json every column. */
#define TEXT_COLUMNS_MAX 64

/* 1 for an HDF5 file that is not a model or checkpoint: neither a root
 * `format` of a model or checkpoint nor a model's /config and /layers
 * (prediction files say "dptrain-predictions" and are arrays like any
 * other). A model that lost or changed its attribute is a damaged model,
 * for the model inspection to refuse. */
static int is_data_file(const char *path)
{
    struct dpt__h5_quiet quiet;
    dpt__h5_quiet_begin(&quiet);
    /* A damaged attribute can hang libhdf5 (tests/damaged_files_named.sh):
     * the read watchdog of main.c then names this file. */
    dpt__h5_reading(&quiet, path);
    hid_t f = H5Fis_hdf5(path) > 0 ? H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT) : -1;
    char format[64] = "";
    int data = 0;
    if (f >= 0) {
        int model_format = H5Aexists(f, "format") > 0 &&
                           dpt__h5_read_string_attr(f, "format", format, sizeof format) == 0 &&
                           (strcmp(format, "dptrain-model") == 0 ||
                            strcmp(format, "dptrain-checkpoint") == 0);
        int model_shape = H5Lexists(f, "config", H5P_DEFAULT) > 0 &&
                          H5Lexists(f, "layers", H5P_DEFAULT) > 0;
        data = !model_format && !model_shape;
    }
    if (f >= 0) {
        H5Fclose(f);
    }
    dpt__h5_quiet_end(&quiet);
    return data;
}

static void shape_text(const uint64_t *dims, int rank, char *buf, size_t len)
{
    size_t k = (size_t)snprintf(buf, len, "[");
    for (int i = 0; i < rank && k < len; i++) {
        k += (size_t)snprintf(buf + k, len - k, "%s%llu", i ? ", " : "",
                              (unsigned long long)dims[i]);
    }
    if (k < len) {
        snprintf(buf + k, len - k, "]");
    }
}

static json_t *number_or_null(const struct dpt_column_stats *c, double v)
{
    return c->finite ? json_real(v) : json_null();
}

static json_t *dims_json(const uint64_t *dims, int rank)
{
    json_t *a = json_array();
    for (int i = 0; i < rank; i++) {
        json_array_append_new(a, json_integer((json_int_t)dims[i]));
    }
    return a;
}

static json_t *set_json(const struct dpt_described_set *s, uint64_t sample)
{
    json_t *o = json_object();
    json_object_set_new(o, "name", json_string(s->name));
    json_object_set_new(o, "dtype", json_string(s->dtype));
    json_object_set_new(o, "shape", dims_json(s->dims, s->rank));
    json_object_set_new(o, "layout", json_string(s->layout));
    json_object_set_new(o, "chunk", s->chunk_rank ? dims_json(s->chunk, s->chunk_rank)
                                                  : json_null());
    json_object_set_new(o, "filters", json_string(s->filters));
    json_object_set_new(o, "external", json_boolean(s->external));
    json_object_set_new(o, "stored_bytes", json_integer((json_int_t)s->stored_bytes));
    if (s->filter_missing[0]) {
        json_object_set_new(o, "filter_missing", json_string(s->filter_missing));
    }
    if (!s->stats) {
        return o;
    }
    json_object_set_new(o, "rows_read", json_integer((json_int_t)s->rows_read));
    json_object_set_new(o, "sampled", json_boolean(sample > 0 && s->rows_read < s->dims[0]));
    json_t *cols = json_array();
    for (uint64_t j = 0; j < s->cols; j++) {
        const struct dpt_column_stats *c = &s->stats[j];
        json_t *cj = json_object();
        if (s->columns) {
            json_object_set_new(cj, "name", json_string(s->columns[j]));
        }
        json_object_set_new(cj, "count", json_integer((json_int_t)c->finite));
        json_object_set_new(cj, "nan", json_integer((json_int_t)c->nan));
        json_object_set_new(cj, "inf", json_integer((json_int_t)c->inf));
        json_object_set_new(cj, "min", number_or_null(c, c->min));
        json_object_set_new(cj, "max", number_or_null(c, c->max));
        json_object_set_new(cj, "mean", number_or_null(c, c->mean));
        json_object_set_new(cj, "std", number_or_null(c, c->std));
        json_array_append_new(cols, cj);
    }
    json_object_set_new(o, "columns", cols);
    if (s->integer && s->cols == 1) {
        json_t *l = json_object();
        for (size_t k = 0; k < s->n_labels; k++) {
            char key[32];
            snprintf(key, sizeof key, "%lld", (long long)s->labels[k].value);
            json_object_set_new(l, key, json_integer((json_int_t)s->labels[k].count));
        }
        json_object_set_new(o, "labels", s->labels ? l : json_null());
        if (s->classes) {
            json_t *c = json_array();
            for (size_t k = 0; k < s->n_classes; k++) {
                json_array_append_new(c, json_string(s->classes[k]));
            }
            json_object_set_new(o, "classes", c);
        }
        if (!s->labels) {
            json_decref(l);
        }
    }
    return o;
}

static void print_json(const char *path, const struct dpt_data_description *d, uint64_t sample)
{
    json_t *o = json_object();
    json_object_set_new(o, "file", json_string(path));
    json_object_set_new(o, "kind", json_string("data"));
    json_t *sets = json_array();
    for (size_t i = 0; i < d->n; i++) {
        json_array_append_new(sets, set_json(&d->sets[i], sample));
    }
    json_object_set_new(o, "datasets", sets);
    char *text = json_dumps(o, JSON_COMPACT | JSON_REAL_PRECISION(17));
    if (text) {
        printf("%s\n", text);
        free(text);
    }
    json_decref(o);
}

/* One line per column, or one over all of them for wide rows. */
static void print_columns(const struct dpt_described_set *s)
{
    if (s->cols <= TEXT_COLUMNS_MAX) {
        /* "3 rooms" when the set names its columns, cut to 24 characters. */
        char name[TEXT_COLUMNS_MAX][25];
        int width = 8;
        for (uint64_t j = 0; j < s->cols; j++) {
            int len = s->columns ? snprintf(name[j], sizeof name[j], "%llu %s",
                                            (unsigned long long)j, s->columns[j])
                                 : snprintf(name[j], sizeof name[j], "%llu",
                                            (unsigned long long)j);
            len = len < (int)sizeof name[j] ? len : (int)sizeof name[j] - 1;
            width = len > width ? len : width;
        }
        printf("  %-*s %13s %13s %13s %13s %7s %7s\n", width, "column", "min", "max", "mean",
               "std", "NaN", "Inf");
        for (uint64_t j = 0; j < s->cols; j++) {
            const struct dpt_column_stats *c = &s->stats[j];
            printf("  %-*s %13.6g %13.6g %13.6g %13.6g %7llu %7llu\n", width, name[j], c->min,
                   c->max, c->mean, c->std, (unsigned long long)c->nan,
                   (unsigned long long)c->inf);
        }
        return;
    }
    double lo = INFINITY, hi = -INFINITY;
    uint64_t nan = 0, inf = 0, constant = 0;
    for (uint64_t j = 0; j < s->cols; j++) {
        const struct dpt_column_stats *c = &s->stats[j];
        lo = c->finite && c->min < lo ? c->min : lo;
        hi = c->finite && c->max > hi ? c->max : hi;
        nan += c->nan;
        inf += c->inf;
        constant += c->finite && c->std == 0.0;
    }
    printf("  %llu columns: values from %g to %g, %llu constant columns, %llu NaN, %llu Inf "
           "(--format json lists each column)\n", (unsigned long long)s->cols, lo, hi,
           (unsigned long long)constant, (unsigned long long)nan, (unsigned long long)inf);
}

static void print_set(const struct dpt_described_set *s, uint64_t sample)
{
    char shape[256], chunk[256] = "";
    shape_text(s->dims, s->rank, shape, sizeof shape);
    if (s->chunk_rank) {
        chunk[0] = ' ';
        shape_text(s->chunk, s->chunk_rank, chunk + 1, sizeof chunk - 1);
    }
    printf("%s: %s %s, %s%s%s%s%s, %llu bytes stored\n", s->name, s->dtype, shape, s->layout,
           chunk, s->filters[0] ? ", " : "", s->filters, s->external ? ", external raw data" : "",
           (unsigned long long)s->stored_bytes);
    if (!s->stats) {
        if (s->filter_missing[0]) {
            printf("  not read: %s\n", s->filter_missing);
        }
        if (s->numeric && s->stored_bytes == 0 && strcmp(s->layout, "virtual") != 0) {
            printf("  never written: no values stored (HDF5 would read fill values)\n");
        }
        return;
    }
    if (sample > 0 && s->rows_read < s->dims[0]) {
        printf("  statistics of a sample: %llu of %llu rows\n", (unsigned long long)s->rows_read,
               (unsigned long long)s->dims[0]);
    }
    print_columns(s);
    if (s->integer && s->cols == 1) {
        if (!s->labels) {
            printf("  labels: more than %d distinct values (not counted)\n",
                   DPT_DESCRIBE_LABELS_MAX);
            return;
        }
        printf("  labels (%zu distinct):", s->n_labels);
        for (size_t k = 0; k < s->n_labels; k++) {
            int64_t l = s->labels[k].value;
            int named = s->classes && l >= 0 && (uint64_t)l < s->n_classes;
            printf(" %lld%s%s%s: %llu%s", (long long)l, named ? " (" : "",
                   named ? s->classes[l] : "", named ? ")" : "",
                   (unsigned long long)s->labels[k].count, k + 1 < s->n_labels ? "," : "");
        }
        printf("\n");
    }
}

/* Parses inspect's arguments; *path and *sample set. 1 to continue, 0 to
 * hand over to the model inspection, or a negative exit status. */
static int parse(int argc, char **argv, const char **path, uint64_t *sample, int *json)
{
    struct cli_common c = {.takes = CLI_TAKES_FORMAT};
    int sample_given = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            return 0;
        }
        if (strcmp(argv[i], "--sample") == 0) {
            char *end = NULL;
            const char *v = i + 1 < argc ? argv[++i] : "";
            unsigned long long n = strtoull(v, &end, 10);
            if (!*v || *end || n == 0 || v[0] == '-') {
                return -cli_usage_error("inspect ", "--sample takes a number of rows above 0, "
                                        "got '%s'", v);
            }
            *sample = n;
            sample_given = 1;
            continue;
        }
        int r = cli_common_option("inspect", argc, argv, &i, &c);
        if (r < 0) {
            return -EXIT_USAGE;
        }
        if (r == 0 && (argv[i][0] == '-' || *path)) {
            return 0; /* the model inspection's parser names the argument */
        }
        if (r == 0) {
            *path = argv[i];
        }
    }
    *json = c.json;
    if (!*path || !is_data_file(*path)) {
        if (sample_given && *path) {
            return -cli_usage_error("inspect ", "--sample applies to data files; %s is a model "
                                    "or checkpoint file", *path);
        }
        return 0;
    }
    return 1;
}

int cli_inspect_data(int argc, char **argv)
{
    const char *path = NULL;
    uint64_t sample = 0;
    int json = 0;
    int r = parse(argc, argv, &path, &sample, &json);
    if (r <= 0) {
        return r < 0 ? -r : -1;
    }
    cli_catch_stop_signals();
    struct dpt_err err = {0};
    struct dpt_data_description d;
    int rc = dpt_data_describe(path, sample, &d, &err);
    if (rc == 0 && json) {
        print_json(path, &d, sample);
    } else if (rc == 0) {
        printf("%s: data file, %zu dataset%s\n", path, d.n, d.n == 1 ? "" : "s");
        for (size_t i = 0; i < d.n; i++) {
            print_set(&d.sets[i], sample);
        }
    } else {
        cli_error("%s", err.msg);
    }
    dpt_data_description_cleanup(&d);
    if (rc == DPT_ESIGNAL) {
        return 128 + dpt_stop_requested();
    }
    return rc < 0 ? EXIT_RUN : 0;
}
