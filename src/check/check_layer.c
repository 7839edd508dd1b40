/* The checks every subject gets (gradients, contracts, threads,
 * instances), and those of layer plugins: shapes and parameter tensors.
 * See check.h for the list and subject.h for what a subject is. */
#include "config.h"

#include "check/subject.h"
#include "model/net.h"
#include "plugin/guard.h"
#include "util/util.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* B = 1 (the host's smallest micro-shard), an even and an odd B. */
static const size_t batch_sizes[] = {1, 2, 3};
#define N_BATCH_SIZES (sizeof batch_sizes / sizeof batch_sizes[0])
/* Threads calling one instance at once in the threads check. */
#define CHECK_THREADS 4

static const struct dpt_shape default_shapes[] = {
    {.rank = 1, .dims = {7}}, {.rank = 2, .dims = {6, 3}}, {.rank = 3, .dims = {5, 4, 3}}};

const struct dpt_shape *dpt_check_shapes(const struct dpt_check_options *o, size_t *n)
{
    if (o->n_shapes > 0) {
        *n = o->n_shapes;
        return o->shapes;
    }
    *n = sizeof default_shapes / sizeof default_shapes[0];
    return default_shapes;
}

/* ---------- Gradients and contracts ---------- */

static void report_fd(const struct dpt_check_subject *s, struct dpt_check_report *rep,
                      const char *name, size_t row_len, const struct dpt_check_fd *fd,
                      size_t B)
{
    char check[96];
    snprintf(check, sizeof check, "gradient %s", name);
    if (!(fd->worst > DPT_CHECK_TOL)) {
        dpt_check_pass(rep, s->base, check);
        dpt_check_count_skipped(rep, s->base, check, fd->kinks, fd->points);
        return;
    }
    dpt_check_count_skipped(rep, s->base, check, fd->kinks, fd->points);
    char at[64];
    if (row_len) {
        snprintf(at, sizeof at, "%s[row %zu][%zu]", name, fd->where / row_len,
                 fd->where % row_len);
    } else {
        snprintf(at, sizeof at, "%s[%zu]", name, fd->where);
    }
    dpt_check_fail(rep, s->base, check, fd->worst,
                   "relative error %.3g at %s (backward %.6g, finite differences %.6g), %s, "
                   "B = %zu", fd->worst, at, fd->analytic, fd->numeric, s->label, B);
}

/* The buffer names of contracts.c in the subject's words. */
static const char *word(const struct dpt_check_subject *s, const char *buf)
{
    return strcmp(buf, "x") == 0 ? s->x : strcmp(buf, "dx") == 0 ? s->dx : buf;
}

static void expect(const struct dpt_check_subject *s, struct dpt_check_report *rep,
                   const char *check, size_t bad, size_t of, const char *what, size_t B)
{
    if (bad == 0) {
        dpt_check_pass(rep, s->base, check);
    } else {
        dpt_check_fail(rep, s->base, check, (double)bad / (double)(of ? of : 1),
                       "%zu of %zu %s, %s, B = %zu", bad, of, what, s->label, B);
    }
}

static void report_contracts(const struct dpt_check_subject *s, struct dpt_check_report *rep,
                             const struct dpt_check_layer *c,
                             const struct dpt_check_contracts *k, size_t B)
{
    size_t nx = B * c->n_in, ny = B * c->n_out, np = c->n_slice;
    char check[96];
    expect(s, rep, "forward writes every output", k->y_unwritten, ny,
           "outputs left unwritten by forward (y filled with NaN before)", B);
    if (np > 0) {
        expect(s, rep, "dparams accumulate (+=)", k->dp_not_added, np,
               "dparams values are not prefill + gradient after backward", B);
        expect(s, rep, "dparams the same without dx", k->dp_without_dx, np,
               "dparams values differ when backward gets dx = NULL", B);
    }
    if (c->p->base.caps & DPT_CAP_WRITES_DX) {
        snprintf(check, sizeof check, "%s fully written (DPT_CAP_WRITES_DX)", s->dx);
        expect(s, rep, check, k->dx_not_added, nx,
               "values differ from a zeroed buffer's when it was filled with NaN before "
               "backward", B);
    } else {
        snprintf(check, sizeof check, "%s accumulates (+=)", s->dx);
        expect(s, rep, check, k->dx_not_added, nx,
               "values are not prefill + gradient after backward", B);
    }
    expect(s, rep, "deterministic", k->y_nondet + k->back_nondet, ny + nx + np,
           "values differ between two calls with the same inputs", B);
    if (k->guard_fn) {
        dpt_check_fail(rep, s->base, "writes stay inside buffers", 1,
                       "%s wrote outside %s, %s, B = %zu", k->guard_fn,
                       word(s, k->guard_buf), s->label, B);
    } else {
        dpt_check_pass(rep, s->base, "writes stay inside buffers");
    }
    if (k->modified_fn) {
        dpt_check_fail(rep, s->base, "inputs unchanged", 1, "%s modified %s, %s, B = %zu",
                       k->modified_fn, word(s, k->modified_buf), s->label, B);
    } else {
        dpt_check_pass(rep, s->base, "inputs unchanged");
    }
    if (k->nonfinite_fn) {
        dpt_check_fail(rep, s->base, "finite outputs", 1,
                       "%s produced NaN or Inf in %s[%zu] from finite inputs, %s, B = %zu",
                       k->nonfinite_fn, word(s, k->nonfinite_buf), k->nonfinite_at, s->label,
                       B);
    } else {
        dpt_check_pass(rep, s->base, "finite outputs");
    }
}

