/* Start-up checks that the settings fit together: see consistency.h. */
#include "config.h"

#include "train/consistency.h"

#include <string.h>

static const char *const monitor_names[] = {"", "loss", "accuracy", "val_loss", "val_accuracy"};

/* "FILE:LINE" of the setting at path, "--set PATH=VALUE" (set with --set), or
 * "FILE" (not set). */
static const char *where(const struct dpt_spec *spec, const char *path, char *buf, size_t len)
{
    return dpt_spec_where(spec, config_lookup(&spec->cfg, path), buf, len);
}

/* The built-in mse reads one target column on a model of several outputs
 * as class labels, one-hot: a loss for regression quietly trained as a
 * classifier, with no accuracy to show for it. Refused unless asked for
 * in the open, with one-hot rows in y. */
static int check_loss(const struct dpt_spec *spec, const struct dpt_net *net,
                      const struct dpt_dataset *ds, struct dpt_err *err)
{
    const char *loss = net->loss->base.name;
    uint64_t yc = dpt_dataset_y_cols(ds);
    char at[4200];
    if (strcmp(loss, "mse") != 0 || yc != 1 || net->n_out < 2) {
        return 0;
    }
    where(spec, "model.loss", at, sizeof at);
    if (dpt_dataset_y_is_integer(ds)) {
        return dpt_err_set(err, DPT_ECONFIG, "%s: model.loss \"mse\" compares each of the "
                           "model's %zu outputs with a target column, but y of %s holds one "
                           "column of integer class labels; for classes write loss = \"cce\" "
                           "(with a softmax output of %zu units), or store y one-hot as [N, %zu] "
                           "floats for \"mse\"", at, net->n_out, dpt_dataset_path(ds),
                           net->n_out, net->n_out);
    }
    return dpt_err_set(err, DPT_ECONFIG, "%s: model.loss \"mse\" compares each of the model's "
                       "%zu outputs with a target column, but y of %s holds one column of "
                       "float targets; for one target per row give the last layer units = 1, "
                       "or store y as [N, %zu]", at, net->n_out, dpt_dataset_path(ds),
                       net->n_out);
}

/* Standardizing class labels turns them into non-integers that a class
 * loss then refuses row by row; say what is wrong instead. */
static int check_targets(const struct dpt_spec *spec, const struct dpt_net *net,
                         struct dpt_err *err)
{
    char at[4200];
    if (spec->standardize_y && net->loss->correct) {
        return dpt_err_set(err, DPT_ECONFIG, "%s: data.standardize_y standardizes regression "
                           "targets, but loss '%s' takes class labels (0/1, or 0..K-1), which "
                           "must stay as they are; remove standardize_y",
                           where(spec, "data.standardize_y", at, sizeof at),
                           net->loss->base.name);
    }
    if (spec->metric_accuracy && !net->loss->correct) {
        return dpt_err_set(err, DPT_ECONFIG, "%s: model.metrics asks for \"accuracy\", but "
                           "loss '%s' counts no hits (it has no classes), so there is no "
                           "accuracy to report; remove it, or use loss \"bce\" (sigmoid output) "
                           "or \"cce\" (softmax output) for classes",
                           where(spec, "model.metrics", at, sizeof at), net->loss->base.name);
    }
    return 0;
}

/* A callback (name, at path) watching metric m: the metric must exist. */
static int check_monitor(const struct dpt_spec *spec, const struct dpt_net *net,
                         const char *name, const char *path, enum dpt_monitor m,
                         struct dpt_err *err)
{
    if (m == DPT_MONITOR_NONE) {
        return 0;
    }
    char at[4200];
    int val = m == DPT_MONITOR_VAL_LOSS || m == DPT_MONITOR_VAL_ACCURACY;
    int acc = m == DPT_MONITOR_ACCURACY || m == DPT_MONITOR_VAL_ACCURACY;
    if (val && !spec->validation && !(spec->validation_split > 0)) {
        return dpt_err_set(err, DPT_ECONFIG, "%s: %s monitors %s but there is no validation "
                           "data; set data.validation or validation_split, or monitor %s",
                           where(spec, path, at, sizeof at), name, monitor_names[m],
                           acc && net->loss->correct ? "accuracy" : "loss");
    }
    if (acc && !net->loss->correct) {
        return dpt_err_set(err, DPT_ECONFIG, "%s: %s monitors %s but loss '%s' counts no hits, "
                           "so there is no accuracy; monitor %s",
                           where(spec, path, at, sizeof at), name, monitor_names[m],
                           net->loss->base.name, val ? "val_loss" : "loss");
    }
    return 0;
}

int dpt_consistency_check(const struct dpt_spec *spec, const struct dpt_net *net,
                          const struct dpt_dataset *ds, struct dpt_err *err)
{
    int rc = check_loss(spec, net, ds, err);
    if (rc == 0) {
        rc = check_targets(spec, net, err);
    }
    if (rc == 0) {
        rc = check_monitor(spec, net, "early_stopping", "train.early_stopping",
                           spec->es_monitor, err);
    }
    if (rc == 0) {
        rc = check_monitor(spec, net, "reduce_lr_on_plateau", "train.reduce_lr_on_plateau",
                           spec->rop_monitor, err);
    }
    return rc;
}
