/* The network: builds plugin instances from the model section, lays out the
 * flat parameter buffer and runs forward/backward over one micro-shard.
 *
 * Nothing here allocates during a step: dpt_work holds every buffer a thread
 * needs, sized once for the largest micro-shard.
 */
#include "config.h"

#include "model/net.h"
#include "util/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ALIGN_FLOATS 16

static size_t round_up(size_t n, size_t k)
{
    return (n + k - 1) / k * k;
}

static int grow_nodes(struct dpt_net *net, struct dpt_node **node, struct dpt_err *err)
{
    struct dpt_node *nodes = realloc(net->nodes, (net->n_nodes + 1) * sizeof *nodes);
    if (!nodes) {
        return dpt_err_set(err, DPT_ENOMEM, "out of memory");
    }
    net->nodes = nodes;
    *node = &nodes[net->n_nodes];
    memset(*node, 0, sizeof **node);
    (*node)->host = malloc(sizeof *(*node)->host);
    if (!(*node)->host) {
        return dpt_err_set(err, DPT_ENOMEM, "out of memory");
    }
    net->n_nodes++;
    return 0;
}

/* Caps bits newer than the plugin's ABI minor do not exist for it. */
static int writes_dx(const struct dpt_plugin *p)
{
    return p->abi_minor >= 2 && (p->caps & DPT_CAP_WRITES_DX);
}

/* Adds an activation node; group is its settings (NULL when named by a
 * layer's "activation" key). */
static int add_activation(struct dpt_net *net, const struct dpt_registry *reg, const char *name,
                          const config_setting_t *group, const struct dpt_spec *spec,
                          int index, size_t width, struct dpt_err *err)
{
    struct dpt_node *node = NULL;
    if (grow_nodes(net, &node, err) < 0) {
        return err->code;
    }
    snprintf(node->label, sizeof node->label, "layer %d (%s)", index + 1, name);
    node->kind = DPT_KIND_ACTIVATION;
    node->layer_index = index;
    node->n_in = node->n_out = width;
    const struct dpt_plugin *p = dpt_registry_find(reg, DPT_KIND_ACTIVATION, name, err);
    if (!p) {
        const config_setting_t *at = group ? group : config_setting_get_elem(spec->layers, (unsigned)index);
        char where[512];
        return dpt_err_prefix(err, "%s: layer %d", dpt_spec_where(spec, at, where, sizeof where),
                              index + 1);
    }
    node->act = (const struct dpt_activation_plugin *)p;
    node->writes_dx = writes_dx(p);
    dpt_host_init(node->host, group, spec->file, node->label);
    if (node->act->create && node->act->create(&node->state, &node->host->host) < 0) {
        *err = node->host->err;
        node->state = NULL;
        return err->code ? err->code : dpt_err_set(err, DPT_EPLUGIN, "%s: create failed",
                                                   node->label);
    }
    static const char *const host_keys[] = {"type", NULL};
    return dpt_host_check_unused(node->host, host_keys, err);
}