/* ---------- Threads and instances ---------- */

static size_t differ(const float *a, const float *b, size_t n, int exact)
{
    size_t bad = 0;
    for (size_t i = 0; i < n; i++) {
        bad += exact ? memcmp(&a[i], &b[i], sizeof *a) != 0
                     : !(fabs((double)a[i] - b[i]) <= 1e-6 * fmax(1.0, fabs((double)a[i])));
    }
    return bad;
}

/* Outputs of one forward + backward (y, dx, dparams) in one block. */
struct outs {
    float *y, *dx, *dp;
    void *ws;
};

static int outs_alloc(struct outs *o, const struct dpt_check_layer *c, size_t B)
{
    int failed = 0;
    size_t bytes;
    o->y = dpt_check_floats(B * c->n_out);
    o->dx = dpt_check_floats(B * c->n_in);
    o->dp = dpt_check_floats(c->n_slice);
    o->ws = dpt_check_layer_workspace(c, B, &bytes, &failed);
    return o->y && o->dx && o->dp && !failed ? 0 : DPT_ENOMEM;
}

static void outs_free(struct outs *o)
{
    dpt_check_free(o->y), dpt_check_free(o->dx), dpt_check_free(o->dp);
    dpt_check_free(o->ws);
}

static void pass_once(const struct dpt_check_layer *c, struct outs *o, const float *x,
                      const float *dy, size_t B)
{
    memset(o->dx, 0, B * c->n_in * sizeof *o->dx);
    memset(o->dp, 0, c->n_slice * sizeof *o->dp);
    dpt_check_layer_forward_ws(c, o->ws, x, o->y, B, 1);
    dpt_check_layer_backward_ws(c, o->ws, x, o->y, dy, o->dx, o->dp, B);
}

static size_t outs_differ(const struct dpt_check_layer *c, const struct outs *a,
                          const struct outs *b, size_t B)
{
    int exact = (c->p->base.caps & DPT_CAP_DETERMINISTIC) != 0;
    return differ(a->y, b->y, B * c->n_out, exact) + differ(a->dx, b->dx, B * c->n_in, exact) +
           differ(a->dp, b->dp, c->n_slice, exact);
}

/* CHECK_THREADS OpenMP threads run forward + backward on one instance at
 * once, each with its own outputs and workspace, three times each; every
 * result must be the one-thread result. */
