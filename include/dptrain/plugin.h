/* dptrain plugin ABI 2.1: the only header a plugin includes.
 *
 * A plugin file is a shared object that exports one symbol, `dpt_plugins`, a
 * function returning a NULL-terminated array of descriptors. Each descriptor
 * starts with a `struct dpt_plugin` header (ABI version, kind, name, version,
 * summary, caps) followed by the function table of its kind: layer,
 * activation, loss or optimizer. Plugins do not link against libdptrain: what
 * they need from the host (parameters from the model file, error messages,
 * a seeded random stream) arrives in `struct dpt_host`.
 *
 * Shapes. A sample has a shape of rank 1 to 3 (struct dpt_shape): [F],
 * [L, C] or [H, W, C]. Images are channels-last, as Keras, numpy image
 * arrays and the HDF5 files made from them hold them. A batch of B samples
 * is B rows of prod(shape) floats, row-major, the batch the leading
 * dimension. A layer's create() receives its input shape and reports its
 * output shape and parameter count (struct dpt_layer_info); the host checks
 * that the shapes fit and names the layer and both shapes when they do not.
 *
 * Rules every plugin follows:
 *   - No mutable globals. Instance state is built in create() and is read-only
 *     afterwards, so all threads share one instance.
 *   - Required functions: create, destroy, forward, backward for layers
 *     (init too when the layer has parameters or state); forward, backward for
 *     activations; check_shape, forward_backward for losses; create, destroy,
 *     state_floats, step for optimizers. The loader refuses a plugin that
 *     lacks one and names it. Every other member is optional (NULL).
 *   - Parameters and gradients live in flat float buffers owned by the host;
 *     a layer is handed its slice: n_params trainable floats, then n_state
 *     floats of non-trainable state (running statistics) that training
 *     updates through update_state. Slices start on a 64-byte boundary; so
 *     do x, y, dx, dy and the workspace. x, y, dx and dy never overlap.
 *   - Scratch memory is sized by the plugin (workspace_bytes) and owned by
 *     the host, one block per (thread, layer); what a layer's forward leaves
 *     there is still there for its backward on the same micro-shard.
 *   - B is 1 to the micro-shard size in training (any such value, odd ones
 *     included: the last micro-shard of a step is short) and up to 256 at
 *     inference.
 *   - Forward functions write (=) their outputs. Backward functions add (+=)
 *     into the parameter gradients: a thread's gradient buffer accumulates
 *     all its micro-shards of a step, so a plugin MUST NOT zero or overwrite
 *     dparams. dx is added to as well (the host zeroes it first), except for
 *     a plugin with DPT_CAP_WRITES_DX, whose backward writes (=) every
 *     element of dx and whose dx is not zeroed.
 *   - No OpenMP and no threaded BLAS inside a plugin: each thread already runs
 *     a whole micro-shard. Use cblas_sgemm; the host keeps BLAS single-threaded.
 *   - Plugins run with subnormal floats flushed to zero (x86-64: MXCSR's FTZ
 *     and DAZ; AArch64: FPCR.FZ), set by the host for all its threads;
 *     a plugin does not change the floating-point environment.
 *
 * A minimal activation plugin:
 *
 *     #include <dptrain/plugin.h>
 *     static void softsign_forward(const void *st, const float *x, float *y,
 *                                  size_t rows, size_t cols)
 *     { for (size_t i = 0; i < rows * cols; i++) y[i] = x[i] / (1 + fabsf(x[i])); }
 *     ...
 *     static const struct dpt_activation_plugin softsign = {
 *         .base = DPT_PLUGIN_HEADER(DPT_KIND_ACTIVATION, "softsign", "1.0.0",
 *                                   "x / (1 + |x|)"),
 *         .forward = softsign_forward, .backward = softsign_backward,
 *     };
 *     static const struct dpt_plugin *const all[] = { &softsign.base, NULL };
 *     DPT_PLUGIN_EXPORT const struct dpt_plugin *const *dpt_plugins(void) { return all; }
 *
 * Versioning: the host refuses a plugin whose abi_major it does not speak.
 * New optional members go at the end of a table and raise DPT_ABI_MINOR; the
 * host treats members newer than a plugin's abi_minor as NULL. This host
 * also loads ABI 1.x plugins: their activations, losses and optimizers have
 * the tables above unchanged, and a 1.x layer runs as a flat layer on [F]
 * inputs (its create() gets F = prod(input shape), and its output is [n_out]).
 */
#ifndef DPTRAIN_PLUGIN_H
#define DPTRAIN_PLUGIN_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define DPT_ABI_MAJOR 2
#define DPT_ABI_MINOR 1

