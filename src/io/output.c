/* Output files: start-up probes, free space, atomic writes through
 * exclusively created temporaries, in-place writes that refuse a symbolic
 * link. See output.h. */
#include "config.h"

#include "io/output.h"
#include "util/tmpname.h"
#include "util/util.h"

#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

/* The folder of path ("." for a bare name) into dir. */
static void folder_of(const char *path, char *dir, size_t len)
{
    char copy[PATH_MAX];
    snprintf(copy, sizeof copy, "%s", path);
    snprintf(dir, len, "%s", dirname(copy));
}

/* mkdir -p dir. On failure, errno is set and *bad names the component that
 * could not be made (or that is not a folder). */
static int make_folders(char *dir, const char **bad)
{
    *bad = dir;
    struct stat st;
    if (stat(dir, &st) == 0) {
        errno = S_ISDIR(st.st_mode) ? 0 : ENOTDIR;
        return S_ISDIR(st.st_mode) ? 0 : -1;
    }
    /* Make every component in turn; an existing one is fine, and the first
     * that cannot be made is the one to name. */
    for (char *p = dir + 1; *p; p++) {
        if (*p != '/') {
            continue;
        }
        *p = '\0';
        int rc = mkdir(dir, 0777);
        int e = errno;
        int is_dir = stat(dir, &st) == 0 && S_ISDIR(st.st_mode);
        if (rc < 0 && !is_dir) {
            errno = e == EEXIST ? ENOTDIR : e;
            return -1; /* *bad is dir, cut at this component */
        }
        *p = '/';
    }
    if (mkdir(dir, 0777) < 0 && !(errno == EEXIST && stat(dir, &st) == 0 && S_ISDIR(st.st_mode))) {
        if (errno == EEXIST) {
            errno = ENOTDIR;
        }
        return -1;
    }
    return 0;
}

/* Whether the file at path (lstat) is the existing file at name (stat). */
static int is_file(const struct stat *out, const char *name)
{
    struct stat st;
    return stat(name, &st) == 0 && st.st_dev == out->st_dev && st.st_ino == out->st_ino;
}

int dpt_output_not_input(const char *path, const char *what, const struct dpt_input *in,
                         size_t n, struct dpt_err *err)
{
    struct stat out;
    if (!path || lstat(path, &out) < 0 || S_ISLNK(out.st_mode)) {
        return 0; /* nothing there yet, or a link the write replaces */
    }
    for (size_t i = 0; i < n; i++) {
        const char *hit = NULL;
        glob_t g = {0};
        if (!in[i].path) {
            continue;
        }
        if (is_file(&out, in[i].path)) {
            hit = in[i].path;
        } else if (strpbrk(in[i].path, "*?[") && glob(in[i].path, 0, NULL, &g) == 0) {
            for (size_t k = 0; !hit && k < g.gl_pathc; k++) {
                hit = is_file(&out, g.gl_pathv[k]) ? g.gl_pathv[k] : NULL;
            }
        }
        char shown[8192];
        int rc = hit ? dpt_err_set(err, DPT_EIO, "%s %s is %s (%s): writing it would destroy "
                                   "what this run reads; give %s another file", what,
                                   dpt__path_shown(path, shown, sizeof shown), in[i].what, hit,
                                   what)
                     : 0;
        globfree(&g);
        if (rc < 0) {
            return rc;
        }
    }
    return 0;
}

