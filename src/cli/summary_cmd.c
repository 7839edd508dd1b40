/* dptrain summary: what a model file builds, as Keras' model.summary() shows
 * it. One row per entry of model.layers: its index (from 1, as error
 * messages count layers: "layer 2 (dense): ..."), its type and activation,
 * its output shape without the batch, and its parameters (trainable and
 * non-trainable together); then the totals and the memory the parameters
 * take as float32.
 *
 * The network is built as training builds it (dpt_net_create: the same
 * plugins, checks and messages) and then thrown away: no MPI, no training,
 * and of the data file only the shape of X is read. `dptrain train
 * --verbose` prints the same table through cli_summary_print. Left out: the
 * optimizer's state and the activations' memory, which depend on the
 * optimizer and the batch rather than on the model.
 */
#include "config.h"

#include "cli/cli.h"
#include "data/dataset.h"
#include "model/net.h"
#include "model/spec.h"
#include "plugin/registry.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char summary_usage[] =
    "usage: dptrain summary MODEL.cfg [options]\n"
    "\n"
    "Builds the network MODEL.cfg describes, without training it, and prints one\n"
    "row per entry of model.layers (index from 1, type and activation, output\n"
    "shape without the batch, parameters), then the total, trainable and\n"
    "non-trainable parameters and the memory they take as float32. The input\n"
    "shape is that of data.train's X, or --input-shape. Needs no mpirun.\n"
    "\n"
    "options:\n"
    "  --set SECTION.KEY=VALUE  override a setting of the model file (repeatable)\n"
    "  --input-shape H,W,C      the shape of one sample, 1 to 3 numbers (e.g. 30 or\n"
    "                           28,28,1); instead of reading data.train\n"
    "  --format json            print one JSON object instead of the table\n"
    "  --plugin-path DIRS       extra plugin folders or files, ':'-separated\n"
    "  --allow-unsafe-plugins   load plugins others could have written, with a warning\n";

/* One entry of model.layers, gathered from its nodes. */
struct entry {
    int index;              /* in model.layers, from 0 */
    const char *type;       /* the plugin's name: "dense", or "relu" for an activation entry */
    const char *activation; /* the activation after the layer, or NULL */
    struct dpt_shape out;   /* the output shape of its last node */
    size_t params;          /* trainable + non-trainable */
    size_t trainable;
};

/* The entry whose first node is net->nodes[*i]; advances *i past its nodes
 * (a layer and the activation its "activation" key names, or one
 * activation). Every entry has at least one node. */
static struct entry next_entry(const struct dpt_net *net, size_t *i)
{
    const struct dpt_node *first = &net->nodes[*i];
    struct entry e = {.index = first->layer_index, .type = first->plugin->name};
    e.params = dpt_net_count(net, e.index, &e.trainable, NULL);
    while (*i < net->n_nodes && net->nodes[*i].layer_index == e.index) {
        const struct dpt_node *nd = &net->nodes[(*i)++];
        if (nd != first && nd->kind == DPT_KIND_ACTIVATION) {
            e.activation = nd->plugin->name;
        }
        e.out = nd->out;
    }
    return e;
}

/* "dense (relu)", or "relu" for an activation entry. */
static const char *entry_label(const struct entry *e, char *buf, size_t len)
{
    if (e->activation) {
        snprintf(buf, len, "%s (%s)", e->type, e->activation);
    } else {
        snprintf(buf, len, "%s", e->type);
    }
    return buf;
}

/* Bytes as Keras' summary writes them: powers of 1024 named B, KB, MB, GB,
 * TB, two decimals ("1.59 KB"), so that the two can be compared. */
static const char *readable_bytes(double bytes, char *buf, size_t len)
{
    static const char *const units[] = {"B", "KB", "MB", "GB", "TB"};
    size_t u = 0;
    while (bytes >= 1024 && u + 1 < sizeof units / sizeof units[0]) {
        bytes /= 1024;
        u++;
    }
    snprintf(buf, len, "%.2f %s", bytes, units[u]);
    return buf;
}

