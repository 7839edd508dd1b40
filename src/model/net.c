/* The network: builds plugin instances from the model section, lays out the
 * flat parameter buffer and runs forward/backward over one micro-shard.
 *
 * The file follows a network's life. instantiate() makes one plugin instance
 * of any kind (find the plugin, give it host services backed by its entry of
 * the model file, create it, refuse keys nobody read); add_layer,
 * add_activation, add_loss and add_optimizer use it and wire the result into
 * the net; dpt_net_create calls them in model order. Then come destroying,
 * initial parameters, the per-thread work buffers and the passes.
 *
 * Construction errors name the model file, the line and the instance:
 * "model.cfg:7: layer 2 (dense): 'units' must be in [1, 1048576], got 0".
 * Nothing here allocates during a step: dpt_work holds every buffer a thread
 * needs, sized once for the largest micro-shard.
 */
#include "config.h"

#include "model/net.h"
#include "data/memory.h"
#include "plugin/abi1.h"
#include "plugin/guard.h"
#include "util/util.h"

#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Parameter slices start on 16-float (64-byte) boundaries, as the buffer
 * itself does, so every layer's weights are equally aligned. */
#define ALIGN_FLOATS 16

static size_t round_up(size_t n, size_t k)
{
    return (n + k - 1) / k * k;
}

/* One plugin instance the model file asks for, and where it asks. */
struct want {
    uint32_t kind;                 /* DPT_KIND_* */
    const char *type;              /* the plugin's name */
    const config_setting_t *at;    /* the setting whose line messages name */
    const config_setting_t *group; /* the instance's settings; NULL: all defaults */
    const char *const *host_keys;  /* keys of group the host reads, not the plugin */
    struct dpt_shape in;           /* layers and activations: the input sample shape */
    char context[32];              /* before a failed look-up: "layer 2", "model.loss" */
    char label[96];                /* the instance: "layer 2 (dense)", "loss (cce)" */
};

/* An instance instantiate() made. The caller owns it: release(plugin, state),
 * then free(host), which must outlive the instance (it holds the strings the
 * plugin was handed). */
struct made {
    const struct dpt_plugin *plugin;
    void *state;                  /* may be NULL (stateless activations, losses) */
    struct dpt_host_ctx *host;    /* malloc'ed */
    struct dpt_layer_info info;   /* layers only: what create() reported */
};

/* A 1.x layer's create(): a flat layer on [prod(in)] inputs. */
static int create_v1(const struct dpt_layer_plugin_v1 *l, struct dpt_host_ctx *host,
                     const struct dpt_shape *in, struct dpt_layer_info *info, void **state)
{
    struct dpt_layer_shape_v1 shape = {0, 0};
    int rc = l->create(state, &host->host, dpt_shape_size(in), &shape);
    *info = (struct dpt_layer_info){.out = dpt_shape_flat(shape.n_out),
                                    .n_params = shape.n_params};
    return rc;
}

/* Calls the create() of p's kind; activations and losses may have none. */
static int create(const struct dpt_plugin *p, struct dpt_host_ctx *host,
                  const struct dpt_shape *in, struct dpt_layer_info *info, void **state)
{
    int (*plain)(void **, const struct dpt_host *) = NULL;
    switch (p->kind) {
    case DPT_KIND_LAYER:
        if (p->abi_major == 1) {
            return create_v1((const struct dpt_layer_plugin_v1 *)p, host, in, info, state);
        }
        return ((const struct dpt_layer_plugin *)p)->create(state, &host->host, in, info);
    case DPT_KIND_ACTIVATION:
        plain = ((const struct dpt_activation_plugin *)p)->create;
        break;
    case DPT_KIND_LOSS:
        plain = ((const struct dpt_loss_plugin *)p)->create;
        break;
    case DPT_KIND_OPTIMIZER:
        plain = ((const struct dpt_optimizer_plugin *)p)->create;
        break;
    }
    return plain ? plain(state, &host->host) : 0;
}

/* create() run under the crash guard (plugin/guard.h). */
struct create_call {
    const struct dpt_plugin *p;
    struct dpt_host_ctx *host;
    const struct dpt_shape *in;
    struct dpt_layer_info *info;
    void **state;
    int rc;
};

static void call_create(void *arg)
{
    struct create_call *c = arg;
    c->rc = create(c->p, c->host, c->in, c->info, c->state);
}

/* create() of p, or DPT_ECRASH with err naming the plugin, its file and
 * the instance (`where`: "FILE:LINE: layer 2 (x)") when it crashes. */
static int create_guarded(const struct dpt_plugin *p, struct dpt_host_ctx *host,
                          const struct dpt_shape *in, struct dpt_layer_info *info,
                          void **state, const char *where, struct dpt_err *err)
{
    struct create_call c = {p, host, in, info, state, 0};
    int sig = dpt__guard_call(call_create, &c);
    if (sig == 0) {
        return c.rc;
    }
    /* The file as the loader opened it may be relative ("./mine.so"):
     * named absolute, it needs no "(resolved as ...)" inside the brackets. */
    char file[PATH_MAX];
    const char *opened = dpt__file_of(p);
    return dpt_err_set(err, DPT_ECRASH, "%s: plugin '%s' (%s) crashed with %s in create(); "
                       "this is a bug in the plugin", where, p->name,
                       realpath(opened, file) ? file : opened, dpt__signal_name(sig));
}

/* Destroys an instance whose create() succeeded. A NULL state has nothing to
 * destroy: a plugin without create() leaves it NULL. */
static void release(const struct dpt_plugin *p, void *state)
{
    void (*destroy)(void *) = NULL;
    switch (p->kind) {
    case DPT_KIND_LAYER:
        destroy = p->abi_major == 1 ? ((const struct dpt_layer_plugin_v1 *)p)->destroy
                                    : ((const struct dpt_layer_plugin *)p)->destroy;
        break;
    case DPT_KIND_ACTIVATION:
        destroy = ((const struct dpt_activation_plugin *)p)->destroy;
        break;
    case DPT_KIND_LOSS:
        destroy = ((const struct dpt_loss_plugin *)p)->destroy;
        break;
    case DPT_KIND_OPTIMIZER:
        destroy = ((const struct dpt_optimizer_plugin *)p)->destroy;
        break;
    }
    if (state && destroy) {
        destroy(state);
    }
}

