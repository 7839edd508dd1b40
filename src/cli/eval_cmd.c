/* dptrain eval and dptrain predict: run a trained model over a data file. */
#include "config.h"

#include "cli/cli.h"
#include "dist/dist.h"
#include "dist/watchdog.h"
#include "io/checkpoint.h"
#include "io/model_file.h"
#include "io/output.h"
#include "io/pred_files.h"
#include "model/spec.h"
#include "train/eval.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char eval_usage[] =
    "usage: dptrain eval MODEL.h5 DATA.h5 [options]\n"
    "\n"
    "Loss and metrics of a trained model on a data file (standardized as in\n"
    "training when the model was trained with data.standardize).\n"
    "\n"
    "options:\n"
    "  --x NAME, --y NAME   dataset names (default: those of the model file)\n"
    "  --format json        print one JSON object instead of text\n"
    "  --threads T, --plugin-path DIRS\n"
    "  --allow-unsafe-plugins  load plugins others could have written, with a warning\n";

static const char predict_usage[] =
    "usage: dptrain predict MODEL.h5 DATA.h5 --out PRED.h5 [options]\n"
    "\n"
    "Writes the model's outputs for every row of DATA.h5 to PRED.h5: /pred\n"
    "float32 [N, outputs] and, for classifiers, /label int32 [N].\n"
    "\n"
    "options:\n"
    "  --x NAME             the input dataset (default: that of the model file)\n"
    "  --format FMT         hdf5 (default, but csv or npy for an --out that ends\n"
    "                       in .csv or .npy): PRED.h5 as above; json: the same file\n"
    "                       and a JSON summary instead of text; csv: a header line\n"
    "                       pred_0,...[,label[,class]] then one line per row (class:\n"
    "                       the label's name, when the model has names); npy: numpy's\n"
    "                       .npy, float32 [N, outputs], and for classifiers the\n"
    "                       labels int32 [N] in PRED.label.npy (PRED without .npy)\n"
    "  --threads T, --plugin-path DIRS\n"
    "  --allow-unsafe-plugins  load plugins others could have written, with a warning\n";

/* What predict writes to --out: the HDF5 file (also with --format json,
 * which changes what is printed), CSV or .npy (io/pred_files.h). */
enum pred_format { PRED_HDF5, PRED_CSV, PRED_NPY };

struct run_args {
    struct cli_common c;
    const char *model, *data, *out, *x, *y;
    enum pred_format format;
    int format_given; /* --format hdf5, csv or npy was given */
};

/* predict's --format: the file formats, or the common text/json. 1 when
 * taken, -1 on a bad value (reported), 0 when the option is another one. */
static int predict_format(int argc, char **argv, int *i, struct run_args *a)
{
    if (strcmp(argv[*i], "--format") != 0) {
        return 0;
    }
    const char *v = *i + 1 < argc ? argv[*i + 1] : NULL;
    static const char *const names[] = {"hdf5", "csv", "npy"};
    for (int f = PRED_HDF5; v && f <= PRED_NPY; f++) {
        if (strcmp(v, names[f]) == 0) {
            a->format = (enum pred_format)f;
            a->format_given = 1;
            ++*i;
            return 1;
        }
    }
    if (v && strcmp(v, "json") != 0 && strcmp(v, "text") != 0) {
        cli_usage_error("predict ", "--format must be hdf5, json, csv or npy, got '%s'", v);
        return -1;
    }
    return 0; /* json, text, or no value: the common option's */
}

