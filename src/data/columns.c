/* Column selections (data.x_columns, data.y_columns): parsing them from the
 * model file and resolving them against a dataset's width (see columns.h). */
#include "config.h"

#include "data/columns.h"
#include "util/util.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* What every malformed item is told to look like. */
#define COLUMNS_SYNTAX "a column index (negative from the end), a range \"a:b\", or a list of " \
                       "them, e.g. [-1] or \"0:20\""

/* Parses an optional integer end of a range, text[0..len), into *v; an
 * empty text leaves *has 0. Returns 0, or -1 when it is not an integer. */
static int parse_end(const char *text, size_t len, int64_t *v, int *has)
{
    while (len > 0 && isspace((unsigned char)text[0])) {
        text++, len--;
    }
    while (len > 0 && isspace((unsigned char)text[len - 1])) {
        len--;
    }
    *has = len > 0;
    if (len == 0) {
        return 0;
    }
    char buf[32], *end;
    if (len >= sizeof buf) {
        return -1;
    }
    memcpy(buf, text, len);
    buf[len] = '\0';
    errno = 0;
    long long x = strtoll(buf, &end, 10);
    if (errno != 0 || *end != '\0' || end == buf) {
        return -1;
    }
    *v = (int64_t)x;
    return 0;
}

/* One item: an integer setting, or a string "i", "a:b", "a:", ":b", ":". */
static int parse_item(const config_setting_t *e, struct dpt_col_item *it)
{
    memset(it, 0, sizeof *it);
    int type = config_setting_type(e);
    if (type == CONFIG_TYPE_INT || type == CONFIG_TYPE_INT64) {
        it->lo = config_setting_get_int64(e);
        it->hi = it->lo + 1;
        it->has_lo = it->has_hi = it->single = 1;
        return 0;
    }
    if (type != CONFIG_TYPE_STRING) {
        return -1;
    }
    const char *s = config_setting_get_string(e);
    const char *colon = strchr(s, ':');
    if (!colon) {
        if (parse_end(s, strlen(s), &it->lo, &it->has_lo) < 0 || !it->has_lo) {
            return -1;
        }
        it->hi = it->lo + 1;
        it->has_hi = it->single = 1;
        return 0;
    }
    if (strchr(colon + 1, ':')) {
        return -1; /* no step */
    }
    return parse_end(s, (size_t)(colon - s), &it->lo, &it->has_lo) < 0 ||
                   parse_end(colon + 1, strlen(colon + 1), &it->hi, &it->has_hi) < 0
               ? -1
               : 0;
}

/* s as the user wrote it, for a message: a string quoted, else its type. */
static const char *found_text(const config_setting_t *s, char *buf, size_t len)
{
    switch (config_setting_type(s)) {
    case CONFIG_TYPE_STRING: snprintf(buf, len, "\"%s\"", config_setting_get_string(s)); break;
    case CONFIG_TYPE_FLOAT: snprintf(buf, len, "%g", config_setting_get_float(s)); break;
    case CONFIG_TYPE_BOOL: snprintf(buf, len, "a boolean"); break;
    case CONFIG_TYPE_GROUP: snprintf(buf, len, "a group"); break;
    default: snprintf(buf, len, "a list of lists"); break;
    }
    return buf;
}

int dpt_columns_parse(struct dpt_columns **out, const config_setting_t *s, const char *key,
                      const char *where, struct dpt_err *err)
{
    *out = NULL;
    int is_list = config_setting_is_array(s) || config_setting_is_list(s);
    size_t n = is_list ? (size_t)config_setting_length(s) : 1;
    struct dpt_columns *c = calloc(1, sizeof *c);
    int rc = 0;
    if (!c || !(c->key = dpt__strdup(key)) || !(c->where = dpt__strdup(where)) ||
        !(c->items = calloc(n ? n : 1, sizeof *c->items))) {
        rc = dpt_err_set(err, DPT_ENOMEM, "out of memory");
        goto fail;
    }
    if (n == 0) {
        rc = dpt_err_set(err, DPT_ECONFIG, "%s: %s: the list is empty; expected "
                         COLUMNS_SYNTAX, where, key);
        goto fail;
    }
    for (size_t i = 0; i < n; i++) {
        const config_setting_t *e = is_list ? config_setting_get_elem(s, (unsigned)i) : s;
        if (parse_item(e, &c->items[i]) < 0) {
            char found[128];
            rc = dpt_err_set(err, DPT_ECONFIG, "%s: %s: expected " COLUMNS_SYNTAX "; found %s",
                             where, key, found_text(e, found, sizeof found));
            goto fail;
        }
    }
    c->n = n;
    *out = c;
    return 0;
fail:
    dpt_columns_destroy(c);
    return rc;
}

