/* Model-file tests: syntax errors with lines, unknown keys, defaults,
 * --set overrides, relative data paths; and the host getters every section
 * (and every plugin) is read through. */
#include "config.h"

#include "model/spec.h"
#include "model/spec_text.h"
#include "plugin/host.h"
#include "util.h"

#include <CUnit/CUnit.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char good[] =
    "data = { train = \"train.h5\"; test = \"/abs/test.h5\"; standardize = true; };\n"
    "model = {\n"
    "  layers = ( { type = \"dense\"; units = 3; activation = \"sigmoid\"; } );\n"
    "  loss = \"bce\";\n"
    "  optimizer = { type = \"adam\"; learning_rate = 0.01; };\n"
    "  metrics = [ \"accuracy\" ];\n"
    "};\n"
    "train = { batch = 16; epochs = 3; seed = 7; };\n";

static int load_text(struct dpt_spec *spec, const char *name, const char *text, char **sets,
                     size_t n_sets, struct dpt_err *err)
{
    char path[256];
    test_path(path, sizeof path, name);
    CU_ASSERT_EQUAL_FATAL(test_write_file(path, text), 0);
    return dpt_spec_load(spec, path, sets, n_sets, err);
}

static void test_good_file_and_defaults(void)
{
    struct dpt_spec spec;
    struct dpt_err err = {0};
    CU_ASSERT_EQUAL_FATAL(load_text(&spec, "good.cfg", good, NULL, 0, &err), 0);
    /* Relative data paths are relative to the model file's folder. */
    char want[256];
    test_path(want, sizeof want, "train.h5");
    CU_ASSERT_STRING_EQUAL(spec.train, want);
    CU_ASSERT_STRING_EQUAL(spec.test, "/abs/test.h5");
    CU_ASSERT_STRING_EQUAL(spec.x_name, "X");
    CU_ASSERT_STRING_EQUAL(spec.y_name, "y");
    CU_ASSERT_EQUAL(spec.shuffle, 1);
    CU_ASSERT_EQUAL(spec.cache, DPT_CACHE_AUTO);
    CU_ASSERT_EQUAL(spec.standardize, 1);
    CU_ASSERT_EQUAL(spec.batch, 16);
    CU_ASSERT_EQUAL(spec.epochs, 3);
    CU_ASSERT_EQUAL(spec.seed, 7);
    CU_ASSERT_EQUAL(spec.metric_accuracy, 1);
    CU_ASSERT_STRING_EQUAL(dpt_spec_type_of(spec.loss), "bce");
    CU_ASSERT_STRING_EQUAL(dpt_spec_type_of(spec.optimizer), "adam");
    /* The text form parses back to the same spec (what rank 0 broadcasts). */
    char *text = dpt_spec_to_string(&spec);
    struct dpt_spec again;
    CU_ASSERT_EQUAL(dpt_spec_parse(&again, text, "copy", &err), 0);
    CU_ASSERT_STRING_EQUAL(again.train, spec.train);
    CU_ASSERT_EQUAL(again.batch, 16);
    dpt_spec_cleanup(&again);
    free(text);
    dpt_spec_cleanup(&spec);
}

static void test_set_overrides(void)
{
    struct dpt_spec spec;
    struct dpt_err err = {0};
    char *sets[] = {"data.train=other.h5", "train.epochs=5", "data.shuffle=false",
                    "train.seed=123", "data.x=\"features\"", "data.cache=none"};
    CU_ASSERT_EQUAL_FATAL(load_text(&spec, "set.cfg", good, sets, 6, &err), 0);
    CU_ASSERT_EQUAL(spec.cache, DPT_CACHE_NONE);
    CU_ASSERT_STRING_EQUAL(spec.train, "other.h5"); /* --set paths stay as given */
    CU_ASSERT_EQUAL(spec.epochs, 5);
    CU_ASSERT_EQUAL(spec.shuffle, 0);
    CU_ASSERT_EQUAL(spec.seed, 123);
    CU_ASSERT_STRING_EQUAL(spec.x_name, "features");
    dpt_spec_cleanup(&spec);

    char *bad_type[] = {"train.batch=abc"};
    CU_ASSERT(load_text(&spec, "set2.cfg", good, bad_type, 1, &err) < 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "'batch' must be an integer"));
    dpt_spec_cleanup(&spec);

    char *all[] = {"data.cache=all"};
    CU_ASSERT_EQUAL_FATAL(load_text(&spec, "set5.cfg", good, all, 1, &err), 0);
    CU_ASSERT_EQUAL(spec.cache, DPT_CACHE_ALL);
    dpt_spec_cleanup(&spec);

    char *bad_cache[] = {"data.cache=some"};
    CU_ASSERT(load_text(&spec, "set6.cfg", good, bad_cache, 1, &err) < 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "'cache' must be \"auto\", \"none\" or \"all\", got \"some\""));
    dpt_spec_cleanup(&spec);

    char *no_eq[] = {"train.batch"};
    CU_ASSERT(load_text(&spec, "set3.cfg", good, no_eq, 1, &err) < 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "expected section.key=value"));
    dpt_spec_cleanup(&spec);

    char *group[] = {"model.layers=3"};
    CU_ASSERT(load_text(&spec, "set4.cfg", good, group, 1, &err) < 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "replaces single values, not lists: set a key of one of its entries, e.g. --set model.layers.[0].KEY=3"));
    dpt_spec_cleanup(&spec);
}