static int parse(const char *cmd, const char *usage, int argc, char **argv, struct run_args *a)
{
    char help[32];
    snprintf(help, sizeof help, "%s ", cmd);
    for (int i = 1; i < argc; i++) {
        const char *s = argv[i];
        if (strcmp(s, "--help") == 0 || strcmp(s, "-h") == 0) {
            fputs(usage, stdout);
            return 1;
        }
        int r = strcmp(cmd, "predict") == 0 ? predict_format(argc, argv, &i, a) : 0;
        if (r == 0) {
            r = cli_common_option(cmd, argc, argv, &i, &a->c);
        }
        if (r < 0) {
            return EXIT_USAGE;
        }
        if (r > 0) {
            continue;
        }
        if (strcmp(s, "--out") == 0 && strcmp(cmd, "eval") == 0) {
            return cli_usage_error(help, "eval writes no file (--out is predict's): it prints "
                                         "the metrics, as JSON with --format json");
        }
        if (strcmp(s, "--y") == 0 && strcmp(cmd, "predict") == 0) {
            return cli_usage_error(help, "predict reads no labels (--y is eval's): it writes "
                                         "the model's outputs for the rows of --x");
        }
        if (strcmp(s, "--out") == 0 || strcmp(s, "--x") == 0 || strcmp(s, "--y") == 0) {
            if (i + 1 >= argc) {
                return cli_usage_error(help, "%s needs a value", s);
            }
            const char **dst = s[2] == 'o' ? &a->out : s[2] == 'x' ? &a->x : &a->y;
            *dst = argv[++i];
        } else if (s[0] == '-') {
            return cli_unknown_option(help, s);
        } else if (!a->model) {
            a->model = s;
        } else if (!a->data) {
            a->data = s;
        } else {
            return cli_usage_error(help, "unexpected argument '%s'", s);
        }
    }
    /* predict --out pred.csv means CSV: HDF5 in a file named .csv would
     * only puzzle whoever opens it. */
    size_t n = a->out ? strlen(a->out) : 0;
    if (!a->format_given && n > 4 && strcmp(a->out + n - 4, ".csv") == 0) {
        a->format = PRED_CSV;
    } else if (!a->format_given && n > 4 && strcmp(a->out + n - 4, ".npy") == 0) {
        a->format = PRED_NPY;
    }
    if (!a->model || !a->data) {
        return cli_usage_error(help, "give a model file and a data file: dptrain %s MODEL.h5 "
                               "DATA.h5", cmd);
    }
    return 0;
}

/* Loads the model on every rank (each reads the small model file), after
 * rank 0 has checked that --out, if given, is neither input and can be
 * written (its folders made, a probe file written and removed, as train
 * does), so that a run that cannot write its result fails before the work,
 * not after it. */
static int load(const struct dpt_dist *d, const struct run_args *a, struct dpt_registry **reg,
                struct dpt_spec *spec, struct dpt_net **net, struct dpt_norm *norm,
                struct dpt_err *err)
{
    const struct dpt_input in[] = {{a->model, "the model file"}, {a->data, "the data file"}};
    int rc = d->rank == 0 && a->out ? dpt_output_not_input(a->out, "--out", in, 2, err) : 0;
    if (rc == 0 && d->rank == 0 && a->out) {
        rc = dpt_output_probe(a->out, "--out", err);
    }
    if (rc == 0) {
        rc = cli_registry_create(reg, &a->c, err);
    }
    if (rc == 0 && d->rank == 0) {
        cli_plugin_warnings(*reg);
    }
    if (rc == 0) {
        const struct dpt_warn warn = {cli_warn, NULL};
        rc = dpt_model_load(a->model, *reg, spec, net, norm, &warn, err);
    } else {
        memset(spec, 0, sizeof *spec);
        config_init(&spec->cfg);
    }
    return dpt_dist_agree(d, rc, err);
}

static void print_json(json_t *o)
{
    char *s = json_dumps(o, JSON_COMPACT | JSON_REAL_PRECISION(10));
    if (s) {
        puts(s);
        free(s);
    }
    json_decref(o);
}

