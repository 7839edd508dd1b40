/* Optimizer checks: N_PARAMS parameters stepped N_STEPS times with random
 * gradients (lr_scale 1, then 0.5 for the last two steps), on guarded
 * buffers whose state arrays are ld = N_PARAMS + 3 apart (the padding
 * must stay untouched). Every optimizer: finite, repeatable, elementwise
 * (two ranges stepped apart give the bits of one call), thread safe,
 * gradient unchanged, writes inside its buffers. The built-ins also
 * against formulas written here in double (Keras' documentation of each
 * optimizer), with their defaults and with other settings.
 */
#include "config.h"

#include "check/subject.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define N_PARAMS 37
#define N_STEPS 5
#define PAD 3
#define MAX_STATE 16
/* Reference error: |plugin - reference| / (|reference move| + 1e-4 max(1, |p0|)),
 * which float rounding over 5 steps keeps below 1e-2 and a wrong formula
 * (a missing bias correction, a factor) puts near 1. */
#define OPT_TOL 2e-2

static float lr_scale_at(int t)
{
    return t <= 3 ? 1.0f : 0.5f;
}

/* What one run of N_STEPS steps did. */
struct opt_trace {
    float p[N_STEPS + 1][N_PARAMS]; /* params before step 1 and after each step */
    int nonfinite_step;             /* first step that produced NaN or Inf (0: none) */
    int guard_broken, grad_modified, pad_written;
};

/* Runs N_STEPS steps of instance st; split: in two calls per step, over
 * [0, 20) and [20, N_PARAMS). 0 or DPT_ENOMEM. */
static int run_steps(const struct dpt_optimizer_plugin *o, const void *st, int split,
                     struct opt_trace *tr)
{
    memset(tr, 0, sizeof *tr);
    uint32_t k = o->state_floats(st);
    size_t ld = N_PARAMS + PAD;
    float *p = dpt_check_floats(N_PARAMS), *g = dpt_check_floats(N_PARAMS);
    float *g_in = dpt_check_floats(N_PARAMS), *s = dpt_check_floats(k * ld);
    int rc = p && g && g_in && (s || k == 0) ? 0 : DPT_ENOMEM;
    uint64_t seed = 700;
    if (rc == 0) {
        dpt_check_fill(p, N_PARAMS, &seed, -1, 1);
        memcpy(tr->p[0], p, sizeof tr->p[0]);
    }
    for (int t = 1; rc == 0 && t <= N_STEPS; t++) {
        seed = 600 + (uint64_t)t;
        dpt_check_fill(g, N_PARAMS, &seed, -1, 1);
        memcpy(g_in, g, N_PARAMS * sizeof *g);
        if (split) {
            o->step(st, p, g, s, ld, 20, (uint64_t)t, lr_scale_at(t));
            o->step(st, p + 20, g + 20, s ? s + 20 : NULL, ld, N_PARAMS - 20, (uint64_t)t,
                    lr_scale_at(t));
        } else {
            o->step(st, p, g, s, ld, N_PARAMS, (uint64_t)t, lr_scale_at(t));
        }
        memcpy(tr->p[t], p, sizeof tr->p[t]);
        tr->guard_broken |= !dpt_check_intact(p) || !dpt_check_intact(g) ||
                            (s && !dpt_check_intact(s));
        tr->grad_modified |= memcmp(g, g_in, N_PARAMS * sizeof *g) != 0;
        for (size_t j = 0; j < k; j++) {
            for (size_t i = 0; i < ld; i++) {
                float v = s[j * ld + i];
                tr->pad_written |= i >= N_PARAMS && v != 0.0f;
                if (!isfinite(v) && !tr->nonfinite_step) {
                    tr->nonfinite_step = t;
                }
            }
        }
        for (size_t i = 0; i < N_PARAMS && !tr->nonfinite_step; i++) {
            tr->nonfinite_step = isfinite(p[i]) ? 0 : t;
        }
    }
    dpt_check_free(p), dpt_check_free(g), dpt_check_free(g_in), dpt_check_free(s);
    return rc;
}

/* ---------- The built-ins' formulas, in double ---------- */

struct ref {
    const char *name;
    double lr, momentum, wd, beta1, beta2, eps, rho, initial;
    int nesterov, centered;
};

