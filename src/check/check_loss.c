/* Activations and losses as layers without parameters, so that they get
 * every check a layer gets (check_layer.c):
 *
 *   - an activation on samples of shape [..., C] is a layer whose forward
 *     is the activation on rows = B * prod(other dims) rows of C columns,
 *     as the host calls it;
 *   - a loss with fixed targets is a layer from pred [n_out] to [1] whose
 *     output row 0 holds the loss summed over the B rows (the others 0), and
 *     whose backward is forward_backward with scale = dy[0]: the derivative
 *     of dy[0] * loss, added into dpred, which is the loss's contract.
 */
#include "config.h"

#include "check/subject.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The adapter's instance: the plugin's instance and how to call it. */
struct adapted {
    const struct dpt_activation_plugin *act; /* one of act and loss */
    const struct dpt_loss_plugin *loss;
    void *st;
    size_t rows, cols;    /* activation: rows per sample, columns */
    size_t n_out, y_cols; /* loss: outputs and target columns per row */
    const float *targets; /* loss: 3 rows of targets (the largest B) */
};

static void adapted_destroy(void *state)
{
    struct adapted *a = state;
    if (a->act && a->act->destroy) {
        a->act->destroy(a->st);
    }
    if (a->loss && a->loss->destroy) {
        a->loss->destroy(a->st);
    }
    free(a);
}

static void act_forward(const void *state, const float *params, const float *x, float *y,
                        const struct dpt_batch *b)
{
    (void)params;
    const struct adapted *a = state;
    a->act->forward(a->st, x, y, b->B * a->rows, a->cols);
}

static void act_backward(const void *state, const float *params, const float *x,
                         const float *y, const float *dy, float *dx, float *dparams,
                         const struct dpt_batch *b)
{
    (void)params, (void)dparams;
    const struct adapted *a = state;
    if (dx) {
        a->act->backward(a->st, x, y, dy, dx, b->B * a->rows, a->cols);
    }
}

static void loss_forward(const void *state, const float *params, const float *x, float *y,
                         const struct dpt_batch *b)
{
    (void)params;
    const struct adapted *a = state;
    double sum = a->loss->forward_backward(a->st, x, a->targets, NULL, b->B, a->n_out,
                                           a->y_cols, 1.0f);
    y[0] = (float)sum;
    for (size_t i = 1; i < b->B; i++) {
        y[i] = 0.0f;
    }
}

static void loss_backward(const void *state, const float *params, const float *x,
                          const float *y, const float *dy, float *dx, float *dparams,
                          const struct dpt_batch *b)
{
    (void)params, (void)y, (void)dparams;
    const struct adapted *a = state;
    if (dx) {
        a->loss->forward_backward(a->st, x, a->targets, dx, b->B, a->n_out, a->y_cols, dy[0]);
    }
}

/* What make needs: the adapter table, the options, the case. */
struct adapter_ctx {
    struct dpt_layer_plugin table;
    const struct dpt_check_options *o;
    struct dpt_shape in;
    struct adapted proto; /* act or loss, and the case's sizes */
};

static int adapted_make(const struct dpt_check_subject *s, uint64_t seed,
                        struct dpt_check_inst *out)
{
    (void)seed; /* nothing to initialize: no parameters */
    const struct adapter_ctx *x = s->ctx;
    memset(out, 0, sizeof *out);
    char what[96];
    snprintf(what, sizeof what, "%s '%s'", x->proto.act ? "activation" : "loss",
             s->base->name);
    dpt_host_init(&out->host, x->o->settings, x->o->settings_name, what);
    struct adapted *a = malloc(sizeof *a);
    if (!a) {
        return DPT_ENOMEM;
    }
    *a = x->proto;
    a->st = NULL;
    int (*create)(void **, const struct dpt_host *) =
        a->act ? a->act->create : a->loss->create;
    int rc = create ? create(&a->st, &out->host.host) : 0;
    if (rc == 0) {
        dpt_check_note_unread(x->o, &out->host);
    }
    if (rc < 0) {
        free(a);
        return rc;
    }
    struct dpt_layer_info info = {.out = x->in};
    if (a->loss) {
        info.out = (struct dpt_shape){.rank = 1, .dims = {1}};
    }
    rc = dpt_check_layer_adopt(&out->c, &x->table, a, &x->in, &info);
    if (rc < 0) {
        adapted_destroy(a);
        out->c.st = NULL;
    }
    return rc;
}