#if defined(__GNUC__)
#define DPT_PLUGIN_EXPORT __attribute__((visibility("default")))
#else
#define DPT_PLUGIN_EXPORT
#endif

/* For a plugin's elementwise hot loops (optimizer updates, activations):
 * GCC and clang build the function for AVX-512, AVX2 and baseline x86-64
 * and the loader picks the best one the CPU runs. The wider clones may fuse
 * a * b + c into one rounding (FMA), so results can differ in the last bit
 * between CPUs, as OpenBLAS's kernels already do. Elsewhere: nothing; nor
 * with clang before 15, whose clones of a function that is not static
 * cannot be called from another file (the symbol is only "NAME.ifunc":
 * data/norm.c's dpt_norm_x did not link in the --enable-fuzz build). */
#if defined(__clang__) && __clang_major__ < 15
#define DPT_VECTORIZE
#endif
#if defined(__x86_64__) && defined(__has_attribute) && !defined(DPT_VECTORIZE)
#if __has_attribute(target_clones)
#define DPT_VECTORIZE __attribute__((target_clones("avx512f", "avx2", "default")))
#endif
#endif
#ifndef DPT_VECTORIZE
#define DPT_VECTORIZE
#endif

/* Plugin kinds (values of dpt_plugin.kind). */
#define DPT_KIND_LAYER 1u
#define DPT_KIND_ACTIVATION 2u
#define DPT_KIND_LOSS 3u
#define DPT_KIND_OPTIMIZER 4u

/* Capability bits (dpt_plugin.caps): properties the host may rely on. */
/* Same inputs give the same output bits, whatever the thread or run. */
#define DPT_CAP_DETERMINISTIC (1u << 0)
/* (ABI 1.2) backward writes (=) every element of dx instead of adding to it,
 * so the host does not zero dx first (gradients of parameters are still
 * added to). For layers and activations; a host older than 1.2 zeroes dx
 * anyway, which gives the same result. */
#define DPT_CAP_WRITES_DX (1u << 1)
/* (ABI 2.1) For activations: the function is exactly relu, y = x > 0 ? x :
 * 0, and its backward dx = x > 0 ? dy : 0 (NaN gives 0). The built-in
 * "relu" has it; a plugin that declares it promises those bits. */
#define DPT_CAP_IS_RELU (1u << 2)
/* (ABI 2.1) For layers: the layer can apply a relu that follows it in its
 * own passes. When the next node of the model is an activation with
 * DPT_CAP_IS_RELU, the host skips that node and sets dpt_batch.relu in
 * every call of this layer: forward then writes y = relu(its output), and
 * backward gets y so written and dy, the gradient of relu's output, and
 * must compute as if dy were 0 wherever y <= 0 (dy itself stays const).
 * The results must be bitwise those of the two nodes run apart; the
 * relu's output and its gradient need no buffers of their own, and the
 * passes over them are saved (LeNet: 6% of a step). */
#define DPT_CAP_APPLIES_RELU (1u << 3)

/* The common header, first member of every descriptor. */
struct dpt_plugin {
    uint32_t abi_major;   /* DPT_ABI_MAJOR the plugin was built with */
    uint32_t abi_minor;   /* DPT_ABI_MINOR the plugin was built with */
    uint32_t kind;        /* DPT_KIND_* */
    uint32_t caps;        /* DPT_CAP_* bits */
    const char *name;     /* unique per kind, e.g. "dense" */
    const char *version;  /* the plugin's own version, e.g. "1.0.0" */
    const char *summary;  /* one line for `dptrain plugins` */
};

#define DPT_PLUGIN_HEADER_CAPS(kind_, name_, version_, summary_, caps_)                  \
    {                                                                                    \
        .abi_major = DPT_ABI_MAJOR, .abi_minor = DPT_ABI_MINOR, .kind = (kind_),         \
        .caps = (caps_), .name = (name_), .version = (version_), .summary = (summary_)   \
    }
#define DPT_PLUGIN_HEADER(kind_, name_, version_, summary_)                              \
    DPT_PLUGIN_HEADER_CAPS(kind_, name_, version_, summary_, DPT_CAP_DETERMINISTIC)

/* The entry point every plugin file exports: a NULL-terminated array of
 * descriptors that live as long as the file is loaded. */
typedef const struct dpt_plugin *const *(*dpt_plugins_fn)(void);
#define DPT_PLUGINS_SYMBOL "dpt_plugins"

/* A counter-based random stream (Philox4x32-10 inside the host). The host
 * fills it in; plugins pass it back to the host's rng functions and never
 * look inside. The same (key, counter) always gives the same numbers. */
struct dpt_rng {
    uint64_t key;
    uint64_t counter;
};

