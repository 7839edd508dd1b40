/* The layer table of plugin ABI 1.x, as plugins built against it lay it out,
 * so that the host can still run them (internal to the host).
 *
 * ABI 2.0 changed only the layer table (shapes, a per-call struct
 * dpt_batch, state): 1.x activations, losses and optimizers have the same
 * layout as 2.0's and load as they are. A 1.x layer is a flat layer: its
 * create() gets the width of a flat input row and reports one output
 * width; it has no state. Members newer than the plugin's abi_minor do not
 * exist for it (forward_train arrived in 1.1, DPT_CAP_WRITES_DX in 1.2).
 */
#ifndef DPT_PLUGIN_ABI1_H
#define DPT_PLUGIN_ABI1_H

#include <dptrain/plugin.h>

struct dpt_layer_shape_v1 {
    uint64_t n_out;
    uint64_t n_params;
};

struct dpt_train_info_v1 {
    uint64_t key;
    uint64_t first_sample;
    uint64_t epoch, step;
};

struct dpt_layer_plugin_v1 {
    struct dpt_plugin base;
    int (*create)(void **state, const struct dpt_host *host, uint64_t n_in,
                  struct dpt_layer_shape_v1 *shape);
    void (*destroy)(void *state);
    int (*tensor)(const void *state, uint32_t i, struct dpt_tensor *t);
    void (*init)(const void *state, float *params, const struct dpt_host *host,
                 struct dpt_rng *rng);
    size_t (*workspace_bytes)(const void *state, size_t B);
    void (*forward)(const void *state, const float *params, const float *x, float *y,
                    size_t B, void *ws);
    void (*backward)(const void *state, const float *params, const float *x,
                     const float *y, const float *dy, float *dx, float *dparams,
                     size_t B, void *ws);
    void (*forward_train)(const void *state, const float *params, const float *x, float *y,
                          size_t B, void *ws, const struct dpt_train_info_v1 *info);
};

/* The oldest ABI major this host still loads. */
#define DPT_ABI_MAJOR_OLDEST 1

#endif
