/* Trained-model files (src/io/model_file.c): a network saved with
 * dpt_model_save and read back with dpt_model_load has the same parameters,
 * bit for bit (special values included), the same standardization (float64
 * values exactly, and the float copies recomputed), the same input and
 * output widths and the same model description. Damaged files are refused
 * with a message that names them: a truncated file, a wrong format
 * attribute, a missing tensor, a missing file. */
#include "config.h"

#include "io/model_file.h"
#include "util.h"

#include <CUnit/CUnit.h>
#include <float.h>
#include <hdf5.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define N_IN 5

/* Three entries of model.layers (dense, dropout, dense), two with weights. */
static const char *const model_text =
    "model = { layers = ( { type = \"dense\"; units = 6; activation = \"relu\"; },\n"
    "                     { type = \"dropout\"; rate = 0.25; },\n"
    "                     { type = \"dense\"; units = 3; activation = \"softmax\"; } );\n"
    "          loss = \"cce\";\n"
    "          optimizer = { type = \"adam\"; learning_rate = 0.003; }; };\n"
    "train = { batch = 16; epochs = 2; seed = 7; };\n";

static struct dpt_registry *reg;

static int setup(void)
{
    struct dpt_err err = {0};
    return dpt_registry_create(&reg, NULL, &err) < 0 ? -1 : 0;
}

static int teardown(void)
{
    dpt_registry_destroy(reg);
    return 0;
}

/* A network from model_text with parameters from a seed, a few of them set
 * to values a conversion would change: -0, a subnormal, the largest float,
 * a NaN with a payload. */
static struct dpt_net *build(struct dpt_spec *spec)
{
    struct dpt_err err = {0};
    struct dpt_net *net = NULL;
    if (dpt_spec_parse(spec, model_text, "m.cfg", &err) < 0 ||
        dpt_net_create(&net, spec, reg, &(struct dpt_shape){.rank = 1, .dims = {N_IN}}, &err) < 0) {
        fprintf(stderr, "%s\n", err.msg);
        return NULL;
    }
    dpt_net_init_params(net, 12345);
    uint32_t nan_bits = 0x7fc01234u;
    float nan;
    memcpy(&nan, &nan_bits, sizeof nan);
    net->params[0] = -0.0f;
    net->params[1] = 1e-42f;
    net->params[2] = FLT_MAX;
    net->params[3] = nan;
    return net;
}

/* Standardization of N_IN features and, with yc > 0, of yc targets; the
 * values are not representable in float, so a float round trip would show. */
static void fill_norm(struct dpt_norm *norm, size_t yc)
{
    memset(norm, 0, sizeof *norm);
    CU_ASSERT_EQUAL_FATAL(dpt_norm_alloc_x(norm, N_IN), 0);
    for (size_t i = 0; i < N_IN; i++) {
        norm->mean[i] = (double)i / 3.0 - 0.7;
        norm->std[i] = 1.0 + (double)i / 7.0;
    }
    if (yc) {
        CU_ASSERT_EQUAL_FATAL(dpt_norm_alloc_y(norm, yc), 0);
        for (size_t i = 0; i < yc; i++) {
            norm->y_mean[i] = 100.0 / 3.0 + (double)i;
            norm->y_std[i] = 0.1 * (double)(i + 1);
        }
    }
    dpt_norm_finish(norm);
}

static int same_doubles(const double *a, const double *b, size_t n)
{
    return n == 0 || (a && b && memcmp(a, b, n * sizeof *a) == 0);
}

static int same_floats(const float *a, const float *b, size_t n)
{
    return n == 0 || (a && b && memcmp(a, b, n * sizeof *a) == 0);
}

