/* Plugin loader tests: the search path, each kind of rejected file, name
 * clashes, failing create(), and messages that name the file. Uses the
 * built-in plugins ($DPTRAIN_PLUGIN_PATH) and the broken test plugins in
 * $DPT_TEST_PLUGINS (tests/plugins/). */
#include "config.h"

#include "model/spec.h"
#include "model/net.h"
#include "plugin/registry.h"
#include "util.h"

#include <CUnit/CUnit.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char test_plugin[512];

static const char *tp(const char *name)
{
    const char *dir = getenv("DPT_TEST_PLUGINS");
    snprintf(test_plugin, sizeof test_plugin, "%s/%s", dir ? dir : "tests/plugins/.libs", name);
    return test_plugin;
}

static void test_builtins_found(void)
{
    struct dpt_err err = {0};
    struct dpt_registry *reg;
    CU_ASSERT_EQUAL_FATAL(dpt_registry_create(&reg, NULL, &err), 0);
    static const struct {
        uint32_t kind;
        const char *name;
    } want[] = {
        {DPT_KIND_LAYER, "dense"},       {DPT_KIND_ACTIVATION, "linear"},
        {DPT_KIND_ACTIVATION, "relu"},   {DPT_KIND_ACTIVATION, "sigmoid"},
        {DPT_KIND_ACTIVATION, "tanh"},   {DPT_KIND_ACTIVATION, "softmax"},
        {DPT_KIND_LOSS, "mse"},          {DPT_KIND_LOSS, "bce"},
        {DPT_KIND_LOSS, "cce"},          {DPT_KIND_OPTIMIZER, "sgd"},
        {DPT_KIND_OPTIMIZER, "adam"},    {DPT_KIND_LAYER, "dropout"},
        {DPT_KIND_ACTIVATION, "leaky_relu"}, {DPT_KIND_ACTIVATION, "elu"},
        {DPT_KIND_ACTIVATION, "gelu"},   {DPT_KIND_ACTIVATION, "softplus"},
        {DPT_KIND_ACTIVATION, "swish"},  {DPT_KIND_OPTIMIZER, "rmsprop"},
        {DPT_KIND_OPTIMIZER, "adagrad"}, {DPT_KIND_OPTIMIZER, "adamw"},
    };
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        const struct dpt_plugin *p = dpt_registry_find(reg, want[i].kind, want[i].name, &err);
        CU_ASSERT_PTR_NOT_NULL(p);
        if (p) {
            CU_ASSERT_EQUAL(p->abi_major, DPT_ABI_MAJOR);
            CU_ASSERT_PTR_NOT_NULL(p->summary);
        }
    }
    CU_ASSERT_EQUAL(dpt_registry_rejected_count(reg), 0);
    /* A wrong kind is not found, and the message lists what is known. */
    CU_ASSERT_PTR_NULL(dpt_registry_find(reg, DPT_KIND_LAYER, "relu", &err));
    CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "no layer plugin named 'relu'"));
    CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "dense"));
    dpt_registry_destroy(reg);
}

static void test_bad_abi(void)
{
    struct dpt_err err = {0};
    struct dpt_registry *reg = NULL;
    CU_ASSERT(dpt_registry_create(&reg, tp("bad_abi.so"), &err) < 0);
    CU_ASSERT_PTR_NULL(reg);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, tp("bad_abi.so")));
    char want[128];
    snprintf(want, sizeof want, "built for plugin ABI %d.0; this dptrain speaks %d.%d",
             DPT_ABI_MAJOR + 1, DPT_ABI_MAJOR, DPT_ABI_MINOR);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, want));
}

static void test_no_symbol(void)
{
    struct dpt_err err = {0};
    struct dpt_registry *reg = NULL;
    CU_ASSERT(dpt_registry_create(&reg, tp("no_symbol.so"), &err) < 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, tp("no_symbol.so")));
    CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "not a dptrain plugin (no 'dpt_plugins' symbol)"));
}

static void test_missing_file(void)
{
    struct dpt_err err = {0};
    struct dpt_registry *reg = NULL;
    CU_ASSERT(dpt_registry_create(&reg, "/nonexistent/plugin.so", &err) < 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "/nonexistent/plugin.so"));
    CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "--plugin-path"));
    CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "No such file"));
}

/* A name found again further down the search path is shadowed, as on
 * $PATH: the test plugin's relu on --plugin-path is used, the built-in one
 * is listed as shadowed by it. */
