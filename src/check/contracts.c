/* The buffer contracts of a layer (dpt_check_layer_contracts, harness.h):
 * every call is made on guarded buffers, and after every call the guards,
 * the inputs and the finiteness of what was written are looked at, so a
 * broken contract is named with the function that broke it. */
#include "config.h"

#include "check/harness.h"

#include <dptrain/dptrain.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* The buffers of one contracts run; every one guarded. Copies (the *_in
 * members) hold what the inputs were, to see them modified. */
struct run {
    struct dpt_check_layer *c;
    size_t B, nx, ny, np;
    float *x, *dy, *x_in, *dy_in, *p_in, *y_in;
    float *y0, *yn, *y2;                     /* forward: zeros, NaN, again */
    float *dx0, *dp0, *dx1, *dp1, *dxp, *dpp; /* backward: fresh, again, prefilled */
    float *pre_dx, *pre_dp, *dp_only;         /* the prefill values; dx NULL */
    struct dpt_check_contracts *out;
};

/* The run's buffers and their sizes, in one list for allocating and freeing. */
#define RUN_BUFFERS 18
static void run_list(struct run *r, float **bufs[RUN_BUFFERS], size_t n[RUN_BUFFERS])
{
    float **all[RUN_BUFFERS] = {&r->x,    &r->dy,     &r->x_in,   &r->dy_in, &r->p_in,
                                &r->y_in, &r->y0,     &r->yn,     &r->y2,    &r->dx0,
                                &r->dp0,  &r->dx1,    &r->dp1,    &r->dxp,   &r->dpp,
                                &r->pre_dx, &r->pre_dp, &r->dp_only};
    const size_t size[RUN_BUFFERS] = {r->nx, r->ny, r->nx, r->ny, r->np, r->ny,
                                      r->ny, r->ny, r->ny, r->nx, r->np, r->nx,
                                      r->np, r->nx, r->np, r->nx, r->np, r->np};
    memcpy(bufs, all, sizeof all);
    memcpy(n, size, sizeof size);
}

static int run_alloc(struct run *r)
{
    float **bufs[RUN_BUFFERS];
    size_t n[RUN_BUFFERS];
    run_list(r, bufs, n);
    int ok = 1;
    for (size_t i = 0; i < RUN_BUFFERS; i++) {
        *bufs[i] = dpt_check_floats(n[i]);
        ok = ok && *bufs[i];
    }
    return ok ? 0 : DPT_ENOMEM;
}

static void run_free(struct run *r)
{
    float **bufs[RUN_BUFFERS];
    size_t n[RUN_BUFFERS];
    run_list(r, bufs, n);
    for (size_t i = 0; i < RUN_BUFFERS; i++) {
        dpt_check_free(*bufs[i]);
    }
}

static void note_guard(struct run *r, const char *fn, const char *buf, const void *p)
{
    if (p && !r->out->guard_fn && !dpt_check_intact(p)) {
        r->out->guard_fn = fn;
        r->out->guard_buf = buf;
    }
}

static void note_modified(struct run *r, const char *fn, const char *buf, const float *now,
                          const float *was, size_t n)
{
    if (!r->out->modified_fn && memcmp(now, was, n * sizeof *now) != 0) {
        r->out->modified_fn = fn;
        r->out->modified_buf = buf;
    }
}

/* After a call of fn that wrote out (n floats, named buf, NULL: none):
 * guards, inputs, finiteness. y is the y backward was given (or NULL). */
static void watch(struct run *r, const char *fn, const float *out, const char *buf, size_t n,
                  const float *y, const float *dx, const float *dp)
{
    struct dpt_check_layer *c = r->c;
    note_guard(r, fn, "x", r->x);
    note_guard(r, fn, "dy", r->dy);
    note_guard(r, fn, "params", c->params);
    note_guard(r, fn, "workspace", c->ws);
    note_guard(r, fn, fn[0] == 'f' ? "y" : "dx", fn[0] == 'f' ? out : dx);
    note_guard(r, fn, "y", y);
    note_guard(r, fn, "dparams", dp);
    note_modified(r, fn, "x", r->x, r->x_in, r->nx);
    note_modified(r, fn, "params", c->params, r->p_in, r->np);
    if (y) {
        note_modified(r, fn, "dy", r->dy, r->dy_in, r->ny);
        note_modified(r, fn, "y", y, r->y_in, r->ny);
    }
    for (size_t i = 0; out && !r->out->nonfinite_fn && i < n; i++) {
        if (!isfinite(out[i])) {
            r->out->nonfinite_fn = fn;
            r->out->nonfinite_buf = buf;
            r->out->nonfinite_at = i;
        }
    }
}

static int same(float a, float b, int exact)
{
    if (exact) {
        return memcmp(&a, &b, sizeof a) == 0;
    }
    return fabs((double)a - b) <= 1e-6 * fmax(1.0, fabs((double)a));
}

