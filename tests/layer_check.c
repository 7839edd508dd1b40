/* Layer checks for the tests: see layer_check.h. */
#include "config.h"

#include "layer_check.h"
#include "plugin/registry.h"

#include <CUnit/CUnit.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define GUARD 16           /* floats after each buffer that must stay untouched */
#define GUARD_VALUE 1234.5f

static struct dpt_registry *reg; /* loaded once, kept until exit */

static const struct dpt_layer_plugin *find_layer(const char *name)
{
    struct dpt_err err = {0};
    if (!reg && dpt_registry_create(&reg, NULL, &err) < 0) {
        fprintf(stderr, "layer_check: %s\n", err.msg);
        return NULL;
    }
    const struct dpt_plugin *p = dpt_registry_find(reg, DPT_KIND_LAYER, name, &err);
    if (!p || p->abi_major != 2) {
        fprintf(stderr, "layer_check: %s\n", p ? "not an ABI 2 layer" : err.msg);
        return NULL;
    }
    return (const struct dpt_layer_plugin *)p;
}

struct dpt_shape lc_shape(uint64_t d0, uint64_t d1, uint64_t d2)
{
    struct dpt_shape s = {.rank = d2 ? 3 : d1 ? 2 : 1, .dims = {d0, d1, d2}};
    return s;
}

void lc_fill(float *v, size_t n, uint64_t *seed, double lo, double hi)
{
    for (size_t i = 0; i < n; i++) {
        *seed = *seed * 6364136223846793005ull + 1442695040888963407ull;
        double u = (double)(*seed >> 11) * 0x1p-53;
        v[i] = (float)(lo + (hi - lo) * u);
    }
}

/* n floats plus the guard, the guard filled. */
static float *guarded(size_t n)
{
    float *p = malloc((n + GUARD) * sizeof *p);
    CU_ASSERT_PTR_NOT_NULL_FATAL(p);
    for (size_t i = 0; i < GUARD; i++) {
        p[n + i] = GUARD_VALUE;
    }
    return p;
}

static int guard_intact(const float *p, size_t n)
{
    for (size_t i = 0; i < GUARD; i++) {
        if (p[n + i] != GUARD_VALUE) {
            return 0;
        }
    }
    return 1;
}

int lc_create(struct lc *c, const char *name, const char *settings, const struct dpt_shape *in)
{
    memset(c, 0, sizeof *c);
    config_init(&c->cfg);
    c->in = *in;
    c->p = find_layer(name);
    CU_ASSERT_PTR_NOT_NULL_FATAL(c->p);
    CU_ASSERT_FATAL(config_read_string(&c->cfg, settings ? settings : ""));
    char what[64];
    snprintf(what, sizeof what, "layer 1 (%s)", name);
    dpt_host_init(&c->host, config_root_setting(&c->cfg), "test.cfg", what);
    int rc = c->p->create(&c->st, &c->host.host, in, &c->info);
    if (rc < 0) {
        c->st = NULL;
        return rc;
    }
    c->n_in = c->n_out = 1;
    for (uint32_t j = 0; j < in->rank; j++) {
        c->n_in *= in->dims[j];
    }
    for (uint32_t j = 0; j < c->info.out.rank; j++) {
        c->n_out *= c->info.out.dims[j];
    }
    c->n_slice = c->info.n_params + c->info.n_state;
    c->params = guarded(c->n_slice);
    if (c->p->init) {
        struct dpt_rng rng = {42, 0};
        c->p->init(c->st, c->params, &c->host.host, &rng);
    }
    return 0;
}

void lc_destroy(struct lc *c)
{
    if (c->st) {
        c->p->destroy(c->st);
    }
    free(c->params);
    config_destroy(&c->cfg);
    memset(c, 0, sizeof *c);
}

/* The workspace of the last call, per B (kept between forward and
 * backward, as the host keeps it). */