/* Makes the instance `want` describes, for every kind: finds the plugin
 * (a miss lists the known names, prefixed "FILE:LINE: layer 2"), creates it
 * with host services backed by want->group, and refuses keys of the group
 * that neither the plugin nor the host read. On failure err names the file,
 * line and instance, and nothing is left to release. */
static int instantiate(const struct dpt_registry *reg, const struct dpt_spec *spec,
                       const struct want *want, struct made *out, struct dpt_err *err)
{
    memset(out, 0, sizeof *out);
    char where[512];
    dpt_spec_where(spec, want->at, where, sizeof where);
    const struct dpt_plugin *p = dpt_registry_find(reg, want->kind, want->type, err);
    if (!p) {
        return dpt_err_prefix(err, "%s: %s", where, want->context);
    }
    struct dpt_host_ctx *host = malloc(sizeof *host);
    if (!host) {
        return dpt_err_set(err, DPT_ENOMEM, "out of memory");
    }
    dpt_host_init(host, want->group, spec->file, want->label);
    void *state = NULL;
    char at[640];
    snprintf(at, sizeof at, "%s: %s", where, want->label);
    int rc = create_guarded(p, host, &want->in, &out->info, &state, at, err);
    if (rc < 0) {
        state = NULL; /* a failed create leaves nothing to destroy */
        if (rc == DPT_ECRASH) {
            /* Not even the host context is freed: the plugin may hold it. */
            return rc;
        } else if (dpt_host_check_typos(host, want->host_keys, err) < 0) {
            /* A misspelt key ('unit') is why a required one was missing:
             * the typo is what to report, with the key it stands for. */
            rc = err->code;
        } else if (host->err.code) {
            /* The plugin reported through host->error: the message already
             * names the file, line and instance. */
            *err = host->err;
            rc = err->code;
        } else {
            rc = dpt_err_set(err, DPT_EPLUGIN, "%s: %s: the plugin's create failed without "
                             "a message", where, want->label);
        }
        goto fail;
    }
    rc = dpt_host_check_unused(host, want->host_keys, err);
    if (rc < 0) {
        goto fail;
    }
    out->plugin = p;
    out->state = state;
    out->host = host;
    return 0;
fail:
    release(p, state);
    free(host);
    return rc;
}

/* Caps bits newer than the plugin's ABI do not exist for it (WRITES_DX
 * arrived in 1.2). */
static int writes_dx(const struct dpt_plugin *p)
{
    return (p->abi_major > 1 || p->abi_minor >= 2) && (p->caps & DPT_CAP_WRITES_DX);
}

/* Appends a node holding a layer or activation instance made for entry
 * `index` of model.layers; the net owns the instance from here on. On
 * failure the instance is released and NULL returned. */
static struct dpt_node *push_node(struct dpt_net *net, const struct want *want, int index,
                                  struct made *made, struct dpt_err *err)
{
    struct dpt_node *nodes = realloc(net->nodes, (net->n_nodes + 1) * sizeof *nodes);
    if (!nodes) {
        release(made->plugin, made->state);
        free(made->host);
        dpt_err_set(err, DPT_ENOMEM, "out of memory");
        return NULL;
    }
    net->nodes = nodes;
    struct dpt_node *node = &nodes[net->n_nodes++];
    const struct dpt_plugin *p = made->plugin;
    int is_layer = want->kind == DPT_KIND_LAYER;
    *node = (struct dpt_node){
        .kind = want->kind,
        .plugin = p,
        .layer = is_layer && p->abi_major > 1 ? (const struct dpt_layer_plugin *)p : NULL,
        .layer_v1 = is_layer && p->abi_major == 1 ? (const struct dpt_layer_plugin_v1 *)p
                                                  : NULL,
        .act = is_layer ? NULL : (const struct dpt_activation_plugin *)p,
        .state = made->state,
        .host = made->host,
        .in = want->in,
        .out = is_layer ? made->info.out : want->in, /* activations keep the shape */
        .layer_index = index,
        .writes_dx = writes_dx(p),
    };
    node->n_in = dpt_shape_size(&node->in);
    node->n_out = dpt_shape_size(&node->out);
    snprintf(node->label, sizeof node->label, "%s", want->label);
    return node;
}

/* Adds an activation node on samples of shape *in for entry `index` of
 * model.layers: either the entry itself ({ type = "relu"; }: at and group
 * are the entry) or the activation its "activation" key names (at is that
 * key, group NULL: the activation takes its defaults). */
static int add_activation(struct dpt_net *net, const struct dpt_registry *reg,
                          const struct dpt_spec *spec, int index, const char *name,
                          const config_setting_t *at, const config_setting_t *group,
                          const struct dpt_shape *in, struct dpt_err *err)
{
    static const char *const host_keys[] = {"type", NULL};
    struct want want = {.kind = DPT_KIND_ACTIVATION, .type = name, .at = at, .group = group,
                        .host_keys = host_keys, .in = *in};
    snprintf(want.context, sizeof want.context, "layer %d", index + 1);
    snprintf(want.label, sizeof want.label, "layer %d (%s)", index + 1, name);
    struct made made;
    if (instantiate(reg, spec, &want, &made, err) < 0 ||
        !push_node(net, &want, index, &made, err)) {
        return err->code;
    }
    return 0;
}

/* Reads a layer's "l2" key, a number >= 0 (default 0), through the layer's
 * host services, so that a wrong value gets the getters' message ("FILE:LINE:
 * layer 2 (dense): 'l2' must be at least 0, got -1"). The training loop adds
 * l2 * sum(w^2) to the loss over the weight tensor (tensor 0; the whole slice
 * for plugins that do not describe their tensors), as Keras'
 * kernel_regularizer; with l2 = 0 it skips the layer (src/train/step.c). */
static int read_l2(struct dpt_node *node, struct dpt_err *err)
{
    struct dpt_host_ctx *h = node->host;
    if (h->host.get_float(h->host.ctx, "l2", 0.0, 0.0, HUGE_VAL, &node->l2) < 0) {
        *err = h->err;
        return err->code;
    }
    if (node->l2 == 0) {
        return 0;
    }
    struct dpt_tensor t0;
    size_t len = 1;
    if (dpt_node_tensor(node, 0, &t0) < 0 || t0.offset >= node->n_params) {
        /* No trainable tensor 0 (a layer without weights, or whose first
         * tensor is state): a penalty there would be meaningless. */
        h->host.error(h->host.ctx, "'l2' needs trainable weights; this layer's first tensor "
                      "is %s", node->n_params ? "not trainable" : "absent");
        *err = h->err;
        return err->code;
    }
    for (uint32_t j = 0; j < t0.rank; j++) {
        len *= t0.shape[j];
    }
    node->l2_off = node->param_off + t0.offset;
    node->l2_len = len;
    return 0;
}

