/* Guarded buffers, finite differences and a layer driven as the host
 * drives it: see harness.h. */
#include "config.h"

#include "check/harness.h"
#include "plugin/guard.h"

#include <dptrain/dptrain.h>
#include <math.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

/* A guarded block: [header 64 | guard 64 | data, rounded up to 64 | guard 64].
 * The header holds the data size; 64 bytes keep the data 64-byte aligned. */
#define GUARD_BYTES 64
#define GUARD_BYTE 0xA5

void *dpt_check_alloc(size_t bytes)
{
    size_t data = (bytes + 63) / 64 * 64;
    unsigned char *base = aligned_alloc(64, 64 + GUARD_BYTES + data + GUARD_BYTES);
    if (!base) {
        return NULL;
    }
    memcpy(base, &bytes, sizeof bytes);
    unsigned char *p = base + 64 + GUARD_BYTES;
    memset(p - GUARD_BYTES, GUARD_BYTE, GUARD_BYTES);
    memset(p, 0, data);
    /* The tail guard starts right after the bytes asked for, so a write of
     * one byte too many shows even when bytes is not a multiple of 64. */
    memset(p + bytes, GUARD_BYTE, data - bytes + GUARD_BYTES);
    return p;
}

float *dpt_check_floats(size_t n)
{
    return dpt_check_alloc(n * sizeof(float));
}

int dpt_check_intact(const void *p)
{
    const unsigned char *q = p;
    size_t bytes;
    memcpy(&bytes, q - GUARD_BYTES - 64, sizeof bytes);
    size_t tail = (bytes + 63) / 64 * 64 - bytes + GUARD_BYTES;
    for (size_t i = 0; i < GUARD_BYTES; i++) {
        if (q[-1 - (ptrdiff_t)i] != GUARD_BYTE) {
            return 0;
        }
    }
    for (size_t i = 0; i < tail; i++) {
        if (q[bytes + i] != GUARD_BYTE) {
            return 0;
        }
    }
    return 1;
}

void dpt_check_free(void *p)
{
    if (p) {
        free((unsigned char *)p - GUARD_BYTES - 64);
    }
}

void dpt_check_fill(float *v, size_t n, uint64_t *seed, double lo, double hi)
{
    for (size_t i = 0; i < n; i++) {
        *seed = *seed * 6364136223846793005ull + 1442695040888963407ull;
        double u = (double)(*seed >> 11) * 0x1p-53;
        v[i] = (float)(lo + (hi - lo) * u);
    }
}

double dpt_check_rel_error(double a, double b)
{
    double e = fabs(a - b) / fmax(1.0, fmax(fabs(a), fabs(b)));
    return isnan(e) ? INFINITY : e;
}

/* How a failing point is looked at again: with steps h / 4, h / 16 and
 * h / 64. The smallest, 1.6e-4 for h = 1e-2, still moves each output a
 * thousand times its float rounding, and a kink of some output lies that
 * close to a random point in a few cases in a hundred even when the point
 * feeds a few hundred outputs, each with a kink somewhere. */
#define FD_RETRIES 3
#define FD_SHRINK 4.0
/* An output has a kink within the step when its second difference is
 * more than this part of its two first differences (a smooth output:
 * about f'' h / f', under 1e-2 at the retried steps; a kink at distance d
 * of a step h changes slope over h - d of it), beyond its rounding. */
#define FD_OUTPUT_KINK 0.1

/* What the finite differences call: the objective, and the float outputs
 * it is computed from (y, ny of them, as the last call left them), with
 * two buffers of ny floats to keep copies in; y NULL: not known. */
struct fd_fn {
    double (*objective)(void *ctx);
    void *ctx;
    const float *y;
    float *y0, *y_up;
    size_t ny;
};

/* The derivative by v[i] from objective values at v[i] + h and - h (v[i]
 * as it is on return); with f0 = the value at v[i] (not NaN), also the
 * one-sided ones, and whether an output has a kink within the step. */
struct fd_point {
    double central, left, right;
    int output_kink;
};

static float ulp(float x)
{
    return nextafterf(fabsf(x), INFINITY) - fabsf(x);
}

static int output_kink(const struct fd_fn *f)
{
    for (size_t o = 0; o < f->ny; o++) {
        float up = f->y_up[o], mid = f->y0[o], down = f->y[o];
        double second = fabs((double)up - 2.0 * mid + down);
        double first = fabs((double)up - mid) + fabs((double)mid - down);
        float big = fmaxf(fabsf(up), fmaxf(fabsf(mid), fabsf(down)));
        if (second > FD_OUTPUT_KINK * first + 8.0 * ulp(big)) {
            return 1;
        }
    }
    return 0;
}