/* Services the host offers a plugin. Passed to create() and init(); the
 * table and the strings it hands out live as long as the plugin instance.
 *
 * The get_* functions read this plugin's entry in the model file (e.g. the
 * keys of one layer's group). A missing key gives `def`. A value of the wrong
 * type or out of [min, max] makes them report the error (naming the model
 * file, line and key) and return a negative number, which create() returns. */
struct dpt_host {
    uint32_t abi_major, abi_minor;
    void *ctx; /* the host's; pass it back unchanged */

    int (*get_int)(void *ctx, const char *key, int64_t def, int64_t min, int64_t max,
                   int64_t *out);
    int (*get_float)(void *ctx, const char *key, double def, double min, double max,
                     double *out);
    int (*get_bool)(void *ctx, const char *key, int def, int *out);
    /* choices: NULL-terminated list of allowed values, or NULL for any. */
    int (*get_string)(void *ctx, const char *key, const char *def,
                      const char *const *choices, const char **out);

    /* Report why create() fails; returns a negative number to return. */
    int (*error)(void *ctx, const char *fmt, ...)
#if defined(__GNUC__)
        __attribute__((format(printf, 2, 3)))
#endif
        ;

    /* Seeded random numbers: uniform in [0, 1) and standard normal. */
    double (*rng_uniform)(struct dpt_rng *rng);
    double (*rng_normal)(struct dpt_rng *rng);
};

/* A named tensor inside a layer's slice (for model files, checkpoints and
 * weight import): floats [offset, offset + prod(shape)). Tensors at offsets
 * at or past the layer's n_params are its non-trainable state. */
struct dpt_tensor {
    const char *name;  /* e.g. "kernel", "bias", "moving_mean" */
    uint32_t rank;     /* 1..4 */
    uint64_t shape[4]; /* row-major */
    uint64_t offset;   /* in floats from the start of the layer's slice */
};

#define DPT_MAX_RANK 3

/* The shape of one sample; the batch is not part of it. */
struct dpt_shape {
    uint32_t rank;                 /* 1..DPT_MAX_RANK */
    uint32_t reserved;             /* 0 */
    uint64_t dims[DPT_MAX_RANK];   /* dims[0 .. rank-1] >= 1; channels last */
};

/* What a layer's create() reports (ABI 2.0). */
struct dpt_layer_info {
    struct dpt_shape out; /* the output sample shape */
    uint64_t n_params;    /* trainable floats at the start of the layer's slice */
    uint64_t n_state;     /* non-trainable floats after them (0: none) */
};

/* One call of a layer over the B rows of a micro-shard (ABI 2.0). */
struct dpt_batch {
    uint64_t B;            /* rows */
    void *ws;              /* the layer's workspace of this thread (NULL without one) */
    uint32_t training;     /* 1: a training forward, followed by backward on the same
                            * rows; 0: inference */
    float scale;           /* training: the weight of one row in the step's mean
                            * (1 / rows of the whole step, all ranks), as dy has it */
    uint64_t key;          /* training: from (seed, epoch, layer); use as dpt_rng.key */
    uint64_t first_sample; /* training: position of row 0 in the epoch's sample order */
    uint64_t epoch, step;  /* training: from 0 */
    uint32_t relu;         /* (ABI 2.1) 1: apply the next relu too (DPT_CAP_APPLIES_RELU);
                            * always 0 for a layer without that capability */
    uint32_t reserved;     /* 0 */
};

/* A layer maps x (B, prod(in)) to y (B, prod(out)) with its parameters. */
struct dpt_layer_plugin {
    struct dpt_plugin base;
    /* Builds an instance for inputs of shape *in and fills *info. A shape it
     * cannot take is refused through host->error naming what it needs
     * (e.g. "needs [H, W, C] inputs"). Returns 0, or the negative value of
     * host->error(). */
    int (*create)(void **state, const struct dpt_host *host, const struct dpt_shape *in,
                  struct dpt_layer_info *info);
    /* The host MUST call destroy for every successful create before
     * closing the file. */
    void (*destroy)(void *state);
    /* Describes tensor i of the slice; returns 0, or -1 when i is past the
     * last one. Tensors cover the slice exactly, parameters first. Optional:
     * NULL means one tensor "params" over the n_params floats (and no state). */
    int (*tensor)(const void *state, uint32_t i, struct dpt_tensor *t);
    /* Writes initial values into params (n_params + n_state floats).
     * Required when n_params + n_state > 0. */
    void (*init)(const void *state, float *params, const struct dpt_host *host,
                 struct dpt_rng *rng);
    /* Bytes of workspace one call of forward+backward needs for B rows.
     * Optional: NULL means none. */
    size_t (*workspace_bytes)(const void *state, size_t B);
    /* y = f(x; params). In training (b->training) it may behave differently
     * (dropout, batch statistics) and leave in b->ws what backward needs. */
    void (*forward)(const void *state, const float *params, const float *x, float *y,
                    const struct dpt_batch *b);
    /* Given dy: dx += dL/dx (dx = dL/dx with DPT_CAP_WRITES_DX), dparams +=
     * dL/dparams. dx may be NULL: nobody needs it when no layer before this
     * one trains (the first layer, or one after flatten or pooling). x and y are
     * the training forward's. A layer with state adds its statistics of
     * these rows to dparams[n_params ...], weighted like gradients (each
     * row by b->scale): the host sums them over micro-shards, threads and
     * ranks and hands the sum to update_state. */
    void (*backward)(const void *state, const float *params, const float *x,
                     const float *y, const float *dy, float *dx, float *dparams,
                     const struct dpt_batch *b);
    /* Required when n_state > 0: after every training step, on every rank
     * alike, updates the state params[n_params ...] from the summed
     * statistics stats (n_state floats), e.g. running = momentum * running +
     * (1 - momentum) * stats. */
    void (*update_state)(const void *state, float *params, const float *stats);
};