int dpt_layer_info_check(const struct dpt_layer_plugin *l, const struct dpt_shape *in,
                         const struct dpt_layer_info *info, struct dpt_err *err)
{
    char in_text[96], out_text[96];
    dpt_shape_str(in, in_text, sizeof in_text);
    const struct dpt_shape *o = &info->out;
    int ok = o->rank >= 1 && o->rank <= DPT_MAX_RANK;
    for (uint32_t j = 0; ok && j < o->rank; j++) {
        ok = o->dims[j] > 0;
    }
    if (!ok) {
        snprintf(out_text, sizeof out_text, "rank %u", o->rank);
        if (o->rank >= 1 && o->rank <= DPT_MAX_RANK) {
            dpt_shape_str(o, out_text, sizeof out_text);
        }
        return dpt_err_set(err, DPT_EPLUGIN, "the plugin reports output shape %s for input %s "
                           "(every dimension must be at least 1, rank 1 to %d)", out_text,
                           in_text, DPT_MAX_RANK);
    }
    const char *missing = !l ? NULL
                          : info->n_params + info->n_state > 0 && !l->init ? "init"
                          : info->n_state > 0 && !l->update_state         ? "update_state"
                                                                           : NULL;
    if (missing) {
        return dpt_err_set(err, DPT_EPLUGIN, "the plugin has %s but lacks the required "
                           "function %s", info->n_state ? "state" : "parameters", missing);
    }
    /* A plugin's count is trusted no further than the flat buffer's
     * arithmetic allows: above 2^60 floats the byte sizes would wrap. */
    if (info->n_params > (UINT64_C(1) << 60) || info->n_state > (UINT64_C(1) << 60)) {
        return dpt_err_set(err, DPT_ENOMEM, "the plugin reports %" PRIu64 " parameters and %"
                           PRIu64 " state floats, more than any memory", info->n_params,
                           info->n_state);
    }
    return 0;
}

static int by_offset(const void *a, const void *b)
{
    const struct dpt_tensor *x = a, *y = b;
    return x->offset < y->offset ? -1 : x->offset > y->offset;
}

int dpt_tensors_wrong(struct dpt_tensor *t, size_t n, uint64_t n_params, uint64_t n_state,
                      char *why, size_t len)
{
    qsort(t, n, sizeof *t, by_offset);
    uint64_t at = 0;
    int boundary = n_params == 0;
    for (size_t i = 0; i < n; i++) {
        int ok = t[i].name && t[i].name[0] && t[i].rank >= 1 && t[i].rank <= 4;
        uint64_t size = 1;
        for (uint32_t j = 0; ok && j < t[i].rank; j++) {
            ok = t[i].shape[j] >= 1 && size <= (UINT64_C(1) << 60) / t[i].shape[j];
            size *= ok ? t[i].shape[j] : 1;
        }
        if (!ok) {
            return snprintf(why, len, "tensor %zu has no name, a rank outside 1..4 or a "
                            "dimension of 0", i), 1;
        }
        for (size_t j = 0; j < i; j++) {
            if (strcmp(t[i].name, t[j].name) == 0) {
                return snprintf(why, len, "two tensors are named '%s'", t[i].name), 1;
            }
        }
        if (t[i].offset != at) {
            return snprintf(why, len, "'%s' starts at float %" PRIu64 ", but the tensors before "
                            "it end at %" PRIu64 " (%s)", t[i].name, t[i].offset, at,
                            t[i].offset > at ? "a gap" : "an overlap"), 1;
        }
        at += size;
        boundary = boundary || at == n_params;
    }
    if (at != n_params + n_state) {
        return snprintf(why, len, "the tensors hold %" PRIu64 " floats, but create() reported "
                        "%" PRIu64 " parameters + %" PRIu64 " state", at, n_params, n_state), 1;
    }
    if (!boundary) {
        return snprintf(why, len, "no tensor ends at the %" PRIu64 " trainable parameters (one "
                        "straddles parameters and state)", n_params), 1;
    }
    return 0;
}

/* A layer's tensors as dpt_tensors_wrong wants them. Model files and
 * checkpoints store the slice tensor by tensor: a float no tensor covers
 * would be lost from them without a word, and a duplicate name would fail
 * only when the model is written, after training. */
static int check_tensors(const struct dpt_node *nd, const char *where, struct dpt_err *err)
{
    struct dpt_tensor t[DPT_MAX_TENSORS + 1];
    size_t n = 0;
    if (nd->n_params + nd->n_state == 0) {
        return 0;
    }
    while (n <= DPT_MAX_TENSORS && dpt_node_tensor(nd, (uint32_t)n, &t[n]) == 0) {
        n++;
    }
    char why[512];
    if (n > DPT_MAX_TENSORS) {
        snprintf(why, sizeof why, "there are more than %d tensors", DPT_MAX_TENSORS);
    }
    if (n > DPT_MAX_TENSORS ||
        dpt_tensors_wrong(t, n, nd->n_params, nd->n_state, why, sizeof why)) {
        return dpt_err_set(err, DPT_EPLUGIN, "%s: %s: the plugin's tensors do not cover its "
                           "slice: %s (model files store the slice tensor by tensor)", where,
                           nd->label, why);
    }
    return 0;
}

/* Adds entry `index` of model.layers: a layer node with its parameter slice,
 * then the activation its "activation" key names; or an activation node
 * alone when the entry's type is an activation plugin. *shape is the input
 * sample shape on entry and the output shape on return. */