static int add_layer(struct dpt_net *net, const struct dpt_registry *reg,
                     const config_setting_t *group, const struct dpt_spec *spec, int index,
                     size_t *width, struct dpt_err *err)
{
    const char *type = dpt_spec_type_of(group);
    struct dpt_err quiet = {0};
    const struct dpt_plugin *p = dpt_registry_find(reg, DPT_KIND_LAYER, type, &quiet);
    if (!p) {
        if (dpt_registry_find(reg, DPT_KIND_ACTIVATION, type, &quiet)) {
            return add_activation(net, reg, type, group, spec, index, *width, err);
        }
        dpt_registry_find(reg, DPT_KIND_LAYER, type, err);
        char where[512];
        return dpt_err_prefix(err, "%s: layer %d",
                              dpt_spec_where(spec, group, where, sizeof where), index + 1);
    }
    struct dpt_node *node = NULL;
    if (grow_nodes(net, &node, err) < 0) {
        return err->code;
    }
    snprintf(node->label, sizeof node->label, "layer %d (%s)", index + 1, type);
    node->kind = DPT_KIND_LAYER;
    node->layer = (const struct dpt_layer_plugin *)p;
    node->writes_dx = writes_dx(p);
    node->layer_index = index;
    node->n_in = *width;
    dpt_host_init(node->host, group, spec->file, node->label);
    struct dpt_layer_shape shape = {0};
    if (node->layer->create(&node->state, &node->host->host, node->n_in, &shape) < 0) {
        node->state = NULL;
        if (node->host->err.code) {
            *err = node->host->err;
            return err->code;
        }
        char where[512];
        return dpt_err_set(err, DPT_EPLUGIN, "%s: %s: the plugin's create failed without a "
                           "message", dpt_spec_where(spec, group, where, sizeof where),
                           node->label);
    }
    if (shape.n_out == 0) {
        char where[512];
        return dpt_err_set(err, DPT_EPLUGIN, "%s: %s: the plugin reports 0 outputs",
                           dpt_spec_where(spec, group, where, sizeof where), node->label);
    }
    node->n_out = shape.n_out;
    node->n_params = shape.n_params;
    node->param_off = net->n_params;
    net->n_params += round_up(shape.n_params, ALIGN_FLOATS);
    static const char *const host_keys[] = {"type", "activation", "l2", NULL};
    if (dpt_host_check_unused(node->host, host_keys, err) < 0) {
        return err->code;
    }
    /* L2 regularization of the weight tensor (tensor 0; the whole slice for
     * plugins that do not describe their tensors), as Keras' kernel_regularizer. */
    const config_setting_t *l2 = config_setting_get_member(group, "l2");
    if (l2) {
        int t = config_setting_type(l2);
        node->l2 = t == CONFIG_TYPE_FLOAT ? config_setting_get_float(l2)
                   : (t == CONFIG_TYPE_INT || t == CONFIG_TYPE_INT64) ? (double)config_setting_get_int64(l2)
                                                                     : -1;
        if (!(node->l2 >= 0)) {
            char where[512];
            return dpt_err_set(err, DPT_ECONFIG, "%s: layer %d: 'l2' must be a number >= 0",
                               dpt_spec_where(spec, l2, where, sizeof where), index + 1);
        }
        struct dpt_tensor t0;
        int described = node->layer->tensor && node->layer->tensor(node->state, 0, &t0) == 0;
        size_t len = 1;
        for (uint32_t j = 0; described && j < t0.rank; j++) {
            len *= t0.shape[j];
        }
        node->l2_off = node->param_off + (described ? t0.offset : 0);
        node->l2_len = described ? len : node->n_params;
    }
    *width = node->n_out;

    const config_setting_t *a = config_setting_get_member(group, "activation");
    if (a) {
        if (config_setting_type(a) != CONFIG_TYPE_STRING) {
            char where[512];
            return dpt_err_set(err, DPT_ECONFIG, "%s: layer %d: 'activation' must be a string "
                               "such as \"relu\"", dpt_spec_where(spec, a, where, sizeof where),
                               index + 1);
        }
        return add_activation(net, reg, config_setting_get_string(a), NULL, spec, index,
                              *width, err);
    }
    return 0;
}

