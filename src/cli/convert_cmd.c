/* dptrain convert IN OUT.h5: a data file dptrain trains on, from a CSV file,
 * a .npy file or a .npz archive. Runs without MPI.
 *
 * This file reads the command line, shows progress, and owns the output's
 * life: OUT's folder is probed first (a job that cannot write fails before
 * reading a byte), the data go to OUT.tmp-<random> (an unpredictable name,
 * created exclusively: util/tmpname.h), and only a complete, fsynced file
 * gets OUT's name; without --overwrite it is linked there (link(2) fails
 * when OUT exists, a symbolic link included, so a file that appeared
 * meanwhile is not replaced and a planted link is not written through);
 * with it, rename(2) replaces what is there, a link itself rather than
 * its target.
 * On any error or stop signal the temporary file is removed: OUT is either
 * absent, the old file, or the whole new one. The readers are
 * convert_csv.c and convert_npy.c.
 */
#include "config.h"

#include "cli/cli.h"
#include "cli/convert.h"
#include "data/npy.h"
#include "io/output.h"
#include "util/util.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char convert_usage[] =
    "usage: dptrain convert IN OUT.h5 [options]\n"
    "\n"
    "Writes a data file dptrain trains on (X and y) from a CSV file (X float32\n"
    "[N, F]), a .npy file or a .npz archive (X keeps its dtype and shape, e.g.\n"
    "uint8 [N, 28, 28]); runs without mpirun. The input is\n"
    "read in blocks (a CSV twice: checked, then written), so memory stays\n"
    "bounded whatever its size. OUT.h5 is written under a temporary name and\n"
    "renamed when complete; a failed conversion leaves no OUT.h5.\n"
    "\n"
    "input:\n"
    "  --from csv|npy|npz   the input's format (default: .npy and .npz by their\n"
    "                       first bytes, anything else is read as CSV)\n"
    "CSV:\n"
    "  --delimiter C        the field delimiter (default ','; 'tab' for a tab)\n"
    "  --header, --no-header\n"
    "                       the first record is, or is not, a header (default: a\n"
    "                       header when any of its fields is not a number)\n"
    "  --label COLUMN       the label column: a header name, or an index from 0\n"
    "                       (negative from the end); default: the last column\n"
    "  --no-label           no label column: every column is a feature, X only\n"
    "  --label-type int|float\n"
    "                       y as int64 or float32 (default: int64 when every\n"
    "                       label is written as an integer)\n"
    "  --classes A,B,...    the label's class names, in this order (y = 0, 1, ...);\n"
    "                       a label not in the list is refused. Without it, text\n"
    "                       labels become classes 0..K-1 in byte order of names\n"
    "  --keep-index         keep a first column whose header name is empty (the\n"
    "                       index pandas' to_csv writes; default: drop it)\n"
    "  --drop A,B,...       leave these columns out (header names, or indices from\n"
    "                       0, negative from the end): ids, dates, notes\n"
    "  --decimal-comma      numbers are written with a decimal comma (6,705), as\n"
    "                       with --delimiter ';' in much of Europe\n"
    "  --fill-missing VALUE|mean\n"
    "                       fill missing feature values (empty, NA, NaN, null...)\n"
    "                       with VALUE or the column's mean (default: refuse them,\n"
    "                       naming the line and column); labels are never filled.\n"
    "                       Each column's value is kept in X's attribute fill_values\n"
    "  --fill-from TRAIN.h5\n"
    "                       fill missing feature values with the values TRAIN.h5\n"
    "                       was filled with (its X's attribute fill_values, by\n"
    "                       column name): a test file with its training file's means\n"
    "numpy:\n"
    "  --y-file Y.npy       labels from a second .npy file (IN is X's .npy)\n"
    "  --x NAME, --y NAME   the .npz arrays for X and y (default: X, x or arr_0;\n"
    "                       y, Y or arr_1 when the archive has one)\n"
    "  --channels-first     X is images [N, C, H, W] (PyTorch's layout): written\n"
    "                       as [N, H, W, C], the channels-last layout dptrain reads\n"
    "output:\n"
    "  --chunk-rows N       chunked layout, N rows a chunk (default: contiguous)\n"
    "  --compress LEVEL     deflate (gzip) compression, level 1 to 9 (0: none);\n"
    "                       chunked, by --chunk-rows or about 1 MiB of rows a chunk\n"
    "  --overwrite, --force  replace OUT.h5 when it exists (default: refuse)\n"
    "  -q, --quiet          no progress and no closing line\n"
    "\n"
    "Progress goes to stderr: a line rewritten on a terminal, a line every 30 s\n"
    "otherwise. Exit status: 0 written, 1 refused (the message names the line\n"
    "and column) or failed, 2 bad command line, 128 + signal when stopped.\n";

