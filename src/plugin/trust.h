/* Whether dptrain may run the code of a plugin file: who could have put it
 * there, and what exactly was loaded.
 *
 * A plugin is native code that runs as the user who trains. So a plugin
 * file, and the folder it is found in, must be writable by nobody but
 * their owner (no group or other write bit), and that owner must be the
 * running user (the effective uid) or root; otherwise someone else on the
 * machine could have put code there. A folder writable by others is
 * refused even with the sticky bit (as /tmp has): that bit keeps others
 * from replacing your files, not from adding their own.
 *
 * What is checked, and why that is enough against a race: the file is
 * opened once, its owner and mode are read from the open descriptor
 * (fstat), its bytes are hashed through that descriptor, and dlopen loads
 * "/proc/self/fd/N", the same open file: no one can swap the file between
 * the check and the load. Symbolic links are followed: what counts is the
 * file they lead to (its owner and mode) and the folders that hold the
 * link and the file. The folders above those are not checked (a project
 * folder writable by its group lets the group rename your folder away, but
 * what they put in its place is then owned by them, which the file check
 * refuses). Libraries the plugin itself links to are found by the system's
 * loader (RUNPATH, LD_LIBRARY_PATH, ld.so.conf) and not checked here.
 */
#ifndef DPT_PLUGIN_TRUST_H
#define DPT_PLUGIN_TRUST_H

#include <dptrain/dptrain.h>
#include <sys/stat.h>

/* A plugin file opened for loading. */
struct dpt__trusted_file {
    int fd;              /* read-only; -1 when not open */
    char fd_path[40];    /* "/proc/self/fd/N", the name to dlopen */
    char *real;          /* the file's absolute path, links resolved (malloc'ed) */
    char sha256[65];     /* the hex SHA-256 of its bytes, read through fd */
};

/* The result of a check besides 0 (safe) and a negative DPT_E* code (the
 * check could not be made: no such folder, unreadable...): the thing is
 * unsafe, and err says why, without a remedy's "or pass
 * --allow-unsafe-plugins" (the caller adds it or warns instead). */
#define DPT__UNSAFE 1

/* Opens folder dir (given as path, shown in messages as shown) and checks
 * it. *fd gets the open folder and *st its status whenever the result is 0
 * or DPT__UNSAFE; the caller closes *fd. */
int dpt__trust_dir_open(const char *dir, const char *shown, int *fd, struct stat *st,
                        struct dpt_err *err);

/* Opens name in the folder dirfd (already checked; its status dir_st),
 * which given names in messages, checks the file and the folder that
 * holds it after links are resolved (when that is not dirfd's), and
 * hashes its bytes. tf is filled whenever the result is 0 or
 * DPT__UNSAFE; release it with dpt__trusted_file_close. A name that is not
 * a regular file is an error (DPT_EPLUGIN). */
int dpt__trust_file_open(struct dpt__trusted_file *tf, int dirfd, const char *name,
                         const char *given, const struct stat *dir_st, struct dpt_err *err);

/* Closes tf's descriptor and frees its path; safe on a zeroed or closed tf. */
void dpt__trusted_file_close(struct dpt__trusted_file *tf);

#endif
