/* Files dptrain writes in folders others may write too (issue 17): the
 * temporary names of util/tmpname.c are unpredictable and made with
 * O_EXCL, never through a symbolic link, with the umask's mode; the writes
 * of io/output.c replace a link planted at the final path rather than
 * writing through it, and a file written in place refuses one. Each check
 * plants a "victim" file outside the output folder and compares its bytes
 * afterwards. */
#include "config.h"

#include "io/output.h"
#include "util/tmpname.h"
#include "util.h"

#include <CUnit/CUnit.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define VICTIM_TEXT "the user's own file, which must not change\n"

/* A fresh folder under the test's folder: "out-<name>". */
static const char *fresh_dir(const char *name, char *buf, size_t len)
{
    char base[PATH_MAX];
    snprintf(base, sizeof base, "out-%s", name);
    test_path(buf, len, base);
    CU_ASSERT_EQUAL_FATAL(mkdir(buf, 0777), 0);
    return buf;
}

/* A victim file outside every output folder, with VICTIM_TEXT. */
static const char *victim(char *buf, size_t len)
{
    test_path(buf, len, "victim");
    CU_ASSERT_EQUAL_FATAL(test_write_file(buf, VICTIM_TEXT), 0);
    return buf;
}

/* Whether the file at path holds exactly text. */
static int holds(const char *path, const char *text)
{
    char got[256] = "";
    FILE *f = fopen(path, "r");
    size_t n = f ? fread(got, 1, sizeof got - 1, f) : 0;
    if (f) {
        fclose(f);
    }
    got[n] = '\0';
    return f && strcmp(got, text) == 0;
}

/* The permission bits of path (lstat: a link's own), or -1. */
static int mode_of(const char *path)
{
    struct stat st;
    return lstat(path, &st) == 0 ? (int)(st.st_mode & 07777) : -1;
}

/* Two names from one prefix differ, and each is the prefix and
 * DPT__RANDOM_LEN characters of [0-9a-z]: nothing in them comes from the
 * process id or the clock that another user could predict. */
static void test_names_random(void)
{
    char a[64], b[64];
    CU_ASSERT_EQUAL(dpt__random_name("m.h5.tmp-", a, sizeof a), 0);
    CU_ASSERT_EQUAL(dpt__random_name("m.h5.tmp-", b, sizeof b), 0);
    CU_ASSERT_STRING_NOT_EQUAL(a, b);
    CU_ASSERT_EQUAL(strlen(a), strlen("m.h5.tmp-") + DPT__RANDOM_LEN);
    CU_ASSERT_EQUAL(strncmp(a, "m.h5.tmp-", 9), 0);
    CU_ASSERT_EQUAL(strspn(a + 9, "0123456789abcdefghijklmnopqrstuvwxyz"), DPT__RANDOM_LEN);
    char pid[32];
    snprintf(pid, sizeof pid, "%ld", (long)getpid());
    CU_ASSERT_NOT_EQUAL(strncmp(a + 9, pid, strlen(pid)), 0); /* not the old OUT.tmp-PID */
    /* 100 names, all different (a clash of two is about 1 in 10^16). */
    char many[100][32];
    int same = 0;
    for (int i = 0; i < 100; i++) {
        CU_ASSERT_EQUAL(dpt__random_name("", many[i], sizeof many[i]), 0);
        for (int j = 0; j < i; j++) {
            same += strcmp(many[i], many[j]) == 0;
        }
    }
    CU_ASSERT_EQUAL(same, 0);
    /* Too small a buffer is an error, never a cut name. */
    char small[12];
    errno = 0;
    CU_ASSERT_EQUAL(dpt__random_name("x", small, sizeof small), -1);
    CU_ASSERT_EQUAL(errno, ENAMETOOLONG);
}

/* The open of every name tried refuses a symbolic link (the victim keeps
 * its bytes) and a regular file already there (kept as it was). */