static void test_duplicate_name_shadowed(void)
{
    struct dpt_err err = {0};
    struct dpt_registry *reg = NULL;
    CU_ASSERT_EQUAL_FATAL(dpt_registry_create(&reg, tp("dup_relu.so"), &err), 0);
    int found = 0;
    for (size_t i = 0; i < dpt_registry_count(reg); i++) {
        const struct dpt_registry_entry *e = dpt_registry_entry(reg, i);
        if (e->plugin->kind == DPT_KIND_ACTIVATION && strcmp(e->plugin->name, "relu") == 0) {
            found++;
            CU_ASSERT_PTR_NOT_NULL(strstr(e->file, "dup_relu.so"));
        }
    }
    CU_ASSERT_EQUAL(found, 1);
    CU_ASSERT_EQUAL_FATAL(dpt_registry_shadowed_count(reg), 1);
    const char *note = dpt_registry_shadowed(reg, 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(note, "activation relu in "));
    CU_ASSERT_PTR_NOT_NULL(strstr(note, "activation_relu.so (shadowed by "));
    CU_ASSERT_PTR_NOT_NULL(strstr(note, "dup_relu.so)"));
    dpt_registry_destroy(reg);
}

/* Found twice in one place of the path (one folder), neither comes first:
 * an error naming both files. */
static void test_duplicate_name_one_place(void)
{
    char dir[256], link[512];
    test_path(dir, sizeof dir, "dup");
    CU_ASSERT_EQUAL_FATAL(mkdir(dir, 0755) == 0 || access(dir, F_OK) == 0, 1);
    const char *names[] = {"a.so", "b.so"};
    for (int i = 0; i < 2; i++) {
        snprintf(link, sizeof link, "%s/%s", dir, names[i]);
        unlink(link);
        CU_ASSERT_EQUAL(symlink(tp("dup_relu.so"), link), 0);
    }
    struct dpt_err err = {0};
    struct dpt_registry *reg = NULL;
    CU_ASSERT(dpt_registry_create(&reg, dir, &err) < 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "two activation plugins named 'relu' in one place"));
    CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "/a.so and "));
    CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "/b.so"));
}

/* A scanned folder keeps going past unusable files and lists them. */
static void test_scanned_dir_rejects(void)
{
    char dir[256], link[512];
    test_path(dir, sizeof dir, "scan");
    CU_ASSERT_EQUAL_FATAL(mkdir(dir, 0755) == 0 || access(dir, F_OK) == 0, 1);
    const char *names[] = {"bad_abi.so", "no_symbol.so", "fail_create.so"};
    for (int i = 0; i < 3; i++) {
        snprintf(link, sizeof link, "%s/%s", dir, names[i]);
        unlink(link);
        CU_ASSERT_EQUAL(symlink(tp(names[i]), link), 0);
    }
    struct dpt_err err = {0};
    struct dpt_registry *reg = NULL;
    CU_ASSERT_EQUAL_FATAL(dpt_registry_create(&reg, dir, &err), 0);
    CU_ASSERT_EQUAL(dpt_registry_rejected_count(reg), 2);
    int abi = 0, sym = 0;
    for (size_t i = 0; i < dpt_registry_rejected_count(reg); i++) {
        abi += strstr(dpt_registry_rejected(reg, i), "bad_abi.so") != NULL;
        sym += strstr(dpt_registry_rejected(reg, i), "no_symbol.so") != NULL;
    }
    CU_ASSERT(abi == 1 && sym == 1);
    CU_ASSERT_PTR_NOT_NULL(dpt_registry_find(reg, DPT_KIND_LAYER, "failing", &err));
    /* A name that is not found mentions the rejected files. */
    CU_ASSERT_PTR_NULL(dpt_registry_find(reg, DPT_KIND_ACTIVATION, "future", &err));
    CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "rejected"));
    dpt_registry_destroy(reg);
}

/* Builds a net from model text; returns the rc, message in err. */
static int build(const char *text, struct dpt_registry *reg, size_t n_in, struct dpt_net **net,
                 struct dpt_err *err)
{
    struct dpt_spec spec;
    int rc = dpt_spec_parse(&spec, text, "m.cfg", err);
    *net = NULL;
    if (rc == 0) {
        rc = dpt_net_create(net, &spec, reg, &(struct dpt_shape){.rank = 1, .dims = {n_in}}, err);
    }
    dpt_spec_cleanup(&spec);
    return rc;
}

static void test_create_failure(void)
{
    struct dpt_err err = {0};
    struct dpt_registry *reg = NULL;
    CU_ASSERT_EQUAL_FATAL(dpt_registry_create(&reg, tp("fail_create.so"), &err), 0);
    struct dpt_net *net;
    const char *text = "model = {\n layers = ( { type = \"dense\"; units = 4; },\n"
                       "  { type = \"failing\"; } );\n loss = \"mse\"; optimizer = \"sgd\"; };\n";
    CU_ASSERT(build(text, reg, 7, &net, &err) < 0);
    CU_ASSERT_PTR_NULL(net);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "layer 2 (failing)"));
    CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "refusing inputs of width 4 on purpose"));
    dpt_registry_destroy(reg);
}

