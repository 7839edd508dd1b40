/* The plugin files a model or checkpoint file was written with: see
 * plugin_record.h for the dataset and its format. */
#include "config.h"

#include "io/plugin_record.h"
#include "io/h5file.h"
#include "io/model_io.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Appends one "SHA256  PATH\n" line to *text (used bytes *used, room *cap),
 * escaping PATH as sha256sum does; 0 or -1 (out of memory). */
static int append_line(char **text, size_t *used, size_t *cap, const char *sha256,
                       const char *path)
{
    size_t need = *used + 2 * strlen(path) + 72;
    if (need > *cap) {
        char *grown = realloc(*text, need * 2);
        if (!grown) {
            return -1;
        }
        *text = grown;
        *cap = need * 2;
    }
    char *p = *text + *used;
    int escape = strpbrk(path, "\n\\") != NULL;
    p += sprintf(p, "%s%s  ", escape ? "\\" : "", sha256);
    for (const char *c = path; *c; c++) {
        if (escape && (*c == '\n' || *c == '\\')) {
            *p++ = '\\';
            *p++ = *c == '\n' ? 'n' : '\\';
        } else {
            *p++ = *c;
        }
    }
    *p++ = '\n';
    *p = '\0';
    *used = (size_t)(p - *text);
    return 0;
}

int dpt__plugin_files_write(hid_t f, const struct dpt_registry *reg)
{
    char *text = NULL;
    size_t used = 0, cap = 0;
    for (size_t i = 0; i < dpt_registry_file_count(reg); i++) {
        const struct dpt_registry_file *rf = dpt_registry_file(reg, i);
        if (append_line(&text, &used, &cap, rf->sha256, rf->real) < 0) {
            free(text);
            return -1;
        }
    }
    int rc = dpt__h5_write_string_dataset(f, "plugin_files", text ? text : "");
    free(text);
    return rc;
}

int dpt_model_read_plugin_files(const char *path, char **text, struct dpt_err *err)
{
    *text = NULL;
    struct dpt__model_file h;
    char fmt[64];
    int rc = dpt__model_open(&h, path, fmt, sizeof fmt, err);
    if (rc == 0 && H5Lexists(h.f, "plugin_files", H5P_DEFAULT) > 0) {
        *text = dpt__h5_read_string_dataset(h.f, "plugin_files");
        if (!*text) {
            rc = dpt_err_set(err, DPT_EFORMAT, "%s: damaged model file: dataset "
                             "'plugin_files' is not a string", path);
        }
    }
    dpt__model_close(&h);
    return rc;
}