static void test_open_excl_refuses(void)
{
    char dir[PATH_MAX], v[PATH_MAX], name[PATH_MAX + 16];
    fresh_dir("excl", dir, sizeof dir);
    victim(v, sizeof v);
    snprintf(name, sizeof name, "%s/link", dir);
    CU_ASSERT_EQUAL_FATAL(symlink(v, name), 0);
    errno = 0;
    CU_ASSERT_EQUAL(dpt__open_excl(name), -1);
    CU_ASSERT_EQUAL(errno, EEXIST);
    CU_ASSERT_TRUE(holds(v, VICTIM_TEXT));
    /* A dangling link: O_CREAT alone would create its target. */
    snprintf(name, sizeof name, "%s/dangling", dir);
    char target[PATH_MAX + 16];
    snprintf(target, sizeof target, "%s/made-through-link", dir);
    CU_ASSERT_EQUAL_FATAL(symlink(target, name), 0);
    CU_ASSERT_EQUAL(dpt__open_excl(name), -1);
    CU_ASSERT_EQUAL(access(target, F_OK), -1);
    snprintf(name, sizeof name, "%s/file", dir);
    CU_ASSERT_EQUAL_FATAL(test_write_file(name, "someone's file\n"), 0);
    CU_ASSERT_EQUAL(dpt__open_excl(name), -1);
    CU_ASSERT_TRUE(holds(name, "someone's file\n"));
}

/* A created file's mode is 0666 less the umask, as for any file the user
 * creates (mkstemp's 0600 would hide a model from the user's group). */
static void test_umask_applies(void)
{
    char dir[PATH_MAX], prefix[PATH_MAX + 16], name[PATH_MAX + 64];
    fresh_dir("umask", dir, sizeof dir);
    snprintf(prefix, sizeof prefix, "%s/m.h5.tmp-", dir);
    const mode_t masks[] = {027, 022, 077};
    const int want[] = {0640, 0644, 0600};
    for (int i = 0; i < 3; i++) {
        mode_t old = umask(masks[i]);
        int fd = dpt__create_excl(prefix, name, sizeof name);
        umask(old);
        CU_ASSERT_TRUE_FATAL(fd >= 0);
        close(fd);
        CU_ASSERT_EQUAL(mode_of(name), want[i]);
        CU_ASSERT_EQUAL(strncmp(name, prefix, strlen(prefix)), 0);
        unlink(name);
    }
    /* The same through the atomic write, for the final file. */
    char path[PATH_MAX + 16];
    snprintf(path, sizeof path, "%s/model.h5", dir);
    struct dpt_err err = {0};
    mode_t old = umask(027);
    CU_ASSERT_EQUAL(dpt_output_write_atomically(path, "abc", 3, &err), 0);
    umask(old);
    CU_ASSERT_EQUAL(mode_of(path), 0640);
}

/* A link planted at the final path is replaced by the new file; the file
 * it pointed to keeps its bytes. No temporary file is left. */
static void test_atomic_replaces_link(void)
{
    char dir[PATH_MAX], v[PATH_MAX], path[PATH_MAX + 16];
    fresh_dir("atomic", dir, sizeof dir);
    victim(v, sizeof v);
    snprintf(path, sizeof path, "%s/model.h5", dir);
    CU_ASSERT_EQUAL_FATAL(symlink(v, path), 0);
    struct dpt_err err = {0};
    CU_ASSERT_EQUAL(dpt_output_write_atomically(path, "new\n", 4, &err), 0);
    CU_ASSERT_TRUE(holds(v, VICTIM_TEXT));
    struct stat st;
    CU_ASSERT_TRUE(lstat(path, &st) == 0 && S_ISREG(st.st_mode));
    CU_ASSERT_TRUE(holds(path, "new\n"));
    /* Only model.h5 is in the folder: the temporary file was renamed. */
    char cmd[PATH_MAX + 64];
    snprintf(cmd, sizeof cmd, "test \"$(ls -A '%s')\" = model.h5", dir);
    CU_ASSERT_EQUAL(system(cmd), 0);
}

