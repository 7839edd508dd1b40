/* numpy .npy files and .npz members as byte streams (data/npy.h).
 *
 * The zip side reads only what a .npz needs: the end-of-central-directory
 * record (and its zip64 form, which numpy writes for large archives), the
 * central directory's entries for names, methods, sizes and offsets (the
 * local headers only for the length of their name and extra field), and
 * the member's bytes, stored or raw deflate through zlib's inflate in 64 KiB
 * pieces. CRCs are not checked: a damaged member shows up as a deflate
 * error or a short member, and a stored one holds numbers whatever its bytes.
 */
#include "config.h"

#include "data/npy.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#define PIECE ((size_t)64 << 10)
#define HEADER_MAX ((size_t)1 << 20) /* numpy's own limit is far below */

struct dpt_npy {
    int fd;
    char *path;
    char *shown; /* "a.npz, member 'X'" or the path, for messages */
    uint64_t file_size;
    uint64_t pos, end;  /* the next byte of the file to read, and the member's end */
    uint64_t left;      /* value bytes still to hand out */
    int deflated;
    z_stream zs;
    int zs_ready;
    unsigned char *in; /* PIECE bytes of deflated input */
    struct dpt_npy_info info;
};

static uint32_t le16(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8;
}
static uint32_t le32(const unsigned char *p)
{
    return le16(p) | le16(p + 2) << 16;
}
static uint64_t le64(const unsigned char *p)
{
    return (uint64_t)le32(p) | (uint64_t)le32(p + 4) << 32;
}

static int read_at(int fd, void *buf, size_t n, uint64_t off)
{
    size_t done = 0;
    while (done < n) {
        ssize_t r = pread(fd, (char *)buf + done, n - done, (off_t)(off + done));
        if (r < 0 && errno == EINTR) {
            continue;
        }
        if (r <= 0) {
            if (r == 0) {
                errno = 0;
            }
            return -1;
        }
        done += (size_t)r;
    }
    return 0;
}

static int starts_with(const char *path, const char *magic, size_t n)
{
    unsigned char buf[8];
    int fd = open(path, O_RDONLY);
    int yes = fd >= 0 && read_at(fd, buf, n, 0) == 0 && memcmp(buf, magic, n) == 0;
    if (fd >= 0) {
        close(fd);
    }
    return yes;
}

int dpt_npy_is_npz(const char *path)
{
    return starts_with(path, "PK\3\4", 4) || starts_with(path, "PK\5\6", 4);
}

int dpt_npy_is_npy(const char *path)
{
    return starts_with(path, "\x93NUMPY", 6);
}

/* The raw bytes of the stream: the file itself, or the member's bytes,
 * inflated. */
static int stream_read(struct dpt_npy *a, void *buf, size_t n, struct dpt_err *err)
{
    if (!a->deflated) {
        if (n > a->end - a->pos || read_at(a->fd, buf, n, a->pos) < 0) {
            return dpt_err_set(err, DPT_EFORMAT, "%s: truncated: ends %llu bytes into the "
                               "values (%s)", a->shown,
                               (unsigned long long)(a->end > a->pos ? a->end - a->pos : 0),
                               errno ? strerror(errno) : "end of file");
        }
        a->pos += n;
        return 0;
    }
    a->zs.next_out = buf;
    a->zs.avail_out = (uInt)n;
    while (a->zs.avail_out > 0) {
        if (a->zs.avail_in == 0) {
            size_t take = a->end - a->pos < PIECE ? (size_t)(a->end - a->pos) : PIECE;
            if (take == 0 || read_at(a->fd, a->in, take, a->pos) < 0) {
                return dpt_err_set(err, DPT_EFORMAT, "%s: the compressed member is truncated",
                                   a->shown);
            }
            a->pos += take;
            a->zs.next_in = a->in;
            a->zs.avail_in = (uInt)take;
        }
        int z = inflate(&a->zs, Z_NO_FLUSH);
        if (z == Z_STREAM_END && a->zs.avail_out > 0) {
            return dpt_err_set(err, DPT_EFORMAT, "%s: the compressed member ends before its "
                               "values do", a->shown);
        }
        if (z != Z_OK && z != Z_STREAM_END) {
            return dpt_err_set(err, DPT_EFORMAT, "%s: damaged compressed data (zlib: %s)",
                               a->shown, a->zs.msg ? a->zs.msg : "error");
        }
    }
    return 0;
}

