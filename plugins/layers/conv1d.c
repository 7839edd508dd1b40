/* Layer "conv1d": a 1-D convolution on [L, C] sequences, as Keras' Conv1D
 * with data_format "channels_last".
 *
 * Settings as conv2d: filters and kernel_size (required), strides (default
 * 1), padding "valid" (default) or "same", dilation (Keras' dilation_rate;
 * default 1), use_bias (default true), initializer "glorot_uniform"
 * (default), "he_normal" or "zeros", method "auto" (default), "im2col" or
 * "direct" ("winograd" is refused: it computes conv2d's 3 x 3 kernels).
 * The parameter slice is "kernel" [k, C, filters] (Keras' layout), then
 * "bias" [filters] with use_bias. Output [Lo, filters]. It runs as conv2d
 * on [1, L, C] with a 1 x k kernel (conv_common.h). Left out besides
 * conv2d's omissions: "causal" padding.
 */
#include "config.h"

#include "conv_common.h"

/* Takes [L, C] inputs only; a kernel longer than the (padded) input is
 * refused naming both. */
static int conv1d_create(void **state, const struct dpt_host *host, const struct dpt_shape *in,
                         struct dpt_layer_info *info)
{
    char input[96], kernel[64];
    conv_shape_str(input, sizeof input, in->dims, in->rank);
    if (in->rank != 2) {
        return host->error(host->ctx, "needs [L, C] inputs, got %s", input);
    }
    struct conv_settings s;
    int rc = conv_read_settings(host, &s);
    if (rc < 0) {
        return rc;
    }
    conv_shape_str(kernel, sizeof kernel, (const uint64_t[]){(uint64_t)s.kernel_size}, 1);
    struct conv *c;
    rc = conv_create(&c, host, &s, 1, 1, in->dims[0], in->dims[1], kernel, input);
    if (rc < 0) {
        return rc;
    }
    info->out = (struct dpt_shape){.rank = 2, .dims = {c->g.w.out, c->F}};
    info->n_params = conv_n_params(c);
    info->n_state = 0;
    *state = c;
    return 0;
}

/* Tensor 0 is "kernel" [k, C, filters] at offset 0; tensor 1 is "bias"
 * [filters] after it, present only with use_bias. */
static int conv1d_tensor(const void *state, uint32_t i, struct dpt_tensor *t)
{
    const struct conv *c = state;
    if (i == 0) {
        *t = (struct dpt_tensor){
            .name = "kernel", .rank = 3, .shape = {c->g.w.k, c->g.C, c->F}, .offset = 0};
        return 0;
    }
    if (i == 1 && c->use_bias) {
        *t = (struct dpt_tensor){
            .name = "bias", .rank = 1, .shape = {c->F}, .offset = c->g.K * c->F};
        return 0;
    }
    return -1;
}

static const struct dpt_layer_plugin conv1d = {
    .base = DPT_PLUGIN_HEADER_CAPS(DPT_KIND_LAYER, "conv1d", "1.0.0",
                                   "1-D convolution on [L, C], im2col and sgemm or direct",
                                   DPT_CAP_DETERMINISTIC | DPT_CAP_WRITES_DX |
                                       DPT_CAP_APPLIES_RELU),
    .create = conv1d_create,
    .destroy = conv_destroy,
    .tensor = conv1d_tensor,
    .init = conv_init_params,
    .workspace_bytes = conv_workspace_bytes,
    .forward = conv_forward,
    .backward = conv_backward,
};

static const struct dpt_plugin *const all[] = {&conv1d.base, NULL};

DPT_PLUGIN_EXPORT const struct dpt_plugin *const *dpt_plugins(void)
{
    return all;
}
