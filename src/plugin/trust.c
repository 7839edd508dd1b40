/* Whether dptrain may run the code of a plugin file: see trust.h for the
 * rules and what they leave out. The SHA-256 comes from nettle
 * (nettle-dev); this file only feeds it the bytes.
 */
#include "config.h"

#include "plugin/trust.h"
#include "util/util.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <nettle/sha2.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* A user's name for messages: "alice", or "uid 1234" when it has none. */
static const char *user_name(uid_t uid, char *buf, size_t len)
{
    const struct passwd *pw = getpwuid(uid);
    if (pw && pw->pw_name) {
        snprintf(buf, len, "%s", pw->pw_name);
    } else {
        snprintf(buf, len, "uid %lu", (unsigned long)uid);
    }
    return buf;
}

/* "group 'staff'" (or "group 1234") for messages. */
static const char *group_name(gid_t gid, char *buf, size_t len)
{
    const struct group *gr = getgrgid(gid);
    if (gr && gr->gr_name) {
        snprintf(buf, len, "group '%s'", gr->gr_name);
    } else {
        snprintf(buf, len, "group %lu", (unsigned long)gid);
    }
    return buf;
}

/* Judges the owner and mode of a folder or file: 0, or DPT__UNSAFE with
 * the reason in err. what is "plugin folder" or "plugin file", subject
 * the path as messages show it, fix_path the path for the chmod/chown
 * remedy (absolute where known). */
static int judge(const struct stat *st, const char *what, const char *subject,
                 const char *fix_path, struct dpt_err *err)
{
    int is_dir = S_ISDIR(st->st_mode);
    const char *harm = is_dir ? "put code there" : "change the code";
    char owner[128], me[128];
    uid_t uid = geteuid();
    if (st->st_uid != uid && st->st_uid != 0) {
        char whom[200];
        if (uid == 0) {
            snprintf(whom, sizeof whom, "not by you (root)");
        } else {
            snprintf(whom, sizeof whom, "neither by you (%s) nor by root",
                     user_name(uid, me, sizeof me));
        }
        dpt_err_set(err, DPT_EPLUGIN, "%s %s: owned by %s, %s: its owner could %s that "
                    "dptrain would run as you; fix: use a copy of your own", what, subject,
                    user_name(st->st_uid, owner, sizeof owner), whom, harm);
        return DPT__UNSAFE;
    }
    mode_t w = st->st_mode & (S_IWGRP | S_IWOTH);
    if (!w) {
        return 0;
    }
    char group[160];
    group_name(st->st_gid, group, sizeof group);
    const char *who = w == S_IWGRP ? "its group" : w == S_IWOTH ? "everyone" : "its group and everyone";
    char anyone[200];
    if (w & S_IWOTH) {
        snprintf(anyone, sizeof anyone, "anyone on this machine");
    } else {
        snprintf(anyone, sizeof anyone, "anyone in %s", group);
    }
    /* The sticky bit (as on /tmp) keeps others from replacing files that
     * are not theirs, not from adding their own. */
    const char *sticky = is_dir && (st->st_mode & S_ISVTX)
                             ? "; the sticky bit stops others replacing your files, not adding "
                               "theirs"
                             : "";
    dpt_err_set(err, DPT_EPLUGIN, "%s %s: writable by %s (mode %04o%s): %s could %s that "
                "dptrain would run as you; fix with chmod go-w %s", what, subject, who,
                (unsigned)(st->st_mode & 07777), sticky, anyone, harm, fix_path);
    return DPT__UNSAFE;
}

int dpt__trust_dir_open(const char *dir, const char *shown, int *fd, struct stat *st,
                        struct dpt_err *err)
{
    *fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (*fd < 0) {
        return dpt_err_set(err, DPT_EIO, "plugin folder %s: %s", shown, strerror(errno));
    }
    if (fstat(*fd, st) != 0) {
        int e = errno;
        close(*fd);
        *fd = -1;
        return dpt_err_set(err, DPT_EIO, "plugin folder %s: %s", shown, strerror(e));
    }
    char real[PATH_MAX];
    return judge(st, "plugin folder", shown, realpath(dir, real) ? real : dir, err);
}