void cli_convert_progress(struct cli_convert_run *r, const char *phase, uint64_t done,
                          uint64_t total)
{
    double now = dpt__now();
    if (r->o.quiet || now - r->last < (r->tty ? 0.2 : 30.0)) {
        return;
    }
    r->last = now;
    double pct = total ? 100.0 * (double)done / (double)total : 0.0;
    fprintf(stderr, "%sconvert %s: %s, %.0f%% (%.1f of %.1f MB), %.0f s%s", r->tty ? "\r" : "",
            r->o.in, phase, pct, (double)done / 1e6, (double)total / 1e6, now - r->start,
            r->tty ? "\033[K" : "\n");
    fflush(stderr);
}

uint64_t cli_convert_chunk_rows(const struct cli_convert_run *r, uint64_t row_bytes, uint64_t n)
{
    uint64_t c = r->o.chunk_rows;
    if (c == 0 && r->o.level > 0) {
        c = row_bytes ? CONVERT_BLOCK_BYTES / row_bytes : 1;
    }
    if (c > 0) {
        c = c < 1 ? 1 : c;
        c = c > n ? n : c;
    }
    return c;
}

uint64_t cli_convert_block_rows(const struct cli_convert_run *r, uint64_t row_bytes, uint64_t n)
{
    uint64_t b = row_bytes ? CONVERT_BLOCK_BYTES / row_bytes : n;
    uint64_t c = cli_convert_chunk_rows(r, row_bytes, n);
    if (c > 0) {
        b = b < c ? c : b / c * c;
    }
    b = b < 1 ? 1 : b;
    return b > n ? (n ? n : 1) : b;
}

void cli_convert_note(struct cli_convert_run *r, const char *fmt, ...)
{
    if (!r->notes_f && !(r->notes_f = open_memstream(&r->notes, &r->notes_len))) {
        return; /* out of memory: the conversion goes on without its notes */
    }
    va_list ap;
    va_start(ap, fmt);
    vfprintf(r->notes_f, fmt, ap);
    va_end(ap);
    fputc('\n', r->notes_f);
}

int cli_convert_create(struct cli_convert_run *r, struct dpt_err *err)
{
    return dpt_h5out_create(&r->w, r->o.out, r->tmp, r->tmp_len, err);
}

/* Parses the options after IN and OUT; returns 0, or EXIT_USAGE after
 * printing why. */
