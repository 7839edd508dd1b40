/* check-plugin's results and the dispatch by kind: see check.h. */
#include "config.h"

#include "check/check.h"
#include "plugin/host.h"
#include "plugin/registry.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The result of (p, check), added as passed when it is not there yet;
 * NULL when out of memory. */
static struct dpt_check_result *result(struct dpt_check_report *rep, const struct dpt_plugin *p,
                                       const char *check)
{
    const char *kind = dpt_kind_name(p->kind);
    for (size_t i = 0; i < rep->n; i++) {
        struct dpt_check_result *r = &rep->r[i];
        if (r->kind == kind && strcmp(r->name, p->name) == 0 && strcmp(r->check, check) == 0) {
            return r;
        }
    }
    if (rep->n == rep->cap) {
        size_t cap = rep->cap ? 2 * rep->cap : 64;
        struct dpt_check_result *grown = realloc(rep->r, cap * sizeof *grown);
        if (!grown) {
            rep->oom = 1;
            return NULL;
        }
        rep->r = grown;
        rep->cap = cap;
    }
    struct dpt_check_result *r = &rep->r[rep->n++];
    memset(r, 0, sizeof *r);
    r->kind = kind;
    snprintf(r->name, sizeof r->name, "%s", p->name);
    snprintf(r->check, sizeof r->check, "%s", check);
    return r;
}

void dpt_check_pass(struct dpt_check_report *rep, const struct dpt_plugin *p, const char *check)
{
    result(rep, p, check);
}

void dpt_check_fail(struct dpt_check_report *rep, const struct dpt_plugin *p, const char *check,
                    double worst, const char *fmt, ...)
{
    struct dpt_check_result *r = result(rep, p, check);
    if (!r || (r->failed && !(worst > r->worst))) {
        return;
    }
    r->failed = 1;
    r->worst = worst;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->detail, sizeof r->detail, fmt, ap);
    va_end(ap);
}

void dpt_check_count_skipped(struct dpt_check_report *rep, const struct dpt_plugin *p,
                             const char *check, size_t skipped, size_t points)
{
    struct dpt_check_result *r = result(rep, p, check);
    if (r) {
        r->skipped += skipped;
        r->points += points;
    }
}

size_t dpt_check_failures(const struct dpt_check_report *rep)
{
    size_t n = 0;
    for (size_t i = 0; i < rep->n; i++) {
        n += rep->r[i].failed != 0;
    }
    return n;
}

void dpt_check_report_cleanup(struct dpt_check_report *rep)
{
    free(rep->r);
    memset(rep, 0, sizeof *rep);
}

const char *dpt_check_shape_text(const struct dpt_shape *s, char *buf, size_t len)
{
    size_t used = (size_t)snprintf(buf, len, "[");
    for (uint32_t j = 0; j < s->rank && j < DPT_MAX_RANK && used < len; j++) {
        used += (size_t)snprintf(buf + used, len - used, "%s%llu", j ? ", " : "",
                                 (unsigned long long)s->dims[j]);
    }
    if (used < len) {
        snprintf(buf + used, len - used, "]");
    }
    return buf;
}

void dpt_check_note_unread(const struct dpt_check_options *o, struct dpt_host_ctx *host)
{
    if (o->settings && o->unread && !o->unread->code) {
        dpt_host_check_unused(host, NULL, o->unread);
    }
}

int dpt_check_plugin(const struct dpt_plugin *p, const struct dpt_check_options *o,
                     struct dpt_check_report *rep)
{
    int rc = 0;
    if (o->unread) {
        *o->unread = (struct dpt_err){0};
    }
    switch (p->kind) {
    case DPT_KIND_LAYER:
        if (p->abi_major != DPT_ABI_MAJOR) {
            /* An ABI 1.x layer has another table (src/plugin/abi1.h). */
            dpt_check_fail(rep, p, "plugin ABI", 1,
                           "built for plugin ABI %u.%u; check-plugin checks ABI %d layers: "
                           "rebuild it against this dptrain's plugin.h",
                           p->abi_major, p->abi_minor, DPT_ABI_MAJOR);
            break;
        }
        rc = dpt_check_layer_plugin((const struct dpt_layer_plugin *)p, o, rep);
        break;
    case DPT_KIND_ACTIVATION:
        rc = dpt_check_activation_plugin((const struct dpt_activation_plugin *)p, o, rep);
        break;
    case DPT_KIND_LOSS:
        rc = dpt_check_loss_plugin((const struct dpt_loss_plugin *)p, o, rep);
        break;
    case DPT_KIND_OPTIMIZER:
        rc = dpt_check_optimizer_plugin((const struct dpt_optimizer_plugin *)p, o, rep);
        break;
    }
    if (o->unread && o->unread->code) {
        dpt_check_fail(rep, p, "settings all read", 1, "%s", o->unread->msg);
    }
    return rc < 0 ? rc : rep->oom ? DPT_ENOMEM : 0;
}