static void test_errors_name_line(void)
{
    struct dpt_spec spec;
    struct dpt_err err = {0};
    CU_ASSERT(load_text(&spec, "syntax.cfg", "data = { train = \"x.h5\"; };\nmodel = {\n"
                        "  layers = ( { type = \"dense\"; units = ; } );\n};\n",
                        NULL, 0, &err) < 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "syntax.cfg:3:"));
    dpt_spec_cleanup(&spec);

    CU_ASSERT(load_text(&spec, "unknown.cfg", "data = {\n  train = \"x.h5\";\n  shufle = true;\n};\n"
                        "model = { layers = ( { type = \"dense\"; units = 1; } ); loss = \"mse\"; "
                        "optimizer = \"sgd\"; };\n",
                        NULL, 0, &err) < 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "unknown.cfg:3: data: unknown key 'shufle' (it takes: train, test, x, y, "));
    dpt_spec_cleanup(&spec);

    CU_ASSERT(load_text(&spec, "nomodel.cfg", "data = { train = \"x.h5\"; };\n", NULL, 0, &err) < 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "no 'model' section"));
    dpt_spec_cleanup(&spec);

    CU_ASSERT(load_text(&spec, "noloss.cfg",
                        "model = {\n layers = ( { type = \"dense\"; units = 1; } );\n"
                        " optimizer = \"sgd\"; };\n",
                        NULL, 0, &err) < 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "noloss.cfg:1: model: 'loss' must name a loss"));
    dpt_spec_cleanup(&spec);

    CU_ASSERT(load_text(&spec, "batch.cfg",
                        "model = { layers = ( { type = \"dense\"; units = 1; } ); loss = \"mse\";"
                        " optimizer = \"sgd\"; };\ntrain = {\n batch = 0; };\n",
                        NULL, 0, &err) < 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "batch.cfg:3: train: 'batch' must be at least 1, got 0"));
    dpt_spec_cleanup(&spec);

    CU_ASSERT(dpt_spec_load(&spec, "/nonexistent/model.cfg", NULL, 0, &err) < 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "/nonexistent/model.cfg: cannot read"));
    dpt_spec_cleanup(&spec);
}

/* The smallest model section: what every case below adds its section to. */
#define MODEL "model = { layers = ( { type = \"dense\"; units = 1; } ); loss = \"mse\"; " \
              "optimizer = \"sgd\"; };\n"