/* Reads the settings as the built-in does, with the defaults it
 * documents (written here, not taken from it). 1 for a built-in. */
static int ref_settings(const char *name, struct dpt_host *h, struct ref *r)
{
    *r = (struct ref){.name = name};
    void *c = h->ctx;
    int ok = 0;
    if (strcmp(name, "sgd") == 0) {
        ok = h->get_float(c, "learning_rate", 0.01, 0, 1e6, &r->lr) == 0 &&
             h->get_float(c, "momentum", 0, 0, 1, &r->momentum) == 0 &&
             h->get_bool(c, "nesterov", 0, &r->nesterov) == 0 &&
             h->get_float(c, "weight_decay", 0, 0, 1e6, &r->wd) == 0;
    } else if (strcmp(name, "adam") == 0 || strcmp(name, "adamw") == 0) {
        ok = h->get_float(c, "learning_rate", 0.001, 0, 1e6, &r->lr) == 0 &&
             h->get_float(c, "beta1", 0.9, 0, 1, &r->beta1) == 0 &&
             h->get_float(c, "beta2", 0.999, 0, 1, &r->beta2) == 0 &&
             h->get_float(c, "epsilon", 1e-7, 0, 1e6, &r->eps) == 0 &&
             h->get_float(c, "weight_decay", name[4] ? 0.004 : 0, 0, 1e6, &r->wd) == 0;
    } else if (strcmp(name, "rmsprop") == 0) {
        ok = h->get_float(c, "learning_rate", 0.001, 0, 1e6, &r->lr) == 0 &&
             h->get_float(c, "rho", 0.9, 0, 1, &r->rho) == 0 &&
             h->get_float(c, "momentum", 0, 0, 1, &r->momentum) == 0 &&
             h->get_float(c, "epsilon", 1e-7, 0, 1e6, &r->eps) == 0 &&
             h->get_bool(c, "centered", 0, &r->centered) == 0 &&
             h->get_float(c, "weight_decay", 0, 0, 1e6, &r->wd) == 0;
    } else if (strcmp(name, "adagrad") == 0) {
        ok = h->get_float(c, "learning_rate", 0.001, 0, 1e6, &r->lr) == 0 &&
             h->get_float(c, "initial_accumulator_value", 0.1, 0, 1e6, &r->initial) == 0 &&
             h->get_float(c, "epsilon", 1e-7, 0, 1e6, &r->eps) == 0 &&
             h->get_float(c, "weight_decay", 0, 0, 1e6, &r->wd) == 0;
    }
    return ok;
}

/* One step of one parameter p with gradient g0 and state s[3] (zero
 * before step 1). */
static void ref_step(const struct ref *r, double *p, double g0, double s[3], int t, double lr)
{
    double g = g0 + r->wd * *p;
    if (r->name[0] == 's') { /* sgd: v = mu v + g; p -= lr (g + mu v) or lr v */
        s[0] = r->momentum * s[0] + g;
        *p -= lr * (r->momentum == 0 ? g : r->nesterov ? g + r->momentum * s[0] : s[0]);
    } else if (strncmp(r->name, "adam", 4) == 0) {
        if (r->name[4]) {
            g = g0; /* AdamW: the decay is decoupled from the moments */
        }
        s[0] = r->beta1 * s[0] + (1 - r->beta1) * g;
        s[1] = r->beta2 * s[1] + (1 - r->beta2) * g * g;
        double m_hat = s[0] / (1 - pow(r->beta1, t)), v_hat = s[1] / (1 - pow(r->beta2, t));
        *p -= lr * (m_hat / (sqrt(v_hat) + r->eps) + (r->name[4] ? r->wd * *p : 0));
    } else if (r->name[0] == 'r') { /* rmsprop, as Keras' */
        s[0] = r->rho * s[0] + (1 - r->rho) * g * g;
        double d = s[0];
        if (r->centered) {
            s[2] = r->rho * s[2] + (1 - r->rho) * g;
            d = fmax(s[0] - s[2] * s[2], 0);
        }
        double u = lr * g / sqrt(d + r->eps);
        s[1] = r->momentum * s[1] + u;
        *p -= r->momentum > 0 ? s[1] : u;
    } else { /* adagrad: the accumulator starts at initial_accumulator_value */
        s[0] += g * g;
        *p -= lr * g / sqrt(s[0] + r->initial + r->eps);
    }
}

