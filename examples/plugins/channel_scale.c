/* channel_scale: a layer plugin with parameters and a workspace, written as
 * the template to copy for a layer of your own. docs/PLUGINS.md walks
 * through it; include/dptrain/plugin.h is the contract it follows.
 *
 * What it computes. Samples of any shape with channels last ([F], [L, C] or
 * [H, W, C]): C is the last dimension, and every one of the other
 * positions of a sample holds C values, one per channel. For each channel c
 *
 *     y[..., c] = x[..., c] * gamma[c] + beta[c]
 *
 * with trainable "gamma" [C] and "beta" [C]. The output has the input's
 * shape. (It is batch_norm's affine part without the normalization, and a
 * learned per-feature scaling on [F] inputs.)
 *
 * Settings, in the layer's group of the model file:
 *     gamma_init   gamma starts at gamma_init + stddev * N(0, 1)   (default 1)
 *     stddev       spread of gamma's start, >= 0                   (default 0.05)
 *     beta_init    beta starts at this value                        (default 0)
 * e.g. { type = "channel_scale"; stddev = 0.0; }.
 *
 * Build:  make          (examples/plugins/Makefile: pkg-config --cflags dptrain)
 *   or    cc -O2 -fPIC -shared $(pkg-config --cflags dptrain) channel_scale.c \
 *            -o channel_scale.so
 * Check:  dptrain check-plugin ./channel_scale.so
 * Use:    dptrain train custom.cfg --plugin-path .
 *
 * Guarantees: no allocation outside create(); the same inputs give the
 * same bits (sums in a fixed order: DPT_CAP_DETERMINISTIC); no globals, so
 * every thread may run the one instance at once. Left out on purpose:
 * regularizers and an axis other than the last.
 */

/* The only header a plugin includes from dptrain. A plugin does not link
 * against libdptrain: what it needs from the host comes in struct dpt_host. */
#include <dptrain/plugin.h>

#include <stdint.h>
#include <stdlib.h>

/* The instance: built by create(), freed by destroy(), read-only in
 * between, because every thread of a rank runs forward and backward on the
 * same instance at the same time. Anything a call needs to write goes into
 * the buffers it is given or into its workspace, never in here. */
struct channel_scale {
    uint64_t C;         /* channels: the input's last dimension */
    uint64_t positions; /* values of one channel per sample: the other dims' product */
    double gamma_init, stddev, beta_init;
};

/* Reads the settings, checks the input shape and fills *info. The host
 * calls create once per layer of the model, with the output shape of the
 * layer before (or the data's sample shape) in *in.
 *
 * Errors: the host's getters report a bad value themselves (naming the
 * model file, line and key) and return a negative number; create returns
 * it as it is. Problems the getters cannot see go through host->error,
 * which also returns the negative number to return. */
static int channel_scale_create(void **state, const struct dpt_host *host,
                                const struct dpt_shape *in, struct dpt_layer_info *info)
{
    double gamma_init, stddev, beta_init;
    int rc = host->get_float(host->ctx, "gamma_init", 1.0, -1e6, 1e6, &gamma_init);
    if (rc == 0) {
        rc = host->get_float(host->ctx, "stddev", 0.05, 0.0, 1e6, &stddev);
    }
    if (rc == 0) {
        rc = host->get_float(host->ctx, "beta_init", 0.0, -1e6, 1e6, &beta_init);
    }
    if (rc < 0) {
        return rc;
    }
    /* Any rank 1..3 fits this layer. A layer that needs images would refuse
     * the others here, saying what it needs and what it got:
     *     if (in->rank != 3)
     *         return host->error(host->ctx, "needs [H, W, C] inputs, got rank %u",
     *                            (unsigned)in->rank);
     * The host puts the model file, line and layer in front of the message. */
    struct channel_scale *s = malloc(sizeof *s);
    if (!s) {
        return host->error(host->ctx, "out of memory");
    }
    s->C = in->dims[in->rank - 1];
    s->positions = 1;
    for (uint32_t j = 0; j + 1 < in->rank; j++) {
        s->positions *= in->dims[j];
    }
    s->gamma_init = gamma_init;
    s->stddev = stddev;
    s->beta_init = beta_init;

    /* The output shape, and how many floats of the flat parameter buffer
     * the layer owns: n_params trainable ones (gamma, then beta), and no
     * non-trainable state (n_state = 0; batch_norm's running statistics
     * are an example of state, see docs/PLUGINS.md). */
    *info = (struct dpt_layer_info){.out = *in, .n_params = 2 * s->C, .n_state = 0};
    *state = s;
    return 0;
}

/* Frees what create() allocated. The host calls it once per successful
 * create, never for a failed one. */
static void channel_scale_destroy(void *state)
{
    free(state);
}

/* Names the tensors of the layer's slice, in order: they become the
 * datasets /layers/NN_channel_scale/gamma and .../beta of model files and
 * checkpoints, and `--init` matches them by name and shape. The tensors
 * must cover the slice exactly (offsets 0 and C here, C floats each);
 * return -1 past the last one. */
static int channel_scale_tensor(const void *state, uint32_t i, struct dpt_tensor *t)
{
    const struct channel_scale *s = state;
    static const char *const names[] = {"gamma", "beta"};
    if (i >= 2) {
        return -1;
    }
    *t = (struct dpt_tensor){.name = names[i], .rank = 1, .shape = {s->C}, .offset = i * s->C};
    return 0;
}

/* Writes the starting values into params (n_params + n_state floats). rng
 * is this layer's seeded stream (from train.seed and the layer's index), so
 * a run with the same seed starts from the same weights on every rank.
 * Draw from it only through the host's functions. */