static struct fd_point fd_at(float *v, size_t i, double h, const struct fd_fn *f, double f0)
{
    float keep = v[i];
    float up = (float)(keep + h), down = (float)(keep - h);
    v[i] = up;
    double f_up = f->objective(f->ctx);
    if (f->y && !isnan(f0)) {
        memcpy(f->y_up, f->y, f->ny * sizeof *f->y);
    }
    v[i] = down;
    double f_down = f->objective(f->ctx);
    v[i] = keep;
    /* Divided by the steps actually taken, after rounding to float. */
    struct fd_point d = {.central = (f_up - f_down) / ((double)up - (double)down)};
    if (!isnan(f0)) {
        d.right = (f_up - f0) / ((double)up - (double)keep);
        d.left = (f0 - f_down) / ((double)keep - (double)down);
        d.output_kink = f->y && output_kink(f);
    }
    return d;
}

enum fd_verdict { FD_AGREES, FD_DISAGREES, FD_KINK };

/* Point i failed at step h (central difference num0). Smaller steps
 * decide: one whose central difference agrees with a means the function
 * was only curved (batch norm over two rows) or had a kink out at h; one
 * where the function is smooth (no output with a kink, the one-sided
 * differences agreeing, the central one that of the step before) and a
 * still disagrees (*num gets it) means a wrong gradient; no such step
 * means a kink within the smallest step (relu at 0, a max-pool tie), where
 * the differences say nothing about a. */
static enum fd_verdict fd_retry(float *v, size_t i, double a, double num0, double h, double tol,
                                const struct fd_fn *f, double *num)
{
    double f0 = f->objective(f->ctx), prev = num0;
    if (f->y) {
        memcpy(f->y0, f->y, f->ny * sizeof *f->y);
    }
    for (int k = 1; k <= FD_RETRIES; k++) {
        h /= FD_SHRINK;
        struct fd_point d = fd_at(v, i, h, f, f0);
        if (dpt_check_rel_error(a, d.central) <= tol) {
            return FD_AGREES;
        }
        if (!d.output_kink && dpt_check_rel_error(d.left, d.right) <= tol &&
            dpt_check_rel_error(d.central, prev) <= tol) {
            *num = d.central;
            return FD_DISAGREES;
        }
        prev = d.central;
    }
    return FD_KINK;
}

static void fd_compare(float *v, size_t n, const float *a, const struct fd_fn *f, double h,
                       double kink_tol, struct dpt_check_fd *out)
{
    *out = (struct dpt_check_fd){.points = n};
    for (size_t i = 0; i < n; i++) {
        double num = fd_at(v, i, h, f, NAN).central;
        double err = dpt_check_rel_error(a[i], num);
        if (kink_tol > 0 && err > kink_tol) {
            switch (fd_retry(v, i, a[i], num, h, kink_tol, f, &num)) {
            case FD_AGREES:
                continue;
            case FD_KINK:
                out->kinks++;
                continue;
            case FD_DISAGREES:
                err = dpt_check_rel_error(a[i], num);
                break;
            }
        }
        if (err > out->worst) {
            out->worst = err;
            out->where = i;
            out->analytic = a[i];
            out->numeric = num;
        }
    }
}

void dpt_check_fd(float *v, size_t n, const float *a, double (*objective)(void *ctx),
                  void *ctx, double h, double kink_tol, struct dpt_check_fd *out)
{
    struct fd_fn f = {objective, ctx, NULL, NULL, NULL, 0};
    fd_compare(v, n, a, &f, h, kink_tol, out);
}

/* ---------- A layer as the host runs it ---------- */

/* Every call into a plugin runs under the crash guard (plugin/guard.h).
 * The first crash is kept here; from then on nothing of any plugin runs:
 * the calls return at once, and the checks report and stop. */
static struct dpt_check_crash first_crash;
static atomic_flag crash_noted = ATOMIC_FLAG_INIT;

const struct dpt_check_crash *dpt_check_crashed(void)
{
    return first_crash.signal ? &first_crash : NULL;
}

/* Runs fn(arg), the call of plugin function `name` for B rows, guarded;
 * ws: the workspace it was given (whether it had one goes into a crash
 * report). Does nothing after a crash. */
static void guarded(void (*fn)(void *), void *arg, const char *name, size_t B, const void *ws)
{
    if (dpt__guard_crashed()) {
        return;
    }
    int sig = dpt__guard_call(fn, arg);
    if (sig && !atomic_flag_test_and_set(&crash_noted)) {
        first_crash = (struct dpt_check_crash){.signal = sig, .fn = name, .B = B,
                                               .no_workspace = ws == NULL};
    }
}