static void adapted_unmake(struct dpt_check_inst *inst)
{
    dpt_check_layer_destroy(&inst->c);
}

/* Makes instance a of the subject and runs the checks; a refusal is
 * reported as refused_check. Returns 1 when checked, 0 refused, or
 * DPT_ENOMEM. */
static int run_case(struct dpt_check_subject *s, struct dpt_check_report *rep,
                    const char *refused_check)
{
    struct dpt_check_inst a;
    int rc = adapted_make(s, 42, &a);
    if (rc == DPT_ENOMEM) {
        adapted_unmake(&a);
        return rc;
    }
    if (rc < 0) {
        char check[400];
        snprintf(check, sizeof check, "%.90s refused: %.220s", refused_check, a.host.err.msg);
        dpt_check_pass(rep, s->base, check);
        adapted_unmake(&a);
        return 0;
    }
    rc = dpt_check_subject_run(s, &a, rep);
    adapted_unmake(&a);
    return rc < 0 ? rc : 1;
}

int dpt_check_activation_plugin(const struct dpt_activation_plugin *p,
                                const struct dpt_check_options *o,
                                struct dpt_check_report *rep)
{
    size_t n_shapes;
    const struct dpt_shape *shapes = dpt_check_shapes(o, &n_shapes);
    for (size_t k = 0; k < n_shapes; k++) {
        struct adapter_ctx x = {.o = o, .in = shapes[k]};
        x.table.base = p->base;
        x.table.destroy = adapted_destroy;
        x.table.forward = act_forward;
        x.table.backward = act_backward;
        x.proto.act = p;
        x.proto.rows = 1;
        for (uint32_t j = 0; j + 1 < shapes[k].rank; j++) {
            x.proto.rows *= shapes[k].dims[j];
        }
        x.proto.cols = shapes[k].dims[shapes[k].rank - 1];
        struct dpt_check_subject s = {.base = &p->base, .x = "x", .dx = "dx", .lo = -3,
                                      .hi = 3, .make = adapted_make, .unmake = adapted_unmake,
                                      .ctx = &x};
        char in[64];
        snprintf(s.label, sizeof s.label, "input %s",
                 dpt_check_shape_text(&shapes[k], in, sizeof in));
        int rc = run_case(&s, rep, "create");
        if (rc < 0) {
            return rc;
        }
        if (rc == 0) {
            break; /* create() does not depend on the shape */
        }
    }
    return 0;
}

/* The forms of targets a loss may take; each loss is run on those its
 * check_shape and check_rows accept. */
enum form_kind { FORM_LABELS, FORM_ONE_HOT, FORM_PROBS, FORM_UNIT, FORM_BINARY, FORM_ANY };
static const struct {
    const char *name;
    size_t n_out, y_cols;
    enum form_kind kind;
} forms[] = {
    {"class labels (4 outputs, 1 column)", 4, 1, FORM_LABELS},
    {"one-hot rows (4 outputs)", 4, 4, FORM_ONE_HOT},
    {"probability rows (4 outputs)", 4, 4, FORM_PROBS},
    {"values in [0, 1] (3 outputs)", 3, 3, FORM_UNIT},
    {"0/1 targets (1 output)", 1, 1, FORM_BINARY},
    {"values in [-2, 2] (3 outputs)", 3, 3, FORM_ANY},
};
#define N_FORMS (sizeof forms / sizeof forms[0])
#define TARGET_ROWS 3