void cli_metrics_json(json_t *o, const struct dpt_eval_result *r)
{
    if (!isnan(r->accuracy)) {
        json_object_set_new(o, "accuracy", json_real(r->accuracy));
    }
    if (r->task == DPT_TASK_BINARY) {
        json_object_set_new(o, "precision", json_real(r->precision));
        json_object_set_new(o, "recall", json_real(r->recall));
        json_object_set_new(o, "f1", json_real(r->f1));
    } else if (r->task == DPT_TASK_MULTICLASS && r->top_k > 0) {
        char key[32];
        snprintf(key, sizeof key, "top%d_accuracy", r->top_k);
        json_object_set_new(o, key, json_real(r->top_k_accuracy));
    } else if (r->task == DPT_TASK_REGRESSION) {
        json_object_set_new(o, "mae", json_real(r->mae));
        json_object_set_new(o, "rmse", json_real(r->rmse));
        if (!isnan(r->r2)) { /* none for constant targets: left out, never nan */
            json_object_set_new(o, "r2", json_real(r->r2));
        }
    }
    if (r->confusion) {
        json_t *m = json_array();
        for (size_t i = 0; i < r->classes; i++) {
            json_t *row = json_array();
            for (size_t j = 0; j < r->classes; j++) {
                json_array_append_new(row, json_integer((json_int_t)r->confusion[i * r->classes + j]));
            }
            json_array_append_new(m, row);
        }
        json_object_set_new(o, "confusion", m);
    }
}

const char *cli_loss_units(const struct dpt_norm *norm)
{
    return norm->y_mean ? " (of the standardized targets)" : "";
}

void cli_classes_json(json_t *o, const struct dpt_norm *norm)
{
    if (norm->n_classes == 0) {
        return;
    }
    json_t *names = json_array();
    for (size_t k = 0; k < norm->n_classes; k++) {
        json_array_append_new(names, json_string(norm->classes[k]));
    }
    json_object_set_new(o, "classes", names);
}

/* The task's metrics as text, with the confusion matrix (rows: true class,
 * columns: predicted class), its classes named above it when the model has
 * names. */
static void print_metrics(const struct dpt_eval_result *r, const struct dpt_norm *norm)
{
    if (r->task == DPT_TASK_BINARY) {
        printf("precision %.4f  recall %.4f  f1 %.4f\n", r->precision, r->recall, r->f1);
    } else if (r->task == DPT_TASK_MULTICLASS && r->top_k > 0) {
        printf("top-%d accuracy %.4f\n", r->top_k, r->top_k_accuracy);
    } else if (r->task == DPT_TASK_REGRESSION) {
        printf("mae %.6g  rmse %.6g", r->mae, r->rmse);
        if (!isnan(r->r2)) {
            printf("  r2 %.4f", r->r2);
        }
        printf("\n");
    }
    if (r->confusion && r->classes <= 32 && norm->n_classes > 0) {
        printf("classes:");
        for (size_t j = 0; j < r->classes && j < norm->n_classes; j++) {
            printf("%s %zu %s", j ? "," : "", j, norm->classes[j]);
        }
        printf("\n");
    }
    if (r->confusion && r->classes <= 32) {
        printf("confusion matrix (rows: true class, columns: predicted class)\n      ");
        for (size_t j = 0; j < r->classes; j++) {
            printf(" %7zu", j);
        }
        printf("\n");
        for (size_t i = 0; i < r->classes; i++) {
            printf("%5zu ", i);
            for (size_t j = 0; j < r->classes; j++) {
                printf(" %7llu", (unsigned long long)r->confusion[i * r->classes + j]);
            }
            printf("\n");
        }
    }
}

/* How predict turns outputs into class labels, asked of the loss: a loss
 * that counts hits (correct) classifies, one without (mse) does regression
 * and gets no labels. With several outputs the label is the argmax; with
 * one it is output > 0.5, which takes a probability: the loss's fused
 * activation (sigmoid for bce) is then the model's last step and produced
 * it. A classifying loss of one output without one gets no labels. */
enum label_rule { LABELS_NONE, LABELS_ARGMAX, LABELS_THRESHOLD };

static enum label_rule label_rule(const struct dpt_net *net)
{
    if (!net->loss->correct) {
        return LABELS_NONE;
    }
    if (net->n_out >= 2) {
        return LABELS_ARGMAX;
    }
    return net->loss->fused_activation ? LABELS_THRESHOLD : LABELS_NONE;
}

/* The file of the labels beside PRED.npy: PRED.label.npy ("x.npy" and "x"
 * both give "x.label.npy"); malloc'ed. */
