/* How the layer plugins write a sample shape in their messages: "[28, 28,
 * 1]", as Keras prints shapes (without the batch). Private to the plugins
 * under plugins/layers: each still builds into its own module. */
#ifndef DPT_PLUGINS_SHAPE_TEXT_H
#define DPT_PLUGINS_SHAPE_TEXT_H

#include <dptrain/plugin.h>

#include <stdio.h>

/* Room for any shape: DPT_MAX_RANK numbers of up to 20 digits, separators
 * and brackets. */
#define SHAPE_TEXT_LEN (DPT_MAX_RANK * 22 + 3)

/* Writes the text of shape s into buf (SHAPE_TEXT_LEN bytes) and returns buf. */
static inline char *shape_text(char *buf, const struct dpt_shape *s)
{
    size_t used = 0;
    buf[used++] = '[';
    for (uint32_t j = 0; j < s->rank && j < DPT_MAX_RANK; j++) {
        used += (size_t)snprintf(buf + used, SHAPE_TEXT_LEN - used, "%s%llu", j ? ", " : "",
                                 (unsigned long long)s->dims[j]);
    }
    snprintf(buf + used, SHAPE_TEXT_LEN - used, "]");
    return buf;
}

#endif