/* Every key absent: each section's defaults. */
static void test_defaults(void)
{
    struct dpt_spec spec;
    struct dpt_err err = {0};
    CU_ASSERT_EQUAL_FATAL(dpt_spec_parse(&spec, MODEL, "min.cfg", &err), 0);
    /* data */
    CU_ASSERT_PTR_NULL(spec.train);
    CU_ASSERT_PTR_NULL(spec.test);
    CU_ASSERT_STRING_EQUAL(spec.x_name, "X");
    CU_ASSERT_STRING_EQUAL(spec.y_name, "y");
    CU_ASSERT_EQUAL(spec.shuffle, 1);
    CU_ASSERT_EQUAL(spec.standardize, 0);
    CU_ASSERT_EQUAL(spec.standardize_y, 0);
    CU_ASSERT_EQUAL(spec.cache, DPT_CACHE_AUTO);
    CU_ASSERT_EQUAL(spec.window_rows, 0);
    CU_ASSERT_PTR_NULL(spec.validation);
    CU_ASSERT_EQUAL(spec.validation_split, 0.0);
    /* model */
    CU_ASSERT_EQUAL(spec.metric_accuracy, 0);
    /* train */
    CU_ASSERT_EQUAL(spec.batch, 32);
    CU_ASSERT_EQUAL(spec.epochs, 10);
    CU_ASSERT_EQUAL(spec.seed, 0);
    CU_ASSERT_EQUAL(spec.micro_batch, 0);
    CU_ASSERT_EQUAL(spec.check_sync, 0);
    CU_ASSERT_EQUAL(spec.deterministic, 0);
    CU_ASSERT_EQUAL(spec.lr_base_batch, 0);
    CU_ASSERT_EQUAL(spec.clip_norm, 0.0);
    CU_ASSERT_EQUAL(spec.clip_value, 0.0);
    CU_ASSERT_EQUAL(spec.timeout, 600.0); /* the watchdog is on by default */
    CU_ASSERT_PTR_NULL(spec.log);
    /* No checkpoint group: the documented defaults, for --checkpoint PATH
     * (every epoch and every 600 s of training). */
    CU_ASSERT_PTR_NULL(spec.ckpt_path);
    CU_ASSERT_EQUAL(spec.ckpt_every_steps, 0);
    CU_ASSERT_EQUAL(spec.ckpt_every_epochs, 1);
    CU_ASSERT_EQUAL(spec.ckpt_every_seconds, 600.0);
    CU_ASSERT_EQUAL(spec.ckpt_group, 0);
    CU_ASSERT_EQUAL(spec.ckpt_keep, 2);
    /* No callback groups: both callbacks off, their numbers at the defaults. */
    CU_ASSERT_EQUAL(spec.es_monitor, DPT_MONITOR_NONE);
    CU_ASSERT_EQUAL(spec.es_min_delta, 0.0);
    CU_ASSERT_EQUAL(spec.es_patience, 5);
    CU_ASSERT_EQUAL(spec.es_restore, 0);
    CU_ASSERT_EQUAL(spec.lr_schedule, DPT_LR_CONSTANT);
    CU_ASSERT_EQUAL(spec.lr_decay_steps, 1000);
    CU_ASSERT_EQUAL(spec.lr_decay_rate, 0.5);
    CU_ASSERT_EQUAL(spec.lr_warmup_steps, 0);
    CU_ASSERT_EQUAL(spec.lr_min_scale, 0.0);
    CU_ASSERT_EQUAL(spec.rop_monitor, DPT_MONITOR_NONE);
    CU_ASSERT_EQUAL(spec.rop_factor, 0.1);
    CU_ASSERT_EQUAL(spec.rop_patience, 10);
    CU_ASSERT_EQUAL(spec.rop_min_delta, 1e-4);
    CU_ASSERT_EQUAL(spec.rop_min_scale, 0.0);
    dpt_spec_cleanup(&spec);

    /* The groups present but (nearly) empty: checkpoints every epoch, the
     * callbacks on and watching val_loss. */
    CU_ASSERT_EQUAL_FATAL(dpt_spec_parse(&spec, MODEL "train = { checkpoint = { path = "
                                         "\"c.h5\"; }; early_stopping = { }; lr_schedule = "
                                         "{ }; reduce_lr_on_plateau = { }; };\n",
                                         "groups.cfg", &err),
                          0);
    CU_ASSERT_STRING_EQUAL(spec.ckpt_path, "c.h5");
    CU_ASSERT_EQUAL(spec.ckpt_every_steps, 0);
    CU_ASSERT_EQUAL(spec.ckpt_every_epochs, 1);
    CU_ASSERT_EQUAL(spec.ckpt_keep, 2);
    CU_ASSERT_EQUAL(spec.es_monitor, DPT_MONITOR_VAL_LOSS);
    CU_ASSERT_EQUAL(spec.es_min_delta, 0.0);
    CU_ASSERT_EQUAL(spec.es_patience, 5);
    CU_ASSERT_EQUAL(spec.es_restore, 0);
    CU_ASSERT_EQUAL(spec.lr_schedule, DPT_LR_CONSTANT);
    CU_ASSERT_EQUAL(spec.lr_decay_steps, 1000);
    CU_ASSERT_EQUAL(spec.rop_monitor, DPT_MONITOR_VAL_LOSS);
    CU_ASSERT_EQUAL(spec.rop_factor, 0.1);
    CU_ASSERT_EQUAL(spec.rop_patience, 10);
    CU_ASSERT_EQUAL(spec.rop_min_delta, 1e-4);
    dpt_spec_cleanup(&spec);
}

/* Every key of every section given a value other than its default, all at
 * once (the biggest sections are within what the host tracks). */