static int add_layer(struct dpt_net *net, const struct dpt_registry *reg,
                     const struct dpt_spec *spec, int index, struct dpt_shape *shape,
                     struct dpt_err *err)
{
    const config_setting_t *group = config_setting_get_elem(spec->layers, (unsigned)index);
    const char *type = dpt_spec_type_of(group);
    struct dpt_err quiet = {0};
    if (!dpt_registry_find(reg, DPT_KIND_LAYER, type, &quiet) &&
        dpt_registry_find(reg, DPT_KIND_ACTIVATION, type, &quiet)) {
        return add_activation(net, reg, spec, index, type, group, group, shape, err);
    }
    /* A layer plugin, or no plugin of either kind: then the look-up in
     * instantiate() fails and lists the layer plugins there are. The host
     * reads "activation" and "l2" itself, below, after instantiate() has
     * checked the group for unknown keys: hence they are named here. */
    static const char *const host_keys[] = {"type", "activation", "l2", NULL};
    struct want want = {.kind = DPT_KIND_LAYER, .type = type, .at = group, .group = group,
                        .host_keys = host_keys, .in = *shape};
    snprintf(want.context, sizeof want.context, "layer %d", index + 1);
    snprintf(want.label, sizeof want.label, "layer %d (%s)", index + 1, type);
    struct made made;
    struct dpt_node *node = NULL;
    if (instantiate(reg, spec, &want, &made, err) < 0 ||
        !(node = push_node(net, &want, index, &made, err))) {
        return err->code;
    }
    char where[512];
    dpt_spec_where(spec, group, where, sizeof where);
    if (dpt_layer_info_check(node->layer, &node->in, &made.info, err) < 0) {
        return dpt_err_prefix(err, "%s: %s", where, node->label);
    }
    node->n_params = made.info.n_params;
    node->n_state = made.info.n_state;
    if (check_tensors(node, where, err) < 0) {
        return err->code;
    }
    node->param_off = net->n_params;
    net->n_params += round_up(node->n_params + node->n_state, ALIGN_FLOATS);
    if (read_l2(node, err) < 0) {
        return err->code;
    }
    *shape = node->out;

    /* The "activation" key, a string, through the layer's host services as
     * "l2" is; its setting is what the activation's own messages name. */
    struct dpt_host_ctx *h = node->host;
    const char *act = NULL;
    const config_setting_t *a = NULL;
    if (h->host.get_string(h->host.ctx, "activation", NULL, NULL, &act) < 0 ||
        dpt_host_setting(h, "activation", &a) < 0) {
        *err = h->err;
        return err->code;
    }
    if (!act) {
        return 0;
    }
    return add_activation(net, reg, spec, index, act, a, NULL, shape, err);
}

/* What model.loss or model.optimizer asks for: a plugin name, or a group
 * with a type and the plugin's settings. */
static struct want model_want(uint32_t kind, const config_setting_t *s)
{
    static const char *const host_keys[] = {"type", NULL};
    struct want want = {.kind = kind, .type = dpt_spec_type_of(s), .at = s,
                        .group = config_setting_is_group(s) ? s : NULL,
                        .host_keys = host_keys};
    snprintf(want.context, sizeof want.context, "model.%s", dpt_kind_name(kind));
    snprintf(want.label, sizeof want.label, "%s (%s)", dpt_kind_name(kind), want.type);
    return want;
}

/* Lets each layer with DPT_CAP_APPLIES_RELU (ABI 2.1) that a relu
 * (DPT_CAP_IS_RELU) follows apply it in its own passes; the relu's node is
 * then skipped and its buffers are the layer's (dpt_work_create). Only the
 * run changes: model files, summaries and exports still show both nodes.
 * DPTRAIN_FUSE=0 in the environment turns it off, for the tests that
 * compare the two ways bit for bit (tests/relu_fusion.sh). */
static void fuse_relus(struct dpt_net *net)
{
    const char *env = getenv("DPTRAIN_FUSE");
    if (env && strcmp(env, "0") == 0) {
        return;
    }
    for (size_t i = 0; i + 1 < net->n_nodes; i++) {
        struct dpt_node *nd = &net->nodes[i], *next = &net->nodes[i + 1];
        if (nd->layer && nd->plugin->abi_minor >= 1 &&
            (nd->plugin->caps & DPT_CAP_APPLIES_RELU) && next->act &&
            next->plugin->abi_minor >= 1 && (next->plugin->caps & DPT_CAP_IS_RELU)) {
            nd->applies_relu = next->fused = 1;
        }
    }
}

/* Makes the loss. A loss that fuses the final activation (cce with softmax)
 * needs the net to end in it; training then stops before it (n_train). */
static int add_loss(struct dpt_net *net, const struct dpt_registry *reg,
                    const struct dpt_spec *spec, struct dpt_err *err)
{
    struct want want = model_want(DPT_KIND_LOSS, spec->loss);
    struct made made;
    if (instantiate(reg, spec, &want, &made, err) < 0) {
        return err->code;
    }
    net->loss = (const struct dpt_loss_plugin *)made.plugin;
    net->loss_state = made.state;
    net->loss_host = made.host;

    net->n_train = net->n_nodes;
    fuse_relus(net);
    const char *fused = net->loss->fused_activation;
    if (fused) {
        const struct dpt_node *last = &net->nodes[net->n_nodes - 1];
        if (last->kind != DPT_KIND_ACTIVATION || strcmp(last->act->base.name, fused) != 0) {
            char where[512];
            return dpt_err_set(err, DPT_ECONFIG,
                               "%s: model.loss \"%s\" needs the last layer to end in "
                               "activation = \"%s\" (the loss fuses it for numerical "
                               "stability); the last layer ends in %s",
                               dpt_spec_where(spec, spec->loss, where, sizeof where), want.type,
                               fused,
                               last->kind == DPT_KIND_ACTIVATION ? last->act->base.name
                                                                 : "no activation");
        }
        net->n_train--;
    }
    return 0;
}

static int add_optimizer(struct dpt_net *net, const struct dpt_registry *reg,
                         const struct dpt_spec *spec, struct dpt_err *err)
{
    struct want want = model_want(DPT_KIND_OPTIMIZER, spec->optimizer);
    struct made made;
    if (instantiate(reg, spec, &want, &made, err) < 0) {
        return err->code;
    }
    net->opt = (const struct dpt_optimizer_plugin *)made.plugin;
    net->opt_state = made.state;
    net->opt_host = made.host;
    net->opt_floats = net->opt->state_floats(net->opt_state);
    return 0;
}