void cli_summary_print(FILE *f, const char *model, const struct dpt_net *net)
{
    char label[160], shape[96], mem[32];
    /* Column widths: the headers, or the widest value. */
    int w_label = (int)strlen("Layer (type)"), w_shape = (int)strlen("Output shape");
    for (size_t i = 0; i < net->n_nodes;) {
        struct entry e = next_entry(net, &i);
        int l = (int)strlen(entry_label(&e, label, sizeof label));
        int s = (int)strlen(dpt_shape_str(&e.out, shape, sizeof shape));
        w_label = l > w_label ? l : w_label;
        w_shape = s > w_shape ? s : w_shape;
    }
    int width = 4 + 2 + w_label + 2 + w_shape + 2 + 12;
    fprintf(f, "Model: %s, input %s\n", model, dpt_shape_str(&net->in, shape, sizeof shape));
    fprintf(f, "%4s  %-*s  %-*s  %12s\n", "#", w_label, "Layer (type)", w_shape,
            "Output shape", "Params");
    for (int k = 0; k < width; k++) {
        fputc('-', f);
    }
    fputc('\n', f);
    for (size_t i = 0; i < net->n_nodes;) {
        struct entry e = next_entry(net, &i);
        fprintf(f, "%4d  %-*s  %-*s  %12zu\n", e.index + 1, w_label,
                entry_label(&e, label, sizeof label), w_shape,
                dpt_shape_str(&e.out, shape, sizeof shape), e.params);
    }
    size_t trainable, nontrainable;
    size_t total = dpt_net_count(net, -1, &trainable, &nontrainable);
    fprintf(f, "Total params: %zu (%s)\n", total,
            readable_bytes(sizeof(float) * (double)total, mem, sizeof mem));
    fprintf(f, "Trainable params: %zu (%s)\n", trainable,
            readable_bytes(sizeof(float) * (double)trainable, mem, sizeof mem));
    fprintf(f, "Non-trainable params: %zu (%s)\n", nontrainable,
            readable_bytes(sizeof(float) * (double)nontrainable, mem, sizeof mem));
}

static json_t *shape_json(const struct dpt_shape *s)
{
    json_t *a = json_array();
    for (uint32_t j = 0; j < s->rank; j++) {
        json_array_append_new(a, json_integer((json_int_t)s->dims[j]));
    }
    return a;
}

/* The same as one JSON object on one line: model, input_shape, layers
 * (index, type, activation or null, output_shape, params, trainable) and
 * totals (params, trainable, non_trainable, bytes). */
static void print_summary_json(const char *model, const struct dpt_net *net)
{
    json_t *o = json_object(), *layers = json_array(), *totals = json_object();
    json_object_set_new(o, "model", json_string(model));
    json_object_set_new(o, "input_shape", shape_json(&net->in));
    for (size_t i = 0; i < net->n_nodes;) {
        struct entry e = next_entry(net, &i);
        json_t *l = json_object();
        json_object_set_new(l, "index", json_integer(e.index + 1));
        json_object_set_new(l, "type", json_string(e.type));
        json_object_set_new(l, "activation", e.activation ? json_string(e.activation)
                                                          : json_null());
        json_object_set_new(l, "output_shape", shape_json(&e.out));
        json_object_set_new(l, "params", json_integer((json_int_t)e.params));
        json_object_set_new(l, "trainable", json_integer((json_int_t)e.trainable));
        json_array_append_new(layers, l);
    }
    json_object_set_new(o, "layers", layers);
    size_t trainable, nontrainable;
    size_t total = dpt_net_count(net, -1, &trainable, &nontrainable);
    json_object_set_new(totals, "params", json_integer((json_int_t)total));
    json_object_set_new(totals, "trainable", json_integer((json_int_t)trainable));
    json_object_set_new(totals, "non_trainable", json_integer((json_int_t)nontrainable));
    json_object_set_new(totals, "bytes", json_integer((json_int_t)(sizeof(float) * total)));
    json_object_set_new(o, "totals", totals);
    char *s = json_dumps(o, JSON_COMPACT);
    if (s) {
        puts(s);
        free(s);
    }
    json_decref(o);
}

/* The command line of `dptrain summary`. */
struct summary_args {
    struct cli_common c;
    const char *model;
    const char *input_shape; /* --input-shape's text, or NULL */
    struct dpt_shape in;     /* its value */
    char **sets;             /* the --set values (argv's strings), n_sets of them */
    size_t n_sets;
};

/* "28,28,1" -> [28, 28, 1]: 1 to DPT_MAX_RANK numbers >= 1; 0, or -1 when
 * text is not such a list. */
static int parse_shape(const char *text, struct dpt_shape *out)
{
    *out = (struct dpt_shape){0};
    const char *p = text;
    do {
        if (out->rank == DPT_MAX_RANK || *p < '0' || *p > '9') {
            return -1;
        }
        char *end;
        unsigned long long d = strtoull(p, &end, 10);
        if (d < 1 || d > INT32_MAX || (*end != ',' && *end != '\0')) {
            return -1;
        }
        out->dims[out->rank++] = d;
        p = *end == ',' ? end + 1 : end;
    } while (*p);
    return p[-1] == ',' ? -1 : 0;
}

#define HELP_SHOWN (-1) /* parse_summary_args printed --help: exit 0 */

