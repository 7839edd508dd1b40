/* Plugin safety (src/plugin/trust.h, src/plugin/registry.c): which modes
 * and owners are refused, the SHA-256 of what is loaded (checked against
 * the test vectors of FIPS 180-2, not against our own output), and a
 * descriptor name the loader still remembers from a file that was not
 * unloaded. Uses the test plugins in $DPT_TEST_PLUGINS (tests/plugins/). */
#include "config.h"

#include "plugin/registry.h"
#include "plugin/trust.h"
#include "util.h"

#include <CUnit/CUnit.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char test_plugin[512];

static const char *tp(const char *name)
{
    const char *dir = getenv("DPT_TEST_PLUGINS");
    snprintf(test_plugin, sizeof test_plugin, "%s/%s", dir ? dir : "tests/plugins/.libs", name);
    return test_plugin;
}

/* dir/name holding text, with mode; returns 0 or -1. */
static int make_file(const char *dir, const char *name, const char *text, mode_t mode)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    return test_write_file(path, text) == 0 && chmod(path, mode) == 0 ? 0 : -1;
}

/* Opens and checks dir/name; the trust result, tf released. */
static int judge_file(const char *dir, const char *name, char sha256[65], struct dpt_err *err)
{
    struct stat st;
    int dirfd = -1;
    int rc = dpt__trust_dir_open(dir, dir, &dirfd, &st, err);
    if (rc == 0) {
        struct dpt__trusted_file tf;
        rc = dpt__trust_file_open(&tf, dirfd, name, name, &st, err);
        if (sha256) {
            memcpy(sha256, tf.sha256, 65);
        }
        dpt__trusted_file_close(&tf);
    }
    if (dirfd >= 0) {
        close(dirfd);
    }
    return rc;
}

static void test_sha256_vectors(void)
{
    char dir[1024], sha[65];
    struct dpt_err err = {0};
    snprintf(dir, sizeof dir, "%s/sha", test_tmpdir());
    CU_ASSERT_EQUAL_FATAL(mkdir(dir, 0755), 0);
    CU_ASSERT_EQUAL_FATAL(make_file(dir, "abc", "abc", 0644), 0);
    CU_ASSERT_EQUAL_FATAL(make_file(dir, "empty", "", 0644), 0);
    CU_ASSERT_EQUAL(judge_file(dir, "abc", sha, &err), 0);
    CU_ASSERT_STRING_EQUAL(sha, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    CU_ASSERT_EQUAL(judge_file(dir, "empty", sha, &err), 0);
    CU_ASSERT_STRING_EQUAL(sha, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

static void test_modes(void)
{
    char dir[1024];
    struct dpt_err err = {0};
    snprintf(dir, sizeof dir, "%s/modes", test_tmpdir());
    CU_ASSERT_EQUAL_FATAL(mkdir(dir, 0755), 0);
    static const struct {
        mode_t mode;
        int unsafe;
        const char *reason;
    } files[] = {
        {0644, 0, NULL},
        {0600, 0, NULL},
        {0755, 0, NULL},
        {0664, 1, "writable by its group (mode 0664)"},
        {0646, 1, "writable by everyone (mode 0646)"},
        {0666, 1, "writable by its group and everyone (mode 0666)"},
        {0620, 1, "writable by its group (mode 0620)"},
    };
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        char name[32];
        snprintf(name, sizeof name, "f%zu.so", i);
        CU_ASSERT_EQUAL_FATAL(make_file(dir, name, "x", files[i].mode), 0);
        err.msg[0] = '\0';
        int rc = judge_file(dir, name, NULL, &err);
        CU_ASSERT_EQUAL(rc, files[i].unsafe ? DPT__UNSAFE : 0);
        if (files[i].reason) {
            CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, files[i].reason));
            CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, name));
            CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "chmod go-w"));
        }
    }
    /* Folders: the sticky bit is no excuse. */
    static const mode_t unsafe_dirs[] = {0775, 0757, 0777, 01777, 01775};
    for (size_t i = 0; i < sizeof unsafe_dirs / sizeof unsafe_dirs[0]; i++) {
        CU_ASSERT_EQUAL_FATAL(chmod(dir, unsafe_dirs[i]), 0);
        int fd = -1;
        struct stat st;
        CU_ASSERT_EQUAL(dpt__trust_dir_open(dir, dir, &fd, &st, &err), DPT__UNSAFE);
        CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "plugin folder"));
        CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, dir));
        if (fd >= 0) {
            close(fd);
        }
    }
    CU_ASSERT_EQUAL(chmod(dir, 0755), 0);
}

