/* Model-file tests: syntax errors with lines, unknown keys, defaults,
 * --set overrides, relative data paths. */
#include "config.h"

#include "model/spec.h"
#include "util.h"

#include <CUnit/CUnit.h>
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
    CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "only single values"));
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

int main(void)
{
    if (CU_initialize_registry() != CUE_SUCCESS) {
        return 2;
    }
    CU_pSuite s = CU_add_suite("config", NULL, NULL);
    CU_add_test(s, "a good model file and its defaults", test_good_file_and_defaults);
    CU_add_test(s, "--set overrides", test_set_overrides);
    CU_add_test(s, "errors name file and line", test_errors_name_line);
    return test_run_all();
}