static int parse_option(struct cli_convert_opts *o, int argc, char **argv, int *i)
{
    const char *a = argv[*i];
    static const char *const with_value[] = {"--from", "--delimiter", "--label",
                                             "--label-type", "--fill-missing", "--fill-from",
                                             "--y-file", "--classes", "--drop",
                                             "--x", "--y", "--chunk-rows", "--compress", NULL};
    const char *v = NULL;
    for (const char *const *w = with_value; *w; w++) {
        if (strcmp(a, *w) == 0) {
            if (*i + 1 >= argc) {
                return cli_usage_error("convert ", "%s needs a value", a);
            }
            v = argv[++*i];
        }
    }
    char *end = NULL;
    if (strcmp(a, "--from") == 0) {
        if (strcmp(v, "csv") && strcmp(v, "npy") && strcmp(v, "npz")) {
            return cli_usage_error("convert ", "--from must be csv, npy or npz, got '%s'", v);
        }
        o->format = v;
    } else if (strcmp(a, "--delimiter") == 0) {
        o->delim = strcmp(v, "tab") == 0 || strcmp(v, "\\t") == 0 ? '\t' : v[0];
        if ((strlen(v) != 1 && o->delim != '\t') || o->delim == '"' || o->delim == '\n' ||
            o->delim == '\r') {
            return cli_usage_error("convert ", "--delimiter must be one character (not a "
                                   "quote or line break) or 'tab', got '%s'", v);
        }
    } else if (strcmp(a, "--header") == 0 || strcmp(a, "--no-header") == 0) {
        o->header = strcmp(a, "--header") == 0;
    } else if (strcmp(a, "--label") == 0) {
        o->label = v;
    } else if (strcmp(a, "--no-label") == 0) {
        o->no_label = 1;
    } else if (strcmp(a, "--label-type") == 0) {
        if (strcmp(v, "int") && strcmp(v, "float")) {
            return cli_usage_error("convert ", "--label-type must be int or float, got '%s'", v);
        }
        o->label_type = v[0];
    } else if (strcmp(a, "--fill-missing") == 0) {
        o->fill = strcmp(v, "mean") == 0 ? FILL_MEAN : FILL_VALUE;
        o->fill_value = o->fill == FILL_VALUE ? strtod(v, &end) : 0.0;
        if (o->fill == FILL_VALUE && (*end || end == v || !isfinite(o->fill_value))) {
            return cli_usage_error("convert ", "--fill-missing takes a finite number or "
                                   "'mean', got '%s'", v);
        }
    } else if (strcmp(a, "--fill-from") == 0) {
        o->fill_from = v;
    } else if (strcmp(a, "--classes") == 0) {
        if (!*v || v[0] == ',' || v[strlen(v) - 1] == ',' || strstr(v, ",,")) {
            return cli_usage_error("convert ", "--classes takes class names separated by ',' "
                                   "(none empty), got '%s'", v);
        }
        o->classes = v;
    } else if (strcmp(a, "--drop") == 0) {
        if (!v[0]) {
            return cli_usage_error("convert ", "--drop takes column names or indices "
                                   "separated by ',' (e.g. --drop id,batch_no)");
        }
        o->drop = v;
    } else if (strcmp(a, "--decimal-comma") == 0) {
        o->decimal_comma = 1;
    } else if (strcmp(a, "--keep-index") == 0) {
        o->keep_index = 1;
    } else if (strcmp(a, "--channels-first") == 0) {
        o->channels_first = 1;
    } else if (strcmp(a, "--y-file") == 0) {
        o->y_file = v;
    } else if (strcmp(a, "--x") == 0 || strcmp(a, "--y") == 0) {
        *(a[2] == 'x' ? &o->x_member : &o->y_member) = v;
    } else if (strcmp(a, "--chunk-rows") == 0) {
        unsigned long long c = strtoull(v, &end, 10);
        if (*end || end == v || c == 0 || v[0] == '-') {
            return cli_usage_error("convert ", "--chunk-rows must be a positive number, got "
                                   "'%s'", v);
        }
        o->chunk_rows = c;
    } else if (strcmp(a, "--compress") == 0) {
        long l = strtol(v, &end, 10);
        if (*end || end == v || l < 0 || l > 9) {
            return cli_usage_error("convert ", "--compress takes a level from 0 (none) to 9, "
                                   "got '%s'", v);
        }
        o->level = (int)l;
    } else if (strcmp(a, "--overwrite") == 0 || strcmp(a, "--force") == 0) {
        o->force = 1;
    } else {
        return cli_usage_error("convert ", "unknown option '%s'", a);
    }
    return 0;
}

