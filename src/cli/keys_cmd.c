/* dptrain keys: the reference of every model-file key (section.key, type,
 * default, range or choices, meaning), as text, JSON or the roff of
 * dptrain(1)'s MODEL-FILE KEYS section. The figures come from the reader
 * itself (model/keys.h says how), so the reference cannot drift from it;
 * tests/keys.sh checks the man page's section against `--format man`.
 * Needs no MPI, no plugins and no files.
 */
#include "config.h"

#include "cli/cli.h"
#include "model/keys.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char keys_usage[] =
    "usage: dptrain keys [--format text|json|man]\n"
    "\n"
    "Lists every key of the model file's sections (data, model, train and\n"
    "train's groups): its type, its default, its range or choices, and what it\n"
    "means. Defaults and ranges are those the model-file reader applies.\n"
    "Plugin settings (a layer's units, the optimizer's learning_rate) are the\n"
    "plugins' own: see README.md and 'dptrain check-plugin'.\n"
    "\n"
    "options:\n"
    "  --format FORMAT      text (the default), json (one object) or man (the\n"
    "                       roff of dptrain(1)'s MODEL-FILE KEYS section)\n";

enum keys_format { KEYS_TEXT, KEYS_JSON, KEYS_MAN };

static void print_text(const struct dpt_key_ref *r, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        printf("%-42s %-16s default %s%s%s\n    %s\n", r[i].name, r[i].type, r[i].def,
               r[i].range[0] ? "; " : "", r[i].range, r[i].meaning);
    }
}

static int print_json(const struct dpt_key_ref *r, size_t n)
{
    json_t *o = json_object(), *a = json_array();
    for (size_t i = 0; i < n; i++) {
        json_t *k = json_object();
        json_object_set_new(k, "key", json_string(r[i].name));
        json_object_set_new(k, "type", json_string(r[i].type));
        json_object_set_new(k, "default", json_string(r[i].def));
        json_object_set_new(k, "range", json_string(r[i].range));
        json_object_set_new(k, "meaning", json_string(r[i].meaning));
        json_array_append_new(a, k);
    }
    json_object_set_new(o, "keys", a);
    char *s = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    if (!s) {
        cli_error("out of memory");
        return EXIT_RUN;
    }
    puts(s);
    free(s);
    return 0;
}

/* Text for roff: backslashes doubled, hyphens as \- (so that groff keeps
 * them plain and tests/man_pages.sh reads options as typed). */
static void roff_text(const char *s)
{
    for (; *s; s++) {
        if (*s == '\\') {
            fputs("\\e", stdout);
        } else if (*s == '-') {
            fputs("\\-", stdout);
        } else {
            putchar(*s);
        }
    }
}

static void print_man(const struct dpt_key_ref *r, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        fputs(".TP\n.B ", stdout);
        roff_text(r[i].name);
        fputs("\n", stdout);
        roff_text(r[i].type);
        fputs(", default ", stdout);
        roff_text(r[i].def);
        if (r[i].range[0]) {
            fputs("; ", stdout);
            roff_text(r[i].range);
        }
        fputs(".\n", stdout);
        roff_text(r[i].meaning);
        fputs(".\n", stdout);
    }
}

int cmd_keys(int argc, char **argv)
{
    enum keys_format format = KEYS_TEXT;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            fputs(keys_usage, stdout);
            return 0;
        }
        if (strcmp(argv[i], "--format") == 0) {
            const char *v = i + 1 < argc ? argv[++i] : NULL;
            if (!v) {
                return cli_usage_error("keys ", "--format needs a value");
            }
            if (strcmp(v, "text") == 0) {
                format = KEYS_TEXT;
            } else if (strcmp(v, "json") == 0) {
                format = KEYS_JSON;
            } else if (strcmp(v, "man") == 0) {
                format = KEYS_MAN;
            } else {
                return cli_usage_error("keys ", "--format must be 'text', 'json' or 'man', "
                                       "got '%s'", v);
            }
            continue;
        }
        return cli_usage_error("keys ", "unknown argument '%s'", argv[i]);
    }
    struct dpt_key_ref *refs;
    size_t n;
    struct dpt_err err = {0};
    if (dpt_keys_reference(&refs, &n, &err) < 0) {
        cli_error("%s", err.msg);
        return EXIT_RUN;
    }
    int rc = 0;
    if (format == KEYS_JSON) {
        rc = print_json(refs, n);
    } else if (format == KEYS_MAN) {
        print_man(refs, n);
    } else {
        print_text(refs, n);
    }
    free(refs);
    return rc;
}