int dpt_output_probe(const char *path, const char *what, struct dpt_err *err)
{
    char shown[8192], dir[PATH_MAX], probe[PATH_MAX + 64];
    dpt__path_shown(path, shown, sizeof shown);
    struct stat st;
    if (stat(path, &st) == 0 && S_ISDIR(st.st_mode)) {
        return dpt_err_set(err, DPT_EIO, "%s %s: is a folder; give a file name", what, shown);
    }
    folder_of(path, dir, sizeof dir);
    const char *bad;
    if (make_folders(dir, &bad) < 0) {
        int e = errno;
        char bshown[8192];
        return dpt_err_set(err, DPT_EIO, "%s %s: cannot make its folder %s: %s", what, shown,
                           dpt__path_shown(bad, bshown, sizeof bshown), strerror(e));
    }
    /* A real file with a byte in it: creating alone would pass on a full
     * disk, and some filesystems (ext4) refuse the write already. */
    char prefix[PATH_MAX + 32];
    snprintf(prefix, sizeof prefix, "%s/.dptrain-probe-", dir);
    int fd = dpt__create_excl(prefix, probe, sizeof probe);
    int rc = 0;
    if (fd < 0 || write(fd, "\n", 1) != 1) {
        int e = errno;
        char dshown[8192];
        rc = dpt_err_set(err, DPT_EIO, "%s %s: cannot write a file in %s: %s", what, shown,
                         dpt__path_shown(dir, dshown, sizeof dshown), strerror(e));
    }
    if (fd >= 0) {
        close(fd);
        unlink(probe);
    }
    return rc;
}

/* Free bytes for an unprivileged writer on the filesystem of path's folder,
 * and its id; -1 with errno when statvfs fails. */
static int free_space(const char *path, uint64_t *bytes, unsigned long *fsid)
{
    char dir[PATH_MAX];
    folder_of(path, dir, sizeof dir);
    struct statvfs vs;
    if (statvfs(dir, &vs) < 0) {
        return -1;
    }
    *bytes = (uint64_t)vs.f_bavail * (uint64_t)vs.f_frsize;
    *fsid = vs.f_fsid;
    return 0;
}

int dpt_output_space(const struct dpt_output_need *needs, size_t n, struct dpt_err *err)
{
    for (size_t i = 0; i < n; i++) {
        uint64_t avail;
        unsigned long fsid;
        if (!needs[i].path || free_space(needs[i].path, &avail, &fsid) < 0) {
            continue; /* the probe has said what is wrong with the folder */
        }
        /* The outputs sharing this filesystem, named in one message. */
        uint64_t need = 0;
        char names[256] = "";
        size_t u = 0;
        for (size_t j = 0; j < n; j++) {
            uint64_t a2;
            unsigned long id2;
            if (needs[j].path && free_space(needs[j].path, &a2, &id2) == 0 && id2 == fsid) {
                need += needs[j].bytes;
                u += (size_t)snprintf(names + u, u < sizeof names ? sizeof names - u : 0,
                                      "%s%s %s (about %.1f MB)", need == needs[j].bytes ? "" : " and ",
                                      needs[j].what, needs[j].path, (double)needs[j].bytes / 1e6);
            }
        }
        if (avail < need) {
            char dir[PATH_MAX], shown[8192];
            folder_of(needs[i].path, dir, sizeof dir);
            return dpt_err_set(err, DPT_EIO, "not enough free space for %s: %s has %.1f MB "
                               "free, %.1f MB are needed (No space left on device)", names,
                               dpt__path_shown(dir, shown, sizeof shown), (double)avail / 1e6,
                               (double)need / 1e6);
        }
    }
    return 0;
}

/* fsync a file or folder by path; 0 or -1 with errno. */
static int sync_path(const char *path, int dir)
{
    int fd = open(path, dir ? O_RDONLY | O_DIRECTORY : O_RDONLY);
    if (fd < 0) {
        return -1;
    }
    int rc = fsync(fd);
    close(fd);
    return rc;
}

/* All n bytes to fd (write may write less than asked); 0 or -1 with errno.
 * A short write without an error (a disk filling up) reports ENOSPC. */
static int write_all(int fd, const char *buf, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, buf, n);
        if (w < 0 && errno == EINTR) {
            continue;
        }
        if (w <= 0) {
            if (w == 0) {
                errno = ENOSPC;
            }
            return -1;
        }
        buf += w;
        n -= (size_t)w;
    }
    return 0;
}

