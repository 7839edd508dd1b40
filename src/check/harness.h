/* The pieces `dptrain check-plugin` (check/check.h) and the CUnit layer
 * tests (tests/layer_check.c) are built from: guarded buffers, seeded
 * fills, finite differences, and a layer instance driven as the host
 * drives it, with the buffer contracts of include/dptrain/plugin.h.
 *
 * Guarded buffers. dpt_check_alloc returns a 64-byte aligned block (as
 * the host aligns every buffer it hands a plugin) with 64 bytes of a
 * known pattern before and after it; dpt_check_intact says whether both
 * are untouched, so a write past either end of any buffer shows.
 *
 * Finite differences. The objective is a double computed from a plugin's
 * float outputs (for layers L = sum(r * y) for a fixed random r). The
 * derivative by one float v is (L(v + h) - L(v - h)) divided by the step
 * actually taken after rounding v +- h to float, and its error is
 * |analytic - numeric| / max(1, |analytic|, |numeric|). Kink-aware mode
 * (kink_tol > 0) looks again at a point whose error exceeds kink_tol, with
 * steps h / 4, h / 16 and h / 64: it passes when one of them agrees (a
 * curved function, or a kink of the function between the steps), fails
 * when the function is smooth at one of them (its one-sided differences
 * agree and so do the central ones of that step and the one before) and
 * it still disagrees, and else is skipped as a kink within even the
 * smallest step (relu at 0, a max-pool tie), where no difference says
 * anything about the derivative. Layers whose outputs all have kinks
 * (leaky relu after a dense layer) put one within h = 1e-2 of most biases;
 * few stay within h / 64. A wrong gradient is wrong at smooth points too.
 *
 * Nothing here prints or asserts: results come back as numbers and the
 * caller decides (check.c turns them into PASS/FAIL lines, the tests into
 * CUnit assertions).
 */
#ifndef DPT_CHECK_HARNESS_H
#define DPT_CHECK_HARNESS_H

#include <dptrain/plugin.h>
#include <stddef.h>
#include <stdint.h>

/* bytes of zeroed memory between guards (malloc'ed; dpt_check_free), or
 * NULL when out of memory. bytes may be 0. */
void *dpt_check_alloc(size_t bytes);
/* Floats: dpt_check_alloc(n * sizeof(float)). */
float *dpt_check_floats(size_t n);
/* 1 when both guards of a dpt_check_alloc block are as they were. */
int dpt_check_intact(const void *p);
/* Frees a dpt_check_alloc block (NULL is fine). */
void dpt_check_free(void *p);

/* v[0, n) uniform in [lo, hi] from a 64-bit LCG whose state is *seed. */
void dpt_check_fill(float *v, size_t n, uint64_t *seed, double lo, double hi);
/* |a - b| / max(1, |a|, |b|); infinity when either is not a number. */
double dpt_check_rel_error(double a, double b);

/* The worst point of a finite-difference comparison. */
struct dpt_check_fd {
    double worst;        /* the largest error (0 when every point agrees) */
    size_t where;        /* its index in v */
    double analytic;     /* its analytic and numeric derivatives */
    double numeric;
    size_t kinks;        /* points skipped: a kink within the smallest step */
    size_t points;       /* points compared (n) */
};

/* Compares the analytic derivatives a[0, n) of objective(ctx) with
 * central differences in each v[i] (v is restored). kink_tol 0: plain. */
void dpt_check_fd(float *v, size_t n, const float *a, double (*objective)(void *ctx),
                  void *ctx, double h, double kink_tol, struct dpt_check_fd *out);

/* Every call the harness makes into a plugin (create, init,
 * workspace_bytes, forward, backward) runs under the crash guard of
 * plugin/guard.h. The first crash is kept; after it nothing of any plugin
 * runs again (the calls return at once, outputs left as they were, and
 * dpt_check_layer_destroy calls no destroy), and the caller reports it and
 * stops, as a process does after a crash. create()'s crash is reported by
 * dpt_check_layer_create itself (crash_signal below). */
struct dpt_check_crash {
    int signal;       /* SIGSEGV, ... */
    const char *fn;   /* the function: "forward()", "backward()", "init()", ... */
    size_t B;         /* the rows of the call (0 for init) */
    int no_workspace; /* forward or backward was given no workspace */
};
/* The first crash in a call the harness made, or NULL. */
const struct dpt_check_crash *dpt_check_crashed(void);

/* A layer instance as the host runs it: the plugin's create() for one
 * input shape, its slice (guarded) initialized by init(), and a guarded
 * workspace of the declared size for the current B. */
struct dpt_check_layer {
    const struct dpt_layer_plugin *p;
    const struct dpt_host *host; /* borrowed; must outlive the instance */
    void *st;
    struct dpt_shape in;
    struct dpt_layer_info info;
    size_t n_in, n_out; /* floats per sample */
    size_t n_slice;     /* n_params + n_state */
    float *params;      /* guarded, n_slice floats */
    void *ws;           /* guarded, ws_bytes for B = ws_B */
    size_t ws_bytes, ws_B;
    int crash_signal;   /* the signal create() crashed with, else 0 */
    uint32_t relu;      /* dpt_batch.relu of the calls (DPT_CAP_APPLIES_RELU) */
};

