/* The form of a --set option, checked while the command line is read: a
 * --set that is not SECTION.KEY=VALUE is a bad command line (exit 2), found
 * before MPI starts or any file is read. Whether the key exists and the
 * value fits is the model file's business (exit 1, blamed on the --set:
 * plugin/set_blame.h), since the same value written in the file is
 * refused the same way. */
#include "config.h"

#include "cli/cli.h"

#include <string.h>

/* The longest key dpt_config_set takes (its buffer, model/spec.c). */
#define SET_KEY_MAX 255

int cli_set_option(const char *cmd, const char *assignment)
{
    const char *eq = strchr(assignment, '=');
    size_t klen = eq ? (size_t)(eq - assignment) : 0;
    const char *why = NULL;
    if (!eq) {
        why = "no '='";
    } else if (klen == 0) {
        why = "no key before '='";
    } else if (klen > SET_KEY_MAX) {
        why = "the key is longer than 255 characters";
    } else if (assignment[0] == '.' || eq[-1] == '.' ||
               memmem(assignment, klen, "..", 2) != NULL) {
        why = "an empty part in the key";
    }
    if (!why) {
        return 0;
    }
    return cli_usage_error(cmd, "--set '%s': %s; expected SECTION.KEY=VALUE, e.g. "
                           "--set train.epochs=5 or --set model.layers.[0].units=64",
                           assignment, why);
}