/* The worst error of trace tr against the reference; where into *at and
 * *step, the reference's value there into *want. */
static double ref_error(const struct ref *r, const struct opt_trace *tr, size_t *at, int *step,
                        double *want)
{
    float g[N_STEPS + 1][N_PARAMS];
    for (int t = 1; t <= N_STEPS; t++) {
        uint64_t seed = 600 + (uint64_t)t;
        dpt_check_fill(g[t], N_PARAMS, &seed, -1, 1);
    }
    double worst = 0;
    for (size_t i = 0; i < N_PARAMS; i++) {
        double p0 = tr->p[0][i], p = p0, s[3] = {0, 0, 0};
        for (int t = 1; t <= N_STEPS; t++) {
            ref_step(r, &p, g[t][i], s, t, r->lr * lr_scale_at(t));
            double err = fabs(tr->p[t][i] - p) / (fabs(p - p0) + 1e-4 * fmax(1, fabs(p0)));
            if (!(err <= worst)) {
                worst = isnan(err) ? INFINITY : err;
                *at = i;
                *step = t;
                *want = p;
            }
        }
    }
    return worst;
}

/* ---------- The checks ---------- */

static size_t traces_differ(const struct opt_trace *a, const struct opt_trace *b, int exact)
{
    size_t bad = 0;
    for (int t = 0; t <= N_STEPS; t++) {
        for (size_t i = 0; i < N_PARAMS; i++) {
            float x = a->p[t][i], y = b->p[t][i];
            bad += exact ? memcmp(&x, &y, sizeof x) != 0
                         : !(fabs((double)x - y) <= 1e-6 * fmax(1.0, fabs((double)x)));
        }
    }
    return bad;
}

static void verdict(struct dpt_check_report *rep, const struct dpt_plugin *p, const char *check,
                    int bad, const char *label, const char *what)
{
    if (bad) {
        dpt_check_fail(rep, p, check, 1, "%s, %s", what, label);
    } else {
        dpt_check_pass(rep, p, check);
    }
}

/* Every check of instance st (settings described by label); r is the
 * reference for a built-in, else NULL. 0 or DPT_ENOMEM. */
static int check_instance(const struct dpt_optimizer_plugin *o, const void *st,
                          const struct ref *r, const char *label, struct dpt_check_report *rep)
{
    const struct dpt_plugin *p = &o->base;
    uint32_t k = o->state_floats(st);
    if (k > MAX_STATE) {
        dpt_check_fail(rep, p, "state_floats", 1, "%u state floats per parameter (at most %d "
                       "expected), %s", k, MAX_STATE, label);
        return 0;
    }
    struct opt_trace tr[3 + 4]; /* one, again, split, then one per thread */
    int rc = run_steps(o, st, 0, &tr[0]);
    rc = rc ? rc : run_steps(o, st, 0, &tr[1]);
    rc = rc ? rc : run_steps(o, st, 1, &tr[2]);
    int failed[4] = {0};
#pragma omp parallel for num_threads(4) schedule(static, 1)
    for (int j = 0; j < 4; j++) {
        failed[j] = rc == 0 && run_steps(o, st, 0, &tr[3 + j]) < 0;
    }
    if (rc < 0 || failed[0] || failed[1] || failed[2] || failed[3]) {
        return DPT_ENOMEM;
    }
    int exact = (p->caps & DPT_CAP_DETERMINISTIC) != 0;
    char what[160];
    snprintf(what, sizeof what, "step %d produced NaN or Inf from finite inputs",
             tr[0].nonfinite_step);
    verdict(rep, p, "finite updates", tr[0].nonfinite_step != 0, label, what);
    verdict(rep, p, "deterministic", traces_differ(&tr[0], &tr[1], exact) != 0, label,
            "two runs with the same inputs give different parameters");
    verdict(rep, p, "elementwise (ranges stepped apart)",
            traces_differ(&tr[0], &tr[2], exact) != 0, label,
            "stepping [0, 20) and [20, 37) in two calls differs from one call over all 37");
    size_t threads_bad = 0;
    for (int j = 0; j < 4; j++) {
        threads_bad += traces_differ(&tr[0], &tr[3 + j], exact);
    }
    verdict(rep, p, "thread safe", threads_bad != 0, label,
            "4 threads stepping their own buffers at once differ from one thread");
    verdict(rep, p, "gradient unchanged", tr[0].grad_modified, label, "step modified grad");
    verdict(rep, p, "writes stay inside buffers", tr[0].guard_broken || tr[0].pad_written,
            label, tr[0].guard_broken ? "step wrote outside params, grad or ostate"
                                      : "step wrote into the padding between state arrays");
    if (r) {
        size_t at = 0;
        int step = 0;
        double want = 0;
        double err = ref_error(r, &tr[0], &at, &step, &want);
        char check[200];
        snprintf(check, sizeof check, "matches the formula (%s)", label);
        if (err > OPT_TOL) {
            dpt_check_fail(rep, p, check, err, "relative error %.3g at params[%zu] after step "
                           "%d (plugin %.9g, formula %.9g in double)", err, at, step,
                           tr[0].p[step][at], want);
        } else {
            dpt_check_pass(rep, p, check);
        }
    }
    return 0;
}

