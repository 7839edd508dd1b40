/* The command line's side of plugin safety (plugin/trust.h): the registry
 * made with --allow-unsafe-plugins or without, the warnings for what that
 * option let through, the loaded files with their SHA-256 (--verbose), and
 * what a model file recorded about them (inspect).
 */
#include "config.h"

#include "cli/cli.h"
#include "io/plugin_record.h"
#include "plugin/registry.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void cli_unsafe_plugin_warnings(const struct dpt_registry *reg)
{
    for (size_t i = 0; i < dpt_registry_unsafe_count(reg); i++) {
        cli_warn(NULL, dpt_registry_unsafe(reg, i));
    }
}

int cli_registry_create(struct dpt_registry **reg, const struct cli_common *c,
                        struct dpt_err *err)
{
    unsigned flags = c->allow_unsafe_plugins ? DPT_REGISTRY_ALLOW_UNSAFE : 0;
    int rc = dpt_registry_create_flags(reg, c->plugin_path, flags, err);
    if (rc == 0) {
        cli_unsafe_plugin_warnings(*reg);
    }
    return rc;
}

void cli_plugin_files_print(FILE *f, const struct dpt_registry *reg)
{
    for (size_t i = 0; i < dpt_registry_file_count(reg); i++) {
        const struct dpt_registry_file *rf = dpt_registry_file(reg, i);
        fprintf(f, "plugin file %s sha256 %s\n", rf->real, rf->sha256);
    }
}

/* The /plugin_files text as a JSON array of {"sha256", "path"}, undoing
 * sha256sum's escapes (a line that starts with a backslash). */
static json_t *plugin_files_json(char *text)
{
    json_t *a = json_array();
    for (char *line = text, *nl; line && *line; line = nl ? nl + 1 : NULL) {
        nl = strchr(line, '\n');
        if (nl) {
            *nl = '\0';
        }
        int escaped = line[0] == '\\';
        char *sep = strstr(line + escaped, "  ");
        if (!sep) {
            continue;
        }
        *sep = '\0';
        char *w = sep + 2;
        for (const char *r = sep + 2; *r; r++) {
            if (escaped && r[0] == '\\' && (r[1] == 'n' || r[1] == '\\')) {
                *w++ = *++r == 'n' ? '\n' : '\\';
            } else {
                *w++ = *r;
            }
        }
        *w = '\0';
        json_t *f = json_object();
        json_object_set_new(f, "sha256", json_string(line + escaped));
        json_object_set_new(f, "path", json_string(sep + 2));
        json_array_append_new(a, f);
    }
    return a;
}

void cli_plugin_files_inspect(const char *path, json_t *o)
{
    char *text = NULL;
    struct dpt_err err = {0};
    if (dpt_model_read_plugin_files(path, &text, &err) < 0) {
        /* The file was read whole just before: say so, but it is no reason
         * to fail the inspection. */
        cli_warn(NULL, err.msg);
        return;
    }
    if (o) {
        json_object_set_new(o, "plugin_files", text ? plugin_files_json(text) : json_null());
    } else if (!text) {
        printf("plugin files: not recorded (an older file)\n");
    } else {
        printf("plugin files loaded when it was written (SHA-256, path):\n");
        for (char *line = text, *nl; *line; line = nl + 1) {
            nl = strchr(line, '\n');
            if (!nl) {
                printf("  %s\n", line);
                break;
            }
            printf("  %.*s\n", (int)(nl - line), line);
        }
    }
    free(text);
}