/* A file written in place (train.log) refuses a symbolic link with a
 * message naming the output and the file; a regular file is appended to
 * or emptied, and a missing one is created with the umask's mode. */
static void test_in_place_refuses_link(void)
{
    char dir[PATH_MAX], v[PATH_MAX], path[PATH_MAX + 16];
    fresh_dir("inplace", dir, sizeof dir);
    victim(v, sizeof v);
    snprintf(path, sizeof path, "%s/train.csv", dir);
    CU_ASSERT_EQUAL_FATAL(symlink(v, path), 0);
    struct dpt_err err = {0};
    FILE *f = NULL;
    for (int append = 0; append < 2; append++) {
        CU_ASSERT_TRUE(dpt_output_open_in_place(&f, path, append, "train.log", &err) < 0);
        CU_ASSERT_PTR_NULL(f);
        CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "train.log "));
        CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "train.csv"));
        CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "is a symbolic link; dptrain does not write "
                                               "through links"));
        CU_ASSERT_TRUE(holds(v, VICTIM_TEXT));
    }
    CU_ASSERT_PTR_NULL(dpt_output_open_read_nofollow(path));
    CU_ASSERT_EQUAL(errno, ELOOP);
    unlink(path);
    mode_t old = umask(027);
    CU_ASSERT_EQUAL(dpt_output_open_in_place(&f, path, 0, "train.log", &err), 0);
    umask(old);
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    fputs("a\n", f);
    fclose(f);
    CU_ASSERT_EQUAL(mode_of(path), 0640);
    CU_ASSERT_EQUAL(dpt_output_open_in_place(&f, path, 1, "train.log", &err), 0);
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    CU_ASSERT_EQUAL(ftell(f), 2); /* train.log writes its header only at 0 */
    fputs("b\n", f);
    fclose(f);
    CU_ASSERT_TRUE(holds(path, "a\nb\n"));
    CU_ASSERT_EQUAL(dpt_output_open_in_place(&f, path, 0, "train.log", &err), 0);
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    fclose(f);
    CU_ASSERT_TRUE(holds(path, ""));
}

/* What a cleanup of stale temporaries may remove: a regular file of ours,
 * not a link (to a file of ours or not) or a folder. */
static void test_cleanup_only_ours(void)
{
    char dir[PATH_MAX], v[PATH_MAX], path[PATH_MAX + 16];
    fresh_dir("ours", dir, sizeof dir);
    victim(v, sizeof v);
    snprintf(path, sizeof path, "%s/file", dir);
    CU_ASSERT_EQUAL_FATAL(test_write_file(path, "x"), 0);
    CU_ASSERT_TRUE(dpt__tmp_is_ours(path));
    snprintf(path, sizeof path, "%s/link", dir);
    CU_ASSERT_EQUAL_FATAL(symlink(v, path), 0);
    CU_ASSERT_FALSE(dpt__tmp_is_ours(path));
    CU_ASSERT_FALSE(dpt__tmp_is_ours(dir));
    snprintf(path, sizeof path, "%s/missing", dir);
    CU_ASSERT_FALSE(dpt__tmp_is_ours(path));
}

int main(void)
{
    if (CU_initialize_registry() != CUE_SUCCESS) {
        return 1;
    }
    CU_pSuite s = CU_add_suite("output files in shared folders", NULL, NULL);
    CU_add_test(s, "temporary names are random, not the process id", test_names_random);
    CU_add_test(s, "the create refuses a link or a file already there", test_open_excl_refuses);
    CU_add_test(s, "files get 0666 less the umask", test_umask_applies);
    CU_add_test(s, "an atomic write replaces a planted link", test_atomic_replaces_link);
    CU_add_test(s, "a file written in place refuses a link", test_in_place_refuses_link);
    CU_add_test(s, "a cleanup removes only regular files of ours", test_cleanup_only_ours);
    return test_run_all();
}