/* Parses the command line into a; 0, HELP_SHOWN, or a usage error's status. */
static int parse_summary_args(int argc, char **argv, struct summary_args *a)
{
    for (int i = 1; i < argc; i++) {
        const char *s = argv[i];
        if (strcmp(s, "--help") == 0 || strcmp(s, "-h") == 0) {
            fputs(summary_usage, stdout);
            return HELP_SHOWN;
        }
        int r = cli_common_option("summary", argc, argv, &i, &a->c);
        if (r < 0) {
            return EXIT_USAGE;
        }
        if (r > 0) {
            continue;
        }
        if (strcmp(s, "--set") == 0 || strcmp(s, "--input-shape") == 0) {
            if (i + 1 >= argc) {
                return cli_usage_error("summary ", "%s needs a value", s);
            }
            if (strcmp(s, "--set") == 0) {
                if (cli_set_option("summary ", argv[i + 1]) != 0) {
                    return EXIT_USAGE;
                }
                a->sets[a->n_sets++] = argv[++i];
            } else {
                a->input_shape = argv[++i];
            }
        } else if (strncmp(s, "--set=", 6) == 0) {
            if (cli_set_option("summary ", s + 6) != 0) {
                return EXIT_USAGE;
            }
            a->sets[a->n_sets++] = (char *)s + 6;
        } else if (s[0] == '-') {
            return cli_usage_error("summary ", "unknown option '%s'", s);
        } else if (a->model) {
            return cli_usage_error("summary ", "one model file only (got '%s' and '%s')",
                                   a->model, s);
        } else {
            a->model = s;
        }
    }
    if (!a->model) {
        return cli_usage_error("summary ", "no model file given");
    }
    if (a->input_shape && parse_shape(a->input_shape, &a->in) < 0) {
        return cli_usage_error("summary ", "--input-shape takes 1 to %d numbers >= 1 "
                               "separated by commas (e.g. 30 or 28,28,1), got '%s'",
                               DPT_MAX_RANK, a->input_shape);
    }
    return 0;
}

/* The sample shape the net is built for: --input-shape, else the shape of
 * one row of data.train's X. */
static int input_shape(const struct summary_args *a, const struct dpt_spec *spec,
                       struct dpt_shape *in, struct dpt_err *err)
{
    if (a->input_shape) {
        *in = a->in;
        return 0;
    }
    if (!spec->train) {
        return dpt_err_set(err, DPT_ECONFIG, "%s: no data.train to take the input shape "
                           "from: set data.train = \"FILE.h5\" or give --input-shape "
                           "(e.g. --input-shape 30 or --input-shape 28,28,1)", spec->file);
    }
    struct dpt_dataset *ds = NULL;
    int rc = dpt_dataset_open_source(&ds, &spec->train_src, 0, err);
    if (rc == 0) {
        dpt_dataset_sample_shape(ds, in); /* [F], or [H, W, C] for images */
    }
    dpt_dataset_close(ds);
    return rc;
}

/* Builds the net of a->model and prints its summary; returns the exit status. */
static int run_summary(const struct summary_args *a)
{
    struct dpt_err err = {0};
    struct dpt_registry *reg = NULL;
    struct dpt_spec spec;
    struct dpt_net *net = NULL;
    struct dpt_shape in;
    memset(&spec, 0, sizeof spec);
    config_init(&spec.cfg); /* so that the cleanup below is safe on every path */
    int rc = cli_registry_create(&reg, &a->c, &err);
    if (rc == 0) {
        config_destroy(&spec.cfg);
        rc = dpt_spec_load(&spec, a->model, a->sets, a->n_sets, &err);
    }
    if (rc == 0) {
        rc = input_shape(a, &spec, &in, &err);
    }
    if (rc == 0) {
        rc = dpt_net_create(&net, &spec, reg, &in, &err);
    }
    if (rc == 0 && a->c.json) {
        print_summary_json(a->model, net);
    } else if (rc == 0) {
        cli_summary_print(stdout, a->model, net);
    } else {
        cli_error("%s", err.msg);
    }
    fflush(stdout);
    dpt_net_destroy(net);
    dpt_spec_cleanup(&spec);
    dpt_registry_destroy(reg);
    return rc < 0 ? EXIT_RUN : 0;
}

int cmd_summary(int argc, char **argv)
{
    struct summary_args a = {.c.takes = CLI_TAKES_FORMAT,
                             .sets = calloc((size_t)argc, sizeof *a.sets)};
    if (!a.sets) {
        cli_error("out of memory");
        return EXIT_RUN;
    }
    int status = parse_summary_args(argc, argv, &a);
    if (status == 0) {
        status = run_summary(&a);
    }
    free(a.sets);
    return status == HELP_SHOWN ? 0 : status;
}