static void test_every_key(void)
{
    static const char text[] =
        MODEL
        "data = { train = \"a.h5\"; test = \"b.h5\"; x = \"feat\"; y = \"lab\"; shuffle = false;\n"
        "  standardize = true; standardize_y = true; cache = \"all\"; window_rows = 4096;\n"
        "  validation_split = 0.25; };\n"
        "train = { batch = 64; epochs = 3; seed = 9; micro_batch = 8; check_sync = 2;\n"
        "  deterministic = true; scale_lr_batch = 256; clip_norm = 1.5; clip_value = 0.5;\n"
        "  log = \"log.csv\"; timeout = 30;\n"
        "  checkpoint = { path = \"c.h5\"; every_steps = 100; every_epochs = 0; keep = 4; };\n"
        "  early_stopping = { monitor = \"loss\"; min_delta = 0.01; patience = 2;\n"
        "                     restore_best_weights = true; };\n"
        "  lr_schedule = { type = \"cosine\"; decay_steps = 50; decay_rate = 0.9;\n"
        "                  warmup_steps = 10; min_scale = 0.05; };\n"
        "  reduce_lr_on_plateau = { monitor = \"val_accuracy\"; factor = 0.5; patience = 3;\n"
        "                           min_delta = 0.001; min_scale = 0.01; }; };\n";
    struct dpt_spec spec;
    struct dpt_err err = {0};
    int rc = dpt_spec_parse(&spec, text, "all.cfg", &err);
    if (rc != 0) {
        fprintf(stderr, "all.cfg: %s\n", err.msg);
    }
    CU_ASSERT_EQUAL_FATAL(rc, 0);
    CU_ASSERT_STRING_EQUAL(spec.train, "a.h5");
    CU_ASSERT_STRING_EQUAL(spec.test, "b.h5");
    CU_ASSERT_STRING_EQUAL(spec.x_name, "feat");
    CU_ASSERT_STRING_EQUAL(spec.y_name, "lab");
    CU_ASSERT(spec.shuffle == 0 && spec.standardize == 1 && spec.standardize_y == 1);
    CU_ASSERT_EQUAL(spec.cache, DPT_CACHE_ALL);
    CU_ASSERT_EQUAL(spec.window_rows, 4096);
    CU_ASSERT_EQUAL(spec.validation_split, 0.25);
    CU_ASSERT(spec.batch == 64 && spec.epochs == 3 && spec.seed == 9 && spec.micro_batch == 8);
    CU_ASSERT(spec.check_sync == 2 && spec.deterministic == 1 && spec.lr_base_batch == 256);
    CU_ASSERT(spec.clip_norm == 1.5 && spec.clip_value == 0.5 && spec.timeout == 30.0);
    CU_ASSERT_STRING_EQUAL(spec.log, "log.csv");
    CU_ASSERT_STRING_EQUAL(spec.ckpt_path, "c.h5");
    CU_ASSERT(spec.ckpt_every_steps == 100 && spec.ckpt_every_epochs == 0 && spec.ckpt_keep == 4);
    CU_ASSERT_EQUAL(spec.es_monitor, DPT_MONITOR_LOSS);
    CU_ASSERT(spec.es_min_delta == 0.01 && spec.es_patience == 2 && spec.es_restore == 1);
    CU_ASSERT_EQUAL(spec.lr_schedule, DPT_LR_COSINE);
    CU_ASSERT(spec.lr_decay_steps == 50 && spec.lr_decay_rate == 0.9);
    CU_ASSERT(spec.lr_warmup_steps == 10 && spec.lr_min_scale == 0.05);
    CU_ASSERT_EQUAL(spec.rop_monitor, DPT_MONITOR_VAL_ACCURACY);
    CU_ASSERT(spec.rop_factor == 0.5 && spec.rop_patience == 3);
    CU_ASSERT(spec.rop_min_delta == 0.001 && spec.rop_min_scale == 0.01);
    dpt_spec_cleanup(&spec);
}

/* Each name of a choice becomes its own enum value. */
static void test_names_to_enums(void)
{
    static const struct {
        const char *name;
        enum dpt_monitor monitor;
    } monitors[] = {{"loss", DPT_MONITOR_LOSS},
                    {"accuracy", DPT_MONITOR_ACCURACY},
                    {"val_loss", DPT_MONITOR_VAL_LOSS},
                    {"val_accuracy", DPT_MONITOR_VAL_ACCURACY}};
    static const struct {
        const char *name;
        enum dpt_lr_schedule schedule;
    } schedules[] = {{"constant", DPT_LR_CONSTANT},
                     {"step", DPT_LR_STEP},
                     {"exponential", DPT_LR_EXPONENTIAL},
                     {"cosine", DPT_LR_COSINE}};
    static const struct {
        const char *name;
        enum dpt_cache cache;
    } caches[] = {{"auto", DPT_CACHE_AUTO}, {"none", DPT_CACHE_NONE}, {"all", DPT_CACHE_ALL}};
    for (size_t i = 0; i < 4; i++) {
        char text[1024];
        snprintf(text, sizeof text,
                 MODEL "data = { cache = \"%s\"; };\ntrain = { lr_schedule = { type = \"%s\"; };\n"
                       "early_stopping = { monitor = \"%s\"; };\n"
                       "reduce_lr_on_plateau = { monitor = \"%s\"; }; };\n",
                 caches[i % 3].name, schedules[i].name, monitors[i].name, monitors[3 - i].name);
        struct dpt_spec spec;
        struct dpt_err err = {0};
        CU_ASSERT_EQUAL_FATAL(dpt_spec_parse(&spec, text, "enum.cfg", &err), 0);
        CU_ASSERT_EQUAL(spec.cache, caches[i % 3].cache);
        CU_ASSERT_EQUAL(spec.lr_schedule, schedules[i].schedule);
        CU_ASSERT_EQUAL(spec.es_monitor, monitors[i].monitor);
        CU_ASSERT_EQUAL(spec.rop_monitor, monitors[3 - i].monitor);
        dpt_spec_cleanup(&spec);
    }
}

