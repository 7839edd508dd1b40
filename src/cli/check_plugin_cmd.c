/* dptrain check-plugin: checks the plugins of one file (src/check/check.h)
 * and prints one line per check, then a count:
 *
 *     PASS layer conv2d: gradient kernel
 *     FAIL layer bad: dparams accumulate (+=): 12 of 12 dparams values ...
 *     check-plugin: 40 checks, 1 failed
 *
 * or the same as one JSON document (--format json). Exit 0 when every
 * check passes, 1 when one fails or the plugin crashes (also while its
 * file loads: a bug of the plugin, as train reports it), 2 for a bad
 * command line or a file that is not a plugin this dptrain loads. Needs
 * no MPI: the checks run in this process, with
 * OpenMP threads for the thread-safety checks.
 */
#include "config.h"

#include "check/check.h"
#include "cli/cli.h"
#include "model/spec.h"
#include "plugin/registry.h"
#include "util/util.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static const char check_usage[] =
    "usage: dptrain check-plugin FILE.so [NAME] [options]\n"
    "\n"
    "Checks every plugin in FILE.so (or the one named NAME) the way the host uses\n"
    "it: gradients against finite differences in double (layers: x and every\n"
    "parameter tensor; activations and losses: their inputs), the buffer\n"
    "contracts of plugin.h (parameter gradients and dx added with +=, or dx\n"
    "fully written under DPT_CAP_WRITES_DX; forward writes every output;\n"
    "nothing written outside a buffer or the declared workspace; inputs left\n"
    "alone), finite outputs from finite inputs, the same bits on repeated calls,\n"
    "from 4 threads at once and from two instances called in turn, the output\n"
    "shapes and parameter tensors, and optimizers' updates (the built-ins\n"
    "against their formulas). Prints one line per check, PASS or FAIL with the\n"
    "worst case, then 'check-plugin: N checks, M failed'.\n"
    "\n"
    "options:\n"
    "  --set KEY=VALUE      a setting of the plugin, as in its group of a model\n"
    "                       file (e.g. --set units=8); repeatable\n"
    "  --shape D1,D2,...    a sample's input shape for layers and activations,\n"
    "                       1 to 3 numbers (repeatable; default: 7, 6,3 and 5,4,3)\n"
    "  --format json        one JSON document instead of lines\n"
    "  --allow-unsafe-plugins  check FILE.so even when others could have written\n"
    "                       it or its folder (a warning instead of the refusal)\n"
    "\n"
    "Exit status: 0 every check passed, 1 a check failed or the plugin crashed\n"
    "(also while its file loaded), 2 bad command line or a file that is not a\n"
    "plugin this dptrain loads (not a dptrain plugin, another ABI, a required\n"
    "function missing).\n";

#define MAX_SHAPES 8

struct check_args {
    const char *file, *name;
    config_t settings; /* the --set values, as one group */
    int n_sets;
    struct dpt_shape shapes[MAX_SHAPES];
    size_t n_shapes;
    int json;
    unsigned unsafe_flags; /* DPT_REGISTRY_ALLOW_UNSAFE with --allow-unsafe-plugins */
};

/* "28,28,1" into *s; 0, or -1 when it is not 1 to 3 positive numbers. */
static int parse_shape(const char *text, struct dpt_shape *s)
{
    *s = (struct dpt_shape){0};
    const char *p = text;
    while (*p) {
        char *end;
        unsigned long long d = strtoull(p, &end, 10);
        if (end == p || d < 1 || d > (1u << 24) || s->rank == DPT_MAX_RANK ||
            (*end && *end != ',')) {
            return -1;
        }
        s->dims[s->rank++] = d;
        p = *end ? end + 1 : end;
        if (*end && !*p) {
            return -1;
        }
    }
    return s->rank ? 0 : -1;
}

/* Parses argv into a; returns 1 to go on, 0 after --help, or EXIT_USAGE. */
static int parse_args(int argc, char **argv, struct check_args *a)
{
    struct cli_common common = {.takes = CLI_TAKES_FORMAT};
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0) {
            fputs(check_usage, stdout);
            return 0;
        }
        if ((strcmp(arg, "--set") == 0 || strcmp(arg, "--shape") == 0) && i + 1 >= argc) {
            return cli_usage_error("check-plugin ", "%s needs a value", arg);
        }
        if (strcmp(arg, "--set") == 0) {
            struct dpt_err err = {0};
            if (dpt_config_set(&a->settings, argv[++i], &err) < 0) {
                return cli_usage_error("check-plugin ", "%s", err.msg);
            }
            a->n_sets++;
        } else if (strcmp(arg, "--shape") == 0) {
            const char *v = argv[++i];
            if (a->n_shapes == MAX_SHAPES || parse_shape(v, &a->shapes[a->n_shapes]) < 0) {
                return cli_usage_error("check-plugin ", "--shape '%s': expected 1 to 3 "
                                       "positive numbers separated by commas, e.g. 28,28,1 "
                                       "(at most %d shapes)", v, MAX_SHAPES);
            }
            a->n_shapes++;
        } else if (arg[0] == '-') {
            int r = cli_common_option("check-plugin", argc, argv, &i, &common);
            if (r < 0) {
                return EXIT_USAGE;
            }
            if (r == 0 || common.plugin_path) {
                return cli_usage_error("check-plugin ", "unknown option '%s'", arg);
            }
        } else if (!a->file) {
            a->file = arg;
        } else if (!a->name) {
            a->name = arg;
        } else {
            return cli_usage_error("check-plugin ", "unexpected argument '%s'", arg);
        }
    }
    a->json = common.json;
    a->unsafe_flags = common.allow_unsafe_plugins ? DPT_REGISTRY_ALLOW_UNSAFE : 0;
    if (!a->file) {
        return cli_usage_error("check-plugin ", "which plugin file? (dptrain check-plugin "
                               "FILE.so [NAME])");
    }
    return 1;
}