int dpt_output_write_atomically(const char *path, const void *buf, size_t n,
                                struct dpt_err *err)
{
    char tmp[PATH_MAX + 64], shown[8192];
    int fd = dpt_output_create_tmp(path, tmp, sizeof tmp, err);
    if (fd < 0) {
        return fd;
    }
    const char *step = "";
    int rc = 0;
    if (write_all(fd, buf, n) < 0) {
        rc = -1;
        step = "writing failed";
    }
    if (rc == 0 && fsync(fd) < 0) {
        rc = -1;
        step = "fsync failed";
    }
    int e = errno;
    if (close(fd) < 0 && rc == 0) { /* NFS reports a failed write at close */
        rc = -1;
        e = errno;
        step = "close failed";
    }
    if (rc < 0) {
        unlink(tmp);
        return dpt_err_set(err, DPT_EIO, "%s: %s (%zu bytes, temporary file %s): %s; the file "
                           "there before, if any, is unchanged",
                           dpt__path_shown(path, shown, sizeof shown), step, n, tmp,
                           strerror(e));
    }
    if (rename(tmp, path) < 0) {
        e = errno;
        unlink(tmp);
        return dpt_err_set(err, DPT_EIO, "%s: cannot rename %s to it: %s",
                           dpt__path_shown(path, shown, sizeof shown), tmp, strerror(e));
    }
    char dir[PATH_MAX];
    folder_of(path, dir, sizeof dir);
    sync_path(dir, 1); /* best effort: make the rename durable */
    return 0;
}

int dpt_output_create_tmp(const char *path, char *tmp, size_t len, struct dpt_err *err)
{
    char prefix[PATH_MAX + 32], shown[8192];
    int n = snprintf(prefix, sizeof prefix, "%s" DPT__TMP_SEP, path);
    int fd = -1;
    if (n < 0 || (size_t)n >= sizeof prefix) {
        errno = ENAMETOOLONG;
    } else {
        fd = dpt__create_excl(prefix, tmp, len);
    }
    if (fd >= 0) {
        return fd;
    }
    int e = errno;
    char dir[PATH_MAX], dshown[8192];
    folder_of(path, dir, sizeof dir);
    return dpt_err_set(err, DPT_EIO, "%s: cannot create a temporary file %s<random> in %s: "
                       "%s%s; the file there before, if any, is unchanged",
                       dpt__path_shown(path, shown, sizeof shown), DPT__TMP_SEP,
                       dpt__path_shown(dir, dshown, sizeof dshown), strerror(e),
                       e == EEXIST ? " (every name tried was taken)" : "");
}

/* The error for a symbolic link at path, which dptrain will not write
 * through (see output.h). */
static int refuse_link(const char *path, const char *what, struct dpt_err *err)
{
    char shown[8192];
    return dpt_err_set(err, DPT_EIO, "%s %s: is a symbolic link; dptrain does not write "
                       "through links in case someone else planted it; remove it or give "
                       "another path", what, dpt__path_shown(path, shown, sizeof shown));
}

int dpt_output_open_in_place(FILE **out, const char *path, int append, const char *what,
                             struct dpt_err *err)
{
    *out = NULL;
    int flags = O_WRONLY | O_CREAT | O_NOFOLLOW | O_CLOEXEC | (append ? O_APPEND : O_TRUNC);
    int fd = open(path, flags, 0666);
    int e = errno;
    struct stat st;
    if (fd < 0 && e == ELOOP && lstat(path, &st) == 0 && S_ISLNK(st.st_mode)) {
        return refuse_link(path, what, err);
    }
    /* fopen's "a" starts at the end (ftell tells an empty log from one to
     * go on); fdopen leaves the offset where open put it, at 0. */
    if (fd >= 0 && append && lseek(fd, 0, SEEK_END) < 0) {
        close(fd);
        fd = -1;
    }
    FILE *f = fd >= 0 ? fdopen(fd, append ? "a" : "w") : NULL;
    if (!f) {
        e = errno;
        if (fd >= 0) {
            close(fd);
        }
        char shown[8192];
        return dpt_err_set(err, DPT_EIO, "%s %s: %s", what,
                           dpt__path_shown(path, shown, sizeof shown), strerror(e));
    }
    *out = f;
    return 0;
}

FILE *dpt_output_open_read_nofollow(const char *path)
{
    int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    FILE *f = fd >= 0 ? fdopen(fd, "r") : NULL;
    if (!f && fd >= 0) {
        int e = errno;
        close(fd);
        errno = e;
    }
    return f;
}
