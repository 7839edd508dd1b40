/* Helpers of the fuzzing harnesses: see fuzz.h. */
#include "config.h"

#include "fuzz.h"
#include "plugin/guard.h"
#include "plugin/registry.h"

#include <hdf5.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char scratch_dir[4096];
static char paths[4][4096 + 64];
static int n_paths;

static void remove_scratch(void)
{
    for (int i = 0; i < n_paths; i++) {
        unlink(paths[i]);
    }
    rmdir(scratch_dir);
}

const char *fuzz_scratch(const char *name)
{
    if (!scratch_dir[0]) {
        const char *tmp = getenv("TMPDIR");
        snprintf(scratch_dir, sizeof scratch_dir, "%s/dpt-fuzz-XXXXXX",
                 tmp && tmp[0] ? tmp : "/tmp");
        if (!mkdtemp(scratch_dir)) {
            perror("fuzz: mkdtemp");
            abort();
        }
        atexit(remove_scratch);
    }
    if (n_paths == (int)(sizeof paths / sizeof paths[0])) {
        fprintf(stderr, "fuzz: too many scratch files\n");
        abort();
    }
    snprintf(paths[n_paths], sizeof paths[n_paths], "%s/%s", scratch_dir, name);
    return paths[n_paths++];
}

void fuzz_write(const char *path, const void *data, size_t size)
{
    FILE *f = fopen(path, "wb");
    if (!f || (size && fwrite(data, 1, size, f) != size) || fclose(f) != 0) {
        perror(path);
        abort();
    }
}

void fuzz_check_result(const char *what, int rc, const struct dpt_err *err)
{
    static int verbose = -1;
    if (verbose < 0) {
        verbose = getenv("FUZZ_VERBOSE") != NULL;
    }
    if (verbose) {
        fprintf(stderr, "%s: %s\n", what, rc == 0 ? "ok" : err->msg);
    }
    if (rc > 0 || (rc < 0 && (err->code != rc || !err->msg[0]))) {
        fprintf(stderr, "fuzz: %s returned %d with error code %d and message '%s'\n", what,
                rc, err->code, err->msg);
        abort();
    }
}

void fuzz_check_clean(void)
{
    ssize_t open_ids = H5Fget_obj_count(H5F_OBJ_ALL, H5F_OBJ_ALL);
    if (open_ids != 0) {
        fprintf(stderr, "fuzz: %zd HDF5 objects left open after the input\n", open_ids);
        abort();
    }
    if (dpt__guard_crashed()) {
        fprintf(stderr, "fuzz: a plugin crashed in a guarded call\n");
        abort();
    }
}

const struct dpt_registry *fuzz_registry(void)
{
    static struct dpt_registry *reg;
    if (!reg) {
        /* A folder that does not exist: no per-user plugins. */
        setenv("XDG_DATA_HOME", "/nonexistent/dptrain-fuzz", 1);
        struct dpt_err err = {0};
        if (dpt_registry_create(&reg, NULL, &err) < 0) {
            fprintf(stderr, "fuzz: %s\n", err.msg);
            abort();
        }
    }
    return reg;
}