static char *label_path(const char *out)
{
    size_t n = strlen(out);
    if (n >= 4 && strcmp(out + n - 4, ".npy") == 0) {
        n -= 4;
    }
    char *p = malloc(n + sizeof ".label.npy");
    if (p) {
        memcpy(p, out, n);
        strcpy(p + n, ".label.npy");
    }
    return p;
}

/* Writes the predictions (and labels, unless NULL) to out in the format,
 * with the model's class names where the format has room for them. */
static int write_predictions(const char *out, enum pred_format format, const float *pred,
                             const int *labels, uint64_t n, size_t n_out,
                             const struct dpt_norm *norm, struct dpt_err *err)
{
    const char *const *names = (const char *const *)norm->classes;
    if (format == PRED_CSV) {
        return dpt_predictions_save_csv(out, pred, labels, n, n_out, names, norm->n_classes, err);
    }
    if (format == PRED_NPY) {
        char *lp = label_path(out);
        int rc = lp ? dpt_predictions_save_npy(out, pred, labels, lp, n, n_out, err)
                    : dpt_err_set(err, DPT_ENOMEM, "out of memory");
        free(lp);
        return rc;
    }
    return dpt_predictions_save(out, pred, labels, n, n_out, names, norm->n_classes, err);
}

/* Rank 0's half of predict: the labels (*labels, malloc'ed, NULL without)
 * of the outputs res->pred, then the predictions file. */
static int save_predictions(const char *out, enum pred_format format, const struct dpt_net *net,
                            const struct dpt_norm *norm, const struct dpt_eval_result *res,
                            int **labels, struct dpt_err *err)
{
    enum label_rule rule = label_rule(net);
    if (rule != LABELS_NONE) {
        *labels = malloc((res->n ? res->n : 1) * sizeof **labels);
        if (!*labels) {
            return dpt_err_set(err, DPT_ENOMEM, "out of memory labelling %llu predictions",
                               (unsigned long long)res->n);
        }
    }
    for (uint64_t i = 0; *labels && i < res->n; i++) {
        const float *p = res->pred + i * res->n_out;
        int best = 0;
        for (size_t j = 1; rule == LABELS_ARGMAX && j < res->n_out; j++) {
            best = p[j] > p[best] ? (int)j : best;
        }
        (*labels)[i] = rule == LABELS_ARGMAX ? best : p[0] > 0.5f;
    }
    return write_predictions(out, format, res->pred, *labels, res->n, res->n_out, norm, err);
}

/* Rank 0 prints what eval found or what predict wrote, as text or JSON. */
static void print_result(const struct run_args *a, int predict, const struct dpt_net *net,
                         const struct dpt_norm *norm, const struct dpt_eval_result *res,
                         int labelled)
{
    if (a->c.json) {
        json_t *o = json_object();
        json_object_set_new(o, "model", json_string(a->model));
        json_object_set_new(o, "data", json_string(a->data));
        json_object_set_new(o, "samples", json_integer((json_int_t)res->n));
        if (predict) {
            json_object_set_new(o, "out", json_string(a->out));
            json_object_set_new(o, "outputs", json_integer((json_int_t)res->n_out));
        } else {
            json_object_set_new(o, "loss", json_real(res->loss));
            json_object_set_new(o, "loss_name", json_string(net->loss->base.name));
            cli_metrics_json(o, res);
        }
        cli_classes_json(o, norm);
        print_json(o);
    } else if (predict && a->format == PRED_NPY && labelled) {
        char *lp = label_path(a->out);
        printf("wrote %s: pred [%llu, %zu], and %s: label [%llu]\n", a->out,
               (unsigned long long)res->n, res->n_out, lp ? lp : "the labels",
               (unsigned long long)res->n);
        free(lp);
    } else if (predict) {
        printf("wrote %s: pred [%llu, %zu]%s\n", a->out, (unsigned long long)res->n, res->n_out,
               labelled ? " and label" : "");
    } else {
        printf("%s: %llu samples  loss %.6f%s", a->data, (unsigned long long)res->n, res->loss,
               cli_loss_units(norm));
        if (!isnan(res->accuracy)) {
            printf("  accuracy %.4f", res->accuracy);
        }
        printf("\n");
        print_metrics(res, norm);
    }
}