static void check_forward(struct run *r, int training, int exact)
{
    struct dpt_check_layer *c = r->c;
    for (size_t i = 0; i < r->ny; i++) {
        r->y0[i] = r->y2[i] = 0.0f;
        r->yn[i] = NAN;
    }
    dpt_check_layer_forward(c, r->x, r->y0, r->B, training);
    watch(r, "forward", r->y0, "y", r->ny, NULL, NULL, NULL);
    dpt_check_layer_forward(c, r->x, r->yn, r->B, training);
    watch(r, "forward", NULL, "y", 0, NULL, NULL, NULL);
    note_guard(r, "forward", "y", r->yn);
    dpt_check_layer_forward(c, r->x, r->y2, r->B, training);
    watch(r, "forward", NULL, "y", 0, NULL, NULL, NULL);
    note_guard(r, "forward", "y", r->y2);
    size_t unwritten = 0, nondet = 0;
    for (size_t i = 0; i < r->ny; i++) {
        /* NaN where the zero-filled run wrote a number: never written. */
        unwritten += isnan(r->yn[i]) && !isnan(r->y0[i]);
        nondet += !same(r->y2[i], r->y0[i], exact) && !isnan(r->y0[i]);
    }
    /* Inference and training forward are checked alike: the report gives
     * the worse of the two as a count of the ny outputs, not their sum. */
    r->out->y_unwritten = unwritten > r->out->y_unwritten ? unwritten : r->out->y_unwritten;
    r->out->y_nondet = nondet > r->out->y_nondet ? nondet : r->out->y_nondet;
}

/* One training forward into y0 and a backward into dx, dp; fresh: dx and
 * dp were zeroed, so what backward leaves there must be finite (a NaN
 * prefill of dx under DPT_CAP_WRITES_DX is the contracts' business). */
static void backward(struct run *r, float *dx, float *dp, int fresh)
{
    struct dpt_check_layer *c = r->c;
    dpt_check_layer_forward(c, r->x, r->y0, r->B, 1);
    memcpy(r->y_in, r->y0, r->ny * sizeof *r->y0);
    dpt_check_layer_backward(c, r->x, r->y0, r->dy, dx, dp, r->B);
    watch(r, "backward", fresh ? dx : NULL, "dx", dx ? r->nx : 0, r->y0, dx, dp);
    watch(r, "backward", fresh ? dp : NULL, "dparams", r->np, r->y0, dx, dp);
}

/* after - prefill against fresh, with float rounding of the sum. */
static int added(float after, float prefill, float fresh)
{
    double want = (double)prefill + fresh;
    return fabs(after - want) <= 1e-5 * fmax(1.0, fmax(fabs((double)prefill), fabs(want)));
}

static void check_backward(struct run *r, int exact)
{
    struct dpt_check_layer *c = r->c;
    int writes_dx = (c->p->base.caps & DPT_CAP_WRITES_DX) != 0;
    backward(r, r->dx0, r->dp0, 1);
    backward(r, r->dx1, r->dp1, 0);
    for (size_t i = 0; i < r->nx; i++) {
        r->out->back_nondet += !same(r->dx1[i], r->dx0[i], exact);
        r->dxp[i] = writes_dx ? NAN : r->pre_dx[i];
    }
    for (size_t i = 0; i < r->np; i++) {
        r->out->back_nondet += !same(r->dp1[i], r->dp0[i], exact);
        r->dpp[i] = r->pre_dp[i];
    }
    backward(r, r->dxp, r->dpp, 0);
    for (size_t i = 0; i < r->nx; i++) {
        r->out->dx_not_added += writes_dx ? !same(r->dxp[i], r->dx0[i], exact)
                                          : !added(r->dxp[i], r->pre_dx[i], r->dx0[i]);
    }
    for (size_t i = 0; i < r->np; i++) {
        r->out->dp_not_added += !added(r->dpp[i], r->pre_dp[i], r->dp0[i]);
    }
    backward(r, NULL, r->dp_only, 0);
    for (size_t i = 0; i < r->np; i++) {
        r->out->dp_without_dx += !same(r->dp_only[i], r->dp0[i], exact);
    }
}

int dpt_check_layer_contracts(struct dpt_check_layer *c, size_t B, uint64_t seed, double lo,
                              double hi, struct dpt_check_contracts *out)
{
    *out = (struct dpt_check_contracts){0};
    struct run r = {.c = c, .B = B, .nx = B * c->n_in, .ny = B * c->n_out,
                    .np = c->n_slice, .out = out};
    int rc = run_alloc(&r);
    /* A workspace of its own: the finite differences before may have
     * written past the old one, and the first watch() would blame forward. */
    dpt_check_layer_drop_workspace(c);
    if (rc == 0) {
        rc = dpt_check_layer_forward(c, r.x, r.y0, B, 0); /* sizes the workspace */
    }
    if (rc < 0) {
        run_free(&r);
        return rc;
    }
    dpt_check_fill(r.x, r.nx, &seed, lo, hi);
    dpt_check_fill(r.dy, r.ny, &seed, -1, 1);
    dpt_check_fill(r.pre_dx, r.nx, &seed, -1, 1);
    dpt_check_fill(r.pre_dp, r.np, &seed, -1, 1);
    memcpy(r.x_in, r.x, r.nx * sizeof *r.x);
    memcpy(r.dy_in, r.dy, r.ny * sizeof *r.dy);
    memcpy(r.p_in, c->params, r.np * sizeof *r.p_in);
    int exact = (c->p->base.caps & DPT_CAP_DETERMINISTIC) != 0;
    check_forward(&r, 0, exact);
    check_forward(&r, 1, exact);
    check_backward(&r, exact);
    run_free(&r);
    return 0;
}