static int check_threads(const struct dpt_check_subject *s, const struct dpt_check_layer *c,
                         struct dpt_check_report *rep, size_t B, uint64_t seed)
{
    struct outs one = {0}, t[CHECK_THREADS] = {{0}};
    float *x = dpt_check_floats(B * c->n_in), *dy = dpt_check_floats(B * c->n_out);
    int rc = x && dy ? outs_alloc(&one, c, B) : DPT_ENOMEM;
    for (int k = 0; k < CHECK_THREADS && rc == 0; k++) {
        rc = outs_alloc(&t[k], c, B);
    }
    if (rc == 0) {
        dpt_check_fill(x, B * c->n_in, &seed, s->lo, s->hi);
        dpt_check_fill(dy, B * c->n_out, &seed, -1, 1);
        pass_once(c, &one, x, dy, B);
        size_t bad[CHECK_THREADS] = {0};
#pragma omp parallel for num_threads(CHECK_THREADS) schedule(static, 1)
        for (int k = 0; k < CHECK_THREADS; k++) {
            for (int rep_i = 0; rep_i < 3; rep_i++) {
                pass_once(c, &t[k], x, dy, B);
                bad[k] += outs_differ(c, &one, &t[k], B);
            }
        }
        size_t total = 0;
        for (int k = 0; k < CHECK_THREADS; k++) {
            total += bad[k];
        }
        expect(s, rep, "thread safe", total,
               3 * CHECK_THREADS * (B * (c->n_in + c->n_out) + c->n_slice),
               "values differ from one thread's when 4 threads call one instance at once", B);
    }
    outs_free(&one);
    for (int k = 0; k < CHECK_THREADS; k++) {
        outs_free(&t[k]);
    }
    dpt_check_free(x), dpt_check_free(dy);
    return rc;
}

/* A layer with DPT_CAP_APPLIES_RELU (ABI 2.1): forward with dpt_batch.relu
 * must give relu of its plain output, and backward then the plain
 * backward's results for dy masked where that output is <= 0, bit for
 * bit, as the host relies on when it skips the relu node. */
static int check_relu(const struct dpt_check_subject *s, struct dpt_check_layer *c,
                      struct dpt_check_report *rep, size_t B, uint64_t seed)
{
    struct outs plain = {0}, fused = {0};
    float *x = dpt_check_floats(B * c->n_in), *dy = dpt_check_floats(B * c->n_out);
    float *dym = dpt_check_floats(B * c->n_out);
    int rc = x && dy && dym ? outs_alloc(&plain, c, B) : DPT_ENOMEM;
    rc = rc ? rc : outs_alloc(&fused, c, B);
    if (rc == 0) {
        dpt_check_fill(x, B * c->n_in, &seed, s->lo, s->hi);
        dpt_check_fill(dy, B * c->n_out, &seed, -1, 1);
        memset(plain.dx, 0, B * c->n_in * sizeof *plain.dx);
        memset(plain.dp, 0, c->n_slice * sizeof *plain.dp);
        c->relu = 0;
        dpt_check_layer_forward_ws(c, plain.ws, x, plain.y, B, 1);
        for (size_t i = 0; i < B * c->n_out; i++) {
            dym[i] = plain.y[i] > 0.0f ? dy[i] : 0.0f;
            plain.y[i] = plain.y[i] > 0.0f ? plain.y[i] : 0.0f;
        }
        dpt_check_layer_backward_ws(c, plain.ws, x, plain.y, dym, plain.dx, plain.dp, B);
        c->relu = 1;
        pass_once(c, &fused, x, dy, B);
        c->relu = 0;
        expect(s, rep, "relu applied as the relu node would", outs_differ(c, &plain, &fused, B),
               B * (c->n_in + c->n_out) + c->n_slice,
               "values differ from the layer's plain passes followed by relu's", B);
    }
    outs_free(&plain), outs_free(&fused);
    dpt_check_free(x), dpt_check_free(dy), dpt_check_free(dym);
    return rc;
}

/* Records the crash that ended the checks of subject s: that of create()
 * for instance c's input shape, or else the harness's first
 * (dpt_check_crashed), which happened `during` ("in the gradient checks").
 * Returns DPT_ECRASH, which ends every check: nothing of the plugin runs
 * after a crash (plugin/guard.h). */
static int crash_fail(const struct dpt_check_subject *s, const struct dpt_check_layer *c,
                      struct dpt_check_report *rep, const char *during)
{
    char in[64], label[96], check[64], rows[32] = "";
    dpt_check_shape_text(&c->in, in, sizeof in);
    const struct dpt_check_crash *k = dpt_check_crashed();
    if (c->crash_signal || !k) {
        dpt_check_fail(rep, s->base, "create() does not crash", 1,
                       "create() crashed with %s for input %s; no further checks were run",
                       dpt__signal_name(c->crash_signal), in);
        return DPT_ECRASH;
    }
    if (s->label[0]) {
        snprintf(label, sizeof label, "%s", s->label);
    } else {
        snprintf(label, sizeof label, "input %s", in); /* init() crashed: no label yet */
    }
    if (k->B) {
        snprintf(rows, sizeof rows, ", B = %zu", k->B);
    }
    snprintf(check, sizeof check, "%s does not crash", k->fn);
    dpt_check_fail(rep, s->base, check, 1, "%s crashed with %s %s, %s%s%s; no further checks "
                   "were run", k->fn, dpt__signal_name(k->signal), during, label, rows,
                   k->no_workspace ? ", given no workspace (workspace_bytes() declared 0 "
                                     "bytes for this B)" : "");
    return DPT_ECRASH;
}

