/* Tests of the built-in plugins, loaded from their .so files as the host
 * loads them (dlopen, then dpt_plugins()).
 *
 * Checked here: gradients of every layer, activation and loss against central
 * differences, the dx contract of every backward (+=, or = with DPT_CAP_WRITES_DX), forward values against
 * double-precision references, optimizer steps against values worked out by
 * hand, parameter errors, target checks and initializers. Not checked here:
 * the loader's own rules (tests/test_loader.c) and whole training runs.
 *
 * The plugins are looked up in DPTRAIN_PLUGIN_PATH (set by `make check` to
 * the build's plugins/.libs). The host services are the real ones
 * (src/plugin/host.c, with its Philox stream) over a group parsed from
 * libconfig text, as in a model file.
 */
#include "config.h"

#include "check/harness.h"
#include "plugin/host.h"
#include "util.h"

#include <dptrain/plugin.h>

#include <CUnit/CUnit.h>
#include <dlfcn.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Finite differences. The plugins compute in float; the objective
 * L = sum(r * out) is accumulated in double from their float outputs, and the
 * derivative is (L(v + h) - L(v - h)) / (the step actually taken, after v +- h
 * is rounded to float), with h = FD_STEP = 1e-2. Two errors remain:
 *   - truncation, h^2 / 6 |f'''|: zero where f is linear or quadratic (dense,
 *     linear, relu and leaky_relu away from 0, mse), at most 3.3e-5 for tanh
 *     (|f'''| <= 2), less for sigmoid, elu (alpha e^x), gelu (|f'''| < 1),
 *     softplus, swish, softmax and the cross-entropies;
 *   - rounding: an output moved by the step carries a relative error of a
 *     few 2^-24 = 6e-8 (for dense, the n_in = 4 products of the sum); the
 *     quotient divides it by 2h = 2e-2. With |r| <= 1, outputs of size <= 5
 *     and at most 5 outputs moved by one input, even errors that all point
 *     the same way stay below about 3e-4. (The cross-entropies compute in
 *     double: their rounding is negligible.)
 * Errors are |analytic - numeric| / max(1, |analytic|, |numeric|) and must
 * stay below FD_BOUND = 5e-4, the sum of both budgets with room to spare; the
 * worst seen while writing this test was 2.5e-5 (tanh, truncation). A wrong
 * factor or a missing term gives errors of order 1e-1. */
#define FD_STEP 1e-2
#define FD_BOUND 5e-4

/* Equality of a float result with a reference, up to float rounding:
 * CLOSE relative to max(1, |b|), REL_CLOSE relative to |b| alone. */
#define CLOSE(a, b, tol) (fabs((double)(a) - (double)(b)) <= (tol) * fmax(1.0, fabs((double)(b))))
#define REL_CLOSE(a, b, tol) (fabs((double)(a) - (double)(b)) <= (tol) * fabs((double)(b)))

/* ---------- Loading plugins ---------- */

#define MAX_HANDLES 32
static void *handles[MAX_HANDLES];
static size_t n_handles;

static const char *kind_prefix(uint32_t kind)
{
    switch (kind) {
    case DPT_KIND_LAYER:
        return "layer";
    case DPT_KIND_ACTIVATION:
        return "activation";
    case DPT_KIND_LOSS:
        return "loss";
    default:
        return "optimizer";
    }
}

/* Opens KIND_NAME.so from the first directory of DPTRAIN_PLUGIN_PATH (a
 * colon-separated list) that has it and returns the descriptor of that kind
 * and name, or NULL with the reason on stderr. The files stay open until
 * close_plugins(). */
static const struct dpt_plugin *find_plugin(uint32_t kind, const char *name)
{
    const char *dirs = getenv("DPTRAIN_PLUGIN_PATH");
#ifdef DPT_BUILD_DIR
    if (!dirs || !*dirs) {
        dirs = DPT_BUILD_DIR "/plugins/.libs";
    }
#endif
    if (!dirs || !*dirs) {
        fprintf(stderr, "test_plugins: set DPTRAIN_PLUGIN_PATH to the built plugins/.libs\n");
        return NULL;
    }
    void *h = NULL;
    char path[4096];
    for (const char *d = dirs; !h && *d;) {
        size_t len = strcspn(d, ":");
        snprintf(path, sizeof path, "%.*s/%s_%s.so", (int)len, d, kind_prefix(kind), name);
        h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
        d += len + (d[len] == ':');
    }
    if (!h) {
        fprintf(stderr, "test_plugins: %s_%s.so not found in %s (%s)\n", kind_prefix(kind),
                name, dirs, dlerror());
        return NULL;
    }
    int known = 0;
    for (size_t i = 0; i < n_handles; i++) {
        known |= handles[i] == h;
    }
    if (known) {
        dlclose(h); /* dlopen counted a second reference to an open file */
    } else if (n_handles < MAX_HANDLES) {
        handles[n_handles++] = h;
    }
    dpt_plugins_fn entry = (dpt_plugins_fn)dlsym(h, DPT_PLUGINS_SYMBOL);
    if (!entry) {
        fprintf(stderr, "test_plugins: %s: no symbol %s\n", path, DPT_PLUGINS_SYMBOL);
        return NULL;
    }
    for (const struct dpt_plugin *const *p = entry(); *p; p++) {
        if ((*p)->kind == kind && strcmp((*p)->name, name) == 0) {
            return *p;
        }
    }
    fprintf(stderr, "test_plugins: %s has no %s '%s'\n", path, kind_prefix(kind), name);
    return NULL;
}

static void close_plugins(void)
{
    while (n_handles > 0) {
        dlclose(handles[--n_handles]);
    }
}

static const struct dpt_layer_plugin *layer_plugin(const char *name)
{
    return (const struct dpt_layer_plugin *)find_plugin(DPT_KIND_LAYER, name);
}

static const struct dpt_activation_plugin *activation_plugin(const char *name)
{
    return (const struct dpt_activation_plugin *)find_plugin(DPT_KIND_ACTIVATION, name);
}

static const struct dpt_loss_plugin *loss_plugin(const char *name)
{
    return (const struct dpt_loss_plugin *)find_plugin(DPT_KIND_LOSS, name);
}

static const struct dpt_optimizer_plugin *optimizer_plugin(const char *name)
{
    return (const struct dpt_optimizer_plugin *)find_plugin(DPT_KIND_OPTIMIZER, name);
}

/* ---------- The host ---------- */

/* A plugin instance's host: the real host services (src/plugin/host.c) over
 * a group parsed from libconfig text, as a layer's group { ... } in a model
 * file would be. Each set_* adds one "key = value;" line to the text and
 * parses it again, so a test states only the settings it changes; nothing
 * may be set while a plugin instance uses the host. The ctx's err holds the
 * first message reported. */
struct test_host {
    int started;
    char text[512];
    config_t cfg;
    struct dpt_host_ctx ctx;
};

/* Parses h->text into h->cfg and points h->ctx at its root group. */
static void host_parse(struct test_host *h)
{
    if (h->started) {
        config_destroy(&h->cfg);
    }
    config_init(&h->cfg);
    h->started = 1;
    int parsed = config_read_string(&h->cfg, h->text);
    if (!parsed) {
        fprintf(stderr, "test_plugins: line %d of \"%s\": %s\n", config_error_line(&h->cfg),
                h->text, config_error_text(&h->cfg));
    }
    CU_ASSERT_FATAL(parsed);
    dpt_host_init(&h->ctx, config_root_setting(&h->cfg), "test.cfg", "plugin under test");
}

/* Gives h an empty group (every setting at its default), dropping what it
 * had. h must be zeroed or started; host_end releases it. */
static void host_start(struct test_host *h)
{
    h->text[0] = '\0';
    host_parse(h);
}

static void host_end(struct test_host *h)
{
    if (h->started) {
        config_destroy(&h->cfg);
    }
    h->started = 0;
}

/* Adds the line "key = <value>;" (value printf-formatted) and parses again. */
static void host_set(struct test_host *h, const char *key, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void host_set(struct test_host *h, const char *key, const char *fmt, ...)
{
    char value[128];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(value, sizeof value, fmt, ap);
    va_end(ap);
    size_t used = strlen(h->text);
    int n = snprintf(h->text + used, sizeof h->text - used, "%s = %s;\n", key, value);
    CU_ASSERT_FATAL(n > 0 && (size_t)n < sizeof h->text - used);
    host_parse(h);
}

static void set_int(struct test_host *h, const char *key, int64_t v)
{
    host_set(h, key, "%lld", (long long)v);
}

/* 17 significant digits give v back exactly; a '.' (or exponent) makes
 * libconfig read a float even when v is a whole number. */
static void set_float(struct test_host *h, const char *key, double v)
{
    char num[64];
    snprintf(num, sizeof num, "%.17g", v);
    host_set(h, key, "%s%s", num, strpbrk(num, ".e") ? "" : ".0");
}

static void set_bool(struct test_host *h, const char *key, int v)
{
    host_set(h, key, "%s", v ? "true" : "false");
}

static void set_string(struct test_host *h, const char *key, const char *v)
{
    host_set(h, key, "\"%s\"", v);
}

/* ---------- Numbers for the tests ---------- */

/* SplitMix64 (Steele, Lea and Flood, 2014): a good 64-bit mix, enough to
 * make test inputs. */
static uint64_t mix64(uint64_t z)
{
    z += 0x9e3779b97f4a7c15ull;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* Uniform in [lo, hi), from a seed the caller keeps. */
static double uniform(uint64_t *seed, double lo, double hi)
{
    return lo + (hi - lo) * (double)(mix64((*seed)++) >> 11) * 0x1p-53;
}

static void fill(float *v, size_t n, uint64_t *seed, double lo, double hi)
{
    for (size_t i = 0; i < n; i++) {
        v[i] = (float)uniform(seed, lo, hi);
    }
}

/* Like fill, but every |v| >= gap: keeps inputs away from the kink of relu
 * so that v +- FD_STEP stays on one side of it. */
static void fill_away_from_zero(float *v, size_t n, uint64_t *seed, double lo, double hi,
                                double gap)
{
    for (size_t i = 0; i < n; i++) {
        do {
            v[i] = (float)uniform(seed, lo, hi);
        } while (fabsf(v[i]) < gap);
    }
}

static float *floats(size_t n)
{
    float *v = calloc(n ? n : 1, sizeof *v);
    CU_ASSERT_PTR_NOT_NULL_FATAL(v);
    return v;
}

static double dot(const float *a, const float *b, size_t n)
{
    double s = 0;
    for (size_t i = 0; i < n; i++) {
        s += (double)a[i] * b[i];
    }
    return s;
}

/* Largest error of the analytic gradient a[0, n) against central
 * differences of the objective f(ctx) in each of v[0, n) (see FD_BOUND):
 * the loop dptrain check-plugin runs (src/check/harness.h), not kink-aware,
 * since the tests keep their inputs away from kinks. */
static double fd_error(float *v, size_t n, const float *a, double (*f)(void *), void *ctx)
{
    struct dpt_check_fd fd;
    dpt_check_fd(v, n, a, f, ctx, FD_STEP, 0, &fd);
    return fd.worst;
}

/* Whether after[i] == sentinel + fresh[i] for all i, up to float rounding
 * (BLAS may add the old value before or after summing its products). */
static int accumulated(const float *after, const float *fresh, size_t n, float sentinel)
{
    for (size_t i = 0; i < n; i++) {
        if (!CLOSE(after[i], (double)sentinel + fresh[i], 1e-6)) {
            return 0;
        }
    }
    return 1;
}

/* The dx contract: with DPT_CAP_WRITES_DX backward writes every element, so
 * dx filled with NaN beforehand comes out as from zeros; otherwise it adds,
 * and dx filled with `sentinel` comes out as sentinel + the fresh values. */
static float dx_sentinel(const struct dpt_plugin *p)
{
    return (p->caps & DPT_CAP_WRITES_DX) ? NAN : 7.0f;
}

static int dx_contract_holds(const struct dpt_plugin *p, const float *after, const float *fresh,
                             size_t n)
{
    if (p->caps & DPT_CAP_WRITES_DX) {
        return memcmp(after, fresh, n * sizeof *after) == 0;
    }
    return accumulated(after, fresh, n, 7.0f);
}

/* ---------- All plugins load ---------- */

static void test_all_load(void)
{
    static const struct {
        uint32_t kind;
        const char *name;
    } all[] = {
        {DPT_KIND_LAYER, "dense"},        {DPT_KIND_ACTIVATION, "linear"},
        {DPT_KIND_ACTIVATION, "relu"},    {DPT_KIND_ACTIVATION, "sigmoid"},
        {DPT_KIND_ACTIVATION, "tanh"},    {DPT_KIND_ACTIVATION, "softmax"},
        {DPT_KIND_LOSS, "mse"},           {DPT_KIND_LOSS, "bce"},
        {DPT_KIND_LOSS, "cce"},           {DPT_KIND_OPTIMIZER, "sgd"},
        {DPT_KIND_OPTIMIZER, "adam"},
        {DPT_KIND_ACTIVATION, "leaky_relu"}, {DPT_KIND_ACTIVATION, "elu"},
        {DPT_KIND_ACTIVATION, "gelu"},       {DPT_KIND_ACTIVATION, "softplus"},
        {DPT_KIND_ACTIVATION, "swish"},      {DPT_KIND_OPTIMIZER, "rmsprop"},
        {DPT_KIND_OPTIMIZER, "adagrad"},     {DPT_KIND_OPTIMIZER, "adamw"},
    };
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) {
        const struct dpt_plugin *p = find_plugin(all[i].kind, all[i].name);
        CU_ASSERT_PTR_NOT_NULL_FATAL(p);
        CU_ASSERT_EQUAL(p->abi_major, DPT_ABI_MAJOR);
        CU_ASSERT_EQUAL(p->abi_minor, DPT_ABI_MINOR);
        CU_ASSERT(p->caps & DPT_CAP_DETERMINISTIC);
        CU_ASSERT(p->version && p->summary && *p->summary);
    }
    CU_ASSERT_PTR_NULL(loss_plugin("mse")->fused_activation);
    CU_ASSERT_STRING_EQUAL(loss_plugin("bce")->fused_activation, "sigmoid");
    CU_ASSERT_STRING_EQUAL(loss_plugin("cce")->fused_activation, "softmax");
}

/* ---------- dense ---------- */

/* A dense layer of n_out units on inputs of width n_in, a batch of B rows
 * of x, and the weights r of the objective L = sum(r * y). */
struct dense_case {
    const struct dpt_layer_plugin *p;
    struct test_host host;
    void *st;
    size_t n_in, n_out, B, n_params;
    float *params, *x, *y, *r;
};

/* The flat input shape [n] and an inference call over B rows. */
#define FLAT(n) (&(struct dpt_shape){.rank = 1, .dims = {(n)}})
#define CALL(rows) (&(struct dpt_batch){.B = (rows)})

static void dense_case_init(struct dense_case *c, size_t n_in, size_t n_out, size_t B,
                            int use_bias, uint64_t seed)
{
    memset(c, 0, sizeof *c);
    c->p = layer_plugin("dense");
    CU_ASSERT_PTR_NOT_NULL_FATAL(c->p);
    host_start(&c->host);
    set_int(&c->host, "units", (int64_t)n_out);
    set_bool(&c->host, "use_bias", use_bias);
    struct dpt_layer_info shape;
    CU_ASSERT_EQUAL_FATAL(c->p->create(&c->st, &c->host.ctx.host, FLAT(n_in), &shape), 0);
    CU_ASSERT(shape.out.rank == 1 && shape.out.dims[0] == n_out);
    CU_ASSERT_EQUAL(shape.n_params, n_out * n_in + (use_bias ? n_out : 0));
    CU_ASSERT_EQUAL(shape.n_state, 0);
    c->n_in = n_in, c->n_out = n_out, c->B = B, c->n_params = shape.n_params;
    c->params = floats(c->n_params);
    c->x = floats(B * n_in);
    c->y = floats(B * n_out);
    c->r = floats(B * n_out);
    fill(c->params, c->n_params, &seed, -1, 1);
    fill(c->x, B * n_in, &seed, -1, 1);
    fill(c->r, B * n_out, &seed, -1, 1);
}

static void dense_case_cleanup(struct dense_case *c)
{
    c->p->destroy(c->st);
    host_end(&c->host);
    free(c->params), free(c->x), free(c->y), free(c->r);
}

static double dense_objective(void *ctx)
{
    struct dense_case *c = ctx;
    c->p->forward(c->st, c->params, c->x, c->y, CALL(c->B));
    return dot(c->r, c->y, c->B * c->n_out);
}

static void test_dense_forward(void)
{
    for (int use_bias = 0; use_bias <= 1; use_bias++) {
        struct dense_case c;
        dense_case_init(&c, 4, 3, 5, use_bias, 1);
        c.p->forward(c.st, c.params, c.x, c.y, CALL(c.B));
        for (size_t i = 0; i < c.B; i++) {
            for (size_t j = 0; j < c.n_out; j++) {
                double ref = use_bias ? c.params[c.n_out * c.n_in + j] : 0.0;
                for (size_t k = 0; k < c.n_in; k++) {
                    ref += (double)c.x[i * c.n_in + k] * c.params[j * c.n_in + k];
                }
                CU_ASSERT(CLOSE(c.y[i * c.n_out + j], ref, 1e-6));
            }
        }
        dense_case_cleanup(&c);
    }
}

static void test_dense_gradients(void)
{
    for (int use_bias = 0; use_bias <= 1; use_bias++) {
        struct dense_case c;
        dense_case_init(&c, 4, 3, 5, use_bias, 2);
        float *dx = floats(c.B * c.n_in), *dparams = floats(c.n_params);
        c.p->backward(c.st, c.params, c.x, c.y, c.r, dx, dparams, CALL(c.B));
        CU_ASSERT(fd_error(c.x, c.B * c.n_in, dx, dense_objective, &c) < FD_BOUND);
        CU_ASSERT(fd_error(c.params, c.n_params, dparams, dense_objective, &c) < FD_BOUND);
        free(dx), free(dparams);
        dense_case_cleanup(&c);
    }
}

/* backward writes dx and adds into dparams; with dx NULL it still fills
 * dparams. */
static void test_dense_accumulates(void)
{
    struct dense_case c;
    dense_case_init(&c, 6, 4, 7, 1, 3);
    size_t n_dx = c.B * c.n_in;
    float *dx = floats(n_dx), *dparams = floats(c.n_params);
    float *dx7 = floats(n_dx), *dparams7 = floats(c.n_params), *dparams_only = floats(c.n_params);
    c.p->forward(c.st, c.params, c.x, c.y, CALL(c.B));
    c.p->backward(c.st, c.params, c.x, c.y, c.r, dx, dparams, CALL(c.B));
    CU_ASSERT(c.p->base.caps & DPT_CAP_WRITES_DX);
    for (size_t i = 0; i < n_dx; i++) {
        dx7[i] = dx_sentinel(&c.p->base);
    }
    for (size_t i = 0; i < c.n_params; i++) {
        dparams7[i] = 7.0f;
    }
    c.p->backward(c.st, c.params, c.x, c.y, c.r, dx7, dparams7, CALL(c.B));
    CU_ASSERT(dx_contract_holds(&c.p->base, dx7, dx, n_dx));
    CU_ASSERT(accumulated(dparams7, dparams, c.n_params, 7.0f));
    c.p->backward(c.st, c.params, c.x, c.y, c.r, NULL, dparams_only, CALL(c.B));
    CU_ASSERT(memcmp(dparams_only, dparams, c.n_params * sizeof(float)) == 0);
    free(dx), free(dparams), free(dx7), free(dparams7), free(dparams_only);
    dense_case_cleanup(&c);
}

static void test_dense_tensors(void)
{
    struct dense_case c;
    dense_case_init(&c, 5, 3, 1, 1, 4);
    struct dpt_tensor t;
    CU_ASSERT_EQUAL_FATAL(c.p->tensor(c.st, 0, &t), 0);
    CU_ASSERT_STRING_EQUAL(t.name, "weight");
    CU_ASSERT(t.rank == 2 && t.shape[0] == 3 && t.shape[1] == 5 && t.offset == 0);
    CU_ASSERT_EQUAL_FATAL(c.p->tensor(c.st, 1, &t), 0);
    CU_ASSERT_STRING_EQUAL(t.name, "bias");
    CU_ASSERT(t.rank == 1 && t.shape[0] == 3 && t.offset == 15);
    CU_ASSERT_EQUAL(c.p->tensor(c.st, 2, &t), -1);
    dense_case_cleanup(&c);

    dense_case_init(&c, 5, 3, 1, 0, 4);
    CU_ASSERT_EQUAL(c.p->tensor(c.st, 0, &t), 0);
    CU_ASSERT_EQUAL(c.p->tensor(c.st, 1, &t), -1);
    dense_case_cleanup(&c);
}

/* create fails with the host's negative value and a message naming the key. */
static void test_dense_bad_settings(void)
{
    const struct dpt_layer_plugin *p = layer_plugin("dense");
    CU_ASSERT_PTR_NOT_NULL_FATAL(p);
    struct dpt_layer_info shape;
    void *st = NULL;
    struct test_host f = {0};

    host_start(&f); /* no units */
    set_bool(&f, "use_bias", 1);
    CU_ASSERT(p->create(&st, &f.ctx.host, FLAT(4), &shape) < 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(f.ctx.err.msg, "'units'"));
    CU_ASSERT_PTR_NOT_NULL(strstr(f.ctx.err.msg, "required"));

    host_start(&f);
    set_int(&f, "units", 0);
    CU_ASSERT(p->create(&st, &f.ctx.host, FLAT(4), &shape) < 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(f.ctx.err.msg, "'units'"));

    host_start(&f);
    set_float(&f, "units", 2.5); /* the host wants an integer */
    CU_ASSERT(p->create(&st, &f.ctx.host, FLAT(4), &shape) < 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(f.ctx.err.msg, "'units'"));

    host_start(&f);
    set_int(&f, "units", 3);
    set_string(&f, "initializer", "ones");
    CU_ASSERT(p->create(&st, &f.ctx.host, FLAT(4), &shape) < 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(f.ctx.err.msg, "'initializer'"));
    host_end(&f);
}

/* Creates a dense layer with the given initializer and returns its freshly
 * initialized parameters (n_in * n_out weights, then n_out biases). */
static float *dense_init_params(const char *initializer, size_t n_in, size_t n_out)
{
    const struct dpt_layer_plugin *p = layer_plugin("dense");
    CU_ASSERT_PTR_NOT_NULL_FATAL(p);
    struct test_host f = {0};
    host_start(&f);
    set_int(&f, "units", (int64_t)n_out);
    if (initializer) {
        set_string(&f, "initializer", initializer);
    }
    struct dpt_layer_info shape;
    void *st = NULL;
    CU_ASSERT_EQUAL_FATAL(p->create(&st, &f.ctx.host, FLAT(n_in), &shape), 0);
    CU_ASSERT_EQUAL_FATAL(shape.n_params, n_in * n_out + n_out);
    float *params = floats(shape.n_params);
    for (size_t i = 0; i < shape.n_params; i++) {
        params[i] = 7.0f; /* init must overwrite all of it */
    }
    struct dpt_rng rng = {42, 0};
    p->init(st, params, &f.ctx.host, &rng);
    p->destroy(st);
    host_end(&f);
    return params;
}

static void mean_var(const float *v, size_t n, double *mean, double *var)
{
    double s = 0, ss = 0;
    for (size_t i = 0; i < n; i++) {
        s += v[i];
    }
    *mean = s / (double)n;
    for (size_t i = 0; i < n; i++) {
        ss += (v[i] - *mean) * (v[i] - *mean);
    }
    *var = ss / (double)(n - 1);
}

static int all_zero(const float *v, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (v[i] != 0.0f) {
            return 0;
        }
    }
    return 1;
}

/* U(-l, l), l = sqrt(6 / (200 + 300)) = 0.10954: variance l^2 / 3 = 0.004.
 * The sample variance of N = 60000 uniform draws has a relative standard
 * error of sqrt(0.8 / N) = 0.0037, so 3% is 8 standard errors; the mean has
 * a standard error of sqrt(0.004 / N) = 2.6e-4. */
static void test_dense_glorot_uniform(void)
{
    size_t n_in = 200, n_out = 300, n_w = n_in * n_out;
    float *params = dense_init_params(NULL, n_in, n_out); /* the default */
    double limit = sqrt(6.0 / (double)(n_in + n_out));
    int inside = 1;
    for (size_t i = 0; i < n_w; i++) {
        inside &= fabs(params[i]) <= limit;
    }
    CU_ASSERT(inside);
    double mean, var;
    mean_var(params, n_w, &mean, &var);
    CU_ASSERT(fabs(mean) < 2e-3);
    CU_ASSERT(fabs(var / (limit * limit / 3.0) - 1.0) < 0.03);
    CU_ASSERT(all_zero(params + n_w, n_out));
    free(params);
}

/* N(0, sqrt(2 / 200)): variance 0.01; the relative standard error of the
 * sample variance of 60000 normal draws is sqrt(2 / N) = 0.0058. */
static void test_dense_he_normal(void)
{
    size_t n_in = 200, n_out = 300, n_w = n_in * n_out;
    float *params = dense_init_params("he_normal", n_in, n_out);
    double mean, var;
    mean_var(params, n_w, &mean, &var);
    CU_ASSERT(fabs(mean) < 3e-3);
    CU_ASSERT(fabs(var / (2.0 / (double)n_in) - 1.0) < 0.04);
    CU_ASSERT(all_zero(params + n_w, n_out));
    free(params);
}

static void test_dense_zeros(void)
{
    float *params = dense_init_params("zeros", 20, 30);
    CU_ASSERT(all_zero(params, 20 * 30 + 30));
    free(params);
}

/* ---------- Activations ---------- */

/* Every activation with its default settings, and again with each setting
 * that changes its formula: a float setting, or a string one when s is not
 * NULL (key NULL: the defaults). */
struct act_setting {
    const char *name;
    const char *key;
    double f;
    const char *s;
};

static const struct act_setting act_settings[] = {
    {"linear", NULL, 0, NULL},
    {"relu", NULL, 0, NULL},
    {"sigmoid", NULL, 0, NULL},
    {"tanh", NULL, 0, NULL},
    {"softmax", NULL, 0, NULL},
    {"leaky_relu", NULL, 0, NULL},
    {"leaky_relu", "alpha", 0.2, NULL},
    {"elu", NULL, 0, NULL},
    {"elu", "alpha", 0.5, NULL},
    {"gelu", NULL, 0, NULL},
    {"gelu", "approximate", 0, "tanh"},
    {"softplus", NULL, 0, NULL},
    {"swish", NULL, 0, NULL},
};
#define N_ACT_SETTINGS (sizeof act_settings / sizeof act_settings[0])

/* An activation instance: the plugin, the host its create read the setting
 * from (it must outlive the instance), and the state create made (NULL for
 * stateless plugins, which have no create). */
struct act {
    const struct dpt_activation_plugin *p;
    struct test_host host;
    void *st;
};

static void act_open(struct act *a, const struct act_setting *s)
{
    a->p = activation_plugin(s->name);
    CU_ASSERT_PTR_NOT_NULL_FATAL(a->p);
    a->st = NULL;
    a->host = (struct test_host){0};
    host_start(&a->host);
    if (s->key && s->s) {
        set_string(&a->host, s->key, s->s);
    } else if (s->key) {
        set_float(&a->host, s->key, s->f);
    }
    if (a->p->create) {
        CU_ASSERT_PTR_NOT_NULL_FATAL(a->p->destroy);
        int rc = a->p->create(&a->st, &a->host.ctx.host);
        if (rc != 0) {
            fprintf(stderr, "activation %s: %s\n", s->name, a->host.ctx.err.msg);
        }
        CU_ASSERT_EQUAL_FATAL(rc, 0);
    }
}

static void act_close(struct act *a)
{
    if (a->p->destroy) {
        a->p->destroy(a->st);
    }
    host_end(&a->host);
}

/* "gelu (approximate tanh)", for messages. */
static const char *act_label(const struct act_setting *s, char *buf, size_t len)
{
    if (!s->key) {
        snprintf(buf, len, "%s", s->name);
    } else if (s->s) {
        snprintf(buf, len, "%s (%s %s)", s->name, s->key, s->s);
    } else {
        snprintf(buf, len, "%s (%s %g)", s->name, s->key, s->f);
    }
    return buf;
}

/* y = f(x) of the setting at one point. */
static float act_at(const struct act_setting *s, float x)
{
    struct act a;
    act_open(&a, s);
    float y = NAN;
    a.p->forward(a.st, &x, &y, 1, 1);
    act_close(&a);
    return y;
}

/* dy/dx of the setting at one point, from backward with dy = 1. */
static float act_slope_at(const struct act_setting *s, float x)
{
    struct act a;
    act_open(&a, s);
    float y, dy = 1.0f, dx = 0.0f;
    a.p->forward(a.st, &x, &y, 1, 1);
    a.p->backward(a.st, &x, &y, &dy, &dx, 1, 1);
    act_close(&a);
    return dx;
}

struct act_case {
    struct act a;
    size_t rows, cols;
    float *x, *y, *r;
};

static double act_objective(void *ctx)
{
    struct act_case *c = ctx;
    c->a.p->forward(c->a.st, c->x, c->y, c->rows, c->cols);
    return dot(c->r, c->y, c->rows * c->cols);
}

/* The double-precision value of an elementwise activation with the given
 * setting; the defaults (leaky_relu alpha 0.01, elu alpha 1, gelu exact)
 * are written out here, so a changed default fails. */
static double act_reference(const struct act_setting *s, double x)
{
    const char *name = s->name;
    if (strcmp(name, "relu") == 0) {
        return x > 0 ? x : 0;
    }
    if (strcmp(name, "sigmoid") == 0) {
        return 1.0 / (1.0 + exp(-x));
    }
    if (strcmp(name, "tanh") == 0) {
        return tanh(x);
    }
    if (strcmp(name, "leaky_relu") == 0) {
        double alpha = s->key ? s->f : 0.01;
        return x > 0 ? x : alpha * x;
    }
    if (strcmp(name, "elu") == 0) {
        double alpha = s->key ? s->f : 1.0;
        return x > 0 ? x : alpha * expm1(x);
    }
    if (strcmp(name, "gelu") == 0 && s->key) {
        return 0.5 * x * (1.0 + tanh(sqrt(2.0 / M_PI) * (x + 0.044715 * x * x * x)));
    }
    if (strcmp(name, "gelu") == 0) {
        return 0.5 * x * erfc(-x / sqrt(2.0)); /* x Phi(x) */
    }
    if (strcmp(name, "softplus") == 0) {
        return x > 0 ? x + log1p(exp(-x)) : log1p(exp(x)); /* log(1 + e^x), no overflow */
    }
    if (strcmp(name, "swish") == 0) {
        return x / (1.0 + exp(-x));
    }
    return x;
}

static void test_activation_values(void)
{
    enum { N = 64 };
    float x[N], y[N];
    uint64_t seed = 5;
    fill(x, N, &seed, -6, 6);
    x[0] = 0.0f, x[1] = 100.0f, x[2] = -100.0f, x[3] = 1000.0f, x[4] = -1000.0f;
    for (size_t a = 0; a < N_ACT_SETTINGS; a++) {
        const struct act_setting *s = &act_settings[a];
        if (strcmp(s->name, "softmax") == 0) {
            continue;
        }
        struct act act;
        act_open(&act, s);
        act.p->forward(act.st, x, y, 8, N / 8);
        int good = 1;
        for (size_t i = 0; i < N; i++) {
            good &= isfinite(y[i]) && CLOSE(y[i], act_reference(s, x[i]), 1e-6);
        }
        CU_ASSERT(good);
        if (!good) {
            char label[64];
            fprintf(stderr, "activation %s: values differ from the reference\n",
                    act_label(s, label, sizeof label));
        }
        act_close(&act);
    }
    /* Saturation is exact, not NaN: exp only ever sees -|x|. */
    struct act sigmoid;
    act_open(&sigmoid, &(struct act_setting){"sigmoid", NULL, 0, NULL});
    sigmoid.p->forward(sigmoid.st, x, y, 1, 5);
    CU_ASSERT(y[0] == 0.5f && y[1] == 1.0f && y[2] >= 0.0f && y[2] < 1e-40f);
    CU_ASSERT(y[3] == 1.0f && y[4] == 0.0f);
    act_close(&sigmoid);
}

/* Values at chosen points, worked out with a calculator (double). */
static void test_activation_points(void)
{
    const struct act_setting leaky = {"leaky_relu", NULL, 0, NULL};
    const struct act_setting leaky2 = {"leaky_relu", "alpha", 0.2, NULL};
    /* alpha 0.01 by default, 0.2 when set: -2 -> -0.02 and -0.4. */
    CU_ASSERT(CLOSE(act_at(&leaky, -2.0f), -0.02, 1e-7));
    CU_ASSERT(CLOSE(act_at(&leaky2, -2.0f), -0.4, 1e-7));
    CU_ASSERT(act_at(&leaky2, 3.0f) == 3.0f && act_at(&leaky2, 0.0f) == 0.0f);
    CU_ASSERT(CLOSE(act_slope_at(&leaky2, -2.0f), 0.2, 1e-7));
    CU_ASSERT(act_slope_at(&leaky2, 2.0f) == 1.0f);

    /* elu(-1) = alpha (e^-1 - 1) = -0.6321205588 (alpha 1), -0.3160602794
     * (alpha 0.5); its slope there is alpha e^-1 = 0.3678794412 (alpha 1).
     * Near 0, expm1 keeps the digits: elu(-1e-6) = -9.999995e-7, where
     * expf(x) - 1 in float would be off by about 1%. Far left it is -alpha. */
    const struct act_setting elu = {"elu", NULL, 0, NULL};
    const struct act_setting elu2 = {"elu", "alpha", 0.5, NULL};
    CU_ASSERT(CLOSE(act_at(&elu, -1.0f), -0.6321205588, 1e-7));
    CU_ASSERT(CLOSE(act_at(&elu2, -1.0f), -0.3160602794, 1e-7));
    CU_ASSERT(CLOSE(act_slope_at(&elu, -1.0f), 0.3678794412, 1e-7));
    CU_ASSERT(REL_CLOSE(act_at(&elu, -1e-6f), -9.999995e-7, 1e-6));
    CU_ASSERT(act_at(&elu, -100.0f) == -1.0f && act_at(&elu2, 2.5f) == 2.5f);

    /* gelu(x) = x Phi(x): gelu(1) = 0.8413447461, gelu(-1) = -0.1586552539,
     * gelu(3) = 2.9959503059; the tanh form gives 0.8411919906,
     * -0.1588080094 and 2.9963626079. In the left tail the erfc form keeps
     * its relative precision: gelu(-10) = -10 Phi(-10) = -7.619853e-23
     * (1 + erf(x / sqrt 2) would round to 0; the tolerance 1e-4 covers the
     * rounding of the argument x / sqrt 2, which erfc amplifies about
     * x^2 = 100 times there). The slope at 1 is
     * Phi(1) + phi(1) = 0.8413447461 + 0.2419707245 = 1.0833154706. */
    const struct act_setting gelu = {"gelu", NULL, 0, NULL};
    const struct act_setting gelu_tanh = {"gelu", "approximate", 0, "tanh"};
    CU_ASSERT(CLOSE(act_at(&gelu, 1.0f), 0.8413447461, 1e-7));
    CU_ASSERT(CLOSE(act_at(&gelu, -1.0f), -0.1586552539, 1e-7));
    CU_ASSERT(CLOSE(act_at(&gelu, 3.0f), 2.9959503059, 1e-7));
    CU_ASSERT(REL_CLOSE(act_at(&gelu, -10.0f), -7.619853e-23, 1e-4));
    CU_ASSERT(CLOSE(act_at(&gelu_tanh, 1.0f), 0.8411919906, 1e-7));
    CU_ASSERT(CLOSE(act_at(&gelu_tanh, -1.0f), -0.1588080094, 1e-7));
    CU_ASSERT(CLOSE(act_at(&gelu_tanh, 3.0f), 2.9963626079, 1e-7));
    CU_ASSERT(CLOSE(act_slope_at(&gelu, 1.0f), 1.0833154706, 1e-6));
    CU_ASSERT(act_at(&gelu, 0.0f) == 0.0f && act_at(&gelu_tanh, 0.0f) == 0.0f);

    /* softplus(0) = ln 2 = 0.6931471806; softplus(100) = 100 exactly;
     * softplus(-100) = e^-100 = 3.7e-44, a float denormal, and
     * softplus(-20) = log1p(e^-20) = 2.0611537e-9, which log(1 + e^x) in
     * float would round to 0. The slope is sigmoid(x): 0.5 at 0. */
    const struct act_setting softplus = {"softplus", NULL, 0, NULL};
    CU_ASSERT(CLOSE(act_at(&softplus, 0.0f), 0.6931471806, 1e-7));
    CU_ASSERT(act_at(&softplus, 100.0f) == 100.0f);
    float tiny = act_at(&softplus, -100.0f);
    CU_ASSERT(isfinite(tiny) && tiny >= 0.0f && tiny < 1e-40f);
    CU_ASSERT(REL_CLOSE(act_at(&softplus, -20.0f), 2.0611537e-9, 1e-6));
    CU_ASSERT(act_slope_at(&softplus, 0.0f) == 0.5f);

    /* swish(1) = sigmoid(1) = 0.7310585786, swish(-1) = -sigmoid(-1) =
     * -0.2689414214; its slope at 0 is 1/2. */
    const struct act_setting swish = {"swish", NULL, 0, NULL};
    CU_ASSERT(CLOSE(act_at(&swish, 1.0f), 0.7310585786, 1e-7));
    CU_ASSERT(CLOSE(act_at(&swish, -1.0f), -0.2689414214, 1e-7));
    CU_ASSERT(act_at(&swish, 1000.0f) == 1000.0f && act_at(&swish, -1000.0f) == 0.0f);
    CU_ASSERT(act_slope_at(&swish, 0.0f) == 0.5f);

    /* Far out every slope is that of the asymptote, not NaN (x^2 overflows
     * float at 1e20: exp(-x^2 / 2) and the tanh form's cubic must not meet
     * an inf * 0). Right: 1, or 0 for sigmoid and tanh; left: alpha for
     * leaky_relu, 0 for the others. */
    static const float far[] = {30.0f, 1000.0f, 1e20f, 3e38f};
    for (size_t a = 0; a < N_ACT_SETTINGS; a++) {
        const struct act_setting *s = &act_settings[a];
        if (strcmp(s->name, "softmax") == 0 || strcmp(s->name, "linear") == 0) {
            continue;
        }
        int squashing = strcmp(s->name, "sigmoid") == 0 || strcmp(s->name, "tanh") == 0;
        double right = squashing ? 0.0 : 1.0;
        double left = strcmp(s->name, "leaky_relu") == 0 ? (s->key ? s->f : 0.01) : 0.0;
        for (size_t i = 0; i < sizeof far / sizeof far[0]; i++) {
            CU_ASSERT(CLOSE(act_slope_at(s, far[i]), right, 1e-7));
            CU_ASSERT(CLOSE(act_slope_at(s, -far[i]), left, 1e-7));
        }
    }
}

static void test_softmax_values(void)
{
    const struct dpt_activation_plugin *p = activation_plugin("softmax");
    CU_ASSERT_PTR_NOT_NULL_FATAL(p);
    enum { ROWS = 6, COLS = 5 };
    float x[ROWS * COLS], y[ROWS * COLS];
    uint64_t seed = 6;
    fill(x, ROWS * COLS, &seed, -4, 4);
    p->forward(NULL, x, y, ROWS, COLS);
    for (size_t i = 0; i < ROWS; i++) {
        double sum = 0, ref_sum = 0;
        for (size_t j = 0; j < COLS; j++) {
            sum += y[i * COLS + j];
            ref_sum += exp(x[i * COLS + j]);
        }
        CU_ASSERT(fabs(sum - 1.0) < 1e-6);
        for (size_t j = 0; j < COLS; j++) {
            CU_ASSERT(CLOSE(y[i * COLS + j], exp(x[i * COLS + j]) / ref_sum, 1e-6));
        }
    }
    /* Logits of +-1000 would overflow a naive exp. */
    float big[6] = {1000.0f, -1000.0f, 0.0f, -1000.0f, -1000.0f, -1000.0f};
    p->forward(NULL, big, y, 2, 3);
    CU_ASSERT(y[0] == 1.0f && y[1] == 0.0f && y[2] == 0.0f);
    for (size_t j = 3; j < 6; j++) {
        CU_ASSERT(CLOSE(y[j], 1.0 / 3.0, 1e-6));
    }
}

static void test_activation_gradients(void)
{
    for (size_t a = 0; a < N_ACT_SETTINGS; a++) {
        struct act_case c = {.rows = 4, .cols = 5};
        act_open(&c.a, &act_settings[a]);
        size_t n = c.rows * c.cols;
        c.x = floats(n), c.y = floats(n), c.r = floats(n);
        float *dx = floats(n);
        uint64_t seed = 10 + a;
        /* Away from the kinks of relu, leaky_relu and elu at 0. */
        fill_away_from_zero(c.x, n, &seed, -3, 3, 0.05);
        fill(c.r, n, &seed, -1, 1);
        c.a.p->forward(c.a.st, c.x, c.y, c.rows, c.cols);
        c.a.p->backward(c.a.st, c.x, c.y, c.r, dx, c.rows, c.cols);
        double err = fd_error(c.x, n, dx, act_objective, &c);
        CU_ASSERT(err < FD_BOUND);
        if (!(err < FD_BOUND)) {
            char label[64];
            fprintf(stderr, "activation %s: finite-difference error %g\n",
                    act_label(&act_settings[a], label, sizeof label), err);
        }
        free(c.x), free(c.y), free(c.r), free(dx);
        act_close(&c.a);
    }
}

static void test_activation_accumulates(void)
{
    for (size_t a = 0; a < N_ACT_SETTINGS; a++) {
        struct act act;
        act_open(&act, &act_settings[a]);
        enum { ROWS = 3, COLS = 4, N = ROWS * COLS };
        float x[N], y[N], dy[N], dx[N] = {0}, dx7[N];
        uint64_t seed = 20 + a;
        fill(x, N, &seed, -3, 3);
        fill(dy, N, &seed, -1, 1);
        CU_ASSERT(act.p->base.caps & DPT_CAP_WRITES_DX); /* all built-in ones do */
        for (size_t i = 0; i < N; i++) {
            dx7[i] = dx_sentinel(&act.p->base);
        }
        act.p->forward(act.st, x, y, ROWS, COLS);
        act.p->backward(act.st, x, y, dy, dx, ROWS, COLS);
        act.p->backward(act.st, x, y, dy, dx7, ROWS, COLS);
        CU_ASSERT(dx_contract_holds(&act.p->base, dx7, dx, N));
        act_close(&act);
    }
}

/* create fails with the host's negative value and a message naming the key. */
static int act_refuses(const char *name, struct test_host *f, const char *key)
{
    const struct dpt_activation_plugin *p = activation_plugin(name);
    CU_ASSERT_PTR_NOT_NULL_FATAL(p);
    CU_ASSERT_PTR_NOT_NULL_FATAL(p->create);
    void *st = NULL;
    int rc = p->create(&st, &f->ctx.host);
    if (rc == 0) {
        p->destroy(st);
        return 0;
    }
    char quoted[64];
    snprintf(quoted, sizeof quoted, "'%s'", key);
    return rc < 0 && f->ctx.err.code == DPT_ECONFIG && strstr(f->ctx.err.msg, quoted) != NULL;
}

static void test_activation_errors(void)
{
    struct test_host f = {0};
    host_start(&f);
    set_float(&f, "alpha", 1.5);
    CU_ASSERT(act_refuses("leaky_relu", &f, "alpha"));
    host_start(&f);
    set_float(&f, "alpha", -0.1);
    CU_ASSERT(act_refuses("leaky_relu", &f, "alpha"));
    host_start(&f);
    set_float(&f, "alpha", -1.0);
    CU_ASSERT(act_refuses("elu", &f, "alpha"));
    host_start(&f);
    set_string(&f, "approximate", "erf");
    CU_ASSERT(act_refuses("gelu", &f, "approximate"));
    host_start(&f);
    set_bool(&f, "approximate", 1); /* PyTorch's spelling is a string */
    CU_ASSERT(act_refuses("gelu", &f, "approximate"));
    host_start(&f);
    set_float(&f, "alpha", 0.0); /* the ends of the ranges are allowed */
    CU_ASSERT(!act_refuses("leaky_relu", &f, "alpha"));
    CU_ASSERT(!act_refuses("elu", &f, "alpha"));
    host_start(&f);
    set_float(&f, "alpha", 1.0);
    CU_ASSERT(!act_refuses("leaky_relu", &f, "alpha"));
    host_end(&f);
}

/* ---------- Losses ---------- */

/* A loss on a batch of B rows: pred (B, n_out), targets y (B, y_cols). */
struct loss_case {
    const char *name;
    const struct dpt_loss_plugin *p;
    size_t B, n_out, y_cols;
    float *pred, *y;
};

enum target_kind { TARGET_ANY, TARGET_UNIT, TARGET_LABEL, TARGET_PROB };

static void loss_case_init(struct loss_case *c, const char *name, size_t B, size_t n_out,
                           size_t y_cols, enum target_kind targets, uint64_t seed)
{
    *c = (struct loss_case){.name = name, .p = loss_plugin(name), .B = B, .n_out = n_out,
                            .y_cols = y_cols};
    CU_ASSERT_PTR_NOT_NULL_FATAL(c->p);
    c->pred = floats(B * n_out);
    c->y = floats(B * y_cols);
    fill(c->pred, B * n_out, &seed, -3, 3);
    for (size_t i = 0; i < B; i++) {
        float *t = c->y + i * y_cols;
        double sum = 0;
        for (size_t j = 0; j < y_cols; j++) {
            switch (targets) {
            case TARGET_ANY:
                t[j] = (float)uniform(&seed, -2, 2);
                break;
            case TARGET_UNIT: /* labels 0 and 1, and probabilities */
                t[j] = (i % 3 == 0) ? 0.0f : (i % 3 == 1) ? 1.0f : (float)uniform(&seed, 0, 1);
                break;
            case TARGET_LABEL:
                t[j] = (float)(mix64(seed++) % n_out);
                break;
            case TARGET_PROB:
                t[j] = (float)uniform(&seed, 0, 1);
                sum += t[j];
                break;
            }
        }
        for (size_t j = 0; targets == TARGET_PROB && j < y_cols; j++) {
            t[j] = (float)(t[j] / sum);
        }
    }
    char why[256] = "";
    CU_ASSERT_EQUAL(c->p->check_shape(NULL, n_out, y_cols, why, sizeof why), 0);
    if (c->p->check_rows) {
        CU_ASSERT_EQUAL(c->p->check_rows(NULL, c->y, B, n_out, y_cols, why, sizeof why), -1);
    }
}

static void loss_case_cleanup(struct loss_case *c)
{
    free(c->pred), free(c->y);
}

static double loss_objective(void *ctx)
{
    struct loss_case *c = ctx;
    return c->p->forward_backward(NULL, c->pred, c->y, NULL, c->B, c->n_out, c->y_cols, 1.0f);
}

/* Every loss with every kind of target it takes. */
static const struct {
    const char *name;
    size_t n_out, y_cols;
    enum target_kind targets;
} loss_cases[] = {
    {"mse", 3, 3, TARGET_ANY},   {"mse", 1, 1, TARGET_ANY},  {"mse", 4, 1, TARGET_LABEL},
    {"bce", 1, 1, TARGET_UNIT},  {"bce", 3, 3, TARGET_UNIT}, {"cce", 4, 1, TARGET_LABEL},
    {"cce", 2, 1, TARGET_LABEL}, {"cce", 4, 4, TARGET_PROB},
    /* Rows in [0, 1] that need not sum to 1 (check_rows allows multi-hot
     * rows): the gradient is (sum t) softmax(z) - t, not softmax(z) - t. */
    {"cce", 3, 3, TARGET_UNIT},
};
#define N_LOSS_CASES (sizeof loss_cases / sizeof loss_cases[0])

/* dpred against central differences of the returned loss sum (scale 1), and
 * scale multiplying the gradient. */
static void test_loss_gradients(void)
{
    for (size_t k = 0; k < N_LOSS_CASES; k++) {
        struct loss_case c;
        loss_case_init(&c, loss_cases[k].name, 6, loss_cases[k].n_out, loss_cases[k].y_cols,
                       loss_cases[k].targets, 30 + k);
        size_t n = c.B * c.n_out;
        float *dpred = floats(n), *dpred_scaled = floats(n);
        double loss = c.p->forward_backward(NULL, c.pred, c.y, dpred, c.B, c.n_out, c.y_cols,
                                            1.0f);
        CU_ASSERT(isfinite(loss) && loss >= 0);
        double err = fd_error(c.pred, n, dpred, loss_objective, &c);
        CU_ASSERT(err < FD_BOUND);
        if (!(err < FD_BOUND)) {
            fprintf(stderr, "loss case %zu (%s): finite-difference error %g\n", k, c.name, err);
        }
        double loss_scaled = c.p->forward_backward(NULL, c.pred, c.y, dpred_scaled, c.B,
                                                   c.n_out, c.y_cols, 0.25f);
        CU_ASSERT(loss_scaled == loss); /* scale only touches the gradient */
        for (size_t i = 0; i < n; i++) {
            CU_ASSERT(CLOSE(dpred_scaled[i], 0.25 * dpred[i], 1e-6));
        }
        free(dpred), free(dpred_scaled);
        loss_case_cleanup(&c);
    }
}

static void test_loss_accumulates(void)
{
    for (size_t k = 0; k < N_LOSS_CASES; k++) {
        struct loss_case c;
        loss_case_init(&c, loss_cases[k].name, 5, loss_cases[k].n_out, loss_cases[k].y_cols,
                       loss_cases[k].targets, 40 + k);
        size_t n = c.B * c.n_out;
        float *dpred = floats(n), *dpred7 = floats(n);
        for (size_t i = 0; i < n; i++) {
            dpred7[i] = 7.0f;
        }
        double a = c.p->forward_backward(NULL, c.pred, c.y, dpred, c.B, c.n_out, c.y_cols, 1.0f);
        double b = c.p->forward_backward(NULL, c.pred, c.y, dpred7, c.B, c.n_out, c.y_cols,
                                         1.0f);
        CU_ASSERT(a == b);
        CU_ASSERT(accumulated(dpred7, dpred, n, 7.0f));
        free(dpred), free(dpred7);
        loss_case_cleanup(&c);
    }
}

static double loss_sum(const char *name, const float *pred, const float *y, size_t B,
                       size_t n_out, size_t y_cols, float *dpred)
{
    const struct dpt_loss_plugin *p = loss_plugin(name);
    CU_ASSERT_PTR_NOT_NULL_FATAL(p);
    return p->forward_backward(NULL, pred, y, dpred, B, n_out, y_cols, 1.0f);
}

/* Worked by hand:
 *   pred (1, 2, 3), target (1, 0, 5): (0 + 4 + 4) / 3 = 8/3;
 *   pred (0.5, 0.5, 0), label 1 = target (0, 1, 0): (0.25 + 0.25 + 0) / 3 = 1/6;
 *   the gradient of the first row is 2 (pred - target) / 3 = (0, 4/3, -4/3). */
static void test_mse_values(void)
{
    float pred[3] = {1, 2, 3}, y[3] = {1, 0, 5}, dpred[3] = {0};
    CU_ASSERT(CLOSE(loss_sum("mse", pred, y, 1, 3, 3, dpred), 8.0 / 3.0, 1e-12));
    CU_ASSERT(CLOSE(dpred[0], 0.0, 1e-7) && CLOSE(dpred[1], 4.0 / 3.0, 1e-7) &&
              CLOSE(dpred[2], -4.0 / 3.0, 1e-7));
    float pred2[3] = {0.5f, 0.5f, 0}, label[1] = {1};
    CU_ASSERT(CLOSE(loss_sum("mse", pred2, label, 1, 3, 1, NULL), 1.0 / 6.0, 1e-12));
    /* Two rows: the sum of the rows' losses. */
    float pred3[6] = {1, 2, 3, 0.5f, 0.5f, 0}, y3[6] = {1, 0, 5, 0, 1, 0};
    CU_ASSERT(CLOSE(loss_sum("mse", pred3, y3, 2, 3, 3, NULL), 8.0 / 3.0 + 1.0 / 6.0, 1e-12));
}

/* Against -[t log s + (1 - t) log(1 - s)], s = sigmoid(z), for moderate z,
 * and finite values for saturated logits. */
static void test_bce_values(void)
{
    enum { N = 40 };
    float z[N], t[N];
    uint64_t seed = 50;
    fill(z, N, &seed, -8, 8);
    for (size_t i = 0; i < N; i++) {
        t[i] = i % 3 == 0 ? 0.0f : i % 3 == 1 ? 1.0f : 0.3f;
    }
    for (size_t i = 0; i < N; i++) {
        double s = 1.0 / (1.0 + exp(-(double)z[i]));
        double ref = -(t[i] * log(s) + (1.0 - t[i]) * log(1.0 - s));
        CU_ASSERT(CLOSE(loss_sum("bce", z + i, t + i, 1, 1, 1, NULL), ref, 1e-9));
    }
    /* The mean over two outputs. */
    double s0 = 1.0 / (1.0 + exp(-(double)z[0])), s1 = 1.0 / (1.0 + exp(-(double)z[1]));
    double ref2 = (-log(1.0 - s0) - log(s1)) / 2.0;
    CU_ASSERT(CLOSE(loss_sum("bce", z, t, 1, 2, 2, NULL), ref2, 1e-9));

    /* z = +-100 and +-1000: a naive sigmoid gives log(0) = -inf here. */
    float zs[6] = {100, 100, -100, -100, 1000, -1000}, ts[6] = {1, 0, 1, 0, 0, 1};
    float dz[6] = {0};
    double sums[6];
    for (size_t i = 0; i < 6; i++) {
        sums[i] = loss_sum("bce", zs + i, ts + i, 1, 1, 1, dz + i);
        CU_ASSERT(isfinite(sums[i]) && isfinite(dz[i]));
    }
    CU_ASSERT(sums[0] >= 0 && sums[0] < 1e-40 && sums[3] >= 0 && sums[3] < 1e-40);
    CU_ASSERT(CLOSE(sums[1], 100.0, 1e-12) && CLOSE(sums[2], 100.0, 1e-12));
    CU_ASSERT(CLOSE(sums[4], 1000.0, 1e-12) && CLOSE(sums[5], 1000.0, 1e-12));
    CU_ASSERT(dz[1] == 1.0f && dz[2] == -1.0f && dz[4] == 1.0f && dz[5] == -1.0f);
}

/* Worked by hand: logits (1, 2, 3), label 2:
 *   log(e + e^2 + e^3) - 3 = log(1 + e^-1 + e^-2) = log(1.50321472) = 0.40760596.
 * Logits of +-1000 stay finite: (1000, -1000, 0) with label 1 costs 2000,
 * with label 0 costs log(1 + e^-1000 + e^-2000) = 0. */
static void test_cce_values(void)
{
    float z[3] = {1, 2, 3}, label[1] = {2}, dz[3] = {0};
    CU_ASSERT(CLOSE(loss_sum("cce", z, label, 1, 3, 1, dz), 0.40760596, 1e-8));
    /* The gradient is softmax(z) - onehot: (0.0900306, 0.2447285, 0.6652410 - 1). */
    CU_ASSERT(CLOSE(dz[0], 0.0900306, 1e-6) && CLOSE(dz[1], 0.2447285, 1e-6) &&
              CLOSE(dz[2], -0.3347590, 1e-6));
    /* The same target as a one-hot row gives the same loss. */
    float onehot[3] = {0, 0, 1};
    CU_ASSERT(CLOSE(loss_sum("cce", z, onehot, 1, 3, 3, NULL), 0.40760596, 1e-8));

    float big[3] = {1000, -1000, 0}, l1[1] = {1}, l0[1] = {0}, dbig[3] = {0};
    CU_ASSERT(CLOSE(loss_sum("cce", big, l1, 1, 3, 1, dbig), 2000.0, 1e-12));
    CU_ASSERT(dbig[0] == 1.0f && dbig[1] == -1.0f && dbig[2] == 0.0f);
    CU_ASSERT(loss_sum("cce", big, l0, 1, 3, 1, NULL) == 0.0);
    /* A label check_rows would reject makes the loss NaN rather than a guess. */
    float bad[1] = {3};
    CU_ASSERT(isnan(loss_sum("cce", z, bad, 1, 3, 1, NULL)));
}

static int check_shape(const char *name, uint64_t n_out, uint64_t y_cols, char *why,
                       size_t why_len)
{
    const struct dpt_loss_plugin *p = loss_plugin(name);
    CU_ASSERT_PTR_NOT_NULL_FATAL(p);
    why[0] = '\0';
    int rc = p->check_shape(NULL, n_out, y_cols, why, why_len);
    if (rc < 0) {
        CU_ASSERT(why[0] != '\0'); /* a refusal always says why */
    }
    return rc;
}

static void test_loss_check_shape(void)
{
    char why[256];
    CU_ASSERT_EQUAL(check_shape("mse", 3, 3, why, sizeof why), 0);
    CU_ASSERT_EQUAL(check_shape("mse", 1, 1, why, sizeof why), 0);
    CU_ASSERT_EQUAL(check_shape("mse", 3, 1, why, sizeof why), 0); /* labels, one-hot */
    CU_ASSERT_EQUAL(check_shape("mse", 3, 2, why, sizeof why), -1);
    CU_ASSERT_EQUAL(check_shape("mse", 1, 2, why, sizeof why), -1);
    CU_ASSERT_EQUAL(check_shape("bce", 1, 1, why, sizeof why), 0);
    CU_ASSERT_EQUAL(check_shape("bce", 2, 2, why, sizeof why), 0);
    CU_ASSERT_EQUAL(check_shape("bce", 2, 1, why, sizeof why), -1);
    CU_ASSERT_EQUAL(check_shape("cce", 3, 1, why, sizeof why), 0);
    CU_ASSERT_EQUAL(check_shape("cce", 3, 3, why, sizeof why), 0);
    CU_ASSERT_EQUAL(check_shape("cce", 3, 2, why, sizeof why), -1);
    CU_ASSERT_EQUAL(check_shape("cce", 1, 1, why, sizeof why), -1);
    CU_ASSERT_PTR_NOT_NULL(strstr(why, "at least 2 outputs"));
}

static int64_t check_rows(const char *name, const float *y, uint64_t rows, uint64_t n_out,
                          uint64_t y_cols, char *why, size_t why_len)
{
    const struct dpt_loss_plugin *p = loss_plugin(name);
    CU_ASSERT_PTR_NOT_NULL_FATAL(p);
    CU_ASSERT_PTR_NOT_NULL_FATAL(p->check_rows);
    why[0] = '\0';
    return p->check_rows(NULL, y, rows, n_out, y_cols, why, why_len);
}

static void test_loss_check_rows(void)
{
    char why[256];
    float labels[4] = {0, 2, 1, 3};
    CU_ASSERT_EQUAL(check_rows("cce", labels, 3, 3, 1, why, sizeof why), -1);
    CU_ASSERT_EQUAL(check_rows("cce", labels, 4, 3, 1, why, sizeof why), 3);
    CU_ASSERT_PTR_NOT_NULL(strstr(why, "label 3 is out of range [0, 2] for 3 outputs (one "
                                      "softmax output per class;"));
    float half[2] = {0, 1.5f};
    CU_ASSERT_EQUAL(check_rows("cce", half, 2, 3, 1, why, sizeof why), 1);
    CU_ASSERT_PTR_NOT_NULL(strstr(why, "label 1.5 is not an integer (categorical "
                                      "cross-entropy takes class labels 0..2; for regression "
                                      "targets use loss \"mse\""));
    float negative[1] = {-1}, nan_label[1] = {NAN};
    CU_ASSERT_EQUAL(check_rows("cce", negative, 1, 3, 1, why, sizeof why), 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(why, "label -1"));
    CU_ASSERT_EQUAL(check_rows("cce", nan_label, 1, 3, 1, why, sizeof why), 0);
    float probs[6] = {0.5f, 0.5f, 0, 0.2f, 1.2f, -0.4f};
    CU_ASSERT_EQUAL(check_rows("cce", probs, 2, 3, 3, why, sizeof why), 1);
    CU_ASSERT_PTR_NOT_NULL(strstr(why, "1.2"));

    float targets[4] = {0, 1, 2.0f, 0.5f};
    CU_ASSERT_EQUAL(check_rows("bce", targets, 2, 1, 1, why, sizeof why), -1);
    CU_ASSERT_EQUAL(check_rows("bce", targets, 4, 1, 1, why, sizeof why), 2);
    CU_ASSERT_PTR_NOT_NULL(strstr(why, "target 2 "));
    float nan_target[1] = {NAN};
    CU_ASSERT_EQUAL(check_rows("bce", nan_target, 1, 1, 1, why, sizeof why), 0);

    CU_ASSERT_EQUAL(check_rows("mse", labels, 4, 3, 1, why, sizeof why), 3);
    CU_ASSERT_PTR_NOT_NULL(strstr(why, "label 3"));
    float values[4] = {-5, 1e6f, 0, INFINITY};
    CU_ASSERT_EQUAL(check_rows("mse", values, 2, 2, 2, why, sizeof why), 1);
    CU_ASSERT_EQUAL(check_rows("mse", values, 3, 1, 1, why, sizeof why), -1);
}

static void test_loss_correct(void)
{
    const struct dpt_loss_plugin *bce = loss_plugin("bce"), *cce = loss_plugin("cce");
    CU_ASSERT_PTR_NOT_NULL_FATAL(bce);
    CU_ASSERT_PTR_NOT_NULL_FATAL(cce);
    CU_ASSERT_PTR_NULL(loss_plugin("mse")->correct);
    /* One output: z > 0 against t > 0.5. Right: rows 0, 1 and 3. */
    float z[4] = {-1, 2, 0.5f, 0}, t[4] = {0, 1, 0, 0};
    CU_ASSERT_EQUAL(bce->correct(NULL, z, t, 4, 1, 1), 3);
    /* Two outputs: a row is right only when both are. */
    float z2[4] = {1, 1, 1, -1}, t2[4] = {1, 1, 1, 1};
    CU_ASSERT_EQUAL(bce->correct(NULL, z2, t2, 2, 2, 2), 1);
    /* argmax against labels (rows 0 and 2 right) and against one-hot rows. */
    float logits[9] = {3, 1, 2, 0, 5, 9, 1, 1, 0};
    float labels[3] = {0, 1, 0}, onehot[9] = {1, 0, 0, 0, 0, 1, 0, 1, 0};
    CU_ASSERT_EQUAL(cce->correct(NULL, logits, labels, 3, 3, 1), 2);
    CU_ASSERT_EQUAL(cce->correct(NULL, logits, onehot, 3, 3, 3), 2);
}

/* ---------- Optimizers ---------- */

/* Creates an optimizer with the settings in f; returns its state or NULL. */
static void *optimizer_new(const struct dpt_optimizer_plugin *o, struct test_host *f)
{
    void *st = NULL;
    int rc = o->create(&st, &f->ctx.host);
    CU_ASSERT_EQUAL(rc, 0);
    if (rc != 0) {
        fprintf(stderr, "optimizer %s: %s\n", o->base.name, f->ctx.err.msg);
        return NULL;
    }
    return st;
}

/* Runs `steps` steps of w = 1 with the constant gradient 0.5 and checks w
 * after each against expect[]. */
static void sgd_run(struct test_host *f, float lr_scale, int steps, const double *expect)
{
    const struct dpt_optimizer_plugin *o = optimizer_plugin("sgd");
    CU_ASSERT_PTR_NOT_NULL_FATAL(o);
    void *st = optimizer_new(o, f);
    CU_ASSERT_PTR_NOT_NULL_FATAL(st);
    float w = 1.0f, g = 0.5f, v = 0.0f;
    for (int t = 1; t <= steps; t++) {
        o->step(st, &w, &g, &v, 1, 1, (uint64_t)t, lr_scale);
        CU_ASSERT(CLOSE(w, expect[t - 1], 1e-6));
    }
    o->destroy(st);
}

/* lr 0.1, w = 1, g = 0.5: each step takes 0.1 * 0.5 = 0.05 off. */
static void test_sgd_plain(void)
{
    struct test_host f = {0};
    host_start(&f);
    set_float(&f, "learning_rate", 0.1);
    static const double expect[] = {0.95, 0.90, 0.85};
    sgd_run(&f, 1.0f, 3, expect);

    const struct dpt_optimizer_plugin *o = optimizer_plugin("sgd");
    void *st = optimizer_new(o, &f);
    CU_ASSERT_EQUAL(o->state_floats(st), 0);
    o->destroy(st);
    host_end(&f);
}

/* momentum 0.9: v1 = 0.5, w = 1 - 0.1 * 0.5 = 0.95;
 * v2 = 0.9 * 0.5 + 0.5 = 0.95, w = 0.95 - 0.095 = 0.855;
 * v3 = 0.9 * 0.95 + 0.5 = 1.355, w = 0.855 - 0.1355 = 0.7195. */
static void test_sgd_momentum(void)
{
    struct test_host f = {0};
    host_start(&f);
    set_float(&f, "learning_rate", 0.1);
    set_float(&f, "momentum", 0.9);
    static const double expect[] = {0.95, 0.855, 0.7195};
    sgd_run(&f, 1.0f, 3, expect);

    const struct dpt_optimizer_plugin *o = optimizer_plugin("sgd");
    void *st = optimizer_new(o, &f);
    CU_ASSERT_EQUAL(o->state_floats(st), 1);
    o->destroy(st);
    host_end(&f);
}

/* Nesterov, momentum 0.9: the step is g + 0.9 v.
 * v1 = 0.5, w = 1 - 0.1 * (0.5 + 0.45) = 0.905;
 * v2 = 0.95, w = 0.905 - 0.1 * (0.5 + 0.855) = 0.7695;
 * v3 = 1.355, w = 0.7695 - 0.1 * (0.5 + 1.2195) = 0.59755. */
static void test_sgd_nesterov(void)
{
    struct test_host f = {0};
    host_start(&f);
    set_float(&f, "learning_rate", 0.1);
    set_float(&f, "momentum", 0.9);
    set_bool(&f, "nesterov", 1);
    static const double expect[] = {0.905, 0.7695, 0.59755};
    sgd_run(&f, 1.0f, 3, expect);
    host_end(&f);
}

/* weight_decay 0.1 adds 0.1 w to the gradient:
 * g1 = 0.5 + 0.1 = 0.6, w = 1 - 0.06 = 0.94;
 * g2 = 0.5 + 0.094 = 0.594, w = 0.94 - 0.0594 = 0.8806. */
static void test_sgd_weight_decay(void)
{
    struct test_host f = {0};
    host_start(&f);
    set_float(&f, "learning_rate", 0.1);
    set_float(&f, "weight_decay", 0.1);
    static const double expect[] = {0.94, 0.8806};
    sgd_run(&f, 1.0f, 2, expect);
    host_end(&f);
}

/* lr_scale 0.5 halves the step: w = 1 - 0.5 * 0.1 * 0.5 = 0.975, then 0.95. */
static void test_sgd_lr_scale(void)
{
    struct test_host f = {0};
    host_start(&f);
    set_float(&f, "learning_rate", 0.1);
    static const double expect[] = {0.975, 0.95};
    sgd_run(&f, 0.5f, 2, expect);
    host_end(&f);
}

/* Adam's first step moves every weight by about lr * sign(g), whatever |g|
 * (when |g| >> epsilon): m1 / (1 - b1) = g and v1 / (1 - b2) = g^2. With the
 * defaults (lr 0.001, epsilon 1e-7) and w = 1:
 *   g = 0.5:   w = 1 - 0.001 * 0.5 / (0.5 + 1e-7)   = 0.9990000002;
 *   g = -2e-3: w = 1 + 0.001 * 2e-3 / (2e-3 + 1e-7) = 1.00099995;
 *   g = 40:    w = 0.999.
 * With a constant gradient m_hat = g and v_hat = g^2 at every step, so three
 * steps of g = 0.5 give w = 0.997. */
static void test_adam_by_hand(void)
{
    const struct dpt_optimizer_plugin *o = optimizer_plugin("adam");
    CU_ASSERT_PTR_NOT_NULL_FATAL(o);
    struct test_host f = {0};
    host_start(&f);
    void *st = optimizer_new(o, &f);
    CU_ASSERT_PTR_NOT_NULL_FATAL(st);
    CU_ASSERT_EQUAL(o->state_floats(st), 2);
    float w[3] = {1, 1, 1}, g[3] = {0.5f, -2e-3f, 40}, ostate[6] = {0};
    o->step(st, w, g, ostate, 3, 3, 1, 1.0f);
    CU_ASSERT(CLOSE(w[0], 0.999, 1e-6) && CLOSE(w[1], 1.001, 1e-6) && CLOSE(w[2], 0.999, 1e-6));
    o->step(st, w, g, ostate, 3, 3, 2, 1.0f);
    o->step(st, w, g, ostate, 3, 3, 3, 1.0f);
    CU_ASSERT(CLOSE(w[0], 0.997, 2e-6));
    o->destroy(st);
    host_end(&f);
}

/* Steps 1..3 with changing gradients against the paper's formulas in
 * double, with non-default settings (weight decay included) and lr_scale. */
static void test_adam_formulas(void)
{
    const struct dpt_optimizer_plugin *o = optimizer_plugin("adam");
    CU_ASSERT_PTR_NOT_NULL_FATAL(o);
    const double lr = 0.01, b1 = 0.8, b2 = 0.99, eps = 1e-3, wd = 0.01, scale = 0.5;
    struct test_host f = {0};
    host_start(&f);
    set_float(&f, "learning_rate", lr);
    set_float(&f, "beta1", b1);
    set_float(&f, "beta2", b2);
    set_float(&f, "epsilon", eps);
    set_float(&f, "weight_decay", wd);
    void *st = optimizer_new(o, &f);
    CU_ASSERT_PTR_NOT_NULL_FATAL(st);
    enum { N = 4 };
    static const float grads[3][N] = {
        {0.5f, -0.25f, 1e-3f, 2.0f}, {-0.5f, -0.25f, 0.0f, 1.0f}, {0.1f, 0.75f, -1e-3f, 3.0f}};
    float w[N] = {1.0f, -0.5f, 0.25f, 2.0f}, ostate[2 * N] = {0};
    double wd_ref[N], m[N] = {0}, v[N] = {0};
    for (size_t i = 0; i < N; i++) {
        wd_ref[i] = w[i];
    }
    for (int t = 1; t <= 3; t++) {
        o->step(st, w, grads[t - 1], ostate, N, N, (uint64_t)t, (float)scale);
        for (size_t i = 0; i < N; i++) {
            double g = grads[t - 1][i] + wd * wd_ref[i];
            m[i] = b1 * m[i] + (1 - b1) * g;
            v[i] = b2 * v[i] + (1 - b2) * g * g;
            double m_hat = m[i] / (1 - pow(b1, t)), v_hat = v[i] / (1 - pow(b2, t));
            wd_ref[i] -= lr * scale * m_hat / (sqrt(v_hat) + eps);
            CU_ASSERT(CLOSE(w[i], wd_ref[i], 1e-6));
            CU_ASSERT(REL_CLOSE(ostate[i], m[i], 1e-5));
            CU_ASSERT(REL_CLOSE(ostate[N + i], v[i], 1e-5));
        }
    }
    o->destroy(st);
    host_end(&f);
}

/* Runs `steps` steps of one weight w0 under the constant gradient g, with
 * lr_scale scale[t - 1] (1 when scale is NULL), and checks w after each step
 * against expect[]. The optimizer's state after the last step is left in
 * state_out[0, 3) when it is not NULL. */
static void opt_run(const char *name, struct test_host *f, float w0, float g, int steps,
                    const float *scale, const double *expect, float *state_out)
{
    const struct dpt_optimizer_plugin *o = optimizer_plugin(name);
    CU_ASSERT_PTR_NOT_NULL_FATAL(o);
    void *st = optimizer_new(o, f);
    CU_ASSERT_PTR_NOT_NULL_FATAL(st);
    CU_ASSERT_FATAL(o->state_floats(st) <= 3);
    float w = w0, ostate[3] = {0};
    for (int t = 1; t <= steps; t++) {
        o->step(st, &w, &g, ostate, 1, 1, (uint64_t)t, scale ? scale[t - 1] : 1.0f);
        CU_ASSERT(CLOSE(w, expect[t - 1], 1e-6));
        if (!CLOSE(w, expect[t - 1], 1e-6)) {
            fprintf(stderr, "%s step %d: w = %.9g, expected %.9g\n", name, t, w, expect[t - 1]);
        }
    }
    if (state_out) {
        memcpy(state_out, ostate, sizeof ostate);
    }
    o->destroy(st);
}

static uint32_t opt_state_floats(const char *name, struct test_host *f)
{
    const struct dpt_optimizer_plugin *o = optimizer_plugin(name);
    CU_ASSERT_PTR_NOT_NULL_FATAL(o);
    void *st = optimizer_new(o, f);
    CU_ASSERT_PTR_NOT_NULL_FATAL(st);
    uint32_t k = o->state_floats(st);
    o->destroy(st);
    return k;
}

/* rmsprop settings for the hand-worked cases: lr 0.1, rho 0.75 and an
 * epsilon of 1e-12, which vanishes next to v ~ 1 in float, so that the
 * square roots below are of round numbers. */
static void rmsprop_hand_settings(struct test_host *f)
{
    host_start(f);
    set_float(f, "learning_rate", 0.1);
    set_float(f, "rho", 0.75);
    set_float(f, "epsilon", 1e-12);
}

/* w = 1, g = 2 at every step:
 *   v1 = 0.25 * 4 = 1,              w = 1 - 0.1 * 2 / 1 = 0.8;
 *   v2 = 0.75 * 1 + 1 = 1.75,       w = 0.8 - 0.2 / 1.3228757 = 0.64881421;
 *   v3 = 0.75 * 1.75 + 1 = 2.3125,  w = 0.64881421 - 0.2 / 1.5206906 = 0.51729502.
 * Keras' documented example (lr 0.1, defaults otherwise, w = 10, g = 10):
 *   v1 = 0.1 * 100 = 10, w = 10 - 0.1 * 10 / sqrt(10 + 1e-7) = 9.6837722.
 * epsilon sits inside the root, as in Keras: with g = 1e-4 (rho 0.75,
 * epsilon 1e-7) v1 = 2.5e-9 and w = 1 - 1e-5 / sqrt(1.025e-7) = 0.96876525,
 * where PyTorch's sqrt(v) + epsilon would give 1 - 1e-5 / 5.01e-5 = 0.8004. */
static void test_rmsprop_plain(void)
{
    struct test_host f = {0};
    rmsprop_hand_settings(&f);
    static const double expect[] = {0.8, 0.64881421, 0.51729502};
    float state[3];
    opt_run("rmsprop", &f, 1.0f, 2.0f, 3, NULL, expect, state);
    CU_ASSERT(CLOSE(state[0], 2.3125, 1e-6));
    CU_ASSERT_EQUAL(opt_state_floats("rmsprop", &f), 1);

    host_start(&f);
    set_float(&f, "learning_rate", 0.1);
    static const double keras[] = {9.6837722};
    opt_run("rmsprop", &f, 10.0f, 10.0f, 1, NULL, keras, NULL);

    host_start(&f);
    set_float(&f, "learning_rate", 0.1);
    set_float(&f, "rho", 0.75);
    static const double inside[] = {0.96876525};
    opt_run("rmsprop", &f, 1.0f, 1e-4f, 1, NULL, inside, NULL);
    host_end(&f);
}

/* momentum 0.5 keeps m = 0.5 m + u, u the plain step above:
 *   m1 = 0.2,                            w = 0.8;
 *   m2 = 0.1 + 0.15118579 = 0.25118579,  w = 0.54881421;
 *   m3 = 0.12559289 + 0.13151919 = 0.25711208, w = 0.29170213.
 * State: v, then m. */
static void test_rmsprop_momentum(void)
{
    struct test_host f = {0};
    rmsprop_hand_settings(&f);
    set_float(&f, "momentum", 0.5);
    static const double expect[] = {0.8, 0.54881421, 0.29170213};
    float state[3];
    opt_run("rmsprop", &f, 1.0f, 2.0f, 3, NULL, expect, state);
    CU_ASSERT(CLOSE(state[0], 2.3125, 1e-6) && CLOSE(state[1], 0.25711208, 1e-6));
    CU_ASSERT_EQUAL(opt_state_floats("rmsprop", &f), 2);
    host_end(&f);
}

/* centered: mg = 0.75 mg + 0.25 g and the root is of v - mg^2:
 *   v1 = 1, mg1 = 0.5,        d = 1 - 0.25 = 0.75,         w = 1 - 0.2 / 0.8660254 = 0.76905989;
 *   v2 = 1.75, mg2 = 0.875,   d = 1.75 - 0.765625 = 0.984375,
 *                             w = 0.76905989 - 0.2 / 0.99215674 = 0.56747884.
 * With momentum 0.5 too, one step leaves the state (v, m, mg) =
 * (1, 0.23094011, 0.5). */
static void test_rmsprop_centered(void)
{
    struct test_host f = {0};
    rmsprop_hand_settings(&f);
    set_bool(&f, "centered", 1);
    static const double expect[] = {0.76905989, 0.56747884};
    float state[3];
    opt_run("rmsprop", &f, 1.0f, 2.0f, 2, NULL, expect, state);
    CU_ASSERT(CLOSE(state[0], 1.75, 1e-6) && CLOSE(state[1], 0.875, 1e-6));
    CU_ASSERT_EQUAL(opt_state_floats("rmsprop", &f), 2);

    rmsprop_hand_settings(&f);
    set_bool(&f, "centered", 1);
    set_float(&f, "momentum", 0.5);
    static const double expect1[] = {0.76905989};
    opt_run("rmsprop", &f, 1.0f, 2.0f, 1, NULL, expect1, state);
    CU_ASSERT(CLOSE(state[0], 1.0, 1e-6) && CLOSE(state[1], 0.23094011, 1e-6) &&
              CLOSE(state[2], 0.5, 1e-6));
    CU_ASSERT_EQUAL(opt_state_floats("rmsprop", &f), 3);
    host_end(&f);
}

/* lr_scale 1 then 0.5, momentum 0.5: the buffer holds steps with the rate
 * applied (Keras), so the new rate scales only the new increment:
 *   m1 = 0.2, w = 0.8;  m2 = 0.5 * 0.2 + 0.5 * 0.15118579 = 0.17559289,
 *   w = 0.62440711. (PyTorch's buffer of g / sqrt(v) would give 0.67440711.) */
static void test_rmsprop_lr_scale(void)
{
    struct test_host f = {0};
    rmsprop_hand_settings(&f);
    set_float(&f, "momentum", 0.5);
    static const float scale[] = {1.0f, 0.5f};
    static const double expect[] = {0.8, 0.62440711};
    opt_run("rmsprop", &f, 1.0f, 2.0f, 2, scale, expect, NULL);
    host_end(&f);
}

/* lr 0.1, w = 1, g = 0.5 (g^2 = 0.25) at every step, epsilon 1e-12:
 *   initial_accumulator_value 0.75: the accumulator is 0.75 + s,
 *     s1 = 0.25: w = 1 - 0.05 / sqrt(1) = 0.95;
 *     s2 = 0.5:  w = 0.95 - 0.05 / sqrt(1.25) = 0.90527864;
 *     s3 = 0.75: w = 0.90527864 - 0.05 / sqrt(1.5) = 0.86445381;
 *     the state holds s3 = 0.75, not the accumulator 1.5;
 *   initial_accumulator_value 0: the first step is lr * sign(g),
 *     w = 0.9, then 0.9 - 0.05 / sqrt(0.5) = 0.82928932;
 *   the defaults (0.1, epsilon 1e-7):
 *     w = 1 - 0.05 / sqrt(0.3500001) = 0.91548459, then
 *     0.91548459 - 0.05 / sqrt(0.6000001) = 0.85093487;
 *   lr_scale 0.5 with 0.75: w = 0.975, then 0.975 - 0.025 / sqrt(1.25) = 0.95263932. */
static void test_adagrad_by_hand(void)
{
    struct test_host f = {0};
    host_start(&f);
    set_float(&f, "learning_rate", 0.1);
    set_float(&f, "initial_accumulator_value", 0.75);
    set_float(&f, "epsilon", 1e-12);
    static const double expect[] = {0.95, 0.90527864, 0.86445381};
    float state[3];
    opt_run("adagrad", &f, 1.0f, 0.5f, 3, NULL, expect, state);
    CU_ASSERT(CLOSE(state[0], 0.75, 1e-6));
    CU_ASSERT_EQUAL(opt_state_floats("adagrad", &f), 1);

    static const float half[] = {0.5f, 0.5f};
    static const double expect_half[] = {0.975, 0.95263932};
    opt_run("adagrad", &f, 1.0f, 0.5f, 2, half, expect_half, NULL);

    host_start(&f);
    set_float(&f, "learning_rate", 0.1);
    set_float(&f, "initial_accumulator_value", 0.0);
    set_float(&f, "epsilon", 1e-12);
    static const double expect0[] = {0.9, 0.82928932};
    opt_run("adagrad", &f, 1.0f, 0.5f, 2, NULL, expect0, NULL);

    host_start(&f);
    set_float(&f, "learning_rate", 0.1);
    static const double expect_default[] = {0.91548459, 0.85093487};
    opt_run("adagrad", &f, 1.0f, 0.5f, 2, NULL, expect_default, NULL);
    host_end(&f);
}

/* Decoupled decay against adam's L2, defaults (lr 0.001, weight_decay
 * 0.004 for adamw and set to 0.004 for adam), w = 1. With a constant
 * gradient m_hat / sqrt(v_hat) = sign(g) at every step (up to epsilon):
 *   g = 0.5, adamw: w1 = 1 - 0.001 (0.9999998 + 0.004) = 0.998996,
 *     w2 = w1 - 0.001 (0.9999998 + 0.004 w1) = 0.99799200,
 *     w3 = 0.99698801;
 *   g = 0.5, adam:  g' = 0.504 is normalized away: w1 = 0.999, w2 = 0.998,
 *     w3 = 0.997, as without decay;
 *   g = 0, adamw:   w shrinks by 1 - 4e-6 per step: 0.999996, 0.999992,
 *     0.999988;
 *   g = 0, adam:    g' = 0.004 w also moves w by lr: 0.999, 0.998, 0.997. */
static void test_adamw_by_hand(void)
{
    struct test_host f = {0};
    host_start(&f);
    static const double w_half[] = {0.998996, 0.99799200, 0.99698801};
    opt_run("adamw", &f, 1.0f, 0.5f, 3, NULL, w_half, NULL);
    static const double w_zero[] = {0.999996, 0.999992, 0.999988};
    opt_run("adamw", &f, 1.0f, 0.0f, 3, NULL, w_zero, NULL);
    CU_ASSERT_EQUAL(opt_state_floats("adamw", &f), 2);

    host_start(&f);
    set_float(&f, "weight_decay", 0.004);
    static const double adam_l2[] = {0.999, 0.998, 0.997};
    opt_run("adam", &f, 1.0f, 0.5f, 3, NULL, adam_l2, NULL);
    opt_run("adam", &f, 1.0f, 0.0f, 3, NULL, adam_l2, NULL);
    host_end(&f);
}

/* Steps 1..3 with changing gradients against the formulas in double, with
 * non-default settings and lr_scale 0.5 (which scales both terms); and with
 * weight_decay 0 adamw is adam. */
static void test_adamw_formulas(void)
{
    const struct dpt_optimizer_plugin *o = optimizer_plugin("adamw");
    const struct dpt_optimizer_plugin *adam = optimizer_plugin("adam");
    CU_ASSERT_PTR_NOT_NULL_FATAL(o);
    CU_ASSERT_PTR_NOT_NULL_FATAL(adam);
    const double lr = 0.01, b1 = 0.8, b2 = 0.99, eps = 1e-3, wd = 0.1, scale = 0.5;
    struct test_host f = {0};
    host_start(&f);
    set_float(&f, "learning_rate", lr);
    set_float(&f, "beta1", b1);
    set_float(&f, "beta2", b2);
    set_float(&f, "epsilon", eps);
    set_float(&f, "weight_decay", wd);
    void *st = optimizer_new(o, &f);
    CU_ASSERT_PTR_NOT_NULL_FATAL(st);
    enum { N = 4 };
    static const float grads[3][N] = {
        {0.5f, -0.25f, 1e-3f, 2.0f}, {-0.5f, -0.25f, 0.0f, 1.0f}, {0.1f, 0.75f, -1e-3f, 3.0f}};
    float w[N] = {1.0f, -0.5f, 0.25f, 2.0f}, ostate[2 * N] = {0};
    double ref[N], m[N] = {0}, v[N] = {0};
    for (size_t i = 0; i < N; i++) {
        ref[i] = w[i];
    }
    for (int t = 1; t <= 3; t++) {
        o->step(st, w, grads[t - 1], ostate, N, N, (uint64_t)t, (float)scale);
        for (size_t i = 0; i < N; i++) {
            double g = grads[t - 1][i];
            m[i] = b1 * m[i] + (1 - b1) * g;
            v[i] = b2 * v[i] + (1 - b2) * g * g;
            double m_hat = m[i] / (1 - pow(b1, t)), v_hat = v[i] / (1 - pow(b2, t));
            ref[i] -= lr * scale * (m_hat / (sqrt(v_hat) + eps) + wd * ref[i]);
            CU_ASSERT(CLOSE(w[i], ref[i], 1e-6));
            CU_ASSERT(REL_CLOSE(ostate[i], m[i], 1e-5));
            CU_ASSERT(REL_CLOSE(ostate[N + i], v[i], 1e-5));
        }
    }
    o->destroy(st);

    host_start(&f);
    set_float(&f, "weight_decay", 0.0);
    st = optimizer_new(o, &f);
    host_start(&f);
    void *st_adam = optimizer_new(adam, &f);
    CU_ASSERT_PTR_NOT_NULL_FATAL(st);
    CU_ASSERT_PTR_NOT_NULL_FATAL(st_adam);
    float w2[N] = {1.0f, -0.5f, 0.25f, 2.0f}, s2[2 * N] = {0};
    float w3[N] = {1.0f, -0.5f, 0.25f, 2.0f}, s3[2 * N] = {0};
    for (int t = 1; t <= 3; t++) {
        o->step(st, w2, grads[t - 1], s2, N, N, (uint64_t)t, 1.0f);
        adam->step(st_adam, w3, grads[t - 1], s3, N, N, (uint64_t)t, 1.0f);
    }
    for (size_t i = 0; i < N; i++) {
        CU_ASSERT(CLOSE(w2[i], w3[i], 1e-6));
    }
    o->destroy(st);
    adam->destroy(st_adam);
    host_end(&f);
}

/* The host may split one update over threads by ranges: two calls on
 * [0, 4) and [4, 11) must give the same bits as one call on [0, 11). */
static void check_ranges(const char *name, struct test_host *f)
{
    const struct dpt_optimizer_plugin *o = optimizer_plugin(name);
    CU_ASSERT_PTR_NOT_NULL_FATAL(o);
    void *st = optimizer_new(o, f);
    CU_ASSERT_PTR_NOT_NULL_FATAL(st);
    CU_ASSERT_FATAL(o->state_floats(st) <= 3);
    enum { N = 11, CUT = 4 };
    float w1[N], w2[N], g[N], s1[3 * N] = {0}, s2[3 * N] = {0};
    uint64_t seed = 60;
    fill(w1, N, &seed, -1, 1);
    memcpy(w2, w1, sizeof w1);
    for (uint64_t t = 1; t <= 3; t++) {
        fill(g, N, &seed, -1, 1);
        o->step(st, w1, g, s1, N, N, t, 0.7f);
        o->step(st, w2, g, s2, N, CUT, t, 0.7f);
        o->step(st, w2 + CUT, g + CUT, s2 + CUT, N, N - CUT, t, 0.7f);
    }
    CU_ASSERT(memcmp(w1, w2, sizeof w1) == 0);
    CU_ASSERT(memcmp(s1, s2, sizeof s1) == 0);
    o->destroy(st);
}

static void test_optimizer_ranges(void)
{
    struct test_host f = {0};
    host_start(&f);
    set_float(&f, "momentum", 0.9);
    set_bool(&f, "nesterov", 1);
    set_float(&f, "weight_decay", 0.01);
    check_ranges("sgd", &f);
    host_start(&f);
    set_float(&f, "weight_decay", 0.01);
    check_ranges("adam", &f);
    host_start(&f);
    set_float(&f, "momentum", 0.9);
    set_bool(&f, "centered", 1);
    set_float(&f, "weight_decay", 0.01);
    check_ranges("rmsprop", &f); /* all three state arrays */
    host_start(&f);
    set_float(&f, "weight_decay", 0.01);
    check_ranges("adagrad", &f);
    host_start(&f);
    check_ranges("adamw", &f);
    host_end(&f);
}

/* create returns the negative value of a failed get_float or of error(). */
static int optimizer_refuses(const char *name, const char *key, double value)
{
    const struct dpt_optimizer_plugin *o = optimizer_plugin(name);
    CU_ASSERT_PTR_NOT_NULL_FATAL(o);
    struct test_host f = {0};
    host_start(&f);
    set_float(&f, key, value);
    void *st = NULL;
    int rc = o->create(&st, &f.ctx.host);
    if (rc == 0) {
        o->destroy(st);
    }
    char quoted[64];
    snprintf(quoted, sizeof quoted, "'%s'", key);
    int refused = rc < 0 && f.ctx.err.code == DPT_ECONFIG && strstr(f.ctx.err.msg, quoted);
    host_end(&f);
    return refused;
}

static void test_optimizer_errors(void)
{
    CU_ASSERT(optimizer_refuses("adam", "beta1", 1.5));  /* the host's range check */
    CU_ASSERT(optimizer_refuses("adam", "beta1", 1.0));  /* the plugin's: [0, 1) */
    CU_ASSERT(optimizer_refuses("adam", "beta2", -0.1));
    CU_ASSERT(optimizer_refuses("adam", "epsilon", 0.0));
    CU_ASSERT(optimizer_refuses("adam", "learning_rate", 0.0));
    CU_ASSERT(optimizer_refuses("sgd", "learning_rate", 0.0));
    CU_ASSERT(optimizer_refuses("sgd", "learning_rate", -1.0));
    CU_ASSERT(optimizer_refuses("sgd", "momentum", 1.0));
    CU_ASSERT(optimizer_refuses("sgd", "weight_decay", -0.5));
    CU_ASSERT(!optimizer_refuses("adam", "beta1", 0.0));
    CU_ASSERT(!optimizer_refuses("sgd", "momentum", 0.99));
    CU_ASSERT(optimizer_refuses("rmsprop", "learning_rate", 0.0));
    CU_ASSERT(optimizer_refuses("rmsprop", "rho", 1.0));
    CU_ASSERT(optimizer_refuses("rmsprop", "rho", 1.5));
    CU_ASSERT(optimizer_refuses("rmsprop", "momentum", 1.0));
    CU_ASSERT(optimizer_refuses("rmsprop", "epsilon", 0.0));
    CU_ASSERT(optimizer_refuses("rmsprop", "weight_decay", -0.1));
    CU_ASSERT(!optimizer_refuses("rmsprop", "rho", 0.0));
    CU_ASSERT(optimizer_refuses("adagrad", "learning_rate", 0.0));
    CU_ASSERT(optimizer_refuses("adagrad", "initial_accumulator_value", -0.1));
    CU_ASSERT(optimizer_refuses("adagrad", "epsilon", 0.0));
    CU_ASSERT(!optimizer_refuses("adagrad", "initial_accumulator_value", 0.0));
    CU_ASSERT(optimizer_refuses("adamw", "learning_rate", 0.0));
    CU_ASSERT(optimizer_refuses("adamw", "beta1", 1.0));
    CU_ASSERT(optimizer_refuses("adamw", "beta2", 1.0));
    CU_ASSERT(optimizer_refuses("adamw", "epsilon", 0.0));
    CU_ASSERT(optimizer_refuses("adamw", "weight_decay", -0.01));
    CU_ASSERT(!optimizer_refuses("adamw", "weight_decay", 0.0));

    const struct dpt_optimizer_plugin *o = optimizer_plugin("sgd");
    struct test_host f = {0};
    host_start(&f);
    set_string(&f, "learning_rate", "fast");
    void *st = NULL;
    CU_ASSERT(o->create(&st, &f.ctx.host) < 0);

    o = optimizer_plugin("rmsprop");
    CU_ASSERT_PTR_NOT_NULL_FATAL(o);
    host_start(&f);
    set_float(&f, "centered", 1.0); /* a bool */
    CU_ASSERT(o->create(&st, &f.ctx.host) < 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(f.ctx.err.msg, "'centered'"));
    host_end(&f);
}

int main(void)
{
    if (CU_initialize_registry() != CUE_SUCCESS) {
        return 2;
    }
    static const struct {
        const char *suite, *name;
        CU_TestFunc fn;
    } tests[] = {
        {"load", "every built-in plugin loads", test_all_load},
        {"dense", "forward matches a double loop", test_dense_forward},
        {"dense", "dx and dparams match finite differences", test_dense_gradients},
        {"dense", "backward writes dx, adds into dparams", test_dense_accumulates},
        {"dense", "weight and bias tensors", test_dense_tensors},
        {"dense", "bad settings are refused with the key", test_dense_bad_settings},
        {"dense", "glorot_uniform", test_dense_glorot_uniform},
        {"dense", "he_normal", test_dense_he_normal},
        {"dense", "zeros", test_dense_zeros},
        {"activations", "values against double references", test_activation_values},
        {"activations", "values and slopes at chosen points", test_activation_points},
        {"activations", "softmax rows", test_softmax_values},
        {"activations", "dx matches finite differences", test_activation_gradients},
        {"activations", "backward writes dx (DPT_CAP_WRITES_DX)", test_activation_accumulates},
        {"activations", "bad settings are refused with the key", test_activation_errors},
        {"losses", "dpred matches finite differences", test_loss_gradients},
        {"losses", "forward_backward adds into dpred", test_loss_accumulates},
        {"losses", "mse values by hand", test_mse_values},
        {"losses", "bce against the textbook formula", test_bce_values},
        {"losses", "cce values by hand", test_cce_values},
        {"losses", "check_shape", test_loss_check_shape},
        {"losses", "check_rows", test_loss_check_rows},
        {"losses", "correct", test_loss_correct},
        {"optimizers", "sgd", test_sgd_plain},
        {"optimizers", "sgd with momentum", test_sgd_momentum},
        {"optimizers", "sgd with Nesterov momentum", test_sgd_nesterov},
        {"optimizers", "sgd with weight decay", test_sgd_weight_decay},
        {"optimizers", "sgd with lr_scale", test_sgd_lr_scale},
        {"optimizers", "adam by hand", test_adam_by_hand},
        {"optimizers", "adam against the paper's formulas", test_adam_formulas},
        {"optimizers", "rmsprop by hand", test_rmsprop_plain},
        {"optimizers", "rmsprop with momentum", test_rmsprop_momentum},
        {"optimizers", "rmsprop centered", test_rmsprop_centered},
        {"optimizers", "rmsprop with lr_scale and momentum", test_rmsprop_lr_scale},
        {"optimizers", "adagrad by hand", test_adagrad_by_hand},
        {"optimizers", "adamw by hand, against adam's L2", test_adamw_by_hand},
        {"optimizers", "adamw against the formulas", test_adamw_formulas},
        {"optimizers", "split ranges give the same bits", test_optimizer_ranges},
        {"optimizers", "bad settings are refused", test_optimizer_errors},
    };
    CU_pSuite suite = NULL;
    const char *current = "";
    for (size_t i = 0; i < sizeof tests / sizeof tests[0]; i++) {
        if (strcmp(tests[i].suite, current) != 0) {
            current = tests[i].suite;
            suite = CU_add_suite(current, NULL, NULL);
        }
        if (!suite || !CU_add_test(suite, tests[i].name, tests[i].fn)) {
            CU_cleanup_registry();
            return 2;
        }
    }
    int status = test_run_all();
    close_plugins();
    return status;
}
