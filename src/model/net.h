/* The network: a chain of plugin instances (layers and activations) with one
 * flat parameter buffer, a loss and an optimizer.
 *
 * Each layer of the model file becomes a layer node and, if it names an
 * activation, an activation node after it. A layer whose type is an
 * activation plugin ({ type = "relu"; }) is an activation node alone.
 * Samples have shapes (struct dpt_shape): each node's input shape is the
 * previous node's output shape, starting from the data's sample shape.
 * Parameters are one 64-byte aligned float buffer; node i owns
 * [param_off, param_off + n_params + n_state), each slice starting on a
 * 16-float boundary: its trainable floats, then its non-trainable state
 * (running statistics), which the optimizer never touches (train_ranges
 * lists what it updates). A loss that fuses the final activation (cce with softmax, bce with
 * sigmoid) receives the logits in training; the activation still runs for
 * predictions.
 *
 * Threads share the net (read-only during a step); each has its own
 * struct dpt_work with activations, their gradients and plugin workspaces.
 */
#ifndef DPT_MODEL_NET_H
#define DPT_MODEL_NET_H

#include "model/spec.h"
#include "plugin/host.h"
#include "plugin/registry.h"

#include <dptrain/dptrain.h>
#include <dptrain/plugin.h>
#include <stddef.h>

struct dpt_layer_plugin_v1;

/* A plugin instance as a crash in its code names it (dpt__running). */
struct dpt_site {
    const char *who;  /* "layer 2 (dense)", "the loss", "the optimizer" */
    const char *name; /* the plugin's name */
    char *file;       /* its file, absolute (malloc'ed) */
};

/* The plugin call this thread is in, set around every call of the passes
 * and the optimizer's step (site NULL between them): on a crash in plugin
 * code the handler of cli/main.c prints one line naming the instance, the
 * plugin, its file and the function, and the process then dies of the
 * signal as before (Open MPI's report, a core file). */
struct dpt_running {
    const struct dpt_site *site;
    const char *fn; /* "forward", "backward", ... */
};
extern _Thread_local struct dpt_running dpt__running;

static inline void dpt_enter(const struct dpt_site *site, const char *fn)
{
    dpt__running.fn = fn;
    dpt__running.site = site;
}

static inline void dpt_leave(void)
{
    dpt__running.site = NULL;
}

struct dpt_node {
    uint32_t kind; /* DPT_KIND_LAYER or DPT_KIND_ACTIVATION */
    const struct dpt_plugin *plugin;          /* the descriptor, whatever its kind */
    const struct dpt_layer_plugin *layer;     /* an ABI 2 layer, or NULL */
    const struct dpt_layer_plugin_v1 *layer_v1; /* an ABI 1 layer (plugin/abi1.h), or NULL */
    const struct dpt_activation_plugin *act;
    void *state;               /* the instance; NULL for a stateless activation */
    struct dpt_host_ctx *host; /* the services it was created with; owned, freed after it */
    struct dpt_shape in, out;  /* sample shapes */
    size_t n_in, n_out;        /* floats per sample: the products of the shapes */
    size_t param_off, n_params, n_state;
    int layer_index; /* index in model.layers */
    int writes_dx;   /* DPT_CAP_WRITES_DX: backward writes dx, no zeroing needed */
    int needs_dx;    /* a node before it trains: backward gets dx (else NULL, not computed) */
    int applies_relu; /* a layer that runs the next node, a relu, in its own passes */
    int fused;        /* a relu its layer applies: skipped; its buffers are the layer's */
    double l2;       /* the layer's "l2" key: loss += l2 * sum(w^2) over its weight tensor */
    size_t l2_off, l2_len; /* that tensor within the flat buffer */
    char label[96];  /* "layer 2 (dense)" */
    struct dpt_site site;
};

/* A run [off, off + len) of the flat parameter buffer. */
struct dpt_range {
    size_t off, len;
};