/* A model file with one mistake, and the whole message it must give: file,
 * line, section, key, what was expected and what was found. */
struct bad_case {
    const char *text;
    const char *msg;
};

static const struct bad_case bad_cases[] = {
    /* The top level. */
    {MODEL "trian = { batch = 3; };\n",
     "bad.cfg:2: top level: unknown key 'trian' (it takes: data, model, train); "
     "did you mean 'train'?"},
    {MODEL "data = 5;\n", "bad.cfg:2: top level: 'data' must be a group { ... }, found an integer"},
    {"data = { train = \"x.h5\"; };\n",
     "bad.cfg: top level: no 'model' section: say model = { layers = (...); loss = \"...\"; "
     "optimizer = \"...\"; };"},
    /* data */
    {MODEL "data = {\n  shuffle = 1;\n};\n",
     "bad.cfg:3: data: 'shuffle' must be true or false, found an integer"},
    {MODEL "data = {\n  x = 3;\n};\n", "bad.cfg:3: data: 'x' must be a string, found an integer"},
    {MODEL "data = {\n  window_rows = -1;\n};\n",
     "bad.cfg:3: data: 'window_rows' must be at least 0, got -1"},
    {MODEL "data = {\n  validation_split = 1.5;\n};\n",
     "bad.cfg:3: data: 'validation_split' must be in [0, 0.99], got 1.5"},
    {MODEL "data = {\n  cache = \"some\";\n};\n",
     "bad.cfg:3: data: 'cache' must be \"auto\", \"none\" or \"all\", got \"some\""},
    {MODEL "data = {\n  shuffle_by = \"chunks\";\n};\n",
     "bad.cfg:3: data: 'shuffle_by' must be \"auto\", \"rows\" or \"blocks\", got \"chunks\""},
    {MODEL "data = {\n  shufle = true;\n};\n",
     "bad.cfg:3: data: unknown key 'shufle' (it takes: train, test, x, y, shuffle, shuffle_by, standardize, "
     "standardize_y, scale, cache, window_rows, validation, validation_split, x_columns, y_columns); did you mean 'shuffle'?"},
    {MODEL "data = {\n  scale = 0.0;\n};\n",
     "bad.cfg:3: data: 'scale' must be above 0 (e.g. 0.00392156862745098 for 1/255), got 0"},
    {MODEL "data = {\n  scale = \"1/255\";\n};\n",
     "bad.cfg:3: data: 'scale' must be a number, found a string"},
    {MODEL "data = {\n  validation = \"v.h5\";\n  validation_split = 0.2;\n};\n",
     "bad.cfg:3: data: give 'validation' (a file) or 'validation_split' (a fraction), not both"},
    /* model */
    {"model = {\n  layers = 3;\n  loss = \"mse\"; optimizer = \"sgd\"; };\n",
     "bad.cfg:2: model: 'layers' must be a non-empty list: layers = ( { type = \"dense\"; units "
     "= 8; }, ... );"},
    {"model = {\n  layers = ( { type = \"dense\"; units = 1; },\n    { units = 2; } );\n"
     "  loss = \"mse\"; optimizer = \"sgd\"; };\n",
     "bad.cfg:3: model: layer 2 must be a group with a type: { type = \"dense\"; ... }"},
    {"model = {\n  layers = ( { type = \"dense\"; units = 1; } );\n  loss = 3;\n"
     "  optimizer = \"sgd\"; };\n",
     "bad.cfg:3: model: 'loss' must name a loss: loss = \"mse\"; or loss = { type = \"cce\"; "
     "... };"},
    {"model = {\n  layers = ( { type = \"dense\"; units = 1; } );\n  loss = \"mse\"; };\n",
     "bad.cfg:1: model: 'optimizer' must name an optimizer: optimizer = \"sgd\"; or optimizer = "
     "{ type = \"adam\"; learning_rate = 0.001; };"},
    {"model = {\n  layers = ( { type = \"dense\"; units = 1; } );\n  loss = \"mse\";\n"
     "  optimizer = \"sgd\";\n  metrics = [ \"auc\" ]; };\n",
     "bad.cfg:5: model: unknown metric 'auc' (known: accuracy)"},
    {"model = {\n  layers = ( { type = \"dense\"; units = 1; } );\n  loss = \"mse\";\n"
     "  optimizer = \"sgd\";\n  metrics = \"accuracy\"; };\n",
     "bad.cfg:5: model: 'metrics' must be a list: metrics = [ \"accuracy\" ];"},
    {"model = {\n  layers = ( { type = \"dense\"; units = 1; } );\n  loss = \"mse\";\n"
     "  optimiser = \"sgd\"; };\n",
     "bad.cfg:4: model: unknown key 'optimiser' (it takes: layers, loss, optimizer, "
     "metrics); did you mean 'optimizer'?"},
    /* train */
    {MODEL "train = {\n  batch = 0;\n};\n", "bad.cfg:3: train: 'batch' must be at least 1, got 0"},
    {MODEL "train = {\n  epochs = 2.5;\n};\n",
     "bad.cfg:3: train: 'epochs' must be an integer, found a number"},
    {MODEL "train = {\n  deterministic = \"yes\";\n};\n",
     "bad.cfg:3: train: 'deterministic' must be true or false, found a string"},
    {MODEL "train = {\n  clip_norm = -1.0;\n};\n",
     "bad.cfg:3: train: 'clip_norm' must be at least 0, got -1"},
    {MODEL "train = {\n  checkpoint = 5;\n};\n",
     "bad.cfg:3: train: 'checkpoint' must be a group { ... }, found an integer"},
    {MODEL "train = {\n  bacth = 3;\n};\n",
     "bad.cfg:3: train: unknown key 'bacth' (it takes: batch, epochs, seed, micro_batch, "
     "check_sync, deterministic, scale_lr_batch, clip_norm, clip_value, timeout, log, "
     "time_limit, log_every, checkpoint, "
     "early_stopping, lr_schedule, reduce_lr_on_plateau); did you mean 'batch'?"},
    {MODEL "train = {\n  time_limit = \"1:2:3:4\";\n};\n",
     "bad.cfg:3: train: 'time_limit': expected seconds or \"HH:MM:SS\", found \"1:2:3:4\""},
    {MODEL "train = {\n  time_limit = -5;\n};\n",
     "bad.cfg:3: train: 'time_limit' must be at least 0, got -5"},
    /* train.checkpoint */
    {MODEL "train = { checkpoint = {\n  path = \"c.h5\";\n  keep = 0; }; };\n",
     "bad.cfg:4: train.checkpoint: 'keep' must be at least 1, got 0"},
    {MODEL "train = { checkpoint = {\n  path = \"c.h5\";\n  every_steps = \"often\"; }; };\n",
     "bad.cfg:4: train.checkpoint: 'every_steps' must be an integer, found a string"},
    {MODEL "train = { checkpoint = {\n  path = \"c.h5\";\n  evry_epochs = 2; }; };\n",
     "bad.cfg:4: train.checkpoint: unknown key 'evry_epochs' (it takes: path, every_steps, "
     "every_epochs, every_seconds, keep); did you mean 'every_epochs'?"},
    {MODEL "train = { checkpoint = {\n  path = \"c.h5\";\n  every_seconds = -1; }; };\n",
     "bad.cfg:4: train.checkpoint: 'every_seconds' must be at least 0, got -1"},
    /* train.early_stopping */
    {MODEL "train = { early_stopping = {\n  monitor = \"acc\"; }; };\n",
     "bad.cfg:3: train.early_stopping: 'monitor' must be \"loss\", \"accuracy\", \"val_loss\" or "
     "\"val_accuracy\", got \"acc\""},
    {MODEL "train = { early_stopping = {\n  patience = -1; }; };\n",
     "bad.cfg:3: train.early_stopping: 'patience' must be at least 0, got -1"},
    {MODEL "train = { early_stopping = {\n  min_delta = \"small\"; }; };\n",
     "bad.cfg:3: train.early_stopping: 'min_delta' must be a number, found a string"},
    {MODEL "train = { early_stopping = {\n  restore_best_weights = 1; }; };\n",
     "bad.cfg:3: train.early_stopping: 'restore_best_weights' must be true or false, found an "
     "integer"},
    {MODEL "train = { early_stopping = {\n  patiense = 3; }; };\n",
     "bad.cfg:3: train.early_stopping: unknown key 'patiense' (it takes: monitor, min_delta, "
     "patience, restore_best_weights); did you mean 'patience'?"},
    /* train.lr_schedule */
    {MODEL "train = { lr_schedule = {\n  type = \"linear\"; }; };\n",
     "bad.cfg:3: train.lr_schedule: 'type' must be \"constant\", \"step\", \"exponential\" or "
     "\"cosine\", got \"linear\""},
    {MODEL "train = { lr_schedule = {\n  decay_steps = 0; }; };\n",
     "bad.cfg:3: train.lr_schedule: 'decay_steps' must be at least 1, got 0"},
    {MODEL "train = { lr_schedule = {\n  decay_rate = 2.0; }; };\n",
     "bad.cfg:3: train.lr_schedule: 'decay_rate' must be in [0, 1], got 2"},
    {MODEL "train = { lr_schedule = {\n  warmup_steps = true; }; };\n",
     "bad.cfg:3: train.lr_schedule: 'warmup_steps' must be an integer, found true or false"},
    {MODEL "train = { lr_schedule = {\n  kind = \"step\"; }; };\n",
     "bad.cfg:3: train.lr_schedule: unknown key 'kind' (it takes: type, decay_steps, "
     "decay_rate, warmup_steps, min_scale)"},
    /* train.reduce_lr_on_plateau */
    {MODEL "train = { reduce_lr_on_plateau = {\n  monitor = 3; }; };\n",
     "bad.cfg:3: train.reduce_lr_on_plateau: 'monitor' must be a string, found an integer"},
    {MODEL "train = { reduce_lr_on_plateau = {\n  factor = 1.5; }; };\n",
     "bad.cfg:3: train.reduce_lr_on_plateau: 'factor' must be in [0, 1], got 1.5"},
    {MODEL "train = { reduce_lr_on_plateau = {\n  patience = \"x\"; }; };\n",
     "bad.cfg:3: train.reduce_lr_on_plateau: 'patience' must be an integer, found a string"},
    {MODEL "train = { reduce_lr_on_plateau = {\n  cooldown = 2; }; };\n",
     "bad.cfg:3: train.reduce_lr_on_plateau: unknown key 'cooldown' (it takes: monitor, "
     "factor, patience, min_delta, min_scale)"},
};