/* Instances a and b alone, then called in turn (a forward, b forward,
 * a backward, b backward): the same results, or they share state. */
static int check_instances(const struct dpt_check_subject *s, struct dpt_check_inst *a,
                           struct dpt_check_report *rep, size_t B, uint64_t seed)
{
    struct dpt_check_inst b;
    int rc = s->make(s, seed + 1, &b);
    if (rc == DPT_ECRASH) {
        return crash_fail(s, &b.c, rep, "making a second instance");
    }
    if (rc < 0) {
        return rc == DPT_ENOMEM ? rc : 0; /* refused once it worked: not this check's */
    }
    const struct dpt_check_layer *ca = &a->c, *cb = &b.c;
    struct outs oa = {0}, ob = {0}, ia = {0}, ib = {0};
    float *xa = dpt_check_floats(B * ca->n_in), *xb = dpt_check_floats(B * ca->n_in);
    float *dy = dpt_check_floats(B * ca->n_out);
    rc = xa && xb && dy ? 0 : DPT_ENOMEM;
    rc = rc ? rc : outs_alloc(&oa, ca, B) ? DPT_ENOMEM : outs_alloc(&ob, cb, B);
    rc = rc ? rc : outs_alloc(&ia, ca, B) ? DPT_ENOMEM : outs_alloc(&ib, cb, B);
    if (rc == 0) {
        dpt_check_fill(xa, B * ca->n_in, &seed, s->lo, s->hi);
        dpt_check_fill(xb, B * ca->n_in, &seed, s->lo, s->hi);
        dpt_check_fill(dy, B * ca->n_out, &seed, -1, 1);
        pass_once(ca, &oa, xa, dy, B);
        pass_once(cb, &ob, xb, dy, B);
        dpt_check_layer_forward_ws(ca, ia.ws, xa, ia.y, B, 1);
        dpt_check_layer_forward_ws(cb, ib.ws, xb, ib.y, B, 1);
        dpt_check_layer_backward_ws(ca, ia.ws, xa, ia.y, dy, ia.dx, ia.dp, B);
        dpt_check_layer_backward_ws(cb, ib.ws, xb, ib.y, dy, ib.dx, ib.dp, B);
        size_t bad = outs_differ(ca, &oa, &ia, B) + outs_differ(cb, &ob, &ib, B);
        expect(s, rep, "instances independent", bad,
               2 * (B * (ca->n_in + ca->n_out) + ca->n_slice),
               "values differ when two instances are called in turn instead of alone", B);
    }
    outs_free(&oa), outs_free(&ob), outs_free(&ia), outs_free(&ib);
    dpt_check_free(xa), dpt_check_free(xb), dpt_check_free(dy);
    s->unmake(&b);
    return rc == 0 && dpt_check_crashed()
               ? crash_fail(s, ca, rep, "in the instances check (two called in turn)") : rc;
}

