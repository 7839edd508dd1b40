/* `dptrain convert`: what its parts share. convert_cmd.c reads the command
 * line, shows progress, and owns the output's life (a temporary name,
 * renamed at the end only after everything was written and fsynced);
 * convert_csv.c and convert_npy.c read their input and write X and y
 * through data/h5_writer.h. */
#ifndef DPT_CLI_CONVERT_H
#define DPT_CLI_CONVERT_H

#include "data/h5_writer.h"

#include <stdint.h>
#include <stdio.h>

/* Values of the input are written in blocks of about this many bytes, so
 * memory stays bounded whatever the input's size (a block of X, one of y,
 * and the chunk in HDF5's cache when the output is chunked). */
#define CONVERT_BLOCK_BYTES ((size_t)1 << 20)

enum cli_convert_fill { FILL_REFUSE, FILL_VALUE, FILL_MEAN, FILL_FROM };

struct cli_convert_opts {
    const char *in, *out;
    const char *format;     /* "csv", "npy", "npz", or NULL: from the file */
    char delim;             /* CSV */
    int header;             /* CSV: -1 detect, 0 none, 1 the first record */
    const char *label;      /* CSV: a name or an index (negative from the end); NULL: last */
    int no_label;           /* write X only */
    char label_type;        /* 0 detect, 'i' integer, 'f' float */
    enum cli_convert_fill fill; /* CSV: missing feature values */
    double fill_value;
    const char *fill_from;  /* CSV: --fill-from TRAIN.h5: the values TRAIN.h5 was filled with */
    const char *classes;    /* CSV: --classes A,B,C: the label's class names, in order */
    int keep_index;         /* CSV: keep a first column with no name (pandas' index) */
    const char *drop;       /* CSV: --drop A,B,...: columns (names or indices) left out */
    int decimal_comma;      /* CSV: numbers are written 6,705 (with --delimiter ';' or tab) */
    const char *x_member, *y_member; /* .npz members; NULL: X/x/arr_0, y/Y/arr_1 */
    const char *y_file;              /* .npy: the labels' own file */
    int channels_first;              /* X is [N, C, H, W]: written [N, H, W, C] */
    uint64_t chunk_rows;             /* 0: contiguous (unless compressed) */
    int level;                       /* deflate level, 0: none */
    int force, quiet;
};

struct cli_convert_run {
    struct cli_convert_opts o;
    char *tmp;            /* OUT.tmp-<random>, made by dpt_h5out_create */
    size_t tmp_len;       /* bytes at tmp */
    struct dpt_h5out *w;  /* open while writing */
    char summary[512];    /* "X [N, F] float32, y [N] int64": for the last line */
    /* Lines printed before it (a dropped index, filled values, the label's
     * classes): written to notes_f, a memory stream opened by the first
     * cli_convert_note, into notes (malloc'ed, notes_len bytes). */
    FILE *notes_f;
    char *notes;
    size_t notes_len;
    /* Progress (convert_progress): a line rewritten on a terminal, a line
     * now and then in a batch log. */
    int tty;
    double start, last;
};

/* Reports how far a phase is ("reading", "writing"): on a terminal at most
 * 5 times a second, elsewhere at most every 30 s, never with --quiet. */
void cli_convert_progress(struct cli_convert_run *r, const char *phase, uint64_t done,
                      uint64_t total);

/* Appends a line (printf's fmt, no newline) to what convert prints before
 * its closing line (r->notes). */
void cli_convert_note(struct cli_convert_run *r, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Creates the temporary output file (r->w). */
int cli_convert_create(struct cli_convert_run *r, struct dpt_err *err);

/* The rows of a block of `row_bytes`-byte rows (at least 1), a multiple of
 * the chunk's rows when the output is chunked, so that each chunk is
 * written whole, once. */
uint64_t cli_convert_block_rows(const struct cli_convert_run *r, uint64_t row_bytes, uint64_t n);

/* The chunk rows for a dataset of n rows of row_bytes bytes: --chunk-rows,
 * or about 1 MiB of rows when compressed without it, or 0 (contiguous). */
uint64_t cli_convert_chunk_rows(const struct cli_convert_run *r, uint64_t row_bytes, uint64_t n);

/* Each returns 0, or an error (DPT_ESIGNAL when a stop signal came). */
int cli_convert_csv(struct cli_convert_run *r, struct dpt_err *err);
int cli_convert_npy(struct cli_convert_run *r, struct dpt_err *err);

#endif