/* Host services: range checks and unknown keys name the file and line. */
static void test_host_parameter_errors(void)
{
    struct dpt_err err = {0};
    struct dpt_registry *reg = NULL;
    CU_ASSERT_EQUAL_FATAL(dpt_registry_create(&reg, NULL, &err), 0);
    struct dpt_net *net;
    CU_ASSERT(build("model = {\n layers = (\n { type = \"dense\"; units = 0; } );\n"
                    " loss = \"mse\"; optimizer = \"sgd\"; };\n",
                    reg, 3, &net, &err) < 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "m.cfg:3: layer 1 (dense): 'units'"));
    CU_ASSERT(build("model = {\n layers = (\n { type = \"dense\"; unitz = 3; } );\n"
                    " loss = \"mse\"; optimizer = \"sgd\"; };\n",
                    reg, 3, &net, &err) < 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "m.cfg:3"));
    CU_ASSERT(strstr(err.msg, "unitz") || strstr(err.msg, "units"));
    CU_ASSERT(build("model = {\n layers = ( { type = \"dense\"; units = 3; } );\n"
                    " loss = \"mse\";\n optimizer = { type = \"adam\"; beta1 = 1.5; }; };\n",
                    reg, 3, &net, &err) < 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "m.cfg:4: optimizer (adam): 'beta1'"));
    CU_ASSERT(build("model = {\n layers = ( { type = \"dense\"; units = 3; activation = "
                    "\"relu\"; } );\n loss = \"cce\"; optimizer = \"sgd\"; };\n",
                    reg, 3, &net, &err) < 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "activation = \"softmax\""));
    CU_ASSERT(build("model = {\n layers = ( { type = \"densse\"; units = 3; } );\n"
                    " loss = \"mse\"; optimizer = \"sgd\"; };\n",
                    reg, 3, &net, &err) < 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "m.cfg:2: layer 1: no layer plugin named 'densse'"));
    /* And a good one builds, with the parameter count of 3-4-2 dense layers
     * padded to 16-float slices. */
    CU_ASSERT_EQUAL(build("model = { layers = ( { type = \"dense\"; units = 4; activation = "
                          "\"tanh\"; }, { type = \"dense\"; units = 2; activation = "
                          "\"softmax\"; } ); loss = \"cce\"; optimizer = \"adam\"; };",
                          reg, 3, &net, &err),
                    0);
    if (net) {
        CU_ASSERT_EQUAL(net->n_nodes, 4);
        CU_ASSERT_EQUAL(net->n_train, 3);
        CU_ASSERT_EQUAL(net->n_out, 2);
        CU_ASSERT_EQUAL(net->n_params, 16 + 16);
        CU_ASSERT_EQUAL(net->opt_floats, 2);
    }
    dpt_net_destroy(net);
    dpt_registry_destroy(reg);
}

/* Backward gets dx only where a layer before it trains: not the first
 * layer, nor a dense layer after dropout or flatten that opens the model
 * (nor the activation between them); every node after a dense layer does. */
static void test_dx_only_where_needed(void)
{
    struct dpt_err err = {0};
    struct dpt_registry *reg = NULL;
    CU_ASSERT_EQUAL_FATAL(dpt_registry_create(&reg, NULL, &err), 0);
    static const struct {
        const char *layers;
        int needs[6];
    } cases[] = {
        {"{ type = \"dense\"; units = 4; activation = \"relu\"; }, "
         "{ type = \"dense\"; units = 2; activation = \"softmax\"; }",
         {0, 1, 1, 1, -1}},
        {"{ type = \"flatten\"; }, { type = \"dropout\"; rate = 0.5; }, "
         "{ type = \"dense\"; units = 4; activation = \"relu\"; }, "
         "{ type = \"dropout\"; rate = 0.5; }, "
         "{ type = \"dense\"; units = 2; activation = \"softmax\"; }",
         {0, 0, 0, 1, 1, 1}},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        char text[512];
        snprintf(text, sizeof text, "model = { layers = ( %s ); loss = \"cce\"; "
                 "optimizer = \"adam\"; };", cases[c].layers);
        struct dpt_net *net;
        CU_ASSERT_EQUAL_FATAL(build(text, reg, 3, &net, &err), 0);
        for (size_t i = 0; i < net->n_nodes && i < 6; i++) {
            CU_ASSERT_EQUAL(net->nodes[i].needs_dx, cases[c].needs[i]);
        }
        dpt_net_destroy(net);
    }
    dpt_registry_destroy(reg);
}