/* An activation maps x (rows, cols) to y of the same shape. For samples of
 * shape [..., C] the host passes rows = B * prod(shape without C) and cols
 * = C, so that a function of a whole row (softmax) acts on the last axis,
 * as Keras' activations do. */
struct dpt_activation_plugin {
    struct dpt_plugin base;
    /* Optional (NULL: stateless, state is NULL). */
    int (*create)(void **state, const struct dpt_host *host);
    void (*destroy)(void *state);
    void (*forward)(const void *state, const float *x, float *y, size_t rows, size_t cols);
    /* dx += dL/dx given dy (dx = dL/dx with DPT_CAP_WRITES_DX); x and y are
     * the forward's input and output. */
    void (*backward)(const void *state, const float *x, const float *y, const float *dy,
                     float *dx, size_t rows, size_t cols);
};

/* A loss compares predictions pred (B, n_out) with targets y (B, y_cols).
 * Class labels arrive as floats holding small integers (exact below 2^24). */
struct dpt_loss_plugin {
    struct dpt_plugin base;
    /* If not NULL, the name of a final activation this loss fuses for
     * numerical stability (e.g. "softmax" for cross-entropy): when the model
     * ends in that activation, the host skips it in training and passes its
     * input (the logits) as pred. A model that does not end in it is refused. */
    const char *fused_activation;
    int (*create)(void **state, const struct dpt_host *host); /* optional */
    void (*destroy)(void *state);
    /* Checks that targets of y_cols columns fit a model with n_out outputs.
     * Returns 0, or -1 with the reason written to why (NUL-terminated). */
    int (*check_shape)(const void *state, uint64_t n_out, uint64_t y_cols, char *why,
                       size_t why_len);
    /* Checks target values; returns the index of the first bad row (with the
     * reason in why), or -1 when all rows are fine. Optional. */
    int64_t (*check_rows)(const void *state, const float *y, uint64_t rows, uint64_t n_out,
                          uint64_t y_cols, char *why, size_t why_len);
    /* Returns the sum over the B rows of the per-row loss. If dpred is not
     * NULL, also dpred += scale * d(row loss)/dpred for every row. */
    double (*forward_backward)(const void *state, const float *pred, const float *y,
                               float *dpred, size_t B, size_t n_out, size_t y_cols,
                               float scale);
    /* Optional: how many of the B rows are predicted right ("accuracy"). */
    size_t (*correct)(const void *state, const float *pred, const float *y, size_t B,
                      size_t n_out, size_t y_cols);
};

/* An optimizer updates the flat parameter buffer from the flat gradient. */
struct dpt_optimizer_plugin {
    struct dpt_plugin base;
    int (*create)(void **state, const struct dpt_host *host);
    void (*destroy)(void *state);
    /* State floats kept per parameter (0 for plain SGD, 2 for Adam...). */
    uint32_t (*state_floats)(const void *state);
    /* One update of n parameters at step t (1, 2, ...). ostate holds
     * state_floats() arrays, array j at ostate + j * ld (ld >= n); the host
     * zeroes them before step 1. The host may call step on disjoint ranges
     * of the buffers from several threads (so the update must be elementwise).
     * lr_scale multiplies the configured learning rate (schedules). */
    void (*step)(const void *state, float *params, const float *grad, float *ostate,
                 size_t ld, size_t n, uint64_t t, float lr_scale);
};

#ifdef __cplusplus
}
#endif
#endif /* DPTRAIN_PLUGIN_H */