/* The options of one input format given with another. */
static int check_format(struct cli_convert_opts *o)
{
    static const char magic[] = "\211HDF\r\n\032\n";
    if (!o->format) {
        o->format = dpt_npy_is_npz(o->in) ? "npz" : dpt_npy_is_npy(o->in) ? "npy" : "csv";
    }
    int csv = strcmp(o->format, "csv") == 0, npz = strcmp(o->format, "npz") == 0;
    const char *bad = csv ? (o->y_file ? "--y-file" : o->x_member ? "--x"
                             : o->y_member ? "--y" : o->channels_first ? "--channels-first"
                             : NULL)
                          : (o->delim != ',' ? "--delimiter" : o->header >= 0 ? "--header"
                             : o->label ? "--label" : o->label_type ? "--label-type"
                             : o->fill != FILL_REFUSE ? "--fill-missing"
                             : o->fill_from ? "--fill-from"
                             : o->classes ? "--classes" : o->keep_index ? "--keep-index"
                             : o->drop ? "--drop" : o->decimal_comma ? "--decimal-comma"
                             : NULL);
    if (!bad && !csv) {
        bad = npz && o->y_file ? "--y-file" : !npz && (o->x_member || o->y_member) ? "--x/--y"
                                                                                 : NULL;
    }
    if (bad) {
        return cli_usage_error("convert ", "%s does not apply to %s input (%s)", bad,
                               o->format, o->in);
    }
    if (o->fill_from && o->fill != FILL_REFUSE) {
        return cli_usage_error("convert ", "--fill-from and --fill-missing do not go together: "
                               "--fill-from takes every column's value from %s", o->fill_from);
    }
    if (o->fill_from) {
        o->fill = FILL_FROM;
    }
    if (o->decimal_comma && o->delim == ',') {
        return cli_usage_error("convert ", "--decimal-comma needs another delimiter than ',' "
                               "(e.g. --delimiter ';')");
    }
    if (o->classes && (o->label_type || o->no_label)) {
        return cli_usage_error("convert ", "--classes does not go with %s: class labels are "
                               "int64", o->no_label ? "--no-label" : "--label-type");
    }
    FILE *f = csv ? fopen(o->in, "rb") : NULL;
    char head[8] = "";
    if (f && fread(head, 1, 8, f) == 8 && memcmp(head, magic, 8) == 0) {
        fclose(f);
        cli_error("%s: already an HDF5 file; dptrain reads it as it is (dptrain inspect "
                  "describes it)", o->in);
        return EXIT_RUN;
    }
    if (f) {
        fclose(f);
    }
    return 0;
}

static int parse_args(struct cli_convert_opts *o, int argc, char **argv)
{
    o->delim = ',';
    o->header = -1;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            fputs(convert_usage, stdout);
            return -1;
        }
        if (strcmp(a, "-q") == 0 || strcmp(a, "--quiet") == 0) {
            o->quiet = 1;
        } else if (a[0] == '-' && a[1] != '\0') {
            int rc = parse_option(o, argc, argv, &i);
            if (rc != 0) {
                return rc;
            }
        } else if (!o->in || !o->out) {
            *(o->in ? &o->out : &o->in) = a;
        } else {
            return cli_usage_error("convert ", "unexpected argument '%s'", a);
        }
    }
    if (!o->out) {
        return cli_usage_error("convert ", "give the input and the output: dptrain convert "
                               "IN OUT.h5");
    }
    return check_format(o);
}

/* Gives the finished temporary file OUT's name (see the file comment) and
 * makes the rename durable (fsync of the folder). */