/* The layer keys the host reads itself, "l2" (a number >= 0, default 0) and
 * "activation" (a string naming an activation plugin), get the getters'
 * messages: file and line of the key, the layer, the key, what was expected
 * and what was found. A good l2 covers the layer's weight tensor only. */
static void test_host_layer_keys(void)
{
    struct dpt_err err = {0};
    struct dpt_registry *reg = NULL;
    CU_ASSERT_EQUAL_FATAL(dpt_registry_create(&reg, NULL, &err), 0);
    static const struct {
        const char *layer; /* the second line of the model file */
        const char *msg;
    } bad[] = {
        {"{ type = \"dense\"; units = 4; l2 = \"small\"; }",
         "m.cfg:3: layer 1 (dense): 'l2' must be a number, found a string"},
        {"{ type = \"dense\"; units = 4; l2 = -1; }",
         "m.cfg:3: layer 1 (dense): 'l2' must be at least 0, got -1"},
        {"{ type = \"dense\"; units = 4; l2 = -0.5; }",
         "m.cfg:3: layer 1 (dense): 'l2' must be at least 0, got -0.5"},
        {"{ type = \"dense\"; units = 4; activation = 3; }",
         "m.cfg:3: layer 1 (dense): 'activation' must be a string, found an integer"},
        {"{ type = \"dense\"; units = 4; activation = [ \"relu\" ]; }",
         "m.cfg:3: layer 1 (dense): 'activation' must be a string, found a list"},
    };
    struct dpt_net *net = NULL;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char text[512];
        snprintf(text, sizeof text, "model = {\n layers = (\n %s );\n loss = \"mse\"; "
                 "optimizer = \"sgd\"; };\n", bad[i].layer);
        CU_ASSERT_EQUAL(build(text, reg, 3, &net, &err), DPT_ECONFIG);
        CU_ASSERT_PTR_NULL(net);
        CU_ASSERT_STRING_EQUAL(err.msg, bad[i].msg);
        if (strcmp(err.msg, bad[i].msg) != 0) {
            fprintf(stderr, "case %zu:\n  want: %s\n  got:  %s\n", i, bad[i].msg, err.msg);
        }
    }
    /* A string that names no activation: the look-up's message, at the line
     * of the key. */
    CU_ASSERT(build("model = {\n layers = ( { type = \"dense\"; units = 4;\n activation = "
                    "\"relux\"; } );\n loss = \"mse\"; optimizer = \"sgd\"; };\n",
                    reg, 3, &net, &err) < 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "m.cfg:3: layer 1: no activation plugin named 'relux'"));
    /* An integer l2 is a number; it covers the 4 x 3 weights of the first
     * layer, which start its slice, and not the bias. No key: l2 = 0. */
    CU_ASSERT_EQUAL(build("model = { layers = ( { type = \"dense\"; units = 4; l2 = 2;\n "
                          "activation = \"tanh\"; }, { type = \"dense\"; units = 1; } );\n "
                          "loss = \"mse\"; optimizer = \"sgd\"; };\n",
                          reg, 3, &net, &err),
                    0);
    if (net) {
        CU_ASSERT_EQUAL(net->n_nodes, 3);
        CU_ASSERT_EQUAL(net->nodes[0].l2, 2.0);
        CU_ASSERT_EQUAL(net->nodes[0].l2_off, 0);
        CU_ASSERT_EQUAL(net->nodes[0].l2_len, 12);
        CU_ASSERT_EQUAL(net->nodes[2].l2, 0.0);
    }
    dpt_net_destroy(net);
    dpt_registry_destroy(reg);
}

int main(void)
{
    if (CU_initialize_registry() != CUE_SUCCESS) {
        return 2;
    }
    CU_pSuite s = CU_add_suite("loader", NULL, NULL);
    CU_add_test(s, "built-in plugins are found", test_builtins_found);
    CU_add_test(s, "wrong ABI major is refused, naming file and versions", test_bad_abi);
    CU_add_test(s, "a file without dpt_plugins is refused", test_no_symbol);
    CU_add_test(s, "a missing path entry is an error", test_missing_file);
    CU_add_test(s, "one name further down the path is shadowed", test_duplicate_name_shadowed);
    CU_add_test(s, "one name twice in one folder: both files named",
                test_duplicate_name_one_place);
    CU_add_test(s, "scanned folders list rejected files", test_scanned_dir_rejects);
    CU_add_test(s, "a failing create() reports its message", test_create_failure);
    CU_add_test(s, "host parameter checks name file, line and key", test_host_parameter_errors);
    CU_add_test(s, "backward gets dx only after a layer that trains", test_dx_only_where_needed);
    CU_add_test(s, "a layer's l2 and activation keys: the host's checks and messages",
                test_host_layer_keys);
    return test_run_all();
}