static void *workspace(struct lc *c, size_t B)
{
    static void *ws;
    static size_t bytes;
    size_t want = c->p->workspace_bytes ? c->p->workspace_bytes(c->st, B) : 0;
    if (want > bytes) {
        free(ws);
        ws = calloc(1, want);
        CU_ASSERT_PTR_NOT_NULL_FATAL(ws);
        bytes = want;
    }
    return want ? ws : NULL;
}

static struct dpt_batch call(struct lc *c, size_t B, int training)
{
    struct dpt_batch b = {.B = B, .ws = workspace(c, B), .training = (uint32_t)training,
                          .scale = 1.0f / (float)B, .key = 77, .first_sample = 5};
    return b;
}

void lc_forward(struct lc *c, const float *x, float *y, size_t B, int training)
{
    struct dpt_batch b = call(c, B, training);
    c->p->forward(c->st, c->params, x, y, &b);
}

void lc_backward(struct lc *c, const float *x, const float *y, const float *dy, float *dx,
                 float *dparams, size_t B)
{
    struct dpt_batch b = call(c, B, 1);
    c->p->backward(c->st, c->params, x, y, dy, dx, dparams, &b);
}

struct objective {
    struct lc *c;
    const float *x, *r;
    float *y;
    size_t B;
};

static double objective(const struct objective *o)
{
    lc_forward(o->c, o->x, o->y, o->B, 1);
    double L = 0;
    for (size_t i = 0; i < o->B * o->c->n_out; i++) {
        L += (double)o->r[i] * o->y[i];
    }
    return L;
}

static double fd_worst(float *v, size_t n, const float *a, const struct objective *o, double h)
{
    double worst = 0;
    for (size_t i = 0; i < n; i++) {
        float keep = v[i];
        float up = (float)(keep + h), down = (float)(keep - h);
        v[i] = up;
        double f_up = objective(o);
        v[i] = down;
        double f_down = objective(o);
        v[i] = keep;
        double num = (f_up - f_down) / ((double)up - (double)down);
        double err = fabs(a[i] - num) / fmax(1.0, fmax(fabs(a[i]), fabs(num)));
        worst = fmax(worst, err);
    }
    return worst;
}

void lc_gradient_errors(struct lc *c, size_t B, uint64_t seed, double lo, double hi, double h,
                        double *dx_err, double *dp_err)
{
    size_t nx = B * c->n_in, ny = B * c->n_out;
    float *x = guarded(nx), *y = guarded(ny), *r = guarded(ny);
    float *dx = guarded(nx), *dp = guarded(c->n_slice);
    lc_fill(x, nx, &seed, lo, hi);
    lc_fill(r, ny, &seed, -1, 1);
    memset(dx, 0, nx * sizeof *dx);
    memset(dp, 0, c->n_slice * sizeof *dp);
    struct objective o = {c, x, r, y, B};
    objective(&o);
    lc_backward(c, x, y, r, dx, dp, B);
    *dx_err = fd_worst(x, nx, dx, &o, h);
    *dp_err = fd_worst(c->params, c->info.n_params, dp, &o, h);
    free(x), free(y), free(r), free(dx), free(dp);
}

/* The forward contract: every output written, at inference and in
 * training, and the same bits twice. */
static void check_forward(struct lc *c, const float *x, size_t B)
{
    size_t ny = B * c->n_out;
    float *y = guarded(ny), *y2 = guarded(ny);
    for (int training = 0; training <= 1; training++) {
        for (size_t i = 0; i < ny; i++) {
            y[i] = y2[i] = NAN;
        }
        lc_forward(c, x, y, B, training);
        lc_forward(c, x, y2, B, training);
        size_t nan = 0;
        for (size_t i = 0; i < ny; i++) {
            nan += isnan(y[i]);
        }
        CU_ASSERT_EQUAL(nan, 0);
        CU_ASSERT_EQUAL(memcmp(y, y2, ny * sizeof *y), 0);
        CU_ASSERT(guard_intact(y, ny));
    }
    free(y), free(y2);
}