/* A member of the archive: its name, method, sizes and where its data
 * start. */
struct member {
    char name[256];
    int method, encrypted;
    uint64_t csize, usize, data_off;
};

/* Calls fn for every entry of the central directory until fn returns
 * non-zero (that value is returned), or returns 0 after the last. */
static int walk_zip(int fd, const char *path, int (*fn)(const struct member *, void *),
                    void *ctx, struct dpt_err *err)
{
    struct stat st;
    if (fstat(fd, &st) != 0) {
        return dpt_err_set(err, DPT_EIO, "%s: %s", path, strerror(errno));
    }
    uint64_t size = (uint64_t)st.st_size;
    size_t tail = size < 65557 ? (size_t)size : 65557;
    unsigned char *t = malloc(tail + 1);
    if (!t || read_at(fd, t, tail, size - tail) < 0) {
        free(t);
        return dpt_err_set(err, DPT_EIO, "%s: cannot read the zip directory", path);
    }
    long at = -1;
    for (long k = (long)tail - 22; k >= 0; k--) {
        if (le32(t + k) == 0x06054b50) {
            at = k;
            break;
        }
    }
    if (at < 0) {
        free(t);
        return dpt_err_set(err, DPT_EFORMAT, "%s: not a .npz (zip) archive: no end of "
                           "central directory (a truncated file?)", path);
    }
    uint64_t entries = le16(t + at + 10), cd_off = le32(t + at + 16);
    if ((entries == 0xFFFF || cd_off == 0xFFFFFFFF) && at >= 20 &&
        le32(t + at - 20) == 0x07064b50) {
        unsigned char z[56];
        if (read_at(fd, z, sizeof z, le64(t + at - 20 + 8)) < 0 || le32(z) != 0x06064b50) {
            free(t);
            return dpt_err_set(err, DPT_EFORMAT, "%s: damaged zip64 directory", path);
        }
        entries = le64(z + 32);
        cd_off = le64(z + 48);
    }
    free(t);
    uint64_t pos = cd_off;
    for (uint64_t e = 0; e < entries; e++) {
        unsigned char h[46], x[1024];
        if (read_at(fd, h, sizeof h, pos) < 0 || le32(h) != 0x02014b50) {
            return dpt_err_set(err, DPT_EFORMAT, "%s: damaged zip directory (entry %llu)",
                               path, (unsigned long long)e);
        }
        struct member m = {0};
        size_t nlen = le16(h + 28), xlen = le16(h + 30), clen = le16(h + 32);
        m.encrypted = le16(h + 8) & 1;
        m.method = (int)le16(h + 10);
        m.csize = le32(h + 20);
        m.usize = le32(h + 24);
        uint64_t local = le32(h + 42);
        size_t keep = nlen < sizeof m.name - 1 ? nlen : sizeof m.name - 1;
        if (read_at(fd, m.name, keep, pos + 46) < 0 ||
            (xlen && read_at(fd, x, xlen < sizeof x ? xlen : sizeof x, pos + 46 + nlen) < 0)) {
            return dpt_err_set(err, DPT_EFORMAT, "%s: damaged zip directory", path);
        }
        /* The zip64 extra field holds, in this order, those of the sizes
         * and the offset whose 32-bit fields are all ones. */
        for (size_t k = 0; k + 4 <= xlen && k + 4 <= sizeof x;) {
            size_t id = le16(x + k), len = le16(x + k + 2), q = k + 4;
            if (id == 1) {
                if (m.usize == 0xFFFFFFFF && q + 8 <= sizeof x) {
                    m.usize = le64(x + q), q += 8;
                }
                if (m.csize == 0xFFFFFFFF && q + 8 <= sizeof x) {
                    m.csize = le64(x + q), q += 8;
                }
                if (local == 0xFFFFFFFF && q + 8 <= sizeof x) {
                    local = le64(x + q);
                }
            }
            k += 4 + len;
        }
        unsigned char lh[30];
        if (read_at(fd, lh, sizeof lh, local) < 0 || le32(lh) != 0x04034b50) {
            return dpt_err_set(err, DPT_EFORMAT, "%s: damaged zip archive (member '%s')", path,
                               m.name);
        }
        m.data_off = local + 30 + le16(lh + 26) + le16(lh + 28);
        int r = fn(&m, ctx);
        if (r != 0) {
            return r;
        }
        pos += 46 + nlen + xlen + clen;
    }
    return 0;
}

