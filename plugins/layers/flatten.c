/* Layers "flatten" and "reshape": Keras' Flatten and Reshape. A sample's
 * floats keep their row-major order and only the shape changes, so forward
 * copies x to y and backward dy to dx (the host's buffers are distinct).
 *
 * flatten: any shape to [prod(shape)]; no settings.
 * reshape: target_shape, the output shape without the batch, as Keras'
 * Reshape takes it: 1 to 3 integers separated by commas, in a string,
 *
 *     { type = "reshape"; target_shape = "7, 7, 16"; }   # Reshape((7, 7, 16))
 *
 * Brackets around them are allowed ("[7, 7, 16]", "(784,)"), so that a
 * Keras shape can be pasted in. One dimension may be -1: it is inferred
 * from the input's size. The product must equal the input's, else the
 * error names both shapes. It is a string because the host's getters
 * (struct dpt_host in plugin.h) read scalars only: a libconfig list
 * target_shape = [7, 7, 16] is refused by the host as not a string.
 *
 * Guarantees: deterministic; nothing allocated; backward writes every
 * element of dx (DPT_CAP_WRITES_DX). Both are one memcpy per call.
 */
#include "config.h"

#include <dptrain/plugin.h>

#include "shape_text.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct reshape {
    size_t n; /* floats per sample, the same on both sides */
};

static uint64_t shape_size(const struct dpt_shape *s)
{
    uint64_t n = 1;
    for (uint32_t j = 0; j < s->rank; j++) {
        n *= s->dims[j];
    }
    return n;
}

/* Makes the instance for samples of n floats with output shape *out and
 * fills *info. Returns 0 or the negative value of host->error(). */
static int reshape_make(void **state, const struct dpt_host *host, uint64_t n,
                        const struct dpt_shape *out, struct dpt_layer_info *info)
{
    struct reshape *r = malloc(sizeof *r);
    if (!r) {
        return host->error(host->ctx, "out of memory");
    }
    r->n = (size_t)n;
    *info = (struct dpt_layer_info){.out = *out};
    *state = r;
    return 0;
}

static int flatten_create(void **state, const struct dpt_host *host, const struct dpt_shape *in,
                          struct dpt_layer_info *info)
{
    uint64_t n = shape_size(in);
    struct dpt_shape out = {.rank = 1, .dims = {n}};
    return reshape_make(state, host, n, &out, info);
}

static const char *skip_space(const char *s)
{
    while (isspace((unsigned char)*s)) {
        s++;
    }
    return s;
}

/* Reads target_shape's text (see the file comment) into t[0 .. *rank - 1].
 * Returns 0, or -1 when it is not 1 to DPT_MAX_RANK integers separated by
 * commas, in optional brackets; the values are checked by the caller. */
static int parse_target(const char *text, int64_t t[DPT_MAX_RANK], uint32_t *rank)
{
    const char *s = skip_space(text);
    char close = *s == '[' ? ']' : *s == '(' ? ')' : '\0';
    s += close != '\0';
    *rank = 0;
    for (;;) {
        s = skip_space(s);
        if (close && *s == close && *rank > 0) { /* a trailing comma: "(784,)" */
            break;
        }
        char *end;
        errno = 0;
        long long v = strtoll(s, &end, 10);
        if (end == s || errno != 0 || *rank == DPT_MAX_RANK) {
            return -1;
        }
        t[(*rank)++] = v;
        s = skip_space(end);
        if (*s != ',') {
            break;
        }
        s++;
    }
    if (close) {
        if (*s != close) {
            return -1;
        }
        s++;
    }
    return *skip_space(s) == '\0' ? 0 : -1;
}

/* The text "[7, -1, 16]" of t[0 .. rank - 1] in buf (SHAPE_TEXT_LEN bytes). */
static char *target_text(char *buf, const int64_t *t, uint32_t rank)
{
    size_t used = 0;
    buf[used++] = '[';
    for (uint32_t j = 0; j < rank; j++) {
        used += (size_t)snprintf(buf + used, SHAPE_TEXT_LEN - used, "%s%lld", j ? ", " : "",
                                 (long long)t[j]);
    }
    snprintf(buf + used, SHAPE_TEXT_LEN - used, "]");
    return buf;
}

/* Checks target t against an input of n floats and writes the output
 * shape into *out, the -1 replaced. Returns 0 or the negative value of
 * host->error(). */
