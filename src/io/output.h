/* Output files before and while they are written: the start-up checks that
 * let a job that cannot write its result fail within seconds, and the one
 * function that puts bytes on disk for dptrain's own files.
 *
 * dpt_output_probe makes the folder of an output (like mkdir -p) and
 * creates, writes and removes a small file in it, so that a read-only or
 * missing folder, a path under a regular file, a directory where a file
 * should go or a full disk is found before the first step, not after the
 * last. dpt_output_space compares what will be written with what the
 * filesystem has free (statvfs). dpt_output_write_atomically writes a
 * buffer through a temporary file (write, fsync, rename, fsync of the
 * folder): every failure has an errno, which the message quotes, and the
 * file at path is the old one or the new one, never a part. Temporary
 * files get unpredictable names and are created exclusively
 * (util/tmpname.h), and files written in place
 * refuse a symbolic link, so that someone else who can write an output
 * folder cannot make dptrain write through a link they planted there.
 * Nothing here talks MPI; the caller decides which ranks check and agrees on the result.
 */
#ifndef DPT_IO_OUTPUT_H
#define DPT_IO_OUTPUT_H

#include <dptrain/dptrain.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* Makes sure a file can be written at path: creates its missing folders,
 * refuses a path that is a directory, and writes and removes a probe file
 * next to it. what names the output in messages ("--out", "train.log"). */
int dpt_output_probe(const char *path, const char *what, struct dpt_err *err);

/* A file a command reads (or a glob pattern of files, as data.train takes),
 * and what it is in messages ("data.train", "the model file"). */
struct dpt_input {
    const char *path; /* NULL: skipped */
    const char *what;
};

/* Refuses an output at path that is one of the n inputs (the same existing
 * file, through any name; a glob's matches included): writing it would
 * destroy what the command reads. A symbolic link at path is not its
 * target: written through a temporary file and a rename, the link is
 * replaced and the target kept. what names the output ("--out"). */
int dpt_output_not_input(const char *path, const char *what, const struct dpt_input *in,
                         size_t n, struct dpt_err *err);

/* One output and the bytes it will need on its filesystem. */
struct dpt_output_need {
    const char *path; /* NULL: skipped */
    const char *what; /* "--out", "--checkpoint" */
    uint64_t bytes;
};

/* Whether the filesystems of the n outputs have room for what they need
 * (outputs on one filesystem add up). The error names the outputs, the
 * folder, what is free and what is needed. */
int dpt_output_space(const struct dpt_output_need *needs, size_t n, struct dpt_err *err);

/* Writes n bytes of buf to path through a temporary file made by
 * dpt_output_create_tmp in the same folder: write, fsync, rename over path,
 * fsync of the folder. rename replaces whatever is at path, a symbolic link
 * included, and never writes through it. On failure the temporary file is
 * removed, path is left as it was, and the error names the file and the
 * cause (strerror). */
int dpt_output_write_atomically(const char *path, const void *buf, size_t n,
                                struct dpt_err *err);

/* Creates a new, empty file PATH.tmp-<random> for writing and returns its
 * descriptor (>= 0, close-on-exec); its name goes to tmp (len bytes, at
 * least strlen(path) + 32). The name is unpredictable and the file is
 * created exclusively, never through a symbolic link, with mode 0666 less
 * the umask (util/tmpname.h); a taken name is retried with another. On failure, a negative DPT_E* code and an error naming path, the
 * folder's cause (strerror) and what was tried; nothing was created. */
int dpt_output_create_tmp(const char *path, char *tmp, size_t len, struct dpt_err *err);

/* Opens path for writing in place, appending (append != 0; ftell then
 * gives the size it had, as after fopen's "a") or from empty,
 * creating it (mode 0666 less the umask) when missing, as a FILE (*out,
 * the caller fcloses it). A symbolic link at path is refused rather than
 * written through: someone who can write the folder may have planted it to
 * make dptrain overwrite a file of the user's elsewhere, and dptrain cannot
 * tell who made it. The error names the output (what: "train.log") and the
 * file, and says to remove the link or give another path. */
int dpt_output_open_in_place(FILE **out, const char *path, int append, const char *what,
                             struct dpt_err *err);

/* Opens path for reading without following a symbolic link at its last
 * component (the same rule as dpt_output_open_in_place, for a file dptrain
 * reads and then rewrites). NULL with errno (ELOOP for a link). */
FILE *dpt_output_open_read_nofollow(const char *path);

#endif