struct dpt_net {
    struct dpt_node *nodes;
    size_t n_nodes;
    size_t n_train; /* nodes run in training (the fused activation is left out) */
    struct dpt_shape in, out; /* sample shapes of the data and of the predictions */
    size_t n_in, n_out;       /* their products */
    size_t n_params;  /* floats in the flat buffers, padding and state included */
    size_t n_nonweights; /* non-trainable state floats */
    struct dpt_range *train_ranges; /* the trainable parts of the flat buffer, in order */
    size_t n_train_ranges;
    float *params;   /* host-owned, aligned */
    const struct dpt_loss_plugin *loss;
    void *loss_state;
    struct dpt_host_ctx *loss_host;
    const struct dpt_optimizer_plugin *opt;
    void *opt_state;
    struct dpt_host_ctx *opt_host;
    size_t opt_floats; /* optimizer state floats per parameter */
    struct dpt_site loss_site, opt_site;
    const struct dpt_registry *reg; /* borrowed: the plugins' registry (io/plugin_record.h) */
};

/* Builds the network for samples of shape *in from spec's model section:
 * one plugin instance per layer, activation, loss and optimizer, and a
 * zeroed parameter buffer. Errors name the model file, the line and the
 * instance ("m.cfg:3: layer 1 (dense): 'units' ..."); *out is then NULL.
 * Free the net with dpt_net_destroy. */
int dpt_net_create(struct dpt_net **out, const struct dpt_spec *spec,
                   const struct dpt_registry *reg, const struct dpt_shape *in,
                   struct dpt_err *err);
void dpt_net_destroy(struct dpt_net *net);

/* Whether what create() of layer plugin l reported for input shape *in
 * is a layer the host can run: an output shape of rank 1 to DPT_MAX_RANK
 * without an empty dimension, the functions its parameters and state
 * need (init, update_state), and sizes the flat buffers can hold. 0, or
 * DPT_EPLUGIN (DPT_ENOMEM for the sizes) with why in err, e.g. "the plugin
 * has parameters but lacks the required function init", for the caller to
 * prefix with the layer. l NULL (an ABI 1.x layer, whose loader checked
 * its functions): the shape and the sizes only. dpt_net_create checks
 * every layer with it, and `dptrain check-plugin` every shape it tries. */
int dpt_layer_info_check(const struct dpt_layer_plugin *l, const struct dpt_shape *in,
                         const struct dpt_layer_info *info, struct dpt_err *err);

/* Initial parameters from seed (each layer its own Philox key). */
void dpt_net_init_params(struct dpt_net *net, uint64_t seed);

/* Tensor i of a layer node (its plugin's description, or one tensor
 * "params" over the trainable floats for plugins that give none); 0, or -1
 * past the last. Offsets are within the node's slice. */
int dpt_node_tensor(const struct dpt_node *nd, uint32_t i, struct dpt_tensor *t);

/* The most tensors a layer may describe. */
#define DPT_MAX_TENSORS 64

/* Sorts the tensors t[0, n) by offset; then why they do not describe a slice of
 * n_params trainable and n_state state floats as the ABI promises (struct
 * dpt_tensor: named, unique, rank 1 to 4 with every dimension at least 1,
 * covering the slice exactly, none across the end of the parameters), as
 * a phrase into why (len bytes); 0 when they do. Training refuses such a
 * layer (model files store the slice tensor by tensor) and check-plugin
 * reports it. */
int dpt_tensors_wrong(struct dpt_tensor *t, size_t n, uint64_t n_params, uint64_t n_state,
                      char *why, size_t len);

/* "[28, 28, 1]" into buf (returned). */
const char *dpt_shape_str(const struct dpt_shape *s, char *buf, size_t len);
/* prod(s->dims). */
uint64_t dpt_shape_size(const struct dpt_shape *s);
/* The flat shape [n]. */
struct dpt_shape dpt_shape_flat(uint64_t n);

/* After a training step, on every rank alike: every layer with state
 * updates it from the statistics the step summed into the state part of
 * the gradient g (then zeroed there). */
void dpt_net_update_state(const struct dpt_net *net, float *g);

/* Checks that samples of shape *in (dataset x_name of file `what`) are what
 * the network takes; the error names the file, the dataset and both
 * shapes. */
int dpt_net_check_inputs(const struct dpt_net *net, const struct dpt_shape *in,
                         const char *what, const char *x_name, struct dpt_err *err);

/* Checks targets of y_cols columns against the loss (shape). */
int dpt_net_check_targets(const struct dpt_net *net, size_t y_cols, const char *what,
                          struct dpt_err *err);