static void test_bad_values(void)
{
    for (size_t i = 0; i < sizeof bad_cases / sizeof bad_cases[0]; i++) {
        struct dpt_spec spec;
        struct dpt_err err = {0};
        int rc = dpt_spec_parse(&spec, bad_cases[i].text, "bad.cfg", &err);
        CU_ASSERT_EQUAL(rc, DPT_ECONFIG);
        CU_ASSERT_STRING_EQUAL(err.msg, bad_cases[i].msg);
        if (rc != DPT_ECONFIG || strcmp(err.msg, bad_cases[i].msg) != 0) {
            fprintf(stderr, "case %zu:\n  want: %s\n  got:  %s\n", i, bad_cases[i].msg, err.msg);
        }
        dpt_spec_cleanup(&spec);
    }
}

/* A value given with --set has no line: the message blames the --set as
 * typed (the setting as --set spells it, its value) and names the section. */
static void test_set_errors(void)
{
    struct dpt_spec spec;
    struct dpt_err err = {0};
    char *typo[] = {"train.bacth=3"};
    CU_ASSERT(load_text(&spec, "set7.cfg", good, typo, 1, &err) < 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "--set train.bacth=3: train: unknown key 'bacth' (it takes: "));
    dpt_spec_cleanup(&spec);

    char *zero[] = {"train.checkpoint.keep=0", "train.checkpoint.path=c.h5"};
    CU_ASSERT(load_text(&spec, "set8.cfg", good, zero, 2, &err) < 0);
    CU_ASSERT_PTR_NOT_NULL(
        strstr(err.msg, "--set train.checkpoint.keep=0: train.checkpoint: 'keep' must "
                        "be at least 1, got 0"));
    dpt_spec_cleanup(&spec);
}

