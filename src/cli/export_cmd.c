/* dptrain export: a trained model (or a checkpoint) as an ONNX file, for
 * inference outside dptrain (io/onnx_export.h says what the graph
 * computes). Needs no mpirun: the model is loaded as inspect loads it.
 * When configure did not find protobuf-c and ONNX's schema the command is
 * still there, and says how to get it.
 */
#include "config.h"

#include "cli/cli.h"
#include "io/model_file.h"
#include "io/output.h"
#if DPT_HAVE_ONNX
#include "io/onnx_export.h"
#endif

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static const char export_usage[] =
    "usage: dptrain export MODEL.h5 OUT.onnx [options]\n"
    "\n"
    "Writes a trained model (or a checkpoint) as an ONNX graph, opset 13: input\n"
    "\"x\" float32 [N, sample shape] (channels last, values as in the data file),\n"
    "output \"pred\" float32 [N, outputs], what dptrain predict writes to /pred.\n"
    "data.scale and the standardization of inputs (and of targets) are nodes of\n"
    "the graph. Built-in layers and activations only; another plugin is refused.\n"
    "\n"
    "options:\n"
    "  --format json        print a JSON summary instead of text\n"
    "  --plugin-path DIRS   extra plugin folders or files, ':'-separated\n"
    "  --allow-unsafe-plugins  load plugins others could have written, with a warning\n";

/* Whether a and b name the same existing file (the export would replace
 * the model it reads). */
static int same_file(const char *a, const char *b)
{
    struct stat sa, sb;
    return stat(a, &sa) == 0 && stat(b, &sb) == 0 && sa.st_dev == sb.st_dev &&
           sa.st_ino == sb.st_ino;
}

/* Parses the command line into *c, *model and *out: 0, 1 after --help, or
 * EXIT_USAGE (reported). */
static int parse(int argc, char **argv, struct cli_common *c, const char **model,
                 const char **out)
{
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            fputs(export_usage, stdout);
            return 1;
        }
        int r = cli_common_option("export", argc, argv, &i, c);
        if (r < 0) {
            return EXIT_USAGE;
        }
        if (r > 0) {
            continue;
        }
        if (argv[i][0] == '-' || (*model && *out)) {
            return cli_usage_error("export ", "unexpected argument '%s'", argv[i]);
        }
        *(*model ? out : model) = argv[i];
    }
    if (!*model || !*out) {
        return cli_usage_error("export ", "give a model file and the ONNX file to write: "
                               "dptrain export MODEL.h5 OUT.onnx");
    }
    if (same_file(*model, *out)) {
        return cli_usage_error("export ", "%s is the model file itself; name another file "
                               "for the ONNX graph", *out);
    }
    return 0;
}

#if DPT_HAVE_ONNX
static void print_report(const struct cli_common *c, const char *model, const char *out,
                         const struct dpt_net *net, const struct dpt_onnx_info *info)
{
    char shape[96];
    dpt_shape_str(&net->in, shape, sizeof shape);
    shape[strlen(shape) - 1] = '\0'; /* "[8, 8, 1" continues as "[N, 8, 8, 1]" */
    if (c->json) {
        json_t *o = json_object();
        json_object_set_new(o, "model", json_string(model));
        json_object_set_new(o, "out", json_string(out));
        json_object_set_new(o, "opset", json_integer(DPT_ONNX_OPSET));
        json_t *in = json_array();
        for (uint32_t j = 0; j < net->in.rank; j++) {
            json_array_append_new(in, json_integer((json_int_t)net->in.dims[j]));
        }
        json_object_set_new(o, "input_shape", in);
        json_object_set_new(o, "outputs", json_integer((json_int_t)net->n_out));
        json_object_set_new(o, "nodes", json_integer((json_int_t)info->nodes));
        json_object_set_new(o, "bytes", json_integer((json_int_t)info->bytes));
        char *s = json_dumps(o, JSON_COMPACT);
        if (s) {
            puts(s);
            free(s);
        }
        json_decref(o);
        return;
    }
    printf("wrote %s: ONNX opset %d, x [N, %s] -> pred [N, %zu], %zu nodes, %zu bytes\n", out,
           DPT_ONNX_OPSET, shape + 1, net->n_out, info->nodes, info->bytes);
}
#endif

int cmd_export(int argc, char **argv)
{
    struct cli_common c = {.takes = CLI_TAKES_FORMAT};
    const char *model = NULL, *out = NULL;
    int st = parse(argc, argv, &c, &model, &out);
    if (st != 0) {
        return st == 1 ? 0 : st;
    }
#if DPT_HAVE_ONNX
    struct dpt_err err = {0};
    struct dpt_registry *reg = NULL;
    struct dpt_spec spec;
    struct dpt_net *net = NULL;
    struct dpt_norm norm = {0};
    struct dpt_onnx_info info = {0};
    memset(&spec, 0, sizeof spec);
    config_init(&spec.cfg);
    int rc = dpt_output_probe(out, "OUT.onnx", &err);
    if (rc == 0) {
        rc = cli_registry_create(&reg, &c, &err);
    }
    if (rc == 0) {
        cli_plugin_warnings(reg);
        const struct dpt_warn warn = {cli_warn, NULL};
        config_destroy(&spec.cfg);
        rc = dpt_model_load(model, reg, &spec, &net, &norm, &warn, &err);
    }
    if (rc == 0) {
        rc = dpt_onnx_export(out, net, &norm, model, &info, &err);
    }
    if (rc == 0) {
        print_report(&c, model, out, net, &info);
    } else {
        cli_error("%s", err.msg);
    }
    dpt_net_destroy(net);
    dpt_norm_cleanup(&norm);
    dpt_spec_cleanup(&spec);
    dpt_registry_destroy(reg);
    return rc < 0 ? EXIT_RUN : 0;
#else
    cli_error("%s: this dptrain was built without ONNX export: configure did not find "
              "protoc-c, libprotobuf-c and ONNX's onnx.proto (apt-get install "
              "protobuf-c-compiler libprotobuf-c-dev libonnx-dev, then configure and make "
              "again)", out);
    return EXIT_RUN;
#endif
}
