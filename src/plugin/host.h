/* The host services handed to plugins (struct dpt_host), backed by one group
 * of the model file, plus the Philox random stream.
 *
 * A dpt_host_ctx lives as long as the plugin instance it served, so strings
 * handed out by get_string stay valid. After create(), dpt_host_check_unused
 * reports keys of the group that nobody asked for (typos such as 'unit').
 */
#ifndef DPT_PLUGIN_HOST_H
#define DPT_PLUGIN_HOST_H

#include <dptrain/dptrain.h>
#include <dptrain/plugin.h>
#include <libconfig.h>

struct dpt_host_ctx {
    struct dpt_host host;         /* what the plugin sees; host.ctx points here */
    const config_setting_t *group; /* the plugin's group (may be NULL: all defaults) */
    const char *file;              /* model file name, for messages */
    char what[96];                 /* e.g. "layer 2 (dense)" */
    const char *asked[32];         /* keys asked for so far */
    size_t n_asked;
    struct dpt_err err;            /* the first error reported */
};

/* Fills ctx for a plugin configured by group (NULL: no settings). */
void dpt_host_init(struct dpt_host_ctx *ctx, const config_setting_t *group, const char *file,
                   const char *what);
/* Keys of the group, other than those in `host_keys` (NULL-terminated) and
 * those the plugin asked for: an error naming the first one and its line. */
int dpt_host_check_unused(struct dpt_host_ctx *ctx, const char *const *host_keys,
                          struct dpt_err *err);

/* The Philox4x32-10 stream behind dpt_host.rng_*. */
double dpt_rng_uniform(struct dpt_rng *rng);
double dpt_rng_normal(struct dpt_rng *rng);
/* Four 32-bit random words for (key, counter): the raw generator. */
void dpt_rng_block(uint64_t key, uint64_t counter, uint32_t out[4]);

#endif