static void make_targets(float *t, size_t k)
{
    uint64_t seed = 500 + k;
    size_t n_out = forms[k].n_out, cols = forms[k].y_cols;
    dpt_check_fill(t, TARGET_ROWS * cols, &seed, 0, 1);
    for (size_t i = 0; i < TARGET_ROWS; i++) {
        float *row = t + i * cols;
        double sum = 0;
        for (size_t j = 0; j < cols; j++) {
            sum += row[j];
        }
        for (size_t j = 0; j < cols; j++) {
            switch (forms[k].kind) {
            case FORM_LABELS:
                row[j] = (float)((i * 3 + 1) % n_out);
                break;
            case FORM_ONE_HOT:
                row[j] = j == (i * 3 + 1) % n_out ? 1.0f : 0.0f;
                break;
            case FORM_PROBS:
                row[j] = (float)(row[j] / sum);
                break;
            case FORM_BINARY:
                row[j] = (float)(i % 2);
                break;
            case FORM_ANY:
                row[j] = 4 * row[j] - 2;
                break;
            case FORM_UNIT:
                break;
            }
        }
    }
}

/* Whether the loss takes targets of form k; why not into why. */
static int form_taken(const struct dpt_loss_plugin *p, void *st, size_t k, const float *t,
                      char *why, size_t len)
{
    why[0] = '\0';
    if (p->check_shape(st, forms[k].n_out, forms[k].y_cols, why, len) != 0) {
        return 0;
    }
    return !p->check_rows || p->check_rows(st, t, TARGET_ROWS, forms[k].n_out,
                                           forms[k].y_cols, why, len) < 0;
}

int dpt_check_loss_plugin(const struct dpt_loss_plugin *p, const struct dpt_check_options *o,
                          struct dpt_check_report *rep)
{
    size_t taken = 0;
    for (size_t k = 0; k < N_FORMS; k++) {
        struct adapter_ctx x = {.o = o, .in = {.rank = 1, .dims = {forms[k].n_out}}};
        x.table.base = p->base;
        x.table.base.caps &= ~DPT_CAP_WRITES_DX; /* forward_backward adds into dpred */
        x.table.destroy = adapted_destroy;
        x.table.forward = loss_forward;
        x.table.backward = loss_backward;
        float t[TARGET_ROWS * 4], t_in[TARGET_ROWS * 4];
        make_targets(t, k);
        memcpy(t_in, t, sizeof t);
        x.proto = (struct adapted){.loss = p, .n_out = forms[k].n_out,
                                   .y_cols = forms[k].y_cols, .targets = t};
        /* A fused loss gets logits; another gets values inside (0, 1), where
         * a loss of probabilities is defined. */
        int fused = p->fused_activation != NULL;
        struct dpt_check_subject s = {.base = &p->base, .x = "pred", .dx = "dpred",
                                      .lo = fused ? -2 : 0.05, .hi = fused ? 2 : 0.95,
                                      .make = adapted_make, .unmake = adapted_unmake,
                                      .ctx = &x};
        snprintf(s.label, sizeof s.label, "targets: %s", forms[k].name);
        struct dpt_check_inst probe;
        int rc = adapted_make(&s, 0, &probe);
        char why[256] = "", check[400];
        int ok = rc == 0 && form_taken(p, ((struct adapted *)probe.c.st)->st, k, t, why,
                                       sizeof why);
        if (rc < 0 && rc != DPT_ENOMEM) {
            snprintf(why, sizeof why, "%.250s", probe.host.err.msg);
        }
        adapted_unmake(&probe);
        if (rc == DPT_ENOMEM) {
            return rc;
        }
        if (!ok) {
            snprintf(check, sizeof check, "%s refused: %s", s.label, why);
            dpt_check_pass(rep, &p->base, check);
            continue;
        }
        taken++;
        rc = run_case(&s, rep, s.label);
        if (rc < 0) {
            return rc;
        }
        if (memcmp(t, t_in, sizeof t) != 0) {
            dpt_check_fail(rep, &p->base, "inputs unchanged", 1,
                           "forward_backward modified the targets y, %s", s.label);
        }
    }
    if (taken == 0) {
        dpt_check_fail(rep, &p->base, "some target form taken", 1,
                       "check_shape or check_rows refused every form of targets tried");
    }
    return 0;
}
