/* The model's name and the guard that keeps checkpoints: see resume_out.h. */
#include "config.h"

#include "cli/cli.h"
#include "cli/resume_out.h"
#include "io/checkpoint.h"
#include "io/model_file.h"
#include "util/util.h"

#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int cli_run_name(const struct dpt_dist *d, const char *model, const char *resume, char *name,
                 size_t len, struct dpt_err *err)
{
    if (model || !resume) {
        cli_model_stem(name, len, model ? model : "model");
        return 0;
    }
    char *shared = NULL;
    if (d->rank == 0) {
        char stored[PATH_MAX];
        if (dpt_checkpoint_model_name(resume, stored, sizeof stored) < 0 ||
            strchr(stored, '/')) {
            cli_model_stem(stored, sizeof stored, resume); /* an older checkpoint */
        }
        shared = dpt__strdup(stored);
    }
    int rc = d->rank == 0 && !shared ? dpt_err_set(err, DPT_ENOMEM, "out of memory") : 0;
    rc = dpt_dist_agree(d, rc, err);
    if (rc == 0) {
        rc = dpt_dist_bcast_string(d, &shared, 0, err);
    }
    if (rc == 0) {
        snprintf(name, len, "%s", shared);
    }
    free(shared);
    return rc;
}

/* Whether a and b name one place: the same file when both exist, else
 * the same absolute path (folders resolved, the last part as written). */
static int same_place(const char *a, const char *b)
{
    struct stat sa, sb;
    if (lstat(a, &sa) == 0 && lstat(b, &sb) == 0) {
        return sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
    }
    char ca[PATH_MAX], cb[PATH_MAX], ra[PATH_MAX], rb[PATH_MAX];
    snprintf(ca, sizeof ca, "%s", a);
    snprintf(cb, sizeof cb, "%s", b);
    if (!realpath(dirname(ca), ra) || !realpath(dirname(cb), rb)) {
        return strcmp(a, b) == 0;
    }
    snprintf(ca, sizeof ca, "%s", a);
    snprintf(cb, sizeof cb, "%s", b);
    return strcmp(ra, rb) == 0 && strcmp(basename(ca), basename(cb)) == 0;
}

int cli_out_not_checkpoint(const char *out, const char *ckpt, struct dpt_err *err)
{
    char shown[8192];
    dpt__path_shown(out, shown, sizeof shown);
    if (ckpt && same_place(out, ckpt)) {
        return dpt_err_set(err, DPT_EIO, "--out %s is this run's checkpoint link (%s): the "
                           "trained model would replace it and the next --resume would fail; "
                           "give --out another file", shown, ckpt);
    }
    struct stat st;
    enum dpt_file_kind kind = DPT_FILE_NEITHER;
    struct dpt_err ignored = {0};
    if (lstat(out, &st) < 0 || dpt_model_file_kind(out, &kind, &ignored) < 0 ||
        kind != DPT_FILE_CHECKPOINT) {
        return 0; /* nothing there, or no checkpoint: the model may go there */
    }
    char target[PATH_MAX] = "";
    ssize_t n = S_ISLNK(st.st_mode) ? readlink(out, target, sizeof target - 1) : -1;
    target[n > 0 ? n : 0] = '\0';
    return dpt_err_set(err, DPT_EIO, "--out %s is a checkpoint%s%s%s: the trained model would "
                       "replace it and the next --resume would fail; give --out another file",
                       shown, target[0] ? " (the link to " : "", target,
                       target[0] ? ")" : "");
}