int dpt_check_subject_run(const struct dpt_check_subject *s, struct dpt_check_inst *a,
                          struct dpt_check_report *rep)
{
    struct dpt_check_layer *c = &a->c;
    for (size_t k = 0; k < N_BATCH_SIZES; k++) {
        size_t B = batch_sizes[k];
        struct dpt_check_fd fdx, fdp[64];
        int rc = dpt_check_layer_fd(c, B, 100 + B, s->lo, s->hi, DPT_CHECK_STEP, DPT_CHECK_TOL,
                                    &fdx, s->parts, s->n_parts, fdp);
        if (rc == 0 && dpt_check_crashed()) {
            return crash_fail(s, c, rep, "in the gradient checks (finite differences)");
        }
        struct dpt_check_contracts contracts;
        if (rc == 0) {
            rc = dpt_check_layer_contracts(c, B, 200 + B, s->lo, s->hi, &contracts);
        }
        if (rc == 0 && dpt_check_crashed()) {
            return crash_fail(s, c, rep, "in the buffer contract checks");
        }
        if (rc < 0) {
            return rc;
        }
        report_fd(s, rep, s->x, c->n_in, &fdx, B);
        for (size_t j = 0; j < s->n_parts; j++) {
            report_fd(s, rep, s->names[j], 0, &fdp[j], B);
        }
        report_contracts(s, rep, c, &contracts, B);
    }
    int rc = check_threads(s, c, rep, 3, 300);
    if (rc == 0 && dpt_check_crashed()) {
        return crash_fail(s, c, rep, "in the thread safety check (4 threads at once)");
    }
    if (rc == 0 && s->base->kind == DPT_KIND_LAYER && s->base->abi_minor >= 1 &&
        (s->base->caps & DPT_CAP_APPLIES_RELU)) {
        rc = check_relu(s, c, rep, 3, 500);
        if (rc == 0 && dpt_check_crashed()) {
            return crash_fail(s, c, rep, "in the relu check (DPT_CAP_APPLIES_RELU)");
        }
    }
    return rc < 0 ? rc : check_instances(s, a, rep, 2, 400);
}

/* ---------- Layers: shapes and tensors ---------- */

/* The tensors of c (tensor(), or the default "params"), at most 64. */
static size_t tensors_of(const struct dpt_check_layer *c, struct dpt_tensor *t)
{
    if (!c->p->tensor) {
        t[0] = (struct dpt_tensor){.name = "params", .rank = 1, .shape = {c->info.n_params}};
        return c->info.n_params > 0 ? 1 : 0;
    }
    size_t n = 0;
    while (n < 64 && c->p->tensor(c->st, (uint32_t)n, &t[n]) == 0) {
        n++;
    }
    return n;
}

static uint64_t tensor_size(const struct dpt_tensor *t)
{
    uint64_t n = 1;
    for (uint32_t j = 0; j < t->rank && j < 4; j++) {
        n *= t->shape[j];
    }
    return n;
}

/* The tensors check, and the subject's parts for finite differences: one
 * per trainable tensor, or the whole trainable range when they are wrong. */
static void check_tensors(struct dpt_check_subject *s, const struct dpt_check_layer *c,
                          struct dpt_check_report *rep)
{
    struct dpt_tensor t[64];
    size_t n = tensors_of(c, t);
    char why[256];
    s->n_parts = 0;
    /* Training's rule; it leaves t sorted by offset. */
    if (dpt_tensors_wrong(t, n, c->info.n_params, c->info.n_state, why, sizeof why)) {
        dpt_check_fail(rep, s->base, "parameter tensors", 1, "%s, %s", why, s->label);
        n = 0;
    } else {
        dpt_check_pass(rep, s->base, "parameter tensors");
    }
    for (size_t i = 0; i < n && t[i].offset < c->info.n_params; i++) {
        s->parts[s->n_parts] = t[i].offset;
        s->names[s->n_parts++] = t[i].name;
        s->parts[s->n_parts] = t[i].offset + tensor_size(&t[i]);
    }
    if (n == 0 && c->info.n_params > 0) {
        s->parts[0] = 0;
        s->parts[1] = c->info.n_params;
        s->names[0] = "params";
        s->n_parts = 1;
    }
}

struct layer_ctx {
    const struct dpt_layer_plugin *p;
    const struct dpt_check_options *o;
    struct dpt_shape in;
};

static int layer_make(const struct dpt_check_subject *s, uint64_t seed,
                      struct dpt_check_inst *out)
{
    const struct layer_ctx *l = s->ctx;
    memset(out, 0, sizeof *out);
    char what[96];
    snprintf(what, sizeof what, "layer '%s'", l->p->base.name);
    dpt_host_init(&out->host, l->o->settings, l->o->settings_name, what);
    int rc = dpt_check_layer_create(&out->c, l->p, &out->host.host, &l->in, seed);
    if (rc == 0) {
        dpt_check_note_unread(l->o, &out->host);
        /* Noise on top of init: a layer initialized to zeros would
         * otherwise hide mistakes in dx. First, init's own values. */
        for (size_t i = 0; i < out->c.n_slice && !out->init_nonfinite; i++) {
            out->init_nonfinite = isfinite(out->c.params[i]) ? 0 : i + 1;
        }
        float *noise = dpt_check_floats(out->c.info.n_params);
        if (!noise) {
            return DPT_ENOMEM;
        }
        dpt_check_fill(noise, out->c.info.n_params, &seed, -0.5, 0.5);
        for (size_t i = 0; i < out->c.info.n_params; i++) {
            out->c.params[i] += noise[i];
        }
        dpt_check_free(noise);
    }
    return rc;
}