/* The trainable parts of the flat buffer (each layer's first n_params
 * floats; padding and state left out), adjacent ones merged, the number
 * of state floats, and which nodes' backward passes need dx: those after a
 * trainable one (a model that starts with flatten, reshape or pooling
 * computes no gradient for the inputs of its first dense or conv layer). */
static int find_train_ranges(struct dpt_net *net)
{
    net->train_ranges = calloc(net->n_nodes + 1, sizeof *net->train_ranges);
    if (!net->train_ranges) {
        return DPT_ENOMEM;
    }
    int trains_before = 0;
    for (size_t i = 0; i < net->n_nodes; i++) {
        struct dpt_node *nd = &net->nodes[i];
        nd->needs_dx = trains_before;
        trains_before |= nd->n_params > 0;
        net->n_nonweights += nd->n_state;
        if (nd->n_params == 0) {
            continue;
        }
        struct dpt_range *last =
            net->n_train_ranges ? &net->train_ranges[net->n_train_ranges - 1] : NULL;
        if (last && nd->n_state == 0 && last->off + last->len == nd->param_off) {
            last->len = round_up(nd->param_off + nd->n_params, ALIGN_FLOATS) - last->off;
        } else {
            net->train_ranges[net->n_train_ranges++] =
                (struct dpt_range){nd->param_off, nd->n_state ? nd->n_params
                                                              : round_up(nd->n_params,
                                                                         ALIGN_FLOATS)};
        }
    }
    return 0;
}

/* Refuses a model whose parameters, with their gradients and the
 * optimizer's state, cannot fit in memory, before they are allocated:
 * the message names the largest layer and both sizes. */
static int check_size(const struct dpt_net *net, const struct dpt_spec *spec,
                      struct dpt_err *err)
{
    const struct dpt_node *big = NULL;
    for (size_t i = 0; i < net->n_nodes; i++) {
        const struct dpt_node *nd = &net->nodes[i];
        if (!big || nd->n_params + nd->n_state > big->n_params + big->n_state) {
            big = nd;
        }
    }
    /* In doubles: 10^12 parameters x (2 + optimizer floats) x 4 bytes
     * overflows no 64-bit count, but a larger model file could. */
    double need = (double)net->n_params * (2.0 + (double)net->opt_floats) * sizeof(float);
    uint64_t have = dpt__mem_available();
    if (!big || need <= (double)have) {
        return 0;
    }
    char where[512], b_layer[64], b_need[64], b_have[64];
    const config_setting_t *at = config_setting_get_elem(spec->layers,
                                                         (unsigned)big->layer_index);
    return dpt_err_set(err, DPT_ENOMEM, "%s: %s: %zu parameters take %s; with the other "
                       "layers, the gradients and the optimizer's state the model needs %s, "
                       "and %s can be allocated (MemAvailable, cgroup and ulimit)",
                       dpt_spec_where(spec, at, where, sizeof where), big->label,
                       big->n_params + big->n_state,
                       dpt__bytes_text(b_layer, sizeof b_layer,
                                       (uint64_t)(big->n_params + big->n_state) * sizeof(float)),
                       need < 0x1p64 ? dpt__bytes_text(b_need, sizeof b_need, (uint64_t)need)
                                     : "more than 2^64 bytes",
                       dpt__bytes_text(b_have, sizeof b_have, have));
}

_Thread_local struct dpt_running dpt__running;

/* site for the instance of plugin p: who, the plugin's name, and its file
 * resolved now (a crash handler can call neither dladdr nor realpath). */
static int name_site(struct dpt_site *site, const char *who, const struct dpt_plugin *p)
{
    char real[PATH_MAX];
    const char *file = dpt__file_of(p);
    *site = (struct dpt_site){who, p->name, strdup(realpath(file, real) ? real : file)};
    return site->file ? 0 : -1;
}

static int name_sites(struct dpt_net *net)
{
    int rc = name_site(&net->loss_site, "the loss", &net->loss->base) |
             name_site(&net->opt_site, "the optimizer", &net->opt->base);
    for (size_t i = 0; i < net->n_nodes; i++) {
        rc |= name_site(&net->nodes[i].site, net->nodes[i].label, net->nodes[i].plugin);
    }
    return rc;
}

int dpt_net_create(struct dpt_net **out, const struct dpt_spec *spec,
                   const struct dpt_registry *reg, const struct dpt_shape *in,
                   struct dpt_err *err)
{
    *out = NULL;
    struct dpt_net *net = calloc(1, sizeof *net);
    if (!net) {
        return dpt_err_set(err, DPT_ENOMEM, "out of memory");
    }
    net->in = *in;
    net->n_in = dpt_shape_size(in);
    net->reg = reg;
    struct dpt_shape shape = *in;
    int rc = 0;
    for (int i = 0; rc == 0 && i < config_setting_length(spec->layers); i++) {
        rc = add_layer(net, reg, spec, i, &shape, err);
    }
    net->out = shape;
    net->n_out = dpt_shape_size(&shape);
    if (rc == 0) {
        rc = add_loss(net, reg, spec, err);
    }
    if (rc == 0) {
        rc = add_optimizer(net, reg, spec, err);
    }
    if (rc == 0 && (find_train_ranges(net) < 0 || name_sites(net) < 0)) {
        rc = dpt_err_set(err, DPT_ENOMEM, "out of memory");
    }
    if (rc == 0) {
        rc = check_size(net, spec, err);
    }
    if (rc == 0) {
        net->params = dpt__zalloc_aligned(net->n_params * sizeof(float));
        if (!net->params) {
            rc = dpt_err_set(err, DPT_ENOMEM, "out of memory for %zu parameters",
                             net->n_params);
        }
    }
    if (rc < 0) {
        dpt_net_destroy(net);
        return rc;
    }
    *out = net;
    return 0;
}

/* Destroys every instance before freeing the host services it was given. */
void dpt_net_destroy(struct dpt_net *net)
{
    if (!net) {
        return;
    }
    if (net->opt) {
        release(&net->opt->base, net->opt_state);
    }
    free(net->opt_host);
    free(net->opt_site.file);
    free(net->loss_site.file);
    if (net->loss) {
        release(&net->loss->base, net->loss_state);
    }
    free(net->loss_host);
    for (size_t i = net->n_nodes; i-- > 0;) {
        struct dpt_node *n = &net->nodes[i];
        release(n->plugin, n->state);
        free(n->host);
        free(n->site.file);
    }
    free(net->nodes);
    free(net->train_ranges);
    free(net->params);
    free(net);
}