/* Saves a network with norm, loads it back and compares everything. */
static void round_trip(const char *name, size_t yc, int with_norm)
{
    struct dpt_spec spec;
    struct dpt_net *net = build(&spec);
    CU_ASSERT_PTR_NOT_NULL_FATAL(net);
    struct dpt_norm norm = {0};
    if (with_norm) {
        fill_norm(&norm, yc);
    }
    char path[256];
    test_path(path, sizeof path, name);
    struct dpt_err err = {0};
    CU_ASSERT_EQUAL_FATAL(dpt_model_save(path, net, &spec, &norm, &err), 0);

    struct dpt_spec spec2;
    struct dpt_net *net2 = NULL;
    struct dpt_norm norm2;
    int rc = dpt_model_load(path, reg, &spec2, &net2, &norm2, NULL, &err);
    if (rc < 0) {
        fprintf(stderr, "%s\n", err.msg);
    }
    CU_ASSERT_EQUAL_FATAL(rc, 0);
    CU_ASSERT_EQUAL(net2->n_in, N_IN);
    CU_ASSERT_EQUAL(net2->n_in, net->n_in);
    CU_ASSERT_EQUAL(net2->n_out, net->n_out);
    CU_ASSERT_EQUAL(net2->n_nodes, net->n_nodes);
    CU_ASSERT_EQUAL_FATAL(net2->n_params, net->n_params);
    CU_ASSERT(same_floats(net2->params, net->params, net->n_params));
    for (size_t i = 0; i < net->n_nodes && i < net2->n_nodes; i++) {
        const struct dpt_node *a = &net->nodes[i], *b = &net2->nodes[i];
        const struct dpt_plugin *pa = a->layer ? &a->layer->base : &a->act->base;
        const struct dpt_plugin *pb = b->layer ? &b->layer->base : &b->act->base;
        CU_ASSERT(a->kind == b->kind && pa == pb && a->layer_index == b->layer_index);
    }
    CU_ASSERT_PTR_EQUAL(net2->loss, net->loss);
    CU_ASSERT_PTR_EQUAL(net2->opt, net->opt);

    char *text = dpt_spec_to_string(&spec), *text2 = dpt_spec_to_string(&spec2);
    CU_ASSERT_FATAL(text && text2);
    CU_ASSERT_STRING_EQUAL(text2, text);
    CU_ASSERT_PTR_NOT_NULL(strstr(text2, "0.003")); /* it is the description we wrote */

    CU_ASSERT_EQUAL(norm2.f, norm.f);
    CU_ASSERT_EQUAL(norm2.yc, norm.yc);
    CU_ASSERT(same_doubles(norm2.mean, norm.mean, norm.f));
    CU_ASSERT(same_doubles(norm2.std, norm.std, norm.f));
    CU_ASSERT(same_floats(norm2.mean_f, norm.mean_f, norm.f));
    CU_ASSERT(same_floats(norm2.inv_std_f, norm.inv_std_f, norm.f));
    CU_ASSERT(same_doubles(norm2.y_mean, norm.y_mean, norm.yc));
    CU_ASSERT(same_doubles(norm2.y_std, norm.y_std, norm.yc));
    CU_ASSERT(same_floats(norm2.y_mean_f, norm.y_mean_f, norm.yc));
    CU_ASSERT(same_floats(norm2.y_inv_std_f, norm.y_inv_std_f, norm.yc));
    free(text);
    free(text2);
    dpt_norm_cleanup(&norm2);
    dpt_net_destroy(net2);
    dpt_spec_cleanup(&spec2);
    dpt_norm_cleanup(&norm);
    dpt_net_destroy(net);
    dpt_spec_cleanup(&spec);
}

static void test_round_trip(void)
{
    round_trip("model.h5", 0, 1);
}

static void test_round_trip_y(void)
{
    round_trip("model_y.h5", 3, 1);
}

static void test_round_trip_no_norm(void)
{
    round_trip("model_plain.h5", 0, 0);
}

/* Saves the test network to `name` under the temporary folder. */
static void save_model(const char *name, char *path, size_t len)
{
    struct dpt_spec spec;
    struct dpt_net *net = build(&spec);
    CU_ASSERT_PTR_NOT_NULL_FATAL(net);
    struct dpt_norm norm;
    fill_norm(&norm, 0);
    struct dpt_err err = {0};
    test_path(path, len, name);
    CU_ASSERT_EQUAL(dpt_model_save(path, net, &spec, &norm, &err), 0);
    dpt_norm_cleanup(&norm);
    dpt_net_destroy(net);
    dpt_spec_cleanup(&spec);
}

