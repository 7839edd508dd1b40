/* Layer checks for the tests: see layer_check.h. */
#include "config.h"

#include "layer_check.h"
#include "plugin/registry.h"

#include <CUnit/CUnit.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
    dpt_check_fill(v, n, seed, lo, hi);
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
    int rc = dpt_check_layer_create(&c->l, c->p, &c->host.host, in, 42);
    CU_ASSERT_FATAL(rc != DPT_ENOMEM);
    if (rc < 0) {
        return rc;
    }
    c->st = c->l.st;
    c->info = c->l.info;
    c->n_in = c->l.n_in;
    c->n_out = c->l.n_out;
    c->n_slice = c->l.n_slice;
    c->params = c->l.params;
    return 0;
}

void lc_destroy(struct lc *c)
{
    dpt_check_layer_destroy(&c->l);
    config_destroy(&c->cfg);
    memset(c, 0, sizeof *c);
}

void lc_forward(struct lc *c, const float *x, float *y, size_t B, int training)
{
    CU_ASSERT_EQUAL_FATAL(dpt_check_layer_forward(&c->l, x, y, B, training), 0);
}

void lc_backward(struct lc *c, const float *x, const float *y, const float *dy, float *dx,
                 float *dparams, size_t B)
{
    CU_ASSERT_EQUAL_FATAL(dpt_check_layer_backward(&c->l, x, y, dy, dx, dparams, B), 0);
}

void lc_gradient_errors(struct lc *c, size_t B, uint64_t seed, double lo, double hi, double h,
                        double *dx_err, double *dp_err)
{
    struct dpt_check_fd dx, dp;
    size_t parts[2] = {0, c->info.n_params};
    CU_ASSERT_EQUAL_FATAL(dpt_check_layer_fd(&c->l, B, seed, lo, hi, h, 0, &dx, parts, 1, &dp),
                          0);
    *dx_err = dx.worst;
    *dp_err = dp.worst;
}

void lc_check_contracts(struct lc *c, size_t B, uint64_t seed)
{
    struct dpt_check_contracts k;
    CU_ASSERT_EQUAL_FATAL(dpt_check_layer_contracts(&c->l, B, seed, -2, 2, &k), 0);
    CU_ASSERT_EQUAL(k.y_unwritten, 0);
    CU_ASSERT_EQUAL(k.y_nondet, 0);
    CU_ASSERT_EQUAL(k.back_nondet, 0);
    CU_ASSERT_EQUAL(k.dp_not_added, 0);
    CU_ASSERT_EQUAL(k.dx_not_added, 0);
    CU_ASSERT_EQUAL(k.dp_without_dx, 0);
    CU_ASSERT_PTR_NULL(k.guard_fn);
    CU_ASSERT_PTR_NULL(k.modified_fn);
    CU_ASSERT_PTR_NULL(k.nonfinite_fn);
    if (k.y_unwritten || k.y_nondet || k.back_nondet || k.dp_not_added || k.dx_not_added ||
        k.dp_without_dx || k.guard_fn || k.modified_fn || k.nonfinite_fn) {
        printf("\n    %s, B = %zu: %zu outputs unwritten, %zu + %zu values not repeatable, "
               "%zu dparams and %zu dx values break the += contract, %zu dparams differ "
               "without dx; %s %s; %s %s; %s %s\n",
               c->p->base.name, B, k.y_unwritten, k.y_nondet, k.back_nondet, k.dp_not_added,
               k.dx_not_added, k.dp_without_dx,
               k.guard_fn ? k.guard_fn : "", k.guard_fn ? k.guard_buf : "no stray writes",
               k.modified_fn ? k.modified_fn : "", k.modified_fn ? k.modified_buf
                                                                 : "inputs unchanged",
               k.nonfinite_fn ? k.nonfinite_fn : "", k.nonfinite_fn ? k.nonfinite_buf
                                                                    : "finite");
    }
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
