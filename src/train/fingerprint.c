/* Rank agreement at start-up: see fingerprint.h. */
#include "config.h"

#include "train/fingerprint.h"
#include "util/util.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

/* A growing text of lines; on out of memory it stays NULL. */
struct text {
    char *s;
    size_t len, cap;
};

static void add_line(struct text *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void add_line(struct text *t, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0 || (t->len == 0 && t->cap == SIZE_MAX)) {
        return;
    }
    if (t->len + (size_t)n + 2 > t->cap) {
        size_t cap = 2 * (t->len + (size_t)n + 2);
        char *s = realloc(t->s, cap);
        if (!s) {
            free(t->s);
            *t = (struct text){.cap = SIZE_MAX}; /* out of memory: compared as empty */
            return;
        }
        t->s = s;
        t->cap = cap;
    }
    va_start(ap, fmt);
    vsnprintf(t->s + t->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    t->len += (size_t)n;
    t->s[t->len++] = '\n';
    t->s[t->len] = '\0';
}

/* XXH3-64 of a file's contents, or 0 when it cannot be read. */
static uint64_t file_hash(const char *path)
{
    FILE *f = fopen(path, "rb");
    XXH3_state_t *h = XXH3_createState();
    uint64_t v = 0;
    if (f && h) {
        XXH3_64bits_reset(h);
        char buf[1 << 16];
        size_t n;
        while ((n = fread(buf, 1, sizeof buf, f)) > 0) {
            XXH3_64bits_update(h, buf, n);
        }
        v = ferror(f) ? 0 : XXH3_64bits_digest(h);
    }
    XXH3_freeState(h);
    if (f) {
        fclose(f);
    }
    return v;
}

/* The registry's file of plugin p ("?" when it is not the registry's). */
static const char *file_of(const struct dpt_registry *reg, const struct dpt_plugin *p)
{
    for (size_t i = 0; i < dpt_registry_count(reg); i++) {
        const struct dpt_registry_entry *e = dpt_registry_entry(reg, i);
        if (e->plugin == p) {
            return e->file;
        }
    }
    return "?";
}

static void add_plugin(struct text *t, const struct dpt_registry *reg, const struct dpt_plugin *p)
{
    const char *file = file_of(reg, p);
    add_line(t, "%s '%s' %s from %s (xxh3 %016llx)", dpt_kind_name(p->kind), p->name,
             p->version ? p->version : "(no version)", file,
             (unsigned long long)file_hash(file));
}

/* The three descriptions of this rank: data, plugins, model. */
static void describe(const struct dpt_spec *spec, const struct dpt_net *net,
                     const struct dpt_registry *reg, const struct dpt_dataset *ds,
                     struct text t[3])
{
    char *cfg = dpt_spec_to_string(spec);
    add_line(&t[2], "model description xxh3 %016llx, %zu parameter floats",
             (unsigned long long)(cfg ? XXH3_64bits(cfg, strlen(cfg)) : 0), net->n_params);
    free(cfg);
    for (size_t i = 0; i < net->n_nodes; i++) {
        const struct dpt_node *nd = &net->nodes[i];
        char in[64], out[64];
        add_line(&t[2], "%s: %s -> %s, %zu parameters", nd->label,
                 dpt_shape_str(&nd->in, in, sizeof in), dpt_shape_str(&nd->out, out, sizeof out),
                 nd->n_params);
        /* An activation node of a layer's "activation" key is a node too:
         * each plugin is listed once, in the order the net uses them. */
        int seen = 0;
        for (size_t j = 0; j < i; j++) {
            seen |= net->nodes[j].plugin == nd->plugin;
        }
        if (!seen) {
            add_plugin(&t[1], reg, nd->plugin);
        }
    }
    add_plugin(&t[1], reg, &net->loss->base);
    add_plugin(&t[1], reg, &net->opt->base);
    char arrays[512];
    dpt_dataset_describe(ds, arrays, sizeof arrays);
    add_line(&t[0], "%s: %s", dpt_dataset_path(ds), arrays);
}

/* The first line of a that differs from b's, into buf. */
static void first_difference(const char *a, const char *b, char *buf, size_t len)
{
    while (*a && *b) {
        size_t la = strcspn(a, "\n"), lb = strcspn(b, "\n");
        if (la != lb || memcmp(a, b, la) != 0) {
            break;
        }
        a += la + (a[la] != 0);
        b += lb + (b[lb] != 0);
    }
    snprintf(buf, len, "%.*s", (int)strcspn(a, "\n"), *a ? a : "(nothing more)");
}

int dpt_fingerprint_agree(const struct dpt_dist *d, const struct dpt_spec *spec,
                          const struct dpt_net *net, const struct dpt_registry *reg,
                          const struct dpt_dataset *ds, struct dpt_err *err)
{
    /* Data first: other data makes another model too, and says more. */
    static const char *const what[3] = {"training data", "plugins", "model"};
    struct text t[3] = {{0}, {0}, {0}};
    describe(spec, net, reg, ds, t);
    int rc = 0;
    for (int k = 0; rc == 0 && k < 3; k++) {
        const char *mine = t[k].s ? t[k].s : "";
        int bad = dpt_dist_same_u64(d, XXH3_64bits(mine, strlen(mine)));
        if (!bad) {
            continue;
        }
        /* Rank bad - 1's description to everyone; rank 0 compares. */
        char *odd = d->rank == bad - 1 ? dpt__strdup(mine) : NULL;
        rc = dpt_dist_bcast_string(d, &odd, bad - 1, err);
        if (rc == 0) {
            char zero[512] = "", other[512] = "";
            if (d->rank == 0) {
                first_difference(mine, odd ? odd : "", zero, sizeof zero);
                first_difference(odd ? odd : "", mine, other, sizeof other);
            }
            rc = dpt_err_set(err, DPT_ECONFIG, "rank %d differs from rank 0 in its %s: rank 0 "
                             "has %s; rank %d has %s", bad - 1, what[k], zero, bad - 1, other);
        }
        free(odd);
    }
    for (int k = 0; k < 3; k++) {
        free(t[k].s);
    }
    return rc;
}
