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
 * file at path is the old one or the new one, never a part. Nothing here
 * talks MPI; the caller decides which ranks check and agrees on the result.
 */
#ifndef DPT_IO_OUTPUT_H
#define DPT_IO_OUTPUT_H

#include <dptrain/dptrain.h>
#include <stddef.h>
#include <stdint.h>

/* Makes sure a file can be written at path: creates its missing folders,
 * refuses a path that is a directory, and writes and removes a probe file
 * next to it. what names the output in messages ("--out", "train.log"). */
int dpt_output_probe(const char *path, const char *what, struct dpt_err *err);

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

/* Writes n bytes of buf to path through PATH.tmp-PID in the same folder:
 * write, fsync, rename over path, fsync of the folder. On failure the
 * temporary file is removed, path is left as it was, and the error names the
 * file and the cause (strerror). */
int dpt_output_write_atomically(const char *path, const void *buf, size_t n,
                                struct dpt_err *err);

#endif
