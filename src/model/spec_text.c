/* The model file as text, before libconfig sees it: reading it, and
 * widening its integers.
 *
 * Reading: the file is read here rather than by config_read_file, so that
 * a folder, a device that never ends, a binary file or a file too large to
 * be a model file gets a message saying which (with errno's text), and so
 * that rank 0 can broadcast the user's own bytes: every rank then parses
 * the same text and quotes the same lines (src/cli/train_cmd.c).
 *
 * Widening: libconfig 1.5 stores an integer written without the suffix L
 * in 32 bits and silently keeps the low bits of a larger one
 * ("batch = 4294967296;" reads as 0, "units = 4294967304;" as 8). So
 * before parsing, every integer literal outside the 32-bit range gets the
 * L it lacks, which makes libconfig read it as the 64-bit number written;
 * one that does not fit in 64 bits either is refused with its line. The
 * scan skips strings and comments, and leaves names (conv2d, l2) and
 * floating-point numbers alone. Line numbers are unchanged: only an L is
 * inserted, never a newline.
 */
#include "config.h"

#include "model/spec_text.h"
#include "util/util.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int dpt__spec_read_file(const char *path, char **text, struct dpt_err *err)
{
    char shown[8192];
    *text = NULL;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0) {
        int e = errno;
        if (fd >= 0) {
            close(fd);
        }
        return dpt_err_set(err, DPT_EIO, "%s: cannot read the model file: %s",
                           dpt__path_shown(path, shown, sizeof shown), strerror(e));
    }
    if (S_ISDIR(st.st_mode)) {
        close(fd);
        return dpt_err_set(err, DPT_EIO, "%s: cannot read the model file: it is a folder",
                           dpt__path_shown(path, shown, sizeof shown));
    }
    /* One byte more than the limit tells a file at the limit from a longer
     * one, also for a device or pipe whose size stat does not know. */
    char *buf = malloc(DPT_SPEC_MAX_BYTES + 2);
    size_t n = 0;
    ssize_t got = 1;
    while (buf && n <= DPT_SPEC_MAX_BYTES && got > 0) {
        got = read(fd, buf + n, DPT_SPEC_MAX_BYTES + 1 - n);
        if (got < 0 && errno == EINTR) {
            got = 1;
        } else if (got > 0) {
            n += (size_t)got;
        }
    }
    int e = errno;
    close(fd);
    int rc = 0;
    if (!buf) {
        rc = dpt_err_set(err, DPT_ENOMEM, "out of memory");
    } else if (got < 0) {
        rc = dpt_err_set(err, DPT_EIO, "%s: cannot read the model file: %s",
                         dpt__path_shown(path, shown, sizeof shown), strerror(e));
    } else if (n > DPT_SPEC_MAX_BYTES) {
        rc = dpt_err_set(err, DPT_EFORMAT, "%s: more than %d bytes: a model file is a few "
                         "KB of text (is this the model file?)", path, DPT_SPEC_MAX_BYTES);
    } else if (memchr(buf, '\0', n)) {
        /* libconfig would stop at the NUL and parse what comes before it. */
        const char *nul = memchr(buf, '\0', n);
        int line = 1;
        for (const char *p = buf; p < nul; p++) {
            line += *p == '\n';
        }
        rc = dpt_err_set(err, DPT_EFORMAT, "%s:%d: a NUL byte: a model file is text (is "
                         "this a binary file?)", path, line);
    }
    if (rc < 0) {
        free(buf);
        return rc;
    }
    buf[n] = '\0';
    *text = buf;
    return 0;
}

/* Past a comment or string starting at p, or p itself when neither starts
 * there; counts the newlines crossed into *line. */