void dpt_columns_destroy(struct dpt_columns *c)
{
    if (c) {
        free(c->items);
        free(c->where);
        free(c->key);
        free(c);
    }
}

/* An item as written, "3" or "2:-1", into buf. */
static const char *item_text(const struct dpt_col_item *it, char *buf, size_t len)
{
    if (it->single) {
        snprintf(buf, len, "%" PRId64, it->lo);
        return buf;
    }
    char lo[24] = "", hi[24] = "";
    if (it->has_lo) {
        snprintf(lo, sizeof lo, "%" PRId64, it->lo);
    }
    if (it->has_hi) {
        snprintf(hi, sizeof hi, "%" PRId64, it->hi);
    }
    snprintf(buf, len, "\"%s:%s\"", lo, hi);
    return buf;
}

/* An index or range end v against width w: negative ones count from the
 * end. Returns 0 with *at set, or -1 when outside [-w, w] (w itself is
 * allowed as a range's end, not as a column: the caller checks). */
static int place(int64_t v, uint64_t w, uint64_t *at)
{
    if (v < 0) {
        if ((uint64_t)(-(v + 1)) >= w) {
            return -1;
        }
        *at = w - (uint64_t)(-(v + 1)) - 1;
        return 0;
    }
    if ((uint64_t)v > w) {
        return -1;
    }
    *at = (uint64_t)v;
    return 0;
}

int dpt_columns_resolve(const struct dpt_columns *c, uint64_t width, const char *path,
                        const char *dset, uint64_t **idx, size_t *n_idx, struct dpt_err *err)
{
    *idx = NULL;
    *n_idx = 0;
    size_t cap = 0, n = 0;
    uint64_t *v = NULL;
    char *seen = calloc(width ? width : 1, 1);
    int rc = seen ? 0 : dpt_err_set(err, DPT_ENOMEM, "out of memory");
    for (size_t i = 0; rc == 0 && i < c->n; i++) {
        const struct dpt_col_item *it = &c->items[i];
        char text[64];
        uint64_t lo = 0, hi = width;
        if ((it->has_lo && place(it->lo, width, &lo) < 0) ||
            (it->has_hi && !it->single && place(it->hi, width, &hi) < 0) ||
            (it->single && lo >= width)) {
            rc = dpt_err_set(err, DPT_ECONFIG, "%s: %s: %s %s is outside dataset '%s' of %s, "
                             "which has %" PRIu64 " columns (0 to %" PRIu64 ", or -%" PRIu64
                             " to -1)", c->where, c->key, it->single ? "column" : "range",
                             item_text(it, text, sizeof text), dset, path, width,
                             width ? width - 1 : 0, width);
            break;
        }
        hi = it->single ? lo + 1 : hi;
        if (hi <= lo) {
            rc = dpt_err_set(err, DPT_ECONFIG, "%s: %s: range %s selects no column of dataset "
                             "'%s' of %s, which has %" PRIu64 " columns", c->where, c->key,
                             item_text(it, text, sizeof text), dset, path, width);
            break;
        }
        for (uint64_t j = lo; rc == 0 && j < hi; j++) {
            if (seen[j]) {
                rc = dpt_err_set(err, DPT_ECONFIG, "%s: %s: column %" PRIu64 " of dataset '%s' "
                                 "is selected twice (by %s)", c->where, c->key, j, dset,
                                 item_text(it, text, sizeof text));
                break;
            }
            seen[j] = 1;
            if (n == cap) {
                cap = cap ? 2 * cap : 16;
                uint64_t *grown = realloc(v, cap * sizeof *v);
                if (!grown) {
                    rc = dpt_err_set(err, DPT_ENOMEM, "out of memory");
                    break;
                }
                v = grown;
            }
            v[n++] = j;
        }
    }
    free(seen);
    if (rc < 0) {
        free(v);
        return rc;
    }
    *idx = v;
    *n_idx = n;
    return 0;
}

const char *dpt_columns_text(const uint64_t *idx, size_t n, char *buf, size_t len)
{
    size_t used = 0;
    buf[0] = '\0';
    for (size_t i = 0, j; i < n && used < len; i = j) {
        for (j = i + 1; j < n && idx[j] == idx[j - 1] + 1;) {
            j++;
        }
        int w = j - i > 1 ? snprintf(buf + used, len - used, "%s%" PRIu64 ":%" PRIu64,
                                     i ? ", " : "", idx[i], idx[j - 1] + 1)
                          : snprintf(buf + used, len - used, "%s%" PRIu64, i ? ", " : "",
                                     idx[i]);
        used += w > 0 ? (size_t)w : 0;
    }
    return buf;
}