/* The name without ".npy", as np.load's keys show it. */
static void key_of(const char *name, char *key, size_t len)
{
    snprintf(key, len, "%s", name);
    size_t n = strlen(key);
    if (n > 4 && strcmp(key + n - 4, ".npy") == 0) {
        key[n - 4] = '\0';
    }
}

struct find {
    const char *want;
    struct member m;
    char names[512]; /* those there are, for the message */
};

static int find_member(const struct member *m, void *ctx)
{
    struct find *f = ctx;
    char key[256];
    key_of(m->name, key, sizeof key);
    if (strcmp(key, f->want) == 0 || strcmp(m->name, f->want) == 0) {
        f->m = *m;
        return 1;
    }
    size_t used = strlen(f->names);
    snprintf(f->names + used, sizeof f->names - used, "%s%s", used ? ", " : "", key);
    return 0;
}

struct list {
    char **names;
    size_t n;
};

static int list_member(const struct member *m, void *ctx)
{
    struct list *l = ctx;
    char key[256];
    key_of(m->name, key, sizeof key);
    char **n2 = realloc(l->names, (l->n + 1) * sizeof *n2);
    if (!n2) {
        return DPT_ENOMEM;
    }
    l->names = n2;
    if (!(l->names[l->n] = strdup(key))) {
        return DPT_ENOMEM;
    }
    l->n++;
    return 0;
}

int dpt_npz_members(const char *path, char ***names, size_t *n, struct dpt_err *err)
{
    struct list l = {0};
    int fd = open(path, O_RDONLY);
    if (fd < 0) {
        return dpt_err_set(err, DPT_EIO, "%s: %s", path, strerror(errno));
    }
    int rc = walk_zip(fd, path, list_member, &l, err);
    close(fd);
    if (rc == DPT_ENOMEM) {
        rc = dpt_err_set(err, DPT_ENOMEM, "out of memory");
    }
    if (rc < 0) {
        for (size_t i = 0; i < l.n; i++) {
            free(l.names[i]);
        }
        free(l.names);
        return rc;
    }
    *names = l.names;
    *n = l.n;
    return 0;
}

/* The value of 'key' in numpy's header dict, from just after its colon. */
static const char *dict_value(const char *h, const char *key)
{
    char q1[40], q2[40];
    snprintf(q1, sizeof q1, "'%s'", key);
    snprintf(q2, sizeof q2, "\"%s\"", key);
    const char *p = strstr(h, q1);
    p = p ? p : strstr(h, q2);
    if (!p || !(p = strchr(p, ':'))) {
        return NULL;
    }
    p++;
    while (*p == ' ') {
        p++;
    }
    return p;
}