static int run(const char *cmd, int predict, int argc, char **argv)
{
    cli_catch_stop_signals(); /* before anything slow: see cli.h */
    struct run_args a = {.c.takes = CLI_TAKES_THREADS | CLI_TAKES_FORMAT};
    int st = parse(cmd, predict ? predict_usage : eval_usage, argc, argv, &a);
    if (st != 0) {
        return st == 1 ? 0 : st;
    }
    if (predict && !a.out) {
        return cli_usage_error("predict ", "--out PRED.h5 is required");
    }
    struct dpt_dist d;
    if (cli_mpi_init(&argc, &argv, &d, DPT_DEFAULT_TIMEOUT) < 0) {
        return EXIT_RUN;
    }
    dpt_watch_phase(predict ? "prediction" : "evaluation");
    struct dpt_err err = {0};
    struct dpt_registry *reg = NULL;
    struct dpt_spec spec;
    struct dpt_net *net = NULL;
    struct dpt_norm norm = {0};
    int rc = load(&d, &a, &reg, &spec, &net, &norm, &err);
    struct dpt_eval_result res = {0};
    int *labels = NULL;
    if (rc == 0) {
        /* The datasets and columns the model was trained on, from a.data;
         * --y names a dataset of targets instead of data.y_columns. */
        const char *files[1] = {a.data};
        struct dpt_data_source src = spec.train_src;
        src.files = files;
        src.n_files = 1;
        src.key = NULL;
        src.by_options = 1;
        src.x_name = a.x ? a.x : spec.x_name;
        if (a.y) {
            src.y_name = a.y;
            src.y_cols = NULL;
        }
        rc = dpt_evaluate(net, &src, !predict, &norm, &d, a.c.threads, predict, &res, &err);
    }
    if (rc == 0 && predict && d.rank == 0) {
        rc = save_predictions(a.out, a.format, net, &norm, &res, &labels, &err);
    }
    if (predict) {
        rc = dpt_dist_agree(&d, rc, &err);
    }
    if (rc == 0 && d.rank == 0) {
        print_result(&a, predict, net, &norm, &res, labels != NULL);
    }
    /* rc is agreed on by every rank here (load and dpt_evaluate agree; the
     * predictions' write is agreed above). */
    int status = rc < 0 ? EXIT_RUN : 0;
    if (rc == DPT_ESIGNAL) {
        status = cli_stop_status(&d);
        if (d.rank == 0) {
            fprintf(stderr, "dptrain: %s; %s stopped, nothing written (exit %d)\n", err.msg,
                    cmd, status);
        }
    } else if (rc < 0 && d.rank == 0) {
        fprintf(stderr, "dptrain: error: %s\n", err.msg);
    }
    fflush(stdout);
    free(labels);
    free(res.pred);
    free(res.confusion);
    dpt_net_destroy(net);
    dpt_norm_cleanup(&norm);
    dpt_spec_cleanup(&spec);
    dpt_registry_destroy(reg);
    cli_mpi_finalize();
    return status;
}

int cmd_eval(int argc, char **argv)
{
    return run("eval", 0, argc, argv);
}

int cmd_predict(int argc, char **argv)
{
    return run("predict", 1, argc, argv);
}

static const char inspect_usage[] =
    "usage: dptrain inspect FILE.h5 [--format json] [--plugin-path DIRS]\n"
    "                       [--allow-unsafe-plugins]\n"
    "\n"
    "Checks a model or checkpoint file and prints what it holds: the model's\n"
    "size, for a checkpoint where training stands, the plugin version each\n"
    "layer was written with, and each plugin file loaded then, with its\n"
    "SHA-256. The checksum of a model or checkpoint is verified; a damaged or\n"
    "altered file exits with status 1.\n"
    "\n"
    "Any other HDF5 file is described as a data file: each dataset's dtype,\n"
    "shape, layout (contiguous, chunked, compressed, external) and bytes stored,\n"
    "and per column min, max, mean, std and NaN/Inf counts; integer labels are\n"
    "counted. The rows are streamed in blocks.\n"
    "  --sample N           statistics of about N rows (64 evenly spread runs)\n"
    "                       instead of all, for huge files\n";

