/* Pieces of train's end-of-run summary: see run_summary.h. */
#include "config.h"

#include "cli/run_summary.h"
#include "io/output.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static const char *const metric_names[CLI_N_METRICS] = {"loss", "accuracy", "loss",
                                                        "accuracy"};

static void metric_values(const struct dpt_epoch_stats *st, double v[CLI_N_METRICS])
{
    v[0] = st->loss;
    v[1] = st->accuracy;
    v[2] = st->val_loss;
    v[3] = st->val_accuracy;
}

void cli_best_update(struct cli_best *b, const struct dpt_epoch_stats *st)
{
    double v[CLI_N_METRICS];
    metric_values(st, v);
    for (int i = 0; i < CLI_N_METRICS; i++) {
        int maximize = i % 2 == 1; /* the accuracies */
        if (isnan(v[i])) {
            continue;
        }
        if (b->epoch[i] == 0 || (maximize ? v[i] > b->value[i] : v[i] < b->value[i])) {
            b->value[i] = v[i];
            b->epoch[i] = st->epoch;
        }
    }
}

/* {"train": {...}, "validation": {...}} of metrics i = 0..3 (two per data
 * set), each member made by one(); an empty data set is left out. */
static json_t *by_data_set(const double v[CLI_N_METRICS], const int64_t epoch[CLI_N_METRICS])
{
    json_t *o = json_object();
    static const char *const sets[] = {"train", "validation"};
    for (int s = 0; s < 2; s++) {
        json_t *g = json_object();
        for (int i = 2 * s; i < 2 * s + 2; i++) {
            if (isnan(v[i]) || (epoch && epoch[i] == 0)) {
                continue;
            }
            if (epoch) {
                json_t *m = json_object();
                json_object_set_new(m, "value", json_real(v[i]));
                json_object_set_new(m, "epoch", json_integer(epoch[i]));
                json_object_set_new(g, metric_names[i], m);
            } else {
                json_object_set_new(g, metric_names[i], json_real(v[i]));
            }
        }
        if (json_object_size(g) > 0) {
            json_object_set_new(o, sets[s], g);
        } else {
            json_decref(g);
        }
    }
    return o;
}

void cli_summary_add_metrics(json_t *o, const struct cli_best *b,
                             const struct dpt_epoch_stats *last, json_t *test)
{
    json_object_set_new(o, "best", by_data_set(b->value, b->epoch));
    double v[CLI_N_METRICS] = {NAN, NAN, NAN, NAN};
    if (last) {
        metric_values(last, v);
    }
    json_t *final = by_data_set(v, NULL);
    if (test) {
        json_object_set(final, "test", test);
    }
    json_object_set_new(o, "final", final);
}

int cli_summary_write(const char *path, const json_t *o, struct dpt_err *err)
{
    char *text = json_dumps(o, JSON_COMPACT | JSON_REAL_PRECISION(10));
    if (!text) {
        return dpt_err_set(err, DPT_ENOMEM, "--summary %s: out of memory", path);
    }
    size_t n = strlen(text);
    text[n] = '\n'; /* json_dumps ends it with the NUL, which the file does not need */
    int rc = dpt_output_write_atomically(path, text, n + 1, err);
    free(text);
    return rc < 0 ? dpt_err_prefix(err, "--summary") : 0;
}