static int resolve_target(const struct dpt_host *host, const int64_t *t, uint32_t rank,
                          const struct dpt_shape *in, struct dpt_shape *out)
{
    char want[SHAPE_TEXT_LEN], have[SHAPE_TEXT_LEN];
    target_text(want, t, rank);
    shape_text(have, in);
    uint64_t n = shape_size(in);
    int infer = -1;
    /* The product of the given dimensions, in double for the message: it
     * is exact while below 2^53, and compared with n only up to n. */
    double given = 1.0;
    for (uint32_t j = 0; j < rank; j++) {
        if (t[j] == -1 && infer < 0) {
            infer = (int)j;
        } else if (t[j] == -1) {
            return host->error(host->ctx, "target_shape %s may have one -1 (the inferred "
                               "dimension), not several", want);
        } else if (t[j] < 1) {
            return host->error(host->ctx, "target_shape %s: dimensions must be at least 1, "
                               "or -1 for the one to infer", want);
        } else {
            given *= (double)t[j];
        }
    }
    *out = (struct dpt_shape){.rank = rank};
    for (uint32_t j = 0; j < rank; j++) {
        out->dims[j] = t[j] > 0 ? (uint64_t)t[j] : 0;
    }
    if (infer >= 0) {
        uint64_t known = given <= (double)n ? (uint64_t)given : 0;
        if (known == 0 || n % known != 0) {
            return host->error(host->ctx, "target_shape %s does not fit input %s: its %llu "
                               "floats are not a multiple of %.0f", want, have,
                               (unsigned long long)n, given);
        }
        out->dims[infer] = n / known;
    } else if (given != (double)n) {
        return host->error(host->ctx, "target_shape %s holds %.0f floats, but input %s holds "
                           "%llu", want, given, have, (unsigned long long)n);
    }
    return 0;
}

/* Reads target_shape (required), checks it against the input and fills
 * *info. Returns 0 or the negative value of host->error(). */
static int reshape_create(void **state, const struct dpt_host *host, const struct dpt_shape *in,
                          struct dpt_layer_info *info)
{
    const char *text;
    int rc = host->get_string(host->ctx, "target_shape", NULL, NULL, &text);
    if (rc < 0) {
        return rc;
    }
    if (!text) {
        return host->error(host->ctx, "'target_shape' is required: the output shape without "
                           "the batch, e.g. target_shape = \"7, 7, 16\"");
    }
    int64_t t[DPT_MAX_RANK];
    uint32_t rank;
    if (parse_target(text, t, &rank) < 0) {
        return host->error(host->ctx, "'target_shape' must be 1 to %d integers separated by "
                           "commas, e.g. \"7, 7, 16\" or \"-1, 16\", got \"%s\"", DPT_MAX_RANK,
                           text);
    }
    struct dpt_shape out = {0};
    rc = resolve_target(host, t, rank, in, &out);
    if (rc < 0) {
        return rc;
    }
    return reshape_make(state, host, shape_size(in), &out, info);
}

static void reshape_destroy(void *state)
{
    free(state);
}

/* y = x, B rows of n floats. */
static void reshape_forward(const void *state, const float *params, const float *x, float *y,
                            const struct dpt_batch *b)
{
    (void)params;
    const struct reshape *r = state;
    memcpy(y, x, b->B * r->n * sizeof *y);
}

/* dx = dy. */
static void reshape_backward(const void *state, const float *params, const float *x,
                             const float *y, const float *dy, float *dx, float *dparams,
                             const struct dpt_batch *b)
{
    (void)params, (void)x, (void)y, (void)dparams;
    const struct reshape *r = state;
    if (dx) {
        memcpy(dx, dy, b->B * r->n * sizeof *dx);
    }
}

static const struct dpt_layer_plugin flatten = {
    .base = DPT_PLUGIN_HEADER_CAPS(DPT_KIND_LAYER, "flatten", "1.0.0",
                                   "any sample shape to [prod(shape)] (Keras Flatten)",
                                   DPT_CAP_DETERMINISTIC | DPT_CAP_WRITES_DX),
    .create = flatten_create,
    .destroy = reshape_destroy,
    .forward = reshape_forward,
    .backward = reshape_backward,
};

static const struct dpt_layer_plugin reshape = {
    .base = DPT_PLUGIN_HEADER_CAPS(DPT_KIND_LAYER, "reshape", "1.0.0",
                                   "the same floats in target_shape, e.g. \"7, 7, 16\" "
                                   "(Keras Reshape)",
                                   DPT_CAP_DETERMINISTIC | DPT_CAP_WRITES_DX),
    .create = reshape_create,
    .destroy = reshape_destroy,
    .forward = reshape_forward,
    .backward = reshape_backward,
};

static const struct dpt_plugin *const all[] = {&flatten.base, &reshape.base, NULL};

DPT_PLUGIN_EXPORT const struct dpt_plugin *const *dpt_plugins(void)
{
    return all;
}
