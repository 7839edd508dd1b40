/* The model file: what to train, on what, and how (libconfig syntax).
 *
 *     data  = { train = "train.h5"; test = "test.h5"; x = "X"; y = "y";
 *               shuffle = true; standardize = true; cache = "auto"; };
 *     model = { layers = ( { type = "dense"; units = 10; activation = "relu"; }, ... );
 *               loss = "bce";  optimizer = { type = "adam"; learning_rate = 0.001; };
 *               metrics = [ "accuracy" ]; };
 *     train = { batch = 32; epochs = 50; seed = 1; micro_batch = 0; deterministic = false;
 *               checkpoint = { path = "ckpt.h5"; every_steps = 0; every_epochs = 1;
 *                              every_seconds = 600; keep = 2; }; };
 *
 * Relative paths written in the file (data, train.log, the checkpoints) are
 * relative to the file's folder;
 * those given with --set are relative to the working directory. A spec owns
 * its libconfig tree; every string below points into it.
 */
#ifndef DPT_MODEL_SPEC_H
#define DPT_MODEL_SPEC_H

#include "data/dataset.h"
#include "data/window.h"

#include <dptrain/dptrain.h>
#include <libconfig.h>
#include <stdint.h>


/* train.lr_schedule.type */
enum dpt_lr_schedule { DPT_LR_CONSTANT, DPT_LR_STEP, DPT_LR_EXPONENTIAL, DPT_LR_COSINE };

/* What early stopping and reduce-on-plateau watch. */
enum dpt_monitor {
    DPT_MONITOR_NONE, /* the callback is off */
    DPT_MONITOR_LOSS,
    DPT_MONITOR_ACCURACY,
    DPT_MONITOR_VAL_LOSS,
    DPT_MONITOR_VAL_ACCURACY,
};

struct dpt_spec {
    config_t cfg;
    char *file; /* name used in messages */
    /* data */
    const char *train, *test, *x_name, *y_name;
    const char *validation;  /* a validation file, or NULL */
    double validation_split; /* or this fraction of data.train held out (0: none) */
    int shuffle, standardize, standardize_y;
    double scale; /* data.scale: inputs are multiplied by it before standardizing (1: none) */
    enum dpt_cache cache; /* data.cache */
    enum dpt_shuffle_by shuffle_by; /* data.shuffle_by */
    int64_t window_rows; /* data.window_rows: rows a rank reads at a time (0: automatic) */
    /* data.train, data.test, data.validation as data/dataset.h opens them
     * (files or glob patterns, datasets, columns; model/spec_data.c);
     * train, test and validation above are their first files. */
    struct dpt_data_source train_src, test_src, validation_src;
    struct dpt_columns *x_columns, *y_columns; /* data.x_columns, data.y_columns, or NULL */
    /* model */
    const config_setting_t *layers;    /* list of groups */
    const config_setting_t *loss;      /* string or group */
    const config_setting_t *optimizer; /* string or group */
    int metric_accuracy;
    /* train */
    int64_t batch, epochs, seed, micro_batch, check_sync;
    int deterministic;
    double time_limit; /* train.time_limit in seconds (0: none) */
    /* train.checkpoint = { path; every_steps; every_epochs; every_seconds; keep; } */
    const char *ckpt_path;
    int64_t ckpt_every_steps, ckpt_every_epochs, ckpt_keep;
    double ckpt_every_seconds; /* of training since the last checkpoint; 0: off */
    int ckpt_group;            /* the model file has a train.checkpoint group */
    /* train.early_stopping = { monitor; min_delta; patience; restore_best_weights; } */
    enum dpt_monitor es_monitor; /* DPT_MONITOR_NONE: no early stopping */
    double es_min_delta;
    int64_t es_patience;
    int es_restore;
    /* train.lr_schedule = { type; decay_steps; decay_rate; warmup_steps; min_scale; } */
    enum dpt_lr_schedule lr_schedule;
    int64_t lr_decay_steps, lr_warmup_steps;
    double lr_decay_rate, lr_min_scale;
    int64_t lr_base_batch; /* train.scale_lr_batch: lr *= batch / this (0: off) */
    double clip_norm, clip_value; /* 0: off */
    /* train.reduce_lr_on_plateau = { monitor; factor; patience; min_delta; min_scale; } */
    enum dpt_monitor rop_monitor; /* DPT_MONITOR_NONE: off */
    double rop_factor, rop_min_delta, rop_min_scale;
    int64_t rop_patience;
    const char *log; /* train.log: per-epoch metrics, .csv or .jsonl */
    /* train.timeout: seconds a rank may wait in one collective call before
     * the watchdog (dist/watchdog.h) ends the job; 0: no watchdog. */
    double timeout;
    /* train.log_every: an epoch line every log_every_epochs epochs, or (when
     * that is 0) at most one per log_every_s seconds of training; on a
     * batch log only (the CLI's epoch lines, not train.log's rows). */
    int64_t log_every_epochs;
    double log_every_s;
    /* The model's name, the stem of its model file ("m" for cfgs/m.cfg),
     * which names the default --out; checkpoints store it (attribute
     * model_name) for a resume without the model file. Borrowed; NULL:
     * none. Set by the caller, not read from the file. */
    const char *name;
};

/* train.timeout's default: ten minutes, longer than any wait of a healthy
 * job (the longest is the others waiting while rank 0 writes a checkpoint
 * or the model), short enough that a hung job gives its allocation back. */
#define DPT_DEFAULT_TIMEOUT 600.0

/* Reads the model file at path, applies the "section.key=value" overrides
 * and checks every key. */
int dpt_spec_load(struct dpt_spec *spec, const char *path, char *const *sets, size_t n_sets,
                  struct dpt_err *err);
/* The same from the model file's text, read by the caller (the bytes rank
 * 0 read and broadcast): path is named in messages and resolves relative
 * data paths, as with dpt_spec_load, so every rank quotes the user's file
 * and lines. */
int dpt_spec_load_text(struct dpt_spec *spec, const char *text, const char *path,
                       char *const *sets, size_t n_sets, struct dpt_err *err);
/* The same from text (another rank's broadcast, or a model file's copy);
 * name is used in messages. */
int dpt_spec_parse(struct dpt_spec *spec, const char *text, const char *name,
                   struct dpt_err *err);
/* The whole spec as libconfig text (malloc'ed; free it). */
char *dpt_spec_to_string(const struct dpt_spec *spec);
void dpt_spec_cleanup(struct dpt_spec *spec);

/* Applies one "section.key=value" to cfg (exposed for tests). */
int dpt_config_set(config_t *cfg, const char *assignment, struct dpt_err *err);

/* "FILE:LINE" of setting s, "--set PATH=VALUE" when --set made s (it has
 * no line), or "FILE" when s is NULL; written to buf, which is returned. */
const char *dpt_spec_where(const struct dpt_spec *spec, const config_setting_t *s, char *buf,
                           size_t len);

/* The plugin type named by a string or a group's "type" key. */
const char *dpt_spec_type_of(const config_setting_t *s);

#endif