/* What inspect shows: the network of the file, the plugin versions its
 * layers were written with and, for a checkpoint, where training stands
 * (its checksum verified on loading). */
struct inspected {
    enum dpt_file_kind kind;
    struct dpt_registry *reg;
    struct dpt_spec spec;
    struct dpt_net *net;
    struct dpt_norm norm;
    struct dpt_train_state st;
    float *ostate; /* the checkpoint's optimizer state: loaded to verify the checksum */
    struct dpt_layer_record *rec; /* per node: the plugin versions the file recorded */
};

/* Asks the file what it is, then loads it as that: a model, or a checkpoint
 * into the network its own /config describes. */
static int inspect_load(const char *path, const struct cli_common *c, struct inspected *in,
                        struct dpt_err *err)
{
    int rc = cli_registry_create(&in->reg, c, err);
    if (rc == 0) {
        rc = dpt_model_file_kind(path, &in->kind, err);
    }
    if (rc == 0) {
        const struct dpt_warn warn = {cli_warn, NULL};
        rc = dpt_model_load(path, in->reg, &in->spec, &in->net, &in->norm, &warn, err);
    } else {
        memset(&in->spec, 0, sizeof in->spec);
        config_init(&in->spec.cfg);
    }
    if (rc == 0 && in->kind == DPT_FILE_CHECKPOINT) {
        in->ostate = calloc(in->net->opt_floats * in->net->n_params + 1, sizeof *in->ostate);
        /* No warnings this time: loading the model above gave them. */
        rc = in->ostate
                 ? dpt_checkpoint_load(path, in->net, in->ostate, &in->norm, &in->st, NULL, err)
                 : dpt_err_set(err, DPT_ENOMEM, "out of memory");
    }
    if (rc == 0) {
        in->rec = calloc(in->net->n_nodes + 1, sizeof *in->rec);
        rc = in->rec ? dpt_model_read_records(path, in->net, in->rec, err)
                     : dpt_err_set(err, DPT_ENOMEM, "out of memory");
    }
    return rc;
}

/* The plugin each layer was written with, as the file recorded it, and
 * the version loaded now: one JSON object per layer. */
static json_t *records_json(const struct inspected *in)
{
    json_t *a = json_array();
    for (size_t i = 0; i < in->net->n_nodes; i++) {
        const struct dpt_node *nd = &in->net->nodes[i];
        const struct dpt_layer_record *r = &in->rec[i];
        if (nd->kind != DPT_KIND_LAYER) {
            continue;
        }
        json_t *o = json_object();
        json_object_set_new(o, "index", json_integer(nd->layer_index));
        json_object_set_new(o, "type", json_string(nd->plugin->name));
        json_object_set_new(o, "plugin_version",
                            r->recorded ? json_string(r->version) : json_null());
        json_object_set_new(o, "plugin_abi", r->recorded ? json_string(r->abi) : json_null());
        json_object_set_new(o, "loaded_version",
                            json_string(nd->plugin->version ? nd->plugin->version : ""));
        json_array_append_new(a, o);
    }
    return a;
}

/* One line per layer: "layer 2 (dense): plugin 'dense' version 1.0.0, ABI
 * 2.0", and the version loaded now when it differs. */
static void print_records(const struct inspected *in)
{
    for (size_t i = 0; i < in->net->n_nodes; i++) {
        const struct dpt_node *nd = &in->net->nodes[i];
        const struct dpt_layer_record *r = &in->rec[i];
        const char *now = nd->plugin->version ? nd->plugin->version : "";
        if (nd->kind != DPT_KIND_LAYER) {
            continue;
        }
        if (!r->recorded) {
            printf("%s: plugin '%s', version not recorded (an older file)\n", nd->label,
                   nd->plugin->name);
            continue;
        }
        printf("%s: plugin '%s' version %s, ABI %s", nd->label, nd->plugin->name, r->version,
               r->abi);
        if (strcmp(r->version, now) != 0) {
            printf(" (loaded now: version %s)", now);
        }
        printf("\n");
    }
}

