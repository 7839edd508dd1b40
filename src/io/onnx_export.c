/* ONNX export of a trained network: see onnx_export.h for what the graph
 * computes, docs/DESIGN.md ("ONNX export") for the mapping table.
 *
 * The graph is built as protobuf-c messages (the C that protoc-c made of
 * ONNX's own onnx.proto) and packed by libprotobuf-c: no byte of protobuf is
 * written here. Every message, name and array lives in one arena that is
 * freed at the end, so the builders below need no cleanup of their own and
 * an allocation failure is noticed once, before packing.
 *
 * Layout: dptrain's tensors are channels last ([N, H, W, C], [N, L, C]);
 * ONNX's Conv, MaxPool, AveragePool, GlobalAveragePool and
 * BatchNormalization take channels first. The builder tracks which order
 * the current tensor is in and inserts a Transpose only where an operator
 * needs the other one, so a run of convolutions and pooling costs one
 * Transpose in and one out, and weights are permuted once here ([kh, kw,
 * C, F] to [F, C, kh, kw]) instead of at every run. Flatten, Reshape and
 * dense layers see the channels-last order, so the flattened features are
 * in dptrain's order and the dense weights need no permutation.
 *
 * Settings the ONNX attributes need (strides, dilation, pool sizes,
 * epsilon, alpha) are read from the layer's group of the model file with
 * the plugins' defaults; paddings are derived from the input and output
 * shapes the plugins reported, with TensorFlow's split (the smaller half
 * first), which every built-in layer uses.
 */
#include "config.h"

#include "io/onnx_export.h"
#include "io/onnx.pb-c.h"
#include "io/output.h"
#include "plugin/host.h"
#include "util/util.h"

#include <jansson.h>
#include <libconfig.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* All memory of one export: blocks freed together by arena_free. */
struct arena {
    void **blocks;
    size_t n, cap;
    int failed; /* an allocation failed: the export ends with DPT_ENOMEM */
};

static void *arena_alloc(struct arena *a, size_t bytes)
{
    if (a->n == a->cap) {
        size_t cap = a->cap ? 2 * a->cap : 256;
        void **b = realloc(a->blocks, cap * sizeof *b);
        if (!b) {
            a->failed = 1;
            return NULL;
        }
        a->blocks = b;
        a->cap = cap;
    }
    void *p = calloc(1, bytes ? bytes : 1);
    if (!p) {
        a->failed = 1;
        return NULL;
    }
    a->blocks[a->n++] = p;
    return p;
}

/* A copy of bytes bytes of src in the arena (NULL when out of memory). */
static void *arena_copy(struct arena *a, const void *src, size_t bytes)
{
    void *p = arena_alloc(a, bytes);
    if (p && bytes) {
        memcpy(p, src, bytes);
    }
    return p;
}