void dpt_net_init_params(struct dpt_net *net, uint64_t seed)
{
    memset(net->params, 0, net->n_params * sizeof(float));
    for (size_t i = 0; i < net->n_nodes; i++) {
        struct dpt_node *n = &net->nodes[i];
        if (n->kind != DPT_KIND_LAYER) {
            continue;
        }
        struct dpt_rng rng = {dpt__mix64(seed, (uint64_t)n->layer_index), 0};
        float *params = net->params + n->param_off;
        if (n->layer_v1) {
            n->layer_v1->init(n->state, params, &n->host->host, &rng);
        } else if (n->layer->init) {
            n->layer->init(n->state, params, &n->host->host, &rng);
        }
    }
}

int dpt_net_check_inputs(const struct dpt_net *net, const struct dpt_shape *in,
                         const char *what, const char *x_name, struct dpt_err *err)
{
    int same = in->rank == net->in.rank;
    for (uint32_t j = 0; same && j < in->rank; j++) {
        same = in->dims[j] == net->in.dims[j];
    }
    if (same) {
        return 0;
    }
    char got[96], want[96];
    return dpt_err_set(err, DPT_EDATA, "%s: dataset '%s' holds samples of shape %s; the model "
                       "takes %s", what, x_name, dpt_shape_str(in, got, sizeof got),
                       dpt_shape_str(&net->in, want, sizeof want));
}

int dpt_net_check_targets(const struct dpt_net *net, size_t y_cols, const char *what,
                          struct dpt_err *err)
{
    char why[512] = "";
    if (net->loss->check_shape(net->loss_state, net->n_out, y_cols, why, sizeof why) < 0) {
        return dpt_err_set(err, DPT_EDATA, "%s: %s (loss '%s', model with %zu outputs)", what,
                           why, net->loss->base.name, net->n_out);
    }
    return 0;
}

/* Bytes of workspace node nd needs for m rows (0: none). */
static size_t workspace_bytes(const struct dpt_node *nd, size_t m)
{
    if (nd->layer_v1 && nd->layer_v1->workspace_bytes) {
        return nd->layer_v1->workspace_bytes(nd->state, m);
    }
    if (nd->layer && nd->layer->workspace_bytes) {
        return nd->layer->workspace_bytes(nd->state, m);
    }
    return 0;
}

/* The bytes of work buffers for micro-shards of m rows (activations, their
 * gradients and workspaces of every node) into *bytes, and the node with
 * the largest activations into *big; -1 when the sum does not fit in a
 * size_t (a batch of 2^62 rows). */
static int work_bytes(const struct dpt_net *net, size_t m, size_t *bytes,
                      const struct dpt_node **big)
{
    *bytes = 0;
    *big = NULL;
    for (size_t i = 0; i < net->n_nodes; i++) {
        const struct dpt_node *nd = &net->nodes[i];
        size_t act, ws = workspace_bytes(nd, m);
        if (nd->fused) {
            continue; /* its buffers are its layer's */
        }
        if (__builtin_mul_overflow(m, nd->n_out * sizeof(float), &act) || act > SIZE_MAX / 4 ||
            ws > SIZE_MAX / 4 || __builtin_add_overflow(*bytes, 2 * round_up(act, 64), bytes) ||
            __builtin_add_overflow(*bytes, round_up(ws, 64), bytes)) {
            *big = nd;
            return -1;
        }
        if (!*big || nd->n_out > (*big)->n_out) {
            *big = nd;
        }
    }
    return 0;
}

int dpt_work_bytes(const struct dpt_net *net, size_t m, size_t *bytes)
{
    const struct dpt_node *big;
    return work_bytes(net, m, bytes, &big);
}

int dpt_work_create(struct dpt_work **out, const struct dpt_net *net, size_t m,
                    struct dpt_err *err)
{
    *out = NULL;
    size_t n = net->n_nodes;
    size_t bytes = 0;
    const struct dpt_node *big;
    int fits = work_bytes(net, m, &bytes, &big) == 0;
    uint64_t have = dpt__mem_available();
    if (!fits || bytes > have) {
        char b_need[64], b_have[64];
        return dpt_err_set(err, DPT_ENOMEM, "micro-shards of %zu rows need %s of work buffers "
                           "per thread (%s: %zu rows x %zu outputs), and %s can be "
                           "allocated (MemAvailable, cgroup and ulimit)", m,
                           fits ? dpt__bytes_text(b_need, sizeof b_need, bytes)
                                : "more than 2^64 bytes",
                           big ? big->label : "the model", m, big ? big->n_out : 0,
                           dpt__bytes_text(b_have, sizeof b_have, have));
    }
    struct dpt_work *w = calloc(1, sizeof *w);
    if (w) {
        w->act = calloc(n + 1, sizeof *w->act);
        w->dact = calloc(n + 1, sizeof *w->dact);
        w->ws = calloc(n, sizeof *w->ws);
        w->block = dpt__zalloc_aligned(bytes);
    }
    if (!w || !w->act || !w->dact || !w->ws || !w->block) {
        dpt_work_destroy(w);
        return dpt_err_set(err, DPT_ENOMEM, "out of memory for %zu bytes of work buffers",
                           bytes);
    }
    w->m = m;
    char *p = w->block;
    for (size_t i = 0; i < n; i++) {
        const struct dpt_node *nd = &net->nodes[i];
        if (nd->fused) { /* the same floats: the layer wrote relu's output */
            w->act[i + 1] = w->act[i];
            w->dact[i + 1] = w->dact[i];
            continue;
        }
        size_t b = round_up(m * nd->n_out * sizeof(float), 64);
        w->act[i + 1] = (float *)p;
        p += b;
        w->dact[i + 1] = (float *)p;
        p += b;
        size_t ws = workspace_bytes(nd, m);
        if (ws) {
            w->ws[i] = p;
            p += round_up(ws, 64);
        }
    }
    *out = w;
    return 0;
}

void dpt_work_destroy(struct dpt_work *w)
{
    if (!w) {
        return;
    }
    free(w->act);
    free(w->dact);
    free(w->ws);
    free(w->block);
    free(w);
}

