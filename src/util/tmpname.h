/* Temporary names in shared folders (internal to libdptrain).
 *
 * Output folders on a cluster are often writable by a whole group, so
 * another user may plant a file or a symbolic link at a name dptrain is
 * about to create, hoping that dptrain writes through it into a file of the
 * user's elsewhere. Every temporary file dptrain makes is therefore created
 * under a name that ends in DPT__RANDOM_LEN characters from getrandom(2)
 * (about 62 bits: nobody can guess it in advance), with O_CREAT | O_EXCL
 * (which fails on anything already there, a symbolic link included, and
 * never follows one), retried under a new name when a name is taken, and
 * with mode 0666 less the umask, like any file the user creates.
 *
 * Stale temporaries (a run killed while writing) are recognised by
 * DPT__RANDOM_GLOB after their fixed prefix, and removed only when
 * dpt__tmp_is_ours says they are regular files of the running user: a
 * cleanup never deletes a name this code does not make, nor someone else's
 * file. What this cannot stop (someone who can write the folder may still
 * delete or rename files in it) is in docs/SECURITY.md.
 *
 *     char tmp[PATH_MAX + 64];
 *     int fd = dpt__create_excl("out.h5" DPT__TMP_SEP, tmp, sizeof tmp);
 *     ... write, fsync, close, rename(tmp, "out.h5") ...
 */
#ifndef DPT_UTIL_TMPNAME_H
#define DPT_UTIL_TMPNAME_H

#include <stddef.h>

/* The length of the random part of a name. */
#define DPT__RANDOM_LEN 12
/* The random part as a glob(3) pattern: DPT__RANDOM_LEN times [0-9a-z]. */
#define DPT__RANDOM_GLOB                                                                   \
    "[0-9a-z][0-9a-z][0-9a-z][0-9a-z][0-9a-z][0-9a-z]"                                     \
    "[0-9a-z][0-9a-z][0-9a-z][0-9a-z][0-9a-z][0-9a-z]"
/* How many names a create tries before it gives up. With 36^12 names a
 * chance clash is all but impossible, so running out means something
 * refuses every name (nobody can take them on purpose without knowing
 * them). */
#define DPT__CREATE_TRIES 16
/* Between a file's name and the random part of its temporary file:
 * PATH.tmp-<random>. */
#define DPT__TMP_SEP ".tmp-"

/* Writes prefix followed by DPT__RANDOM_LEN random characters from
 * [0-9a-z] into name (len bytes). 0, or -1 with errno: ENAMETOOLONG when
 * name is too small, or getrandom's. */
int dpt__random_name(const char *prefix, char *name, size_t len);

/* Creates the new, empty file name for writing, as dpt__create_excl does
 * for each name it tries: O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode
 * 0666 less the umask. The descriptor, or -1 with errno (EEXIST for
 * anything already at name, a symbolic link included, which is not
 * followed). */
int dpt__open_excl(const char *name);

/* Creates a new, empty file named prefix<random> for writing (its name to
 * name, len bytes) with O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC and mode
 * 0666 less the umask, trying other names while a name is taken. The
 * descriptor, or -1 with errno (EEXIST when every name tried was taken);
 * nothing is created on failure. */
int dpt__create_excl(const char *prefix, char *name, size_t len);

/* Whether path is a regular file (not a symbolic link) owned by the
 * effective user: what a cleanup of stale temporaries may remove. */
int dpt__tmp_is_ours(const char *path);

#endif