/* Parses the header dict: descr, fortran_order and shape. */
static int parse_header(struct dpt_npy *a, const char *h, struct dpt_err *err)
{
    struct dpt_npy_info *in = &a->info;
    const char *d = dict_value(h, "descr");
    const char *fo = dict_value(h, "fortran_order");
    const char *sh = dict_value(h, "shape");
    if (!d || !fo || !sh) {
        return dpt_err_set(err, DPT_EFORMAT, "%s: not a numpy header (no descr, fortran_order "
                           "or shape): %.80s", a->shown, h);
    }
    if (*d != '\'' && *d != '"') {
        return dpt_err_set(err, DPT_EFORMAT, "%s: dtype %.40s is structured or not a number; "
                           "convert takes bool, integer and float arrays", a->shown, d);
    }
    size_t k = 0;
    for (d++; *d && *d != '\'' && *d != '"' && k + 1 < sizeof in->descr; d++) {
        in->descr[k++] = *d;
    }
    in->descr[k] = '\0';
    char order = in->descr[0], kind = in->descr[1];
    int size = atoi(in->descr + 2);
    int known = (order == '<' || order == '>' || order == '|' || order == '=') &&
                ((kind == 'b' && size == 1) ||
                 ((kind == 'i' || kind == 'u') && (size == 1 || size == 2 || size == 4 ||
                                                   size == 8)) ||
                 (kind == 'f' && (size == 2 || size == 4 || size == 8)));
    if (!known) {
        return dpt_err_set(err, DPT_EFORMAT, "%s: dtype '%s' is not a bool, integer or float "
                           "of 1 to 8 bytes", a->shown, in->descr);
    }
    in->kind = kind;
    in->size = size;
    in->big_endian = order == '>';
    if (strncmp(fo, "True", 4) == 0) {
        return dpt_err_set(err, DPT_EFORMAT, "%s: the array is in Fortran order; save "
                           "np.ascontiguousarray(a) instead", a->shown);
    }
    if (*sh != '(') {
        return dpt_err_set(err, DPT_EFORMAT, "%s: shape is not a tuple: %.40s", a->shown, sh);
    }
    for (sh++; *sh && *sh != ')';) {
        char *end;
        unsigned long long v = strtoull(sh, &end, 10);
        if (end == sh) {
            sh++; /* ',' or ' ' */
            continue;
        }
        if (in->rank == DPT_NPY_MAX_RANK) {
            return dpt_err_set(err, DPT_EFORMAT, "%s: more than %d dimensions", a->shown,
                               DPT_NPY_MAX_RANK);
        }
        in->dims[in->rank++] = v;
        sh = end;
    }
    if (in->rank == 0) {
        return dpt_err_set(err, DPT_EFORMAT, "%s: a single value (shape ()), not an array of "
                           "rows", a->shown);
    }
    return 0;
}

/* Reads the magic, version and header from the stream, leaving it at the
 * first value, and checks that the values are all there. */
static int read_header(struct dpt_npy *a, uint64_t stream_size, struct dpt_err *err)
{
    unsigned char m[12];
    int rc = stream_read(a, m, 10, err);
    if (rc < 0 || memcmp(m, "\x93NUMPY", 6) != 0) {
        return dpt_err_set(err, DPT_EFORMAT, "%s: not a .npy file (no \\x93NUMPY magic)",
                           a->shown);
    }
    size_t hlen = le16(m + 8), pre = 10;
    if (m[6] >= 2) {
        if ((rc = stream_read(a, m + 10, 2, err)) < 0) {
            return rc;
        }
        hlen = le32(m + 8);
        pre = 12;
    }
    if (hlen > HEADER_MAX) {
        return dpt_err_set(err, DPT_EFORMAT, "%s: a header of %zu bytes (damaged?)", a->shown,
                           hlen);
    }
    char *h = malloc(hlen + 1);
    if (!h) {
        return dpt_err_set(err, DPT_ENOMEM, "out of memory");
    }
    rc = stream_read(a, h, hlen, err);
    if (rc == 0) {
        h[hlen] = '\0';
        rc = parse_header(a, h, err);
    }
    free(h);
    if (rc < 0) {
        return rc;
    }
    uint64_t values = (uint64_t)a->info.size;
    for (int i = 0; i < a->info.rank; i++) {
        if (a->info.dims[i] && values > UINT64_MAX / a->info.dims[i]) {
            return dpt_err_set(err, DPT_EFORMAT, "%s: a shape of more than 2^64 bytes",
                               a->shown);
        }
        values *= a->info.dims[i];
    }
    if (stream_size < pre + hlen || stream_size - pre - hlen < values) {
        return dpt_err_set(err, DPT_EFORMAT, "%s: truncated: the shape needs %llu bytes of "
                           "values, the file holds %llu", a->shown, (unsigned long long)values,
                           (unsigned long long)(stream_size > pre + hlen
                                                    ? stream_size - pre - hlen : 0));
    }
    a->left = values;
    return 0;
}