/* The lines of results [from, rep->n), each flushed as it is printed:
 * what was checked is out even if the process dies after it. */
static void print_lines(const struct dpt_check_report *rep, size_t from)
{
    for (size_t i = from; i < rep->n; i++) {
        const struct dpt_check_result *r = &rep->r[i];
        if (r->failed) {
            printf("FAIL %s %s: %s: %s", r->kind, r->name, r->check, r->detail);
        } else {
            printf("PASS %s %s: %s", r->kind, r->name, r->check);
        }
        if (r->skipped) {
            printf(" (%zu of %zu points skipped: a kink within the step)", r->skipped,
                   r->points);
        }
        putchar('\n');
        fflush(stdout);
    }
}

/* {"file", "checks": [{kind, name, check, passed, detail?}...], "total", "failed"} */
static int print_json(const char *file, const struct dpt_check_report *rep)
{
    json_t *checks = json_array();
    for (size_t i = 0; checks && i < rep->n; i++) {
        const struct dpt_check_result *r = &rep->r[i];
        json_t *o = json_pack("{s:s, s:s, s:s, s:b}", "kind", r->kind, "name", r->name,
                              "check", r->check, "passed", !r->failed);
        if (o && r->failed) {
            json_object_set_new(o, "detail", json_string(r->detail));
        }
        if (o && r->skipped) {
            json_object_set_new(o, "skipped", json_integer((json_int_t)r->skipped));
            json_object_set_new(o, "points", json_integer((json_int_t)r->points));
        }
        if (!o || json_array_append_new(checks, o) < 0) {
            json_decref(checks);
            checks = NULL;
        }
    }
    json_t *doc = checks ? json_pack("{s:s, s:o, s:I, s:I}", "file", file, "checks", checks,
                                     "total", (json_int_t)rep->n, "failed",
                                     (json_int_t)dpt_check_failures(rep))
                         : NULL;
    if (!doc || json_dumpf(doc, stdout, JSON_INDENT(2)) < 0) {
        json_decref(doc);
        cli_error("out of memory writing JSON");
        return -1;
    }
    putchar('\n');
    json_decref(doc);
    return 0;
}

/* Loads the file and checks its plugins (or the one named) into rep,
 * printing each plugin's lines once its checks are done unless a->json.
 * A crash in a plugin ends the checks with its FAIL result (the crash
 * guard of plugin/guard.h caught it). Returns 0, or EXIT_USAGE / EXIT_RUN
 * after printing why. */
static int run_checks(struct check_args *a, struct dpt_check_report *rep)
{
    struct stat st;
    if (stat(a->file, &st) != 0 || !S_ISREG(st.st_mode)) {
        cli_error("%s: no such plugin file", a->file);
        return EXIT_USAGE;
    }
    struct dpt_err err = {0};
    struct dpt_registry *reg = NULL;
    int rc = dpt_registry_create_file(&reg, a->file, a->unsafe_flags, &err);
    if (rc < 0) {
        /* A file that crashes while loading is the plugin's failure, not
         * a wrong command line. */
        cli_error("%s", err.msg);
        return rc == DPT_ECRASH ? EXIT_RUN : EXIT_USAGE;
    }
    cli_unsafe_plugin_warnings(reg);
    struct dpt_err unread = {0};
    struct dpt_check_options o = {
        .settings = a->n_sets ? config_root_setting(&a->settings) : NULL,
        .settings_name = "check-plugin", .shapes = a->n_shapes ? a->shapes : NULL,
        .n_shapes = a->n_shapes, .unread = &unread};
    size_t checked = 0;
    for (size_t i = 0; rc == 0 && i < dpt_registry_count(reg); i++) {
        const struct dpt_plugin *p = dpt_registry_entry(reg, i)->plugin;
        if (!a->name || strcmp(a->name, p->name) == 0) {
            checked++;
            size_t from = rep->n;
            rc = dpt_check_plugin(p, &o, rep);
            if (!a->json && (rc == 0 || rc == DPT_ECRASH)) {
                print_lines(rep, from);
            }
        }
    }
    if (rc == 0 && checked == 0) {
        char names[512] = "";
        for (size_t i = 0; i < dpt_registry_count(reg); i++) {
            const char *n = dpt_registry_entry(reg, i)->plugin->name;
            snprintf(names + strlen(names), sizeof names - strlen(names), "%s%s",
                     i ? ", " : "", n);
        }
        cli_error("%s has no plugin named '%s' (it has: %s)", a->file, a->name, names);
        rc = EXIT_USAGE;
    } else if (rc == DPT_ECRASH) {
        rc = 0; /* the report holds the FAIL; nothing of the file runs after a crash */
    } else if (rc < 0) {
        cli_error("out of memory while checking %s", a->file);
        rc = EXIT_RUN;
    }
    dpt_registry_destroy(reg);
    return rc;
}

int cmd_check_plugin(int argc, char **argv)
{
    struct check_args a = {0};
    config_init(&a.settings);
    struct dpt_check_report rep = {0};
    int rc = parse_args(argc, argv, &a);
    if (rc == 1) {
        rc = run_checks(&a, &rep);
        if (rc == 0) {
            if (a.json) {
                rc = print_json(a.file, &rep) < 0 ? EXIT_RUN : 0;
            } else {
                printf("check-plugin: %zu checks, %zu failed\n", rep.n,
                       dpt_check_failures(&rep));
            }
            rc = rc ? rc : dpt_check_failures(&rep) ? EXIT_RUN : 0;
        }
    }
    dpt_check_report_cleanup(&rep);
    config_destroy(&a.settings);
    return rc;
}
