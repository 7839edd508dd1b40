/* Layer "global_avg_pool2d": Keras' GlobalAveragePooling2D, [H, W, C]
 * samples (channels last) to [C], the mean of each channel over the H x W
 * cells.
 *
 * No settings. The sums run in float over the cells in row-major order,
 * as TensorFlow's reduce_mean does in float32; the mean is the sum divided
 * by H * W. Guarantees: deterministic; nothing allocated; backward writes
 * every element of dx (DPT_CAP_WRITES_DX). The loops run over the C
 * contiguous channels of a cell (DPT_VECTORIZE). Left out: keepdims
 * (Keras' keepdims = True gives [1, 1, C]; follow the layer with a reshape).
 */
#include "config.h"

#include <dptrain/plugin.h>

#include "shape_text.h"

#include <stdlib.h>
#include <string.h>

struct gap {
    size_t cells; /* H * W */
    size_t C;
};

static int gap_create(void **state, const struct dpt_host *host, const struct dpt_shape *in,
                      struct dpt_layer_info *info)
{
    if (in->rank != 3) {
        char shape[SHAPE_TEXT_LEN];
        return host->error(host->ctx, "needs [H, W, C] inputs (channels last), got %s",
                           shape_text(shape, in));
    }
    struct gap *g = malloc(sizeof *g);
    if (!g) {
        return host->error(host->ctx, "out of memory");
    }
    g->cells = (size_t)(in->dims[0] * in->dims[1]);
    g->C = (size_t)in->dims[2];
    *info = (struct dpt_layer_info){.out = {.rank = 1, .dims = {in->dims[2]}}};
    *state = g;
    return 0;
}

static void gap_destroy(void *state)
{
    free(state);
}

/* x is (B, H * W * C), y is (B, C): y[c] = sum over cells of x[cell, c],
 * divided by H * W. */
DPT_VECTORIZE
static void gap_forward(const void *state, const float *params, const float *x, float *y,
                        const struct dpt_batch *b)
{
    (void)params;
    const struct gap *g = state;
    const size_t C = g->C;
    float n = (float)g->cells;
    for (size_t i = 0; i < b->B; i++) {
        const float *xi = x + i * g->cells * C;
        float *yi = y + i * C;
        memcpy(yi, xi, C * sizeof *yi);
        for (size_t cell = 1; cell < g->cells; cell++) {
            const float *xc = xi + cell * C;
            for (size_t c = 0; c < C; c++) {
                yi[c] += xc[c];
            }
        }
        for (size_t c = 0; c < C; c++) {
            yi[c] /= n;
        }
    }
}

/* dx[cell, c] = dy[c] / (H * W) for every cell: the first cell's row is
 * computed, the others are copies of it. */
static void gap_backward(const void *state, const float *params, const float *x,
                         const float *y, const float *dy, float *dx, float *dparams,
                         const struct dpt_batch *b)
{
    (void)params, (void)x, (void)y, (void)dparams;
    const struct gap *g = state;
    if (!dx) {
        return;
    }
    const size_t C = g->C;
    float n = (float)g->cells;
    for (size_t i = 0; i < b->B; i++) {
        float *dxi = dx + i * g->cells * C;
        const float *dyi = dy + i * C;
        for (size_t c = 0; c < C; c++) {
            dxi[c] = dyi[c] / n;
        }
        for (size_t cell = 1; cell < g->cells; cell++) {
            memcpy(dxi + cell * C, dxi, C * sizeof *dxi);
        }
    }
}

static const struct dpt_layer_plugin global_avg_pool2d = {
    .base = DPT_PLUGIN_HEADER_CAPS(DPT_KIND_LAYER, "global_avg_pool2d", "1.0.0",
                                   "mean of each channel over H x W, [H, W, C] -> [C] "
                                   "(Keras GlobalAveragePooling2D)",
                                   DPT_CAP_DETERMINISTIC | DPT_CAP_WRITES_DX),
    .create = gap_create,
    .destroy = gap_destroy,
    .forward = gap_forward,
    .backward = gap_backward,
};

static const struct dpt_plugin *const all[] = {&global_avg_pool2d.base, NULL};

DPT_PLUGIN_EXPORT const struct dpt_plugin *const *dpt_plugins(void)
{
    return all;
}