static int add_loss(struct dpt_net *net, const struct dpt_registry *reg,
                    const struct dpt_spec *spec, struct dpt_err *err)
{
    const char *type = dpt_spec_type_of(spec->loss);
    const struct dpt_plugin *p = dpt_registry_find(reg, DPT_KIND_LOSS, type, err);
    if (!p) {
        char where[512];
        return dpt_err_prefix(err, "%s: model.loss",
                              dpt_spec_where(spec, spec->loss, where, sizeof where));
    }
    net->loss = (const struct dpt_loss_plugin *)p;
    net->loss_host = malloc(sizeof *net->loss_host);
    if (!net->loss_host) {
        return dpt_err_set(err, DPT_ENOMEM, "out of memory");
    }
    char what[96];
    snprintf(what, sizeof what, "loss (%s)", type);
    const config_setting_t *group = config_setting_is_group(spec->loss) ? spec->loss : NULL;
    dpt_host_init(net->loss_host, group, spec->file, what);
    if (net->loss->create && net->loss->create(&net->loss_state, &net->loss_host->host) < 0) {
        net->loss_state = NULL;
        *err = net->loss_host->err;
        return err->code ? err->code : dpt_err_set(err, DPT_EPLUGIN, "%s failed", what);
    }
    static const char *const host_keys[] = {"type", NULL};
    if (dpt_host_check_unused(net->loss_host, host_keys, err) < 0) {
        return err->code;
    }

    net->n_train = net->n_nodes;
    const char *fused = net->loss->fused_activation;
    if (fused) {
        const struct dpt_node *last = &net->nodes[net->n_nodes - 1];
        if (last->kind != DPT_KIND_ACTIVATION || strcmp(last->act->base.name, fused) != 0) {
            char where[512];
            return dpt_err_set(err, DPT_ECONFIG,
                               "%s: model.loss \"%s\" needs the last layer to end in "
                               "activation = \"%s\" (the loss fuses it for numerical "
                               "stability); the last layer ends in %s",
                               dpt_spec_where(spec, spec->loss, where, sizeof where), type, fused,
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
    const char *type = dpt_spec_type_of(spec->optimizer);
    const struct dpt_plugin *p = dpt_registry_find(reg, DPT_KIND_OPTIMIZER, type, err);
    if (!p) {
        char where[512];
        return dpt_err_prefix(err, "%s: model.optimizer",
                              dpt_spec_where(spec, spec->optimizer, where, sizeof where));
    }
    net->opt = (const struct dpt_optimizer_plugin *)p;
    net->opt_host = malloc(sizeof *net->opt_host);
    if (!net->opt_host) {
        return dpt_err_set(err, DPT_ENOMEM, "out of memory");
    }
    char what[96];
    snprintf(what, sizeof what, "optimizer (%s)", type);
    const config_setting_t *group =
        config_setting_is_group(spec->optimizer) ? spec->optimizer : NULL;
    dpt_host_init(net->opt_host, group, spec->file, what);
    if (net->opt->create(&net->opt_state, &net->opt_host->host) < 0) {
        net->opt_state = NULL;
        *err = net->opt_host->err;
        return err->code ? err->code : dpt_err_set(err, DPT_EPLUGIN, "%s failed", what);
    }
    static const char *const host_keys[] = {"type", NULL};
    if (dpt_host_check_unused(net->opt_host, host_keys, err) < 0) {
        return err->code;
    }
    net->opt_floats = net->opt->state_floats(net->opt_state);
    return 0;
}

int dpt_net_create(struct dpt_net **out, const struct dpt_spec *spec,
                   const struct dpt_registry *reg, size_t n_in, struct dpt_err *err)
{
    *out = NULL;
    struct dpt_net *net = calloc(1, sizeof *net);
    if (!net) {
        return dpt_err_set(err, DPT_ENOMEM, "out of memory");
    }
    net->n_in = n_in;
    size_t width = n_in;
    int rc = 0;
    for (int i = 0; rc == 0 && i < config_setting_length(spec->layers); i++) {
        rc = add_layer(net, reg, config_setting_get_elem(spec->layers, (unsigned)i), spec, i,
                       &width, err);
    }
    net->n_out = width;
    if (rc == 0) {
        rc = add_loss(net, reg, spec, err);
    }
    if (rc == 0) {
        rc = add_optimizer(net, reg, spec, err);
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

void dpt_net_destroy(struct dpt_net *net)
{
    if (!net) {
        return;
    }
    if (net->opt && net->opt_state) {
        net->opt->destroy(net->opt_state);
    }
    if (net->loss && net->loss_state && net->loss->destroy) {
        net->loss->destroy(net->loss_state);
    }
    for (size_t i = net->n_nodes; i-- > 0;) {
        struct dpt_node *n = &net->nodes[i];
        if (n->state && n->layer) {
            n->layer->destroy(n->state);
        } else if (n->state && n->act && n->act->destroy) {
            n->act->destroy(n->state);
        }
        free(n->host);
    }
    free(net->opt_host);
    free(net->loss_host);
    free(net->nodes);
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
        n->layer->init(n->state, net->params + n->param_off, &n->host->host, &rng);
    }
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

int dpt_work_create(struct dpt_work **out, const struct dpt_net *net, size_t m,
                    struct dpt_err *err)
{
    *out = NULL;
    size_t n = net->n_nodes;
    size_t bytes = 0;
    for (size_t i = 0; i < n; i++) {
        const struct dpt_node *nd = &net->nodes[i];
        bytes += 2 * round_up(m * nd->n_out * sizeof(float), 64);
        if (nd->layer && nd->layer->workspace_bytes) {
            bytes += round_up(nd->layer->workspace_bytes(nd->state, m), 64);
        }
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
        size_t b = round_up(m * nd->n_out * sizeof(float), 64);
        w->act[i + 1] = (float *)p;
        p += b;
        w->dact[i + 1] = (float *)p;
        p += b;
        if (nd->layer && nd->layer->workspace_bytes) {
            w->ws[i] = p;
            p += round_up(nd->layer->workspace_bytes(nd->state, m), 64);
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

/* Runs nodes [0, n) forward (in training when mi is not NULL); returns the
 * last output. */
static const float *forward(const struct dpt_net *net, struct dpt_work *w, const float *x,
                            size_t n, size_t B, const struct dpt_micro_info *mi)
{
    const float *in = x;
    for (size_t i = 0; i < n; i++) {
        const struct dpt_node *nd = &net->nodes[i];
        float *y = w->act[i + 1];
        /* Members newer than the plugin's ABI minor do not exist for it. */
        int train = mi && nd->kind == DPT_KIND_LAYER && nd->layer->base.abi_minor >= 1 &&
                    nd->layer->forward_train;
        if (train) {
            struct dpt_train_info info = {
                .key = dpt__mix64(dpt__mix64(mi->seed, mi->epoch), (uint64_t)nd->layer_index),
                .first_sample = mi->first_sample,
                .epoch = mi->epoch,
                .step = mi->step,
            };
            nd->layer->forward_train(nd->state, net->params + nd->param_off, in, y, B, w->ws[i],
                                     &info);
        } else if (nd->kind == DPT_KIND_LAYER) {
            nd->layer->forward(nd->state, net->params + nd->param_off, in, y, B, w->ws[i]);
        } else {
            nd->act->forward(nd->state, in, y, B, nd->n_out);
        }
        in = y;
    }
    return in;
}

double dpt_net_train_micro(const struct dpt_net *net, struct dpt_work *w, const float *x,
                           const float *y, size_t y_cols, size_t B, float scale, float *dparams,
                           size_t *correct, const struct dpt_micro_info *mi)
{
    size_t n = net->n_train;
    const float *pred = forward(net, w, x, n, B, mi);
    float *dpred = w->dact[n];
    memset(dpred, 0, B * net->n_out * sizeof(float));
    double loss = net->loss->forward_backward(net->loss_state, pred, y, dpred, B, net->n_out,
                                              y_cols, scale);
    if (correct && net->loss->correct) {
        *correct += net->loss->correct(net->loss_state, pred, y, B, net->n_out, y_cols);
    }
    for (size_t i = n; i-- > 0;) {
        const struct dpt_node *nd = &net->nodes[i];
        const float *in = i ? w->act[i] : x;
        float *dx = i ? w->dact[i] : NULL;
        if (dx && !nd->writes_dx) {
            memset(dx, 0, B * nd->n_in * sizeof(float));
        }
        if (nd->kind == DPT_KIND_LAYER) {
            nd->layer->backward(nd->state, net->params + nd->param_off, in, w->act[i + 1],
                                w->dact[i + 1], dx, dparams + nd->param_off, B, w->ws[i]);
        } else if (dx) {
            nd->act->backward(nd->state, in, w->act[i + 1], w->dact[i + 1], dx, B, nd->n_out);
        }
    }
    return loss;
}

double dpt_net_eval_micro(const struct dpt_net *net, struct dpt_work *w, const float *x,
                          const float *y, size_t y_cols, size_t B, float *pred, size_t *correct)
{
    const float *logits = forward(net, w, x, net->n_train, B, NULL);
    double loss = 0;
    if (y) {
        loss = net->loss->forward_backward(net->loss_state, logits, y, NULL, B, net->n_out,
                                           y_cols, 1.0f);
        if (correct && net->loss->correct) {
            *correct += net->loss->correct(net->loss_state, logits, y, B, net->n_out, y_cols);
        }
    }
    if (pred) {
        const float *out = logits;
        if (net->n_train < net->n_nodes) {
            const struct dpt_node *last = &net->nodes[net->n_nodes - 1];
            last->act->forward(last->state, logits, w->act[net->n_nodes], B, last->n_out);
            out = w->act[net->n_nodes];
        }
        memcpy(pred, out, B * net->n_out * sizeof(float));
    }
    return loss;
}