/* Sizes and the guarded slice of an instance whose create() succeeded. */
static int layer_finish(struct dpt_check_layer *c)
{
    c->n_in = c->n_out = 1;
    for (uint32_t j = 0; j < c->in.rank && j < DPT_MAX_RANK; j++) {
        c->n_in *= c->in.dims[j];
    }
    for (uint32_t j = 0; j < c->info.out.rank && j < DPT_MAX_RANK; j++) {
        c->n_out *= c->info.out.dims[j];
    }
    c->n_slice = c->info.n_params + c->info.n_state;
    c->params = dpt_check_floats(c->n_slice);
    return c->params ? 0 : DPT_ENOMEM;
}

/* create() of c's plugin, run under the crash guard. */
struct create_call {
    struct dpt_check_layer *c;
    int rc;
};

static void call_create(void *arg)
{
    struct create_call *call = arg;
    struct dpt_check_layer *c = call->c;
    call->rc = c->p->create(&c->st, c->host, &c->in, &c->info);
}

struct init_call {
    struct dpt_check_layer *c;
    struct dpt_rng rng;
};

static void call_init(void *arg)
{
    struct init_call *call = arg;
    struct dpt_check_layer *c = call->c;
    c->p->init(c->st, c->params, c->host, &call->rng);
}

int dpt_check_layer_create(struct dpt_check_layer *c, const struct dpt_layer_plugin *p,
                           const struct dpt_host *host, const struct dpt_shape *in,
                           uint64_t seed)
{
    memset(c, 0, sizeof *c);
    c->p = p;
    c->host = host;
    c->in = *in;
    struct create_call call = {c, 0};
    c->crash_signal = dpt__guard_call(call_create, &call);
    if (c->crash_signal) {
        c->st = NULL; /* never destroyed: the plugin's state is unknown */
        return DPT_ECRASH;
    }
    int rc = call.rc;
    if (rc < 0) {
        c->st = NULL;
        return rc;
    }
    if (layer_finish(c) < 0) {
        return DPT_ENOMEM;
    }
    if (p->init) {
        struct init_call call = {c, {seed, 0}};
        guarded(call_init, &call, "init()", 0, c->params);
    }
    return dpt_check_crashed() ? DPT_ECRASH : 0;
}

int dpt_check_layer_adopt(struct dpt_check_layer *c, const struct dpt_layer_plugin *p,
                          void *st, const struct dpt_shape *in,
                          const struct dpt_layer_info *info)
{
    memset(c, 0, sizeof *c);
    c->p = p;
    c->st = st;
    c->in = *in;
    c->info = *info;
    return layer_finish(c);
}

void dpt_check_layer_destroy(struct dpt_check_layer *c)
{
    if (c->st && !dpt__guard_crashed()) {
        c->p->destroy(c->st); /* never after a crash: the plugin's state is unknown */
    }
    dpt_check_free(c->params);
    dpt_check_free(c->ws);
    memset(c, 0, sizeof *c);
}

struct ws_call {
    const struct dpt_check_layer *c;
    size_t B, bytes;
};

static void call_workspace_bytes(void *arg)
{
    struct ws_call *call = arg;
    call->bytes = call->c->p->workspace_bytes(call->c->st, call->B);
}

void *dpt_check_layer_workspace(const struct dpt_check_layer *c, size_t B, size_t *bytes,
                                int *failed)
{
    struct ws_call call = {c, B, 0};
    if (c->p->workspace_bytes) {
        guarded(call_workspace_bytes, &call, "workspace_bytes()", B, c);
    }
    *bytes = call.bytes;
    if (*bytes == 0) {
        return NULL;
    }
    void *ws = dpt_check_alloc(*bytes);
    *failed = *failed || !ws;
    return ws;
}

static struct dpt_batch batch_of(const struct dpt_check_layer *c, void *ws, size_t B,
                                 int training)
{
    struct dpt_batch b = {.B = B, .ws = ws, .training = (uint32_t)training,
                          .scale = 1.0f / (float)B, .key = 77, .first_sample = 5,
                          .relu = c->relu};
    return b;
}

/* One forward (dy NULL) or backward, with its arguments. */
struct pass_call {
    const struct dpt_check_layer *c;
    const float *x, *y, *dy;
    float *y_out, *dx, *dparams;
    struct dpt_batch b;
};