/* The SHA-256 of everything fd holds, as 64 hex digits into hex. */
static int hash_fd(int fd, char hex[65], const char *shown, struct dpt_err *err)
{
    struct sha256_ctx ctx;
    sha256_init(&ctx);
    static const size_t chunk = 1 << 16;
    unsigned char *buf = malloc(chunk);
    if (!buf) {
        return dpt_err_set(err, DPT_ENOMEM, "out of memory");
    }
    off_t at = 0;
    ssize_t n;
    while ((n = pread(fd, buf, chunk, at)) != 0) {
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0) {
            free(buf);
            return dpt_err_set(err, DPT_EIO, "plugin file %s: %s", shown, strerror(errno));
        }
        sha256_update(&ctx, (size_t)n, buf);
        at += n;
    }
    free(buf);
    unsigned char digest[SHA256_DIGEST_SIZE];
    sha256_digest(&ctx, sizeof digest, digest);
    for (size_t i = 0; i < sizeof digest; i++) {
        snprintf(hex + 2 * i, 3, "%02x", digest[i]);
    }
    return 0;
}

/* The folder that holds the file tf->real: checked unless it is the
 * folder already checked (dir_st), as it is unless a link led elsewhere. */
static int judge_real_folder(const struct dpt__trusted_file *tf, const struct stat *dir_st,
                             struct dpt_err *err)
{
    char folder[PATH_MAX];
    snprintf(folder, sizeof folder, "%s", tf->real);
    char *slash = strrchr(folder, '/');
    if (slash == folder) {
        slash[1] = '\0'; /* the file is in / */
    } else if (slash) {
        *slash = '\0';
    }
    struct stat st;
    if (stat(folder, &st) != 0) {
        return dpt_err_set(err, DPT_EIO, "plugin folder %s: %s", folder, strerror(errno));
    }
    if (st.st_dev == dir_st->st_dev && st.st_ino == dir_st->st_ino) {
        return 0;
    }
    return judge(&st, "plugin folder", folder, folder, err);
}

int dpt__trust_file_open(struct dpt__trusted_file *tf, int dirfd, const char *name,
                         const char *given, const struct stat *dir_st, struct dpt_err *err)
{
    char shown[PATH_MAX + 64];
    dpt__path_shown(given, shown, sizeof shown);
    *tf = (struct dpt__trusted_file){.fd = -1};
    /* O_NONBLOCK: a FIFO named like a plugin must not hang the open. */
    tf->fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (tf->fd < 0) {
        return dpt_err_set(err, DPT_EIO, "plugin file %s: %s", shown, strerror(errno));
    }
    struct stat st;
    if (fstat(tf->fd, &st) != 0) {
        return dpt_err_set(err, DPT_EIO, "plugin file %s: %s", shown, strerror(errno));
    }
    if (!S_ISREG(st.st_mode)) {
        return dpt_err_set(err, DPT_EPLUGIN, "plugin file %s: not a regular file", shown);
    }
    snprintf(tf->fd_path, sizeof tf->fd_path, "/proc/self/fd/%d", tf->fd);
    char real[PATH_MAX];
    ssize_t n = readlink(tf->fd_path, real, sizeof real - 1);
    if (n <= 0 || real[0] != '/') {
        return dpt_err_set(err, DPT_EIO, "plugin file %s: cannot tell where it is (%s: %s); "
                           "dptrain needs /proc", shown, tf->fd_path,
                           n < 0 ? strerror(errno) : "not a path");
    }
    real[n] = '\0';
    tf->real = dpt__strdup(real);
    if (!tf->real) {
        return dpt_err_set(err, DPT_ENOMEM, "out of memory");
    }
    int rc = hash_fd(tf->fd, tf->sha256, shown, err);
    if (rc < 0) {
        return rc;
    }
    /* The file's own path in the message when a link or a relative name
     * led to it: that is the one to chmod. */
    char subject[2 * PATH_MAX + 64];
    if (strcmp(given, real) == 0) {
        snprintf(subject, sizeof subject, "%s", given);
    } else {
        snprintf(subject, sizeof subject, "%s (resolved as %s)", given, real);
    }
    rc = judge(&st, "plugin file", subject, real, err);
    if (rc == 0) {
        rc = judge_real_folder(tf, dir_st, err);
    }
    return rc;
}

void dpt__trusted_file_close(struct dpt__trusted_file *tf)
{
    if (tf->fd >= 0) {
        close(tf->fd);
    }
    tf->fd = -1;
    free(tf->real);
    tf->real = NULL;
}