/* ---------- The host getters ---------- */

/* A host over the group parsed from text, for the checks below. */
static void host_open(config_t *cfg, struct dpt_host_ctx *c, const char *text)
{
    config_init(cfg);
    CU_ASSERT_FATAL(config_read_string(cfg, text) == CONFIG_TRUE);
    dpt_host_init(c, config_root_setting(cfg), "h.cfg", "layer 1 (test)");
}

/* A bound at the end of the type is no bound: the message gives the other;
 * with two bounds it gives the interval. */
/* The integers libconfig 1.5 would cut to 32 bits get an L, and nothing
 * else changes: not strings, comments, names with digits, floats, or
 * integers that fit; one beyond 64 bits is refused with its line. */
static void test_widen_ints(void)
{
    static const struct {
        const char *in, *out;
    } cases[] = {
        {"a = 4294967296;", "a = 4294967296L;"},
        {"a = -2147483649;", "a = -2147483649L;"},
        {"a = 2147483647; b = -2147483648;", "a = 2147483647; b = -2147483648;"},
        {"a = 0x100000000; b = 0xFF;", "a = 0x100000000L; b = 0xFF;"},
        {"a = 4294967296L; b = 1e10; c = 5000000000.5;",
         "a = 4294967296L; b = 1e10; c = 5000000000.5;"},
        {"s = \"4294967296\"; # 4294967296\n// 4294967296\n/* 4294967296 */ x = 1;",
         "s = \"4294967296\"; # 4294967296\n// 4294967296\n/* 4294967296 */ x = 1;"},
        {"conv2d99999999999 = 1; t = \"a\\\"5000000000\";",
         "conv2d99999999999 = 1; t = \"a\\\"5000000000\";"},
        {"l = ( 1, 5000000000 );", "l = ( 1, 5000000000L );"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct dpt_err err = {0};
        char *out = NULL;
        CU_ASSERT_EQUAL_FATAL(dpt__config_widen_ints(cases[i].in, "t.cfg", &out, &err), 0);
        if (strcmp(out, cases[i].out) != 0) {
            printf("\n  in:   %s\n  want: %s\n  got:  %s\n", cases[i].in, cases[i].out, out);
        }
        CU_ASSERT_STRING_EQUAL(out, cases[i].out);
        free(out);
    }
    struct dpt_err err = {0};
    char *out = NULL;
    CU_ASSERT(dpt__config_widen_ints("a = 1;\n\nb = 99999999999999999999;", "t.cfg", &out,
                                     &err) < 0);
    CU_ASSERT_PTR_NULL(out);
    CU_ASSERT_STRING_EQUAL(err.msg, "t.cfg:3: the integer 99999999999999999999 does not fit "
                                    "in 64 bits");
}

static void test_host_one_sided_ranges(void)
{
    config_t cfg;
    struct dpt_host_ctx c;
    int64_t i;
    double f;
    host_open(&cfg, &c, "a = 7;\nb = 2.5;\nc = -3;\nd = 9;\n");
    CU_ASSERT(c.host.get_int(&c, "a", 0, INT64_MIN, 5, &i) < 0);
    CU_ASSERT_STRING_EQUAL(c.err.msg, "h.cfg:1: layer 1 (test): 'a' must be at most 5, got 7");
    dpt_host_init(&c, config_root_setting(&cfg), "h.cfg", "layer 1 (test)");
    CU_ASSERT(c.host.get_float(&c, "b", 0.0, -INFINITY, 1.0, &f) < 0);
    CU_ASSERT_STRING_EQUAL(c.err.msg, "h.cfg:2: layer 1 (test): 'b' must be at most 1, got 2.5");
    dpt_host_init(&c, config_root_setting(&cfg), "h.cfg", "layer 1 (test)");
    CU_ASSERT(c.host.get_float(&c, "c", 0.0, 0.0, INFINITY, &f) < 0);
    CU_ASSERT_STRING_EQUAL(c.err.msg, "h.cfg:3: layer 1 (test): 'c' must be at least 0, got -3");
    dpt_host_init(&c, config_root_setting(&cfg), "h.cfg", "layer 1 (test)");
    CU_ASSERT(c.host.get_int(&c, "d", 0, 1, 8, &i) < 0);
    CU_ASSERT_STRING_EQUAL(c.err.msg, "h.cfg:4: layer 1 (test): 'd' must be in [1, 8], got 9");
    config_destroy(&cfg);
}

/* A key asked for twice counts once; more than DPT_HOST_MAX_KEYS different
 * keys is an error, not a later false "unknown key". */
static void test_host_asked_keys(void)
{
    config_t cfg;
    struct dpt_host_ctx c;
    struct dpt_err err = {0};
    host_open(&cfg, &c, "k0 = 1;\nextra = 2;\n");
    int64_t v;
    for (int n = 0; n < 3 * DPT_HOST_MAX_KEYS; n++) {
        CU_ASSERT_EQUAL(c.host.get_int(&c, "k0", 0, 0, 10, &v), 0);
    }
    CU_ASSERT_EQUAL(c.n_asked, 1);
    CU_ASSERT(dpt_host_check_unused(&c, NULL, &err) < 0);
    CU_ASSERT_STRING_EQUAL(err.msg, "h.cfg:2: layer 1 (test): unknown key 'extra' (it takes: k0)");

    static char names[DPT_HOST_MAX_KEYS + 1][16];
    for (int k = 0; k < DPT_HOST_MAX_KEYS; k++) {
        snprintf(names[k], sizeof names[k], "k%d", k);
        CU_ASSERT_EQUAL(c.host.get_int(&c, names[k], 0, 0, 10, &v), 0);
    }
    CU_ASSERT_EQUAL(c.err.code, 0);
    snprintf(names[DPT_HOST_MAX_KEYS], sizeof names[0], "one_more");
    CU_ASSERT(c.host.get_int(&c, names[DPT_HOST_MAX_KEYS], 0, 0, 10, &v) < 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(c.err.msg, "'one_more': more than 64 different keys"));
    config_destroy(&cfg);
}

int main(void)
{
    if (CU_initialize_registry() != CUE_SUCCESS) {
        return 2;
    }
    CU_pSuite s = CU_add_suite("config", NULL, NULL);
    CU_add_test(s, "a good model file and its defaults", test_good_file_and_defaults);
    CU_add_test(s, "--set overrides", test_set_overrides);
    CU_add_test(s, "errors name file and line", test_errors_name_line);
    CU_add_test(s, "absent keys take their defaults", test_defaults);
    CU_add_test(s, "every key of every section is read", test_every_key);
    CU_add_test(s, "names of choices become enums", test_names_to_enums);
    CU_add_test(s, "each section's wrong types, ranges and unknown keys", test_bad_values);
    CU_add_test(s, "--set values: messages without a line", test_set_errors);
    CU_add_test(s, "integers beyond 32 bits are widened", test_widen_ints);
    CU_pSuite h = CU_add_suite("host getters", NULL, NULL);
    CU_add_test(h, "one-sided ranges", test_host_one_sided_ranges);
    CU_add_test(h, "asked keys: once each, at most DPT_HOST_MAX_KEYS", test_host_asked_keys);
    return test_run_all();
}