static void layer_unmake(struct dpt_check_inst *inst)
{
    dpt_check_layer_destroy(&inst->c);
}

/* Whether the host would refuse what create() reported, as `dptrain train`
 * does (dpt_layer_info_check: the output shape, init and update_state, the
 * sizes), or an output dimension is above 2^24, more than the checks run
 * (--shape takes as much); why into why. */
static int layer_refused(const struct dpt_check_layer *c, char *why, size_t len)
{
    struct dpt_err err = {0};
    if (dpt_layer_info_check(c->p, &c->in, &c->info, &err) < 0) {
        return snprintf(why, len, "%.390s", err.msg), 1;
    }
    for (uint32_t j = 0; j < c->info.out.rank; j++) {
        if (c->info.out.dims[j] > (1u << 24)) {
            return snprintf(why, len, "create() reported output dimension %u = %llu", j,
                            (unsigned long long)c->info.out.dims[j]), 1;
        }
    }
    return 0;
}

/* The checks of one input shape that create() took. */
static int layer_shape(const struct dpt_layer_plugin *p, struct dpt_check_subject *s,
                       struct dpt_check_inst *a, struct dpt_check_report *rep)
{
    char in[64], out[64], check[160], why[400];
    dpt_check_shape_text(&a->c.in, in, sizeof in);
    if (layer_refused(&a->c, why, sizeof why)) {
        snprintf(check, sizeof check, "shape %s", in);
        dpt_check_fail(rep, &p->base, check, 1, "%s", why);
        return 0;
    }
    snprintf(check, sizeof check, "shape %s -> %s, %llu parameters%s", in,
             dpt_check_shape_text(&a->c.info.out, out, sizeof out),
             (unsigned long long)a->c.info.n_params, a->c.info.n_state ? " + state" : "");
    dpt_check_pass(rep, &p->base, check);
    snprintf(s->label, sizeof s->label, "input %s", in);
    if (a->init_nonfinite) {
        dpt_check_fail(rep, &p->base, "finite outputs", 1,
                       "init wrote NaN or Inf into params[%zu], %s", a->init_nonfinite - 1,
                       s->label);
    }
    check_tensors(s, &a->c, rep);
    return dpt_check_subject_run(s, a, rep);
}

int dpt_check_layer_plugin(const struct dpt_layer_plugin *p, const struct dpt_check_options *o,
                           struct dpt_check_report *rep)
{
    size_t n_shapes, taken = 0;
    const struct dpt_shape *shapes = dpt_check_shapes(o, &n_shapes);
    char last[300] = "";
    for (size_t k = 0; k < n_shapes; k++) {
        struct layer_ctx l = {p, o, shapes[k]};
        struct dpt_check_subject s = {.base = &p->base, .x = "x", .dx = "dx", .lo = -2,
                                      .hi = 2, .make = layer_make, .unmake = layer_unmake,
                                      .ctx = &l};
        struct dpt_check_inst a;
        int rc = layer_make(&s, 42, &a);
        if (rc == DPT_ECRASH) {
            return crash_fail(&s, &a.c, rep, "while the instance was made");
        }
        if (rc == DPT_ENOMEM) {
            layer_unmake(&a);
            return rc;
        }
        char in[64], check[400];
        dpt_check_shape_text(&shapes[k], in, sizeof in);
        if (rc < 0) {
            /* A shape the layer does not take is its right; it is reported. */
            snprintf(last, sizeof last, "%.250s", a.host.err.msg);
            snprintf(check, sizeof check, "shape %s refused: %s", in, last);
            dpt_check_pass(rep, &p->base, check);
        } else {
            taken++;
            rc = layer_shape(p, &s, &a, rep);
        }
        layer_unmake(&a);
        if (rc == DPT_ENOMEM || rc == DPT_ECRASH) {
            return rc;
        }
    }
    if (taken == 0) {
        dpt_check_fail(rep, &p->base, "some input shape taken", 1,
                       "create() refused every shape tried (%s); give the settings it needs "
                       "with --set and a shape it takes with --shape", last);
    }
    return 0;
}
