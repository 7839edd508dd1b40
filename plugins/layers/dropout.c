/* Layer "dropout": in training, zeroes each input with probability `rate`
 * and scales the kept ones by 1 / (1 - rate) (inverted dropout, as Keras and
 * PyTorch); at inference it is the identity.
 *
 * Guarantees: the mask of sample p, unit j in an epoch is drawn from the
 * host's counter-based stream at (info->key, p * width + j): it depends on the
 * seed, the epoch, the layer and the sample's position in the epoch, never on
 * which rank or thread computes it, so runs with any number of ranks and
 * threads drop the same units. The mask is kept in the workspace for the
 * backward pass of the same micro-shard. Any input shape: the output has
 * the input's shape.
 */
#include "config.h"

#include <dptrain/plugin.h>

#include <stdlib.h>
#include <string.h>

struct dropout {
    uint64_t n;
    float rate;
    const struct dpt_host *host; /* for the random stream */
};

static int dropout_create(void **state, const struct dpt_host *host, const struct dpt_shape *in,
                          struct dpt_layer_info *info)
{
    double rate;
    int rc = host->get_float(host->ctx, "rate", 0.5, 0.0, 0.999, &rate);
    if (rc < 0) {
        return rc;
    }
    struct dropout *d = malloc(sizeof *d);
    if (!d) {
        return host->error(host->ctx, "out of memory");
    }
    d->n = 1;
    for (uint32_t j = 0; j < in->rank; j++) {
        d->n *= in->dims[j];
    }
    d->rate = (float)rate;
    d->host = host;
    *info = (struct dpt_layer_info){.out = *in};
    *state = d;
    return 0;
}

static void dropout_destroy(void *state)
{
    free(state);
}

static void dropout_init(const void *state, float *params, const struct dpt_host *host,
                         struct dpt_rng *rng)
{
    (void)state, (void)params, (void)host, (void)rng; /* no parameters */
}

/* The mask: one float per element of the (B, n) input. */
static size_t dropout_workspace_bytes(const void *state, size_t B)
{
    const struct dropout *d = state;
    return B * d->n * sizeof(float);
}

/* Inference: y = x. Training: y = x * mask, mask = (u >= rate) / (1 - rate),
 * u uniform. */
static void dropout_forward(const void *state, const float *params, const float *x, float *y,
                            const struct dpt_batch *b)
{
    (void)params;
    const struct dropout *d = state;
    size_t n = b->B * d->n;
    if (!b->training) {
        memcpy(y, x, n * sizeof(float));
        return;
    }
    float *mask = b->ws, keep = 1.0f / (1.0f - d->rate);
    struct dpt_rng rng = {b->key, b->first_sample * d->n};
    for (size_t i = 0; i < n; i++) {
        /* rng.counter advances by one per draw: element i of this call is
         * draw (first_sample * n + i) of the epoch's stream. */
        mask[i] = d->host->rng_uniform(&rng) >= d->rate ? keep : 0.0f;
        y[i] = x[i] * mask[i];
    }
}

/* dx = dy * mask (the mask of the training forward on this micro-shard). */
static void dropout_backward(const void *state, const float *params, const float *x,
                             const float *y, const float *dy, float *dx, float *dparams,
                             const struct dpt_batch *b)
{
    (void)params, (void)x, (void)y, (void)dparams;
    const struct dropout *d = state;
    const float *mask = b->ws;
    if (!dx) {
        return;
    }
    for (size_t i = 0; i < b->B * d->n; i++) {
        dx[i] = dy[i] * mask[i];
    }
}

static const struct dpt_layer_plugin dropout = {
    .base = DPT_PLUGIN_HEADER_CAPS(DPT_KIND_LAYER, "dropout", "2.0.0",
                                   "inverted dropout, masks from (seed, epoch, sample)",
                                   DPT_CAP_DETERMINISTIC | DPT_CAP_WRITES_DX),
    .create = dropout_create,
    .destroy = dropout_destroy,
    .init = dropout_init,
    .workspace_bytes = dropout_workspace_bytes,
    .forward = dropout_forward,
    .backward = dropout_backward,
};

static const struct dpt_plugin *const all[] = {&dropout.base, NULL};

DPT_PLUGIN_EXPORT const struct dpt_plugin *const *dpt_plugins(void)
{
    return all;
}