/* Loads path, which must fail; the message must name the file and contain
 * `what`. */
static void expect_refused(const char *path, const char *what)
{
    struct dpt_spec spec;
    struct dpt_net *net = NULL;
    struct dpt_norm norm;
    struct dpt_err err = {0};
    CU_ASSERT(dpt_model_load(path, reg, &spec, &net, &norm, NULL, &err) < 0);
    CU_ASSERT_PTR_NULL(net);
    CU_ASSERT_EQUAL(norm.f, 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, path));
    CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, what));
    if (!strstr(err.msg, path) || !strstr(err.msg, what)) {
        fprintf(stderr, "message: %s\n", err.msg);
    }
    dpt_spec_cleanup(&spec);
}

static void test_truncated(void)
{
    char good[256], cut[256];
    save_model("whole.h5", good, sizeof good);
    test_path(cut, sizeof cut, "truncated.h5");
    FILE *in = fopen(good, "rb"), *out = fopen(cut, "wb");
    CU_ASSERT_FATAL(in && out);
    char buf[65536];
    size_t n = fread(buf, 1, sizeof buf, in);
    CU_ASSERT_FATAL(n > 1024 && n < sizeof buf); /* the whole file, a few KB */
    CU_ASSERT_EQUAL(fwrite(buf, 1, n / 2, out), n / 2);
    fclose(in);
    fclose(out);
    expect_refused(cut, "truncated");
}

/* Replaces the root attribute "format" of the file at path. */
static void set_format(const char *path, const char *value)
{
    hid_t f = H5Fopen(path, H5F_ACC_RDWR, H5P_DEFAULT);
    CU_ASSERT_FATAL(f >= 0);
    CU_ASSERT(H5Adelete(f, "format") >= 0);
    hid_t t = H5Tcopy(H5T_C_S1);
    H5Tset_size(t, H5T_VARIABLE);
    hid_t sp = H5Screate(H5S_SCALAR);
    hid_t a = H5Acreate2(f, "format", t, sp, H5P_DEFAULT, H5P_DEFAULT);
    CU_ASSERT(a >= 0 && H5Awrite(a, t, &value) >= 0);
    H5Aclose(a);
    H5Sclose(sp);
    H5Tclose(t);
    H5Fclose(f);
}

static void test_wrong_format(void)
{
    char path[256];
    save_model("predictions.h5", path, sizeof path);
    set_format(path, "dptrain-predictions");
    expect_refused(path, "not a dptrain model file");
}

static void test_missing_tensor(void)
{
    char path[256];
    save_model("no_bias.h5", path, sizeof path);
    hid_t f = H5Fopen(path, H5F_ACC_RDWR, H5P_DEFAULT);
    CU_ASSERT_FATAL(f >= 0);
    CU_ASSERT(H5Ldelete(f, "/layers/02_dense/bias", H5P_DEFAULT) >= 0);
    H5Fclose(f);
    expect_refused(path, "/layers/02_dense/bias");
}

static void test_missing_file(void)
{
    char path[256];
    test_path(path, sizeof path, "never_written.h5");
    expect_refused(path, "No such file");
}

int main(void)
{
    if (CU_initialize_registry() != CUE_SUCCESS) {
        return 2;
    }
    CU_pSuite s = CU_add_suite("model file", setup, teardown);
    CU_add_test(s, "round trip: parameters bitwise, standardization, shape, description",
                test_round_trip);
    CU_add_test(s, "round trip with target standardization", test_round_trip_y);
    CU_add_test(s, "round trip without standardization", test_round_trip_no_norm);
    CU_pSuite bad = CU_add_suite("damaged files are refused, naming the file", setup, teardown);
    CU_add_test(bad, "a truncated file", test_truncated);
    CU_add_test(bad, "a wrong format attribute", test_wrong_format);
    CU_add_test(bad, "a missing tensor", test_missing_tensor);
    CU_add_test(bad, "a missing file", test_missing_file);
    return test_run_all();
}
