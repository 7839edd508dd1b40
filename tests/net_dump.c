/* Runs one training and one evaluation micro-shard of a tiny model through
 * dpt_net_train_micro and dpt_net_eval_micro, and prints the inputs, the
 * parameters and every result for tests/net_numpy.py, which recomputes them
 * independently with numpy in float64 (tests/net_matches_numpy.sh runs the
 * two).
 *
 *     net_dump cce|bce|mse > dump.txt
 *
 * The models (3 inputs, 6 rows) are the ones net_numpy.py describes:
 *   cce: dense(4) relu, dense(3) softmax; loss cce on class labels
 *   bce: dense(4) tanh, dense(1) sigmoid; loss bce on 0/1 targets
 *   mse: dense(4), a { type = "sigmoid"; } entry, dense(2); loss mse on (6, 2) targets
 *
 * Output: one line per array, "name rows cols v0 v1 ...", floats printed with
 * 9 significant digits (exact for float32) and doubles with 17. The gradient
 * buffer and the hit count are filled with known values before the call, so
 * the reference can check that they are added to, not overwritten.
 */
#include "config.h"

#include "model/net.h"
#include "model/spec.h"
#include "plugin/registry.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define N_IN 3
#define B 6

struct model {
    const char *name;
    const char *text; /* the model section */
    size_t y_cols;
};

static const struct model models[] = {
    {"cce",
     "model = { layers = ( { type = \"dense\"; units = 4; activation = \"relu\"; },\n"
     "                     { type = \"dense\"; units = 3; activation = \"softmax\"; } );\n"
     "          loss = \"cce\"; optimizer = \"sgd\"; };\n",
     1},
    {"bce",
     "model = { layers = ( { type = \"dense\"; units = 4; activation = \"tanh\"; },\n"
     "                     { type = \"dense\"; units = 1; activation = \"sigmoid\"; } );\n"
     "          loss = \"bce\"; optimizer = \"sgd\"; };\n",
     1},
    {"mse",
     "model = { layers = ( { type = \"dense\"; units = 4; }, { type = \"sigmoid\"; },\n"
     "                     { type = \"dense\"; units = 2; } );\n"
     "          loss = \"mse\"; optimizer = \"sgd\"; };\n",
     2},
};

static void dump(const char *name, const float *v, size_t rows, size_t cols)
{
    printf("%s %zu %zu", name, rows, cols);
    for (size_t i = 0; i < rows * cols; i++) {
        printf(" %.9g", v[i]);
    }
    printf("\n");
}

static void dump_scalar(const char *name, double v)
{
    printf("%s 1 1 %.17g\n", name, v);
}

/* Targets for the model: labels 0..2 (cce), 0/1 (bce) or numbers (mse). */
static void fill_targets(const struct model *m, float *y)
{
    for (size_t i = 0; i < B * m->y_cols; i++) {
        if (strcmp(m->name, "cce") == 0) {
            y[i] = (float)((i * 2 + 1) % 3);
        } else if (strcmp(m->name, "bce") == 0) {
            y[i] = (float)(i % 2);
        } else {
            y[i] = (float)((int)(i * 13 % 11) - 5) / 5.0f;
        }
    }
}

/* Runs the two passes and prints everything; returns 0 or 1. */
static int run(const struct model *m, const struct dpt_registry *reg)
{
    struct dpt_err err = {0};
    struct dpt_spec spec;
    struct dpt_net *net = NULL;
    struct dpt_work *w = NULL;
    float *dparams = NULL;
    int status = 1;
    if (dpt_spec_parse(&spec, m->text, "net.cfg", &err) < 0 ||
        dpt_net_create(&net, &spec, reg, &(struct dpt_shape){.rank = 1, .dims = {N_IN}}, &err) < 0 ||
        dpt_work_create(&w, net, 8, &err) < 0) {
        fprintf(stderr, "net_dump: %s\n", err.msg);
        goto done;
    }
    dparams = malloc(net->n_params * sizeof *dparams);
    if (!dparams) {
        goto done;
    }
    /* Known values, none of them zero, on every float of the buffer: the
     * padding between slices too (the reference knows where it is). */
    for (size_t j = 0; j < net->n_params; j++) {
        net->params[j] = (float)((int)(j * 29 % 23) - 11) / 20.0f + 0.01f;
        dparams[j] = 1.0f + (float)j / 64.0f;
    }
    float x[B * N_IN], y[B * 2], pred[B * 3];
    for (size_t i = 0; i < B * N_IN; i++) {
        x[i] = (float)((int)(i * 37 % 19) - 9) / 7.0f;
    }
    fill_targets(m, y);
    printf("case 1 1 %s\n", m->name);
    dump("x", x, B, N_IN);
    dump("y", y, B, m->y_cols);
    dump("params", net->params, 1, net->n_params);
    dump("dparams_before", dparams, 1, net->n_params);

    const float scale = 0.25f;
    size_t correct = 3;
    struct dpt_micro_info mi = {.seed = 1, .epoch = 0, .step = 0, .first_sample = 0};
    double loss = dpt_net_train_micro(net, w, x, y, m->y_cols, B, scale, dparams, &correct, &mi, NULL);
    dump_scalar("scale", scale);
    dump_scalar("correct_before", 3);
    dump_scalar("train_loss", loss);
    dump_scalar("train_correct", (double)correct);
    dump("dparams_after", dparams, 1, net->n_params);

    correct = 0;
    loss = dpt_net_eval_micro(net, w, x, y, m->y_cols, B, pred, &correct);
    dump_scalar("eval_loss", loss);
    dump_scalar("eval_correct", (double)correct);
    dump("eval_pred", pred, B, net->n_out);
    /* Without targets: no loss, the same predictions. */
    memset(pred, 0, sizeof pred);
    loss = dpt_net_eval_micro(net, w, x, NULL, m->y_cols, B, pred, NULL);
    dump_scalar("eval_loss_no_y", loss);
    dump("eval_pred_no_y", pred, B, net->n_out);
    status = 0;
done:
    free(dparams);
    dpt_work_destroy(w);
    dpt_net_destroy(net);
    dpt_spec_cleanup(&spec);
    return status;
}

int main(int argc, char **argv)
{
    const struct model *m = NULL;
    for (size_t i = 0; argc == 2 && i < sizeof models / sizeof models[0]; i++) {
        if (strcmp(argv[1], models[i].name) == 0) {
            m = &models[i];
        }
    }
    if (!m) {
        fprintf(stderr, "usage: net_dump cce|bce|mse\n");
        return 2;
    }
    struct dpt_err err = {0};
    struct dpt_registry *reg = NULL;
    if (dpt_registry_create(&reg, NULL, &err) < 0) {
        fprintf(stderr, "net_dump: %s\n", err.msg);
        return 1;
    }
    int status = run(m, reg);
    dpt_registry_destroy(reg);
    return status;
}