/* Points a at the member `member` of the archive. */
static int open_member(struct dpt_npy *a, const char *member, struct dpt_err *err)
{
    struct find f = {.want = member};
    int rc = walk_zip(a->fd, a->path, find_member, &f, err);
    if (rc < 0) {
        return rc;
    }
    if (rc == 0) {
        return dpt_err_set(err, DPT_EFORMAT, "%s: no array '%s' (found: %s)", a->path, member,
                           f.names[0] ? f.names : "none");
    }
    if (f.m.encrypted || (f.m.method != 0 && f.m.method != 8)) {
        return dpt_err_set(err, DPT_EFORMAT, "%s: member '%s' is %s; convert reads stored and "
                           "deflated members (np.savez, np.savez_compressed)", a->path,
                           f.m.name, f.m.encrypted ? "encrypted" : "compressed another way");
    }
    a->pos = f.m.data_off;
    a->end = f.m.data_off + f.m.csize;
    if (a->end > a->file_size) {
        return dpt_err_set(err, DPT_EFORMAT, "%s: member '%s' is cut short (the archive is "
                           "truncated)", a->path, f.m.name);
    }
    if (f.m.method == 8) {
        a->in = malloc(PIECE);
        if (!a->in || inflateInit2(&a->zs, -MAX_WBITS) != Z_OK) {
            return dpt_err_set(err, DPT_ENOMEM, "out of memory");
        }
        a->zs_ready = 1;
        a->deflated = 1;
    }
    return read_header(a, f.m.usize, err);
}

int dpt_npy_open(struct dpt_npy **out, const char *path, const char *member,
                 struct dpt_err *err)
{
    *out = NULL;
    struct dpt_npy *a = calloc(1, sizeof *a);
    if (!a) {
        return dpt_err_set(err, DPT_ENOMEM, "out of memory");
    }
    a->fd = open(path, O_RDONLY);
    struct stat st;
    if (a->fd < 0 || fstat(a->fd, &st) != 0) {
        int e = errno;
        dpt_npy_close(a);
        return dpt_err_set(err, DPT_EIO, "%s: %s", path, strerror(e));
    }
    a->file_size = (uint64_t)st.st_size;
    a->path = strdup(path);
    a->shown = member ? malloc(strlen(path) + strlen(member) + 16) : strdup(path);
    if (!a->path || !a->shown) {
        dpt_npy_close(a);
        return dpt_err_set(err, DPT_ENOMEM, "out of memory");
    }
    int rc;
    if (member) {
        sprintf(a->shown, "%s: array '%s'", path, member);
        rc = open_member(a, member, err);
    } else {
        a->end = a->file_size;
        rc = read_header(a, a->file_size, err);
    }
    if (rc < 0) {
        dpt_npy_close(a);
        return rc;
    }
    *out = a;
    return 0;
}

void dpt_npy_close(struct dpt_npy *a)
{
    if (!a) {
        return;
    }
    if (a->zs_ready) {
        inflateEnd(&a->zs);
    }
    if (a->fd >= 0) {
        close(a->fd);
    }
    free(a->in);
    free(a->path);
    free(a->shown);
    free(a);
}

const struct dpt_npy_info *dpt_npy_info(const struct dpt_npy *a)
{
    return &a->info;
}

int dpt_npy_read(struct dpt_npy *a, void *buf, size_t n, struct dpt_err *err)
{
    if (n > a->left) {
        return dpt_err_set(err, DPT_EINVAL, "%s: asked for %zu bytes, %llu left", a->shown, n,
                           (unsigned long long)a->left);
    }
    int rc = stream_read(a, buf, n, err);
    if (rc == 0) {
        a->left -= n;
    }
    return rc;
}

uint64_t dpt_npy_offset(const struct dpt_npy *a)
{
    return a->pos;
}

uint64_t dpt_npy_file_size(const struct dpt_npy *a)
{
    return a->file_size;
}