static const char *skip_comment_or_string(const char *p, int *line)
{
    const char *end = NULL;
    if (p[0] == '#' || (p[0] == '/' && p[1] == '/')) {
        end = p + strcspn(p, "\n");
    } else if (p[0] == '/' && p[1] == '*') {
        end = strstr(p + 2, "*/");
        end = end ? end + 2 : p + strlen(p);
    } else if (p[0] == '"') {
        end = p + 1;
        while (*end && *end != '"') {
            end += end[0] == '\\' && end[1] ? 2 : 1;
        }
        end += *end == '"';
    } else {
        return p;
    }
    for (const char *q = p; q < end; q++) {
        *line += *q == '\n';
    }
    return end;
}

/* The literal at p (start is p or its sign), p being a digit: its end in
 * *end, and what it is: an integer without the suffix L whose value does
 * not fit in 32 bits (1), an integer that does not fit in 64 bits with or
 * without the suffix (-1), anything else (0). Hexadecimal literals count
 * as unsigned, as libconfig reads them. */
static int classify_number(const char *start, const char *p, const char **end)
{
    const char *q = p;
    int hex = q[0] == '0' && (q[1] == 'x' || q[1] == 'X');
    q += hex ? 2 : 0;
    int is_float = 0;
    while (isalnum((unsigned char)*q) || *q == '.' ||
           ((*q == '+' || *q == '-') && !hex && (q[-1] == 'e' || q[-1] == 'E'))) {
        is_float |= !hex && (*q == '.' || *q == 'e' || *q == 'E');
        q++;
    }
    *end = q;
    if (is_float) {
        return 0;
    }
    /* With the suffix, only the 64-bit range is left to check: libconfig
     * would keep the nearest 64-bit value without a word. */
    const char *digits_end = q;
    while (digits_end[-1] == 'L') {
        digits_end--;
    }
    int suffixed = digits_end != q;
    errno = 0;
    char *stop;
    if (hex) {
        unsigned long long v = strtoull(p, &stop, 16);
        return stop != digits_end ? 0 : errno == ERANGE || v > INT64_MAX ? -1
                                        : !suffixed && v > INT32_MAX;
    }
    long long v = strtoll(start, &stop, 10);
    return stop != digits_end ? 0 : errno == ERANGE ? -1
                                    : !suffixed && (v < INT32_MIN || v > INT32_MAX);
}

int dpt__config_widen_ints(const char *text, const char *name, char **out, struct dpt_err *err)
{
    /* At most one L per three characters of input ("4294967296" is ten). */
    size_t len = strlen(text);
    char *buf = malloc(len + len / 3 + 2);
    if (!buf) {
        return dpt_err_set(err, DPT_ENOMEM, "out of memory");
    }
    size_t n = 0;
    int line = 1;
    const char *p = text;
    while (*p) {
        const char *q = skip_comment_or_string(p, &line);
        if (q == p && (isalpha((unsigned char)*p) || *p == '_' || *p == '*')) {
            /* A name, digits and all (conv2d, l2). */
            while (isalnum((unsigned char)*q) || *q == '_' || *q == '-' || *q == '*') {
                q++;
            }
        } else if (q == p && (isdigit((unsigned char)*p) ||
                              ((*p == '-' || *p == '+') && isdigit((unsigned char)p[1])))) {
            const char *digits = p + (isdigit((unsigned char)*p) ? 0 : 1);
            int kind = classify_number(p, digits, &q);
            if (kind < 0) {
                free(buf);
                return dpt_err_set(err, DPT_ECONFIG, "%s:%d: the integer %.*s does not fit "
                                   "in 64 bits", name, line, (int)(q - p), p);
            }
            memcpy(buf + n, p, (size_t)(q - p));
            n += (size_t)(q - p);
            if (kind) {
                buf[n++] = 'L';
            }
            p = q;
            continue;
        } else if (q == p) {
            line += *p == '\n';
            q = p + 1;
        }
        memcpy(buf + n, p, (size_t)(q - p));
        n += (size_t)(q - p);
        p = q;
    }
    buf[n] = '\0';
    *out = buf;
    return 0;
}