static void channel_scale_init(const void *state, float *params, const struct dpt_host *host,
                               struct dpt_rng *rng)
{
    const struct channel_scale *s = state;
    float *gamma = params, *beta = params + s->C;
    for (uint64_t c = 0; c < s->C; c++) {
        gamma[c] = (float)(s->gamma_init + s->stddev * host->rng_normal(rng));
        beta[c] = (float)s->beta_init;
    }
}

/* Backward sums dy * x and dy over every row and position of a channel
 * before adding them to dgamma and dbeta: two sums per channel, kept in
 * double so that long sums (B * H * W terms) do not lose the small ones.
 * They cannot live in the instance (it is shared by the threads) nor on the
 * stack (C may be large), and a plugin must not allocate during a step, so
 * the layer asks the host for a workspace of that size. The host allocates
 * one block per (thread, layer) before training, and hands this thread's
 * block to forward and backward in b->ws. Here it does not depend on B. */
static size_t channel_scale_workspace_bytes(const void *state, size_t B)
{
    const struct channel_scale *s = state;
    (void)B;
    return 2 * s->C * sizeof(double);
}

/* x and y are (B, positions * C), row-major, channels last, so value k of a
 * row belongs to channel k % C. Forward writes (=) every element of y: the
 * host does not clear y, and a skipped element would hold stale values.
 * b->training says whether backward follows; this layer behaves the same
 * either way and leaves nothing in the workspace for backward. */
static void channel_scale_forward(const void *state, const float *params, const float *x,
                                  float *y, const struct dpt_batch *b)
{
    const struct channel_scale *s = state;
    const float *gamma = params, *beta = params + s->C;
    size_t C = s->C, groups = b->B * s->positions; /* groups of C values */
    for (size_t g = 0; g < groups; g++) {
        const float *xg = x + g * C;
        float *yg = y + g * C;
        for (size_t c = 0; c < C; c++) {
            yg[c] = xg[c] * gamma[c] + beta[c];
        }
    }
}

/* Same shapes; dy is (B, positions * C), the gradient of the step's loss by
 * y (already weighted by b->scale, 1 / rows of the step). x and y are those
 * of the training forward on the same rows.
 *
 *     dgamma[c] += sum over rows and positions of dy * x
 *     dbeta[c]  += sum of dy
 *     dx        += dy * gamma[c]       (when dx is not NULL)
 *
 * dparams is ADDED to: a thread's gradient buffer collects all the
 * micro-shards it runs in a step, so writing (=) or zeroing it would drop
 * the other micro-shards' gradients (training still runs, just worse; with
 * a small train.micro_batch, much worse). dx is added to as well, because
 * this layer does not set DPT_CAP_WRITES_DX: the host zeroes dx first. A
 * layer that sets that cap writes (=) every element of dx instead and must
 * not read it. dx is NULL for the model's first layer, whose input needs no
 * gradient. */
static void channel_scale_backward(const void *state, const float *params, const float *x,
                                   const float *y, const float *dy, float *dx, float *dparams,
                                   const struct dpt_batch *b)
{
    (void)y;
    const struct channel_scale *s = state;
    const float *gamma = params;
    size_t C = s->C, groups = b->B * s->positions;
    /* The workspace holds whatever the last call left there: clear the sums. */
    double *sum_dyx = b->ws, *sum_dy = sum_dyx + C;
    for (size_t c = 0; c < C; c++) {
        sum_dyx[c] = 0.0;
        sum_dy[c] = 0.0;
    }
    /* Rows in order, so the sums, and with them the gradients, come out
     * the same bits on every run. */
    for (size_t g = 0; g < groups; g++) {
        const float *xg = x + g * C, *dyg = dy + g * C;
        for (size_t c = 0; c < C; c++) {
            sum_dyx[c] += (double)dyg[c] * xg[c];
            sum_dy[c] += dyg[c];
        }
        if (dx) {
            float *dxg = dx + g * C;
            for (size_t c = 0; c < C; c++) {
                dxg[c] += dyg[c] * gamma[c];
            }
        }
    }
    float *dgamma = dparams, *dbeta = dparams + C;
    for (size_t c = 0; c < C; c++) {
        dgamma[c] += (float)sum_dyx[c];
        dbeta[c] += (float)sum_dy[c];
    }
}

/* The descriptor. DPT_PLUGIN_HEADER stamps the ABI version this file was
 * compiled against and the DPT_CAP_DETERMINISTIC cap (same inputs, same
 * bits); DPT_PLUGIN_HEADER_CAPS takes other caps, e.g. DPT_CAP_DETERMINISTIC
 * | DPT_CAP_WRITES_DX for a layer that writes dx. The name is what model
 * files say in `type`; the version ("1.0.0", the plugin's own) is recorded
 * for each layer in model files: raise it when the parameters' meaning or
 * layout changes. update_state is left NULL: it is needed only with
 * n_state > 0. */
static const struct dpt_layer_plugin channel_scale = {
    .base = DPT_PLUGIN_HEADER(DPT_KIND_LAYER, "channel_scale", "1.0.0",
                              "x * gamma + beta per channel (example out-of-tree layer)"),
    .create = channel_scale_create,
    .destroy = channel_scale_destroy,
    .tensor = channel_scale_tensor,
    .init = channel_scale_init,
    .workspace_bytes = channel_scale_workspace_bytes,
    .forward = channel_scale_forward,
    .backward = channel_scale_backward,
};

/* The file's one exported symbol: every plugin it holds, NULL-terminated.
 * A file may hold several plugins of any kinds. */
static const struct dpt_plugin *const all[] = {&channel_scale.base, NULL};

DPT_PLUGIN_EXPORT const struct dpt_plugin *const *dpt_plugins(void)
{
    return all;
}