/* Activations act on the last axis: rows of C = the sample's last
 * dimension (softmax over channels, as Keras), B * (n / C) of them. */
static size_t act_cols(const struct dpt_node *nd)
{
    return nd->out.dims[nd->out.rank - 1];
}

/* What layer node nd's call over B rows of a micro-shard sees; mi is NULL
 * at inference. */
static struct dpt_batch batch_of(const struct dpt_node *nd, size_t B, void *ws, float scale,
                                 const struct dpt_micro_info *mi)
{
    struct dpt_batch b = {.B = B, .ws = ws, .scale = scale, .relu = (uint32_t)nd->applies_relu};
    if (mi) {
        b.training = 1;
        b.key = dpt__mix64(dpt__mix64(mi->seed, mi->epoch), (uint64_t)nd->layer_index);
        b.first_sample = mi->first_sample;
        b.epoch = mi->epoch;
        b.step = mi->step;
    }
    return b;
}

/* A layer's forward over the call b, whichever its ABI. Always inlined, as
 * forward() below (the same reason). */
static inline __attribute__((always_inline)) void layer_forward(const struct dpt_node *nd, const float *params, const float *x,
                          float *y, const struct dpt_batch *b)
{
    const struct dpt_layer_plugin_v1 *v1 = nd->layer_v1;
    dpt_enter(&nd->site, "forward");
    if (!v1) {
        nd->layer->forward(nd->state, params, x, y, b);
    } else if (b->training && v1->base.abi_minor >= 1 && v1->forward_train) {
        struct dpt_train_info_v1 info = {b->key, b->first_sample, b->epoch, b->step};
        v1->forward_train(nd->state, params, x, y, b->B, b->ws, &info);
    } else {
        v1->forward(nd->state, params, x, y, b->B, b->ws);
    }
    dpt_leave();
}

static void layer_backward(const struct dpt_node *nd, const float *params, const float *x,
                           const float *y, const float *dy, float *dx, float *dparams,
                           const struct dpt_batch *b)
{
    dpt_enter(&nd->site, "backward");
    if (nd->layer_v1) {
        nd->layer_v1->backward(nd->state, params, x, y, dy, dx, dparams, b->B, b->ws);
    } else {
        nd->layer->backward(nd->state, params, x, y, dy, dx, dparams, b);
    }
    dpt_leave();
}

/* An activation's passes over B samples of node nd, and the loss's: each
 * call of plugin code marked for the crash report (dpt__running). */
static void act_forward(const struct dpt_node *nd, const float *x, float *y, size_t B)
{
    dpt_enter(&nd->site, "forward");
    nd->act->forward(nd->state, x, y, B * (nd->n_out / act_cols(nd)), act_cols(nd));
    dpt_leave();
}

static void act_backward(const struct dpt_node *nd, const float *x, const float *y,
                         const float *dy, float *dx, size_t B)
{
    dpt_enter(&nd->site, "backward");
    nd->act->backward(nd->state, x, y, dy, dx, B * (nd->n_out / act_cols(nd)), act_cols(nd));
    dpt_leave();
}

static double loss_of(const struct dpt_net *net, const float *pred, const float *y, float *dpred,
                      size_t B, size_t y_cols, float scale, size_t *correct)
{
    dpt_enter(&net->loss_site, "forward_backward");
    double loss = net->loss->forward_backward(net->loss_state, pred, y, dpred, B, net->n_out,
                                              y_cols, scale);
    if (correct && net->loss->correct) {
        dpt__running.fn = "correct";
        *correct += net->loss->correct(net->loss_state, pred, y, B, net->n_out, y_cols);
    }
    dpt_leave();
    return loss;
}

/* The parameters w's passes read. */
static const float *params_of(const struct dpt_net *net, const struct dpt_work *w)
{
    return w->params ? w->params : net->params;
}

/* Runs nodes [0, n) forward (in training when mi is not NULL); returns the
 * last output. Always inlined: with the diagnosis pass as a third caller
 * the compiler would stop inlining it into dpt_net_train_micro, which costs
 * 0.4% of the instructions of a step of the tiny model. */
static inline __attribute__((always_inline)) const float *forward(const struct dpt_net *net, struct dpt_work *w, const float *x,
                            size_t n, size_t B, float scale, const struct dpt_micro_info *mi)
{
    const float *in = x;
    for (size_t i = 0; i < n; i++) {
        const struct dpt_node *nd = &net->nodes[i];
        float *y = w->act[i + 1];
        if (nd->fused) {
            continue; /* y is in (the layer's output, relu applied) */
        }
        if (nd->kind == DPT_KIND_LAYER) {
            struct dpt_batch b = batch_of(nd, B, w->ws[i], scale, mi);
            layer_forward(nd, params_of(net, w) + nd->param_off, in, y, &b);
        } else {
            act_forward(nd, in, y, B);
        }
        in = y;
    }
    return in;
}

double dpt_net_train_micro(const struct dpt_net *net, struct dpt_work *w, const float *x,
                           const float *y, size_t y_cols, size_t B, float scale, float *dparams,
                           size_t *correct, const struct dpt_micro_info *mi,
                           const struct dpt_net_hook *hook)
{
    size_t n = net->n_train;
    const float *pred = forward(net, w, x, n, B, scale, mi);
    float *dpred = w->dact[n];
    memset(dpred, 0, B * net->n_out * sizeof(float));
    double loss = loss_of(net, pred, y, dpred, B, y_cols, scale, correct);
    for (size_t i = n; i-- > 0;) {
        const struct dpt_node *nd = &net->nodes[i];
        const float *in = i ? w->act[i] : x;
        float *dx = nd->needs_dx ? w->dact[i] : NULL;
        if (nd->fused) {
            continue; /* its layer takes dy, the relu's, as it is */
        }
        if (dx && !nd->writes_dx) {
            memset(dx, 0, B * nd->n_in * sizeof(float));
        }
        if (nd->kind == DPT_KIND_LAYER) {
            struct dpt_batch b = batch_of(nd, B, w->ws[i], scale, mi);
            layer_backward(nd, params_of(net, w) + nd->param_off, in, w->act[i + 1], w->dact[i + 1],
                           dx, dparams + nd->param_off, &b);
        } else if (dx) {
            act_backward(nd, in, w->act[i + 1], w->dact[i + 1], dx, B);
        }
        if (hook) {
            hook->after(hook->ctx, i);
        }
    }
    return loss;
}