/* Settings other than the defaults for each built-in, so that the formula
 * is checked with every term on. */
static const char *other_settings(const char *name)
{
    static const struct {
        const char *name, *text;
    } other[] = {
        {"sgd", "learning_rate = 0.1; momentum = 0.9; nesterov = true; weight_decay = 0.01;"},
        {"adam", "learning_rate = 0.01; beta1 = 0.8; beta2 = 0.99; epsilon = 1e-5; "
                 "weight_decay = 0.01;"},
        {"adamw", "learning_rate = 0.01; beta1 = 0.8; beta2 = 0.99; weight_decay = 0.1;"},
        {"rmsprop", "learning_rate = 0.01; rho = 0.8; momentum = 0.5; centered = true; "
                    "weight_decay = 0.01;"},
        {"adagrad", "learning_rate = 0.1; initial_accumulator_value = 0.5; epsilon = 1e-4; "
                    "weight_decay = 0.01;"},
    };
    for (size_t i = 0; i < sizeof other / sizeof other[0]; i++) {
        if (strcmp(other[i].name, name) == 0) {
            return other[i].text;
        }
    }
    return NULL;
}

/* Creates the optimizer with settings group g and checks it; notes keys
 * of g left unread in note->unread unless note is NULL. */
static int check_settings(const struct dpt_optimizer_plugin *o, const config_setting_t *g,
                          const char *source, const char *label,
                          const struct dpt_check_options *note, struct dpt_check_report *rep)
{
    struct dpt_host_ctx host, ref_host;
    char what[96];
    snprintf(what, sizeof what, "optimizer '%s'", o->base.name);
    dpt_host_init(&host, g, source, what);
    dpt_host_init(&ref_host, g, source, what);
    void *st = NULL;
    if (o->create(&st, &host.host) < 0) {
        char check[400];
        snprintf(check, sizeof check, "create refused (%.100s): %.200s", label, host.err.msg);
        dpt_check_pass(rep, &o->base, check);
        return 1;
    }
    if (note) {
        dpt_check_note_unread(note, &host);
    }
    struct ref r;
    int builtin = ref_settings(o->base.name, &ref_host.host, &r);
    int rc = check_instance(o, st, builtin ? &r : NULL, label, rep);
    o->destroy(st);
    return rc;
}

int dpt_check_optimizer_plugin(const struct dpt_optimizer_plugin *o,
                               const struct dpt_check_options *opt,
                               struct dpt_check_report *rep)
{
    int rc = check_settings(o, opt->settings, opt->settings_name,
                            opt->settings ? "settings as given" : "default settings", opt, rep);
    int refused = rc == 1;
    const char *text = other_settings(o->base.name);
    if (rc >= 0 && !opt->settings && text) {
        config_t cfg;
        config_init(&cfg);
        if (!config_read_string(&cfg, text)) {
            config_destroy(&cfg);
            return DPT_EINVAL; /* the table above is wrong */
        }
        char label[160];
        snprintf(label, sizeof label, "settings %s", text);
        rc = check_settings(o, config_root_setting(&cfg), "check-plugin", label, NULL, rep);
        refused = refused && rc == 1;
        config_destroy(&cfg);
    }
    if (refused) {
        dpt_check_fail(rep, &o->base, "created", 1,
                       "create() refused the settings; give the ones it needs with --set");
    }
    return rc < 0 ? rc : 0;
}
