/* The host services handed to plugins (struct dpt_host), backed by one group
 * of the model file, plus the Philox random stream.
 *
 * The model file's own sections are read the same way (src/model/spec.c):
 * one dpt_host_ctx per section, the getters of ctx->host, then
 * dpt_host_check_unused. So a typo in train = { ... } gets the message a typo
 * in a layer gets.
 *
 * A dpt_host_ctx lives as long as the plugin instance it served. Strings
 * handed out by get_string point into the libconfig tree and live as long as
 * it does. After create(), dpt_host_check_unused reports keys of the group
 * that nobody asked for (typos such as 'unit').
 */
#ifndef DPT_PLUGIN_HOST_H
#define DPT_PLUGIN_HOST_H

#include <dptrain/dptrain.h>
#include <dptrain/plugin.h>
#include <libconfig.h>

/* Different keys one group may be asked for; the biggest section of the
 * model file (train) has 14. Asking for more is reported as an error. */
#define DPT_HOST_MAX_KEYS 64

struct dpt_host_ctx {
    struct dpt_host host;          /* what the plugin sees; host.ctx points here */
    const config_setting_t *group; /* the plugin's group (may be NULL: all defaults) */
    const char *file;              /* model file name, for messages */
    char what[96];                 /* e.g. "layer 2 (dense)", "train.checkpoint" */
    const char *asked[DPT_HOST_MAX_KEYS]; /* keys asked for so far, each once */
    size_t n_asked;
    struct dpt_err err; /* the first error reported */
};

/* Fills ctx for a plugin or section configured by group (NULL: no settings,
 * every getter gives its default). file and what are named in messages
 * ("FILE:LINE: WHAT: ..."); file is borrowed, what is copied. */
void dpt_host_init(struct dpt_host_ctx *ctx, const config_setting_t *group, const char *file,
                   const char *what);

/* For settings that are not one scalar (lists, "a string or a group"): the
 * member key of the group, any type, or NULL when absent; counted as asked
 * for. Returns 0, or DPT_ECONFIG with the reason in ctx->err. */
int dpt_host_setting(struct dpt_host_ctx *ctx, const char *key, const config_setting_t **out);
/* The same for a member that must be a group { ... } when present. */
int dpt_host_group(struct dpt_host_ctx *ctx, const char *key, const config_setting_t **out);
/* Records a problem with setting s (NULL: the group itself) in ctx->err as
 * the getters do, unless an earlier one is there. Returns DPT_ECONFIG. */
int dpt_host_fail(struct dpt_host_ctx *ctx, const config_setting_t *s, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Keys of the group, other than those in `host_keys` (NULL-terminated) and
 * those asked for: an error in err naming the first one, its line, the
 * keys asked for and the known key it is a likely typo of: "unknown key
 * 'unit' (it takes: units, use_bias); did you mean 'units'?". */
int dpt_host_check_unused(struct dpt_host_ctx *ctx, const char *const *host_keys,
                          struct dpt_err *err);
/* The same, for unknown keys that are a likely typo of a known one only:
 * after a plugin's create() failed ("'units' is required"), a key 'unit'
 * is the cause to report. 0 when there is none. */
int dpt_host_check_typos(struct dpt_host_ctx *ctx, const char *const *host_keys,
                         struct dpt_err *err);

/* The Philox4x32-10 stream behind dpt_host.rng_*. */
double dpt_rng_uniform(struct dpt_rng *rng);
double dpt_rng_normal(struct dpt_rng *rng);
/* Four 32-bit random words for (key, counter): the raw generator. */
void dpt_rng_block(uint64_t key, uint64_t counter, uint32_t out[4]);

#endif