static void test_not_regular(void)
{
    char dir[1024], fifo[1100];
    struct dpt_err err = {0};
    snprintf(dir, sizeof dir, "%s/fifo", test_tmpdir());
    CU_ASSERT_EQUAL_FATAL(mkdir(dir, 0755), 0);
    snprintf(fifo, sizeof fifo, "%s/x.so", dir);
    CU_ASSERT_EQUAL_FATAL(mkfifo(fifo, 0644), 0);
    /* Returns at once (O_NONBLOCK), with an error, not DPT__UNSAFE. */
    CU_ASSERT_EQUAL(judge_file(dir, "x.so", NULL, &err), DPT_EPLUGIN);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "not a regular file"));
}

/* A file built with -z nodelete stays mapped after dlclose, and the loader
 * still knows it as "/proc/self/fd/N" once that descriptor is closed. The
 * next registry opens its files in the same order, so its first file gets
 * the same N: it must still load that file, not be handed the old one. */
static void test_fd_name_reused(void)
{
    struct dpt_err err = {0};
    struct dpt_registry *reg = NULL;
    CU_ASSERT_EQUAL_FATAL(dpt_registry_create_file(&reg, tp("vscale_nodelete.so"), 0, &err), 0);
    const struct dpt_plugin *p = dpt_registry_find(reg, DPT_KIND_LAYER, "vscale", &err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(p);
    CU_ASSERT_STRING_EQUAL(p->version, "9.9.9");
    dpt_registry_destroy(reg);
    CU_ASSERT_EQUAL_FATAL(dpt_registry_create_file(&reg, tp("vscale_1_0.so"), 0, &err), 0);
    p = dpt_registry_find(reg, DPT_KIND_LAYER, "vscale", &err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(p);
    CU_ASSERT_STRING_EQUAL(p->version, "1.0.0");
    CU_ASSERT_EQUAL(dpt_registry_file_count(reg), 1);
    dpt_registry_destroy(reg);
}

/* The registry: unsafe is an error with the remedy, or a warning with the
 * flag; what it loaded is recorded with its real path. */
static void test_registry_flags(void)
{
    char dir[1024], file[1100], cmd[2400];
    struct dpt_err err = {0};
    struct dpt_registry *reg = NULL;
    snprintf(dir, sizeof dir, "%s/reg", test_tmpdir());
    CU_ASSERT_EQUAL_FATAL(mkdir(dir, 0755), 0);
    snprintf(file, sizeof file, "%s/v.so", dir);
    snprintf(cmd, sizeof cmd, "cp '%s' '%s'", tp("vscale_1_0.so"), file);
    CU_ASSERT_EQUAL_FATAL(system(cmd), 0);
    CU_ASSERT_EQUAL_FATAL(chmod(file, 0666), 0);
    CU_ASSERT(dpt_registry_create_file(&reg, file, 0, &err) < 0);
    CU_ASSERT_PTR_NULL(reg);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "or pass --allow-unsafe-plugins"));
    CU_ASSERT_EQUAL_FATAL(
        dpt_registry_create_file(&reg, file, DPT_REGISTRY_ALLOW_UNSAFE, &err), 0);
    CU_ASSERT_EQUAL(dpt_registry_unsafe_count(reg), 1);
    CU_ASSERT_PTR_NOT_NULL(strstr(dpt_registry_unsafe(reg, 0), "used anyway"));
    CU_ASSERT_EQUAL(dpt_registry_file_count(reg), 1);
    char real[4096];
    CU_ASSERT_PTR_NOT_NULL(realpath(file, real));
    CU_ASSERT_STRING_EQUAL(dpt_registry_file(reg, 0)->real, real);
    dpt_registry_destroy(reg);
}

int main(void)
{
    if (CU_initialize_registry() != CUE_SUCCESS) {
        return 2;
    }
    umask(022);
    CU_pSuite s = CU_add_suite("plugin trust", NULL, NULL);
    CU_add_test(s, "SHA-256 of the bytes read: FIPS 180-2 vectors", test_sha256_vectors);
    CU_add_test(s, "group or other write bits are refused, files and folders", test_modes);
    CU_add_test(s, "a FIFO named like a plugin: an error, no hang", test_not_regular);
    CU_add_test(s, "a /proc/self/fd name the loader remembers is not reused",
                test_fd_name_reused);
    CU_add_test(s, "the registry: error or warning, and the record", test_registry_flags);
    return test_run_all();
}