static char *arena_printf(struct arena *a, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static char *arena_printf(struct arena *a, const char *fmt, ...)
{
    char buf[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    return arena_copy(a, buf, strlen(buf) + 1);
}

static void arena_free(struct arena *a)
{
    for (size_t i = 0; i < a->n; i++) {
        free(a->blocks[i]);
    }
    free(a->blocks);
    memset(a, 0, sizeof *a);
}

/* A protobuf-c message of type T in the arena, set to its INIT value. */
#define NEW_MSG(ar, T, INIT) ((T *)arena_copy((ar), &(const T)INIT, sizeof(T)))

/* The graph being built, and where its current tensor stands. */
struct graph {
    struct arena ar;
    Onnx__NodeProto **nodes;
    size_t n_nodes, cap_nodes;
    Onnx__TensorProto **inits;
    size_t n_inits, cap_inits;
    const char *cur;        /* the tensor the next operator reads */
    uint32_t rank;          /* of its sample shape (without N) */
    int channels_first;     /* cur is [N, C, spatial...] rather than [N, spatial..., C] */
    unsigned serial;        /* makes names unique */
};

/* Appends p to the arena-held array *arr of *n (capacity *cap) entries. */
static void push(struct arena *a, void ***arr, size_t *n, size_t *cap, void *p)
{
    if (!p) {
        return;
    }
    if (*n == *cap) {
        size_t c = *cap ? 2 * *cap : 64;
        void **bigger = arena_alloc(a, c * sizeof *bigger);
        if (!bigger) {
            return;
        }
        if (*n) {
            memcpy(bigger, *arr, *n * sizeof *bigger);
        }
        *arr = bigger;
        *cap = c;
    }
    (*arr)[(*n)++] = p;
}

/* A fresh tensor name "label_N". */
static const char *fresh(struct graph *g, const char *label)
{
    return arena_printf(&g->ar, "%s_%u", label, g->serial++);
}

/* Node op reading inputs in[0 .. n_in - 1] and writing out. Room for 8
 * attributes is made at once; no operator here takes more. */
static Onnx__NodeProto *node(struct graph *g, const char *op, const char *const *in, size_t n_in,
                             const char *out)
{
    Onnx__NodeProto *nd = NEW_MSG(&g->ar, Onnx__NodeProto, ONNX__NODE_PROTO__INIT);
    char **ins = arena_alloc(&g->ar, n_in * sizeof *ins);
    char **outs = arena_alloc(&g->ar, sizeof *outs);
    Onnx__AttributeProto **attrs = arena_alloc(&g->ar, 8 * sizeof *attrs);
    if (!nd || !ins || !outs || !attrs) {
        return NULL;
    }
    for (size_t i = 0; i < n_in; i++) {
        ins[i] = (char *)in[i];
    }
    outs[0] = (char *)out;
    nd->n_input = n_in;
    nd->input = ins;
    nd->n_output = 1;
    nd->output = outs;
    nd->op_type = (char *)op;
    nd->name = arena_printf(&g->ar, "%s_%zu", op, g->n_nodes);
    nd->attribute = attrs;
    push(&g->ar, (void ***)&g->nodes, &g->n_nodes, &g->cap_nodes, nd);
    return nd;
}

/* Applies op to the current tensor (and to extra, a second input, unless
 * NULL); its output becomes the current tensor. */
static Onnx__NodeProto *apply(struct graph *g, const char *op, const char *extra)
{
    const char *in[2] = {g->cur, extra};
    const char *out = fresh(g, op);
    Onnx__NodeProto *nd = node(g, op, in, extra ? 2 : 1, out);
    g->cur = out;
    return nd;
}

static Onnx__AttributeProto *attr(struct graph *g, Onnx__NodeProto *nd, const char *name,
                                  Onnx__AttributeProto__AttributeType type)
{
    Onnx__AttributeProto *a = nd ? NEW_MSG(&g->ar, Onnx__AttributeProto,
                                           ONNX__ATTRIBUTE_PROTO__INIT)
                                 : NULL;
    if (a) {
        a->name = (char *)name;
        a->has_type = 1;
        a->type = type;
        nd->attribute[nd->n_attribute++] = a;
    }
    return a;
}

static void attr_int(struct graph *g, Onnx__NodeProto *nd, const char *name, int64_t v)
{
    Onnx__AttributeProto *a = attr(g, nd, name, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT);
    if (a) {
        a->has_i = 1;
        a->i = v;
    }
}

static void attr_ints(struct graph *g, Onnx__NodeProto *nd, const char *name, const int64_t *v,
                      size_t n)
{
    Onnx__AttributeProto *a = attr(g, nd, name, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INTS);
    if (a) {
        a->n_ints = n;
        a->ints = arena_copy(&g->ar, v, n * sizeof *v);
    }
}

static void attr_float(struct graph *g, Onnx__NodeProto *nd, const char *name, float v)
{
    Onnx__AttributeProto *a = attr(g, nd, name, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOAT);
    if (a) {
        a->has_f = 1;
        a->f = v;
    }
}

/* A constant tensor (an initializer) of count values of type dtype
 * (FLOAT, DOUBLE or INT64) and shape dims[0 .. rank - 1]; returns its name. */
static const char *constant(struct graph *g, const char *label, int32_t dtype,
                            const int64_t *dims, size_t rank, const void *data, size_t count)
{
    Onnx__TensorProto *t = NEW_MSG(&g->ar, Onnx__TensorProto, ONNX__TENSOR_PROTO__INIT);
    const char *name = fresh(g, label);
    if (!t) {
        return name;
    }
    t->name = (char *)name;
    t->n_dims = rank;
    t->dims = arena_copy(&g->ar, dims, rank * sizeof *dims);
    t->has_data_type = 1;
    t->data_type = dtype;
    if (dtype == ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT) {
        t->n_float_data = count;
        t->float_data = arena_copy(&g->ar, data, count * sizeof(float));
    } else if (dtype == ONNX__TENSOR_PROTO__DATA_TYPE__DOUBLE) {
        t->n_double_data = count;
        t->double_data = arena_copy(&g->ar, data, count * sizeof(double));
    } else {
        t->n_int64_data = count;
        t->int64_data = arena_copy(&g->ar, data, count * sizeof(int64_t));
    }
    push(&g->ar, (void ***)&g->inits, &g->n_inits, &g->cap_inits, t);
    return name;
}

/* A float constant of the shape of a sample (the batch axis broadcasts). */
static const char *sample_constant(struct graph *g, const char *label, const struct dpt_shape *s,
                                   const float *v)
{
    int64_t dims[DPT_MAX_RANK];
    for (uint32_t j = 0; j < s->rank; j++) {
        dims[j] = (int64_t)s->dims[j];
    }
    return constant(g, label, ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT, dims, s->rank, v,
                    (size_t)dpt_shape_size(s));
}

static const char *vector_constant(struct graph *g, const char *label, int32_t dtype,
                                   const void *v, size_t n)
{
    int64_t dims[1] = {(int64_t)n};
    return constant(g, label, dtype, dims, 1, v, n);
}

/* Casts the current tensor to ONNX type `to`. */
static void cast(struct graph *g, int32_t to)
{
    attr_int(g, apply(g, "Cast", NULL), "to", to);
}

/* The current tensor in the order op needs: a Transpose when it is in the
 * other one (samples of rank 1 have no spatial axes: nothing to do). */
static void to_order(struct graph *g, int channels_first)
{
    if (g->rank < 2 || g->channels_first == channels_first) {
        return;
    }
    int64_t perm[DPT_MAX_RANK + 1] = {0};
    for (uint32_t j = 1; j <= g->rank; j++) {
        /* channels first: [0, r, 1, .., r-1]; channels last: [0, 2, .., r, 1] */
        perm[j] = channels_first ? (j == 1 ? g->rank : j - 1) : (j == g->rank ? 1 : j + 1);
    }
    attr_ints(g, apply(g, "Transpose", NULL), "perm", perm, g->rank + 1);
    g->channels_first = channels_first;
}

/* ---- Settings of the model file, with the plugins' defaults ---- */

static const config_setting_t *setting(const struct dpt_node *nd, const char *key)
{
    const config_setting_t *grp = nd->host ? nd->host->group : NULL;
    return grp && config_setting_is_group(grp) ? config_setting_get_member(grp, key) : NULL;
}

static double number_setting(const struct dpt_node *nd, const char *key, double dflt)
{
    const config_setting_t *s = setting(nd, key);
    int type = s ? config_setting_type(s) : CONFIG_TYPE_NONE;
    if (type == CONFIG_TYPE_INT || type == CONFIG_TYPE_INT64) {
        return (double)config_setting_get_int64(s);
    }
    return type == CONFIG_TYPE_FLOAT ? config_setting_get_float(s) : dflt;
}

static const char *string_setting(const struct dpt_node *nd, const char *key, const char *dflt)
{
    const config_setting_t *s = setting(nd, key);
    const char *v = s && config_setting_type(s) == CONFIG_TYPE_STRING ? config_setting_get_string(s)
                                                                      : NULL;
    return v ? v : dflt;
}

/* The parameters of tensor `name` of node nd (NULL when it has none), and
 * its description in *t. */
static const float *tensor(const struct dpt_net *net, const struct dpt_node *nd,
                           const char *name, struct dpt_tensor *t)
{
    for (uint32_t k = 0; dpt_node_tensor(nd, k, t) == 0; k++) {
        if (strcmp(t->name, name) == 0) {
            return net->params + nd->param_off + t->offset;
        }
    }
    return NULL;
}

/* Spatial attributes of a window operator (Conv, MaxPool, AveragePool):
 * kernel_shape, strides, dilations (when above 0; pooling has none) and
 * pads, the paddings
 * derived from the shapes: a total of (out - 1) * stride + span - in
 * (none when that is below 0, as for "valid"), the smaller half before. */
static void window_attrs(struct graph *g, Onnx__NodeProto *op, const struct dpt_node *nd,
                         int64_t k, int64_t stride, int64_t dilation)
{
    uint32_t n = nd->in.rank - 1; /* spatial axes */
    int64_t ks[DPT_MAX_RANK], st[DPT_MAX_RANK], dl[DPT_MAX_RANK], pads[2 * DPT_MAX_RANK];
    for (uint32_t j = 0; j < n; j++) {
        int64_t in = (int64_t)nd->in.dims[j], out = (int64_t)nd->out.dims[j];
        int64_t total = (out - 1) * stride + (k - 1) * (dilation > 0 ? dilation : 1) + 1 - in;
        total = total > 0 ? total : 0;
        ks[j] = k;
        st[j] = stride;
        dl[j] = dilation;
        pads[j] = total / 2;
        pads[n + j] = total - total / 2;
    }
    attr_ints(g, op, "kernel_shape", ks, n);
    attr_ints(g, op, "strides", st, n);
    if (dilation > 0) {
        attr_ints(g, op, "dilations", dl, n);
    }
    attr_ints(g, op, "pads", pads, 2 * n);
}

/* ---- One emitter per built-in layer ---- */

/* dense: y = x W^T + b on the last axis; W [n_out, n_in] becomes the
 * MatMul operand [n_in, n_out]. */
static int emit_dense(struct graph *g, const struct dpt_net *net, const struct dpt_node *nd)
{
    struct dpt_tensor t;
    const float *w = tensor(net, nd, "weight", &t);
    size_t n_out = t.shape[0], n_in = t.shape[1];
    float *wt = arena_alloc(&g->ar, n_in * n_out * sizeof *wt);
    if (!w || !wt) {
        return -1;
    }
    for (size_t o = 0; o < n_out; o++) {
        for (size_t i = 0; i < n_in; i++) {
            wt[i * n_out + o] = w[o * n_in + i];
        }
    }
    to_order(g, 0);
    int64_t dims[2] = {(int64_t)n_in, (int64_t)n_out};
    apply(g, "MatMul", constant(g, "weight", ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT, dims, 2, wt,
                                n_in * n_out));
    const float *b = tensor(net, nd, "bias", &t);
    if (b) {
        apply(g, "Add", vector_constant(g, "bias", ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT, b,
                                        n_out));
    }
    return 0;
}

/* conv2d and conv1d: kernel [kh, kw, C, F] (or [k, C, F]) permuted to
 * ONNX's [F, C, kh, kw] (or [F, C, k]). */
static int emit_conv(struct graph *g, const struct dpt_net *net, const struct dpt_node *nd)
{
    struct dpt_tensor t;
    const float *k = tensor(net, nd, "kernel", &t);
    if (!k) {
        return -1;
    }
    size_t taps = t.rank == 4 ? t.shape[0] * t.shape[1] : t.shape[0];
    size_t C = t.shape[t.rank - 2], F = t.shape[t.rank - 1];
    float *w = arena_alloc(&g->ar, taps * C * F * sizeof *w);
    if (!w) {
        return -1;
    }
    for (size_t p = 0; p < taps; p++) {
        for (size_t c = 0; c < C; c++) {
            for (size_t f = 0; f < F; f++) {
                w[(f * C + c) * taps + p] = k[(p * C + c) * F + f];
            }
        }
    }
    int64_t dims[4] = {(int64_t)F, (int64_t)C, (int64_t)t.shape[0], (int64_t)t.shape[1]};
    const char *in[3] = {NULL, constant(g, "kernel", ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT, dims,
                                        t.rank, w, taps * C * F), NULL};
    const float *b = tensor(net, nd, "bias", &t);
    if (b) {
        in[2] = vector_constant(g, "bias", ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT, b, F);
    }
    to_order(g, 1);
    in[0] = g->cur;
    g->cur = fresh(g, "Conv");
    Onnx__NodeProto *op = node(g, "Conv", in, b ? 3 : 2, g->cur);
    window_attrs(g, op, nd, (int64_t)dims[2], (int64_t)number_setting(nd, "strides", 1),
                 (int64_t)number_setting(nd, "dilation", 1));
    return 0;
}

/* max_pool2d and avg_pool2d: padded cells belong to no window (an average
 * divides by the real cells: count_include_pad = 0), as in the plugin. */
static int emit_pool(struct graph *g, const struct dpt_net *net, const struct dpt_node *nd)
{
    (void)net;
    int64_t k = (int64_t)number_setting(nd, "pool_size", 2);
    int64_t s = (int64_t)number_setting(nd, "strides", (double)k);
    int is_max = strcmp(nd->plugin->name, "max_pool2d") == 0;
    to_order(g, 1);
    Onnx__NodeProto *op = apply(g, is_max ? "MaxPool" : "AveragePool", NULL);
    window_attrs(g, op, nd, k, s, 0);
    if (!is_max) {
        attr_int(g, op, "count_include_pad", 0);
    }
    return 0;
}

/* global_avg_pool2d: [H, W, C] to [C]. */
static int emit_global_avg_pool(struct graph *g, const struct dpt_net *net,
                                const struct dpt_node *nd)
{
    (void)net, (void)nd;
    to_order(g, 1);
    apply(g, "GlobalAveragePool", NULL);
    attr_int(g, apply(g, "Flatten", NULL), "axis", 1);
    g->channels_first = 0;
    return 0;
}

/* batch_norm in inference form: the moving statistics, gamma 1 without
 * scale, beta 0 without center; channels are ONNX's axis 1. */
static int emit_batch_norm(struct graph *g, const struct dpt_net *net, const struct dpt_node *nd)
{
    struct dpt_tensor t;
    const float *mean = tensor(net, nd, "moving_mean", &t);
    const float *var = tensor(net, nd, "moving_variance", &t);
    size_t C = t.shape[0];
    const float *gamma = tensor(net, nd, "gamma", &t), *beta = tensor(net, nd, "beta", &t);
    float *ones = arena_alloc(&g->ar, C * sizeof *ones);
    float *zeros = arena_alloc(&g->ar, C * sizeof *zeros);
    if (!mean || !var || !ones || !zeros) {
        return -1;
    }
    for (size_t c = 0; c < C; c++) {
        ones[c] = 1.0f;
    }
    const int32_t f32 = ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT;
    const char *in[5] = {NULL, vector_constant(g, "gamma", f32, gamma ? gamma : ones, C),
                         vector_constant(g, "beta", f32, beta ? beta : zeros, C),
                         vector_constant(g, "moving_mean", f32, mean, C),
                         vector_constant(g, "moving_variance", f32, var, C)};
    to_order(g, 1);
    in[0] = g->cur;
    g->cur = fresh(g, "BatchNormalization");
    Onnx__NodeProto *op = node(g, "BatchNormalization", in, 5, g->cur);
    attr_float(g, op, "epsilon", (float)number_setting(nd, "epsilon", 1e-3));
    return 0;
}

static int emit_flatten(struct graph *g, const struct dpt_net *net, const struct dpt_node *nd)
{
    (void)net, (void)nd;
    to_order(g, 0);
    attr_int(g, apply(g, "Flatten", NULL), "axis", 1);
    return 0;
}

/* reshape: to [N, target shape], the target as the plugin resolved it. */
static int emit_reshape(struct graph *g, const struct dpt_net *net, const struct dpt_node *nd)
{
    (void)net;
    int64_t shape[DPT_MAX_RANK + 1] = {-1};
    for (uint32_t j = 0; j < nd->out.rank; j++) {
        shape[j + 1] = (int64_t)nd->out.dims[j];
    }
    to_order(g, 0);
    apply(g, "Reshape", vector_constant(g, "shape", ONNX__TENSOR_PROTO__DATA_TYPE__INT64, shape,
                                        nd->out.rank + 1));
    return 0;
}

/* dropout is the identity at inference. */
static int emit_identity(struct graph *g, const struct dpt_net *net, const struct dpt_node *nd)
{
    (void)net, (void)nd;
    apply(g, "Identity", NULL);
    return 0;
}

/* ---- Activations: elementwise, in whatever order the tensor is in ---- */

/* An elementwise operator of the same name (relu -> Relu, ...) or the
 * identity (linear). */
static int emit_unary(struct graph *g, const struct dpt_net *net, const struct dpt_node *nd)
{
    (void)net;
    static const struct {
        const char *name, *op;
    } ops[] = {{"linear", "Identity"}, {"relu", "Relu"}, {"sigmoid", "Sigmoid"},
               {"tanh", "Tanh"}, {"softplus", "Softplus"}};
    for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++) {
        if (strcmp(nd->plugin->name, ops[i].name) == 0) {
            apply(g, ops[i].op, NULL);
            return 0;
        }
    }
    return -1;
}

/* softmax over the channels: the last axis, or axis 1 while the tensor is
 * channels first. */
static int emit_softmax(struct graph *g, const struct dpt_net *net, const struct dpt_node *nd)
{
    (void)net, (void)nd;
    attr_int(g, apply(g, "Softmax", NULL), "axis", g->channels_first ? 1 : -1);
    return 0;
}

/* leaky_relu and elu, with their alpha (defaults 0.01 and 1). */
static int emit_alpha(struct graph *g, const struct dpt_net *net, const struct dpt_node *nd)
{
    (void)net;
    int leaky = strcmp(nd->plugin->name, "leaky_relu") == 0;
    attr_float(g, apply(g, leaky ? "LeakyRelu" : "Elu", NULL), "alpha",
               (float)number_setting(nd, "alpha", leaky ? 0.01 : 1.0));
    return 0;
}

/* A scalar float constant. */
static const char *scalar(struct graph *g, float v)
{
    return constant(g, "c", ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT, NULL, 0, &v, 1);
}

/* swish: x * sigmoid(x). */
static int emit_swish(struct graph *g, const struct dpt_net *net, const struct dpt_node *nd)
{
    (void)net, (void)nd;
    const char *x = g->cur;
    apply(g, "Sigmoid", NULL);
    apply(g, "Mul", x);
    return 0;
}

/* gelu (opset 13 has no Gelu): "none" is x * (1 + erf(x / sqrt 2)) / 2,
 * "tanh" is x * (1 + tanh(sqrt(2 / pi) (x + 0.044715 x^3))) / 2. */
static int emit_gelu(struct graph *g, const struct dpt_net *net, const struct dpt_node *nd)
{
    (void)net;
    const char *x = g->cur;
    if (strcmp(string_setting(nd, "approximate", "none"), "tanh") == 0) {
        apply(g, "Mul", x);
        apply(g, "Mul", x);
        apply(g, "Mul", scalar(g, 0.044715f));
        apply(g, "Add", x);
        apply(g, "Mul", scalar(g, 0.7978845608028654f));
        apply(g, "Tanh", NULL);
    } else {
        apply(g, "Mul", scalar(g, 0.7071067811865476f));
        apply(g, "Erf", NULL);
    }
    apply(g, "Add", scalar(g, 1.0f));
    apply(g, "Mul", x);
    apply(g, "Mul", scalar(g, 0.5f));
    return 0;
}

/* The built-in plugins the exporter knows: kind, name, the module file
 * they are built into, and their emitter. */
struct mapping {
    uint32_t kind;
    const char *name, *file;
    int (*emit)(struct graph *g, const struct dpt_net *net, const struct dpt_node *nd);
};

static const struct mapping mappings[] = {
    {DPT_KIND_LAYER, "dense", "layer_dense.so", emit_dense},
    {DPT_KIND_LAYER, "conv2d", "layer_conv2d.so", emit_conv},
    {DPT_KIND_LAYER, "conv1d", "layer_conv1d.so", emit_conv},
    {DPT_KIND_LAYER, "max_pool2d", "layer_pool2d.so", emit_pool},
    {DPT_KIND_LAYER, "avg_pool2d", "layer_pool2d.so", emit_pool},
    {DPT_KIND_LAYER, "global_avg_pool2d", "layer_global_avg_pool2d.so", emit_global_avg_pool},
    {DPT_KIND_LAYER, "batch_norm", "layer_batch_norm.so", emit_batch_norm},
    {DPT_KIND_LAYER, "flatten", "layer_flatten.so", emit_flatten},
    {DPT_KIND_LAYER, "reshape", "layer_flatten.so", emit_reshape},
    {DPT_KIND_LAYER, "dropout", "layer_dropout.so", emit_identity},
    {DPT_KIND_ACTIVATION, "linear", "activation_linear.so", emit_unary},
    {DPT_KIND_ACTIVATION, "relu", "activation_relu.so", emit_unary},
    {DPT_KIND_ACTIVATION, "sigmoid", "activation_sigmoid.so", emit_unary},
    {DPT_KIND_ACTIVATION, "tanh", "activation_tanh.so", emit_unary},
    {DPT_KIND_ACTIVATION, "softplus", "activation_softplus.so", emit_unary},
    {DPT_KIND_ACTIVATION, "softmax", "activation_softmax.so", emit_softmax},
    {DPT_KIND_ACTIVATION, "leaky_relu", "activation_leaky_relu.so", emit_alpha},
    {DPT_KIND_ACTIVATION, "elu", "activation_elu.so", emit_alpha},
    {DPT_KIND_ACTIVATION, "swish", "activation_swish.so", emit_swish},
    {DPT_KIND_ACTIVATION, "gelu", "activation_gelu.so", emit_gelu},
};

/* The mapping of node nd, or NULL with the reason in err: a plugin of
 * another name, an ABI 1.x layer, or a plugin of a built-in's name loaded
 * from another file (its arithmetic is not the built-in's). */
static const struct mapping *mapping_of(const struct dpt_node *nd, const char *source,
                                        struct dpt_err *err)
{
    const char *file = dpt__file_of(nd->plugin);
    const char *base = strrchr(file, '/') ? strrchr(file, '/') + 1 : file;
    for (size_t i = 0; i < sizeof mappings / sizeof mappings[0]; i++) {
        const struct mapping *m = &mappings[i];
        if (m->kind != nd->kind || strcmp(m->name, nd->plugin->name) != 0) {
            continue;
        }
        if (nd->layer_v1 || strcmp(base, m->file) != 0) {
            break;
        }
        return m;
    }
    dpt_err_set(err, DPT_EPLUGIN, "%s: %s: %s plugin '%s' (%s) has no ONNX mapping: dptrain "
                "export maps the built-in layers and activations only (docs/DESIGN.md, \"ONNX "
                "export\")", source, nd->label, dpt_kind_name(nd->kind), nd->plugin->name, file);
    return NULL;
}

/* data.scale, then the standardization, at the front: x * scale in double
 * rounded once to float, then (x - mean) * (1 / std) in float, the very
 * operations of dpt_norm_x (data/norm.c). */
static void input_norm(struct graph *g, const struct dpt_net *net, const struct dpt_norm *norm)
{
    if (norm && dpt_norm_scales(norm)) {
        cast(g, ONNX__TENSOR_PROTO__DATA_TYPE__DOUBLE);
        apply(g, "Mul", constant(g, "scale", ONNX__TENSOR_PROTO__DATA_TYPE__DOUBLE, NULL, 0,
                                 &norm->scale, 1));
        cast(g, ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT);
    }
    if (norm && norm->f) {
        apply(g, "Sub", sample_constant(g, "mean", &net->in, norm->mean_f));
        apply(g, "Mul", sample_constant(g, "inv_std", &net->in, norm->inv_std_f));
    }
}

/* The end: channels last, flattened to [N, outputs] as predict writes
 * them, and the targets' standardization undone in double
 * (dpt_norm_unapply_y). The last node writes "pred". */
static void output_end(struct graph *g, const struct dpt_net *net, const struct dpt_norm *norm)
{
    to_order(g, 0);
    if (g->rank > 1) {
        attr_int(g, apply(g, "Flatten", NULL), "axis", 1);
    }
    if (norm && norm->yc && norm->yc == net->n_out) {
        const int32_t f64 = ONNX__TENSOR_PROTO__DATA_TYPE__DOUBLE;
        cast(g, f64);
        apply(g, "Mul", vector_constant(g, "y_std", f64, norm->y_std, norm->yc));
        apply(g, "Add", vector_constant(g, "y_mean", f64, norm->y_mean, norm->yc));
        cast(g, ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT);
    }
    apply(g, "Identity", NULL);
    if (g->n_nodes) {
        g->nodes[g->n_nodes - 1]->output[0] = "pred";
    }
}

/* A graph input or output: float32 [N, dims...], N named "N". */
static Onnx__ValueInfoProto *value_info(struct arena *a, const char *name, const uint64_t *dims,
                                        uint32_t rank)
{
    Onnx__ValueInfoProto *v = NEW_MSG(a, Onnx__ValueInfoProto, ONNX__VALUE_INFO_PROTO__INIT);
    Onnx__TypeProto *tp = NEW_MSG(a, Onnx__TypeProto, ONNX__TYPE_PROTO__INIT);
    Onnx__TypeProto__Tensor *tt =
        NEW_MSG(a, Onnx__TypeProto__Tensor, ONNX__TYPE_PROTO__TENSOR__INIT);
    Onnx__TensorShapeProto *sh =
        NEW_MSG(a, Onnx__TensorShapeProto, ONNX__TENSOR_SHAPE_PROTO__INIT);
    Onnx__TensorShapeProto__Dimension **d = arena_alloc(a, (rank + 1) * sizeof *d);
    if (!v || !tp || !tt || !sh || !d) {
        return NULL;
    }
    for (uint32_t j = 0; j <= rank; j++) {
        d[j] = NEW_MSG(a, Onnx__TensorShapeProto__Dimension,
                       ONNX__TENSOR_SHAPE_PROTO__DIMENSION__INIT);
        if (!d[j]) {
            return NULL;
        }
        d[j]->value_case = j ? ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE
                             : ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_PARAM;
        if (j) {
            d[j]->dim_value = (int64_t)dims[j - 1];
        } else {
            d[j]->dim_param = "N";
        }
    }
    sh->n_dim = rank + 1;
    sh->dim = d;
    tt->has_elem_type = 1;
    tt->elem_type = ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT;
    tt->shape = sh;
    tp->value_case = ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE;
    tp->tensor_type = tt;
    v->name = (char *)name;
    v->type = tp;
    return v;
}

/* The graph of the whole network into g; 0 or the error. */
static int build_graph(struct graph *g, const struct dpt_net *net, const struct dpt_norm *norm,
                       const char *source, struct dpt_err *err)
{
    g->cur = "x";
    g->rank = net->in.rank;
    input_norm(g, net, norm);
    for (size_t i = 0; i < net->n_nodes; i++) {
        const struct dpt_node *nd = &net->nodes[i];
        const struct mapping *m = mapping_of(nd, source, err);
        if (!m) {
            return err->code;
        }
        if (m->emit(g, net, nd) < 0 && !g->ar.failed) {
            return dpt_err_set(err, DPT_EFORMAT, "%s: %s: its tensors are not those of the "
                               "built-in plugin '%s'", source, nd->label, m->name);
        }
        g->rank = nd->out.rank;
    }
    output_end(g, net, norm);
    return 0;
}

/* The metadata entry "classes": the model's class names as a JSON array of
 * strings (output k is names[k]), or NULL when it has none or out of
 * memory (*failed set). */
static Onnx__StringStringEntryProto *classes_entry(struct arena *a, const struct dpt_norm *norm,
                                                   int *failed)
{
    if (!norm || !norm->n_classes) {
        return NULL;
    }
    json_t *v = json_array();
    for (size_t k = 0; v && k < norm->n_classes; k++) {
        const char *c = norm->classes[k];
        if (json_array_append_new(v, json_stringn_nocheck(c, strlen(c))) < 0) {
            json_decref(v);
            v = NULL;
        }
    }
    char *text = v ? json_dumps(v, JSON_COMPACT) : NULL;
    json_decref(v);
    Onnx__StringStringEntryProto *e =
        NEW_MSG(a, Onnx__StringStringEntryProto, ONNX__STRING_STRING_ENTRY_PROTO__INIT);
    if (e && text) {
        e->key = "classes";
        e->value = arena_copy(a, text, strlen(text) + 1);
    }
    free(text);
    *failed = !e || !e->value;
    return *failed ? NULL : e;
}

/* The model around graph g: opset, producer, inputs and outputs, and the
 * class names as metadata. */
static Onnx__ModelProto *model_of(struct graph *g, const struct dpt_net *net,
                                  const struct dpt_norm *norm, const char *source)
{
    struct arena *a = &g->ar;
    Onnx__ModelProto *m = NEW_MSG(a, Onnx__ModelProto, ONNX__MODEL_PROTO__INIT);
    Onnx__GraphProto *gr = NEW_MSG(a, Onnx__GraphProto, ONNX__GRAPH_PROTO__INIT);
    Onnx__OperatorSetIdProto *ops =
        NEW_MSG(a, Onnx__OperatorSetIdProto, ONNX__OPERATOR_SET_ID_PROTO__INIT);
    Onnx__OperatorSetIdProto **opsv = arena_alloc(a, sizeof *opsv);
    Onnx__ValueInfoProto **in = arena_alloc(a, sizeof *in), **out = arena_alloc(a, sizeof *out);
    uint64_t n_out = net->n_out;
    if (!m || !gr || !ops || !opsv || !in || !out) {
        return NULL;
    }
    in[0] = value_info(a, "x", net->in.dims, net->in.rank);
    out[0] = value_info(a, "pred", &n_out, 1);
    ops->domain = "";
    ops->has_version = 1;
    ops->version = DPT_ONNX_OPSET;
    opsv[0] = ops;
    gr->name = "dptrain";
    gr->doc_string = arena_printf(a, "exported by dptrain %s from %s", PACKAGE_VERSION, source);
    gr->n_node = g->n_nodes;
    gr->node = g->nodes;
    gr->n_initializer = g->n_inits;
    gr->initializer = g->inits;
    gr->n_input = 1;
    gr->input = in;
    gr->n_output = 1;
    gr->output = out;
    m->has_ir_version = 1;
    m->ir_version = DPT_ONNX_IR_VERSION;
    m->n_opset_import = 1;
    m->opset_import = opsv;
    m->producer_name = "dptrain";
    m->producer_version = PACKAGE_VERSION;
    m->graph = gr;
    int failed = 0;
    Onnx__StringStringEntryProto **meta = arena_alloc(a, sizeof *meta);
    if (meta && (meta[0] = classes_entry(a, norm, &failed))) {
        m->n_metadata_props = 1;
        m->metadata_props = meta;
    }
    return in[0] && out[0] && meta && !failed ? m : NULL;
}

int dpt_onnx_export(const char *path, const struct dpt_net *net, const struct dpt_norm *norm,
                    const char *source, struct dpt_onnx_info *info, struct dpt_err *err)
{
    struct graph g = {0};
    uint8_t *buf = NULL;
    int rc = build_graph(&g, net, norm, source, err);
    Onnx__ModelProto *m = rc == 0 && !g.ar.failed ? model_of(&g, net, norm, source) : NULL;
    if (rc == 0 && (!m || g.ar.failed)) {
        rc = dpt_err_set(err, DPT_ENOMEM, "%s: out of memory building the ONNX graph", path);
    }
    size_t n = 0;
    if (rc == 0) {
        n = onnx__model_proto__get_packed_size(m);
        buf = malloc(n ? n : 1);
        rc = buf ? 0 : dpt_err_set(err, DPT_ENOMEM, "%s: out of memory (%zu bytes)", path, n);
    }
    if (rc == 0) {
        onnx__model_proto__pack(m, buf);
        rc = dpt_output_write_atomically(path, buf, n, err);
    }
    if (rc == 0 && info) {
        *info = (struct dpt_onnx_info){.nodes = g.n_nodes, .initializers = g.n_inits,
                                       .bytes = n};
    }
    free(buf);
    arena_free(&g.ar);
    return rc;
}
