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

/* A record of what the getters were asked, for the commands that describe
 * settings rather than use them: `dptrain keys` (model/keys.c) lists every
 * key the model file's reader asks for, with the default, range and
 * choices the reader itself passed, and `dptrain plan` reads the value a
 * plugin took (the optimizer's learning_rate). Recording is per thread and
 * off unless a log is set, so a run pays one load per getter call. */
enum dpt_key_type {
    DPT_KEY_INT,
    DPT_KEY_FLOAT,
    DPT_KEY_BOOL,
    DPT_KEY_STRING,
    DPT_KEY_SETTING, /* dpt_host_setting: any type, checked by its reader */
    DPT_KEY_GROUP,   /* dpt_host_group: a group { ... } */
};

struct dpt_key_use {
    char what[96];    /* the section or instance: "train.checkpoint", "optimizer (adam)" */
    char key[64];
    enum dpt_key_type type;
    int64_t idef, imin, imax; /* DPT_KEY_INT; DPT_KEY_BOOL's default in idef */
    double fdef, fmin, fmax;  /* DPT_KEY_FLOAT */
    int has_sdef;             /* DPT_KEY_STRING: a default was given */
    char sdef[128];
    char choices[256];        /* DPT_KEY_STRING: "a, b, c", or empty for any string */
    int given;                /* the group set the key */
    double value;             /* the value read (int, float, bool); NaN for the others */
};

#define DPT_KEY_LOG_MAX 256

struct dpt_key_log {
    struct dpt_key_use use[DPT_KEY_LOG_MAX]; /* in the order first asked; each (what, key) once */
    size_t n;
    int overflow; /* more than DPT_KEY_LOG_MAX different keys were asked for */
};

/* Starts recording the getters of this thread into log (NULL: stop);
 * returns the log recorded into before. */
struct dpt_key_log *dpt_host_record(struct dpt_key_log *log);

#endif