/* Per-thread buffers for micro-shards of up to m rows. */
struct dpt_work {
    size_t m;
    float **act;  /* act[i + 1] = output of node i, (m, n_out_i) */
    float **dact; /* gradients of the same */
    void **ws;    /* workspace per node */
    void *block;  /* one allocation behind all of the above */
    const float *params; /* the parameters its passes read (a thread's copy,
                          * src/train/step.c); NULL: net->params */
};
/* The bytes of one thread's work buffers for micro-shards of m rows
 * (activations, their gradients, the layers' workspaces): what
 * dpt_work_create allocates. 0, or -1 when they exceed the address space. */
int dpt_work_bytes(const struct dpt_net *net, size_t m, size_t *bytes);
int dpt_work_create(struct dpt_work **out, const struct dpt_net *net, size_t m,
                    struct dpt_err *err);
void dpt_work_destroy(struct dpt_work *w);

/* Which samples a training micro-shard holds: for layers that draw random
 * numbers in training (dropout), the draws depend on these only. */
struct dpt_micro_info {
    uint64_t seed, epoch, step;
    uint64_t first_sample; /* position of its first row in the epoch's order */
};

/* Called by dpt_net_train_micro after the backward pass of each node it
 * runs, top node first: from then on the pass neither reads nor writes that
 * node's parameters or its part of dparams. */
struct dpt_net_hook {
    void (*after)(void *ctx, size_t node);
    void *ctx;
};

/* Forward and backward over B <= m rows: x (B, n_in), y (B, y_cols).
 * dparams += scale * gradient of the loss sum; returns the loss sum and
 * adds the number of right predictions to *correct. hook may be NULL. */
double dpt_net_train_micro(const struct dpt_net *net, struct dpt_work *w, const float *x,
                           const float *y, size_t y_cols, size_t B, float scale, float *dparams,
                           size_t *correct, const struct dpt_micro_info *mi,
                           const struct dpt_net_hook *hook);
/* Where a training pass first made a non-finite value from finite inputs
 * (dpt_net_find_nonfinite). */
struct dpt_nonfinite {
    int found;          /* 0: the pass stayed finite (the problem did not come back) */
    int is_loss;        /* the loss plugin's gradient, not a node */
    size_t node;        /* else the node, an index into net->nodes */
    const char *output; /* "y" (forward), "dx" or "dparams" (backward), "dpred" (loss) */
    size_t at;          /* the first non-finite element of that buffer (of this micro-shard) */
    float value;        /* its value: NaN or +-Inf */
};

/* The diagnosis pass after a step whose gradient was not finite: the same
 * training pass as dpt_net_train_micro over the same rows, node by node,
 * checking that each function's inputs are finite and finding the first
 * whose outputs are not (forward in order, then the loss, then backward
 * from the top). dparams is scratch of net->n_params floats, zeroed here.
 * Only the first non-finite output is reported: everything after it has a
 * non-finite input. Slow (it scans every buffer) and only run when
 * something is already wrong. */
void dpt_net_find_nonfinite(const struct dpt_net *net, struct dpt_work *w, const float *x,
                            const float *y, size_t y_cols, size_t B, float scale,
                            float *dparams, const struct dpt_micro_info *mi,
                            struct dpt_nonfinite *out);

/* Forward only. Returns the loss sum when y is not NULL (else 0); writes the
 * activated outputs (B, n_out) to pred when pred is not NULL. */
double dpt_net_eval_micro(const struct dpt_net *net, struct dpt_work *w, const float *x,
                          const float *y, size_t y_cols, size_t B, float *pred,
                          size_t *correct);

/* Parameter counts as a model summary shows them: *trainable floats and
 * *nontrainable state floats (running statistics), without the padding
 * that aligns the slices of the flat buffer (net->n_params counts it).
 * layer_index < 0 counts the whole net, else the nodes of that entry of
 * model.layers (its layer and its activation). Either pointer may be NULL.
 * Returns trainable + non-trainable. `dptrain train`, `inspect` and
 * `summary` all report this count. */
size_t dpt_net_count(const struct dpt_net *net, int layer_index, size_t *trainable,
                     size_t *nontrainable);

#endif
