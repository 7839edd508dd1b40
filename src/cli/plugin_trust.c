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
        json_object_set_new(o, "plugin_files", text ? json_string(text) : json_null());
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