static void call_pass(void *arg)
{
    struct pass_call *p = arg;
    const struct dpt_check_layer *c = p->c;
    if (p->dy) {
        c->p->backward(c->st, c->params, p->x, p->y, p->dy, p->dx, p->dparams, &p->b);
    } else {
        c->p->forward(c->st, c->params, p->x, p->y_out, &p->b);
    }
}

void dpt_check_layer_forward_ws(const struct dpt_check_layer *c, void *ws, const float *x,
                                float *y, size_t B, int training)
{
    struct pass_call call = {.c = c, .x = x, .y_out = y, .b = batch_of(c, ws, B, training)};
    guarded(call_pass, &call, "forward()", B, ws);
}

void dpt_check_layer_backward_ws(const struct dpt_check_layer *c, void *ws, const float *x,
                                 const float *y, const float *dy, float *dx, float *dparams,
                                 size_t B)
{
    struct pass_call call = {.c = c, .x = x, .y = y, .dy = dy, .dx = dx, .dparams = dparams,
                             .b = batch_of(c, ws, B, 1)};
    guarded(call_pass, &call, "backward()", B, ws);
}

/* The instance's workspace for B rows: reallocated when B changes, so
 * its guard sits right after the bytes declared for this B. */
static int own_workspace(struct dpt_check_layer *c, size_t B)
{
    if (c->ws_B == B && (c->ws || c->ws_bytes == 0)) {
        return 0;
    }
    dpt_check_free(c->ws);
    int failed = 0;
    c->ws = dpt_check_layer_workspace(c, B, &c->ws_bytes, &failed);
    c->ws_B = B;
    return failed ? DPT_ENOMEM : 0;
}

void dpt_check_layer_drop_workspace(struct dpt_check_layer *c)
{
    dpt_check_free(c->ws);
    c->ws = NULL;
    c->ws_bytes = c->ws_B = 0;
}

int dpt_check_layer_forward(struct dpt_check_layer *c, const float *x, float *y, size_t B,
                            int training)
{
    if (own_workspace(c, B) < 0) {
        return DPT_ENOMEM;
    }
    dpt_check_layer_forward_ws(c, c->ws, x, y, B, training);
    return 0;
}

int dpt_check_layer_backward(struct dpt_check_layer *c, const float *x, const float *y,
                             const float *dy, float *dx, float *dparams, size_t B)
{
    if (own_workspace(c, B) < 0) {
        return DPT_ENOMEM;
    }
    dpt_check_layer_backward_ws(c, c->ws, x, y, dy, dx, dparams, B);
    return 0;
}

struct layer_objective {
    struct dpt_check_layer *c;
    const float *x, *r;
    float *y;
    size_t B;
};

static double layer_objective(void *ctx)
{
    struct layer_objective *o = ctx;
    dpt_check_layer_forward(o->c, o->x, o->y, o->B, 1);
    double L = 0;
    for (size_t i = 0; i < o->B * o->c->n_out; i++) {
        L += (double)o->r[i] * o->y[i];
    }
    return L;
}

int dpt_check_layer_fd(struct dpt_check_layer *c, size_t B, uint64_t seed, double lo,
                       double hi, double h, double kink_tol, struct dpt_check_fd *dx,
                       const size_t *parts, size_t n_parts, struct dpt_check_fd *dp)
{
    size_t nx = B * c->n_in, ny = B * c->n_out;
    float *x = dpt_check_floats(nx), *y = dpt_check_floats(ny), *r = dpt_check_floats(ny);
    float *gx = dpt_check_floats(nx), *gp = dpt_check_floats(c->n_slice);
    float *y0 = dpt_check_floats(ny), *y_up = dpt_check_floats(ny);
    int rc = DPT_ENOMEM;
    if (!x || !y || !r || !gx || !gp || !y0 || !y_up || own_workspace(c, B) < 0) {
        goto done;
    }
    dpt_check_fill(x, nx, &seed, lo, hi);
    dpt_check_fill(r, ny, &seed, -1, 1);
    struct layer_objective o = {c, x, r, y, B};
    layer_objective(&o);
    dpt_check_layer_backward(c, x, y, r, gx, gp, B);
    struct fd_fn f = {layer_objective, &o, y, y0, y_up, ny};
    fd_compare(x, nx, gx, &f, h, kink_tol, dx);
    for (size_t k = 0; k < n_parts; k++) {
        fd_compare(c->params + parts[k], parts[k + 1] - parts[k], gp + parts[k], &f, h,
                   kink_tol, &dp[k]);
    }
    rc = 0;
done:
    dpt_check_free(x), dpt_check_free(y), dpt_check_free(r);
    dpt_check_free(gx), dpt_check_free(gp);
    dpt_check_free(y0), dpt_check_free(y_up);
    return rc;
}