static void print_inspected(const char *path, int json, const struct inspected *in)
{
    const struct dpt_net *net = in->net;
    int is_ckpt = in->kind == DPT_FILE_CHECKPOINT;
    size_t trainable, nontrainable;
    size_t params = dpt_net_count(net, -1, &trainable, &nontrainable);
    if (json) {
        json_t *o = json_object();
        json_object_set_new(o, "file", json_string(path));
        json_object_set_new(o, "kind", json_string(is_ckpt ? "checkpoint" : "model"));
        json_object_set_new(o, "inputs", json_integer((json_int_t)net->n_in));
        json_object_set_new(o, "outputs", json_integer((json_int_t)net->n_out));
        json_object_set_new(o, "parameters", json_integer((json_int_t)params));
        json_object_set_new(o, "trainable", json_integer((json_int_t)trainable));
        json_object_set_new(o, "non_trainable", json_integer((json_int_t)nontrainable));
        json_object_set_new(o, "loss", json_string(net->loss->base.name));
        json_object_set_new(o, "optimizer", json_string(net->opt->base.name));
        if (is_ckpt) {
            json_object_set_new(o, "epoch", json_integer(in->st.epoch));
            json_object_set_new(o, "step_in_epoch", json_integer((json_int_t)in->st.step));
            json_object_set_new(o, "global_step", json_integer((json_int_t)in->st.global_step));
            json_object_set_new(o, "checksum_ok", json_true());
        } else { /* verified on loading; null: a file from before model checksums */
            json_object_set_new(o, "checksum_ok",
                                dpt_model_has_checksum(path) ? json_true() : json_null());
        }
        json_object_set_new(o, "layers", records_json(in));
        cli_plugin_files_inspect(path, o);
        print_json(o);
        return;
    }
    printf("%s: %s, %zu inputs -> %zu outputs, %zu parameters", path,
           is_ckpt ? "checkpoint" : "model", net->n_in, net->n_out, params);
    if (nontrainable) {
        printf(" (%zu trainable)", trainable);
    }
    printf(", loss %s, optimizer %s\n", net->loss->base.name, net->opt->base.name);
    if (is_ckpt) {
        printf("epoch %lld, step %llu of the epoch, %llu steps in all; checksum ok\n",
               (long long)in->st.epoch + 1, (unsigned long long)in->st.step,
               (unsigned long long)in->st.global_step);
    } else {
        printf("%s\n", dpt_model_has_checksum(path) ? "checksum ok"
                                                    : "no checksum (a file from before model "
                                                      "files had one)");
    }
    print_records(in);
    cli_plugin_files_inspect(path, NULL);
}

int cmd_inspect(int argc, char **argv)
{
    int data = cli_inspect_data(argc, argv);
    if (data >= 0) {
        return data;
    }
    struct cli_common c = {.takes = CLI_TAKES_FORMAT};
    const char *path = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            fputs(inspect_usage, stdout);
            return 0;
        }
        if (strcmp(argv[i], "--sample") == 0 && i + 1 < argc) {
            i++; /* a data file's option, checked by cli_inspect_data */
            continue;
        }
        int r = cli_common_option("inspect", argc, argv, &i, &c);
        if (r < 0) {
            return EXIT_USAGE;
        }
        if (r == 0 && (argv[i][0] == '-' || path)) {
            return cli_usage_error("inspect ", "unexpected argument '%s'", argv[i]);
        }
        if (r == 0) {
            path = argv[i];
        }
    }
    if (!path) {
        return cli_usage_error("inspect ", "give a model or checkpoint file");
    }
    struct dpt_err err = {0};
    struct inspected in = {0};
    int rc = inspect_load(path, &c, &in, &err);
    if (rc == 0) {
        print_inspected(path, c.json, &in);
    } else {
        cli_error("%s", err.msg);
    }
    free(in.ostate);
    free(in.rec);
    dpt_net_destroy(in.net);
    dpt_norm_cleanup(&in.norm);
    dpt_spec_cleanup(&in.spec);
    dpt_registry_destroy(in.reg);
    return rc < 0 ? EXIT_RUN : 0;
}