static int put_in_place(struct cli_convert_run *r, struct dpt_err *err)
{
    const char *out = r->o.out;
    int rc = 0;
    if (r->o.force) {
        rc = rename(r->tmp, out);
    } else if ((rc = link(r->tmp, out)) == 0) {
        unlink(r->tmp);
    } else if (errno != EEXIST) {
        /* A file system without hard links (some FUSE and SMB mounts). */
        struct stat st;
        rc = lstat(out, &st) == 0 ? (errno = EEXIST, -1) : rename(r->tmp, out);
    }
    if (rc != 0) {
        int e = errno;
        unlink(r->tmp);
        return dpt_err_set(err, DPT_EIO, "%s: %s%s", out, strerror(e),
                           e == EEXIST ? " (it appeared while converting; --overwrite "
                                         "replaces it)" : "");
    }
    char *dir = dpt__strdup(out);
    char *slash = dir ? strrchr(dir, '/') : NULL;
    if (slash) {
        slash[slash == dir ? 1 : 0] = '\0';
    }
    int fd = dir ? open(slash ? dir : ".", O_RDONLY | O_DIRECTORY) : -1;
    if (fd >= 0) {
        fsync(fd);
        close(fd);
    }
    free(dir);
    return 0;
}

/* Fail fast: OUT must be writable, and not there unless --overwrite. */
static int check_out(const struct cli_convert_run *r, struct dpt_err *err)
{
    struct stat st;
    if (!r->o.force && lstat(r->o.out, &st) == 0) { /* a link, even dangling, too */
        return dpt_err_set(err, DPT_EIO, "%s exists; --overwrite replaces it", r->o.out);
    }
    if (r->o.level > 0 && H5Zfilter_avail(H5Z_FILTER_DEFLATE) <= 0) {
        return dpt_err_set(err, DPT_EINVAL, "--compress: this HDF5 has no deflate filter");
    }
    return dpt_output_probe(r->o.out, "OUT", err);
}

static void print_done(const struct cli_convert_run *r)
{
    if (r->o.quiet) {
        return;
    }
    if (r->tty) {
        fputs("\r\033[K", stderr);
    }
    char layout[96] = "contiguous";
    if (r->o.level > 0) {
        snprintf(layout, sizeof layout, "chunked, deflate level %d", r->o.level);
    } else if (r->o.chunk_rows > 0) {
        snprintf(layout, sizeof layout, "chunked");
    }
    if (r->notes) {
        fputs(r->notes, stdout);
    }
    printf("%s: %s (%s), from %s in %.1f s\n", r->o.out, r->summary, layout, r->o.in,
           dpt__now() - r->start);
}

int cmd_convert(int argc, char **argv)
{
    cli_catch_stop_signals();
    struct cli_convert_run r = {0};
    int rc = parse_args(&r.o, argc, argv);
    if (rc != 0) {
        return rc < 0 ? 0 : rc;
    }
    r.tty = isatty(STDERR_FILENO);
    r.start = r.last = dpt__now();
    struct dpt_err err = {0};
    rc = check_out(&r, &err);
    r.tmp_len = strlen(r.o.out) + 64;
    r.tmp = rc == 0 ? calloc(1, r.tmp_len) : NULL;
    if (rc == 0 && !r.tmp) {
        rc = dpt_err_set(&err, DPT_ENOMEM, "out of memory");
    }
    if (rc == 0) {
        rc = strcmp(r.o.format, "csv") == 0 ? cli_convert_csv(&r, &err) : cli_convert_npy(&r, &err);
    }
    if (rc == 0 && r.w) {
        rc = dpt_h5out_close(r.w, &err);
        r.w = NULL;
        if (rc == 0) {
            rc = put_in_place(&r, &err);
        } else {
            unlink(r.tmp);
        }
    }
    dpt_h5out_abandon(r.w);
    free(r.tmp);
    if (r.notes_f) {
        fclose(r.notes_f); /* sets r.notes */
    }
    if (rc == DPT_ESIGNAL) {
        if (r.tty) {
            fputs("\n", stderr);
        }
        cli_error("convert %s: stopped by %s; %s not written", r.o.in,
                  dpt__signal_name(dpt_stop_requested()), r.o.out);
        free(r.notes);
        return 128 + dpt_stop_requested();
    }
    if (rc < 0) {
        if (r.tty && !r.o.quiet) {
            fputs("\r\033[K", stderr);
        }
        cli_error("%s", err.msg);
        free(r.notes);
        return EXIT_RUN;
    }
    print_done(&r);
    free(r.notes);
    return 0;
}
