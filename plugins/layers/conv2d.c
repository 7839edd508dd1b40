/* Layer "conv2d": a 2-D convolution on [H, W, C] images, as Keras' Conv2D
 * with data_format "channels_last".
 *
 * Settings: filters and kernel_size (required; kernel_size is one integer,
 * the same for both axes), strides (default 1), padding "valid" (default)
 * or "same", dilation (Keras' dilation_rate; default 1), use_bias (default
 * true), initializer "glorot_uniform" (default), "he_normal" or "zeros",
 * method "auto" (default: by shape), "im2col", "direct" or "winograd"
 * (3 x 3 and 5 x 5 kernels, stride 1, dilation 1 only); the same
 * results within rounding (Winograd's a few times larger); for tests and
 * measurements.
 * The parameter slice is "kernel" [kh, kw, C, filters] (Keras' layout, so
 * weights compare and export as they are), then "bias" [filters] with
 * use_bias.
 * Output [Ho, Wo, filters]; the geometry, the methods and what is
 * guaranteed are described in conv_common.h, which conv1d shares.
 */
#include "config.h"

#include "conv_common.h"

/* Takes [H, W, C] inputs only; a kernel larger than the (padded) input is
 * refused naming both. */
static int conv2d_create(void **state, const struct dpt_host *host, const struct dpt_shape *in,
                         struct dpt_layer_info *info)
{
    char input[96], kernel[64];
    conv_shape_str(input, sizeof input, in->dims, in->rank);
    if (in->rank != 3) {
        return host->error(host->ctx, "needs [H, W, C] inputs, got %s", input);
    }
    struct conv_settings s;
    int rc = conv_read_settings(host, &s);
    if (rc < 0) {
        return rc;
    }
    uint64_t k = (uint64_t)s.kernel_size;
    conv_shape_str(kernel, sizeof kernel, (const uint64_t[]){k, k}, 2);
    struct conv *c;
    rc = conv_create(&c, host, &s, 0, in->dims[0], in->dims[1], in->dims[2], kernel, input);
    if (rc < 0) {
        return rc;
    }
    info->out = (struct dpt_shape){.rank = 3, .dims = {c->g.h.out, c->g.w.out, c->F}};
    info->n_params = conv_n_params(c);
    info->n_state = 0;
    *state = c;
    return 0;
}

/* Tensor 0 is "kernel" [kh, kw, C, filters] at offset 0; tensor 1 is
 * "bias" [filters] after it, present only with use_bias. */
static int conv2d_tensor(const void *state, uint32_t i, struct dpt_tensor *t)
{
    const struct conv *c = state;
    if (i == 0) {
        *t = (struct dpt_tensor){.name = "kernel", .rank = 4,
                                 .shape = {c->g.h.k, c->g.w.k, c->g.C, c->F}, .offset = 0};
        return 0;
    }
    if (i == 1 && c->use_bias) {
        *t = (struct dpt_tensor){
            .name = "bias", .rank = 1, .shape = {c->F}, .offset = c->g.K * c->F};
        return 0;
    }
    return -1;
}

static const struct dpt_layer_plugin conv2d = {
    .base = DPT_PLUGIN_HEADER_CAPS(DPT_KIND_LAYER, "conv2d", "1.0.0",
                                   "2-D convolution on [H, W, C], im2col and sgemm, direct or "
                                   "Winograd",
                                   DPT_CAP_DETERMINISTIC | DPT_CAP_WRITES_DX |
                                       DPT_CAP_APPLIES_RELU),
    .create = conv2d_create,
    .destroy = conv_destroy,
    .tensor = conv2d_tensor,
    .init = conv_init_params,
    .workspace_bytes = conv_workspace_bytes,
    .forward = conv_forward,
    .backward = conv_backward,
};

static const struct dpt_plugin *const all[] = {&conv2d.base, NULL};

DPT_PLUGIN_EXPORT const struct dpt_plugin *const *dpt_plugins(void)
{
    return all;
}
