/* Naming the --set that made a setting: see set_blame.h. */
#include "config.h"

#include "plugin/set_blame.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *dpt__setting_path(const config_setting_t *s, char *buf, size_t len)
{
    const config_setting_t *up = config_setting_parent(s);
    if (!up) {
        buf[0] = '\0';
        return buf;
    }
    dpt__setting_path(up, buf, len);
    size_t used = strlen(buf);
    if (config_setting_name(s)) {
        snprintf(buf + used, len - used, "%s%s", used ? "." : "", config_setting_name(s));
    } else {
        snprintf(buf + used, len - used, "%s[%d]", used ? "." : "", config_setting_index(s));
    }
    return buf;
}

const char *dpt__set_blame(const config_setting_t *s, char *buf, size_t len)
{
    if (!s || config_setting_source_line(s) > 0 || len < 8) {
        return NULL;
    }
    /* A group --set made on its way to a key: the first key it holds, so
     * that the message quotes a whole --set (--set a.b.c=1 made a.b). */
    while (config_setting_is_group(s) && config_setting_length(s) > 0) {
        s = config_setting_get_elem(s, 0);
    }
    int used = snprintf(buf, len, "--set ");
    dpt__setting_path(s, buf + used, len - (size_t)used);
    used = (int)strlen(buf);
    size_t left = len - (size_t)used;
    /* The value as the user typed it, give or take libconfig's spelling of
     * numbers: a word dptrain took as a string is shown without quotes. */
    switch (config_setting_type(s)) {
    case CONFIG_TYPE_INT:
        snprintf(buf + used, left, "=%d", config_setting_get_int(s));
        break;
    case CONFIG_TYPE_INT64:
        snprintf(buf + used, left, "=%" PRId64, (int64_t)config_setting_get_int64(s));
        break;
    case CONFIG_TYPE_FLOAT: {
        /* The shortest of 15 or 17 digits that reads back the same double. */
        double v = config_setting_get_float(s);
        snprintf(buf + used, left, "=%.15g", v);
        if (strtod(buf + used + 1, NULL) != v) {
            snprintf(buf + used, left, "=%.17g", v);
        }
        break;
    }
    case CONFIG_TYPE_BOOL:
        snprintf(buf + used, left, "=%s", config_setting_get_bool(s) ? "true" : "false");
        break;
    case CONFIG_TYPE_STRING:
        snprintf(buf + used, left, "=%s", config_setting_get_string(s));
        break;
    default:
        break; /* an empty group: its path alone */
    }
    return buf;
}