void lc_check_contracts(struct lc *c, size_t B, uint64_t seed)
{
    size_t nx = B * c->n_in, ny = B * c->n_out, np = c->n_slice;
    float *x = guarded(nx), *y = guarded(ny), *dy = guarded(ny);
    float *dx = guarded(nx), *dp = guarded(np), *dx7 = guarded(nx), *dp7 = guarded(np);
    float *dp_only = guarded(np);
    lc_fill(x, nx, &seed, -2, 2);
    lc_fill(dy, ny, &seed, -1, 1);
    check_forward(c, x, B);

    /* Fresh gradients from zeroed buffers. */
    memset(dx, 0, nx * sizeof *dx);
    memset(dp, 0, np * sizeof *dp);
    lc_forward(c, x, y, B, 1);
    lc_backward(c, x, y, dy, dx, dp, B);
    /* Prefilled: dparams must come out as 7 + fresh; dx as 7 + fresh, or
     * as fresh over NaN with DPT_CAP_WRITES_DX. */
    int writes_dx = (c->p->base.caps & DPT_CAP_WRITES_DX) != 0;
    for (size_t i = 0; i < nx; i++) {
        dx7[i] = writes_dx ? NAN : 7.0f;
    }
    for (size_t i = 0; i < np; i++) {
        dp7[i] = 7.0f;
    }
    lc_forward(c, x, y, B, 1);
    lc_backward(c, x, y, dy, dx7, dp7, B);
    size_t bad_dx = 0, bad_dp = 0;
    for (size_t i = 0; i < nx; i++) {
        double want = writes_dx ? dx[i] : 7.0 + dx[i];
        bad_dx += !(fabs(dx7[i] - want) <= 1e-5 * fmax(1.0, fabs(want)));
    }
    for (size_t i = 0; i < np; i++) {
        bad_dp += !(fabs(dp7[i] - (7.0 + dp[i])) <= 1e-5 * fmax(1.0, fabs(7.0 + dp[i])));
    }
    CU_ASSERT_EQUAL(bad_dx, 0);
    CU_ASSERT_EQUAL(bad_dp, 0);
    if (bad_dx || bad_dp) {
        printf("\n    %s: %zu dx and %zu dparams values break the += contract\n",
               c->p->base.name, bad_dx, bad_dp);
    }
    /* The first layer gets no dx: dparams the same. */
    memset(dp_only, 0, np * sizeof *dp_only);
    lc_forward(c, x, y, B, 1);
    lc_backward(c, x, y, dy, NULL, dp_only, B);
    CU_ASSERT_EQUAL(memcmp(dp_only, dp, np * sizeof *dp), 0);
    CU_ASSERT(guard_intact(x, nx) && guard_intact(dx, nx) && guard_intact(dx7, nx));
    CU_ASSERT(guard_intact(dp, np) && guard_intact(dp7, np) && guard_intact(dp_only, np));
    CU_ASSERT(guard_intact(c->params, np));
    free(x), free(y), free(dy), free(dx), free(dp), free(dx7), free(dp7), free(dp_only);
}

void lc_check(struct lc *c, size_t B, uint64_t seed, double h, double tol)
{
    double dx_err, dp_err;
    lc_gradient_errors(c, B, seed, -2, 2, h, &dx_err, &dp_err);
    char in[64] = "", out[64] = "";
    for (uint32_t j = 0; j < c->in.rank; j++) {
        snprintf(in + strlen(in), sizeof in - strlen(in), "%s%llu", j ? "x" : "",
                 (unsigned long long)c->in.dims[j]);
    }
    for (uint32_t j = 0; j < c->info.out.rank; j++) {
        snprintf(out + strlen(out), sizeof out - strlen(out), "%s%llu", j ? "x" : "",
                 (unsigned long long)c->info.out.dims[j]);
    }
    printf("\n    %s %s -> %s, B = %zu: finite differences: dx %.2g, dparams %.2g (bound %.2g)",
           c->p->base.name, in, out, B, dx_err, dp_err, tol);
    CU_ASSERT(dx_err < tol);
    CU_ASSERT(dp_err < tol);
    lc_check_contracts(c, B, seed + 1);
}