/* The index of the first non-finite float of a[0, n), or n. */
static size_t first_nonfinite(const float *a, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (!isfinite(a[i])) {
            return i;
        }
    }
    return n;
}

/* Records in *out that `output` of node i (n floats at a) is not finite,
 * if so; returns out->found. */
static int blame(struct dpt_nonfinite *out, size_t i, const char *output, const float *a,
                 size_t n)
{
    size_t at = a ? first_nonfinite(a, n) : n;
    if (at < n) {
        *out = (struct dpt_nonfinite){.found = 1, .node = i, .output = output, .at = at,
                                      .value = a[at]};
    }
    return out->found;
}

void dpt_net_find_nonfinite(const struct dpt_net *net, struct dpt_work *w, const float *x,
                            const float *y, size_t y_cols, size_t B, float scale,
                            float *dparams, const struct dpt_micro_info *mi,
                            struct dpt_nonfinite *out)
{
    size_t n = net->n_train;
    *out = (struct dpt_nonfinite){0};
    memset(dparams, 0, net->n_params * sizeof(float));
    /* The rows and every parameter are finite here: the data was checked
     * when it was read, and the step that found the problem left the
     * parameters as they were. So each node's inputs are finite until the
     * first output that is not, which is the one to report. */
    for (size_t i = 0; i < n; i++) {
        /* Nodes 0..i again rather than node i alone: the diagnosis may be
         * slow, and the training forward stays one loop. */
        forward(net, w, x, i + 1, B, scale, mi);
        if (blame(out, i, "y", w->act[i + 1], B * net->nodes[i].n_out)) {
            return;
        }
    }
    float *dpred = w->dact[n];
    memset(dpred, 0, B * net->n_out * sizeof(float));
    loss_of(net, w->act[n], y, dpred, B, y_cols, scale, NULL);
    if (blame(out, 0, "dpred", dpred, B * net->n_out)) {
        out->is_loss = 1;
        return;
    }
    for (size_t i = n; i-- > 0;) {
        const struct dpt_node *nd = &net->nodes[i];
        const float *in = i ? w->act[i] : x;
        float *dx = nd->needs_dx ? w->dact[i] : NULL;
        if (nd->fused) {
            continue;
        }
        if (dx) {
            memset(dx, 0, B * nd->n_in * sizeof(float));
        }
        float *dp = dparams + nd->param_off;
        if (nd->kind == DPT_KIND_LAYER) {
            struct dpt_batch b = batch_of(nd, B, w->ws[i], scale, mi);
            layer_backward(nd, params_of(net, w) + nd->param_off, in, w->act[i + 1], w->dact[i + 1],
                           dx, dp, &b);
        } else if (dx) {
            act_backward(nd, in, w->act[i + 1], w->dact[i + 1], dx, B);
        }
        if (blame(out, i, "dparams", dp, nd->n_params + nd->n_state) ||
            blame(out, i, "dx", dx, B * nd->n_in)) {
            return;
        }
    }
}

double dpt_net_eval_micro(const struct dpt_net *net, struct dpt_work *w, const float *x,
                          const float *y, size_t y_cols, size_t B, float *pred, size_t *correct)
{
    const float *logits = forward(net, w, x, net->n_train, B, 1.0f, NULL);
    double loss = 0;
    if (y) {
        loss = loss_of(net, logits, y, NULL, B, y_cols, 1.0f, correct);
    }
    if (pred) {
        const float *out = logits;
        if (net->n_train < net->n_nodes) {
            const struct dpt_node *last = &net->nodes[net->n_nodes - 1];
            act_forward(last, logits, w->act[net->n_nodes], B);
            out = w->act[net->n_nodes];
        }
        memcpy(pred, out, B * net->n_out * sizeof(float));
    }
    return loss;
}

void dpt_net_update_state(const struct dpt_net *net, float *g)
{
    for (size_t i = 0; i < net->n_nodes; i++) {
        const struct dpt_node *nd = &net->nodes[i];
        if (nd->n_state == 0) {
            continue;
        }
        float *stats = g + nd->param_off + nd->n_params;
        dpt_enter(&nd->site, "update_state");
        nd->layer->update_state(nd->state, net->params + nd->param_off, stats);
        dpt_leave();
        memset(stats, 0, nd->n_state * sizeof *stats);
    }
}

int dpt_node_tensor(const struct dpt_node *nd, uint32_t i, struct dpt_tensor *t)
{
    int (*tensor)(const void *, uint32_t, struct dpt_tensor *) =
        nd->layer_v1 ? nd->layer_v1->tensor : nd->layer ? nd->layer->tensor : NULL;
    if (tensor) {
        return tensor(nd->state, i, t);
    }
    if (i > 0) {
        return -1;
    }
    *t = (struct dpt_tensor){.name = "params", .rank = 1, .shape = {nd->n_params}, .offset = 0};
    return 0;
}

const char *dpt_shape_str(const struct dpt_shape *s, char *buf, size_t len)
{
    size_t used = (size_t)snprintf(buf, len, "[");
    for (uint32_t j = 0; j < s->rank && used < len; j++) {
        used += (size_t)snprintf(buf + used, len - used, "%s%" PRIu64, j ? ", " : "",
                                 s->dims[j]);
    }
    if (used < len) {
        snprintf(buf + used, len - used, "]");
    }
    return buf;
}

uint64_t dpt_shape_size(const struct dpt_shape *s)
{
    uint64_t n = 1;
    for (uint32_t j = 0; j < s->rank; j++) {
        n *= s->dims[j];
    }
    return n;
}

struct dpt_shape dpt_shape_flat(uint64_t n)
{
    return (struct dpt_shape){.rank = 1, .dims = {n}};
}

size_t dpt_net_count(const struct dpt_net *net, int layer_index, size_t *trainable,
                     size_t *nontrainable)
{
    size_t w = 0, state = 0;
    for (size_t i = 0; i < net->n_nodes; i++) {
        const struct dpt_node *nd = &net->nodes[i];
        if (layer_index < 0 || nd->layer_index == layer_index) {
            w += nd->n_params;
            state += nd->n_state;
        }
    }
    if (trainable) {
        *trainable = w;
    }
    if (nontrainable) {
        *nontrainable = state;
    }
    return w + state;
}