/* Creates the instance (create(), then init() from rng key `seed`).
 * Returns 0; a negative value from a refusing create() (its message is
 * wherever the host put it; c->st is NULL); DPT_ECRASH when create()
 * crashed (c->crash_signal says with what; nothing of the plugin may run
 * after that, plugin/guard.h) or init() did (dpt_check_crashed); or
 * DPT_ENOMEM.
 * dpt_check_layer_destroy is safe after any return. */
int dpt_check_layer_create(struct dpt_check_layer *c, const struct dpt_layer_plugin *p,
                           const struct dpt_host *host, const struct dpt_shape *in,
                           uint64_t seed);
/* The same for an instance st made by the caller (an activation or a
 * loss seen as a layer, check_layer.c), which destroy will release
 * through p->destroy; no init. 0 or DPT_ENOMEM. */
int dpt_check_layer_adopt(struct dpt_check_layer *c, const struct dpt_layer_plugin *p,
                          void *st, const struct dpt_shape *in,
                          const struct dpt_layer_info *info);
void dpt_check_layer_destroy(struct dpt_check_layer *c);

/* A guarded workspace of the size the layer declares for B rows (NULL
 * without one; *bytes gets the size). *failed is set when out of memory. */
void *dpt_check_layer_workspace(const struct dpt_check_layer *c, size_t B, size_t *bytes,
                                int *failed);
/* One forward or backward of B rows with workspace ws (training: a
 * training call, fixed key, scale 1 / B). */
void dpt_check_layer_forward_ws(const struct dpt_check_layer *c, void *ws, const float *x,
                                float *y, size_t B, int training);
void dpt_check_layer_backward_ws(const struct dpt_check_layer *c, void *ws, const float *x,
                                 const float *y, const float *dy, float *dx, float *dparams,
                                 size_t B);
/* The same with the instance's own workspace, kept from forward to
 * backward as the host keeps it (resized when B grows). 0 or DPT_ENOMEM. */
int dpt_check_layer_forward(struct dpt_check_layer *c, const float *x, float *y, size_t B,
                            int training);
int dpt_check_layer_backward(struct dpt_check_layer *c, const float *x, const float *y,
                             const float *dy, float *dx, float *dparams, size_t B);

/* Frees the instance's workspace: the next forward or backward gets a
 * fresh one, whose guards no earlier call has written over (so that a
 * write past it is blamed on the call that made it). */
void dpt_check_layer_drop_workspace(struct dpt_check_layer *c);

/* Finite differences of the training forward for B rows of x uniform in
 * [lo, hi] (seeded): dx into *dx, and the trainable floats in n_parts
 * ranges [parts[k], parts[k + 1]) of the slice (one per tensor) into
 * dp[k]. 0 or DPT_ENOMEM. */
int dpt_check_layer_fd(struct dpt_check_layer *c, size_t B, uint64_t seed, double lo,
                       double hi, double h, double kink_tol, struct dpt_check_fd *dx,
                       const size_t *parts, size_t n_parts, struct dpt_check_fd *dp);

/* What dpt_check_layer_contracts found for B rows (all 0 / NULL: kept).
 * The names are static text: the function ("forward", "backward") and
 * the buffer ("x", "y", "dy", "dx", "dparams", "params", "workspace"). */
struct dpt_check_contracts {
    size_t y_unwritten;   /* outputs forward left as they were (y prefilled with NaN) */
    size_t y_nondet;      /* outputs that differ between two equal forward calls */
    size_t back_nondet;   /* dx or dparams values that differ between equal backward calls */
    size_t dp_not_added;  /* dparams values not equal to prefill + fresh */
    size_t dx_not_added;  /* dx values not equal to prefill + fresh (or to fresh, over
                           * NaN, under DPT_CAP_WRITES_DX) */
    size_t dp_without_dx; /* dparams values that change when dx is NULL */
    const char *guard_fn, *guard_buf;         /* the first write outside a buffer */
    const char *modified_fn, *modified_buf;   /* the first input changed */
    const char *nonfinite_fn, *nonfinite_buf; /* the first NaN or Inf from finite inputs */
    size_t nonfinite_at;                      /* its index in that buffer */
};

/* The contracts: forward writes every output (at inference and in
 * training); backward adds into prefilled dparams; dx is added into, or
 * fully written under DPT_CAP_WRITES_DX (prefilled with NaN); dx NULL
 * gives the same dparams; equal calls give equal bits (within 1e-6 for
 * a plugin without DPT_CAP_DETERMINISTIC); nothing written outside any
 * buffer or the workspace; x, y, dy and params unchanged; finite inputs
 * give finite outputs and gradients. x is uniform in [lo, hi], dy in
 * [-1, 1]. 0 or DPT_ENOMEM. */
int dpt_check_layer_contracts(struct dpt_check_layer *c, size_t B, uint64_t seed, double lo,
                              double hi, struct dpt_check_contracts *out);

#endif
